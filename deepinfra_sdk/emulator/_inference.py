"""Text-to-image answers: DeepInfra's native inference route and the OpenAI-style one.

Native (``POST /v1/inference/{owner}/{name}``) takes a flat body and answers with data-URI
``images``; Cog-style models take ``{"input": {...}}`` and answer with ``output``. The
OpenAI-style route answers ``data[].b64_json`` without a prefix. Images are real PNGs drawn
by :mod:`._png`, so clients can decode and save them.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ._catalogue import (
    COG_STYLE,
    MODEL_NAME_RE,
    PARTNER_IMAGE_MODELS,
    native_model,
    usable_model,
)
from ._errors import native_error, openai_error, validation_error
from ._ids import new_id
from ._multipart import Form
from ._png import PNG_SIGNATURE, render_png
from ._validate import optional_int, optional_number, required_str

__all__ = [
    "MODEL_NAME_RE",
    "is_image_route",
    "native_inference",
    "openai_image_edits",
    "openai_images",
    "spoil_images",
]

_MIN_SIDE, _MAX_SIDE, _STEP = 64, 2048, 8
_MAX_IMAGES = 4
_SIZE_RE = re.compile(r"^(\d+)x(\d+)$")

Loc = Sequence[Union[str, int]]


def _check_side(loc: Loc, value: int) -> int:
    if not _MIN_SIDE <= value <= _MAX_SIDE or value % _STEP:
        raise validation_error(
            loc,
            f"must be a multiple of {_STEP} between {_MIN_SIDE} and {_MAX_SIDE}",
            "value_error",
        )
    return value


def _side(params: Dict[str, Any], name: str, default: int, prefix: Loc) -> int:
    value = optional_int(params, name, prefix=prefix)
    return _check_side([*prefix, name], default if value is None else value)


def _defaults(entry: Dict[str, Any]) -> Tuple[int, int]:
    pricing = entry.get("pricing") or {}
    width = pricing.get("default_width")
    height = pricing.get("default_height")
    return (int(width) if width else 1024, int(height) if height else 1024)


def _cost(entry: Dict[str, Any], count: int, width: int, height: int, runtime_ms: int) -> float:
    """The charge in USD (the catalogue prices in cents)."""
    pricing = entry.get("pricing") or {}
    cents = 0.0
    if pricing.get("type") == "image_units":
        dw, dh = _defaults(entry)
        cents = float(pricing["cents_per_image_unit"]) * count * (width * height) / (dw * dh)
    elif pricing.get("type") in ("time", "uptime"):
        cents = float(pricing["cents_per_sec"]) * runtime_ms / 1000
    return round(cents / 100, 10)


def _draw(prompt: str, seed: int, count: int, width: int, height: int) -> Tuple[List[bytes], int]:
    started = time.perf_counter()
    images = [render_png(width, height, prompt, seed, i) for i in range(count)]
    return images, max(1, round((time.perf_counter() - started) * 1000))


def _native_entry(model: str, entry: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    if entry is None:
        entry = native_model(model, None)
    if "text-to-image" not in (entry["type"], entry["reported_type"]):
        raise native_error(
            400,
            f"Model {entry['model_name']} is a {entry['type']} model; "
            "this emulator serves it only on its OpenAI-compatible route",
        )
    return entry


def native_inference(
    model: str,
    body: Dict[str, Any],
    request_id: str,
    entry: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """The answer of an image model to ``POST /v1/inference/{model}`` (``entry``: its
    catalogue entry, when the caller has looked it up already)."""
    entry = _native_entry(model, entry)
    cog = entry["model_name"] in COG_STYLE
    prefix: Tuple[str, ...] = ("body",)
    params = body
    if cog:
        given = body.get("input")
        if given is None:
            raise validation_error(["body", "input"])
        if not isinstance(given, dict):
            raise validation_error(
                ["body", "input"], "value is not a valid dict", "type_error.dict"
            )
        params = given
        prefix = ("body", "input")
    prompt = required_str(params, "prompt", prefix=prefix)
    count_field = "num_outputs" if cog else "num_images"
    count = optional_int(params, count_field, low=1, high=_MAX_IMAGES, prefix=prefix) or 1
    default_w, default_h = _defaults(entry)
    width = _side(params, "width", default_w, prefix)
    height = _side(params, "height", default_h, prefix)
    optional_int(params, "num_inference_steps", low=1, high=200, prefix=prefix)
    optional_number(params, "guidance_scale", low=0, high=100, prefix=prefix)
    negative = params.get("negative_prompt")
    if negative is not None and not isinstance(negative, str):
        raise validation_error([*prefix, "negative_prompt"], "str type expected", "type_error.str")
    seed: Optional[int] = optional_int(params, "seed", low=0, high=2**32 - 1, prefix=prefix)
    if seed is None:
        seed = secrets.randbelow(2**32)

    images, runtime_ms = _draw(prompt, seed, count, width, height)
    uris = ["data:image/png;base64," + base64.b64encode(png).decode("ascii") for png in images]
    status = {
        "status": "succeeded",
        "runtime_ms": runtime_ms,
        "cost": _cost(entry, count, width, height, runtime_ms),
        "tokens_generated": 0,
        "tokens_input": 0,
    }
    if entry["model_name"] in PARTNER_IMAGE_MODELS:
        # A partner model hosts the picture and answers with its address (wire.md).
        return {
            "image_url": f"https://images.emulator.invalid/{new_id('img-', 16)}.png",
            "inference_status": {"cost": status["cost"], "runtime_ms": runtime_ms},
            "request_id": request_id,
            "status": "ok",
        }
    if cog:
        return {
            "id": new_id("", 26).lower(),
            "output": uris,
            "status": "succeeded",
            "inference_status": status,
            "request_id": request_id,
        }
    return {
        "images": uris,
        "nsfw_content_detected": [False] * count,
        "seed": seed,
        "request_id": request_id,
        "inference_status": status,
    }


def openai_images(body: Dict[str, Any], any_model: bool = False) -> Dict[str, Any]:
    """The answer to ``POST /v1/openai/images/generations``."""
    prompt = required_str(body, "prompt")
    usable_model(body.get("model"), "text-to-image", "/v1/openai/images/generations", any_model)
    count = optional_int(body, "n", low=1, high=_MAX_IMAGES) or 1
    width, height = _sides(body.get("size") or "1024x1024", ["body", "size"])
    response_format = body.get("response_format") or "b64_json"
    if response_format != "b64_json":
        raise openai_error(
            400,
            f"response_format {response_format!r} is not supported; use 'b64_json'",
            param="response_format",
        )
    seed = optional_int(body, "seed", low=0, high=2**32 - 1)
    images, _ = _draw(
        prompt, secrets.randbelow(2**32) if seed is None else seed, count, width, height
    )
    return {
        "created": int(time.time()),
        "data": [
            {"b64_json": base64.b64encode(png).decode("ascii"), "revised_prompt": prompt}
            for png in images
        ],
    }


def _sides(size: Any, loc: Loc) -> Tuple[int, int]:
    match = _SIZE_RE.match(size) if isinstance(size, str) else None
    if match is None:
        raise validation_error(loc, "size must look like '1024x1024'", "value_error")
    return _check_side(loc, int(match.group(1))), _check_side(loc, int(match.group(2)))


def openai_image_edits(form: Form) -> Dict[str, Any]:
    """The answer to ``POST /v1/openai/images/edits`` (multipart ``image``, ``prompt``,
    optional ``mask``, ``model``, ``n``, ``size``): new PNGs drawn from the prompt and a
    hash of the image, so the same edit always gives the same pictures."""
    image = form.file("image") or form.file("image[]")
    if image is None:
        raise openai_error(
            400, "image is required: send the picture as the 'image' part", param="image"
        )
    head = image.read(16)
    if not head.startswith((PNG_SIGNATURE, b"\xff\xd8\xff")) and head[8:12] != b"WEBP":
        raise openai_error(400, "image must be a PNG, JPEG or WEBP file", param="image")
    prompt = form.get("prompt")
    if not prompt:
        raise openai_error(400, "prompt is required", param="prompt")
    mask = form.file("mask")
    if mask is not None and not mask.read(8).startswith(PNG_SIGNATURE):
        raise openai_error(400, "mask must be a PNG file", param="mask")
    usable_model(form.get("model"), "text-to-image", "/v1/openai/images/edits")
    fmt = form.get("response_format") or "b64_json"
    if fmt != "b64_json":
        raise openai_error(400, "response_format must be 'b64_json'", param="response_format")
    count = form.get("n") or "1"
    if not count.isdigit() or not 1 <= int(count) <= _MAX_IMAGES:
        raise openai_error(400, f"n must be between 1 and {_MAX_IMAGES}", param="n")
    width, height = _sides(form.get("size") or "1024x1024", ["body", "size"])
    digest = hashlib.sha256(image.read(1 << 20)).digest()
    seed = int.from_bytes(digest[:4], "big")
    images, _ = _draw(prompt, seed, int(count), width, height)
    return {
        "created": int(time.time()),
        "data": [
            {"b64_json": base64.b64encode(png).decode("ascii"), "revised_prompt": prompt}
            for png in images
        ],
    }


_NATIVE_PREFIX = "/v1/inference/"
_OPENAI_IMAGES = "/v1/openai/images/generations"
_PNG_URI = "data:image/png;base64,"
_JPEG_URI = "data:image/jpeg;base64,"


def is_image_route(path: str) -> bool:
    """Whether ``path`` is one of the two text-to-image routes."""
    return path == _OPENAI_IMAGES or path.startswith(_NATIVE_PREFIX)


def _bare(image: str) -> str:
    return image[image.find(",") + 1 :] if image.startswith("data:") else image


def _half(text: str) -> str:
    return text[: len(text) // 2]


def spoil_images(payload: Dict[str, Any], kind: str, path: str) -> Dict[str, Any]:
    """A successful image answer gone wrong in the way ``kind`` names (see
    ``Fault.image_result``); ``payload`` is what the route at ``path`` answered."""
    openai_style = path == _OPENAI_IMAGES
    if openai_style:
        encoded = [str(entry["b64_json"]) for entry in payload["data"]]
    else:
        encoded = [_bare(str(image)) for image in payload.get("images") or payload["output"]]
    status = payload.get("inference_status")
    request_id = payload.get("request_id")
    if kind == "output":
        return {
            "id": new_id("", 26).lower(),
            "output": [_PNG_URI + b64 for b64 in encoded],
            "status": "succeeded",
            "inference_status": status,
            "request_id": request_id,
        }
    if kind == "url":
        urls = [f"https://images.emulator.invalid/{new_id('img-', 16)}.png" for _ in encoded]
        if openai_style:
            return {**payload, "data": [{"url": url} for url in urls]}
        return {
            "image_url": urls[0],
            "status": "ok",
            "inference_status": status,
            "request_id": request_id,
        }
    if kind == "empty":
        images: List[str] = []
    elif kind == "truncated_base64":
        images = [_half(b64) for b64 in encoded]
    else:  # wrong_media_type: the header claims JPEG, the bytes are PNG
        images = [_JPEG_URI + b64 for b64 in encoded]
    if openai_style:
        return {**payload, "data": [{"b64_json": image} for image in images]}
    if kind == "truncated_base64":
        images = [_PNG_URI + image for image in images]
    key = "images" if "images" in payload else "output"
    spoiled = {**payload, key: images}
    if "nsfw_content_detected" in spoiled:
        spoiled["nsfw_content_detected"] = [False] * len(images)
    return spoiled
