"""The :class:`Emulator`: a local DeepInfra-compatible server you start, script and stop."""

from __future__ import annotations

import ssl
import threading
from types import TracebackType
from typing import Callable, Iterable, List, Optional, Sequence, Type

from ._batches import BatchService
from ._chat import SHAPES
from ._faults import FRAMINGS, LINE_ENDINGS, Fault, RandomFaults
from ._recording import RecordedRequest
from ._server import Server
from ._state import State

__all__ = ["DEFAULT_API_KEY", "Emulator"]

DEFAULT_API_KEY = "emulator-key"
DEFAULT_PING_INTERVAL = 15.0  # sse-starlette's default, which DeepInfra's pings come from
_JOIN_TIMEOUT = 2.0


def _check_delay(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"token_delay must be a non-negative number of seconds, not {value!r}")
    return float(value)


def _check_framing(value: str) -> str:
    if value not in FRAMINGS:
        raise ValueError(f"framing must be one of {', '.join(FRAMINGS)}, not {value!r}")
    return value


def _check_line_ending(value: str) -> str:
    if value not in LINE_ENDINGS:
        raise ValueError(f"line_ending must be one of {LINE_ENDINGS!r}, not {value!r}")
    return value


def _check_shapes(value: str) -> str:
    if value not in SHAPES:
        raise ValueError(f"shapes must be one of {', '.join(SHAPES)}, not {value!r}")
    return value


def _check_ping(value: Optional[float]) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(
            f"ping_interval must be a positive number of seconds or None, not {value!r}"
        )
    return float(value)


def _check_tokens(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"answer_tokens must be a positive integer, not {value!r}")
    return value


class Emulator:
    """A DeepInfra-compatible HTTP/1.1 server on loopback, with fault injection.

    ::

        with Emulator(token_delay=0.01) as emu:
            client = DeepInfraClient(api_key=emu.api_key, base_url=emu.url)
            emu.inject(Fault(status=429, retry_after="1"), route="/v1/openai/chat")
            ...
            assert emu.request_count("/v1/openai/chat/completions") == 2
            print(emu.connections_accepted)  # TCP connections: fewer than requests if reused

    ``api_keys`` None accepts any non-empty bearer token; ``require_auth=False`` also serves
    requests without ``Authorization`` (a present but wrong key is still refused).
    ``token_delay``, ``framing``, ``line_ending``, ``answer_tokens``, ``event_gate``,
    ``shapes``, ``ping_interval`` and ``any_model`` may be changed while running; they apply
    to requests that arrive afterwards.
    ``ssl_context`` (a server-side :class:`ssl.SSLContext` holding a certificate for the
    host) serves HTTPS instead, to test TLS settings; :attr:`url` then starts ``https://``.

    ``shapes="recorded"`` (the default) answers in the shapes recorded from the real service
    (explicit nulls in chunks and messages, spaced stream JSON, realistic ids, embeddings
    usage without a cost); ``"lean"`` sends only the fields that carry something.
    ``ping_interval`` (seconds, default 15 as at DeepInfra; None: never) sends a
    ``: ping - <UTC time>`` comment whenever a stream has been idle that long.
    ``any_model=True`` serves any well-formed ``owner/name``, not only the catalogue's, as a
    model of the type the route needs.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Optional[Iterable[str]] = None,
        require_auth: bool = True,
        token_delay: float = 0.0,
        framing: str = "chunked",
        line_ending: str = "\n",
        answer_tokens: int = 24,
        verbose: bool = False,
        ssl_context: Optional[ssl.SSLContext] = None,
        shapes: str = "recorded",
        ping_interval: Optional[float] = DEFAULT_PING_INTERVAL,
        any_model: bool = False,
    ) -> None:
        keys = tuple(api_keys) if api_keys is not None else None
        if keys is not None and not all(isinstance(k, str) and k for k in keys):
            raise ValueError("api_keys must be non-empty strings")
        self._host = host
        self._port = port
        self._state = State(
            api_keys=keys,
            require_auth=bool(require_auth),
            token_delay=_check_delay(token_delay),
            framing=_check_framing(framing),
            line_ending=_check_line_ending(line_ending),
            answer_tokens=_check_tokens(answer_tokens),
            verbose=bool(verbose),
            shapes=_check_shapes(shapes),
            ping_interval=_check_ping(ping_interval),
            any_model=bool(any_model),
        )
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise ValueError(f"ssl_context must be an ssl.SSLContext, not {ssl_context!r}")
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._server: Optional[Server] = None
        self._thread: Optional[threading.Thread] = None
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind and serve in daemon threads; return self. Raises OSError if the port is taken."""
        with self._lock:
            if self._server is not None or self._stopped:
                raise RuntimeError("an Emulator can be started only once")
            server = Server((self._host, self._port), self._state, self._ssl_context)
            self._port = int(server.server_address[1])
            thread = threading.Thread(
                target=server.serve,
                name="deepinfra-emulator",
                daemon=True,
            )
            self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, and wait for their threads.

        Idempotent. Threads blocked in an ``event_gate`` callback are waited for a short
        while only.
        """
        with self._lock:
            server, thread = self._server, self._thread
            if server is None or self._stopped:
                self._stopped = True
                return
            self._stopped = True
        server.stop_serving()
        if thread is not None:
            thread.join(_JOIN_TIMEOUT)
        server.server_close()
        server.stop_connections(_JOIN_TIMEOUT)
        self._state.batches.close()  # uploads kept in spool files

    def __enter__(self) -> Emulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        state = "stopped" if self._stopped else where
        return f"<Emulator {state}>"

    # -- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, such as ``http://127.0.0.1:54321`` (after :meth:`start`);
        ``https://`` when serving TLS."""
        if self._server is None:
            raise RuntimeError("the Emulator has not been started")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self._host, self._host)
        if ":" in host:
            host = f"[{host}]"
        scheme = "http" if self._ssl_context is None else "https"
        return f"{scheme}://{host}:{self._port}"

    @property
    def port(self) -> int:
        """The port (the one picked by the system when 0 was asked for, after start)."""
        return self._port

    @property
    def open_connections(self) -> int:
        """Client connections open right now (idle keep-alive ones included)."""
        return self._server.connection_count() if self._server is not None else 0

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since :meth:`start` or the last :meth:`reset`.

        Each is counted when the listener accepts it, before any request on it is read
        (one that never sends a request counts too). Fewer connections than requests proves
        keep-alive reuse from the server's side: five sequential requests on one
        ``requests.Session`` count one, while ``framing="close"`` streams count one each.
        Safe to read from any thread.
        """
        return self._state.connections

    @property
    def api_key(self) -> str:
        """A key this emulator accepts: the first of ``api_keys``, else ``emulator-key``."""
        keys = self._state.api_keys
        return keys[0] if keys else DEFAULT_API_KEY

    # -- settings --------------------------------------------------------------------------

    @property
    def token_delay(self) -> float:
        """Seconds between streamed events."""
        return self._state.token_delay

    @token_delay.setter
    def token_delay(self, value: float) -> None:
        self._state.token_delay = _check_delay(value)

    @property
    def framing(self) -> str:
        """``chunked`` | ``content-length`` | ``close``: how event streams are framed."""
        return self._state.framing

    @framing.setter
    def framing(self, value: str) -> None:
        self._state.framing = _check_framing(value)

    @property
    def line_ending(self) -> str:
        """``"\\n"``, ``"\\r\\n"`` or ``"\\r"``: what ends each line of an event stream."""
        return self._state.line_ending

    @line_ending.setter
    def line_ending(self, value: str) -> None:
        self._state.line_ending = _check_line_ending(value)

    @property
    def answer_tokens(self) -> int:
        """Tokens per chat answer when the request gives no ``max_tokens``."""
        return self._state.answer_tokens

    @answer_tokens.setter
    def answer_tokens(self, value: int) -> None:
        self._state.answer_tokens = _check_tokens(value)

    @property
    def event_gate(self) -> Optional[Callable[[int], None]]:
        """Called in the connection thread before event ``k`` (0-based) of a stream is sent.

        Events before ``k`` are already on the wire when it is called, and event ``k`` goes
        out as soon as it returns, so blocking in it holds the stream exactly there (and the
        time of the call is the send time of event ``k``, give or take microseconds).
        """
        return self._state.event_gate

    @event_gate.setter
    def event_gate(self, gate: Optional[Callable[[int], None]]) -> None:
        self._state.event_gate = gate

    @property
    def shapes(self) -> str:
        """``recorded`` | ``lean``: the shape of answers (see the class docstring)."""
        return self._state.shapes

    @shapes.setter
    def shapes(self, value: str) -> None:
        self._state.shapes = _check_shapes(value)

    @property
    def ping_interval(self) -> Optional[float]:
        """Idle seconds after which a stream sends a ``: ping`` comment (None: never)."""
        return self._state.ping_interval

    @ping_interval.setter
    def ping_interval(self, value: Optional[float]) -> None:
        self._state.ping_interval = _check_ping(value)

    @property
    def any_model(self) -> bool:
        """Whether any well-formed ``owner/name`` is served (not only the catalogue's)."""
        return self._state.any_model

    @any_model.setter
    def any_model(self, value: bool) -> None:
        self._state.any_model = bool(value)

    @property
    def verbose(self) -> bool:
        """Whether each request is logged on stderr."""
        return self._state.verbose

    @verbose.setter
    def verbose(self, value: bool) -> None:
        self._state.verbose = bool(value)

    # -- faults and records ----------------------------------------------------------------

    def inject(self, fault: Fault, *, times: int = 1, route: Optional[str] = None) -> None:
        """Give ``fault`` to the next ``times`` requests whose path starts with ``route``.

        Queued faults are used first-in first-out; an ``X-Emulator-Fault`` header takes
        precedence for its own request and leaves the queue alone.
        """
        self._state.faults.add(fault, times, route)

    def inject_random(
        self,
        faults: Sequence[Fault],
        *,
        rate: float,
        seed: int,
        route: Optional[str] = None,
    ) -> RandomFaults:
        """Fault a random share ``rate`` of the requests under ``route``, reproducibly.

        Each request that no queued fault (and no ``X-Emulator-Fault`` header) takes draws
        from a ``random.Random(seed)``: with probability ``rate`` it gets one of ``faults``,
        picked uniformly. Several rules may be added; a request draws from the first whose
        route matches. The returned rule's ``given`` lists ``(path, fault)`` for every
        fault handed out; :meth:`clear_faults` and :meth:`reset` remove the rule.
        """
        rule = RandomFaults(faults, rate, seed, route)
        self._state.faults.add_random(rule)
        return rule

    def clear_faults(self) -> None:
        """Forget every queued fault and random-fault rule."""
        self._state.faults.clear()

    @property
    def pending_faults(self) -> int:
        """Uses of queued faults not yet consumed."""
        return len(self._state.faults)

    @property
    def batches(self) -> BatchService:
        """The files and batches this emulator holds, its batch clock and batch faults."""
        return self._state.batches

    def peak_concurrency(self, model: Optional[str] = None) -> int:
        """The most requests naming ``model`` (None: any one model) in flight at once
        since start or the last :meth:`reset`: what DeepInfra's per-model limit counts."""
        return self._state.peak(model)

    def request_count(self, route: Optional[str] = None, method: Optional[str] = None) -> int:
        """Requests received (faulted ones included) under path prefix ``route``."""
        return self._state.count(route, method)

    @property
    def requests(self) -> List[RecordedRequest]:
        """The requests received, in arrival order (``Authorization`` redacted): the most
        recent 1,000 (``_state.RECORD_LIMIT``); a body over 1 MiB is kept as its length
        (``body_size``) only. :meth:`request_count` counts every request."""
        return self._state.requests

    @property
    def handler_errors(self) -> List[str]:
        """Tracebacks of unexpected errors in connection threads (empty when all is well)."""
        return self._state.errors

    def reset(self) -> None:
        """Forget requests (and their counts), queued faults, and zero
        :attr:`connections_accepted` (connections already open stay open and are not
        counted again)."""
        self._state.reset()
