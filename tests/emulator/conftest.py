"""Fixtures for the emulator tests: a running emulator and a requests session for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from deepinfra_sdk.emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A started emulator on a free port; stopped afterwards, with no handler errors."""
    emu = Emulator().start()
    try:
        yield emu
    finally:
        emu.stop()
    assert emu.handler_errors == []


@pytest.fixture
def session(emulator: Emulator) -> Iterator[requests.Session]:
    """A requests session that sends the emulator's key."""
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {emulator.api_key}"
        yield s
