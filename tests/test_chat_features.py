"""Every documented chat option against the emulator, sync and async (asyncio and trio),
streamed and not: logprobs, service tiers, reasoning, the prompt cache and its usage
details, custom deployments, error frames, capability errors, and the options sent as given."""

from __future__ import annotations

from typing import Any

import pytest

from deepinfra_sdk import (
    APIStreamError,
    ArgumentTypeError,
    ArgumentValueError,
    AsyncDeepInfraClient,
    CapabilityError,
    ChatCompletion,
    DeepInfraClient,
    Timeout,
)
from deepinfra_sdk._chat_options import flex_timeout
from deepinfra_sdk.emulator import Emulator, Fault

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
REASONER = "deepseek-ai/DeepSeek-R1"
TOOLLESS = "Sao10K/L3.1-70B-Euryale-v2.2"
CHAT = "/v1/openai/chat/completions"
MSGS = [{"role": "user", "content": "Name a river."}]


def _complete(emu_client: DeepInfraClient, stream: bool, **kw: Any) -> ChatCompletion:
    if not stream:
        return emu_client.chat.completions.create(model=kw.pop("model", MODEL), **kw)
    with emu_client.chat.completions.create(model=kw.pop("model", MODEL), stream=True, **kw) as s:
        for _ in s:
            pass
        return s.to_completion()


@pytest.mark.parametrize("stream", [False, True])
def test_logprobs_are_typed(emu_client: DeepInfraClient, stream: bool) -> None:
    done = _complete(emu_client, stream, messages=MSGS, logprobs=True, top_logprobs=3, max_tokens=5)
    logprobs = done.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert "".join(t.token for t in logprobs.content) == done.text
    first = logprobs.content[0]
    assert first.logprob <= 0 and len(first.top_logprobs) == 3
    assert first.top_logprobs[0].token == first.token
    assert bytes(first.bytes or []) == first.token.encode()
    # The same request gets the same numbers, streamed or not.
    again = _complete(
        emu_client, not stream, messages=MSGS, logprobs=True, top_logprobs=3, max_tokens=5
    )
    assert again.choices[0].logprobs == logprobs
    plain = _complete(emu_client, stream, messages=MSGS, max_tokens=5)
    assert plain.choices[0].logprobs is None


def test_top_logprobs_needs_logprobs(emu_client: DeepInfraClient) -> None:
    with pytest.raises(ArgumentValueError, match="logprobs=True"):
        emu_client.chat.completions.create(model=MODEL, messages=MSGS, top_logprobs=2)


@pytest.mark.parametrize("stream", [False, True])
def test_service_tier_is_echoed(emu: Emulator, emu_client: DeepInfraClient, stream: bool) -> None:
    done = _complete(emu_client, stream, messages=MSGS, service_tier="priority")
    assert done.service_tier == "priority"
    assert _complete(emu_client, stream, messages=MSGS).service_tier is None
    with pytest.raises(ArgumentValueError, match="'default', 'priority', 'flex'"):
        emu_client.chat.completions.create(model=MODEL, messages=MSGS, service_tier="fast")


def test_flex_stretches_the_read_timeout_unless_one_is_given(
    emu: Emulator, emu_client: DeepInfraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    stretched = flex_timeout(Timeout(connect=5, read=30, total=60))
    assert stretched.connect == 5 and stretched.read >= 600 and (stretched.total or 0) >= 600
    seen: list[Any] = []
    send = type(emu_client._transport).request

    def spy(self: Any, *args: Any, **kw: Any) -> Any:
        seen.append(kw.get("timeout"))
        return send(self, *args, **kw)

    monkeypatch.setattr(type(emu_client._transport), "request", spy)
    emu_client.chat.completions.create(model=MODEL, messages=MSGS, service_tier="flex")
    emu_client.chat.completions.create(model=MODEL, messages=MSGS, service_tier="flex", timeout=7)
    emu_client.chat.completions.create(model=MODEL, messages=MSGS)
    assert seen[0].read >= 600
    assert seen[1].read == 7
    assert seen[2] is None


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_models_report_reasoning_tokens(
    emu_client: DeepInfraClient, stream: bool
) -> None:
    done = _complete(emu_client, stream, model=REASONER, messages=MSGS)
    message = done.choices[0].message
    assert message.reasoning_content and message.content
    assert done.usage is not None
    assert done.usage.reasoning_tokens == len(message.reasoning_content.split())
    off = _complete(emu_client, stream, model=REASONER, messages=MSGS, reasoning_effort="none")
    assert off.choices[0].message.reasoning_content is None
    assert off.usage is not None and off.usage.completion_tokens_details is None
    off = _complete(emu_client, stream, model=REASONER, messages=MSGS, reasoning={"enabled": False})
    assert off.choices[0].message.reasoning_content is None
    assert emu_client.usage.reasoning_tokens == done.usage.reasoning_tokens


@pytest.mark.parametrize("stream", [False, True])
def test_a_repeated_prefix_is_cached(emu_client: DeepInfraClient, stream: bool) -> None:
    first = [{"role": "system", "content": "Be brief and exact."}, *MSGS]
    done = _complete(emu_client, stream, messages=first, prompt_cache_key="k1")
    assert done.usage is not None and done.usage.cached_tokens == 0
    follow = [
        *first,
        {"role": "assistant", "content": done.text},
        {"role": "user", "content": "More?"},
    ]
    again = _complete(emu_client, stream, messages=follow, prompt_cache_key="k1")
    assert again.usage is not None and 0 < again.usage.cached_tokens < again.usage.prompt_tokens
    assert again.usage.prompt_tokens_details is not None
    # Another cache key shares nothing.
    other = _complete(emu_client, stream, messages=follow, prompt_cache_key="k2")
    assert other.usage is not None and other.usage.cached_tokens == 0
    assert emu_client.usage.cached_tokens == again.usage.cached_tokens
    assert emu_client.usage.snapshot().models[MODEL].cached_tokens == again.usage.cached_tokens


def test_options_are_sent_as_given_and_none_is_not_sent(
    emu: Emulator, emu_client: DeepInfraClient
) -> None:
    emu_client.chat.completions.create(
        model=MODEL,
        messages=MSGS,
        prompt_cache_key="k",
        chat_template_kwargs={"enable_thinking": False},
        parallel_tool_calls=False,
        response_format={"type": "regex", "regex": "[a-z]+"},
        reasoning={"effort": "low"},
        stream_options=None,
        user=None,
    )
    sent = emu.requests[-1].json
    assert sent["prompt_cache_key"] == "k"
    assert sent["chat_template_kwargs"] == {"enable_thinking": False}
    assert sent["parallel_tool_calls"] is False
    assert sent["response_format"] == {"type": "regex", "regex": "[a-z]+"}
    assert sent["reasoning"] == {"effort": "low"}
    assert "stream_options" not in sent and "user" not in sent
    with emu_client.chat.completions.create(
        model=MODEL, messages=MSGS, stream=True, stream_options={"include_usage": False}
    ) as stream:
        for _ in stream:
            pass
    assert emu.requests[-1].json["stream_options"] == {"include_usage": False}
    assert stream.usage is None
    with pytest.raises(ArgumentValueError, match="'regex': '"):
        emu_client.chat.completions.create(
            model=MODEL, messages=MSGS, response_format={"type": "regex"}
        )


def test_tools_and_stops_given_as_a_generator_are_all_sent(
    emu: Emulator, emu_client: DeepInfraClient
) -> None:
    names = ["get_weather", "local_time"]
    tools = ({"type": "function", "function": {"name": n, "parameters": {}}} for n in names)
    done = emu_client.chat.completions.create(model=MODEL, messages=MSGS, tools=tools)  # type: ignore[arg-type]
    assert [t["function"]["name"] for t in emu.requests[-1].json["tools"]] == names
    assert done.choices[0].message.tool_calls
    emu_client.chat.completions.create(model=MODEL, messages=MSGS, stop=(s for s in ["x", "y"]))  # type: ignore[arg-type]
    assert emu.requests[-1].json["stop"] == ["x", "y"]
    before = emu.request_count()
    with pytest.raises(ArgumentTypeError, match="stop must be a str or a list of str"):
        emu_client.chat.completions.create(model=MODEL, messages=MSGS, stop=[b"x"])  # type: ignore[list-item]
    with pytest.raises(ArgumentTypeError, match="function_tool"):
        emu_client.chat.completions.create(model=MODEL, messages=MSGS, tools=5)  # type: ignore[arg-type]
    assert emu.request_count() == before


def test_a_misspelled_option_names_the_closest_one(emu_client: DeepInfraClient) -> None:
    with pytest.raises(ArgumentTypeError, match="did you mean 'top_logprobs'") as info:
        emu_client.chat.completions.create(model=MODEL, messages=MSGS, top_logprob=2)  # type: ignore[call-overload]
    assert "extra_body" in str(info.value)


def test_deploy_id_models_are_served(emu: Emulator, emu_client: DeepInfraClient) -> None:
    done = emu_client.chat.completions.create(model="deploy_id:abc-123_X", messages=MSGS)
    assert done.text and emu.requests[-1].json["model"] == "deploy_id:abc-123_X"
    for bad in ("deploy_id:", "deploy_id:a/b", "deploy_id:a b"):
        with pytest.raises(ArgumentValueError, match="deploy_id:<id>"):
            emu_client.chat.completions.create(model=bad, messages=MSGS)


def test_an_error_frame_with_null_choices_raises_with_the_text_so_far(
    emu: Emulator, emu_client: DeepInfraClient
) -> None:
    emu.inject(Fault(error_frame="null_choices", after_events=4, message="overloaded"), route=CHAT)
    with emu_client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as stream:
        with pytest.raises(APIStreamError, match="overloaded") as info:
            for _ in stream:
                pass
    assert info.value.partial_text and info.value.partial_text == stream.text


@pytest.mark.parametrize("stream", [False, True])
def test_capability_errors_are_typed_and_not_retried(emu: Emulator, stream: bool) -> None:
    emu.reset()
    with DeepInfraClient(emu.api_key, base_url=emu.url, max_retries=3) as emu_client:
        tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
        with pytest.raises(CapabilityError) as info:
            emu_client.chat.completions.create(
                model=TOOLLESS, messages=MSGS, tools=tools, stream=stream
            )
        assert info.value.status_code == 400 and info.value.feature == "tools"
        assert info.value.model == TOOLLESS and "tool calling" in info.value.message
        fmt = {"type": "json_object"}
        with pytest.raises(CapabilityError) as info:
            emu_client.chat.completions.create(
                model=TOOLLESS, messages=MSGS, response_format=fmt, stream=stream
            )
        assert info.value.status_code == 405 and info.value.feature == "json_object"
        assert emu.request_count(CHAT) == 2  # neither was retried


@pytest.mark.anyio
async def test_async_features(emu: Emulator) -> None:
    emu.reset()
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as emu_client:
        done = await emu_client.chat.completions.create(
            model=REASONER, messages=MSGS, logprobs=True, service_tier="flex", max_tokens=40
        )
        assert done.service_tier == "flex" and done.choices[0].logprobs is not None
        stream = await emu_client.chat.completions.create(
            model=REASONER, messages=MSGS, stream=True, service_tier="priority", logprobs=True
        )
        async with stream:
            async for _ in stream:
                pass
        assert stream.service_tier == "priority"
        whole = stream.to_completion()
        assert whole.usage is not None and whole.usage.reasoning_tokens > 0
        assert whole.choices[0].logprobs is not None
        assert whole.request_id == stream.request_id
        with pytest.raises(CapabilityError):
            await emu_client.chat.completions.create(
                model=TOOLLESS, messages=MSGS, response_format={"type": "json_object"}
            )
