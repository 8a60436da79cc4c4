"""Shared fixtures: a clean environment, a secret key that must never leak, loopback servers.

Hypothesis profiles: ``default`` (modest, for every run) and ``long`` (a fuzzing session),
chosen with the environment variable ``HYPOTHESIS_PROFILE``; see tests/README.md.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Iterator
from typing import Any, Callable, Optional

import pytest
from hypothesis import HealthCheck, settings

from deepinfra_sdk import DeepInfraClient
from deepinfra_sdk.emulator import Emulator
from deepinfra_sdk.types import ChatCompletion

# A key that looks real; the suite checks it never reaches a log record or a warning.
TEST_KEY = "sk-di-TESTKEY-0123456789abcdef"
ENV_NAMES = (
    "DEEPINFRA_API_KEY",
    "DEEPINFRA_TOKEN",
    "DEEPINFRA_API_TOKEN",
    "DEEPINFRA_BASE_URL",
    "DEEPINFRA_ALLOW_INSECURE_HTTP",
)
REMOTE = "https://api.deepinfra.com"

# tests/interop runs other people's clients in its own environment (.ci/run's interop step,
# DEEPINFRA_INTEROP=1); the main run neither needs nor collects it.
collect_ignore = [] if os.environ.get("DEEPINFRA_INTEROP") == "1" else ["interop"]

# -- hypothesis profiles -----------------------------------------------------------------------
# Property tests take their example counts from examples(n): n in the default profile, LONG_FACTOR
# times n in the long one (HYPOTHESIS_LONG_FACTOR, 100 unless set). An explicit max_examples in
# @settings would override any profile.
LONG_FACTOR = int(os.environ.get("HYPOTHESIS_LONG_FACTOR", "100"))
settings.register_profile(
    "default", deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long",
    deadline=None,
    # Failures found by a long run are saved (.hypothesis/ is git-ignored) and replayed first.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)


def examples(n: int) -> int:
    """The number of examples for a property test: ``n``, or many more under the long profile."""
    return n * LONG_FACTOR if PROFILE == "long" else n


def mypy_names_overload_keywords() -> bool:
    """Whether mypy names a misspelled keyword given to an overloaded function: mypy 2 does
    ("Unexpected keyword argument ..."), mypy 1 (the last that runs on Python 3.9) says only
    'No overload variant of "f" matches argument types ...'."""
    return int(importlib.metadata.version("mypy").split(".")[0]) >= 2


# -- the key must never leak into logs or warnings ---------------------------------------------


def one_choice_completion(message: dict[str, Any], finish_reason: str = "stop") -> ChatCompletion:
    """A decoded chat completion of one choice holding ``message`` (for answers the emulator
    does not give, such as hostile content)."""
    choice = {"index": 0, "finish_reason": finish_reason, "message": message}
    wire = {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": [choice]}
    return ChatCompletion.from_wire(wire)


def _leaks(text: str) -> bool:
    return TEST_KEY in text or TEST_KEY[-12:] in text


def _exception_text(exc_info: Any) -> str:
    # The whole chain, causes and suppressed contexts too, with every frame's locals: what an
    # error reporter that captures locals would store.
    if not isinstance(exc_info, tuple) or exc_info[1] is None:
        return ""
    parts: list[str] = []
    seen: set[int] = set()
    pending: list[Optional[BaseException]] = [exc_info[1]]
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        summary = traceback.TracebackException.from_exception(exc, capture_locals=True)
        parts.extend(summary.format(chain=False))
        pending += [exc.__cause__, exc.__context__]
    return "".join(parts)


class _Recorder:
    """Scans every log record and every warning of the session for the key."""

    def __init__(self) -> None:
        self.leaks: list[str] = []
        self._formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def scan_record(self, record: logging.LogRecord) -> None:
        texts = [
            repr(record.msg),
            repr(record.args),
            str(record.exc_text or ""),
            str(record.stack_info or ""),
        ]
        try:
            texts.append(self._formatter.format(record))
        except Exception as exc:  # a broken record is the logger's problem; keep scanning
            texts.append(f"<unformattable record: {exc!r}>")
        try:
            texts.append(_exception_text(record.exc_info))
        except Exception as exc:
            texts.append(f"<unformattable exception: {exc!r}>")
        for text in texts:
            if _leaks(text):
                self.leaks.append(f"log record {record.name}:{record.levelname}: {text[:500]}")
                return

    def scan_warning(self, message: object, category: object) -> None:
        text = f"{category!r} {message!s} {message!r}"
        if _leaks(text):
            self.leaks.append(f"warning: {text[:500]}")


_recorder = _Recorder()


@pytest.fixture(scope="session", autouse=True)
def _scan_all_logs_for_the_key() -> Iterator[None]:
    """Every log record and warning of the whole run, at every level, is checked for the key.

    Records are scanned in ``Logger.callHandlers``, which every dispatched record passes
    through whatever its logger's handlers and ``propagate`` flag; warnings where the
    ``warnings`` machinery builds its ``WarningMessage`` (shown, logged or recorded by
    ``pytest.warns`` alike). Turning a warning into an error skips that step, but then the
    test fails anyway.
    """
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    original_call_handlers: Callable[[logging.Logger, logging.LogRecord], None] = (
        logging.Logger.callHandlers
    )
    original_message = warnings.WarningMessage

    def call_handlers(logger: logging.Logger, record: logging.LogRecord) -> None:
        _recorder.scan_record(record)
        original_call_handlers(logger, record)

    class ScannedWarningMessage(original_message):  # type: ignore[misc, valid-type]
        def __init__(self, message: object, category: object, *args: Any, **kw: Any) -> None:
            _recorder.scan_warning(message, category)
            super().__init__(message, category, *args, **kw)

    logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign]
    warnings.WarningMessage = ScannedWarningMessage  # type: ignore[misc]
    try:
        yield
    finally:
        logging.Logger.callHandlers = original_call_handlers  # type: ignore[method-assign]
        warnings.WarningMessage = original_message  # type: ignore[misc]
        root.setLevel(old_level)
    assert not _recorder.leaks, f"the API key leaked: {_recorder.leaks[:3]}"


@pytest.fixture(scope="session", autouse=True)
def _dask_scratch_space(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Dask workers keep scratch files in ``dask-scratch-space`` under the system's temporary
    directory and never remove it: point them at this session's own temporary directory
    (which pytest cleans up) instead. Through the environment, which worker processes
    inherit and dask reads when imported (or refreshed, if it already is)."""
    scratch = tmp_path_factory.mktemp("dask")
    before = os.environ.get("DASK_TEMPORARY_DIRECTORY")
    os.environ["DASK_TEMPORARY_DIRECTORY"] = str(scratch)
    _refresh_dask_config()
    yield
    if before is None:
        del os.environ["DASK_TEMPORARY_DIRECTORY"]
    else:
        os.environ["DASK_TEMPORARY_DIRECTORY"] = before
    _refresh_dask_config()


def _refresh_dask_config() -> None:
    config = sys.modules.get("dask.config")
    if config is not None:
        config.refresh()


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


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A started emulator on a free port; stopped afterwards, with no handler errors."""
    with Emulator() as server:
        yield server
    assert server.handler_errors == []


@pytest.fixture
def emu_client(emu: Emulator) -> Iterator[DeepInfraClient]:
    """A client of the ``emu`` emulator."""
    with DeepInfraClient(emu.api_key, base_url=emu.url) as c:
        yield c


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on both anyio backends."""
    backend: str = request.param
    return backend
