"""deepinfra_sdk.dask.map_chat: a cluster-wide per-model cap, per-item errors, input order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import dask.bag as db
import pytest
from distributed import Client, LocalCluster

from deepinfra_sdk import BatchItem, DeepInfraClient
from deepinfra_sdk.dask import map_chat
from deepinfra_sdk.emulator import Emulator

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
OTHER = "Qwen/Qwen2.5-72B-Instruct"
CHAT = "/v1/openai/chat/completions"


def slow_client(emu: Emulator, stall: float = 0.05) -> DeepInfraClient:
    """Every request held ``stall`` seconds by the emulator: concurrency becomes visible."""
    header = {"X-Emulator-Fault": json.dumps({"stall": stall})}
    return DeepInfraClient(emu.api_key, base_url=emu.url, default_headers=header)


def requests_for(n: int, model: str = MODEL) -> list[dict[str, Any]]:
    return [{"model": model, "messages": [{"role": "user", "content": f"q{i}"}]} for i in range(n)]


def test_the_cap_holds_across_worker_processes(emu: Emulator, tmp_path: Path) -> None:
    requests = requests_for(48) + requests_for(8, OTHER)
    requests[7] = {"model": "nobody/no-such-model", "messages": [{"role": "user", "content": "x"}]}
    with slow_client(emu) as client:
        direct = [client.chat.completions.create(**r) for r in requests if r is not requests[7]]
        emu.reset()
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=2,
                processes=True,
                dashboard_address=":0",  # a free port: another cluster may hold 8787
                local_directory=str(tmp_path),
            ) as cluster,
            Client(cluster) as dask_client,
        ):
            pids = set(dask_client.run(lambda: __import__("os").getpid()).values())
            assert len(pids) == 2
            bag = db.from_sequence(requests, npartitions=8)
            items = map_chat(bag, client=client, max_concurrency=3).compute()
    # Never more than the cap for one model at once, though 2 workers x 2 tasks x 32 threads
    # could have sent far more; and the cap was reached (the test can fail).
    assert emu.peak_concurrency(MODEL) == 3
    assert emu.peak_concurrency(OTHER) <= 3
    # Every item exactly once, in input order, with its own outcome.
    assert emu.request_count(CHAT) == len(requests)
    assert all(isinstance(item, BatchItem) for item in items)
    assert [item.index for item in items] == list(range(len(requests)))
    assert [item.request for item in items] == requests
    assert items[7].error is not None and "does not exist" in str(items[7].error)
    answered = [item.text for i, item in enumerate(items) if i != 7]
    assert answered == [c.text for c in direct]
    # The workers' scratch space went to the test's own directory, removed with it.
    assert (tmp_path / "dask-scratch-space").is_dir()


def test_local_schedulers_hold_the_cap_in_the_process(emu: Emulator) -> None:
    with slow_client(emu) as client:
        bag = db.from_sequence(requests_for(20), npartitions=5)
        items = map_chat(bag, client=client, max_concurrency=2).compute(scheduler="threads")
        assert client.chat.completions.create(**requests_for(1)[0]).text  # still open
    assert emu.peak_concurrency(MODEL) == 2
    assert [item.index for item in items] == list(range(20))
    assert all(item.ok for item in items)


def test_a_bad_item_is_an_error_in_its_place(emu: Emulator) -> None:
    streamed = {**requests_for(1)[0], "stream": True}
    with DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        bag = db.from_sequence([requests_for(1)[0], "not a request", streamed], npartitions=1)
        first, second, third = map_chat(bag, client=client).compute(scheduler="sync")
    assert first.ok
    assert isinstance(second.error, TypeError) and "request 1" in str(second.error)
    assert isinstance(third.error, ValueError) and "stream=True" in str(third.error)
    assert third.completion is None and emu.request_count(CHAT) == 1  # never sent


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_concurrency": 0}, "at least 1"),
        ({"max_concurrency": 2.5}, "whole number"),
        ({"client": "key"}, "DeepInfraClient"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    bag = db.from_sequence(requests_for(1))
    with pytest.raises((TypeError, ValueError), match=message):
        map_chat(bag, **kwargs)


def test_requests_must_be_a_bag() -> None:
    with pytest.raises(TypeError, match="from_sequence"):
        map_chat(requests_for(2))  # type: ignore[arg-type]


def test_a_misspelled_keyword_names_the_right_one() -> None:
    with pytest.raises(TypeError, match="max_concurrency"):
        map_chat(db.from_sequence(requests_for(1)), max_concurency=3)  # type: ignore[call-arg]


def test_importing_the_sdk_does_not_import_dask() -> None:
    code = "import sys, deepinfra_sdk; print('dask' in sys.modules, 'distributed' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
