"""Case 8, the model list cache: 32 threads call ``client.models.list()`` at once.

Each round builds a fresh ``DeepInfraClient`` (an empty cache) against the emulator, starts
32 threads that wait at a barrier and then all call ``models.list()``; exactly one
``GET /models/featured`` may reach the server (correctness: anything else makes the run
exit non-zero). The wall time runs from the barrier's release to the last answer.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import CaseResult, Context, Target, median

from deepinfra_sdk import DeepInfraClient
from deepinfra_sdk.emulator import Emulator

THREADS = 32
ROUTE = "/models/featured"


def one_round(emu: Emulator) -> tuple[int, float, int]:
    """(requests the server saw, wall seconds, models each thread got)."""
    emu.reset()
    client = DeepInfraClient(emu.api_key, base_url=emu.url)
    barrier = threading.Barrier(THREADS + 1)
    sizes: list[int] = []
    errors: list[BaseException] = []

    def call() -> None:
        barrier.wait()
        try:
            sizes.append(len(client.models.list()))
        except BaseException as exc:  # reported below, with the count
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(THREADS)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    client.close()
    if errors:
        raise RuntimeError(f"{len(errors)} of {THREADS} calls failed: {errors[0]!r}")
    if len(set(sizes)) != 1 or not sizes[0]:
        raise RuntimeError(f"the threads got different or empty lists: sizes {sorted(set(sizes))}")
    return emu.request_count(ROUTE), elapsed, sizes[0]


def run(ctx: Context) -> CaseResult:
    """Correctness target: one request per round."""
    rounds = 2 if ctx.quick else 10
    result = CaseResult(
        key="models",
        title="8. Model list cache",
        setup=(
            f"{THREADS} threads released by one barrier call `client.models.list()` on a fresh "
            f"client (empty cache) against the emulator; {rounds} rounds; median wall time "
            "from the barrier to the last answer."
        ),
        columns=["rounds", f"requests per round ({THREADS} calls)", "wall ms (median)", "models"],
    )
    with Emulator() as emu:
        counts, seconds, models = [], [], 0
        for _ in range(rounds):
            count, elapsed, models = one_round(emu)
            counts.append(count)
            seconds.append(elapsed)
        if emu.handler_errors:
            raise RuntimeError(f"the emulator hit an internal error: {emu.handler_errors[0]}")
    shown = ", ".join(sorted({str(c) for c in counts}))
    result.rows.append([str(rounds), shown, f"{median(seconds) * 1000:.1f}", str(models)])
    result.targets.append(
        Target(
            f"{THREADS} concurrent models.list() make exactly one request",
            f"{shown} per round",
            all(c == 1 for c in counts),
            correctness=True,
        )
    )
    result.raw = {"rounds": rounds, "requests": counts, "seconds": seconds}
    return result
