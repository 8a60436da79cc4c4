"""Case 7, import time: ``import deepinfra_sdk`` against ``from openai import OpenAI``.

Each statement runs in fresh interpreters (``python -X importtime -c STATEMENT``), the two
alternating, ten each; the measure is the sum of the ``cumulative`` column over the
top-level modules the statement imported (everything the interpreter's own start-up had
not already loaded). The wall time of the whole process is shown as well.

Correctness, not timing: ``import deepinfra_sdk`` and ``from deepinfra_sdk import
DeepInfraClient`` must not load ``anyio`` (only the async facade may); a failure makes the
run exit non-zero.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import REPO, CaseResult, Context, Target, median, ratio, x

SDK = "import deepinfra_sdk"
OPENAI = "from openai import OpenAI"


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], check=False, capture_output=True, text=True, cwd=REPO, timeout=120
    )


def _top_level(stderr: str) -> dict[str, int]:
    """Top-level module -> cumulative µs, from ``-X importtime`` output."""
    found = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if name.startswith(" ") and not name.startswith("  "):  # depth 0: exactly one space
            try:
                found[name.strip()] = int(cumulative)
            except ValueError:  # the header line
                continue
    return found


def import_us(statement: str, startup: set[str]) -> tuple[int, float]:
    """(µs the statement's imports took, wall seconds of the whole process)."""
    started = time.perf_counter()
    proc = _python("-X", "importtime", "-c", statement)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{statement!r} failed: {proc.stderr.strip()[-500:]}")
    mods = _top_level(proc.stderr)
    return sum(us for name, us in mods.items() if name not in startup), wall


def loaded(statement: str, modules: list[str]) -> dict[str, bool]:
    """Whether each of ``modules`` is in ``sys.modules`` after ``statement``, fresh process."""
    check = (
        f"{statement}\nimport sys\nprint(' '.join(str(int(m in sys.modules)) for m in {modules!r}))"
    )
    proc = _python("-c", check)
    if proc.returncode != 0:
        raise RuntimeError(f"{statement!r} failed: {proc.stderr.strip()[-500:]}")
    return dict(zip(modules, (flag == "1" for flag in proc.stdout.split())))


def run(ctx: Context) -> CaseResult:
    """Target: the SDK's import <= 0.4x openai's; anyio not loaded by the sync import."""
    runs = 2 if ctx.quick else 10
    startup = set(_top_level(_python("-X", "importtime", "-c", "pass").stderr))
    try:
        import openai  # noqa: F401

        statements = [SDK, OPENAI]
    except ImportError:
        statements = [SDK]
    result = CaseResult(
        key="import",
        title="7. Import time",
        setup=(
            f"`python -X importtime -c STATEMENT`, {runs} fresh processes per statement, "
            "alternating; median of the summed `cumulative` µs of the modules the statement "
            "imported, and median wall time of the whole process (interpreter start-up included)."
        ),
        columns=["statement", "import ms", "vs openai", "process wall ms"],
    )
    us: dict[str, list[int]] = {s: [] for s in statements}
    wall: dict[str, list[float]] = {s: [] for s in statements}
    for r in range(runs):
        for statement in statements if r % 2 == 0 else statements[::-1]:
            took, seconds = import_us(statement, startup)
            us[statement].append(took)
            wall[statement].append(seconds)
    med = {s: median([float(v) for v in us[s]]) for s in statements}
    for s in statements:
        vs = x(ratio(med[s], med[OPENAI])) if OPENAI in med else ""
        result.rows.append([f"`{s}`", f"{med[s] / 1000:.1f}", vs, f"{median(wall[s]) * 1000:.0f}"])
    if OPENAI in med:
        vs = ratio(med[SDK], med[OPENAI])
        result.targets.append(
            Target("`import deepinfra_sdk` <= 0.4x `from openai import OpenAI`", x(vs), vs <= 0.4)
        )
    else:
        result.targets.append(Target("import <= 0.4x openai's", "openai not installed", None))
    watched = ["anyio", "requests", "urllib3", "dataclasses_json"]
    after: dict[str, dict[str, bool]] = {}
    for statement in (SDK, "from deepinfra_sdk import DeepInfraClient"):
        after[statement] = flags = loaded(statement, watched)
        result.targets.append(
            Target(
                f"`{statement}` leaves anyio unloaded",
                "anyio not loaded" if not flags["anyio"] else "anyio LOADED",
                not flags["anyio"],
                correctness=True,
            )
        )
    lazy = [m for m in watched if not after[SDK][m]]
    result.notes.append(
        f"modules `{SDK}` leaves unloaded (imported on first use): " + (", ".join(lazy) or "none")
    )
    result.raw = {"runs": runs, "import_us": us, "process_seconds": wall, "loaded_after": after}
    return result
