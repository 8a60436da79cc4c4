"""Strict keywords: a misspelled option is refused with the closest valid one, never sent;
argument errors are DeepInfraErrors and built-in ValueError/TypeError at once."""

from __future__ import annotations

import inspect
import json
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

import deepinfra_sdk
from deepinfra_sdk import (
    ArgumentError,
    ArgumentTypeError,
    ArgumentValueError,
    AsyncDeepInfraClient,
    DeepInfraClient,
    DeepInfraError,
)
from deepinfra_sdk._chat_options import CreateOptions, ParseOptions, ToolRunOptions
from deepinfra_sdk._keywords import strict_keywords, suggest_keyword
from deepinfra_sdk.emulator import Emulator

from .conftest import mypy_names_overload_keywords

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    server = Emulator().start()
    yield server
    server.stop()
    assert server.handler_errors == []


@pytest.fixture
def client(emu: Emulator) -> Iterator[DeepInfraClient]:
    with DeepInfraClient(emu.api_key, base_url=emu.url) as c:
        yield c


# Each misspelling a newcomer made (issue 15), with the keyword the error must suggest.
CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
HI = [{"role": "user", "content": "hi"}]
MISSPELLED: list[tuple[Callable[[DeepInfraClient], Any], str, str]] = [
    (
        lambda c: c.embeddings.create(input="hi", dimension=8),
        "dimension",
        "dimensions",
    ),
    (
        lambda c: c.chat.completions.create(model=CHAT, messages=HI, max_token=5),
        "max_token",
        "max_tokens",
    ),
    (
        lambda c: c.chat.completions.create(model=CHAT, messages=HI, temprature=0),
        "temprature",
        "temperature",
    ),
    (lambda c: c.images.generate("a fox", widht=64), "widht", "width"),
    (lambda c: c.images.generate("a fox", num_image=2), "num_image", "num_images"),
    (lambda c: c.models.list(refesh=True), "refesh", "refresh"),
    (lambda c: c.models.text_models(refrsh=True), "refrsh", "refresh"),
    (lambda c: c.models.get(nme="a/b"), "nme", "name"),
]


@pytest.mark.parametrize(("call", "wrong", "right"), MISSPELLED)
def test_a_misspelled_keyword_is_refused_naming_the_closest_and_nothing_is_sent(
    client: DeepInfraClient,
    emu: Emulator,
    call: Callable[[DeepInfraClient], Any],
    wrong: str,
    right: str,
) -> None:
    before = len(emu.requests)
    with pytest.raises(ArgumentTypeError) as info:
        call(client)
    message = str(info.value)
    assert f"unexpected keyword argument '{wrong}'" in message
    assert f"did you mean '{right}'?" in message
    assert isinstance(info.value, TypeError) and isinstance(info.value, DeepInfraError)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert len(emu.requests) == before


def test_the_hint_points_at_extra_body_where_the_method_has_one(client: DeepInfraClient) -> None:
    with pytest.raises(ArgumentTypeError, match=r"extra_body=\{\.\.\.\}") as info:
        client.embeddings.create(input="hi", scheduler="x")
    assert "valid keywords: dimensions, encoding_format, extra_body, extra_headers, input" in (
        str(info.value)
    )
    with pytest.raises(ArgumentTypeError) as info:
        client.models.list(zzz=1)
    assert "extra_body" not in str(info.value)


def test_extra_body_sends_a_field_the_sdk_does_not_model(
    client: DeepInfraClient, emu: Emulator
) -> None:
    client.embeddings.create(input="hi", extra_body={"normalize": True})
    assert emu.requests[-1].json["normalize"] is True
    client.images.generate("a fox", width=64, height=64, extra_body={"scheduler": "euler"})
    assert emu.requests[-1].json["scheduler"] == "euler"


def test_a_misspelled_client_option_is_refused_too() -> None:
    with pytest.raises(ArgumentTypeError, match="did you mean 'max_retries'"):
        DeepInfraClient(max_retry=3)  # type: ignore[call-arg]
    with pytest.raises(ArgumentTypeError, match="did you mean 'max_concurrency'"):
        AsyncDeepInfraClient(max_concurency=3)  # type: ignore[call-arg]


@pytest.mark.anyio
async def test_the_async_twins_refuse_the_same_way(emu: Emulator) -> None:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
        before = len(emu.requests)
        with pytest.raises(ArgumentTypeError, match="did you mean 'dimensions'"):
            await aclient.embeddings.create(input="hi", dimension=8)  # type: ignore[call-arg]
        with pytest.raises(ArgumentTypeError, match="did you mean 'height'"):
            await aclient.images.generate("a fox", hieght=64)  # type: ignore[call-arg]
        with pytest.raises(ArgumentTypeError, match="did you mean 'featured'"):
            await aclient.models.list(featurd=False)  # type: ignore[call-arg]
        chat = aclient.chat.completions
        with pytest.raises(ArgumentTypeError, match="did you mean 'max_tokens'"):
            await chat.create(model=CHAT, messages=HI, max_token=5)  # type: ignore[call-overload]
        with pytest.raises(ArgumentTypeError, match="'temprature': did you mean 'temperature'"):
            await chat.run_tools(model=CHAT, messages=HI, tools=[], temprature=1)  # type: ignore[call-arg]
        with pytest.raises(ArgumentTypeError, match="'max_round': did you mean 'max_rounds'"):
            await chat.run_tools(model=CHAT, messages=HI, tools=[], max_round=1)  # type: ignore[call-arg]
        with pytest.raises(ArgumentTypeError, match="'seeed': did you mean 'seed'"):
            await chat.parse(model=CHAT, messages=HI, response_format={}, seeed=1)  # type: ignore[call-arg]
        with pytest.raises(ArgumentTypeError, match=r"call create\(stream=\.\.\.\)"):
            await chat.parse(model=CHAT, messages=HI, response_format={}, stream=True)  # type: ignore[call-arg]
        assert len(emu.requests) == before


class _Thing:
    @strict_keywords
    def method(self, /, first: int, *, second: int = 0) -> int:
        if first < 0:
            raise TypeError("raised by the body itself")
        return first + second

    @strict_keywords
    async def amethod(self, *, value: int) -> int:
        if value < 0:
            raise TypeError("raised by the body itself")
        return value


def test_a_type_error_from_the_body_passes_untouched() -> None:
    thing = _Thing()
    assert thing.method(1, second=2) == 3
    with pytest.raises(TypeError, match="raised by the body itself") as info:
        thing.method(-1)
    assert type(info.value) is TypeError


def test_every_refusal_python_makes_becomes_an_argument_type_error() -> None:
    # The same message on every Python: 3.9 names the method alone ("method() got ...").
    thing = _Thing()
    with pytest.raises(
        ArgumentTypeError, match=r"^_Thing\.method\(\) missing 1 required positional"
    ):
        thing.method()  # type: ignore[call-arg]
    with pytest.raises(ArgumentTypeError, match=r"^_Thing\.method\(\) takes 2 positional"):
        thing.method(1, 2)  # type: ignore[misc]
    with pytest.raises(
        ArgumentTypeError,
        match=r"^_Thing\.method\(\) got an unexpected .*'secnd': did you mean 'second'\?$",
    ):
        thing.method(1, secnd=2)  # type: ignore[call-arg]


@pytest.mark.anyio
async def test_a_coroutine_function_stays_one_and_is_checked() -> None:
    thing = _Thing()
    assert inspect.iscoroutinefunction(_Thing.amethod)
    assert await thing.amethod(value=4) == 4
    with pytest.raises(ArgumentTypeError, match="did you mean 'value'"):
        await thing.amethod(valeu=4)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="raised by the body itself") as info:
        await thing.amethod(value=-1)
    assert type(info.value) is TypeError


def test_the_wrapper_keeps_signature_name_and_docs() -> None:
    generate = DeepInfraClient.__init__
    assert generate.__name__ == "__init__"
    from deepinfra_sdk.resources import Embeddings

    assert "extra_body" in inspect.signature(Embeddings.create).parameters
    assert Embeddings.create.__doc__ and "Embed one text" in Embeddings.create.__doc__


def test_suggestions() -> None:
    assert suggest_keyword("temprature", ["temperature", "top_p"]) == "did you mean 'temperature'?"
    assert suggest_keyword("max_token", ["max_tokens", "n"]) == "did you mean 'max_tokens'?"
    assert suggest_keyword("zzz", ["b", "a"]) == "valid keywords: a, b"


# Public methods that take any keyword on purpose, with the reason. Nothing else may.
_OPEN_ON_PURPOSE = {
    # A native model's inputs are the model's own (read client.models.schema(model)): the
    # server, not the SDK, knows the valid names.
    "Inference.run",
    "AsyncInference.run",
}


def _public_methods() -> Iterator[tuple[str, Any]]:
    """Every public method of every resource group, sync and async, and the clients."""
    from deepinfra_sdk import aio, resources

    owners: list[type] = [DeepInfraClient, AsyncDeepInfraClient]
    owners += [getattr(resources, name) for name in resources.__all__]
    owners += [v for k, v in vars(aio).items() if k.startswith("Async") and isinstance(v, type)]
    for owner in owners:
        for name, member in vars(owner).items():
            if isinstance(member, (staticmethod, classmethod, property)):
                continue
            # A resource group's __init__ is the client's business; the clients' are public.
            public_init = name == "__init__" and owner in (DeepInfraClient, AsyncDeepInfraClient)
            if callable(member) and (not name.startswith("_") or public_init):
                yield f"{owner.__name__}.{name}", member


PUBLIC_METHODS = list(_public_methods())


@pytest.mark.parametrize(("name", "method"), PUBLIC_METHODS, ids=[n for n, _ in PUBLIC_METHODS])
def test_public_signatures_are_explicit(name: str, method: Any) -> None:
    kinds = {p.kind for p in inspect.signature(method).parameters.values()}
    if name in _OPEN_ON_PURPOSE:
        return
    assert inspect.Parameter.VAR_KEYWORD not in kinds, f"{name} swallows unknown keywords"


@pytest.mark.parametrize(("name", "method"), PUBLIC_METHODS, ids=[n for n, _ in PUBLIC_METHODS])
def test_public_methods_name_the_closest_keyword(name: str, method: Any) -> None:
    """Each public method (or the sync method its async twin runs) goes through
    strict_keywords, so a misspelling gets a suggestion, not Python's bare TypeError."""
    if name in _OPEN_ON_PURPOSE or name.startswith(("AsyncChatStream.", "AsyncPage.")):
        return
    params = [p for p in inspect.signature(method).parameters.values() if p.name != "self"]
    if not params:
        return
    inner = getattr(method, "__wrapped__", None)
    assert inner is not None, f"{name}: decorate it with @strict_keywords"


def test_argument_errors_are_deep_infra_errors_and_builtins(client: DeepInfraClient) -> None:
    assert issubclass(ArgumentValueError, ValueError) and issubclass(
        ArgumentValueError, ArgumentError
    )
    assert issubclass(ArgumentTypeError, TypeError) and issubclass(ArgumentTypeError, ArgumentError)
    assert issubclass(ArgumentError, DeepInfraError)
    for name in ("ArgumentError", "ArgumentValueError", "ArgumentTypeError"):
        assert name in deepinfra_sdk.__all__
    cases: list[Callable[[], Any]] = [
        lambda: client.embeddings.create(model="not a model", input="x"),
        lambda: client.embeddings.create(input=[]),
        lambda: client.images.generate(""),
        lambda: client.images.generate("x", width=0),
        lambda: client.models.get("../etc"),
        lambda: client.chat.completions.create(model="m/x", messages=[]),
        lambda: client.chat.completions.create(model="m/x", messages="hi"),  # type: ignore[arg-type]
        lambda: DeepInfraClient(base_url="ftp://x"),
        lambda: DeepInfraClient(timeout="soon"),  # type: ignore[arg-type]
        lambda: DeepInfraClient(api_key=""),
    ]
    for case in cases:
        with pytest.raises(DeepInfraError) as info:
            case()
        assert isinstance(info.value, ArgumentError)
        assert isinstance(info.value, (ValueError, TypeError))


def test_argument_errors_pickle() -> None:
    err = ArgumentValueError("bad width: use a positive number")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ArgumentValueError and str(back) == str(err)


@pytest.mark.parametrize("helper", ["parse", "run_tools"])
def test_chat_helpers_refuse_through_create(
    client: DeepInfraClient, emu: Emulator, helper: str
) -> None:
    before = len(emu.requests)
    method = getattr(client.chat.completions, helper)
    extra = {"response_format": {"type": "json_object"}} if helper == "parse" else {"tools": []}
    with pytest.raises(ArgumentTypeError, match="'temprature': did you mean 'temperature'"):
        method(model="a/b", messages=[{"role": "user", "content": "x"}], temprature=1, **extra)
    assert len(emu.requests) == before


def test_a_chat_helpers_own_keyword_misspelled_gets_its_own_suggestion(
    client: DeepInfraClient, emu: Emulator
) -> None:
    before = len(emu.requests)
    with pytest.raises(ArgumentTypeError, match="'max_round': did you mean 'max_rounds'"):
        client.chat.completions.run_tools(model=CHAT, messages=HI, tools=[], max_round=1)  # type: ignore[call-arg]
    with pytest.raises(ArgumentTypeError, match=r"'stream': parse\(\) does not take it"):
        client.chat.completions.parse(model=CHAT, messages=HI, response_format={}, stream=True)  # type: ignore[call-arg]
    assert len(emu.requests) == before


def _keywords(method: Any) -> set[str]:
    return {
        name for name, p in inspect.signature(method).parameters.items() if p.kind is p.KEYWORD_ONLY
    }


def test_the_chat_options_typed_once_are_create_s() -> None:
    """The TypedDicts type checkers read are the implementation's keywords, no more or less."""
    from deepinfra_sdk.aio import AsyncCompletions
    from deepinfra_sdk.resources import Completions

    create = _keywords(Completions.create)
    assert set(CreateOptions.__annotations__) == create - {"model", "messages", "stream"}
    assert set(CreateOptions.__optional_keys__) == set(CreateOptions.__annotations__)
    assert set(ToolRunOptions.__annotations__) == set(CreateOptions.__annotations__) - {"tools"}
    assert set(ParseOptions.__annotations__) == set(CreateOptions.__annotations__) - {
        "response_format"
    }
    # At run time too (help(), editors that inspect), the helpers list create()'s options.
    helpers = {"max_rounds"} | create - {"stream"}
    assert _keywords(Completions.run_tools) == helpers
    assert _keywords(AsyncCompletions.run_tools) == helpers
    assert _keywords(Completions.parse) == _keywords(AsyncCompletions.parse) == create - {"stream"}
    assert _keywords(AsyncCompletions.create) == create


# What mypy must say about the async client's chat methods: each misspelling flagged (one
# error line per call, on its own line), the right spelling clean, streams typed.
_ASYNC_SNIPPET = """
from deepinfra_sdk import AsyncDeepInfraClient


async def wrong(aclient: AsyncDeepInfraClient) -> None:
    chat = aclient.chat.completions
    await chat.create(model="m", messages=[], max_token=5)
    await chat.create(model="m", messages=[], stream=True, temprature=0.5)
    await chat.run_tools(model="m", messages=[], tools=[], max_round=2)
    await chat.run_tools(model="m", messages=[], tools=[], tool_choise="auto")
    await chat.parse(model="m", messages=[], response_format=dict, seeed=1)


async def right(aclient: AsyncDeepInfraClient, flag: bool) -> None:
    chat = aclient.chat.completions
    reveal_type(await chat.create(model="m", messages=[], max_tokens=5))
    reveal_type(await chat.create(model="m", messages=[], stream=False, temperature=0.5))
    stream = await chat.create(model="m", messages=[], stream=True, timeout=3)
    reveal_type(stream)
    async for chunk in stream:
        reveal_type(chunk)
    reveal_type(await chat.create(model="m", messages=[], stream=flag))
    reveal_type(
        await chat.run_tools(model="m", messages=[], tools=[], max_rounds=2, tool_choice="auto")
    )
    reveal_type(await chat.parse(model="m", messages=[], response_format=dict, seed=1))
"""
# The lines of wrong() that call the client, numbered from 1 as the checkers number them.
_WRONG_LINES = {
    n
    for n, line in enumerate(_ASYNC_SNIPPET.partition("async def right")[0].splitlines(), 1)
    if "await chat." in line
}


@pytest.mark.slow
def test_mypy_flags_a_misspelled_keyword_on_the_async_chat_methods(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(_ASYNC_SNIPPET, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "c"), snippet],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = result.stdout
    flagged = {int(line.split(":")[1]) for line in out.splitlines() if ": error: " in line}
    assert flagged == _WRONG_LINES, out
    if not mypy_names_overload_keywords():
        assert out.count('error: No overload variant of "create" of "AsyncCompletions"') == 2, out
    for word, right in [
        ("max_token", "max_tokens"),
        ("temprature", "temperature"),
        ("max_round", "max_rounds"),
        ("tool_choise", "tool_choice"),
        ("seeed", "seed"),
    ]:
        if word in ("max_token", "temprature") and not mypy_names_overload_keywords():
            continue  # mypy 1 flags these lines of the overloaded create, not the word: below
        assert f'Unexpected keyword argument "{word}"' in out, out
        assert f'did you mean "{right}"' in out, out
    revealed = [
        line.split('Revealed type is "')[1].rstrip('"')
        for line in out.splitlines()
        if "Revealed type is" in line
    ]
    chat, chunk = "deepinfra_sdk.types.ChatCompletion", "deepinfra_sdk.types.ChatCompletionChunk"
    stream = f"deepinfra_sdk.aio.AsyncChatStream[{chunk}]"
    assert revealed == [
        chat,
        chat,
        stream,
        chunk,
        f"{chat} | {stream}",
        "deepinfra_sdk._tools.ToolRunResult",
        chat,
    ], out


@pytest.mark.slow
def test_pyright_flags_them_too(tmp_path: Path) -> None:
    """The same snippet through pyright, the engine of VS Code's Pylance."""
    (tmp_path / "snippet.py").write_text(_ASYNC_SNIPPET, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    found = json.loads(result.stdout)["generalDiagnostics"]
    # pyright counts lines from 0.
    assert {
        d["range"]["start"]["line"] + 1 for d in found if d["severity"] == "error"
    } == _WRONG_LINES, found
    revealed = [d["message"].rsplit(" is ", 1)[1] for d in found if d["severity"] == "information"]
    chat, stream = '"ChatCompletion"', '"AsyncChatStream[ChatCompletionChunk]"'
    assert revealed == [
        chat,
        chat,
        stream,
        '"ChatCompletionChunk"',
        '"ChatCompletion | AsyncChatStream[ChatCompletionChunk]"',
        '"ToolRunResult"',
        chat,
    ], found
