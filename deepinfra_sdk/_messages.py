"""Chat messages as the API takes them: checked before sending, in their wire form.

A message is a dict, or a message object the SDK returned (a
:class:`~deepinfra_sdk.types.ChatMessage`, from a completion or ``stream.to_completion()``),
or that object's ``to_dict()``: all three can be appended to ``messages`` as they are. The
wire form drops every ``None`` but ``content`` (the API must never receive ``null`` for an
unset field; an assistant message that only calls tools carries ``"content": null``, as
received). Errors name the message's index and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._exceptions import ArgumentTypeError, ArgumentValueError

__all__ = ["check_messages"]

_ROLES = frozenset({"system", "user", "assistant", "tool", "developer", "function"})
_PART_TYPES = ("text", "image_url", "input_audio")
_AUDIO_FORMATS = ("wav", "mp3")


def _wire(message: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if v is not None or k == "content"}


def _check_part(i: int, j: int, part: Any) -> None:
    where = f"messages[{i}] content part {j}"
    if not isinstance(part, Mapping):
        raise ArgumentTypeError(
            f"{where} must be a dict such as {{'type': 'text', 'text': '...'}} (or "
            f"deepinfra_sdk.image_part(...)), not {type(part).__name__}"
        )
    kind = part.get("type")
    if kind not in _PART_TYPES:
        raise ArgumentValueError(
            f"{where} has type {kind!r}: use 'text', 'image_url' (deepinfra_sdk.image_part) "
            "or 'input_audio' (deepinfra_sdk.audio_part)"
        )
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise ArgumentValueError(
                f"{where} needs 'text' as a str: {{'type': 'text', 'text': ...}}"
            )
    elif kind == "image_url":
        image = part.get("image_url")
        if not isinstance(image, Mapping) or not isinstance(image.get("url"), str):
            raise ArgumentValueError(
                f"{where} needs {{'image_url': {{'url': 'https://...' or 'data:...'}}}}: build "
                "it with deepinfra_sdk.image_part(path_or_url)"
            )
    else:
        audio = part.get("input_audio")
        if (
            not isinstance(audio, Mapping)
            or not isinstance(audio.get("data"), str)
            or audio.get("format") not in _AUDIO_FORMATS
        ):
            raise ArgumentValueError(
                f"{where} needs {{'input_audio': {{'data': '<base64>', 'format': 'wav' or "
                "'mp3'}}: build it with deepinfra_sdk.audio_part(path)"
            )


def _check_tool_calls(i: int, calls: Any) -> None:
    if not isinstance(calls, Sequence) or isinstance(calls, (str, bytes)):
        raise ArgumentTypeError(
            f"messages[{i}] tool_calls must be a list of tool calls as the model returned "
            f"them, not {type(calls).__name__}"
        )
    for j, call in enumerate(calls):
        if not isinstance(call, Mapping):
            raise ArgumentTypeError(
                f"messages[{i}] tool_calls[{j}] must be a dict (or the ToolCall the SDK "
                f"returned), not {type(call).__name__}"
            )
        function = call.get("function")
        if isinstance(function, Mapping) and not isinstance(function.get("arguments", ""), str):
            raise ArgumentTypeError(
                f"messages[{i}] tool_calls[{j}] function arguments must be a JSON string: "
                "pass json.dumps(arguments)"
            )


def _message(i: int, item: Any) -> dict[str, Any]:
    if isinstance(item, Mapping):
        message = item
    elif callable(getattr(item, "to_dict", None)):
        message = item.to_dict()
    else:
        raise ArgumentTypeError(
            f"messages[{i}] must be a dict with 'role' and 'content' (or a message the SDK "
            f"returned), not {type(item).__name__}"
        )
    role = message.get("role")
    if not isinstance(role, str) or not role:
        raise ArgumentValueError(
            f"messages[{i}] has no 'role': use one of 'system', 'user', 'assistant', 'tool'"
        )
    if role not in _ROLES:
        raise ArgumentValueError(
            f"messages[{i}] has role {role[:40]!r}: use one of "
            "'system', 'user', 'assistant', 'tool'"
        )
    calls = message.get("tool_calls")
    if calls is not None:
        _check_tool_calls(i, calls)
    if "content" not in message and not (role == "assistant" and calls):
        raise ArgumentValueError(
            f"messages[{i}] ({role}) has no 'content': add 'content': '...' (only an "
            "assistant message with 'tool_calls' may leave it out)"
        )
    wire = _wire(message)
    content = wire.get("content")
    if content is None:
        if not (role == "assistant" and calls):
            raise ArgumentValueError(
                f"messages[{i}] ({role}) has content None; only an assistant message "
                "with 'tool_calls' may omit content: give it a str"
            )
        wire["content"] = None
    elif isinstance(content, list):
        for j, part in enumerate(content):
            _check_part(i, j, part)
    elif not isinstance(content, str):
        raise ArgumentTypeError(
            f"messages[{i}] content must be a str or a list of content parts, "
            f"not {type(content).__name__}"
        )
    if role == "tool":
        call_id = wire.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise ArgumentValueError(
                f"messages[{i}] (tool) has no 'tool_call_id': set it to the 'id' of the "
                "assistant's tool call this message answers"
            )
    return wire


def check_messages(messages: object) -> list[dict[str, Any]]:
    """Validate chat messages and return them in their wire form (new plain dicts).

    Each message needs a ``role`` and ``content`` (a str, or a list of ``text``,
    ``image_url`` and ``input_audio`` parts); an assistant message with ``tool_calls`` may
    have none (it is sent as ``null``), and a ``tool`` message needs ``tool_call_id``.
    """
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise ArgumentTypeError(
            "messages must be a list of dicts such as "
            "[{'role': 'user', 'content': 'Hello'}], "
            f"not {type(messages).__name__}"
        )
    if not messages:
        raise ArgumentValueError(
            "messages is empty: pass at least one {'role': 'user', 'content': ...}"
        )
    return [_message(i, item) for i, item in enumerate(messages)]
