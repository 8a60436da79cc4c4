"""The fault matrix's shared pieces: one emulator per module, clients whose retries do not
sleep, a leak check, and one way to run a scenario on the sync client or the async facade.

Every scenario test takes ``api`` (or ``make_api``), which is parametrized over ``sync``,
``asyncio`` and ``trio``: :class:`Api` runs the same call directly on a
:class:`DeepInfraClient`, or on an :class:`AsyncDeepInfraClient` inside
``anyio.run(..., backend=...)``. After the test, :class:`LeakCheck` proves that no thread is
left in SDK code, that the pool has no connection checked out, that the only sockets open to
the server are idle pooled ones, and that closing the client leaves none at all.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import anyio
import pytest

from deepinfra_sdk import AsyncDeepInfraClient, DeepInfraClient
from deepinfra_sdk._pump import send_order
from deepinfra_sdk.emulator import Emulator
from tests._leaks import checked_out, idle_pooled, threads_in_sdk, wait_until_no_thread_in_sdk

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
MESSAGES = [{"role": "user", "content": "Tell me how a fault matrix works."}]
STREAM_ARGS: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "max_tokens": 12}
IMAGE_MODEL = "stabilityai/sd3.5"
CHAT = "/v1/openai/chat/completions"
FEATURED = "/models/featured"
NATIVE_IMAGES = "/v1/inference/" + IMAGE_MODEL
OPENAI_IMAGES = "/v1/openai/images/generations"
MODES = ("sync", "asyncio", "trio")
KEY = "sk-reliability-key"


# -- the emulator ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _module_emulator() -> Iterator[Emulator]:
    with Emulator() as server:
        # Before any test queues a fault: the baseline is the undisturbed answer.
        server.baseline = _fetch_baseline(server.url)  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def emu(_module_emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator with counts, faults and settings back at their defaults.

    Fails the test if a connection thread hit an unexpected error.
    """
    server = _module_emulator
    server.reset()
    server.token_delay = 0.0
    server.framing = "chunked"
    server.line_ending = "\n"
    server.answer_tokens = 24
    server.event_gate = None
    yield server
    errors = list(server.handler_errors)
    server.handler_errors.clear()
    assert errors == [], f"the emulator hit errors: {errors[:2]}"


@dataclass
class Baseline:
    """What the clean stream for ``STREAM_ARGS`` delivers: one content piece per event."""

    pieces: list[str]

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def text_of(self, events: int) -> str:
        """The text the first ``events`` events carry."""
        return "".join(self.pieces[:events])


def _fetch_baseline(url: str) -> Baseline:
    with DeepInfraClient(KEY, base_url=url) as client:
        with client.chat.completions.create(**STREAM_ARGS, stream=True) as stream:
            pieces = [content_of(chunk) for chunk in stream]
    assert stream.done and len(pieces) == 14  # role, 12 tokens, finish
    return Baseline(pieces)


@pytest.fixture
def baseline(_module_emulator: Emulator) -> Baseline:
    """The undisturbed answer to ``STREAM_ARGS`` (answers are deterministic), fetched once
    per module before any fault was queued."""
    found: Baseline = _module_emulator.baseline  # type: ignore[attr-defined]
    return found


def content_of(chunk: Any) -> str:
    """Choice 0's content in a chunk ("" for the role and finish chunks)."""
    return (chunk.choices[0].delta.content or "") if chunk.choices else ""


# -- leaks ----------------------------------------------------------------------------------


def client_sockets(port: int) -> int:
    """This process's TCP sockets connected to ``port`` on the other end.

    Asks each socket for its peer (on a duplicate of its descriptor) instead of reading
    /proc/net/tcp, which lists every socket of the machine, TIME_WAIT ones included, and
    takes tens of milliseconds to parse once a test run has made a few thousand.
    """
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            dup = os.dup(int(name))
        except OSError:
            continue  # closed meanwhile (or the listing's own descriptor)
        try:
            sock = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            continue
        with sock:
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            try:
                peer = sock.getpeername()
            except OSError:
                continue  # not connected (a listener, or a connect still pending)
        if peer[1] == port:
            count += 1
    return count


class LeakCheck:
    """Clients to inspect and close after the test, and the ports they talk to."""

    def __init__(self) -> None:
        self.clients: list[DeepInfraClient] = []
        self.ports: set[int] = set()

    def track(self, client: DeepInfraClient) -> None:
        """Check (and close) ``client`` after the test."""
        self.clients.append(client)
        self.ports.add(port_of(client.base_url))

    def watch_port(self, port: int) -> None:
        """Also require that no socket to ``port`` is left open."""
        self.ports.add(port)

    def verify(self) -> None:
        wait_until_no_thread_in_sdk(2.0)
        for client in self.clients:
            assert checked_out(client) == 0, "a connection was never given back to the pool"
        for port in self.ports:
            idle = sum(idle_pooled(c, port) for c in self.clients)
            open_now = client_sockets(port)
            assert open_now == idle, (
                f"{open_now} sockets to port {port} are open, {idle} of them idle in the pool"
            )
        for client in self.clients:
            client.close()
        for port in self.ports:
            assert client_sockets(port) == 0, f"a socket to port {port} outlived its client"
        assert threads_in_sdk() == []
        # Every stream that started opening left the send order, sent or failed.
        assert send_order.unsent == 0, f"{send_order.unsent} streams still count as sending"


@pytest.fixture
def leak_check() -> Iterator[LeakCheck]:
    """After the test: no thread in SDK code, no connection checked out of a pool, no socket
    to a tracked port but idle pooled ones, none at all once the clients are closed, and no
    stream still counted as sending its request."""
    check = LeakCheck()
    yield check
    check.verify()


def port_of(url: str) -> int:
    """The port of an http(s) URL."""
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


# -- one scenario, three ways of running it ------------------------------------------------


@dataclass
class StreamOutcome:
    """How a streamed chat ended, as the caller saw it."""

    pieces: list[str] = field(default_factory=list)
    """Choice 0's content of each chunk the loop received, in order."""
    text: str = ""
    """``stream.text`` after the loop."""
    error: Optional[BaseException] = None
    """What the loop raised (None: it ended normally)."""
    done: bool = False
    request_id: Optional[str] = None


class Api:
    """A client in one of the three modes, with the calls the scenarios need.

    ``sleeps`` records the retry back-off delays asked for; nothing actually sleeps.
    """

    def __init__(self, mode: str, base_url: str, leaks: LeakCheck, **config: Any) -> None:
        self.mode = mode
        self.sleeps: list[float] = []
        self.on_sleep: Optional[Callable[[float], None]] = None
        self.aclient: Optional[AsyncDeepInfraClient] = None
        config.setdefault("api_key", KEY)
        if mode == "sync":
            self.client = DeepInfraClient(base_url=base_url, **config)
        else:
            self.aclient = AsyncDeepInfraClient(base_url=base_url, **config)
            self.client = self.aclient.sync_client
        self.client._transport._sleep = self._record_sleep
        leaks.track(self.client)

    def _record_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)

    @property
    def is_async(self) -> bool:
        return self.aclient is not None

    def _run(self, make: Callable[[], Any]) -> Any:
        async def main() -> Any:
            return await make()

        return anyio.run(main, backend=self.mode)

    def call(self, path: str, *args: Any, **kwargs: Any) -> Any:
        """``client.<path>(*args, **kwargs)``, e.g. ``call("models.list", refresh=True)``."""
        target: Any = self.aclient if self.aclient is not None else self.client
        for name in path.split("."):
            target = getattr(target, name)
        if self.aclient is None:
            return target(*args, **kwargs)
        return self._run(functools.partial(target, *args, **kwargs))

    def models(self) -> Any:
        """The featured model list, fetched afresh (GET)."""
        return self.call("models.list", refresh=True)

    def chat(self, **kwargs: Any) -> Any:
        """A chat completion without streaming (POST)."""
        return self.call("chat.completions.create", model=MODEL, messages=MESSAGES, **kwargs)

    def image(self, **kwargs: Any) -> Any:
        """A small image (POST), native endpoint unless ``api="openai"``."""
        return self.call(
            "images.generate", "a red square", model=IMAGE_MODEL, width=64, height=64, **kwargs
        )

    def stream(self, **kwargs: Any) -> StreamOutcome:
        """Stream ``STREAM_ARGS`` (plus ``kwargs``) to the end or to its error.

        An error from ``create`` (a status, a failed connect) propagates; an error while
        iterating is kept on the outcome.
        """
        args = {**STREAM_ARGS, **kwargs}
        if self.aclient is None:
            return self._sync_stream(args)
        return self._run(functools.partial(self._async_stream, args))

    def _sync_stream(self, args: dict[str, Any]) -> StreamOutcome:
        out = StreamOutcome()
        stream = self.client.chat.completions.create(**args, stream=True)
        try:
            with stream:
                for chunk in stream:
                    out.pieces.append(content_of(chunk))
        except Exception as exc:
            out.error = exc
        out.text, out.done, out.request_id = stream.text, stream.done, stream.request_id
        return out

    async def _async_stream(self, args: dict[str, Any]) -> StreamOutcome:
        assert self.aclient is not None
        out = StreamOutcome()
        stream = await self.aclient.chat.completions.create(**args, stream=True)
        try:
            async with stream:
                async for chunk in stream:
                    out.pieces.append(content_of(chunk))
        except Exception as exc:
            out.error = exc
        out.text, out.done, out.request_id = stream.text, stream.done, stream.request_id
        return out


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """``sync`` (DeepInfraClient), or the async facade on ``asyncio`` or ``trio``."""
    value: str = request.param
    return value


@pytest.fixture
def make_api(mode: str, emu: Emulator, leak_check: LeakCheck) -> Callable[..., Api]:
    """Build an :class:`Api` in this test's mode: ``make_api(timeout=..., base_url=...)``."""

    def make(base_url: Optional[str] = None, **config: Any) -> Api:
        return Api(mode, base_url or emu.url, leak_check, **config)

    return make


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """An :class:`Api` for the emulator, default settings (two retries)."""
    return make_api()


def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_backoff(sleeps: list[float], retries: int) -> None:
    """The delays of ``retries`` back-offs without Retry-After: full jitter, doubling."""
    assert len(sleeps) == retries, sleeps
    for attempt, delay in enumerate(sleeps):
        ceiling = min(8.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling, (attempt, delay)
