"""``client.completions``: text completions, whole or streamed through the chat stream's
machinery (decoder, accumulation, partial text on errors, usage), sync and async."""

from __future__ import annotations

import pytest

from deepinfra_sdk import (
    APIConnectionError,
    ArgumentTypeError,
    AsyncChatStream,
    AsyncDeepInfraClient,
    ChatStream,
    Completion,
    CompletionStream,
    DeepInfraClient,
)
from deepinfra_sdk.emulator import Emulator, Fault

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
PATH = "/v1/openai/completions"


def test_a_whole_completion(emu_client: DeepInfraClient, emu: Emulator) -> None:
    result = emu_client.completions.create(prompt="Once upon a time", max_tokens=6, stop=["zzz"])
    assert isinstance(result, Completion)
    assert result.object == "text_completion" and result.model == MODEL
    assert len(result.text.split()) == 6 and result.choices[0].finish_reason == "length"
    assert result.usage is not None and result.usage.completion_tokens == 6
    assert result.request_id
    assert emu.requests[-1].json == {
        "model": MODEL,
        "prompt": "Once upon a time",
        "max_tokens": 6,
        "stop": ["zzz"],
    }
    usage = emu_client.usage.by_model()[MODEL]
    assert usage.completion_tokens == 6 and usage.cost == pytest.approx(result.usage.estimated_cost)


def test_a_stream_is_the_chat_stream_family(emu_client: DeepInfraClient) -> None:
    whole = emu_client.completions.create(prompt="Tell me", max_tokens=8, n=2)
    with emu_client.completions.create(prompt="Tell me", max_tokens=8, n=2, stream=True) as stream:
        assert isinstance(stream, CompletionStream) and isinstance(stream, ChatStream)
        chunks = list(stream)
    assert all(isinstance(c, Completion) for c in chunks)
    assert stream.text == whole.choices[0].text
    assert stream.texts() == {0: whole.choices[0].text, 1: whole.choices[1].text}
    assert stream.finish_reason == "length"
    assert stream.usage is not None and stream.usage.completion_tokens == 16
    assembled = stream.to_completion()
    assert isinstance(assembled, Completion)
    assert [c.text for c in assembled.choices] == [c.text for c in whole.choices]
    assert "CompletionStream" in repr(stream)
    # The meter counted the stream once, from the usage on its last chunk.
    assert emu_client.usage.by_model()[MODEL].requests == 2


def test_iter_text(emu_client: DeepInfraClient) -> None:
    with emu_client.completions.create(prompt="Tell me", max_tokens=5, stream=True) as stream:
        pieces = list(stream.iter_text())
    assert len(pieces) == 5 and "".join(pieces) == stream.text


def test_a_broken_stream_keeps_the_partial_text(emu_client: DeepInfraClient, emu: Emulator) -> None:
    emu.inject(Fault(drop="after_events", after_events=3), route=PATH)
    stream = emu_client.completions.create(prompt="Tell me", max_tokens=8, stream=True)
    received = []
    with pytest.raises(APIConnectionError) as caught, stream:
        for chunk in stream:
            received.append(chunk.text)
    assert caught.value.partial_text == "".join(received) == stream.text
    assert len(received) == 3


def test_unknown_option_names_the_close_one(emu_client: DeepInfraClient) -> None:
    with pytest.raises(ArgumentTypeError, match="did you mean 'max_tokens'"):
        emu_client.completions.create(prompt="x", max_token=3)  # type: ignore[call-arg]


@pytest.mark.anyio
async def test_async_completions(emu: Emulator, emu_client: DeepInfraClient) -> None:
    whole = emu_client.completions.create(prompt="Async prompt", max_tokens=7)
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
        same = await aclient.completions.create(prompt="Async prompt", max_tokens=7)
        assert isinstance(same, Completion) and same.text == whole.text
        stream = await aclient.completions.create(prompt="Async prompt", max_tokens=7, stream=True)
        assert isinstance(stream, AsyncChatStream)
        pieces = []
        async with stream:
            async for chunk in stream:
                pieces.append(chunk.text)
        assert "".join(pieces) == whole.text == stream.text
        assert stream.usage is not None and stream.usage.completion_tokens == 7
