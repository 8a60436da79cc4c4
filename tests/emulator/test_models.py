"""Model routes: /models/featured, /models/list, /models/{name}, /v1/openai/models."""

from __future__ import annotations

from typing import Any, Dict

import pytest
import requests

from deepinfra_sdk.emulator import CATALOGUE, FEATURED, Emulator

from .helpers import TEXT_MODEL

REQUIRED = ("model_name", "type", "reported_type", "pricing")
OPTIONAL = ("description", "cover_img_url", "tags", "max_tokens", "replaced_by", "deprecated")
WIRE_MD_ENTRY: Dict[str, Any] = {
    "model_name": "runwayml/stable-diffusion-v1-5",
    "type": "text-to-image",
    "reported_type": "text-to-image",
    "description": "Most widely used version of Stable Diffusion. Trained on 512x512 images",
    "cover_img_url": "https://shared.deepinfra.com/models/runwayml/stable-diffusion-v1-5/cover_image.jpg",
    "tags": [],
    "pricing": {"type": "time", "cents_per_sec": 0.05},
    "max_tokens": None,
    "replaced_by": "stabilityai/sdxl-turbo",
    "deprecated": 1727456682,
    "quantization": None,
    "private": 0,
}


def test_list_is_the_whole_catalogue_without_auth(emulator: Emulator) -> None:
    r = requests.get(emulator.url + "/models/list")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == CATALOGUE
    assert 10 <= len(CATALOGUE) <= 30
    # As real listings: entries whose type and reported type differ, and the types the
    # original provider's split must skip.
    assert any(e["type"] != e["reported_type"] for e in CATALOGUE)
    assert {"text-to-video", "text-to-speech", "reranker"} <= {e["type"] for e in CATALOGUE}
    for entry in r.json():
        assert all(name in entry for name in REQUIRED + OPTIONAL)
        assert entry["pricing"]["type"] in {
            "tokens",
            "time",
            "image_units",
            "input_tokens",
            "input_length",
            "input_character_length",
        }


def test_featured_is_a_subset_with_the_required_models(emulator: Emulator) -> None:
    r = requests.get(emulator.url + "/models/featured")
    assert r.status_code == 200
    names = [e["model_name"] for e in r.json()]
    assert names == FEATURED
    for must in (
        TEXT_MODEL,
        "stabilityai/sd3.5",
        "runwayml/stable-diffusion-v1-5",
        "BAAI/bge-large-en-v1.5",
    ):
        assert must in names
    assert len(names) < len(CATALOGUE)


def test_catalogue_covers_every_kind_of_model() -> None:
    by_name = {e["model_name"]: e for e in CATALOGUE}
    assert by_name["runwayml/stable-diffusion-v1-5"] == WIRE_MD_ENTRY
    assert by_name[TEXT_MODEL]["pricing"]["type"] == "tokens"
    turbo = by_name["stabilityai/sdxl-turbo"]["pricing"]
    assert turbo["type"] == "image_units"
    assert turbo["default_width"]
    assert turbo["default_height"]
    types = {e["type"] for e in CATALOGUE}
    assert {
        "text-generation",
        "text-to-image",
        "embeddings",
        "text-to-speech",
        "automatic-speech-recognition",
    } <= types
    for name in (
        "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "Qwen/Qwen2.5-72B-Instruct",
        "deepseek-ai/DeepSeek-R1",
        "black-forest-labs/FLUX-1-schnell",
        "stability-ai/sdxl",
        "sentence-transformers/all-MiniLM-L6-v2",
    ):
        assert name in by_name


def test_model_info_needs_auth_and_knows_unknowns(
    emulator: Emulator, session: requests.Session
) -> None:
    r = session.get(f"{emulator.url}/models/{TEXT_MODEL}")
    assert r.status_code == 200
    assert r.json()["model_name"] == TEXT_MODEL
    r = session.get(f"{emulator.url}/models/meta-llama%2FLlama-3.3-70B-Instruct-Turbo")
    assert r.status_code == 200
    r = session.get(f"{emulator.url}/models/nobody/nothing")
    assert r.status_code == 404
    assert isinstance(r.json()["error"], str)
    r = requests.get(f"{emulator.url}/models/{TEXT_MODEL}")
    assert r.status_code == 401


def test_openai_model_list(emulator: Emulator, session: requests.Session) -> None:
    r = session.get(emulator.url + "/v1/openai/models")
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert TEXT_MODEL in ids
    assert "runwayml/stable-diffusion-v1-5" not in ids  # deprecated models are not offered
    for model in body["data"]:
        assert set(model) == {"id", "object", "created", "owned_by", "root", "parent", "metadata"}
        assert model["root"] == model["id"] and model["parent"] is None
        assert set(model["metadata"]) == {
            "description",
            "context_length",
            "max_tokens",
            "pricing",
            "tags",
        }
        assert model["object"] == "model"
        assert isinstance(model["created"], int)
    one = session.get(f"{emulator.url}/v1/openai/models/{TEXT_MODEL}")
    assert one.json()["id"] == TEXT_MODEL
    assert session.get(f"{emulator.url}/v1/openai/models/a/b").status_code == 404
    assert requests.get(emulator.url + "/v1/openai/models").status_code == 401


@pytest.mark.parametrize(
    ("model", "variant", "field"),
    [
        ("openai/whisper-large-v3", "default", "audio"),
        ("BAAI/bge-reranker-v2-m3", "default", "queries"),
        ("stabilityai/sd3.5", "default", "prompt"),
        (TEXT_MODEL, "openai-chat-completions", "model"),
    ],
)
def test_model_schema_says_what_a_model_takes(
    emulator: Emulator, session: requests.Session, model: str, variant: str, field: str
) -> None:
    r = session.get(f"{emulator.url}/models/{model}/schema/{variant}")
    assert r.status_code == 200
    body = r.json()
    assert body["variant"] == {"key": variant, "url": f"/models/{model}/schema/{variant}"}
    assert field in body["fields_in"] and field in body["schema_in"]["properties"]
    assert {"request_id", "inference_status"} <= set(body["schema_out"]["properties"])
    assert body["schema_stream"] is None


def test_an_unknown_schema_variant_is_a_404(emulator: Emulator, session: requests.Session) -> None:
    r = session.get(f"{emulator.url}/models/{TEXT_MODEL}/schema/openai-tts")
    assert r.status_code == 404
    assert "openai-chat-completions" in r.json()["error"]
    assert session.get(f"{emulator.url}/models/a/b/schema/default").status_code == 404
