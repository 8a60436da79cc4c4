"""Case 9: 200 and 1,000 concurrent async streams, 40 events 25 ms apart, same server.

Contenders, each against the same one-thread server in a child process (``_fanout_server``):
the SDK's async facade on asyncio and on trio, the sync SDK on OS threads (a thread per
stream), ``openai.AsyncOpenAI`` (if installed), and a bare asyncio socket loop (parse the
chunked body, ``json.loads`` each event: the floor). Each round runs every contender at
every level, alternating the order. Per contender and level: wall time (the first request
to the last event), this process's CPU per event (the server is another process), and the
lag of every event (its arrival minus the time the server scheduled it, on the same clock)
at p50 and p99.

Targets: every SDK (asyncio) round at 1,000 streams within 1.3x of their median (no
pathological round), and its CPU per event at 1,000 streams at most 0.6x AsyncOpenAI's.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anyio
from _fanout_server import FanOutServer
from _report import CaseResult, Context, Target, median, percentile, x
from bench_stream import MESSAGES, MODEL

from deepinfra_sdk import AsyncDeepInfraClient, DeepInfraClient

CHAT = "/v1/openai/chat/completions"
ASYNCIO = "deepinfra_sdk AsyncDeepInfraClient (asyncio)"
TRIO = "deepinfra_sdk AsyncDeepInfraClient (trio)"
THREADS = "deepinfra_sdk DeepInfraClient on OS threads"
OPENAI = "openai.AsyncOpenAI (asyncio)"
BARE = "bare asyncio socket loop (floor)"

# One fan-out: (wall seconds, CPU seconds, lags of every event in seconds).
Measured = tuple[float, float, list[float]]


def _lag(content: Any, lags: list[float]) -> None:
    if content:
        lags.append(time.time() - float(content))


# -- the contenders -------------------------------------------------------------------------


async def _sdk_fan_out(aclient: AsyncDeepInfraClient, n: int, events: int) -> list[float]:
    lags: list[float] = []
    counts: list[int] = []

    async def one() -> None:
        count = 0
        stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with stream:
            async for chunk in stream:
                count += 1
                if chunk.choices:
                    _lag(chunk.choices[0].delta.content, lags)
        counts.append(count)

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(one)
    _check(counts, n, events + 1)
    return lags


def _sdk(backend: str, url: str, n: int) -> Callable[[int], list[float]]:
    aclient = AsyncDeepInfraClient("bench-key", base_url=url)

    def run(events: int) -> list[float]:
        return anyio.run(_sdk_fan_out, aclient, n, events, backend=backend)

    return run


def _threads(url: str, n: int) -> Callable[[int], list[float]]:
    client = DeepInfraClient("bench-key", base_url=url, pool_maxsize=n)

    def run(events: int) -> list[float]:
        lags: list[float] = []
        counts: list[int] = []

        def one() -> None:
            count = 0
            with client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True
            ) as stream:
                for chunk in stream:
                    count += 1
                    if chunk.choices:
                        _lag(chunk.choices[0].delta.content, lags)
            counts.append(count)

        threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _check(counts, n, events + 1)
        return lags

    return run


def _openai(url: str, n: int) -> Callable[[int], list[float]] | None:
    try:
        import openai
    except ImportError:
        return None
    # openai speaks httpx, or httpx2 in its newer releases: its limits class either way.
    http_client: Any = getattr(openai, "DefaultAsyncHttpx2Client", None)
    limits_module = "httpx2" if http_client is not None else "httpx"
    http_client = http_client or openai.DefaultAsyncHttpxClient
    limits_class = importlib.import_module(limits_module).Limits

    async def fan_out(events: int) -> list[float]:
        lags: list[float] = []
        counts: list[int] = []
        # Every connection kept, as the SDK keeps them: no contender reconnects per round.
        limits = limits_class(max_connections=n, max_keepalive_connections=n)
        async with openai.AsyncOpenAI(
            api_key="bench-key",
            base_url=url + "/v1/openai",
            max_retries=0,
            http_client=http_client(limits=limits),
        ) as client:

            async def one() -> None:
                count = 0
                stream = await client.chat.completions.create(  # type: ignore[call-overload]
                    model=MODEL, messages=MESSAGES, stream=True
                )
                async for chunk in stream:
                    count += 1
                    if chunk.choices:
                        _lag(chunk.choices[0].delta.content, lags)
                counts.append(count)

            await asyncio.gather(*(one() for _ in range(n)))
        _check(counts, n, events + 1)
        return lags

    def run(events: int) -> list[float]:
        return asyncio.run(fan_out(events))

    return run


def _bare(url: str, n: int) -> Callable[[int], list[float]]:
    host, port = url.split("//", 1)[1].split(":")
    body = json.dumps({"model": MODEL, "messages": MESSAGES, "stream": True}).encode()
    request = (
        f"POST {CHAT} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Accept: text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    async def one(lags: list[float], counts: list[int]) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        await reader.readuntil(b"\r\n\r\n")
        count = 0
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                break
            data = await reader.readexactly(size + 2)
            for frame in data[:-2].split(b"\n\n"):
                if not frame.startswith(b"data: ") or frame == b"data: [DONE]":
                    continue
                obj = json.loads(frame[6:])
                count += 1
                if obj["choices"]:
                    _lag(obj["choices"][0]["delta"].get("content"), lags)
        await reader.readline()
        writer.close()
        counts.append(count)

    async def fan_out(events: int) -> list[float]:
        lags: list[float] = []
        counts: list[int] = []
        await asyncio.gather(*(one(lags, counts) for _ in range(n)))
        _check(counts, n, events + 1)
        return lags

    def run(events: int) -> list[float]:
        return asyncio.run(fan_out(events))

    return run


def _check(counts: list[int], n: int, expected: int) -> None:
    if len(counts) != n or any(c != expected for c in counts):
        raise SystemExit(f"{n} streams: counts {sorted(set(counts))}, expected {expected} each")


def _measure(run: Callable[[int], list[float]], events: int) -> Measured:
    started, cpu = time.perf_counter(), time.process_time()
    lags = run(events)
    return time.perf_counter() - started, time.process_time() - cpu, lags


# -- the case -------------------------------------------------------------------------------


def run(ctx: Context) -> CaseResult:
    """Case 9: many concurrent paced streams; rounds, CPU per event and event lag."""
    if ctx.quick:
        levels, events, delay, rounds = [20, 50], 5, 0.025, 2
    else:
        levels, events, delay, rounds = [200, 1000], 40, 0.025, 5
    top = max(levels)
    result = CaseResult(
        key="fanout",
        title="9. Many concurrent async streams",
        setup=(
            f"{' and '.join(f'{n:,}' for n in levels)} streams at once, each {events} content "
            f"events {delay * 1000:.0f} ms apart plus a finish event ({events * delay:.1f} s "
            f"of pacing), from one server (one thread, a child process) for every "
            f"contender; {rounds} rounds alternating the order. Wall: the first request "
            "to the last event. CPU/event: this process's CPU time over the events received "
            "(the server's excluded). Lag: each event's arrival minus the time the server "
            "scheduled it (same clock). Each contender warms up once at the lowest level."
        ),
        columns=[
            "contender",
            "streams",
            "wall s (median)",
            "wall s per round",
            "CPU us/event",
            "lag p50 ms",
            "lag p99 ms",
        ],
    )
    raw: dict[str, Any] = {"levels": levels, "events": events, "delay": delay, "rounds": rounds}
    with FanOutServer(events, delay) as server:
        makers: dict[str, Callable[[int], Callable[[int], list[float]] | None]] = {
            ASYNCIO: lambda n: _sdk("asyncio", server.url, n),
            TRIO: lambda n: _sdk("trio", server.url, n),
            THREADS: lambda n: _threads(server.url, n),
            OPENAI: lambda n: _openai(server.url, n),
            BARE: lambda n: _bare(server.url, n),
        }
        runs: dict[tuple[str, int], Callable[[int], list[float]]] = {}
        for name, make in makers.items():
            for n in levels:
                made = make(n)
                if made is not None:
                    runs[name, n] = made
            if (name, min(levels)) in runs:
                runs[name, min(levels)](events)  # warm-up: imports, connections
        measured: dict[tuple[str, int], list[Measured]] = {key: [] for key in runs}
        keys = list(runs)
        for r in range(rounds):
            for key in keys if r % 2 == 0 else keys[::-1]:
                measured[key].append(_measure(runs[key], events))
    per_event: dict[tuple[str, int], float] = {}
    for (name, n), rounds_of in measured.items():
        walls = [m[0] for m in rounds_of]
        cpus = [m[1] / (n * (events + 1)) for m in rounds_of]
        lags = [lag for m in rounds_of for lag in m[2]]
        per_event[name, n] = median(cpus)
        result.rows.append(
            [
                name,
                f"{n:,}",
                f"{median(walls):.2f}",
                " ".join(f"{w:.2f}" for w in walls),
                f"{median(cpus) * 1e6:.0f}",
                f"{percentile(lags, 50) * 1e3:.1f}",
                f"{percentile(lags, 99) * 1e3:.1f}",
            ]
        )
        raw[f"{name} @ {n}"] = {
            "walls": walls,
            "cpu_seconds": [m[1] for m in rounds_of],
            "lag_p50": percentile(lags, 50),
            "lag_p99": percentile(lags, 99),
        }
    walls = [m[0] for m in measured[ASYNCIO, top]]
    mid = statistics.median(walls)
    worst = max(walls) / mid
    result.targets.append(
        Target(
            f"SDK (asyncio): every round at {top:,} streams within 1.3x of their median",
            f"worst {x(worst)} ({' '.join(f'{w:.2f}' for w in walls)} s)",
            worst <= 1.3,
        )
    )
    if (OPENAI, top) in per_event:
        vs = per_event[ASYNCIO, top] / per_event[OPENAI, top]
        result.targets.append(
            Target(
                f"SDK (asyncio) CPU per event at {top:,} streams <= 0.6x AsyncOpenAI's",
                f"{x(vs)} ({per_event[ASYNCIO, top] * 1e6:.0f} vs "
                f"{per_event[OPENAI, top] * 1e6:.0f} us)",
                vs <= 0.6,
            )
        )
    else:
        result.targets.append(Target("CPU per event vs AsyncOpenAI", "openai not installed", None))
    result.raw = raw
    return result
