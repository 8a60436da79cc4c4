"""Soak: thousands of requests against an emulator that fails 5% of them at random.

Every request ends in success with the right answer, or in one of the SDK's typed errors:
never a bare ``requests``/``urllib3``/``OSError``/``KeyError``. Outcomes are counted by
type and checked against the faults the emulator reports it injected. Afterwards the
process has the threads and file descriptors it started with (the client's idle pooled
sockets aside while it is open: every one of them is accounted for), and memory has not
grown beyond noise.

The faults, drawn by ``Emulator.inject_random`` (seeded) for 5% of requests: statuses 429
and 503 (with ``Retry-After: 0``) and 500; connection resets before the status line,
after the headers and in the middle of a body or stream; a malformed stream frame; the
server stalling past the client's 1 s read timeout before the response or mid-body. The
requests mix chat completions, streams, model lists, embeddings and images.

The emulator runs in a child process, so that the threads, descriptors and memory
measured here are the client's alone. Parts:

* sequential, on the sync client with its default retries: each call is matched with the
  faults injected while it ran, and its exact outcome (answer, retried success, or the
  error class the last fault calls for, after exactly the retries the policy allows) is
  checked;
* concurrent, without retries so that every fault shows: the sync client from 32 threads,
  and the async facade from an anyio task group on asyncio and on trio; outcome counts
  per route must equal what the injected faults produce.

Sizes: by default 400 sequential and 100 concurrent requests per concurrent part (about
12 s in all on the 2-core machine this was written on); ``DEEPINFRA_SOAK=full`` runs the
issue's 2,000 sequential and 500 concurrent (about 90 s; the sequential part waits out a
1 s read timeout for each stall)::

    .venv/bin/pytest tests/reliability/test_soak.py -q                         # CI size
    DEEPINFRA_SOAK=full .venv/bin/pytest tests/reliability/test_soak.py -q -s  # full, with report

``-s`` prints one line per part: time, outcome counts, faults injected, threads and
descriptors before, with the client open and after it is closed, memory kept and RSS.

Threads parked for reuse are allowed after a run, like idle pooled sockets: the async
facade's stream readers and trio's worker threads wait 10 s for the next job before they
exit (the full soak waits for them and then requires the starting threads exactly).

Memory is measured with ``tracemalloc``, started after a warm-up block (every error path
has run, lazily built caches exist) and read after the run, once the client is closed
(its pool freed) and ``gc.collect()`` ran: what is still allocated then was allocated
during the run and kept. Allocations made inside the event loop libraries and
``threading`` are left out (they belong to parked threads and to loop structures sized by
the run's width, not by its length). The limit is 256 KiB, plus 2 KiB per parked thread
for the SDK's own bookkeeping in it, whatever the run's length: a leak of one small object
per request (a 1 KiB body, a traceback) is 400 KiB at the CI size and 2 MB at full size,
while what was measured here stays at 10-25 KiB for the sync client and 50-160 KiB for the
async facade (mostly per-thread bookkeeping of its parked reader threads).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import anyio
import pytest

from deepinfra_sdk import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AsyncDeepInfraClient,
    DeepInfraClient,
    DeepInfraError,
    InternalServerError,
    RateLimitError,
    Timeout,
)
from tests._leaks import client_sockets, idle_pooled, threads_in_sdk

SDK_DIR = str(Path(__file__).resolve().parents[2] / "deepinfra_sdk")

FULL = os.environ.get("DEEPINFRA_SOAK", "").lower() == "full"
SEQUENTIAL = 2000 if FULL else 400
CONCURRENT = 500 if FULL else 100
WARM_UP = 60
RATE = 0.05
READ_TIMEOUT = 1.0  # far above any honest gap on loopback, even on a loaded machine
STALL = 3.0  # far above the read timeout
MEMORY_LIMIT = 256 * 1024
THREAD_ALLOWANCE = 2 * 1024
# Allocations made here (innermost frame) are the event loop's or thread machinery's.
NOT_THE_SDKS = [
    f"*{os.sep}{lib}{os.sep}*" for lib in ("trio", "anyio", "asyncio", "outcome", "sniffio")
] + [threading.__file__, tracemalloc.__file__]
WORKERS = 32
ASYNC_CONCURRENCY = 64

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
CHAT = "/v1/openai/chat/completions"
MODELS = "/models/featured"
EMBEDDINGS = "/v1/openai/embeddings"
IMAGES = "/v1/inference/"
PROMPTS = [f"Tell me about soak test number {k}." for k in range(6)]

# The injected faults, by label (Fault's fields, passed to the emulator process as JSON).
FAULTS: dict[str, dict[str, Any]] = {
    "429": {"status": 429, "retry_after": "0"},
    "500": {"status": 500},
    "503": {"status": 503, "retry_after": "0"},
    "reset before status": {"drop": "before_response"},
    "reset after headers": {"drop": "after_headers"},
    "reset mid-body": {"drop": "after_events", "after_events": 2},
    "malformed frame": {"malformed_frame": True, "after_events": 1},
    "stall before response": {"stall": STALL, "stall_at": "before_response"},
    "stall mid-body": {"stall": STALL, "stall_at": "after_events", "after_events": 2},
}
# The warm-up runs every error path but the stalls (which only cost time there).
WARM_UP_FAULTS = [label for label in FAULTS if not label.startswith("stall")]
# The error each fault must end a call with (when it is the last attempt's fault).
ERRORS: dict[str, type[DeepInfraError]] = {
    "429": RateLimitError,
    "500": InternalServerError,
    "503": InternalServerError,
    "reset before status": APIConnectionError,
    "reset after headers": APIConnectionError,
    "reset mid-body": APIConnectionError,
    "malformed frame": APIResponseValidationError,
    "stall before response": APITimeoutError,
    "stall mid-body": APITimeoutError,
}
# Retried by the policy (wire.md): a POST only when the server refused the work (429/503);
# a GET also after a reset or timeout before the response. "maybe": a GET whose body fails
# after the headers, which the policy may retry (idempotent) or not; the sequential part
# accepts either, and checks that a success then follows.
YES, NO, MAYBE = "yes", "no", "maybe"
GET_RETRIES = {"429": YES, "503": YES, "reset before status": YES, "stall before response": YES}
GET_MAYBE = ("reset after headers", "reset mid-body", "stall mid-body")
KINDS = ("chat", "stream", "models", "embeddings", "images")
KIND_WEIGHTS = (0.3, 0.3, 0.1, 0.15, 0.15)


def retried(label: str, kind: str) -> str:
    """Whether the retry policy retries a call of ``kind`` after fault ``label``."""
    if label in ("429", "503"):
        return YES
    if kind != "models":
        return NO
    return GET_RETRIES.get(label, MAYBE if label in GET_MAYBE else NO)


def harmless(label: str, kind: str) -> bool:
    """A malformed *event* changes nothing in a JSON answer."""
    return label == "malformed frame" and kind != "stream"


# -- the emulator, in a child process -----------------------------------------------------

_CHILD = r"""
import json, sys
from deepinfra_sdk.emulator import Emulator, Fault

faults = {label: Fault(**fields) for label, fields in json.loads(sys.argv[1]).items()}
labels = {id(f): label for label, f in faults.items()}
emu = Emulator().start()
rule = None
print(json.dumps({"url": emu.url, "port": emu.port, "key": emu.api_key}), flush=True)
for line in sys.stdin:
    ask = json.loads(line)
    if ask["cmd"] == "arm":
        emu.clear_faults()
        mix = [faults[label] for label in ask["labels"]]
        rule = emu.inject_random(mix, rate=ask["rate"], seed=ask["seed"])
        answer = {}
    else:  # "since": faults given after the first n, and the request count
        given = rule.given[ask["n"]:] if rule is not None else []
        answer = {
            "given": [[path, labels[id(f)]] for path, f in given],
            "requests": emu.request_count(),
            "errors": emu.handler_errors,
        }
    print(json.dumps(answer), flush=True)
emu.stop()
"""


class EmulatorProcess:
    """An emulator in a child process, scripted over its stdin and stdout."""

    def __init__(self, log: Path) -> None:
        self._log = log.open("w")
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, json.dumps(FAULTS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        hello = json.loads(self._readline())
        self.url: str = hello["url"]
        self.port: int = hello["port"]
        self.key: str = hello["key"]
        self._lock = threading.Lock()

    def _readline(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        assert line, "the emulator process died (see its log)"
        return line

    def _ask(self, **ask: Any) -> dict[str, Any]:
        assert self._proc.stdin is not None
        with self._lock:
            self._proc.stdin.write(json.dumps(ask) + "\n")
            self._proc.stdin.flush()
            answer: dict[str, Any] = json.loads(self._readline())
        return answer

    def arm(self, seed: int, rate: float = RATE, labels: Iterable[str] = FAULTS) -> None:
        """Fault a share ``rate`` of the requests from now on (a fresh seeded rule)."""
        self._ask(cmd="arm", seed=seed, rate=rate, labels=list(labels))

    def since(self, n: int = 0) -> tuple[list[tuple[str, str]], int]:
        """The faults given after the first ``n`` (path, label), and the request count."""
        answer = self._ask(cmd="since", n=n)
        assert answer["errors"] == [], answer["errors"]
        return [(p, label) for p, label in answer["given"]], answer["requests"]

    def stop(self) -> None:
        """End the process (closing its stdin lets it stop the emulator and exit)."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.close()
            self._proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait(10)
        finally:
            self._proc.stdout.close()
            self._log.close()


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    proc = EmulatorProcess(tmp_path / "emulator.log")
    yield proc
    proc.stop()


def stop_keeping_log_records() -> None:
    """pytest keeps every log record of a test for its report: a soak's thousands of DEBUG
    records would count as memory the run kept. Its capturing handlers (added for the test's
    call phase, removed by pytest after it) are detached; the suite's scan of every record
    for the API key stays attached."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if type(h).__name__ == "LogCaptureHandler"]:
        root.removeHandler(handler)


# -- the calls ------------------------------------------------------------------------------


@dataclass
class Answers:
    """The right answer of every call kind, asked before any fault."""

    chat: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    embedding: list[float] = field(default_factory=list)
    image: bytes = b""


def sync_calls(client: DeepInfraClient) -> dict[str, Callable[[int], Any]]:
    """One function per call kind: ``k`` picks the prompt; returns what to compare."""

    def chat(k: int) -> Any:
        done = client.chat.completions.create(model=MODEL, messages=messages(k))
        return done.choices[0].message.content

    def stream(k: int) -> Any:
        with client.chat.completions.create(model=MODEL, messages=messages(k), stream=True) as s:
            for _ in s:
                pass
        assert s.done
        return s.text

    def models(k: int) -> Any:
        return [m.model_name for m in client.models.list(refresh=True)]

    def embeddings(k: int) -> Any:
        return client.embeddings.create(input=["soak"]).data[0].embedding

    def images(k: int) -> Any:
        return client.images.generate("soak", width=64, height=64, seed=7).image_bytes(0)

    return {"chat": chat, "stream": stream, "models": models, "embeddings": embeddings,
            "images": images}  # fmt: skip


def async_calls(client: AsyncDeepInfraClient) -> dict[str, Callable[[int], Any]]:
    """The same calls through the async facade."""

    async def chat(k: int) -> Any:
        done = await client.chat.completions.create(model=MODEL, messages=messages(k))
        return done.choices[0].message.content

    async def stream(k: int) -> Any:
        s = await client.chat.completions.create(model=MODEL, messages=messages(k), stream=True)
        async with s:
            async for _ in s:
                pass
        assert s.done
        return s.text

    async def models(k: int) -> Any:
        return [m.model_name for m in await client.models.list(refresh=True)]

    async def embeddings(k: int) -> Any:
        return (await client.embeddings.create(input=["soak"])).data[0].embedding

    async def images(k: int) -> Any:
        image = await client.images.generate("soak", width=64, height=64, seed=7)
        return image.image_bytes(0)

    return {"chat": chat, "stream": stream, "models": models, "embeddings": embeddings,
            "images": images}  # fmt: skip


def messages(k: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPTS[k % len(PROMPTS)]}]


def expected(answers: Answers, kind: str, k: int) -> Any:
    if kind in ("chat", "stream"):
        return answers.chat[k % len(PROMPTS)]
    return {"models": answers.models, "embeddings": answers.embedding, "images": answers.image}[
        kind
    ]


def reference(calls: dict[str, Callable[[int], Any]]) -> Answers:
    return Answers(
        chat=[calls["chat"](k) for k in range(len(PROMPTS))],
        models=calls["models"](0),
        embedding=calls["embeddings"](0),
        image=calls["images"](0),
    )


@dataclass
class Outcome:
    """How one call ended, checked at once and kept small (nothing of the answer or the
    error stays alive, so that the memory measured is the SDK's)."""

    kind: str
    name: str  # "success" or the error's class name
    problem: Optional[str] = None  # what was wrong, if anything


def judge(kind: str, k: int, answers: Answers, value: Any, error: Optional[Exception]) -> Outcome:
    """A success gives the right answer; an error is one of the SDK's, and the text it
    kept (streams) is the start of the true answer."""
    want = expected(answers, kind, k)
    if error is None:
        problem = None if value == want else f"wrong answer: {value!r:.80}"
        return Outcome(kind, "success", problem)
    name = type(error).__name__
    if not isinstance(error, DeepInfraError):
        return Outcome(kind, name, f"untyped error: {error!r:.200}")
    partial = getattr(error, "partial_text", None)
    if partial and not (kind == "stream" and want.startswith(partial)):
        return Outcome(kind, name, f"partial text that was never sent: {partial!r:.80}")
    return Outcome(kind, name)


def run_one(calls: dict[str, Callable[[int], Any]], answers: Answers, kind: str, k: int) -> Outcome:
    try:
        value = calls[kind](k)
    except Exception as exc:  # anything: judge() reports what is not typed
        return judge(kind, k, answers, None, exc)
    return judge(kind, k, answers, value, None)


async def run_one_async(
    calls: dict[str, Callable[[int], Any]], answers: Answers, kind: str, k: int
) -> Outcome:
    try:
        value = await calls[kind](k)
    except Exception as exc:
        return judge(kind, k, answers, None, exc)
    return judge(kind, k, answers, value, None)


def tally(outcomes: Counter, outcome: Outcome) -> None:
    assert outcome.problem is None, (outcome.kind, outcome.name, outcome.problem)
    outcomes[outcome.kind, outcome.name] += 1


def plan(seed: int, n: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    return [(rng.choices(KINDS, KIND_WEIGHTS)[0], rng.randrange(len(PROMPTS))) for _ in range(n)]


# -- what the process holds -------------------------------------------------------------------


def threads_now() -> set[str]:
    """The process's threads (kernel task ids)."""
    return set(os.listdir("/proc/self/task"))


def fds_now() -> set[tuple[str, str]]:
    """The process's open descriptors, each with what it points to (a socket's inode
    tells a new socket from an old descriptor number reused)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
        except OSError:  # the descriptor listdir itself used, now closed
            continue
    return found


def in_sdk(frame: Any) -> bool:
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(SDK_DIR) and os.sep + "emulator" + os.sep not in name:
            return True
        frame = frame.f_back
    return False


def in_file(frame: Any, suffix: str) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.endswith(suffix):
            return True
        frame = frame.f_back
    return False


def idle_workers() -> set[str]:
    """Threads parked for reuse, which exit by themselves after 10 idle seconds: the SDK's
    stream readers waiting for their next stream (named ``deepinfra-...``, running no SDK
    code) and trio's thread cache. Like idle pooled sockets, they are allowed after a run."""
    frames = sys._current_frames()
    idle = set()
    for t in threading.enumerate():
        frame = frames.get(t.ident or 0)
        parked_reader = t.name.startswith("deepinfra") and not in_sdk(frame)
        if parked_reader or in_file(frame, os.path.join("trio", "_core", "_thread_cache.py")):
            idle.add(str(t.native_id))
    return idle


def describe(tids: set[str]) -> list[str]:
    """Name and innermost frames of the Python threads among ``tids``, for messages."""
    frames = sys._current_frames()
    out = []
    for t in threading.enumerate():
        if str(t.native_id) in tids:
            f: Any = frames.get(t.ident or 0)
            where = []
            while f is not None and len(where) < 4:
                where.append(f"{Path(f.f_code.co_filename).name}:{f.f_lineno}")
                f = f.f_back
            out.append(f"{t.name} at {' < '.join(where)}")
    return out


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Measure:
    """Threads, descriptors and memory around a run."""

    threads: set[str] = field(default_factory=set)
    fds: set[tuple[str, str]] = field(default_factory=set)
    rss: list[int] = field(default_factory=list)
    kept_bytes: int = 0
    raw_kept_bytes: int = 0
    peak_bytes: int = 0
    memory_limit: int = MEMORY_LIMIT
    seconds: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def start(self) -> None:
        gc.collect()
        self.threads, self.fds = threads_now(), fds_now()

    def start_memory(self) -> None:
        gc.collect()
        self.rss.append(rss_kib())
        tracemalloc.start()

    def stop_memory(self, idle_threads: int = 0) -> None:
        """What the run left allocated, measured once the client is closed (its pool
        freed). The event loop libraries' and ``threading``'s own objects are left out:
        they belong to idle reusable threads (checked by the thread count) and to loop
        structures sized by the run's width; each such thread may also keep a little SDK
        bookkeeping (``THREAD_ALLOWANCE``)."""
        gc.collect()
        self.raw_kept_bytes, self.peak_bytes = tracemalloc.get_traced_memory()
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, pattern) for pattern in NOT_THE_SDKS]
        )
        self.kept_bytes = sum(stat.size for stat in snapshot.statistics("filename"))
        tracemalloc.stop()
        self.rss.append(rss_kib())
        self.memory_limit = MEMORY_LIMIT + THREAD_ALLOWANCE * idle_threads

    def new(
        self, idle_loop_threads: Callable[[], set[str]], wait: float = 5.0
    ) -> tuple[set[str], set[str]]:
        """Threads and descriptors that appeared since the start (threads that exit late
        are waited for, up to ``wait`` seconds)."""
        deadline = time.monotonic() + wait
        while True:
            threads = threads_now() - self.threads - idle_loop_threads()
            fds = {link for fd, link in fds_now() - self.fds}
            if not threads or time.monotonic() > deadline:
                return threads, fds
            time.sleep(0.01)

    def check_client_open(
        self, client: DeepInfraClient, port: int, idle_loop_threads: Callable[[], set[str]]
    ) -> None:
        """The client still open: no new thread; the new descriptors are its idle pooled
        sockets, each one of them."""
        threads, fds = self.new(idle_loop_threads)
        idle = idle_pooled(client)
        self.notes.append(
            f"client open: {len(threads_now())} threads ({len(self.threads)} before), "
            f"{len(fds_now())} fds ({len(self.fds)} before), {idle} idle pooled sockets"
        )
        assert not threads, f"threads outlived the run: {describe(threads)}"
        assert all(link.startswith("socket:") for link in fds), fds
        assert len(fds) == idle == client_sockets(port)
        assert idle <= client.config.pool_maxsize

    def check_client_closed(
        self, idle_loop_threads: Callable[[], set[str]], wait: float = 5.0
    ) -> None:
        """The client closed: the threads and descriptors of the start, no more (idle
        reusable workers aside)."""
        deadline = time.monotonic() + wait
        while True:
            threads, fds = self.new(idle_loop_threads, wait)
            if not fds or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        self.notes.append(
            f"client closed: {len(threads_now())} threads ({len(idle_loop_threads())} idle "
            f"reusable workers), {len(fds_now())} fds"
        )
        assert not threads and not fds, (describe(threads), fds)

    def check_memory(self) -> None:
        assert self.kept_bytes < self.memory_limit, (
            f"{self.kept_bytes} bytes kept after the run (limit {self.memory_limit})"
        )

    def report(self, title: str) -> str:
        counts = Counter()
        for (_, name), n in self.outcomes.items():
            counts[name] += n
        return (
            f"{title}: {sum(counts.values())} requests in {self.seconds:.1f} s; outcomes "
            f"{dict(counts.most_common())}; {'; '.join(self.notes)}; memory kept "
            f"{self.kept_bytes / 1024:.1f} KiB (limit {self.memory_limit // 1024} KiB; "
            f"{self.raw_kept_bytes / 1024:.0f} KiB with loop and thread internals, peak "
            f"{self.peak_bytes / 1024:.0f} KiB), "
            f"RSS {' -> '.join(str(r) for r in self.rss)} KiB"
        )


def no_idle_threads() -> set[str]:
    return set()


# -- accounting ----------------------------------------------------------------------------------


def expected_name(kind: str, faults: list[str], requests: int, max_retries: int) -> str:
    """The outcome one sequential call must have had, given the faults injected while it
    ran and the requests the server saw; fails if the retries broke the policy.

    The attempts the server saw are the faulted ones, in order, and (for a success) a clean
    one at the end. Every attempt before the last must have had a fault the policy retries;
    the last decides the outcome.
    """
    assert 1 <= requests <= max_retries + 1, (kind, faults, requests)
    ends_clean = requests == len(faults) + 1
    assert ends_clean or requests == len(faults), (kind, faults, requests)
    before_last = faults if ends_clean else faults[:-1]
    for label in before_last:
        assert not harmless(label, kind), (kind, faults, "a call went on after its answer")
        assert retried(label, kind) in (YES, MAYBE), (kind, faults, "retried against the policy")
    if ends_clean or harmless(faults[-1], kind):
        return "success"
    if retried(faults[-1], kind) == YES:
        assert requests == max_retries + 1, (kind, faults, "gave up before the last retry")
    return ERRORS[faults[-1]].__name__


def route_of(kind_or_path: str) -> str:
    if kind_or_path in ("chat", "stream") or kind_or_path == CHAT:
        return "chat"
    if kind_or_path in ("models", MODELS):
        return "models"
    if kind_or_path in ("embeddings", EMBEDDINGS):
        return "embeddings"
    assert kind_or_path == "images" or kind_or_path.startswith(IMAGES), kind_or_path
    return "images"


def account_for_run(outcomes: Counter, given: list[tuple[str, str]], requests: int) -> None:
    """Concurrent calls without retries: the failures on each route are exactly those the
    faults injected there produce (each fails its own call, with the error it calls for)."""
    faults: dict[str, list[str]] = {r: [] for r in ("chat", "models", "embeddings", "images")}
    for path, label in given:
        faults[route_of(path)].append(label)
    for route, labels in faults.items():
        failed = Counter()
        for (kind, name), n in outcomes.items():
            if route_of(kind) == route and name != "success":
                failed[name] += n
        if route == "models":
            # Concurrent model-list calls share one request, and so its fault: a fault fails
            # the call that made the request and possibly others that were waiting for it.
            fatal = Counter(ERRORS[f].__name__ for f in labels if not harmless(f, route))
            assert set(failed) <= set(fatal), (route, failed, fatal)
            assert all(failed[name] >= n for name, n in fatal.items()), (route, failed, fatal)
            continue
        malformed = labels.count("malformed frame")
        bad_frames = failed.pop(APIResponseValidationError.__name__, 0)
        # A malformed event fails a stream and leaves a JSON answer alone.
        streams = outcomes["stream", APIResponseValidationError.__name__]
        assert bad_frames == (streams if route == "chat" else 0), (route, labels)
        assert bad_frames <= malformed, (route, labels)
        fatal = Counter(ERRORS[f].__name__ for f in labels if f != "malformed frame")
        assert failed == fatal, (route, failed, fatal)
    calls = sum(outcomes.values())
    model_calls = sum(n for (kind, _), n in outcomes.items() if kind == "models")
    assert calls - model_calls <= requests <= calls  # one request per call, lists shared


# -- the soak --------------------------------------------------------------------------------------


def make_client(emulator: EmulatorProcess, max_retries: int) -> DeepInfraClient:
    return DeepInfraClient(
        emulator.key,
        base_url=emulator.url,
        timeout=Timeout(connect=5.0, read=READ_TIMEOUT),
        max_retries=max_retries,
    )


def test_sequential_requests_on_the_sync_client(emulator: EmulatorProcess) -> None:
    stop_keeping_log_records()
    m = Measure()
    m.start()
    client = make_client(emulator, max_retries=2)
    calls = sync_calls(client)
    answers = reference(calls)
    # Warm-up at a higher rate, so that every error path has run before measuring.
    emulator.arm(seed=1, rate=0.25, labels=WARM_UP_FAULTS)
    for kind, k in plan(1, WARM_UP):
        assert run_one(calls, answers, kind, k).problem is None
    emulator.arm(seed=2)
    _, requests = emulator.since()
    faulted = 0
    wanted: Counter = Counter()
    m.start_memory()
    started = time.monotonic()
    for kind, k in plan(2, SEQUENTIAL):
        outcome = run_one(calls, answers, kind, k)
        given, now = emulator.since(faulted)
        name = expected_name(kind, [label for _, label in given], now - requests, 2)
        assert outcome.name == name, (kind, [label for _, label in given], outcome)
        tally(m.outcomes, outcome)
        wanted[kind, name] += 1
        faulted += len(given)
        requests = now
    m.seconds = time.monotonic() - started
    assert m.outcomes == wanted
    failures = SEQUENTIAL - sum(n for (_, name), n in m.outcomes.items() if name == "success")
    # About 5% of requests faulted; retries turned some of those calls into successes.
    assert 0 < failures <= faulted < SEQUENTIAL * RATE * 2
    m.notes.append(f"{faulted} faults injected")
    m.check_client_open(client, emulator.port, no_idle_threads)
    client.close()
    m.stop_memory()
    m.check_client_closed(no_idle_threads)
    print("\n" + m.report("sequential, sync client"))
    m.check_memory()


def test_concurrent_requests_from_threads_on_the_sync_client(emulator: EmulatorProcess) -> None:
    stop_keeping_log_records()
    m = Measure()
    m.start()
    client = make_client(emulator, max_retries=0)
    calls = sync_calls(client)
    answers = reference(calls)
    with ThreadPoolExecutor(WORKERS) as pool:
        emulator.arm(seed=3, rate=0.25, labels=WARM_UP_FAULTS)
        for outcome in pool.map(lambda job: run_one(calls, answers, *job), plan(3, WARM_UP)):
            assert outcome.problem is None
        emulator.arm(seed=4)
        _, before = emulator.since()
        m.start_memory()
        started = time.monotonic()
        for outcome in pool.map(lambda job: run_one(calls, answers, *job), plan(4, CONCURRENT)):
            tally(m.outcomes, outcome)
        m.seconds = time.monotonic() - started
    given, after = emulator.since()
    account_for_run(m.outcomes, given, after - before)
    m.notes.append(f"{len(given)} faults injected")
    m.check_client_open(client, emulator.port, no_idle_threads)
    client.close()
    m.stop_memory()
    m.check_client_closed(no_idle_threads)
    print("\n" + m.report(f"concurrent, sync client, {WORKERS} threads"))
    m.check_memory()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_concurrent_requests_through_the_async_facade(
    emulator: EmulatorProcess, backend: str
) -> None:
    # The event loop runs here, not in the pytest plugin, so that threads and descriptors
    # are counted before it starts and after it ends.
    stop_keeping_log_records()
    m = Measure()
    m.start()
    client = make_client(emulator, max_retries=0)
    given: list[tuple[str, str]] = []
    requests = 0

    async def soak() -> None:
        nonlocal given, requests
        aclient = AsyncDeepInfraClient(client=client, max_concurrency=ASYNC_CONCURRENCY)
        calls = async_calls(aclient)
        answers = Answers(
            chat=[await calls["chat"](k) for k in range(len(PROMPTS))],
            models=await calls["models"](0),
            embedding=await calls["embeddings"](0),
            image=await calls["images"](0),
        )

        async def batch(seed: int, n: int, outcomes: Counter) -> None:
            async def one(kind: str, k: int) -> None:
                tally(outcomes, await run_one_async(calls, answers, kind, k))

            async with anyio.create_task_group() as tg:
                for kind, k in plan(seed, n):
                    tg.start_soon(one, kind, k)

        # Warm-up as wide as the run: the pool and the reader threads reach the size the
        # run needs before memory is measured.
        emulator.arm(seed=5, rate=0.25, labels=WARM_UP_FAULTS)
        await batch(5, CONCURRENT, Counter())
        emulator.arm(seed=6)
        _, before = emulator.since()
        m.start_memory()
        started = time.monotonic()
        await batch(6, CONCURRENT, m.outcomes)
        m.seconds = time.monotonic() - started
        given, after = emulator.since()
        requests = after - before

    anyio.run(soak, backend=backend)
    account_for_run(m.outcomes, given, requests)
    m.notes.append(f"{len(given)} faults injected")
    assert not threads_in_sdk()
    # Stream reader threads and trio's worker threads wait 10 s for reuse before they exit:
    # allowed while idle, like pooled sockets; the full soak waits for them to go.
    m.check_client_open(client, emulator.port, idle_workers)
    client.close()
    m.stop_memory(idle_threads=len(idle_workers() - m.threads))
    m.check_client_closed(idle_workers)
    if FULL:
        m.check_client_closed(no_idle_threads, wait=15.0)
    print("\n" + m.report(f"concurrent, async facade on {backend}"))
    m.check_memory()
