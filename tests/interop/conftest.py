"""The interop suite's fixtures: an emulator, our client on it, and the clients under test.

This folder runs in its own virtual environment (``.ci/run``'s interop step installs
``tests/interop/requirements.txt`` there); the README's main ``python -m pytest`` does not
collect it unless ``DEEPINFRA_INTEROP=1`` (see ``tests/conftest.py``). A client that could not
be installed is skipped with the reason ``.ci/run`` recorded for it (the file named by
``DEEPINFRA_INTEROP_REPORT``, lines ``requirement<TAB>reason``), printed by ``pytest -rs``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from deepinfra_sdk import DeepInfraClient
from deepinfra_sdk.emulator import Emulator

# LiteLLM fetches its model price list from the internet at import unless told not to: this
# suite reaches nothing but loopback.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

TEXT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
EMBED_MODEL = "BAAI/bge-large-en-v1.5"
IMAGE_MODEL = "black-forest-labs/FLUX-1-schnell"
MESSAGES = [{"role": "user", "content": "Name three rivers."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


def pytest_configure(config: pytest.Config) -> None:
    """Show warnings instead of failing on them: other people's clients warn about their own
    dependencies (pydantic, aiohttp sockets left to the collector), which is not what this
    suite tests. Only this suite's run loads this file."""
    config.addinivalue_line("filterwarnings", "default")


def _install_failures() -> dict[str, str]:
    report = os.environ.get("DEEPINFRA_INTEROP_REPORT")
    if not report or not Path(report).is_file():
        return {}
    failures = {}
    for line in Path(report).read_text("utf-8").splitlines():
        requirement, _, reason = line.partition("\t")
        failures[requirement.strip()] = reason.strip()
    return failures


def require(module: str, requirement: str) -> ModuleType:
    """Import a client under test, or skip saying why it is not there."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = _install_failures().get(requirement) or f"not installed ({exc})"
        pytest.skip(f"{requirement} could not be used: {reason}")


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """One emulator per module, in the recorded shapes (the default)."""
    with Emulator() as server:
        yield server
    assert server.handler_errors == []


@pytest.fixture
def ours(emu: Emulator) -> Iterator[DeepInfraClient]:
    """This SDK's client on the same emulator: the reference every client is compared with."""
    with DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        yield client
