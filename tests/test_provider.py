"""The g4f-style DeepInfra provider class, against a real emulator, on asyncio and trio."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import deepinfra_sdk.provider as provider_module
from deepinfra_sdk import (
    AuthenticationError,
    DeepInfra,
    DeepInfraClient,
    ImageResponse,
    MissingAPIKeyError,
    RateLimitError,
)
from deepinfra_sdk import _constants as C
from deepinfra_sdk.emulator import FEATURED, Emulator, Fault
from tests._leaks import wait_until_no_thread_in_sdk

MODEL = C.DEFAULT_MODEL
IMAGE_MODEL = "stabilityai/sd3.5"
MESSAGES = [{"role": "user", "content": "Write a short poem about spring."}]
CHAT = "/v1/openai/chat/completions"
FEATURED_ROUTE = "/models/featured"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    server = Emulator().start()
    yield server
    server.stop()
    assert server.handler_errors == []


@pytest.fixture(autouse=True)
def _fresh_provider(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the environment at the emulator; empty the class caches and shared clients."""
    monkeypatch.setenv("DEEPINFRA_API_KEY", emu.api_key)
    monkeypatch.setenv("DEEPINFRA_BASE_URL", emu.url)
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    emu.reset()
    DeepInfra.models = []
    DeepInfra.image_models = []
    DeepInfra.close_clients()
    yield
    DeepInfra.close_clients()
    DeepInfra.models = []
    DeepInfra.image_models = []
    emu.clear_faults()


def reference_text(emu: Emulator, model: str = MODEL, **params: Any) -> str:
    with DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        return client.chat.completions.create(model=model, messages=MESSAGES, **params).text


def featured_types() -> tuple[list[str], list[str]]:
    with DeepInfraClient() as client:
        # Deprecated models are not offered (the list marks them; their calls may 404).
        listed = [m for m in client.models.list() if not m.deprecated]
    text = [m.model_name for m in listed if m.type == "text-generation"]
    images = [
        m.model_name
        for m in listed
        if m.type != "text-generation" and m.reported_type == "text-to-image"
    ]
    return text, images


# -- the snippet from the issue, only the import changed ---------------------------------------


@pytest.mark.anyio
async def test_the_original_snippet_runs_with_only_the_import_changed(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from deepinfra_sdk import DeepInfra

    messages = [{"role": "user", "content": "Write a short poem about spring."}]
    async for chunk in DeepInfra.create_async_generator(
        model=DeepInfra.default_model, messages=messages, stream=True
    ):
        print(chunk, end="")
    image = await DeepInfra.create_async_image(
        prompt="A futuristic cityscape at sunset", model="stabilityai/sd3.5", api_key="..."
    )
    print(image.images)

    out = capsys.readouterr().out
    poem = reference_text(emu)
    assert out.startswith(poem)
    assert image.images[0].startswith("data:image/png;base64,")
    assert image.prompt == image.alt == "A futuristic cityscape at sunset"
    assert out == poem + str(image.images) + "\n"


def test_class_attributes() -> None:
    assert DeepInfra.url == "https://deepinfra.com"
    assert DeepInfra.login_url == "https://deepinfra.com/dash/api_keys"
    assert DeepInfra.api_base == "https://api.deepinfra.com/v1/openai"
    assert DeepInfra.working and DeepInfra.needs_auth and DeepInfra.supports_stream
    assert DeepInfra.supports_message_history and DeepInfra.supports_system_message
    assert DeepInfra.default_model == C.DEFAULT_MODEL
    assert DeepInfra.default_image_model == C.DEFAULT_IMAGE_MODEL
    assert DeepInfra.models == [] and DeepInfra.image_models == []
    for name in ("get_models", "create_async_generator", "create_async_image", "create_image"):
        assert getattr(DeepInfra, name).__doc__


# -- model lists -------------------------------------------------------------------------------


def test_get_models_lists_text_then_image_models_and_caches_them(emu: Emulator) -> None:
    text, images = featured_types()
    emu.reset()
    assert text and images
    models = DeepInfra.get_models()
    assert models == text + images
    assert DeepInfra.image_models == images
    assert (
        "runwayml/stable-diffusion-v1-5" in FEATURED
        and "runwayml/stable-diffusion-v1-5" not in models
    )
    assert set(models) <= set(FEATURED)
    assert emu.request_count(FEATURED_ROUTE) == 1
    # The class keeps the list: no request even once every shared client is gone.
    DeepInfra.close_clients()
    assert DeepInfra.get_models(proxy=None, web_search=True) is models
    assert DeepInfra.get_image_models() == images
    assert emu.request_count(FEATURED_ROUTE) == 1
    assert DeepInfra.get_models(refresh=True) == models
    assert emu.request_count(FEATURED_ROUTE) == 2


def test_get_image_models_fills_the_cache_lazily(emu: Emulator) -> None:
    assert DeepInfra.image_models == []
    images = DeepInfra.get_image_models()
    assert IMAGE_MODEL in images
    assert DeepInfra.models[-len(images) :] == images
    assert emu.request_count(FEATURED_ROUTE) == 1


def test_many_threads_asking_at_once_cause_one_request(emu: Emulator) -> None:
    # The first request stalls so every thread arrives while it is in flight.
    emu.inject(Fault(stall=0.2), route=FEATURED_ROUTE)
    barrier = threading.Barrier(32)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def ask() -> None:
        barrier.wait()
        try:
            results.append(list(DeepInfra.get_models()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len(results) == 32 and all(r == results[0] for r in results)
    assert emu.request_count(FEATURED_ROUTE) == 1


def test_the_environment_is_read_at_call_time(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEEPINFRA_BASE_URL")
    monkeypatch.delenv("DEEPINFRA_API_KEY")
    with Emulator(api_keys=["token-key"]) as other:
        monkeypatch.setenv("DEEPINFRA_BASE_URL", other.url)
        monkeypatch.setenv("DEEPINFRA_TOKEN", "token-key")
        text = "".join(str(x) for x in DeepInfra.create_completion(MODEL, MESSAGES))
        assert other.request_count(CHAT) == 1
        DeepInfra.close_clients()
    assert emu.request_count() == 0
    assert text == reference_text(emu)


# -- chat through create_async_generator -------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [True, False])
async def test_text_models_yield_str_equal_to_the_answer(emu: Emulator, stream: bool) -> None:
    pieces = [
        piece async for piece in DeepInfra.create_async_generator(MODEL, MESSAGES, stream=stream)
    ]
    body = emu.requests[-1].json
    assert body.get("stream", False) is stream
    assert pieces and all(isinstance(p, str) and p for p in pieces)
    assert len(pieces) > 1 if stream else len(pieces) == 1
    assert "".join(str(p) for p in pieces) == reference_text(emu)
    assert DeepInfra.models  # the async path filled the class cache
    assert "temperature" not in body and "max_tokens" not in body


@pytest.mark.anyio
async def test_empty_model_means_the_default_and_options_reach_the_server(
    emu: Emulator,
) -> None:
    pieces = [
        p
        async for p in DeepInfra.create_async_generator(
            "",
            MESSAGES,
            temperature=0.3,
            max_tokens=5,
            top_p=0.5,
            seed=7,
            stop=["zzz"],
            headers={"X-Trace": "abc"},
            timeout=30,
        )
    ]
    request = next(r for r in emu.requests if r.path == CHAT)
    assert request.json["model"] == MODEL
    assert request.json["top_p"] == 0.5 and request.json["seed"] == 7
    assert request.json["stop"] == ["zzz"]
    assert request.json["temperature"] == 0.3 and request.json["max_tokens"] == 5
    assert "headers" not in request.json and "timeout" not in request.json
    assert request.headers["x-trace"] == "abc"
    assert "".join(str(p) for p in pieces) == reference_text(emu, max_tokens=5)


@pytest.mark.anyio
async def test_an_image_model_yields_one_image_from_the_last_user_message(emu: Emulator) -> None:
    messages = [
        {"role": "system", "content": "You draw."},
        {"role": "user", "content": "a red boat"},
        {"role": "assistant", "content": "Sure."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "a lighthouse"},
                {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}},
                {"type": "text", "text": "at night"},
            ],
        },
    ]
    results = [
        r
        async for r in DeepInfra.create_async_generator(
            IMAGE_MODEL, messages, temperature=0.9, max_tokens=10, width=64, height=64
        )
    ]
    assert len(results) == 1 and isinstance(results[0], ImageResponse)
    assert results[0].prompt == "a lighthouse\nat night"
    assert results[0].images[0].startswith("data:image/png;base64,")
    body = emu.requests[-1].json
    assert emu.requests[-1].path == f"/v1/inference/{IMAGE_MODEL}"
    assert body == {"prompt": "a lighthouse\nat night", "width": 64, "height": 64}


@pytest.mark.anyio
async def test_an_image_model_takes_prompt_over_the_messages(emu: Emulator) -> None:
    results = [
        r
        async for r in DeepInfra.create_async_generator(
            IMAGE_MODEL, MESSAGES, prompt="a quiet harbour", extra_data={"seed": 3}
        )
    ]
    assert len(results) == 1 and isinstance(results[0], ImageResponse)
    assert results[0].alt == "a quiet harbour"
    assert emu.requests[-1].json == {"prompt": "a quiet harbour", "seed": 3}


@pytest.mark.anyio
async def test_the_api_key_argument_overrides_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Emulator(api_keys=["the-right-key"]) as guarded:
        monkeypatch.setenv("DEEPINFRA_BASE_URL", guarded.url)
        monkeypatch.setenv("DEEPINFRA_API_KEY", "the-right-key")
        with pytest.raises(AuthenticationError):
            async for _ in DeepInfra.create_async_generator(MODEL, MESSAGES, api_key="a-wrong-key"):
                pass
        monkeypatch.setenv("DEEPINFRA_API_KEY", "a-wrong-key")
        answer = [
            p
            async for p in DeepInfra.create_async_generator(
                MODEL, MESSAGES, stream=False, api_key="the-right-key"
            )
        ]
        assert answer
        with pytest.raises(AuthenticationError):
            await DeepInfra.create_async_image("a cat", IMAGE_MODEL)
        DeepInfra.close_clients()


@pytest.mark.anyio
async def test_the_proxy_argument_routes_requests_through_the_proxy(emu: Emulator) -> None:
    # The base URL is unreachable (nothing listens on port 1): only the proxy can answer,
    # and the emulator serves absolute-form proxy requests like a forwarding proxy.
    unreachable = "http://api.localhost:1"
    DeepInfra.models = [MODEL]  # skip the model list: only the chat request matters here
    pieces = [
        p
        async for p in DeepInfra.create_async_generator(
            MODEL, MESSAGES, base_url=unreachable, proxy=emu.url
        )
    ]
    assert "".join(str(p) for p in pieces) == reference_text(emu)
    assert emu.request_count(CHAT) == 2  # the proxied one and the reference
    shared = provider_module._clients
    assert any(entry.sync.config.proxy == emu.url for entry in shared.values())
    image = DeepInfra.create_image("a kite", api_base=unreachable + "/v1/inference", proxy=emu.url)
    assert image.images


@pytest.mark.anyio
async def test_api_base_must_have_the_expected_form(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="/v1/openai"):
        async for _ in DeepInfra.create_async_generator(MODEL, MESSAGES, api_base=emu.url):
            pass
    with pytest.raises(ValueError, match="/v1/inference"):
        await DeepInfra.create_async_image("a cat", api_base=emu.url + "/v1/openai")
    with pytest.raises(ValueError, match="/v1/openai"):
        DeepInfra.get_models(api_base="https://api.deepinfra.com/v2")
    with pytest.raises(ValueError, match="disagree"):
        list(
            DeepInfra.create_completion(
                MODEL, MESSAGES, api_base=emu.url + "/v1/openai", base_url="http://127.0.0.1:9"
            )
        )
    assert emu.request_count() == 0
    # The right form works, trailing slash and all.
    pieces = [
        p
        async for p in DeepInfra.create_async_generator(
            MODEL, MESSAGES, api_base=emu.url + "/v1/openai/"
        )
    ]
    assert "".join(str(p) for p in pieces) == reference_text(emu)
    image = await DeepInfra.create_async_image("a cat", api_base=emu.url + "/v1/inference")
    assert image.images


@pytest.mark.anyio
async def test_leaving_early_closes_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator(token_delay=0.01, answer_tokens=500) as slow:
        monkeypatch.setenv("DEEPINFRA_BASE_URL", slow.url)
        DeepInfra.models = [MODEL]  # no model-list connection: only the stream's one
        generator = DeepInfra.create_async_generator(MODEL, MESSAGES)
        pieces = []
        async for piece in generator:
            pieces.append(piece)
            if len(pieces) == 3:
                break
        await generator.aclose()
        deadline = time.monotonic() + 3
        while slow.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert slow.open_connections == 0  # dropped, not left streaming or pooled half-read
        wait_until_no_thread_in_sdk()
        DeepInfra.close_clients()


@pytest.mark.anyio
async def test_errors_are_typed_after_the_retries(emu: Emulator) -> None:
    DeepInfra.models = [MODEL]
    emu.inject(Fault(status=429, retry_after="0"), times=3, route=CHAT)
    with pytest.raises(RateLimitError):
        async for _ in DeepInfra.create_async_generator(MODEL, MESSAGES):
            pass
    assert emu.request_count(CHAT) == 3  # the first try and two retries
    with pytest.raises(TypeError, match="messages"):
        async for _ in DeepInfra.create_async_generator(IMAGE_MODEL, "draw a cat"):  # type: ignore[arg-type]
            pass
    DeepInfra.models = [IMAGE_MODEL]
    DeepInfra.image_models = [IMAGE_MODEL]
    with pytest.raises(ValueError, match="prompt"):
        async for _ in DeepInfra.create_async_generator(
            IMAGE_MODEL, [{"role": "system", "content": "no user here"}]
        ):
            pass
    with pytest.raises(TypeError, match="proxy"):
        await DeepInfra.create_async_image("a cat", proxy={"http": emu.url})  # type: ignore[arg-type]


# -- the synchronous twins ---------------------------------------------------------------------


def test_create_completion_streams_and_answers_whole(emu: Emulator) -> None:
    streamed = list(DeepInfra.create_completion(MODEL, MESSAGES))
    whole = list(DeepInfra.create_completion(None, MESSAGES, stream=False, top_k=5))
    assert len(streamed) > 1 and all(isinstance(p, str) for p in streamed)
    assert "".join(str(p) for p in streamed) == reference_text(emu) == whole[0]
    assert len(whole) == 1
    assert emu.requests[-2].json["top_k"] == 5
    images = list(DeepInfra.create_completion(IMAGE_MODEL, MESSAGES, seed=1))
    assert len(images) == 1 and isinstance(images[0], ImageResponse)
    assert images[0].prompt == MESSAGES[0]["content"]


def test_create_completion_closed_early_closes_the_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Emulator(token_delay=0.01, answer_tokens=500) as slow:
        monkeypatch.setenv("DEEPINFRA_BASE_URL", slow.url)
        DeepInfra.models = [MODEL]
        generator = DeepInfra.create_completion(MODEL, MESSAGES)
        assert isinstance(next(generator), str)
        generator.close()
        deadline = time.monotonic() + 3
        while slow.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert slow.open_connections == 0
        DeepInfra.close_clients()


def test_create_image(emu: Emulator) -> None:
    image = DeepInfra.create_image("a windmill", extra_data={"width": 64}, height=64)
    assert isinstance(image, ImageResponse)
    assert image.prompt == "a windmill" and image.model == C.DEFAULT_IMAGE_MODEL
    assert emu.requests[-1].path == f"/v1/inference/{C.DEFAULT_IMAGE_MODEL}"
    assert emu.requests[-1].json == {"prompt": "a windmill", "width": 64, "height": 64}
    cog = DeepInfra.create_image("a windmill", "stability-ai/sdxl")
    assert cog.images and emu.requests[-1].json == {"input": {"prompt": "a windmill"}}
    with pytest.raises(ValueError, match="model="):
        DeepInfra.create_image("a windmill", extra_data={"model": "x/y"})


# -- shared clients ----------------------------------------------------------------------------


def test_shared_clients_are_reused_bounded_and_closable(emu: Emulator) -> None:
    list(DeepInfra.create_completion(MODEL, MESSAGES))
    list(DeepInfra.create_completion(MODEL, MESSAGES))
    assert len(provider_module._clients) == 1
    assert emu.connections_accepted == 1  # one pooled connection served every request
    for i in range(12):
        DeepInfra.create_image("a cat", timeout=10 + i)
    assert len(provider_module._clients) == provider_module._MAX_SHARED_CLIENTS
    clients = [entry.sync for entry in provider_module._clients.values()]
    DeepInfra.close_clients()
    assert not provider_module._clients
    with pytest.raises(RuntimeError, match="closed"):
        clients[0].images.generate("a cat")
    # The cache holds digests, never the key itself.
    list(DeepInfra.create_completion(MODEL, MESSAGES, stream=False))
    assert emu.api_key not in repr(provider_module._clients)


# -- the original's interface (gpt4free 2025) -------------------------------------------------


def test_signatures_keep_the_originals_positional_order() -> None:
    import inspect

    def positional(function: Any) -> list[str]:
        return [
            p.name
            for p in inspect.signature(function).parameters.values()
            if p.kind is p.POSITIONAL_OR_KEYWORD
        ]

    chat = ["model", "messages", "stream", "prompt", "temperature", "max_tokens"]
    assert positional(DeepInfra.create_async_generator) == chat
    assert positional(DeepInfra.create_completion) == chat
    image = ["prompt", "model", "api_key", "api_base", "proxy", "timeout", "extra_body"]
    assert positional(DeepInfra.create_async_image) == image
    assert positional(DeepInfra.create_image) == image
    assert positional(DeepInfra.create_async_image_generator) == image
    assert DeepInfra.label == "DeepInfra"


def test_get_model_resolves_aliases_and_refuses_unlisted_names() -> None:
    assert DeepInfra.get_model("") == DeepInfra.default_model
    assert DeepInfra.get_model("flux-schnell") == "black-forest-labs/FLUX-1-schnell"
    assert DeepInfra.models == []  # an alias needs no list
    assert DeepInfra.get_model("Qwen/Qwen2.5-72B-Instruct") == "Qwen/Qwen2.5-72B-Instruct"
    with pytest.raises(ValueError, match=r"not among DeepInfra's featured.*'Qwen/Qwen2.5-72B"):
        DeepInfra.get_model("Qwen/Qwen2.5-72B-Instruc")
    DeepInfra.models = []
    DeepInfra.image_models = []
    with pytest.MonkeyPatch.context() as patch:
        # An empty featured list refuses nothing, as in the original.
        patch.setattr(DeepInfra, "get_models", classmethod(lambda cls, **kw: []))
        assert DeepInfra.get_model("any/model") == "any/model"


def test_image_response_speaks_g4fs_interface(emu: Emulator) -> None:
    image = DeepInfra.create_image("a red kite", "flux-schnell", seed=3)
    assert image.model == "black-forest-labs/FLUX-1-schnell"
    assert image.get_list() == image.images == image.urls
    assert image.get("seed") == 3 == image.options["seed"]
    assert image.get("missing") is None
    url = image.images[0]
    assert str(image) == f"[![a red kite]({url})]({url})"
    two = ImageResponse(["https://x.invalid/1.png", "https://x.invalid/2.png"], prompt="kites")
    assert str(two).splitlines() == [
        "[![#1 kites](https://x.invalid/1.png)](https://x.invalid/1.png)",
        "[![#2 kites](https://x.invalid/2.png)](https://x.invalid/2.png)",
    ]


@pytest.mark.anyio
async def test_image_chunks_can_be_awaited_or_used_as_they_are(emu: Emulator) -> None:
    chunks = [
        c
        async for c in DeepInfra.create_async_generator(
            IMAGE_MODEL, MESSAGES, extra_body={"width": 128}
        )
    ]
    (chunk,) = chunks
    assert isinstance(chunk, ImageResponse)
    assert await chunk is chunk  # the original's callers await it
    body = next(r.json for r in emu.requests if r.path.startswith("/v1/inference/"))
    assert body["width"] == 128 and "extra_body" not in body
    generated = [i async for i in DeepInfra.create_async_image_generator("a cat", "sd-3.5")]
    assert [i.model for i in generated] == [IMAGE_MODEL]


@pytest.mark.anyio
async def test_extra_body_and_extra_data_merge_into_the_chat_body(emu: Emulator) -> None:
    pieces = [
        p
        async for p in DeepInfra.create_async_generator(
            "llama-3.3-70b",
            MESSAGES,
            extra_body={"top_k": 5},
            extra_data={"seed": 9},
        )
    ]
    assert pieces
    (body,) = [r.json for r in emu.requests if r.path == CHAT]
    assert body["model"] == MODEL
    assert (body["top_k"], body["seed"]) == (5, 9)
    assert "extra_body" not in body and "extra_data" not in body
    with pytest.raises(TypeError, match="extra_body must be a dict"):
        async for _ in DeepInfra.create_async_generator(MODEL, MESSAGES, extra_body=[1]):
            pass


# -- the first five minutes: no key, a failing model list ---------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Name lookups of anything but loopback are refused and recorded (offline)."""
    import socket

    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1"):
            asked.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, "offline")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.anyio
async def test_no_key_is_named_before_any_request(
    monkeypatch: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    monkeypatch.delenv("DEEPINFRA_API_KEY")
    monkeypatch.delenv("DEEPINFRA_BASE_URL")  # the real API, which needs a key
    with pytest.raises(MissingAPIKeyError, match="DEEPINFRA_API_KEY") as info:
        async for _ in DeepInfra.create_async_generator(MODEL, MESSAGES):
            pass
    assert info.value.status_code is None and info.value.__cause__ is None
    with pytest.raises(MissingAPIKeyError, match="DEEPINFRA_API_KEY"):
        list(DeepInfra.create_completion(MODEL, MESSAGES))
    assert no_network == []  # refused before the model list, not after a DNS error


@pytest.mark.anyio
@pytest.mark.parametrize("model", [MODEL, "deepseek-ai/DeepSeek-R1", None])
async def test_a_failing_model_list_does_not_fail_a_text_chat(
    emu: Emulator, model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    emu.inject(Fault(status=500), times=100, route=FEATURED_ROUTE)
    pieces = [p async for p in DeepInfra.create_async_generator(model, MESSAGES, stream=False)]
    assert pieces == [reference_text(emu, model or MODEL)]
    assert "GET /models/featured" in caplog.text  # why the list was not used, logged
    DeepInfra.close_clients()
    answer = list(DeepInfra.create_completion(model, MESSAGES, stream=False))
    assert answer == pieces
    assert emu.request_count(CHAT) == 3
