"""Notebook display without a kernel: IPython's formatter and display machinery in-process.

`ImageResponse`'s mime bundles are read through IPython's own `DisplayFormatter`, as a
notebook would; `display_stream` runs against an IPython shell that looks like a kernel's,
with a publisher that records every display message, and without IPython at all.
(`tests/test_notebook_kernel.py` does the same in a real kernel.)
"""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.formatters import DisplayFormatter
from IPython.core.interactiveshell import InteractiveShell

from deepinfra_sdk import (
    APIError,
    AsyncDeepInfraClient,
    ChatCompletionChunk,
    DeepInfraClient,
    ImageResponse,
    adisplay_stream,
    display_stream,
)
from deepinfra_sdk import notebook as nb
from deepinfra_sdk._images import to_data_uri
from deepinfra_sdk.emulator import Emulator, Fault

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
MESSAGES = [{"role": "user", "content": "Write a short poem about spring."}]

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVQI12PQz3wAAAJDAXkkWn+MAAAAAElFTkSuQmCC"
)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 28
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 16


def bundle(obj: object) -> dict[str, Any]:
    data, _ = DisplayFormatter().format(obj)
    return data


# -- ImageResponse in a notebook -----------------------------------------------------------


def test_one_png_is_a_native_image_output_without_an_html_copy() -> None:
    data = bundle(ImageResponse(images=[to_data_uri(PNG)], prompt="a lighthouse"))
    assert set(data) == {"text/plain", "image/png"}
    assert data["image/png"] == PNG
    assert data["text/plain"].startswith("ImageResponse(images=[<data:image/png;base64, ~")


def test_one_jpeg_is_a_native_jpeg_output_whatever_the_uri_declares() -> None:
    data = bundle(
        ImageResponse(images=["data:image/png;base64," + base64.b64encode(JPEG).decode()])
    )
    assert set(data) == {"text/plain", "image/jpeg"}
    assert data["image/jpeg"] == JPEG


def test_several_images_are_all_shown_in_one_bounded_gallery() -> None:
    images = [to_data_uri(PNG), to_data_uri(JPEG), to_data_uri(WEBP)]
    data = bundle(ImageResponse(images=images, prompt="three"))
    assert set(data) == {"text/plain", "text/html", "image/png"}
    html = data["text/html"]
    assert html.count("<img ") == 3
    for uri in images:
        assert f'src="{uri}"' in html
    # No picture is ever wider than the output area; several share a row.
    assert html.count("max-width:calc(50% - 4px)") == 3
    assert html.startswith('<div style="display:flex;flex-wrap:wrap')
    # Exporters that render no HTML (LaTeX/PDF) still get the first picture.
    assert data["image/png"] == PNG


def test_url_results_are_shown_by_the_browser() -> None:
    url = "https://cdn.example/img.png?a=1&b=2"
    data = bundle(ImageResponse(images=[url], prompt="remote"))
    assert set(data) == {"text/plain", "text/html"}
    assert data["text/html"].count("<img ") == 1
    assert 'src="https://cdn.example/img.png?a=1&amp;b=2"' in data["text/html"]
    assert "max-width:100%" in data["text/html"]
    two = bundle(ImageResponse(images=[url, to_data_uri(PNG)]))
    assert two["text/html"].count("<img ") == 2
    assert "image/png" not in two  # the first image is a URL: nothing to embed


def test_formats_without_a_mime_hook_and_bare_base64_use_html() -> None:
    webp = bundle(ImageResponse(images=[to_data_uri(WEBP)]))
    assert set(webp) == {"text/plain", "text/html"}
    assert f'src="{to_data_uri(WEBP)}"' in webp["text/html"]
    # Bare base64 (a hand-built response) becomes a data URI of the sniffed type.
    bare = bundle(ImageResponse(images=[base64.b64encode(WEBP).decode(), to_data_uri(PNG)]))
    assert 'src="data:image/webp;base64,' in bare["text/html"]


def test_broken_or_empty_responses_display_as_text_without_raising() -> None:
    uri = to_data_uri(PNG)
    assert set(bundle(ImageResponse(images=[uri[:-3]]))) == {"text/plain"}
    assert set(bundle(ImageResponse(images=[]))) == {"text/plain"}


# -- display_stream: shells, a recording publisher, a controllable clock --------------------


class Clock:
    """Stands in for time.monotonic in the notebook module: advanced by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(nb.time, "monotonic", fake)
    return fake


@pytest.fixture
def kernel_shell() -> Iterator[list[dict[str, Any]]]:
    """An IPython shell that looks like a kernel's; yields the display messages it publishes."""
    # A venv entered without activation makes IPython warn (an error here); not our concern.
    shell = InteractiveShell.instance(warn_venv=False)
    shell.kernel = object()  # what ipykernel sets: marks a notebook kernel
    shell.display_pub = CapturingDisplayPublisher(shell=shell)
    try:
        yield shell.display_pub.outputs
    finally:
        InteractiveShell.clear_instance()


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as server:
        yield server
    assert server.handler_errors == []


def shown(message: dict[str, Any]) -> str:
    data: dict[str, str] = message["data"]
    assert data["text/plain"] == data.get("text/markdown", data["text/plain"])
    return data["text/plain"]


def test_kernel_display_is_one_output_updated_in_place(
    kernel_shell: list[dict[str, Any]], clock: Clock
) -> None:
    pieces = [f"w{i} " for i in range(20)]

    def source() -> Iterator[str]:
        for piece in pieces:
            clock.now += 1 / 64  # a piece every ~16 ms (binary-exact, no rounding surprise)
            yield piece

    text = display_stream(source(), interval=1 / 16)
    assert text == "".join(pieces)
    first, *updates = kernel_shell
    display_id = first["transient"]["display_id"]
    assert first["update"] is False
    assert shown(first) == ""
    assert all(m["update"] is True and m["transient"]["display_id"] == display_id for m in updates)
    assert set(first["data"]) == {"text/markdown", "text/plain"}
    # Throttled: an update per interval of stream (every 4th piece), the last one complete.
    assert [shown(m) for m in updates] == ["".join(pieces[: 4 * k]) for k in range(1, 6)]


def test_the_last_pieces_are_shown_even_between_updates(
    kernel_shell: list[dict[str, Any]], clock: Clock
) -> None:
    display_stream(["a", "b", "c"], markdown=False)
    # No time passed: only the final update shows the text, as plain text.
    assert [(m["update"], m["data"]) for m in kernel_shell] == [
        (False, {"text/plain": ""}),
        (True, {"text/plain": "abc"}),
    ]


def test_a_chat_stream_is_shown_live_and_closed(
    kernel_shell: list[dict[str, Any]], emu: Emulator
) -> None:
    with DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        text = display_stream(stream, interval=0)
        expected = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert text == expected.choices[0].message.content == stream.text
    assert stream.closed
    assert shown(kernel_shell[-1]) == text
    # interval=0: an update per piece, each showing a longer prefix.
    texts = [shown(m) for m in kernel_shell]
    assert len(texts) > 3
    assert all(b.startswith(a) and len(b) > len(a) for a, b in zip(texts, texts[1:]))


def test_an_error_mid_stream_keeps_the_text_shown_and_propagates(
    kernel_shell: list[dict[str, Any]], emu: Emulator
) -> None:
    emu.inject(Fault(drop="after_events", after_events=4), times=1)
    with DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        with pytest.raises(APIError) as info:
            display_stream(stream, interval=3600)
    partial = info.value.partial_text
    assert partial  # some text arrived before the drop
    assert shown(kernel_shell[-1]) == partial == stream.text
    assert stream.closed


def test_plain_chunks_and_bad_items(kernel_shell: list[dict[str, Any]]) -> None:
    chunks = [
        ChatCompletionChunk.from_wire({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}),
        ChatCompletionChunk.from_wire({"choices": [{"index": 1, "delta": {"content": "no"}}]}),
        ChatCompletionChunk.from_wire({"choices": [{"index": 0, "delta": {"content": "!"}}]}),
    ]
    assert display_stream(iter(chunks)) == "Hi!"
    with pytest.raises(TypeError, match=r"yielded a int: pass a chat stream"):
        display_stream(["ok", 3])  # type: ignore[list-item]
    assert shown(kernel_shell[-1]) == "ok"
    with pytest.raises(ValueError, match="interval"):
        display_stream([], interval=-1)


@pytest.mark.anyio
async def test_sync_and_async_streams_are_not_mixed_up(
    kernel_shell: list[dict[str, Any]], emu: Emulator
) -> None:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as client:
        astream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with astream:
            with pytest.raises(TypeError, match=r"use `await adisplay_stream\(stream\)`"):
                display_stream(astream)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match=r"use `display_stream\(stream\)`"):
                await adisplay_stream(astream.sync_stream)  # type: ignore[arg-type]
            # A wrong call consumed nothing: the right one still gets the whole answer.
            text = await adisplay_stream(astream)
        expected = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert text == expected.choices[0].message.content
    assert len(kernel_shell) >= 2  # only the right call displayed anything
    assert kernel_shell[0]["update"] is False
    assert all(m["update"] for m in kernel_shell[1:])


@pytest.mark.anyio
async def test_async_stream_is_shown_live_and_closed(
    kernel_shell: list[dict[str, Any]], emu: Emulator
) -> None:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        text = await adisplay_stream(stream, interval=0)
        expected = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert text == expected.choices[0].message.content
    assert stream.closed
    assert shown(kernel_shell[-1]) == text
    assert len(kernel_shell) > 3


def test_images_in_a_stream_get_outputs_of_their_own(
    kernel_shell: list[dict[str, Any]], clock: Clock
) -> None:
    image = ImageResponse(images=[to_data_uri(PNG)])
    assert display_stream(["see: ", image, "done"]) == "see: done"
    text_id = kernel_shell[0]["transient"]["display_id"]
    [picture] = [m for m in kernel_shell if "image/png" in m["data"]]
    assert picture["data"]["image/png"] == PNG
    assert picture["update"] is False
    assert (picture["transient"] or {}).get("display_id") != text_id
    assert shown(kernel_shell[-1]) == "see: done"


def test_images_are_printed_on_their_own_line_outside_a_notebook(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "IPython", None)
    image = ImageResponse(images=[to_data_uri(PNG)])
    assert display_stream(["see:", image, "done"]) == "see:done"
    assert capsys.readouterr().out == f"see:\n{image!r}\ndone\n"
    display_stream([image])
    assert capsys.readouterr().out == f"{image!r}\n"


@pytest.mark.anyio
async def test_async_iterable_of_text_and_its_errors(
    kernel_shell: list[dict[str, Any]], clock: Clock
) -> None:
    closed = []

    async def pieces() -> AsyncIterator[str]:
        try:
            yield "one "
            yield "two "
            raise RuntimeError("boom")
        finally:
            closed.append(True)

    with pytest.raises(RuntimeError, match="boom"):
        await adisplay_stream(pieces())
    assert shown(kernel_shell[-1]) == "one two "
    assert closed == [True]


# -- outside a notebook: printed as it arrives ------------------------------------------------


def _printing_source(out: io.StringIO, pieces: list[str]) -> Iterator[str]:
    for i, piece in enumerate(pieces):
        yield piece
        # Resumed only after the piece was handled: it must be on stdout already.
        assert out.getvalue() == "".join(pieces[: i + 1])


def test_without_ipython_the_text_is_printed_as_it_arrives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "IPython", None)  # as if IPython were not installed
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    pieces = ["Hello", ", ", "world"]
    assert display_stream(_printing_source(out, pieces)) == "Hello, world"
    assert out.getvalue() == "Hello, world\n"


def test_a_terminal_ipython_prints_instead_of_reprinting_displays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shell = InteractiveShell.instance(warn_venv=False)  # no kernel: like `ipython` in a terminal
    shell.display_pub = CapturingDisplayPublisher(shell=shell)
    try:
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        assert display_stream(_printing_source(out, ["a", "b"])) == "ab"
        assert out.getvalue() == "ab\n"
        assert shell.display_pub.outputs == []
    finally:
        InteractiveShell.clear_instance()


def test_printing_keeps_the_text_on_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "IPython", None)

    def failing() -> Iterator[str]:
        yield "partial"
        raise ConnectionError("dropped")

    with pytest.raises(ConnectionError):
        display_stream(failing())
    assert capsys.readouterr().out == "partial\n"


def test_a_script_never_imports_ipython() -> None:
    code = (
        "import sys\n"
        "from deepinfra_sdk import display_stream\n"
        "assert display_stream(['a', 'b']) == 'ab'\n"
        "print('IPython' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "ab\nFalse\n"
