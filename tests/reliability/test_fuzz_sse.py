"""Property tests of the SSE decoder and the chat stream over arbitrary bytes and frames.

The decoder is checked against a reference written straight from the WHATWG parsing rules,
line by line over the whole stream (no chunks, no fast paths): for any bytes and any
chunking, the decoder must give the reference's events, last event id, retry, dropped
flag and size-limit error. Then :class:`ChatStream` is fed arbitrary frames (any JSON value,
wrong types anywhere in a chunk) in any chunking, and must either finish or raise one of the
SDK's own errors, read in each of its three ways (chunks, batches, the async facade's event
lists).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from hypothesis import given, settings
from hypothesis import strategies as st

from deepinfra_sdk import APIResponseValidationError, ChatStream, DeepInfraError
from deepinfra_sdk._constants import MAX_EVENT_BYTES
from deepinfra_sdk._sse import ServerSentEvent, SSEDecoder

from ..conftest import examples
from ..test_streaming import ScriptedResponse

BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_DIGITS = re.compile(r"[0-9]+")


@dataclass
class Outcome:
    """What a decoder run produced, in a form two runs can be compared by."""

    events: list[ServerSentEvent]
    failed: bool
    last_event_id: str = ""
    retry: Optional[int] = None
    dropped: bool = False


@dataclass
class _State:
    # What survives from one stream to the next on the same decoder (the spec's
    # last-event-id buffer and reconnection time).
    event_id: Optional[str] = None
    last_event_id: str = ""
    retry: Optional[int] = None


def reference(stream: bytes, limit: int, state: Optional[_State] = None) -> Outcome:
    """The spec's event-stream interpretation, applied to the whole stream at once."""
    state = state or _State()
    partial_bom = len(stream) < len(BOM) and BOM.startswith(stream)
    if stream.startswith(BOM):
        stream = stream[len(BOM) :]
    *lines, tail = _LINE_BREAK.split(stream)
    events: list[ServerSentEvent] = []
    data: list[str] = []
    event_type = ""
    event_retry: Optional[int] = None
    size = 0
    for raw in lines:
        # An event's size: its lines' bytes, one byte per line break, the blank line not.
        size = size + len(raw) + 1 if raw else 0
        if size > limit:
            return Outcome(events, True)
        line = raw.decode("utf-8", "replace")
        if not line:
            if data:
                events.append(
                    ServerSentEvent(
                        "\n".join(data), event_type or "message", state.event_id, event_retry
                    )
                )
            data, event_type, event_retry = [], "", None
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type = value
        elif name == "id" and "\0" not in value:
            state.event_id = state.last_event_id = value
        elif name == "retry" and _DIGITS.fullmatch(value):
            # More digits than int() accepts is no usable delay either.
            with contextlib.suppress(ValueError):
                event_retry = state.retry = int(value)
    # The unterminated last line counts while it arrives (a lone partial BOM is not a line yet).
    if tail and not partial_bom and size + len(tail) > limit:
        return Outcome(events, True)
    dropped = bool(tail) or bool(data)
    return Outcome(events, False, state.last_event_id, state.retry, dropped)


def run_decoder(chunks: list[bytes], limit: int, decoder: Optional[SSEDecoder] = None) -> Outcome:
    decoder = decoder or SSEDecoder(limit)
    events: list[ServerSentEvent] = []
    try:
        for chunk in chunks:
            events.extend(decoder.feed(chunk))
        events.extend(decoder.close())
    except APIResponseValidationError:
        return Outcome(events, True)
    return Outcome(events, False, decoder.last_event_id, decoder.retry, decoder.dropped_incomplete)


def split_at(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({p % (len(data) + 1) for p in points})
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


# Pieces that make SSE interesting: every line ending, fields with and without the space,
# comments, BOMs (whole and cut), multi-byte UTF-8 (whole and cut), invalid bytes, NUL,
# Unicode line separators that must stay data, huge retry values.
_TOKENS = [
    b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"\n\n", b"\r\r",
    b"data", b"data:", b"data: ", b"data:  ", b"event:", b"event: ping", b"id:", b"id: 7",
    b"id: a\x00b", b"retry:", b"retry: 1500", b"retry: 15x", b"retry: \xd9\xa3",
    b"retry: " + b"9" * 5000, b":", b": keep-alive", b":comment", b"field", b"field: x",
    b" ", b"x", b"[DONE]", b'{"a": 1}', b"\x00", BOM, BOM[:1], BOM[:2], b"\xbb\xbf",
    "é".encode(), "€".encode(), "€".encode()[:2], "😀".encode(), "😀".encode()[:3],
    b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", "\u2028".encode(), "\u0085".encode(), b"\x0c",
]  # fmt: skip
sse_like = st.lists(st.sampled_from(_TOKENS), max_size=50).map(b"".join)
any_bytes = st.one_of(sse_like, st.binary(max_size=300))
chunkings = st.one_of(
    st.lists(st.integers(0, 100_000), max_size=30).map(lambda p: ("points", p)),
    st.just(("bytewise", [])),
)
limits = st.one_of(st.just(MAX_EVENT_BYTES), st.integers(1, 64))


def _chunks(stream: bytes, chunking: tuple[str, list[int]]) -> list[bytes]:
    kind, points = chunking
    if kind == "bytewise":
        return [stream[i : i + 1] for i in range(len(stream))]
    return split_at(stream, points)


@settings(max_examples=examples(300))
@given(any_bytes, chunkings, limits)
def test_any_chunking_of_any_bytes_gives_the_reference_events(
    stream: bytes, chunking: tuple[str, list[int]], limit: int
) -> None:
    expected = reference(stream, limit)
    assert run_decoder([stream], limit) == expected
    assert run_decoder(_chunks(stream, chunking), limit) == expected


@settings(max_examples=examples(150))
@given(any_bytes, any_bytes, chunkings)
def test_a_decoder_reused_after_close_carries_the_id_and_retry(
    first: bytes, second: bytes, chunking: tuple[str, list[int]]
) -> None:
    decoder = SSEDecoder()
    state = _State()
    assert run_decoder(_chunks(first, chunking), MAX_EVENT_BYTES, decoder) == reference(
        first, MAX_EVENT_BYTES, state
    )
    assert run_decoder(_chunks(second, chunking), MAX_EVENT_BYTES, decoder) == reference(
        second, MAX_EVENT_BYTES, state
    )


@settings(max_examples=examples(100))
@given(st.binary(max_size=2000), chunkings, limits)
def test_random_bytes_raise_nothing_but_the_size_error(
    stream: bytes, chunking: tuple[str, list[int]], limit: int
) -> None:
    decoder = SSEDecoder(limit)
    error: Optional[APIResponseValidationError] = None
    try:
        for chunk in _chunks(stream, chunking):
            decoder.feed(chunk)
        decoder.close()
    except APIResponseValidationError as exc:
        error = exc
    if error is not None:
        assert isinstance(error, DeepInfraError)
        assert str(limit) in str(error)
        assert limit < len(stream)


# -- ChatStream over arbitrary frames --------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A well-typed value most of the time, anything JSON now and then."""
    return st.one_of(value, value, value, json_values)


_texts = st.text(max_size=6)
_tool_delta = st.fixed_dictionaries(
    {},
    optional={
        "index": _maybe(st.integers(0, 3)),
        "id": _maybe(_texts),
        "type": _maybe(st.just("function")),
        "function": _maybe(
            st.fixed_dictionaries(
                {}, optional={"name": _maybe(_texts), "arguments": _maybe(_texts)}
            )
        ),
    },
)
_delta = st.fixed_dictionaries(
    {},
    optional={
        "role": _maybe(st.sampled_from(["assistant", "user"])),
        "content": _maybe(st.one_of(st.none(), _texts)),
        "reasoning_content": _maybe(_texts),
        "reasoning": _maybe(_texts),
        "tool_calls": _maybe(st.lists(_maybe(_tool_delta), max_size=3)),
    },
)
_choice = st.fixed_dictionaries(
    {},
    optional={
        "index": _maybe(st.integers(0, 2)),
        "delta": _maybe(_delta),
        "finish_reason": _maybe(st.sampled_from([None, "stop", "length", "tool_calls"])),
        "logprobs": json_values,
    },
)
_usage = st.fixed_dictionaries(
    {},
    optional={
        "prompt_tokens": _maybe(st.integers(0, 99)),
        "completion_tokens": _maybe(st.integers(0, 99)),
        "total_tokens": _maybe(st.integers(0, 99)),
        "estimated_cost": _maybe(st.floats(0, 1)),
    },
)
chunk_dicts = st.fixed_dictionaries(
    {"choices": _maybe(st.lists(_maybe(_choice), max_size=3))},
    optional={
        "id": _maybe(_texts),
        "object": _maybe(st.just("chat.completion.chunk")),
        "created": _maybe(st.integers(0, 2**40)),
        "model": _maybe(_texts),
        "usage": _maybe(_usage),
    },
)
error_frames = st.one_of(
    st.fixed_dictionaries({"error": json_values}),
    st.fixed_dictionaries({"error_type": json_values, "error_message": json_values}),
    st.fixed_dictionaries({"error": st.fixed_dictionaries({"message": json_values})}),
)
frames = st.one_of(
    chunk_dicts.map(json.dumps),
    chunk_dicts.map(json.dumps),
    error_frames.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=20),  # not JSON, or JSON with trailing text
    st.sampled_from(["", "[DONE]", "{", '{"choices": []} x', "  {}  ", "1e999", "NaN", "[" * 3000]),
)
_FINISH = json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})


def _body(payloads: list[str], end: str, separator: str) -> bytes:
    if end == "done":
        payloads = [*payloads, _FINISH, "[DONE]"]
    elif end == "finish":
        payloads = [*payloads, _FINISH]
    # Each payload is one event: its lines as data lines (a newline in a payload splits it
    # over two, which the decoder joins back), then a blank line.
    events = (
        "".join(f"data: {line}{separator}" for line in p.splitlines() or [""]) + separator
        for p in payloads
    )
    return "".join(events).encode("utf-8", "surrogatepass")


def _consume(stream: ChatStream, mode: str) -> None:
    if mode == "chunks":
        for _ in stream:
            pass
    elif mode == "batches":
        for _ in stream.iter_batches():
            pass
    else:  # the async facade's route: raw payload lists, each decoded before the next read
        for payloads in stream._event_lists():
            for payload in payloads:
                stream._decode(payload)


def _read_everything(stream: ChatStream) -> None:
    # Everything a caller may look at after the loop, or in an except block.
    assert isinstance(stream.text, str)
    assert isinstance(stream.reasoning, str)
    stream.tool_calls  # noqa: B018 - assembling the fragments must not fail either
    stream.texts()
    stream.to_completion()
    repr(stream)


@settings(max_examples=examples(300))
@given(
    st.lists(frames, max_size=8),
    st.sampled_from(["done", "finish", "cut"]),
    st.sampled_from(["\n", "\r\n", "\r"]),
    chunkings,
    st.sampled_from(["chunks", "batches", "events"]),
)
def test_chat_stream_over_arbitrary_frames_raises_only_sdk_errors(
    payloads: list[str],
    end: str,
    separator: str,
    chunking: tuple[str, list[int]],
    mode: str,
) -> None:
    body = _body(payloads, end, separator)
    response = ScriptedResponse(_chunks(body, chunking))
    stream = ChatStream(response, model="owner/model")
    error: Optional[DeepInfraError] = None
    try:
        _consume(stream, mode)
    except DeepInfraError as exc:  # anything else fails the test
        error = exc
    if error is not None:
        assert isinstance(error.partial_text, str)
        assert error.partial_text == stream.text
        assert stream.closed
        assert response.closed  # the connection is let go on every failure
        assert len(str(error)) < 2000  # a hostile frame cannot make the message huge
    _read_everything(stream)


@settings(max_examples=examples(150))
@given(
    st.lists(st.lists(_texts, min_size=1, max_size=3), max_size=8),
    st.sampled_from(["\n", "\r\n", "\r"]),
    chunkings,
    st.sampled_from(["chunks", "batches", "events"]),
)
def test_well_formed_frames_are_accumulated_exactly_whatever_the_chunking(
    pieces: list[list[str]], separator: str, chunking: tuple[str, list[int]], mode: str
) -> None:
    # Each frame carries content for choice 0 and, in the same frame, choice 1.
    payloads = [
        json.dumps(
            {
                "id": "c",
                "choices": [
                    {"index": i % 2, "delta": {"content": text}} for i, text in enumerate(texts)
                ],
            }
        )
        for texts in pieces
    ]
    stream = ChatStream(
        ScriptedResponse(_chunks(_body(payloads, "done", separator), chunking)),
        model="owner/model",
    )
    _consume(stream, mode)
    expected: dict[int, str] = {}
    for texts in pieces:
        for i, text in enumerate(texts):
            expected[i % 2] = expected.get(i % 2, "") + text
    assert stream.done
    assert stream.text == expected.get(0, "")
    assert {k: v for k, v in stream.texts().items() if k in expected} == expected
    assert stream.finish_reason == "stop"
