"""Per-call ``timeout=``/``extra_headers=``/``max_retries=`` on every public method, and the
``request_id``/``extra`` every call's result carries (resources/_base.py)."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from deepinfra_sdk import (
    APITimeoutError,
    AsyncDeepInfraClient,
    DeepInfraClient,
    InternalServerError,
    Timeout,
)
from deepinfra_sdk.emulator import Emulator, Fault

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
MSGS = [{"role": "user", "content": "Say hi."}]
CHAT = "/v1/openai/chat/completions"


# (route the call hits, the call with the per-call options given as keywords)
CALLS: dict[str, tuple[str, Callable[..., Any]]] = {
    "chat": (CHAT, lambda c, **o: c.chat.completions.create(model=MODEL, messages=MSGS, **o)),
    "chat-stream": (
        CHAT,
        lambda c, **o: c.chat.completions.create(
            model=MODEL, messages=MSGS, stream=True, **o
        ).to_completion(),
    ),
    "chat-parse": (
        CHAT,
        lambda c, **o: c.chat.completions.parse(
            model=MODEL, messages=MSGS, response_format={"type": "object"}, **o
        ),
    ),
    "embeddings": ("/v1/openai/embeddings", lambda c, **o: c.embeddings.create(input="x", **o)),
    "images": ("/v1/inference/", lambda c, **o: c.images.generate("a cat", **o)),
    "models.list": ("/models/featured", lambda c, **o: c.models.list(refresh=True, **o)),
    "models.text_models": (
        "/models/featured",
        lambda c, **o: c.models.text_models(refresh=True, **o),
    ),
    "models.image_models": (
        "/models/featured",
        lambda c, **o: c.models.image_models(refresh=True, **o),
    ),
    "models.get": ("/models/", lambda c, **o: c.models.get(MODEL, **o)),
}


def _last(emu: Emulator, route: str) -> Any:
    return [r for r in emu.requests if r.path.startswith(route)][-1]


@pytest.mark.parametrize("name", list(CALLS))
def test_extra_headers_reach_the_server_and_drop_defaults(
    emu: Emulator, emu_client: DeepInfraClient, name: str
) -> None:
    route, call = CALLS[name]
    call(emu_client, extra_headers={"X-Trace": "t-1", "User-Agent": None})
    seen = _last(emu, route).headers
    assert seen.get("x-trace") == "t-1"
    assert "deepinfra" not in (seen.get("user-agent") or "")
    # The next call without them sends the client's own headers again (no stale template).
    call(emu_client)
    seen = _last(emu, route).headers
    assert seen.get("x-trace") is None
    assert "deepinfra" in (seen.get("user-agent") or "").lower()


@pytest.mark.parametrize("name", list(CALLS))
def test_max_retries_per_call(emu: Emulator, emu_client: DeepInfraClient, name: str) -> None:
    route, call = CALLS[name]
    emu.inject(Fault(status=503), times=2, route=route)
    before = emu.request_count()
    call(emu_client, max_retries=2)  # the client itself retries nothing
    assert emu.request_count() - before == 3
    emu.inject(Fault(status=503), times=1, route=route)
    with pytest.raises(InternalServerError):
        call(emu_client, max_retries=0)


@pytest.mark.parametrize("name", list(CALLS))
def test_timeout_per_call(emu: Emulator, emu_client: DeepInfraClient, name: str) -> None:
    route, call = CALLS[name]
    emu.inject(Fault(stall=2.0), route=route)
    with pytest.raises(APITimeoutError):
        call(emu_client, timeout=Timeout(connect=1.0, read=0.2), max_retries=0)
    emu.clear_faults()
    call(emu_client, timeout=(5, 5))


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"max_retries": -1}, ValueError, "max_retries"),
        ({"max_retries": True}, ValueError, "max_retries"),
        ({"extra_headers": [("a", "b")]}, TypeError, "extra_headers must be a dict"),
        ({"extra_headers": {"a": 1}}, TypeError, r"extra_headers\['a'\]"),
        ({"timeout": "5"}, TypeError, "timeout must be"),
        ({"timeout": -1}, ValueError, "positive"),
    ],
)
def test_bad_options_fail_before_sending(
    emu: Emulator, emu_client: DeepInfraClient, options: dict[str, Any], error: type, match: str
) -> None:
    before = emu.request_count()
    with pytest.raises(error, match=match):
        emu_client.chat.completions.create(model=MODEL, messages=MSGS, **options)
    assert emu.request_count() == before


def test_results_carry_the_request_id(emu: Emulator, emu_client: DeepInfraClient) -> None:
    results = {}
    for name, route, call in [
        ("chat", CHAT, lambda: emu_client.chat.completions.create(model=MODEL, messages=MSGS)),
        ("embeddings", "/v1/openai/embeddings", lambda: emu_client.embeddings.create(input="x")),
        ("images", "/v1/inference/", lambda: emu_client.images.generate("a cat")),
        ("models.get", "/models/", lambda: emu_client.models.get(MODEL)),
    ]:
        emu.inject(Fault(request_id=f"rid-{name}"), route=route)
        results[name] = call()
        assert results[name].request_id == f"rid-{name}"
    emu.inject(Fault(request_id="rid-stream"), route=CHAT)
    with emu_client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as stream:
        assert stream.request_id == "rid-stream"
        for _ in stream:
            pass
        assert stream.to_completion().request_id == "rid-stream"
    # Nested objects carry none; what the server sends unmodelled is reachable.
    assert results["chat"].choices[0].request_id is None
    assert results["chat"].extra == {}


@pytest.mark.anyio
async def test_async_methods_take_the_options(emu: Emulator) -> None:
    emu.reset()
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url, max_retries=0) as emu_client:
        emu.inject(Fault(status=503), route=CHAT)
        emu.inject(Fault(request_id="rid-async"), route=CHAT)
        done = await emu_client.chat.completions.create(
            model=MODEL, messages=MSGS, max_retries=1, extra_headers={"X-A": "1"}
        )
        assert done.request_id == "rid-async"
        assert _last(emu, CHAT).headers.get("x-a") == "1"
        stream = await emu_client.chat.completions.create(
            model=MODEL, messages=MSGS, stream=True, extra_headers={"X-A": "2"}
        )
        async with stream:
            async for _ in stream:
                pass
        assert _last(emu, CHAT).headers.get("x-a") == "2"
        emu.inject(Fault(stall=2.0), route="/v1/openai/embeddings")
        with pytest.raises(APITimeoutError):
            await emu_client.embeddings.create(input="x", timeout=0.2)
        emu.clear_faults()
        models = await emu_client.models.list(refresh=True, extra_headers={"X-A": "3"})
        assert models and _last(emu, "/models/featured").headers.get("x-a") == "3"
