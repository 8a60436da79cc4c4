"""client.models: deprecated models are marked, left out of the name lists, warned about once;
errors of the model list name its endpoint."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator

import pytest

from deepinfra_sdk import (
    AsyncDeepInfraClient,
    DeepInfraClient,
    DeepInfraWarning,
    InternalServerError,
    NotFoundError,
)
from deepinfra_sdk.emulator import Emulator, Fault
from deepinfra_sdk.resources.models import deprecation_note
from deepinfra_sdk.types import Model

DEPRECATED = "runwayml/stable-diffusion-v1-5"
REPLACEMENT = "stabilityai/sdxl-turbo"
CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as server:
        yield server
    assert server.handler_errors == []


@pytest.fixture
def client(emu: Emulator) -> Iterator[DeepInfraClient]:
    emu.reset()
    with DeepInfraClient(emu.api_key, base_url=emu.url) as c:
        yield c


def test_deprecated_models_are_marked_and_left_out_of_the_name_lists(
    client: DeepInfraClient,
) -> None:
    entry = client.models.cached(DEPRECATED) or next(
        m for m in client.models.list() if m.model_name == DEPRECATED
    )
    assert entry.is_deprecated and entry.deprecated and entry.replaced_by == REPLACEMENT
    images = client.models.image_models()
    assert DEPRECATED not in images and images
    assert DEPRECATED in client.models.image_models(include_deprecated=True)
    assert set(client.models.image_models(include_deprecated=True)) - set(images) == {DEPRECATED}
    current = {m.model_name for m in client.models.list() if m.type == "text-generation"}
    assert set(client.models.text_models(include_deprecated=True)) == current


def test_a_call_with_a_deprecated_model_warns_once_with_the_replacement(
    client: DeepInfraClient, emu: Emulator
) -> None:
    client.models.list()
    with pytest.warns(DeepInfraWarning) as caught, pytest.raises(NotFoundError) as info:
        client.images.generate("a fox", model=DEPRECATED)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert f"model {DEPRECATED!r} was deprecated on 2024-09-27" in message
    assert f"use {REPLACEMENT!r} instead" in message
    assert caught[0].filename == __file__  # the caller's line
    assert REPLACEMENT in str(info.value)  # the 404 names it too
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second call is not warned about again
        with pytest.raises(NotFoundError):
            client.images.generate("a fox", model=DEPRECATED)
        client.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "x"}]
        )
    assert emu.request_count("/v1/inference/" + DEPRECATED) == 2  # warned, still sent


def test_no_warning_before_any_list_was_fetched(client: DeepInfraClient) -> None:
    # The check is a lookup in what is already known: it never adds a request.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NotFoundError, match=REPLACEMENT):
            client.images.generate("a fox", model=DEPRECATED)


def test_a_scheduled_deprecation_says_when_it_stops() -> None:
    soon = Model(DEPRECATED, deprecated=int(time.time()) + 86400 * 30, replaced_by=REPLACEMENT)
    note = deprecation_note(soon)
    assert "is deprecated and will stop being served on 20" in note
    assert f"use {REPLACEMENT!r} instead" in note
    orphan = Model("a/b", deprecated=1727456682)
    assert "pick a current one from client.models.list()" in deprecation_note(orphan)
    assert "an unknown date" in deprecation_note(Model("a/b", deprecated=10**20))


@pytest.mark.parametrize("featured", [True, False])
def test_model_list_errors_name_the_endpoint(
    client: DeepInfraClient, emu: Emulator, featured: bool
) -> None:
    route = "/models/featured" if featured else "/models/list"
    emu.inject(Fault(status=500), times=3, route=route)
    with pytest.raises(InternalServerError) as info:
        client.models.list(featured=featured)
    assert str(info.value).startswith(f"the model list (GET {route}) failed: ")


@pytest.mark.anyio
async def test_the_async_twins_take_include_deprecated(emu: Emulator) -> None:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
        assert DEPRECATED not in await aclient.models.image_models()
        assert DEPRECATED in await aclient.models.image_models(include_deprecated=True)
