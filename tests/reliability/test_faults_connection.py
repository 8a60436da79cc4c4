"""The fault matrix, network faults: refused, DNS, connect timeout, resets, stalls, a drip.

Each scenario runs on the sync client and the async facade (asyncio, trio) and asserts the
typed error (or the successful retry), how many requests reached the server, the text
kept, and (through ``make_api``'s leak check) that nothing was left behind.
"""

from __future__ import annotations

import contextlib
import select
import socket
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import requests

from deepinfra_sdk import APIConnectionError, APITimeoutError, Timeout
from deepinfra_sdk.emulator import Emulator, Fault

from .conftest import CHAT, FEATURED, Api, Baseline, LeakCheck, assert_backoff, free_port

ROUTES = {"GET": FEATURED, "POST": CHAT}


def send(api: Api, method: str) -> Any:
    """The GET (model list) or the POST (chat completion) of a scenario."""
    return api.models() if method == "GET" else api.chat()


# -- never reached the server: retried for GET and POST alike -------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_connection_refused_is_retried_then_raised(
    make_api: Callable[..., Api], method: str
) -> None:
    port = free_port()
    api = make_api(base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(APIConnectionError) as info:
        send(api, method)
    assert type(info.value) is APIConnectionError
    message = info.value.message
    assert f"could not connect to 127.0.0.1:{port}: the connection was refused" in message
    assert "check DEEPINFRA_BASE_URL" in message
    # One line, in plain words: no private class names, no reprs (the cause keeps those).
    assert "\n" not in message and "Connection(" not in message and "Errno" not in message
    assert info.value.__cause__ is not None
    assert info.value.status_code is None
    # Three attempts (two retries with backoff): a refused POST provably never billed.
    assert_backoff(api.sleeps, 2)


def test_a_refused_post_succeeds_once_the_server_is_up(
    make_api: Callable[..., Api], leak_check: LeakCheck
) -> None:
    port = free_port()
    api = make_api(base_url=f"http://127.0.0.1:{port}")
    started: list[Emulator] = []
    # The server comes up during the first back-off: the retry finds it.
    api.on_sleep = lambda _: started.append(Emulator(port=port).start()) if not started else None
    try:
        completion = api.chat()
        assert completion.choices[0].message.content
        assert len(api.sleeps) == 1
        assert started[0].request_count(CHAT, "POST") == 1
    finally:
        leak_check.verify()  # before the server goes: its idle pooled socket is fine
        leak_check.clients.clear()
        for server in started:
            server.stop()


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``*.invalid`` names fail to resolve at once, without asking any resolver.

    Proxies from the environment are removed, so the name is looked up, not sent on.
    """
    asked: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".invalid"):
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        raise socket.gaierror(socket.EAI_NONAME, f"{host}: Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "gethostbyname", gethostbyname)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    return asked


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_dns_failure_is_retried_then_raised(
    make_api: Callable[..., Api], no_dns: list[str], method: str
) -> None:
    api = make_api(base_url="https://api.deepinfra.invalid")
    with pytest.raises(APIConnectionError) as info:
        send(api, method)
    assert type(info.value) is APIConnectionError
    assert "could not connect to api.deepinfra.invalid:443" in info.value.message
    assert "the host name does not resolve (DNS)" in info.value.message
    assert "DEEPINFRA_BASE_URL" in info.value.message
    assert isinstance(info.value.__cause__, requests.ConnectionError)  # details, chained
    assert no_dns == ["api.deepinfra.invalid"] * 3  # one lookup per attempt
    assert_backoff(api.sleeps, 2)


@pytest.fixture
def blackhole(leak_check: LeakCheck) -> Iterator[int]:
    """A port whose listener never accepts and whose backlog is full: SYNs go unanswered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(16):
            filler = socket.socket()
            filler.setblocking(False)
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            # A connect the kernel completed makes the socket writable at once; one whose
            # SYN was dropped stays pending: the backlog is full from then on.
            _, writable, _ = select.select([], [filler], [], 0.05)
            if not writable:
                break
        else:
            pytest.fail("could not fill the listen backlog")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_connect_timeout_is_retried_then_raised(
    make_api: Callable[..., Api], blackhole: int, method: str
) -> None:
    api = make_api(base_url=f"http://127.0.0.1:{blackhole}", timeout=Timeout(connect=0.05, read=5))
    with pytest.raises(APITimeoutError) as info:
        send(api, method)
    assert f"could not connect to 127.0.0.1:{blackhole}" in info.value.message
    assert "the connection timed out (the connect timeout)" in info.value.message
    # A connect that timed out never sent the request: a POST is retried too.
    assert_backoff(api.sleeps, 2)


# -- resets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "attempts"), [("GET", 3), ("POST", 1)])
def test_reset_before_the_status_line(api: Api, emu: Emulator, method: str, attempts: int) -> None:
    emu.inject(Fault(drop="before_response"), times=5, route=ROUTES[method])
    with pytest.raises(APIConnectionError) as info:
        send(api, method)
    assert type(info.value) is APIConnectionError
    assert info.value.status_code is None
    # The POST reached the server, which may have started (and billed) the work.
    assert emu.request_count(ROUTES[method], method) == attempts
    assert_backoff(api.sleeps, attempts - 1)


def test_a_get_reset_before_the_status_line_succeeds_on_retry(api: Api, emu: Emulator) -> None:
    emu.inject(Fault(drop="before_response"), times=1, route=FEATURED)
    assert len(api.models()) > 0
    assert emu.request_count(FEATURED, "GET") == 2
    assert_backoff(api.sleeps, 1)


@pytest.mark.parametrize(("method", "attempts"), [("GET", 3), ("POST", 1)])
def test_reset_after_the_headers(api: Api, emu: Emulator, method: str, attempts: int) -> None:
    """A GET is idempotent: a body cut off after its headers is fetched again (docs/errors.md:
    "reset or timeout after the request was sent: GET retried"); a POST never is."""
    emu.inject(Fault(drop="after_headers"), times=5, route=ROUTES[method])
    with pytest.raises(APIConnectionError) as info:
        send(api, method)
    assert type(info.value) is APIConnectionError
    assert info.value.status_code == 200
    assert emu.request_count(ROUTES[method], method) == attempts


def test_a_get_reset_after_the_headers_succeeds_on_retry(api: Api, emu: Emulator) -> None:
    emu.inject(Fault(drop="after_headers"), times=1, route=FEATURED)
    assert len(api.models()) > 0
    assert emu.request_count(FEATURED, "GET") == 2


def test_a_stream_reset_after_its_headers(api: Api, emu: Emulator) -> None:
    emu.inject(Fault(drop="after_headers", request_id="rid-after-headers"), times=5, route=CHAT)
    out = api.stream()
    assert type(out.error) is APIConnectionError
    assert out.error.status_code == 200
    assert out.error.request_id == "rid-after-headers"
    assert out.pieces == [] and out.text == "" and out.error.partial_text == ""
    assert emu.request_count(CHAT, "POST") == 1
    assert api.sleeps == []


@pytest.mark.parametrize("framing", ["chunked", "content-length", "close"])
@pytest.mark.parametrize("events", [1, 6])
def test_a_stream_reset_after_k_events_keeps_their_text(
    api: Api, emu: Emulator, baseline: Baseline, framing: str, events: int
) -> None:
    emu.inject(Fault(drop="after_events", after_events=events, framing=framing), route=CHAT)
    out = api.stream()
    assert type(out.error) is APIConnectionError
    assert out.pieces == baseline.pieces[:events]
    assert out.text == out.error.partial_text == baseline.text_of(events)
    assert not out.done
    # A stream that delivered an event is never repeated.
    assert emu.request_count(CHAT, "POST") == 1
    assert api.sleeps == []


# -- stalls and slow drips ----------------------------------------------------------------------


def test_a_stall_mid_stream_longer_than_the_read_timeout(
    make_api: Callable[..., Api], emu: Emulator, baseline: Baseline
) -> None:
    api = make_api(timeout=Timeout(connect=2, read=0.1))
    emu.inject(Fault(stall=1.0, stall_at="after_events", after_events=4), route=CHAT)
    out = api.stream()
    assert type(out.error) is APITimeoutError
    assert "read timeout" in out.error.message
    assert out.pieces == baseline.pieces[:4]
    assert out.text == out.error.partial_text == baseline.text_of(4)
    assert emu.request_count(CHAT, "POST") == 1
    assert api.sleeps == []


@pytest.mark.parametrize("stall_at", ["before_response", "after_headers"])
@pytest.mark.parametrize(("method", "attempts"), [("GET", 3), ("POST", 1)])
def test_no_answer_within_the_read_timeout(
    make_api: Callable[..., Api], emu: Emulator, method: str, attempts: int, stall_at: str
) -> None:
    api = make_api(timeout=Timeout(connect=2, read=0.1))
    emu.inject(Fault(stall=1.0, stall_at=stall_at), times=5, route=ROUTES[method])
    with pytest.raises(APITimeoutError) as info:
        send(api, method)
    assert "read timeout" in info.value.message
    assert info.value.status_code == (None if stall_at == "before_response" else 200)
    # The POST was sent: the server may be working on it, so it is not sent again.
    assert emu.request_count(ROUTES[method], method) == attempts
    assert_backoff(api.sleeps, attempts - 1)


def test_the_total_deadline_ends_a_slow_drip(
    make_api: Callable[..., Api], emu: Emulator, baseline: Baseline
) -> None:
    # Every piece comes well within the read timeout: only the total deadline can end it.
    api = make_api(timeout=Timeout(connect=2, read=5, total=0.3))
    emu.inject(Fault(chunk_size=16, drip_delay=0.01), route=CHAT)
    out = api.stream()
    assert type(out.error) is APITimeoutError
    assert "total timeout" in out.error.message
    assert out.error.status_code == 200
    assert out.text == out.error.partial_text
    assert baseline.text.startswith(out.text)
    assert out.pieces == baseline.pieces[: len(out.pieces)]
    assert len(out.pieces) < len(baseline.pieces)
    assert emu.request_count(CHAT, "POST") == 1
