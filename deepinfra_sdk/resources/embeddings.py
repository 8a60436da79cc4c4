"""``client.embeddings``: vectors for texts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Optional, Union

from .. import _constants as C
from .._exceptions import APIResponseValidationError
from .._validation import check_model_name, without_none
from ..types import EmbeddingResponse
from ._base import Resource

__all__ = ["Embeddings"]


class Embeddings(Resource):
    """``POST /v1/openai/embeddings``."""

    __slots__ = ()

    def create(
        self,
        /,
        *,
        input: Union[str, Sequence[str]],
        model: str = C.DEFAULT_EMBEDDING_MODEL,
        encoding_format: Optional[Literal["float", "base64"]] = None,
        dimensions: Optional[int] = None,
        **params: Any,
    ) -> EmbeddingResponse:
        """Embed one text or a list of texts; vectors come back as lists of floats
        (``encoding_format="base64"`` saves bandwidth and is decoded for you)."""
        if isinstance(input, str):
            texts: Union[str, list[str]] = input
        elif isinstance(input, Sequence) and input and all(isinstance(t, str) for t in input):
            texts = list(input)
        else:
            raise TypeError("input must be a string or a non-empty list of strings")
        if not isinstance(model, str) or not model.strip():
            raise ValueError("model is required, e.g. model='BAAI/bge-large-en-v1.5'")
        check_model_name(model)
        payload: dict[str, Any] = {"model": model, "input": texts}
        payload.update(without_none({"encoding_format": encoding_format, "dimensions": dimensions}))
        payload.update(without_none(params))
        path = C.OPENAI_PREFIX + "/embeddings"
        data = self._client._send("POST", path, payload, model=model).json()
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise APIResponseValidationError(
                "the embeddings response has no 'data' list", body=data
            )
        result = EmbeddingResponse.from_wire(data)
        self._client.usage._record_embeddings(model, result)
        return result
