"""A minimal loopback SSE server for benchmarks: pre-rendered bodies, sent as fast as possible.

The emulator does real work per event; when the client's throughput is what is measured,
the server must cost nothing, so bodies are rendered once and written with sendall.

With ``delay`` > 0 (a *slow* stream, for concurrency benchmarks) the body is sent one SSE
frame per HTTP chunk, frame ``i`` at ``i * delay`` seconds after the request (a deadline
schedule, so sleeps do not drift), the ``[DONE]`` frame together with the last one. Every
connection has its own thread, so hundreds of slow streams run at once.
"""

from __future__ import annotations

import json
import multiprocessing.connection
import socket
import threading
import time
from typing import Any, Optional, TypeVar


def render_stream(n_chunks: int, *, sep: bytes = b"\n") -> bytes:
    """An SSE body of ``n_chunks`` small content chunks, a finish chunk with usage, [DONE]."""
    frames = []
    for i in range(n_chunks):
        obj = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "choices": [
                {"index": 0, "delta": {"content": f" tok{i % 100}"}, "finish_reason": None}
            ],
        }
        frames.append(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + sep + sep)
    finish = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": n_chunks,
            "total_tokens": n_chunks + 10,
            "estimated_cost": 0.001,
        },
    }
    frames.append(b"data: " + json.dumps(finish).encode() + sep + sep)
    frames.append(b"data: [DONE]" + sep + sep)
    return b"".join(frames)


def read_request(conn: socket.socket, buf: bytes) -> Optional[bytes]:
    """Consume one request (head and Content-Length body); the bytes after it, None at EOF."""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(rest) < length:
        data = conn.recv(65536)
        if not data:
            return None
        rest += data
    return rest[length:]


class BenchServer:
    """Answers every request on loopback with one pre-rendered body (keep-alive).

    ``framing`` is ``"chunked"`` (64 KiB chunks) or anything else for a ``Content-Length``
    body; ``content_type`` serves JSON as well as SSE (the non-stream request benchmark).
    """

    def __init__(
        self,
        body: bytes,
        *,
        framing: str = "chunked",
        content_type: str = "text/event-stream",
        delay: float = 0.0,
    ) -> None:
        self.body = body
        self.framing = framing
        self.content_type = content_type
        self.delay = delay
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(512)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: Optional[threading.Thread] = None
        self._stopped = False

    def _response(self) -> bytes:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {self.content_type}\r\n"
        if self.framing == "chunked":
            # One chunk per 64 KiB, as a real server flushing fast would produce.
            parts = []
            for i in range(0, len(self.body), 65536):
                piece = self.body[i : i + 65536]
                parts.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
            return (
                (head + "Transfer-Encoding: chunked\r\n\r\n").encode()
                + b"".join(parts)
                + b"0\r\n\r\n"
            )
        return (head + f"Content-Length: {len(self.body)}\r\n\r\n").encode() + self.body

    def _slow_parts(self) -> list[bytes]:
        """The response in pieces to send ``delay`` apart: head + first frame, then a frame each."""
        frames = [f + b"\n\n" for f in self.body.split(b"\n\n") if f]
        if len(frames) >= 2 and frames[-1].startswith(b"data: [DONE]"):
            frames[-2:] = [frames[-2] + frames[-1]]  # [DONE] rides with the last chunk
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {self.content_type}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        parts = [b"%x\r\n" % len(f) + f + b"\r\n" for f in frames]
        parts[0] = head + parts[0]
        parts[-1] += b"0\r\n\r\n"
        return parts

    def _send(self, conn: socket.socket, payload: object) -> None:
        if isinstance(payload, bytes):
            conn.sendall(payload)
            return
        assert isinstance(payload, list)
        started = time.monotonic()
        for i, part in enumerate(payload):
            wait = started + i * self.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            conn.sendall(part)

    def _serve_conn(self, conn: socket.socket, payload: object) -> None:
        with conn:
            buf: Optional[bytes] = b""
            while not self._stopped:
                buf = read_request(conn, buf or b"")
                if buf is None:
                    return
                self._send(conn, payload)

    def _accept_loop(self) -> None:
        payload: object = self._slow_parts() if self.delay > 0 else self._response()
        while not self._stopped:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve_conn, args=(conn, payload), daemon=True).start()

    def __enter__(self) -> BenchServer:
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped = True
        self._sock.close()


def _run_forever(
    body: bytes,
    framing: str,
    delay: float,
    content_type: str,
    port_pipe: multiprocessing.connection.Connection,
) -> None:
    server = BenchServer(body, framing=framing, delay=delay, content_type=content_type)
    port_pipe.send(server.port)
    server._accept_loop()


_S = TypeVar("_S", bound="ChildServer")


class ChildServer:
    """A loopback server run by ``target(*args, pipe)`` in a forked child process, which
    sends its port down the pipe; ``with`` it, and it is terminated on exit."""

    def __init__(self, target: Any, *args: Any) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=target, args=(*args, child), daemon=True)
        self._proc.start()
        self.port: int = parent.recv()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.join(5)


class ProcessBenchServer(ChildServer):
    """The same server in a child process, so it never competes with the client for the GIL."""

    def __init__(
        self,
        body: bytes,
        *,
        framing: str = "chunked",
        delay: float = 0.0,
        content_type: str = "text/event-stream",
    ) -> None:
        super().__init__(_run_forever, body, framing, delay, content_type)
