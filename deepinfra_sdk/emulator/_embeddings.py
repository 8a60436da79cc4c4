"""Embeddings without weights: unit vectors drawn from a hash of (model, text).

The same text always maps to the same vector; different texts to nearly orthogonal ones.
``dimensions`` keeps a prefix of the full vector and renormalises it (Matryoshka style);
``encoding_format="base64"`` sends the little-endian float32 bytes, as OpenAI clients expect.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
import sys
from array import array
from typing import Any, Dict, List

from ._catalogue import EMBEDDING_DIMENSIONS, token_cost, usable_model
from ._errors import validation_error
from ._text import count_tokens
from ._validate import optional_int

__all__ = ["embed", "embeddings_response"]

_ROUTE = "/v1/openai/embeddings"


def embed(model: str, text: str, dimensions: int) -> List[float]:
    """The unit vector (float32 values) for ``text`` under ``model``, cut to ``dimensions``."""
    full = EMBEDDING_DIMENSIONS.get(model, 768)
    raw = hashlib.shake_256(f"{model}\0{text}".encode()).digest(4 * full)
    values = [v / 2147483648.0 - 1.0 for v in struct.unpack(f"<{full}I", raw)][:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return array("f", [v / norm for v in values]).tolist()


def _float32_base64(vector: List[float]) -> str:
    packed = array("f", vector)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _inputs(value: Any) -> List[str]:
    loc = ["body", "input"]
    if value is None:
        raise validation_error(loc)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return list(value)
        # Token arrays: one array of ints, or a list of them.
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [" ".join(str(v) for v in value)]
        if all(isinstance(v, list) for v in value):
            return [" ".join(str(t) for t in v) for v in value]
    if isinstance(value, list) and not value:
        raise validation_error(
            loc,
            "ensure this value has at least 1 items",
            "value_error.list.min_items",
            limit_value=1,
        )
    raise validation_error(loc, "str or a list of str expected", "type_error")


def embeddings_response(
    body: Dict[str, Any], shapes: str = "recorded", any_model: bool = False
) -> Dict[str, Any]:
    """The answer to ``POST /v1/openai/embeddings``.

    Recorded shape (``real-traffic/embeddings_bge_base_2024-11.json``): ``object``, ``model``,
    ``usage`` without ``estimated_cost``, then ``data`` with items ``index`` first. The lean
    shape keeps OpenAI's order and adds the cost.
    """
    texts = _inputs(body.get("input"))
    entry = usable_model(body.get("model"), "embeddings", _ROUTE, any_model)
    name = entry["model_name"]
    full = EMBEDDING_DIMENSIONS.get(name, 768)
    dimensions = optional_int(body, "dimensions", low=1, high=full) or full
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise validation_error(
            ["body", "encoding_format"],
            "unexpected value; permitted: 'float', 'base64'",
            "value_error.const",
        )
    data = []
    for index, text in enumerate(texts):
        vector = embed(name, text, dimensions)
        encoded: Any = _float32_base64(vector) if encoding == "base64" else vector
        data.append({"index": index, "object": "embedding", "embedding": encoded})
    tokens = sum(max(1, count_tokens(t)) for t in texts)
    if shapes == "recorded":
        return {
            "object": "list",
            "model": str(body.get("model")),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "data": data,
        }
    return {
        "object": "list",
        "data": data,
        "model": str(body.get("model")),
        "usage": {
            "prompt_tokens": tokens,
            "total_tokens": tokens,
            "estimated_cost": token_cost(entry["pricing"], tokens),
        },
    }
