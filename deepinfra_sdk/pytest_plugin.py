"""pytest fixtures for testing your own code against the emulator.

Enable them in a ``conftest.py``::

    pytest_plugins = ["deepinfra_sdk.pytest_plugin"]

    def test_my_summary(deepinfra_client, deepinfra_emulator):
        deepinfra_emulator.inject(Fault(status=503), times=1)
        assert my_app.summarise("text", client=deepinfra_client)

Only this module imports pytest; the emulator itself needs nothing beyond the standard library.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .emulator import Emulator

if TYPE_CHECKING:
    from .client import DeepInfraClient

__all__ = ["deepinfra_client", "deepinfra_emulator"]


@pytest.fixture
def deepinfra_emulator() -> Iterator[Emulator]:
    """A started emulator on a free loopback port, stopped after the test.

    The test fails if the emulator itself hit an internal error while serving it.
    """
    emu = Emulator().start()
    try:
        yield emu
    finally:
        emu.stop()
    assert emu.handler_errors == [], emu.handler_errors


@pytest.fixture
def deepinfra_client(deepinfra_emulator: Emulator) -> Iterator[DeepInfraClient]:
    """A ``DeepInfraClient`` pointed at ``deepinfra_emulator`` with its key."""
    from .client import DeepInfraClient

    with DeepInfraClient(deepinfra_emulator.api_key, base_url=deepinfra_emulator.url) as client:
        yield client
