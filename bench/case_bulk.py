"""Case 10, bulk: requests through the Batch API runner, memory against the run's size.

``client.batches.run(requests, state=...)`` for a small and a large run (10,000 and 100,000
chat requests; 200 and 2,000 with ``--quick``, where the per-file line limit is lowered so
the run still splits into several batches). Each run happens in a fresh child process, so
its peak resident memory (``ru_maxrss``) is the runner's own; the emulator runs in another
child, so its files and answers are not counted. The child times the steps: write the
JSONL and the on-disk index, upload and create, wait for the batches (the emulator answers
every line when the batch completes), download the result files and index them, and read
the results back in input order. The target: the large run's peak memory is no more than
the small run's plus a quarter (what grows with the run is on disk, not in memory).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import CaseResult, Context, Target, x
from _sse_server import ChildServer

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
STEPS = ("write", "upload + create", "wait", "download + index", "read results")


def _serve(pipe: Any) -> None:
    """The emulator, in a child process, until terminated."""
    from deepinfra_sdk.emulator import Emulator

    emu = Emulator(answer_tokens=8).start()
    pipe.send(emu.port)
    while True:
        time.sleep(3600)


def _requests(n: int) -> Any:
    for i in range(n):
        yield {"model": MODEL, "messages": [{"role": "user", "content": f"Label item {i}."}]}


def child(url: str, n: int, max_lines: int, state: str) -> dict[str, Any]:
    """One run, step by step (what ``batches.run`` does), timed; in a fresh process."""
    from deepinfra_sdk import DeepInfraClient
    from deepinfra_sdk import _constants as C
    from deepinfra_sdk._bulk import BulkRun

    C.BATCH_MAX_LINES = max_lines
    times: dict[str, float] = {}
    with DeepInfraClient("bench-key", base_url=url) as client:
        run = BulkRun(client, state, poll_interval=0.2, progress=False)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            started = time.perf_counter()
            index = run._write(_requests(n), workdir)
            times["write"] = time.perf_counter() - started
            started = time.perf_counter()
            run._submit(workdir)
            times["upload + create"] = time.perf_counter() - started
            started = time.perf_counter()
            batches = run._wait(lambda _batch: None)  # collected below, timed apart
            times["wait"] = time.perf_counter() - started
            started = time.perf_counter()
            for batch in batches:
                run._collect(batch, index, workdir)
            times["download + index"] = time.perf_counter() - started
            started = time.perf_counter()
            ok = 0
            for position, item in enumerate(
                run._items(index, lambda chunk: RuntimeError(f"batch {chunk}: no result"))
            ):
                if item.index != position:
                    raise RuntimeError(f"result {position} came back as {item.index}")
                ok += item.ok
            times["read results"] = time.perf_counter() - started
            index.close()
    return {
        "times": times,
        "ok": ok,
        "batches": len(batches),
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "state_bytes": os.path.getsize(state),
    }


def _measure(url: str, n: int, max_lines: int, tmp: Path) -> dict[str, Any]:
    state = tmp / f"state-{n}.json"
    code = (
        "import json, sys; sys.path[:0] = sys.argv[1:3]; import case_bulk; "
        "print(json.dumps(case_bulk.child(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), "
        "sys.argv[6])))"
    )
    here = Path(__file__).resolve().parent
    args = [str(here.parent), str(here), url, str(n), str(max_lines), str(state)]
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(ctx: Context) -> CaseResult:
    """Target: the large run's peak memory <= 1.25x the small run's; every result back."""
    import tempfile

    small, large, max_lines = (200, 2000, 500) if ctx.quick else (10_000, 100_000, 50_000)
    result = CaseResult(
        key="bulk",
        title="10. Bulk: the Batch API runner",
        setup=(
            f"{small:,} and {large:,} chat requests through `client.batches.run` against the "
            f"emulator (in its own process), at most {max_lines:,} lines per batch; each run "
            "in a fresh child process: seconds per step and its peak RSS (no tracemalloc: it would "
            "slow the steps it measures)."
        ),
        columns=["requests", "batches", *STEPS, "total s", "peak RSS MiB"],
    )
    measured: dict[int, dict[str, Any]] = {}
    with ChildServer(_serve) as server, tempfile.TemporaryDirectory() as tmp:
        for n in (small, large):
            m = measured[n] = _measure(server.url, n, max_lines, Path(tmp))
            times = m["times"]
            result.rows.append(
                [
                    f"{n:,}",
                    str(m["batches"]),
                    *(f"{times[s]:.2f}" for s in STEPS),
                    f"{sum(times.values()):.1f}",
                    f"{m['peak_rss'] / 2**20:.1f}",
                ]
            )
    growth = measured[large]["peak_rss"] / measured[small]["peak_rss"]
    result.targets += [
        Target(f"peak memory at {large:,} <= 1.25x at {small:,}", x(growth), growth <= 1.25),
        Target(
            "every request's result came back, in input order",
            f"{measured[large]['ok']:,} of {large:,}",
            measured[large]["ok"] == large and measured[small]["ok"] == small,
            correctness=True,
        ),
    ]
    result.notes.append(
        f"state file: {measured[large]['state_bytes']:,} bytes for {large:,} requests."
    )
    result.raw = {"measured": measured}
    return result
