"""Tools: a Python function (or pydantic model) as a tool definition, and the tool loop.

:func:`function_tool` reads a function's name, docstring summary, parameter types and the
per-parameter descriptions of its docstring (Google ``Args:`` or reST ``:param x:``), and
which parameters have defaults. :class:`ToolLoop` is the whole of ``run_tools`` except the
waiting: it builds each request's messages, turns the model's tool calls into prepared calls
(checking their arguments against the function's types), and each outcome into a ``tool``
message; the sync client runs a round's calls in threads, the async client in tasks, and
both drive the same loop.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Callable, Optional

from ._exceptions import ArgumentTypeError, ArgumentValueError, ToolRoundsExceededError
from ._jsonschema import coerce, is_pydantic_model, schema_of
from ._messages import check_messages
from .types import ChatCompletion, ToolCall

__all__ = ["PreparedCall", "ToolLoop", "ToolRunResult", "function_tool"]

_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SECTION_RE = re.compile(r"^\s*(Args|Arguments|Parameters|Params)\s*:\s*$")
_GOOGLE_ARG_RE = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_REST_ARG_RE = re.compile(r"^\s*:param\s+(?:[\w\[\], .|]+\s+)?(\w+)\s*:\s*(.*)$")


def _docstring(obj: Any) -> tuple[str, dict[str, str]]:
    """The docstring's summary (first paragraph) and its parameter descriptions."""
    lines = (inspect.getdoc(obj) or "").splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION_RE.match(line) or line.lstrip().startswith(":"):
            break
        summary.append(line.strip())
    params: dict[str, str] = {}
    current: Optional[str] = None
    entry_indent: Optional[int] = None  # the indentation of the Args: entries
    for line in lines:
        indent = len(line) - len(line.lstrip())
        rest = _REST_ARG_RE.match(line)
        if rest:
            current = rest.group(1)
            params[current] = rest.group(2).strip()
        elif _SECTION_RE.match(line):
            entry_indent, current = -1, None
        elif entry_indent is None or not line.strip():
            current = None if entry_indent is None else current
        elif entry_indent >= 0 and indent < entry_indent:
            entry_indent, current = None, None  # the Args: section ended
        elif entry_indent in (-1, indent) and _GOOGLE_ARG_RE.match(line):
            found = _GOOGLE_ARG_RE.match(line)
            assert found is not None
            entry_indent, current = indent, found.group(1)
            params[current] = found.group(2).strip()
        elif current is not None:
            params[current] = f"{params[current]} {line.strip()}".strip()
    return " ".join(summary), params


def _check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise ArgumentValueError(
            f"tool name {name!r} is not allowed: use 1 to 64 letters, digits, '_' or '-' "
            "(pass name=... to function_tool; for run_tools, set the function's __name__)"
        )
    return name


def function_tool(
    func: Any, *, name: Optional[str] = None, description: Optional[str] = None
) -> dict[str, Any]:
    """A tool definition (``{"type": "function", "function": {...}}``) from a function or a
    pydantic model class.

    For a function: the name is the function's, the description its docstring's first
    paragraph, and the parameters its typed arguments (each described by its docstring
    entry under ``Args:`` or ``:param name:``; arguments with a default are optional).
    For a pydantic model: its name, docstring and JSON schema.

    Args:
        func: a typed function, or a pydantic ``BaseModel`` subclass.
        name: the tool's name instead (1 to 64 letters, digits, ``_`` or ``-``).
        description: the tool's description instead of the docstring's summary.

    Raises:
        ArgumentTypeError: ``func`` is neither, or has an argument type with no JSON schema.
    """
    if is_pydantic_model(func):
        summary, _ = _docstring(func)
        parameters = schema_of(func)
        parameters.pop("title", None)
        tool_name = name or func.__name__
    elif callable(func):
        summary, described = _docstring(func)
        parameters = _parameters(func, described)
        tool_name = name or getattr(func, "__name__", "")
    else:
        raise ArgumentTypeError(
            f"function_tool needs a function or a pydantic model class, not {type(func).__name__}"
        )
    definition: dict[str, Any] = {"name": _check_name(tool_name)}
    if description or summary:
        definition["description"] = description or summary
    definition["parameters"] = parameters
    return {"type": "function", "function": definition}


def _signature(func: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, Any]]:
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # an annotation that does not resolve: describe it as any value
        hints = {}
    return inspect.signature(func), hints


def _parameters(func: Callable[..., Any], described: Mapping[str, str]) -> dict[str, Any]:
    signature, hints = _signature(func)
    props: dict[str, Any] = {}
    required = []
    for pname, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        try:
            schema = schema_of(hints.get(pname, Any))
        except TypeError as exc:
            raise ArgumentTypeError(
                f"{getattr(func, '__name__', func)!r} argument {pname!r}: {exc}"
            ) from None
        if described.get(pname):
            schema = {**schema, "description": described[pname]}
        props[pname] = schema
        if param.default is param.empty:
            required.append(pname)
    return {"type": "object", "properties": props, "required": required}


class _Tool:
    """One callable the loop may run: its definition and how to call it."""

    __slots__ = ("definition", "func", "hints", "name", "signature")

    def __init__(self, func: Any) -> None:
        if isinstance(func, _Tool):
            func = func.func
        self.definition = function_tool(func)
        self.name: str = self.definition["function"]["name"]
        self.func: Any = func
        if is_pydantic_model(func):
            self.signature = None
            self.hints: dict[str, Any] = {}
        else:
            self.signature, self.hints = _signature(func)

    def arguments(self, raw: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The call's positional and keyword arguments from the model's JSON text."""
        try:
            data = json.loads(raw or "{}")
        except ValueError as exc:
            raise ValueError(f"the arguments are not valid JSON ({exc})") from None
        except RecursionError:  # thousands of nested arrays: no tool takes that
            raise ValueError("the arguments nest too deeply to decode") from None
        if not isinstance(data, dict):
            raise ValueError("the arguments must be a JSON object of parameter values")
        if self.signature is None:  # a pydantic model: the tool's value is the model
            return (coerce(self.func, data),), {}
        kwargs = {}
        for pname, param in self.signature.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if pname in data:
                kwargs[pname] = coerce(self.hints.get(pname, Any), data[pname], pname)
            elif param.default is param.empty:
                raise ValueError(f"the required argument {pname!r} is missing")
        unknown = sorted(set(data) - set(self.signature.parameters))
        if unknown and not any(p.kind == p.VAR_KEYWORD for p in self.signature.parameters.values()):
            raise ValueError(f"unknown argument(s) {', '.join(map(repr, unknown))}")
        return (), kwargs


class PreparedCall:
    """A tool call the model asked for, ready to run (``func`` is ``None`` when it cannot
    run: then ``error`` says why, and the model is told)."""

    __slots__ = ("args", "call", "error", "func", "kwargs")

    def __init__(self, call: ToolCall, tools: Mapping[str, _Tool]) -> None:
        self.call = call
        self.func: Optional[Callable[..., Any]] = None
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] = {}
        self.error: Optional[BaseException] = None
        tool = tools.get(call.function.name)
        if tool is None:
            known = ", ".join(sorted(tools)) or "none"
            self.error = LookupError(
                f"there is no tool named {call.function.name!r} (the tools are: {known})"
            )
            return
        try:
            self.args, self.kwargs = tool.arguments(call.function.arguments)
        except (ValueError, TypeError) as exc:
            self.error = ValueError(f"{tool.name}: {exc}")
            return
        self.func = tool.func if not is_pydantic_model(tool.func) else _identity

    def run(self) -> Any:
        """Call the tool (sync): its value, or the exception it raised."""
        assert self.func is not None
        try:
            return self.func(*self.args, **self.kwargs)
        except Exception as exc:
            return _Raised(exc)

    async def run_async(self) -> Any:
        """Await the tool (a coroutine function): its value, or the exception it raised."""
        assert self.func is not None
        try:
            return await self.func(*self.args, **self.kwargs)
        except Exception as exc:
            return _Raised(exc)


def _identity(value: Any) -> Any:
    return value


class _Raised:
    """An outcome that is an exception (kept apart from a tool that returns one)."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _as_text(value: Any) -> str:
    """A tool's return value as the ``tool`` message's content."""
    if isinstance(value, str):
        return value
    if hasattr(value, "model_dump_json"):
        return str(value.model_dump_json())
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


class ToolRunResult(ChatCompletion):
    """The final answer of ``run_tools``: a :class:`~deepinfra_sdk.types.ChatCompletion`
    that also holds the whole conversation and the tools' exceptions.

    Attributes:
        messages: every message sent and received, as wire dicts, ending with the final
            assistant message (append to it and call again to go on).
        tool_errors: tool call id -> the exception its tool raised (or why it could not
            run: an unknown tool name, arguments that do not fit the function).
        rounds: how many rounds of tool calls were made.
    """

    messages: list[dict[str, Any]]
    tool_errors: dict[str, BaseException]
    rounds: int


class ToolLoop:
    """The state of one ``run_tools`` call (see the module docstring)."""

    def __init__(
        self,
        messages: Any,
        tools: Sequence[Any],
        max_rounds: int,
        params: Mapping[str, Any] = MappingProxyType({}),
    ) -> None:
        if "stream" in params or "tools" in params:
            raise ArgumentTypeError(
                "run_tools takes neither stream= nor tool definitions in **params: pass the "
                "functions as tools=[...]"
            )
        if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
            raise ArgumentTypeError(
                "tools must be a list of functions (or pydantic model classes), e.g. "
                "tools=[get_weather]"
            )
        if not isinstance(max_rounds, int) or isinstance(max_rounds, bool) or max_rounds < 1:
            raise ArgumentValueError(f"max_rounds must be 1 or more, got {max_rounds!r}")
        built = [_Tool(t) for t in tools]
        self.tools = {t.name: t for t in built}
        if len(self.tools) != len(built):
            twice = next(t.name for t in built if sum(u.name == t.name for u in built) > 1)
            raise ArgumentValueError(
                f"two tools have the same name {twice!r}: the model tells tools apart by "
                f"name, so set another __name__ on one (e.g. f.__name__ = '{twice}_2')"
            )
        self.definitions = [t.definition for t in built]
        self.messages = check_messages(messages)
        self.max_rounds = max_rounds
        self.rounds = 0
        self.tool_errors: dict[str, BaseException] = {}

    def take(self, completion: ChatCompletion) -> Optional[list[PreparedCall]]:
        """Record the model's answer; the calls to run, or ``None`` when it is final.

        Raises:
            ToolRoundsExceededError: the model asks for more calls after ``max_rounds``.
        """
        if not completion.choices:
            return None
        message = completion.choices[0].message
        if message.content is None and not message.tool_calls:
            # A final answer without text (a reasoning model cut while thinking): kept as
            # empty text, which can be sent back, rather than refused after it was paid for.
            self.messages.extend(check_messages([{**message.to_dict(), "content": ""}]))
            return None
        self.messages.extend(check_messages([message]))
        if not message.tool_calls:
            return None
        if self.rounds >= self.max_rounds:
            raise ToolRoundsExceededError(
                f"the model still calls tools after {self.max_rounds} rounds (max_rounds): "
                "raise max_rounds, or continue from the error's .messages",
                messages=self.messages,
                tool_errors=self.tool_errors,
            )
        self.rounds += 1
        return [PreparedCall(call, self.tools) for call in message.tool_calls]

    def answer(self, calls: Sequence[PreparedCall], outcomes: Sequence[Any]) -> None:
        """Add each call's ``tool`` message (an error's text for a failed call)."""
        for prepared, result in zip(calls, outcomes):
            call_id = prepared.call.id
            outcome = _Raised(prepared.error) if prepared.error is not None else result
            if isinstance(outcome, _Raised):
                self.tool_errors[call_id] = outcome.exc
                content = f"Error: {type(outcome.exc).__name__}: {outcome.exc}"
            else:
                content = _as_text(outcome)
            self.messages.append({"role": "tool", "tool_call_id": call_id, "content": content})

    def result(self, completion: ChatCompletion) -> ToolRunResult:
        """The final completion, with the conversation and the tools' errors on it."""
        final = ToolRunResult.__new__(ToolRunResult)
        final.__dict__.update(completion.__dict__)
        final.messages = self.messages
        final.tool_errors = self.tool_errors
        final.rounds = self.rounds
        return final
