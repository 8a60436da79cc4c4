"""A loopback SSE server for many paced streams at once (case 9), in one thread.

A thread per connection (``_sse_server``'s slow mode) wakes 40,000 times a second for 1,000
streams of an event every 25 ms, and on 2 cores that server, not the client, sets the pace.
Here one thread keeps every stream's next event in a heap and writes each when it is due,
so the server's cost per event stays a few microseconds.

Each event's content is the time it was *scheduled* for (``time.time()``, the request's
arrival plus ``i * delay``), so the client measures every event's lag (arrival minus
schedule) on the same clock, whatever delayed it: the server, the network or the client.
"""

from __future__ import annotations

import heapq
import multiprocessing.connection
import selectors
import socket
import time
from typing import Optional

from _sse_server import ChildServer

_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
_PREFIX = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"meta-llama/Llama-3.3-70B-Instruct-Turbo","choices":[{"index":0,"delta":'
    b'{"content":"'
)
_SUFFIX = b'"},"finish_reason":null}]}\n\n'
_FINISH = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"meta-llama/Llama-3.3-70B-Instruct-Turbo","choices":[{"index":0,"delta":{},'
    b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)


def event(scheduled: float) -> bytes:
    """One content event carrying its scheduled time."""
    return _PREFIX + b"%.6f" % scheduled + _SUFFIX


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP chunk."""
    return b"%x\r\n" % len(data) + data + b"\r\n"


class _Conn:
    __slots__ = ("buf", "next", "out", "sock", "start")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.out = b""
        self.start = 0.0
        self.next = -1  # the next event's index; -1: waiting for a request


def serve(port_pipe: multiprocessing.connection.Connection, events: int, delay: float) -> None:
    """Serve forever: ``events`` content events ``delay`` apart per request, then a finish
    chunk and ``[DONE]`` with the last one (keep-alive)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    listener.setblocking(False)
    port_pipe.send(listener.getsockname()[1])
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    due: list[tuple[float, int, _Conn]] = []
    count = 0

    def send(conn: _Conn, data: bytes) -> None:
        conn.out += data
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            conn.out = b""
            return
        conn.out = conn.out[sent:]

    while True:
        timeout: Optional[float] = None
        if due:
            timeout = max(0.0, due[0][0] - time.time())
        for key, _ in selector.select(timeout):
            if key.fileobj is listener:
                while True:
                    try:
                        sock, _ = listener.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    sock.setblocking(False)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    selector.register(sock, selectors.EVENT_READ, _Conn(sock))
                continue
            conn: _Conn = key.data
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                selector.unregister(conn.sock)
                conn.sock.close()
                conn.next = -2  # gone: its pending events are dropped
                continue
            conn.buf += data
            if conn.next == -1 and b"\r\n\r\n" in conn.buf:
                head, _, rest = conn.buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if len(rest) >= length:
                    conn.buf = rest[length:]
                    conn.start = time.time()
                    conn.next = 0
                    count += 1
                    heapq.heappush(due, (conn.start, count, conn))
        now = time.time()
        while due and due[0][0] <= now:
            _, _, conn = heapq.heappop(due)
            if conn.next < 0:
                continue
            i = conn.next
            data = event(conn.start + i * delay)
            data = _HEAD + chunk(data) if i == 0 else chunk(data)
            if i + 1 == events:
                data += chunk(_FINISH) + b"0\r\n\r\n"
                conn.next = -1
            else:
                conn.next = i + 1
                count += 1
                heapq.heappush(due, (conn.start + (i + 1) * delay, count, conn))
            send(conn, data)


class FanOutServer(ChildServer):
    """:func:`serve` in a child process (it never competes with the client for the GIL)."""

    def __init__(self, events: int, delay: float) -> None:
        super().__init__(_serve_child, events, delay)


def _serve_child(events: int, delay: float, pipe: multiprocessing.connection.Connection) -> None:
    serve(pipe, events, delay)
