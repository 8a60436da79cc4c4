"""``GET /models/{name}/schema/{variant}``: what a model takes and gives, per API variant.

``default`` is the native route's schema (``/v1/inference/{name}``); the ``openai-*``
variants are the OpenAI-compatible routes the model's type serves. The shape is DeepInfra's:
``{"variant": {"key", "url"}, "schema_in", "schema_out", "schema_stream", "fields_in"}``.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from ._errors import native_error

__all__ = ["model_schema"]

_S, _I, _N, _B = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
_FILE = {"type": "string", "format": "binary"}
_WEBHOOK = {"type": "string", "format": "uri", "description": "called when the answer is ready"}
_STATUS = {"type": "object", "description": "status, runtime_ms, cost, tokens_*"}
_STRINGS = {"type": "array", "items": _S}

# type -> (native inputs, native outputs, the OpenAI-compatible variants it serves)
_BY_TYPE: Dict[str, Tuple[Dict[str, Any], Dict[str, Any], Tuple[str, ...]]] = {
    "text-generation": (
        {"input": _S, "max_new_tokens": _I, "temperature": _N, "top_p": _N, "top_k": _I,
         "stop": _STRINGS, "stream": _B, "webhook": _WEBHOOK},
        {"results": {"type": "array"}, "num_tokens": _I, "num_input_tokens": _I},
        ("openai-chat-completions", "openai-completions"),
    ),
    "embeddings": (
        {"inputs": _STRINGS, "normalize": _B, "webhook": _WEBHOOK},
        {"embeddings": {"type": "array"}, "input_tokens": _I},
        ("openai-embeddings",),
    ),
    "text-to-image": (
        {"prompt": _S, "negative_prompt": _S, "num_images": _I, "width": _I, "height": _I,
         "num_inference_steps": _I, "guidance_scale": _N, "seed": _I, "webhook": _WEBHOOK},
        {"images": _STRINGS, "nsfw_content_detected": {"type": "array"}, "seed": _I},
        ("openai-images",),
    ),
    "automatic-speech-recognition": (
        {"audio": _FILE, "task": {"enum": ["transcribe", "translate"]}, "language": _S,
         "initial_prompt": _S, "temperature": _N, "chunk_level": {"enum": ["segment", "word"]},
         "chunk_length_s": _I, "webhook": _WEBHOOK},
        {"text": _S, "segments": {"type": "array"}, "language": _S, "input_length_ms": _I},
        ("openai-audio-transcriptions",),
    ),
    "text-to-speech": (
        {"text": _S, "preset_voice": _STRINGS, "output_format": _S, "speed": _N},
        {"audio": _S},
        ("openai-tts",),
    ),
    "reranker": (
        {"queries": _STRINGS, "documents": _STRINGS, "instruction": _S, "webhook": _WEBHOOK},
        {"scores": {"type": "array", "items": _N}, "input_tokens": _I},
        (),
    ),
    "text-classification": (
        {"input": _S, "webhook": _WEBHOOK},
        {"results": {"type": "array", "items": {"type": "object"}}},
        (),
    ),
}  # fmt: skip


def model_schema(entry: Dict[str, Any], variant: str) -> Dict[str, Any]:
    """The schema document of ``entry``'s model for ``variant`` (404 if it has none)."""
    name = entry["model_name"]
    kind = entry.get("type")
    known = _BY_TYPE.get(str(kind))
    if known is None:
        known = _BY_TYPE.get(str(entry.get("reported_type")), ({}, {}, ()))
    fields_in, fields_out, variants = known
    if variant != "default" and variant not in variants:
        served = ", ".join(("default", *variants))
        raise native_error(
            404, f"Model {name} has no schema variant {variant!r} (it has: {served})"
        )
    common = {"request_id": {"type": ["string", "null"]}, "inference_status": _STATUS}
    schema_in = {"type": "object", "properties": dict(fields_in)}
    if variant != "default":
        schema_in = {"type": "object", "properties": {"model": _S}, "description": variant}
    return {
        "variant": {"key": variant, "url": f"/models/{name}/schema/{variant}"},
        "schema_in": schema_in,
        "schema_out": {"type": "object", "properties": {**fields_out, **common}},
        "schema_stream": None,
        "fields_in": list(schema_in["properties"]),
    }
