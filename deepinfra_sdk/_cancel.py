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
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, Optional

__all__ = ["CallGuard", "current", "sleep"]

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
