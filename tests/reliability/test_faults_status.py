"""The fault matrix, error statuses: every status DeepInfra answers with, in every body shape,
for a GET and a POST, on the sync client and the async facade (asyncio, trio).

Each case asserts the error class, ``status_code``, the message read from the body, the
request id, the body kept on the error, and how many requests reached the server: a GET is
retried on 429/502/503/504, a POST only on 429 and 503 (the server refused the work before
doing it, docs/errors.md), each retry after a jittered back-off or the server's Retry-After.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Any

import pytest

from deepinfra_sdk import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    LockedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from deepinfra_sdk.emulator import Emulator, Fault
from deepinfra_sdk.emulator._errors import fault_body

from .conftest import CHAT, FEATURED, Api, Baseline, assert_backoff

ROUTES = {"GET": FEATURED, "POST": CHAT}
CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    423: LockedError,
    429: RateLimitError,
    500: InternalServerError,
    502: InternalServerError,
    503: InternalServerError,
    504: InternalServerError,
}
SHAPES = ["error_str", "error_obj", "detail_str", "detail_obj", "detail_list", "text"]
# Statuses retried without a Retry-After (docs/errors.md, "Retries: never billed twice").
RETRIED = {"GET": {429, 502, 503, 504}, "POST": {429, 503}}


def send(api: Api, method: str) -> Any:
    """The GET (model list) or the POST (chat completion) of a scenario."""
    return api.models() if method == "GET" else api.chat()


def expected_message(status: int, shape: str, message: str, method: str) -> str:
    if shape == "detail_list":
        message = f"body: {message}"  # FastAPI's loc, then its msg
    elif shape == "text" and status in (502, 504):
        message = f"{status} {message}"  # the title of the gateway's HTML page
    if status == 401:  # a key was sent: the fix is to check it
        message = (
            f"the API key was rejected ({message}): check DEEPINFRA_API_KEY or api_key=..., "
            "a key from https://deepinfra.com/dash/api_keys"
        )
    if method == "GET":  # the model list names its endpoint
        message = f"the model list (GET /models/featured) failed: {message}"
    return message


def expected_body(status: int, shape: str, message: str, method: str) -> Any:
    sent = fault_body(status, shape, message, openai_route=method == "POST")
    return sent.payload if sent.text is None else sent.text.strip()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("status", sorted(CLASSES))
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_error_status(api: Api, emu: Emulator, method: str, status: int, shape: str) -> None:
    message = f"boom {status} {shape}"
    rid = f"req-{status}-{shape}"
    emu.inject(
        Fault(status=status, body_shape=shape, message=message, request_id=rid),
        times=5,
        route=ROUTES[method],
    )
    with pytest.raises(APIStatusError) as info:
        send(api, method)
    err = info.value
    assert type(err) is CLASSES[status]
    assert err.status_code == status
    assert err.message == expected_message(status, shape, message, method)
    assert err.request_id == rid
    assert err.body == expected_body(status, shape, message, method)
    assert err.retry_after is None
    assert err.partial_text is None
    attempts = 3 if status in RETRIED[method] else 1
    assert emu.request_count(ROUTES[method], method) == attempts
    assert_backoff(api.sleeps, attempts - 1)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_retried_status_then_success(api: Api, emu: Emulator, method: str, status: int) -> None:
    emu.inject(Fault(status=status), times=2, route=ROUTES[method])
    result = send(api, method)
    assert result  # a model list, or a completion
    assert emu.request_count(ROUTES[method], method) == 3
    assert_backoff(api.sleeps, 2)


@pytest.mark.parametrize("status", [429, 503])
def test_a_stream_refused_before_its_first_event_is_retried(
    api: Api, emu: Emulator, baseline: Baseline, status: int
) -> None:
    emu.inject(Fault(status=status), times=1, route=CHAT)
    out = api.stream()
    assert out.error is None and out.done
    assert out.pieces == baseline.pieces
    assert emu.request_count(CHAT, "POST") == 2
    assert_backoff(api.sleeps, 1)


@pytest.mark.parametrize("status", [400, 500, 502, 504])
def test_a_stream_failing_with_a_status_is_not_retried(
    api: Api, emu: Emulator, status: int
) -> None:
    emu.inject(Fault(status=status, retry_after="0"), times=5, route=CHAT)
    with pytest.raises(CLASSES[status]):
        api.stream()  # raised by create(), before any loop
    assert emu.request_count(CHAT, "POST") == 1
    assert api.sleeps == []


# -- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_retry_after_in_seconds_is_waited_exactly(api: Api, emu: Emulator, method: str) -> None:
    emu.inject(Fault(status=429, retry_after="1"), times=1, route=ROUTES[method])
    assert send(api, method)
    assert api.sleeps == [1.0]
    assert emu.request_count(ROUTES[method], method) == 2


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_retry_after_as_an_http_date_is_waited_until_then(
    api: Api, emu: Emulator, method: str
) -> None:
    when = formatdate(time.time() + 30, usegmt=True)
    emu.inject(Fault(status=503, retry_after=when), times=1, route=ROUTES[method])
    assert send(api, method)
    (delay,) = api.sleeps
    assert 27.0 <= delay <= 30.0  # the date has whole seconds, and time passed since
    assert emu.request_count(ROUTES[method], method) == 2


@pytest.mark.parametrize("how", ["seconds", "http-date"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_retry_after_too_long_to_wait_is_raised_at_once(
    api: Api, emu: Emulator, method: str, how: str
) -> None:
    value = "3600" if how == "seconds" else formatdate(time.time() + 7200, usegmt=True)
    emu.inject(Fault(status=429, retry_after=value), times=5, route=ROUTES[method])
    with pytest.raises(RateLimitError) as info:
        send(api, method)
    err = info.value
    expected = 3600.0 if how == "seconds" else 7200.0
    assert err.retry_after is not None
    assert expected - 5 <= err.retry_after <= expected
    assert err.response.headers["Retry-After"] == value
    assert emu.request_count(ROUTES[method], method) == 1
    assert api.sleeps == []  # nothing waited: the caller decides


# Requests seen for a persistent status that carries "Retry-After: 0", by method.
WITH_RETRY_AFTER = {
    500: {"GET": 3, "POST": 1},  # a GET with Retry-After is retried; a POST may have billed
    423: {"GET": 3, "POST": 1},
    502: {"GET": 3, "POST": 1},  # "not retried (even with Retry-After)" for a POST
    504: {"GET": 3, "POST": 1},
    503: {"GET": 3, "POST": 3},
    400: {"GET": 1, "POST": 1},
    404: {"GET": 1, "POST": 1},
}


@pytest.mark.parametrize("status", sorted(WITH_RETRY_AFTER))
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_retry_after_on_each_status(api: Api, emu: Emulator, method: str, status: int) -> None:
    emu.inject(Fault(status=status, retry_after="0"), times=5, route=ROUTES[method])
    with pytest.raises(CLASSES[status]) as info:
        send(api, method)
    assert info.value.retry_after == 0.0
    attempts = WITH_RETRY_AFTER[status][method]
    assert emu.request_count(ROUTES[method], method) == attempts
    # Retry-After: 0 gets a small jitter: clients refused together do not return together.
    assert len(api.sleeps) == attempts - 1
    assert all(0.05 <= delay <= 0.25 for delay in api.sleeps), api.sleeps
