"""A hostile HTTP server on loopback: every connection's answer is written by a script.

Unlike the emulator, it can send anything: compression bombs, endless bodies, headers a
byte at a time, redirect loops. Each request's head is recorded (never its body, so the
recording stays small); the connection is closed after each answer.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
import tracemalloc
from collections.abc import Iterator
from typing import Callable, Optional

from tests._servers import read_request

Script = Callable[[socket.socket, bytes], None]


class Hostile:
    """A running hostile server: ``url``, and the request heads it received."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.heads: list[bytes] = []

    def count(self, method: str = "") -> int:
        """How many requests arrived (with ``method``, if given)."""
        return sum(1 for h in self.heads if h.startswith(method.encode()))


@contextlib.contextmanager
def peak_memory() -> Iterator[list[int]]:
    """Measure the peak of Python allocations (all threads) inside the block: the list
    holds the peak in bytes afterwards."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    out: list[int] = []
    try:
        yield out
    finally:
        out.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


@contextlib.contextmanager
def hostile_server(
    script: Script, *, tls: Optional[ssl.SSLContext] = None, read: bool = True
) -> Iterator[Hostile]:
    """Serve every connection: read one request, record its head, run ``script(conn,
    head)`` (an OSError it meets, such as the client leaving, ends it quietly), close.
    ``read=False``: run the script at once, reading nothing (a server that never reads)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    scheme = "https" if tls is not None else "http"
    server = Hostile(f"{scheme}://127.0.0.1:{listener.getsockname()[1]}")
    threads: list[threading.Thread] = []
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        try:
            if tls is not None:
                conn = tls.wrap_socket(conn, server_side=True)
            request = read_request(conn) if read else b""
            if read and not request:
                return
            server.heads.append(request.partition(b"\r\n\r\n")[0])
            script(conn, request)
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=serve, args=(conn,), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        acceptor.join(5)
        for thread in threads:
            thread.join(10)


def head(status: str, *headers: str, length: Optional[int] = None) -> bytes:
    """A response head: the status (``"200 OK"``), header lines, and a Content-Length."""
    lines = [f"HTTP/1.1 {status}", *headers, "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


_bombs: dict[int, bytes] = {}


def gzip_bomb(decoded: int) -> bytes:
    """``decoded`` zero bytes, gzipped twice: a few hundred bytes on the wire."""
    if decoded not in _bombs:
        _bombs[decoded] = gzip.compress(gzip.compress(bytes(decoded), 9), 9)
    return _bombs[decoded]
