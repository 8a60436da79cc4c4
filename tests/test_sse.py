"""Tests for the SSE decoder (``deepinfra_sdk._sse``): bytes in, events out, any chunking."""

from __future__ import annotations

import json
from typing import List, Optional, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepinfra_sdk._constants import MAX_EVENT_BYTES
from deepinfra_sdk._exceptions import APIResponseValidationError
from deepinfra_sdk._sse import ServerSentEvent, SSEDecoder

from .conftest import examples

E = ServerSentEvent
BOM = b"\xef\xbb\xbf"


def decode(chunks: Sequence[bytes], max_event_bytes: int = MAX_EVENT_BYTES) -> List[E]:
    """Feed every chunk, then close; return all events."""
    decoder = SSEDecoder(max_event_bytes)
    events: List[E] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    assert decoder.close() == []
    return events


def bytewise(data: bytes) -> List[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def split_at(data: bytes, points: Sequence[int]) -> List[bytes]:
    cuts = [0, *sorted(points), len(data)]
    return [data[a:b] for a, b in zip(cuts, cuts[1:])]


# A stream that exercises every rule at once; every chunking must decode it the same way.
RICH_STREAM = (
    BOM
    + b": keep-alive\r\n"
    + b"retry: 1500\r\n"
    + b'data: {"a": 1}\r\n\r\n'
    + b"event: update\rid: 7\rdata: first\rdata:second\r\r"
    + b"data: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8 \xc2\x85 \x0c end\n\n"
    + b"id\n: comment\ndata\n\n"
    + b"data: [DONE]\r\n\r\n"
)
RICH_EVENTS = [
    E('{"a": 1}', retry=1500),
    E("first\nsecond", event="update", id="7"),
    E("caf\u00e9 \u20ac \U0001f600 \u2028 \x85 \x0c end", id="7"),
    E("", id=""),
    E("[DONE]", id=""),
]


class TestChunking:
    def test_rich_stream_in_one_feed(self) -> None:
        assert decode([RICH_STREAM]) == RICH_EVENTS

    def test_every_two_way_split(self) -> None:
        for i in range(len(RICH_STREAM) + 1):
            assert decode([RICH_STREAM[:i], RICH_STREAM[i:]]) == RICH_EVENTS, i

    def test_every_three_way_split_of_a_crlf_frame(self) -> None:
        frame = b"data: x\r\nid: 1\r\n\r\ndata: y\r\n\r\n"
        expected = [E("x", id="1"), E("y", id="1")]
        for i in range(len(frame) + 1):
            for j in range(i, len(frame) + 1):
                assert decode(split_at(frame, [i, j])) == expected, (i, j)

    def test_one_byte_at_a_time(self) -> None:
        assert decode(bytewise(RICH_STREAM)) == RICH_EVENTS

    def test_events_are_returned_by_the_chunk_that_completes_them(self) -> None:
        decoder = SSEDecoder()
        assert decoder.feed(b"data: a\n") == []
        assert decoder.feed(b"\ndata: b\n\ndata: c") == [E("a"), E("b")]
        assert decoder.feed(b"\n\n") == [E("c")]

    @pytest.mark.parametrize(
        ("first", "expected"),
        [
            (b"event: x\n", E("a", event="x")),
            (b"retry: 5\n", E("a", retry=5)),
            (b"data: 0\n", E("0\na")),
            (b"id: 1\n", E("a", id="1")),
        ],
    )
    def test_fields_from_an_earlier_chunk_apply_to_the_next_frame(
        self, first: bytes, expected: E
    ) -> None:
        assert decode([first, b"data: a\n\n"]) == [expected]
        assert decode([first, b"data: a\n\ndata: b\n\n"]) == [expected, E("b", id=expected.id)]

    def test_empty_chunks_are_harmless(self) -> None:
        decoder = SSEDecoder()
        assert decoder.feed(b"") == []
        assert decoder.feed(b"data: a\r") == []
        assert decoder.feed(b"") == []
        # The pending CRLF half survives the empty chunk: this LF is not a blank line.
        assert decoder.feed(b"\ndata: b\n\n") == [E("a\nb")]

    def test_bulk_frames_with_tail_in_many_chunk_sizes(self) -> None:
        frames = b"".join(f'data: {{"n": {i}}}\n\n'.encode() for i in range(500))
        expected = [E(f'{{"n": {i}}}') for i in range(500)]
        for size in (1, 2, 3, 7, 16, 64, 1000, 4096):
            chunks = [frames[i : i + size] for i in range(0, len(frames), size)]
            assert decode(chunks) == expected, size


class TestLineEndings:
    @pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
    def test_each_line_ending(self, eol: bytes) -> None:
        stream = eol.join([b"event: e", b"data: 1", b"data: 2", b"", b"data: 3", b"", b""])
        assert decode([stream]) == [E("1\n2", event="e"), E("3")]
        assert decode(bytewise(stream)) == [E("1\n2", event="e"), E("3")]

    def test_mixed_line_endings(self) -> None:
        stream = b"data: a\rdata: b\r\ndata: c\n\r\ndata: d\n\r"
        assert decode([stream]) == [E("a\nb\nc"), E("d")]

    def test_cr_cr_lf_is_two_line_breaks(self) -> None:
        assert decode([b"data: a\r\r\n"]) == [E("a")]

    def test_lf_cr_is_two_line_breaks(self) -> None:
        assert decode([b"data: a\n\rdata: b\n\r"]) == [E("a"), E("b")]

    def test_crlf_split_across_chunks_is_one_line_break(self) -> None:
        # Were the LF a second line break, "a" would be dispatched on its own.
        assert decode([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [E("a\nb")]

    def test_chunk_ending_in_cr_completes_the_line_at_once(self) -> None:
        decoder = SSEDecoder()
        assert decoder.feed(b"data: a\r\n\r") == [E("a")]  # no waiting for a possible LF
        assert decoder.feed(b"\n") == []  # the rest of the CRLF, not another blank line
        assert decoder.feed(b"data: b\r") == []
        assert decoder.feed(b"\r") == [E("b")]

    def test_lf_after_cr_is_skipped_only_once(self) -> None:
        decoder = SSEDecoder()
        assert decoder.feed(b"data: a\r") == []
        assert decoder.feed(b"\n\n") == [E("a")]  # first LF ends the CRLF, second is blank

    def test_cr_chunks_alone(self) -> None:
        assert decode([b"data: a", b"\r", b"\r", b"data: b", b"\r", b"\n", b"\r"]) == [
            E("a"),
            E("b"),
        ]

    @pytest.mark.parametrize(
        "char", ["\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e"]
    )
    def test_unicode_line_separators_are_data(self, char: str) -> None:
        stream = f"data: a{char}b\n\n".encode()
        assert decode([stream]) == [E(f"a{char}b")]
        assert decode(bytewise(stream)) == [E(f"a{char}b")]


class TestDecoding:
    def test_utf8_character_split_across_chunks(self) -> None:
        stream = "data: é€😀\n\n".encode()
        for i in range(len(stream) + 1):
            assert decode([stream[:i], stream[i:]]) == [E("é€😀")], i

    @pytest.mark.parametrize(
        "raw",
        [b"\xff", b"\xfe\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"a\x80b"],
    )
    def test_invalid_utf8_becomes_replacement_characters(self, raw: bytes) -> None:
        expected = [E(raw.decode("utf-8", "replace"))]
        assert "\ufffd" in expected[0].data
        stream = b"data: " + raw + b"\n\n"
        assert decode([stream]) == expected
        assert decode(bytewise(stream)) == expected

    def test_truncated_character_at_line_end_does_not_eat_the_line_break(self) -> None:
        assert decode([b"data: \xe2\x82\ndata: ok\n\n"]) == [E("\ufffd\nok")]

    def test_bom_stripped_at_start(self) -> None:
        assert decode([BOM + b"data: a\n\n"]) == [E("a")]

    def test_bom_split_across_chunks(self) -> None:
        stream = BOM + b"data: a\n\n"
        for i in range(len(stream) + 1):
            for j in range(i, len(stream) + 1):
                assert decode(split_at(stream, [i, j])) == [E("a")], (i, j)

    def test_only_one_bom_is_stripped(self) -> None:
        # The second BOM is part of the first line: its field name is "\ufeffdata".
        assert decode([BOM + BOM + b"data: a\n\ndata: b\n\n"]) == [E("b")]

    def test_bom_after_the_start_is_kept(self) -> None:
        assert decode([b"data: " + BOM + b"a\n\n"]) == [E("\ufeffa")]
        assert decode([b"\n", BOM + b"data: a\n\ndata: b\n\n"]) == [E("b")]

    def test_bom_prefix_that_is_not_a_bom(self) -> None:
        assert decode([b"\xef", b"\xbbX\n", b"data: a\n\n"]) == [E("a")]
        assert decode([b"\xef\xbb\n\ndata: a\n\n"]) == [E("a")]


class TestFields:
    def test_comments_are_ignored(self) -> None:
        stream = b": ping\n\n:\n\ndata: a\n: between\ndata: b\n\n:data: c\n\n"
        assert decode([stream]) == [E("a\nb")]

    def test_multiline_data_joined_with_lf(self) -> None:
        assert decode([b"data: a\ndata:\ndata:  b\ndata\n\n"]) == [E("a\n\n b\n")]

    def test_one_space_after_the_colon_is_removed(self) -> None:
        assert decode([b"data:a\n\n", b"data: a\n\n", b"data:  a\n\n"]) == [
            E("a"),
            E("a"),
            E(" a"),
        ]

    def test_empty_data_field_dispatches_empty_data(self) -> None:
        assert decode([b"data:\n\ndata\n\n"]) == [E(""), E("")]

    def test_event_type(self) -> None:
        stream = b"event: delta\ndata: a\n\ndata: b\n\nevent:\ndata: c\n\n"
        assert decode([stream]) == [E("a", event="delta"), E("b"), E("c")]

    def test_id_persists_across_events(self) -> None:
        decoder = SSEDecoder()
        assert decoder.last_event_id == ""
        assert decoder.feed(b"data: a\n\n") == [E("a", id=None)]
        assert decoder.feed(b"id: 1\ndata: b\n\ndata: c\n\n") == [E("b", id="1"), E("c", id="1")]
        assert decoder.last_event_id == "1"
        assert decoder.feed(b"id\ndata: d\n\n") == [E("d", id="")]
        assert decoder.last_event_id == ""

    def test_id_without_data_still_updates_last_event_id(self) -> None:
        decoder = SSEDecoder()
        assert decoder.feed(b"id: 9\n\ndata: a\n\n") == [E("a", id="9")]
        assert decoder.last_event_id == "9"

    def test_id_with_nul_is_ignored(self) -> None:
        decoder = SSEDecoder()
        events = decoder.feed(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")
        assert events == [E("a", id="1"), E("b", id="1")]
        assert decoder.last_event_id == "1"

    def test_retry(self) -> None:
        assert SSEDecoder().retry is None
        decoder = SSEDecoder()
        events = decoder.feed(b"retry: 2500\ndata: a\n\ndata: b\n\n")
        assert events == [E("a", retry=2500), E("b")]
        assert decoder.retry == 2500
        decoder.feed(b"retry: 10\n\n")  # no data, no event, but the value is taken
        assert decoder.retry == 10

    @pytest.mark.parametrize(
        "value",
        [b"", b"abc", b"10a", b"-1", b"+1", b"1.5", b"1e3", b" 1", b"1 ", b"\xd9\xa1", b"\xc2\xb2"],
    )
    def test_invalid_retry_is_ignored(self, value: bytes) -> None:
        decoder = SSEDecoder()
        events = decoder.feed(b"retry: 5\n\nretry: " + value + b"\ndata: a\n\n")
        assert events == [E("a")]
        assert decoder.retry == 5

    def test_retry_with_too_many_digits_is_ignored_without_error(self) -> None:
        decoder = SSEDecoder()
        assert decoder.feed(b"retry: " + b"9" * 10_000 + b"\ndata: a\n\n") == [E("a")]
        assert decoder.retry is None

    def test_unknown_fields_and_names_are_ignored(self) -> None:
        stream = b"foo: bar\nDATA: x\n data: y\nData: z\nfoo\ndata: a\n\n"
        assert decoder_state(stream) == ([E("a")], "", None)

    def test_blank_line_without_data_resets_but_does_not_dispatch(self) -> None:
        stream = b"event: stale\nretry: 7\n\n\n\ndata: a\n\n"
        assert decode([stream]) == [E("a")]

    def test_done_marker_is_plain_data(self) -> None:
        events = decode([b'data: {"x":1}\r\n\r\ndata: [DONE]\r\n\r\n'])
        assert events == [E('{"x":1}'), E("[DONE]")]
        assert events[0].json() == {"x": 1}


def decoder_state(stream: bytes) -> Tuple[List[E], str, Optional[int]]:
    decoder = SSEDecoder()
    events = decoder.feed(stream)
    return events, decoder.last_event_id, decoder.retry


class TestClose:
    def test_unterminated_event_is_dropped(self) -> None:
        decoder = SSEDecoder()
        assert decoder.feed(b"data: a\n\ndata: b\n") == [E("a")]
        assert decoder.close() == []
        assert decoder.dropped_incomplete is True

    def test_unterminated_line_is_dropped(self) -> None:
        decoder = SSEDecoder()
        decoder.feed(b"data: a\n\ndata: b")
        decoder.close()
        assert decoder.dropped_incomplete is True

    def test_clean_end(self) -> None:
        decoder = SSEDecoder()
        decoder.feed(b"data: a\n\n")
        assert decoder.close() == []
        assert decoder.dropped_incomplete is False

    def test_fields_without_data_are_not_an_incomplete_event(self) -> None:
        decoder = SSEDecoder()
        decoder.feed(b"data: a\n\nevent: x\nid: 3\n")
        decoder.close()
        assert decoder.dropped_incomplete is False

    def test_trailing_cr_ends_the_line(self) -> None:
        decoder = SSEDecoder()
        assert decoder.feed(b"data: a\r\r") == [E("a")]
        decoder.close()
        assert decoder.dropped_incomplete is False

    def test_decoder_is_reusable_after_close(self) -> None:
        decoder = SSEDecoder()
        decoder.feed(b"retry: 3\nid: 4\ndata: lost")
        decoder.close()
        assert decoder.dropped_incomplete is True
        # A new stream (a reconnect) may start with its own BOM; id and retry carry over.
        assert decoder.feed(BOM + b"data: b\n\n") == [E("b", id="4")]
        assert decoder.retry == 3
        decoder.close()
        assert decoder.dropped_incomplete is False


class TestSizeLimit:
    def test_event_at_the_limit_passes(self) -> None:
        # Size = the lines plus one byte per line break: "data: abc" + "\n" = 10 bytes.
        assert decode([b"data: abc\n\n"], max_event_bytes=10) == [E("abc")]
        assert decode(bytewise(b"data: abc\r\n\r\n"), max_event_bytes=10) == [E("abc")]

    @pytest.mark.parametrize("chunk_size", [1, 3, 100])
    def test_event_over_the_limit_raises(self, chunk_size: int) -> None:
        stream = b"data: ab\ndata: c\n\n"  # (8 + 1) + (7 + 1) = 17 bytes
        chunks = [stream[i : i + chunk_size] for i in range(0, len(stream), chunk_size)]
        with pytest.raises(APIResponseValidationError, match="16 bytes"):
            decode(chunks, max_event_bytes=16)
        assert decode(chunks, max_event_bytes=17) == [E("ab\nc")]

    @pytest.mark.parametrize(
        "chunks",
        [
            [b"data: a\n\ndata: 1\n", b"data: 123456789\n\n"],
            [b"data: a\n", b"\ndata: 1\n", b"data: 123456789\n\n"],
            [b"data: 1\n", b"data: 123456789\n\n"],
            [b"data: ", b"1\ndata: 12345", b"6789\n", b"\n"],
        ],
    )
    def test_size_carried_across_chunks_is_exact(self, chunks: List[bytes]) -> None:
        # The last event is "data: 1\n" (8 bytes) + "data: 123456789\n" (16 bytes) = 24.
        last = E("1\n123456789")
        expected = [E("a"), last] if chunks[0].startswith(b"data: a") else [last]
        assert decode(chunks, max_event_bytes=24) == expected
        with pytest.raises(APIResponseValidationError):
            decode(chunks, max_event_bytes=23)

    def test_size_resets_after_each_event(self) -> None:
        stream = b"data: abc\n\n" * 50
        assert decode([stream], max_event_bytes=10) == [E("abc")] * 50

    def test_unterminated_line_over_the_limit_raises(self) -> None:
        decoder = SSEDecoder(max_event_bytes=100)
        decoder.feed(b"data: " + b"x" * 90)
        with pytest.raises(APIResponseValidationError, match="100 bytes"):
            decoder.feed(b"x" * 5)  # no terminator ever comes: memory must stay bounded

    def test_huge_event_in_many_chunks_raises(self) -> None:
        chunks = [b"data: start\n"] + [b"data: 0123456789\n"] * 1000
        assert decode(chunks[:500], max_event_bytes=10_000) == []
        with pytest.raises(APIResponseValidationError):
            decode(chunks, max_event_bytes=10_000)

    def test_events_before_the_oversized_one_are_returned_first(self) -> None:
        decoder = SSEDecoder(max_event_bytes=20)
        assert decoder.feed(b"data: a\n\ndata: b\n\ndata: " + b"x" * 30 + b"\n\n") == [
            E("a"),
            E("b"),
        ]
        with pytest.raises(APIResponseValidationError):
            decoder.feed(b"data: c\n\n")
        with pytest.raises(APIResponseValidationError):  # the decoder stays failed
            decoder.feed(b"data: c\n\n")
        assert decoder.close() == []  # already raised: not raised twice
        assert decoder.dropped_incomplete is True
        assert decoder.feed(b"data: ok\n\n") == [E("ok")]  # reset for a new stream

    def test_deferred_error_is_raised_by_close(self) -> None:
        decoder = SSEDecoder(max_event_bytes=20)
        assert decoder.feed(b"data: a\n\ndata: " + b"x" * 30) == [E("a")]
        with pytest.raises(APIResponseValidationError):
            decoder.close()
        assert decoder.dropped_incomplete is True

    def test_large_event_under_the_default_limit(self) -> None:
        payload = b"y" * 3_000_000
        stream = b"data: " + payload + b"\n\n"
        chunks = [stream[i : i + 1024] for i in range(0, len(stream), 1024)]
        assert decode(chunks) == [E(payload.decode())]

    def test_limit_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="positive"):
            SSEDecoder(0)


class TestServerSentEvent:
    def test_defaults(self) -> None:
        event = ServerSentEvent()
        assert (event.data, event.event, event.id, event.retry) == ("", "message", None, None)

    def test_equality(self) -> None:
        assert E("a", "x", "1", 5) == E("a", "x", "1", 5)
        assert E("a") != E("b")
        assert E("a") != E("a", event="x")
        assert E("a") != E("a", id="1")
        assert E("a") != E("a", retry=1)
        assert E("a") != "a"

    def test_is_not_hashable(self) -> None:
        with pytest.raises(TypeError):
            hash(E("a"))

    def test_slots(self) -> None:
        assert not hasattr(E("a"), "__dict__")

    def test_repr(self) -> None:
        assert repr(E("a", "x", "1", 5)) == "ServerSentEvent(data='a', event='x', id='1', retry=5)"

    def test_repr_shortens_long_data(self) -> None:
        text = repr(E("z" * 10_000))
        assert len(text) < 200
        assert "10000 chars" in text
        assert "event='message'" in text

    def test_json(self) -> None:
        assert E('{"a": [1, 2]}').json() == {"a": [1, 2]}
        with pytest.raises(json.JSONDecodeError):
            E("[DONE]").json()


# --- properties -----------------------------------------------------------------------------

_special_chars = st.sampled_from(list("\u2028\u2029\x85\x0c\x0b\x1c\ufeff\x00 :é€😀"))
_line_text = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8", exclude_characters="\r\n"), _special_chars),
    max_size=12,
)


@st.composite
def _event_blocks(draw: st.DrawFn) -> Tuple[List[str], Optional[str], Optional[E]]:
    """One event block: its lines (no line breaks), the id it sets, and the event it should
    produce (``None`` when it has no data), whose ``id`` the caller fills in."""
    data = draw(st.lists(_line_text, max_size=3))
    others: List[Tuple[str, str]] = []
    event_type = draw(st.none() | _line_text)
    if event_type is not None:
        others.append(("event", event_type))
    id_value = draw(st.none() | _line_text.filter(lambda s: "\0" not in s))
    if id_value is not None:
        others.append(("id", id_value))
    retry = draw(st.none() | st.integers(0, 10**12))
    if retry is not None:
        others.append(("retry", str(retry)))
    others.extend((":", comment) for comment in draw(st.lists(_line_text, max_size=2)))
    fields = [("data", value) for value in data] + others
    order = draw(st.permutations(range(len(fields))))
    # Data lines keep their relative order; everything else may go anywhere.
    data_slots = iter(data)
    lines = []
    for index in order:
        name, value = fields[index]
        if name == "data":
            value = next(data_slots)
        if name == ":":
            lines.append(":" + value)
        elif name == "data" and not value and draw(st.booleans()):
            lines.append("data")
        elif value.startswith(" ") or draw(st.booleans()):
            lines.append(f"{name}: {value}")
        else:
            lines.append(f"{name}:{value}")
    lines.append("")
    lines.extend([""] * draw(st.integers(0, 2)))
    expected = None
    if data:
        expected = E("\n".join(data), event_type or "message", id_value, retry)
    return lines, id_value, expected


@st.composite
def _streams(draw: st.DrawFn) -> Tuple[bytes, List[E], int]:
    """A rendered stream, the events it holds, and the size of its largest event."""
    blocks = draw(st.lists(_event_blocks(), max_size=6))
    out = [BOM] if draw(st.booleans()) else []
    previous_eol = ""
    current_id: Optional[str] = None
    expected = []
    size = largest = 0
    for lines, id_value, event in blocks:
        for line in lines:
            size = size + len(line.encode()) + 1 if line else 0
            largest = max(largest, size)
            eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
            if previous_eol == "\r" and not line and eol == "\n":
                eol = "\r\n"  # a bare LF right after a CR would be the second half of a CRLF
            out.append((line + eol).encode())
            previous_eol = eol
        if id_value is not None:  # even in a block without data
            current_id = id_value
        if event is not None:
            expected.append(E(event.data, event.event, current_id, event.retry))
    return b"".join(out), expected, largest


_chunk_points = st.lists(st.integers(0, 10_000), max_size=25)
# Scaled up by the long hypothesis profile (HYPOTHESIS_PROFILE=long, see tests/README.md).
_PROPERTY_SETTINGS = settings(
    max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@_PROPERTY_SETTINGS
@given(_streams(), _chunk_points)
def test_any_chunking_of_rendered_events_gives_the_events(
    rendered: Tuple[bytes, List[E], int], points: List[int]
) -> None:
    stream, expected, largest = rendered
    assert decode([stream]) == expected
    chunks = split_at(stream, [p % (len(stream) + 1) for p in points])
    assert decode(chunks) == expected
    # The size limit is exact, whatever the chunking and the decoder's path through it.
    assert decode(chunks, max_event_bytes=max(largest, 1)) == expected
    if largest > 1:
        with pytest.raises(APIResponseValidationError):
            decode(chunks, max_event_bytes=largest - 1)


def _run(chunks: Sequence[bytes], limit: int) -> Tuple[List[E], bool, str, Optional[int], bool]:
    decoder = SSEDecoder(limit)
    events: List[E] = []
    try:
        for chunk in chunks:
            events.extend(decoder.feed(chunk))
        decoder.close()
    except APIResponseValidationError:
        return events, True, "", None, True
    return events, False, decoder.last_event_id, decoder.retry, decoder.dropped_incomplete


_tokens = st.sampled_from(
    [b"\r", b"\n", b"\r\n", b"data", b"data: ", b":", b" ", b"id", b"retry", b"event", b"1",
     b"x", b"\x00", BOM, b"\xef", b"\xbb", b"\xe2\x82", b"\xff", b"\xc2\x85", b"\xe2\x80\xa8"]
)  # fmt: skip
_arbitrary_bytes = st.one_of(st.binary(max_size=200), st.lists(_tokens, max_size=60).map(b"".join))


@_PROPERTY_SETTINGS
@given(_arbitrary_bytes, _chunk_points, st.one_of(st.just(MAX_EVENT_BYTES), st.integers(1, 40)))
def test_arbitrary_bytes_never_raise_and_chunking_does_not_matter(
    stream: bytes, points: List[int], limit: int
) -> None:
    whole = _run([stream], limit)
    chunked = _run(split_at(stream, [p % (len(stream) + 1) for p in points]), limit)
    assert chunked == whole
    if limit == MAX_EVENT_BYTES:
        assert not whole[1]
        assert decode(bytewise(stream)) == whole[0]
