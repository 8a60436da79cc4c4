"""The emulator as a server facing a broken or hostile client: every malformed request gets
a 4xx answer, request recording stays bounded, fault headers are parsed only after the key
is checked and are bounded, and a failing accept backs off instead of spinning.
"""

from __future__ import annotations

import errno
import gc
import json
import socket
import time
import tracemalloc
from typing import Any

import pytest

from deepinfra_sdk.emulator import Emulator
from deepinfra_sdk.emulator import _state as state_module

from .helpers import RawConnection, chat_body, request

CHAT = "/v1/openai/chat/completions"


def _raw(port: int, data: bytes) -> bytes:
    """Send ``data`` as is; everything the server answers before it closes (or 5 s pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            more = sock.recv(65536)
            if not more:
                return out
            out += more


def test_a_malformed_request_target_gets_400(emulator: Emulator) -> None:
    for target in ("http://[::1/models", "models/featured"):
        answer = _raw(emulator.port, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 400 "), (target, answer[:100])
        assert b"Malformed request target" in answer


@pytest.mark.parametrize(
    ("line", "status"),
    [(b"GARBAGE", b"400"), (b"GET /a b c", b"400"), (b"GET /models/featured HTTP/9.9", b"505")],
)
def test_a_broken_request_line_gets_a_status_line(
    emulator: Emulator, line: bytes, status: bytes
) -> None:
    answer = _raw(emulator.port, line + b"\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer[:100]


def test_json_nested_100000_deep_gets_a_4xx(emulator: Emulator) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    head = (
        f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    answer = _raw(emulator.port, head.encode() + body)
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:200]


@pytest.mark.parametrize(
    "value",
    [
        "[" * 2000 + "]" * 2000,  # deeper than Python's JSON decoder recurses
        "[" * 5000 + "]" * 5000,  # longer than a fault header may be
        '{"stall": Infinity}',
        '{"stall": NaN}',
        '{"drip_delay": 1e300}',
        json.dumps({"frame_bytes": 200 * 1024 * 1024}),
    ],
    ids=["deep", "long", "infinity", "nan", "huge-delay", "huge-frame"],
)
def test_a_bad_fault_header_gets_400(emulator: Emulator, value: str) -> None:
    started = time.monotonic()
    response, _ = request(
        emulator.port, "POST", CHAT, chat_body(), headers={"X-Emulator-Fault": value}
    )
    assert response.status == 400, response.body[:200]
    assert b"X-Emulator-Fault" in response.body
    assert time.monotonic() - started < 2


def test_a_fault_header_100000_deep_gets_a_4xx(emulator: Emulator) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    response, _ = request(
        emulator.port, "POST", CHAT, chat_body(), headers={"X-Emulator-Fault": deep}
    )
    assert response.status == 431  # the header line is longer than http.server reads


def test_a_negative_chunk_size_gets_400_not_a_read_past_the_limit(emulator: Emulator) -> None:
    head = (
        f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
        # The connection stays open: before the fix the server read on to its end.
        sock.sendall(head.encode() + b"-1\r\n" + b"x" * 1000)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    assert b"negative chunk size" in answer


def test_the_fault_header_is_ignored_without_a_valid_key() -> None:
    with Emulator(api_keys=["right-key"]) as emu:
        fault = json.dumps({"status": 503})
        response, _ = request(
            emu.port, "POST", CHAT, chat_body(), headers={"X-Emulator-Fault": fault}, key="wrong"
        )
        assert response.status == 401  # not 503: the header was not even parsed
        response, _ = request(
            emu.port, "POST", CHAT, chat_body(), headers={"X-Emulator-Fault": fault}, key=None
        )
        assert response.status == 401
        response, _ = request(
            emu.port,
            "POST",
            CHAT,
            chat_body(),
            headers={"X-Emulator-Fault": fault},
            key="right-key",
        )
        assert response.status == 503
        assert emu.handler_errors == []


def test_recording_keeps_a_ring_of_recent_requests(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator._state, "recent", type(emulator._state.recent)(maxlen=50))
    with RawConnection(emulator.port) as conn:
        for i in range(120):
            conn.send("GET", f"/models/featured?i={i}")
            assert conn.read_response().status == 200
    assert len(emulator.requests) == 50
    assert emulator.requests[-1].path == "/models/featured?i=119"
    assert emulator.request_count("/models/featured") == 120  # counts cover them all
    emulator.reset()
    assert emulator.requests == [] and emulator.request_count() == 0


def test_big_request_bodies_are_kept_as_their_length(emulator: Emulator) -> None:
    size = 8 * 1024 * 1024
    body: Any = chat_body("x" * size)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(5):
            response, _ = request(emulator.port, "POST", CHAT, body)
            assert response.status in (200, 400)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Before: every body stayed (40 MiB and its parsed JSON as much again).
    assert kept < 4 * 1024 * 1024, f"{kept / 2**20:.1f} MiB kept"
    last = emulator.requests[-1]
    assert last.body == b"" and last.json is None
    assert last.body_size > size
    request(emulator.port, "POST", CHAT, chat_body("hi"))
    assert emulator.requests[-1].json["messages"][0]["content"] == "hi"
    assert state_module.RECORD_BODY_BYTES == 1024 * 1024


def test_a_failing_accept_backs_off_instead_of_spinning(emulator: Emulator) -> None:
    server = emulator._server
    assert server is not None
    calls = 0
    real = server.get_request

    def failing() -> Any:
        nonlocal calls
        calls += 1
        if calls < 10_000:
            raise OSError(errno.EMFILE, "Too many open files")
        return real()

    server.get_request = failing  # type: ignore[method-assign]
    try:
        with socket.create_connection(("127.0.0.1", emulator.port), timeout=5):
            time.sleep(1.0)  # the connection waits in the backlog, the listener readable
        # Spinning made ~100,000 attempts a second; backing off doubles 10 ms up to 1 s.
        assert 2 <= calls <= 12, calls
    finally:
        server.get_request = real  # type: ignore[method-assign]
        calls = 10_000  # let whatever is pending through
