"""LiteLLM's DeepInfra provider against the emulator, compared with this SDK.

Pointed at the emulator the documented way: ``api_base=`` (LiteLLM also reads
``DEEPINFRA_API_BASE``); its price list is read locally (``LITELLM_LOCAL_MODEL_COST_MAP``).
"""

from __future__ import annotations

from typing import Any

from deepinfra_sdk import DeepInfraClient
from deepinfra_sdk.emulator import Emulator

from .conftest import MESSAGES, TEXT_MODEL, require

litellm = require("litellm", "litellm")


def options(emu: Emulator) -> dict[str, Any]:
    return {
        "model": f"deepinfra/{TEXT_MODEL}",
        "messages": MESSAGES,
        "api_base": emu.url + "/v1/openai",
        "api_key": emu.api_key,
        "num_retries": 0,
    }


def test_chat(emu: Emulator, ours: DeepInfraClient) -> None:
    theirs = litellm.completion(**options(emu))
    mine = ours.chat.completions.create(model=TEXT_MODEL, messages=MESSAGES)
    assert theirs.choices[0].message.content == mine.text
    assert theirs.choices[0].finish_reason == "stop"
    assert mine.usage is not None
    assert theirs.usage.completion_tokens == mine.usage.completion_tokens


def test_stream(emu: Emulator, ours: DeepInfraClient) -> None:
    chunks = list(litellm.completion(**options(emu), stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    with ours.chat.completions.create(model=TEXT_MODEL, messages=MESSAGES, stream=True) as mine:
        for _ in mine:
            pass
    assert text == mine.text
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)
