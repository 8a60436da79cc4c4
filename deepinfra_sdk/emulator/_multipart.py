"""Reading ``multipart/form-data`` request bodies as they arrive, within size limits.

The standard library's ``cgi`` module is gone (Python 3.13), and ``email``'s parser wants
the whole body in memory. This parser reads the socket in blocks: text fields are kept
(each at most :data:`MAX_FIELD_BYTES`), file parts are spooled to temporary files that stay
in memory only while small, so an upload of tens of megabytes never sits whole in memory
(an emulator in the test's own process would otherwise spoil its memory measurements).
"""

from __future__ import annotations

import re
import socket
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, List, Optional, Protocol

__all__ = [
    "MAX_UPLOAD_BYTES",
    "Form",
    "FormError",
    "UploadedFile",
    "body_reader",
    "is_multipart",
    "linger",
    "parse_form",
    "read_form",
]

MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # a whole multipart body (the files route allows 512 MB)
MAX_FIELD_BYTES = 1024 * 1024  # one text field
MAX_PARTS = 64
MAX_PART_HEAD_BYTES = 16 * 1024
_BLOCK = 64 * 1024
_SPOOL_IN_MEMORY = 1024 * 1024
_BOUNDARY_RE = re.compile(r'boundary=(?:"([^"]{1,200})"|([^\s;,]{1,200}))', re.IGNORECASE)
_PARAM_RE = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')

Read = Callable[[int], bytes]


class _Stream(Protocol):
    def read(self, n: int, /) -> bytes: ...
    def readline(self, n: int, /) -> bytes: ...


class FormError(Exception):
    """A request body (a form or any other) that cannot be read (400) or is over a
    limit (413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class UploadedFile:
    """One file part: its name, declared type and size; the bytes are spooled."""

    filename: str
    content_type: str
    size: int = 0
    spool: Optional[IO[bytes]] = field(default=None, repr=False)

    def read(self, limit: int = -1) -> bytes:
        """The file's bytes from its start (at most ``limit`` of them if given)."""
        if self.spool is None:
            return b""
        self.spool.seek(0)
        return self.spool.read(limit)


@dataclass
class Form:
    """A parsed form: text fields and files by part name (a name may repeat)."""

    fields: Dict[str, List[str]] = field(default_factory=dict)
    files: Dict[str, List[UploadedFile]] = field(default_factory=dict)

    def get(self, name: str) -> Optional[str]:
        """The last value of text field ``name``, or None."""
        values = self.fields.get(name)
        return values[-1] if values else None

    def file(self, name: str) -> Optional[UploadedFile]:
        """The first file of part ``name``, or None."""
        files = self.files.get(name)
        return files[0] if files else None

    def summary(self) -> Dict[str, Any]:
        """What a recording keeps: the fields, and each file's name, type and size."""
        return {
            "fields": {k: v[-1] if len(v) == 1 else list(v) for k, v in self.fields.items()},
            "files": {
                k: [
                    {"filename": f.filename, "content_type": f.content_type, "size": f.size}
                    for f in v
                ]
                for k, v in self.files.items()
            },
        }

    def __enter__(self) -> Form:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the spooled files."""
        for files in self.files.values():
            for f in files:
                if f.spool is not None:
                    f.spool.close()


def is_multipart(content_type: Optional[str]) -> bool:
    """Whether a ``Content-Type`` header value announces a multipart form."""
    return (content_type or "").lower().lstrip().startswith("multipart/form-data")


def body_reader(
    rfile: _Stream, length: Optional[str], chunked: bool, limit: Optional[int] = None
) -> Read:
    """``read(n)`` over a request body framed by ``Content-Length`` or chunked encoding,
    refusing (413) to read more than ``limit`` bytes (:data:`MAX_UPLOAD_BYTES` if None)."""
    limit = MAX_UPLOAD_BYTES if limit is None else limit
    if chunked:
        return _chunked_reader(rfile, limit)
    try:
        left = int(length) if length is not None else 0
    except ValueError:
        raise FormError(400, f"Invalid Content-Length: {length!r}") from None
    if left < 0:
        raise FormError(400, f"Invalid Content-Length: {length!r}")
    if left > limit:
        raise FormError(413, f"Request body too large (limit {limit} bytes)")

    def read(n: int) -> bytes:
        nonlocal left
        if left <= 0:
            return b""
        data = rfile.read(min(n, left))
        if not data:
            raise ConnectionResetError("request body cut short")
        left -= len(data)
        return data

    return read


def _chunked_reader(rfile: _Stream, limit: int) -> Read:
    state = {"left": 0, "total": 0, "done": False}

    def read(n: int) -> bytes:
        if state["done"]:
            return b""
        if state["left"] == 0:
            line = rfile.readline(1024)
            if not line:
                raise ConnectionResetError("request body cut short")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise FormError(400, "Invalid chunked request body") from None
            if size < 0:  # read(-1) would read to the end, past the limit
                raise FormError(400, "Invalid chunked request body (a negative chunk size)")
            if size == 0:
                while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                state["done"] = True
                return b""
            state["total"] += size
            if state["total"] > limit:
                raise FormError(413, f"Request body too large (limit {limit} bytes)")
            state["left"] = size
        data = rfile.read(min(n, state["left"]))
        if not data:
            raise ConnectionResetError("request body cut short")
        state["left"] -= len(data)
        if state["left"] == 0:
            rfile.readline(1024)  # the chunk's CRLF
        return data

    return read


def _params(header: str) -> Dict[str, str]:
    return {
        m.group(1).lower(): m.group(2).replace('\\"', '"') if m.group(2) is not None else m.group(3)
        for m in _PARAM_RE.finditer(header)
    }


class _Parser:
    def __init__(self, read: Read, boundary: bytes) -> None:
        self._read = read
        self._buf = b""
        self._eof = False
        self._delim = b"\r\n--" + boundary

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._read(_BLOCK)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def _until(self, marker: bytes, limit: int, what: str) -> bytes:
        """Everything up to ``marker`` (consumed), held in memory: at most ``limit`` bytes."""
        while True:
            at = self._buf.find(marker)
            if at >= 0:
                found, self._buf = self._buf[:at], self._buf[at + len(marker) :]
                return found
            if len(self._buf) > limit + len(marker):
                raise FormError(413, f"{what} is too large (limit {limit} bytes)")
            if not self._fill():
                raise FormError(400, f"The multipart body ends inside {what}")

    def _stream_part(self, sink: Callable[[bytes], None]) -> None:
        """Hand the part's bytes to ``sink`` up to the next delimiter (consumed)."""
        keep = len(self._delim) - 1
        while True:
            at = self._buf.find(self._delim)
            if at >= 0:
                sink(self._buf[:at])
                self._buf = self._buf[at + len(self._delim) :]
                return
            if len(self._buf) > keep:
                sink(self._buf[:-keep])
                self._buf = self._buf[-keep:]
            if not self._fill():
                raise FormError(400, "The multipart body ends inside a part (no closing boundary)")

    def parse(self, form: Form) -> None:
        # The body starts with the first delimiter (its CRLF optional); a preamble is ignored.
        self._buf = b"\r\n"
        self._until(self._delim, MAX_PART_HEAD_BYTES, "the preamble")
        for _ in range(MAX_PARTS):
            while len(self._buf) < 2 and self._fill():
                pass
            if self._buf[:2] == b"--":
                while self._fill():  # the epilogue: read to the body's end, then ignore it
                    self._buf = b""
                return
            self._until(b"\r\n", 64, "the boundary line")
            head = self._until(b"\r\n\r\n", MAX_PART_HEAD_BYTES, "a part's headers")
            self._part(form, head.decode("utf-8", "replace"))
        raise FormError(413, f"Too many parts in the multipart body (limit {MAX_PARTS})")

    def _part(self, form: Form, head: str) -> None:
        headers: Dict[str, str] = {}
        for line in head.split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        params = _params(";" + headers.get("content-disposition", "").partition(";")[2])
        part_name = params.get("name")
        if part_name is None:
            raise FormError(400, "A multipart part has no Content-Disposition name")
        name = part_name
        filename = params.get("filename")
        if filename is None:
            parts: List[bytes] = []
            size = 0

            def keep(data: bytes) -> None:
                nonlocal size
                size += len(data)
                if size > MAX_FIELD_BYTES:
                    raise FormError(413, f"Field {name!r} is too large (limit {MAX_FIELD_BYTES})")
                parts.append(data)

            self._stream_part(keep)
            text = b"".join(parts).decode("utf-8", "replace")
            form.fields.setdefault(name, []).append(text)
            return
        upload = UploadedFile(filename, headers.get("content-type") or "application/octet-stream")
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - Form.close
        upload.spool = spool
        form.files.setdefault(name, []).append(upload)

        def write(data: bytes) -> None:
            upload.size += len(data)
            spool.write(data)

        self._stream_part(write)


def parse_form(read: Read, content_type: str) -> Form:
    """Parse a multipart body read through ``read`` (see :func:`body_reader`).

    Raises :class:`FormError`: 400 for a malformed body, 413 for one over a limit.
    """
    match = _BOUNDARY_RE.search(content_type)
    if match is None:
        raise FormError(400, "multipart/form-data without a boundary parameter")
    boundary = (match.group(1) or match.group(2)).encode("latin-1")
    form = Form()
    try:
        _Parser(read, boundary).parse(form)
    except BaseException:
        form.close()  # nothing half-parsed stays spooled
        raise
    return form


def read_form(rfile: _Stream, headers: Any, limit: Optional[int] = None) -> Form:
    """The multipart form of the request whose head is ``headers`` (a case-insensitive
    mapping), read from ``rfile``; at most ``limit`` bytes (:data:`MAX_UPLOAD_BYTES` if
    None)."""
    chunked = "chunked" in (headers.get("transfer-encoding") or "").lower()
    read = body_reader(rfile, headers.get("content-length"), chunked, limit)
    return parse_form(read, headers.get("content-type") or "")


def linger(sock: socket.socket, seconds: float = 5.0, most: int = 1 << 30) -> None:
    """After answering early (a 413), read and drop what the client still sends before
    closing: closing with unread data would reset the connection, and the client could
    lose the answer it has not read yet."""
    deadline = time.monotonic() + seconds
    try:
        sock.shutdown(socket.SHUT_WR)
        while most > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            sock.settimeout(left)
            data = sock.recv(_BLOCK)
            if not data:
                return
            most -= len(data)
    except OSError:
        return
