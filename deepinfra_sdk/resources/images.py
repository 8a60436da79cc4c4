"""``client.images``: text-to-image through the native or the OpenAI-style endpoint."""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Optional

from .. import _constants as C
from .._config import TimeoutTypes
from .._exceptions import APIResponseValidationError, ArgumentValueError
from .._images import decode_base64, is_url, sniff_media_type
from .._keywords import strict_keywords
from .._multipart import FileInput, MultipartBody
from .._validation import check_model_name, without_none
from ..types import ImageResponse
from ._base import Resource, call_options, decode_result
from .inference import send_native

if TYPE_CHECKING:
    from .._http import HTTPResponse

__all__ = ["Images"]

# An OpenAI size: WIDTHxHEIGHT in whole pixels, neither zero (or "auto", the model's choice).
_SIZE = re.compile(r"auto|[1-9][0-9]*x[1-9][0-9]*")


def _positive(name: str, value: Optional[int], upper: Optional[int] = None) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ArgumentValueError(f"{name} must be a positive whole number, got {value!r}")
    if upper is not None and value > upper:
        raise ArgumentValueError(f"{name} must be at most {upper}, got {value}")


class Images(Resource):
    """Generate images. ``generate`` uses ``POST /v1/inference/{model}`` by default."""

    __slots__ = ()

    @strict_keywords
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
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> ImageResponse:
        """Generate images from a text prompt.

        Options left ``None`` are not sent: the model's own defaults apply.

        Args:
            prompt: what to draw.
            model: an image model name (see ``client.models.image_models()``).
            negative_prompt: what to keep out of the image (native endpoint only).
            width: the width in pixels.
            height: the height in pixels.
            num_images: how many images, 1 to 4.
            num_inference_steps: denoising steps (native endpoint only).
            guidance_scale: how closely to follow the prompt (native endpoint only).
            seed: a seed, for repeatable images.
            api: ``"native"`` (``/v1/inference/{model}``) or ``"openai"``
                (``/v1/openai/images/generations``; ``width``/``height`` become ``size``).
            cog: send ``{"input": {...}}`` for Cog/Replicate-style models; by default
                decided from the model name.
            extra_body: model-specific fields (``webhook``, ``scheduler``, ...) merged into
                the body as they are; those set to ``None`` are not sent.
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.

        Returns:
            An :class:`ImageResponse`: ``.images`` (data URIs or URLs), ``.save()``,
            ``.image_bytes()``, and a picture when shown in Jupyter.
        """
        _check_prompt(prompt)
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
        extra = dict(extra_body or {})
        options = call_options(timeout, extra_headers, max_retries)
        if api == "native":
            payload = _native_payload(fields, extra, model=model, cog=cog)
            response = send_native(self._client, model, payload, options)
        elif api == "openai":
            check_model_name(model)
            path = C.OPENAI_PREFIX + "/images/generations"
            payload = _openai_payload(fields, extra, model=model)
            response = self._client._send("POST", path, payload, model=model, **options)
        else:
            raise ArgumentValueError(f"api must be 'native' or 'openai', got {api!r}")
        return self._result(response, prompt, model)

    @strict_keywords
    def edit(
        self,
        /,
        *,
        image: FileInput,
        prompt: str,
        mask: Optional[FileInput] = None,
        model: str = C.DEFAULT_IMAGE_MODEL,
        n: Optional[int] = None,
        size: Optional[str] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> ImageResponse:
        """Edit an image, or make new ones from it (image-to-image), as the prompt says
        (``POST /v1/openai/images/edits``, a multipart upload streamed from disk).

        Args:
            image: the picture (PNG, JPEG or WEBP): a path, bytes or a binary file.
            prompt: what the result should show.
            mask: a PNG of the same size whose transparent areas are the ones to edit.
            model: an image model that edits.
            n: how many images, 1 to 4.
            size: ``"WIDTHxHEIGHT"``, e.g. ``"1024x1024"`` (or ``"auto"``).
            extra_body: other form fields, sent as they are.
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.

        Returns:
            An :class:`ImageResponse`, as :meth:`generate` gives.
        """
        _check_prompt(prompt)
        check_model_name(model)
        _positive("n", n, upper=4)
        if size is not None and not (isinstance(size, str) and _SIZE.fullmatch(size)):
            raise ArgumentValueError(
                f"size must be 'WIDTHxHEIGHT', e.g. '1024x1024' (or 'auto'), not {size!r}"
            )
        fields = {"model": model, "prompt": prompt, "n": n, "size": size}
        fields.update(response_format="b64_json", **(extra_body or {}))
        files = [("image", image)] + ([("mask", mask)] if mask is not None else [])
        upload = MultipartBody(fields, files)
        path = C.OPENAI_PREFIX + "/images/edits"
        options = call_options(timeout, extra_headers, max_retries)
        response = self._client._send("POST", path, model=model, upload=upload, **options)
        return self._result(response, prompt, model)

    def _result(self, response: HTTPResponse, prompt: str, model: str) -> ImageResponse:
        """The images of an answer, checked whole, counted in the usage meter."""
        data = response.json()
        result = decode_result(
            response,
            ImageResponse,
            what="the image response",
            data=data,
            prompt=prompt,
            model=model,
        )
        # Counted before the checks below: a broken image was still billed.
        self._client.usage._record_image(model, result)
        rid = result.request_id
        if not result.images:
            raise APIResponseValidationError(
                "the image response holds no image (no images, output, image_url or data)",
                body=_shorten(data),
                status_code=response.status_code,
                request_id=rid,
            )
        for index, image in enumerate(result.images):
            problem = _incomplete(image)
            if problem is not None:
                # The request was billed; the error keeps the body, ids and the rest.
                raise APIResponseValidationError(
                    f"image {index} of the response is broken: {problem}",
                    body=_shorten(data),
                    status_code=response.status_code,
                    request_id=rid,
                )
        return result


def _check_prompt(prompt: object) -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise ArgumentValueError("prompt must be a non-empty string describing the image")


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
        raise ArgumentValueError(
            f"{', '.join(unsupported)} only work with api='native' (the OpenAI-style "
            "endpoint does not take them)"
        )
    width, height = fields.get("width"), fields.get("height")
    size = None
    if width is not None or height is not None:
        if width is None or height is None:
            raise ArgumentValueError("give both width and height for api='openai' (size is WxH)")
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


# Enough base64 from the end of a payload to hold every format's closing marker; a multiple
# of 4, so the tail of an unbroken payload decodes on its own.
_TAIL_CHARS = 1024
_BASE64_ONLY = re.compile(r"[A-Za-z0-9+/]*")
_PNG_END = b"IEND\xaeB`\x82"


def _payload_bounds(image: str) -> Optional[tuple[int, int]]:
    """Where the base64 payload of an inline image starts and ends (padding excluded);
    None for what is not base64 (URLs, percent-encoded data URIs)."""
    if is_url(image):
        return None
    start = 0
    if image[:5].lower() == "data:":
        comma = image.find(",", 5, 512)
        if comma < 0 or image[comma - 7 : comma].lower() != ";base64":
            return None  # malformed or not base64: image_bytes() says what is wrong
        start = comma + 1
    end = len(image)
    while end > start and image[end - 1] in "= \t\r\n":
        end -= 1
    return start, end


def _incomplete(image: str) -> Optional[str]:
    """Why an inline image is cut short, or None when it looks whole.

    A truncated payload is either a base64 length no encoder produces, or bytes that stop
    before the format's closing marker (PNG's IEND chunk, JPEG's EOI, GIF's trailer,
    WEBP's RIFF size). Only the payload's last kilobyte is decoded, so this costs the same
    for a 10 MB image as for a 10 kB one.
    """
    bounds = _payload_bounds(image)
    if bounds is None:
        return None
    start, end = bounds
    length = end - start
    if length % 4 == 1:
        return f"its base64 payload is truncated ({length} characters is no valid length)"
    offset = max(0, length - _TAIL_CHARS) // 4 * 4
    tail_text = image[start + offset : end]
    head_text = image[start : start + 16]
    if not (_BASE64_ONLY.fullmatch(tail_text) and _BASE64_ONLY.fullmatch(head_text)):
        # Whitespace or stray characters: decode the lot (rare; raises on bad base64).
        try:
            whole = decode_base64(image[start:end])
        except APIResponseValidationError as exc:
            return exc.message
        return _missing_end(whole[:16], whole[-(_TAIL_CHARS * 3 // 4) :], len(whole))
    try:
        tail = binascii.a2b_base64(tail_text + "=" * (-len(tail_text) % 4))
        head = binascii.a2b_base64(head_text[: len(head_text) // 4 * 4])
    except binascii.Error as exc:  # pragma: no cover - the alphabet was checked above
        return f"its base64 payload is invalid ({exc})"
    return _missing_end(head, tail, length * 3 // 4)


def _missing_end(head: bytes, tail: bytes, size: int) -> Optional[str]:
    kind = sniff_media_type(head)
    if kind == "image/png" and _PNG_END not in tail:
        return "the PNG stops before its IEND chunk (the payload was cut short)"
    if kind == "image/jpeg" and b"\xff\xd9" not in tail:
        return "the JPEG stops before its end marker (the payload was cut short)"
    if kind == "image/gif" and not tail.rstrip(b"\0").endswith(b";"):
        return "the GIF stops before its trailer (the payload was cut short)"
    if kind == "image/webp" and size < int.from_bytes(head[4:8], "little") + 8:
        return "the WEBP is shorter than its RIFF header says (the payload was cut short)"
    return None
