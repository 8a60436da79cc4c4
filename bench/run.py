"""The benchmark suite: every case side by side in one process run.

    python -m bench                      # every case, full sizes (a few minutes on 2 cores)
    python -m bench --quick              # tiny sizes, a CI smoke run (no asserts on time)
    python -m bench --only stream,3      # a subset, by name or number
    python -m bench --json out.json      # also write every round of every contender
    python -m bench --no-profile         # skip profiling the cases that miss a target
    python bench/run.py ...              # the same, without -m

Each case alternates its contenders over several rounds and reports medians, the ratio to
its baseline, and its targets (met / MISSED); a case that misses a speed target is then
profiled (cProfile of the SDK side; py-spy of the whole process for concurrent streams).
Timing targets never fail the run; a case that raises, or a correctness check that fails
(the sync import loading anyio, concurrent model lists making more than one request, a
leaked thread), makes it exit with status 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

HERE = Path(__file__).resolve().parent
# The bench modules import one another as top-level modules (each also runs as a script),
# and the SDK comes from this checkout even where it is not installed.
for _path in (str(HERE.parent), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from _report import CaseResult, Context, Target, machine_info, render_machine  # noqa: E402


class Case(NamedTuple):
    key: str
    number: str
    module: str
    function: str
    what: str


CASES = [
    Case("stream", "1", "case_stream", "run", "sync stream throughput vs bare requests, openai"),
    Case("async", "2", "case_async", "run_throughput", "async stream throughput (asyncio, trio)"),
    Case("latency", "3", "case_latency", "run", "event latency in three framings"),
    Case("concurrency", "4", "case_async", "run_concurrency", "1/64/256 concurrent async streams"),
    Case("requests", "5", "case_requests", "run", "non-stream request overhead"),
    Case("images", "6", "case_images", "run", "4 MB PNG data URI: decode, save, peak memory"),
    Case("import", "7", "case_import", "run", "import time; the sync import leaves anyio out"),
    Case("models", "8", "case_models", "run", "32 threads, one model-list request"),
    Case("fanout", "9", "case_fanout", "run", "200/1,000 concurrent paced async streams"),
    Case("bulk", "10", "case_bulk", "run", "Batch API runner: 10k vs 100k requests, memory"),
    Case("sse", "", "case_micro", "run_sse", "extra: SSE decoder micro-benchmark"),
    Case("types", "", "case_micro", "run_types", "extra: chunk decoding micro-benchmark"),
]


def select(only: Optional[str]) -> list[Case]:
    """The cases ``--only`` names (by key or number), in suite order; all without it."""
    if not only:
        return list(CASES)
    wanted = {w.strip() for w in only.split(",") if w.strip()}
    known = {c.key for c in CASES} | {c.number for c in CASES if c.number}
    unknown = sorted(wanted - known)
    if unknown:
        raise SystemExit(
            f"--only: unknown case(s) {', '.join(unknown)}; choose from "
            + ", ".join(f"{c.key}" + (f" ({c.number})" if c.number else "") for c in CASES)
        )
    return [c for c in CASES if c.key in wanted or c.number in wanted]


def run_case(case: Case, ctx: Context) -> tuple[Optional[CaseResult], Optional[str]]:
    """(result, None), or (None, the traceback) when the case raised."""
    started = time.perf_counter()
    try:
        fn: Callable[[Context], CaseResult] = getattr(
            importlib.import_module(case.module), case.function
        )
        result = fn(ctx)
    except (Exception, SystemExit):  # SystemExit: the standalone scripts' count checks
        return None, traceback.format_exc()
    result.seconds = time.perf_counter() - started
    return result, None


def summary(results: list[CaseResult], errors: dict[str, str]) -> str:
    """Every target of the run in one table, and the cases that raised."""
    out = ["### Summary", "", "| case | target | measured | verdict |", "|---|---|---:|---|"]
    for r in results:
        for t in r.targets:
            out.append(f"| {r.title} | {t.what} | {t.measured} | {_bold(t)} |")
    for key, _ in errors.items():
        out.append(f"| {key} | the case ran | raised an error | FAILED |")
    return "\n".join(out) + "\n"


def _bold(t: Target) -> str:
    return f"**{t.verdict}**" if t.met is False else t.verdict


def main(argv: Optional[list[str]] = None, prog: str = "python bench/run.py") -> int:
    """Run the selected cases, print the tables, return the exit status."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="deepinfra_sdk benchmarks: every case side by side, medians and ratios.",
        epilog="cases: "
        + "; ".join(
            f"{c.key}" + (f" ({c.number})" if c.number else "") + f": {c.what}" for c in CASES
        ),
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a CI smoke run")
    parser.add_argument(
        "--only", metavar="CASE[,CASE]", help="run only these cases (names or numbers)"
    )
    parser.add_argument(
        "--json", metavar="PATH", help="also write the raw numbers (every round) here"
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="profile the SDK side of any case that misses a speed target (cProfile; py-spy "
        "for the concurrency case); on by default except with --quick",
    )
    args = parser.parse_args(argv)
    cases = select(args.only)
    profile = not args.quick if args.profile is None else args.profile
    ctx = Context(quick=args.quick, profile=profile)
    info = machine_info()
    command = " ".join([prog, *(argv if argv is not None else sys.argv[1:])])
    started = time.perf_counter()
    print(
        f"# deepinfra_sdk benchmarks{' (quick: tiny sizes, numbers mean nothing)' if args.quick else ''}"
    )
    print()
    print(f"Command: `{command}`, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.")
    print(render_machine(info))
    print(flush=True)
    results: list[CaseResult] = []
    errors: dict[str, str] = {}
    for case in cases:
        result, error = run_case(case, ctx)
        if result is None:
            assert error is not None
            errors[case.key] = error
            print(
                f"### {case.key}: FAILED with an error\n\n```\n{error.rstrip()}\n```\n", flush=True
            )
            continue
        results.append(result)
        print(result.render(), flush=True)
    print(summary(results, errors))
    total = time.perf_counter() - started
    failed = [t.what for r in results for t in r.targets if t.correctness and t.met is False]
    print(f"total {total:.1f} s")
    if args.json:
        doc: dict[str, Any] = {
            "command": command,
            "quick": args.quick,
            "machine": info,
            "seconds": total,
            "cases": {r.key: r.to_json() for r in results},
            "errors": errors,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2, default=str))
        print(f"raw numbers written to {args.json}")
    if errors or failed:
        why = [f"case {k} raised" for k in errors] + [
            f"correctness check failed: {w}" for w in failed
        ]
        print("FAILED: " + "; ".join(why), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
