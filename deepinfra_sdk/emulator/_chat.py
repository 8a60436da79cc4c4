"""Chat completions without weights: deterministic answers, their JSON and their SSE chunks.

The answer is a sequence of word tokens, each with a leading space (DeepInfra's content may
begin with one), chosen by a generator seeded with a hash of the last user message and the
choice index: the same conversation always gets the same answer. ``max_tokens`` (when given)
is the exact number of tokens produced, with finish reason ``length``; otherwise the answer
has ``answer_tokens`` tokens and finishes with ``stop``. ``stop`` strings cut the answer.
``tools`` make the answer tool calls whose arguments are instances of each tool's schema,
round after round until every tool has answered (see ``_chat_extras.py``); the reasoning
model thinks aloud in ``reasoning_content`` first (``reasoning_tokens`` in the usage);
``response_format`` asks for JSON (an instance of the ``json_schema``); ``logprobs`` adds
token log probabilities; a repeated prompt prefix is counted in ``cached_tokens``; a
requested ``service_tier`` is echoed. Models the catalogue marks as without tool or JSON
support answer as DeepInfra does (the recorded 400, a 405).

Shapes: ``"recorded"`` (the default) answers as the real service was recorded to
(``real-traffic/chat_*``): every delta repeats ``"role": "assistant"`` and carries
``"tool_calls": null``, every chunk before the finish one has ``"usage": null``, stream JSON
uses spaced separators, messages carry ``"name": null, "tool_calls": null`` and no
``logprobs``, ids are ``chatcmpl-`` + 24 (stream) or 32 (non-stream) characters. ``"lean"``
is the minimal OpenAI shape: only the fields that carry something, compact JSON.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ._catalogue import (
    JSONLESS_MODELS,
    REASONING_MODELS,
    TOOLLESS_MODELS,
    token_cost,
    usable_model,
)
from ._chat_extras import PromptCache, think_tokens, token_logprobs, tool_results, tools_for_round
from ._errors import APIError, message_error, openai_error, validation_error
from ._ids import new_id
from ._instances import instance
from ._sse import DONE
from ._text import answer_tokens_for, count_tokens, message_text, pieces, seed_of
from ._validate import optional_int, optional_number

__all__ = ["SHAPES", "ChatPlan", "Choice", "ToolCall", "plan_chat"]

SHAPES = ("recorded", "lean")

_ROLES = ("system", "user", "assistant", "tool", "developer", "function")
_MAX_N = 4


def _quote(text: str) -> str:
    # json.dumps costs a microsecond a token; the emulator's own words need no escaping.
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _chat_id(shapes: str, stream: bool) -> str:
    if shapes == "lean":
        return new_id("chatcmpl-", 10)
    # As recorded in 2024: 24 letters and digits in streams, 32 hex digits otherwise.
    return new_id("chatcmpl-", 24) if stream else "chatcmpl-" + secrets.token_hex(16)


@dataclass
class ToolCall:
    """One tool call an answer makes."""

    id: str
    name: str
    arguments: str

    def fragments(self) -> List[str]:
        """The argument text in the pieces a stream sends."""
        return pieces(self.arguments, 8)


@dataclass
class Choice:
    """One choice of an answer."""

    index: int
    reasoning: List[str] = field(default_factory=list)
    content: List[str] = field(default_factory=list)
    tool_calls: List[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"
    logprobs: Optional[List[Dict[str, Any]]] = None  # one entry per content token

    def completion_tokens(self) -> int:
        """Tokens this choice generated."""
        n = len(self.reasoning) + len(self.content)
        for call in self.tool_calls:
            n += max(1, count_tokens(call.arguments))
        return n


@dataclass
class ChatPlan:
    """A validated chat request and the answer decided for it."""

    model: str
    stream: bool
    choices: List[Choice]
    prompt_tokens: int
    pricing: Dict[str, Any]
    include_usage: bool = True
    shapes: str = "recorded"
    service_tier: Optional[str] = None
    cached_tokens: int = 0
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        if not self.id:
            self.id = _chat_id(self.shapes, self.stream)

    @property
    def recorded(self) -> bool:
        """Whether answers take the recorded shapes (see the module docstring)."""
        return self.shapes == "recorded"

    def usage(self) -> Dict[str, Any]:
        """``usage`` with DeepInfra's ``estimated_cost`` (USD; the catalogue prices in cents)."""
        completion = sum(c.completion_tokens() for c in self.choices)
        cost = token_cost(self.pricing, self.prompt_tokens, completion)
        if self.recorded:  # the recorded key order
            usage: Dict[str, Any] = {
                "prompt_tokens": self.prompt_tokens,
                "total_tokens": self.prompt_tokens + completion,
                "completion_tokens": completion,
                "estimated_cost": cost,
            }
        else:
            usage = {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": completion,
                "total_tokens": self.prompt_tokens + completion,
                "estimated_cost": cost,
            }
        # The 2026 details, only when they count something (the recordings predate them).
        if self.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        reasoning = sum(len(c.reasoning) for c in self.choices)
        if reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        return usage

    def completion(self) -> Dict[str, Any]:
        """The non-stream ``chat.completion`` object."""
        choices = []
        for c in self.choices:
            message: Dict[str, Any] = {"role": "assistant", "content": "".join(c.content)}
            if c.reasoning:
                message["reasoning_content"] = "".join(c.reasoning)
            if self.recorded:
                message["name"] = None
                message["tool_calls"] = None
            if c.tool_calls:
                message["content"] = None
                message["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call in c.tool_calls
                ]
            choice: Dict[str, Any] = {
                "index": c.index,
                "message": message,
                "finish_reason": c.finish_reason,
            }
            if c.logprobs is not None:
                choice["logprobs"] = {"content": c.logprobs}
            elif not self.recorded:  # the recorded choice has no "logprobs" key
                choice["logprobs"] = None
            choices.append(choice)
        answer = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": self.usage(),
        }
        if self.service_tier is not None:
            answer["service_tier"] = self.service_tier
        return answer

    def events(self) -> Iterator[str]:
        """The stream's ``data:`` payloads: role, deltas, finish (with usage), ``[DONE]``.

        A generator, so a long stream starts flowing before its end has been built.
        """
        delta = self._delta_encoder()
        for c in self.choices:
            yield delta(c.index, "role", "")
        # Tokens of all choices interleave, position by position, as servers send them.
        for key in ("reasoning_content", "content"):
            streams: List[Tuple[int, List[str]]] = [
                (c.index, c.reasoning if key == "reasoning_content" else c.content)
                for c in self.choices
            ]
            longest = max((len(tokens) for _, tokens in streams), default=0)
            for position in range(longest):
                for index, tokens in streams:
                    if position < len(tokens):
                        chunk = delta(index, key, _quote(tokens[position]))
                        logprobs = self.choices[index].logprobs
                        if key == "content" and logprobs is not None:
                            chunk = self._with_logprobs(chunk, logprobs[position])
                        yield chunk
        for c in self.choices:
            for number, call in enumerate(c.tool_calls):
                opening = {
                    "index": number,
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
                yield delta(c.index, "tool_calls", self._dumps([opening]))
                for piece in call.fragments():
                    fragment = {"index": number, "function": {"arguments": piece}}
                    yield delta(c.index, "tool_calls", self._dumps([fragment]))
        for i, c in enumerate(self.choices):
            finish: Dict[str, Any] = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [{"index": c.index, "delta": {}, "finish_reason": c.finish_reason}],
            }
            if self.service_tier is not None:
                finish["service_tier"] = self.service_tier
            # DeepInfra puts usage on the chunk that finishes (the last one, for n > 1).
            if self.include_usage and i == len(self.choices) - 1:
                finish["usage"] = self.usage()
            elif self.recorded:
                finish["usage"] = None
            yield self._dumps(finish)
        yield DONE

    def _with_logprobs(self, chunk: str, entry: Dict[str, Any]) -> str:
        """A content chunk with its token's ``logprobs`` on the choice (rare: re-encoded)."""
        obj = json.loads(chunk)
        obj["choices"][0]["logprobs"] = {"content": [entry]}
        return self._dumps(obj)

    def _dumps(self, value: Any) -> str:
        # Recorded streams use json.dumps's default, spaced separators.
        return json.dumps(value) if self.recorded else _compact(value)

    def _delta_encoder(self) -> Callable[[int, str, str], str]:
        """``delta(choice_index, key, value_json)``: the payload of a chunk whose delta sets
        ``key`` (``content``, ``reasoning_content`` or ``tool_calls``) to ``value_json``;
        key ``role`` makes a choice's opening chunk (role and empty content).

        Built from string templates: a stream's chunks differ only in these three parts, and
        json.dumps per token would cost more than the rest of the emulator's work.
        """
        model, id_ = json.dumps(self.model), json.dumps(self.id)
        if not self.recorded:
            head = (
                f'{{"id":{id_},"object":"chat.completion.chunk",'
                f'"created":{self.created},"model":{model},"choices":[{{"index":'
            )

            def lean(index: int, key: str, value: str) -> str:
                body = '"role":"assistant","content":""' if key == "role" else f'"{key}":{value}'
                return f'{head}{index},"delta":{{{body}}},"finish_reason":null}}]}}'

            return lean
        head = (
            f'{{"id": {id_}, "object": "chat.completion.chunk", '
            f'"created": {self.created}, "model": {model}, "choices": [{{"index": '
        )
        tail = ', "finish_reason": null}], "usage": null}'

        def recorded(index: int, key: str, value: str) -> str:
            if key == "role":
                key, value = "content", '""'
            if key == "tool_calls":
                body = f'"role": "assistant", "content": null, "tool_calls": {value}'
            else:
                body = f'"role": "assistant", "{key}": {value}, "tool_calls": null'
            return f'{head}{index}, "delta": {{{body}}}{tail}'

        return recorded


def _validate_messages(messages: Any) -> List[Dict[str, Any]]:
    if messages is None:
        raise validation_error(["body", "messages"])
    if not isinstance(messages, list):
        raise validation_error(["body", "messages"], "value is not a valid list", "type_error.list")
    if not messages:
        raise validation_error(
            ["body", "messages"],
            "ensure this value has at least 1 items",
            "value_error.list.min_items",
            limit_value=1,
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise validation_error(
                ["body", "messages", i], "value is not a valid dict", "type_error.dict"
            )
        if "role" not in message:
            raise validation_error(["body", "messages", i, "role"])
        if message["role"] not in _ROLES:
            permitted = ", ".join(repr(r) for r in _ROLES)
            raise validation_error(
                ["body", "messages", i, "role"],
                f"unexpected value; permitted: {permitted}",
                "value_error.const",
            )
    return messages


def _stops(value: Any) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list) and all(isinstance(s, str) for s in value) and len(value) <= 16:
        return [s for s in value if s]
    raise validation_error(
        ["body", "stop"], "str or a list of at most 16 str expected", "type_error"
    )


def _apply_stops(tokens: List[str], stops: Sequence[str]) -> Tuple[List[str], bool]:
    text = "".join(tokens)
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    if cut < 0:
        return tokens, False
    kept: List[str] = []
    length = 0
    for token in tokens:
        if length + len(token) > cut:
            if cut > length:
                kept.append(token[: cut - length])
            break
        kept.append(token)
        length += len(token)
    return kept, True


def _functions(tools: Any) -> List[Dict[str, Any]]:
    """The ``function`` objects of ``tools`` (validated as DeepInfra does)."""
    if tools is None:
        return []
    if not isinstance(tools, list) or not all(
        isinstance(t, dict)
        and isinstance(t.get("function"), dict)
        and isinstance(t["function"].get("name"), str)
        for t in tools
    ):
        raise validation_error(
            ["body", "tools"],
            'each tool must be {"type": "function", "function": {"name": ...}}',
            "value_error",
        )
    return [t["function"] for t in tools]


def plan_chat(
    body: Dict[str, Any],
    answer_tokens: int,
    shapes: str = "recorded",
    any_model: bool = False,
    cache: Optional[PromptCache] = None,
) -> ChatPlan:
    """Validate a chat request like DeepInfra does and decide its answer (in ``shapes``;
    ``any_model`` serves a model outside the catalogue; ``cache`` remembers prompt prefixes
    for ``cached_tokens``)."""
    missing = [name for name in ("model", "messages") if name not in body]
    if missing:
        raise APIError(
            422,
            {
                "detail": [
                    {"loc": ["body", name], "msg": "field required", "type": "value_error.missing"}
                    for name in missing
                ]
            },
        )
    messages = _validate_messages(body.get("messages"))
    model_name = body.get("model")
    if model_name == "":
        raise validation_error(
            ["body", "model"],
            "ensure this value has at least 1 characters",
            "value_error.any_str.min_length",
            limit_value=1,
        )
    max_tokens = optional_int(body, "max_tokens", low=1)
    n = optional_int(body, "n", low=1, high=_MAX_N) or 1
    optional_number(body, "temperature", low=0, high=2)
    optional_number(body, "top_p", low=0, high=1)
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise validation_error(
            ["body", "stream"], "value could not be parsed to a boolean", "type_error.bool"
        )
    stops = _stops(body.get("stop"))
    functions = _functions(body.get("tools"))
    calls = tools_for_round(
        functions, body.get("tool_choice"), body.get("parallel_tool_calls") is not False, messages
    )
    entry = usable_model(model_name, "text-generation", "/v1/openai/chat/completions", any_model)
    if functions and entry["model_name"] in TOOLLESS_MODELS:
        raise openai_error(
            400, f"Tool calling is not supported for model: {entry['model_name']}", param="tools"
        )
    format_type = _format_type(body.get("response_format"))
    if format_type in ("json_object", "json_schema") and entry["model_name"] in JSONLESS_MODELS:
        raise message_error(
            405, f"{format_type} response format is not supported for model: {entry['model_name']}"
        )
    logprobs = body.get("logprobs") is True
    top_logprobs = optional_int(body, "top_logprobs", low=0, high=20) or 0
    tier = body.get("service_tier")
    if tier is not None and not isinstance(tier, str):
        raise validation_error(["body", "service_tier"], "str type expected", "type_error.str")
    context = entry.get("max_tokens")
    if max_tokens is not None and context and max_tokens > context:
        raise openai_error(
            400,
            f"max_tokens ({max_tokens}) exceeds the model's context length ({context})",
            param="max_tokens",
        )

    last_user = next(
        (message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
        "",
    )
    prompt_tokens = 2 + sum(4 + count_tokens(message_text(m.get("content"))) for m in messages)
    if body.get("tools"):
        prompt_tokens += count_tokens(json.dumps(body["tools"]))
    reasoning_model = entry["model_name"] in REASONING_MODELS
    results = tool_results(messages)

    choices = []
    for index in range(n):
        seed = seed_of(entry["model_name"], last_user, index)
        choice = Choice(index=index)
        if calls:
            rng = random.Random(seed + len(results))
            for function in calls:
                arguments = json.dumps(instance(function.get("parameters"), rng))
                call = ToolCall(new_id("call_", 24), str(function["name"]), arguments)
                choice.tool_calls.append(call)
            choice.finish_reason = "tool_calls"
            choices.append(choice)
            continue
        think = think_tokens(body, answer_tokens) if reasoning_model else 0
        if max_tokens is not None:
            think = min(think, max_tokens)
            size, natural = max_tokens - think, False
        else:
            size, natural = answer_tokens, True
        choice.reasoning = answer_tokens_for(seed + 1, think, natural_end=True) if think else []
        if format_type in ("json_object", "json_schema"):
            choice.content, natural = _json_answer(body, seed, size, natural)
        else:
            choice.content = answer_tokens_for(seed, size, natural_end=natural)
            if results and natural:
                # The answer after tool calls quotes what the tools said.
                choice.content += [" Tools:"] + [f" {r}" for r in results]
        choice.content, stopped = _apply_stops(choice.content, stops)
        choice.finish_reason = "stop" if (natural or stopped) else "length"
        if logprobs:
            choice.logprobs = token_logprobs(choice.content, seed + 2, top_logprobs)
        choices.append(choice)

    options = body.get("stream_options")
    include_usage = not (isinstance(options, dict) and options.get("include_usage") is False)
    return ChatPlan(
        model=str(model_name),
        stream=bool(stream),
        choices=choices,
        prompt_tokens=prompt_tokens,
        pricing=entry["pricing"],
        include_usage=include_usage,
        shapes=shapes,
        service_tier=tier,
        cached_tokens=0
        if cache is None
        else cache.cached_tokens(entry["model_name"], body.get("prompt_cache_key"), list(messages)),
    )


def _format_type(value: Any) -> Optional[str]:
    if value is None:
        return None
    kinds = ("text", "json_object", "json_schema", "regex")
    if not isinstance(value, dict) or value.get("type") not in kinds:
        raise validation_error(
            ["body", "response_format", "type"],
            f"unexpected value; permitted: {', '.join(repr(k) for k in kinds)}",
            "value_error.const",
        )
    spec = value.get("json_schema")
    if value["type"] == "json_schema" and not isinstance(spec, dict):
        raise validation_error(["body", "response_format", "json_schema"])
    return str(value["type"])


def _json_answer(
    body: Dict[str, Any], seed: int, size: int, natural: bool
) -> Tuple[List[str], bool]:
    # A JSON document in small pieces; a max_tokens shorter than it cuts it (invalid JSON, as
    # a real model would leave it), a longer one does not pad it.
    fmt = body["response_format"]
    schema = fmt["json_schema"].get("schema") if fmt["type"] == "json_schema" else None
    if isinstance(schema, dict):
        document = json.dumps(instance(schema, random.Random(seed)))
    else:
        words = answer_tokens_for(seed, 12, natural_end=True)
        document = json.dumps({"answer": "".join(words).strip()})
    parts = pieces(document, 4)
    if natural or size >= len(parts):
        return parts, True
    return parts[:size], False
