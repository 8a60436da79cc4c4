"""The Dask recipe (examples/dask_map.py) on a real LocalCluster with worker processes.

The workers are separate processes that reach the emulator started here over loopback; the
SDK client travels to them pickled (as its configuration) and reconnects there.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from distributed import Client, get_task_stream

from deepinfra_sdk import DEFAULT_MODEL, ChatCompletion, DeepInfraClient
from deepinfra_sdk.emulator import Emulator
from examples import dask_map

ROOT = Path(__file__).resolve().parent.parent
CHAT = "/v1/openai/chat/completions"
# Distinct prompts and one repeated: a repeat is its own request (map_prompts uses pure=False).
PROMPTS = [f"Name {n} things about {topic}." for n, topic in enumerate(["rain", "tea", "maps"])]
PROMPTS += ["Say something about cats.", "Say something about cats.", "One more?"]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as server:
        yield server
    assert server.handler_errors == []


def _children() -> set[int]:
    """This process's descendants, less multiprocessing's resource tracker: the first spawn
    starts it and it lives as long as this process, by design (not a leak of the cluster)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "multiprocessing.resource_tracker" in " ".join(child.cmdline()):
                continue
        except psutil.NoSuchProcess:
            continue
        found.add(child.pid)
    return found


def _texts(completions: list[ChatCompletion]) -> list[str]:
    return [c.choices[0].message.content or "" for c in completions]


@pytest.mark.slow
def test_map_prompts_runs_in_worker_processes_in_order(emu: Emulator) -> None:
    started = time.monotonic()
    children_before = _children()
    with DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        direct = [dask_map.answer(client, prompt, DEFAULT_MODEL) for prompt in PROMPTS]
        assert emu.request_count(CHAT) == len(PROMPTS)

        with dask_map.local_cluster() as cluster, Client(cluster) as dask_client:
            worker_pids: dict[str, int] = dask_client.run(os.getpid)
            assert len(worker_pids) == 2
            # Scratch space goes to the session's temporary directory (conftest), not to a
            # dask-scratch-space folder left behind in the system's.
            scratch: dict[str, str] = dask_client.run(
                lambda dask_worker: dask_worker.local_directory
            )
            session = os.environ["DASK_TEMPORARY_DIRECTORY"]
            assert all(path.startswith(session) for path in scratch.values()), scratch
            assert os.getpid() not in worker_pids.values()
            with get_task_stream(dask_client) as stream:
                mapped = dask_map.map_prompts(dask_client, client, PROMPTS)
            # Again on the same cluster: a second scatter of the same client must not collide
            # with the first one's release (it did, with content-hashed keys).
            again = dask_map.map_prompts(dask_client, client, PROMPTS[:2])

    # Every answer came back, in the order of the prompts, equal to a direct call's.
    assert all(isinstance(c, ChatCompletion) for c in mapped)
    assert _texts(mapped) == _texts(direct)
    assert _texts(again) == _texts(direct[:2])
    assert [c.usage for c in mapped] == [c.usage for c in direct]
    # The emulator served each task's request (a repeated prompt included).
    assert emu.request_count(CHAT) == 2 * len(PROMPTS) + 2
    # Each task ran in a worker process, and both workers took a share.
    answered_by = [t["worker"] for t in stream.data if t["key"].startswith("answer-")]
    assert len(answered_by) == len(PROMPTS)
    assert set(answered_by) == set(worker_pids)
    # Closing the cluster ended the worker processes: none is left behind.
    deadline = time.monotonic() + 5
    while any(psutil.pid_exists(pid) for pid in worker_pids.values()):
        assert time.monotonic() < deadline, "worker processes still alive after close"
        time.sleep(0.05)
    assert _children() <= children_before
    print(f"dask recipe: {time.monotonic() - started:.1f}s")  # seen with -s; never asserted


def test_the_client_travels_as_configuration_and_reconnects(emu: Emulator) -> None:
    # What map_prompts relies on, without a cluster: the pickle holds no connection, and the
    # copy opens its own.
    with DeepInfraClient(emu.api_key, base_url=emu.url, max_retries=5, timeout=7.0) as client:
        client.models.list()  # the original has a pooled connection now
        copy = pickle.loads(pickle.dumps(client))
    assert copy.config == client.config
    assert (copy.base_url, copy.max_retries, copy.timeout) == (emu.url, 5, client.timeout)
    with copy:
        assert dask_map.answer(copy, "hi", DEFAULT_MODEL).choices[0].message.content


def test_docs_show_the_recipe_verbatim() -> None:
    """docs/scale-out.md shows the example file's code as it is (the tested code)."""
    page = (ROOT / "docs" / "scale-out.md").read_text(encoding="utf-8")
    for name in ("dask_map.py", "ray_data_map.py"):
        source = (ROOT / "examples" / name).read_text(encoding="utf-8")
        assert f"```python\n{source}```" in page, f"docs/scale-out.md: {name} is not verbatim"
