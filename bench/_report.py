"""What a benchmark case returns, how the suite prints it, and the machine it ran on.

Every case hands back a :class:`CaseResult`: a Markdown table (so the output pastes into
BENCHMARKS.md as it is), the targets it checks (met / MISSED / a failed correctness check),
the raw numbers of every round for ``--json``, and optionally a profile of the SDK's side.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import platform
import pstats
import re
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Context:
    """How the suite was asked to run."""

    quick: bool = False
    #: profile the SDK side of every case that misses a speed target
    profile: bool = False


@dataclass
class Target:
    """One promise a case checks.

    ``met`` is None when the comparison could not be made (a contender not installed).
    A failed ``correctness`` target (not a timing) makes the whole run exit non-zero.
    """

    what: str
    measured: str
    met: Optional[bool]
    correctness: bool = False

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "not measured"
        if self.met:
            return "met" if not self.correctness else "yes"
        return "MISSED" if not self.correctness else "FAILED"


@dataclass
class CaseResult:
    """A case's table, targets and raw numbers."""

    key: str
    title: str
    setup: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    profile: Optional[str] = None
    seconds: float = 0.0

    def missed_speed(self) -> bool:
        """Whether a timing target (not a correctness check) was missed."""
        return any(t.met is False and not t.correctness for t in self.targets)

    def render(self) -> str:
        """The case as Markdown: heading, setup, table, targets, notes, profile."""
        out = [f"### {self.title}", "", self.setup, ""]
        out.append("| " + " | ".join(self.columns) + " |")
        out.append(
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|"
        )
        out.extend("| " + " | ".join(row) + " |" for row in self.rows)
        out.append("")
        for t in self.targets:
            out.append(f"- target: {t.what}: **{t.measured}**, {t.verdict}")
        out.extend(f"- {note}" for note in self.notes)
        if self.profile:
            out += ["", "Where the SDK's time goes (a target was missed):", ""]
            out += ["```", self.profile.rstrip(), "```"]
        out.append("")
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        """Everything the case measured, for ``--json``."""
        return {
            "title": self.title,
            "setup": self.setup,
            "columns": self.columns,
            "rows": self.rows,
            "targets": [
                {
                    "what": t.what,
                    "measured": t.measured,
                    "met": t.met,
                    "correctness": t.correctness,
                }
                for t in self.targets
            ],
            "notes": self.notes,
            "raw": self.raw,
            "profile": self.profile,
            "seconds": self.seconds,
        }


# -- numbers ----------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    """The median, NaN for no values."""
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (``q`` in 0..100): always a value that occurred."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats
    return ordered[int(rank) - 1]


def spread(values: list[float]) -> str:
    """Half the range of the rounds as a share of their median (``±12%``): how far to trust it."""
    if len(values) < 2:
        return ""
    mid = statistics.median(values)
    return f"±{(max(values) - min(values)) / 2 / mid * 100:.0f}%" if mid else ""


def ratio(a: float, b: float) -> float:
    """``a / b``, NaN when ``b`` is zero."""
    return a / b if b else float("nan")


def x(value: float) -> str:
    """A ratio as ``1.23x``."""
    return f"{value:.2f}x"


# -- profiling --------------------------------------------------------------------------------

_SITE = re.compile(r"\S*/(?:site|dist)-packages/")
_STDLIB = re.compile(r"\S*/lib/python3\.\d+/")


def profile_text(fn: Callable[[], object], top: int = 15, title: str = "") -> str:
    """Run ``fn`` once under cProfile; the ``top`` functions by own time, paths shortened."""
    prof = cProfile.Profile()
    prof.enable()
    try:
        fn()
    finally:
        prof.disable()
    return format_stats(prof, top, title)


def format_stats(prof: cProfile.Profile, top: int = 15, title: str = "") -> str:
    """pstats output of ``prof`` (by own time), without the header and long path prefixes."""
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    # Keep from the summary line ("N function calls ... in S seconds") and the table.
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    keep = [
        ln for ln in lines if "function calls" in ln or re.match(r"\s*\d", ln) or "ncalls" in ln
    ]
    head = "cProfile, functions by own time" + (f": {title}" if title else "")
    return head + "\n" + shorten_paths("\n".join(keep))


def shorten_paths(text: str) -> str:
    """Profile text without the checkout's, the interpreter's and site-packages' prefixes."""
    text = text.replace(str(REPO) + "/", "")
    text = _SITE.sub("", text)
    return _STDLIB.sub("", text)


# -- machine --------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            check=False,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "--no-optional-locks",
                "-C",
                str(REPO),
                "status",
                "--porcelain",
                "--untracked-files=no",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev + (" (with uncommitted changes)" if dirty else "")) if rev else "unknown"


def machine_info() -> dict[str, Any]:
    """Cores, CPU, OS, Python and the versions of every library the numbers depend on."""
    import importlib.metadata as md

    versions = {}
    # openai's newer releases speak httpx2 instead of httpx: whichever is there is listed.
    for dist in ("deepinfra-sdk", "requests", "urllib3", "anyio", "trio", "openai", "httpx"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = "not installed"
            if dist == "httpx":
                with contextlib.suppress(md.PackageNotFoundError):
                    versions["httpx2"] = md.version("httpx2")
                    del versions[dist]
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "unknown"
    return {
        "cpu_count": os.cpu_count(),
        "affinity_cores": affinity,
        "cpu_model": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
        "versions": versions,
        "git": _git_revision(),
        "load_average_at_start": load,
    }


def render_machine(info: dict[str, Any]) -> str:
    """The machine as two Markdown lines."""
    v = info["versions"]
    libs = ", ".join(f"{name} {ver}" for name, ver in v.items())
    return (
        f"Machine: {info['cpu_count']} cores ({info['affinity_cores']} usable), "
        f"{info['cpu_model']}; {info['os']}; {info['python']}; "
        f"load average at start {info['load_average_at_start']}.\n"
        f"Libraries: {libs}. Revision: {info['git']}."
    )
