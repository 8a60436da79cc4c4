"""Putting a response on the wire: framing, pacing, flushing, and the faults of delivery.

:func:`deliver` writes the status line, headers and body blocks (one block per SSE event,
or the pieces of a JSON body) in one of three framings:

* ``chunked``: ``Transfer-Encoding: chunked``, one HTTP chunk per block (or per piece);
* ``content-length``: the length of the whole body up front, blocks still sent one by one;
* ``close``: no length, ``Connection: close``, the body ends when the connection does.

Blocks are buffered and sent together unless something makes time pass between them (a
token delay, an event gate, a stall, a slow drip): then each is flushed before the pause,
so a client sees every event as soon as it is due, and an undelayed stream goes out in as
few writes as possible.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Callable, Iterable, Optional, Protocol, Sequence, Tuple

from ._faults import Fault
from ._sse import ping_comment

__all__ = ["Connection", "Delivery", "Stopped", "deliver", "head", "pause"]

_FLUSH_AT = 1 << 16  # bytes buffered before an undelayed stream is flushed anyway


class Stopped(Exception):
    """The emulator is stopping: abandon the response."""


class Connection(Protocol):
    """The socket side :func:`deliver` needs."""

    def send(self, data: bytes) -> None:
        """Send all of ``data`` (OSError when the peer is gone)."""

    def wait(self, seconds: float) -> bool:
        """Sleep; True if the emulator began stopping meanwhile."""


@dataclass
class Delivery:
    """How to deliver one response."""

    framing: str = "content-length"
    keep_alive: bool = True
    token_delay: float = 0.0
    gate: Optional[Callable[[int], None]] = None
    fault: Optional[Fault] = None
    events_point: int = 0
    """Block index of the fault's ``after_events`` point."""
    ping_interval: Optional[float] = None
    """Idle seconds between events after which a ``: ping`` comment is sent (not with
    ``content-length`` framing, whose length is fixed before the first event)."""
    line_ending: str = "\n"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def head(status: int, headers: Sequence[Tuple[str, str]]) -> bytes:
    """Status line and headers, with ``Date`` and ``Server``."""
    lines = [
        f"HTTP/1.1 {status} {_reason(status)}",
        f"Date: {formatdate(usegmt=True)}",
        "Server: deepinfra-emulator",
    ]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Writer:
    def __init__(self, conn: Connection, framing: str, fault: Optional[Fault]) -> None:
        self._conn = conn
        self._chunked = framing == "chunked"
        self._piece = fault.chunk_size if fault is not None else None
        self._drip = fault.drip_delay if fault is not None else 0.0
        self._buffer = bytearray()
        self._pieces_sent = 0

    def raw(self, data: bytes) -> None:
        self._buffer += data

    def _frame(self, data: bytes) -> None:
        if self._chunked:
            self._buffer += b"%x\r\n" % len(data)
            self._buffer += data
            self._buffer += b"\r\n"
        else:
            self._buffer += data

    def block(self, data: bytes) -> None:
        if not data:
            return  # an empty chunk would end a chunked body
        if self._piece is None and not self._drip:
            self._frame(data)
            if len(self._buffer) >= _FLUSH_AT:
                self.flush()
            return
        size = self._piece or len(data)
        for start in range(0, len(data), size):
            if self._pieces_sent and self._drip:
                self.flush()
                pause(self._conn, self._drip)
            self._frame(data[start : start + size])
            self.flush()
            self._pieces_sent += 1

    def flush(self) -> None:
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            self._conn.send(data)

    def end(self) -> None:
        if self._chunked:
            self._buffer += b"0\r\n\r\n"
        self.flush()


def pause(conn: Connection, seconds: float) -> None:
    """Sleep ``seconds``; raise :class:`Stopped` if the emulator stops meanwhile."""
    if seconds > 0 and conn.wait(seconds):
        raise Stopped


def _idle(conn: Connection, writer: _Writer, how: Delivery, seconds: float) -> None:
    # The pause between two events, with a ping each time the stream has been quiet for
    # ping_interval (DeepInfra's keep-alive on slow streams).
    interval = how.ping_interval if how.framing != "content-length" else None
    while interval is not None and seconds >= interval:
        pause(conn, interval)
        seconds -= interval
        writer.block(ping_comment(how.line_ending))
        writer.flush()
    pause(conn, seconds)


def _fault_point(conn: Connection, writer: _Writer, fault: Optional[Fault], point: str) -> bool:
    # Stall, then tell whether the connection is to be reset here.
    if fault is None:
        return False
    if fault.stalls_at(point):
        writer.flush()
        pause(conn, fault.stall)
    if fault.drops_at(point):
        writer.flush()
        return True
    return False


def deliver(
    conn: Connection,
    status: int,
    headers: Sequence[Tuple[str, str]],
    blocks: Iterable[bytes],
    how: Delivery,
) -> str:
    """Write one response; return ``"keep"``, ``"close"`` or ``"reset"`` for the connection.

    ``blocks`` may be lazy (it is materialised only for ``content-length``). Raises OSError
    when the peer goes away, :class:`Stopped` when the emulator stops, and whatever the
    event gate (or a lazy block source) raises.
    """
    fault = how.fault
    fields = list(headers)
    close = how.framing == "close" or not how.keep_alive
    if how.framing == "chunked":
        fields.append(("Transfer-Encoding", "chunked"))
    elif how.framing == "content-length":
        blocks = list(blocks)
        fields.append(("Content-Length", str(sum(len(b) for b in blocks))))
    if close:
        fields.append(("Connection", "close"))
    writer = _Writer(conn, how.framing, fault)
    writer.raw(head(status, fields))
    if _fault_point(conn, writer, fault, "after_headers"):
        return "reset"
    sent = 0
    for block in blocks:
        if sent == how.events_point and _fault_point(conn, writer, fault, "after_events"):
            return "reset"
        if sent and how.token_delay > 0:
            writer.flush()
            _idle(conn, writer, how, how.token_delay)
        if how.gate is not None:
            writer.flush()
            how.gate(sent)
        writer.block(block)
        sent += 1
    if sent <= how.events_point and _fault_point(conn, writer, fault, "after_events"):
        return "reset"
    writer.end()
    return "close" if close else "keep"
