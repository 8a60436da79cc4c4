"""Writing downloads to disk: the SDK's one way to put bytes in a file.

Every file the SDK writes (a saved image or audio clip, a response body streamed to disk)
goes through :func:`atomic_write`: the bytes land in a temporary file beside the target,
which is renamed into place only once complete, so no reader ever sees a partial file and
a failed download leaves whatever was there before untouched.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Callable, Optional, Union

if TYPE_CHECKING:
    from ._http import HTTPResponse

__all__ = ["PathType", "atomic_write", "save_response"]

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
