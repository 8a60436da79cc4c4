"""``client.files``: the files batches read and write (``/v1/openai/files``)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Optional, Union
from urllib.parse import quote, urlencode

from .. import _constants as C
from .._bulk_types import FileDeleted, FileObject
from .._exceptions import ArgumentTypeError, ArgumentValueError
from .._keywords import strict_keywords
from .._pagination import Page
from ._base import Resource, decode_result

if TYPE_CHECKING:
    import pathlib

    from .._config import TimeoutTypes
    from .._http import HTTPResponse
    from .._multipart import FileInput

__all__ = ["FileContent", "Files"]

_PATH = C.OPENAI_PREFIX + "/files"
_READ = 1 << 20


def _object_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or "/" in value:
        raise ArgumentValueError(
            f"{what} must be an id string such as 'file_abc123', not {value!r}"
        )
    return quote(value, safe="")


def _query(path: str, params: Mapping[str, Any]) -> str:
    given = {k: v for k, v in params.items() if v is not None}
    return f"{path}?{urlencode(given)}" if given else path


def _measure(file: FileInput) -> tuple[int, int]:
    """The size in bytes and the number of lines of an upload, read in chunks (a file
    object is put back where it was)."""
    source = file[1] if isinstance(file, tuple) else file
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _count(io.BytesIO(source))
    if isinstance(source, (str, os.PathLike)):
        size = os.path.getsize(source)
        if size > C.BATCH_MAX_INPUT_BYTES:
            return size, 0  # refused on its size alone: no need to read it
        with open(source, "rb") as f:
            return _count(f)
    try:
        start = source.tell()
    except (OSError, AttributeError, ValueError):
        raise ArgumentTypeError(
            "file is a stream that cannot seek back after its limits are checked: pass its "
            "path or its bytes instead"
        ) from None
    try:
        return _count(source)
    finally:
        source.seek(start)


def _count(f: IO[bytes]) -> tuple[int, int]:
    size = lines = 0
    last = b"\n"
    while chunk := f.read(_READ):
        size += len(chunk)
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    return size, lines + (last != b"\n")


def check_upload_limits(size: int, lines: int) -> None:
    """Refuse a batch input file over DeepInfra's limits, naming the limit and the fix."""
    if size > C.FILE_MAX_BYTES:
        raise ArgumentValueError(
            f"the file is {size:,} bytes; DeepInfra takes files of at most "
            f"{C.FILE_MAX_BYTES:,} bytes (512 MB): split it"
        )
    if size > C.BATCH_MAX_INPUT_BYTES:
        raise ArgumentValueError(
            f"the file is {size:,} bytes; a batch input file may be at most "
            f"{C.BATCH_MAX_INPUT_BYTES:,} bytes (200 MB): split it into several batches "
            "(client.batches.run splits for you)"
        )
    if lines > C.BATCH_MAX_LINES:
        raise ArgumentValueError(
            f"the file has {lines:,} lines; a batch input file may hold at most "
            f"{C.BATCH_MAX_LINES:,} requests: split it into several batches "
            "(client.batches.run splits for you)"
        )


class FileContent:
    """A file's bytes as they arrive: :meth:`save` them or iterate :meth:`iter_lines`;
    the body is never held whole in memory. Use it as a context manager (or call
    :meth:`close`) when you stop early, to release the connection."""

    __slots__ = ("_response",)

    def __init__(self, response: HTTPResponse) -> None:
        self._response = response

    @property
    def request_id(self) -> Optional[str]:
        """The server's request id, when it sent one."""
        return self._response.request_id

    def iter_bytes(self) -> Iterator[bytes]:
        """The body in pieces as they arrive."""
        try:
            yield from self._response.iter_bytes()
        finally:
            self._response.close()

    def iter_lines(self) -> Iterator[str]:
        """The body line by line (UTF-8, without line endings; a JSONL file's records)."""
        line = bytearray()  # grows in place: a long line arriving in pieces stays linear
        for piece in self.iter_bytes():
            start = 0
            while (end := piece.find(b"\n", start)) >= 0:
                line += piece[start:end]
                yield line.rstrip(b"\r").decode("utf-8")
                line.clear()
                start = end + 1
            line += piece[start:]
        if line:
            yield line.rstrip(b"\r").decode("utf-8")

    @strict_keywords
    def save(self, path: Union[str, os.PathLike[str]]) -> pathlib.Path:
        """Write the body to ``path`` as it arrives (atomically: a broken download leaves
        no partial file); the path written."""
        from .._files import save_response

        return save_response(self._response, path)

    def close(self) -> None:
        """Release the connection (dropped if the body was not read to its end)."""
        self._response.close()

    def __enter__(self) -> FileContent:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


class Files(Resource):
    """``/v1/openai/files``: upload batch input, read batch results."""

    __slots__ = ()

    @strict_keywords
    def create(
        self,
        *,
        file: FileInput,
        purpose: str = "batch",
        expires_after_seconds: Optional[int] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> FileObject:
        """Upload a file: a path, bytes, a file opened in binary mode, or a
        ``(filename, source)`` pair.

        The body is streamed from disk and never sent twice once it has started (the server
        may hold part of it). A batch input file over DeepInfra's limits (50,000 lines,
        200 MB) is refused before anything is sent, with a message naming the limit.

        Args:
            file: the JSONL of requests (one ``{"custom_id", "method", "url", "body"}`` a line).
            purpose: ``"batch"``, the only purpose DeepInfra takes.
            expires_after_seconds: delete the file this long after its creation
                (3,600 to 2,592,000 s; DeepInfra keeps it 30 days otherwise).
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's; every method of
                ``files`` and ``batches`` takes it, and the two below.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.
        """
        if purpose != "batch":
            raise ArgumentValueError(
                f"purpose must be 'batch' (the only one DeepInfra takes), not {purpose!r}"
            )
        if expires_after_seconds is not None and (
            isinstance(expires_after_seconds, bool)
            or not isinstance(expires_after_seconds, int)
            or not 3600 <= expires_after_seconds <= 2592000
        ):
            raise ArgumentValueError(
                "expires_after_seconds must be a whole number of seconds within "
                f"3600..2592000 (1 hour to 30 days), not {expires_after_seconds!r}"
            )
        from .._multipart import MultipartBody

        fields: dict[str, Any] = {"purpose": purpose}
        if expires_after_seconds is not None:
            fields["expires_after[anchor]"] = "created_at"
            fields["expires_after[seconds]"] = expires_after_seconds
        # Built first: it refuses a missing path or a text-mode file, and reads nothing.
        body = MultipartBody(fields=fields, files={"file": file})
        check_upload_limits(*_measure(file))
        response = self._client._send(
            "POST",
            _PATH,
            upload=body,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return decode_result(response, FileObject, what="the uploaded file")

    @strict_keywords
    def retrieve(
        self,
        file_id: str,
        *,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> FileObject:
        """A file's description."""
        path = f"{_PATH}/{_object_id(file_id, 'file_id')}"
        response = self._client._send(
            "GET", path, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        return decode_result(response, FileObject, what="the file")

    @strict_keywords
    def list(
        self,
        *,
        purpose: Optional[str] = None,
        limit: Optional[int] = None,
        order: Optional[str] = None,
        after: Optional[str] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> Page[FileObject]:
        """A page of files (newest first unless ``order="asc"``); iterating the page goes
        on through the following pages."""
        if order not in (None, "asc", "desc"):
            raise ArgumentValueError(f"order must be 'asc' or 'desc', not {order!r}")

        def fetch(cursor: Optional[str]) -> Page[FileObject]:
            query = {"purpose": purpose, "limit": limit, "order": order, "after": cursor}
            data = self._client._send(
                "GET",
                _query(_PATH, query),
                timeout=timeout,
                extra_headers=extra_headers,
                max_retries=max_retries,
            ).json()
            return Page.from_wire(data, FileObject.from_wire, fetch)

        return fetch(after)

    @strict_keywords
    def delete(
        self,
        file_id: str,
        *,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> FileDeleted:
        """Delete a file; the answer's ``deleted`` says whether it is gone."""
        path = f"{_PATH}/{_object_id(file_id, 'file_id')}"
        response = self._client._send(
            "DELETE", path, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        return decode_result(response, FileDeleted, what="the deletion")

    @strict_keywords
    def content(
        self,
        file_id: str,
        *,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> FileContent:
        """A file's bytes, streamed: ``.save(path)`` or ``for line in .iter_lines()``."""
        path = f"{_PATH}/{_object_id(file_id, 'file_id')}/content"
        # Streamed to the caller (or a file) piece by piece: max_response_bytes, a bound on
        # what is held in memory, does not apply.
        response = self._client._send(
            "GET",
            path,
            stream=True,
            accept="*/*",
            bounded=False,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return FileContent(response)
