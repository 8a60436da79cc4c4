"""The fault matrix, image answers gone wrong, on both image endpoints (native
``/v1/inference/{model}`` and OpenAI-style ``/v1/openai/images/generations``), on the sync
client and the async facade (asyncio, trio).

A response the caller cannot use (no image, a cut-off image) raises
``APIResponseValidationError`` from ``generate`` itself, with the request id and the body; a
usable one (a URL, Cog-style ``output``, a data URI whose declared type is wrong) gives an
``ImageResponse`` that tells the truth about its bytes. An image request is never repeated.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deepinfra_sdk import APIResponseValidationError, ImageResponse
from deepinfra_sdk.emulator import Emulator, Fault

from .conftest import NATIVE_IMAGES, OPENAI_IMAGES, Api

ROUTES = {"native": NATIVE_IMAGES, "openai": OPENAI_IMAGES}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def generate(api: Api, endpoint: str, emu: Emulator, kind: str) -> ImageResponse:
    emu.inject(Fault(image_result=kind, request_id=f"rid-{kind}"), route=ROUTES[endpoint])
    result: ImageResponse = api.image(api=endpoint, seed=7)
    return result


def assert_sent_once(emu: Emulator, api: Api, endpoint: str) -> None:
    assert emu.request_count(ROUTES[endpoint], "POST") == 1
    assert api.sleeps == []


@pytest.mark.parametrize("endpoint", ["native", "openai"])
def test_truncated_base64_is_refused(api: Api, emu: Emulator, endpoint: str) -> None:
    with pytest.raises(APIResponseValidationError) as info:
        generate(api, endpoint, emu, "truncated_base64")
    err = info.value
    assert err.message.startswith("image 0 of the response is broken:")
    assert "cut short" in err.message or "truncated" in err.message
    assert err.request_id == "rid-truncated_base64"
    assert err.status_code == 200
    assert isinstance(err.body, dict)  # the answer is kept, for a bug report
    assert_sent_once(emu, api, endpoint)


@pytest.mark.parametrize("endpoint", ["native", "openai"])
def test_an_empty_image_list_is_refused(api: Api, emu: Emulator, endpoint: str) -> None:
    with pytest.raises(APIResponseValidationError) as info:
        generate(api, endpoint, emu, "empty")
    err = info.value
    assert "holds no image" in err.message
    assert err.request_id == "rid-empty"
    assert err.status_code == 200
    assert err.body[{"native": "images", "openai": "data"}[endpoint]] == []
    assert_sent_once(emu, api, endpoint)


@pytest.mark.parametrize("endpoint", ["native", "openai"])
def test_a_wrong_declared_media_type_is_corrected_by_sniffing(
    api: Api, emu: Emulator, endpoint: str, tmp_path: Path
) -> None:
    result = generate(api, endpoint, emu, "wrong_media_type")
    (image,) = result.images
    assert image.startswith("data:image/jpeg;base64,")  # kept as the server sent it
    assert result.media_type() == "image/png"  # judged by the bytes
    assert result.image_bytes().startswith(PNG_SIGNATURE)
    (saved,) = result.save(tmp_path / "picture")
    assert saved.name == "picture.png"
    assert saved.read_bytes() == result.image_bytes()
    assert_sent_once(emu, api, endpoint)


@pytest.mark.parametrize("endpoint", ["native", "openai"])
def test_a_url_result_is_kept_and_never_fetched(api: Api, emu: Emulator, endpoint: str) -> None:
    result = generate(api, endpoint, emu, "url")
    (image,) = result.images
    assert image.startswith("https://images.emulator.invalid/") and image.endswith(".png")
    with pytest.raises(ValueError, match="is a URL"):
        result.image_bytes()
    with pytest.raises(ValueError, match="is a URL"):
        result.media_type()
    assert_sent_once(emu, api, endpoint)


@pytest.mark.parametrize("endpoint", ["native", "openai"])
def test_an_output_result_reads_like_images(api: Api, emu: Emulator, endpoint: str) -> None:
    result = generate(api, endpoint, emu, "output")
    (image,) = result.images
    assert image.startswith("data:image/png;base64,")
    assert result.media_type() == "image/png"
    assert result.image_bytes().startswith(PNG_SIGNATURE)
    # The same request answered normally carries the same picture.
    plain: ImageResponse = api.image(api=endpoint, seed=7)
    assert plain.image_bytes() == result.image_bytes()
    assert emu.request_count(ROUTES[endpoint], "POST") == 2
