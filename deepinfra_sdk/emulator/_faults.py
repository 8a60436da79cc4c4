"""The fault model: what can go wrong with one response, and the queue of injected faults.

A :class:`Fault` describes a single misbehaving response: an error status with a body in
one of DeepInfra's shapes, a dropped connection, a stall, a broken or awkwardly delivered
event stream. Tests either queue faults on the :class:`~deepinfra_sdk.emulator.Emulator`
(``inject``) or ask for one per request with the ``X-Emulator-Fault`` header, whose value is
a JSON object with :class:`Fault`'s field names.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from typing import Any, List, Optional

from ._errors import BODY_SHAPES

__all__ = ["DROPS", "FRAMINGS", "LINE_ENDINGS", "STALL_POINTS", "Fault", "FaultQueue"]

FRAMINGS = ("chunked", "content-length", "close")
LINE_ENDINGS = ("\n", "\r\n", "\r")
DROPS = ("before_response", "after_headers", "after_events")
STALL_POINTS = ("before_response", "after_headers", "after_events")
ERROR_FRAMES = ("deepinfra", "openai")


def _check_number(name: str, value: Any, *, integer: bool = False, optional: bool = False) -> None:
    if value is None and optional:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"Fault.{name} must be {kind}, not {value!r}")
    if value < 0:
        raise ValueError(f"Fault.{name} must not be negative, not {value!r}")


def _check_choice(name: str, value: Any, choices: Any, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"Fault.{name} must be one of {allowed}, not {value!r}")


def _check_str(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"Fault.{name} must be a string, not {value!r}")


@dataclass
class Fault:
    """How one response misbehaves. Every field defaults to "behave normally".

    Events are counted from 0 and are the ``data:`` frames of a stream, ``[DONE]`` included;
    a non-stream body counts as two halves, so ``after_events`` points fall between them.
    """

    status: Optional[int] = None
    """Answer with this HTTP status (and an error body) instead of serving the request."""
    body_shape: str = "auto"
    """``error_str`` | ``error_obj`` | ``detail_str`` | ``detail_obj`` | ``detail_list`` |
    ``text`` | ``auto`` (the shape DeepInfra is reported to use for that status)."""
    message: Optional[str] = None
    """The error message (also used by ``error_frame``); a realistic default otherwise."""
    retry_after: Optional[str] = None
    """Raw ``Retry-After`` header value, such as ``"2"`` or an HTTP date."""
    request_id: Optional[str] = None
    """Sent as the ``x-request-id`` header instead of a fresh id."""
    drop: Optional[str] = None
    """Reset the connection ``before_response`` (no status line), ``after_headers``, or
    ``after_events`` (after ``after_events`` events)."""
    after_events: int = 0
    """The event count where ``after_events`` drops and stalls, frames and errors happen."""
    stall: float = 0.0
    """Seconds to sleep at ``stall_at``."""
    stall_at: str = "before_response"
    """``before_response`` | ``after_headers`` | ``after_events``."""
    malformed_frame: bool = False
    """Send ``data: {not json`` as event number ``after_events``."""
    error_frame: Optional[str] = None
    """``deepinfra`` or ``openai``: an in-stream error frame after ``after_events`` events,
    followed only by ``[DONE]`` (unless ``no_done``)."""
    no_done: bool = False
    """End the stream without ``data: [DONE]``."""
    chunk_size: Optional[int] = None
    """Write the body in pieces of this many bytes, each flushed on its own."""
    drip_delay: float = 0.0
    """Seconds to sleep between those pieces."""
    framing: Optional[str] = None
    """``chunked`` | ``content-length`` | ``close`` for this response (JSON answers too)."""
    line_ending: Optional[str] = None
    """``"\\n"``, ``"\\r\\n"`` or ``"\\r"`` between this stream's lines."""
    bom: bool = False
    """Prefix the event stream with a UTF-8 byte order mark."""
    comment_lines: bool = False
    """Interleave ``: keep-alive`` comment lines with the events."""

    def __post_init__(self) -> None:
        if self.status is not None:
            _check_number("status", self.status, integer=True)
            if not 300 <= self.status <= 599:
                raise ValueError(f"Fault.status must be within 300..599, not {self.status}")
        _check_choice("body_shape", self.body_shape, sorted(BODY_SHAPES))
        for name in ("message", "retry_after", "request_id"):
            _check_str(name, getattr(self, name))
        for name in ("retry_after", "request_id"):  # header values: no smuggled lines
            if any(c in (getattr(self, name) or "") for c in "\r\n"):
                raise ValueError(f"Fault.{name} must not contain line breaks")
        _check_choice("drop", self.drop, DROPS, optional=True)
        _check_number("after_events", self.after_events, integer=True)
        _check_number("stall", self.stall)
        _check_choice("stall_at", self.stall_at, STALL_POINTS)
        _check_choice("error_frame", self.error_frame, ERROR_FRAMES, optional=True)
        _check_number("chunk_size", self.chunk_size, integer=True, optional=True)
        if self.chunk_size == 0:
            raise ValueError("Fault.chunk_size must be at least 1")
        _check_number("drip_delay", self.drip_delay)
        _check_choice("framing", self.framing, FRAMINGS, optional=True)
        _check_choice("line_ending", self.line_ending, LINE_ENDINGS, optional=True)
        for name in ("malformed_frame", "no_done", "bom", "comment_lines"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"Fault.{name} must be true or false")

    @classmethod
    def from_json(cls, text: str) -> Fault:
        """The fault a JSON object describes; ValueError with a readable reason otherwise."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object with Fault's field names")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)

    def stalls_at(self, point: str) -> bool:
        """Whether this fault sleeps at ``point``."""
        return self.stall > 0 and self.stall_at == point

    def drops_at(self, point: str) -> bool:
        """Whether this fault resets the connection at ``point``."""
        return self.drop == point


@dataclass
class _Queued:
    fault: Fault
    remaining: int
    route: Optional[str]


class FaultQueue:
    """Injected faults, consumed first-in first-out by the requests whose path they match."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: List[_Queued] = []

    def add(self, fault: Fault, times: int, route: Optional[str]) -> None:
        """Queue ``fault`` for the next ``times`` requests under path prefix ``route``."""
        if not isinstance(fault, Fault):
            raise TypeError(f"expected a Fault, not {type(fault).__name__}")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive integer, not {times!r}")
        with self._lock:
            self._queued.append(_Queued(fault, times, route))

    def take(self, path: str) -> Optional[Fault]:
        """The fault for a request to ``path``, consuming one use of it; None if none match."""
        with self._lock:
            for i, queued in enumerate(self._queued):
                if queued.route is None or path.startswith(queued.route):
                    queued.remaining -= 1
                    if queued.remaining <= 0:
                        del self._queued[i]
                    return queued.fault
        return None

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._queued.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(q.remaining for q in self._queued)
