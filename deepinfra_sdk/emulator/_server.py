"""The HTTP/1.1 server: threads, connections, request parsing, faults, and shutdown.

One daemon thread per connection (``ThreadingMixIn``), persistent connections, a deep
listen backlog. Each accepted connection is counted in the state (so tests can see
keep-alive reuse) and tracked so :meth:`Server.stop_connections` can wake and end them all;
resets are real (``SO_LINGER`` 0, then close, so the peer sees ECONNRESET), and a peer that
vanishes mid-response only ends its own thread, quietly.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Dict, Iterable, Optional, Set, Tuple
from urllib.parse import parse_qsl, urlsplit

from ._errors import fault_body
from ._faults import FRAMINGS, MAX_HEADER_CHARS, MAX_HEADER_FRAME_BYTES, Fault
from ._ids import new_request_id
from ._inference import is_image_route, spoil_images
from ._multipart import Form, FormError, body_reader, is_multipart, linger, read_form
from ._recording import Headers, RecordedRequest, redact
from ._reply import Reply
from ._routes import Request, form_limit, route
from ._sse import encode_events
from ._state import RECORD_BODY_BYTES, State
from ._transport import Delivery, Stopped, deliver, pause

try:  # Linux (and most Unixes): lets a reset wait until sent bytes were acknowledged.
    import fcntl
    import termios

    _OUTQ: Optional[int] = getattr(termios, "TIOCOUTQ", None)
except ImportError:  # pragma: no cover - Windows
    _OUTQ = None

__all__ = ["Server"]

_MAX_BODY = 64 * 1024 * 1024
_IDLE_TIMEOUT = 300.0  # seconds a connection may sit idle (or blocked) before it is dropped
_DRAIN_TIMEOUT = 0.5
# How long the accept loop rests after an error other than "nothing to accept" (out of file
# descriptors: the listener stays readable, and retrying at once would spin), doubling up to
# the second value while the errors go on.
_ACCEPT_BACKOFF = (0.01, 1.0)


def _drain(sock: socket.socket) -> None:
    # A reset discards whatever the peer has not acknowledged yet; wait (briefly) until the
    # events already written have arrived, so "reset after K events" delivers exactly K.
    if _OUTQ is None:
        time.sleep(0.01)
        return
    deadline = time.monotonic() + _DRAIN_TIMEOUT
    while True:
        try:
            pending = struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, b"\0\0\0\0"))[0]
        except OSError:
            return
        if pending <= 0 or time.monotonic() > deadline:
            return
        time.sleep(0.001)


def _parse_json(body: bytes) -> Tuple[Any, Optional[str]]:
    if not body.strip():
        return None, None
    try:
        return json.loads(body), None
    except RecursionError:
        return None, "the JSON nests arrays or objects too deeply"
    except ValueError as exc:
        return None, str(exc)


def _model_of(body: bytes) -> Optional[str]:
    """The ``model`` a JSON request body names (a small body only: it is decoded twice)."""
    if not body.startswith(b"{") or len(body) > 1 << 20:
        return None
    parsed, _ = _parse_json(body)
    model = parsed.get("model") if isinstance(parsed, dict) else None
    return model if isinstance(model, str) else None


class _Conn:
    """The :class:`~._transport.Connection` of one handler."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self._sock = sock
        self._stopping = stopping

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def wait(self, seconds: float) -> bool:
        return self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A request line too broken to parse is answered as HTTP/1.1 (a status line, then the
    # error): the base class's HTTP/0.9 default would send the error page with no status.
    default_request_version = "HTTP/1.1"
    server_version = "deepinfra-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = _IDLE_TIMEOUT
    server: Server

    def version_string(self) -> str:
        """The ``Server`` header value (also on the base class's own error pages)."""
        return self.server_version

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:
            # The peer went away, or stop() shut the socket: nothing left to answer.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        self.server.state.log(f"{self.address_string()} {format % args}")

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve()

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve()

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_POST

    # -- request ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        read = body_reader(self.rfile, self.headers.get("Content-Length"), chunked, _MAX_BODY)
        return b"".join(iter(lambda: read(1 << 20), b""))

    def _controls(self, headers: Headers) -> Tuple[Optional[Fault], Optional[float], Optional[str]]:
        # Per-request knobs from X-Emulator-* headers; ValueError says which one is wrong.
        fault = None
        raw = headers.get("x-emulator-fault")
        if raw is not None:
            if len(raw) > MAX_HEADER_CHARS:
                raise ValueError(
                    f"Invalid X-Emulator-Fault header: longer than {MAX_HEADER_CHARS} characters"
                )
            try:
                fault = Fault.from_json(raw)
            except ValueError as exc:
                raise ValueError(f"Invalid X-Emulator-Fault header: {exc}") from None
            if (fault.frame_bytes or 0) > MAX_HEADER_FRAME_BYTES:
                raise ValueError(
                    "Invalid X-Emulator-Fault header: frame_bytes over "
                    f"{MAX_HEADER_FRAME_BYTES} (inject() allows larger frames)"
                )
        delay = None
        raw = headers.get("x-emulator-token-delay")
        if raw is not None:
            try:
                delay = float(raw)
                if not 0 <= delay < 3600:
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"Invalid X-Emulator-Token-Delay header: {raw!r} (seconds, >= 0)"
                ) from None
        framing = headers.get("x-emulator-framing")
        if framing is not None and framing not in FRAMINGS:
            raise ValueError(
                f"Invalid X-Emulator-Framing header: {framing!r} (one of {', '.join(FRAMINGS)})"
            )
        return fault, delay, framing

    # -- response --------------------------------------------------------------------------

    def _serve(self) -> None:
        state = self.server.state
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute-form request target
            try:
                parts = urlsplit(target)
            except ValueError:
                parts = None
            if parts is None or not target.lower().startswith(("http://", "https://")):
                self._refuse(f"Malformed request target: {target[:200]!r}")
                return
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        elif not target.startswith("/") and target != "*":
            self._refuse(f"Malformed request target: {target[:200]!r}")
            return
        path = target.split("?", 1)[0]
        pairs = list(self.headers.items())
        headers = Headers.from_pairs(pairs)
        recorded = state.record(
            self.command, target, Headers.from_pairs((k, redact(k, v)) for k, v in pairs)
        )
        conn = _Conn(self.connection, self.server.stopping)
        form: Optional[Form] = None
        try:
            if is_multipart(headers.get("content-type")):
                # Streamed to spool files as it arrives, never whole in memory.
                form = read_form(self.rfile, headers, form_limit(self.command, path))
                recorded.form = form.summary()
                body = b""
            else:
                body = self._read_body()
        except FormError as exc:
            self.close_connection = True
            self._answer(conn, Reply(status=exc.status, payload={"error": str(exc)}), None)
            linger(self.connection)  # let the client finish sending and read the answer
            return
        try:
            # Requests for one model in flight at once, for tests of concurrency limits.
            with state.serving(_model_of(body)):
                self._serve_body(
                    conn,
                    state=state,
                    target=target,
                    path=path,
                    headers=headers,
                    recorded=recorded,
                    body=body,
                    form=form,
                )
        finally:
            if form is not None:
                form.close()

    def _serve_body(
        self,
        conn: _Conn,
        *,
        state: State,
        target: str,
        path: str,
        headers: Headers,
        recorded: RecordedRequest,
        body: bytes,
        form: Optional[Form],
    ) -> None:
        parsed, json_error = _parse_json(body)
        recorded.body_size = len(body)
        if len(body) <= RECORD_BODY_BYTES:  # a larger one is kept as its length only
            recorded.body = body
            recorded.json = parsed

        authorized = state.authorized(headers.get("authorization"))
        fault, delay, framing = None, None, None
        if authorized:
            # Only a request that may use the emulator may steer it: the header is
            # parsed after the key is checked (an unauthorized one is answered 401).
            try:
                fault, delay, framing = self._controls(headers)
            except ValueError as exc:
                self._answer(conn, Reply(status=400, payload={"error": str(exc)}), None)
                return
        if fault is None:
            fault = state.faults.take(path)
        request_id = (fault.request_id if fault is not None else None) or new_request_id()

        if fault is not None:
            try:
                if fault.stalls_at("before_response"):
                    pause(conn, fault.stall)
            except Stopped:
                self.close_connection = True
                return
            if fault.drops_at("before_response"):
                self._reset(drain=False)
                state.log(f"{self.command} {target} -> reset before response")
                return
        if fault is not None and fault.status is not None:
            reply = Reply.from_error(
                fault_body(
                    fault.status,
                    fault.body_shape,
                    fault.message,
                    openai_route=path.startswith("/v1/openai"),
                )
            )
        else:
            reply = self._route(
                Request(
                    method=self.command,
                    path=path,
                    headers=headers,
                    json=parsed,
                    json_error=json_error,
                    request_id=request_id,
                    authorized=authorized,
                    answer_tokens=state.answer_tokens,
                    shapes=state.shapes,
                    any_model=state.any_model,
                    form=form,
                    query=dict(parse_qsl(target.partition("?")[2])),
                    batches=state.batches,
                    prompt_cache=state.prompt_cache,
                )
            )
        if (
            fault is not None
            and fault.image_result is not None
            and reply.status == 200
            and isinstance(reply.payload, dict)
            and is_image_route(path)
        ):
            reply.payload = spoil_images(reply.payload, fault.image_result, path)
        self._answer(conn, reply, fault, request_id=request_id, delay=delay, framing=framing)
        state.log(f"{self.command} {target} -> {reply.status}")

    def _refuse(self, message: str) -> None:
        # Before anything is read or recorded: answer 400 and end the connection.
        self.close_connection = True
        conn = _Conn(self.connection, self.server.stopping)
        self._answer(conn, Reply(status=400, payload={"error": message}), None)

    def _route(self, request: Request) -> Reply:
        try:
            return route(request)
        except Exception as exc:  # a bug here: answer 500 and keep it for the tests to see
            self.server.state.error(traceback.format_exc())
            return Reply(status=500, payload={"error": f"emulator error: {exc!r}"})

    def _answer(
        self,
        conn: _Conn,
        reply: Reply,
        fault: Optional[Fault],
        *,
        request_id: Optional[str] = None,
        delay: Optional[float] = None,
        framing: Optional[str] = None,
    ) -> None:
        state = self.server.state
        fields = [
            ("Content-Type", reply.content_type),
            ("x-request-id", request_id or new_request_id()),
            *reply.headers,
        ]
        if fault is not None and fault.retry_after is not None:
            fields.append(("Retry-After", fault.retry_after))
        framing = framing or (fault.framing if fault is not None else None)
        how = Delivery(keep_alive=not self.close_connection, fault=fault)
        blocks: Iterable[bytes]
        if reply.events is not None:
            line_ending = (fault.line_ending if fault is not None else None) or state.line_ending
            blocks = encode_events(reply.events, line_ending, fault)
            how.framing = framing or state.framing
            how.token_delay = state.token_delay if delay is None else delay
            how.gate = state.event_gate
            how.ping_interval = state.ping_interval
            how.line_ending = line_ending
            how.events_point = fault.after_events if fault is not None else 0
        else:
            body = reply.body()
            how.framing = framing or "content-length"
            how.events_point = 1
            splits = fault is not None and (
                fault.drops_at("after_events") or fault.stalls_at("after_events")
            )
            half = len(body) // 2
            blocks = [body[:half], body[half:]] if splits else [body]
        if how.framing == "chunked" and self.request_version != "HTTP/1.1":
            how.framing = "close"  # HTTP/1.0 knows no chunked encoding
        try:
            outcome = deliver(conn, reply.status, fields, blocks, how)
        except (Stopped, OSError):
            self.close_connection = True
            return
        except Exception:  # an event gate raised: the test wants to see it, the peer a reset
            state.error(traceback.format_exc())
            self._reset(drain=True)
            return
        if outcome == "reset":
            self._reset(drain=True)
        elif outcome == "close":
            self.close_connection = True

    def _reset(self, *, drain: bool) -> None:
        self.close_connection = True
        sock = self.connection
        try:
            if drain:
                _drain(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            return
        self.server.mark_reset(sock)


class Server(socketserver.ThreadingMixIn, HTTPServer):
    """A threaded HTTP server that tracks its connections and can end them all."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    block_on_close = False

    def __init__(
        self, address: Tuple[str, int], state: State, ssl_context: Optional[ssl.SSLContext] = None
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.state = state
        self.ssl_context = ssl_context
        self.stopping = threading.Event()
        self._conn_lock = threading.Lock()
        self._conns: Dict[socket.socket, threading.Thread] = {}
        self._resets: Set[socket.socket] = set()
        self._wake_r, self._wake_w = socket.socketpair()
        try:
            super().__init__(address, _Handler)
        except BaseException:
            self._wake_r.close()
            self._wake_w.close()
            raise

    def serve(self) -> None:
        """Accept connections until :meth:`stop_serving` (a loop that wakes at once)."""
        self.socket.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            rest = 0.0
            while not self.stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    if self._accept_all():
                        rest = 0.0
                        continue
                    # An accept failed (out of file descriptors?): the listener is still
                    # readable, so back off before trying again instead of spinning.
                    rest = min(_ACCEPT_BACKOFF[1], max(_ACCEPT_BACKOFF[0], rest * 2))
                    if self.stopping.wait(rest):
                        return

    def _accept_all(self) -> bool:
        """Accept what is waiting; False if an accept failed with an error."""
        while not self.stopping.is_set():
            try:
                request, client_address = self.get_request()
            except (BlockingIOError, InterruptedError):
                return True
            except OSError as exc:
                # Too many open files, or the peer gave up before accept (rare, and a
                # short rest costs nothing then).
                self.state.log(f"accept failed: {exc}")
                return False
            self.state.accepted()
            request.setblocking(True)
            if self.ssl_context is not None:
                # The handshake happens at the first read, in the connection's own thread:
                # a slow or silent client must not hold up the accept loop.
                request = self.ssl_context.wrap_socket(
                    request, server_side=True, do_handshake_on_connect=False
                )
            self.process_request(request, client_address)
        return True

    def stop_serving(self) -> None:
        """Make :meth:`serve` return promptly; new connections are refused from now on."""
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def server_close(self) -> None:
        """Close the listener and the wake-up pair."""
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def server_bind(self) -> None:
        """Bind without ``HTTPServer``'s reverse DNS lookup (slow where DNS is absent)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection in a tracked daemon thread."""
        if self.stopping.is_set():
            self.shutdown_request(request)
            return
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="deepinfra-emulator-connection",
            daemon=True,
        )
        with self._conn_lock:
            self._conns[request] = thread
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection, then forget it."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._conns.pop(request, None)

    def connection_count(self) -> int:
        """Client connections currently open."""
        with self._conn_lock:
            return len(self._conns)

    def mark_reset(self, sock: socket.socket) -> None:
        """Close ``sock`` without a FIN when its handler is done (its linger is already 0)."""
        with self._conn_lock:
            self._resets.add(sock)

    def shutdown_request(self, request: Any) -> None:
        """Close a connection: a reset if marked so, else an orderly shutdown."""
        with self._conn_lock:
            reset = request in self._resets
            self._resets.discard(request)
        if reset:
            request.close()
        else:
            super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection errors are the peer's business; anything else is kept for tests."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        self.state.error(traceback.format_exc())

    def stop_connections(self, timeout: float) -> None:
        """Wake every connection thread (shutting its socket) and wait for them to end."""
        self.stopping.set()
        with self._conn_lock:
            conns = list(self._conns.items())
        for sock, _ in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _, thread in conns:
            thread.join(max(0.0, deadline - time.monotonic()))
