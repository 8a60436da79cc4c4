"""client.batches.run: the resumable bulk runner, in one process (kills: test_bulk_resume.py)."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from deepinfra_sdk import (
    APIResponseTooLargeError,
    APIResponseValidationError,
    APITimeoutError,
    ArgumentTypeError,
    ArgumentValueError,
    AsyncDeepInfraClient,
    BadRequestError,
    BatchCancelled,
    BatchInterrupted,
    BatchItem,
    BatchProgress,
    BatchRequestError,
    DeepInfraClient,
    InternalServerError,
)
from deepinfra_sdk import _constants as C
from deepinfra_sdk.cli import main
from deepinfra_sdk.emulator import BatchFault, Emulator, Fault
from deepinfra_sdk.resources.batches import Batches

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
OTHER = "Qwen/Qwen2.5-72B-Instruct"
FILES = "/v1/openai/files"
BATCHES = "/v1/openai/batches"


def ask(i: int, model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": f"question {i}"}], **extra}


@pytest.fixture
def client(emu_client: DeepInfraClient) -> DeepInfraClient:
    """The emulator's client (under the short name these tests use)."""
    return emu_client


@pytest.fixture
def small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of at most 3 lines: a handful of requests splits into several."""
    monkeypatch.setattr(C, "BATCH_MAX_LINES", 3)


def run(client: DeepInfraClient, requests: Any, state: Path, **kw: Any) -> list[BatchItem]:
    kw.setdefault("poll_interval", 0.01)
    kw.setdefault("progress", False)
    return list(client.batches.run(requests, state=state, **kw))


def test_results_come_back_in_input_order_as_batch_items(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path, small_files: None
) -> None:
    requests = [ask(i) for i in range(5)] + [ask(i, OTHER) for i in range(2)] + [ask(9)]
    items = run(client, requests, tmp_path / "run.json")
    # Split by size (3 lines) and by model (one model per file): 3 + 3 of one, 2 of the other.
    uploads = [r for r in emu.requests if r.method == "POST" and r.path == FILES]
    assert len(uploads) == len(emu.batches.batch_ids()) == 3
    lines = [
        json.loads(line)
        for f in emu.batches.file_ids("batch")
        for line in emu.batches.file_data(f).splitlines()
    ]
    # The API path, not the SDK's /v1/openai prefix.
    assert {line["url"] for line in lines} == {"/v1/chat/completions"}
    assert sorted(line["custom_id"] for line in lines) == [str(i) for i in range(8)]
    assert [item.index for item in items] == list(range(8))
    assert [item.request for item in items] == requests
    direct = [client.chat.completions.create(**r).text for r in requests]
    assert [item.text for item in items] == direct
    # The state file records every file and batch, with the run id in each batch's metadata.
    state = json.loads((tmp_path / "run.json").read_text())
    assert len(state["chunks"]) == 3
    for number, chunk in enumerate(state["chunks"]):
        batch = client.batches.retrieve(chunk["batch_id"])
        assert batch.metadata == {
            "deepinfra_sdk_run": state["run_id"],
            "deepinfra_sdk_chunk": str(number),
        }
        assert batch.input_file_id == chunk["file_id"] and chunk["status"] == "completed"


def test_one_model_per_file(client: DeepInfraClient, emu: Emulator, tmp_path: Path) -> None:
    run(client, [ask(0), ask(1, OTHER), ask(2)], tmp_path / "run.json")
    for file_id in emu.batches.file_ids("batch"):
        models = {
            json.loads(line)["body"]["model"]
            for line in emu.batches.file_data(file_id).splitlines()
        }
        assert len(models) == 1


def test_custom_ids_and_options_reach_the_lines(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    requests = [("b", ask(1, max_tokens=3, temperature=None)), ("a", ask(2, extra_body={"x": 1}))]
    items = run(client, requests, tmp_path / "run.json")
    [file_id] = emu.batches.file_ids("batch")
    lines = [json.loads(line) for line in emu.batches.file_data(file_id).splitlines()]
    assert [line["custom_id"] for line in lines] == ["b", "a"]
    assert lines[0]["body"]["max_tokens"] == 3 and "temperature" not in lines[0]["body"]
    assert lines[1]["body"]["x"] == 1 and "extra_body" not in lines[1]["body"]
    assert [item.request for item in items] == [requests[0][1], requests[1][1]]
    assert items[0].completion is not None and items[0].completion.usage is not None
    assert items[0].completion.usage.completion_tokens == 3
    [output] = emu.batches.file_ids("batch-output")
    lines = {
        json.loads(line)["custom_id"]: json.loads(line)
        for line in emu.batches.file_data(output).splitlines()
    }
    assert items[0].completion.request_id == lines["b"]["response"]["request_id"]


@pytest.mark.parametrize(
    ("requests", "error", "match"),
    [
        ([("x", ask(0)), ("x", ask(1))], ArgumentValueError, "used twice"),
        ([ask(0, stream=True)], ArgumentValueError, "stream"),
        ([{"messages": []}], ArgumentValueError, "model"),
        (["hello"], ArgumentTypeError, "dict"),
        ({"model": MODEL}, ArgumentTypeError, "iterable"),
        ([ask(0, timeout=5)], ArgumentValueError, "on the client"),
        # create()'s own option checks, not hours later as a failed line:
        ([ask(0, top_logprobs=3)], ArgumentValueError, "logprobs=True"),
        ([ask(0, service_tier="fast")], ArgumentValueError, "service_tier"),
        ([ask(0, response_format={"type": "yaml"})], ArgumentValueError, "response_format"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_sent(
    client: DeepInfraClient,
    emu: Emulator,
    tmp_path: Path,
    requests: Any,
    *,
    error: type,
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        run(client, requests, tmp_path / "run.json")
    assert emu.request_count("/v1/openai") == 0


def test_a_keyword_create_refuses_is_refused_too(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    # The lines carry what create() would send: a keyword it refuses is refused here too,
    # with the same suggestion, before anything is uploaded.
    request = ask(0, temprature=1)
    with pytest.raises(TypeError, match="temperature"):
        client.chat.completions.create(**request)
    with pytest.raises(TypeError, match=r"'temprature'.*temperature"):
        run(client, [request], tmp_path / "run.json")
    assert emu.request_count(FILES) == 0


def test_a_rerun_sends_nothing_again(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path, small_files: None
) -> None:
    requests = [ask(i) for i in range(7)]
    first = run(client, requests, tmp_path / "run.json")
    posts = emu.request_count(method="POST")
    again = run(client, requests, tmp_path / "run.json")
    assert emu.request_count(method="POST") == posts
    assert [i.text for i in again] == [i.text for i in first]


def test_other_requests_with_the_same_state_are_refused(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    run(client, [ask(0), ask(1)], tmp_path / "run.json")
    with pytest.raises(ArgumentValueError, match="same requests"):
        run(client, [ask(0), ask(2)], tmp_path / "run.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ArgumentValueError, match="state file"):
        run(client, [ask(0)], tmp_path / "bad.json")
    for damaged in ({"format": 1, "run_id": "r", "chunks": [5]}, {"format": 1, "chunks": []}):
        (tmp_path / "damaged.json").write_text(json.dumps(damaged))
        with pytest.raises(ArgumentValueError, match="state file"):
            run(client, [ask(0)], tmp_path / "damaged.json")
    assert emu.batches.uploads == 1  # the first run's only


def test_failed_lines_keep_their_errors_in_place(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    emu.batches.inject(BatchFault(failed_ids=["1"]))
    requests = [ask(0), ask(1), ask(2, max_tokens=0), ask(3)]
    items = run(client, requests, tmp_path / "run.json")
    assert [item.ok for item in items] == [True, False, False, True]
    assert isinstance(items[1].error, BatchRequestError)
    assert items[1].error.code == "server_error" and items[1].error.custom_id == "1"
    assert "max_tokens" in str(items[2].error)


def test_error_lines_with_a_status_become_the_status_error(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DeepInfra (like OpenAI) may also write a failed line as a non-200 response.
    from deepinfra_sdk import _bulk

    line = {
        "custom_id": "0",
        "response": {
            "status_code": 400,
            "request_id": "rq",
            "body": {"error": {"message": "bad thing"}},
        },
        "error": None,
    }
    error = _bulk._error_from_line(line, "batch_x")
    assert isinstance(error, BadRequestError)
    assert (error.status_code, error.request_id, error.message) == (400, "rq", "bad thing")
    line["response"] = {"status_code": 500, "body": {}}
    assert isinstance(_bulk._error_from_line(line, "batch_x"), InternalServerError)


def test_a_failed_or_expired_batch(client: DeepInfraClient, emu: Emulator, tmp_path: Path) -> None:
    emu.batches.inject(BatchFault(fail="file rejected"))
    items = run(client, [ask(0), ask(1)], tmp_path / "failed.json")
    assert all(isinstance(i.error, BatchRequestError) for i in items)
    assert "file rejected" in str(items[0].error)
    # Half the window's requests done when it closes: the clock jumps a day at the first poll.
    emu.batches.freeze()
    emu.batches.set_phases(in_progress=2 * 86400)
    polls: list[BatchProgress] = []

    def expire(progress: BatchProgress) -> None:
        if not polls:
            emu.batches.advance(86400)
        polls.append(progress)

    items = run(client, [ask(i) for i in range(4)], tmp_path / "expired.json", progress=expire)
    assert [i.ok for i in items].count(True) == 2
    assert all(i.ok or isinstance(i.error, BatchRequestError) for i in items)
    assert any(
        isinstance(i.error, BatchRequestError) and i.error.code == "batch_expired" for i in items
    )


def test_a_broken_download_is_fetched_again(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    emu.inject(Fault(drop="after_events", after_events=1), route=f"{FILES}/")
    items = run(client, [ask(i) for i in range(20)], tmp_path / "run.json")
    assert all(item.ok for item in items)
    assert emu.request_count(f"{FILES}/", method="GET") == 2


def test_progress_reaches_the_total(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[BatchProgress] = []
    emu.batches.set_phases(in_progress=0.3)
    run(client, [ask(i) for i in range(4)], tmp_path / "a.json", progress=seen.append)
    assert seen[-1] == BatchProgress(4, 0, 4)
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    import deepinfra_sdk._batch as batch_module

    with pytest.MonkeyPatch.context() as mp:  # no tqdm: a line on stderr
        mp.setattr(batch_module.importlib, "import_module", _no_tqdm)
        run(client, [ask(5)], tmp_path / "b.json", progress=True)
    assert "batch 1/1 done, 0 failed" in capsys.readouterr().err


def _no_tqdm(name: str) -> Any:
    raise ImportError(name)


def test_ctrl_c_leaves_the_batches_running_and_says_how_to_resume(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.batches.freeze()
    emu.batches.set_phases(in_progress=100)
    state = tmp_path / "run.json"
    polls = 0

    def interrupt_on_third_poll(*_: Any) -> None:
        nonlocal polls
        polls += 1
        if polls == 3:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(BatchInterrupted) as caught:
        run(client, [ask(0), ask(1)], state, progress=interrupt_on_third_poll)
    message = str(caught.value)
    assert isinstance(caught.value, KeyboardInterrupt)
    assert f"state={str(state)!r}" in message and f"deepinfra batch cancel {state}" in message
    assert message in capsys.readouterr().err
    [batch_id] = emu.batches.batch_ids()
    assert client.batches.retrieve(batch_id).status == "in_progress"  # still running
    emu.batches.advance(100)
    items = run(client, [ask(0), ask(1)], state)
    assert [i.ok for i in items] == [True, True] and len(emu.batches.batch_ids()) == 1


def test_ctrl_c_hands_back_the_results_of_the_batches_already_done(
    client: DeepInfraClient,
    emu: Emulator,
    tmp_path: Path,
    small_files: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu.batches.freeze()
    create = Batches.create

    def first_done_at_once_then_slow(self: Batches, **kw: Any) -> Any:
        batch = create(self, **kw)
        emu.batches.set_phases(in_progress=100)  # every batch after the first
        return batch

    monkeypatch.setattr(Batches, "create", first_done_at_once_then_slow)
    requests = [ask(i) for i in range(6)]  # two batches of 3
    state = tmp_path / "run.json"

    def interrupt_once_the_first_is_done(progress: BatchProgress) -> None:
        if progress.done:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(BatchInterrupted) as caught:
        run(client, requests, state, progress=interrupt_once_the_first_is_done)
    result = caught.value.result
    # Nothing the user already received is lost: the first batch's answers, in place.
    assert [item.index for item in result] == list(range(6))
    assert [item.request for item in result] == requests
    direct = [client.chat.completions.create(**r).text for r in requests[:3]]
    assert result.texts[:3] == direct and result.succeeded == 3
    for item in result[3:]:
        assert isinstance(item.error, BatchCancelled) and f"state={str(state)!r}" in str(item.error)
    emu.batches.advance(100)
    items = run(client, requests, state)
    assert all(i.ok for i in items) and len(emu.batches.batch_ids()) == 2


@pytest.mark.anyio
async def test_the_async_twin_yields_the_same(emu: Emulator, tmp_path: Path) -> None:
    requests = [ask(i) for i in range(3)]
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
        items = [
            item
            async for item in aclient.batches.run(
                requests, state=tmp_path / "run.json", poll_interval=0.01, progress=False
            )
        ]
        direct = [(await aclient.chat.completions.create(**r)).text for r in requests]
    assert [(i.index, i.text) for i in items] == list(enumerate(direct))


@pytest.mark.anyio
async def test_cancelling_the_async_loop_leaves_the_batches_running(
    emu: Emulator, tmp_path: Path
) -> None:
    import anyio

    emu.batches.freeze()
    emu.batches.set_phases(in_progress=100)
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
        with anyio.CancelScope() as scope:

            async def cancel_once_polling() -> None:
                while emu.request_count(f"{BATCHES}/", method="GET") < 2:
                    await anyio.sleep(0.01)
                scope.cancel()

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(cancel_once_polling)
                async for _ in aclient.batches.run(
                    [ask(0)], state=tmp_path / "run.json", poll_interval=0.05, progress=False
                ):
                    pass
        [batch_id] = emu.batches.batch_ids()
        await anyio.sleep(0.2)  # a request already on its way may still arrive
        polls = emu.request_count(f"{BATCHES}/", method="GET")
        await anyio.sleep(0.3)
        # The worker thread stopped polling when the loop was cancelled.
        assert emu.request_count(f"{BATCHES}/", method="GET") == polls
        assert (await aclient.batches.retrieve(batch_id)).status == "in_progress"


def test_the_cli_submits_follows_and_collects(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        json.dumps(ask(0)) + "\n\n" + json.dumps({"custom_id": "mine", **ask(1)}) + "\n"
    )
    state = tmp_path / "run.json"
    api = ["--base-url", emu.url, "--api-key", emu.api_key]
    emu.batches.freeze()
    emu.batches.set_phases(in_progress=100)
    assert main(["batch", "submit", str(requests), "--state", str(state), *api]) == 0
    out = capsys.readouterr().out
    [batch_id] = emu.batches.batch_ids()
    assert batch_id in out and "2 requests" in out
    assert main(["batch", "status", str(state), *api]) == 0
    assert f"{batch_id}  in_progress 0/2" in capsys.readouterr().out
    emu.batches.advance(100)
    results = tmp_path / "results.jsonl"
    args = ["batch", "results", str(state), "-o", str(results), "--poll-interval", "0.01"]
    assert main([*args, *api]) == 0
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["index"] for r in records] == [0, 1]
    assert all(r["error"] is None and r["completion"]["choices"] for r in records)
    assert len(emu.batches.batch_ids()) == 1
    assert main(["batch", "status", str(state), "--json", *api]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "completed"


def test_the_cli_cancels_a_run(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(json.dumps(ask(0)) + "\n")
    state = tmp_path / "run.json"
    api = ["--base-url", emu.url, "--api-key", emu.api_key]
    emu.batches.freeze()
    emu.batches.set_phases(in_progress=100, cancelling=1)
    assert main(["batch", "submit", str(requests), "--state", str(state), *api]) == 0
    assert main(["batch", "cancel", str(state), *api]) == 0
    assert "cancelling" in capsys.readouterr().out
    assert main(["batch", "status", str(tmp_path / "none.json"), *api]) == 2
    assert "batch submit" in capsys.readouterr().err


def test_a_results_line_that_is_not_an_object_is_a_typed_error(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emu.batches, "file_content", lambda _id: b'["not", "an object"]\n')
    with pytest.raises(APIResponseValidationError, match="not a JSON object"):
        run(client, [ask(0)], tmp_path / "run.json")


def test_a_batch_that_never_finishes_stops_the_wait_with_a_typed_error(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(C, "BATCH_WAIT_LIMIT", 0.3)  # stands for the 24 h window + 1 h
    emu.batches.freeze()
    emu.batches.set_phases(in_progress=100)  # in_progress for as long as the clock stands
    state = tmp_path / "run.json"
    with pytest.raises(APITimeoutError, match="24 h window") as caught:
        run(client, [ask(0)], state)
    assert f"state={str(state)!r}" in str(caught.value)
    emu.batches.advance(100)  # the batch was left running: a rerun collects it
    assert [item.ok for item in run(client, [ask(0)], state)] == [True]


def test_a_submit_that_stops_midway_is_resumed_by_results(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(json.dumps(ask(0)) + "\n")
    state = tmp_path / "run.json"
    api = ["--base-url", emu.url, "--api-key", emu.api_key]
    emu.inject(Fault(status=400), route=FILES)  # the upload is refused: submit stops
    assert main(["batch", "submit", str(requests), "--state", str(state), *api]) != 0
    assert emu.batches.batch_ids() == []
    results = tmp_path / "results.jsonl"
    args = ["batch", "results", str(state), "-o", str(results), "--poll-interval", "0.01"]
    assert main([*args, *api]) == 0, capsys.readouterr().err
    [record] = [json.loads(line) for line in results.read_text().splitlines()]
    assert record["error"] is None and record["completion"]["choices"]
    assert len(emu.batches.batch_ids()) == 1


def test_a_state_file_serves_one_run_at_a_time(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    state = tmp_path / "run.json"
    refused: list[Exception] = []

    def a_second_run_meanwhile(_: BatchProgress) -> None:
        if not refused:  # the first run holds the state: it is polling
            with pytest.raises(ArgumentValueError, match="in use by another run") as caught:
                run(client, [ask(0)], state)
            refused.append(caught.value)

    items = run(client, [ask(0)], state, progress=a_second_run_meanwhile)
    assert refused and [item.ok for item in items] == [True]
    assert emu.batches.uploads == 1 and len(emu.batches.batch_ids()) == 1
    assert [item.ok for item in run(client, [ask(0)], state)] == [True]  # released


def test_a_results_line_over_max_response_bytes_is_a_typed_error(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = b'{"custom_id": "0", "pad": "' + b"x" * 5000 + b'"}\n'
    monkeypatch.setattr(emu.batches, "file_content", lambda _id: huge)
    with (
        DeepInfraClient(emu.api_key, base_url=emu.url, max_response_bytes=3000) as small,
        pytest.raises(APIResponseTooLargeError, match="max_response_bytes"),
    ):
        run(small, [ask(0)], tmp_path / "run.json")
    not_utf8 = b'{"custom_id": "0", "pad": "\xff"}\n'
    monkeypatch.setattr(emu.batches, "file_content", lambda _id: not_utf8)
    with pytest.raises(APIResponseValidationError, match="not a JSON object"):
        run(client, [ask(0)], tmp_path / "other.json")
