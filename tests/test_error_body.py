"""Reading messages, types and request ids out of DeepInfra's error bodies."""

from __future__ import annotations

import json
import pickle

import pytest

from deepinfra_sdk import APIStatusError, RateLimitError
from deepinfra_sdk._error_body import (
    decode_body,
    error_message,
    error_type,
    is_error_frame,
    request_id,
    status_error,
    stream_error,
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": "Unauthorised"}, "Unauthorised"),
        (
            {"error": {"message": "Not authenticated", "type": "invalid_request_error"}},
            "Not authenticated",
        ),
        ({"detail": "Not Found"}, "Not Found"),
        ({"detail": {"error": "Model is busy"}}, "Model is busy"),
        (
            {"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "x"}]},
            "body.prompt: field required",
        ),
        (
            {"detail": [{"loc": ["body", "a"], "msg": "m1"}, {"loc": ["query", "b"], "msg": "m2"}]},
            "body.a: m1; query.b: m2",
        ),
        (
            {
                "error_type": "validation_error",
                "error_message": json.dumps({"error": {"message": "too long"}}),
            },
            "too long",
        ),
        ({"error_type": "x", "error_message": "plain words"}, "plain words"),
        ("just text", "just text"),
        ({"unrelated": 1}, None),
        (None, None),
        ([1, 2], None),
    ],
)
def test_error_message_shapes(body: object, message: object) -> None:
    assert error_message(body) == message


def test_error_type() -> None:
    assert error_type({"error_type": "validation_error"}) == "validation_error"
    assert error_type({"error": {"type": "server_error"}}) == "server_error"
    assert error_type({"error": "x"}) is None


def test_decode_body() -> None:
    assert decode_body(b"") is None
    assert decode_body(b'{"a": 1}') == {"a": 1}
    assert decode_body(b"  oops \n") == "oops"
    assert decode_body(b'"' + b"x" * 600 + b'"') == "x" * 500  # a JSON string is text too
    assert len(decode_body(b"x" * 10_000)) == 500
    assert decode_body(b"\xff\xfe bad") == "\ufffd\ufffd bad"


def test_request_id_sources() -> None:
    assert request_id({"x-request-id": "h"}, {"request_id": "b"}) == "h"
    assert request_id({}, {"request_id": "b"}) == "b"
    assert request_id({}, "text") is None


def test_status_error_builds_the_class() -> None:
    err = status_error(429, {"x-request-id": "r"}, b'{"error": "slow"}', method="POST", path="/p")
    assert isinstance(err, RateLimitError)
    assert (err.status_code, err.request_id, err.message) == (429, "r", "slow")
    assert str(err) == "slow (HTTP 429) [request id r]"
    fallback = status_error(418, {}, b"", method="GET", path="/tea")
    assert type(fallback) is APIStatusError
    assert fallback.message == "GET /tea failed"


def test_errors_pickle_without_the_response() -> None:
    err = status_error(429, {}, b'{"error": "slow"}', response=object())
    err.partial_text = "so far"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is RateLimitError
    assert (back.message, back.status_code, back.partial_text) == ("slow", 429, "so far")
    assert back.response is None


def test_stream_error_frames() -> None:
    assert is_error_frame({"error": {"message": "x"}})
    assert is_error_frame({"error_type": "t", "error_message": "m"})
    assert not is_error_frame({"choices": [], "error": None})
    assert not is_error_frame([1])
    err = stream_error(
        {"error_type": "validation_error", "error_message": "bad"}, partial_text="ab", rid="r"
    )
    assert (err.message, err.error_type, err.partial_text, err.request_id) == (
        "bad",
        "validation_error",
        "ab",
        "r",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n",
            "502 Bad Gateway",
        ),
        ("<!DOCTYPE html><html><body><h1>Oops &amp;\n sorry</h1></body></html>", "Oops & sorry"),
        ("<HTML><TITLE>504 <b>Gateway</b> Time-out</TITLE></HTML>", "504 Gateway Time-out"),
        ("<html>no heading at all</html>", "<html>no heading at all</html>"),
        ("<p>a fragment, not a page</p>", "<p>a fragment, not a page</p>"),
        ("upstream connect error", "upstream connect error"),
    ],
)
def test_html_error_pages_give_their_title(text: str, message: str) -> None:
    assert error_message(text) == message
    err = status_error(502, {}, text.encode())
    assert err.message == message
    assert err.body == text.strip()  # the page itself is kept


def test_retry_after_values() -> None:
    from email.utils import formatdate

    from deepinfra_sdk._error_body import retry_after

    now = 1_700_000_000.0
    assert retry_after(None) is None
    assert retry_after("") is None
    assert retry_after("3") == 3.0
    assert retry_after(" 1.5 ") == 1.5
    assert retry_after("-4") == 0.0
    assert retry_after("nan") is None
    assert retry_after("inf") is None
    assert retry_after("soon") is None
    assert retry_after(formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    # A date without its zone is GMT, as HTTP dates always are.
    naive = formatdate(now + 5, usegmt=True).replace(" GMT", "")
    assert retry_after(naive, now=now) == 5.0


def test_status_errors_carry_retry_after_and_it_pickles() -> None:
    err = status_error(429, {"Retry-After": "120"}, b'{"detail": "Model busy"}')
    assert err.retry_after == 120.0
    assert status_error(503, {}, b"").retry_after is None
    back = pickle.loads(pickle.dumps(err))
    assert back.retry_after == 120.0
    frame = stream_error(
        {"error_type": "validation_error", "error_message": "x"}, partial_text="", rid=None
    )
    assert pickle.loads(pickle.dumps(frame)).error_type == "validation_error"


@pytest.mark.parametrize("key_sent", [True, False])
def test_a_401_says_whether_a_key_was_sent_and_stays_short(key_sent: bool) -> None:
    from deepinfra_sdk import AuthenticationError, MissingAPIKeyError

    raw = json.dumps({"error": "Invalid token " + "x" * 2000}).encode()
    err = status_error(401, {}, raw, key_sent=key_sent)
    assert len(err.message) <= 500
    assert err.message.endswith(
        "https://deepinfra.com/dash/api_keys)" if not key_sent else "api_keys"
    )
    assert "DEEPINFRA_API_KEY" in err.message
    if key_sent:
        assert type(err) is AuthenticationError
        assert err.message.startswith("the API key was rejected (Invalid token xxx")
    else:
        assert type(err) is MissingAPIKeyError and "no API key was sent" in err.message
