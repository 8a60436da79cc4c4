"""The emulator's text completions: chat's answers for a raw prompt, streamed or not."""

from __future__ import annotations

import requests

from deepinfra_sdk.emulator import Emulator

from .helpers import TEXT_MODEL, chunks, sse_payloads

URL = "/v1/openai/completions"


def test_completion_is_deterministic_with_usage(
    emulator: Emulator, session: requests.Session
) -> None:
    body = {"model": TEXT_MODEL, "prompt": "Once upon a time", "max_tokens": 5}
    first = session.post(emulator.url + URL, json=body).json()
    second = session.post(emulator.url + URL, json=body).json()
    assert first["object"] == "text_completion" and first["id"].startswith("cmpl-")
    (choice,) = first["choices"]
    assert choice["text"] == second["choices"][0]["text"]
    assert len(choice["text"].split()) == 5 and choice["finish_reason"] == "length"
    assert first["usage"]["completion_tokens"] == 5
    assert first["usage"]["estimated_cost"] > 0
    stopped = session.post(emulator.url + URL, json={**body, "max_tokens": None, "stop": ["."]})
    assert stopped.json()["choices"][0]["finish_reason"] == "stop"
    assert session.post(emulator.url + URL, json={"model": TEXT_MODEL}).status_code == 422


def test_stream_carries_text_pieces_and_usage_on_the_finish(
    emulator: Emulator, session: requests.Session
) -> None:
    body = {"model": TEXT_MODEL, "prompt": "Once upon a time", "max_tokens": 6}
    whole = session.post(emulator.url + URL, json=body).json()
    r = session.post(emulator.url + URL, json={**body, "stream": True})
    assert r.headers["Content-Type"].startswith("text/event-stream")
    payloads = sse_payloads(r.content)
    assert payloads[-1] == "[DONE]"
    parts = chunks(payloads)
    assert "".join(c["choices"][0]["text"] for c in parts) == whole["choices"][0]["text"]
    assert parts[-1]["choices"][0]["finish_reason"] == "length"
    assert parts[-1]["usage"] == whole["usage"]
    assert all(c.get("usage") is None for c in parts[:-1])
