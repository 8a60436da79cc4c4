"""The emulator's files and batches: DeepInfra's line rules, the lifecycle on a controlled
clock, result files of real answers, faults, and per-model concurrency peaks."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests

from deepinfra_sdk.emulator import BatchFault, Emulator, Fault
from deepinfra_sdk.emulator import _batches as emu_batches
from deepinfra_sdk.emulator import _multipart as emu_multipart

from .helpers import TEXT_MODEL, chat_body

BATCHES = "/v1/openai/batches"
FILES = "/v1/openai/files"


def line(custom_id: str, content: str = "Hello", overrides: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": chat_body(content),
    }
    item.update(overrides or {})
    return item


def jsonl(items: list[Any]) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


def upload(emu: Emulator, items: list[Any]) -> str:
    return str(emu.batches.add_file(jsonl(items), "in.jsonl", "batch")["id"])


def create(session: requests.Session, emu: Emulator, file_id: str, **extra: Any) -> Any:
    body = {
        "input_file_id": file_id,
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
    }
    body.update(extra)
    return session.post(emu.url + BATCHES, json=body)


def get(session: requests.Session, emu: Emulator, batch_id: str) -> dict[str, Any]:
    reply = session.get(f"{emu.url}{BATCHES}/{batch_id}")
    assert reply.status_code == 200
    data: dict[str, Any] = reply.json()
    return data


def lines_of(session: requests.Session, emu: Emulator, file_id: str) -> list[dict[str, Any]]:
    reply = session.get(f"{emu.url}{FILES}/{file_id}/content")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/octet-stream"
    return [json.loads(raw) for raw in reply.content.splitlines()]


def test_a_batch_walks_its_lifecycle_on_the_frozen_clock(
    emulator: Emulator, session: requests.Session
) -> None:
    emulator.batches.freeze()
    emulator.batches.set_phases(validating=10, in_progress=100, finalizing=10)
    file_id = upload(emulator, [line(f"r{i}", f"question {i}") for i in range(10)])
    created = create(session, emulator, file_id, metadata={"run": "x"}).json()
    assert created["status"] == "validating"
    assert created["request_counts"] is None and created["in_progress_at"] is None
    assert created["metadata"] == {"run": "x"}
    assert created["expires_at"] == created["created_at"] + 86400
    seen = []
    for step in (0, 10, 50, 50, 10):
        emulator.batches.advance(step)
        batch = get(session, emulator, created["id"])
        seen.append((batch["status"], (batch["request_counts"] or {}).get("completed")))
    assert seen == [
        ("validating", None),
        ("in_progress", 0),
        ("in_progress", 5),
        ("finalizing", 10),
        ("completed", 10),
    ]
    assert batch["request_counts"] == {"total": 10, "completed": 10, "failed": 0}
    assert batch["completed_at"] == batch["created_at"] + 120
    assert batch["model"] == TEXT_MODEL and batch["usage"]["output_tokens"] > 0
    assert batch["error_file_id"] is None
    out = lines_of(session, emulator, batch["output_file_id"])
    # Every request answered once, with the completion the real-time route gives.
    assert sorted(o["custom_id"] for o in out) == sorted(f"r{i}" for i in range(10))
    assert [o["custom_id"] for o in out] != [f"r{i}" for i in range(10)]  # any order
    first = next(o for o in out if o["custom_id"] == "r3")
    live = session.post(emulator.url + "/v1/openai/chat/completions", json=chat_body("question 3"))
    assert first["response"]["status_code"] == 200 and first["error"] is None
    assert first["id"].startswith("batch_req_")
    answer = first["response"]["body"]
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == live.json()["choices"][0]["message"]
    output = session.get(f"{emulator.url}{FILES}/{batch['output_file_id']}").json()
    assert output["purpose"] == "batch-output"


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ({"custom_id": ""}, "missing_required_parameter"),
        ({"custom_id": "r0"}, "duplicate_custom_id"),
        ({"method": "GET"}, "invalid_method"),
        ({"url": "/v1/openai/chat/completions"}, "invalid_url"),
        ({"body": "hello"}, "missing_required_parameter"),
        ({"body": {"model": "deepseek-ai/DeepSeek-V3", "messages": []}}, "mismatched_model"),
    ],
)
def test_lines_breaking_the_rules_fail_the_batch(
    emulator: Emulator, session: requests.Session, bad: dict[str, Any], code: str
) -> None:
    file_id = upload(emulator, [line("r0"), line("r1", overrides=bad)])
    created = create(session, emulator, file_id).json()
    batch = get(session, emulator, created["id"])
    assert batch["status"] == "failed" and batch["failed_at"] is not None
    [error] = batch["errors"]["data"]
    assert (error["code"], error["line"]) == (code, 2)
    assert batch["output_file_id"] is None and batch["error_file_id"] is None


def test_a_line_that_is_not_json_fails_the_batch(
    emulator: Emulator, session: requests.Session
) -> None:
    file_id = str(emulator.batches.add_file(b'{"custom_id": \n', "x.jsonl", "batch")["id"])
    batch = get(session, emulator, create(session, emulator, file_id).json()["id"])
    assert batch["errors"]["data"][0]["code"] == "invalid_json_line"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"endpoint": "/v1/images/generations"}, "endpoint"),
        ({"completion_window": "48h"}, "completion_window"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"input_file_id": "file_missing"}, "id"),
    ],
)
def test_create_refuses_a_bad_request(
    emulator: Emulator, session: requests.Session, change: dict[str, Any], param: str
) -> None:
    reply = create(session, emulator, upload(emulator, [line("r0")]), **change)
    assert reply.status_code in (400, 404)
    assert reply.json()["error"]["param"] == param


def test_partial_failures_go_to_the_error_file(
    emulator: Emulator, session: requests.Session
) -> None:
    emulator.batches.inject(BatchFault(failed_ids=["r1"], fail_every=3))
    items = [line(f"r{i}") for i in range(6)]
    items[4]["body"]["max_tokens"] = 0  # the real-time route refuses it too
    batch = get(session, emulator, create(session, emulator, upload(emulator, items)).json()["id"])
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 6, "completed": 2, "failed": 4}
    errors = {e["custom_id"]: e for e in lines_of(session, emulator, batch["error_file_id"])}
    assert set(errors) == {"r1", "r2", "r4", "r5"}
    assert errors["r1"]["response"] is None
    assert errors["r1"]["error"]["code"] == "server_error"
    assert "max_tokens" in errors["r4"]["error"]["message"]
    answered = {o["custom_id"] for o in lines_of(session, emulator, batch["output_file_id"])}
    assert answered == {"r0", "r3"}


def test_an_injected_failure_fails_validation(
    emulator: Emulator, session: requests.Session
) -> None:
    emulator.batches.inject(BatchFault(fail="quota exceeded"))
    batch = get(
        session, emulator, create(session, emulator, upload(emulator, [line("r0")])).json()["id"]
    )
    assert batch["status"] == "failed"
    assert batch["errors"]["data"][0]["message"] == "quota exceeded"


def test_the_window_expires_with_finished_lines_written(
    emulator: Emulator, session: requests.Session
) -> None:
    emulator.batches.freeze()
    emulator.batches.set_phases(in_progress=2 * 86400)
    created = create(session, emulator, upload(emulator, [line(f"r{i}") for i in range(4)]))
    emulator.batches.advance(86400)
    batch = get(session, emulator, created.json()["id"])
    assert batch["status"] == "expired" and batch["expired_at"] is not None
    assert batch["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    expired = lines_of(session, emulator, batch["error_file_id"])
    assert {e["error"]["code"] for e in expired} == {"batch_expired"}
    assert len(lines_of(session, emulator, batch["output_file_id"])) == 2


def test_cancel_goes_through_cancelling(emulator: Emulator, session: requests.Session) -> None:
    emulator.batches.freeze()
    emulator.batches.set_phases(in_progress=100, cancelling=5)
    created = create(session, emulator, upload(emulator, [line(f"r{i}") for i in range(4)]))
    batch_id = created.json()["id"]
    emulator.batches.advance(50)
    cancelled = session.post(f"{emulator.url}{BATCHES}/{batch_id}/cancel").json()
    assert cancelled["status"] == "cancelling" and cancelled["cancelling_at"] is not None
    emulator.batches.advance(5)
    batch = get(session, emulator, batch_id)
    assert batch["status"] == "cancelled"
    assert batch["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    again = session.post(f"{emulator.url}{BATCHES}/{batch_id}/cancel")
    assert again.status_code == 409


def test_lists_page_with_cursors(emulator: Emulator, session: requests.Session) -> None:
    ids = [upload(emulator, [line("r0")]) for _ in range(5)]
    page = session.get(f"{emulator.url}{FILES}?limit=2&order=asc").json()
    assert [f["id"] for f in page["data"]] == ids[:2] and page["has_more"] is True
    rest = session.get(f"{emulator.url}{FILES}?limit=10&order=asc&after={page['last_id']}").json()
    assert [f["id"] for f in rest["data"]] == ids[2:] and rest["has_more"] is False
    newest = session.get(f"{emulator.url}{FILES}?purpose=batch").json()
    assert [f["id"] for f in newest["data"]] == ids[::-1]
    batch_ids = [create(session, emulator, ids[0]).json()["id"] for _ in range(3)]
    listed = session.get(f"{emulator.url}{BATCHES}?limit=2").json()
    assert [b["id"] for b in listed["data"]] == batch_ids[::-1][:2]
    assert session.get(f"{emulator.url}{BATCHES}?limit=101").status_code == 400


def test_files_are_retrieved_and_deleted(emulator: Emulator, session: requests.Session) -> None:
    file_id = upload(emulator, [line("r0")])
    described = session.get(f"{emulator.url}{FILES}/{file_id}").json()
    assert described["bytes"] == len(jsonl([line("r0")])) and described["purpose"] == "batch"
    gone = session.delete(f"{emulator.url}{FILES}/{file_id}").json()
    assert gone == {"id": file_id, "object": "file", "deleted": True}
    assert session.get(f"{emulator.url}{FILES}/{file_id}").status_code == 404
    assert session.get(f"{emulator.url}{FILES}/{file_id}/content").status_code == 404
    assert session.get(f"{emulator.url}{FILES}x").status_code == 404


def test_the_routes_need_the_key(emulator: Emulator) -> None:
    assert requests.get(emulator.url + FILES).status_code == 401
    assert requests.get(emulator.url + BATCHES).status_code == 401


def test_a_download_breaks_halfway(emulator: Emulator, session: requests.Session) -> None:
    batch = get(
        session, emulator, create(session, emulator, upload(emulator, [line("r0")])).json()["id"]
    )
    emulator.inject(Fault(drop="after_events", after_events=1), route=FILES)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        session.get(f"{emulator.url}{FILES}/{batch['output_file_id']}/content")
    assert lines_of(session, emulator, batch["output_file_id"])  # whole the next time


def test_peak_concurrency_counts_requests_per_model(emulator: Emulator) -> None:
    stall = {"X-Emulator-Fault": json.dumps({"stall": 0.3})}
    gate = threading.Barrier(3)

    def call(model_body: dict[str, Any]) -> None:
        gate.wait()
        with requests.Session() as s:
            s.post(
                emulator.url + "/v1/openai/chat/completions",
                json=model_body,
                headers={**stall, "Authorization": "Bearer k"},
            )

    threads = [threading.Thread(target=call, args=(chat_body(),)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert emulator.peak_concurrency(TEXT_MODEL) == 3
    assert emulator.peak_concurrency() == 3
    assert emulator.peak_concurrency("other/model") == 0
    # A reset forgets the peaks of requests that have finished (a server thread may still be
    # leaving the last one just after its client read the answer).
    deadline = time.monotonic() + 5
    emulator.reset()
    while emulator.peak_concurrency(TEXT_MODEL) != 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
        emulator.reset()


def test_a_file_upload_takes_deepinfras_file_limit_not_the_form_parsers(
    emulator: Emulator, session: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lowered stand-ins for the real limits: 100 MB for any form, 512 MB for a file.
    monkeypatch.setattr(emu_multipart, "MAX_UPLOAD_BYTES", 1 << 20)
    monkeypatch.setattr(emu_batches, "MAX_FILE_BYTES", 3 << 20)
    data = jsonl([line(str(i), "x" * 1000) for i in range(2000)])  # about 2.3 MB
    assert 1 << 20 < len(data) < 3 << 20

    def send(path: str, data: bytes) -> requests.Response:
        files = {"file": ("in.jsonl", data, "application/jsonl")}
        return session.post(emulator.url + path, files=files, data={"purpose": "batch"})

    stored = send(FILES, data)
    assert stored.status_code == 200, stored.text
    file_id = stored.json()["id"]
    assert stored.json()["bytes"] == len(data)
    assert emulator.batches.file_data(file_id) == data  # kept whole, on disk
    reply = create(session, emulator, file_id)
    assert reply.status_code == 200 and get(session, emulator, reply.json()["id"])["status"]
    # Every other multipart route keeps the parser's limit...
    other = send("/v1/openai/audio/transcriptions", data)
    assert other.status_code == 413 and str(1 << 20) in other.text
    # ...and a file over DeepInfra's limit is refused, naming it.
    over = send(FILES, data + b"x" * (1 << 20))
    assert over.status_code == 413 and "512 MB" in over.text
