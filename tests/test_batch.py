"""``chat.completions.batch``: input order, per-item errors, the concurrency bound, progress
output, and stopping (Ctrl-C, cancellation), sync and async (asyncio and trio)."""

from __future__ import annotations

import _thread
import io
import random
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable

import anyio
import pytest

from deepinfra_sdk import (
    AsyncDeepInfraClient,
    BatchCancelled,
    BatchError,
    BatchInterrupted,
    BatchItem,
    BatchProgress,
    BatchResult,
    ChatCompletion,
    DeepInfraClient,
    InternalServerError,
    NotFoundError,
    _batch,
)
from deepinfra_sdk.emulator import Emulator, Fault
from tests._leaks import wait_until_no_thread_in_sdk

LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
CHAT = "/v1/openai/chat/completions"


def request(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": LLAMA, "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    server = Emulator(answer_tokens=6).start()
    yield server
    server.stop()
    assert server.handler_errors == []


@pytest.fixture
def client(emu: Emulator) -> Iterator[DeepInfraClient]:
    with DeepInfraClient(emu.api_key, base_url=emu.url) as c:
        c._transport._sleep = lambda seconds: None
        yield c


class InFlight:
    """Wraps ``client._send``: counts the calls in flight, optionally holding each one
    until ``hold`` calls are in flight together (a barrier)."""

    def __init__(self, client: DeepInfraClient, hold: int = 0) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.finished: list[str] = []
        self.barrier = threading.Barrier(hold, timeout=10) if hold else None
        self._send = client._send
        client._send = self  # type: ignore[method-assign]

    def __call__(self, method: str, path: str, payload: Any = None, **kwargs: Any) -> Any:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            if self.barrier is not None:
                self.barrier.wait()
            return self._send(method, path, payload, **kwargs)
        finally:
            with self.lock:
                self.now -= 1
                if payload:
                    self.finished.append(payload["messages"][-1]["content"])


def without_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import tqdm.auto` raise ImportError.
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


# --------------------------------------------------------------------------- order


def test_results_keep_the_input_order_whatever_finishes_first(
    client: DeepInfraClient, emu: Emulator
) -> None:
    prompts = [f"question number {i}" for i in range(24)]
    expected = [
        client.chat.completions.create(**request(p)).text for p in prompts
    ]  # the emulator answers deterministically
    rng = random.Random(3)
    for _ in prompts:
        emu.inject(Fault(stall=rng.uniform(0, 0.06)), route=CHAT)
    spy = InFlight(client)
    results = client.chat.completions.batch(
        [request(p) for p in prompts], concurrency=8, progress=False
    )
    assert isinstance(results, BatchResult)
    assert len(results) == 24 and results.ok and results.failed == 0
    assert [item.index for item in results] == list(range(24))
    assert results.texts == expected
    assert [item.request["messages"][0]["content"] for item in results] == prompts
    assert all(isinstance(c, ChatCompletion) for c in results.completions)
    assert spy.finished != prompts  # they did finish out of order
    assert sorted(spy.finished) == sorted(prompts)
    assert results.raise_on_error() == results.completions
    assert client.usage.requests == 24 + 24


def test_per_item_errors_stay_in_place_and_do_not_stop_the_batch(
    client: DeepInfraClient, emu: Emulator
) -> None:
    requests = [request(f"q{i}") for i in range(10)]
    requests[2] = request("q2", model="no such model")  # invalid name: ValueError, not sent
    requests[5] = request("q5", model="nobody/nothing")  # 404 from the server
    requests[7] = {"messages": [{"role": "user", "content": "q7"}]}  # no model: TypeError
    results = client.chat.completions.batch(requests, concurrency=3, progress=False)
    assert [item.ok for item in results] == [i not in (2, 5, 7) for i in range(10)]
    assert isinstance(results[2].error, ValueError)
    assert isinstance(results[5].error, NotFoundError)
    assert isinstance(results[7].error, TypeError)
    assert results.failed == 3 and results.succeeded == 7 and not results.ok
    assert [item.index for item in results.failures] == [2, 5, 7]
    assert results.errors[5] is results[5].error and results.errors[0] is None
    assert results.completions[2] is None and results.texts[2] is None
    assert emu.request_count(CHAT) == 8  # the invalid name was never sent
    with pytest.raises(BatchError) as info:
        results.raise_on_error()
    assert [f.index for f in info.value.failures] == [2, 5, 7]
    assert "3 of 10 requests failed; the first, request 2: ArgumentValueError" in str(info.value)
    assert info.value.__cause__ is results[2].error
    with pytest.raises(NotFoundError):
        results[5].unwrap()
    assert results[0].unwrap() is results[0].completion
    assert repr(results) == "<BatchResult 10 requests: 7 ok, 3 failed>"


def test_each_item_is_retried_per_the_clients_policy(
    client: DeepInfraClient, emu: Emulator
) -> None:
    emu.inject(Fault(status=429, retry_after="0"), times=2, route=CHAT)
    results = client.chat.completions.batch(
        [request(f"q{i}") for i in range(5)], concurrency=1, progress=False
    )
    assert results.ok
    assert emu.request_count(CHAT) == 7  # two 429s retried
    emu.reset()
    emu.inject(Fault(status=500), route=CHAT)
    results = client.chat.completions.batch(
        [request(f"q{i}") for i in range(5)], concurrency=1, progress=False
    )
    assert isinstance(results[0].error, InternalServerError)  # a POST 500 is not retried
    assert results.succeeded == 4
    assert emu.request_count(CHAT) == 5


def test_requests_are_checked_before_anything_is_sent(
    client: DeepInfraClient, emu: Emulator
) -> None:
    batch = client.chat.completions.batch
    with pytest.raises(ValueError, match=r"request 1 asks for stream=True"):
        batch([request("a"), request("b", stream=True)], progress=False)
    with pytest.raises(TypeError, match=r"request 1 is a str"):
        batch([request("a"), "hello"], progress=False)  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"not a single dict"):
        batch(request("a"), progress=False)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match=r"concurrency must be a whole number >= 1"):
            batch([request("a")], concurrency=bad, progress=False)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"progress must be True, False or a callable"):
        batch([request("a")], progress="yes")  # type: ignore[arg-type]
    assert emu.request_count(CHAT) == 0
    empty = batch([], progress=True)
    assert len(empty) == 0 and empty.ok and empty.raise_on_error() == []
    # Any iterable works, a generator included; stream=False is fine.
    results = batch((request(f"g{i}", stream=False) for i in range(3)), progress=False)
    assert results.ok and len(results) == 3


# --------------------------------------------------------------------------- concurrency


@pytest.mark.parametrize(("concurrency", "items"), [(4, 16), (1, 3), (8, 5)])
def test_concurrency_is_reached_and_never_exceeded(
    client: DeepInfraClient, concurrency: int, items: int
) -> None:
    # Each call waits at a barrier until `concurrency` calls (or all, if fewer) are in
    # flight together: the batch hangs (BrokenBarrierError) unless it runs that many at
    # once, and the peak shows it never runs more.
    together = min(concurrency, items)
    spy = InFlight(client, hold=together)
    results = client.chat.completions.batch(
        [request(f"c{i}") for i in range(items)], concurrency=concurrency, progress=False
    )
    assert results.ok, results.failures
    assert spy.peak == together
    wait_until_no_thread_in_sdk()


# --------------------------------------------------------------------------- progress


def _run_with_two_failures(client: DeepInfraClient, progress: Any, items: int = 20) -> None:
    requests = [request(f"p{i}") for i in range(items)]
    requests[3] = request("p3", model="bad model")
    requests[11] = request("p11", model="bad model")
    client.chat.completions.batch(requests, concurrency=4, progress=progress)


def test_progress_uses_tqdm_when_installed(
    client: DeepInfraClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tqdm  # in the test extra: this test needs it, never skips

    # No monitor thread left running for the rest of the session.
    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)
    _run_with_two_failures(client, True)
    err = capsys.readouterr().err
    assert "batch: 100%" in err
    assert "20/20" in err
    assert "failed=2" in err


def test_progress_without_tqdm_prints_a_line_per_tenth_when_not_a_terminal(
    client: DeepInfraClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_tqdm(monkeypatch)
    _run_with_two_failures(client, True)
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert "\r" not in captured.err
    assert [line.split(" done")[0] for line in lines] == [f"batch {n}/20" for n in range(2, 21, 2)]
    assert lines[-1] == "batch 20/20 done, 2 failed"


def test_progress_without_tqdm_rewrites_one_line_on_a_terminal(
    client: DeepInfraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    without_tqdm(monkeypatch)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    _run_with_two_failures(client, True)
    text = terminal.getvalue()
    assert text.startswith("\rbatch ")
    assert text.endswith("\rbatch 20/20 done, 2 failed\n")
    assert text.count("\n") == 1


def test_progress_false_is_silent_and_a_callable_is_called_in_the_callers_thread(
    client: DeepInfraClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _run_with_two_failures(client, False)
    assert capsys.readouterr().err == ""
    seen: list[BatchProgress] = []
    threads: set[int] = set()

    def show(progress: BatchProgress) -> None:
        seen.append(progress)
        threads.add(threading.get_ident())

    _run_with_two_failures(client, show)
    assert [p.done for p in seen] == list(range(1, 21))
    assert {p.total for p in seen} == {20}
    assert seen[-1] == BatchProgress(done=20, failed=2, total=20)
    assert [p.failed for p in seen] == sorted(p.failed for p in seen)
    assert threads == {threading.get_ident()}
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- stopping


def _interrupt_when(condition: Callable[[], bool]) -> threading.Thread:
    def watch() -> None:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.005)
        _thread.interrupt_main()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(20)
def test_ctrl_c_aborts_the_calls_in_flight_and_sends_nothing_more(
    client: DeepInfraClient, emu: Emulator
) -> None:
    emu.inject(Fault(stall=30), times=100, route=CHAT)  # every request hangs for 30 s
    watcher = _interrupt_when(lambda: emu.request_count(CHAT) == 3)
    with pytest.raises(BatchInterrupted) as info:
        client.chat.completions.batch(
            [request(f"s{i}") for i in range(10)], concurrency=3, progress=False
        )
    watcher.join()
    # Back long before the 30 s stalls end (the test's timeout): the sockets were shut.
    assert isinstance(info.value, KeyboardInterrupt)
    partial = info.value.result
    assert len(partial) == 10 and partial.failed == 10
    assert all(isinstance(item.error, BatchCancelled) for item in partial)
    assert "did not finish: the batch was stopped" in str(partial[0].error)
    wait_until_no_thread_in_sdk()
    assert not [t for t in threading.enumerate() if t.name.startswith("deepinfra-batch")]
    time.sleep(0.1)
    assert emu.request_count(CHAT) == 3  # the seven others were never sent


@pytest.mark.timeout(20)
def test_ctrl_c_keeps_the_answers_that_had_arrived(client: DeepInfraClient, emu: Emulator) -> None:
    def stall_the_rest(progress: BatchProgress) -> None:
        if progress.done == 2:
            # One at a time (concurrency=1): every request after the second hangs.
            emu.inject(Fault(stall=30), times=100, route=CHAT)

    watcher = _interrupt_when(lambda: emu.request_count(CHAT) == 3)
    with pytest.raises(BatchInterrupted) as info:
        client.chat.completions.batch(
            [request(f"s{i}") for i in range(6)], concurrency=1, progress=stall_the_rest
        )
    watcher.join()
    partial = info.value.result
    assert [item.ok for item in partial] == [True, True, False, False, False, False]
    emu.clear_faults()
    assert partial.texts[:2] == [
        client.chat.completions.create(**request(f"s{i}")).text for i in range(2)
    ]
    assert "2 of 6 requests succeeded" in str(info.value)
    assert emu.request_count(CHAT) == 3 + 2  # the two checks just above
    assert client.usage.requests == 2 + 2


def test_answers_that_arrive_as_ctrl_c_aborts_them_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two calls are in flight when Ctrl-C comes; they return while being aborted (they
    # were billed): the partial result keeps them, and nothing else was started.
    release = threading.Event()
    started = threading.Semaphore(0)
    calls: list[str] = []
    original_abort = _batch._abort

    def abort(in_flight: Any) -> None:
        original_abort(in_flight)
        release.set()

    monkeypatch.setattr(_batch, "_abort", abort)

    def create(**request: Any) -> ChatCompletion:
        calls.append(request["messages"][0]["content"])
        started.release()
        assert release.wait(10)
        return ChatCompletion(id=request["messages"][0]["content"])

    def interrupt_once_two_started() -> None:
        assert started.acquire(timeout=10) and started.acquire(timeout=10)
        _thread.interrupt_main()

    watcher = threading.Thread(target=interrupt_once_two_started, daemon=True)
    watcher.start()
    with pytest.raises(BatchInterrupted) as info:
        _batch.run_batch(create, [request(f"k{i}") for i in range(6)], concurrency=2)
    watcher.join()
    partial = info.value.result
    assert [item.ok for item in partial] == [True, True, False, False, False, False]
    assert [c.id for c in partial.completions[:2] if c] == ["k0", "k1"]
    assert sorted(calls) == ["k0", "k1"]
    assert "2 of 6 requests succeeded" in str(info.value)


def test_batch_item_unwrap_of_a_cancelled_item_raises_its_error() -> None:
    item = BatchItem(0, request("x"), None, BatchCancelled("stopped"))
    assert not item.ok and item.text is None
    with pytest.raises(BatchCancelled):
        item.unwrap()


# --------------------------------------------------------------------------- async


@pytest.fixture
async def aclient(emu: Emulator) -> Any:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as c:
        yield c


@pytest.mark.anyio
async def test_async_batch_keeps_order_and_per_item_errors(
    aclient: AsyncDeepInfraClient, emu: Emulator
) -> None:
    prompts = [f"async question {i}" for i in range(12)]
    expected = [(await aclient.chat.completions.create(**request(p))).text for p in prompts]
    rng = random.Random(5)
    for _ in prompts:
        emu.inject(Fault(stall=rng.uniform(0, 0.05)), route=CHAT)
    requests = [request(p) for p in prompts]
    requests[4] = request("x", model="nobody/nothing")
    results = await aclient.chat.completions.batch(requests, concurrency=5, progress=False)
    assert isinstance(results, BatchResult)
    assert [item.ok for item in results] == [i != 4 for i in range(12)]
    assert isinstance(results[4].error, NotFoundError)
    assert [t for i, t in enumerate(results.texts) if i != 4] == [
        t for i, t in enumerate(expected) if i != 4
    ]
    with pytest.raises(ValueError, match=r"stream=True"):
        await aclient.chat.completions.batch([request("a", stream=True)])


@pytest.mark.anyio
@pytest.mark.parametrize(("concurrency", "items"), [(4, 12), (6, 3)])
async def test_async_concurrency_is_reached_and_never_exceeded(
    emu: Emulator, concurrency: int, items: int
) -> None:
    sync = DeepInfraClient(emu.api_key, base_url=emu.url)
    together = min(concurrency, items)
    spy = InFlight(sync, hold=together)
    async with AsyncDeepInfraClient(client=sync) as aclient:
        results = await aclient.chat.completions.batch(
            [request(f"c{i}") for i in range(items)], concurrency=concurrency, progress=False
        )
    sync.close()
    assert results.ok, results.failures
    assert spy.peak == together


@pytest.mark.anyio
async def test_async_progress_text_and_callable(
    aclient: AsyncDeepInfraClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_tqdm(monkeypatch)
    requests = [request(f"p{i}") for i in range(5)]
    requests[1] = request("p1", model="bad model")
    await aclient.chat.completions.batch(requests, concurrency=2)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" done")[0] for line in lines] == [f"batch {n}/5" for n in range(1, 6)]
    assert lines[-1] == "batch 5/5 done, 1 failed"
    seen: list[BatchProgress] = []
    await aclient.chat.completions.batch(requests, concurrency=2, progress=seen.append)
    assert [p.done for p in seen] == [1, 2, 3, 4, 5]
    assert seen[-1] == BatchProgress(5, 1, 5)


@pytest.mark.anyio
@pytest.mark.timeout(20)
async def test_async_cancellation_stops_the_batch(
    aclient: AsyncDeepInfraClient, emu: Emulator
) -> None:
    emu.inject(Fault(stall=30), times=100, route=CHAT)
    with anyio.CancelScope() as scope:

        async def cancel_when_two_arrived() -> None:
            while emu.request_count(CHAT) < 2:
                await anyio.sleep(0.005)
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_when_two_arrived)
            await aclient.chat.completions.batch(
                [request(f"s{i}") for i in range(10)], concurrency=2, progress=False
            )
    assert scope.cancelled_caught
    wait_until_no_thread_in_sdk()
    await anyio.sleep(0.1)
    assert emu.request_count(CHAT) == 2
