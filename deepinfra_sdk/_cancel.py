"""Stopping a blocking call from another thread.

A worker thread blocked in ``recv`` is not woken by closing its socket from elsewhere;
shutting the socket down wakes it. A :class:`CallGuard` is installed for the duration of
one blocking call (``with guard.running():``); the transport attaches the connection it
is waiting on, and :meth:`CallGuard.abort` from any thread shuts that connection down and
cuts retry back-off sleeps short. The transport detaches a connection before it goes back
to the pool, so an abort can never touch a connection another call has since picked up.

This module knows neither requests nor anyio: the transport and the async facade meet here.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, Optional

__all__ = ["CallGuard", "Deadline", "current", "current_deadline", "sleep"]

_local = threading.local()


def current() -> Optional[CallGuard]:
    """The guard of the call running in this thread, if any."""
    guard: Optional[CallGuard] = getattr(_local, "guard", None)
    return guard


def sleep(seconds: float) -> None:
    """``time.sleep`` that an abort of the current call ends early."""
    guard = current()
    if guard is None:
        threading.Event().wait(seconds)
    else:
        guard.network(sent=False)  # a back-off wait: not sending, not using the CPU
        guard._event.wait(seconds)


def _shutdown(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    # Already closed or never connected: nothing is left to wake.
    with contextlib.suppress(OSError, ValueError):
        sock.shutdown(socket.SHUT_RDWR)


class CallGuard:
    """Lets another thread stop one blocking call and dispose of what it returns late."""

    __slots__ = ("_closer", "_conn", "_event", "_finished", "_lock", "_result", "on_network")

    def __init__(self) -> None:
        # See network(): called once, in the calling thread.
        self.on_network: Optional[Callable[[bool], None]] = None
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._conn: Any = None
        self._finished = False
        self._result: Any = None
        self._closer: Optional[Callable[[Any], None]] = None

    @property
    def aborted(self) -> bool:
        """Whether :meth:`abort` was called."""
        return self._event.is_set()

    @contextmanager
    def running(self) -> Iterator[CallGuard]:
        """Install this guard for the blocking call made inside the block (this thread)."""
        previous = getattr(_local, "guard", None)
        _local.guard = self
        try:
            yield self
        finally:
            _local.guard = previous
            with self._lock:
                self._finished = True
                self._conn = None

    def attach(self, conn: Any) -> None:
        """The call now waits on ``conn`` (an object with a ``sock``)."""
        with self._lock:
            if self._finished:
                return
            self._conn = conn
            if self._event.is_set():
                _shutdown(conn)
        self.network(sent=True)

    def network(self, sent: bool) -> None:
        """The call waits on the network for the first time: for its response, its request
        written (``sent``), or to connect or between retries. Calls ``on_network(sent)``
        the first time only."""
        hook, self.on_network = self.on_network, None
        if hook is not None:
            hook(sent)

    def detach(self, conn: Any) -> None:
        """``conn`` is going back to the pool: an abort must no longer touch it."""
        with self._lock:
            if self._conn is conn:
                self._conn = None

    def hand_over(self, result: Any, closer: Callable[[Any], None]) -> None:
        """The call returned ``result``; if it was already aborted, dispose of it now
        (``closer(result)``), else keep it so that a later abort can."""
        with self._lock:
            late = self._event.is_set()
            if not late:
                self._result, self._closer = result, closer
        if late:
            closer(result)

    def abort(self) -> None:
        """Stop the call: wake its blocked read, end its sleeps, and dispose of its result
        if it finished but nobody will collect it. Safe from any thread, more than once."""
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            conn = self._conn
            result, closer = self._result, self._closer
            self._result = self._closer = None
        if conn is not None:
            _shutdown(conn)
        if closer is not None:
            closer(result)

    def release(self) -> None:
        """The result was collected by its caller: an abort no longer disposes of it."""
        with self._lock:
            self._result = self._closer = None


# -- the total deadline while no byte of the answer is ours yet ---------------------------------
# A socket timeout bounds each ``recv``, not their sum: a server trickling the status line and
# headers a byte at a time would hold a call for as long as it likes. While a call with a total
# deadline sends its request and waits for the head of the answer, one watchdog thread shuts
# its connection down when the deadline passes (as :meth:`CallGuard.abort` does).


class Deadline:
    """The connection one call waits on, shut down by the watchdog at ``when``."""

    __slots__ = ("_conn", "_done", "_lock", "fired", "when")

    def __init__(self, when: float) -> None:
        self.when = when
        self.fired = False
        self._done = False
        self._conn: Any = None
        self._lock = threading.Lock()

    def attach(self, conn: Any) -> None:
        """The call now sends on, or waits for an answer on, ``conn``."""
        with self._lock:
            if self._done:
                return
            self._conn = conn
            if self.fired:
                _shutdown(conn)

    def detach(self, conn: Any) -> None:
        """``conn`` goes back to the pool: the watchdog must no longer touch it."""
        with self._lock:
            if self._conn is conn:
                self._conn = None

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            conn = self._conn
        if conn is not None:
            _shutdown(conn)

    def _finish(self) -> None:
        with self._lock:
            self._done = True
            self._conn = None


def current_deadline() -> Optional[Deadline]:
    """The deadline watched for the call running in this thread, if any."""
    deadline: Optional[Deadline] = getattr(_local, "deadline", None)
    return deadline


class _Watchdog:
    """One daemon thread firing the deadlines that pass: started when a call with a
    deadline starts, gone as soon as none is left (no idle thread stays behind)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Deadline]] = []
        self._count = 0
        self._compact_at = 1024
        self._thread: Optional[threading.Thread] = None

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            self._count += 1
            if len(self._heap) >= self._compact_at:
                # Calls that ended long before their deadline: drop them (amortised O(1)).
                self._heap = [entry for entry in self._heap if not entry[2]._done]
                heapq.heapify(self._heap)
                self._compact_at = max(1024, 2 * len(self._heap))
            heapq.heappush(self._heap, (deadline.when, self._count, deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="deepinfra-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._cond.notify()

    def remove(self, deadline: Deadline) -> None:
        """The call is over: the deadline no longer counts."""
        with self._cond:
            deadline._finish()
            if self._heap and self._heap[0][2] is deadline:
                self._cond.notify()  # the thread may go on to the next one, or leave

    def _run(self) -> None:
        while True:
            due: list[Deadline] = []
            with self._cond:
                # Finished deadlines are dropped as they come to the top.
                while self._heap and self._heap[0][2]._done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._thread = None
                    return
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
                if not due:
                    self._cond.wait(self._heap[0][0] - now)
                    continue
            for deadline in due:
                deadline._fire()

    def reset(self) -> None:
        # A forked child has no watchdog thread and none of the parent's calls.
        self._cond = threading.Condition(threading.Lock())
        self._heap = []
        self._compact_at = 1024
        self._thread = None


_watchdog = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watchdog.reset)


@contextmanager
def watch(when: float) -> Iterator[Deadline]:
    """Shut down the connection this thread sends on or waits on once ``when``
    (``time.monotonic()``) passes, for the duration of the block."""
    deadline = Deadline(when)
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    _watchdog.add(deadline)
    try:
        yield deadline
    finally:
        _local.deadline = previous
        _watchdog.remove(deadline)
