"""Native inference for text models, the partner image answer, and the any-model mode."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest
import requests

from deepinfra_sdk.emulator import CATALOGUE, Emulator

from .helpers import CHAT, TEXT_MODEL, chat_body, sse_payloads

EMBED_MODEL = "BAAI/bge-large-en-v1.5"


def native(
    session: requests.Session, emulator: Emulator, model: str, body: Dict[str, Any]
) -> requests.Response:
    return session.post(f"{emulator.url}/v1/inference/{model}", json=body)


def test_text_generation_answers_results(emulator: Emulator, session: requests.Session) -> None:
    r = native(session, emulator, TEXT_MODEL, {"input": "[INST] hello [/INST]"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "results",
        "num_tokens",
        "num_input_tokens",
        "request_id",
        "inference_status",
    }
    (result,) = body["results"]
    assert len(result["generated_text"].split()) == body["num_tokens"] == 24
    assert body["request_id"] == r.headers["x-request-id"]
    status = body["inference_status"]
    assert status["status"] == "succeeded"
    assert (status["tokens_generated"], status["tokens_input"]) == (24, body["num_input_tokens"])
    assert status["cost"] > 0
    # Deterministic per input, like chat.
    again = native(session, emulator, TEXT_MODEL, {"input": "[INST] hello [/INST]"}).json()
    assert again["results"] == body["results"]


def test_text_generation_options(emulator: Emulator, session: requests.Session) -> None:
    body = native(
        session, emulator, TEXT_MODEL, {"input": "x", "max_new_tokens": 5, "num_responses": 2}
    ).json()
    assert [len(r["generated_text"].split()) for r in body["results"]] == [5, 5]
    assert body["num_tokens"] == 10
    full = body["results"][0]["generated_text"]
    word = full.split()[2]
    cut = native(
        session, emulator, TEXT_MODEL, {"input": "x", "max_new_tokens": 5, "stop": [word]}
    ).json()
    assert word not in cut["results"][0]["generated_text"]
    assert full.startswith(cut["results"][0]["generated_text"])
    bad = native(session, emulator, TEXT_MODEL, {"input": 3})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "input"]


def test_text_generation_stream(emulator: Emulator, session: requests.Session) -> None:
    r = native(session, emulator, TEXT_MODEL, {"input": "x", "max_new_tokens": 4, "stream": True})
    assert r.headers["Content-Type"] == "text/event-stream"
    payloads = sse_payloads(r.content)
    assert payloads[-1] == "[DONE]"
    events = [json.loads(p) for p in payloads[:-1]]
    assert len(events) == 4
    for event in events[:-1]:
        assert set(event["token"]) == {"id", "text", "logprob", "special"}
        assert event["generated_text"] is None and event["details"] is None
    text = "".join(e["token"]["text"] for e in events)
    assert events[-1]["generated_text"] == text
    assert events[-1]["details"]["finish_reason"] == "length"
    whole = native(session, emulator, TEXT_MODEL, {"input": "x", "max_new_tokens": 4}).json()
    assert whole["results"][0]["generated_text"] == text


def test_embeddings_native_and_openai_agree(emulator: Emulator, session: requests.Session) -> None:
    r = native(session, emulator, EMBED_MODEL, {"inputs": ["one", "two words"]})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"embeddings", "input_tokens", "request_id", "inference_status"}
    assert [len(v) for v in body["embeddings"]] == [1024, 1024]
    assert body["input_tokens"] == 3
    openai = session.post(
        emulator.url + "/v1/openai/embeddings", json={"model": EMBED_MODEL, "input": ["one"]}
    ).json()
    assert openai["data"][0]["embedding"] == body["embeddings"][0]
    raw = native(session, emulator, EMBED_MODEL, {"inputs": ["one"], "normalize": False}).json()
    assert sum(v * v for v in raw["embeddings"][0]) > 1.1


def test_over_long_input_is_a_json_500(emulator: Emulator, session: requests.Session) -> None:
    # The recorded answer (wire.md, Errors, 500): JSON, not text.
    r = native(session, emulator, EMBED_MODEL, {"inputs": ["word " * 600]})
    assert r.status_code == 500
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {
        "error": {"message": "Requested input length 600 exceeds maximum input length 512"}
    }


def test_partner_image_model_answers_an_image_url(
    emulator: Emulator, session: requests.Session
) -> None:
    r = native(session, emulator, "black-forest-labs/FLUX-1.1-pro", {"prompt": "a cat"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"image_url", "inference_status", "request_id", "status"}
    assert body["status"] == "ok"
    assert body["image_url"].startswith("https://")
    assert set(body["inference_status"]) == {"cost", "runtime_ms"}
    entry = next(e for e in CATALOGUE if e["model_name"] == "black-forest-labs/FLUX-1.1-pro")
    assert (entry["type"], entry["reported_type"]) == ("custom", "text-to-image")


def test_unknown_models_are_refused_unless_any_model(
    emulator: Emulator, session: requests.Session
) -> None:
    unknown = "someone/new-model-7B"
    assert session.post(emulator.url + CHAT, json=chat_body(model=unknown)).status_code == 404
    assert native(session, emulator, unknown, {"input": "x"}).status_code == 404
    emulator.any_model = True
    chat = session.post(emulator.url + CHAT, json=chat_body(model=unknown))
    assert chat.status_code == 200
    assert chat.json()["model"] == unknown
    assert native(session, emulator, unknown, {"input": "x"}).json()["results"]
    assert native(session, emulator, unknown, {"inputs": ["x"]}).json()["embeddings"]
    assert native(session, emulator, unknown, {"prompt": "x"}).json()["images"]
    embeddings = session.post(
        emulator.url + "/v1/openai/embeddings", json={"model": unknown, "input": "x"}
    )
    assert len(embeddings.json()["data"][0]["embedding"]) == 768
    assert session.get(f"{emulator.url}/models/{unknown}").json()["model_name"] == unknown
    # Still a name: a malformed one is refused.
    assert native(session, emulator, "no-slash", {"input": "x"}).status_code == 404


@pytest.mark.parametrize("flag", ["--any-model", "--shapes=lean", "--ping-interval=0"])
def test_cli_accepts_the_fidelity_options(flag: str) -> None:
    from deepinfra_sdk.emulator._cli import build_parser

    args = build_parser().parse_args([flag])
    assert (args.any_model, args.shapes, args.ping_interval) != (False, "recorded", 15.0)
