"""Image helpers and ImageResponse: sniffing, data URIs, precedence, saving, display."""

from __future__ import annotations

import base64
import os
import struct
import zlib
from pathlib import Path

import pytest

from deepinfra_sdk._exceptions import APIResponseValidationError, ArgumentValueError
from deepinfra_sdk._images import (
    _decode_base64_lenient,
    base64_to_data_uri,
    decode_base64,
    decode_data_uri,
    extension_for,
    format_mismatch,
    is_url,
    sniff_base64,
    sniff_data_uri,
    sniff_media_type,
    to_data_uri,
)
from deepinfra_sdk.types import ImageResponse, InferenceStatus


def make_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A real, valid PNG (8-bit RGB) built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def make_jpeg(filler: int = 64) -> bytes:
    """Enough of a JFIF file for sniffing: SOI, an APP0 segment, filler, EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + bytes(range(filler % 256)) + b"\xff\xd9"


PNG = make_png()
JPEG = make_jpeg()
WEBP = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + b"\x00" * 22
GIF = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 20


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (WEBP, "image/webp"),
        (GIF, "image/gif"),
        (b"GIF87a" + b"\x00" * 8, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WAVE", "application/octet-stream"),
        (b"hello world", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_sniff_media_type(data: bytes, expected: str) -> None:
    assert sniff_media_type(data) == expected


@pytest.mark.parametrize(
    ("media_type", "ext"),
    [
        ("image/png", ".png"),
        ("image/jpeg", ".jpg"),
        ("IMAGE/JPEG; q=1", ".jpg"),
        ("image/webp", ".webp"),
        ("image/gif", ".gif"),
        ("application/octet-stream", ".bin"),
        ("text/plain", ".bin"),
    ],
)
def test_extension_for(media_type: str, ext: str) -> None:
    assert extension_for(media_type) == ext


def test_is_url() -> None:
    assert is_url("https://x/y.png")
    assert is_url("HTTP://x/y.png")
    assert not is_url("data:image/png;base64,AAAA")
    assert not is_url(b64(PNG))


@pytest.mark.parametrize("data", [PNG, JPEG, WEBP, GIF, b"", b"\x00", b"\x00\x01"])
def test_to_data_uri_round_trip(data: bytes) -> None:
    uri = to_data_uri(data)
    assert uri.startswith(f"data:{sniff_media_type(data)};base64,")
    assert decode_data_uri(uri) == data


def test_to_data_uri_explicit_type() -> None:
    assert to_data_uri(b"abc", "text/plain") == "data:text/plain;base64,YWJj"


def test_decode_tolerates_missing_padding_and_whitespace() -> None:
    payload = b64(PNG + b"x")  # odd length, so the encoding ends in padding
    assert payload.endswith("=")
    unpadded = payload.rstrip("=")
    assert decode_data_uri("data:image/png;base64," + unpadded) == PNG + b"x"
    wrapped = "\n".join(payload[i : i + 19] for i in range(0, len(payload), 19))
    assert decode_data_uri("data:image/png;base64," + wrapped + "\r\n") == PNG + b"x"
    assert decode_base64(" " + unpadded + "\n") == PNG + b"x"


def test_lenient_path_used_without_strict_mode() -> None:
    """Python < 3.11 always takes the lenient path: it must decode good input the same."""
    for data in (PNG, JPEG, b"", b"a", b"ab", b"abc"):
        payload = b64(data)
        assert _decode_base64_lenient(payload) == data
        assert _decode_base64_lenient(payload.rstrip("=")) == data
        assert _decode_base64_lenient(" \n".join(payload)) == data


@pytest.mark.parametrize("decode", [decode_base64, _decode_base64_lenient])
def test_truncated_base64_raises(decode: object) -> None:
    payload = b64(PNG)
    cut = payload[: (len(payload) // 4) * 4 - 3]  # one data character past a 4-group
    assert len(cut.rstrip("=")) % 4 == 1
    with pytest.raises(APIResponseValidationError, match="truncated"):
        decode(cut)  # type: ignore[operator]


@pytest.mark.parametrize(
    "payload",
    ["AAAA!AAA", "AAAA=AAA", "AA==AA==", "AAAA\u00e9AAA", "AAAA-_AA"],
)
@pytest.mark.parametrize("decode", [decode_base64, _decode_base64_lenient])
def test_invalid_base64_raises(decode: object, payload: str) -> None:
    with pytest.raises(APIResponseValidationError, match="invalid base64"):
        decode(payload)  # type: ignore[operator]


def test_decode_data_uri_truncated_message() -> None:
    uri = to_data_uri(PNG)
    with pytest.raises(APIResponseValidationError) as info:
        decode_data_uri(uri[: len(uri) - 3])
    assert "base64" in str(info.value)


def test_decode_data_uri_rejects_non_data_uri() -> None:
    with pytest.raises(ValueError, match="not a data URI"):
        decode_data_uri("https://example.com/a.png")
    with pytest.raises(APIResponseValidationError, match="no ','"):
        decode_data_uri("data:image/png;base64")


def test_decode_data_uri_percent_encoded() -> None:
    assert decode_data_uri("data:text/plain,hello%20world") == b"hello world"
    assert decode_data_uri("data:,a%2Cb") == b"a,b"


def test_sniff_data_uri_trusts_bytes_not_header() -> None:
    lying = "data:image/png;base64," + b64(JPEG)
    assert sniff_data_uri(lying) == "image/jpeg"
    assert sniff_data_uri(to_data_uri(PNG)) == "image/png"
    # Whitespace right after the comma must not defeat sniffing.
    assert sniff_data_uri("data:image/png;base64,\n" + b64(GIF)) == "image/gif"
    assert sniff_data_uri("data:image/png;base64,AAAA") == "application/octet-stream"
    assert sniff_data_uri("data:image/png;base64,@@@@") == "application/octet-stream"
    assert sniff_data_uri("data:image/png;base64," + "\u00e9" * 20) == "application/octet-stream"
    assert sniff_base64("\u00e9 " * 20) == "application/octet-stream"


def test_sniff_base64_reads_only_a_prefix() -> None:
    # A payload that is broken after its first bytes still sniffs: only the head is decoded.
    assert sniff_base64(b64(JPEG)[:20] + "!!!!") == "image/jpeg"
    assert base64_to_data_uri(b64(WEBP)).startswith("data:image/webp;base64,")


# --------------------------------------------------------------------------- ImageResponse


def test_image_order_of_precedence() -> None:
    png_uri = to_data_uri(PNG)
    full = {
        "images": [png_uri],
        "output": ["https://cdn/output.png"],
        "image_url": "https://cdn/image_url.png",
        "data": [{"b64_json": b64(JPEG)}],
    }
    assert ImageResponse.from_wire(full).images == [png_uri]
    del full["images"]
    assert ImageResponse.from_wire(full).images == ["https://cdn/output.png"]
    del full["output"]
    assert ImageResponse.from_wire(full).images == ["https://cdn/image_url.png"]
    del full["image_url"]
    assert ImageResponse.from_wire(full).images == ["data:image/jpeg;base64," + b64(JPEG)]
    # Empty sources do not shadow later ones.
    assert ImageResponse.from_wire({"images": [], "output": "https://cdn/o.png"}).images == [
        "https://cdn/o.png"
    ]
    assert ImageResponse.from_wire({"status": "failed"}).images == []


def test_output_forms_and_urls_kept() -> None:
    assert ImageResponse.from_wire({"output": "https://a/b.webp?x=1&y=2"}).images == [
        "https://a/b.webp?x=1&y=2"
    ]
    resp = ImageResponse.from_wire({"output": ["https://a/1.png", None, to_data_uri(GIF)]})
    assert resp.images == ["https://a/1.png", to_data_uri(GIF)]
    resp = ImageResponse.from_wire({"data": [{"url": "https://a/1.png"}, {"b64_json": b64(PNG)}]})
    assert resp.images == ["https://a/1.png", to_data_uri(PNG)]


def test_bare_base64_images_are_wrapped() -> None:
    resp = ImageResponse.from_wire({"images": [b64(JPEG)]})
    assert resp.images == ["data:image/jpeg;base64," + b64(JPEG)]
    assert resp.image_bytes() == JPEG


def test_non_string_image_is_a_validation_error() -> None:
    with pytest.raises(APIResponseValidationError, match="not a string"):
        ImageResponse.from_wire({"images": [{"b64": "x"}]})
    with pytest.raises(APIResponseValidationError, match="ImageResponse"):
        ImageResponse.from_wire({"data": ["not-a-dict"]})


def test_b64_json_jpeg_is_sniffed_as_jpeg() -> None:
    wire = {"created": 1707000000, "data": [{"b64_json": b64(JPEG), "revised_prompt": "a cat"}]}
    resp = ImageResponse.from_wire(wire, prompt="cat", model="black-forest-labs/FLUX-1-dev")
    assert resp.images[0].startswith("data:image/jpeg;base64,")
    assert resp.media_type() == "image/jpeg"
    assert resp.image_bytes() == JPEG
    assert bytes(resp) == JPEG
    assert resp.revised_prompts == ["a cat"]
    assert resp.created == 1707000000
    assert resp.prompt == resp.alt == "cat"
    assert resp.model == "black-forest-labs/FLUX-1-dev"


def test_unknown_bytes_fall_back_to_octet_stream() -> None:
    resp = ImageResponse.from_wire({"data": [{"b64_json": b64(b"\x00" * 32)}]})
    assert resp.images[0].startswith("data:application/octet-stream;base64,")
    assert resp.media_type() == "application/octet-stream"


def test_wrong_declared_media_type() -> None:
    resp = ImageResponse(images=["data:image/png;base64," + b64(JPEG)], prompt="x")
    assert resp.media_type(0) == "image/jpeg"
    assert resp._repr_png_() is None
    assert resp._repr_jpeg_() == JPEG


def test_native_fields_and_container_protocol() -> None:
    wire = {
        "images": [to_data_uri(PNG), to_data_uri(JPEG)],
        "nsfw_content_detected": [False, True],
        "seed": 7,
        "request_id": "r1",
        "inference_status": {"status": "succeeded", "runtime_ms": 12, "cost": 0.01, "x": 1},
        "unknown": {"nested": True},
    }
    resp = ImageResponse.from_wire(wire, prompt="two")
    assert len(resp) == 2
    assert list(resp) == wire["images"]
    assert resp.nsfw_content_detected == [False, True]
    assert resp.seed == 7
    assert resp.request_id == "r1"
    assert resp.inference_status == InferenceStatus("succeeded", 12, 0.01, None, None)
    assert [resp.media_type(i) for i in range(2)] == ["image/png", "image/jpeg"]
    assert resp.image_bytes(-1) == JPEG
    assert resp._repr_png_() == PNG
    assert resp._repr_jpeg_() is None


def test_image_bytes_of_url_says_download() -> None:
    resp = ImageResponse(images=["https://cdn/img.png"])
    with pytest.raises(ValueError, match=r"URL.*download"):
        resp.image_bytes()
    with pytest.raises(ValueError, match="download"):
        bytes(resp)
    with pytest.raises(ValueError, match="download"):
        resp.media_type()
    assert resp._repr_png_() is None
    assert resp._repr_jpeg_() is None


def test_index_out_of_range_names_the_range() -> None:
    resp = ImageResponse(images=[to_data_uri(PNG)])
    with pytest.raises(IndexError, match=r"holds 1 image.*0\.\.0"):
        resp.image_bytes(1)
    with pytest.raises(IndexError, match="holds 0"):
        ImageResponse(images=[]).image_bytes()
    with pytest.raises(IndexError):
        resp.save("x.png", index=3)


def test_truncated_image_raises_validation_error() -> None:
    uri = to_data_uri(PNG)
    resp = ImageResponse(images=[uri[: len(uri) - 3]])
    with pytest.raises(APIResponseValidationError, match="base64"):
        resp.image_bytes()
    # Display hooks stay quiet instead of raising.
    assert resp._repr_png_() is None


def test_save_single_with_and_without_suffix(tmp_path: Path) -> None:
    resp = ImageResponse(images=[to_data_uri(PNG)])
    assert resp.save(tmp_path / "a.png") == [tmp_path / "a.png"]
    assert (tmp_path / "a.png").read_bytes() == PNG
    assert resp.save(str(tmp_path / "b")) == [tmp_path / "b.png"]
    assert (tmp_path / "b.png").read_bytes() == PNG
    # The suffix comes from the bytes, not from the declared type.
    lying = ImageResponse(images=["data:image/png;base64," + b64(JPEG)])
    assert lying.save(tmp_path / "c") == [tmp_path / "c.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "c.jpg"]


def test_save_writes_the_format_its_suffix_names_or_refuses_naming_the_right_one(
    tmp_path: Path,
) -> None:
    png = ImageResponse(images=[to_data_uri(PNG)])
    for name in ("fox.jpg", "fox.JPEG", "fox.webp", "fox.gif"):
        with pytest.raises(ArgumentValueError) as info:
            png.save(tmp_path / name)
        message = str(info.value)
        assert f"cannot save image 0 to {name!r}: the image is PNG" in message
        assert "use '.png'" in message
    assert list(tmp_path.iterdir()) == []  # refused before writing
    assert png.save(tmp_path / "fox.PNG") == [tmp_path / "fox.PNG"]
    assert ImageResponse(images=[to_data_uri(JPEG)]).save(tmp_path / "j.jpeg")[0].exists()
    # A suffix that names no image format promises nothing: the bytes go there as they are.
    assert png.save(tmp_path / "fox.img")[0].read_bytes() == PNG
    # Several images: one mismatch refuses the whole set, before any file is written.
    mixed = ImageResponse(images=[to_data_uri(JPEG), to_data_uri(PNG)])
    with pytest.raises(ArgumentValueError, match=r"cannot save image 1 to 'set\.jpg'"):
        mixed.save(tmp_path / "set.jpg")
    assert not list(tmp_path.glob("set*"))


def test_format_mismatch() -> None:
    assert format_mismatch(".jpg", "image/jpeg") is None
    assert format_mismatch(".bin", "image/png") is None
    assert format_mismatch(".png", "application/octet-stream") is None
    assert "the image is WEBP, but the suffix '.png' names PNG; use '.webp'" in str(
        format_mismatch(".png", "image/webp")
    )


def test_save_overwrites(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"old")
    ImageResponse(images=[to_data_uri(PNG)]).save(tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes() == PNG


def test_save_multiple(tmp_path: Path) -> None:
    resp = ImageResponse(images=[to_data_uri(PNG), to_data_uri(JPEG), to_data_uri(WEBP)])
    paths = resp.save(tmp_path / "out")
    assert [p.name for p in paths] == ["out-0.png", "out-1.jpg", "out-2.webp"]
    assert [p.read_bytes() for p in paths] == [PNG, JPEG, WEBP]
    # An explicit suffix is kept for every file.
    assert [p.name for p in resp.save(tmp_path / "pic.img")] == [
        "pic-0.img",
        "pic-1.img",
        "pic-2.img",
    ]
    # One chosen image is written to the path itself.
    assert resp.save(tmp_path / "one", index=1) == [tmp_path / "one.jpg"]
    assert (tmp_path / "one.jpg").read_bytes() == JPEG


def test_save_into_directory(tmp_path: Path) -> None:
    resp = ImageResponse(images=[to_data_uri(GIF)])
    assert resp.save(tmp_path) == [tmp_path / "image.gif"]


def test_save_refuses_urls_before_writing(tmp_path: Path) -> None:
    resp = ImageResponse(images=[to_data_uri(PNG), "https://cdn/x.png"])
    with pytest.raises(ValueError, match="download"):
        resp.save(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="no images"):
        ImageResponse(images=[]).save(tmp_path / "x")


def test_save_leaves_no_torn_or_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.png").write_bytes(b"previous")

    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        ImageResponse(images=[to_data_uri(PNG)]).save(tmp_path / "a.png")
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    assert (tmp_path / "a.png").read_bytes() == b"previous"


def test_repr_html_escapes_alt_and_shows_every_image() -> None:
    prompt = "<script>alert(\"x\")</script> & 'q'"
    resp = ImageResponse(images=[to_data_uri(PNG), 'https://cdn/a.png?a=1&b="2"'], prompt=prompt)
    html = resp._repr_html_()
    assert html.count("<img ") == 2
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;" in html
    assert f'src="{to_data_uri(PNG)}"' in html
    assert 'src="https://cdn/a.png?a=1&amp;b=&quot;2&quot;"' in html


def test_repr_is_short_for_big_images() -> None:
    big = to_data_uri(PNG + os.urandom(3 * 1024 * 1024))
    resp = ImageResponse(
        images=[big, big, "https://cdn/" + "x" * 500],
        prompt="p",
        seed=1,
        inference_status=InferenceStatus(),
    )
    text = repr(resp)
    assert len(text) < 500
    assert text.count("<data:image/png;base64, ~3.0 MB>") == 2
    assert "x" * 60 + "..." in text
    assert big[40:80] not in text
    assert "seed=1" in text
    assert "prompt='p'" in text
    small = repr(ImageResponse(images=[to_data_uri(b"\x00" * 10), b64(PNG) * 100]))
    assert "<data:application/octet-stream;base64, ~10 B>" in small
    assert "<base64 iVBORw0KGgoA..., ~" in small
    assert len(small) < 200


def test_image_response_from_wire_takes_request_prompt_over_wire() -> None:
    resp = ImageResponse.from_wire({"images": [], "prompt": "wire", "model": "w"}, prompt="req")
    assert resp.prompt == "req"
    assert resp.model == "w"


@pytest.mark.parametrize("wrapped", [False, True], ids=["strict", "lenient"])
def test_decode_data_uri_peak_memory_is_one_payload_copy(wrapped: bool) -> None:
    import tracemalloc

    data = PNG + os.urandom(4 * 1024 * 1024)
    payload = b64(data)
    if wrapped:  # line breaks send decoding down the lenient path
        payload = "\n".join(payload[i : i + 76] for i in range(0, len(payload), 76))
    uri = "data:image/png;base64," + payload
    del payload
    tracemalloc.start()
    try:
        out = decode_data_uri(uri)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out == data
    # The header slice (one copy of the text) plus the output; `uri.encode()[n:]` and
    # b64decode would hold two copies of the text at once.
    assert peak < len(uri) + len(data) + 65536, (peak, len(uri), len(data))


# -- generate() refuses images that were cut short ------------------------------------------


def _uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{b64(data)}"


GIF_WHOLE = GIF + b";"
BIG_PNG = make_png(300, 200, (1, 2, 3))


@pytest.mark.parametrize("data", [PNG, BIG_PNG, JPEG, WEBP, GIF_WHOLE, b"plain bytes"])
def test_whole_images_are_not_incomplete(data: bytes) -> None:
    from deepinfra_sdk.resources.images import _incomplete

    assert _incomplete(_uri(data)) is None
    assert _incomplete(b64(data)) is None  # bare base64 (b64_json)
    assert _incomplete(b64(data).rstrip("=")) is None  # padding dropped
    wrapped = "\n".join(b64(data)[i : i + 76] for i in range(0, len(b64(data)), 76))
    assert _incomplete(_uri(data)[: _uri(data).index(",") + 1] + wrapped) is None


@pytest.mark.parametrize("data", [PNG, BIG_PNG, JPEG, WEBP, GIF_WHOLE])
def test_every_cut_of_an_image_is_found(data: bytes) -> None:
    """Cut anywhere in the last part of the payload, whatever the length modulo 4 (from
    16 characters on: fewer cannot even tell which format it is)."""
    from deepinfra_sdk.resources.images import _incomplete

    payload = b64(data).rstrip("=")
    for cut in range(max(16, len(payload) - 40), len(payload)):
        problem = _incomplete("data:image/png;base64," + payload[:cut])
        assert problem is not None, f"a cut at {cut} of {len(payload)} went unnoticed"
        assert "cut short" in problem or "truncated" in problem
    assert _incomplete(payload[: len(payload) // 2]) is not None


def test_incomplete_ignores_urls_and_text_data_uris() -> None:
    from deepinfra_sdk.resources.images import _incomplete

    assert _incomplete("https://example.com/x.png") is None
    assert _incomplete("data:text/plain,hello%20world") is None
    assert _incomplete("data:image/png;base64") is None  # malformed: image_bytes() says so


def test_incomplete_reports_invalid_base64_in_a_wrapped_payload() -> None:
    from deepinfra_sdk.resources.images import _incomplete

    problem = _incomplete("data:image/png;base64,iVBO\nRw0K!!GgoA")
    assert problem is not None and "base64" in problem


def test_b64_json_that_is_already_a_data_uri_is_kept() -> None:
    # Some proxies put a whole data URI (with a wrong type, even) where bare base64 belongs.
    uri = _uri(PNG, "image/jpeg")
    resp = ImageResponse.from_wire({"data": [{"b64_json": uri}]})
    assert resp.images == [uri]
    assert resp.media_type() == "image/png"
    assert resp.image_bytes() == PNG


# -- client.images.edit: a multipart upload, the same checked ImageResponse ----------------------


def test_image_edit_uploads_image_and_mask(tmp_path: Path) -> None:
    from deepinfra_sdk import DeepInfraClient
    from deepinfra_sdk.emulator import Emulator, render_png

    source = tmp_path / "photo.png"
    source.write_bytes(render_png(64, 64, "photo", 1))
    with Emulator() as emu, DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        edited = client.images.edit(
            image=source,
            mask=render_png(64, 64, "mask", 2),
            prompt="add a hat",
            model="black-forest-labs/FLUX-1-schnell",
            n=2,
            size="128x64",
        )
        form = emu.requests[-1].form
    assert isinstance(edited, ImageResponse) and len(edited) == 2
    assert edited.prompt == "add a hat" and edited.request_id
    png = edited.image_bytes(0)
    assert struct.unpack(">II", png[16:24]) == (128, 64)
    assert form["fields"] == {
        "model": "black-forest-labs/FLUX-1-schnell",
        "prompt": "add a hat",
        "n": "2",
        "size": "128x64",
        "response_format": "b64_json",
    }
    assert form["files"]["image"][0]["filename"] == "photo.png"
    assert form["files"]["image"][0]["content_type"] == "image/png"
    assert form["files"]["mask"][0]["filename"] == "mask"


def test_image_edit_refuses_bad_arguments_before_sending() -> None:
    from deepinfra_sdk import ArgumentValueError, DeepInfraClient

    with DeepInfraClient("k", base_url="http://127.0.0.1:9") as client:
        with pytest.raises(ArgumentValueError, match="prompt"):
            client.images.edit(image=b"x", prompt=" ")
        with pytest.raises(ArgumentValueError, match="n must be at most 4"):
            client.images.edit(image=b"x", prompt="p", n=5)
        for size in ("1024", "1024 x 1024", "0x64", 1024):
            with pytest.raises(ArgumentValueError, match=r"size must be 'WIDTHxHEIGHT'"):
                client.images.edit(image=b"x", prompt="p", size=size)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_async_image_edit() -> None:
    from deepinfra_sdk import AsyncDeepInfraClient, DeepInfraClient
    from deepinfra_sdk.emulator import Emulator, render_png

    picture = render_png(64, 64, "photo", 1)
    with Emulator() as emu, DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        sync = client.images.edit(image=picture, prompt="hat", size="64x64")
        async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
            edited = await aclient.images.edit(image=picture, prompt="hat", size="64x64")
    assert edited.images == sync.images
