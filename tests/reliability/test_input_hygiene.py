"""Hostile or absurd input is refused before anything is sent, with an error naming the fix.

Every way a user string becomes part of a URL path (native inference, model info, the
replacement lookup behind a 404, the provider class), every header a caller can set, and
the size of a request body. The emulator records what arrives: for each refusal it must
have seen nothing (the provider class may first fetch the public model list, which carries
no user input).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from deepinfra_sdk import AsyncDeepInfraClient, ClientConfig, DeepInfra, DeepInfraClient
from deepinfra_sdk._validation import MAX_MODEL_NAME_LENGTH, MAX_REQUEST_BYTES
from deepinfra_sdk.emulator import Emulator

from ..conftest import TEST_KEY

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
IMAGE_MODEL = "stabilityai/sd3.5"
MSGS = [{"role": "user", "content": "hi"}]

HOSTILE_NAMES = [
    "../x",
    "a/../b",
    "a/..",
    "%2e%2e/x",
    "a/%2e%2e",
    "a/b%2F..%2F..",
    "a/b?x=1",
    "a/b#f",
    "a/b/c",
    "a/b\r\nX-Evil: 1",
    "a/b\n",
    "a/b\x00",
    "/a/b",
    "a\\b",
    "a/b;x=1",
    "a/b@evil.example",
    "http://evil.example/x",
    " a/b",
    "a/b ",
    "",
    "\u0430pple/model",  # a Cyrillic 'a'
    "owner\uff0fname",  # a fullwidth solidus
    "owner\u2215name",  # a division slash
    "owner/name\u2024\u2024",  # one-dot leaders
    "o/" + "n" * (MAX_MODEL_NAME_LENGTH + 1),
    "o/" + "n" * 100_000,
]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e
    assert e.handler_errors == []


@pytest.fixture
def client(emu: Emulator) -> Iterator[DeepInfraClient]:
    with DeepInfraClient(TEST_KEY, base_url=emu.url, max_retries=0) as c:
        yield c


def assert_names_the_fix(exc: BaseException) -> None:
    message = str(exc)
    assert "model" in message
    assert re.search(r"'[\w.-]+/[\w.-]+'", message), message  # an example name to copy
    assert len(message) < 500  # a huge name is not echoed in full


def _calls(client: DeepInfraClient, name: str) -> list[Callable[[], Any]]:
    return [
        lambda: client.models.get(name),
        lambda: client.images.generate("a cat", model=name),
        lambda: client.images.generate("a cat", model=name, api="openai"),
        lambda: client.chat.completions.create(model=name, messages=MSGS),
        lambda: client.chat.completions.create(model=name, messages=MSGS, stream=True),
        lambda: client.embeddings.create(model=name, input="x"),
    ]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_model_names_never_reach_the_wire(
    emu: Emulator, client: DeepInfraClient, name: str
) -> None:
    for call in _calls(client, name):
        with pytest.raises(ValueError) as info:
            call()
        assert_names_the_fix(info.value)
    # The lookup behind a 404 ("is this model deprecated?") refuses quietly as well.
    assert client.models.replacement_for(name) is None
    assert emu.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["../x", "a/b?x=1", "a/b/c", "a/b\r\n"])
async def test_hostile_model_names_never_reach_the_wire_from_async_code(
    emu: Emulator, name: str
) -> None:
    async with AsyncDeepInfraClient(TEST_KEY, base_url=emu.url) as aclient:
        with pytest.raises(ValueError) as info:
            await aclient.models.get(name)
        assert_names_the_fix(info.value)
        with pytest.raises(ValueError):
            await aclient.images.generate("a cat", model=name)
        with pytest.raises(ValueError):
            await aclient.chat.completions.create(model=name, messages=MSGS, stream=True)
    assert emu.requests == []


@pytest.mark.parametrize("name", ["../x", "a/b?x=1", "a/b#f", "a/b/c", "a/b\r\nX: 1"])
def test_hostile_model_names_never_reach_the_wire_through_the_provider(
    emu: Emulator, name: str
) -> None:
    try:
        with pytest.raises(ValueError) as info:
            DeepInfra.create_image("a cat", name, TEST_KEY, base_url=emu.url)
        assert_names_the_fix(info.value)
        with pytest.raises(ValueError):
            list(DeepInfra.create_completion(name, MSGS, api_key=TEST_KEY, base_url=emu.url))
    finally:
        DeepInfra.close_clients()
    # Only the public model list may have been fetched (to tell image models from text).
    assert {(r.method, r.path) for r in emu.requests} <= {("GET", "/models/featured")}


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Trace": "1\r\nX-Evil: 2"},
        {"X-Trace": "1\nX-Evil: 2"},
        {"X-Trace": "1\rX-Evil: 2"},
        {"X-Trace\r\nX-Evil": "2"},
        {"X-Trace": "\x00"},
        {"X Trace": "1"},
        {"X-Trace:": "1"},
        {"X-Trace": "команда"},
    ],
)
def test_header_injection_is_refused_before_any_request(
    emu: Emulator, headers: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="header"):
        DeepInfraClient(TEST_KEY, base_url=emu.url, default_headers=headers)
    with pytest.raises(ValueError, match="header"):
        AsyncDeepInfraClient(TEST_KEY, base_url=emu.url, default_headers=headers)
    try:
        with pytest.raises(ValueError, match="header"):
            DeepInfra.create_image(
                "a cat", IMAGE_MODEL, TEST_KEY, base_url=emu.url, headers=headers
            )
    finally:
        DeepInfra.close_clients()
    assert emu.requests == []


@pytest.mark.parametrize(
    "key",
    [
        f"{TEST_KEY}\r\nX-Evil: 1",
        f"{TEST_KEY}\n",
        f"\r{TEST_KEY}",
        f"{TEST_KEY}\x00",
        f"{TEST_KEY}\u00e9",
        f"{TEST_KEY}\u2028",
        f"{TEST_KEY} extra",
        f"\u201c{TEST_KEY}\u201d",
    ],
)
def test_a_key_http_cannot_carry_is_refused_without_echoing_it(emu: Emulator, key: str) -> None:
    for build in (
        lambda: DeepInfraClient(key, base_url=emu.url),
        lambda: AsyncDeepInfraClient(key, base_url=emu.url),
        lambda: ClientConfig.resolve(api_key=key),
    ):
        with pytest.raises(ValueError) as info:
            build()
        assert TEST_KEY not in str(info.value)
        assert TEST_KEY[-12:] not in str(info.value)
        assert "API key" in str(info.value)
    assert emu.requests == []


def test_a_key_with_a_stray_newline_from_the_environment_is_stripped(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reading a key file with a trailing newline into the environment is common: forgiven.
    monkeypatch.setenv("DEEPINFRA_API_KEY", f"{TEST_KEY}\n")
    with DeepInfraClient(base_url=emu.url) as client:
        assert client.chat.completions.create(model=MODEL, messages=MSGS).text


def test_an_overlong_model_name_is_refused_naming_its_length_and_the_limit(
    emu: Emulator, client: DeepInfraClient
) -> None:
    name = "owner/" + "x" * 5000
    with pytest.raises(ValueError) as info:
        client.chat.completions.create(model=name, messages=MSGS)
    message = str(info.value)
    assert "5006 characters" in message
    assert str(MAX_MODEL_NAME_LENGTH) in message
    assert "not the prompt" in message
    assert emu.requests == []


def _assert_size_error(exc: BaseException) -> None:
    message = str(exc)
    assert f"{MAX_REQUEST_BYTES:,}" in message  # the limit
    assert "at least" in message  # the size
    assert "split the input" in message  # the fix


def test_an_oversized_chat_request_is_refused_before_any_request(
    emu: Emulator, client: DeepInfraClient
) -> None:
    huge = "x" * MAX_REQUEST_BYTES  # with the rest of the body, just over the limit
    for stream in (False, True):
        with pytest.raises(ValueError) as info:
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": huge}], stream=stream
            )
        _assert_size_error(info.value)
    assert emu.requests == []


def test_oversized_embedding_and_image_requests_are_refused_before_any_request(
    emu: Emulator, client: DeepInfraClient
) -> None:
    quarter = "y" * (MAX_REQUEST_BYTES // 4)
    with pytest.raises(ValueError) as info:
        # The same string five times: each copy is sent, so each one counts.
        client.embeddings.create(model="BAAI/bge-large-en-v1.5", input=[quarter] * 5)
    _assert_size_error(info.value)
    with pytest.raises(ValueError) as info:
        client.images.generate(quarter * 5, model=IMAGE_MODEL)
    _assert_size_error(info.value)
    assert emu.requests == []


def test_a_request_just_under_the_limit_is_sent(
    emu: Emulator, client: DeepInfraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shown at a small limit so the test stays fast: the check counts, it does not guess.
    import deepinfra_sdk._validation as validation

    monkeypatch.setattr(validation, "MAX_REQUEST_BYTES", 4096)
    text = "z" * 3000
    assert client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}])
    assert emu.request_count("/v1/openai/chat/completions") == 1
    with pytest.raises(ValueError, match="4,096 bytes"):
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": text * 2}]
        )
    assert emu.request_count("/v1/openai/chat/completions") == 1


def test_a_circular_payload_is_reported_as_such_before_any_request(
    emu: Emulator, client: DeepInfraClient
) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="circular reference"):
        client.chat.completions.create(model=MODEL, messages=MSGS, extra_body={"x": loop})
    assert emu.requests == []
