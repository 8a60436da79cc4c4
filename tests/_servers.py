"""A bare loopback HTTP server for tests that need to write the answer byte by byte."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any, Callable


def read_request(conn: socket.socket) -> bytes:
    """One whole request from ``conn``: the head, then a ``Content-Length`` body if any.

    Reading the body too matters: closing a socket with unread data resets the connection,
    and the client may then see the reset instead of the answer.
    """
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            return data
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        more = conn.recv(65536)
        if not more:
            break
        body += more
    return head + b"\r\n\r\n" + body


@contextlib.contextmanager
def raw_server(script: Callable[[socket.socket], None]) -> Iterator[str]:
    """Serve one connection on loopback: read one request, then let ``script`` write the
    answer (an OSError it meets, such as the client leaving, ends it quietly). Yields the
    base URL; on exit, waits for the connection to be done."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            read_request(conn)
            with contextlib.suppress(OSError):
                script(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        thread.join(10)
        listener.close()


@contextlib.contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[Any], threading.Event]]:
    """A loopback server taking one JSON POST (a webhook delivery). Yields its URL, the list
    the decoded body lands in, and an event set once it has."""
    delivered: list[Any] = []
    arrived = threading.Event()

    class Hook(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            delivered.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()
            arrived.set()

    hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.handle_request, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{hook.server_port}/hook", delivered, arrived
    finally:
        hook.server_close()
