"""LangChain's DeepInfra integrations against the emulator, compared with this SDK.

* ``langchain_community``: ``ChatDeepInfra`` takes its endpoint as the ``url`` field;
  ``DeepInfraEmbeddings`` hard-codes ``https://api.deepinfra.com/v1/inference/{model_id}`` and
  documents no override, so it is routed with the standard proxy settings through a loopback
  tunnel to an emulator serving TLS for that name (``_tunnel.py``): no monkeypatching.
* ``langchain_deepinfra`` (DeepInfra's package): ``ChatDeepInfra`` and ``DeepInfraEmbeddings``
  take ``base_url`` (documented, also ``DEEPINFRA_API_BASE``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pytest

from deepinfra_sdk import DeepInfraClient
from deepinfra_sdk.emulator import Emulator

from ._tunnel import deepinfra_through_proxy
from .conftest import EMBED_MODEL, MESSAGES, TEXT_MODEL, WEATHER_TOOL, require

QUESTION = MESSAGES[0]["content"]


def reference(ours: DeepInfraClient, max_tokens: Optional[int] = None) -> str:
    return ours.chat.completions.create(
        model=TEXT_MODEL, messages=MESSAGES, max_tokens=max_tokens
    ).text


# -- langchain-community -----------------------------------------------------------------------


def community_chat(emu: Emulator):  # type: ignore[no-untyped-def]
    chat_models = require("langchain_community.chat_models", "langchain-community")
    return chat_models.ChatDeepInfra(
        model=TEXT_MODEL,
        deepinfra_api_token=emu.api_key,
        url=emu.url + "/v1/openai/chat/completions",
        max_tokens=16,
    )


def test_community_chat_and_stream(emu: Emulator, ours: DeepInfraClient) -> None:
    chat = community_chat(emu)
    assert chat.invoke(QUESTION).content == reference(ours, 16)
    assert "".join(str(c.content) for c in chat.stream(QUESTION)) == reference(ours, 16)


@pytest.mark.anyio
async def test_community_chat_async(emu: Emulator, ours: DeepInfraClient) -> None:
    chat = community_chat(emu)
    answer = await chat.ainvoke(QUESTION)
    assert answer.content == reference(ours, 16)


@pytest.fixture
def anyio_backend() -> str:
    # langchain-community's async path is aiohttp, which runs on asyncio only.
    return "asyncio"


def test_community_embeddings_through_a_proxy(
    ours: DeepInfraClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embeddings = require("langchain_community.embeddings", "langchain-community")
    with deepinfra_through_proxy(tmp_path) as (emu, env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        model = embeddings.DeepInfraEmbeddings(
            model_id=EMBED_MODEL, deepinfra_api_token=emu.api_key, normalize=True
        )
        theirs = model.embed_documents(["one river", "two mountains"])
        query = model.embed_query("one river")
        sent = [(r.path, r.json) for r in emu.requests]
    assert [path for path, _ in sent] == [f"/v1/inference/{EMBED_MODEL}"] * 2
    # It prefixes its instructions ("passage: ", "query: "): ours embeds what it sent.
    documents, question = sent[0][1]["inputs"], sent[1][1]["inputs"]
    mine = ours.embeddings.create(model=EMBED_MODEL, input=[*documents, *question])
    assert len(theirs) == len(documents) == 2
    for their, my in zip([*theirs, query], mine.data):
        assert their == pytest.approx(my.embedding, abs=1e-7)


# -- langchain-deepinfra -----------------------------------------------------------------------


def deepinfra_chat(emu: Emulator, **options: object):  # type: ignore[no-untyped-def]
    module = require("langchain_deepinfra", "langchain-deepinfra")
    return module.ChatDeepInfra(
        model=TEXT_MODEL, api_key=emu.api_key, base_url=emu.url + "/v1/openai", **options
    )


def test_deepinfra_chat_stream_and_tools(emu: Emulator, ours: DeepInfraClient) -> None:
    chat = deepinfra_chat(emu, max_retries=0)
    assert chat.invoke(QUESTION).content == reference(ours)
    assert "".join(str(c.content) for c in chat.stream(QUESTION)) == reference(ours)
    (call,) = chat.bind_tools([WEATHER_TOOL]).invoke(QUESTION).tool_calls
    mine = ours.chat.completions.create(model=TEXT_MODEL, messages=MESSAGES, tools=[WEATHER_TOOL])
    assert mine.choices[0].message.tool_calls is not None
    my_call = mine.choices[0].message.tool_calls[0].function
    assert call["name"] == my_call.name
    assert call["args"] == json.loads(my_call.arguments)


def test_deepinfra_embeddings(emu: Emulator, ours: DeepInfraClient) -> None:
    module = require("langchain_deepinfra", "langchain-deepinfra")
    model = module.DeepInfraEmbeddings(
        model=EMBED_MODEL, api_key=emu.api_key, base_url=emu.url + "/v1/openai"
    )
    theirs = model.embed_documents(["one river", "two mountains"])
    mine = ours.embeddings.create(model=EMBED_MODEL, input=["one river", "two mountains"])
    for their, my in zip(theirs, mine.data):
        assert their == pytest.approx(my.embedding, abs=1e-7)
