"""Native inference for text models: ``POST /v1/inference/{model}``.

Text generation takes ``{"input": "<raw prompt>", "max_new_tokens", "stop", ...}`` and answers
``{"results": [{"generated_text"}], "num_tokens", "num_input_tokens", "request_id",
"inference_status"}``; with ``"stream": true`` it sends Hugging Face TGI-style events
(``{"token": {"id", "text", "logprob", "special"}, "generated_text": null, "details": null}``,
the last one carrying the whole text and the finish reason), then ``[DONE]``. Embeddings take
``{"inputs": [...], "normalize": true}`` and answer ``{"embeddings", "input_tokens",
"request_id", "inference_status"}``. Both use the chat and embeddings answers' generators, so
the same input gets the same words or vectors on either route. An input over the model's
``max_tokens`` gets the JSON 500 recorded at DeepInfra.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Iterator, List, Optional

from ._catalogue import EMBEDDING_DIMENSIONS, token_cost
from ._embeddings import embed
from ._errors import message_error, validation_error
from ._reply import Reply
from ._sse import DONE
from ._text import answer_tokens_for, count_tokens, seed_of
from ._validate import optional_int, optional_number

__all__ = ["native_embeddings", "native_generation"]

_SSE_HEADERS = [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]
_MAX_RESPONSES = 4


def _check_length(entry: Dict[str, Any], tokens: int) -> None:
    limit = entry.get("max_tokens")
    if limit and tokens > limit:
        # Recorded (wire.md, Errors, 500): a JSON body, not a text one.
        raise message_error(
            500, f"Requested input length {tokens} exceeds maximum input length {limit}"
        )


def _status(
    entry: Dict[str, Any], started: float, tokens_in: int, tokens_out: int
) -> Dict[str, Any]:
    return {
        "status": "succeeded",
        "runtime_ms": max(1, round((time.perf_counter() - started) * 1000)),
        "cost": token_cost(entry.get("pricing"), tokens_in, tokens_out),
        "tokens_generated": tokens_out,
        "tokens_input": tokens_in,
    }


def _stops(body: Dict[str, Any]) -> List[str]:
    value = body.get("stop")
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return [s for s in value if s]
    raise validation_error(["body", "stop"], "a list of str expected", "type_error.list")


def _cut(tokens: List[str], stops: List[str]) -> tuple[List[str], bool]:
    kept: List[str] = []
    text = ""
    for token in tokens:
        text += token
        if any(stop in text for stop in stops):
            return kept, True
        kept.append(token)
    return kept, False


def native_generation(
    entry: Dict[str, Any], body: Dict[str, Any], request_id: str, answer_tokens: int
) -> Reply:
    """The answer of a text-generation model on the native route (JSON, or SSE)."""
    prompt = body.get("input")
    if prompt is None:
        raise validation_error(["body", "input"])
    if not isinstance(prompt, str):
        raise validation_error(["body", "input"], "str type expected", "type_error.str")
    max_new = optional_int(body, "max_new_tokens", low=1)
    responses = optional_int(body, "num_responses", low=1, high=_MAX_RESPONSES) or 1
    optional_number(body, "temperature", low=0, high=100)
    optional_number(body, "top_p", low=0, high=1)
    optional_int(body, "top_k", low=0)
    optional_number(body, "repetition_penalty", low=0.01, high=5)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise validation_error(
            ["body", "stream"], "value is not a valid boolean", "type_error.bool"
        )
    stops = _stops(body)
    tokens_in = max(1, count_tokens(prompt))
    _check_length(entry, tokens_in)
    started = time.perf_counter()
    model = entry["model_name"]
    answers = []
    finish = "length" if max_new is not None else "stop"
    for index in range(responses):
        size = max_new if max_new is not None else answer_tokens
        tokens = answer_tokens_for(seed_of(model, prompt, index), size, natural_end=max_new is None)
        tokens, stopped = _cut(tokens, stops)
        if stopped:
            finish = "stop_sequence"
        answers.append(tokens)
    tokens_out = sum(len(a) for a in answers)
    if stream:
        events = _events(answers[0], finish)
        return Reply(content_type="text/event-stream", headers=list(_SSE_HEADERS), events=events)
    return Reply(
        payload={
            "request_id": request_id,
            "inference_status": _status(entry, started, tokens_in, tokens_out),
            "results": [{"generated_text": "".join(a)} for a in answers],
            "num_tokens": tokens_out,
            "num_input_tokens": tokens_in,
        }
    )


def _events(tokens: List[str], finish: str) -> Iterator[str]:
    for position, text in enumerate(tokens):
        last = position == len(tokens) - 1
        token = {
            "id": 1000 + seed_of(text) % 30000,
            "text": text,
            "logprob": -round(0.05 + (seed_of(text, position) % 300) / 100, 4),
            "special": False,
        }
        details: Optional[Dict[str, Any]] = None
        if last:
            details = {"finish_reason": finish, "generated_tokens": len(tokens), "seed": None}
        event = {
            "token": token,
            "generated_text": "".join(tokens) if last else None,
            "details": details,
        }
        yield json.dumps(event)
    yield DONE


def native_embeddings(entry: Dict[str, Any], body: Dict[str, Any], request_id: str) -> Reply:
    """The answer of an embeddings model on the native route."""
    inputs = body.get("inputs")
    if inputs is None:
        raise validation_error(["body", "inputs"])
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
        raise validation_error(
            ["body", "inputs"], "a non-empty list of str expected", "type_error.list"
        )
    normalize = body.get("normalize", True)
    if not isinstance(normalize, bool):
        raise validation_error(
            ["body", "normalize"], "value is not a valid boolean", "type_error.bool"
        )
    counts = [max(1, count_tokens(t)) for t in inputs]
    for count in counts:
        _check_length(entry, count)
    started = time.perf_counter()
    model = entry["model_name"]
    dimensions = EMBEDDING_DIMENSIONS.get(model, 768)
    vectors = [embed(model, text, dimensions) for text in inputs]
    if not normalize:
        # Unit vectors stretched by a per-text factor: a raw model output is no unit vector.
        vectors = [
            [v * (1.5 + seed_of(model, text) % 100 / 100) for v in vector]
            for text, vector in zip(inputs, vectors)
        ]
    tokens = sum(counts)
    return Reply(
        payload={
            "embeddings": vectors,
            "input_tokens": tokens,
            "request_id": request_id,
            "inference_status": _status(entry, started, tokens, 0),
        }
    )
