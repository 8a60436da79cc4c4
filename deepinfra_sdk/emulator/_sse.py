"""Server-Sent Events on the wire: data payloads in, one block of bytes per event out.

Faults that change what the stream *says* are applied here (a malformed frame, an in-stream
error frame, a missing ``[DONE]``, a BOM, keep-alive comments, the line ending); faults
that change how and when bytes *travel* belong to :mod:`._transport`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Iterable, Optional

from ._faults import Fault

__all__ = ["DONE", "MALFORMED", "encode_events", "error_frame", "ping_comment"]

DONE = "[DONE]"
MALFORMED = "{not json"
_BOM = b"\xef\xbb\xbf"
_COMMENT = b": keep-alive"
_CONTENT = (b'"content":"', b'"content": "')
_NOT_UTF8 = b"\xff\xfe"
_DEFAULT_ERROR = "Requested token count exceeds the model's maximum context length"


def ping_comment(line_ending: str) -> bytes:
    """An idle keep-alive as DeepInfra sends it (sse-starlette's), such as
    ``: ping - 2025-04-13 03:55:09.637341+00:00`` and a blank line."""
    return f": ping - {datetime.now(timezone.utc)}{line_ending * 2}".encode("ascii")


def error_frame(kind: str, message: Optional[str]) -> str:
    """An in-stream error payload: DeepInfra's ``validation_error`` frame, OpenAI's, or a
    chunk-shaped one whose ``choices`` is ``null`` beside the error (``null_choices``)."""
    text = message or _DEFAULT_ERROR
    if kind == "null_choices":
        return json.dumps(
            {"object": "chat.completion.chunk", "choices": None, "error": {"message": text}}
        )
    if kind == "deepinfra":
        inner = json.dumps({"error": {"message": text}})
        return json.dumps({"error_type": "validation_error", "error_message": inner})
    return json.dumps({"error": {"message": text, "type": "invalid_request_error"}})


def _changes_content(fault: Fault) -> bool:
    return (
        fault.error_frame is not None
        or fault.malformed_frame
        or fault.no_done
        or fault.comment_lines
        or fault.bom
        or fault.truncate
        or fault.invalid_utf8
        or fault.frame_bytes is not None
    )


def _padded(payload: str, size: int) -> str:
    # Spaces inside the object keep it the same JSON value, whatever the parser.
    missing = size - len(payload.encode("utf-8"))
    if missing <= 0 or not payload.startswith("{"):
        return payload
    return "{" + " " * missing + payload[1:]


def _after(block: bytes, marks: Iterable[bytes]) -> int:
    # Where the first of ``marks`` (compact or spaced JSON) ends in ``block``; -1: none.
    for mark in marks:
        at = block.find(mark)
        if at >= 0:
            return at + len(mark)
    return -1


def _with_invalid_utf8(block: bytes) -> bytes:
    # Inside a JSON string, so the frame is still JSON once a client replaces the bytes.
    at = _after(block, _CONTENT)
    if at < 0:
        at = _after(block, (b'":"', b'": "'))
    if at < 0:
        at = len(b"data: ")
    return block[:at] + _NOT_UTF8 + block[at:]


def encode_events(
    payloads: Iterable[str], line_ending: str, fault: Optional[Fault] = None
) -> Iterable[bytes]:
    """The wire bytes of each event (in order of event number), ``fault`` applied.

    ``payloads`` are the ``data:`` values in order, normally ending with ``[DONE]``. Without
    a fault that changes the content, the events are encoded lazily, as they are sent.
    """
    end = (line_ending * 2).encode("ascii")
    if fault is None or not _changes_content(fault):
        return (b"data: " + payload.encode("utf-8") + end for payload in payloads)
    data = list(payloads)
    done = [DONE] if data and data[-1] == DONE else []
    if done:
        data.pop()
    if fault.error_frame is not None:
        cut = min(fault.after_events, len(data))
        data = [*data[:cut], error_frame(fault.error_frame, fault.message)]
    if fault.malformed_frame:
        data.insert(min(fault.after_events, len(data)), MALFORMED)
    if fault.truncate:
        data = data[: fault.after_events]
    elif not fault.no_done:
        data.extend(done)
    at = fault.after_events
    if fault.frame_bytes is not None and at < len(data):
        data[at] = _padded(data[at], fault.frame_bytes)
    eol = line_ending.encode("ascii")
    blocks = [b"data: " + payload.encode("utf-8") + end for payload in data]
    if fault.invalid_utf8 and at < len(blocks):
        blocks[at] = _with_invalid_utf8(blocks[at])
    if fault.comment_lines:
        # Both kinds a client must ignore: a comment-only block, and a comment inside an event.
        blocks = [_COMMENT + eol + block for block in blocks]
        if blocks:
            blocks[0] = _COMMENT + end + blocks[0]
    if fault.bom:
        if blocks:
            blocks[0] = _BOM + blocks[0]
        else:
            blocks = [_BOM]
    return blocks
