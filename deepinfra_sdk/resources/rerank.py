"""``client.rerank``: order documents by relevance to a query (a native reranker model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from .. import _constants as C
from .._config import TimeoutTypes
from .._exceptions import APIResponseValidationError, ArgumentTypeError, ArgumentValueError
from .._keywords import strict_keywords
from ..types import RerankResponse
from ._base import Resource, call_options
from .inference import native_result, send_native

__all__ = ["Rerank"]


class Rerank(Resource):
    """``POST /v1/inference/{model}`` with ``queries`` and ``documents``, sorted for you."""

    __slots__ = ()

    @strict_keywords
    def create(
        self,
        /,
        *,
        query: str,
        documents: Sequence[str],
        model: str = C.DEFAULT_RERANK_MODEL,
        top_n: Optional[int] = None,
        instruction: Optional[str] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> RerankResponse:
        """Score each document's relevance to ``query`` and sort them, best first.

        Args:
            query: what the documents are ranked for.
            documents: the texts to rank (their order is the ``index`` of each result).
            model: a reranker model, e.g. ``"BAAI/bge-reranker-v2-m3"``.
            top_n: keep only the best ``top_n`` results (``scores`` keeps them all).
            instruction: a task instruction, for rerankers that take one (Qwen3).
            extra_body: other fields of the model's native body, sent as they are.
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.

        Returns:
            A :class:`~deepinfra_sdk.types.RerankResponse`: ``results`` (``index``,
            ``document``, ``score``), best first; ``scores`` in input order.
        """
        if not isinstance(query, str) or not query.strip():
            raise ArgumentValueError("query must be a non-empty string")
        if isinstance(documents, str) or not isinstance(documents, Sequence):
            raise ArgumentTypeError("documents must be a list of strings, e.g. ['text', ...]")
        docs = list(documents)
        if not docs or not all(isinstance(d, str) for d in docs):
            raise ArgumentTypeError("documents must be a non-empty list of strings")
        if top_n is not None and (
            isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1
        ):
            raise ArgumentValueError(f"top_n must be a positive whole number, got {top_n!r}")
        # One query per document is what DeepInfra's own clients send.
        payload: dict[str, Any] = {"queries": [query] * len(docs), "documents": docs}
        if instruction is not None:
            payload["instruction"] = instruction
        payload.update(extra_body or {})
        client = self._client
        options = call_options(timeout, extra_headers, max_retries)
        response = send_native(client, model, payload, options)
        data = response.json()
        scores = data.get("scores") if isinstance(data, dict) else None
        if (
            not isinstance(scores, list)
            or len(scores) != len(docs)
            or not all(type(s) in (int, float) for s in scores)
        ):
            raise APIResponseValidationError(
                f"the rerank answer should hold {len(docs)} scores, one number per document",
                body=data,
                status_code=response.status_code,
                request_id=response.request_id,
            )
        ranked = sorted(range(len(docs)), key=lambda i: -scores[i])[:top_n]
        results = [{"index": i, "document": docs[i], "score": scores[i]} for i in ranked]
        return native_result(
            client, model, response, RerankResponse, {**data, "results": results, "model": model}
        )
