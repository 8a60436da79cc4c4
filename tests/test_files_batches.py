"""client.files and client.batches against the emulator, sync and async (asyncio and trio),
and openai-python running the same batch on the same emulator."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from deepinfra_sdk import (
    APIConnectionError,
    APIResponseTooLargeError,
    APIResponseValidationError,
    APIStatusError,
    ArgumentTypeError,
    ArgumentValueError,
    AsyncDeepInfraClient,
    AsyncPage,
    Batch,
    BatchRequestCounts,
    DeepInfraClient,
    FileDeleted,
    FileObject,
    NotFoundError,
    Page,
)
from deepinfra_sdk import _constants as C
from deepinfra_sdk.emulator import BatchFault, Emulator, Fault

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
FILES = "/v1/openai/files"
BATCHES = "/v1/openai/batches"


def jsonl(n: int, prefix: str = "r") -> bytes:
    lines = [
        {
            "custom_id": f"{prefix}{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": MODEL, "messages": [{"role": "user", "content": f"q{i}"}]},
        }
        for i in range(n)
    ]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@pytest.fixture
def client(emu_client: DeepInfraClient) -> DeepInfraClient:
    """The emulator's client (under the short name these tests use)."""
    return emu_client


# -- files ----------------------------------------------------------------------------------


def test_upload_a_path_bytes_or_a_file_object(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_bytes(jsonl(3))
    from_path = client.files.create(file=path)
    from_bytes = client.files.create(file=jsonl(2), purpose="batch")
    with open(path, "rb") as f:
        f.read(5)  # a file object is uploaded from where it stands
        from_object = client.files.create(file=f, expires_after_seconds=3600)
        assert f.tell() == len(jsonl(3))
    assert isinstance(from_path, FileObject)
    assert (from_path.filename, from_path.bytes, from_path.purpose) == (
        "requests.jsonl",
        len(jsonl(3)),
        "batch",
    )
    assert from_bytes.bytes == len(jsonl(2))
    assert from_object.bytes == len(jsonl(3)) - 5
    named = client.files.create(file=("named.jsonl", jsonl(1)))
    assert (named.filename, named.bytes) == ("named.jsonl", len(jsonl(1)))
    assert from_object.expires_at == from_object.created_at + 3600
    assert emu.batches.file_data(from_path.id) == jsonl(3)
    [upload] = [r for r in emu.requests if r.method == "POST"][:1]
    assert upload.form["fields"]["purpose"] == "batch"


@pytest.mark.parametrize(
    ("make", "limit"),
    [
        (lambda p: p.write_bytes(b"{}\n" * (C.BATCH_MAX_LINES + 1)), "50,000 requests"),
        (lambda p: _sparse(p, C.BATCH_MAX_INPUT_BYTES + 1), "200 MB"),
    ],
)
def test_a_file_over_the_limits_is_refused_before_sending(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path, make: Any, limit: str
) -> None:
    path = tmp_path / "big.jsonl"
    make(path)
    with pytest.raises(ArgumentValueError, match=limit) as caught:
        client.files.create(file=path)
    assert "split" in str(caught.value)
    assert emu.request_count(FILES) == 0


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        f.truncate(size)


def test_bad_upload_arguments(client: DeepInfraClient, emu: Emulator) -> None:
    with pytest.raises(ArgumentValueError, match="'batch'"):
        client.files.create(file=b"{}", purpose="fine-tune")
    with pytest.raises(ArgumentValueError, match="3600"):
        client.files.create(file=b"{}", expires_after_seconds=60)
    with pytest.raises(TypeError, match="text mode"):
        client.files.create(file=io.StringIO("{}"))  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="no file at"):
        client.files.create(file=Path("missing.jsonl"))
    with pytest.raises(ArgumentTypeError, match="purpose"):
        client.files.create(file=b"{}", purpos="batch")  # type: ignore[call-arg]
    read_end, write_end = os.pipe()
    os.write(write_end, b"{}\n")
    os.close(write_end)
    with open(read_end, "rb") as pipe, pytest.raises(ArgumentTypeError, match="cannot seek"):
        client.files.create(file=pipe)  # its lines could not be counted and then sent
    assert emu.request_count(FILES) == 0


def test_an_upload_is_never_sent_twice(client: DeepInfraClient, emu: Emulator) -> None:
    # The connection drops after the body went out: the server may hold the file.
    emu.inject(Fault(drop="before_response"), route=FILES)
    with pytest.raises(APIConnectionError):
        client.files.create(file=jsonl(2))
    assert emu.request_count(FILES, method="POST") == 1


def test_retrieve_list_and_delete(client: DeepInfraClient, emu: Emulator) -> None:
    ids = [client.files.create(file=jsonl(1)).id for _ in range(5)]
    assert client.files.retrieve(ids[0]).bytes == len(jsonl(1))
    before = emu.request_count(FILES, method="GET")
    page = client.files.list(limit=2, order="asc")
    assert isinstance(page, Page) and [f.id for f in page.data] == ids[:2] and page.has_more
    # Iterating the page follows the cursors: every file once, one request a page.
    assert [f.id for f in page] == ids
    assert emu.request_count(FILES, method="GET") - before == 3
    assert [f.id for f in client.files.list(purpose="batch")] == ids[::-1]
    gone = client.files.delete(ids[0])
    assert isinstance(gone, FileDeleted) and gone.deleted and gone.id == ids[0]
    with pytest.raises(NotFoundError):
        client.files.retrieve(ids[0])
    with pytest.raises(ArgumentValueError, match="id"):
        client.files.retrieve("../batches")


def test_content_streams_to_disk_or_line_by_line(client: DeepInfraClient, tmp_path: Path) -> None:
    uploaded = client.files.create(file=jsonl(4))
    with client.files.content(uploaded.id) as content:
        lines = list(content.iter_lines())
    assert [json.loads(line)["custom_id"] for line in lines] == ["r0", "r1", "r2", "r3"]
    saved = client.files.content(uploaded.id).save(tmp_path / "copy.jsonl")
    assert saved.read_bytes() == jsonl(4)
    # Lines split across the pieces of a chunked body, CRLF endings, no final newline.
    emu_file = client.files.create(file=b"a\r\n" + b"b" * 200_000 + b"\n\nc")
    with client.files.content(emu_file.id) as content:
        assert list(content.iter_lines()) == ["a", "b" * 200_000, "", "c"]


def test_a_download_that_breaks_leaves_no_file(
    client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    uploaded = client.files.create(file=jsonl(50))
    emu.inject(Fault(drop="after_events", after_events=1), route=f"{FILES}/")
    with pytest.raises(APIConnectionError):
        client.files.content(uploaded.id).save(tmp_path / "out.jsonl")
    assert list(tmp_path.iterdir()) == []


# -- batches --------------------------------------------------------------------------------


def test_a_batch_from_create_to_results(client: DeepInfraClient, emu: Emulator) -> None:
    emu.batches.freeze()
    emu.batches.set_phases(in_progress=10)
    uploaded = client.files.create(file=jsonl(4))
    batch = client.batches.create(input_file_id=uploaded.id, metadata={"job": "t"})
    assert isinstance(batch, Batch)
    assert (batch.status, batch.request_counts, batch.done) == ("validating", None, False)
    assert batch.metadata == {"job": "t"} and batch.endpoint == "/v1/chat/completions"
    assert emu.requests[-1].json["metadata"] == {"job": "t"}
    emu.batches.advance(5)
    running = client.batches.retrieve(batch.id)
    assert running.status == "in_progress"
    assert running.request_counts == BatchRequestCounts(total=4, completed=2, failed=0)
    emu.batches.advance(5)
    done = client.batches.wait(batch.id, poll_interval=0)
    assert done.status == "completed" and done.done and done.completed_at is not None
    assert done.usage is not None and done.usage.output_tokens > 0
    assert done.output_file_id is not None and done.error_file_id is None
    with client.files.content(done.output_file_id) as content:
        ids = sorted(json.loads(line)["custom_id"] for line in content.iter_lines())
    assert ids == ["r0", "r1", "r2", "r3"]
    assert [b.id for b in client.batches.list()] == [batch.id]


def test_cancel_and_a_failed_batch(client: DeepInfraClient, emu: Emulator) -> None:
    emu.batches.freeze()
    emu.batches.set_phases(in_progress=10)
    running = client.batches.create(input_file_id=client.files.create(file=jsonl(2)).id)
    cancelled = client.batches.cancel(running.id)
    assert cancelled.status in ("cancelling", "cancelled")
    assert client.batches.retrieve(running.id).status == "cancelled"
    emu.batches.inject(BatchFault(fail="bad file"))
    failed = client.batches.create(input_file_id=client.files.create(file=jsonl(1)).id)
    failed = client.batches.retrieve(failed.id)
    assert failed.status == "failed" and failed.done
    assert failed.errors is not None and failed.errors.data[0].message == "bad file"


def test_wait_gives_up_after_its_timeout(client: DeepInfraClient, emu: Emulator) -> None:
    emu.batches.freeze()
    emu.batches.set_phases(in_progress=10)
    batch = client.batches.create(input_file_id=client.files.create(file=jsonl(1)).id)
    seen = client.batches.wait(batch.id, poll_interval=0.01, timeout=0.05)
    assert not seen.done


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"endpoint": "/v1/openai/chat/completions"}, ArgumentValueError, "endpoint"),
        ({"completion_window": "1h"}, ArgumentValueError, "24h"),
        ({"metadata": {str(i): "v" for i in range(17)}}, ArgumentValueError, "16"),
        ({"metadata": {"k" * 65: "v"}}, ArgumentValueError, "64"),
        ({"metadata": {"k": 1}}, ArgumentTypeError, "strings"),
        ({"input_file_id": ""}, ArgumentValueError, "input_file_id"),
        ({"metdata": {}}, ArgumentTypeError, "metadata"),
    ],
)
def test_create_refuses_bad_arguments_before_sending(
    client: DeepInfraClient, emu: Emulator, kwargs: dict[str, Any], error: type, match: str
) -> None:
    arguments = {"input_file_id": "file_x", **kwargs}
    with pytest.raises(error, match=match):
        client.batches.create(**arguments)
    assert emu.request_count(BATCHES) == 0


def test_every_method_takes_the_per_call_options(client: DeepInfraClient, emu: Emulator) -> None:
    options: dict[str, Any] = {"timeout": 30, "extra_headers": {"X-Trace": "t1"}}
    uploaded = client.files.create(file=jsonl(1), **options)
    client.files.retrieve(uploaded.id, **options)
    list(client.files.list(**options))
    batch = client.batches.create(input_file_id=uploaded.id, **options)
    client.batches.retrieve(batch.id, **options)
    list(client.batches.list(**options))
    done = client.batches.wait(batch.id, poll_interval=0)
    with client.files.content(done.output_file_id or "", **options) as content:
        list(content.iter_lines())
    client.files.delete(uploaded.id, **options)
    traced = [r.method + " " + r.path.split("?")[0] for r in emu.requests if "x-trace" in r.headers]
    assert len(traced) == 8
    # max_retries=0: a 503 is not retried for this call (the client would retry it twice).
    emu.inject(Fault(status=503), route=BATCHES, times=3)
    with pytest.raises(APIStatusError):
        client.batches.retrieve(batch.id, max_retries=0)
    assert emu.pending_faults == 2
    emu.clear_faults()
    emu.batches.freeze()
    emu.batches.set_phases(in_progress=10)
    running = client.batches.create(input_file_id=client.files.create(file=jsonl(1)).id)
    assert client.batches.cancel(running.id, extra_headers={"X-Trace": "t2"}).status in (
        "cancelling",
        "cancelled",
    )


def _circular_pages(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile server: every page says there is more after the same cursor."""
    ids = [emu.batches.add_file(jsonl(1), f"{n}.jsonl", "batch")["id"] for n in range(2)]
    page = {"object": "list", "data": [], "last_id": ids[1], "has_more": True}

    def list_files(query: dict[str, str]) -> dict[str, Any]:
        after = query.get("after")
        return {**page, "data": [emu.batches.get_file(i) for i in ids if i != after]}

    monkeypatch.setattr(emu.batches, "list_files", list_files)


def test_a_list_that_pages_in_a_circle_is_a_typed_error(
    client: DeepInfraClient, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _circular_pages(emu, monkeypatch)
    with pytest.raises(APIResponseValidationError, match="circle"):
        list(client.files.list())
    assert emu.request_count(FILES, method="GET") == 2  # the first page, then its repeat


@pytest.mark.anyio
async def test_an_async_list_that_pages_in_a_circle_is_a_typed_error(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _circular_pages(emu, monkeypatch)
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
        page = await aclient.files.list()
        with pytest.raises(APIResponseValidationError, match="circle"):
            [f async for f in page]
    assert emu.request_count(FILES, method="GET") == 2


def test_a_download_is_capped_and_its_lines_too(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stand-ins for DeepInfra's 512 MB file limit and the client's max_response_bytes.
    monkeypatch.setattr(C, "FILE_MAX_BYTES", 4000)
    add = emu.batches.add_file
    big = add(b"".join(b'{"n": %d}\n' % i for i in range(1000)), "big.jsonl", "batch")["id"]
    long_line = add(b"x" * 3000 + b"\n", "long.jsonl", "batch")["id"]
    not_text = add(b"ok\n\xff\xfe\n", "binary.jsonl", "batch")["id"]
    small = add(b"ab\r\ncd", "small.jsonl", "batch")["id"]
    out = tmp_path / "out.jsonl"
    with DeepInfraClient(emu.api_key, base_url=emu.url, max_response_bytes=1000) as client:
        with pytest.raises(APIResponseTooLargeError, match="max_response_bytes") as caught:
            client.files.content(big).save(out)
        assert caught.value.limit == 4000 and not out.exists()  # no partial file
        with pytest.raises(APIResponseTooLargeError, match="a line") as caught:
            list(client.files.content(long_line).iter_lines())
        assert caught.value.limit == 1000
        lines = client.files.content(not_text).iter_lines()
        assert next(lines) == "ok"
        with pytest.raises(APIResponseValidationError, match="UTF-8"):
            next(lines)
        # Within the caps, everything arrives.
        assert list(client.files.content(small).iter_lines()) == ["ab", "cd"]
        assert client.files.content(small).save(out).read_bytes() == b"ab\r\ncd"


# -- async ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_method_async(emu: Emulator, tmp_path: Path) -> None:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
        uploaded = await aclient.files.create(file=jsonl(3))
        assert (await aclient.files.retrieve(uploaded.id)).bytes == uploaded.bytes
        await aclient.files.create(file=jsonl(1))
        page = await aclient.files.list(limit=1)
        assert isinstance(page, AsyncPage) and len(page.data) == 1 and page.has_more
        assert len([f async for f in page]) == 2
        batch = await aclient.batches.create(input_file_id=uploaded.id)
        batch = await aclient.batches.wait(batch.id, poll_interval=0)
        assert (await aclient.batches.retrieve(batch.id)).status == "completed"
        assert [b.id async for b in await aclient.batches.list()] == [batch.id]
        assert batch.output_file_id is not None
        content = await aclient.files.content(batch.output_file_id)
        async with content:
            lines = [line async for line in content.iter_lines()]
        assert sorted(json.loads(line)["custom_id"] for line in lines) == ["r0", "r1", "r2"]
        saved = await (await aclient.files.content(uploaded.id)).save(tmp_path / "in.jsonl")
        assert saved.read_bytes() == jsonl(3)
        async with await aclient.files.content(uploaded.id) as content:
            assert b"".join([piece async for piece in content.iter_bytes()]) == jsonl(3)
        assert isinstance(content.request_id, str) and content.request_id  # the server's
        emu.batches.freeze()
        emu.batches.set_phases(in_progress=10)
        running = await aclient.batches.create(input_file_id=uploaded.id)
        assert (await aclient.batches.cancel(running.id)).status in ("cancelling", "cancelled")
        assert (await aclient.files.delete(uploaded.id)).deleted
        with pytest.raises(ArgumentTypeError, match="purpose"):
            await aclient.files.list(purpse="batch")  # type: ignore[call-arg]
        with pytest.raises(ArgumentTypeError, match="poll_interval"):
            aclient.batches.run([], state=tmp_path / "s.json", poll_intervall=1)  # type: ignore[call-arg]


# -- openai-python agrees ---------------------------------------------------------------------


def test_openai_python_runs_a_batch_on_the_emulator(
    emu: Emulator, client: DeepInfraClient, tmp_path: Path
) -> None:
    import openai

    path = tmp_path / "requests.jsonl"
    path.write_bytes(jsonl(3))
    with openai.OpenAI(api_key=emu.api_key, base_url=emu.url + "/v1/openai") as oai:
        with path.open("rb") as f:
            uploaded = oai.files.create(file=f, purpose="batch")
        assert uploaded.filename == "requests.jsonl" and uploaded.bytes == len(jsonl(3))
        batch = oai.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        for _ in range(10):
            batch = oai.batches.retrieve(batch.id)
            if batch.status == "completed":
                break
        assert batch.status == "completed" and batch.request_counts is not None
        assert batch.request_counts.completed == 3 and batch.output_file_id is not None
        text = oai.files.content(batch.output_file_id).text
        assert [b.id for b in oai.batches.list()] == [batch.id]
    # The SDK reads the same batch the same way.
    ours = client.batches.retrieve(batch.id)
    assert (ours.status, ours.output_file_id) == (batch.status, batch.output_file_id)
    with client.files.content(batch.output_file_id) as content:
        assert "\n".join(content.iter_lines()) == text.rstrip("\n")
    answers = {
        json.loads(line)["custom_id"]: json.loads(line)["response"]["body"]
        for line in text.splitlines()
    }
    direct = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "q1"}]
    )
    assert answers["r1"]["choices"][0]["message"]["content"] == direct.text
