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


# -- audio, image edits and text completions: openai-python and this SDK agree --------------


@pytest.fixture
def ours(emulator: Emulator) -> Iterator[Any]:
    from deepinfra_sdk import DeepInfraClient

    with DeepInfraClient(emulator.api_key, base_url=emulator.url, max_retries=0) as c:
        yield c


def test_openai_transcribes_like_our_sdk(client: openai.OpenAI, ours: Any, tmp_path: Any) -> None:
    from deepinfra_sdk.emulator._audio import encode_speech

    path = tmp_path / "hello.wav"
    path.write_bytes(encode_speech("Both clients hear this."))
    with path.open("rb") as f:
        theirs = client.audio.transcriptions.create(
            model="openai/whisper-large-v3",
            file=f,
            response_format="verbose_json",
            timestamp_granularities=["word"],
        )
    mine = ours.audio.transcriptions.create(
        file=path, response_format="verbose_json", timestamp_granularities=["word"]
    )
    assert theirs.text == mine.text == "Both clients hear this."
    assert theirs.duration == mine.duration
    assert [w.word for w in theirs.words or []] == [w.word for w in mine.words]
    assert [s.end for s in theirs.segments or []] == [s.end for s in mine.segments]
    srt = client.audio.transcriptions.create(
        model="openai/whisper-large-v3", file=path, response_format="srt"
    )
    assert srt == ours.audio.transcriptions.create(file=path, response_format="srt")


def test_openai_speaks_like_our_sdk(client: openai.OpenAI, ours: Any) -> None:
    theirs = client.audio.speech.create(
        model="hexgrad/Kokoro-82M", voice="af_bella", input="Same words.", response_format="wav"
    )
    mine = ours.audio.speech.create(input="Same words.", voice="af_bella")
    assert theirs.content == mine.content
    assert mine.media_type == "audio/wav"


def test_openai_edits_an_image_like_our_sdk(client: openai.OpenAI, ours: Any) -> None:
    from deepinfra_sdk.emulator import render_png

    picture = render_png(64, 64, "photo", 1)
    theirs = client.images.edit(
        model="black-forest-labs/FLUX-1-schnell",
        image=("photo.png", picture, "image/png"),
        prompt="add a hat",
        size="256x256",  # type: ignore[arg-type]
        response_format="b64_json",
    )
    mine = ours.images.edit(
        image=picture, prompt="add a hat", model="black-forest-labs/FLUX-1-schnell", size="256x256"
    )
    assert theirs.data is not None
    assert [base64.b64decode(d.b64_json or "") for d in theirs.data] == [
        mine.image_bytes(i) for i in range(len(mine))
    ]


def test_openai_text_completion_like_our_sdk(client: openai.OpenAI, ours: Any) -> None:
    theirs = client.completions.create(model=TEXT_MODEL, prompt="Once upon", max_tokens=6)
    mine = ours.completions.create(model=TEXT_MODEL, prompt="Once upon", max_tokens=6)
    assert theirs.choices[0].text == mine.text
    assert theirs.usage is not None and theirs.usage.total_tokens == mine.usage.total_tokens
    pieces = [
        c.choices[0].text
        for c in client.completions.create(
            model=TEXT_MODEL, prompt="Once upon", max_tokens=6, stream=True
        )
        if c.choices
    ]
    with ours.completions.create(
        model=TEXT_MODEL, prompt="Once upon", max_tokens=6, stream=True
    ) as s:
        assert "".join(pieces) == "".join(s.iter_text()) == s.to_completion().text == mine.text


# -- tools and structured outputs: openai and deepinfra_sdk get the same answers ----------


def _weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def _clock(city: str) -> str:
    """The local time in a city."""
    return "10:42"


def _census(city: str) -> int:
    """How many people live in a city."""
    return 2_100_000


def test_the_tool_loop_agrees_with_openai(emulator: Emulator, client: openai.OpenAI) -> None:
    import json

    from deepinfra_sdk import DeepInfraClient, function_tool

    funcs = {f.__name__: f for f in (_weather, _clock, _census)}
    tools: Any = [function_tool(f) for f in funcs.values()]
    messages: list[Any] = [{"role": "user", "content": "Plan a day in Lyon."}]
    rounds = 0
    while True:  # the loop as openai's docs write it
        completion = client.chat.completions.create(
            model=TEXT_MODEL, messages=messages, tools=tools
        )
        message = completion.choices[0].message
        messages.append(message)
        if not message.tool_calls:
            break
        rounds += 1
        for call in message.tool_calls:
            result = funcs[call.function.name](**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": str(result)})
    with DeepInfraClient(emulator.api_key, base_url=emulator.url) as ours:
        result = ours.chat.completions.run_tools(
            model=TEXT_MODEL,
            messages=[{"role": "user", "content": "Plan a day in Lyon."}],
            tools=list(funcs.values()),
        )
    assert rounds == result.rounds == 2
    assert result.text == message.content
    theirs = [m for m in messages if isinstance(m, dict) and m["role"] == "tool"]
    assert [m["content"] for m in theirs] == [
        m["content"] for m in result.messages if m["role"] == "tool"
    ]


def test_parse_agrees_with_openai(emulator: Emulator, client: openai.OpenAI) -> None:
    import pydantic

    from deepinfra_sdk import DeepInfraClient

    class Street(pydantic.BaseModel):
        name: str
        number: int

    class Home(pydantic.BaseModel):
        owner: str
        street: Street
        rooms: list[str]

    ask = [{"role": "user", "content": "Describe a home."}]
    theirs = client.chat.completions.parse(model=TEXT_MODEL, messages=ask, response_format=Home)  # type: ignore[arg-type]
    with DeepInfraClient(emulator.api_key, base_url=emulator.url) as ours_client:
        ours = ours_client.chat.completions.parse(
            model=TEXT_MODEL, messages=ask, response_format=Home
        )
    assert isinstance(theirs.choices[0].message.parsed, Home)
    assert ours.choices[0].message.parsed == theirs.choices[0].message.parsed
