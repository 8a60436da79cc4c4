"""openai-python (sync and async) against the emulator, each answer compared with this SDK's.

Pointed at the emulator the documented way: ``OpenAI(base_url=emu.url + "/v1/openai")``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from deepinfra_sdk import DeepInfraClient
from deepinfra_sdk.emulator import Emulator

from .conftest import EMBED_MODEL, IMAGE_MODEL, MESSAGES, TEXT_MODEL, WEATHER_TOOL, require

openai = require("openai", "openai")


def sync_client(emu: Emulator) -> Any:
    return openai.OpenAI(api_key=emu.api_key, base_url=emu.url + "/v1/openai", max_retries=0)


def test_chat(emu: Emulator, ours: DeepInfraClient) -> None:
    theirs = sync_client(emu).chat.completions.create(model=TEXT_MODEL, messages=MESSAGES)
    mine = ours.chat.completions.create(model=TEXT_MODEL, messages=MESSAGES)
    assert theirs.choices[0].message.content == mine.text
    assert theirs.choices[0].finish_reason == mine.choices[0].finish_reason == "stop"
    assert mine.usage is not None
    assert theirs.usage.completion_tokens == mine.usage.completion_tokens
    assert theirs.usage.prompt_tokens == mine.usage.prompt_tokens
    # The recorded explicit nulls reach openai-python as None, not as errors.
    assert theirs.choices[0].message.tool_calls is None


def test_stream(emu: Emulator, ours: DeepInfraClient) -> None:
    stream = sync_client(emu).chat.completions.create(
        model=TEXT_MODEL, messages=MESSAGES, stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    with ours.chat.completions.create(model=TEXT_MODEL, messages=MESSAGES, stream=True) as mine:
        for _ in mine:
            pass
    assert text == mine.text
    assert chunks[-1].choices[0].finish_reason == mine.finish_reason
    assert mine.usage is not None
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == mine.usage.total_tokens


def test_tools(emu: Emulator, ours: DeepInfraClient) -> None:
    theirs = sync_client(emu).chat.completions.create(
        model=TEXT_MODEL, messages=MESSAGES, tools=[WEATHER_TOOL]
    )
    mine = ours.chat.completions.create(model=TEXT_MODEL, messages=MESSAGES, tools=[WEATHER_TOOL])
    (their_call,) = theirs.choices[0].message.tool_calls
    assert mine.choices[0].message.tool_calls is not None
    (my_call,) = mine.choices[0].message.tool_calls
    assert their_call.function.name == my_call.function.name == "get_weather"
    assert json.loads(their_call.function.arguments) == json.loads(my_call.function.arguments)
    # Streamed, openai-python assembles the same call from the fragments.
    stream = sync_client(emu).chat.completions.create(
        model=TEXT_MODEL, messages=MESSAGES, tools=[WEATHER_TOOL], stream=True
    )
    fragments = [
        call.function.arguments or ""
        for chunk in stream
        if chunk.choices and chunk.choices[0].delta.tool_calls
        for call in chunk.choices[0].delta.tool_calls
    ]
    assert json.loads("".join(fragments)) == json.loads(my_call.function.arguments)


def test_embeddings(emu: Emulator, ours: DeepInfraClient) -> None:
    texts = ["one river", "two mountains"]
    theirs = sync_client(emu).embeddings.create(model=EMBED_MODEL, input=texts)
    mine = ours.embeddings.create(model=EMBED_MODEL, input=texts)
    assert [d.index for d in theirs.data] == [0, 1]
    for their, my in zip(theirs.data, mine.data):
        assert their.embedding == pytest.approx(my.embedding, abs=1e-7)
    assert mine.usage is not None
    assert theirs.usage.prompt_tokens == mine.usage.prompt_tokens


def test_images(emu: Emulator, ours: DeepInfraClient) -> None:
    theirs = sync_client(emu).images.generate(
        model=IMAGE_MODEL,
        prompt="a red fox",
        size="256x256",
        response_format="b64_json",
        extra_body={"seed": 11},
    )
    mine = ours.images.generate(
        "a red fox", model=IMAGE_MODEL, width=256, height=256, seed=11, api="openai"
    )
    assert base64.b64decode(theirs.data[0].b64_json) == mine.image_bytes(0)


def test_models(emu: Emulator, ours: DeepInfraClient) -> None:
    theirs = {m.id for m in sync_client(emu).models.list()}
    listed = ours.models.list(featured=False)
    assert theirs == {m.model_name for m in listed if not m.deprecated}
    assert sync_client(emu).models.retrieve(TEXT_MODEL).id == TEXT_MODEL


@pytest.mark.anyio
async def test_async_chat_stream_tools_embeddings_images_models(
    emu: Emulator, ours: DeepInfraClient
) -> None:
    client = openai.AsyncOpenAI(api_key=emu.api_key, base_url=emu.url + "/v1/openai", max_retries=0)
    async with client:
        whole = await client.chat.completions.create(model=TEXT_MODEL, messages=MESSAGES)
        stream = await client.chat.completions.create(
            model=TEXT_MODEL, messages=MESSAGES, stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        vectors = await client.embeddings.create(model=EMBED_MODEL, input="one river")
        models = await client.models.list()
        tools = await client.chat.completions.create(
            model=TEXT_MODEL, messages=MESSAGES, tools=[WEATHER_TOOL]
        )
        image = await client.images.generate(
            model=IMAGE_MODEL, prompt="a red fox", size="128x128", extra_body={"seed": 2}
        )
    mine = ours.chat.completions.create(model=TEXT_MODEL, messages=MESSAGES)
    assert whole.choices[0].message.content == text == mine.text
    my_vector = ours.embeddings.create(model=EMBED_MODEL, input="one river").data[0].embedding
    assert vectors.data[0].embedding == pytest.approx(my_vector, abs=1e-7)
    assert {m.id for m in models.data} == {m.id for m in sync_client(emu).models.list()}
    my_tools = (
        ours.chat.completions.create(model=TEXT_MODEL, messages=MESSAGES, tools=[WEATHER_TOOL])
        .choices[0]
        .message.tool_calls
    )
    assert my_tools is not None
    (their_call,) = tools.choices[0].message.tool_calls
    assert their_call.function.arguments == my_tools[0].function.arguments
    my_image = ours.images.generate(
        "a red fox", model=IMAGE_MODEL, width=128, height=128, seed=2, api="openai"
    )
    assert base64.b64decode(image.data[0].b64_json) == my_image.image_bytes(0)
