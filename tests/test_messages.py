"""Chat messages: what the SDK returned goes back as it is, in its wire form (no nulls but
``content``), and what cannot be sent is refused naming the message and the fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deepinfra_sdk import ArgumentTypeError, ArgumentValueError, image_part
from deepinfra_sdk._messages import check_messages
from deepinfra_sdk.types import ChatCompletion, ChatMessage

TOOL_ANSWER = {
    "id": "c",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": None,
                "name": None,
                "reasoning_content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x": 1}'},
                    }
                ],
            },
        }
    ],
}


def _assistant() -> ChatMessage:
    return ChatCompletion.from_wire(json.loads(json.dumps(TOOL_ANSWER))).choices[0].message


@pytest.mark.parametrize("form", ["object", "to_dict"])
def test_an_assistant_tool_call_message_goes_back_as_received(form: str) -> None:
    message: Any = _assistant() if form == "object" else _assistant().to_dict()
    sent = check_messages(
        [
            {"role": "user", "content": "hi"},
            message,
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        ]
    )
    assert sent[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "function": {"name": "f", "arguments": '{"x": 1}'}, "type": "function"}
        ],
    }
    # No null anywhere but the assistant's content.
    text = json.dumps(sent)
    assert text.count("null") == 1


def test_an_assistant_message_without_content_key_is_sent_with_null_content() -> None:
    message = {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f"}}]}
    assert check_messages([message])[0]["content"] is None


def test_content_parts_are_checked() -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        image_part("https://example.com/a.png"),
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    ]
    assert check_messages([{"role": "user", "content": parts}])[0]["content"] == parts


@pytest.mark.parametrize(
    ("messages", "error", "fragments"),
    [
        (
            [{"role": "user", "content": "x"}, {"role": "tool", "content": "42"}],
            ArgumentValueError,
            ["messages[1]", "tool_call_id", "'id' of the assistant's tool call"],
        ),
        (
            [{"role": "user", "content": [{"type": "image", "url": "x"}]}],
            ArgumentValueError,
            ["messages[0] content part 0", "image_part"],
        ),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": "https://x"}]}],
            ArgumentValueError,
            ["messages[0] content part 0", "{'url'"],
        ),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "A"}}]}],
            ArgumentValueError,
            ["'wav' or", "audio_part"],
        ),
        (
            [{"role": "user", "content": ["hi"]}],
            ArgumentTypeError,
            ["content part 0", "'type': 'text'"],
        ),
        (
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": {"x": 1}}}],
                }
            ],
            ArgumentTypeError,
            ["tool_calls[0]", "json.dumps"],
        ),
        (
            [{"role": "user", "content": None}],
            ArgumentValueError,
            ["messages[0]", "give it a str"],
        ),
        ([{"role": "assistant"}], ArgumentValueError, ["messages[0]", "'content'"]),
        ([42], ArgumentTypeError, ["messages[0]", "a message the SDK returned"]),
        ({"role": "user", "content": "x"}, ArgumentTypeError, ["list of dicts"]),
    ],
)
def test_what_cannot_be_sent_names_the_message_and_the_fix(
    messages: Any, error: type, fragments: list[str]
) -> None:
    with pytest.raises(error) as info:
        check_messages(messages)
    for fragment in fragments:
        assert fragment in str(info.value)
