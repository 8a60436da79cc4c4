"""Images: real PNGs, the native route (flat and Cog-style), the OpenAI-style route."""

from __future__ import annotations

import base64
import struct
import time
import zlib
from typing import Any, Dict, List, Tuple

import pytest
import requests

from deepinfra_sdk.emulator import Emulator, render_png

NATIVE = "/v1/inference/"
PREFIX = "data:image/png;base64,"


def decode_png(data: bytes) -> Tuple[int, int, bytes]:
    """Parse a PNG strictly: signature, chunk CRCs, IHDR, IDAT size; return (w, h, raw rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds, idat = 8, [], b""
    width = height = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + payload) & 0xFFFFFFFF
        kinds.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", payload)
            assert (depth, colour, interlace) == (8, 2, 0)
        elif kind == b"IDAT":
            idat += payload
        pos += 12 + length
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    assert b"IDAT" in kinds
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + 3 * width)
    return width, height, raw


def test_png_is_valid_deterministic_and_fast() -> None:
    started = time.perf_counter()
    png = render_png(1024, 1024, "a lighthouse", 42, 0)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.3
    width, height, raw = decode_png(png)
    assert (width, height) == (1024, 1024)
    assert all(raw[y * 3073] == 0 for y in range(height))  # filter byte of each row
    assert render_png(1024, 1024, "a lighthouse", 42, 0) == png
    assert render_png(1024, 1024, "a lighthouse", 43, 0) != png
    assert render_png(1024, 1024, "a lighthouse", 42, 1) != png
    assert decode_png(render_png(72, 40, "small", 1))[:2] == (72, 40)
    assert len(set(raw)) > 8  # not a flat colour


def native(
    session: requests.Session, emulator: Emulator, model: str, body: Any
) -> requests.Response:
    return session.post(emulator.url + NATIVE + model, json=body)


def test_native_shape(emulator: Emulator, session: requests.Session) -> None:
    r = native(
        session,
        emulator,
        "stabilityai/sd3.5",
        {
            "prompt": "a cat",
            "num_images": 2,
            "width": 128,
            "height": 64,
            "seed": 7,
            "negative_prompt": "dogs",
            "num_inference_steps": 4,
            "guidance_scale": 3.5,
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert len(body["images"]) == 2
    for uri in body["images"]:
        assert uri.startswith(PREFIX)
        assert decode_png(base64.b64decode(uri[len(PREFIX) :]))[:2] == (128, 64)
    assert body["images"][0] != body["images"][1]
    assert body["nsfw_content_detected"] == [False, False]
    assert body["seed"] == 7
    assert body["request_id"] == r.headers["x-request-id"]
    status = body["inference_status"]
    assert status["status"] == "succeeded"
    assert status["tokens_generated"] == 0
    assert status["tokens_input"] == 0
    assert isinstance(status["runtime_ms"], int)
    # image_units pricing: 6 cents per 1024x1024 image, in USD
    assert status["cost"] == pytest.approx(2 * 0.06 * (128 * 64) / (1024 * 1024))
    again = native(
        session,
        emulator,
        "stabilityai/sd3.5",
        {"prompt": "a cat", "num_images": 2, "width": 128, "height": 64, "seed": 7},
    )
    assert again.json()["images"] == body["images"]


def test_native_defaults_come_from_the_catalogue(
    emulator: Emulator, session: requests.Session
) -> None:
    body = native(session, emulator, "stabilityai/sdxl-turbo", {"prompt": "x"}).json()
    uri = body["images"][0]
    assert decode_png(base64.b64decode(uri[len(PREFIX) :]))[:2] == (512, 512)
    assert isinstance(body["seed"], int)
    other = native(session, emulator, "stabilityai/sdxl-turbo", {"prompt": "x"}).json()
    assert other["request_id"] != body["request_id"]


def test_cog_style_model(emulator: Emulator, session: requests.Session) -> None:
    r = native(
        session,
        emulator,
        "stability-ai/sdxl",
        {"input": {"prompt": "a cat", "width": 64, "height": 64, "num_outputs": 2}},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "succeeded"
    assert isinstance(body["id"], str)
    assert body["id"]
    assert len(body["output"]) == 2
    assert all(o.startswith(PREFIX) for o in body["output"])
    assert body["inference_status"]["status"] == "succeeded"
    assert body["request_id"] == r.headers["x-request-id"]
    r = native(session, emulator, "stability-ai/sdxl", {"prompt": "flat body"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "input"]
    r = native(session, emulator, "stability-ai/sdxl", {"input": {}})
    assert r.json()["detail"][0]["loc"] == ["body", "input", "prompt"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "prompt"]),
        ({"prompt": 5}, ["body", "prompt"]),
        ({"prompt": "x", "num_images": 5}, ["body", "num_images"]),
        ({"prompt": "x", "width": 100}, ["body", "width"]),
        ({"prompt": "x", "height": 4096}, ["body", "height"]),
        ({"prompt": "x", "width": "wide"}, ["body", "width"]),
        ({"prompt": "x", "seed": -1}, ["body", "seed"]),
    ],
)
def test_native_validation(
    emulator: Emulator, session: requests.Session, body: Dict[str, Any], loc: List[Any]
) -> None:
    r = native(session, emulator, "black-forest-labs/FLUX-1-schnell", body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize(
    ("model", "status", "words"),
    [
        (
            "runwayml/stable-diffusion-v1-5",
            404,
            "Model runwayml/stable-diffusion-v1-5 is deprecated",
        ),
        ("nobody/nothing", 404, "not found"),
        ("Wan-AI/Wan2.1-T2V-1.3B", 400, "text-to-video"),
        ("not..a..model", 404, "not found"),
    ],
)
def test_native_model_errors(
    emulator: Emulator, session: requests.Session, model: str, status: int, words: str
) -> None:
    r = native(session, emulator, model, {"prompt": "x"})
    assert r.status_code == status
    assert words in r.json()["error"]


def test_native_needs_auth(emulator: Emulator) -> None:
    r = requests.post(emulator.url + NATIVE + "stabilityai/sd3.5", json={"prompt": "x"})
    assert r.status_code == 401


def test_openai_images(emulator: Emulator, session: requests.Session) -> None:
    r = session.post(
        emulator.url + "/v1/openai/images/generations",
        json={
            "model": "stabilityai/sd3.5",
            "prompt": "a boat",
            "n": 2,
            "size": "256x128",
            "response_format": "b64_json",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body["created"], int)
    assert len(body["data"]) == 2
    for item in body["data"]:
        assert not item["b64_json"].startswith("data:")
        assert decode_png(base64.b64decode(item["b64_json"]))[:2] == (256, 128)
        assert item["revised_prompt"] == "a boat"
    default = session.post(
        emulator.url + "/v1/openai/images/generations",
        json={"model": "black-forest-labs/FLUX-1-schnell", "prompt": "x"},
    ).json()
    assert decode_png(base64.b64decode(default["data"][0]["b64_json"]))[:2] == (1024, 1024)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"model": "stabilityai/sd3.5", "prompt": "x", "size": "big"}, 422),
        ({"model": "stabilityai/sd3.5", "prompt": "x", "size": "10x10"}, 422),
        ({"model": "stabilityai/sd3.5", "prompt": "x", "n": 9}, 422),
        ({"model": "stabilityai/sd3.5"}, 422),
        ({"model": "stabilityai/sd3.5", "prompt": "x", "response_format": "url"}, 400),
        ({"model": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "prompt": "x"}, 400),
        ({"model": "runwayml/stable-diffusion-v1-5", "prompt": "x"}, 404),
    ],
)
def test_openai_images_errors(
    emulator: Emulator, session: requests.Session, body: Dict[str, Any], status: int
) -> None:
    r = session.post(emulator.url + "/v1/openai/images/generations", json=body)
    assert r.status_code == status


def test_image_edits_draw_from_the_prompt_and_the_image(
    emulator: Emulator, session: requests.Session
) -> None:
    url = emulator.url + "/v1/openai/images/edits"
    picture = render_png(64, 64, "source", 1)
    fields = {"model": "black-forest-labs/FLUX-1-schnell", "prompt": "add a hat", "size": "128x64"}
    first = session.post(url, data=fields, files={"image": ("in.png", picture)}).json()
    again = session.post(url, data=fields, files={"image": ("in.png", picture)}).json()
    assert first["data"] == again["data"]
    png = base64.b64decode(first["data"][0]["b64_json"])
    assert png.startswith(b"\x89PNG") and struct.unpack(">II", png[16:24]) == (128, 64)
    assert first["data"][0]["revised_prompt"] == "add a hat"
    other = render_png(64, 64, "another", 2)
    changed = session.post(url, data=fields, files={"image": ("in.png", other)}).json()
    assert changed["data"] != first["data"]
    two = session.post(
        url, data={**fields, "n": "2"}, files={"image": picture, "mask": ("m.png", picture)}
    )
    assert len(two.json()["data"]) == 2
    not_image = session.post(url, data=fields, files={"image": ("a.txt", b"hello")})
    assert not_image.status_code == 400 and not_image.json()["error"]["param"] == "image"
    bad_mask = session.post(url, data=fields, files={"image": picture, "mask": b"x"})
    assert bad_mask.json()["error"]["param"] == "mask"
    no_image = session.post(url, data=fields, files={"x": b"1"})
    assert no_image.status_code == 400
