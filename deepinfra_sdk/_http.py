"""The transport: the only module that imports ``requests``.

Everything about the wire below the payload lives here: the pooled session, auth and
headers, phased timeouts, the retry policy that never bills twice, translation of every
``requests``/``urllib3``/socket error into the SDK's error tree, and logging without secrets.
Callers get a :class:`HTTPResponse`, which reads a streamed body chunk by chunk as the
bytes arrive (never line-buffered: a token must not wait for a newline) and can be aborted
from any thread.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import http.client
import json
import logging
import platform
import random
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional, Union
from urllib.parse import urlsplit

import requests
import requests.auth
import requests.cookies
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.response
from requests.adapters import HTTPAdapter

from . import _cancel, _validation
from . import _constants as C
from ._config import ClientConfig, Timeout, redact_url
from ._error_body import KEY_HELP, decode_body, request_id, status_error
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseTooLargeError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ArgumentValueError,
    MissingAPIKeyError,
    UploadError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._multipart import MultipartBody

__all__ = ["HTTPResponse", "HTTPTransport", "retry_delay"]

logger = logging.getLogger(C.LOGGER_NAME)

USER_AGENT = (
    f"deepinfra-sdk/{__version__} python/{platform.python_version_tuple()[0]}."
    f"{platform.python_version_tuple()[1]} requests/{requests.__version__}"
)

# Statuses a POST may be retried on: the server refused the work before doing it.
_POST_RETRY_STATUSES = frozenset({429, 503})
# GETs are idempotent, so gateway failures may be retried too.
_GET_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# With an explicit Retry-After a GET may also be retried on these. A POST never is: a
# 5xx means the request reached a server that may have done (and billed) the work.
_GET_RETRY_AFTER_STATUSES = frozenset({408, 423, 425, 500})
# A greedy read joins at most this much of what already arrived into one piece.
_GREEDY_MAX_BYTES = 1 << 20
# Redirects a GET follows at most (a loop ends as one failed attempt, never retried).
_MAX_REDIRECTS = 5
# A Retry-After shorter than this (0, or a date already past) gets a jitter of up to this
# much added: clients refused together must not all come back in the same instant.
_RETRY_AFTER_MIN_JITTER = 0.25
# userinfo in any URL a library quotes back in a message.
_URL_USERINFO = re.compile(r"(//)[^/@\s]*@")
_SECRET_REQUEST_HEADERS = ("Authorization", "Proxy-Authorization")


def _parse_retry_after(value: Optional[str], now: float) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def retry_delay(attempt: int, retry_after: Optional[float]) -> Optional[float]:
    """How long to sleep before retry number ``attempt`` (0-based); None: do not retry.

    A server's Retry-After wins when present, unless it exceeds the cap, in which case the
    caller is better served by the error now than by a silent wait.
    """
    if retry_after is not None:
        if retry_after > C.RETRY_AFTER_CAP:
            return None
        if retry_after < _RETRY_AFTER_MIN_JITTER:
            return retry_after + random.uniform(0.05, _RETRY_AFTER_MIN_JITTER)
        return retry_after
    ceiling = min(C.RETRY_MAX_DELAY, C.RETRY_INITIAL_DELAY * (2**attempt))
    # Full jitter spreads the retries of many clients hit by the same outage.
    return random.uniform(ceiling / 2, ceiling)


def _is_connect_phase(exc: BaseException) -> bool:
    """True when the request provably never reached the server (safe to retry a POST)."""
    seen: set[int] = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(
            cur,
            (
                urllib3.exceptions.NewConnectionError,
                urllib3.exceptions.NameResolutionError,
                urllib3.exceptions.ConnectTimeoutError,
                requests.exceptions.ConnectTimeout,
                ConnectionRefusedError,
                socket.gaierror,
            ),
        ):
            return True
        if isinstance(cur, urllib3.exceptions.MaxRetryError):
            cur = cur.reason
            continue
        nxt = cur.__cause__ or cur.__context__
        if nxt is None and cur.args and isinstance(cur.args[0], BaseException):
            nxt = cur.args[0]
        cur = nxt
    return False


_TIMEOUTS = (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, socket.timeout)


def _describe(exc: BaseException, url: Optional[str] = None) -> str:
    """What failed, in one line: where (``host:port``), why, and for a failed connect the
    hint to check the base URL. The exception itself stays chained for the details."""
    where = f" to {_host_port(url)}" if url else ""
    if _is_connect_phase(exc):
        return (
            f"could not connect{where}: {_reason(exc)}; check DEEPINFRA_BASE_URL (or "
            "base_url=), the network and any proxy"
        )
    if isinstance(exc, _TIMEOUTS):
        return "timed out waiting for data (the read timeout)"
    return f"the connection{where} failed: {_reason(exc)}"


def _redact_request(request: Any) -> None:
    """Blank the credential headers of a sent request that an error hands to the caller."""
    headers = getattr(request, "headers", None)
    if headers is None:
        return
    for name in _SECRET_REQUEST_HEADERS:
        if name in headers:
            headers[name] = "[redacted]"


def _redact_response(resp: Any) -> None:
    """The same for a response's request, and its redirects' requests."""
    if resp is None:
        return
    _redact_request(getattr(resp, "request", None))
    for earlier in getattr(resp, "history", None) or ():
        _redact_request(getattr(earlier, "request", None))


def _redact_chain(exc: BaseException) -> None:
    """Redact the requests and responses held by ``exc`` and everything behind it."""
    seen: set[int] = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        _redact_request(getattr(cur, "request", None))
        _redact_response(getattr(cur, "response", None))
        cur = cur.__cause__ or cur.__context__


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port out of range: quote what was given (never the userinfo)
        return parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.hostname}:{port}"


# urllib3 prefixes its messages with the connection object ("_GuardedHTTPSConnection(host=
# 'x', port=443): ..."), a private name that tells the reader nothing: cut.
_CONNECTION_REPR = re.compile(r"<?\w*(?:Connection|Pool)\w*\([^)]*\)>?:?\s*")


def _reason(exc: BaseException) -> str:
    """Why a connection failed, in plain words (the innermost cause that says it)."""
    chain: list[BaseException] = []
    cur: Optional[BaseException] = exc
    while cur is not None and cur not in chain and len(chain) < 20:
        chain.append(cur)
        if isinstance(cur, urllib3.exceptions.MaxRetryError) and cur.reason is not None:
            cur = cur.reason
        elif cur.args and isinstance(cur.args[0], BaseException):
            cur = cur.args[0]
        else:
            cur = cur.__cause__ or cur.__context__
    for item in chain:
        if isinstance(item, (urllib3.exceptions.NameResolutionError, socket.gaierror)):
            return "the host name does not resolve (DNS)"
        if isinstance(item, (urllib3.exceptions.ConnectTimeoutError, requests.ConnectTimeout)):
            return "the connection timed out (the connect timeout)"
        if isinstance(item, ConnectionRefusedError) or "Connection refused" in str(item):
            return "the connection was refused (nothing listens on that port?)"
        if isinstance(item, ConnectionResetError):
            return "the server reset the connection"
        if isinstance(item, (urllib3.exceptions.SSLError, requests.exceptions.SSLError)):
            return f"TLS failed ({_quoted(chain[-1])[:200]})"
        if isinstance(item, urllib3.exceptions.ProxyError):
            return f"the proxy failed ({_quoted(chain[-1])[:200]})"
    return _quoted(chain[-1])[:300] or type(chain[-1]).__name__


def _quoted(exc: BaseException) -> str:
    """An exception's text for a message: no connection reprs, no URL passwords."""
    return _URL_USERINFO.sub(r"\1***@", _CONNECTION_REPR.sub("", str(exc))).strip()


def _translate(exc: BaseException, what: str, url: Optional[str] = None) -> APIConnectionError:
    """The SDK error for a transport exception (the caller raises it ``from`` exc)."""
    if isinstance(
        exc, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, socket.timeout)
    ):
        return APITimeoutError(f"{what}: {_describe(exc, url)}")
    return APIConnectionError(f"{what}: {_describe(exc, url)}")


def _scrubbed(exc: BaseException) -> BaseException:
    """``exc`` with the local variables of its finished frames cleared, along its chain.

    The cause is kept for the traceback, but urllib3's frames hold the request headers,
    Authorization included, and error reporters that capture locals would record them.
    """
    seen: set[int] = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if cur.__traceback__ is not None:
            traceback.clear_frames(cur.__traceback__)
        cur = cur.__cause__ or cur.__context__
    return exc


def _passed(deadline: Optional[float]) -> bool:
    return deadline is not None and time.monotonic() >= deadline - 0.01


def _total_timeout(method: str, path: str, total: Optional[float]) -> APITimeoutError:
    return APITimeoutError(f"{method} {path}: the total timeout of {total} s ran out")


def _broken_upload(method: str, path: str, body: MultipartBody, exc: BaseException) -> UploadError:
    """The error for an upload whose connection failed after some of its bytes went out."""
    total = "" if body.length is None else f" of {body.length}"
    upload = UploadError(
        f"{method} {path}: the upload broke after {body.sent}{total} bytes ({_describe(exc)}); "
        "not retried, since the server may have received part of it: send it again"
    )
    upload.bytes_sent = body.sent
    return upload


def too_large(
    what: str, limit: int, status: Optional[int], rid: Optional[str]
) -> APIResponseTooLargeError:
    """The error for an answer over ``max_response_bytes``, saying how to raise it."""
    err = APIResponseTooLargeError(
        f"{what}: the answer is larger than max_response_bytes ({limit:,} bytes); if such "
        "an answer is expected, raise the limit: DeepInfraClient(max_response_bytes=...)",
        status_code=status,
        request_id=rid,
    )
    err.limit = limit
    return err


def _encoding(headers: Mapping[str, str]) -> Optional[str]:
    """A ``Content-Encoding`` other than identity, or None.

    We ask for identity, and a compressed body is never decoded: a few hundred bytes of
    nested gzip decode to gigabytes (a compression bomb).
    """
    value = headers.get("content-encoding", "").strip().lower()
    return None if value in ("", "identity") else value[:40]


def _encode_json(value: Any) -> bytes:
    """The compact UTF-8 JSON of a request body, refused over ``MAX_REQUEST_BYTES``
    (counted in encoded bytes: a character may take four)."""
    try:
        body = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise ArgumentValueError(
            "the request body nests lists or dicts too deeply to encode as JSON (thousands "
            "of levels): check extra_body and the messages for a runaway structure"
        ) from None
    except ValueError:
        raise ArgumentValueError(
            "the request holds NaN or infinity, which JSON cannot carry: check "
            "numeric options such as temperature or top_p"
        ) from None
    data = body.encode()
    _validation.check_encoded_size(len(data))
    return data


class HTTPResponse:
    """A response whose body is read on demand, with timeouts and abort from any thread."""

    __slots__ = (
        "_aborted",
        "_body",
        "_deadline",
        "_max_bytes",
        "_raw",
        "_read_timeout",
        "_resp",
        "headers",
        "method",
        "path",
        "request_id",
        "status_code",
    )

    def __init__(
        self,
        resp: requests.Response,
        *,
        method: str,
        path: str,
        read_timeout: float,
        deadline: Optional[float],
        max_bytes: Optional[int] = C.DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._resp = resp
        self._raw = resp.raw
        self.status_code: int = resp.status_code
        self.headers: Mapping[str, str] = resp.headers
        self.method = method
        self.path = path
        self.request_id: Optional[str] = request_id(resp.headers, None)
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._aborted = False
        self._body: Optional[bytes] = None
        self._max_bytes = max_bytes

    @property
    def response(self) -> requests.Response:
        """The underlying ``requests.Response`` (for headers and advanced use)."""
        return self._resp

    def read(self) -> bytes:
        """The whole body (reading whatever is left), then release the connection."""
        if self._body is not None:
            return self._body
        try:
            return b"".join(self.iter_bytes())
        finally:
            self.close()

    def json(self) -> Any:
        """The body decoded as JSON; a body that is not JSON is a validation error."""
        raw = self.read()
        try:
            return json.loads(raw)
        except RecursionError:
            # Thousands of nested arrays or objects: no answer nests like that.
            _redact_response(self._resp)
            raise APIResponseValidationError(
                f"{self.method} {self.path}: the response nests arrays or objects deeper "
                "than Python can decode; no API answer does: the server is broken",
                status_code=self.status_code,
                request_id=self.request_id,
                response=self._resp,
            ) from None
        except ValueError as exc:
            _redact_response(self._resp)
            raise APIResponseValidationError(
                f"{self.method} {self.path}: the response is not valid JSON "
                f"({decode_body(raw)!r:.200})",
                status_code=self.status_code,
                body=decode_body(raw),
                request_id=self.request_id,
                response=self._resp,
            ) from exc

    def _socket(self) -> Optional[socket.socket]:
        conn = getattr(self._raw, "connection", None) or getattr(self._raw, "_connection", None)
        return getattr(conn, "sock", None)

    def _more_buffered(self) -> bool:
        """Whether the next ``read1`` can return body bytes without waiting on the network.

        ``read1`` on a chunked body stops at the end of one HTTP chunk, and servers send an
        event per chunk, although one ``recv`` usually brought many. Peeking the buffered
        reader with the socket briefly non-blocking tells what is already here; for a
        chunked body the next chunk's size line must be complete too, since reading it
        would otherwise wait for the next event.
        """
        owner = getattr(self._raw, "_fp", None)  # http.client's response
        reader = getattr(owner, "fp", None)
        sock = self._socket()
        if reader is None or sock is None:
            return False
        timeout = sock.gettimeout()
        try:
            sock.settimeout(0.0)
            ahead: bytes = reader.peek(1)
        except (OSError, ValueError):  # nothing buffered (ssl.SSLWantReadError included)
            return False
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(timeout)
        if not ahead:
            return False
        chunk_left = getattr(owner, "chunk_left", None)
        if not getattr(owner, "chunked", False) or chunk_left:
            return True
        if chunk_left == 0:  # the current chunk's CRLF is still unread
            ahead = ahead[2:]
        return b"\n" in ahead

    def iter_bytes(
        self, size: int = C.STREAM_READ_SIZE, *, greedy: bool = False
    ) -> Iterator[bytes]:
        """Yield body bytes as soon as the socket delivers them, whatever the framing.

        ``read1`` returns what one read produced (a chunk of a chunked body, or what the
        socket had) instead of waiting to fill a buffer, so events are never held back.
        ``greedy=True`` also joins whatever else already arrived (more chunks of the same
        ``recv``) into the same piece, never waiting for more (``ChatStream.iter_batches``
        yields one batch per piece). The read timeout bounds each gap; the total deadline
        bounds the whole body.
        """
        read = self._reader()
        deadline = self._deadline
        sock = self._socket() if deadline is not None else None
        # No limit (None): a body the caller streams to disk, never held in memory.
        left = self._max_bytes if self._max_bytes is not None else sys.maxsize
        try:
            while True:
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise self._deadline_error()
                    if sock is not None:
                        sock.settimeout(min(self._read_timeout, remaining))
                data = read(size)
                if not data:
                    return
                left -= len(data)
                if left < 0:
                    raise self._too_large()
                if greedy:
                    parts = [data]
                    total = len(data)
                    while total < _GREEDY_MAX_BYTES and self._more_buffered():
                        more = read(size)
                        if not more:
                            break
                        parts.append(more)
                        total += len(more)
                        left -= len(more)
                        if left < 0:
                            raise self._too_large()
                    if len(parts) > 1:
                        data = b"".join(parts)
                yield data
        except APIError:
            raise
        except (
            requests.exceptions.RequestException,
            urllib3.exceptions.HTTPError,
            http.client.HTTPException,
            OSError,
            ValueError,
            AttributeError,
        ) as exc:
            if self._aborted:
                raise APIConnectionError(
                    f"{self.method} {self.path}: the stream was closed while reading"
                ) from _scrubbed(exc)
            if isinstance(exc, (ValueError, AttributeError)) and not isinstance(
                exc, urllib3.exceptions.HTTPError
            ):
                # urllib3 raises these when the connection was torn down under it.
                raise APIConnectionError(
                    f"{self.method} {self.path}: the connection closed while reading"
                ) from _scrubbed(exc)
            if _passed(deadline):
                # The last read was cut short by the deadline, not by a silent server.
                raise self._deadline_error() from _scrubbed(exc)
            err = _translate(exc, f"{self.method} {self.path}: reading the response")
            err.status_code = self.status_code
            err.request_id = self.request_id
            try:
                raise err from _scrubbed(exc)
            finally:
                del err  # the traceback keeps this frame: it must not keep the error too

    def _reader(self) -> Callable[[int], bytes]:
        """``read(n)``: up to ``n`` bytes of the body, as soon as some are there; b"" at
        its end.

        An identity body is read from http.client's response, which does the framing:
        urllib3's ``read1`` around it only adds bookkeeping, 40% of the cost of a read that
        brings one event. What urllib3 does at the end of a body is done by
        :meth:`_end_of`, as soon as the last byte is read. A body that a server or proxy
        compressed anyway (we ask for identity) goes through urllib3, which decodes it.
        """
        raw = self._raw
        body: Any = getattr(raw, "_fp", None)
        if not isinstance(body, http.client.HTTPResponse):
            # Never decoded: the transport refuses a compressed answer (see _encoding).
            return functools.partial(raw.read1, decode_content=False)
        read1 = body.read1
        end_of = self._end_of

        def read(n: int) -> bytes:
            data: bytes = read1(n)
            if not data or body.length == 0:  # length: what a Content-Length body has left
                end_of(body)
            return data

        return read

    def _end_of(self, body: Any) -> None:
        """The end of a body read from http.client directly: what urllib3 does there.

        A ``Content-Length`` body that ended short is an error (http.client's ``read1``
        only stops); a complete body gives its connection back to the pool. Safe to call
        again.
        """
        left = body.length
        if left:
            raise urllib3.exceptions.ProtocolError(
                f"Connection broken: the body ended {left} bytes short of its Content-Length"
            )
        if not body.isclosed():
            # A Content-Length body read to its end stays open before Python 3.13
            # (CPython issue 113199); closing it is what makes the connection reusable.
            body.close()
        self._raw.release_conn()

    def release_after_end(self, max_wait: float = C.DRAIN_MAX_WAIT) -> None:
        """After the last event: read what is left of the body if it arrives within
        ``max_wait`` seconds (then the connection goes back to the pool), else close it.

        A server that keeps sending (keep-alive comments after ``[DONE]``) or never ends a
        body cannot hold the caller's loop; it only costs that connection.
        """
        framed = "content-length" in self.headers or "chunked" in self.headers.get(
            "transfer-encoding", ""
        )
        if not framed:
            # A close-delimited body ends only when the server closes: not reusable anyway.
            self._resp.close()
            return
        read = self._reader()
        sock = self._socket()
        until = time.monotonic() + max_wait
        left = C.DRAIN_MAX_BYTES
        try:
            while left > 0:
                remaining = until - time.monotonic()
                if remaining <= 0:
                    break
                if sock is not None:
                    sock.settimeout(remaining)
                data = read(left)
                if not data:
                    break
                left -= len(data)
        except (
            requests.exceptions.RequestException,
            urllib3.exceptions.HTTPError,
            http.client.HTTPException,
            OSError,
            ValueError,
        ):
            logger.debug(
                "%s %s: the body did not end cleanly after the last event", self.method, self.path
            )
        # A body read to its end released the connection to the pool already; anything
        # else makes close() drop the connection instead of pooling it half-read.
        self._resp.close()

    def _too_large(self) -> APIResponseTooLargeError:
        return too_large(
            f"{self.method} {self.path}", self._max_bytes or 0, self.status_code, self.request_id
        )

    def _deadline_error(self) -> APITimeoutError:
        return APITimeoutError(
            f"{self.method} {self.path}: the total timeout ran out while the body was "
            "still arriving",
            status_code=self.status_code,
            request_id=self.request_id,
        )

    def close(self) -> None:
        """Release the connection: back to the pool if the body was read, else closed."""
        try:
            self._resp.close()
        except Exception:
            logger.debug("closing %s %s raised", self.method, self.path, exc_info=True)

    def abort(self) -> None:
        """Stop a read blocked in another thread and close the connection (not pooled).

        Closing a socket from another thread does not wake a blocked ``recv``;
        shutting it down does. Safe to call more than once and after the end.
        """
        self._aborted = True
        raw = self._raw
        try:
            if getattr(raw, "_sock_shutdown", None) is not None and raw._connection is not None:
                raw.shutdown()
            else:
                sock = self._socket()
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError, RuntimeError, AttributeError):
            pass


# -- connections a CallGuard can stop ----------------------------------------------------------
# While a call waits for its response, the async facade may need to stop it from another
# thread (a cancelled task). The connection announces itself to the call's guard when it
# starts waiting, and the pool takes it back from the guard before pooling it again.


class _GuardedConnection:
    """Mixed into urllib3's connections: announce the connect and the wait for a response
    to the guard."""

    def connect(self) -> None:
        guard = _cancel.current()
        if guard is not None:
            guard.network(sent=False)
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        # Sending a large body to a server that reads it slowly is bounded by the deadline.
        deadline = _cancel.current_deadline()
        if deadline is not None:
            deadline.attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self) -> urllib3.response.HTTPResponse:
        guard = _cancel.current()
        if guard is not None:
            guard.attach(self)
        deadline = _cancel.current_deadline()
        if deadline is not None:
            deadline.attach(self)  # the status line and headers too
        response: urllib3.response.HTTPResponse = super().getresponse()  # type: ignore[misc]
        return response


class _GuardedPool:
    """Mixed into urllib3's pools: take a connection back from the guard before pooling it."""

    def _put_conn(self, conn: Any) -> None:
        guard = _cancel.current()
        if guard is not None and conn is not None:
            guard.detach(conn)
        deadline = _cancel.current_deadline()
        if deadline is not None and conn is not None:
            deadline.detach(conn)
        super()._put_conn(conn)  # type: ignore[misc]


# urllib3 narrows http.client's getresponse already (it ignores the override check too).
class _GuardedHTTPConnection(_GuardedConnection, urllib3.connection.HTTPConnection):  # type: ignore[misc]
    pass


class _GuardedHTTPSConnection(_GuardedConnection, urllib3.connection.HTTPSConnection):  # type: ignore[misc]
    pass


class _GuardedHTTPPool(_GuardedPool, urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(_GuardedPool, urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


_GUARDED_POOLS = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


class _GuardedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections can be stopped by the calling thread's guard."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_GUARDED_POOLS)

    def close(self) -> None:
        # urllib3 2 closes a pool's idle connections only when the pool is garbage
        # collected, and a response still referenced keeps its pool alive: close them now.
        for manager in (self.poolmanager, *self.proxy_manager.values()):
            pools = manager.pools
            for key in pools.keys():  # noqa: SIM118 (iterating the container raises)
                try:
                    pool = pools[key]
                except KeyError:
                    continue
                pool.close()
        super().close()

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            # SOCKS pools have their own connection classes; those calls are abandoned
            # on cancellation instead (they still end at their timeouts).
            manager.pool_classes_by_scheme = dict(_GUARDED_POOLS)
        return manager


class _Session(requests.Session):
    """The client's own session: a GET follows a few redirects, never from https to http."""

    def __init__(self) -> None:
        super().__init__()
        self.max_redirects = _MAX_REDIRECTS

    def get_redirect_target(self, resp: requests.Response) -> Optional[str]:
        target = super().get_redirect_target(resp)
        if (
            target
            and resp.url.lower().startswith("https:")
            and target.strip().lower().startswith("http:")
        ):
            return None  # the 3xx is then the answer: request() raises it
        return target


class _BasicAuth(requests.auth.HTTPBasicAuth):
    """The base URL's ``user:password``; its repr never shows them."""

    def __repr__(self) -> str:
        return "<BasicAuth [redacted]>"


class _BearerAuth(requests.auth.AuthBase):
    """Adds the bearer token at send time; its repr never shows the key."""

    __slots__ = ("_value",)

    def __init__(self, key: str) -> None:
        self._value = f"Bearer {key}"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self._value
        return r

    def __repr__(self) -> str:
        return "<BearerAuth [redacted]>"


class HTTPTransport:
    """Sends requests for one client: pooled, authenticated, retried per the policy."""

    def __init__(self, config: ClientConfig, session: Optional[requests.Session] = None) -> None:
        self._config = config
        self._own_session = session is None
        self._adapter: Optional[_GuardedAdapter] = None
        if session is None:
            session = _Session()
            self._adapter = _GuardedAdapter(
                pool_connections=4, pool_maxsize=config.pool_maxsize, max_retries=0
            )
            session.mount("https://", self._adapter)
            session.mount("http://", self._adapter)
        self._session = session
        proxies = {"http": config.proxy, "https": config.proxy} if config.proxy else {}
        self._verify: Any = None
        self._cert: Any = None
        if self._own_session:
            # requests reads the proxy and CA-bundle variables (and ~/.netrc) again for every
            # request, scanning the whole environment twice: a third of its cost per call.
            # Our session serves one base URL, so resolve them once, here, as httpx does.
            env = session.merge_environment_settings(config.base_url, proxies, True, None, None)
            proxies = dict(env["proxies"])
            self._verify, self._cert = env["verify"], env["cert"]
            session.trust_env = False
        self._proxies = proxies or None
        # Prepared request templates, per endpoint and header set (see _send).
        self._prepared: dict[tuple[Any, ...], requests.PreparedRequest] = {}
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "identity",
        }
        headers.update(config.default_headers)
        self._headers = headers
        # An auth object (not a header) also keeps requests from swapping in ~/.netrc.
        self._bearer: Optional[requests.auth.AuthBase] = (
            _BearerAuth(config.api_key) if config.api_key else None
        )
        if self._bearer is None and config.base_auth is not None:
            # Credentials that were in the base URL (a gateway's Basic auth), as requests
            # would have sent them from the URL itself.
            self._bearer = _BasicAuth(*config.base_auth)
        # What no message may quote: the key, the base URL's password.
        self._secrets = tuple(
            secret
            for secret in (config.api_key, *(config.base_auth or ())[1:])
            if secret and len(secret) >= 3
        )
        # Back-off waits end early when the call is cancelled from another thread, or the
        # client is closed (close() calls every ``_wakers`` entry).
        self._sleep: Callable[[float], None] = self._backoff
        self._closed = False
        self._wakers: set[Callable[[], None]] = set()
        self._wakers_lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """The ``requests.Session`` in use."""
        return self._session

    def close(self) -> None:
        """Close the pooled connections, if the session is ours; calls waiting to retry
        stop, and nothing is sent afterwards."""
        with self._wakers_lock:
            self._closed = True
            wakers = list(self._wakers)
        for wake in wakers:
            wake()
        if self._own_session:
            self._session.close()

    def _backoff(self, seconds: float) -> None:
        """Wait before a retry; a cancelled call or ``close()`` ends the wait early."""
        guard = _cancel.current()
        if guard is not None:
            guard.network(sent=False)  # not sending, not using the CPU
        event = threading.Event()
        wake = guard.abort if guard is not None else event.set
        with self._wakers_lock:
            if self._closed:
                return
            self._wakers.add(wake)
        try:
            (guard._event if guard is not None else event).wait(seconds)
        finally:
            with self._wakers_lock:
                self._wakers.discard(wake)

    def _check_open(self, method: str, path: str) -> None:
        if self._closed:
            raise APIConnectionError(
                f"{method} {path}: the client was closed; nothing more is sent (create a "
                "new client)"
            )

    def _clean(self, error: APIError, cause: Optional[BaseException] = None) -> APIError:
        """``error`` as the caller may see it: no secret in its message, no credential
        header on the requests it or its cause hold."""
        message = error.message
        for secret in self._secrets:
            message = message.replace(secret, "[redacted]")
        if message != error.message:
            error.message = message
            error.args = (message,)
        _redact_response(error.response)
        if cause is not None:
            _redact_chain(cause)
        return error

    def _auth(self, needs_auth: bool, path: str) -> Optional[requests.auth.AuthBase]:
        if self._bearer is not None:
            return self._bearer
        if needs_auth and not self._config.is_loopback:
            raise MissingAPIKeyError(f"{path} needs an API key, and none is set: {KEY_HELP}")
        return None

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        upload: Optional[MultipartBody] = None,
        needs_auth: bool = True,
        stream: bool = False,
        accept: Optional[str] = None,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
        bounded: bool = True,
    ) -> HTTPResponse:
        """Send one request (retrying only what provably did not bill) and return its response.

        ``timeout``, ``extra_headers`` (a ``None`` value drops that header) and
        ``max_retries`` override the client's settings for this call only.
        ``bounded=False`` lifts ``max_response_bytes`` for a body the caller streams to
        disk (a file download), never holding it whole in memory.

        Raises the typed error for any 3xx/4xx/5xx status, connection failure or timeout.
        For ``stream=True`` the body is left unread: iterate ``iter_bytes()`` and
        ``close()``. ``upload`` is a streamed body (read from its sources in chunks, once
        per attempt): it is retried only if not one byte of it went out, and a retryable
        status only if its sources can be read again; one that breaks midway raises
        :class:`UploadError`.
        """
        config = self._config
        self._check_open(method, path)
        headers = dict(self._headers)
        if extra_headers:
            for name, value in extra_headers.items():
                if value is None:
                    headers.pop(name, None)
                else:
                    headers[name] = value
        retries = config.max_retries if max_retries is None else max_retries
        auth = self._auth(needs_auth, path)
        data: Union[bytes, MultipartBody, None] = upload
        if upload is not None:
            headers.update(upload.headers())
        elif json_body is not None:
            data = _encode_json(json_body)
            headers["Content-Type"] = "application/json"
        if accept:
            headers["Accept"] = accept
        url = config.base_url + path
        if timeout is None:
            timeout = config.timeout
        is_get = method == "GET"
        # The total deadline covers every attempt and the waits between them.
        deadline = time.monotonic() + timeout.total if timeout.total is not None else None
        attempt = 0
        while True:
            self._check_open(method, path)
            started = time.monotonic()
            first_byte = timeout.read
            connect = timeout.connect
            if deadline is not None:
                first_byte = min(first_byte, max(deadline - started, 0.001))
                connect = min(connect, max(deadline - started, 0.001))
            retry_after: Optional[float] = None
            try:
                with self._watch(deadline) as watched:
                    resp = self._send(
                        method,
                        url,
                        data=data,
                        headers=headers,
                        auth=auth,
                        timeout=(connect, first_byte),
                        allow_redirects=is_get,
                    )
                if watched is not None and watched.fired:
                    resp.close()  # its socket is shut down: the answer is cut
                    raise requests.exceptions.ReadTimeout("the total timeout ran out")
            except requests.exceptions.InvalidHeader as exc:
                # requests quotes the offending header value, which may be the key.
                raise APIConnectionError(
                    f"{method} {path}: a header value is invalid (check default_headers)"
                ) from (None if "Bearer" in str(exc) else _scrubbed(exc))
            except requests.exceptions.TooManyRedirects as exc:
                # A loop: the next attempt would loop the same way. One attempt, no retry.
                last = exc.response
                raise self._clean(
                    APIStatusError(
                        f"{method} {path}: more than {_MAX_REDIRECTS} redirects (a redirect "
                        "loop?); check base_url",
                        status_code=getattr(last, "status_code", None),
                        response=last,
                    ),
                    exc,
                ) from _scrubbed(exc)
            except (requests.exceptions.RequestException, OSError) as exc:
                error: APIError = _translate(exc, f"{method} {path}", url)
                fired = watched is not None and watched.fired
                if fired or (isinstance(error, APITimeoutError) and _passed(deadline)):
                    error = _total_timeout(method, path, timeout.total)
                # A POST that may have reached the server could already be billed.
                retryable = _is_connect_phase(exc) or (
                    is_get and not isinstance(exc, requests.exceptions.InvalidURL)
                )
                cause: BaseException = _scrubbed(exc)
                if upload is not None and upload.sent:
                    retryable = False  # the server may hold part of it: never send it twice
                    if not fired and (upload.length is None or upload.sent < upload.length):
                        error = _broken_upload(method, path, upload, exc)
                self._clean(error, exc)
                self._log_failure(method, path, started, error)
            else:
                status = resp.status_code
                self._log_status(method, path, status, started)
                if status < 300 and _encoding(resp.headers) is None:
                    response = HTTPResponse(
                        resp,
                        method=method,
                        path=path,
                        read_timeout=timeout.read,
                        deadline=deadline,
                        max_bytes=config.max_response_bytes if bounded else None,
                    )
                    self._check_length(response)
                    if stream or not is_get:
                        return response
                    # A GET's body is read inside the retry loop: a reset or a stall while
                    # it arrives is retried like one before the status line (the GET is
                    # idempotent); a POST's body is never fetched twice.
                    try:
                        response._body = response.read()
                    except APIConnectionError as exc:
                        error = exc
                        cause = exc.__cause__ or exc
                        retryable = not (isinstance(exc, APITimeoutError) and _passed(deadline))
                        self._log_failure(method, path, started, error)
                    else:
                        return response
                elif status < 300:
                    raise self._encoded_error(resp, method, path)
                elif status < 400:
                    # A 3xx a GET did not follow (https to http), or any 3xx to a POST: a
                    # POST is never re-sent elsewhere, and its body is no answer.
                    raise self._redirect_error(resp, method, path)
                else:
                    error, retry_after = self._status_error(
                        resp, method, path, deadline, auth is not None
                    )
                    cause = error
                    if is_get:
                        retryable = status in _GET_RETRY_STATUSES or (
                            retry_after is not None and status in _GET_RETRY_AFTER_STATUSES
                        )
                    else:
                        # The server refused the work; an upload is sent again only if
                        # its sources can be read from the start again.
                        retryable = status in _POST_RETRY_STATUSES and (
                            upload is None or upload.reopenable
                        )
            guard = _cancel.current()
            if guard is not None and guard.aborted and not self._closed:
                raise APIConnectionError(f"{method} {path}: the call was cancelled") from cause
            if not retryable or attempt >= retries or self._closed:
                if cause is error:
                    raise error
                raise error from cause
            delay = retry_delay(attempt, retry_after)
            if delay is None:
                logger.info(
                    "%s %s: not retrying, Retry-After %.0fs exceeds the %.0fs cap",
                    method,
                    path,
                    retry_after or 0.0,
                    C.RETRY_AFTER_CAP,
                )
                raise error
            if deadline is not None and time.monotonic() + delay >= deadline:
                logger.info("%s %s: not retrying, the total timeout would pass", method, path)
                raise error
            attempt += 1
            logger.info(
                "%s %s: retry %d/%d in %.2fs after %s",
                method,
                path,
                attempt,
                retries,
                delay,
                type(error).__name__,
            )
            self._sleep(delay)
            if self._closed:
                raise APIConnectionError(
                    f"{method} {path}: the client was closed while waiting to retry"
                ) from cause
            if guard is not None and guard.aborted:
                raise APIConnectionError(f"{method} {path}: the call was cancelled") from cause

    @staticmethod
    @contextlib.contextmanager
    def _watch(deadline: Optional[float]) -> Iterator[Optional[_cancel.Deadline]]:
        """While sending and waiting for the answer's head, the deadline shuts the
        connection down (a socket timeout bounds one ``recv``, not a trickle of them)."""
        if deadline is None:
            yield None
            return
        with _cancel.watch(deadline) as watched:
            yield watched

    @staticmethod
    def _check_length(response: HTTPResponse) -> None:
        """Refuse at once a body announced larger than ``max_response_bytes``."""
        declared = response.headers.get("content-length", "")
        limit = response._max_bytes
        if limit is not None and declared.isdigit() and int(declared) > limit:
            response.close()
            raise response._too_large()

    def _send(
        self,
        method: str,
        url: str,
        *,
        data: Union[bytes, MultipartBody, None],
        headers: dict[str, str],
        auth: Optional[requests.auth.AuthBase],
        timeout: tuple[float, float],
        allow_redirects: bool,
    ) -> requests.Response:
        """``session.request(...)``, with requests' per-call preparation skipped when the
        session is our own and holds nothing to merge in (no cookies, hooks, auth, params).

        Merging the session's settings into every request costs requests about a fifth of
        its time per call (each merge checks a typing Protocol with ``isinstance``, which
        is slow), for a result that is the same every time: the URL and the validated
        headers are prepared once per endpoint here, and each call only adds its body.
        """
        session = self._session
        if (
            not self._own_session
            or session.cookies
            or session.auth is not None
            or session.params
            or any(session.hooks.values())
        ):
            return session.request(
                method,
                url,
                data=data,
                headers=headers,
                auth=auth,
                timeout=timeout,
                stream=True,
                allow_redirects=allow_redirects,
                proxies=self._proxies,
                verify=self._verify,
                cert=self._cert,
            )
        streamed = data is not None and not isinstance(data, bytes)
        key = (method, url, tuple(headers.items()), data is not None, streamed, auth is not None)
        template = self._prepared.get(key)
        if template is None:
            template = session.prepare_request(
                requests.Request(
                    method, url, headers=headers, auth=auth, data=b"" if data is not None else None
                )
            )
            template.headers.pop("Content-Length", None)
            if len(self._prepared) >= 64:
                self._prepared.clear()
            self._prepared[key] = template
        prepared = requests.PreparedRequest()
        prepared.method = template.method
        prepared.url = template.url
        prepared.headers = template.headers.copy()
        # requests types the body as bytes or str; urllib3 sends any iterable of bytes.
        prepared.body = data  # type: ignore[assignment]
        if streamed:
            # Its boundary (Content-Type) and framing are its own, never the template's.
            for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
                if name in headers:
                    prepared.headers[name] = headers[name]
        elif data is not None:
            prepared.headers["Content-Length"] = str(len(data))
        elif method not in ("GET", "HEAD"):
            prepared.headers["Content-Length"] = "0"
        prepared._cookies = requests.cookies.RequestsCookieJar()  # type: ignore[attr-defined]
        response: requests.Response = session.send(
            prepared,
            timeout=timeout,
            stream=True,
            allow_redirects=allow_redirects,
            proxies=self._proxies or {},
            verify=self._verify,
            cert=self._cert,
        )
        return response

    def _error_body(
        self, resp: requests.Response, method: str, path: str, deadline: Optional[float]
    ) -> tuple[bytes, str]:
        """The first ``MAX_ERROR_BODY_BYTES`` of an error body (never decoded), and a note
        for the message when it was cut or compressed; the response is closed after."""
        limit = C.MAX_ERROR_BODY_BYTES
        encoding = _encoding(resp.headers)
        raw = b""
        note = ""
        try:
            if encoding is not None:
                note = (
                    f" (the error body was sent with Content-Encoding {encoding!r}, which the "
                    "SDK did not ask for: not decoded)"
                )
            else:
                parts: list[bytes] = []
                size = 0
                reader = HTTPResponse(
                    resp,
                    method=method,
                    path=path,
                    read_timeout=self._config.timeout.read,
                    deadline=deadline,
                    max_bytes=limit + C.STREAM_READ_SIZE,
                )
                for data in reader.iter_bytes():
                    parts.append(data)
                    size += len(data)
                    if size > limit:
                        note = f" (the error body was cut at {limit // 1024} KiB)"
                        break
                raw = b"".join(parts)[:limit]
        except (APIError, requests.exceptions.RequestException, OSError):
            pass  # what arrived is kept: the status is the error
        finally:
            resp.close()
        # err.response.content is what was read, without reading (or decoding) more.
        resp._content = raw
        resp._content_consumed = True  # type: ignore[attr-defined]
        return raw, note

    def _status_error(
        self,
        resp: requests.Response,
        method: str,
        path: str,
        deadline: Optional[float],
        key_sent: bool,
    ) -> tuple[APIStatusError, Optional[float]]:
        raw, note = self._error_body(resp, method, path, deadline)
        error = status_error(
            resp.status_code,
            resp.headers,
            raw,
            response=resp,
            method=method,
            path=path,
            key_sent=key_sent,
            note=note,
        )
        self._clean(error)
        return error, _parse_retry_after(resp.headers.get("Retry-After"), time.time())

    def _redirect_error(self, resp: requests.Response, method: str, path: str) -> APIError:
        location = resp.headers.get("Location", "")
        resp.close()
        if method == "GET":
            why = "a redirect from https to http is never followed"
        else:
            why = f"a {method} is never re-sent to another address"
        error = status_error(
            resp.status_code, resp.headers, b"", response=resp, method=method, path=path
        )
        error.message = (
            f"{method} {path}: the server answered {resp.status_code} redirecting to "
            f"{redact_url(location)[:300]!r}; {why}: check base_url"
        )
        error.args = (error.message,)
        return self._clean(error)

    def _encoded_error(self, resp: requests.Response, method: str, path: str) -> APIError:
        encoding = _encoding(resp.headers)
        resp.close()
        return self._clean(
            APIResponseValidationError(
                f"{method} {path}: the answer came with Content-Encoding {encoding!r}, "
                "although the SDK asks for identity; compressed answers are not decoded (a "
                "proxy in between may be compressing: configure it to pass bodies unchanged)",
                status_code=resp.status_code,
                request_id=request_id(resp.headers, None),
                response=resp,
            )
        )

    @staticmethod
    def _log_status(method: str, path: str, status: int, started: float) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %d (%.1f ms)", method, path, status, (time.monotonic() - started) * 1e3
            )

    @staticmethod
    def _log_failure(method: str, path: str, started: float, error: APIError) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s failed after %.1f ms: %s",
                method,
                path,
                (time.monotonic() - started) * 1e3,
                error.message,
            )
