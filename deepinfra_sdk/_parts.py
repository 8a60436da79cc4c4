"""Content parts for chat messages: images and audio from files, bytes or URLs.

An image becomes ``{"type": "image_url", "image_url": {"url": ...}}``: a URL is passed as it
is, anything else is read, checked (JPEG, PNG, WEBP or GIF by its bytes, at most 20 MB:
DeepInfra's limit) and sent inline as a ``data:`` URI. Audio becomes
``{"type": "input_audio", "input_audio": {"data": <base64>, "format": "wav" | "mp3"}}``.
"""

from __future__ import annotations

import binascii
import os
from typing import IO, Any, Optional, Union

from ._exceptions import ArgumentTypeError, ArgumentValueError
from ._images import is_url, sniff_data_uri, sniff_media_type, to_data_uri
from ._validation import MAX_REQUEST_BYTES

__all__ = ["MAX_AUDIO_BYTES", "MAX_IMAGE_BYTES", "audio_part", "image_part"]

#: DeepInfra's limit for one image in a chat message.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: The most audio one part can carry: its base64 must fit in one request body, so reading
#: more (a huge file, a device) could only be refused later.
MAX_AUDIO_BYTES = MAX_REQUEST_BYTES // 4 * 3
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
_DETAILS = ("auto", "low", "high")

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]


def _read(source: Any, what: str, limit: Optional[int]) -> bytes:
    """The bytes of a path, a bytes-like object or a binary file object (checked against
    ``limit`` before reading a file whole)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            size = os.path.getsize(path)
        except OSError as exc:
            raise ArgumentValueError(
                f"cannot read the {what} file {path!r}: {exc.strerror or exc}; pass an "
                "existing path, bytes, an open file or an https:// URL"
            ) from None
        if limit is not None and size > limit:
            raise ArgumentValueError(_too_big(what, size, limit))
        with open(path, "rb") as f:  # bounded too: a device or FIFO reports size 0
            data = _read_file(f, what, limit)
    elif callable(getattr(source, "read", None)):
        data = _read_file(source, what, limit)
    else:
        raise ArgumentTypeError(
            f"a {what} must be a path, bytes, a binary file object or a URL, not "
            f"{type(source).__name__}"
        )
    if limit is not None and len(data) > limit:
        raise ArgumentValueError(_too_big(what, len(data), limit))
    if not data:
        raise ArgumentValueError(f"the {what} is empty (0 bytes)")
    return data


def _read_file(source: Any, what: str, limit: Optional[int]) -> bytes:
    """A file object's bytes up to EOF, or ``limit + 1`` at most: one ``read(n)`` may return
    fewer bytes than asked (a pipe, a socket, an unbuffered file), so read until EOF."""
    want = (limit + 1) if limit is not None else None
    chunks: list[bytes] = []
    got = 0
    while want is None or got < want:
        chunk = source.read(want - got if want is not None else -1)
        if isinstance(chunk, str):
            raise ArgumentTypeError(f"the {what} file is open in text mode: open it with 'rb'")
        if not chunk:  # b"" is EOF; None is a non-blocking file with nothing ready
            break
        chunks.append(bytes(chunk))
        got += len(chunk)
    return b"".join(chunks)


def _too_big(what: str, size: int, limit: int) -> str:
    mb = f"{size / (1 << 20):.1f} MB"
    if what == "image":
        return (
            f"the image is {mb}, over DeepInfra's {limit >> 20} MB limit: shrink or recompress "
            "it, or pass it by https:// URL"
        )
    return f"the {what} is {mb}, over the {limit >> 20} MB one request can carry: shorten it"


def image_part(source: Source, detail: Optional[str] = None) -> dict[str, Any]:
    """An ``image_url`` content part for a chat message.

    Args:
        source: an ``https://`` URL or ``data:`` URI (sent as it is), a path, bytes, or a
            binary file object (sent inline, its type sniffed from the bytes).
        detail: ``"auto"``, ``"low"`` or ``"high"``; left out by default (DeepInfra
            ignores it).

    Raises:
        ArgumentValueError: the image is not JPEG/PNG/WEBP/GIF, is empty, or is over 20 MB.
    """
    if detail is not None and detail not in _DETAILS:
        raise ArgumentValueError(f"detail must be 'auto', 'low' or 'high', got {detail!r}")
    if isinstance(source, str) and (is_url(source) or source[:5].lower() == "data:"):
        if source[:5].lower() == "data:":
            size = (len(source) - source.find(",") - 1) * 3 // 4  # base64: 4 chars, 3 bytes
            if size > MAX_IMAGE_BYTES:
                raise ArgumentValueError(_too_big("image", size, MAX_IMAGE_BYTES))
        if source[:5].lower() == "data:" and sniff_data_uri(source) not in _IMAGE_TYPES:
            raise ArgumentValueError(
                "the data: URI does not hold a JPEG, PNG, WEBP or GIF image (judged by its bytes)"
            )
        url = source
    else:
        data = _read(source, "image", MAX_IMAGE_BYTES)
        media_type = sniff_media_type(data)
        if media_type not in _IMAGE_TYPES:
            raise ArgumentValueError(
                f"the image is not a JPEG, PNG, WEBP or GIF (its first bytes are "
                f"{data[:8]!r}): convert it first"
            )
        url = to_data_uri(data, media_type)
    image: dict[str, Any] = {"url": url}
    if detail is not None:
        image["detail"] = detail
    return {"type": "image_url", "image_url": image}


def _audio_format(data: bytes, name: str) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    lowered = name.lower()
    for ext in ("wav", "mp3"):
        if lowered.endswith("." + ext):
            return ext
    raise ArgumentValueError(
        f"the audio is neither WAV nor MP3 (its first bytes are {data[:8]!r}): convert it, "
        "or pass format='wav' or format='mp3' if you are sure"
    )


def audio_part(source: Source, format: Optional[str] = None) -> dict[str, Any]:
    """An ``input_audio`` content part for a chat message.

    Args:
        source: a path, bytes, or a binary file object holding WAV or MP3 audio.
        format: ``"wav"`` or ``"mp3"``; judged from the bytes (or the file name) when left
            out.

    Raises:
        ArgumentValueError: the audio is empty, neither WAV nor MP3, or over 48 MB (more
            cannot fit in one request).
    """
    if format is not None and format not in ("wav", "mp3"):
        raise ArgumentValueError(f"format must be 'wav' or 'mp3', got {format!r}")
    if isinstance(source, str) and is_url(source):
        raise ArgumentValueError(
            "audio parts carry the audio itself: download it first and pass the bytes or path"
        )
    data = _read(source, "audio", MAX_AUDIO_BYTES)
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else ""
    fmt = format or _audio_format(data, str(getattr(source, "name", name) or ""))
    encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
    return {"type": "input_audio", "input_audio": {"data": encoded, "format": fmt}}
