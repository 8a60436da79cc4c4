"""Event streams on the wire: framings, line endings, keep-alive, pacing, the event gate."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import List

import pytest
import requests

from deepinfra_sdk.emulator import Emulator

from .helpers import CHAT, RawConnection, chat_body, chunks, request, sse_payloads

STREAM = chat_body("framing", stream=True, max_tokens=6)


def normalised(body: bytes) -> bytes:
    # Ids and timestamps are fresh per response; everything else must match byte for byte.
    body = re.sub(rb'"id": ?"chatcmpl-[A-Za-z0-9]+"', b'"id":"X"', body)
    return re.sub(rb'"created": ?\d+', b'"created":0', body)


def test_chunked_framing_one_chunk_per_event(emulator: Emulator) -> None:
    response, closed = request(emulator.port, "POST", CHAT, STREAM)
    assert response.status == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    assert response.headers["content-type"] == "text/event-stream"
    assert not closed
    assert len(response.pieces) == 9  # role, 6 tokens, finish, [DONE]
    assert all(p.startswith(b"data: ") and p.endswith(b"\n\n") for p in response.pieces)


def test_three_framings_send_the_same_body(emulator: Emulator) -> None:
    bodies = {}
    for framing in ("chunked", "content-length", "close"):
        emulator.framing = framing
        response, closed = request(emulator.port, "POST", CHAT, STREAM)
        assert response.error is None
        bodies[framing] = normalised(response.body)
        if framing == "content-length":
            assert int(response.headers["content-length"]) == len(response.body)
            assert "transfer-encoding" not in response.headers
            assert not closed
        if framing == "close":
            assert response.headers["connection"] == "close"
            assert "content-length" not in response.headers
            assert "transfer-encoding" not in response.headers
            assert closed
            assert response.eof
    assert bodies["chunked"] == bodies["content-length"] == bodies["close"]
    assert len(sse_payloads(bodies["close"])) == 9


def test_framing_header_per_request(emulator: Emulator) -> None:
    response, closed = request(
        emulator.port, "POST", CHAT, STREAM, headers={"X-Emulator-Framing": "close"}
    )
    assert response.headers["connection"] == "close"
    assert closed
    response, _ = request(
        emulator.port, "POST", CHAT, STREAM, headers={"X-Emulator-Framing": "sideways"}
    )
    assert response.status == 400
    assert "X-Emulator-Framing" in response.body.decode()


@pytest.mark.parametrize("line_ending", ["\r\n", "\r"])
def test_line_endings(emulator: Emulator, line_ending: str) -> None:
    emulator.line_ending = line_ending
    response, _ = request(emulator.port, "POST", CHAT, STREAM)
    eol = line_ending.encode()
    for piece in response.pieces:
        assert piece.endswith((b"}" + eol + eol, b"]" + eol + eol))
        if line_ending == "\r":
            assert b"\n" not in piece
    assert sse_payloads(response.body)[-1] == "[DONE]"
    assert len(chunks(sse_payloads(response.body))) == 8


def test_keep_alive_serves_many_requests_on_one_connection(emulator: Emulator) -> None:
    with RawConnection(emulator.port) as conn:
        for framing in ("chunked", "content-length", "chunked"):
            conn.send("POST", CHAT, STREAM, headers={"X-Emulator-Framing": framing})
            response = conn.read_response()
            assert response.status == 200
            assert response.error is None
            conn.send("POST", CHAT, chat_body())
            assert conn.read_response().status == 200
            conn.send("GET", "/models/list")
            assert conn.read_response().status == 200
        conn.send("POST", CHAT, STREAM, headers={"Connection": "close"})
        response = conn.read_response()
        assert response.headers["connection"] == "close"
        assert conn.at_eof()
    assert emulator.request_count() == 10


def test_event_gate_is_called_in_order_before_each_event(emulator: Emulator) -> None:
    seen: List[int] = []
    delivered: List[int] = []
    lock = threading.Lock()

    def gate(k: int) -> None:
        with lock:
            # Everything before event k is already on the wire when the gate runs.
            assert len(delivered) <= k
        seen.append(k)

    emulator.event_gate = gate
    with requests.post(
        emulator.url + CHAT, json=STREAM, stream=True, headers={"Authorization": "Bearer k"}
    ) as r:
        for line in r.iter_lines():
            if line.startswith(b"data:"):
                with lock:
                    delivered.append(len(delivered))
    assert seen == list(range(9))
    assert len(delivered) == 9


def test_event_gate_gives_lockstep_delivery(emulator: Emulator) -> None:
    go = threading.Semaphore(0)

    def gate(k: int) -> None:
        if k:
            go.acquire()

    emulator.event_gate = gate
    with RawConnection(emulator.port) as conn:
        conn.send("POST", CHAT, STREAM)
        head = conn.read_head()
        assert head.status == 200
        got = conn.buffered()
        while got.count(b"data: ") < 1:
            got += conn.sock.recv(65536)
        for k in range(1, 9):
            conn.sock.settimeout(0.05)
            with pytest.raises((TimeoutError, OSError)):
                conn.sock.recv(65536)  # event k is held back by the gate
            conn.sock.settimeout(5)
            go.release()
            while got.count(b"data: ") < k + 1:
                got += conn.sock.recv(65536)
        assert got.count(b"data: ") == 9


def test_token_delay_paces_events(emulator: Emulator) -> None:
    emulator.token_delay = 0.02
    arrivals = []
    started = time.perf_counter()
    with requests.post(
        emulator.url + CHAT, json=STREAM, stream=True, headers={"Authorization": "Bearer k"}
    ) as r:
        for line in r.iter_lines():
            if line.startswith(b"data:"):
                arrivals.append(time.perf_counter() - started)
    assert len(arrivals) == 9
    assert 0.8 * 8 * 0.02 <= arrivals[-1] - arrivals[0] < 2.0
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert min(gaps) > 0.01  # each event was flushed on its own


def test_token_delay_header_overrides(emulator: Emulator) -> None:
    started = time.perf_counter()
    response, _ = request(
        emulator.port, "POST", CHAT, STREAM, headers={"X-Emulator-Token-Delay": "0.03"}
    )
    assert time.perf_counter() - started >= 8 * 0.03 * 0.8
    assert len(response.pieces) == 9
    response, _ = request(
        emulator.port, "POST", CHAT, STREAM, headers={"X-Emulator-Token-Delay": "soon"}
    )
    assert response.status == 400


def test_undelayed_long_stream_is_complete(emulator: Emulator) -> None:
    response, _ = request(emulator.port, "POST", CHAT, chat_body(stream=True, max_tokens=20000))
    payloads = sse_payloads(response.body)
    assert len(payloads) == 20003
    assert payloads[-1] == "[DONE]"
    assert len(response.pieces) == 20003


def test_http_1_0_client_gets_a_close_delimited_stream(emulator: Emulator) -> None:
    import json
    import socket

    data = json.dumps(STREAM).encode()
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
        sock.sendall(
            b"POST " + CHAT.encode() + b" HTTP/1.0\r\nAuthorization: Bearer k\r\n"
            b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"chunked" not in head.lower()
    assert sse_payloads(body)[-1] == "[DONE]"


PING = re.compile(rb"^: ping - \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$")


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_idle_streams_send_ping_comments(emulator: Emulator, framing: str) -> None:
    # DeepInfra's keep-alive (real-traffic/chat_stream_with_ping_crlf.sse): a comment block
    # whenever the stream has been quiet for the ping interval.
    emulator.ping_interval = 0.05
    emulator.token_delay = 0.12
    emulator.framing = framing
    emulator.line_ending = "\r\n"
    response, _ = request(emulator.port, "POST", CHAT, chat_body("ping", stream=True, max_tokens=2))
    blocks = [b for b in response.body.split(b"\r\n\r\n") if b]
    pings = [b for b in blocks if b.startswith(b":")]
    assert all(PING.match(p) for p in pings)
    # Two pings in each 0.12 s gap between the five events (role, 2 tokens, finish, [DONE]).
    assert len(pings) == 8
    assert [json.loads(b[6:]) for b in blocks if b.startswith(b"data: {")]
    assert len(sse_payloads(response.body)) == 5


def test_no_pings_when_quick_or_disabled(emulator: Emulator) -> None:
    emulator.ping_interval = None
    emulator.token_delay = 0.06
    response, _ = request(emulator.port, "POST", CHAT, chat_body("ping", stream=True, max_tokens=2))
    assert b": ping" not in response.body
    emulator.ping_interval = 1.0
    response, _ = request(emulator.port, "POST", CHAT, chat_body("ping", stream=True, max_tokens=2))
    assert b": ping" not in response.body
    with pytest.raises(ValueError, match="ping_interval"):
        emulator.ping_interval = 0
    with pytest.raises(ValueError, match="shapes"):
        emulator.shapes = "fancy"


def test_the_sdk_reads_through_pings(emulator: Emulator) -> None:
    from deepinfra_sdk import DeepInfraClient

    emulator.ping_interval = 0.02
    emulator.token_delay = 0.05
    with DeepInfraClient(api_key=emulator.api_key, base_url=emulator.url) as client:
        with client.chat.completions.create(
            model=chat_body()["model"],
            messages=[{"role": "user", "content": "ping"}],
            max_tokens=3,
            stream=True,
        ) as stream:
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert len(text.split()) == 3
