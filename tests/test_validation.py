"""Input checks made before anything is sent."""

from __future__ import annotations

import pytest

from deepinfra_sdk._validation import (
    check_messages,
    check_model_name,
    check_request_size,
    model_path,
    without_none,
)


@pytest.mark.parametrize(
    "name",
    [
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "stabilityai/sd3.5",
        "black-forest-labs/FLUX-1-schnell",
        "BAAI/bge-large-en-v1.5",
        "owner/name:v2",
        "deepseek-ai/DeepSeek-R1",
    ],
)
def test_valid_model_names(name: str) -> None:
    assert check_model_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "/etc/passwd",
        "owner/../x",
        "../x/y",
        "a/b/c",
        "a/b?x=1",
        "a/b#frag",
        "a /b",
        "a/b\n",
        "noslash",
        "",
        "a/",
        "/b",
        "a/..",
        "a/b%2F..",
    ],
)
def test_invalid_model_names(name: str) -> None:
    with pytest.raises(ValueError, match="owner/name"):
        check_model_name(name)


def test_model_name_type() -> None:
    with pytest.raises(TypeError):
        check_model_name(None)


def test_model_path_quotes_segments() -> None:
    assert model_path("/v1/inference", "stabilityai/sd3.5") == "/v1/inference/stabilityai/sd3.5"
    assert model_path("/models", "o/n:v1") == "/models/o/n:v1"


def test_messages_ok() -> None:
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
        {"role": "tool", "content": "42", "tool_call_id": "1"},
    ]
    assert check_messages(msgs) == msgs
    assert check_messages(tuple(msgs)) == msgs


@pytest.mark.parametrize(
    ("messages", "exc", "fragment"),
    [
        ("hello", TypeError, "list of dicts"),
        ([], ValueError, "empty"),
        (["hi"], TypeError, "messages[0]"),
        ([{"content": "x"}], ValueError, "no 'role'"),
        ([{"role": "robot", "content": "x"}], ValueError, "'robot'"),
        ([{"role": "user"}], ValueError, "no 'content'"),
        ([{"role": "user", "content": None}], ValueError, "tool_calls"),
        ([{"role": "user", "content": 5}], TypeError, "str or a list"),
        (
            [{"role": "user", "content": "ok"}, {"role": "user", "content": 1}],
            TypeError,
            "messages[1]",
        ),
    ],
)
def test_bad_messages_name_the_problem(messages: object, exc: type, fragment: str) -> None:
    with pytest.raises(exc) as info:
        check_messages(messages)
    assert fragment in str(info.value)


def test_without_none() -> None:
    assert without_none({"a": None, "b": 0, "c": False, "d": ""}) == {"b": 0, "c": False, "d": ""}


def test_model_path_keeps_plus_and_colon_literal_in_both_segments() -> None:
    # '+' and ':' are literal in a path: quoting one segment and not the other would make
    # the same character travel two ways.
    assert model_path("/models", "a+b/c+d:v1") == "/models/a+b/c+d:v1"


def test_an_overlong_model_name_gets_its_own_message() -> None:
    with pytest.raises(ValueError, match="300 characters long, over the limit of 256"):
        check_model_name("o/" + "n" * 298)
    assert check_model_name("o/" + "n" * 254)  # exactly at the limit


def test_request_size_counts_shared_values_each_time_and_refuses_cycles() -> None:
    big = "x" * 100
    check_request_size([big] * 9, limit=1000)  # 9 * 102 + 10 = 928 bytes
    with pytest.raises(ValueError, match="at least"):
        check_request_size([big] * 10, limit=1000)  # 1030 bytes: each copy is sent
    shared: dict[str, object] = {"a": big}
    with pytest.raises(ValueError, match="limit of 1,000 bytes"):
        check_request_size([shared] * 10, limit=1000)
    cyclic: dict[str, object] = {}
    cyclic["self"] = cyclic
    with pytest.raises(ValueError, match="circular reference"):
        check_request_size({"messages": [cyclic]})
