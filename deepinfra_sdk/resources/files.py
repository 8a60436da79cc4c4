"""``client.files``: the files batches read and write (``/v1/openai/files``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

from .. import _constants as C
from .._bulk_types import FileDeleted, FileObject
from .._exceptions import ArgumentTypeError, ArgumentValueError
from .._files import FileContent
from .._keywords import strict_keywords
from .._multipart import MultipartBody
from .._pagination import Page
from .._validation import path_id, with_query
from ._base import Resource, decode_result

if TYPE_CHECKING:
    from .._config import TimeoutTypes
    from .._multipart import FileInput

__all__ = ["FileContent", "Files"]

_PATH = C.OPENAI_PREFIX + "/files"


def check_upload_limits(body: MultipartBody) -> None:
    """Refuse a batch input file over DeepInfra's limits, naming the limit and the fix;
    its lines are counted in one pass over the source (read again when it is sent)."""
    [part] = body.parts
    size = part.size
    if size is None:
        raise ArgumentTypeError(
            "file is a stream that cannot seek back after its limits are checked: pass its "
            "path or its bytes instead"
        )
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
    lines, last = 0, b"\n"
    for chunk in part.chunks():
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    lines += last != b"\n"
    if lines > C.BATCH_MAX_LINES:
        raise ArgumentValueError(
            f"the file has {lines:,} lines; a batch input file may hold at most "
            f"{C.BATCH_MAX_LINES:,} requests: split it into several batches "
            "(client.batches.run splits for you)"
        )


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
        fields: dict[str, Any] = {"purpose": purpose}
        if expires_after_seconds is not None:
            fields["expires_after[anchor]"] = "created_at"
            fields["expires_after[seconds]"] = expires_after_seconds
        # Built first: it refuses a missing path or a text-mode file, and reads nothing.
        body = MultipartBody(fields=fields, files={"file": file})
        check_upload_limits(body)
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
        path = f"{_PATH}/{path_id(file_id, 'file_id')}"
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
                with_query(_PATH, query),
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
        path = f"{_PATH}/{path_id(file_id, 'file_id')}"
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
        path = f"{_PATH}/{path_id(file_id, 'file_id')}/content"
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
        limit = self._client._config.max_response_bytes
        return FileContent(response, max_bytes=max(C.FILE_MAX_BYTES, limit), max_line=limit)
