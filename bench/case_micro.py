"""Extra cases: the micro-benchmarks of bench_sse.py (SSE decoder) and bench_types.py
(chunk decoding), folded into the suite. They have no targets of their own; they explain
where a stream's time goes."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import CaseResult, Context, x
from bench_sse import run_cases
from bench_types import measure


def run_sse(ctx: Context) -> CaseResult:
    """SSE decoder events/s in several chunkings, against a bare line split."""
    cases, rounds, lf = run_cases(ctx.quick)
    frame = sum(map(len, lf)) // len(lf)
    result = CaseResult(
        key="sse",
        title="Extra: SSE decoder (bench_sse.py)",
        setup=(
            f"`deepinfra_sdk._sse.SSEDecoder` on frames of ~{frame} bytes, median of {rounds} "
            "interleaved rounds; the baseline only splits on LF and matches `data: `."
        ),
        columns=["case", "events/s", "µs/event", "time vs baseline"],
    )
    base = cases[-1].per_event_us()
    for case in cases:
        us = case.per_event_us()
        result.rows.append([case.name, f"{1e6 / us:,.0f}", f"{us:.3f}", x(us / base)])
    result.raw = {
        "rounds": rounds,
        "seconds": {case.name: case.times for case in cases},
        "events": {case.name: case.events for case in cases},
    }
    return result


def run_types(ctx: Context) -> CaseResult:
    """µs per chunk: json.loads, from_wire and dataclasses-json's from_dict."""
    found = measure(ctx.quick)
    result = CaseResult(
        key="types",
        title="Extra: chunk decoding (bench_types.py)",
        setup="µs per chunk, best of several repeats (background noise inflates nothing).",
        columns=[
            "chunk",
            "json.loads",
            "from_wire",
            "loads + from_wire",
            "from_dict",
            "from_dict / from_wire",
        ],
    )
    for name, (loads, wire, both, slow) in found.items():
        result.rows.append(
            [
                name,
                f"{loads:.2f}",
                f"{wire:.2f}",
                f"{both:.2f}",
                f"{slow:.1f}",
                f"{slow / wire:.0f}x",
            ]
        )
    result.raw = {"us": found}
    return result
