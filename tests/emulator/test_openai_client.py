"""Fidelity check with a client nobody here wrote: the official ``openai`` package."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from deepinfra_sdk.emulator import Emulator

from .helpers import TEXT_MODEL


@pytest.fixture
def client(emulator: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=emulator.url + "/v1/openai", api_key=emulator.api_key, max_retries=0
    ) as c:
        yield c


def test_chat_non_stream(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=TEXT_MODEL, messages=[{"role": "user", "content": "Hello"}], max_tokens=7
    )
    assert completion.object == "chat.completion"
    choice = completion.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.role == "assistant"
    assert len((choice.message.content or "").split()) == 7
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 7
    assert (completion.usage.model_extra or {}).get("estimated_cost", 0) > 0


def test_chat_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=TEXT_MODEL, messages=[{"role": "user", "content": "Hello"}], stream=True
    )
    text, finishes, usages = "", [], []
    with stream:
        for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                if chunk.choices[0].finish_reason:
                    finishes.append(chunk.choices[0].finish_reason)
            if chunk.usage is not None:
                usages.append(chunk.usage)
    assert finishes == ["stop"]
    assert len(usages) == 1
    assert usages[0].completion_tokens == 24
    whole = client.chat.completions.create(
        model=TEXT_MODEL, messages=[{"role": "user", "content": "Hello"}]
    )
    assert text == whole.choices[0].message.content


def test_chat_stream_tool_call(client: openai.OpenAI) -> None:
    tool: Any = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    stream = client.chat.completions.create(
        model=TEXT_MODEL,
        messages=[{"role": "user", "content": "find"}],
        stream=True,
        tools=[tool],
    )
    arguments, names = "", []
    with stream:
        for chunk in stream:
            for call in chunk.choices[0].delta.tool_calls or []:
                if call.function and call.function.name:
                    names.append(call.function.name)
                arguments += (call.function.arguments or "") if call.function else ""
    assert names == ["lookup"]
    assert arguments.startswith('{"q": ')


def test_chat_error_becomes_openai_exception(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(
            model="nobody/nothing", messages=[{"role": "user", "content": "x"}]
        )
    assert "does not exist" in str(caught.value)


def test_embeddings(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="BAAI/bge-large-en-v1.5", input=["a", "b"])
    assert [len(d.embedding) for d in result.data] == [1024, 1024]
    floats = client.embeddings.create(
        model="BAAI/bge-large-en-v1.5", input="a", encoding_format="float"
    )
    assert floats.data[0].embedding == result.data[0].embedding


def test_images(client: openai.OpenAI) -> None:
    result = client.images.generate(
        model="stabilityai/sd3.5", prompt="a cat", response_format="b64_json", size="256x256"
    )
    assert result.data is not None
    assert base64.b64decode(result.data[0].b64_json or "")[:8] == b"\x89PNG\r\n\x1a\n"


def test_models_list(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert TEXT_MODEL in ids
    assert client.models.retrieve(TEXT_MODEL).id == TEXT_MODEL
