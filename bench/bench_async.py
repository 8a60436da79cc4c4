"""Async streaming: throughput of the async facade, and many concurrent streams from one client.

    python bench/bench_async.py              # 50,000-chunk streams x 5 rounds, then 1/64/256
                                             # concurrent slow streams (~1.5 min on 2 cores)
    python bench/bench_async.py --quick      # tiny sizes, a CI smoke run (a few seconds)
    python bench/bench_async.py --profile    # also cProfile one async (asyncio) stream

**Throughput.** A minimal SSE server in a child process sends one pre-rendered stream per
request (as in ``bench_stream.py``). Each round runs every contender once, in alternating
order; the table reports the median chunks/s and the ratios. The clock runs from just before
the request to the last chunk (event-loop start-up and client construction excluded).
Contenders:

* ``bare requests``: ``iter_lines()`` + ``json.loads`` per ``data:`` line, synchronous: the
  baseline of the targets;
* ``deepinfra_sdk sync``: ``DeepInfraClient`` ``ChatStream``;
* ``deepinfra_sdk async (asyncio)`` / ``(trio)``: one ``AsyncDeepInfraClient``,
  ``async with stream: async for chunk in stream``;
* ``openai AsyncOpenAI (asyncio)``: ``AsyncOpenAI(...).chat.completions.create(stream=True)``,
  if installed, on a shorter stream (``--openai-chunks``; it is ~20x slower), so its
  chunks/s stay comparable while the run stays short.

**Concurrency.** A slow server (child process, a thread per connection) sends each stream as
``--slow-events`` content chunks and a finish chunk, ``--slow-delay`` seconds apart (40 x 50 ms:
2 s per stream; all streams in lockstep, the worst case for the client). One
``AsyncDeepInfraClient`` runs 1, 64 and 256 streams at once in an anyio task group, on
asyncio and on trio. Each round opens one fresh event loop per backend and runs the largest
level first *cold* (the loop's worker threads not started yet), then every level warm, as
in a long-running application. The table reports the median wall time, its ratio to one
stream, and the peak ``threading.active_count()`` (sampled every 2 ms by a watcher thread;
the main thread and the watcher included). ``threads (sync SDK)``, ``n`` OS threads sharing
one ``DeepInfraClient``, is a reference for what the sync core costs per event on this
machine. At the end the thread count must fall back to where it started (trio keeps idle
workers cached for 10 s, so the full run waits up to 12 s for that).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import platform
import pstats
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio
from _sse_server import ProcessBenchServer, render_stream
from bench_stream import MESSAGES, MODEL, bare_loop, sdk_loop

from deepinfra_sdk import AsyncDeepInfraClient, DeepInfraClient

CHAT = "/v1/openai/chat/completions"

# A contender runs one stream and returns (chunks read, seconds from request to last chunk).
Run = Callable[[], "tuple[int, float]"]


# -- throughput contenders ------------------------------------------------------------------


def timed(run: Callable[[], int]) -> Run:
    """A synchronous contender of bench_stream.py, clocked from request to last chunk."""

    def clocked() -> tuple[int, float]:
        started = time.perf_counter()
        count = run()
        return count, time.perf_counter() - started

    return clocked


async def _read_async_sdk(aclient: AsyncDeepInfraClient) -> tuple[int, float]:
    count = 0
    started = time.perf_counter()
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async with stream:
        async for _ in stream:
            count += 1
    return count, time.perf_counter() - started


def async_sdk_loop(aclient: AsyncDeepInfraClient, backend: str) -> Run:
    """This SDK's async facade, one stream per event-loop run (one client across all runs)."""

    def run() -> tuple[int, float]:
        return anyio.run(_read_async_sdk, aclient, backend=backend)

    return run


def openai_loop(url: str) -> Run | None:
    """openai-python's AsyncOpenAI on asyncio, when installed."""
    try:
        import openai
    except ImportError:
        return None

    async def read() -> tuple[int, float]:
        # An httpx async client belongs to one event loop: build it inside the loop, off the clock.
        async with openai.AsyncOpenAI(
            api_key="bench-key", base_url=url + "/v1/openai", max_retries=0
        ) as client:
            count = 0
            started = time.perf_counter()
            stream = await client.chat.completions.create(  # type: ignore[call-overload]
                model=MODEL, messages=MESSAGES, stream=True
            )
            async for _ in stream:
                count += 1
            await stream.close()
            return count, time.perf_counter() - started

    def run() -> tuple[int, float]:
        return asyncio.run(read())

    return run


def measure(contenders: dict[str, tuple[Run, int]], rounds: int) -> dict[str, list[float]]:
    """Chunks per second of each contender per round, alternating the order each round."""
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            run, expected = contenders[name]
            count, elapsed = run()
            if count != expected:
                raise SystemExit(f"{name} read {count} chunks, expected {expected}")
            rates[name].append(count / elapsed)
    return rates


# -- concurrency ------------------------------------------------------------------------------


class ThreadWatcher:
    """Samples ``threading.active_count()`` every ``interval`` seconds in a daemon thread."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.before = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name="bench-thread-watcher", daemon=True
        )

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, threading.active_count())
            self._stop.wait(self.interval)

    def __enter__(self) -> ThreadWatcher:
        self.before = self.peak = threading.active_count()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def _fan_out(
    aclient: AsyncDeepInfraClient, n: int, expected: int
) -> tuple[float, int, int, float]:
    """``n`` streams at once from one client.

    Returns (wall seconds, threads before, peak threads, CPU seconds of this process: the
    server runs in another, so this is the client's cost alone).
    """
    counts: list[int] = []

    async def one() -> None:
        count = 0
        stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with stream:
            async for _ in stream:
                count += 1
        counts.append(count)

    with ThreadWatcher() as watcher:
        started, cpu = time.perf_counter(), time.process_time()
        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(one)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if len(counts) != n or any(c != expected for c in counts):
        raise SystemExit(f"{n} streams: counts {sorted(set(counts))}, expected {expected} each")
    return elapsed, watcher.before, watcher.peak, cpu


async def _one_loop(
    aclient: AsyncDeepInfraClient, levels: list[int], expected: int, reverse: bool
) -> dict[str, Any]:
    """One event loop's run: the largest level cold (fresh loop), then every level warm."""
    cold = await _fan_out(aclient, max(levels), expected)
    warm: dict[int, tuple[float, int, int, float]] = {}
    for n in levels[::-1] if reverse else levels:
        warm[n] = await _fan_out(aclient, n, expected)
    return {"cold": cold, "warm": warm}


def _threads_fan_out(
    client: DeepInfraClient, n: int, expected: int
) -> tuple[float, int, int, float]:
    """The reference: ``n`` OS threads, each reading one stream with the sync client."""
    counts: list[int] = []

    def one() -> None:
        count = 0
        with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
            for _ in stream:
                count += 1
        counts.append(count)

    threads = [threading.Thread(target=one) for _ in range(n)]
    with ThreadWatcher() as watcher:
        started, cpu = time.perf_counter(), time.process_time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if len(counts) != n or any(c != expected for c in counts):
        raise SystemExit(f"{n} threads: counts {sorted(set(counts))}, expected {expected} each")
    return elapsed, watcher.before, watcher.peak, cpu


THREADS = "threads (sync SDK)"


def _record(cell: dict[str, Any], n: int, measured: tuple[float, int, int, float]) -> None:
    seconds, before, peak, cpu = measured
    level = cell["levels"].setdefault(n, {"seconds": [], "threads": [], "cpu_seconds": []})
    level["seconds"].append(seconds)
    level["threads"].append((before, peak))
    level["cpu_seconds"].append(cpu)


def concurrency(
    url: str, levels: list[int], backends: list[str], rounds: int, expected: int
) -> dict[str, dict[str, Any]]:
    """Wall time and peak threads of ``n`` concurrent streams from one client, per backend.

    Each round runs every backend once (alternating), each in a fresh event loop: first the
    largest level *cold* (the loop's worker threads not started yet), then every level warm,
    as in a long-running application. ``threads (sync SDK)`` is a reference, not a
    contender: ``n`` OS threads sharing one ``DeepInfraClient``.
    """
    aclient = AsyncDeepInfraClient("bench-key", base_url=url)
    client = DeepInfraClient("bench-key", base_url=url, pool_maxsize=max(levels))
    names = [*backends, THREADS]
    results: dict[str, dict[str, Any]] = {
        b: {"cold": [], "cold_threads": [], "levels": {}} for b in names
    }
    _threads_fan_out(client, max(levels), expected)  # warm-up: a pool of open connections
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            cell = results[name]
            if name == THREADS:
                for n in levels if r % 2 == 0 else levels[::-1]:
                    _record(cell, n, _threads_fan_out(client, n, expected))
                continue
            run = anyio.run(_one_loop, aclient, levels, expected, r % 2 == 1, backend=name)
            cell["cold"].append(run["cold"][0])
            cell["cold_threads"].append(run["cold"][1:3])
            for n, measured in run["warm"].items():
                _record(cell, n, measured)
    for cell in results.values():
        for level in cell["levels"].values():
            level["median_seconds"] = statistics.median(level["seconds"])
            level["median_cpu_seconds"] = statistics.median(level["cpu_seconds"])
        if cell["cold"]:
            cell["median_cold"] = statistics.median(cell["cold"])
    return results


def settle(baseline: int, limit: float) -> tuple[int, float]:
    """Wait (up to ``limit`` s) for the thread count to fall back to ``baseline``.

    asyncio's anyio workers end with their loop; trio keeps idle worker threads cached for
    10 s; a thread still alive after that is a leak.
    """
    started = time.perf_counter()
    while threading.active_count() > baseline and time.perf_counter() - started < limit:
        time.sleep(0.1)
    return threading.active_count(), time.perf_counter() - started


# -- profiling --------------------------------------------------------------------------------


def profile_async(url: str, top: int = 20) -> str:
    """Where one async SDK stream (asyncio) spends its time: the event-loop thread and the
    stream's reader thread.

    cProfile sees one thread, so the reader side is profiled by wrapping the reader
    thread's read loop (``StreamPump._read``, for this run only) in a second profiler.
    """
    from deepinfra_sdk import _pump

    aclient = AsyncDeepInfraClient("bench-key", base_url=url)
    anyio.run(_read_async_sdk, aclient, backend="asyncio")  # warm-up
    reader_prof = cProfile.Profile()
    stats = {"reader_s": 0.0, "takes": 0, "taken": 0}
    original_read, original_take = _pump.StreamPump._read, _pump.StreamPump.take

    def read(self: Any, stream: Any) -> None:
        t0 = time.perf_counter()
        try:
            reader_prof.runcall(original_read, self, stream)
        finally:
            stats["reader_s"] += time.perf_counter() - t0

    def take(self: Any) -> Any:
        items = original_take(self)
        if items:
            stats["takes"] += 1
            stats["taken"] += len(items)
        return items

    collections: dict[int, list[float]] = {}
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            collections.setdefault(info["generation"], []).append(
                time.perf_counter() - gc_started[0]
            )

    _pump.StreamPump._read = read  # type: ignore[method-assign]
    _pump.StreamPump.take = take  # type: ignore[method-assign]
    gc.callbacks.append(on_gc)
    loop_prof = cProfile.Profile()
    try:
        loop_prof.enable()
        count, elapsed = anyio.run(_read_async_sdk, aclient, backend="asyncio")
        loop_prof.disable()
    finally:
        gc.callbacks.remove(on_gc)
        _pump.StreamPump._read = original_read  # type: ignore[method-assign]
        _pump.StreamPump.take = original_take  # type: ignore[method-assign]
    out = io.StringIO()
    out.write(
        f"profiled async stream: {count:,} chunks in {elapsed:.3f} s (profilers on), "
        f"{stats['takes']:,} batches of {stats['taken'] / max(stats['takes'], 1):.0f} "
        f"chunks taken by the loop, reader thread busy {stats['reader_s']:.3f} s\n"
    )
    spent = ", ".join(
        f"gen{g} {len(t)}x {sum(t) * 1000:.0f} ms" for g, t in sorted(collections.items())
    )
    out.write(f"garbage collector: {spent or 'no collections'}\n\n")
    out.write("== event-loop thread (tottime) ==\n")
    pstats.Stats(loop_prof, stream=out).sort_stats("tottime").print_stats(top)
    out.write("== reader thread (tottime) ==\n")
    pstats.Stats(reader_prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


# -- main ---------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    """Versions of what the numbers depend on."""
    import importlib.metadata as md

    found = {"python": platform.python_version(), "cores": str(_cores())}
    for dist in ("anyio", "trio", "openai", "requests", "urllib3"):
        try:
            found[dist] = md.version(dist)
        except md.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark, print the tables, return the raw numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a CI smoke run")
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--openai-chunks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--levels", default="1,64,256", help="concurrent streams, comma-separated")
    parser.add_argument("--backends", default="asyncio,trio")
    parser.add_argument("--slow-events", type=int, default=40)
    parser.add_argument("--slow-delay", type=float, default=0.05)
    parser.add_argument("--conc-rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one async stream")
    parser.add_argument("--json", metavar="PATH", help="also write the raw numbers here")
    args = parser.parse_args(argv)
    if args.quick:
        chunks, oa_chunks, rounds = 2_000, 500, 1
        levels, slow_events, slow_delay, conc_rounds = [1, 8], 5, 0.02, 1
    else:
        chunks, oa_chunks, rounds = args.chunks, args.openai_chunks, args.rounds
        levels = [int(x) for x in args.levels.split(",")]
        slow_events, slow_delay, conc_rounds = args.slow_events, args.slow_delay, args.conc_rounds
    backends = [b for b in args.backends.split(",") if b]
    if "trio" in backends:
        try:
            import trio  # noqa: F401
        except ImportError:
            backends.remove("trio")
    info = versions()
    baseline_threads = threading.active_count()
    started = time.perf_counter()

    # 1. Throughput.
    with (
        ProcessBenchServer(render_stream(chunks)) as server,
        ProcessBenchServer(render_stream(oa_chunks)) as oa_server,
    ):
        aclient = AsyncDeepInfraClient("bench-key", base_url=server.url)
        contenders: dict[str, tuple[Run, int]] = {
            "bare requests": (timed(bare_loop(server.url)), chunks + 1),
            "deepinfra_sdk sync": (timed(sdk_loop(server.url)), chunks + 1),
        }
        for backend in backends:
            contenders[f"deepinfra_sdk async ({backend})"] = (
                async_sdk_loop(aclient, backend),
                chunks + 1,
            )
        oa = openai_loop(oa_server.url)
        if oa is not None:
            contenders["openai AsyncOpenAI (asyncio)"] = (oa, oa_chunks + 1)
        measure(contenders, 1)  # warm-up: connections, imports, caches
        rates = measure(contenders, rounds)
        profile = None
        if args.profile:
            try:
                profile = profile_async(server.url)
            except AttributeError as exc:
                profile = f"no profile: {exc}"

    medians = {name: statistics.median(v) for name, v in rates.items()}
    bare = medians["bare requests"]
    sync = medians["deepinfra_sdk sync"]
    main_async = medians[f"deepinfra_sdk async ({backends[0]})"] if backends else float("nan")
    print(
        f"async stream throughput, {chunks:,} chunks (openai: {oa_chunks:,}) x {rounds} rounds, "
        f"{info['cores']} cores, Python {info['python']}, anyio {info['anyio']}, "
        f"trio {info['trio']}, openai {info['openai']}"
    )
    print()
    print(f"| contender | chunks/s | vs bare loop | vs sync SDK | async SDK ({backends[0]}) is |")
    print("|---|---:|---:|---:|---:|")
    for name, rate in medians.items():
        print(
            f"| {name} | {rate:,.0f} | {rate / bare:.2f}x | {rate / sync:.2f}x "
            f"| {main_async / rate:.2f}x |"
        )
    print()

    # 2. Concurrency.
    slow_body = render_stream(slow_events)
    with ProcessBenchServer(slow_body, delay=slow_delay) as slow:
        conc = concurrency(slow.url, levels, backends, conc_rounds, slow_events + 1)
    leftover, waited = (
        (threading.active_count(), 0.0) if args.quick else settle(baseline_threads, 12.0)
    )
    top = max(levels)
    print(
        f"concurrent streams from one AsyncDeepInfraClient: each {slow_events + 1} chunks "
        f"{slow_delay * 1000:.0f} ms apart (~{slow_events * slow_delay:.1f} s), "
        f"median of {conc_rounds} rounds"
    )
    print()
    print(
        f"| backend | streams | wall s | vs 1 stream | threads before -> peak "
        f"| {top} cold: wall s | cold: threads |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, cell in conc.items():
        by_level = cell["levels"]
        one = by_level[min(by_level)]["median_seconds"]
        for n, level in sorted(by_level.items()):
            cold = " | "
            if n == top and "median_cold" in cell:
                before, peak = max(cell["cold_threads"], key=lambda t: t[1])
                cold = (
                    f"{cell['median_cold']:.3f} ({cell['median_cold'] / one:.2f}x) "
                    f"| {before} -> {peak}"
                )
            before, peak = max(level["threads"], key=lambda t: t[1])
            print(
                f"| {name} | {n} | {level['median_seconds']:.3f} "
                f"| {level['median_seconds'] / one:.2f}x | {before} -> {peak} | {cold} |"
            )
    print()
    print(
        f"threads: {baseline_threads} when the benchmark started, {leftover} at the end"
        + ("" if args.quick else f" (after waiting {waited:.1f} s for idle workers to exit)")
    )
    total = time.perf_counter() - started
    print()
    print(f"total {total:.1f} s")
    if profile is not None:
        print()
        print(profile)

    result: dict[str, object] = {
        "versions": info,
        "chunks": chunks,
        "openai_chunks": oa_chunks,
        "rounds": rounds,
        "rates": rates,
        "medians": medians,
        "concurrency": {
            "slow_events": slow_events,
            "slow_delay": slow_delay,
            "rounds": conc_rounds,
            "results": conc,
            "threads_before": baseline_threads,
            "threads_after_settle": leftover,
        },
        "seconds": total,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
