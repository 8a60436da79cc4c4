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
import math
import random
import threading
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

from ._errors import BODY_SHAPES

__all__ = [
    "DROPS",
    "FRAMINGS",
    "LINE_ENDINGS",
    "STALL_POINTS",
    "Fault",
    "FaultQueue",
    "RandomFaults",
]

FRAMINGS = ("chunked", "content-length", "close")
LINE_ENDINGS = ("\n", "\r\n", "\r")
DROPS = ("before_response", "after_headers", "after_events")
STALL_POINTS = ("before_response", "after_headers", "after_events")
ERROR_FRAMES = ("deepinfra", "openai", "null_choices")
IMAGE_RESULTS = ("truncated_base64", "wrong_media_type", "empty", "url", "output")
# A padded frame is built in memory: a typo should not take the host's memory with it.
MAX_FRAME_BYTES = 256 * 1024 * 1024
# A fault asked for by a request header (any client that may use the emulator can send
# one) is bounded tighter: its text, and the frame it may make the emulator build.
MAX_HEADER_CHARS = 4096
MAX_HEADER_FRAME_BYTES = 16 * 1024 * 1024
# Seconds a stall or a drip may last: an hour is more than any test waits.
MAX_SECONDS = 3600.0


def _check_number(name: str, value: Any, *, integer: bool = False, optional: bool = False) -> None:
    if value is None and optional:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"Fault.{name} must be {kind}, not {value!r}")
    if value < 0:
        raise ValueError(f"Fault.{name} must not be negative, not {value!r}")
    if not integer and not value <= MAX_SECONDS:  # also NaN and Infinity
        raise ValueError(f"Fault.{name} must be a number of seconds up to {MAX_SECONDS:g}")


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
    """``error_str`` | ``error_msg`` (``{"error": {"message"}}`` only) | ``error_obj`` |
    ``detail_str`` | ``detail_obj`` | ``detail_list`` | ``text`` | ``auto`` (the shape
    DeepInfra was recorded or is reported to use for that status)."""
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
    """``deepinfra``, ``openai`` or ``null_choices`` (a chunk with ``"choices": null`` and an
    ``error``): an in-stream error frame after ``after_events`` events,
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
    truncate: bool = False
    """End the stream cleanly (a proper end of body, no reset) after ``after_events``
    events, without ``[DONE]``: an answer that stops half-way."""
    invalid_utf8: bool = False
    """Put the bytes ``\\xff\\xfe`` (not UTF-8) at the start of event ``after_events``'s
    ``content`` string (in an event without one, of its first string value)."""
    frame_bytes: Optional[int] = None
    """Pad the data of event ``after_events`` (a JSON object) with spaces inside the object
    to this many bytes: a huge frame that still decodes to the same chunk."""
    image_result: Optional[str] = None
    """How an image route's successful answer goes wrong: ``truncated_base64`` (each image's
    base64 cut to half its length), ``wrong_media_type`` (a ``data:image/jpeg`` URI around
    PNG bytes; on the OpenAI-style route, in ``b64_json``), ``empty`` (no images),
    ``url`` (an https URL instead of inline data) or ``output`` (Cog-style ``output``)."""

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
        for name in (
            "malformed_frame",
            "no_done",
            "bom",
            "comment_lines",
            "truncate",
            "invalid_utf8",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"Fault.{name} must be true or false")
        _check_number("frame_bytes", self.frame_bytes, integer=True, optional=True)
        if self.frame_bytes is not None and not 1 <= self.frame_bytes <= MAX_FRAME_BYTES:
            raise ValueError(
                f"Fault.frame_bytes must be between 1 and {MAX_FRAME_BYTES}, not {self.frame_bytes}"
            )
        _check_choice("image_result", self.image_result, IMAGE_RESULTS, optional=True)

    @classmethod
    def from_json(cls, text: str) -> Fault:
        """The fault a JSON object describes; ValueError with a readable reason otherwise."""
        try:
            data = json.loads(text)
        except RecursionError:
            raise ValueError("nested too deeply (a Fault is one flat JSON object)") from None
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


class RandomFaults:
    """A seeded random-fault rule: each request under ``route`` draws, and with probability
    ``rate`` gets one of ``faults`` (picked uniformly), otherwise is served normally.

    Made by :meth:`~deepinfra_sdk.emulator.Emulator.inject_random`. The same seed and the
    same sequence of requests give the same faults; concurrent requests draw in arrival
    order, so which request gets a fault varies while the count for N requests does not.
    :attr:`given` says which faults went out, for tests that account for every outcome.
    """

    def __init__(
        self, faults: Sequence[Fault], rate: float, seed: int, route: Optional[str]
    ) -> None:
        if isinstance(faults, (Fault, str, bytes)) or not isinstance(faults, Sequence):
            raise TypeError("faults must be a sequence of Fault objects, such as a list")
        if not faults:
            raise ValueError("faults must hold at least one Fault to pick from")
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"faults must hold Fault objects, not {type(fault).__name__}")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise ValueError(f"rate must be a number between 0 and 1, not {rate!r}")
        if math.isnan(rate) or not 0 <= rate <= 1:
            raise ValueError(f"rate must be between 0 and 1 (a probability), not {rate!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer (for reproducible faults), not {seed!r}")
        if route is not None and not isinstance(route, str):
            raise ValueError(f"route must be a path prefix string or None, not {route!r}")
        self.faults: Tuple[Fault, ...] = tuple(faults)
        self.rate = float(rate)
        self.seed = seed
        self.route = route
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._draws = 0
        self._given: List[Tuple[str, Fault]] = []

    def matches(self, path: str) -> bool:
        """Whether requests to ``path`` draw from this rule."""
        return self.route is None or path.startswith(self.route)

    def draw(self, path: str) -> Optional[Fault]:
        """One request's draw: a fault with probability :attr:`rate`, else None."""
        with self._lock:
            self._draws += 1
            # One number per request decides both whether and which: which requests are
            # faulted then depends on the seed, the rate and the count, not on the mix.
            u = self._rng.random()
            if u >= self.rate:
                return None
            pick = min(int(u / self.rate * len(self.faults)), len(self.faults) - 1)
            fault = self.faults[pick]
            self._given.append((path, fault))
            return fault

    @property
    def draws(self) -> int:
        """Requests that drew from this rule so far (faulted or not)."""
        with self._lock:
            return self._draws

    @property
    def given(self) -> List[Tuple[str, Fault]]:
        """``(path, fault)`` for each fault handed out so far, in the order drawn."""
        with self._lock:
            return list(self._given)

    def __repr__(self) -> str:
        return (
            f"<RandomFaults rate={self.rate} seed={self.seed} route={self.route!r} "
            f"faults={len(self.faults)} draws={self.draws} given={len(self.given)}>"
        )


class FaultQueue:
    """Injected faults, consumed first-in first-out by the requests whose path they match.

    A request no queued fault matches draws from the first :class:`RandomFaults` rule whose
    route matches it, if any.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: List[_Queued] = []
        self._random: List[RandomFaults] = []

    def add(self, fault: Fault, times: int, route: Optional[str]) -> None:
        """Queue ``fault`` for the next ``times`` requests under path prefix ``route``."""
        if not isinstance(fault, Fault):
            raise TypeError(f"expected a Fault, not {type(fault).__name__}")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive integer, not {times!r}")
        with self._lock:
            self._queued.append(_Queued(fault, times, route))

    def add_random(self, rule: RandomFaults) -> None:
        """Let ``rule`` fault the requests under its route that no queued fault takes."""
        if not isinstance(rule, RandomFaults):
            raise TypeError(f"expected RandomFaults, not {type(rule).__name__}")
        with self._lock:
            self._random.append(rule)

    def take(self, path: str) -> Optional[Fault]:
        """The fault for a request to ``path``, consuming one use of it; None if none match."""
        with self._lock:
            for i, queued in enumerate(self._queued):
                if queued.route is None or path.startswith(queued.route):
                    queued.remaining -= 1
                    if queued.remaining <= 0:
                        del self._queued[i]
                    return queued.fault
            rule = next((r for r in self._random if r.matches(path)), None)
        return rule.draw(path) if rule is not None else None

    def clear(self) -> None:
        """Forget every queued fault and random-fault rule."""
        with self._lock:
            self._queued.clear()
            self._random.clear()

    def __len__(self) -> int:
        # Queued uses only: a random rule never runs out.
        with self._lock:
            return sum(q.remaining for q in self._queued)
