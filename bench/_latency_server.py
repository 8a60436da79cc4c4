"""A loopback SSE server that stamps each event with the moment it was sent (for latency).

Every request gets the response head at once, then ``n_events`` content chunks
``interval`` seconds apart, the first one ``interval`` after the head (as a model takes a
while to its first token, so the client's handling of the head is not part of any event's
latency), on a deadline schedule, so sleeps do not drift; a finish chunk and ``[DONE]`` go
with the last one. Each content chunk's text is the server's
``time.monotonic()`` just before the write, as a fixed-width decimal: on Linux
``time.monotonic()`` reads ``CLOCK_MONOTONIC``, one clock for the whole system, so the client
process can subtract it from its own ``time.monotonic()`` at arrival. (Also system-wide on
macOS and Windows.) Fixed width keeps every frame the same length, which a
``Content-Length`` response needs before its first byte.

Framings: ``chunked`` (one HTTP chunk per event), ``content-length`` and ``close`` (the body
ends when the server closes the connection). The server runs in a child process, so its
sleeps and writes never hold the client's GIL.
"""

from __future__ import annotations

import json
import multiprocessing.connection
import socket
import threading
import time

from _sse_server import ChildServer, read_request

FRAMINGS = ("chunked", "content-length", "close")

_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def _frame(obj: dict[str, object]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def stamp(t: float) -> str:
    """A send time as fixed-width text (20 characters: the frame length never varies)."""
    return f"{t:020.9f}"


def _content_frame(t: float) -> bytes:
    return _frame(
        {
            "id": "chatcmpl-latency",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": _MODEL,
            "choices": [{"index": 0, "delta": {"content": stamp(t)}, "finish_reason": None}],
        }
    )


_TAIL = (
    _frame(
        {
            "id": "chatcmpl-latency",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": _MODEL,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )
    + b"data: [DONE]\n\n"
)


class LatencyServer:
    """Serves timestamped events in one framing; see the module docstring."""

    def __init__(self, framing: str, n_events: int, interval: float) -> None:
        if framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")
        self.framing = framing
        self.n_events = n_events
        self.interval = interval
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]

    def _head(self) -> bytes:
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        if self.framing == "chunked":
            head += "Transfer-Encoding: chunked\r\n"
        elif self.framing == "content-length":
            length = self.n_events * len(_content_frame(0.0)) + len(_TAIL)
            head += f"Content-Length: {length}\r\n"
        else:
            head += "Connection: close\r\n"
        return (head + "\r\n").encode()

    def _wrap(self, payload: bytes, last: bool) -> bytes:
        if self.framing != "chunked":
            return payload
        out = b"%x\r\n" % len(payload) + payload + b"\r\n"
        return out + b"0\r\n\r\n" if last else out

    def _stream(self, conn: socket.socket) -> None:
        started = time.monotonic()
        conn.sendall(self._head())
        for i in range(self.n_events):
            wait = started + (i + 1) * self.interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            last = i == self.n_events - 1
            # The stamp is taken as late as possible: right before the bytes go out.
            payload = _content_frame(time.monotonic())
            conn.sendall(self._wrap(payload + _TAIL if last else payload, last))

    def _serve_conn(self, conn: socket.socket) -> None:
        with conn:
            buf: bytes | None = b""
            while True:
                buf = read_request(conn, buf or b"")
                if buf is None:
                    return
                self._stream(conn)
                if self.framing == "close":
                    conn.shutdown(socket.SHUT_WR)
                    return

    def serve_forever(self) -> None:
        """Accept connections until the process ends, a thread each."""
        while True:
            conn, _ = self._sock.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve_conn, args=(conn,), daemon=True).start()


def _run(
    framing: str, n_events: int, interval: float, pipe: multiprocessing.connection.Connection
) -> None:
    server = LatencyServer(framing, n_events, interval)
    pipe.send(server.port)
    server.serve_forever()


class ProcessLatencyServer(ChildServer):
    """:class:`LatencyServer` in a child process (``with`` it; terminated on exit)."""

    def __init__(self, framing: str, n_events: int, interval: float) -> None:
        super().__init__(_run, framing, n_events, interval)
