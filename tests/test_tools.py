"""Tools: function_tool's definitions, the tool-call round trip, streamed tool calls, and
run_tools end to end against the emulator (sync, asyncio and trio)."""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

import anyio
import jsonschema
import pydantic
import pytest

from deepinfra_sdk import (
    ArgumentTypeError,
    ArgumentValueError,
    AsyncDeepInfraClient,
    DeepInfraClient,
    ToolRoundsExceededError,
    ToolRunResult,
    function_tool,
)
from deepinfra_sdk._tools import PreparedCall, ToolLoop, _Tool
from deepinfra_sdk.emulator import Emulator
from deepinfra_sdk.resources.chat import MAX_TOOL_THREADS, run_calls
from deepinfra_sdk.types import FunctionCall, ToolCall

from .conftest import one_choice_completion

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
ASK = [{"role": "user", "content": "Plan my day in Paris."}]


class Unit(Enum):
    C = "celsius"
    F = "fahrenheit"


@dataclass
class Place:
    city: str
    country: str = "FR"


def get_weather(city: str, unit: Unit = Unit.C, days: Optional[int] = None) -> dict[str, Any]:
    """Current weather for a city.

    A longer description that is not part of the summary.

    Args:
        city: the city's name,
            in English.
        unit: the temperature unit.
        days: how many days ahead, if a forecast.

    Returns:
        The weather.
    """
    return {"city": city, "temp": 21, "unit": unit.value}


def local_time(place: Place, hour24: bool = True) -> str:
    """The local time at a place.

    :param place: where.
    :param hour24: 24-hour clock.
    """
    assert isinstance(place, Place)  # the arguments arrive as the annotated types
    return "10:42" if hour24 else "10:42 am"


def population(city: str) -> int:
    """How many people live in a city."""
    raise RuntimeError("census offline")


class Booking(pydantic.BaseModel):
    """Book a table."""

    restaurant: str
    seats: int


class Folder(pydantic.BaseModel):
    """File a folder tree."""

    name: str
    children: list[Folder] = []


# -- definitions ---------------------------------------------------------------------------


def test_function_tool_reads_the_signature_and_the_docstring() -> None:
    tool = function_tool(get_weather)
    fn = tool["function"]
    assert tool["type"] == "function" and fn["name"] == "get_weather"
    assert fn["description"] == "Current weather for a city."
    props = fn["parameters"]["properties"]
    assert props["city"] == {"type": "string", "description": "the city's name, in English."}
    assert props["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert props["days"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert fn["parameters"]["required"] == ["city"]
    jsonschema.Draft202012Validator.check_schema(fn["parameters"])
    other = function_tool(local_time)["function"]
    assert other["parameters"]["properties"]["place"]["required"] == ["city"]
    assert other["parameters"]["properties"]["hour24"]["description"] == "24-hour clock."
    model = function_tool(Booking)["function"]
    assert model["name"] == "Booking" and model["description"] == "Book a table."
    assert model["parameters"]["required"] == ["restaurant", "seats"]
    named = function_tool(population, name="people", description="Count people.")["function"]
    assert (named["name"], named["description"]) == ("people", "Count people.")


def test_function_tool_refuses_what_it_cannot_describe() -> None:
    with pytest.raises(ArgumentTypeError, match="function or a pydantic model"):
        function_tool(42)
    with pytest.raises(ArgumentValueError, match="letters, digits"):
        function_tool(population, name="no spaces")

    def odd(x: complex) -> None:
        """Odd."""

    with pytest.raises(ArgumentTypeError, match="'x'"):
        function_tool(odd)


# -- the round trip by hand ----------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("form", ["object", "to_dict"])
def test_the_tool_call_round_trip(
    emu: Emulator, emu_client: DeepInfraClient, stream: bool, form: str
) -> None:
    tools = [function_tool(get_weather), function_tool(population)]
    if stream:
        with emu_client.chat.completions.create(
            model=MODEL, messages=ASK, tools=tools, stream=True
        ) as s:
            for _ in s:
                pass
        message = s.to_completion().choices[0].message
        assert s.tool_calls == message.tool_calls
    else:
        message = (
            emu_client.chat.completions.create(model=MODEL, messages=ASK, tools=tools)
            .choices[0]
            .message
        )
    assert message.content is None and message.tool_calls
    assert [c.function.name for c in message.tool_calls] == ["get_weather", "population"]
    for call, tool in zip(message.tool_calls, tools):
        # The arguments are valid instances of the tool's schema.
        jsonschema.validate(json.loads(call.function.arguments), tool["function"]["parameters"])
    history: list[Any] = [*ASK, message if form == "object" else message.to_dict()]
    for call in message.tool_calls:
        history.append({"role": "tool", "tool_call_id": call.id, "content": "sunny"})
    answer = emu_client.chat.completions.create(model=MODEL, messages=history, tools=tools)
    assert answer.choices[0].finish_reason == "stop" and answer.text.endswith("sunny sunny")
    sent = json.dumps(emu.requests[-1].json["messages"])
    assert sent.count("null") == 1  # the assistant's content, nothing else


def test_streamed_arguments_are_the_exact_concatenation(
    emu: Emulator, emu_client: DeepInfraClient
) -> None:
    tools = [function_tool(get_weather), function_tool(local_time)]
    fragments: dict[int, list[str]] = {}
    with emu_client.chat.completions.create(
        model=MODEL, messages=ASK, tools=tools, stream=True
    ) as s:
        for chunk in s:
            for delta in chunk.choices[0].delta.tool_calls or []:
                if delta.function and delta.function.arguments:
                    fragments.setdefault(delta.index, []).append(delta.function.arguments)
    assert len(fragments) == 2 and all(len(f) > 1 for f in fragments.values())
    assert [c.function.arguments for c in s.tool_calls] == ["".join(fragments[i]) for i in (0, 1)]
    whole = emu_client.chat.completions.create(model=MODEL, messages=ASK, tools=tools)
    assert [c.function.arguments for c in whole.choices[0].message.tool_calls or []] == [
        c.function.arguments for c in s.tool_calls
    ]


# -- run_tools -----------------------------------------------------------------------------


def _check_agent_result(result: ToolRunResult) -> None:
    # Two rounds: get_weather and local_time in parallel, then population; then the answer.
    assert isinstance(result, ToolRunResult) and result.rounds == 2
    roles = [m["role"] for m in result.messages]
    assert roles == ["user", "assistant", "tool", "tool", "assistant", "tool", "assistant"]
    assert result.messages[-1]["content"] == result.text
    calls = [c["function"]["name"] for c in result.messages[1]["tool_calls"]]
    assert calls == ["get_weather", "local_time"]
    assert result.messages[2]["content"].startswith('{"city": ')
    assert result.messages[3]["content"] == "10:42"
    failed = result.messages[5]
    assert failed["content"] == "Error: RuntimeError: census offline"
    assert isinstance(result.tool_errors[failed["tool_call_id"]], RuntimeError)
    assert result.text.endswith("10:42 Error: RuntimeError: census offline")
    assert result.request_id


def test_run_tools_runs_an_agent_loop(emu_client: DeepInfraClient) -> None:
    result = emu_client.chat.completions.run_tools(
        model=MODEL, messages=ASK, tools=[get_weather, local_time, population], temperature=0
    )
    _check_agent_result(result)
    # The conversation can go on from the result.
    more = emu_client.chat.completions.create(
        model=MODEL, messages=[*result.messages, {"role": "user", "content": "Thanks!"}]
    )
    assert more.text


def test_parallel_calls_of_a_round_run_concurrently(emu_client: DeepInfraClient) -> None:
    barrier = threading.Barrier(2, timeout=5)

    def first(city: str) -> str:
        """First."""
        barrier.wait()  # both calls must be running at once to pass
        return "a"

    def second(city: str) -> str:
        """Second."""
        barrier.wait()
        return "b"

    result = emu_client.chat.completions.run_tools(model=MODEL, messages=ASK, tools=[first, second])
    assert result.rounds == 1 and result.tool_errors == {}


def test_a_round_of_many_calls_runs_on_a_bounded_number_of_threads() -> None:
    # The model decides how many calls a round has: 100 must not mean 100 threads.
    lock = threading.Lock()
    running = [0, 0]  # now, most at once

    def slow(n: int) -> int:
        """Slow."""
        with lock:
            running[0] += 1
            running[1] = max(running)
        threading.Event().wait(0.02)
        with lock:
            running[0] -= 1
        return n

    tools = {"slow": _Tool(slow)}
    calls = [
        PreparedCall(ToolCall(str(i), FunctionCall("slow", json.dumps({"n": i}))), tools)
        for i in range(100)
    ]
    assert run_calls(calls) == list(range(100))
    assert 1 < running[1] <= MAX_TOOL_THREADS


def test_a_final_answer_without_content_ends_the_loop() -> None:
    # A reasoning model cut while thinking answers content null and no tool calls.
    message = {"role": "assistant", "content": None, "reasoning_content": "Hm"}
    completion = one_choice_completion(message, finish_reason="length")
    loop = ToolLoop(ASK, [population], max_rounds=2)
    assert loop.take(completion) is None
    result = loop.result(completion)
    assert result.choices[0].message.content is None  # the answer as received
    assert result.messages[-1] == {"role": "assistant", "content": "", "reasoning_content": "Hm"}


def test_the_advice_for_clashing_or_missing_names_works_with_run_tools(
    emu_client: DeepInfraClient,
) -> None:
    def twin(city: str) -> int:
        """The other population."""
        return population(city)

    twin.__name__ = "population"
    with pytest.raises(ArgumentValueError, match=r"same name 'population'.*__name__ = "):
        emu_client.chat.completions.run_tools(model=MODEL, messages=ASK, tools=[population, twin])
    twin.__name__ = "population_2"  # as the error says
    result = emu_client.chat.completions.run_tools(
        model=MODEL, messages=ASK, tools=[population, twin]
    )
    called = {c["function"]["name"] for m in result.messages for c in m.get("tool_calls") or []}
    assert called == {"population", "population_2"}
    nameless = functools.partial(population)
    with pytest.raises(ArgumentValueError, match="for run_tools, set the function's __name__"):
        emu_client.chat.completions.run_tools(model=MODEL, messages=ASK, tools=[nameless])


def test_bad_arguments_and_unknown_tools_become_errors_for_the_model() -> None:
    def strict(count: int) -> int:
        """Needs a number."""
        return count

    tools = {"strict": _Tool(strict)}
    loop = ToolLoop(ASK, [strict], max_rounds=2)
    calls = [
        PreparedCall(ToolCall("1", FunctionCall("strict", '{"count": "three"}')), tools),
        PreparedCall(ToolCall("2", FunctionCall("strict", "{not json")), tools),
        PreparedCall(ToolCall("3", FunctionCall("missing", "{}")), tools),
        PreparedCall(ToolCall("4", FunctionCall("strict", '{"count": 3}')), tools),
    ]
    assert [c.func is None for c in calls] == [True, True, True, False]
    loop.answer(calls, [None, None, None, calls[3].run()])
    answers = {m["tool_call_id"]: m["content"] for m in loop.messages if m["role"] == "tool"}
    assert answers["1"] == "Error: ValueError: strict: count should be an integer, got 'three'"
    assert answers["2"].startswith("Error: ValueError: strict: the arguments are not valid JSON")
    assert answers["3"] == (
        "Error: LookupError: there is no tool named 'missing' (the tools are: strict)"
    )
    assert answers["4"] == "3"
    assert sorted(loop.tool_errors) == ["1", "2", "3"]


def test_max_rounds_raises_with_the_conversation(emu_client: DeepInfraClient) -> None:
    with pytest.raises(ToolRoundsExceededError) as info:
        emu_client.chat.completions.run_tools(
            model=MODEL,
            messages=ASK,
            tools=[get_weather, population],
            tool_choice="required",
            max_rounds=2,
        )
    messages = info.value.messages
    assert [m["role"] for m in messages].count("assistant") == 3
    assert messages[-1]["tool_calls"]
    assert all(isinstance(e, RuntimeError) for e in info.value.tool_errors.values())
    assert len(info.value.tool_errors) == 2


def test_run_tools_refuses_what_it_cannot_run(emu_client: DeepInfraClient) -> None:
    async def coro(city: str) -> str:
        """Async."""
        return city

    with pytest.raises(ArgumentTypeError, match="AsyncDeepInfraClient"):
        emu_client.chat.completions.run_tools(model=MODEL, messages=ASK, tools=[coro])
    with pytest.raises(ArgumentTypeError, match="tools=\\[get_weather\\]"):
        emu_client.chat.completions.run_tools(model=MODEL, messages=ASK, tools=get_weather)  # type: ignore[arg-type]
    with pytest.raises(ArgumentValueError, match="same name"):
        emu_client.chat.completions.run_tools(
            model=MODEL, messages=ASK, tools=[population, population]
        )
    with pytest.raises(ArgumentValueError, match="max_rounds"):
        emu_client.chat.completions.run_tools(
            model=MODEL, messages=ASK, tools=[population], max_rounds=0
        )
    with pytest.raises(ArgumentTypeError, match="stream"):
        emu_client.chat.completions.run_tools(
            model=MODEL, messages=ASK, tools=[population], stream=True
        )


@pytest.mark.anyio
async def test_async_run_tools_with_coroutine_tools(emu: Emulator) -> None:
    emu.reset()
    both = [anyio.Event(), anyio.Event()]

    async def meet(mine: int) -> None:
        both[mine].set()
        with anyio.fail_after(5):  # only if the other call runs at the same time
            await both[1 - mine].wait()

    async def get_weather(city: str, unit: Unit = Unit.C) -> dict[str, Any]:
        """Current weather for a city."""
        await meet(0)
        return {"city": city, "temp": 21, "unit": unit.value}

    async def local_time(place: Place, hour24: bool = True) -> str:
        """The local time at a place."""
        await meet(1)
        return "10:42"

    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as emu_client:
        result = await emu_client.chat.completions.run_tools(
            model=MODEL, messages=ASK, tools=[get_weather, local_time, population]
        )
        _check_agent_result(result)
        # Plain functions run in worker threads, also at the same time.
        barrier = threading.Barrier(2, timeout=5)

        def first(city: str) -> str:
            """First."""
            barrier.wait()
            return "a"

        def second(city: str) -> str:
            """Second."""
            barrier.wait()
            return "b"

        done = await emu_client.chat.completions.run_tools(
            model=MODEL, messages=ASK, tools=[first, second]
        )
        assert done.tool_errors == {} and done.text.endswith("a b")


@pytest.mark.anyio
async def test_async_tool_errors_and_the_round_limit(emu: Emulator) -> None:
    async def flaky(city: str) -> str:
        """Fails."""
        raise RuntimeError(f"no data for {city}")

    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as emu_client:
        result = await emu_client.chat.completions.run_tools(
            model=MODEL, messages=ASK, tools=[flaky]
        )
        ((call_id, error),) = result.tool_errors.items()
        assert isinstance(error, RuntimeError)
        answer = next(m for m in result.messages if m.get("tool_call_id") == call_id)
        assert answer["content"].startswith("Error: RuntimeError: no data for ")
        assert result.messages[-1]["role"] == "assistant"
        with pytest.raises(ToolRoundsExceededError) as info:
            await emu_client.chat.completions.run_tools(
                model=MODEL, messages=ASK, tools=[flaky], tool_choice="required", max_rounds=1
            )
        assert [m["role"] for m in info.value.messages].count("assistant") == 2
        assert len(info.value.tool_errors) == 1


def test_a_pydantic_model_as_a_tool_answers_with_the_validated_model(
    emu_client: DeepInfraClient,
) -> None:
    result = emu_client.chat.completions.run_tools(model=MODEL, messages=ASK, tools=[Booking])
    answer = result.messages[2]
    assert answer["role"] == "tool"
    booking = Booking.model_validate_json(answer["content"])
    assert json.loads(result.messages[1]["tool_calls"][0]["function"]["arguments"]) == (
        booking.model_dump()
    )


def test_a_self_referencing_pydantic_model_is_an_object_schema_at_the_root(
    emu_client: DeepInfraClient,
) -> None:
    parameters = function_tool(Folder)["function"]["parameters"]
    assert parameters["type"] == "object" and "$ref" not in parameters
    assert parameters["properties"]["children"]["items"] == {"$ref": "#/$defs/Folder"}
    tree = {"name": "a", "children": [{"name": "b", "children": []}]}
    jsonschema.validate(tree, parameters)  # the inner references still resolve
    result = emu_client.chat.completions.run_tools(model=MODEL, messages=ASK, tools=[Folder])
    assert isinstance(Folder.model_validate_json(result.messages[2]["content"]), Folder)


@pytest.mark.anyio
async def test_async_streamed_tool_calls_match_the_sync_ones(emu: Emulator) -> None:
    tools = [function_tool(get_weather), function_tool(local_time)]
    with DeepInfraClient(emu.api_key, base_url=emu.url) as sync_client:
        whole = sync_client.chat.completions.create(model=MODEL, messages=ASK, tools=tools)
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=ASK, tools=tools, stream=True
        )
        async with stream:
            async for _ in stream:
                pass
    calls = whole.choices[0].message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in stream.tool_calls] == [
        (c.function.name, c.function.arguments) for c in calls
    ]
    assert stream.to_completion().choices[0].message.content is None
