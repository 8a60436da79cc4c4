"""A real notebook in a real Jupyter kernel, against an emulator started here.

The notebook is built with nbformat and run by nbclient in an ipykernel subprocess, which
reaches the emulator over loopback (its URL and key travel in the kernel's environment).
What a user would see is asserted on the executed notebook's outputs; the live updates are
counted on the kernel's messages as they arrive.
"""

from __future__ import annotations

import ast
import json
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from deepinfra_sdk import DeepInfraClient
from deepinfra_sdk.emulator import Emulator

with warnings.catch_warnings():
    # jupyter_core < 5.9 (what Python 3.9 gets) warns on import until JUPYTER_PLATFORM_DIRS is
    # set; which directories Jupyter uses does not matter to this test.
    warnings.filterwarnings("ignore", "Jupyter is migrating its paths", DeprecationWarning)
    import nbformat
    from nbclient import NotebookClient
    from nbformat import NotebookNode

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
PROMPT = "Write a short poem about spring."
DROP = json.dumps({"drop": "after_events", "after_events": 6})

CELLS = [
    "from deepinfra_sdk import AsyncDeepInfraClient, DeepInfraClient\n"
    "from deepinfra_sdk import adisplay_stream, display_stream\n"
    "client = DeepInfraClient()\n"
    f"MODEL, MESSAGES = {MODEL!r}, [{{'role': 'user', 'content': {PROMPT!r}}}]",
    # 1: an image as the cell's value
    "client.images.generate('a lighthouse at dusk')",
    # 2: a stream shown live by the sync helper (inside the kernel's running event loop)
    "stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)\n"
    "text = display_stream(stream)",
    # 3: the async twin, with top-level await
    "aclient = AsyncDeepInfraClient()\n"
    "astream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES,"
    " stream=True)\n"
    "atext = await adisplay_stream(astream)\n"
    "await aclient.aclose()",
    # 4: a stream that breaks half-way (the emulator drops the connection)
    f"faulty = DeepInfraClient(default_headers={{'X-Emulator-Fault': {DROP!r}}}, max_retries=0)\n"
    "broken = faulty.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)\n"
    "display_stream(broken)",
    # 5: what the cells computed, for the test to compare
    "print(repr((text, atext, broken.text, stream.closed, astream.closed)))",
]


class RecordingClient(NotebookClient):
    """Records every kernel message type per cell, as they arrive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.message_types: dict[int, list[str]] = {}

    def process_message(
        self, msg: dict[str, Any], cell: NotebookNode, cell_index: int
    ) -> NotebookNode | None:
        self.message_types.setdefault(cell_index, []).append(msg["msg_type"])
        return super().process_message(msg, cell, cell_index)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    # Spaced tokens: a stream lasts ~0.5 s, long enough for several throttled updates.
    with Emulator(token_delay=0.02) as server:
        yield server


@pytest.mark.slow
def test_a_notebook_shows_images_and_live_streams(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits this environment: `DeepInfraClient()` in a cell finds the emulator.
    monkeypatch.setenv("DEEPINFRA_API_KEY", emu.api_key)
    monkeypatch.setenv("DEEPINFRA_BASE_URL", emu.url)
    # jupyter_core warns (an error here) until the platformdirs layout is chosen explicitly.
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.cells[4].metadata["tags"] = ["raises-exception"]
    runner = RecordingClient(notebook, timeout=60, kernel_name="python3")
    started = time.monotonic()
    runner.execute()
    seconds = time.monotonic() - started
    live = [runner.message_types[i].count("update_display_data") for i in (2, 3, 4)]
    print(f"kernel notebook: {seconds:.1f}s, live updates {live}")  # -s shows it; not asserted

    cells = notebook.cells
    # The image is the cell's value, shown as a PNG (no HTML copy of it).
    [image] = cells[1].outputs
    assert image.output_type == "execute_result"
    assert set(image.data) == {"text/plain", "image/png"}
    assert image.data["image/png"].startswith("iVBORw0KGgo")  # base64 of the PNG signature

    with DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        completion = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}]
        )
    expected = completion.choices[0].message.content
    *_, last = cells[5].outputs
    text, atext, partial, stream_closed, astream_closed = ast.literal_eval(last.text)
    assert text == atext == expected
    assert stream_closed and astream_closed

    for index in (2, 3):
        # One output, updated in place, that ends with the whole answer as Markdown.
        [shown] = [o for o in cells[index].outputs if o.output_type == "display_data"]
        assert shown.data == {"text/markdown": expected, "text/plain": expected}
        updates = runner.message_types[index].count("update_display_data")
        assert updates > 1, f"cell {index}: {updates} live update(s)"

    # The broken stream: its text so far stays shown and the error is the cell's.
    outputs = cells[4].outputs
    [shown] = [o for o in outputs if o.output_type == "display_data"]
    [error] = [o for o in outputs if o.output_type == "error"]
    assert partial and expected.startswith(partial) and partial != expected
    assert shown.data["text/plain"] == partial
    assert error.ename == "APIConnectionError"
    assert emu.handler_errors == []
