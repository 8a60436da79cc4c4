"""The fault matrix, broken and awkward event streams, on the sync client and the async
facade (asyncio, trio): bad frames, error frames, streams that stop early, huge frames,
bad UTF-8, and valid streams delivered in the strangest ways.

Every broken stream raises the SDK's typed error with the text of the events that arrived
before it (on the error and on ``stream.text``); no stream is ever sent twice.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from deepinfra_sdk import (
    APIConnectionError,
    APIResponseValidationError,
    APIStreamError,
)
from deepinfra_sdk import _streaming as streaming
from deepinfra_sdk._constants import MAX_EVENT_BYTES, STREAM_READ_SIZE
from deepinfra_sdk._sse import SSEDecoder
from deepinfra_sdk.emulator import Emulator, Fault

from .conftest import CHAT, Api, Baseline


def assert_sent_once(emu: Emulator, api: Api) -> None:
    assert emu.request_count(CHAT, "POST") == 1
    assert api.sleeps == []


# -- broken streams -----------------------------------------------------------------------


def test_a_malformed_frame(api: Api, emu: Emulator, baseline: Baseline) -> None:
    emu.inject(Fault(malformed_frame=True, after_events=3, request_id="rid-bad"), route=CHAT)
    out = api.stream()
    assert type(out.error) is APIResponseValidationError
    assert "not JSON" in out.error.message
    assert out.error.body == "{not json"
    assert out.error.request_id == "rid-bad"
    assert out.pieces == baseline.pieces[:3]
    assert out.text == out.error.partial_text == baseline.text_of(3)
    assert not out.done
    assert_sent_once(emu, api)


@pytest.mark.parametrize(
    ("kind", "error_type"),
    [("deepinfra", "validation_error"), ("openai", "invalid_request_error")],
)
def test_an_error_frame_in_a_200_stream(
    api: Api, emu: Emulator, baseline: Baseline, kind: str, error_type: str
) -> None:
    message = "Requested token count exceeds the model's maximum context length"
    emu.inject(
        Fault(error_frame=kind, after_events=5, message=message, request_id="rid-frame"),
        route=CHAT,
    )
    out = api.stream()
    assert type(out.error) is APIStreamError
    # DeepInfra's error_message is itself JSON: the message inside it is what is shown.
    assert out.error.message == message
    assert out.error.error_type == error_type
    assert out.error.request_id == "rid-frame"
    assert out.error.status_code is None
    assert out.pieces == baseline.pieces[:5]
    assert out.text == out.error.partial_text == baseline.text_of(5)
    assert not out.done  # [DONE] follows the error frame, but the answer did not end well
    assert_sent_once(emu, api)


def test_a_stream_ending_without_done_after_its_finish_chunk(
    api: Api, emu: Emulator, baseline: Baseline
) -> None:
    # The answer is complete (the finish chunk and its usage arrived): accepted as it is.
    emu.inject(Fault(no_done=True), route=CHAT)
    out = api.stream()
    assert out.error is None
    assert out.pieces == baseline.pieces
    assert not out.done  # no [DONE] was seen, and the stream says so
    assert_sent_once(emu, api)


@pytest.mark.parametrize("framing", ["chunked", "content-length", "close"])
def test_a_stream_ending_early_without_done(
    api: Api, emu: Emulator, baseline: Baseline, framing: str
) -> None:
    # The body ends properly, but half-way through the answer: no finish, no [DONE].
    emu.inject(Fault(truncate=True, after_events=6, framing=framing), route=CHAT)
    out = api.stream()
    assert type(out.error) is APIConnectionError
    assert "ended before the answer was complete" in out.error.message
    assert out.pieces == baseline.pieces[:6]
    assert out.text == out.error.partial_text == baseline.text_of(6)
    assert_sent_once(emu, api)


# -- big frames ---------------------------------------------------------------------------------


def test_a_17_mb_frame_decodes_like_a_small_one(
    api: Api, emu: Emulator, baseline: Baseline
) -> None:
    """One frame of 17 MB (a chunk padded with JSON whitespace) is under MAX_EVENT_BYTES:
    it arrives in hundreds of reads and decodes to the same chunk."""
    emu.inject(Fault(frame_bytes=17 * 1024 * 1024, after_events=3), route=CHAT)
    out = api.stream()
    assert out.error is None and out.done
    assert out.pieces == baseline.pieces
    assert_sent_once(emu, api)


@pytest.fixture
def small_event_limit(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Streams decode with a 1 MiB event limit, and record how many bytes they fed.

    The limit is the real decoder's, made smaller so that a frame above it costs a few
    megabytes rather than MAX_EVENT_BYTES (64 MiB) in this test.
    """
    fed: list[int] = []

    class Recording(SSEDecoder):
        def __init__(self) -> None:
            super().__init__(max_event_bytes=1 << 20)
            fed.append(0)

        def feed(self, chunk: bytes) -> Any:
            fed[-1] += len(chunk)
            return super().feed(chunk)

    monkeypatch.setattr(streaming, "SSEDecoder", Recording)
    return fed


def test_a_frame_above_the_limit_is_refused_without_reading_it_all(
    api: Api, emu: Emulator, baseline: Baseline, small_event_limit: list[int]
) -> None:
    size = 8 << 20
    emu.inject(Fault(frame_bytes=size, after_events=4), route=CHAT)
    out = api.stream()
    assert type(out.error) is APIResponseValidationError
    assert "size limit" in out.error.message
    assert out.pieces == baseline.pieces[:4]
    assert out.text == out.error.partial_text == baseline.text_of(4)
    assert not out.done
    # Memory stays bounded: the stream stopped reading soon after the limit (a read joins
    # at most 1 MiB of what already arrived), not at the end of the 8 MiB frame.
    (fed,) = small_event_limit
    assert fed <= (1 << 20) + (1 << 20) + 2 * STREAM_READ_SIZE
    assert_sent_once(emu, api)


def test_the_real_limit_is_max_event_bytes() -> None:
    assert MAX_EVENT_BYTES == 64 * 1024 * 1024
    assert SSEDecoder().max_event_bytes == MAX_EVENT_BYTES
    assert streaming.ChatStream(response=None, model="m")._decoder.max_event_bytes == (
        MAX_EVENT_BYTES
    )


# -- bytes that are not UTF-8 -------------------------------------------------------------------


def test_invalid_utf8_in_a_frame_becomes_replacement_characters(
    api: Api, emu: Emulator, baseline: Baseline
) -> None:
    emu.inject(Fault(invalid_utf8=True, after_events=3), route=CHAT)
    out = api.stream()
    assert out.error is None and out.done
    expected = list(baseline.pieces)
    expected[3] = "\ufffd\ufffd" + expected[3]
    assert out.pieces == expected
    assert out.text == "".join(expected)
    assert_sent_once(emu, api)


# -- valid streams, delivered awkwardly -----------------------------------------------------------

AWKWARD = {
    "bom": Fault(bom=True),
    "cr-only": Fault(line_ending="\r"),
    "crlf": Fault(line_ending="\r\n"),
    "keep-alive-comments": Fault(comment_lines=True, bom=True),
    "byte-by-byte-lf": Fault(chunk_size=1),
    "byte-by-byte-crlf": Fault(chunk_size=1, line_ending="\r\n"),
    "byte-by-byte-cr-only": Fault(chunk_size=1, line_ending="\r", bom=True),
    "byte-by-byte-content-length": Fault(chunk_size=1, framing="content-length"),
    "byte-by-byte-close": Fault(chunk_size=1, framing="close", line_ending="\r\n"),
}


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_an_awkward_but_valid_stream_gives_the_same_answer(
    make_api: Callable[..., Api], emu: Emulator, baseline: Baseline, name: str
) -> None:
    api = make_api()
    emu.inject(AWKWARD[name], route=CHAT)
    out = api.stream()
    assert out.error is None
    assert out.done
    assert out.pieces == baseline.pieces
    assert out.text == baseline.text
    assert_sent_once(emu, api)
