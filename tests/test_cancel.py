"""CallGuard: stopping a blocking call from another thread, and the transport's side of it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, Optional

import pytest

from deepinfra_sdk import APIConnectionError, DeepInfraClient
from deepinfra_sdk._cancel import CallGuard, current, sleep
from deepinfra_sdk.emulator import Emulator, Fault
from tests._leaks import can_count_sockets, client_sockets

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
MESSAGES = [{"role": "user", "content": "hi"}]


class _Closable:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def _dispose(obj: Any) -> None:
    obj.close()


def test_running_installs_the_guard_for_this_thread_only() -> None:
    guard = CallGuard()
    seen: list[Optional[CallGuard]] = []
    with guard.running():
        assert current() is guard
        worker = threading.Thread(target=lambda: seen.append(current()))
        worker.start()
        worker.join()
    assert current() is None and seen == [None]


def test_a_result_handed_over_after_an_abort_is_disposed_of() -> None:
    guard = CallGuard()
    guard.abort()
    result = _Closable()
    guard.hand_over(result, _dispose)
    assert result.closed == 1


def test_an_abort_after_the_hand_over_disposes_of_the_uncollected_result() -> None:
    guard = CallGuard()
    result = _Closable()
    guard.hand_over(result, _dispose)
    guard.abort()
    guard.abort()
    assert result.closed == 1


def test_a_released_result_is_never_disposed_of() -> None:
    guard = CallGuard()
    result = _Closable()
    guard.hand_over(result, _dispose)
    guard.release()
    guard.abort()
    assert result.closed == 0 and guard.aborted


def test_an_abort_ends_a_back_off_sleep_at_once() -> None:
    guard = CallGuard()
    threading.Timer(0.05, guard.abort).start()
    started = time.monotonic()
    with guard.running():
        sleep(30)
    assert time.monotonic() - started < 5


def test_an_aborted_guard_shuts_a_connection_down_as_soon_as_it_is_attached() -> None:
    shut: list[int] = []

    class Sock:
        def shutdown(self, how: int) -> None:
            shut.append(how)

    class Conn:
        sock = Sock()

    guard = CallGuard()
    guard.abort()
    with guard.running():
        guard.attach(Conn())
    assert len(shut) == 1
    guard.attach(Conn())  # after the call: nothing to do
    assert len(shut) == 1


def test_a_detached_connection_is_not_touched_by_a_later_abort() -> None:
    shut: list[int] = []

    class Sock:
        def shutdown(self, how: int) -> None:
            shut.append(how)

    class Conn:
        sock = Sock()

    conn = Conn()
    guard = CallGuard()
    with guard.running():
        guard.attach(conn)
        guard.detach(conn)
        guard.abort()
    assert shut == []


# -- the transport over real sockets --------------------------------------------------------


@pytest.fixture
def emu() -> Iterator[Emulator]:
    server = Emulator().start()
    yield server
    server.stop()


def _abort_later(guard: CallGuard, delay: float) -> None:
    threading.Timer(delay, guard.abort).start()


def test_an_abort_stops_a_call_waiting_for_its_response_and_it_is_not_retried(
    emu: Emulator,
) -> None:
    emu.inject(Fault(stall=30, stall_at="before_response"), route="/models/featured")
    client = DeepInfraClient(emu.api_key, base_url=emu.url, max_retries=3)
    guard = CallGuard()
    _abort_later(guard, 0.1)
    started = time.monotonic()
    with pytest.raises(APIConnectionError, match="cancelled"), guard.running():
        client.models.list()  # a GET: a read error would otherwise be retried
    assert time.monotonic() - started < 5
    # A retry would need a new connection: the aborted one is gone.
    assert emu.connections_accepted == 1
    client.close()


def test_an_abort_stops_a_non_stream_body_read(emu: Emulator) -> None:
    emu.inject(Fault(stall=30, stall_at="after_events", after_events=1), route="/v1/openai")
    client = DeepInfraClient(emu.api_key, base_url=emu.url)
    guard = CallGuard()
    _abort_later(guard, 0.1)
    with pytest.raises(APIConnectionError), guard.running():
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    client.close()


def test_a_call_aborted_before_it_attaches_never_waits(emu: Emulator) -> None:
    client = DeepInfraClient(emu.api_key, base_url=emu.url)
    emu.inject(Fault(stall=30, stall_at="before_response"), route="/v1/openai")
    guard = CallGuard()
    guard.abort()
    started = time.monotonic()
    with pytest.raises(APIConnectionError), guard.running():
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert time.monotonic() - started < 5
    client.close()


@pytest.mark.skipif(not can_count_sockets(), reason="counts sockets through /proc")
def test_closing_the_client_closes_its_pooled_sockets_at_once(emu: Emulator) -> None:
    client = DeepInfraClient(emu.api_key, base_url=emu.url)
    # A response still referenced keeps urllib3's pool alive: close must not wait for GC.
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    with stream:
        list(stream)
    client.models.list()
    assert client_sockets(emu.port) >= 1
    client.close()
    assert client_sockets(emu.port) == 0
    assert stream.done


def test_a_greedy_read_joins_events_that_already_arrived(emu: Emulator) -> None:
    # Each event is its own HTTP chunk; once they have all arrived, one greedy read
    # returns many of them where a plain read returns one chunk.
    emu.answer_tokens = 400
    client = DeepInfraClient(emu.api_key, base_url=emu.url)
    for greedy, expect_many in ((False, False), (True, True)):
        response = client._send(
            "POST",
            "/v1/openai/chat/completions",
            {"model": MODEL, "messages": MESSAGES, "stream": True},
            stream=True,
        )
        time.sleep(0.2)  # let the whole stream arrive
        pieces = list(response.iter_bytes(greedy=greedy))
        response.close()
        body = b"".join(pieces)
        assert body.count(b"data: ") >= 400 and body.endswith(b"data: [DONE]\n\n")
        biggest = max(p.count(b"data: ") for p in pieces)
        assert (biggest > 10) is expect_many, (greedy, biggest, len(pieces))
    client.close()


@pytest.mark.parametrize("framing", ["chunked", "content-length", "close"])
def test_a_greedy_read_never_waits_for_more_than_has_arrived(emu: Emulator, framing: str) -> None:
    # The server sends two events, then holds the third: the greedy read must hand over
    # what arrived instead of waiting for the rest.
    held = threading.Event()

    def gate(k: int) -> None:
        if k == 2:
            held.wait(10)

    emu.event_gate = gate
    emu.framing = framing
    client = DeepInfraClient(emu.api_key, base_url=emu.url)
    response = client._send(
        "POST",
        "/v1/openai/chat/completions",
        {"model": MODEL, "messages": MESSAGES, "stream": True},
        stream=True,
    )
    received = b""
    pieces = response.iter_bytes(greedy=True)
    while received.count(b"data: ") < 2:
        received += next(pieces)
    held.set()
    received += b"".join(pieces)
    assert received.endswith(b"data: [DONE]\n\n")
    response.close()
    client.close()


def test_a_guard_reports_the_first_wait_on_the_network_once() -> None:
    seen: list[bool] = []
    guard = CallGuard()
    guard.on_network = seen.append
    with guard.running():
        sleep(0)  # a back-off wait: not sending
        guard.attach(object())
    assert seen == [False]
    guard = CallGuard()
    guard.on_network = seen.append
    guard.attach(object())
    guard.attach(object())
    assert seen == [False, True]


def test_the_transport_reports_a_connect_then_on_a_pooled_connection_a_written_request(
    emu: Emulator,
) -> None:
    with DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        seen: list[bool] = []
        for _ in range(2):
            guard = CallGuard()
            guard.on_network = seen.append
            with guard.running():
                client.chat.completions.create(model=MODEL, messages=MESSAGES)
    # The first call connected (waiting on the network before its request was written);
    # the second reused the pooled connection.
    assert seen == [False, True]
