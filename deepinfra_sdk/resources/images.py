"""``client.images``: text-to-image through the native or the OpenAI-style endpoint."""

from __future__ import annotations

from typing import Any, Literal, Optional

from .. import _constants as C
from .._exceptions import APIResponseValidationError
from .._validation import check_model_name, model_path, without_none
from ..types import ImageResponse
from ._base import Resource

__all__ = ["Images"]


def _positive(name: str, value: Optional[int], upper: Optional[int] = None) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    if upper is not None and value > upper:
        raise ValueError(f"{name} must be at most {upper}, got {value}")


class Images(Resource):
    """Generate images. ``generate`` uses ``POST /v1/inference/{model}`` by default."""

    __slots__ = ()

    def generate(
        self,
        /,
        prompt: str,
        *,
        model: str = C.DEFAULT_IMAGE_MODEL,
        negative_prompt: Optional[str] = None,
        width: Optional[int] = None,
        height: Optional[int] = None,
        num_images: Optional[int] = None,
        num_inference_steps: Optional[int] = None,
        guidance_scale: Optional[float] = None,
        seed: Optional[int] = None,
        api: Literal["native", "openai"] = "native",
        cog: Optional[bool] = None,
        **extra: Any,
    ) -> ImageResponse:
        """Generate images from a text prompt.

        Args:
            prompt: what to draw.
            model: an image model name (see ``client.models.image_models()``).
            negative_prompt, width, height, num_images (1-4), num_inference_steps,
            guidance_scale, seed: the native endpoint's options; ``None`` is not sent.
            api: ``"native"`` (``/v1/inference/{model}``) or ``"openai"``
                (``/v1/openai/images/generations``; ``width``/``height`` become ``size``).
            cog: send ``{"input": {...}}`` for Cog/Replicate-style models; by default
                decided from the model name.
            **extra: model-specific fields passed through as they are.

        Returns:
            An :class:`ImageResponse`: ``.images`` (data URIs or URLs), ``.save()``,
            ``.image_bytes()``, and a picture when shown in Jupyter.
        """
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("prompt must be a non-empty string describing the image")
        check_model_name(model)
        _positive("width", width)
        _positive("height", height)
        _positive("num_images", num_images, upper=4)
        _positive("num_inference_steps", num_inference_steps)
        fields = without_none(
            {
                "prompt": prompt,
                "negative_prompt": negative_prompt,
                "width": width,
                "height": height,
                "num_images": num_images,
                "num_inference_steps": num_inference_steps,
                "guidance_scale": guidance_scale,
                "seed": seed,
            }
        )
        if api == "native":
            path = model_path(C.INFERENCE_PREFIX, model)
            payload = _native_payload(fields, extra, model=model, cog=cog)
        elif api == "openai":
            path = C.OPENAI_PREFIX + "/images/generations"
            payload = _openai_payload(fields, extra, model=model)
        else:
            raise ValueError(f"api must be 'native' or 'openai', got {api!r}")
        data = self._client._send("POST", path, payload, model=model).json()
        if not isinstance(data, dict):
            raise APIResponseValidationError("the image response is not a JSON object", body=data)
        result = ImageResponse.from_wire(data, prompt=prompt, model=model)
        if not result.images:
            raise APIResponseValidationError(
                "the image response holds no image (no images, output, image_url or data)",
                body=_shorten(data),
                request_id=result.request_id,
            )
        return result


def _native_payload(
    fields: dict[str, Any], extra: dict[str, Any], *, model: str, cog: Optional[bool]
) -> dict[str, Any]:
    """The flat body of ``/v1/inference``, or ``{"input": ...}`` for Cog-style models."""
    body = {**fields, **without_none(extra)}
    if not (model in C.COG_STYLE_MODELS if cog is None else cog):
        return body
    if "num_images" in body:
        body["num_outputs"] = body.pop("num_images")
    return {"input": body}


_NATIVE_ONLY = ("negative_prompt", "num_inference_steps", "guidance_scale")


def _openai_payload(fields: dict[str, Any], extra: dict[str, Any], *, model: str) -> dict[str, Any]:
    """The body of ``/v1/openai/images/generations``: size is ``WxH``, count is ``n``."""
    unsupported = [name for name in _NATIVE_ONLY if name in fields]
    if unsupported:
        raise ValueError(
            f"{', '.join(unsupported)} only work with api='native' (the OpenAI-style "
            "endpoint does not take them)"
        )
    width, height = fields.get("width"), fields.get("height")
    size = None
    if width is not None or height is not None:
        if width is None or height is None:
            raise ValueError("give both width and height for api='openai' (size is WxH)")
        size = f"{width}x{height}"
    payload = without_none(
        {
            "model": model,
            "prompt": fields["prompt"],
            "n": fields.get("num_images"),
            "size": size,
            "seed": fields.get("seed"),
            "response_format": "b64_json",
        }
    )
    payload.update(without_none(extra))
    return payload


def _shorten(data: dict[str, Any]) -> dict[str, Any]:
    # Error bodies are kept on exceptions; a multi-megabyte payload should not be.
    return {k: (v if len(repr(v)) < 2000 else "<omitted>") for k, v in data.items()}
