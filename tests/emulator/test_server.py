"""The server itself: start and stop, threads, connections, concurrency, the command line."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict

import pytest
import requests

from deepinfra_sdk.emulator import Emulator, main

from .helpers import CHAT, RawConnection, chat_body, sse_payloads

ROOT = Path(__file__).resolve().parents[2]


def wait_for_threads(baseline: int, timeout: float = 3.0) -> int:
    deadline = time.monotonic() + timeout
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count()


def test_starts_fast_and_stops_idempotently() -> None:
    baseline = threading.active_count()
    started = time.perf_counter()
    emu = Emulator().start()
    assert time.perf_counter() - started < 0.5
    assert emu.url == f"http://127.0.0.1:{emu.port}"
    assert requests.get(emu.url + "/models/list").status_code == 200
    started = time.perf_counter()
    emu.stop()
    emu.stop()
    assert time.perf_counter() - started < 0.5
    assert wait_for_threads(baseline) == baseline
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", emu.port), timeout=1).close()
    with pytest.raises(RuntimeError):
        emu.start()


def test_url_needs_a_start_and_settings_are_checked() -> None:
    emu = Emulator()
    with pytest.raises(RuntimeError):
        _ = emu.url
    emu.stop()  # never started: a no-op
    for bad in (
        {"framing": "smoke"},
        {"line_ending": "\n\n"},
        {"token_delay": -1},
        {"answer_tokens": 0},
        {"api_keys": [""]},
    ):
        with pytest.raises(ValueError):
            Emulator(**bad)
    with pytest.raises(ValueError):
        emu.framing = "sideways"


def test_stop_closes_idle_keep_alive_connections() -> None:
    baseline = threading.active_count()
    emu = Emulator().start()
    conns = [RawConnection(emu.port) for _ in range(5)]
    try:
        for conn in conns:
            conn.send("GET", "/models/list")
            assert conn.read_response().status == 200
        assert threading.active_count() >= baseline + 5
        assert emu.open_connections == 5
        conns[0].close()
        deadline = time.monotonic() + 2
        while emu.open_connections > 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert emu.open_connections == 4
        emu.stop()
        for conn in conns[1:]:
            assert conn.at_eof()
    finally:
        for conn in conns:
            conn.close()
    assert wait_for_threads(baseline) == baseline


def test_stop_ends_streams_in_flight() -> None:
    baseline = threading.active_count()
    emu = Emulator(token_delay=0.5).start()
    conns = [RawConnection(emu.port) for _ in range(3)]
    try:
        for conn in conns:
            conn.send("POST", CHAT, chat_body(stream=True))
            conn.read_head()
        started = time.perf_counter()
        emu.stop()
        assert time.perf_counter() - started < 1.0
    finally:
        for conn in conns:
            conn.close()
    assert wait_for_threads(baseline) == baseline
    assert emu.handler_errors == []


def test_client_vanishing_mid_stream_is_quiet(emulator: Emulator) -> None:
    emulator.token_delay = 0.01
    for how in ("close", "reset"):
        conn = RawConnection(emulator.port)
        conn.send("POST", CHAT, chat_body(stream=True, max_tokens=50))
        conn.read_head()
        if how == "reset":
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        conn.close()
    with requests.post(
        emulator.url + CHAT,
        json=chat_body(stream=True, max_tokens=50),
        headers={"Authorization": "Bearer k"},
        stream=True,
    ) as r:
        next(r.iter_content(64))
    time.sleep(0.1)  # let the handlers hit the broken pipe
    assert requests.get(emulator.url + "/models/list").status_code == 200
    # conftest's teardown asserts no handler errors; -W error turns thread exceptions red


def test_many_concurrent_slow_streams_finish_together() -> None:
    baseline = threading.active_count()
    count, delay, tokens = 300, 0.05, 10  # one stream: 12 gaps of 50 ms
    with Emulator(token_delay=delay) as emu:
        body = json.dumps(chat_body(stream=True, max_tokens=tokens)).encode()
        request = (
            f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        socks = [
            socket.create_connection(("127.0.0.1", emu.port), timeout=10) for _ in range(count)
        ]
        received: Dict[socket.socket, bytes] = {}
        started = time.perf_counter()
        try:
            with selectors.DefaultSelector() as selector:
                for sock in socks:
                    sock.sendall(request)
                    sock.setblocking(False)
                    selector.register(sock, selectors.EVENT_READ)
                    received[sock] = b""
                open_count = count
                while open_count:
                    for key, _ in selector.select(timeout=10):
                        sock = key.fileobj  # type: ignore[assignment]
                        data = sock.recv(65536)
                        if data:
                            received[sock] += data
                        else:
                            selector.unregister(sock)
                            open_count -= 1
            elapsed = time.perf_counter() - started
        finally:
            for sock in socks:
                sock.close()
        for data in received.values():
            assert sse_payloads(data.partition(b"\r\n\r\n")[2])[-1:] == ["[DONE]"]
        one_stream = (tokens + 2) * delay
        assert elapsed < one_stream + 2.0, f"{count} streams took {elapsed:.2f}s"
        assert emu.request_count(CHAT) == count
        assert emu.connections_accepted == count
    assert wait_for_threads(baseline) == baseline


@pytest.mark.parametrize(
    ("framing", "accepted"), [("chunked", 1), ("content-length", 1), ("close", 5)]
)
def test_connections_accepted_shows_keep_alive_reuse(
    emulator: Emulator, session: requests.Session, framing: str, accepted: int
) -> None:
    emulator.framing = framing
    assert emulator.connections_accepted == 0
    for _ in range(5):
        r = session.post(emulator.url + CHAT, json=chat_body(stream=True, max_tokens=3))
        assert r.status_code == 200
        assert sse_payloads(r.content)[-1] == "[DONE]"  # read to the end: the pool reuses it
    assert emulator.request_count(CHAT) == 5
    assert emulator.connections_accepted == accepted


def test_connections_accepted_is_zeroed_by_reset(
    emulator: Emulator, session: requests.Session
) -> None:
    for _ in range(3):
        assert session.get(emulator.url + "/models/list").status_code == 200
    assert emulator.connections_accepted == 1
    emulator.reset()
    assert emulator.connections_accepted == 0
    assert emulator.request_count() == 0
    # The session's connection was accepted before the reset: it is not counted again.
    assert session.get(emulator.url + "/models/list").status_code == 200
    assert emulator.connections_accepted == 0
    assert emulator.request_count() == 1
    # A connection is counted when accepted, before (and without) any request on it.
    with RawConnection(emulator.port), RawConnection(emulator.port):
        deadline = time.monotonic() + 2
        while emulator.connections_accepted < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert emulator.connections_accepted == 2
    assert emulator.request_count() == 1
    assert Emulator().connections_accepted == 0  # never started


def test_main_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "deepinfra_sdk.emulator",
        "--port",
        "0",
        "--api-key",
        "k1",
        "--framing",
        "close",
        "--line-ending",
        "crlf",
        "--verbose",
    ]
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            url = line.split()[-1]
            assert url.startswith("http://127.0.0.1:")
            r = requests.post(
                url + CHAT, json=chat_body(stream=True), headers={"Authorization": "Bearer k1"}
            )
            assert r.headers["Connection"] == "close"
            assert b"\r\n\r\n" in r.content
            assert (
                requests.post(
                    url + CHAT, json=chat_body(), headers={"Authorization": "Bearer k2"}
                ).status_code
                == 401
            )
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=5) == 0
            stderr = proc.stderr.read() if proc.stderr else ""
            assert "POST /v1/openai/chat/completions -> 200" in stderr
        finally:
            if proc.poll() is None:
                proc.kill()


def test_main_reports_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    with Emulator() as emu:
        assert main(["--port", str(emu.port)]) == 1
    assert "cannot start" in capsys.readouterr().err


def test_https_serves_over_tls_and_the_handshake_does_not_block_accepting() -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with Emulator(ssl_context=server_ctx) as emu:
        assert emu.url == f"https://127.0.0.1:{emu.port}"
        # A client that connects and never starts its handshake holds only its own thread.
        with socket.create_connection(("127.0.0.1", emu.port)):
            with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as raw:
                with client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    body = json.dumps(chat_body()).encode()
                    tls.sendall(
                        b"POST " + CHAT.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                        b"Authorization: Bearer " + emu.api_key.encode() + b"\r\n"
                        b"Content-Type: application/json\r\nConnection: close\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                    )
                    reply = b""
                    while chunk := tls.recv(65536):
                        reply += chunk
        assert reply.startswith(b"HTTP/1.1 200 ")


def test_ssl_context_must_be_an_ssl_context() -> None:
    with pytest.raises(ValueError, match=r"ssl_context must be an ssl\.SSLContext"):
        Emulator(ssl_context="cert.pem")  # type: ignore[arg-type]
