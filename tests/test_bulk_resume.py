"""The bulk runner killed (SIGKILL) at each stage in a child process, then run again.

The emulator runs here; a child process runs ``client.batches.run`` against it. A fault
holds the child at the stage under test (the server has done the work, the child has not
heard back), the test kills it there, then runs the child again with the same state file:
nothing may be uploaded or created twice, and every result must come back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from deepinfra_sdk import DeepInfraClient
from deepinfra_sdk.emulator import Emulator, Fault

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
REQUESTS = 5
MAX_LINES = 3  # two batches: 3 + 2 requests
FILES = "/v1/openai/files"
BATCHES = "/v1/openai/batches"
ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys
from deepinfra_sdk import DeepInfraClient
from deepinfra_sdk import _constants as C

url, key, state, n, max_lines, model = sys.argv[1:7]
C.BATCH_MAX_LINES = int(max_lines)
requests = [
    {"model": model, "messages": [{"role": "user", "content": f"question {i}"}]}
    for i in range(int(n))
]
with DeepInfraClient(key, base_url=url, max_retries=0) as client:
    items = client.batches.run(requests, state=state, poll_interval=0.02, progress=False)
    print(json.dumps([[i.index, i.text, None if i.error is None else str(i.error)] for i in items]))
"""


def _command(emu: Emulator, tmp_path: Path) -> list[str]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    state = tmp_path / "run.json"
    return [
        sys.executable,
        str(script),
        emu.url,
        emu.api_key,
        str(state),
        str(REQUESTS),
        str(MAX_LINES),
        MODEL,
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _kill_when(
    emu: Emulator, tmp_path: Path, reached: Callable[[], bool], settle: float = 0.1
) -> None:
    """Start the child, wait until ``reached()``, then SIGKILL it."""
    child = subprocess.Popen(
        _command(emu, tmp_path), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while not reached():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never reached the stage"
            time.sleep(0.01)
        time.sleep(settle)  # let it sit in the held response
        assert child.poll() is None, "the child finished before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL


def _rerun(emu: Emulator, tmp_path: Path) -> list[Any]:
    emu.clear_faults()
    done = subprocess.run(
        _command(emu, tmp_path),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: list[Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def _expected(emu: Emulator) -> list[Any]:
    with DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        return [
            [
                i,
                client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": f"question {i}"}]
                ).text,
                None,
            ]
            for i in range(REQUESTS)
        ]


def _check(emu: Emulator, results: list[Any]) -> None:
    # Exactly one upload and one batch per chunk, whatever the kill interrupted...
    assert emu.batches.uploads == 2
    assert len(emu.batches.batch_ids()) == 2
    assert emu.request_count(BATCHES, method="POST") == 2
    # ...and every result, in input order.
    assert results == _expected(emu)


def test_killed_between_an_upload_and_its_answer(emu: Emulator, tmp_path: Path) -> None:
    # The server stores the file, then holds the response: the child never learns its id.
    emu.inject(Fault(stall=30, stall_at="after_headers"), route=FILES)
    _kill_when(emu, tmp_path, lambda: emu.batches.uploads == 1)
    state = json.loads((tmp_path / "run.json").read_text())
    assert state["chunks"][0]["uploading"] and "file_id" not in state["chunks"][0]
    _check(emu, _rerun(emu, tmp_path))


def test_killed_between_a_create_and_its_answer(emu: Emulator, tmp_path: Path) -> None:
    emu.inject(Fault(stall=30, stall_at="after_headers"), route=BATCHES)
    _kill_when(emu, tmp_path, lambda: len(emu.batches.batch_ids()) == 1)
    state = json.loads((tmp_path / "run.json").read_text())
    assert state["chunks"][0]["creating"] and "batch_id" not in state["chunks"][0]
    _check(emu, _rerun(emu, tmp_path))


def test_killed_while_polling(emu: Emulator, tmp_path: Path) -> None:
    emu.batches.freeze()
    emu.batches.set_phases(in_progress=100)
    _kill_when(emu, tmp_path, lambda: emu.request_count(f"{BATCHES}/", method="GET") >= 6)
    state = json.loads((tmp_path / "run.json").read_text())
    assert all(chunk["batch_id"] for chunk in state["chunks"])
    emu.batches.advance(100)
    _check(emu, _rerun(emu, tmp_path))


def test_killed_mid_download(emu: Emulator, tmp_path: Path) -> None:
    # Half of the first result file arrives, then the server holds the rest.
    emu.inject(Fault(stall=30, stall_at="after_events", after_events=1), route=f"{FILES}/")
    _kill_when(emu, tmp_path, lambda: emu.request_count(f"{FILES}/", method="GET") == 1)
    state = json.loads((tmp_path / "run.json").read_text())
    # Each batch is collected as soon as it is done: the first, killed during its download.
    assert state["chunks"][0]["status"] == "completed"
    assert all(chunk["batch_id"] for chunk in state["chunks"])
    _check(emu, _rerun(emu, tmp_path))
