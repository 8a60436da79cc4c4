"""Authentication, unknown routes, bad bodies, request ids, recording and counting."""

from __future__ import annotations

from typing import Dict

import pytest
import requests

from deepinfra_sdk.emulator import Emulator, Fault

from .helpers import CHAT, chat_body

NOT_AUTHENTICATED = {
    "error": {
        "message": "Not authenticated",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"}, {"Authorization": "abc"}],
)
def test_missing_or_malformed_auth_is_401(emulator: Emulator, headers: Dict[str, str]) -> None:
    r = requests.post(emulator.url + CHAT, json=chat_body(), headers=headers)
    assert r.status_code == 401
    assert r.json() == NOT_AUTHENTICATED


def test_any_key_when_no_keys_are_configured(emulator: Emulator) -> None:
    r = requests.post(emulator.url + CHAT, json=chat_body(), headers={"Authorization": "bearer x"})
    assert r.status_code == 200
    assert emulator.api_key == "emulator-key"


def test_only_configured_keys() -> None:
    with Emulator(api_keys=["k1", "k2"]) as emu:
        assert emu.api_key == "k1"
        for key, status in (("k1", 200), ("k2", 200), ("k3", 401)):
            r = requests.post(
                emu.url + CHAT, json=chat_body(), headers={"Authorization": f"Bearer {key}"}
            )
            assert r.status_code == status


def test_no_auth_mode_serves_keyless_requests() -> None:
    with Emulator(require_auth=False, api_keys=["good"]) as emu:
        assert requests.post(emu.url + CHAT, json=chat_body()).status_code == 200
        r = requests.post(emu.url + CHAT, json=chat_body(), headers={"Authorization": "Bearer bad"})
        assert r.status_code == 401


def test_old_unauthorised_shape_by_fault(emulator: Emulator, session: requests.Session) -> None:
    emulator.inject(Fault(status=401, body_shape="error_str"))
    r = session.post(emulator.url + CHAT, json=chat_body())
    assert (r.status_code, r.json()) == (401, {"error": "Unauthorised"})


def test_unknown_route_and_wrong_method(emulator: Emulator, session: requests.Session) -> None:
    r = session.get(emulator.url + "/v1/nothing")
    assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})
    r = session.get(emulator.url + CHAT)
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    "route", [CHAT, "/v1/openai/embeddings", "/v1/inference/stabilityai/sd3.5"]
)
def test_bad_json_is_400(emulator: Emulator, session: requests.Session, route: str) -> None:
    r = session.post(
        emulator.url + route, data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    error = r.json()["error"]
    message = error if isinstance(error, str) else error["message"]
    assert message.startswith("Invalid JSON body")


def test_missing_and_non_object_bodies_are_422(
    emulator: Emulator, session: requests.Session
) -> None:
    r = session.post(emulator.url + CHAT)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body"]
    r = session.post(emulator.url + CHAT, json=[1, 2])
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "type_error.dict"


def test_every_response_carries_a_fresh_request_id(
    emulator: Emulator, session: requests.Session
) -> None:
    ids = set()
    for method, path in (("GET", "/models/list"), ("GET", "/nope"), ("POST", CHAT)):
        r = session.request(method, emulator.url + path, json=chat_body())
        ids.add(r.headers["x-request-id"])
    r = requests.get(emulator.url + "/v1/openai/models")  # a 401 too
    ids.add(r.headers["x-request-id"])
    assert len(ids) == 4
    assert all(len(i) >= 16 for i in ids)


def test_requests_are_recorded_and_redacted(emulator: Emulator, session: requests.Session) -> None:
    session.post(emulator.url + CHAT + "?x=1", json=chat_body("recorded"))
    (recorded,) = emulator.requests
    assert recorded.method == "POST"
    assert recorded.path == CHAT + "?x=1"
    assert recorded.json["messages"][0]["content"] == "recorded"
    assert recorded.headers["Authorization"] == "Bearer [REDACTED]"
    assert recorded.headers["authorization"] == "Bearer [REDACTED]"
    assert "emulator-key" not in repr(recorded)
    assert recorded.headers.get("Content-Type") == "application/json"


def test_counting_per_route_and_method(emulator: Emulator, session: requests.Session) -> None:
    emulator.inject(Fault(status=503), route=CHAT)
    for _ in range(3):
        session.post(emulator.url + CHAT, json=chat_body())
    session.get(emulator.url + "/models/list")
    session.get(emulator.url + "/models/featured?x=1")
    assert emulator.request_count() == 5
    assert emulator.request_count(CHAT) == 3  # the faulted one counts
    assert emulator.request_count("/v1/openai") == 3
    assert emulator.request_count("/models/", method="GET") == 2
    assert emulator.request_count("/models/featured", method="get") == 1
    assert emulator.request_count(CHAT, method="GET") == 0
    emulator.inject(Fault(status=500), times=2)
    emulator.reset()
    assert emulator.request_count() == 0
    assert emulator.requests == []
    assert emulator.pending_faults == 0
    assert session.get(emulator.url + "/models/list").status_code == 200
