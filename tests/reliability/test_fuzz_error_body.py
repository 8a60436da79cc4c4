"""Property tests: any error body, however hostile, gives a short message and never raises.

A proxy, a crashing server or an attacker between the caller and DeepInfra decides what an
error body holds: bytes that are not UTF-8, JSON nested thousands deep, megabyte strings,
the documented shapes with every field of the wrong type. Reading it must never raise (the
caller would lose the real error) and the message must stay short enough for a log line.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepinfra_sdk import APIStatusError, APIStreamError
from deepinfra_sdk._error_body import (
    decode_body,
    error_message,
    error_type,
    is_error_frame,
    request_id,
    status_error,
    stream_error,
)
from deepinfra_sdk._exceptions import status_error_class

from ..conftest import examples

# A message is at most this long (the SDK cuts at 500 characters), and str(error) adds the
# status and a request id to it.
MESSAGE_LIMIT = 500
STR_LIMIT = 1000
# Sizes around the cut and far beyond it (drawn from a list: cheap to generate and shrink).
_SIZES = st.sampled_from([0, 1, 2, 499, 500, 501, 20_000])
_DEPTHS = st.sampled_from([1, 2, 50, 900, 1100, 5000, 100_000])

_big_text = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda c, n: c * n,
        st.sampled_from(["x", "é", "😀", " ", "{", "\x00"]),
        _SIZES,
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _big_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_big_text, inner, max_size=4),
    max_leaves=15,
)
_keys = st.sampled_from(["error", "detail", "error_message", "message", "error_type", "msg", "loc", "type", "request_id", "id"])  # fmt: skip
# The documented shapes, with values of any type where the strings should be.
shaped_bodies = st.recursive(
    json_values,
    lambda inner: (
        st.dictionaries(_keys, inner, max_size=4)
        | st.lists(st.dictionaries(_keys, inner, max_size=3), max_size=5)
    ),
    max_leaves=20,
)


def _nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "error":
        return b'{"error": ' * depth + b'"deep"' + b"}" * depth
    if (
        kind == "string"
    ):  # a JSON string whose content is deeply nested JSON, as error_message holds
        inner = '{"error": ' * depth + '"deep"' + "}" * depth
        return json.dumps({"error_message": inner}).encode()
    return b"[" * depth  # unterminated


raw_bodies = st.one_of(
    st.binary(max_size=300),
    shaped_bodies.map(lambda v: json.dumps(v).encode()),
    shaped_bodies.map(lambda v: json.dumps(v).encode("utf-16")),  # valid JSON, wrong codec
    st.builds(_nested, _DEPTHS, st.sampled_from(["list", "error", "string", "open"])),
    st.builds(lambda n: b"\xff\xfe" * n, _SIZES),
    st.builds(lambda n: b"<html><title>" + b"a" * n + b"</title>", _SIZES),
)


def _assert_short(message: Any) -> None:
    assert message is None or (isinstance(message, str) and 0 < len(message) <= MESSAGE_LIMIT)


@settings(max_examples=examples(60))
@given(raw_bodies)
def test_any_bytes_decode_to_a_value_or_short_text_and_never_raise(raw: bytes) -> None:
    body = decode_body(raw)
    if isinstance(body, str):
        assert len(body) <= MESSAGE_LIMIT
    _assert_short(error_message(body))
    error_type(body)
    request_id({}, body)
    is_error_frame(body)


@settings(max_examples=examples(60))
@given(shaped_bodies)
def test_any_json_value_gives_a_short_message_or_none(body: Any) -> None:
    _assert_short(error_message(body))
    kind = error_type(body)
    assert kind is None or isinstance(kind, str)
    rid = request_id({}, body)
    assert rid is None or isinstance(rid, str)


@settings(max_examples=examples(60))
@given(
    st.integers(400, 599),
    raw_bodies,
    st.dictionaries(
        st.sampled_from(["x-request-id", "request-id", "Retry-After", "retry-after", "x-other"]),
        st.one_of(st.text(max_size=20), st.builds(lambda n: "r" * n, _SIZES)),
    ),
    st.sampled_from(["GET", "POST"]),
)
def test_the_error_for_any_status_and_body_is_typed_and_short(
    status: int, raw: bytes, headers: dict[str, str], method: str
) -> None:
    err = status_error(status, headers, raw, method=method, path="/v1/openai/chat/completions")
    assert isinstance(err, status_error_class(status))
    assert isinstance(err, APIStatusError)
    assert err.status_code == status
    assert 0 < len(err.message) <= MESSAGE_LIMIT
    assert len(str(err)) <= STR_LIMIT
    assert len(repr(err)) <= 10 * MESSAGE_LIMIT + 100  # repr escapes: up to 10 chars each
    assert f"HTTP {status}" in str(err)


@settings(max_examples=examples(60))
@given(
    st.dictionaries(_keys, shaped_bodies, max_size=4),
    st.text(max_size=50),
    st.dictionaries(
        st.sampled_from(["x-request-id", "x-other"]),
        st.one_of(st.text(max_size=20), st.builds(lambda n: "r" * n, _SIZES)),
    ),
)
def test_an_in_stream_error_frame_gives_a_short_typed_error(
    frame: dict[str, Any], partial: str, headers: dict[str, str]
) -> None:
    # The stream passes the id the transport read from the response headers.
    err = stream_error(frame, partial_text=partial, rid=request_id(headers, None))
    assert isinstance(err, APIStreamError)
    assert err.partial_text == partial
    assert 0 < len(err.message) <= MESSAGE_LIMIT
    assert len(str(err)) <= STR_LIMIT
    assert err.error_type is None or isinstance(err.error_type, str)


@pytest.mark.parametrize("kind", ["list", "error", "string", "open"])
def test_json_nested_far_deeper_than_the_recursion_limit_is_read_as_text(kind: str) -> None:
    raw = _nested(100_000, kind)
    err = status_error(500, {}, raw)
    assert 0 < len(err.message) <= MESSAGE_LIMIT
    assert len(str(err)) <= STR_LIMIT


def test_a_fastapi_detail_list_of_thousands_of_entries_is_cut_short() -> None:
    raw = json.dumps({"detail": [{"loc": ["body", "x"], "msg": "m" * 1000}] * 5000}).encode()
    err = status_error(422, {}, raw)
    assert err.message.startswith("body.x: mmm")
    assert len(err.message) <= MESSAGE_LIMIT


_CUT = " (the error body was cut at 64 KiB)"


@pytest.mark.parametrize(
    ("status", "message", "key_sent", "note", "edges"),
    [
        (401, "k" * 600, True, "", ("the API key was rejected (kkk", "k...): check DEEPINFRA_API_KEY or api_key=..., a key from https://deepinfra.com/dash/api_keys")),
        (401, "k" * 600, False, _CUT, ("no API key was sent", "dash/api_keys)" + _CUT)),
        (405, "Tools are not supported for model: a/b " + "x" * 600, True, _CUT, ("Tools are not", "x... (model a/b cannot do tools: pick a model that supports tool calling (tagged 'tool_calling' in the model list))" + _CUT)),
        (500, "x" * 600, True, _CUT, ("xxx", "x..." + _CUT)),
    ],
)  # fmt: skip
def test_the_sdks_own_words_keep_a_long_message_within_the_limit(
    status: int, message: str, key_sent: bool, note: str, edges: tuple[str, str]
) -> None:
    # The SDK's words (the fix, how the body was read) stay whole; the server's are cut.
    raw = json.dumps({"error": message}).encode()
    err = status_error(status, {}, raw, key_sent=key_sent, note=note)
    assert len(err.message) <= MESSAGE_LIMIT
    assert len(str(err)) <= STR_LIMIT
    assert err.message.startswith(edges[0]), err.message
    assert err.message.endswith(edges[1]), err.message


def test_a_huge_request_id_does_not_make_the_message_huge() -> None:
    err = status_error(500, {"x-request-id": "r" * 60_000}, b'{"error": "boom"}')
    assert err.message == "boom"
    assert len(str(err)) <= STR_LIMIT
    err = status_error(500, {}, json.dumps({"error": "boom", "request_id": "r" * 10**6}).encode())
    assert len(str(err)) <= STR_LIMIT
