"""Server-Sent Events decoding without I/O: bytes in, events out.

:class:`SSEDecoder` implements the WHATWG ``text/event-stream`` parsing rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
over arbitrary byte chunks, exactly as they come off the socket::

    decoder = SSEDecoder()
    for chunk in chunks:                # bytes as read from the body: any sizes, any splits
        for event in decoder.feed(chunk):
            handle(event)               # "data: [DONE]" arrives as an ordinary event
    decoder.close()                     # end of stream

What it guarantees, whatever the chunk boundaries:

* lines end with CR, LF or CRLF; a CRLF split across two chunks is one line break, and a
  chunk ending in CR completes its line at once (no waiting for a possible LF);
* UTF-8 is decoded per complete line, so characters split across chunks survive; invalid
  bytes become U+FFFD; U+2028, U+2029, U+0085 and form feeds are data, not line breaks;
* one leading BOM is stripped at the very start of the stream, and only there;
* nothing raises on any input except :class:`APIResponseValidationError` when one event
  (or one unterminated line) grows beyond ``max_event_bytes``.

The decoder is tuned for DeepInfra's chat streams, where a read holds one ``data: {...}``
frame (a live stream) or many (a reader catching up). It never loops over bytes in Python:
each chunk is handled as a block (CR normalised with one ``bytes.replace``, decoded once,
split once), a chunk that is exactly one frame skips the line list, and a block of pure
``data:`` frames skips the general field parser. Everything else takes the general path,
which follows the spec line by line; the tests check that both give the same events.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any, List, Optional

from deepinfra_sdk._constants import MAX_EVENT_BYTES
from deepinfra_sdk._exceptions import APIResponseValidationError

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_LF = 10
_CR = 13
# A CR not followed by LF: a lone-CR line break, or a CR that may be half of a split CRLF.
_LONE_CR = re.compile(rb"\r(?!\n)")
# repr() keeps long payloads (whole JSON chunks) from flooding logs and tracebacks.
_REPR_DATA_LIMIT = 80


class ServerSentEvent:
    """One dispatched server-sent event.

    Attributes:
        data: the event's data; several ``data`` lines are joined with ``"\\n"``.
        event: the event type (``"message"`` when the stream named none).
        id: the stream's last event id when the event was dispatched (ids persist across
            events, as the spec says), or ``None`` if the stream never sent an ``id`` field.
        retry: the reconnection time in milliseconds sent in this event's own block, or
            ``None``; the decoder's :attr:`SSEDecoder.retry` keeps the latest value.
    """

    __slots__ = ("data", "event", "id", "retry")

    data: str
    event: str
    id: Optional[str]
    retry: Optional[int]

    def __init__(
        self,
        data: str = "",
        event: str = "message",
        id: Optional[str] = None,
        retry: Optional[int] = None,
    ) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry

    def json(self) -> Any:
        """Return ``json.loads(self.data)`` (raises ``json.JSONDecodeError`` if not JSON)."""
        return json.loads(self.data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (
            self.data == other.data
            and self.event == other.event
            and self.id == other.id
            and self.retry == other.retry
        )

    # Events are mutable values: equal but unhashable, like a dataclass with eq=True.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        data = self.data
        if len(data) > _REPR_DATA_LIMIT:
            shown = f"{data[: _REPR_DATA_LIMIT - 20]!r}...<{len(data)} chars>"
        else:
            shown = repr(data)
        return (
            f"ServerSentEvent(data={shown}, event={self.event!r}, "
            f"id={self.id!r}, retry={self.retry!r})"
        )


class SSEDecoder:
    """Incremental ``text/event-stream`` decoder: feed it bytes, get events back.

    Call :meth:`feed` with every chunk read from the body, in order, and :meth:`close` once
    at end of stream. The decoder does no I/O and keeps no reference to the chunks it has
    finished with. After :meth:`close` it may be fed the next stream (for instance after a
    reconnect); :attr:`last_event_id` and :attr:`retry` carry over, as the spec intends.
    A decoder is not thread-safe: use one per stream, from one thread at a time.

    Size limit: an event's size is the number of bytes of its lines (each line break counted
    as one byte, the blank line that ends it not counted), including an unterminated line
    still being received. When it exceeds ``max_event_bytes``,
    :class:`~deepinfra_sdk._exceptions.APIResponseValidationError` is raised. Events that the
    same chunk completed before the oversized one are returned first and the error is then
    raised by the next :meth:`feed` or :meth:`close` call, so no complete event is lost. Once
    raised, :meth:`feed` keeps raising it until :meth:`close` resets the decoder.

    Attributes:
        last_event_id: the last event id buffer: the value of the latest valid ``id`` field
            (``""`` before any); it persists across events.
        retry: the latest valid ``retry`` value (milliseconds), or ``None``.
        dropped_incomplete: set by :meth:`close`: ``True`` if the stream ended inside an
            event or a line with content, which the spec says to discard.
        max_event_bytes: the size limit described above.
    """

    last_event_id: str
    retry: Optional[int]
    dropped_incomplete: bool
    max_event_bytes: int

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        if max_event_bytes < 1:
            raise ValueError(f"max_event_bytes must be positive, got {max_event_bytes!r}")
        self.max_event_bytes = max_event_bytes
        self.last_event_id = ""
        self.retry = None
        self.dropped_incomplete = False
        # None until the stream sends an id field: events then carry id=None, not "".
        self._event_id: Optional[str] = None
        self._reset_stream()

    def _reset_stream(self) -> None:
        # Bytes of the unterminated last line, kept as pieces so that a huge line arriving
        # in many small chunks is joined once (linear), not re-concatenated per chunk.
        self._pending: List[bytes] = []
        self._pending_len = 0
        # Bytes of the complete lines of the event being received (since the last blank line).
        self._event_bytes = 0
        # The previous chunk ended in CR: a LF opening the next chunk is the rest of a CRLF.
        self._skip_lf = False
        # Until three bytes have been seen we cannot tell a leading BOM from data.
        self._at_start = True
        self._head = b""
        self._data: List[str] = []
        self._event_type = ""
        self._event_retry: Optional[int] = None
        # No data, event type or retry buffered: the next line starts a fresh event.
        self._clean = True
        self._error: Optional[APIResponseValidationError] = None
        self._error_raised = False
        # One flag for the rare states (stream start, CR pending, failed) keeps the per-chunk
        # cost of a live stream, where every read is one small frame, to a single test.
        self._special = True

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Consume the next chunk of the body; return the events it completed, in order.

        Raises:
            APIResponseValidationError: an event or line exceeds ``max_event_bytes``.
        """
        if self._special:
            chunk = self._prepare(chunk)
        if not chunk:
            return []
        if _CR in chunk:
            chunk = self._normalize(chunk)

        end = chunk.rfind(b"\n")
        if end < 0:
            self._pending.append(chunk)
            self._pending_len += len(chunk)
            if self._event_bytes + self._pending_len > self.max_event_bytes:
                return self._fail([])
            return []
        if self._pending:
            end += self._pending_len
            self._pending.append(chunk)
            chunk = b"".join(self._pending)
            self._pending = []
        # chunk now starts at a line start; chunk[: end + 1] is whole lines, the rest a tail.
        tail_len = len(chunk) - end - 1
        event_bytes = self._event_bytes
        events: Optional[list[ServerSentEvent]]
        if event_bytes + end + 1 > self.max_event_bytes:
            # Rare: this block may push an event over the limit, so account line by line.
            events, event_bytes, overflow = self._process_checked(chunk, end)
            if overflow:
                return self._fail(events)
        elif (
            not tail_len
            and self._clean
            and chunk.startswith(b"data: ")
            and chunk.find(b"\n") == end - 1
        ):
            # Exactly one "data: ...\n\n" frame, which is what each read of a live chat
            # stream returns: no line list needed.
            data = chunk[6 : end - 1].decode("utf-8", "replace")
            events = [ServerSentEvent(data, "message", self._event_id, None)]
            event_bytes = 0
        else:
            if tail_len:
                lines = chunk[:end].decode("utf-8", "replace").split("\n")
            else:
                # Skip the slice copy; the final "\n" yields one empty string to drop.
                lines = chunk.decode("utf-8", "replace").split("\n")
                lines.pop()
            events = self._process_frames(lines) if self._clean else None
            if events is not None:
                event_bytes = 0
            else:
                events = self._process(lines)
                # Only the event left open at the end of the block needs its size: it is
                # whatever follows the block's last blank line.
                blank = chunk.rfind(b"\n\n", 0, end + 1)
                if blank >= 0:
                    event_bytes = end - blank - 1
                elif chunk[0] == _LF:
                    event_bytes = end
                else:
                    event_bytes += end + 1
        self._event_bytes = event_bytes
        if tail_len:
            self._pending.append(chunk[end + 1 :])
            self._pending_len = tail_len
            if event_bytes + tail_len > self.max_event_bytes:
                return self._fail(events)
        else:
            self._pending_len = 0
        return events

    def close(self) -> list[ServerSentEvent]:
        """Signal end of stream; always returns ``[]`` unless it raises.

        An event not ended by a blank line is discarded, as the spec requires;
        :attr:`dropped_incomplete` tells whether anything was. The decoder is then reset for
        a new stream, keeping :attr:`last_event_id` and :attr:`retry`.

        Raises:
            APIResponseValidationError: a size-limit error found by the last :meth:`feed`
                that has not been raised yet (see the class docstring).
        """
        error = self._error
        dropped = bool(self._pending_len or self._head or self._data or error is not None)
        already_raised = self._error_raised
        self._reset_stream()
        self.dropped_incomplete = dropped
        if error is not None and not already_raised:
            raise error
        return []

    def _prepare(self, chunk: bytes) -> bytes:
        # The rare states, out of feed()'s way: a failed decoder, the LF half of a CRLF
        # split across chunks, and the BOM check at the start of the stream.
        if self._error is not None:
            self._error_raised = True
            raise self._error
        if not chunk:
            return chunk
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
        if self._at_start and chunk:
            head = self._head + chunk if self._head else chunk
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._head = head
                return b""
            self._head = b""
            self._at_start = False
            chunk = head[len(_BOM) :] if head.startswith(_BOM) else head
        self._special = self._at_start
        return chunk

    def _normalize(self, chunk: bytes) -> bytes:
        # Normalising each chunk on its own is exact: the only line break that can span two
        # chunks is a CRLF, handled by _skip_lf. A final CR becomes a line break right now,
        # so its line is delivered without waiting to see whether a LF follows.
        if chunk[-1] == _CR:
            self._skip_lf = self._special = True
        elif _LONE_CR.search(chunk) is None:
            # Every CR is part of a CRLF: deleting CRs is one fast single-byte pass, where
            # replacing the two-byte b"\r\n" costs several times more.
            return chunk.replace(b"\r", b"")
        return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def _fail(self, events: list[ServerSentEvent]) -> list[ServerSentEvent]:
        self._error = APIResponseValidationError(
            f"a server-sent event exceeded the size limit of {self.max_event_bytes} bytes "
            "(max_event_bytes)"
        )
        self._special = True
        if events:
            return events
        self._error_raised = True
        raise self._error

    def _process_checked(self, chunk: bytes, end: int) -> tuple[list[ServerSentEvent], int, bool]:
        # Slow path, taken only when the block could push an event over the limit: account
        # line by line, and process the lines before the first offending one.
        raw_lines = chunk[:end].split(b"\n")
        limit = self.max_event_bytes
        size = self._event_bytes
        for index, raw in enumerate(raw_lines):
            if raw:
                size += len(raw) + 1
                if size > limit:
                    good = raw_lines[:index]
                    events = self._process(self._decode_lines(good)) if good else []
                    return events, size, True
            else:
                size = 0
        return self._process(self._decode_lines(raw_lines)), size, False

    @staticmethod
    def _decode_lines(raw_lines: list[bytes]) -> list[str]:
        # One decode of the joined block equals per-line decodes: LF is ASCII and never part
        # of a multi-byte sequence, so errors="replace" resynchronises at every line break.
        return b"\n".join(raw_lines).decode("utf-8", "replace").split("\n")

    def _process_frames(self, lines: list[str]) -> Optional[list[ServerSentEvent]]:
        # The fast path for what chat streams send, called only when the block starts at an
        # event boundary: "data: ..." lines, each followed by a blank line. The count proves
        # the blank lines sit at the odd places once no even line is blank. Returns None,
        # having changed nothing, for any other block.
        if lines.count("") * 2 != len(lines):
            return None
        event_id = self._event_id
        events: list[ServerSentEvent] = []
        append = events.append
        for line in lines[::2]:
            if not line.startswith("data: "):
                return None
            append(ServerSentEvent(line[6:], "message", event_id, None))
        return events

    def _process(self, lines: list[str]) -> list[ServerSentEvent]:
        # The hot loop: state lives in locals and is written back once per block.
        events: list[ServerSentEvent] = []
        data = self._data
        event_type = self._event_type
        event_id = self._event_id
        event_retry = self._event_retry
        for line in lines:
            if not line:
                if data:
                    events.append(
                        ServerSentEvent(
                            data[0] if len(data) == 1 else "\n".join(data),
                            event_type or "message",
                            event_id,
                            event_retry,
                        )
                    )
                    data = []
                event_type = ""
                event_retry = None
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line[0] == ":":
                continue
            else:
                colon = line.find(":")
                if colon < 0:
                    name = line
                    value = ""
                else:
                    name = line[:colon]
                    value = line[colon + 1 :]
                    if value[:1] == " ":
                        value = value[1:]
                if name == "data":
                    data.append(value)
                elif name == "event":
                    event_type = value
                elif name == "id":
                    if "\0" not in value:
                        event_id = self.last_event_id = value
                elif name == "retry" and value.isdigit() and value.isascii():
                    # int() refuses more digits than sys.get_int_max_str_digits(): such a
                    # value is no usable delay, so it is ignored like any invalid one.
                    with contextlib.suppress(ValueError):
                        event_retry = self.retry = int(value)
        self._data = data
        self._event_type = event_type
        self._clean = not data and not event_type and event_retry is None
        self._event_id = event_id
        self._event_retry = event_retry
        return events
