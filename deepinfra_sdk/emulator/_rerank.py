"""Scoring text without weights: rerankers and text classifiers on the native route.

A reranker (``POST /v1/inference/{model}`` with ``queries`` and ``documents``) scores each
document by how many of the query's words it contains (a fraction in [0, 1], nudged by
length so that ties break the same way every time), in input order, as DeepInfra does.
A text classifier (``{"input": "..."}``) answers ``POSITIVE``/``NEGATIVE`` from a small
list of telling words. Both answer with ``request_id`` and ``inference_status``.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from ._catalogue import token_cost
from ._errors import validation_error
from ._text import count_tokens

__all__ = ["classify", "rerank"]

_WORD = re.compile(r"\w+")
_GOOD = frozenset(("good", "great", "love", "excellent", "happy", "fine", "nice", "best"))
_BAD = frozenset(("bad", "terrible", "hate", "awful", "sad", "poor", "worst", "broken"))


def _words(text: str) -> List[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _strings(body: Dict[str, Any], name: str) -> List[str]:
    value = body.get(name)
    if value is None:
        raise validation_error(["body", name])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise validation_error(["body", name], "value is not a valid list of str", "type_error")
    return value


def _status(entry: Dict[str, Any], tokens: int) -> Dict[str, Any]:
    return {
        "status": "succeeded",
        "runtime_ms": 1 + tokens // 50,
        "cost": token_cost(entry.get("pricing"), tokens),
        "tokens_generated": 0,
        "tokens_input": tokens,
    }


def score(query: str, document: str) -> float:
    """How well ``document`` answers ``query``: the share of the query's distinct words it
    holds, a little less for longer documents; in [0, 1]."""
    wanted = set(_words(query))
    have = _words(document)
    if not wanted:
        return 0.0
    share = len(wanted & set(have)) / len(wanted)
    return round(0.95 * share + 0.05 / (1 + len(have)), 6)


def rerank(entry: Dict[str, Any], body: Dict[str, Any], request_id: str) -> Dict[str, Any]:
    """``{"scores": [...], "input_tokens", ...}`` for ``queries`` (one per document, or a
    single one; a lone ``query`` string too) and ``documents``."""
    documents = _strings(body, "documents")
    if isinstance(body.get("query"), str) and "queries" not in body:
        queries = [body["query"]]
    else:
        queries = _strings(body, "queries")
    if len(queries) == 1:
        queries = queries * len(documents)
    if len(queries) != len(documents):
        raise validation_error(
            ["body", "queries"],
            f"queries must hold one query, or one per document ({len(documents)})",
            "value_error",
        )
    tokens = sum(count_tokens(q) + count_tokens(d) for q, d in zip(queries, documents))
    return {
        "scores": [score(q, d) for q, d in zip(queries, documents)],
        "input_tokens": tokens,
        "request_id": request_id,
        "inference_status": _status(entry, tokens),
    }


def classify(entry: Dict[str, Any], body: Dict[str, Any], request_id: str) -> Dict[str, Any]:
    """``{"results": [{"label", "score"}, ...]}`` (best first) for ``{"input": text}``."""
    text = body.get("input")
    if not isinstance(text, str):
        raise validation_error(["body", "input"], "str type expected", "type_error.str")
    words = _words(text)
    good = sum(w in _GOOD for w in words)
    bad = sum(w in _BAD for w in words)
    positive = round((good + 1) / (good + bad + 2), 6)
    pairs = sorted(
        [("POSITIVE", positive), ("NEGATIVE", round(1 - positive, 6))], key=lambda p: -p[1]
    )
    results = [{"label": label, "score": value} for label, value in pairs]
    tokens = count_tokens(text)
    return {
        "results": results,
        "request_id": request_id,
        "inference_status": _status(entry, tokens),
    }
