"""Text completions (``POST /v1/openai/completions``): the raw-prompt sibling of chat.

The answer is chosen as chat's is (a hash of the prompt seeds the words; ``max_tokens`` is
exact and finishes with ``length``; ``stop`` cuts), and streams as chat's SSE with
``choices[].text`` in place of a delta, usage on the finishing chunk.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Iterator, List, Tuple

from ._catalogue import token_cost, usable_model
from ._chat import _apply_stops, _stops
from ._ids import new_id
from ._sse import DONE
from ._text import answer_tokens_for, count_tokens, seed_of
from ._validate import optional_int, optional_number, required_str

__all__ = ["plan_completion"]

_MAX_N = 4


def _choices(body: Dict[str, Any], model: str, answer_tokens: int) -> List[Tuple[List[str], str]]:
    prompt = required_str(body, "prompt")
    max_tokens = optional_int(body, "max_tokens", low=1)
    n = optional_int(body, "n", low=1, high=_MAX_N) or 1
    optional_number(body, "temperature", low=0, high=2)
    optional_number(body, "top_p", low=0, high=1)
    stops = _stops(body.get("stop"))
    out = []
    for index in range(n):
        size = answer_tokens if max_tokens is None else max_tokens
        tokens = answer_tokens_for(
            seed_of(model, prompt, index), size, natural_end=max_tokens is None
        )
        tokens, stopped = _apply_stops(tokens, stops)
        out.append((tokens, "stop" if (max_tokens is None or stopped) else "length"))
    return out


def plan_completion(body: Dict[str, Any], answer_tokens: int) -> Tuple[bool, Any]:
    """``(stream, answer)``: the ``text_completion`` object, or its SSE payloads."""
    model = body.get("model")
    entry = usable_model(model, "text-generation", "/v1/openai/completions")
    stream = body.get("stream") is True
    choices = _choices(body, str(model), answer_tokens)
    prompt_tokens = count_tokens(str(body["prompt"]))
    completion_tokens = sum(len(tokens) for tokens, _ in choices)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "estimated_cost": token_cost(entry.get("pricing"), prompt_tokens, completion_tokens),
    }
    head = {"id": new_id("cmpl-", 24), "object": "text_completion", "created": int(time.time())}
    head["model"] = model
    if not stream:
        return False, {
            **head,
            "choices": [
                {"index": i, "text": "".join(tokens), "logprobs": None, "finish_reason": finish}
                for i, (tokens, finish) in enumerate(choices)
            ],
            "usage": usage,
        }
    return True, _events(head, choices, usage)


def _events(
    head: Dict[str, Any], choices: List[Tuple[List[str], str]], usage: Dict[str, Any]
) -> Iterator[str]:
    def chunk(index: int, text: str, finish: Any, **more: Any) -> str:
        choice = {"index": index, "text": text, "logprobs": None, "finish_reason": finish}
        return json.dumps({**head, "choices": [choice], **more})

    longest = max(len(tokens) for tokens, _ in choices)
    for position in range(longest):
        for index, (tokens, _) in enumerate(choices):
            if position < len(tokens):
                yield chunk(index, tokens[position], None)
    for index, (_, finish) in enumerate(choices):
        last = index == len(choices) - 1
        yield chunk(index, "", finish, usage=usage if last else None)
    yield DONE
