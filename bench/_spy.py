"""A whole-process sampling profile with py-spy, for work spread over many threads.

cProfile sees one thread; where 256 streams run on worker threads and an event loop, the
question is where the *process's* CPU goes. ``PySpy`` attaches ``py-spy record`` to this
process for the duration of a ``with`` block (non-blocking sampling of whichever thread
holds the GIL: one GIL is what all the streams of one process share) and summarises the
collapsed stacks: functions by own samples (where the time is spent) and by inclusive
samples (which calls it is spent under). py-spy is optional
(``pip install py-spy``; attaching needs ptrace rights): without it the summary says so.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Optional

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::\d+)?\)$")


def find_py_spy() -> Optional[str]:
    """The py-spy executable: next to this Python first, then on PATH."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def _short(file: str) -> str:
    """A source path without the interpreter's or the checkout's prefix."""
    for marker in ("site-packages/", "dist-packages/"):
        if marker in file:
            return file.split(marker, 1)[1]
    stdlib = re.search(r"/lib/python3\.\d+/(.*)", file)
    if stdlib:
        return stdlib.group(1)
    return file.replace(str(Path(__file__).resolve().parent.parent) + "/", "")


def _frame_name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    return f"{m.group('func')} ({_short(m.group('file'))})"


# Frames every sample of a thread passes through (the benchmark's own call chain, thread
# start-up, the event loop's run functions): true of everything, so they say nothing.
_SCAFFOLD = (
    "(<frozen runpy>)",
    "(bench/run.py)",
    "(bench/__main__.py)",
    "(bench/case_async.py)",
    "(threading.py)",
    "(asyncio/runners.py)",
    "(asyncio/base_events.py)",
    "(anyio/_core/_eventloop.py)",
)


def summarise(raw: str, top: int = 15) -> str:
    """Own and inclusive sample counts per function from py-spy's ``--format raw`` output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame_name(f) for f in stack.split(";") if f and not f.startswith("thread ")]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for name in set(frames):
            if not name.endswith(_SCAFFOLD):
                inclusive[name] += n
    if not total:
        return "py-spy collected no samples"
    out = [
        f"{total} samples of whichever thread held the GIL (py-spy --gil: where the "
        "interpreter's time went, across every thread of the process)",
        "",
        "own %  function (file)",
    ]
    out += [f"{100 * n / total:5.1f}  {name}" for name, n in own.most_common(top)]
    out += ["", "inclusive %  function (file), without the frames every sample passes through"]
    out += [f"{100 * n / total:5.1f}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(out)


class PySpy:
    """``with PySpy() as spy: work()`` then ``spy.summary``; a no-op note without py-spy."""

    def __init__(self, rate: int = 250, top: int = 15) -> None:
        self.rate = rate
        self.top = top
        self.summary = ""
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._out = ""

    def __enter__(self) -> PySpy:
        exe = find_py_spy()
        if exe is None:
            self.summary = "py-spy is not installed (pip install py-spy): no whole-process profile"
            return self
        fd, self._out = tempfile.mkstemp(prefix="bench-py-spy-", suffix=".txt")
        os.close(fd)
        cmd = [exe, "record", "--pid", str(os.getpid()), "--rate", str(self.rate)]
        cmd += ["--format", "raw", "--nonblocking", "--gil", "--output", self._out]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # attaching takes a moment; samples before the work are harmless
        if self._proc.poll() is not None:
            err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
            self.summary = f"py-spy could not attach: {err.strip()[-300:]}"
            self._proc = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        try:
            self.summary = summarise(Path(self._out).read_text(), self.top)
        except OSError as err:
            self.summary = f"py-spy wrote no output: {err}"
        finally:
            Path(self._out).unlink(missing_ok=True)
