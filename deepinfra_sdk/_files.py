"""Writing downloads to disk: the SDK's one way to put bytes in a file.

Every file the SDK writes (a saved image or audio clip, a response body streamed to disk)
goes through :func:`atomic_write`: the bytes land in a temporary file beside the target,
which is renamed into place only once complete, so no reader ever sees a partial file and
a failed download leaves whatever was there before untouched. A body the caller reads
as it arrives (a file's content) is a :class:`FileContent`.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Callable, Optional, Union

from ._exceptions import APIResponseTooLargeError, APIResponseValidationError
from ._keywords import strict_keywords

if TYPE_CHECKING:
    from ._http import HTTPResponse

__all__ = ["FileContent", "PathType", "atomic_write", "save_response"]

PathType = Union[str, "os.PathLike[str]"]


def atomic_write(dest: PathType, data: Union[bytes, Iterable[bytes]]) -> int:
    """Write ``data`` (bytes, or an iterable of byte chunks written as they come) to
    ``dest`` through a temporary file in the same directory; return the bytes written."""
    dest = pathlib.Path(dest)
    tmp = dest.with_name(f".{dest.name}.{os.urandom(6).hex()}.tmp")
    # os.open with 0o666 lets the umask apply, unlike mkstemp's fixed 0o600.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    written = 0
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
                written += f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return written


def save_response(
    response: HTTPResponse,
    dest: PathType,
    *,
    on_empty: Optional[Callable[[], Exception]] = None,
) -> pathlib.Path:
    """Stream ``response``'s body into ``dest`` as it arrives (never whole in memory),
    atomically; the response is closed afterwards, whatever happens. With ``on_empty``, a
    body without a byte raises ``on_empty()`` instead, and ``dest`` stays as it was."""
    chunks = response.iter_bytes()
    try:
        atomic_write(dest, chunks if on_empty is None else _not_empty(chunks, on_empty))
    finally:
        response.close()
    return pathlib.Path(dest)


def _not_empty(chunks: Iterable[bytes], on_empty: Callable[[], Exception]) -> Iterator[bytes]:
    # Raised before the temporary file is renamed: the target is never replaced by nothing.
    empty = True
    for chunk in chunks:
        empty = empty and not chunk
        yield chunk
    if empty:
        raise on_empty()


class FileContent:
    """A file's bytes as they arrive: :meth:`save` them or iterate :meth:`iter_lines`;
    the body is never held whole in memory. Use it as a context manager (or call
    :meth:`close`) when you stop early, to release the connection."""

    __slots__ = ("_max_bytes", "_max_line", "_response")

    def __init__(self, response: HTTPResponse, *, max_bytes: int, max_line: int) -> None:
        self._response = response
        self._max_bytes = max_bytes
        self._max_line = max_line

    @property
    def request_id(self) -> Optional[str]:
        """The server's request id, when it sent one."""
        return self._response.request_id

    def _too_large(self, what: str, limit: int) -> APIResponseTooLargeError:
        err = APIResponseTooLargeError(
            f"{what} is larger than {limit:,} bytes (DeepInfra's files are at most 512 MB, "
            "the SDK holds one line in memory): if such a file is expected, raise "
            "DeepInfraClient(max_response_bytes=...)",
            request_id=self.request_id,
        )
        err.limit = limit
        return err

    def iter_bytes(self) -> Iterator[bytes]:
        """The body in pieces as they arrive (at most ``max(512 MB, max_response_bytes)``:
        past that, :class:`APIResponseTooLargeError`)."""
        received = 0
        try:
            for piece in self._response.iter_bytes():
                received += len(piece)
                if received > self._max_bytes:
                    raise self._too_large("the file", self._max_bytes)
                yield piece
        finally:
            self._response.close()

    def iter_lines(self) -> Iterator[str]:
        """The body line by line (UTF-8, without line endings; a JSONL file's records); a
        line over ``max_response_bytes`` or not UTF-8 is an :class:`APIResponseValidationError`."""
        line = bytearray()  # grows in place: a long line arriving in pieces stays linear
        for piece in self.iter_bytes():
            start = 0
            while (end := piece.find(b"\n", start)) >= 0:
                line += piece[start:end]
                yield self._decode(line)
                line.clear()
                start = end + 1
            line += piece[start:]
            if len(line) > self._max_line:
                self._response.close()
                raise self._too_large("a line of the file", self._max_line)
        if line:
            yield self._decode(line)

    def _decode(self, line: bytearray) -> str:
        if len(line) > self._max_line:
            self._response.close()
            raise self._too_large("a line of the file", self._max_line)
        try:
            return line.rstrip(b"\r").decode("utf-8")
        except UnicodeDecodeError as exc:
            self._response.close()
            raise APIResponseValidationError(
                f"a line of the file is not UTF-8 text ({exc.reason} at byte {exc.start}): "
                "save() it and read it as bytes instead",
                request_id=self.request_id,
            ) from None

    @strict_keywords
    def save(self, path: PathType) -> pathlib.Path:
        """Write the body to ``path`` as it arrives (atomically: a broken or oversized
        download leaves no partial file); the path written."""
        try:
            atomic_write(path, self.iter_bytes())
        finally:
            self._response.close()  # also when the target cannot be opened
        return pathlib.Path(path)

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
