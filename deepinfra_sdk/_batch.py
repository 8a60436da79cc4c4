"""Many chat completions at once: bounded concurrency, results in input order, per-item errors.

``client.chat.completions.batch(requests)`` runs here on a thread pool; the async twin in
``aio.py`` runs the same :class:`BatchRun` bookkeeping with tasks. Each item is one ordinary
``create()`` call, so the client's retry policy (and its no-double-billing rules) applies
to every item on its own. An item that fails keeps its exception in its place; the batch
goes on. Ctrl-C stops the batch at once: items not started are never sent, calls in
flight are aborted (their sockets shut down), and :class:`BatchInterrupted` carries what
had finished.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional, TextIO, Union, overload

from ._cancel import CallGuard
from ._exceptions import ArgumentTypeError, ArgumentValueError, DeepInfraError

if TYPE_CHECKING:
    from .types import ChatCompletion

__all__ = [
    "BatchCancelled",
    "BatchError",
    "BatchInterrupted",
    "BatchItem",
    "BatchProgress",
    "BatchResult",
    "BatchRun",
    "ProgressOption",
    "run_batch",
]

DEFAULT_CONCURRENCY = 16
_POLL = 0.1  # seconds between checks for Ctrl-C while the caller's thread waits


class BatchProgress(NamedTuple):
    """How far a batch is: what a ``progress`` callable receives after each item."""

    done: int
    """Items finished, successfully or not."""
    failed: int
    """Items finished with an error."""
    total: int
    """Items in the batch."""


ProgressOption = Union[bool, None, Callable[[BatchProgress], Any]]


class BatchCancelled(DeepInfraError):
    """The error of an item that never ran (or was cut off) because the batch stopped."""


@dataclass(frozen=True)
class BatchItem:
    """One request of a batch and its outcome: ``completion`` or ``error``, never both."""

    index: int
    """The position of the request in the input."""
    request: Mapping[str, Any]
    """The ``create()`` keyword arguments as given."""
    completion: Optional[ChatCompletion] = None
    """The answer, when the request succeeded."""
    error: Optional[Exception] = None
    """The exception the request raised (after the client's retries), when it failed."""

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.error is None and self.completion is not None

    @property
    def text(self) -> Optional[str]:
        """The first choice's content, or None if the request failed."""
        return self.completion.text if self.completion is not None else None

    def unwrap(self) -> ChatCompletion:
        """The completion, or raise the item's error."""
        if self.completion is None:
            raise self.error or BatchCancelled(f"request {self.index} did not run")
        return self.completion


class BatchError(DeepInfraError):
    """Raised by :meth:`BatchResult.raise_on_error`: some requests failed.

    ``failures`` holds the failed :class:`BatchItem` objects (each with its ``error``);
    the first error is also the ``__cause__``, so its traceback is shown.
    """

    def __init__(self, failures: Sequence[BatchItem], total: int) -> None:
        first = failures[0]
        super().__init__(
            f"{len(failures)} of {total} requests failed; the first, request "
            f"{first.index}: {type(first.error).__name__}: {first.error}"
        )
        self.failures = list(failures)


class BatchResult(Sequence[BatchItem]):
    """The outcome of a batch: a sequence of :class:`BatchItem` in input order.

    ::

        results = client.chat.completions.batch(requests)
        for item in results:
            print(item.index, item.text if item.ok else item.error)
        results.completions       # [ChatCompletion or None, ...] in input order
        results.failures          # the failed items
        answers = results.raise_on_error()   # all the completions, or BatchError
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[BatchItem]) -> None:
        self._items = tuple(items)

    @overload
    def __getitem__(self, index: int) -> BatchItem: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[BatchItem]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[BatchItem, Sequence[BatchItem]]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    @property
    def completions(self) -> list[Optional[ChatCompletion]]:
        """Each request's completion in input order (None where it failed)."""
        return [item.completion for item in self._items]

    @property
    def texts(self) -> list[Optional[str]]:
        """Each request's answer text in input order (None where it failed)."""
        return [item.text for item in self._items]

    @property
    def errors(self) -> list[Optional[Exception]]:
        """Each request's exception in input order (None where it succeeded)."""
        return [item.error for item in self._items]

    @property
    def failures(self) -> list[BatchItem]:
        """The items that failed, in input order."""
        return [item for item in self._items if not item.ok]

    @property
    def succeeded(self) -> int:
        """How many requests succeeded."""
        return sum(item.ok for item in self._items)

    @property
    def failed(self) -> int:
        """How many requests failed."""
        return len(self._items) - self.succeeded

    @property
    def ok(self) -> bool:
        """Whether every request succeeded."""
        return all(item.ok for item in self._items)

    def raise_on_error(self) -> list[ChatCompletion]:
        """All the completions in input order; :class:`BatchError` if any request failed."""
        failures = self.failures
        if failures:
            raise BatchError(failures, len(self._items)) from failures[0].error
        return [item.unwrap() for item in self._items]

    def __repr__(self) -> str:
        return f"<BatchResult {len(self)} requests: {self.succeeded} ok, {self.failed} failed>"


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sync batch. It is a ``KeyboardInterrupt`` (so it stops the program
    as usual); ``result`` keeps what had finished, since those answers may be billed.
    Items that did not finish have a :class:`BatchCancelled` error."""

    def __init__(self, result: BatchResult, *, message: Optional[str] = None) -> None:
        super().__init__(
            message
            or f"the batch was interrupted after {result.succeeded} of {len(result)} requests "
            "succeeded (their answers are in .result)"
        )
        self.result = result


# --------------------------------------------------------------------------- progress


class _Reporter:
    """Shows progress; the silent base for ``progress=False``."""

    def update(self, progress: BatchProgress) -> None:
        """One more item finished."""

    def close(self, progress: BatchProgress) -> None:
        """The batch is over (finished or stopped)."""


class _CallbackReporter(_Reporter):
    def __init__(self, callback: Callable[[BatchProgress], Any]) -> None:
        self._callback = callback

    def update(self, progress: BatchProgress) -> None:
        self._callback(progress)


class _TqdmReporter(_Reporter):
    def __init__(self, tqdm: Any, total: int) -> None:
        self._bar = tqdm(total=total, desc="batch", unit="req", file=sys.stderr)

    def update(self, progress: BatchProgress) -> None:
        if progress.failed:
            self._bar.set_postfix(failed=progress.failed, refresh=False)
        self._bar.update(progress.done - self._bar.n)  # the runner moves by many at once

    def close(self, progress: BatchProgress) -> None:
        self._bar.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _TextReporter(_Reporter):
    """``batch 12/100 done, 1 failed`` on stderr.

    On a terminal one line is rewritten in place (at most ten times a second). Elsewhere
    (a notebook, a log file, CI) a whole line is written at every tenth of the way, so
    the output stays readable where ``\\r`` does not work.
    """

    _INTERVAL = 0.1

    def __init__(self, total: int) -> None:
        self._stream = sys.stderr
        self._tty = _is_tty(self._stream)
        self._total = total
        self._step = max(1, -(-total // 10))
        self._next_line = self._step
        self._last_draw = 0.0
        self._shown: Optional[BatchProgress] = None

    @staticmethod
    def _line(progress: BatchProgress) -> str:
        return f"batch {progress.done}/{progress.total} done, {progress.failed} failed"

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()

    def update(self, progress: BatchProgress) -> None:
        if self._tty:
            now = time.monotonic()
            if now - self._last_draw >= self._INTERVAL or progress.done == progress.total:
                self._last_draw = now
                self._shown = progress
                self._write("\r" + self._line(progress))
        elif progress.done >= self._next_line or progress.done == progress.total:
            self._next_line = (progress.done // self._step + 1) * self._step
            self._shown = progress
            self._write(self._line(progress) + "\n")

    def close(self, progress: BatchProgress) -> None:
        if self._total == 0:
            return
        if self._tty:
            if self._shown != progress:
                self._write("\r" + self._line(progress))
            self._write("\n")
        elif self._shown != progress:
            self._write(self._line(progress) + "\n")


def _reporter(progress: ProgressOption, total: int) -> _Reporter:
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise ArgumentTypeError(
            f"progress must be True, False or a callable taking a BatchProgress, "
            f"got {type(progress).__name__}"
        )
    if not progress or total == 0:
        return _Reporter()  # an empty batch has nothing to show
    if progress is True:
        try:
            # Through importlib: tqdm is optional and ships no type information.
            tqdm = importlib.import_module("tqdm.auto").tqdm
        except (ImportError, Warning):
            # No tqdm (it is the optional "progress" extra), or a notebook without
            # ipywidgets where tqdm warns (an error under -W error): a plain counter.
            return _TextReporter(total)
        return _TqdmReporter(tqdm, total)
    return _CallbackReporter(progress)


# --------------------------------------------------------------------------- bookkeeping


def _prepare(requests: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The requests as a list of keyword-argument dicts, checked before anything is sent."""
    if isinstance(requests, (str, bytes, Mapping)):
        raise ArgumentTypeError(
            "requests must be an iterable of dicts of create() arguments, e.g. "
            "[{'model': ..., 'messages': [...]}, ...], not a single "
            f"{type(requests).__name__}"
        )
    prepared = []
    for index, request in enumerate(requests):
        if not isinstance(request, Mapping):
            raise ArgumentTypeError(
                f"request {index} is a {type(request).__name__}; each request must be a "
                "dict of create() arguments such as {'model': ..., 'messages': [...]}"
            )
        if not all(isinstance(key, str) for key in request):
            raise ArgumentTypeError(f"request {index} has a key that is not a string")
        if request.get("stream"):
            raise ArgumentValueError(
                f"request {index} asks for stream=True, but batch() runs whole (non-streamed) "
                "completions: remove 'stream', or call create(stream=True) yourself to stream"
            )
        prepared.append(dict(request))
    return prepared


def _check_concurrency(concurrency: Any) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ArgumentValueError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
    return concurrency


class BatchRun:
    """One batch's state, shared by the sync runner and the async twin: the checked
    requests, the outcomes so far, and the progress display. Used from one thread (or
    one event loop) only."""

    def __init__(
        self,
        requests: Iterable[Mapping[str, Any]],
        *,
        concurrency: int,
        progress: ProgressOption,
    ) -> None:
        self.concurrency = _check_concurrency(concurrency)
        self.requests = _prepare(requests)
        self._completions: list[Optional[ChatCompletion]] = [None] * len(self.requests)
        self._errors: list[Optional[Exception]] = [None] * len(self.requests)
        self._done = 0
        self._failed = 0
        self._reporter = _reporter(progress, len(self.requests))

    def __len__(self) -> int:
        return len(self.requests)

    def pending(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """The requests to run, with their index, in input order."""
        return enumerate(self.requests)

    @property
    def progress(self) -> BatchProgress:
        """How far the batch is."""
        return BatchProgress(self._done, self._failed, len(self.requests))

    def finish(
        self,
        index: int,
        completion: Optional[ChatCompletion] = None,
        error: Optional[Exception] = None,
    ) -> None:
        """Record item ``index``'s outcome and show the progress."""
        self._completions[index] = completion
        self._errors[index] = error
        self._done += 1
        self._failed += error is not None
        self._reporter.update(self.progress)

    def keep(self, index: int, completion: ChatCompletion) -> None:
        """Record a completion that arrived as the batch was stopped (not shown)."""
        self._completions[index] = completion

    def result(self, *, stopped: bool = False) -> BatchResult:
        """The outcomes in input order; with ``stopped``, unfinished items are cancelled."""
        items = []
        for index, request in enumerate(self.requests):
            completion, error = self._completions[index], self._errors[index]
            if completion is None and error is None and stopped:
                error = BatchCancelled(f"request {index} did not finish: the batch was stopped")
            items.append(BatchItem(index, request, completion, error))
        return BatchResult(items)

    def __enter__(self) -> BatchRun:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self._reporter.close(self.progress)


# --------------------------------------------------------------------------- sync runner


class _Slot:
    """One request handed to the pool: its guard, and its answer once it has one.

    The pool thread stores the answer itself and says when it is done, so an answer that
    arrives is kept even if Ctrl-C lands in the caller's thread between two statements of
    the bookkeeping (or inside the pool's own, where the pool may lose track of a thread).
    """

    __slots__ = ("answer", "done", "guard", "index", "started")

    def __init__(self, index: int) -> None:
        self.index = index
        self.guard = CallGuard()
        self.answer: Optional[ChatCompletion] = None
        self.started = False
        self.done = threading.Event()

    def call(self, create: Callable[..., ChatCompletion], request: dict[str, Any]) -> None:
        # Runs in a pool thread; the guard lets the caller's thread abort it on Ctrl-C.
        self.started = True
        try:
            if self.guard.aborted:
                raise BatchCancelled("the batch was stopped before this request was sent")
            with self.guard.running():
                self.answer = create(**request)
        finally:
            self.done.set()


def run_batch(
    create: Callable[..., ChatCompletion],
    requests: Iterable[Mapping[str, Any]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: ProgressOption = True,
) -> BatchResult:
    """Run ``create(**request)`` for every request on at most ``concurrency`` threads.

    Requests are handed to the pool one at a time as slots free up, so an interrupted
    batch has sent nothing beyond the calls in flight. The caller's thread waits, shows
    progress and calls a ``progress`` callable: user code never runs on a pool thread.
    """
    run = BatchRun(requests, concurrency=concurrency, progress=progress)
    if not run.requests:
        with run:
            return run.result()
    # Registered before it is submitted, so an abort always reaches a submitted call.
    slots: dict[int, _Slot] = {}
    in_flight: dict[Future[None], _Slot] = {}
    executor = ThreadPoolExecutor(
        max_workers=min(run.concurrency, len(run)), thread_name_prefix="deepinfra-batch"
    )

    def submit(index: int, request: dict[str, Any]) -> None:
        slot = slots[index] = _Slot(index)
        in_flight[executor.submit(slot.call, create, request)] = slot

    try:
        with run:
            todo = run.pending()
            for index, request in itertools.islice(todo, run.concurrency):
                submit(index, request)
            while in_flight:
                # A timeout, so the main thread runs Python code now and then: a Ctrl-C
                # whose signal reached another thread is raised here within that time.
                finished, _ = wait(in_flight, timeout=_POLL, return_when=FIRST_COMPLETED)
                for future in finished:
                    slot = in_flight.pop(future)
                    del slots[slot.index]
                    error = future.exception()
                    if error is None and slot.answer is not None:
                        run.finish(slot.index, completion=slot.answer)
                    elif isinstance(error, Exception):
                        run.finish(slot.index, error=error)
                    elif error is not None:
                        raise error
                    following = next(todo, None)
                    if following is not None:
                        submit(*following)
    except KeyboardInterrupt:
        _abort(slots.values())
        executor.shutdown(wait=True, cancel_futures=True)
        for slot in slots.values():
            if slot.started:
                slot.done.wait()  # aborted: returns as soon as the socket is shut down
            # A call that returned just before the abort reached it was billed: keep it.
            if slot.answer is not None:
                run.keep(slot.index, slot.answer)
        raise BatchInterrupted(run.result(stopped=True)) from None
    except BaseException:
        _abort(slots.values())
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return run.result()


def _abort(slots: Iterable[_Slot]) -> None:
    """Stop every call in flight: never-started ones send nothing, blocked reads wake."""
    for slot in list(slots):
        slot.guard.abort()
