"""Case 1, sync stream throughput: bare requests loop vs ChatStream vs openai.OpenAI.

One stream of 50,000 small chunks from a pre-rendered loopback SSE server in a child
process; every round runs each contender once, alternating the order (bench_stream.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import CaseResult, Context, Target, median, profile_text, ratio, spread, x
from _sse_server import ProcessBenchServer, render_stream
from bench_stream import bare_loop, measure, openai_loop, sdk_loop

BARE, SDK, OPENAI = (
    "bare requests (iter_lines + json.loads)",
    "deepinfra_sdk ChatStream",
    "openai.OpenAI",
)


def run(ctx: Context) -> CaseResult:
    """Measure, then return the table and the targets (SDK >= 0.9x bare, >= 12x openai)."""
    chunks, rounds = (500, 2) if ctx.quick else (50_000, 5)
    result = CaseResult(
        key="stream",
        title="1. Sync stream throughput",
        setup=(
            f"One stream of {chunks:,} small chunks per contender per round, {rounds} rounds "
            "alternating the order, median chunks/s (server: pre-rendered SSE, child process)."
        ),
        columns=["contender", "chunks/s", "rounds spread", "vs bare loop", "SDK is"],
    )
    with ProcessBenchServer(render_stream(chunks)) as server:
        contenders = {BARE: bare_loop(server.url), SDK: sdk_loop(server.url)}
        oa = openai_loop(server.url)
        if oa is not None:
            contenders[OPENAI] = oa
        measure(contenders, 1, chunks + 1)  # warm-up: connections, imports, caches
        rates = measure(contenders, rounds, chunks + 1)
        medians = {name: median(v) for name, v in rates.items()}
        bare, sdk = medians[BARE], medians[SDK]
        for name, rate in medians.items():
            faster = "" if name == SDK else f"{x(ratio(sdk, rate))} faster"
            result.rows.append(
                [name, f"{rate:,.0f}", spread(rates[name]), x(ratio(rate, bare)), faster]
            )
        result.targets.append(
            Target("SDK >= 0.9x the bare loop", x(ratio(sdk, bare)), sdk / bare >= 0.9)
        )
        if OPENAI in medians:
            vs = ratio(sdk, medians[OPENAI])
            result.targets.append(Target("SDK >= 12x openai.OpenAI", x(vs), vs >= 12))
        else:
            result.targets.append(Target("SDK >= 12x openai.OpenAI", "openai not installed", None))
        result.raw = {"chunks": chunks, "rounds": rounds, "rates": rates, "medians": medians}
        if ctx.profile and result.missed_speed():
            result.profile = profile_text(contenders[SDK], title=f"one {chunks:,}-chunk stream")
    return result
