"""Chat completions: shapes, determinism, max_tokens, n, stop, tools, reasoning, errors."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
import requests

from deepinfra_sdk.emulator import CATALOGUE, Emulator

from .helpers import CHAT, TEXT_MODEL, chat_body, chunks, sse_payloads

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
            },
            "required": ["city"],
        },
    },
}


def post(session: requests.Session, emulator: Emulator, body: Dict[str, Any]) -> requests.Response:
    return session.post(emulator.url + CHAT, json=body)


def stream(session: requests.Session, emulator: Emulator, body: Dict[str, Any]) -> List[str]:
    r = post(session, emulator, {**body, "stream": True})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/event-stream"
    return sse_payloads(r.content)


def price(model: str) -> Dict[str, Any]:
    return next(e["pricing"] for e in CATALOGUE if e["model_name"] == model)


def test_non_stream_shape(emulator: Emulator, session: requests.Session) -> None:
    r = post(session, emulator, chat_body())
    assert r.status_code == 200
    body = r.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == TEXT_MODEL
    (choice,) = body["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant"
    assert message["content"].startswith(" ")  # as at DeepInfra
    usage = body["usage"]
    assert usage["completion_tokens"] == 24
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    p = price(TEXT_MODEL)
    expected = (
        usage["prompt_tokens"] * p["cents_per_input_token"]
        + usage["completion_tokens"] * p["cents_per_output_token"]
    ) / 100
    assert usage["estimated_cost"] == pytest.approx(expected)


def test_answers_are_deterministic_per_last_user_message(
    emulator: Emulator, session: requests.Session
) -> None:
    def answer(text: str) -> str:
        return str(
            post(session, emulator, chat_body(text)).json()["choices"][0]["message"]["content"]
        )

    assert answer("same") == answer("same")
    assert answer("same") != answer("different")
    multi = chat_body()
    multi["messages"] = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "parts"}]},
    ]
    assert post(session, emulator, multi).status_code == 200


def test_max_tokens_gives_exactly_that_many_and_length(
    emulator: Emulator, session: requests.Session
) -> None:
    body = post(session, emulator, chat_body(max_tokens=5)).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5
    assert len(body["choices"][0]["message"]["content"].split()) == 5
    events = chunks(stream(session, emulator, chat_body(max_tokens=300)))
    assert len(events) == 302  # role chunk, 300 tokens, finish chunk


def test_answer_tokens_setting(emulator: Emulator, session: requests.Session) -> None:
    emulator.answer_tokens = 3
    assert post(session, emulator, chat_body()).json()["usage"]["completion_tokens"] == 3


def test_stream_shape_deepinfra_style(emulator: Emulator, session: requests.Session) -> None:
    payloads = stream(session, emulator, chat_body())
    assert payloads[-1] == "[DONE]"
    events = chunks(payloads)
    # As recorded (real-traffic/chat_stream_llama31_70b_2024-11.sse): every delta repeats the
    # role and says tool_calls null, every chunk but the finish one says usage null.
    assert events[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": "",
        "tool_calls": None,
    }
    ids = {e["id"] for e in events}
    assert len(ids) == 1
    assert len(ids.pop()) == len("chatcmpl-") + 24
    for event in events:
        assert event["object"] == "chat.completion.chunk"
        assert event["model"] == TEXT_MODEL
        assert isinstance(event["created"], int)
    tokens = events[1:-1]
    assert len(tokens) == 24
    for event in tokens:
        (choice,) = event["choices"]
        assert choice["finish_reason"] is None
        assert set(choice["delta"]) == {"role", "content", "tool_calls"}
        assert choice["delta"]["role"] == "assistant"
        assert choice["delta"]["tool_calls"] is None
        assert choice["delta"]["content"].startswith(" ")
        assert event["usage"] is None
    last = events[-1]
    assert last["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert list(last["usage"]) == [
        "prompt_tokens",
        "total_tokens",
        "completion_tokens",
        "estimated_cost",
    ]
    assert last["usage"]["completion_tokens"] == 24
    # Spaced separators, as Python's json.dumps writes by default.
    assert all(p.startswith('{"id": "chatcmpl-') for p in payloads[:-1])
    # The streamed text is the non-stream answer.
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    whole = post(session, emulator, chat_body()).json()
    assert text == whole["choices"][0]["message"]["content"]
    assert last["usage"] == whole["usage"]


def test_message_shape_as_recorded(emulator: Emulator, session: requests.Session) -> None:
    body = post(session, emulator, chat_body()).json()
    (choice,) = body["choices"]
    # real-traffic/chat_nonstream_llama31_70b_2024-11.json: explicit nulls, no logprobs key.
    assert set(choice) == {"index", "message", "finish_reason"}
    assert set(choice["message"]) == {"role", "content", "name", "tool_calls"}
    assert choice["message"]["name"] is None and choice["message"]["tool_calls"] is None
    assert len(body["id"]) == len("chatcmpl-") + 32
    int(body["id"][len("chatcmpl-") :], 16)


def test_lean_shapes_send_only_what_carries_something(
    emulator: Emulator, session: requests.Session
) -> None:
    emulator.shapes = "lean"
    payloads = stream(session, emulator, chat_body())
    events = chunks(payloads)
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    for event in events[1:-1]:
        assert set(event["choices"][0]["delta"]) == {"content"}
        assert "usage" not in event
    assert "estimated_cost" in events[-1]["usage"]
    assert all(p.startswith('{"id":"chatcmpl-') for p in payloads[:-1])
    body = post(session, emulator, chat_body()).json()
    (choice,) = body["choices"]
    assert set(choice["message"]) == {"role", "content"}
    assert choice["logprobs"] is None


def test_include_usage_false_drops_usage(emulator: Emulator, session: requests.Session) -> None:
    events = chunks(stream(session, emulator, chat_body(stream_options={"include_usage": False})))
    assert all(e.get("usage") is None for e in events)


def test_n_choices(emulator: Emulator, session: requests.Session) -> None:
    body = post(session, emulator, chat_body(n=3, max_tokens=4)).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert len({c["message"]["content"] for c in body["choices"]}) == 3
    assert body["usage"]["completion_tokens"] == 12
    events = chunks(stream(session, emulator, chat_body(n=2, max_tokens=4)))
    texts = {0: "", 1: ""}
    finishes = {}
    for event in events:
        (choice,) = event["choices"]
        texts[choice["index"]] += choice["delta"].get("content", "")
        if choice["finish_reason"]:
            finishes[choice["index"]] = choice["finish_reason"]
    assert finishes == {0: "length", 1: "length"}
    assert [len(t.split()) for t in texts.values()] == [4, 4]
    assert sum(e.get("usage") is not None for e in events) == 1


def test_stop_strings_cut_the_answer(emulator: Emulator, session: requests.Session) -> None:
    full = post(session, emulator, chat_body("stop test")).json()["choices"][0]["message"][
        "content"
    ]
    word = full.split()[5].strip(".,")
    cut = post(session, emulator, chat_body("stop test", stop=[word, "zzz"])).json()
    choice = cut["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == full[: full.index(word)]
    streamed = chunks(stream(session, emulator, chat_body("stop test", stop=word)))
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in streamed)
    assert text == full[: full.index(word)]


def test_tool_call_non_stream(emulator: Emulator, session: requests.Session) -> None:
    body = post(session, emulator, chat_body(tools=[WEATHER_TOOL])).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    arguments = json.loads(call["function"]["arguments"])
    assert set(arguments) == {"city", "unit", "days"}
    assert arguments["unit"] == "celsius"
    assert isinstance(arguments["days"], int)
    none = post(session, emulator, chat_body(tools=[WEATHER_TOOL], tool_choice="none")).json()
    assert none["choices"][0]["finish_reason"] == "stop"


def test_tool_call_streams_argument_fragments(
    emulator: Emulator, session: requests.Session
) -> None:
    other = {"type": "function", "function": {"name": "other", "parameters": {}}}
    events = chunks(
        stream(
            session,
            emulator,
            chat_body(
                tools=[other, WEATHER_TOOL],
                tool_choice={"type": "function", "function": {"name": "get_weather"}},
            ),
        )
    )
    calls = [
        e["choices"][0]["delta"]["tool_calls"][0]
        for e in events
        if e["choices"][0]["delta"].get("tool_calls")
    ]
    assert calls[0]["id"].startswith("call_")
    assert calls[0]["function"]["name"] == "get_weather"
    fragments = [c["function"]["arguments"] for c in calls]
    assert len([f for f in fragments if f]) >= 3
    assert set(json.loads("".join(fragments))) == {"city", "unit", "days"}
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert "usage" in events[-1]


def test_reasoning_model_thinks_first(emulator: Emulator, session: requests.Session) -> None:
    body = chat_body(model="deepseek-ai/DeepSeek-R1")
    whole = post(session, emulator, body).json()
    message = whole["choices"][0]["message"]
    assert message["reasoning_content"].strip()
    assert message["content"].strip()
    events = chunks(stream(session, emulator, body))
    kinds = [
        k
        for e in events[1:-1]
        for k, v in e["choices"][0]["delta"].items()
        if k != "role" and v is not None
    ]
    first_content = kinds.index("content")
    assert first_content > 0
    assert set(kinds[:first_content]) == {"reasoning_content"}
    assert set(kinds[first_content:]) == {"content"}
    assert (
        "".join(e["choices"][0]["delta"].get("reasoning_content", "") for e in events)
        == (message["reasoning_content"])
    )


def test_json_response_formats(emulator: Emulator, session: requests.Session) -> None:
    body = post(session, emulator, chat_body(response_format={"type": "json_object"})).json()
    assert "answer" in json.loads(body["choices"][0]["message"]["content"])
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    body = post(session, emulator, chat_body(response_format=fmt)).json()
    assert set(json.loads(body["choices"][0]["message"]["content"])) == {"name", "age"}


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"model": TEXT_MODEL}, ["body", "messages"], "value_error.missing"),
        (
            {"messages": [{"role": "user", "content": "x"}]},
            ["body", "model"],
            "value_error.missing",
        ),
        (chat_body(messages=[]), ["body", "messages"], "value_error.list.min_items"),
        (chat_body(messages="hi"), ["body", "messages"], "type_error.list"),
        (
            chat_body(messages=[{"content": "x"}]),
            ["body", "messages", 0, "role"],
            "value_error.missing",
        ),
        (chat_body(model=""), ["body", "model"], "value_error.any_str.min_length"),
        (chat_body(n=5), ["body", "n"], "value_error.number.not_le"),
        (chat_body(max_tokens=0), ["body", "max_tokens"], "value_error.number.not_ge"),
        (chat_body(max_tokens="many"), ["body", "max_tokens"], "type_error.integer"),
        (chat_body(temperature=3), ["body", "temperature"], "value_error.number.not_le"),
    ],
)
def test_validation_errors_are_fastapi_422(
    emulator: Emulator, session: requests.Session, body: Dict[str, Any], loc: List[Any], kind: str
) -> None:
    r = post(session, emulator, body)
    assert r.status_code == 422
    (item,) = r.json()["detail"]
    assert item["loc"] == loc
    assert item["type"] == kind
    assert item["msg"]


def test_both_fields_missing_lists_both(emulator: Emulator, session: requests.Session) -> None:
    r = post(session, emulator, {"stream": True})
    assert r.status_code == 422
    assert r.json() == {
        "detail": [
            {"loc": ["body", "model"], "msg": "field required", "type": "value_error.missing"},
            {"loc": ["body", "messages"], "msg": "field required", "type": "value_error.missing"},
        ]
    }


@pytest.mark.parametrize(
    ("model", "status", "words"),
    [
        ("nobody/nothing", 404, "does not exist"),
        ("runwayml/stable-diffusion-v1-5", 404, "deprecated"),
        ("stabilityai/sd3.5", 400, "text-to-image"),
        ("BAAI/bge-large-en-v1.5", 400, "embeddings"),
    ],
)
def test_unusable_models(
    emulator: Emulator, session: requests.Session, model: str, status: int, words: str
) -> None:
    r = post(session, emulator, chat_body(model=model, stream=True))
    assert r.status_code == status
    assert r.headers["Content-Type"] == "application/json"
    error = r.json()["error"]
    assert words in error["message"]
    assert error["type"] == "invalid_request_error"


def test_model_version_suffix_is_accepted(emulator: Emulator, session: requests.Session) -> None:
    r = post(session, emulator, chat_body(model=TEXT_MODEL + ":1a2b3c"))
    assert r.status_code == 200
    assert r.json()["model"] == TEXT_MODEL + ":1a2b3c"


def test_the_prompt_cache_reads_a_long_conversation_in_one_pass(
    emulator: Emulator, session: requests.Session
) -> None:
    # 20,000 messages: hashing every prefix afresh took minutes (quadratic); the timeout
    # is far beyond what one pass needs.
    history = [{"role": "user", "content": f"note {i}"} for i in range(20_000)]
    first = session.post(emulator.url + CHAT, json=chat_body(messages=history), timeout=60)
    assert "prompt_tokens_details" not in first.json()["usage"]  # nothing cached yet
    longer = [*history, {"role": "user", "content": "and one more"}]
    again = session.post(emulator.url + CHAT, json=chat_body(messages=longer), timeout=60)
    usage = again.json()["usage"]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert 0 < cached < usage["prompt_tokens"]
    assert usage["prompt_tokens"] - cached < 20  # all but the new message came from the cache


_HI = {"role": "user", "content": "Hi"}


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"tool_choice": {"type": "function", "function": "get_weather"}}, 422),
        ({"messages": [_HI, {"role": "assistant", "tool_calls": [{"function": "f"}]}]}, 200),
        ({"messages": [_HI, {"role": "assistant", "tool_calls": "get_weather"}]}, 200),
        (
            {
                "messages": [
                    _HI,
                    {"role": "assistant", "tool_calls": [{"function": {"name": ["x"]}}]},
                ]
            },
            200,
        ),
    ],
)
def test_malformed_tool_fields_are_answered_not_a_500(
    emulator: Emulator, session: requests.Session, extra: Dict[str, Any], status: int
) -> None:
    r = post(session, emulator, chat_body(tools=[WEATHER_TOOL], **extra))
    assert r.status_code == status, r.text
