"""The API key never shows: not in a repr, a message, a traceback's locals, a URL or a log.

Every error is produced by a real failure over loopback (the emulator, a closed port, a
redirecting server), so what is checked is what a caller, a logger or an error reporter that
captures locals would really see. The session-wide scan in tests/conftest.py watches every
log record and warning of the whole suite as well; the last tests here prove that it can
catch a leak.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import pickle
import socket
import threading
import traceback
import warnings
from collections.abc import Iterator
from typing import Any, Callable, Optional

import anyio
import pytest

from deepinfra_sdk import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APIStreamError,
    APITimeoutError,
    AsyncDeepInfraClient,
    DeepInfra,
    DeepInfraClient,
    Timeout,
)
from deepinfra_sdk._exceptions import status_error_class
from deepinfra_sdk.emulator import Emulator, Fault

from ..conftest import TEST_KEY, _recorder

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
MSGS = [{"role": "user", "content": "Say something."}]
CHAT = "/v1/openai/chat/completions"
KEY_TAIL = TEST_KEY[-12:]
STATUSES = [400, 401, 402, 403, 404, 422, 423, 429, 500, 502, 503, 504]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_keys=[TEST_KEY]) as e:
        yield e
    assert e.handler_errors == []


def _client(emu: Emulator, **kw: Any) -> DeepInfraClient:
    return DeepInfraClient(TEST_KEY, base_url=emu.url, max_retries=0, **kw)


def assert_no_key(text: str, what: str = "") -> None:
    assert TEST_KEY not in text, f"the key leaked into {what}: {text[:300]}"
    assert KEY_TAIL not in text, f"the end of the key leaked into {what}: {text[:300]}"


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception behind it: causes and contexts, suppressed ones too."""
    out: list[BaseException] = []
    pending: list[Optional[BaseException]] = [exc]
    while pending:
        cur = pending.pop()
        if cur is None or any(cur is seen for seen in out):
            continue
        out.append(cur)
        pending += [cur.__cause__, cur.__context__]
    return out


def assert_error_is_clean(err: BaseException) -> None:
    """Everything an error shows, or hands to whoever reports it, is free of the key."""
    assert_no_key(str(err), "str(error)")
    assert_no_key(repr(err), "repr(error)")
    assert_no_key(repr(err.args), "error.args")
    for exc in chain(err):
        text = "".join(
            traceback.TracebackException.from_exception(exc, capture_locals=True).format()
        )
        assert_no_key(text, f"the traceback with locals of {type(exc).__name__}")
        assert_no_key(repr(exc), f"repr of {type(exc).__name__} in the chain")
    if isinstance(err, APIError):
        assert_no_key(err.message, "error.message")
        assert_no_key(repr(err.body), "error.body")
        assert_no_key(str(err.partial_text), "error.partial_text")
        # The live response's URLs and its request's URL: the key is never a query parameter.
        response = err.response
        if response is not None:
            assert_no_key(response.url, "the response URL")
            assert_no_key(str(response.request.url), "the request URL")
            assert_no_key(repr(response), "repr(response)")
            assert_no_key(repr(response.request), "repr(request)")
        assert_no_key(repr(pickle.loads(pickle.dumps(err)).__dict__), "a pickled error")


def assert_urls_clean(emu: Emulator) -> None:
    for request in emu.requests:
        assert_no_key(request.path, "a URL the server received")
        # The emulator redacts what it records; the scheme stays for debugging.
        assert request.headers.get("authorization") == "Bearer [REDACTED]"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- reprs ---------------------------------------------------------------------------------


def test_no_object_a_caller_can_reach_shows_the_key_in_repr_or_str(emu: Emulator) -> None:
    client = _client(emu)
    aclient = AsyncDeepInfraClient(TEST_KEY, base_url=emu.url)
    transport = client._transport
    stream = client.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
    objects: list[Any] = [
        client,
        client.config,
        client.timeout,
        client.models,
        client.chat,
        client.chat.completions,
        client.images,
        client.embeddings,
        transport,
        transport.session,
        transport._bearer,
        aclient,
        aclient.sync_client,
        aclient.chat,
        aclient.models,
        stream,
        stream.response,
        stream.response.request,
    ]
    with stream:
        for _ in stream:
            pass
    objects += [stream, stream.to_completion(), stream.usage]
    for obj in objects:
        assert_no_key(repr(obj), f"repr({type(obj).__name__})")
        assert_no_key(str(obj), f"str({type(obj).__name__})")
    # Where the SDK does hold the header, it shows a redaction marker instead.
    assert repr(transport._bearer) == "<BearerAuth [redacted]>"
    assert "api_key=set" in repr(client)
    assert "api_key=[set]" in repr(client.config)
    assert transport.session.headers.get("Authorization") is None  # sent per request only
    client.close()
    assert_urls_clean(emu)


@pytest.mark.anyio
async def test_async_streams_and_clients_do_not_show_the_key(emu: Emulator) -> None:
    async with AsyncDeepInfraClient(TEST_KEY, base_url=emu.url) as aclient:
        stream = await aclient.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
        async with stream:
            assert_no_key(repr(stream), "repr(AsyncChatStream)")
            async for _ in stream:
                pass
        for obj in (aclient, stream, stream.sync_stream, stream.to_completion()):
            assert_no_key(repr(obj), f"repr({type(obj).__name__})")
            assert_no_key(str(obj), f"str({type(obj).__name__})")
    assert_urls_clean(emu)


def test_the_provider_class_and_its_shared_clients_do_not_show_the_key(emu: Emulator) -> None:
    from deepinfra_sdk import provider

    try:
        names = DeepInfra.get_models(TEST_KEY, base_url=emu.url, refresh=True)
        assert names
        text = "".join(
            DeepInfra.create_completion(
                MODEL, MSGS, stream=True, api_key=TEST_KEY, base_url=emu.url
            )  # type: ignore[misc]
        )
        assert text
        shared = list(provider._clients.values())
        assert shared
        for entry in shared:
            for obj in (entry, entry.sync, entry.aio(), entry.sync.config):
                assert_no_key(repr(obj), f"repr({type(obj).__name__})")
                assert_no_key(str(obj), f"str({type(obj).__name__})")
        # The cache is keyed by a digest, never by the key itself.
        assert_no_key(repr(list(provider._clients)), "the provider cache keys")
        assert all(isinstance(k, bytes) and len(k) == 16 for k in provider._clients)
        assert_no_key(repr(vars(DeepInfra)), "the DeepInfra class")
    finally:
        DeepInfra.close_clients()
    assert_urls_clean(emu)


# -- errors from real failures -----------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_status_errors_carry_no_key(emu: Emulator, status: int, method: str) -> None:
    emu.inject(Fault(status=status, request_id="req-1"))
    with _client(emu) as client, pytest.raises(APIStatusError) as info:
        if method == "POST":
            client.chat.completions.create(model=MODEL, messages=MSGS)
        else:
            client.models.get(MODEL)
    assert type(info.value) is status_error_class(status)
    assert_error_is_clean(info.value)
    assert_urls_clean(emu)


def test_a_wrong_key_is_a_401_that_does_not_echo_the_key_sent() -> None:
    with Emulator(api_keys=["the-right-key"]) as emu, _client(emu) as client:
        with pytest.raises(APIStatusError) as info:
            client.chat.completions.create(model=MODEL, messages=MSGS)
        assert info.value.status_code == 401
        assert_error_is_clean(info.value)
        assert_urls_clean(emu)


@pytest.mark.parametrize("stream", [False, True])
def test_connection_errors_carry_no_key(stream: bool) -> None:
    base = f"http://127.0.0.1:{_closed_port()}"
    with DeepInfraClient(TEST_KEY, base_url=base, max_retries=1) as client:
        client._transport._sleep = lambda _: None
        with pytest.raises(APIConnectionError) as info:
            client.chat.completions.create(model=MODEL, messages=MSGS, stream=stream)
    assert info.value.__cause__ is not None  # the chain is kept, its frames' locals cleared
    assert_error_is_clean(info.value)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(drop="before_response"),
        Fault(drop="after_headers"),
        Fault(drop="after_events", after_events=2),
    ],
)
def test_dropped_connections_carry_no_key(emu: Emulator, fault: Fault) -> None:
    emu.inject(fault)
    with _client(emu) as client, pytest.raises(APIConnectionError) as info:
        with client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as stream:
            for _ in stream:
                pass
    assert_error_is_clean(info.value)
    assert_urls_clean(emu)


@pytest.mark.parametrize(
    ("fault", "timeout"),
    [
        (Fault(stall=2.0, stall_at="before_response"), Timeout(connect=2, read=0.2)),
        (Fault(stall=2.0, stall_at="after_events", after_events=2), Timeout(connect=2, read=0.2)),
        (Fault(drip_delay=0.05, chunk_size=4), Timeout(connect=2, read=2, total=0.3)),
    ],
)
def test_timeouts_carry_no_key(emu: Emulator, fault: Fault, timeout: Timeout) -> None:
    emu.inject(fault)
    with _client(emu, timeout=timeout) as client, pytest.raises(APITimeoutError) as info:
        with client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as stream:
            for _ in stream:
                pass
    assert_error_is_clean(info.value)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(error_frame="deepinfra", after_events=2), APIStreamError),
        (Fault(error_frame="openai", after_events=1), APIStreamError),
        (Fault(malformed_frame=True, after_events=2), APIResponseValidationError),
        (Fault(no_done=True, truncate=True), APIConnectionError),
    ],
)
def test_stream_and_validation_errors_carry_no_key(
    emu: Emulator, fault: Fault, error: type[APIError]
) -> None:
    emu.inject(fault)
    with _client(emu) as client, pytest.raises(error) as info:
        with client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as stream:
            for _ in stream:
                pass
    assert_error_is_clean(info.value)
    assert_urls_clean(emu)


@pytest.mark.anyio
async def test_async_failures_carry_no_key(emu: Emulator) -> None:
    emu.inject(Fault(status=503), times=1)
    emu.inject(Fault(drop="after_events", after_events=2), times=1)
    async with AsyncDeepInfraClient(TEST_KEY, base_url=emu.url, max_retries=0) as aclient:
        with pytest.raises(APIStatusError) as status:
            await aclient.chat.completions.create(model=MODEL, messages=MSGS)
        assert_error_is_clean(status.value)
        stream = await aclient.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
        with pytest.raises(APIConnectionError) as dropped:
            async with stream:
                async for _ in stream:
                    pass
        assert_error_is_clean(dropped.value)
        with anyio.fail_after(5):
            with pytest.raises(APITimeoutError) as timed_out:
                emu.inject(Fault(stall=2.0, stall_at="before_response"))
                slow = AsyncDeepInfraClient(
                    client=DeepInfraClient(
                        TEST_KEY, base_url=emu.url, max_retries=0, timeout=Timeout(2, 0.2)
                    )
                )
                try:
                    await slow.models.get(MODEL)
                finally:
                    await slow.aclose()
                    slow.sync_client.close()
        assert_error_is_clean(timed_out.value)
    assert_urls_clean(emu)


def test_bad_arguments_do_not_echo_the_key(emu: Emulator) -> None:
    with _client(emu) as client:
        for call in (
            lambda: client.chat.completions.create(model=MODEL, messages="hi"),  # type: ignore[call-overload]
            lambda: client.chat.completions.create(model="no-slash", messages=MSGS),
            lambda: client.images.generate("", model=MODEL),
        ):
            with pytest.raises((ValueError, TypeError)) as info:
                call()
            assert_error_is_clean(info.value)
    assert emu.requests == []


# -- redirects ----------------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]]
    target: str = ""

    def do_GET(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.target:
            self.send_response(302)
            self.send_header("Location", self.target + self.path)
            self.send_header("Content-Length", "0")
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
        self.end_headers()
        if not self.target:
            self.wfile.write(b"[]")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _server(host: str, target: str, seen: list[dict[str, str]]) -> Iterator[str]:
    handler = type("Handler", (_Recorder,), {"seen": seen, "target": target})
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_redirect_to_another_host_does_not_carry_the_key() -> None:
    elsewhere: list[dict[str, str]] = []
    here: list[dict[str, str]] = []
    # 127.0.0.2 is loopback too, but another host as far as HTTP is concerned.
    with _server("127.0.0.2", "", elsewhere) as other, _server("127.0.0.1", other, here) as base:
        with DeepInfraClient(TEST_KEY, base_url=base, max_retries=0) as client:
            assert client.models.list(refresh=True) == []
    assert here[0]["authorization"] == f"Bearer {TEST_KEY}"  # sent where it was configured
    assert len(elsewhere) == 1
    assert "authorization" not in elsewhere[0]
    for headers in elsewhere:
        assert_no_key(repr(headers), "the headers the other host received")


# -- logs -----------------------------------------------------------------------------------


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _debug_logs(*names: str) -> Iterator[_Capture]:
    capture = _Capture()
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(capture)
    try:
        yield capture
    finally:
        for lg, (level, propagate) in zip(loggers, saved):
            lg.removeHandler(capture)
            lg.setLevel(level)
            lg.propagate = propagate


def test_debug_logs_of_the_sdk_and_urllib3_never_hold_the_key_or_the_header(
    emu: Emulator,
) -> None:
    with _debug_logs("deepinfra_sdk", "urllib3", "requests") as capture:
        emu.inject(Fault(status=429, retry_after="0"), route=CHAT)
        emu.inject(Fault(status=500), route="/models/meta-llama")
        with DeepInfraClient(TEST_KEY, base_url=emu.url, max_retries=1) as client:
            client.chat.completions.create(model=MODEL, messages=MSGS)  # retried once
            with client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as s:
                for _ in s:
                    pass
            client.models.list(refresh=True)
            with pytest.raises(APIStatusError):
                client.models.get(MODEL)
    assert {r.name.split(".")[0] for r in capture.records} >= {"deepinfra_sdk", "urllib3"}
    assert any("retry" in r.getMessage() for r in capture.records)  # the SDK did log
    for record in capture.records:
        text = record.getMessage() + repr(record.args)
        assert_no_key(text, f"a {record.name} log record")
        # Headers are never logged, so neither is the Authorization value, redacted or not.
        assert "Bearer" not in text
    assert_urls_clean(emu)


def test_the_emulator_verbose_log_does_not_show_the_key(capfd: pytest.CaptureFixture[str]) -> None:
    with Emulator(api_keys=[TEST_KEY], verbose=True) as emu, _client(emu) as client:
        client.chat.completions.create(model=MODEL, messages=MSGS)
        emu.inject(Fault(status=401))
        with pytest.raises(APIStatusError):
            client.chat.completions.create(model=MODEL, messages=MSGS)
    err = capfd.readouterr().err
    assert CHAT in err  # the log did record the requests
    assert_no_key(err, "the emulator's verbose log")


# -- the session-wide scan itself ----------------------------------------------------------


def _provoke(emit: Callable[[], None]) -> list[str]:
    before = len(_recorder.leaks)
    try:
        emit()
        return _recorder.leaks[before:]
    finally:
        del _recorder.leaks[before:]  # a deliberate leak must not fail the session


def _log_with_locals() -> None:
    secret_holder = {"authorization": TEST_KEY}
    try:
        raise RuntimeError("nothing secret in the message")
    except RuntimeError:
        logging.getLogger("some.app").debug("failed", exc_info=True)
    del secret_holder


@contextlib.contextmanager
def _isolated_logger() -> Iterator[logging.Logger]:
    # A logger that does not propagate, as libraries sometimes configure their own: no
    # handler of the root (nor pytest's, which would raise on an unformattable record) sees
    # its records.
    isolated = logging.getLogger("isolated.app")
    isolated.propagate = False
    isolated.addHandler(logging.NullHandler())
    try:
        yield isolated
    finally:
        isolated.handlers.clear()
        isolated.propagate = True


def _log_on_an_isolated_logger() -> None:
    with _isolated_logger() as isolated:
        isolated.warning("key=%s", TEST_KEY)


def _log_an_unformattable_record() -> None:
    with _isolated_logger() as isolated:
        isolated.info("the args do not fit", TEST_KEY)


def _warn_with_the_key() -> None:
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        warnings.warn(f"key {TEST_KEY}", UserWarning, stacklevel=1)


@pytest.mark.parametrize(
    "emit",
    [
        lambda: logging.getLogger("deepinfra_sdk").debug("%s", TEST_KEY),
        _log_an_unformattable_record,
        lambda: logging.getLogger("x").error("tail only: %s", TEST_KEY[-12:]),
        _log_with_locals,
        _log_on_an_isolated_logger,
        _warn_with_the_key,
    ],
    ids=["args", "unformattable", "tail", "exc-locals", "propagate-false", "warning"],
)
def test_the_session_scan_catches_every_kind_of_leak(emit: Callable[[], None]) -> None:
    caught = _provoke(emit)
    assert len(caught) == 1, caught
