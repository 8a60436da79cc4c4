"""The transport: retries that never bill twice, error translation, headers, logging."""

from __future__ import annotations

import email.utils
import http.server
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Optional

import pytest
import requests
import responses
import urllib3
from responses.registries import OrderedRegistry

from deepinfra_sdk import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DeepInfraClient,
    DeepInfraWarning,
    InternalServerError,
    LockedError,
    MissingAPIKeyError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from deepinfra_sdk._http import (
    USER_AGENT,
    _is_connect_phase,
    _parse_retry_after,
    retry_delay,
)
from tests._servers import raw_server

from .conftest import REMOTE, TEST_KEY

CHAT = REMOTE + "/v1/openai/chat/completions"
FEATURED = REMOTE + "/models/featured"
MSGS = [{"role": "user", "content": "hi"}]
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1694623155,
    "model": "m/x",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": " Hi"}, "finish_reason": "stop"}
    ],
    "usage": {
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "total_tokens": 2,
        "estimated_cost": 1e-6,
    },
}


def refused() -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    )


def reset_after_send() -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    )


def chat(client: DeepInfraClient) -> object:
    return client.chat.completions.create(model="m/x", messages=MSGS)


@responses.activate(registry=OrderedRegistry)
def test_post_429_is_retried_then_succeeds(client: DeepInfraClient, sleeps: list[float]) -> None:
    responses.post(CHAT, status=429, json={"error": {"message": "Model busy, retry later"}})
    responses.post(CHAT, json=COMPLETION)
    assert chat(client).text == " Hi"  # type: ignore[attr-defined]
    assert len(responses.calls) == 2
    assert len(sleeps) == 1
    assert 0.25 <= sleeps[0] <= 0.5


@responses.activate(registry=OrderedRegistry)
def test_retry_after_seconds_is_honoured(client: DeepInfraClient, sleeps: list[float]) -> None:
    responses.post(CHAT, status=503, headers={"Retry-After": "3"}, body="no capacity")
    responses.post(CHAT, json=COMPLETION)
    chat(client)
    assert sleeps == [3.0]


@responses.activate(registry=OrderedRegistry)
def test_retry_after_http_date_is_honoured(client: DeepInfraClient, sleeps: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    responses.post(CHAT, status=429, headers={"Retry-After": when})
    responses.post(CHAT, json=COMPLETION)
    chat(client)
    assert 3.0 <= sleeps[0] <= 5.5


@responses.activate(registry=OrderedRegistry)
def test_retry_after_beyond_the_cap_raises_at_once(
    client: DeepInfraClient, sleeps: list[float]
) -> None:
    responses.post(CHAT, status=429, headers={"Retry-After": "3600"}, json={"error": "slow down"})
    with pytest.raises(RateLimitError) as info:
        chat(client)
    assert len(responses.calls) == 1
    assert sleeps == []
    assert info.value.message == "slow down"


@pytest.mark.parametrize("status", [500, 502, 504])
@responses.activate(registry=OrderedRegistry)
def test_post_is_not_retried_after_it_may_have_billed(
    client: DeepInfraClient, sleeps: list[float], status: int
) -> None:
    responses.post(CHAT, status=status, body="upstream failed")
    with pytest.raises(InternalServerError):
        chat(client)
    assert len(responses.calls) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [408, 423, 500, 502, 504])
@responses.activate(registry=OrderedRegistry)
def test_post_with_retry_after_on_a_status_that_may_have_billed_is_not_retried(
    client: DeepInfraClient, sleeps: list[float], status: int
) -> None:
    responses.post(CHAT, status=status, headers={"Retry-After": "1"})
    with pytest.raises(APIStatusError):
        chat(client)
    assert len(responses.calls) == 1
    assert sleeps == []


@responses.activate(registry=OrderedRegistry)
def test_get_500_with_retry_after_is_retried(client: DeepInfraClient, sleeps: list[float]) -> None:
    responses.get(FEATURED, status=500, headers={"Retry-After": "1"})
    responses.get(FEATURED, json=[])
    assert client.models.list() == []
    assert sleeps == [1.0]


@pytest.mark.parametrize("status", [502, 503, 504])
@responses.activate(registry=OrderedRegistry)
def test_get_retries_gateway_errors_up_to_max_retries(
    client: DeepInfraClient, sleeps: list[float], status: int
) -> None:
    for _ in range(3):
        responses.get(FEATURED, status=status)
    with pytest.raises(InternalServerError) as info:
        client.models.list()
    assert info.value.status_code == status
    assert len(responses.calls) == 3  # 1 + max_retries (2)
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0] * 0.9  # exponential: second ceiling doubles


@responses.activate(registry=OrderedRegistry)
def test_connect_phase_failure_retries_a_post(client: DeepInfraClient, sleeps: list[float]) -> None:
    responses.post(CHAT, body=refused())
    responses.post(CHAT, json=COMPLETION)
    chat(client)
    assert len(responses.calls) == 2


@responses.activate(registry=OrderedRegistry)
def test_reset_after_send_never_retries_a_post(
    client: DeepInfraClient, sleeps: list[float]
) -> None:
    responses.post(CHAT, body=reset_after_send())
    with pytest.raises(APIConnectionError) as info:
        chat(client)
    assert not isinstance(info.value, APITimeoutError)
    assert len(responses.calls) == 1
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)


@responses.activate(registry=OrderedRegistry)
def test_reset_retries_a_get(client: DeepInfraClient, sleeps: list[float]) -> None:
    responses.get(FEATURED, body=reset_after_send())
    responses.get(FEATURED, json=[])
    assert client.models.list() == []
    assert len(responses.calls) == 2


@responses.activate(registry=OrderedRegistry)
def test_read_timeout_is_a_timeout_error_and_not_retried_for_post(
    client: DeepInfraClient, sleeps: list[float]
) -> None:
    responses.post(CHAT, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(APITimeoutError):
        chat(client)
    assert len(responses.calls) == 1


@responses.activate(registry=OrderedRegistry)
def test_connect_timeout_is_retried(client: DeepInfraClient, sleeps: list[float]) -> None:
    responses.post(CHAT, body=requests.exceptions.ConnectTimeout("connect timed out"))
    responses.post(CHAT, body=requests.exceptions.ConnectTimeout("connect timed out"))
    responses.post(CHAT, body=requests.exceptions.ConnectTimeout("connect timed out"))
    with pytest.raises(APITimeoutError):
        chat(client)
    assert len(responses.calls) == 3


@responses.activate(registry=OrderedRegistry)
def test_max_retries_zero_disables_retries(sleeps: list[float]) -> None:
    c = DeepInfraClient(api_key=TEST_KEY, base_url=REMOTE, max_retries=0)
    c._transport._sleep = sleeps.append
    responses.post(CHAT, status=429)
    with pytest.raises(RateLimitError):
        chat(c)
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, PaymentRequiredError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (418, APIStatusError),
        (422, UnprocessableEntityError),
        (423, LockedError),
        (429, RateLimitError),
        (500, InternalServerError),
        (599, InternalServerError),
    ],
)
@responses.activate
def test_status_maps_to_its_error_class(status: int, cls: type, sleeps: list[float]) -> None:
    c = DeepInfraClient(api_key=TEST_KEY, base_url=REMOTE, max_retries=0)
    responses.post(CHAT, status=status, json={"error": "nope"}, headers={"x-request-id": "rid-1"})
    with pytest.raises(cls) as info:
        chat(c)
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.request_id == "rid-1"
    assert err.body == {"error": "nope"}
    assert err.response is not None
    assert "nope" in str(err)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": "Unauthorised"}, "Unauthorised"),
        (
            {"error": {"message": "Not authenticated", "type": "invalid_request_error"}},
            "Not authenticated",
        ),
        ({"detail": "Model is locked"}, "Model is locked"),
        ({"detail": {"error": "No such model"}}, "No such model"),
        (
            {"detail": [{"loc": ["body", "messages"], "msg": "field required", "type": "missing"}]},
            "body.messages: field required",
        ),
    ],
)
@responses.activate
def test_every_error_body_shape_gives_its_message(
    client: DeepInfraClient, body: dict[str, object], message: str
) -> None:
    responses.post(CHAT, status=400, json=body)
    with pytest.raises(BadRequestError) as info:
        chat(client)
    assert info.value.message == message


@responses.activate
def test_text_error_body_and_request_id_from_body(client: DeepInfraClient) -> None:
    responses.post(CHAT, status=400, body="<html>Bad gateway thing</html>")
    with pytest.raises(BadRequestError) as info:
        chat(client)
    assert info.value.message == "<html>Bad gateway thing</html>"
    responses.post(
        REMOTE + "/v1/inference/a/b", status=400, json={"error": "x", "request_id": "r-9"}
    )
    with pytest.raises(BadRequestError) as info:
        client.images.generate("p", model="a/b")
    assert info.value.request_id == "r-9"


@responses.activate
def test_missing_key_fails_before_sending() -> None:
    c = DeepInfraClient(base_url=REMOTE)
    with pytest.raises(MissingAPIKeyError) as info:
        chat(c)
    assert "none is set" in str(info.value) and "DEEPINFRA_API_KEY" in str(info.value)
    assert info.value.status_code is None
    assert len(responses.calls) == 0


@responses.activate
def test_featured_models_need_no_key() -> None:
    responses.get(FEATURED, json=[])
    c = DeepInfraClient(base_url=REMOTE)
    assert c.models.list() == []
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_loopback_needs_no_key() -> None:
    url = "http://127.0.0.1:9/v1/openai/chat/completions"
    responses.post(url, json=COMPLETION)
    c = DeepInfraClient(base_url="http://127.0.0.1:9")
    chat(c)
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_request_headers_and_body(client: DeepInfraClient) -> None:
    responses.post(CHAT, json=COMPLETION)
    client.chat.completions.create(model="m/x", messages=MSGS, temperature=None, top_k=5)
    req = responses.calls[0].request
    assert req.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert req.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("deepinfra-sdk/")
    assert " python/3." in USER_AGENT
    assert " requests/" in USER_AGENT
    assert req.headers["Content-Type"] == "application/json"
    body = json.loads(req.body)
    assert body == {"model": "m/x", "messages": MSGS, "top_k": 5}  # no nulls sent


@responses.activate(registry=OrderedRegistry)
def test_logging_names_method_path_status_and_retries_but_not_the_key(
    client: DeepInfraClient, caplog: pytest.LogCaptureFixture
) -> None:
    responses.post(CHAT, status=429)
    responses.post(CHAT, json=COMPLETION)
    with caplog.at_level(logging.DEBUG, logger="deepinfra_sdk"):
        chat(client)
    text = caplog.text
    assert "POST /v1/openai/chat/completions -> 429" in text
    assert "POST /v1/openai/chat/completions -> 200" in text
    assert any(r.levelno == logging.INFO and "retry 1/2" in r.getMessage() for r in caplog.records)
    assert TEST_KEY not in text
    assert "Bearer" not in text


@responses.activate
def test_404_for_a_deprecated_model_names_its_replacement(client: DeepInfraClient) -> None:
    responses.get(
        FEATURED,
        json=[
            {
                "model_name": "runwayml/stable-diffusion-v1-5",
                "type": "text-to-image",
                "reported_type": "text-to-image",
                "pricing": {"type": "time", "cents_per_sec": 0.05},
                "replaced_by": "stabilityai/sdxl-turbo",
                "deprecated": 1727456682,
            }
        ],
    )
    responses.post(
        REMOTE + "/v1/inference/runwayml/stable-diffusion-v1-5",
        status=404,
        json={"error": "Model not found"},
    )
    client.models.list()
    with (
        pytest.warns(DeepInfraWarning, match="stabilityai/sdxl-turbo"),
        pytest.raises(NotFoundError) as info,
    ):
        client.images.generate("a cat", model="runwayml/stable-diffusion-v1-5")
    assert "stabilityai/sdxl-turbo" in str(info.value)
    assert "deprecated" in str(info.value)


@responses.activate
def test_404_looks_the_model_up_when_no_list_is_cached(client: DeepInfraClient) -> None:
    responses.post(
        REMOTE + "/v1/inference/old/model", status=404, json={"error": "Model not found"}
    )
    responses.get(
        REMOTE + "/models/old/model",
        json={
            "model_name": "old/model",
            "type": "text-to-image",
            "reported_type": "text-to-image",
            "pricing": {"type": "time", "cents_per_sec": 0.05},
            "replaced_by": "new/model",
        },
    )
    with pytest.raises(NotFoundError, match="use 'new/model'"):
        client.images.generate("a cat", model="old/model")


@responses.activate
def test_invalid_json_body_is_a_validation_error(client: DeepInfraClient) -> None:
    from deepinfra_sdk import APIResponseValidationError

    responses.post(CHAT, body="not json", status=200)
    with pytest.raises(APIResponseValidationError):
        chat(client)


def test_retry_delay_policy() -> None:
    for attempt in range(6):
        delay = retry_delay(attempt, None)
        assert delay is not None
        ceiling = min(8.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert retry_delay(0, 7.0) == 7.0
    assert retry_delay(0, 61.0) is None


def test_parse_retry_after() -> None:
    now = time.time()
    assert _parse_retry_after("2", now) == 2.0
    assert _parse_retry_after("-5", now) == 0.0
    assert _parse_retry_after("garbage", now) is None
    assert _parse_retry_after(None, now) is None
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (_parse_retry_after(date, now) or 0) <= 31


# -- the environment is read once, when the client's session is made ---------------------


EMU_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_a_proxy_from_the_environment_carries_the_requests(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    from deepinfra_sdk.emulator import Emulator

    # Nothing listens at the base URL: only the proxy (the emulator, which serves
    # absolute-form requests like a forwarding proxy) can answer.
    with Emulator() as emu:
        no_proxy_env.setenv("HTTP_PROXY", emu.url)
        with DeepInfraClient(emu.api_key, base_url="http://api.localhost:1") as client:
            answer = client.chat.completions.create(model=EMU_MODEL, messages=MSGS)
            # Read at construction: a later change does not reroute this client.
            no_proxy_env.delenv("HTTP_PROXY")
            again = client.chat.completions.create(model=EMU_MODEL, messages=MSGS)
        assert answer.choices[0].message.content and again.choices[0].message.content
        assert emu.request_count("/v1/openai/chat/completions") == 2


def test_no_proxy_in_the_environment_exempts_the_base_url(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    from deepinfra_sdk.emulator import Emulator

    with Emulator() as emu:
        no_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:1")  # would refuse everything
        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        with DeepInfraClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
            assert client.chat.completions.create(model=EMU_MODEL, messages=MSGS).choices


def test_the_environment_is_not_read_again_for_each_request(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    from deepinfra_sdk.emulator import Emulator

    with Emulator() as emu, DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        client.models.list()
        reads: list[str] = []
        original = requests.utils.get_environ_proxies

        def counted(url: str, no_proxy: object = None) -> dict[str, str]:
            reads.append(url)
            return original(url, no_proxy=no_proxy)  # type: ignore[arg-type]

        no_proxy_env.setattr(requests.sessions, "get_environ_proxies", counted)
        for _ in range(3):
            client.chat.completions.create(model=EMU_MODEL, messages=MSGS)
        assert reads == []


def test_a_session_passed_in_keeps_its_own_environment_handling() -> None:
    session = requests.Session()
    with DeepInfraClient(TEST_KEY, base_url=REMOTE, session=session) as client:
        client._transport  # noqa: B018 - builds the transport
    assert session.trust_env is True


# -- requests are prepared once per endpoint, exactly as requests would prepare them --------


def _as_requests_would(client: DeepInfraClient, sent: requests.PreparedRequest) -> None:
    """``sent`` equals what requests' full preparation makes of the same call."""
    session = requests.Session()
    session.trust_env = False
    expected = session.prepare_request(
        requests.Request(
            sent.method,
            sent.url,
            headers={k: v for k, v in sent.headers.items() if k not in ("Content-Length",)},
            data=sent.body,
        )
    )
    assert sent.method == expected.method and sent.url == expected.url
    assert dict(sent.headers) == dict(expected.headers)
    assert sent.body == expected.body


@responses.activate
def test_each_request_is_prepared_as_requests_would_prepare_it(client: DeepInfraClient) -> None:
    responses.post(CHAT, json=COMPLETION)
    responses.get(FEATURED, json=[])
    for _ in range(2):  # the first prepares the endpoint's template, the second reuses it
        client.chat.completions.create(model="m/x", messages=MSGS)
        client.models.list(refresh=True)
    client.chat.completions.create(model="m/x", messages=[{"role": "user", "content": "é" * 50}])
    assert len(responses.calls) == 5
    for call in responses.calls:
        _as_requests_would(client, call.request)
    first, again, longer = (responses.calls[i].request for i in (0, 2, 4))
    assert first.headers == again.headers and first.body == again.body
    assert int(longer.headers["Content-Length"]) == len(longer.body) > len(first.body)
    assert first.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert "Cookie" not in first.headers


@responses.activate
def test_cookies_the_server_set_are_sent_back(client: DeepInfraClient) -> None:
    responses.post(CHAT, json=COMPLETION, headers={"Set-Cookie": "affinity=node-7; Path=/"})
    client.chat.completions.create(model="m/x", messages=MSGS)
    client.chat.completions.create(model="m/x", messages=MSGS)
    assert "Cookie" not in responses.calls[0].request.headers
    assert responses.calls[1].request.headers["Cookie"] == "affinity=node-7"


# -- requests' dispatch: test doubles and adapters see every request ---------------------------


def test_a_stream_response_is_requests_own_on_one_pooled_connection() -> None:
    from deepinfra_sdk.emulator import Emulator

    with Emulator() as emu, DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        answer = client.chat.completions.create(model=EMU_MODEL, messages=MSGS)
        with client.chat.completions.create(model=EMU_MODEL, messages=MSGS, stream=True) as s:
            text = "".join(chunk.choices[0].delta.content or "" for chunk in s if chunk.choices)
        client.models.list()
        assert answer.choices[0].message.content and text
        raw = s.response
        assert isinstance(raw, requests.Response) and raw.status_code == 200
        assert raw.request.url == emu.url + "/v1/openai/chat/completions"
        assert raw.request.headers["Authorization"]
        assert raw.elapsed.total_seconds() > 0
        assert raw.headers["x-request-id"] == s.request_id
        # Every call reused one pooled connection.
        assert emu.connections_accepted == 1


@responses.activate
def test_a_patched_adapter_send_still_answers_posts(client: DeepInfraClient) -> None:
    # responses patches HTTPAdapter.send: the direct path must step aside for it.
    responses.post(CHAT, json=COMPLETION)
    assert client.chat.completions.create(model="m/x", messages=MSGS).choices[0].message
    assert len(responses.calls) == 1


def test_an_adapter_mounted_on_the_session_gets_the_posts() -> None:
    from deepinfra_sdk.emulator import Emulator

    class Recording(requests.adapters.HTTPAdapter):
        def __init__(self) -> None:
            super().__init__()
            self.urls: list[str] = []

        def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:  # type: ignore[override]
            self.urls.append(str(request.url))
            return super().send(request, **kwargs)  # type: ignore[arg-type]

    with Emulator() as emu, DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        mounted = Recording()
        client._transport.session.mount(emu.url, mounted)  # as requests-mock does
        assert client.chat.completions.create(model=EMU_MODEL, messages=MSGS).choices
        assert mounted.urls == [emu.url + "/v1/openai/chat/completions"]


def test_failures_carry_requests_exceptions_as_their_cause() -> None:
    from deepinfra_sdk import Timeout
    from deepinfra_sdk.emulator import Emulator, Fault

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens once closed
    with DeepInfraClient(TEST_KEY, base_url=f"http://127.0.0.1:{port}", max_retries=0) as c:
        with pytest.raises(APIConnectionError, match="could not connect") as refused_info:
            c.chat.completions.create(model="m/x", messages=MSGS)
    assert isinstance(refused_info.value.__cause__, requests.exceptions.ConnectionError)
    assert _is_connect_phase(refused_info.value.__cause__)  # so a POST may be retried

    with (
        Emulator() as emu,
        DeepInfraClient(
            emu.api_key, base_url=emu.url, max_retries=0, timeout=Timeout(connect=2, read=0.1)
        ) as c,
    ):
        emu.inject(Fault(stall=1.0, stall_at="before_response"))
        with pytest.raises(APITimeoutError, match="read timeout") as info:
            c.chat.completions.create(model=EMU_MODEL, messages=MSGS)
    assert isinstance(info.value.__cause__, requests.exceptions.ReadTimeout)


class _CookieServer(http.server.BaseHTTPRequestHandler):
    """Answers every POST with a chat completion that sets a cookie; records Cookie headers."""

    cookies: list[Optional[str]] = []
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).cookies.append(self.headers.get("Cookie"))
        body = json.dumps(COMPLETION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "affinity=node-7; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_cookie_set_on_a_post_is_sent_back() -> None:
    _CookieServer.cookies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CookieServer)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with DeepInfraClient(TEST_KEY, base_url=url) as client:
            for _ in range(2):
                client.chat.completions.create(model="m/x", messages=MSGS)
        # The first kept the cookie in the session; the next one carried it.
        assert _CookieServer.cookies == [None, "affinity=node-7"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- TLS: the emulator serving HTTPS with a certificate from a throwaway CA ------------------


@pytest.fixture
def tls_emulator(tmp_path: Any) -> Iterator[tuple[Any, str]]:
    """An HTTPS emulator and the path of the CA bundle that trusts its certificate."""
    import ssl

    import trustme

    from deepinfra_sdk.emulator import Emulator

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with Emulator(ssl_context=context) as emu:
        yield emu, str(bundle)


def test_https_with_a_trusted_ca_bundle_from_the_environment(
    tls_emulator: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    emu, bundle = tls_emulator
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    assert emu.url.startswith("https://127.0.0.1:")
    with DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        answer = client.chat.completions.create(model=EMU_MODEL, messages=MSGS)
        with client.chat.completions.create(model=EMU_MODEL, messages=MSGS, stream=True) as s:
            text = "".join(chunk.choices[0].delta.content or "" for chunk in s if chunk.choices)
        assert client.models.list()
    assert answer.choices[0].message.content and text
    assert emu.connections_accepted == 1  # one TLS connection, pooled and reused


def test_https_to_an_untrusted_certificate_is_refused(tls_emulator: tuple[Any, str]) -> None:
    emu, _ = tls_emulator
    with DeepInfraClient(emu.api_key, base_url=emu.url, max_retries=0) as client:
        with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED") as info:
            client.chat.completions.create(model=EMU_MODEL, messages=MSGS)
        with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            client.models.list()
    assert isinstance(info.value.__cause__, requests.exceptions.SSLError)
    assert emu.request_count("/v1/openai/chat/completions") == 0


# -- bodies read from http.client directly (HTTPResponse.iter_bytes) ---------------------------


def test_a_body_shorter_than_its_content_length_is_an_error() -> None:
    full = json.dumps(COMPLETION).encode()
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(full) + full[:40]
    )
    with raw_server(lambda conn: conn.sendall(reply)) as url:
        with DeepInfraClient(TEST_KEY, base_url=url, max_retries=0) as client:
            with pytest.raises(APIConnectionError, match="short of its Content-Length"):
                client.chat.completions.create(model="m/x", messages=MSGS)


def test_a_stream_shorter_than_its_content_length_keeps_its_text() -> None:
    events = b"".join(
        b"data: " + json.dumps(chunk).encode() + b"\n\n"
        for chunk in (
            {"id": "c", "choices": [{"index": 0, "delta": {"content": "Half"}}]},
            {"id": "c", "choices": [{"index": 0, "delta": {"content": " an answer"}}]},
        )
    )
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Content-Length: %d\r\n\r\n" % (len(events) + 500) + events
    )
    with raw_server(lambda conn: conn.sendall(reply)) as url:
        with DeepInfraClient(TEST_KEY, base_url=url, max_retries=0) as client:
            stream = client.chat.completions.create(model="m/x", messages=MSGS, stream=True)
            with pytest.raises(APIConnectionError, match="short of its Content-Length") as info:
                for _ in stream:
                    pass
    assert info.value.partial_text == stream.text == "Half an answer"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_streams_read_to_the_end_keep_their_connection(framing: str) -> None:
    from deepinfra_sdk.emulator import Emulator

    with Emulator(framing=framing) as emu, DeepInfraClient(emu.api_key, base_url=emu.url) as c:
        for _ in range(3):
            with c.chat.completions.create(model=EMU_MODEL, messages=MSGS, stream=True) as s:
                assert "".join(chunk.choices[0].delta.content or "" for chunk in s if chunk.choices)
            assert s.done
            assert c.chat.completions.create(model=EMU_MODEL, messages=MSGS).choices
        assert emu.connections_accepted == 1


@pytest.mark.parametrize("target", ["session", "adapter"])
def test_a_send_patched_on_the_instance_gets_the_posts(target: str) -> None:
    from unittest import mock

    from deepinfra_sdk.emulator import Emulator

    with Emulator() as emu, DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        session = client._transport.session
        owner = session if target == "session" else session.get_adapter(emu.url)
        with mock.patch.object(owner, "send", wraps=owner.send) as patched:
            assert client.chat.completions.create(model=EMU_MODEL, messages=MSGS).choices
        assert patched.call_count == 1
