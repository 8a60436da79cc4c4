"""``client.completions``: text completions, whole or streamed through the chat stream's
machinery (decoder, accumulation, partial text on errors, usage), sync and async."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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
    # As a whole answer has it, and as a chat stream's to_completion keeps it.
    assert assembled.request_id is not None and assembled.request_id == stream.request_id
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


@pytest.mark.anyio
async def test_async_iter_text_and_to_completion(
    emu: Emulator, emu_client: DeepInfraClient
) -> None:
    # The async stream reads a completion's chunks as completions (``choice.text``), not as
    # chat deltas: the pieces, and the whole answer assembled from them.
    whole = emu_client.completions.create(prompt="Async pieces", max_tokens=5)
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
        stream = await aclient.completions.create(prompt="Async pieces", max_tokens=5, stream=True)
        async with stream:
            pieces = [piece async for piece in stream.iter_text()]
        assert len(pieces) == 5 and "".join(pieces) == whole.text
        assembled = stream.to_completion()
        assert isinstance(assembled, Completion) and assembled.text == whole.text


# What mypy must see: chat streams yield chat chunks and text-completion streams yield
# completions, sync and async, and a bare ``ChatStream`` annotation still means chat.
TYPES_SNIPPET = textwrap.dedent(
    """
    from deepinfra_sdk import AsyncChatStream, AsyncDeepInfraClient, ChatStream
    from deepinfra_sdk import CompletionStream, DeepInfraClient


    def sync(client: DeepInfraClient, bare: ChatStream) -> None:
        chat = client.chat.completions.create(model="m", messages=[], stream=True)
        for chunk in chat:
            reveal_type(chunk)
        reveal_type(chat.to_completion())
        text = client.completions.create(prompt="p", stream=True)
        assert isinstance(text, CompletionStream)
        for piece in text:
            reveal_type(piece)
        reveal_type(text.to_completion())
        reveal_type(next(bare))


    async def main(aclient: AsyncDeepInfraClient) -> None:
        achat = await aclient.chat.completions.create(model="m", messages=[], stream=True)
        async for chunk in achat:
            reveal_type(chunk)
        reveal_type(achat.to_completion())
        atext = await aclient.completions.create(prompt="p", stream=True)
        assert isinstance(atext, AsyncChatStream)
        async for piece in atext:
            reveal_type(piece)
        reveal_type(atext.to_completion())
    """
)
REVEALED = [
    "ChatCompletionChunk",
    "ChatCompletion",
    "Completion",
    "Completion",
    "ChatCompletionChunk",
    "ChatCompletionChunk",
    "ChatCompletion",
    "Completion",
    "Completion",
]


@pytest.mark.slow
def test_mypy_sees_each_streams_chunk_type(tmp_path: Path) -> None:
    (tmp_path / "snippet.py").write_text(TYPES_SNIPPET, encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    snippet, cache = str(tmp_path / "snippet.py"), str(tmp_path / "cache")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", cache, snippet],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = result.stdout
    revealed = [
        line.split('Revealed type is "')[1].rstrip('"').rsplit(".", 1)[-1]
        for line in out.splitlines()
        if "Revealed type is" in line
    ]
    assert revealed == REVEALED, out
    assert "error:" not in out, out
