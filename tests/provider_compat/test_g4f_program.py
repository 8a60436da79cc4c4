"""The g4f-era program runs unchanged (but for its import line) against the emulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from deepinfra_sdk.emulator import Emulator

PROGRAM = Path(__file__).with_name("g4f_program.py")
ORIGINAL_IMPORTS = (
    "from g4f.Provider.needs_auth.DeepInfra import DeepInfra\nfrom g4f.typing import Messages\n"
)


def test_only_the_import_line_differs_from_the_original() -> None:
    source = PROGRAM.read_text("utf-8")
    ours = "from deepinfra_sdk.provider import DeepInfra, Messages\n"
    assert source.count(ours) == 1
    code = source.split('"""', 2)[2]  # below the module docstring
    original = code.replace(ours, ORIGINAL_IMPORTS)
    # The original program differs in exactly that line: nothing else names this SDK.
    assert "deepinfra_sdk" not in original
    assert ORIGINAL_IMPORTS.splitlines()[0] in source  # the docstring quotes it


def test_the_program_runs_against_the_emulator() -> None:
    with Emulator() as emu:
        env = {
            **os.environ,
            "DEEPINFRA_API_KEY": emu.api_key,
            "DEEPINFRA_BASE_URL": emu.url,
            "PYTHONIOENCODING": "utf-8",
        }
        run = subprocess.run(
            [sys.executable, str(PROGRAM)],
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )
        bodies = [r.json for r in emu.requests if r.path.startswith("/v1/inference/")]
        chats = [r.json for r in emu.requests if r.path == "/v1/openai/chat/completions"]
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines[0].split()) == 24  # the streamed poem, one line
    assert lines[1].startswith("models: ")
    assert lines[2].startswith("image models: ['stabilityai/sd3.5'")
    assert lines[3] == "a red fox 1"
    assert lines[4] == "Image URL: data:image/png;base64,"
    assert lines[5] == "[![A futuristic cityscape at sunset](data:image/png;base64,i"
    assert lines[6] == "True stabilityai/sd3.5"
    # The partner model answers with a hosted URL: the original's markdown, whole.
    assert re.fullmatch(
        r"\[!\[A futuristic cityscape at sunset\]\((https://\S+)\)\]\(\1\)", lines[7]
    )
    assert lines[8].endswith(" words")
    assert lines[9] == "DeepInfra meta-llama/Llama-3.3-70B-Instruct-Turbo"
    # extra_body and extra_data were merged into the request bodies, not sent as fields.
    assert {"prompt": "A futuristic cityscape at sunset", "width": 512, "height": 256} in bodies
    assert {"prompt": "A futuristic cityscape at sunset", "seed": 7} in bodies
    assert not any("extra_body" in json.dumps(b) or "extra_data" in json.dumps(b) for b in bodies)
    assert chats[-1]["temperature"] == 0.7 and chats[-1]["max_tokens"] == 1028
