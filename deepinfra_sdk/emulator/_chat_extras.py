"""What the emulated chat model decides beyond its words: which tools a round calls, token
log probabilities, the prompt cache, and how long a reasoning model thinks.

Tools, deterministically: the model calls each tool it was given once, in the order given,
two at a time (one at a time with ``parallel_tool_calls: false``), counting the calls made
since the last user message; once every tool has answered it replies in text that quotes
the results (``tool_choice: "required"`` starts over instead, a named function is called
every time, ``"none"`` never calls). So a conversation with three tools takes two rounds of
calls (two parallel, then one) and a final answer.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

from ._errors import openai_error, validation_error
from ._text import WORDS, count_tokens, message_text

__all__ = [
    "PromptCache",
    "think_tokens",
    "token_logprobs",
    "tool_results",
    "tools_for_round",
]

_PARALLEL = 2
_EFFORT_SHARE = {"low": 4, "medium": 2, "high": 1}


def _since_last_user(messages: Sequence[Dict[str, Any]]) -> Sequence[Dict[str, Any]]:
    last = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    return messages[last + 1 :]


def tools_for_round(
    functions: List[Dict[str, Any]],
    tool_choice: Any,
    parallel: bool,
    messages: Sequence[Dict[str, Any]],
) -> List[Dict[str, Any]]:
    """The functions this answer calls (none: it answers in text)."""
    if not functions or tool_choice == "none":
        return []
    if isinstance(tool_choice, dict):
        function = tool_choice.get("function")
        if not isinstance(function, dict):
            raise validation_error(
                ["body", "tool_choice", "function"], "value is not a valid dict", "type_error.dict"
            )
        wanted = function.get("name")
        named = [f for f in functions if f["name"] == wanted]
        if not named:
            raise openai_error(400, f"tool_choice names an unknown function: {wanted!r}")
        return named
    called = {
        call["function"].get("name")
        for m in _since_last_user(messages)
        if m.get("role") == "assistant" and isinstance(m.get("tool_calls"), list)
        for call in m["tool_calls"]
        if isinstance(call, dict)
        and isinstance(call.get("function"), dict)
        and isinstance(call["function"].get("name"), str)  # a list would not hash
    }
    pending = [f for f in functions if f["name"] not in called]
    if not pending:
        if tool_choice != "required":
            return []
        pending = functions
    return pending[: _PARALLEL if parallel else 1]


def tool_results(messages: Sequence[Dict[str, Any]]) -> List[str]:
    """The ``tool`` messages' contents since the last user message, in order."""
    return [
        message_text(m.get("content"))[:200]
        for m in _since_last_user(messages)
        if m.get("role") == "tool"
    ]


def think_tokens(body: Dict[str, Any], answer_tokens: int) -> int:
    """How many tokens a reasoning model thinks: none when reasoning is switched off
    (``reasoning_effort: "none"`` or ``reasoning: {"enabled": false}``), fewer for lower
    effort."""
    effort = body.get("reasoning_effort")
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict):
        if reasoning.get("enabled") is False:
            return 0
        effort = reasoning.get("effort", effort)
    if effort == "none":
        return 0
    return max(1, answer_tokens // _EFFORT_SHARE.get(str(effort), 2))


def token_logprobs(tokens: Sequence[str], seed: int, top: int) -> List[Dict[str, Any]]:
    """One ``logprobs.content`` entry per token: its log probability and ``top`` likeliest
    tokens at that position (the token itself first), all from ``seed``."""
    rng = random.Random(seed)
    entries = []
    for token in tokens:
        logprob = -round(rng.random() * 0.5, 4)
        alternatives = [{"token": token, "logprob": logprob, "bytes": list(token.encode())}]
        for k in range(1, top):
            other = " " + rng.choice(WORDS)
            value = round(logprob - k - rng.random(), 4)
            alternatives.append({"token": other, "logprob": value, "bytes": list(other.encode())})
        entries.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": alternatives[:top],
            }
        )
    return entries


class PromptCache:
    """Prompt prefixes seen per model (and ``prompt_cache_key``), for ``cached_tokens``: a
    request whose messages before the last were all sent before reads them from the cache."""

    def __init__(self, size: int = 4096) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    @staticmethod
    def _keys(model: str, cache_key: Any, messages: Sequence[Dict[str, Any]]) -> List[str]:
        # One running hash, a key per prefix: linear in the conversation (hashing each
        # prefix afresh was quadratic: seconds for thousands of messages, hours for a
        # 64 MB body of them).
        running = hashlib.sha256(json.dumps([model, cache_key], default=str).encode())
        keys = []
        for message in messages:
            # json.dumps escapes control characters, so the separator cannot occur inside.
            running.update(b"\x1e" + json.dumps(message, sort_keys=True, default=str).encode())
            keys.append(running.copy().hexdigest())
        return keys

    def cached_tokens(
        self, model: str, cache_key: Optional[str], messages: Sequence[Dict[str, Any]]
    ) -> int:
        """Tokens of the longest prefix already seen; this request's prefixes are then
        remembered."""
        keys = self._keys(model, cache_key, messages)
        with self._lock:
            hit = 0
            for k in range(len(messages) - 1, 0, -1):
                if keys[k - 1] in self._seen:
                    hit = k
                    break
            for key in keys:
                self._seen[key] = None
                self._seen.move_to_end(key)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
        return sum(4 + count_tokens(message_text(m.get("content"))) for m in messages[:hit])

    def clear(self) -> None:
        """Forget every prefix."""
        with self._lock:
            self._seen.clear()
