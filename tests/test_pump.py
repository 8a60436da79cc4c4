"""The async facade's reader threads, without an event loop: batching, bounds, stopping."""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Callable, Optional

import pytest

from deepinfra_sdk import APIConnectionError, ChatStream
from deepinfra_sdk import _pump as pump_module
from deepinfra_sdk._pump import ReaderThreads, SendOrder, StreamPump, Wakeups
from tests._leaks import threads_in_sdk


def frame(i: int) -> bytes:
    chunk = {
        "id": "chatcmpl-7",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m/x",
        "choices": [{"index": 0, "delta": {"content": f" t{i}"}, "finish_reason": None}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


class FeedResponse:
    """A response whose reads block until the test feeds bytes; abort() wakes a blocked read."""

    def __init__(self) -> None:
        self.feed: queue.Queue[Optional[bytes]] = queue.Queue()
        self.headers = {"transfer-encoding": "chunked"}
        self.request_id = "req-1"
        self.response = None
        self.reads = 0
        self.closed = 0
        self.aborted = threading.Event()

    def iter_bytes(self, *, greedy: bool = False) -> Iterator[bytes]:
        while True:
            data = self.feed.get()
            if self.aborted.is_set():
                raise APIConnectionError("the stream was closed while reading")
            if data is None:
                return
            self.reads += 1
            yield data

    def abort(self) -> None:
        self.aborted.set()
        self.feed.put(b"")  # wakes the blocked read

    def close(self) -> None:
        self.closed += 1

    def release_after_end(self) -> None:
        self.close()


def wait_for(condition: Callable[[], bool], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def pump_over(response: FeedResponse, limit: int = 1 << 20) -> tuple[StreamPump, ChatStream]:
    stream = ChatStream(response, model="m/x")
    pump = StreamPump(limit=limit, stream=stream)
    pump.start()
    return pump, stream


# -- Wakeups ---------------------------------------------------------------------------------


def test_one_scheduling_serves_every_callback_queued_until_it_runs() -> None:
    scheduled: list[Callable[[], None]] = []
    ran: list[int] = []
    wakeups = Wakeups(scheduled.append)
    for k in range(5):
        wakeups.call(lambda k=k: ran.append(k))
    assert len(scheduled) == 1 and ran == []
    scheduled[0]()
    assert ran == [0, 1, 2, 3, 4]
    wakeups.call(lambda: ran.append(5))  # the run is over: the next call schedules again
    assert len(scheduled) == 2


def test_a_callback_queued_while_the_run_is_running_is_run_by_it() -> None:
    scheduled: list[Callable[[], None]] = []
    ran: list[str] = []
    wakeups = Wakeups(scheduled.append)
    wakeups.call(lambda: (ran.append("first"), wakeups.call(lambda: ran.append("second"))))
    scheduled[0]()
    assert ran == ["first", "second"] and len(scheduled) == 1


def test_a_loop_that_has_ended_raises_and_keeps_nothing_queued() -> None:
    def gone(fn: Callable[[], None]) -> None:
        raise RuntimeError("Event loop is closed")

    wakeups = Wakeups(gone)
    with pytest.raises(RuntimeError):
        wakeups.call(lambda: None)
    with pytest.raises(RuntimeError):
        wakeups.call(lambda: None)  # still tries (nothing stale makes it skip the loop)


# -- ReaderThreads -----------------------------------------------------------------------------


def test_an_idle_reader_thread_is_reused_and_shows_no_sdk_frame() -> None:
    readers = ReaderThreads(name="test-reader")
    seen: list[int] = []
    for _ in range(3):
        done = threading.Event()
        readers.submit(lambda done=done: (seen.append(threading.get_ident()), done.set()))
        done.wait(5)
        # Back in the pool: parked in C code, not in SDK code.
        wait_for(lambda: not [n for n in threads_in_sdk() if n == "test-reader"])
    assert len(seen) == 3 and len(set(seen)) == 1
    assert [t.name for t in threading.enumerate()].count("test-reader") == 1


def test_an_idle_reader_thread_exits_and_is_not_handed_work_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pump_module, "IDLE_SECONDS", 0.1)
    readers = ReaderThreads(name="test-expiring")
    ran: list[int] = []
    readers.submit(lambda: ran.append(1))
    wait_for(lambda: ran == [1])
    wait_for(lambda: "test-expiring" not in [t.name for t in threading.enumerate()])
    finished = threading.Event()
    readers.submit(finished.set)  # a new thread: the expired one is gone
    assert finished.wait(5)


def test_an_expiring_thread_that_was_just_chosen_stays_for_its_job() -> None:
    from deepinfra_sdk._pump import _Worker

    readers = ReaderThreads()
    worker = _Worker(lambda: None)
    worker.ready.acquire()
    readers._idle.append(worker)
    worker.idle = True
    ran: list[int] = []
    readers.submit(lambda: ran.append(1))  # chosen: no longer idle, its job handed over
    readers._run(worker, False)  # its wait had timed out meanwhile: it must not leave
    readers._run(worker, worker.ready.acquire(timeout=1))  # the next wait gets the job
    assert ran == [1] and readers._idle == [worker]
    with pytest.raises(StopIteration):  # idle, wait timed out, not chosen: it leaves
        readers._run(worker, False)
    assert readers._idle == []


def test_a_failing_job_does_not_lose_the_thread() -> None:
    readers = ReaderThreads(name="test-failing")
    readers.submit(lambda: 1 / 0)
    done = threading.Event()
    wait_for(lambda: "test-failing" in [t.name for t in threading.enumerate()])
    readers.submit(done.set)
    assert done.wait(5)


# -- StreamPump ------------------------------------------------------------------------------


def test_the_reader_stops_reading_while_the_consumer_is_behind_by_the_limit() -> None:
    response = FeedResponse()
    for i in range(100):
        response.feed.put(frame(i))
    pump, _ = pump_over(response, limit=1000)
    # Each frame's payload is ~150 characters: the reader stops after ~7 of them.
    wait_for(lambda: pump._size >= 1000)
    time.sleep(0.05)
    reads = response.reads
    assert reads < 20 and response.feed.qsize() > 50
    time.sleep(0.05)
    assert response.reads == reads  # parked, not reading
    items = pump.take()
    assert items is not None and len(items) == reads
    wait_for(lambda: response.reads > reads)  # room again: it reads on
    pump.close()


def test_errors_come_after_everything_read_before_them() -> None:
    response = FeedResponse()
    for i in range(3):
        response.feed.put(frame(i))
    pump, _ = pump_over(response)
    wait_for(lambda: response.reads == 3)
    response.abort()  # the read fails (as a dropped connection would)
    wait_for(lambda: pump.error is not None)
    items = pump.take()
    assert items is not None and len(items) == 3
    assert pump.take() == []  # done, nothing left
    assert isinstance(pump.error, APIConnectionError)
    assert response.closed >= 1  # the reader closed the response on its way out


def test_closing_wakes_a_reader_blocked_in_a_read() -> None:
    response = FeedResponse()
    pump, stream = pump_over(response)
    time.sleep(0.05)  # blocked in the first read
    started = time.monotonic()
    stream.close()  # goes through the pump: only the reader touches the connection
    wait_for(lambda: pump.take() == [])
    assert time.monotonic() - started < 1.0
    assert response.aborted.is_set() and response.closed >= 1 and stream.closed


def test_closing_wakes_a_reader_waiting_for_room() -> None:
    response = FeedResponse()
    for i in range(20):
        response.feed.put(frame(i))
    pump, _ = pump_over(response, limit=500)
    wait_for(lambda: pump._size >= 500)
    pump.close()
    wait_for(lambda: pump.take() in ([], None) and response.closed >= 1)
    assert response.reads < 20


def test_park_registers_only_when_nothing_is_waiting() -> None:
    response = FeedResponse()
    pump, stream = pump_over(response)
    woken: list[int] = []
    assert pump.take() is None
    assert pump.park(lambda: woken.append(1))
    response.feed.put(frame(0))
    wait_for(lambda: woken == [1])
    assert not pump.park(lambda: woken.append(2))  # something is there: take it first
    assert pump.take() is not None
    response.feed.put(None)  # the end of the body (no [DONE])
    assert pump.park(lambda: woken.append(3)) or pump.take() == []
    wait_for(lambda: pump.take() == [])
    assert pump.error is None and not stream.done


def test_a_reader_whose_loop_has_ended_stops_and_closes() -> None:
    def gone() -> None:
        raise RuntimeError("Event loop is closed")

    response = FeedResponse()
    stream = ChatStream(response, model="m/x")
    pump = StreamPump(limit=1 << 20, stream=stream)
    pump.start()
    assert pump.take() is None and pump.park(gone)
    response.feed.put(frame(0))  # the reader cannot wake the loop: it gives up
    wait_for(lambda: response.closed >= 1)
    assert response.reads == 1


def test_a_pump_needs_an_opener_or_a_stream() -> None:
    with pytest.raises(ValueError):
        StreamPump(limit=10)


# -- SendOrder: requests of streams opened together go out first ------------------------------


def _sender(order: SendOrder, done: list[str], name: str) -> threading.Thread:
    def run() -> None:
        order.leave(wait=True)
        done.append(name)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_sent_stream_waits_until_the_others_have_sent() -> None:
    order = SendOrder(max_wait=5.0, idle_wait=1.0)
    for _ in range(3):
        order.enter()
    done: list[str] = []
    first = _sender(order, done, "first")
    second = _sender(order, done, "second")
    time.sleep(0.1)
    assert done == [] and order.unsent == 1  # both wait for the third
    order.leave(wait=True)  # the last one never waits
    first.join(2)
    second.join(2)
    assert sorted(done) == ["first", "second"] and order.unsent == 0


def test_waiting_ends_when_no_request_goes_out_for_idle_wait() -> None:
    # The one left is stuck on the network (a slow connect): holding the others back
    # would gain nothing.
    order = SendOrder(max_wait=5.0, idle_wait=0.05)
    order.enter()
    order.enter()
    started = time.monotonic()
    order.leave(wait=True)
    assert 0.04 <= time.monotonic() - started < 1.0
    assert order.unsent == 1
    order.leave(wait=False)
    assert order.unsent == 0


def test_waiting_never_exceeds_max_wait_while_requests_keep_going_out() -> None:
    order = SendOrder(max_wait=0.2, idle_wait=0.05)
    for _ in range(1000):
        order.enter()
    stop = threading.Event()

    def trickle() -> None:  # a request every 10 ms: progress, but never the last one
        while not stop.wait(0.01):
            order.enter()
            order.leave(wait=False)

    thread = threading.Thread(target=trickle)
    thread.start()
    try:
        started = time.monotonic()
        order.leave(wait=True)
        assert 0.15 <= time.monotonic() - started < 1.0
    finally:
        stop.set()
        thread.join(2)


def test_a_stream_failing_before_sending_never_waits_nor_stays_counted() -> None:
    order = SendOrder(max_wait=5.0)
    order.enter()
    order.enter()
    started = time.monotonic()
    order.leave(wait=False)
    assert time.monotonic() - started < 0.5 and order.unsent == 1
    order.leave(wait=False)
    assert order.unsent == 0


def test_pumps_leave_the_send_order_whether_they_open_or_fail() -> None:
    before = pump_module.send_order.unsent

    def failing() -> ChatStream:
        raise APIConnectionError("refused")

    pumps = [StreamPump(limit=1 << 20, opener=failing) for _ in range(5)]
    opened = threading.Semaphore(0)
    for p in pumps:
        p.start(opened.release)
    for _ in pumps:
        assert opened.acquire(timeout=5)
    assert all(isinstance(p.open_error, APIConnectionError) for p in pumps)
    assert pump_module.send_order.unsent == before


def test_a_cancelled_stream_stops_waiting_when_nudged() -> None:
    order = SendOrder(max_wait=5.0, idle_wait=5.0)
    order.enter()
    order.enter()
    cancelled = threading.Event()
    thread = threading.Thread(target=order.leave, args=(True, cancelled.is_set))
    thread.start()
    time.sleep(0.05)
    assert thread.is_alive()
    started = time.monotonic()
    cancelled.set()
    order.nudge()
    thread.join(2)
    assert not thread.is_alive() and time.monotonic() - started < 1.0
    order.leave(wait=False)
    assert order.unsent == 0


def test_a_pump_whose_thread_cannot_start_leaves_the_send_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = pump_module.send_order.unsent

    def no_thread(job: Callable[[], object]) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(pump_module.reader_threads(), "submit", no_thread)
    pump = StreamPump(limit=1 << 20, opener=lambda: pytest.fail("never opened"))
    with pytest.raises(RuntimeError, match="can't start new thread"):
        pump.start()
    assert pump_module.send_order.unsent == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_with_no_stream_counted_as_sending() -> None:
    order = pump_module.send_order
    order.enter()
    try:
        read, write = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # forking with threads
            pid = os.fork()
        if pid == 0:  # child
            try:
                os.write(write, b"1" if order.unsent == 0 else b"0")
            finally:
                os._exit(0)
        os.close(write)
        result = os.read(read, 1)
        os.close(read)
        os.waitpid(pid, 0)
        assert result == b"1"
    finally:
        order.leave(wait=False)
