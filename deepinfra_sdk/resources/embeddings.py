"""``client.embeddings``: vectors for texts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Optional, Union

from .. import _constants as C
from .._config import TimeoutTypes
from .._exceptions import ArgumentTypeError, ArgumentValueError
from .._keywords import strict_keywords
from .._validation import check_model_name, without_none
from ..types import EmbeddingResponse
from ._base import Resource, decode_result

__all__ = ["Embeddings"]


class Embeddings(Resource):
    """``POST /v1/openai/embeddings``."""

    __slots__ = ()

    @strict_keywords
    def create(
        self,
        /,
        *,
        input: Union[str, Sequence[str]],
        model: str = C.DEFAULT_EMBEDDING_MODEL,
        encoding_format: Optional[Literal["float", "base64"]] = None,
        dimensions: Optional[int] = None,
        service_tier: Optional[str] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> EmbeddingResponse:
        """Embed one text or a list of texts; vectors come back as lists of floats.

        Options left ``None`` are not sent.

        Args:
            input: one text, or a non-empty list of texts.
            model: the embedding model.
            encoding_format: ``"base64"`` saves bandwidth and is decoded for you.
            dimensions: shorten the vectors to this many dimensions (models that support it).
            service_tier: ``"priority"`` for faster, pricier service on tagged models.
            extra_body: fields merged into the JSON body as they are (for API options the
                SDK does not model yet).
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.
        """
        if isinstance(input, str):
            texts: Union[str, list[str]] = input
        elif isinstance(input, Sequence) and input and all(isinstance(t, str) for t in input):
            texts = list(input)
        else:
            raise ArgumentTypeError("input must be a string or a non-empty list of strings")
        if not isinstance(model, str) or not model.strip():
            raise ArgumentValueError("model is required, e.g. model='BAAI/bge-large-en-v1.5'")
        check_model_name(model)
        payload: dict[str, Any] = {"model": model, "input": texts}
        payload.update(
            without_none(
                {
                    "encoding_format": encoding_format,
                    "dimensions": dimensions,
                    "service_tier": service_tier,
                }
            )
        )
        if extra_body:
            payload.update(extra_body)
        path = C.OPENAI_PREFIX + "/embeddings"
        response = self._client._send(
            "POST",
            path,
            payload,
            model=model,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        result = decode_result(
            response, EmbeddingResponse, what="the embeddings response", require=("data", list)
        )
        self._client.usage._record_embeddings(model, result)
        return result
