"""Multipart/form-data request bodies, streamed from their sources: the SDK's one encoder.

A file part may be a path, ``bytes``, a binary file object, or a ``(filename, source)`` /
``(filename, source, content_type)`` tuple. Nothing is read when the body is built: each
pass over it (one per attempt the transport makes) opens its sources afresh and reads
:data:`CHUNK_SIZE` bytes at a time, so a 50 MB file never sits whole in memory. The length
is known whenever every source has a size (paths, bytes, seekable files), which lets the
transport send ``Content-Length``; otherwise it sends the body chunked.

A source that fails or changes size while it is being sent raises :class:`UploadError`
from inside the pass; the transport never retries a body that has started to go out.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, Optional, Union, cast

from ._exceptions import ArgumentTypeError, UploadError

__all__ = ["CHUNK_SIZE", "FileInput", "MultipartBody", "is_file_input"]

CHUNK_SIZE = 64 * 1024

FileSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]
FileInput = Union[FileSource, tuple[str, FileSource], tuple[str, FileSource, str]]

_BYTES = (bytes, bytearray, memoryview)


def is_file_input(value: object) -> bool:
    """Whether ``value`` is unmistakably a file: bytes, a ``PathLike``, a readable object, or
    ``(filename, one of those[, content_type])``. A ``str`` never is (the caller decides
    whether a string is a path), so a tuple of strings stays a plain value."""
    if isinstance(value, (*_BYTES, os.PathLike)) or hasattr(value, "read"):
        return True
    return (
        isinstance(value, tuple)
        and len(value) in (2, 3)
        and isinstance(value[0], str)
        and not isinstance(value[1], str)
        and is_file_input(value[1])
    )


def _quote(value: str) -> str:
    # What browsers do (HTML's form encoding): quotes and line breaks percent-encoded.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _media_type(filename: str) -> str:
    import mimetypes

    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


class _File:
    """One file part's source: opened anew for each pass, read in chunks."""

    __slots__ = ("_data", "_fobj", "_path", "_read", "_start", "content_type", "filename", "size")

    def __init__(self, field: str, value: FileInput) -> None:
        filename: Optional[str] = None
        content_type: Optional[str] = None
        if isinstance(value, tuple):
            if len(value) == 3:
                filename, value, content_type = value
            else:
                filename, value = value
        self._path: Optional[str] = None
        self._data: Optional[memoryview] = None
        self._fobj: Optional[IO[bytes]] = None
        self._start = 0
        self._read = False
        self.size: Optional[int]
        if isinstance(value, (str, os.PathLike)):
            path = os.fspath(value)
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"{field}: no file at {path!r} (give a path to an existing file, its "
                    "bytes, or a file opened with open(path, 'rb'))"
                )
            self._path = path
            self.size = os.path.getsize(path)
            filename = filename or os.path.basename(path)
        elif isinstance(value, _BYTES):
            self._data = memoryview(value).cast("B")
            self.size = self._data.nbytes
        elif hasattr(value, "read"):
            if isinstance(cast(object, value), io.TextIOBase):
                raise ArgumentTypeError(
                    f"{field}: the file is open in text mode; open it with open(path, 'rb')"
                )
            self._fobj = value
            self.size = None
            name = getattr(value, "name", None)
            if filename is None and isinstance(name, str):
                filename = os.path.basename(name)
            try:
                if value.seekable():
                    self._start = value.tell()
                    self.size = value.seek(0, os.SEEK_END) - self._start
                    value.seek(self._start)
            except (OSError, ValueError, AttributeError):
                self.size = None
        else:
            raise ArgumentTypeError(
                f"{field} must be a path, bytes or a file opened in binary mode, "
                f"not {type(value).__name__}"
            )
        self.filename = filename or field
        self.content_type = content_type or _media_type(self.filename)

    @property
    def reopenable(self) -> bool:
        """Whether another pass can read the source from its start again."""
        return self._fobj is None or self.size is not None or not self._read

    def chunks(self) -> Iterator[bytes]:
        """The source's bytes, :data:`CHUNK_SIZE` at a time."""
        if self._data is not None:
            for start in range(0, self._data.nbytes, CHUNK_SIZE):
                yield bytes(self._data[start : start + CHUNK_SIZE])
            return
        if self._path is not None:
            try:
                f: IO[bytes] = open(self._path, "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise UploadError(f"could not open {self._path!r} to upload it: {exc}") from exc
        else:
            assert self._fobj is not None
            f = self._fobj
            if self._read:
                if self.size is None:
                    raise UploadError(
                        f"{self.filename!r} cannot be sent again: its file object cannot "
                        "seek back to the start (pass a path or bytes to allow retries)"
                    )
                f.seek(self._start)
        self._read = True
        sent = 0
        try:
            while True:
                try:
                    chunk = f.read(CHUNK_SIZE)
                except OSError as exc:
                    raise UploadError(
                        f"reading {self.filename!r} failed after {sent} bytes: {exc}"
                    ) from exc
                if not chunk:
                    break
                if not isinstance(chunk, bytes):
                    raise ArgumentTypeError(f"{self.filename!r} must be read as bytes, not text")
                sent += len(chunk)
                if self.size is not None and sent > self.size:
                    break
                yield chunk
        finally:
            if self._path is not None:
                f.close()
        if self.size is not None and sent != self.size:
            raise UploadError(
                f"{self.filename!r} changed while it was being uploaded: it was {self.size} "
                f"bytes, then {sent} were read (nothing was retried)"
            )


def _field_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # Lists and objects travel as JSON text (wire.md: native multipart list fields).
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class MultipartBody:
    """A ``multipart/form-data`` body that the transport sends streamed.

    Iterating it is one pass: every source is read from its start, in chunks; ``sent``
    counts the bytes the current pass has handed over. ``length`` is None when a source
    has no known size (the body then goes out chunked).
    """

    __slots__ = ("_files", "_segments", "boundary", "length", "sent")

    def __init__(
        self,
        fields: Union[Mapping[str, Any], Iterable[tuple[str, Any]]] = (),
        files: Union[Mapping[str, FileInput], Iterable[tuple[str, FileInput]]] = (),
    ) -> None:
        self.boundary = "deepinfra-" + os.urandom(16).hex()
        segments: list[Union[bytes, _File]] = []
        length: Optional[int] = 0
        dash = f"--{self.boundary}\r\n".encode()
        pairs = fields.items() if isinstance(fields, Mapping) else fields
        for name, value in pairs:
            if value is None:
                continue
            head = f'Content-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'
            segments.append(dash + head.encode() + _field_text(value).encode() + b"\r\n")
        items = files.items() if isinstance(files, Mapping) else files
        self._files: list[_File] = []
        for name, source in items:
            part = _File(name, source)
            self._files.append(part)
            head = (
                f'Content-Disposition: form-data; name="{_quote(name)}"; '
                f'filename="{_quote(part.filename)}"\r\nContent-Type: {part.content_type}\r\n\r\n'
            )
            segments += [dash + head.encode(), part, b"\r\n"]
        segments.append(f"--{self.boundary}--\r\n".encode())
        for segment in segments:
            size = len(segment) if isinstance(segment, bytes) else segment.size
            length = None if length is None or size is None else length + size
        self._segments = segments
        self.length = length
        self.sent = 0

    @property
    def parts(self) -> list[_File]:
        """The file parts, in order (each with its ``size``, and ``chunks()`` for a pass
        over its source: a check reading it before the send, for instance)."""
        return list(self._files)

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header value, boundary included."""
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def reopenable(self) -> bool:
        """Whether the body can be sent again (every source can be read from its start)."""
        return all(part.reopenable for part in self._files)

    def headers(self) -> dict[str, str]:
        """The headers that frame this body."""
        framing = (
            {"Transfer-Encoding": "chunked"}
            if self.length is None
            else {"Content-Length": str(self.length)}
        )
        return {"Content-Type": self.content_type, **framing}

    def __iter__(self) -> Iterator[bytes]:
        self.sent = 0
        for segment in self._segments:
            pieces: Iterable[bytes] = (segment,) if isinstance(segment, bytes) else segment.chunks()
            for piece in pieces:
                self.sent += len(piece)
                yield piece

    def __len__(self) -> int:
        # requests reads the length of a streamed body through len() (super_len).
        if self.length is None:
            raise TypeError("this multipart body has no known length")
        return self.length
