"""Input checks made before anything is sent."""

from __future__ import annotations

import pytest

from deepinfra_sdk._validation import check_messages, check_model_name, model_path, without_none


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
