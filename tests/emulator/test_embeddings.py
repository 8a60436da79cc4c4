"""Embeddings: deterministic unit vectors, float and base64 encodings, dimensions, usage."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any, Dict, List

import pytest
import requests

from deepinfra_sdk.emulator import Emulator

ROUTE = "/v1/openai/embeddings"


def embed(session: requests.Session, emulator: Emulator, **body: object) -> requests.Response:
    return session.post(emulator.url + ROUTE, json=body)


def test_shape_and_default_dimensions(emulator: Emulator, session: requests.Session) -> None:
    r = embed(session, emulator, model="BAAI/bge-large-en-v1.5", input=["one", "two words"])
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list"
    assert body["model"] == "BAAI/bge-large-en-v1.5"
    assert [d["index"] for d in body["data"]] == [0, 1]
    for item in body["data"]:
        assert item["object"] == "embedding"
        assert len(item["embedding"]) == 1024
        assert math.isclose(math.sqrt(sum(v * v for v in item["embedding"])), 1, rel_tol=1e-5)
    assert body["usage"]["prompt_tokens"] == 3 == body["usage"]["total_tokens"]
    mini = embed(session, emulator, model="sentence-transformers/all-MiniLM-L6-v2", input="x")
    assert len(mini.json()["data"][0]["embedding"]) == 384


def test_deterministic_per_text(emulator: Emulator, session: requests.Session) -> None:
    def vector(text: str) -> List[float]:
        r = embed(session, emulator, model="BAAI/bge-large-en-v1.5", input=text)
        return list(r.json()["data"][0]["embedding"])

    assert vector("same") == vector("same")
    a, b = vector("same"), vector("other")
    assert abs(sum(x * y for x, y in zip(a, b))) < 0.2


def test_base64_is_little_endian_float32_of_the_same_vector(
    emulator: Emulator, session: requests.Session
) -> None:
    floats = embed(session, emulator, model="BAAI/bge-large-en-v1.5", input="v").json()
    packed = embed(
        session, emulator, model="BAAI/bge-large-en-v1.5", input="v", encoding_format="base64"
    ).json()
    raw = base64.b64decode(packed["data"][0]["embedding"])
    assert len(raw) == 4 * 1024
    assert list(struct.unpack("<1024f", raw)) == floats["data"][0]["embedding"]


def test_dimensions(emulator: Emulator, session: requests.Session) -> None:
    r = embed(session, emulator, model="BAAI/bge-large-en-v1.5", input="v", dimensions=8)
    vector = r.json()["data"][0]["embedding"]
    assert len(vector) == 8
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1, rel_tol=1e-5)
    r = embed(session, emulator, model="BAAI/bge-large-en-v1.5", input="v", dimensions=2048)
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"model": "BAAI/bge-large-en-v1.5"}, 422),
        ({"model": "BAAI/bge-large-en-v1.5", "input": []}, 422),
        ({"model": "BAAI/bge-large-en-v1.5", "input": [{"a": 1}]}, 422),
        ({"model": "BAAI/bge-large-en-v1.5", "input": "x", "encoding_format": "hex"}, 422),
        ({"input": "x"}, 422),
        ({"model": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "input": "x"}, 400),
        ({"model": "nobody/nothing", "input": "x"}, 404),
    ],
)
def test_errors(
    emulator: Emulator, session: requests.Session, body: Dict[str, Any], status: int
) -> None:
    assert session.post(emulator.url + ROUTE, json=body).status_code == status


def test_token_arrays_are_accepted(emulator: Emulator, session: requests.Session) -> None:
    r = embed(session, emulator, model="BAAI/bge-large-en-v1.5", input=[[1, 2, 3], [4]])
    assert len(r.json()["data"]) == 2


def test_recorded_and_lean_shapes(emulator: Emulator, session: requests.Session) -> None:
    # real-traffic/embeddings_bge_base_2024-11.json: object, model, usage (no cost), data;
    # items index first.
    body = embed(session, emulator, model="BAAI/bge-large-en-v1.5", input="x").json()
    assert list(body) == ["object", "model", "usage", "data"]
    assert body["usage"] == {"prompt_tokens": 1, "total_tokens": 1}
    assert list(body["data"][0]) == ["index", "object", "embedding"]
    emulator.shapes = "lean"
    lean = embed(session, emulator, model="BAAI/bge-large-en-v1.5", input="x").json()
    assert lean["usage"]["estimated_cost"] > 0
    assert lean["data"][0]["embedding"] == body["data"][0]["embedding"]
