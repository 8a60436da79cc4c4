"""ChatStream over scripted byte chunks: decoding, accumulation, errors that keep the text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Optional

import pytest

from deepinfra_sdk import (
    APIConnectionError,
    APIResponseValidationError,
    APIStreamError,
    ChatCompletionChunk,
    ChatStream,
)


class ScriptedResponse:
    """Stands in for the transport's HTTPResponse: yields given byte chunks, then maybe fails."""

    def __init__(self, chunks: list[bytes], error: Optional[Exception] = None) -> None:
        self.chunks = chunks
        self.error = error
        self.headers = {"transfer-encoding": "chunked"}
        self.request_id = "req-42"
        self.response = None
        self.closed = 0
        self.aborted = 0
        self.reads = 0

    def iter_bytes(self, *, greedy: bool = False) -> Iterator[bytes]:
        while self.reads < len(self.chunks):
            self.reads += 1
            yield self.chunks[self.reads - 1]
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed += 1

    def release_after_end(self) -> None:
        self.close()

    def abort(self) -> None:
        self.aborted += 1


def frame(obj: Any, sep: str = "\n") -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj)
    return f"data: {data}{sep}{sep}".encode()


def chunk(
    content: Optional[str] = None, *, finish: Optional[str] = None, index: int = 0, **delta: Any
) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-7",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8, "estimated_cost": 2.5e-06}


def story(sep: str = "\n") -> bytes:
    finish = chunk("", finish="stop")
    finish["usage"] = USAGE
    parts = [
        frame(chunk("", role="assistant"), sep),
        frame(chunk(" Hello"), sep),
        frame(chunk(", world"), sep),
        frame(chunk("!"), sep),
        frame(finish, sep),
        frame("[DONE]", sep),
    ]
    return b"".join(parts)


def test_chunks_text_usage_and_completion() -> None:
    resp = ScriptedResponse([story()])
    with ChatStream(resp, model="m/x") as stream:
        chunks = list(stream)
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert [c.choices[0].delta.content for c in chunks] == ["", " Hello", ", world", "!", ""]
    assert stream.text == " Hello, world!"
    assert stream.finish_reason == "stop"
    assert stream.usage is not None
    assert stream.usage.estimated_cost == pytest.approx(2.5e-06)
    assert stream.usage.total_tokens == 8
    assert stream.done
    assert stream.request_id == "req-42"
    completion = stream.to_completion()
    assert completion.text == " Hello, world!"
    assert completion.usage == stream.usage
    assert completion.model == "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    assert completion.choices[0].finish_reason == "stop"
    assert resp.closed >= 1


@pytest.mark.parametrize("sep", ["\n", "\r\n", "\r"])
def test_every_two_way_split_gives_the_same_result(sep: str) -> None:
    body = story(sep)
    for cut in range(1, len(body)):
        stream = ChatStream(ScriptedResponse([body[:cut], body[cut:]]), model="m/x")
        assert [c.choices[0].delta.content for c in stream] == ["", " Hello", ", world", "!", ""]
        assert stream.text == " Hello, world!"
        assert stream.usage is not None


def test_one_byte_at_a_time() -> None:
    body = story("\r\n")
    stream = ChatStream(ScriptedResponse([body[i : i + 1] for i in range(len(body))]), model="m/x")
    assert len(list(stream)) == 5
    assert stream.text == " Hello, world!"


def test_usage_after_finish_is_read_up_to_done() -> None:
    finish = chunk("", finish="stop")
    late_usage = {"id": "x", "choices": [], "usage": USAGE}
    body = [frame(chunk("a")) + frame(finish), frame(late_usage), frame("[DONE]")]
    stream = ChatStream(ScriptedResponse(body), model="m/x")
    list(stream)
    assert stream.usage is not None
    assert stream.usage.prompt_tokens == 5


def test_batches_follow_reads() -> None:
    reads = [
        frame(chunk("a")) + frame(chunk("b")),
        frame(chunk("c")),
        frame(chunk("", finish="stop")) + frame("[DONE]"),
    ]
    stream = ChatStream(ScriptedResponse(reads), model="m/x")
    sizes = [len(b) for b in stream.iter_batches()]
    assert sizes == [2, 1, 1]


def test_comments_and_keepalives_are_ignored() -> None:
    body = (
        b": keep-alive\n\n"
        + frame(chunk("x"))
        + b":ping\n"
        + frame(chunk("", finish="stop"))
        + frame("[DONE]")
    )
    stream = ChatStream(ScriptedResponse([body]), model="m/x")
    assert stream.text == "" and len(list(stream)) == 2
    assert stream.text == "x"


def test_deepinfra_error_frame_raises_and_keeps_the_text() -> None:
    inner = json.dumps({"error": {"message": "Requested tokens exceed context window of 8192"}})
    err_frame = {"error_type": "validation_error", "error_message": inner}
    body = [frame(chunk(" partial")) + frame(chunk(" text")) + frame(err_frame)]
    stream = ChatStream(ScriptedResponse(body), model="m/x")
    seen = []
    with pytest.raises(APIStreamError) as info:
        for c in stream:
            seen.append(c.choices[0].delta.content)
    err = info.value
    assert seen == [" partial", " text"]  # chunks before the bad frame still arrive
    assert err.message == "Requested tokens exceed context window of 8192"
    assert err.error_type == "validation_error"
    assert err.partial_text == " partial text"
    assert stream.text == " partial text"
    assert err.request_id == "req-42"


def test_openai_style_error_frame() -> None:
    body = [
        frame(chunk("so far")),
        frame({"error": {"message": "overloaded", "type": "server_error"}}),
    ]
    stream = ChatStream(ScriptedResponse(body), model="m/x")
    with pytest.raises(APIStreamError) as info:
        list(stream)
    assert info.value.error_type == "server_error"
    assert info.value.partial_text == "so far"


def test_malformed_frame_is_a_validation_error_with_partial_text() -> None:
    body = [frame(chunk("kept")) + b"data: {not json\n\n"]
    stream = ChatStream(ScriptedResponse(body), model="m/x")
    with pytest.raises(APIResponseValidationError) as info:
        list(stream)
    assert info.value.partial_text == "kept"


def test_dropped_connection_keeps_the_text() -> None:
    resp = ScriptedResponse(
        [frame(chunk("one")), frame(chunk(" two"))], error=APIConnectionError("reset")
    )
    stream = ChatStream(resp, model="m/x")
    with pytest.raises(APIConnectionError) as info:
        list(stream)
    assert info.value.partial_text == "one two"
    assert stream.text == "one two"
    assert resp.closed >= 1


def test_end_without_done_or_finish_is_an_error() -> None:
    stream = ChatStream(ScriptedResponse([frame(chunk("cut"))]), model="m/x")
    with pytest.raises(APIConnectionError, match=r"\[DONE\]") as info:
        list(stream)
    assert info.value.partial_text == "cut"


def test_end_without_done_after_finish_is_accepted() -> None:
    stream = ChatStream(ScriptedResponse([frame(chunk("ok", finish="stop"))]), model="m/x")
    assert len(list(stream)) == 1
    assert stream.finish_reason == "stop"


def test_tool_calls_are_assembled_from_fragments() -> None:
    def tc(**kw: Any) -> dict[str, Any]:
        return chunk(None, tool_calls=[kw])

    body = [
        frame(
            tc(
                index=0,
                id="call_1",
                type="function",
                function={"name": "get_weather", "arguments": ""},
            )
        ),
        frame(tc(index=0, function={"arguments": '{"city": '})),
        frame(tc(index=0, function={"arguments": '"Paris"}'})),
        frame(tc(index=1, id="call_2", function={"name": "get_time", "arguments": "{}"})),
        frame(chunk(None, finish="tool_calls")),
        frame("[DONE]"),
    ]
    stream = ChatStream(ScriptedResponse(body), model="m/x")
    list(stream)
    calls = stream.tool_calls
    assert [c.id for c in calls] == ["call_1", "call_2"]
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert stream.finish_reason == "tool_calls"
    message = stream.to_completion().choices[0].message
    assert message.tool_calls is not None and len(message.tool_calls) == 2


def test_reasoning_is_accumulated_separately() -> None:
    body = [
        frame(chunk(None, reasoning_content="Let me think.")),
        frame(chunk(None, reasoning=" Done.")),
        frame(chunk("Answer", finish="stop")),
        frame("[DONE]"),
    ]
    stream = ChatStream(ScriptedResponse(body), model="m/x")
    list(stream)
    assert stream.reasoning == "Let me think. Done."
    assert stream.text == "Answer"
    assert stream.to_completion().choices[0].message.reasoning_content == "Let me think. Done."


def test_several_choices() -> None:
    body = [
        frame(chunk("a", index=0)),
        frame(chunk("b", index=1)),
        frame(chunk("c", index=0, finish="stop")),
        frame(chunk("d", index=1, finish="length")),
        frame("[DONE]"),
    ]
    stream = ChatStream(ScriptedResponse(body), model="m/x")
    list(stream)
    assert stream.texts() == {0: "ac", 1: "bd"}
    assert [c.finish_reason for c in stream.to_completion().choices] == ["stop", "length"]


def test_iter_text_yields_only_content() -> None:
    stream = ChatStream(ScriptedResponse([story()]), model="m/x")
    assert list(stream.iter_text()) == [" Hello", ", world", "!"]


def test_next_then_iteration_loses_nothing() -> None:
    stream = ChatStream(ScriptedResponse([story()]), model="m/x")
    first = next(stream)
    rest = list(stream)
    assert first.choices[0].delta.content == ""
    assert len(rest) == 4


def test_early_break_and_close_release_the_connection() -> None:
    resp = ScriptedResponse([frame(chunk("a")), frame(chunk("b")), frame(chunk("c"))])
    with ChatStream(resp, model="m/x") as stream:
        for _ in stream:
            break
    assert resp.closed >= 1
    assert resp.reads == 1
    assert stream.closed
    stream.close()  # idempotent
    assert list(stream) == []  # a closed stream yields nothing more


def test_a_stream_closed_before_reading_refuses_to_read() -> None:
    stream = ChatStream(ScriptedResponse([frame(chunk("a"))]), model="m/x")
    stream.close()
    with pytest.raises(APIConnectionError, match="closed"):
        list(stream)


def test_abort_is_delegated_to_the_response() -> None:
    resp = ScriptedResponse([])
    stream = ChatStream(resp, model="m/x")
    stream.abort()
    assert resp.aborted == 1
    assert stream.closed
    assert "closed" in repr(stream)


def test_a_stream_is_read_one_way_only() -> None:
    stream = ChatStream(ScriptedResponse([story()]), model="m/x")
    next(stream)
    with pytest.raises(RuntimeError, match="one way"):
        stream.iter_batches()


def test_batches_hold_everything_and_accumulate() -> None:
    stream = ChatStream(ScriptedResponse([story()]), model="m/x")
    batches = list(stream.iter_batches())
    assert len(batches) == 1 and len(batches[0]) == 5
    assert stream.text == " Hello, world!" and stream.chunks_received == 5


def test_reading_text_during_the_stream_sees_each_piece_once() -> None:
    stream = ChatStream(ScriptedResponse([story()]), model="m/x")
    seen = [stream.text for _ in stream]
    assert seen == ["", " Hello", " Hello, world", " Hello, world!", " Hello, world!"]
    assert stream.text == " Hello, world!"


@pytest.mark.parametrize(
    "bad",
    [
        {"choices": [{"index": "0", "delta": {"content": "x"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": 5}, "finish_reason": None}]},
    ],
)
def test_malformed_chunks_are_validation_errors(bad: dict[str, Any]) -> None:
    stream = ChatStream(ScriptedResponse([frame(chunk("ok")) + frame(bad)]), model="m/x")
    with pytest.raises(APIResponseValidationError) as info:
        list(stream)
    assert info.value.partial_text == "ok"


def test_a_frame_nested_too_deeply_is_a_validation_error_not_a_crash() -> None:
    resp = ScriptedResponse([frame(chunk(" Hi")), frame("[" * 100_000 + "]" * 100_000)])
    stream = ChatStream(resp, model="m/x")
    with pytest.raises(APIResponseValidationError, match="nests too deeply") as info:
        list(stream)
    assert info.value.partial_text == " Hi" == stream.text
    assert stream.closed and resp.closed >= 1


def test_a_chunk_the_types_reject_keeps_the_text_and_closes_the_stream() -> None:
    resp = ScriptedResponse([frame(chunk(" Hi")), frame({"choices": [None]}), frame(chunk("!"))])
    stream = ChatStream(resp, model="m/x")
    with pytest.raises(APIResponseValidationError) as info:
        list(stream)
    assert info.value.partial_text == " Hi" == stream.text
    assert stream.closed and resp.closed >= 1


@pytest.mark.parametrize(
    "bad",
    [
        {"choices": [{"index": [], "delta": {"content": "x"}}]},
        {"choices": [{"index": 0, "delta": {"role": ["assistant"]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": {}, "function": {}}]}}]},
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": 7}}]}}
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ["{}"]}}]},
                }
            ]
        },
    ],
)
def test_fields_of_the_wrong_type_are_validation_errors(bad: dict[str, Any]) -> None:
    resp = ScriptedResponse([frame(chunk(" Hi")), frame(bad), frame(chunk("!"))])
    stream = ChatStream(resp, model="m/x")
    with pytest.raises(APIResponseValidationError, match="not"):
        list(stream)
    assert stream.text == " Hi" and stream.closed and resp.closed >= 1
    stream.to_completion()  # what arrived before stays usable
