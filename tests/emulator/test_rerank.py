"""The emulator's native rerankers and classifiers, deployments and webhooks."""

from __future__ import annotations

import pytest
import requests

from deepinfra_sdk.emulator import Emulator
from tests._servers import webhook_receiver

RERANK = "/v1/inference/BAAI/bge-reranker-v2-m3"
CLASSIFY = "/v1/inference/distilbert/distilbert-base-uncased-finetuned-sst-2-english"
DOCS = ["Paris is the capital of France.", "Berlin is the capital of Germany.", "Cats sleep."]


def test_rerank_scores_by_word_overlap_in_input_order(
    emulator: Emulator, session: requests.Session
) -> None:
    query = "What is the capital of France?"
    r = session.post(emulator.url + RERANK, json={"queries": [query] * 3, "documents": DOCS})
    body = r.json()
    scores = body["scores"]
    assert len(scores) == 3 and all(0 <= s <= 1 for s in scores)
    assert scores[0] > scores[1] > scores[2]
    assert body["input_tokens"] > 0 and body["inference_status"]["cost"] > 0
    one = session.post(emulator.url + RERANK, json={"queries": [query], "documents": DOCS})
    assert one.json()["scores"] == scores  # one query serves every document
    lone = session.post(emulator.url + RERANK, json={"query": query, "documents": DOCS})
    assert lone.json()["scores"] == scores
    bad = session.post(emulator.url + RERANK, json={"queries": ["a", "b"], "documents": DOCS})
    assert bad.status_code == 422
    assert session.post(emulator.url + RERANK, json={"queries": [query]}).status_code == 422


def test_classifier_labels_best_first(emulator: Emulator, session: requests.Session) -> None:
    good = session.post(emulator.url + CLASSIFY, json={"input": "a great and happy day"}).json()
    assert [r["label"] for r in good["results"]] == ["POSITIVE", "NEGATIVE"]
    bad = session.post(emulator.url + CLASSIFY, json={"input": "terrible, awful"}).json()
    assert bad["results"][0]["label"] == "NEGATIVE"
    assert sum(r["score"] for r in bad["results"]) == pytest.approx(1)
    assert session.post(emulator.url + CLASSIFY, json={"input": 3}).status_code == 422


def test_a_deployment_reaches_its_model(emulator: Emulator, session: requests.Session) -> None:
    r = session.post(
        emulator.url + "/v1/inference/deploy/d-emulator-classifier", json={"input": "good"}
    )
    assert r.json()["results"][0]["label"] == "POSITIVE"
    missing = session.post(emulator.url + "/v1/inference/deploy/nope", json={"input": "x"})
    assert missing.status_code == 404 and "nope" in missing.json()["error"]


def test_a_webhook_call_is_queued_then_delivered(
    emulator: Emulator, session: requests.Session
) -> None:
    with webhook_receiver() as (url, delivered, arrived):
        r = session.post(emulator.url + CLASSIFY, json={"input": "good", "webhook": url})
        queued = r.json()
        assert queued["inference_status"]["status"] == "queued"
        assert "results" not in queued
        assert arrived.wait(10)
    (event,) = delivered
    assert event["request_id"] == queued["request_id"]
    assert event["inference_status"]["status"] == "succeeded"
    assert event["results"]["results"][0]["label"] == "POSITIVE"
    bad = session.post(emulator.url + CLASSIFY, json={"input": "x", "webhook": "ftp://x"})
    assert bad.status_code == 422
