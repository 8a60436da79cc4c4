"""A hostile server's protocol: a status line and headers trickled a byte at a time, 3xx
answers to POSTs and streams, redirect loops, a redirect from https to http. Sync client
and async facade (asyncio, trio).
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from typing import Any, Callable

import pytest

from deepinfra_sdk import APIStatusError, APITimeoutError, Timeout

from ._hostile import head, hostile_server
from .conftest import MODEL, Api

CHAT_ANSWER = json.dumps(
    {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
    }
).encode()


def _trickle(conn: socket.socket, request: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    until = time.monotonic() + 6
    while time.monotonic() < until:
        conn.sendall(b"X")  # a header line that never ends, each byte well within read=1
        time.sleep(0.02)


@pytest.mark.parametrize("route", ["models", "chat", "stream"])
def test_the_total_deadline_covers_a_trickled_status_line_and_headers(
    make_api: Callable[..., Api], route: str
) -> None:
    with hostile_server(_trickle) as server:
        api = make_api(base_url=server.url, timeout=Timeout(connect=1, read=1, total=0.5))
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="total timeout") as info:
            if route == "models":
                api.models()
            elif route == "chat":
                api.chat()
            else:
                api.stream()
        elapsed = time.monotonic() - started
        assert server.count() == 1  # the deadline has passed: no retry
    assert elapsed < 1.5, elapsed
    assert info.value.status_code is None


def test_the_deadline_watchdog_leaves_no_thread_behind(make_api: Callable[..., Api]) -> None:
    import threading

    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head("200 OK", length=2) + b"[]")

    with hostile_server(script) as server:
        api = make_api(base_url=server.url, timeout=Timeout(connect=1, read=1, total=30))
        for _ in range(3):
            assert api.models() == []
    deadline = time.monotonic() + 2
    while any(t.name == "deepinfra-deadlines" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the watchdog outlived the calls"
        time.sleep(0.01)


# -- redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("route", ["chat", "stream"])
def test_a_3xx_to_a_post_is_a_status_error(
    make_api: Callable[..., Api], route: str, status: int
) -> None:
    # A body that would parse as a valid answer: it must still not pass for one.
    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            head(f"{status} Moved", "Location: http://example.invalid/x", length=len(CHAT_ANSWER))
            + CHAT_ANSWER
        )

    with hostile_server(script) as server:
        api = make_api(base_url=server.url)
        with pytest.raises(APIStatusError) as info:
            if route == "chat":
                api.chat()
            else:
                api.stream()
        assert server.count() == 1
    assert info.value.status_code == status
    assert "never re-sent to another address" in info.value.message
    assert "example.invalid" in info.value.message


def test_a_redirect_loop_is_one_attempt(make_api: Callable[..., Api]) -> None:
    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head("302 Found", "Location: /models/featured", length=0))

    with hostile_server(script) as server:
        api = make_api(base_url=server.url)
        with pytest.raises(APIStatusError, match="more than 5 redirects") as info:
            api.models()
        # The request and 5 redirects; no retry (it was 93 requests).
        assert server.count() == 6
    assert info.value.status_code == 302
    assert api.sleeps == []


@pytest.fixture
def tls_context(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    return context


def test_a_redirect_from_https_to_http_is_not_followed(
    make_api: Callable[..., Api], tls_context: ssl.SSLContext
) -> None:
    def plain(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head("200 OK", length=2) + b"[]")

    with hostile_server(plain) as insecure:

        def script(conn: socket.socket, request: bytes) -> None:
            conn.sendall(head("302 Found", f"Location: {insecure.url}/models/featured", length=0))

        with hostile_server(script, tls=tls_context) as server:
            api = make_api(base_url=server.url)
            with pytest.raises(APIStatusError, match="https to http is never followed") as info:
                api.models()
            assert server.count() == 1
        assert insecure.count() == 0
    assert info.value.status_code == 302


def test_the_total_deadline_covers_an_upload_the_server_never_reads(
    make_api: Callable[..., Api], tmp_path: Any
) -> None:
    # 32 MiB the server never reads: the send blocks once the socket buffers are full.
    data = tmp_path / "input.jsonl"
    padding = "x" * 1000
    line = (
        '{"custom_id": "r", "method": "POST", "url": "/v1/chat/completions", '
        f'"body": {{"pad": "{padding}"}}}}\n'
    ).encode()
    data.write_bytes(line * 30_000)  # 30 MB, under the 50,000-line and 200 MB limits

    def script(conn: socket.socket, request: bytes) -> None:
        time.sleep(2)

    with hostile_server(script, read=False) as server:
        api = make_api(base_url=server.url, timeout=Timeout(connect=1, read=30, total=0.5))
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="total timeout"):
            api.call("files.create", file=data)
        assert time.monotonic() - started < 1.5
        assert server.count() == 1  # not sent twice
