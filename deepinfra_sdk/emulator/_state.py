"""The emulator's shared, thread-safe state: settings, recorded requests, queued faults and
the count of accepted connections."""

from __future__ import annotations

import collections
import contextlib
import sys
import threading
import time
from typing import Callable, Counter, Deque, Dict, FrozenSet, Iterator, List, Optional, Tuple

from ._batches import BatchService
from ._chat_extras import PromptCache
from ._faults import FaultQueue
from ._recording import Headers, RecordedRequest

__all__ = ["RECORD_BODY_BYTES", "RECORD_LIMIT", "State"]

# The emulator keeps the most recent requests only (a long run or a hostile client must
# not grow it without end), and a body larger than RECORD_BODY_BYTES as its length only.
# Counts (request_count) cover every request since the last reset.
RECORD_LIMIT = 1000
RECORD_BODY_BYTES = 1024 * 1024
# Distinct (method, path) pairs counted one by one; past that, one shared count.
_MAX_COUNTED_PATHS = 10_000


class State:
    """What every connection thread reads and updates. Settings are plain attributes (the
    :class:`~deepinfra_sdk.emulator.Emulator` validates them); lists and counts change under
    a lock."""

    def __init__(
        self,
        *,
        api_keys: Optional[Tuple[str, ...]],
        require_auth: bool,
        token_delay: float,
        framing: str,
        line_ending: str,
        answer_tokens: int,
        verbose: bool,
        shapes: str = "recorded",
        ping_interval: Optional[float] = None,
        any_model: bool = False,
    ) -> None:
        self.api_keys = api_keys
        self._accepted: Optional[FrozenSet[str]] = (
            frozenset(api_keys) if api_keys is not None else None
        )
        self.require_auth = require_auth
        self.token_delay = token_delay
        self.framing = framing
        self.line_ending = line_ending
        self.answer_tokens = answer_tokens
        self.verbose = verbose
        self.shapes = shapes
        self.ping_interval = ping_interval
        self.any_model = any_model
        self.event_gate: Optional[Callable[[int], None]] = None
        self.recent: Deque[RecordedRequest] = collections.deque(maxlen=RECORD_LIMIT)
        self._counts: Counter[Tuple[str, str]] = collections.Counter()
        self.errors: List[str] = []
        self.faults = FaultQueue()
        self.prompt_cache = PromptCache()
        self._connections = 0
        self._lock = threading.Lock()
        self.batches = BatchService(lambda: self.answer_tokens)
        self._active: Dict[str, int] = {}
        self._peaks: Dict[str, int] = {}

    def authorized(self, header: Optional[str]) -> bool:
        """Whether an ``Authorization`` header value (None: absent) lets a request in."""
        if header is None:
            return not self.require_auth
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        return self._accepted is None or token in self._accepted

    def record(self, method: str, path: str, headers: Headers) -> RecordedRequest:
        """Remember (and count) a request whose head has just been read."""
        recorded = RecordedRequest(method=method, path=path, headers=headers)
        key = (method, path.split("?", 1)[0])
        with self._lock:
            self.recent.append(recorded)
            if key not in self._counts and len(self._counts) >= _MAX_COUNTED_PATHS:
                key = (method, "")  # counted, under no path in particular
            self._counts[key] += 1
        return recorded

    @property
    def requests(self) -> List[RecordedRequest]:
        """The most recent requests (at most ``RECORD_LIMIT``), oldest first."""
        with self._lock:
            return list(self.recent)

    def count(self, route: Optional[str], method: Optional[str]) -> int:
        """Requests received under path prefix ``route`` with ``method`` (None: any)."""
        wanted = method.upper() if method is not None else None
        with self._lock:
            return sum(
                n
                for (m, p), n in self._counts.items()
                if (route is None or p.startswith(route)) and (wanted is None or m == wanted)
            )

    @contextlib.contextmanager
    def serving(self, model: Optional[str]) -> Iterator[None]:
        """Count a request for ``model`` as in flight while the block runs."""
        if not isinstance(model, str):
            yield
            return
        with self._lock:
            active = self._active[model] = self._active.get(model, 0) + 1
            self._peaks[model] = max(self._peaks.get(model, 0), active)
        try:
            yield
        finally:
            with self._lock:
                self._active[model] -= 1

    def peak(self, model: Optional[str]) -> int:
        """The most requests for ``model`` (None: any one model) ever in flight at once."""
        with self._lock:
            if model is None:
                return max(self._peaks.values(), default=0)
            return self._peaks.get(model, 0)

    def accepted(self) -> None:
        """Count a TCP connection the listener has just accepted."""
        with self._lock:
            self._connections += 1

    @property
    def connections(self) -> int:
        """TCP connections accepted since start (or the last :meth:`reset`)."""
        with self._lock:
            return self._connections

    def reset(self) -> None:
        """Forget requests, the accepted-connection count, faults and cached prompts."""
        with self._lock:
            self.recent.clear()
            self._counts.clear()
            self._connections = 0
            self._peaks = {name: n for name, n in self._active.items() if n}
        self.faults.clear()
        self.prompt_cache.clear()

    def error(self, text: str) -> None:
        """Keep the traceback of an unexpected error in a connection thread."""
        with self._lock:
            self.errors.append(text)
        self.log(text)

    def log(self, message: str) -> None:
        """One line on stderr, in verbose mode only."""
        if self.verbose:
            stamp = time.strftime("%H:%M:%S")
            print(f"[emulator {stamp}] {message}", file=sys.stderr, flush=True)
