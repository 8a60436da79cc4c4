"""The async facade's reader threads: one per stream, reading ahead of the event loop.

A stream opened through the async facade gets a thread of its own. The thread sends the
request (under a :class:`~deepinfra_sdk._cancel.CallGuard`, so a cancelled caller stops it
at once), hands the stream over, then reads the body for the stream's whole life and
appends each read's event payloads to a queue the event loop takes from. Compared with a
worker-thread round trip per read, the reader is back in ``recv`` as soon as it has handed a
read over, and the loop pays one cheap wake-up when it was waiting, or nothing when the
next batch is already there. :class:`Wakeups` goes further: one loop wake-up serves every
stream that had something to hand over meanwhile, which is what many streams in lockstep
need.

The queue is bounded (``limit`` characters of payload): a reader stops reading while that
much waits for a slow consumer, so it never buffers a whole response in memory.

Only the reader thread touches the connection while it runs. Closing from elsewhere
(:meth:`StreamPump.close`) marks the stream closed, wakes a reader waiting for room and
shuts the socket down under a blocked read (closing a socket from another thread would not
wake it); the reader then closes the response on its way out, dropping an unfinished
connection instead of pooling it.

Streams opened together send all their requests before reading any response
(:class:`SendOrder`): the server starts a stream when its request arrives.

Reader threads are reused (:class:`ReaderThreads`): a stream's thread goes back to an idle
pool when the stream ends, and the next stream takes it without starting a thread, which
under load would stall the event loop for a millisecond or more each time (``Thread.start``
waits until the new thread has run). An idle thread exits after ``IDLE_SECONDS``.

This module knows no event loop library: the facade passes in how to wake its loop.
"""

from __future__ import annotations

import collections
import contextvars
import functools
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from . import _constants as C
from ._cancel import CallGuard
from ._exceptions import APIConnectionError

if TYPE_CHECKING:
    from ._streaming import ChatStream

__all__ = [
    "IDLE_SECONDS",
    "ConcurrentReadError",
    "ReaderThreads",
    "SendOrder",
    "StreamPump",
    "Wakeups",
    "reader_threads",
    "send_order",
]

logger = logging.getLogger(C.LOGGER_NAME)

# A pump's life, in order.
_OPENING, _READING, _DRAINING, _EXITED = range(4)

# An idle reader thread exits after this long (anyio's workers wait 10 s too).
IDLE_SECONDS = 10.0


class _Worker:
    __slots__ = ("idle", "job", "ready")

    def __init__(self, job: Callable[[], Any]) -> None:
        self.job: Optional[Callable[[], Any]] = job
        # Held while there is no job; released to hand one over.
        self.ready = threading.Lock()
        self.idle = False


class ReaderThreads:
    """A pool of reusable daemon threads, one per running job; idle ones exit by themselves.

    An idle thread waits for its next job in C code only (a lock acquire driven by
    ``iter``/``map``/``deque``), so a parked thread shows no SDK frame: tools and tests that
    look for threads still busy in SDK code see only the threads doing work. A thread whose
    wait times out leaves the idle list under the pool's lock before it exits, so a job is
    never handed to a thread that is gone.
    """

    def __init__(self, name: str = "deepinfra-stream") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._pid = os.getpid()

    def submit(self, job: Callable[[], Any]) -> None:
        """Run ``job()`` in an idle thread, or in a new one if none is idle."""
        with self._lock:
            if self._pid != os.getpid():
                # A forked child has none of the parent's threads.
                self._idle.clear()
                self._pid = os.getpid()
            if self._idle:
                worker = self._idle.pop()  # the most recently idle: the others may expire
                worker.idle = False
                worker.job = job
                worker.ready.release()
                return
        worker = _Worker(job)
        wait = functools.partial(worker.ready.acquire, timeout=IDLE_SECONDS)
        # iter() never stops by itself (acquire returns True or False, never None): _run
        # ends the thread by raising StopIteration, which ends map() and deque.extend().
        jobs = map(functools.partial(self._run, worker), iter(wait, None))
        threading.Thread(
            target=collections.deque(maxlen=0).extend, args=(jobs,), name=self._name, daemon=True
        ).start()

    def _run(self, worker: _Worker, handed: bool) -> None:
        if not handed:
            with self._lock:
                if worker.idle:
                    # Idle for IDLE_SECONDS and still not chosen: leave for good.
                    self._idle.remove(worker)
                    raise StopIteration
            return  # chosen just now: the job's hand-over is on its way (the next wait)
        job, worker.job = worker.job, None
        try:
            if job is not None:
                job()
        except BaseException:
            logger.exception("a reader thread's job failed")
        with self._lock:
            worker.idle = True
            self._idle.append(worker)


_readers: Optional[ReaderThreads] = None
_readers_lock = threading.Lock()


def reader_threads() -> ReaderThreads:
    """The process's pool of stream reader threads (made at first use)."""
    global _readers
    if _readers is None:
        with _readers_lock:
            if _readers is None:
                _readers = ReaderThreads()
    return _readers


class Wakeups:
    """Runs callbacks in an event loop's thread on behalf of other threads, in batches.

    ``soon(fn)`` must schedule ``fn()`` in the loop from any thread (asyncio's
    ``call_soon_threadsafe``, trio's ``run_sync_soon``). Each scheduling writes to the
    loop's wake-up socket, so :meth:`call` schedules once for everything queued until the
    loop has run it all: 256 streams whose events arrive together cost a handful of
    wake-ups, not 256.
    """

    __slots__ = ("_lock", "_queued", "_scheduled", "_soon")

    def __init__(self, soon: Callable[[Callable[[], None]], Any]) -> None:
        self._soon = soon
        self._lock = threading.Lock()
        self._queued: list[Callable[[], Any]] = []
        self._scheduled = False

    def call(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` in the loop soon. Raises RuntimeError if the loop has ended."""
        with self._lock:
            self._queued.append(fn)
            if self._scheduled:
                return  # a run is scheduled or running: it takes this one too
            self._scheduled = True
        try:
            self._soon(self._run)
        except BaseException:
            with self._lock:
                self._queued.clear()
                self._scheduled = False
            raise

    def _run(self) -> None:
        while True:
            with self._lock:
                queued = self._queued
                if not queued:
                    self._scheduled = False
                    return
                self._queued = []
            for fn in queued:
                fn()


class SendOrder:
    """Lets streams opened together put all their requests on the wire before any of them
    goes on to read its response.

    Opening a stream costs CPU on both sides of the request: preparing and sending it, then
    parsing the response's head. Under one GIL, hundreds of reader threads opening at once
    share the CPU evenly, so each request leaves only when nearly all the work of the burst
    is done, while the server starts a stream's clock when its request arrives. A stream
    whose request is sent therefore waits here (releasing the GIL) while others are still
    preparing theirs: the last request of a burst of 256 leaves sooner, and every stream of
    the burst ends sooner. The order is process-wide, as the GIL is.

    A stream counts from :meth:`enter` until :meth:`leave`: when its request is written,
    or as soon as it waits on the network otherwise (to connect, between retries), since
    it then holds nobody's CPU. A waiting stream goes on once none is left to send, after
    ``max_wait`` seconds at most, when its own ``stop()`` turns true (see :meth:`nudge`),
    or as soon as no request went out for ``idle_wait`` seconds. One waiting thread
    watches for that; the others sleep until it or the last sender lets them go.
    """

    __slots__ = ("_cond", "_round", "_sends", "_unsent", "_watched", "idle_wait", "max_wait")

    def __init__(self, max_wait: float = 0.25, idle_wait: float = 0.005) -> None:
        self.max_wait = max_wait
        self.idle_wait = idle_wait
        self._reset()

    def _reset(self) -> None:
        # Also run in a forked child: none of the parent's streams is opening there.
        self._cond = threading.Condition(threading.Lock())
        self._unsent = 0
        self._sends = 0
        self._round = 0  # bumped each time the waiting streams are let go
        self._watched = -1  # the round a waiting thread watches for stalls

    @property
    def unsent(self) -> int:
        """How many streams entered and have not left yet."""
        return self._unsent

    def enter(self) -> None:
        """A stream starts opening."""
        with self._cond:
            self._unsent += 1

    def leave(self, wait: bool, stop: Optional[Callable[[], bool]] = None) -> None:
        """The stream's request is written (``wait``: hold back for the others, see
        above), or it waits on the network otherwise, or it failed (``wait=False``)."""
        stop = stop or _never
        with self._cond:
            self._unsent -= 1
            self._sends += 1
            if self._unsent <= 0:
                self._let_go()
                return
            if not wait or self.max_wait <= 0 or stop():
                return
            deadline = time.monotonic() + self.max_wait
            this_round = self._round
            if self._watched == this_round:
                self._cond.wait_for(lambda: self._round != this_round or stop(), self.max_wait)
                return
            self._watched = this_round
            while self._round == this_round:
                if stop():
                    self._let_go()  # nobody would watch the others
                    return
                seen = self._sends
                woken = self._cond.wait(min(self.idle_wait, deadline - time.monotonic()))
                if not woken and (self._sends == seen or time.monotonic() >= deadline):
                    self._let_go()

    def nudge(self) -> None:
        """Make every waiting stream check its ``stop()`` now (one was cancelled)."""
        with self._cond:
            self._cond.notify_all()

    def _let_go(self) -> None:
        self._round += 1
        self._cond.notify_all()


def _never() -> bool:
    return False


send_order = SendOrder()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=send_order._reset)


class ConcurrentReadError(RuntimeError):
    """A second task asked for the next chunk while another one waits for it."""


def _close_stream(stream: ChatStream[Any]) -> None:
    stream.close()


class StreamPump:
    """One stream's reader thread and the queue between it and the event loop.

    Give ``opener`` (a call returning a :class:`ChatStream`) to send the request in the
    thread, or ``stream`` to read one that is already open. The event loop side calls
    :meth:`take`, :meth:`park` and :meth:`close`. The thread calls the ``wake`` callables it
    was given (``on_open``, and what :meth:`park` registered) in its own thread: the facade
    makes them schedule a callback in its loop (through :class:`Wakeups`). A ``wake`` that
    raises RuntimeError means that loop has ended: the pump then stops.
    """

    __slots__ = (
        "_closing",
        "_final",
        "_items",
        "_limit",
        "_lock",
        "_opener",
        "_room",
        "_sending",
        "_size",
        "_state",
        "_waiter",
        "error",
        "guard",
        "open_error",
        "stream",
    )

    def __init__(
        self,
        *,
        limit: int,
        opener: Optional[Callable[[], ChatStream[Any]]] = None,
        stream: Optional[ChatStream[Any]] = None,
    ) -> None:
        if (opener is None) == (stream is None):
            raise ValueError("give a StreamPump either opener or stream")
        self._limit = limit
        self._opener = opener
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._items: list[str] = []
        # The queue holds the last payloads before [DONE]: handing them out makes the
        # stream done (the reader never sets ``done`` itself, see ChatStream._payloads).
        self._final = False
        self._size = 0
        self._waiter: Optional[Callable[[], Any]] = None
        self._closing = False
        self._state = _OPENING
        self._sending = False  # counted in send_order, request not sent yet
        self.guard = CallGuard()
        self.stream = stream
        self.open_error: Optional[BaseException] = None
        self.error: Optional[BaseException] = None
        if stream is not None:
            stream._pump = self

    # -- the event loop's side -------------------------------------------------------------

    def start(self, on_open: Optional[Callable[[], Any]] = None) -> None:
        """Run the pump in a reader thread; it calls ``on_open()`` once the stream is open
        (or failed to open).

        The thread runs in a copy of the caller's context variables, as anyio's workers do.
        Streams opening together send their requests first (see :class:`SendOrder`).
        """
        context = contextvars.copy_context()
        if self._opener is not None:
            send_order.enter()
            self._sending = True
            self.guard.on_network = self._sent
        try:
            reader_threads().submit(functools.partial(context.run, self._main, on_open))
        except BaseException:  # no thread could be started
            self._sent(False)
            raise

    def abort_open(self) -> None:
        """Stop the request (the caller was cancelled): see :meth:`CallGuard.abort`."""
        self.guard.abort()
        send_order.nudge()

    def take(self) -> Optional[list[str]]:
        """The payloads read since the last take; ``[]`` once the thread is done and
        nothing is left; None when nothing has arrived yet (see :meth:`park`)."""
        with self._lock:
            items = self._items
            if items:
                self._items = []
                if self._size >= self._limit:
                    self._room.notify()
                self._size = 0
                if self._final:
                    self._mark_done()
                return items
            if self._state != _EXITED:
                return None
            if self.error is None and self.stream is not None and self.stream._done_read:
                self._mark_done()  # [DONE] came in a read with nothing before it
            return []

    def _mark_done(self) -> None:
        stream = self.stream
        assert stream is not None
        stream.done = True

    def park(self, wake: Callable[[], Any]) -> bool:
        """Ask for ``wake()`` (called in the reader thread) when something arrives or the
        thread is done.

        Returns False, registering nothing, if that already happened since :meth:`take`.
        """
        with self._lock:
            if self._items or self._state == _EXITED:
                return False
            if self._waiter is not None:
                raise ConcurrentReadError(
                    "this stream is already being read by another task; read a stream "
                    "from one task at a time"
                )
            self._waiter = wake
            return True

    def close(self) -> None:
        """Stop the thread, from any thread; the stream is closed, its connection dropped
        if unfinished. Safe to call more than once, and after the end."""
        with self._lock:
            self._closing = True
            self._room.notify_all()
            state = self._state
            stream = self.stream
        if stream is None:
            return
        stream.closed = True
        stream._tally.end()  # the usage meter counts a stream closed here too
        if state == _READING:
            # The thread may be blocked in recv: shutting the socket down wakes it.
            stream._response.abort()

    # -- the thread --------------------------------------------------------------------------

    def _main(self, on_open: Optional[Callable[[], Any]]) -> None:
        stream = self.stream
        if stream is None:
            stream = self._open()
            if on_open is not None:
                self._notify(on_open)
            if stream is None:
                self._exit(None)
                return
        self._read(stream)

    def _sent(self, written: bool) -> None:
        """Leave the send order: the request is written (wait for the others), or this
        stream waits on the network otherwise, or it failed (no wait; see SendOrder)."""
        if self._sending:
            self._sending = False
            guard = self.guard
            send_order.leave(wait=written, stop=lambda: guard.aborted)

    def _open(self) -> Optional[ChatStream[Any]]:
        guard = self.guard
        opener = self._opener
        assert opener is not None
        try:
            if guard.aborted:
                # Cancelled before the thread started: send nothing at all.
                raise APIConnectionError("the call was cancelled before it started")
            with guard.running():
                stream = opener()
        except BaseException as exc:
            self.open_error = exc
            return None
        finally:
            # Failed before sending, or on a connection without the hooks (a SOCKS proxy).
            self._sent(False)
        with self._lock:
            self.stream = stream
            stream._pump = self
        # If the caller has left meanwhile, this closes the stream (marks the pump closing).
        guard.hand_over(stream, _close_stream)
        return stream

    def _read(self, stream: ChatStream[Any]) -> None:
        error: Optional[BaseException] = None
        reader = None
        with self._lock:
            closing = self._closing
            self._state = _READING
        try:
            if not closing:
                if stream.closed:
                    raise APIConnectionError("the stream is closed", partial_text=stream.text)
                reader = stream._source("pump")
                for payloads in reader:
                    if not self._push(payloads, final=stream._done_read):
                        break
                else:
                    with self._lock:
                        self._state = _DRAINING
                        closing = self._closing
                    if stream._done_read and not closing:
                        # Pool the connection if the body ends at once (see HTTPResponse).
                        stream._response.release_after_end()
        except BaseException as exc:
            error = exc
        finally:
            close = getattr(reader, "close", None)  # a generator: ends its reads
            if close is not None:
                close()
            # Read to its end, the body has released the connection already; otherwise
            # this drops it rather than pooling it half-read.
            stream._response.close()
            if stream._done_read:
                stream.closed = True
                stream._tally.end()
            self._exit(error)
            # The error's traceback keeps this frame: it must not keep the error as well.
            error = None

    def _push(self, payloads: list[str], *, final: bool = False) -> bool:
        """Queue one read's payloads (``final``: the last ones before ``[DONE]``); False
        once the pump is closing."""
        size = sum(map(len, payloads))
        with self._lock:
            if self._closing:
                return False
            self._items.extend(payloads)
            self._size += size
            self._final = self._final or final
            wake, self._waiter = self._waiter, None
        if wake is not None and not self._notify(wake):
            return False
        with self._lock:
            # Bounded read-ahead: wait while the consumer is behind by ``limit``.
            while self._size >= self._limit and not self._closing:
                self._room.wait()
            return not self._closing

    def _exit(self, error: Optional[BaseException]) -> None:
        with self._lock:
            self.error = error
            self._state = _EXITED
            wake, self._waiter = self._waiter, None
            stream = self.stream
        if stream is not None and stream._pump is self:
            # The connection is closed and the thread is done with it, so closing the
            # stream needs the pump no more. Dropping the link back to the pump breaks the
            # only cycle between the two: they (and the ~60 objects they hold) are freed as
            # soon as the caller lets go, not by a full garbage collection, which 256
            # streams at once would otherwise pay for with a pause of 40-90 ms.
            stream._pump = None
        if wake is not None:
            self._notify(wake)

    def _notify(self, wake: Callable[[], Any]) -> bool:
        """Call ``wake()``; if its loop has ended, stop reading (False)."""
        try:
            wake()
        except RuntimeError:
            with self._lock:
                self._closing = True
            return False
        return True
