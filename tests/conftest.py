"""Shared fixtures: a clean environment, a secret key that must never leak, loopback servers."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from deepinfra_sdk import DeepInfraClient

# A key that looks real; the suite checks it never reaches a log record.
TEST_KEY = "sk-di-TESTKEY-0123456789abcdef"
ENV_NAMES = ("DEEPINFRA_API_KEY", "DEEPINFRA_TOKEN", "DEEPINFRA_API_TOKEN", "DEEPINFRA_BASE_URL")
REMOTE = "https://api.deepinfra.com"


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if TEST_KEY in text or TEST_KEY[-12:] in text:
            self.leaks.append(text)


_recorder = _Recorder()


@pytest.fixture(scope="session", autouse=True)
def _scan_all_logs_for_the_key() -> Iterator[None]:
    """Every log record of the whole run, at every level, is checked for the key."""
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(_recorder)
    yield
    root.removeHandler(_recorder)
    root.setLevel(old_level)
    assert not _recorder.leaks, f"the API key leaked into logs: {_recorder.leaks[:3]}"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sleeps() -> list[float]:
    """Delays the retry logic asked for (nothing actually sleeps)."""
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Iterator[DeepInfraClient]:
    """A client for the remote base URL (mocked with `responses`), retries not sleeping."""
    c = DeepInfraClient(api_key=TEST_KEY, base_url=REMOTE)
    c._transport._sleep = sleeps.append
    yield c
    c.close()


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on both anyio backends."""
    backend: str = request.param
    return backend
