"""Image payload helpers: sniff a media type, decode and build ``data:`` URIs.

DeepInfra returns images as ``data:`` URIs (native inference), bare base64 (OpenAI-style
``b64_json``, which may be JPEG although nothing says so) or http(s) URLs (partner models).
These helpers never trust a declared media type: they look at the bytes.

Payloads run to several megabytes, so decoding avoids needless copies: ``binascii`` reads a
``str`` in place, and the only copy made of the base64 text is the one slice that drops the
``data:`` header.
"""

from __future__ import annotations

import binascii
import re
import sys
from typing import Optional

from ._exceptions import APIResponseValidationError, ArgumentValueError

__all__ = [
    "base64_to_data_uri",
    "decode_base64",
    "decode_data_uri",
    "extension_for",
    "format_mismatch",
    "is_url",
    "sniff_base64",
    "sniff_data_uri",
    "sniff_media_type",
    "to_data_uri",
]

OCTET_STREAM = "application/octet-stream"

_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
}

# Enough base64 to cover every signature sniff_media_type reads (12 bytes -> 16 characters).
_SNIFF_CHARS = 16

# ASCII whitespace only: `\s` would also accept Unicode spaces, which binascii rejects.
_WS = " \t\r\n\f\v"
_LENIENT_BASE64 = re.compile(r"[A-Za-z0-9+/ \t\r\n\f\v]*[= \t\r\n\f\v]*")


def sniff_media_type(data: bytes) -> str:
    """The media type of image ``data`` judged by its signature bytes.

    Recognises PNG, JPEG, WEBP and GIF; anything else is ``application/octet-stream``.
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return OCTET_STREAM


def extension_for(media_type: str) -> str:
    """The file suffix (with its dot) for ``media_type``; ``.bin`` for unknown types.

    Parameters such as ``; charset=...`` and letter case are ignored.
    """
    return _EXTENSIONS.get(media_type.split(";", 1)[0].strip().lower(), ".bin")


# What a file name's suffix promises; suffixes not listed here promise nothing.
_SUFFIX_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}


def _format_name(media_type: str) -> str:
    return media_type.rsplit("/", 1)[-1].upper()


def format_mismatch(suffix: str, media_type: str) -> Optional[str]:
    """Why bytes of ``media_type`` cannot go to a file named ``*suffix``, or None when
    they can (the suffix names that format, or names none the SDK knows).

    The SDK converts no formats (that needs an imaging library, which it does not depend
    on), so the fix is the suffix of the real format.
    """
    wanted = _SUFFIX_TYPES.get(suffix.lower())
    if wanted is None or media_type in (OCTET_STREAM, wanted):
        return None
    return (
        f"the image is {_format_name(media_type)}, but the suffix {suffix!r} names "
        f"{_format_name(wanted)}; use {extension_for(media_type)!r} (the SDK converts no "
        "image formats: an imaging library such as Pillow can)"
    )


def is_url(image: str) -> bool:
    """Whether ``image`` is an http(s) URL rather than inline data."""
    return image[:8].lower().startswith(("http://", "https://"))


def _payload_start(uri: str) -> int:
    """Index of the first payload character of a base64 ``data:`` URI.

    Raises ValueError when ``uri`` is not a base64 data URI at all (a caller mistake).
    """
    if uri[:5].lower() != "data:":
        raise ArgumentValueError(
            f"not a data URI (it starts {uri[:32]!r}); "
            "pass a string of the form 'data:<type>;base64,<payload>'"
        )
    comma = uri.find(",", 5)
    # The header is short; bounding the search keeps a comma-less payload from being scanned.
    if comma < 0 or comma > 512:
        raise APIResponseValidationError("malformed data URI: no ',' after its header")
    return comma + 1


def _is_base64_header(uri: str, start: int) -> bool:
    return uri[start - 8 : start - 1].lower() == ";base64"


def decode_data_uri(uri: str) -> bytes:
    """The bytes a ``data:`` URI carries.

    Handles ``data:<type>;base64,<payload>`` (whitespace and missing ``=`` padding tolerated)
    and percent-encoded ``data:<type>,<text>``. Raises :class:`APIResponseValidationError`
    when the payload is invalid or truncated base64, and ``ValueError`` when ``uri`` is not a
    data URI.
    """
    start = _payload_start(uri)
    if not _is_base64_header(uri, start):
        from urllib.parse import unquote_to_bytes

        return unquote_to_bytes(uri[start:])
    # The one copy of the payload: binascii cannot be told to start at an offset.
    return decode_base64(uri[start:])


def decode_base64(payload: str) -> bytes:
    """Decode standard base64 text, tolerating whitespace and missing ``=`` padding.

    Raises :class:`APIResponseValidationError` if ``payload`` holds characters outside the
    base64 alphabet or is truncated (a length no base64 encoder produces).
    """
    if sys.version_info >= (3, 11):
        # Well-formed payloads (the norm) decode in one validating pass.
        try:
            return binascii.a2b_base64(payload, strict_mode=True)
        except (binascii.Error, ValueError):
            pass
    return _decode_base64_lenient(payload)


def _decode_base64_lenient(payload: str) -> bytes:
    # Without strict mode binascii skips foreign characters silently, so validate first.
    if not _LENIENT_BASE64.fullmatch(payload):
        bad = re.search(r"[^A-Za-z0-9+/= \t\r\n\f\v]", payload)
        where = f" at offset {bad.start()}" if bad else " (padding '=' before the end)"
        raise APIResponseValidationError(
            f"invalid base64 in image data: a character outside the base64 alphabet{where}"
        )
    try:
        return binascii.a2b_base64(payload)
    except binascii.Error:
        pass
    stripped = payload.rstrip("=" + _WS)
    data_chars = len(stripped) - sum(stripped.count(c) for c in _WS)
    if data_chars % 4 == 1:
        raise APIResponseValidationError(
            f"invalid base64 in image data: truncated payload ({data_chars} data characters "
            "is not a length any base64 encoder produces)"
        )
    try:
        return binascii.a2b_base64(stripped + "=" * (-data_chars % 4))
    except binascii.Error as exc:
        raise APIResponseValidationError(f"invalid base64 in image data: {exc}") from None


def _sniff_b64_prefix(text: str, start: int) -> str:
    head = text[start : start + _SNIFF_CHARS]
    if len(head) == _SNIFF_CHARS and not any(c in head for c in _WS + "="):
        try:
            return sniff_media_type(binascii.a2b_base64(head))
        except ValueError:  # binascii.Error, or non-ASCII text
            return OCTET_STREAM
    # Rare: whitespace or padding near the start; clean a bounded window instead.
    window = "".join(text[start : start + 4 * _SNIFF_CHARS].split()).split("=", 1)[0]
    window = window[: len(window) // 4 * 4]
    try:
        return sniff_media_type(binascii.a2b_base64(window))
    except ValueError:
        return OCTET_STREAM


def sniff_base64(payload: str) -> str:
    """The media type of base64 ``payload``, decoding only its first few characters."""
    return _sniff_b64_prefix(payload, 0)


def sniff_data_uri(uri: str) -> str:
    """The media type of a base64 ``data:`` URI judged by its bytes, not its declared type.

    Only the first few payload characters are decoded, so this is cheap for large images.
    """
    start = _payload_start(uri)
    if not _is_base64_header(uri, start):
        return sniff_media_type(decode_data_uri(uri)[:16])
    return _sniff_b64_prefix(uri, start)


def to_data_uri(data: bytes, media_type: Optional[str] = None) -> str:
    """A base64 ``data:`` URI for ``data``; the media type is sniffed unless given."""
    mt = media_type or sniff_media_type(data)
    return f"data:{mt};base64," + binascii.b2a_base64(data, newline=False).decode("ascii")


def base64_to_data_uri(payload: str) -> str:
    """Wrap bare base64 text (for example ``b64_json``) as a ``data:`` URI.

    The media type is sniffed from the first decoded bytes; the payload itself is not
    validated here (that happens when the bytes are asked for).
    """
    return f"data:{sniff_base64(payload)};base64,{payload}"
