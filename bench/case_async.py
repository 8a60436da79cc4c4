"""Case 2 (async stream throughput) and case 4 (concurrent async streams).

Both call only the public API (``AsyncDeepInfraClient``), so any change to the facade shows
up here. The measuring code is bench_async.py's, which also runs standalone.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anyio
from _report import (
    CaseResult,
    Context,
    Target,
    median,
    profile_text,
    ratio,
    spread,
    x,
)
from _spy import PySpy
from _sse_server import ProcessBenchServer, render_stream
from bench_async import (
    THREADS,
    _fan_out,
    async_sdk_loop,
    concurrency,
    measure,
    openai_loop,
    settle,
    timed,
)
from bench_stream import bare_loop

from deepinfra_sdk import AsyncDeepInfraClient

BARE = "bare requests (sync iter_lines + json.loads)"
OPENAI = "openai.AsyncOpenAI (asyncio)"


def _backends() -> list[str]:
    try:
        import trio  # noqa: F401
    except ImportError:
        return ["asyncio"]
    return ["asyncio", "trio"]


def sdk_name(backend: str) -> str:
    """The row name of the async SDK on ``backend``."""
    return f"deepinfra_sdk AsyncDeepInfraClient ({backend})"


def profile_stream(aclient: AsyncDeepInfraClient, backend: str, streams: int = 3) -> str:
    """Where async streams on ``backend`` spend their time, on every thread of the process.

    py-spy samples whichever thread holds the GIL (the event loop and the facade's reader
    threads alike) over a few streams; cProfile adds the event-loop thread's call counts.
    """
    run = async_sdk_loop(aclient, backend)
    run()  # warm-up: the backend's imports would crowd the samples
    with PySpy() as spy:
        for _ in range(streams):
            run()
    loop_side = profile_text(run, title=f"the event-loop thread ({backend}), one stream")
    return f"{streams} streams on {backend}\n\n{spy.summary}\n\n{loop_side}"


def run_throughput(ctx: Context) -> CaseResult:
    """Case 2: targets SDK async >= 0.7x the bare loop and >= 10x AsyncOpenAI."""
    chunks, oa_chunks, rounds = (2_000, 500, 1) if ctx.quick else (50_000, 10_000, 5)
    backends = _backends()
    result = CaseResult(
        key="async",
        title="2. Async stream throughput",
        setup=(
            f"One stream of {chunks:,} small chunks (AsyncOpenAI: {oa_chunks:,}, it is ~20x "
            f"slower; rates stay comparable) per contender per round, {rounds} rounds "
            "alternating, median chunks/s, clocked from the request to the last chunk "
            "(event-loop start-up excluded)."
        ),
        columns=["contender", "chunks/s", "rounds spread", "vs bare loop", "SDK (asyncio) is"],
    )
    with (
        ProcessBenchServer(render_stream(chunks)) as server,
        ProcessBenchServer(render_stream(oa_chunks)) as oa_server,
    ):
        aclient = AsyncDeepInfraClient("bench-key", base_url=server.url)
        contenders = {BARE: (timed(bare_loop(server.url)), chunks + 1)}
        for backend in backends:
            contenders[sdk_name(backend)] = (async_sdk_loop(aclient, backend), chunks + 1)
        oa = openai_loop(oa_server.url)
        if oa is not None:
            contenders[OPENAI] = (oa, oa_chunks + 1)
        measure(contenders, 1)  # warm-up
        rates = measure(contenders, rounds)
        medians = {name: median(v) for name, v in rates.items()}
        bare, sdk = medians[BARE], medians[sdk_name("asyncio")]
        for name, rate in medians.items():
            result.rows.append(
                [
                    name,
                    f"{rate:,.0f}",
                    spread(rates[name]),
                    x(ratio(rate, bare)),
                    x(ratio(sdk, rate)),
                ]
            )
        for backend in backends:
            vs = ratio(medians[sdk_name(backend)], bare)
            result.targets.append(
                Target(f"SDK async ({backend}) >= 0.7x the bare loop", x(vs), vs >= 0.7)
            )
        if OPENAI in medians:
            vs = ratio(sdk, medians[OPENAI])
            result.targets.append(Target("SDK async (asyncio) >= 10x AsyncOpenAI", x(vs), vs >= 10))
        else:
            result.targets.append(
                Target("SDK async >= 10x AsyncOpenAI", "openai not installed", None)
            )
        result.raw = {
            "chunks": chunks,
            "openai_chunks": oa_chunks,
            "rounds": rounds,
            "rates": rates,
            "medians": medians,
        }
        if ctx.profile and result.missed_speed():
            slow = min(backends, key=lambda b: medians[sdk_name(b)])
            result.profile = profile_stream(aclient, slow)
    return result


def profile_fan_out(url: str, backend: str, n: int, expected: int) -> str:
    """Where the process's CPU goes while ``n`` streams run at once (py-spy, every thread)."""
    aclient = AsyncDeepInfraClient("bench-key", base_url=url)
    anyio.run(_fan_out, aclient, n, expected, backend=backend)  # warm: connections, workers
    with PySpy() as spy:
        wall, _, _, cpu = anyio.run(_fan_out, aclient, n, expected, backend=backend)
    return f"{n} streams on {backend}: {wall:.3f} s wall, {cpu:.2f} s CPU\n\n{spy.summary}"


def run_concurrency(ctx: Context) -> CaseResult:
    """Case 4: 1, 64, 256 concurrent ~2 s streams; target 256 streams <= 1.2x one stream."""
    if ctx.quick:
        levels, events, delay, rounds = [1, 8], 5, 0.02, 1
    else:
        levels, events, delay, rounds = [1, 64, 256], 40, 0.05, 3
    backends = _backends()
    top = max(levels)
    result = CaseResult(
        key="concurrency",
        title="4. Concurrent async streams",
        setup=(
            f"{', '.join(map(str, levels))} streams at once from one AsyncDeepInfraClient, each "
            f"{events + 1} chunks {delay * 1000:.0f} ms apart (~{events * delay:.1f} s, all in "
            f"lockstep: the worst case), median of {rounds} rounds. Each round opens a fresh "
            f"event loop per backend and runs {top} streams cold first, then every level warm. "
            "Threads: `threading.active_count()` before and at peak (sampled every 2 ms). "
            "CPU s: this process's CPU time during the run (the server is another process); "
            "2 cores make at most 2 CPU s per wall second. The sync client on OS threads is "
            "a reference, not a contender."
        ),
        columns=["client", "streams", "wall s", "vs 1 stream", "threads before -> peak", "CPU s"],
    )
    baseline_threads = threading.active_count()
    with ProcessBenchServer(render_stream(events), delay=delay) as slow:
        conc = concurrency(slow.url, levels, backends, rounds, events + 1)
        missed = [
            b
            for b in backends
            if conc[b]["levels"][top]["median_seconds"]
            > 1.2 * conc[b]["levels"][min(levels)]["median_seconds"]
        ]
        if ctx.profile and missed:
            result.profile = profile_fan_out(slow.url, missed[0], top, events + 1)
    leftover, waited = (
        (threading.active_count(), 0.0) if ctx.quick else settle(baseline_threads, 12.0)
    )
    for name, cell in conc.items():
        label = "sync SDK on OS threads (reference)" if name == THREADS else sdk_name(name)
        by_level = cell["levels"]
        one = by_level[min(by_level)]["median_seconds"]
        for n, level in sorted(by_level.items()):
            before, peak = max(level["threads"], key=lambda t: t[1])
            result.rows.append(
                [
                    label,
                    str(n),
                    f"{level['median_seconds']:.3f}",
                    x(level["median_seconds"] / one),
                    f"{before} -> {peak}",
                    f"{level['median_cpu_seconds']:.2f}",
                ]
            )
        if "median_cold" in cell:
            before, peak = max(cell["cold_threads"], key=lambda t: t[1])
            result.rows.append(
                [
                    label,
                    f"{top} cold",
                    f"{cell['median_cold']:.3f}",
                    x(cell["median_cold"] / one),
                    f"{before} -> {peak}",
                    "",
                ]
            )
        if name != THREADS:
            vs = by_level[top]["median_seconds"] / one
            result.targets.append(
                Target(f"{name}: {top} streams <= 1.2x one stream", x(vs), vs <= 1.2)
            )
    if not ctx.quick:
        result.targets.append(
            Target(
                "no thread left behind (count back to where the case started, 12 s allowed)",
                f"{baseline_threads} -> {leftover} after {waited:.1f} s",
                leftover <= baseline_threads,
                correctness=True,
            )
        )
    raw: dict[str, Any] = {
        "levels": levels,
        "events": events + 1,
        "delay": delay,
        "rounds": rounds,
        "results": conc,
        "threads_before": baseline_threads,
        "threads_after": leftover,
    }
    result.raw = raw
    return result
