"""Checks on chat options before sending, and what some of them change on our side.

Only what would otherwise fail late or silently is checked here (a misspelled tier, a
``top_logprobs`` without ``logprobs``, a malformed ``response_format``); ranges the server
enforces are left to it. Options left ``None`` are dropped: the API must never get ``null``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional, TypedDict, Union

from . import _constants as C
from ._config import Timeout
from ._exceptions import ArgumentTypeError, ArgumentValueError

if TYPE_CHECKING:
    from ._config import TimeoutTypes
    from .types import ChatMessage

__all__ = [
    "ChatOptions",
    "CreateOptions",
    "MessageLike",
    "ParseOptions",
    "ToolRunOptions",
    "check_chat_options",
    "flex_timeout",
]

#: A chat message: a dict, or a message the SDK returned.
MessageLike = Union[Mapping[str, Any], "ChatMessage"]


# chat.completions.create()'s options, written once for type checkers: the overloads of
# create() (sync and async) and run_tools()/parse() (which pass them on to create()) take
# ``**options: Unpack[...]`` of these, so mypy and pyright flag a misspelled keyword. The
# implementation of Completions.create lists the same names; a test keeps them equal.
class ChatOptions(TypedDict, total=False):
    """create()'s options but model, messages, stream, tools and response_format."""

    temperature: Optional[float]
    top_p: Optional[float]
    top_k: Optional[int]
    min_p: Optional[float]
    max_tokens: Optional[int]
    stop: Union[str, Sequence[str], None]
    n: Optional[int]
    seed: Optional[int]
    presence_penalty: Optional[float]
    frequency_penalty: Optional[float]
    repetition_penalty: Optional[float]
    tool_choice: Union[str, Mapping[str, Any], None]
    parallel_tool_calls: Optional[bool]
    logprobs: Optional[bool]
    top_logprobs: Optional[int]
    reasoning_effort: Optional[str]
    reasoning: Optional[Mapping[str, Any]]
    service_tier: Optional[str]
    prompt_cache_key: Optional[str]
    chat_template_kwargs: Optional[Mapping[str, Any]]
    stream_options: Optional[Mapping[str, Any]]
    user: Optional[str]
    extra_body: Optional[Mapping[str, Any]]
    timeout: TimeoutTypes
    extra_headers: Optional[Mapping[str, Optional[str]]]
    max_retries: Optional[int]


class ToolRunOptions(ChatOptions, total=False):
    """What run_tools() passes on to create() (it sets the tools itself)."""

    response_format: Optional[Mapping[str, Any]]


class ParseOptions(ChatOptions, total=False):
    """What parse() passes on to create() (it sets the response format itself)."""

    tools: Optional[Sequence[Mapping[str, Any]]]


class CreateOptions(ToolRunOptions, ParseOptions, total=False):
    """create()'s options but model, messages and stream (its overloads spell those)."""


_TIERS = ("default", "priority", "flex")
_FORMATS = ("text", "json_object", "json_schema", "regex")


def check_chat_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without the unset ones, after the checks above (each error names the fix)."""
    out = {k: v for k, v in options.items() if v is not None}
    tier = out.get("service_tier")
    if tier is not None and tier not in _TIERS:
        raise ArgumentValueError(
            f"service_tier must be one of {', '.join(map(repr, _TIERS))}, got {tier!r}"
        )
    if "top_logprobs" in out and not out.get("logprobs"):
        raise ArgumentValueError(
            "top_logprobs needs logprobs=True as well: pass logprobs=True, top_logprobs=N"
        )
    fmt = out.get("response_format")
    if fmt is not None:
        if not isinstance(fmt, Mapping) or fmt.get("type") not in _FORMATS:
            raise ArgumentValueError(
                "response_format must be {'type': ...} with type one of "
                f"{', '.join(map(repr, _FORMATS))}, got {fmt!r:.100} (for a schema type, "
                "use client.chat.completions.parse(response_format=YourType))"
            )
        if fmt["type"] == "regex" and not isinstance(fmt.get("regex"), str):
            raise ArgumentValueError(
                "response_format {'type': 'regex'} needs the pattern: "
                "{'type': 'regex', 'regex': '[0-9]+'}"
            )
        if fmt["type"] == "json_schema" and not isinstance(fmt.get("json_schema"), Mapping):
            raise ArgumentValueError(
                "response_format {'type': 'json_schema'} needs 'json_schema': "
                "{'name': ..., 'schema': {...}} (parse() builds it from a type)"
            )
    stop = out.get("stop")
    if stop is not None and not isinstance(stop, str):
        listed = None if isinstance(stop, (bytes, Mapping)) else _listed(stop)
        if listed is None or not all(isinstance(s, str) for s in listed):
            raise ArgumentTypeError(
                f"stop must be a str or a list of str, got {type(stop).__name__}: e.g. "
                "stop=['\\n\\n', 'User:']"
            )
        out["stop"] = listed
    tools = out.get("tools")
    if tools is not None:
        # Listed once, before the check: a generator checked first would then be sent empty.
        listed = None if isinstance(tools, (str, bytes, Mapping)) else _listed(tools)
        if listed is None or not all(isinstance(t, Mapping) for t in listed):
            raise ArgumentTypeError(
                "tools must be a list of tool definitions (dicts); build one from a function "
                "with deepinfra_sdk.function_tool(func), or let run_tools(tools=[func]) do it"
            )
        out["tools"] = listed
    return out


def _listed(value: Any) -> Any:
    """``value`` as a list, or ``None`` when it is not iterable."""
    try:
        return list(value)
    except TypeError:
        return None


def flex_timeout(timeout: Timeout) -> Timeout:
    """The client's timeout stretched to cover the flex tier's queueing (up to ten minutes
    before the answer starts)."""
    total = timeout.total
    if total is not None:
        total = max(total, C.FLEX_READ_TIMEOUT)
    return Timeout(
        connect=timeout.connect, read=max(timeout.read, C.FLEX_READ_TIMEOUT), total=total
    )
