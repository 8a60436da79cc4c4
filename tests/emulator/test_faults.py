"""Fault injection: error statuses and bodies, drops, stalls, broken and awkward streams."""

from __future__ import annotations

import json
import time
from typing import Any, Dict

import pytest
import requests

from deepinfra_sdk.emulator import Emulator, Fault

from .helpers import BOM, CHAT, RawConnection, chat_body, chunks, request, sse_payloads

STREAM = chat_body("faults", stream=True, max_tokens=6)  # 9 events: role, 6 tokens, finish, DONE
IMAGE = "/v1/inference/stabilityai/sd3.5"


def fault_header(**fields: Any) -> Dict[str, str]:
    return {"X-Emulator-Fault": json.dumps(fields)}


# -- statuses and bodies ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("error_str", {"error": "boom"}),
        (
            "error_obj",
            {"error": {"message": "boom", "type": "rate_limit_error", "param": None, "code": None}},
        ),
        ("detail_str", {"detail": "boom"}),
        ("detail_obj", {"detail": {"error": "boom"}}),
        ("detail_list", {"detail": [{"loc": ["body"], "msg": "boom", "type": "value_error"}]}),
    ],
)
def test_status_with_each_json_shape(
    emulator: Emulator, session: requests.Session, shape: str, expected: Dict[str, Any]
) -> None:
    emulator.inject(Fault(status=429, body_shape=shape, message="boom"))
    r = session.post(emulator.url + CHAT, json=chat_body())
    assert r.status_code == 429
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == expected


def test_status_with_text_body(emulator: Emulator, session: requests.Session) -> None:
    emulator.inject(Fault(status=500, body_shape="text", message="it broke"))
    r = session.post(emulator.url + CHAT, json=chat_body())
    assert (r.status_code, r.text) == (500, "it broke")
    assert r.headers["Content-Type"].startswith("text/plain")
    emulator.inject(Fault(status=502))
    r = session.post(emulator.url + CHAT, json=chat_body())
    assert r.status_code == 502
    assert r.headers["Content-Type"] == "text/html"
    assert "<title>502 Bad Gateway</title>" in r.text


@pytest.mark.parametrize(
    ("status", "route", "key"),
    [
        (400, CHAT, "error.message"),
        (400, IMAGE, "error"),
        (401, CHAT, "error.message"),
        (402, CHAT, "detail.error"),
        (403, CHAT, "detail.error"),
        (403, IMAGE, "error"),
        (404, CHAT, "detail"),
        (404, IMAGE, "error"),
        (422, CHAT, "detail.0.msg"),
        (423, IMAGE, "error"),
        (429, CHAT, "error.message"),
        (429, IMAGE, "error.message"),
        (500, CHAT, "error.message"),
        (503, CHAT, "error"),
    ],
)
def test_auto_shapes_are_realistic(
    emulator: Emulator, session: requests.Session, status: int, route: str, key: str
) -> None:
    emulator.inject(Fault(status=status))
    r = session.post(emulator.url + route, json={"prompt": "x"})
    assert r.status_code == status
    value: Any = r.json()
    for part in key.split("."):
        value = value[int(part)] if part.isdigit() else value[part]
    assert isinstance(value, str)
    assert value
    if status == 401:
        assert value == "Not authenticated"


@pytest.mark.parametrize(
    ("status", "recorded"),
    [
        (403, {"detail": {"error": "Not authenticated"}}),
        (404, {"detail": "Not Found"}),
        (429, {"error": {"message": "Model busy, retry later"}}),
    ],
)
def test_auto_bodies_are_the_recorded_ones(
    emulator: Emulator, session: requests.Session, status: int, recorded: Dict[str, Any]
) -> None:
    # real-traffic/err_403_detail_not_authenticated_2024.json, err_404_detail_not_found.json,
    # err_429_model_busy.json: byte for byte, not only the shape.
    emulator.inject(Fault(status=status))
    r = session.post(emulator.url + CHAT, json=chat_body())
    assert r.headers["Content-Type"] == "application/json"
    assert r.content == json.dumps(recorded, separators=(",", ":")).encode()


def test_retry_after_and_request_id(emulator: Emulator, session: requests.Session) -> None:
    emulator.inject(Fault(status=503, retry_after="2", request_id="req-123"))
    r = session.post(emulator.url + CHAT, json=chat_body())
    assert r.headers["Retry-After"] == "2"
    assert r.headers["x-request-id"] == "req-123"
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    emulator.inject(Fault(status=429, retry_after=date))
    assert session.post(emulator.url + CHAT, json=chat_body()).headers["Retry-After"] == date
    emulator.inject(Fault(request_id="ok-7"))  # a successful answer can carry it too
    r = session.post(emulator.url + CHAT, json=chat_body())
    assert (r.status_code, r.headers["x-request-id"]) == (200, "ok-7")
    assert "Retry-After" not in session.post(emulator.url + CHAT, json=chat_body()).headers


def test_times_route_and_order(emulator: Emulator, session: requests.Session) -> None:
    emulator.inject(Fault(status=500), times=2, route="/v1/openai/chat")
    emulator.inject(Fault(status=503), route="/v1/openai")
    assert emulator.pending_faults == 3
    assert session.get(emulator.url + "/models/list").status_code == 200  # no route match
    statuses = [session.post(emulator.url + CHAT, json=chat_body()).status_code for _ in range(4)]
    assert statuses == [500, 500, 503, 200]
    emulator.inject(Fault(status=500), times=5)
    emulator.clear_faults()
    assert session.post(emulator.url + CHAT, json=chat_body()).status_code == 200


def test_fault_fields_are_validated() -> None:
    for bad in (
        {"status": 200},
        {"status": "500"},
        {"body_shape": "xml"},
        {"drop": "sometimes"},
        {"stall": -1},
        {"stall_at": "never"},
        {"error_frame": "mine"},
        {"chunk_size": 0},
        {"framing": "smoke"},
        {"line_ending": "\n\n"},
        {"bom": 1},
        {"request_id": "a\r\nX-Evil: 1"},
        {"after_events": 1.5},
        {"truncate": "yes"},
        {"invalid_utf8": 1},
        {"frame_bytes": 0},
        {"frame_bytes": 1 << 40},
        {"frame_bytes": 2.5},
        {"image_result": "gif"},
    ):
        with pytest.raises(ValueError, match="Fault"):
            Fault(**bad)
    emu = Emulator()
    with pytest.raises(ValueError):
        emu.inject(Fault(), times=0)
    with pytest.raises(TypeError):
        emu.inject({"status": 500})  # type: ignore[arg-type]


# -- drops ----------------------------------------------------------------------------------


def test_drop_before_response_is_a_reset(emulator: Emulator, session: requests.Session) -> None:
    emulator.inject(Fault(drop="before_response"))
    with RawConnection(emulator.port) as conn:
        conn.send("POST", CHAT, chat_body())
        with pytest.raises(ConnectionResetError):
            conn.sock.recv(1024)
    emulator.inject(Fault(drop="before_response"))
    with pytest.raises(requests.ConnectionError):
        session.post(emulator.url + CHAT, json=chat_body())
    assert emulator.request_count(CHAT) == 2


def test_drop_after_headers(emulator: Emulator) -> None:
    emulator.inject(Fault(drop="after_headers"))
    with RawConnection(emulator.port) as conn:
        conn.send("POST", CHAT, STREAM)
        response = conn.read_response()
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.body == b""
    assert isinstance(response.error, ConnectionResetError)


@pytest.mark.parametrize("framing", ["chunked", "content-length", "close"])
@pytest.mark.parametrize("after", [0, 1, 4, 9])
def test_drop_after_k_events(emulator: Emulator, framing: str, after: int) -> None:
    emulator.framing = framing
    emulator.inject(Fault(drop="after_events", after_events=after))
    with RawConnection(emulator.port) as conn:
        conn.send("POST", CHAT, STREAM)
        response = conn.read_response()
    if framing == "content-length" and after == 9:
        assert response.error is None  # the whole body had arrived before the reset
    else:
        assert isinstance(response.error, ConnectionResetError)
    assert len(sse_payloads(response.body)) == after


def test_drop_mid_json_body(emulator: Emulator) -> None:
    emulator.inject(Fault(drop="after_events"))
    with RawConnection(emulator.port) as conn:
        conn.send("POST", CHAT, chat_body())
        response = conn.read_response()
    assert isinstance(response.error, ConnectionResetError)
    assert 0 < len(response.body) < int(response.headers["content-length"])


def test_connection_is_fine_for_the_next_client(
    emulator: Emulator, session: requests.Session
) -> None:
    emulator.inject(Fault(drop="after_events", after_events=2), times=3)
    for _ in range(3):
        with pytest.raises(requests.RequestException):
            session.post(emulator.url + CHAT, json=STREAM)
    assert session.post(emulator.url + CHAT, json=chat_body()).status_code == 200


# -- stalls ---------------------------------------------------------------------------------


def test_stall_before_response(emulator: Emulator, session: requests.Session) -> None:
    emulator.inject(Fault(stall=0.3))
    started = time.perf_counter()
    with pytest.raises(requests.ReadTimeout):
        session.post(emulator.url + CHAT, json=chat_body(), timeout=0.1)
    emulator.inject(Fault(stall=0.2, status=503))
    r = session.post(emulator.url + CHAT, json=chat_body())
    assert r.status_code == 503
    assert time.perf_counter() - started >= 0.2


def test_stall_after_headers_and_after_events(emulator: Emulator) -> None:
    emulator.inject(Fault(stall=0.3, stall_at="after_headers"))
    with RawConnection(emulator.port) as conn:
        conn.send("POST", CHAT, STREAM)
        started = time.perf_counter()
        conn.read_head()
        assert time.perf_counter() - started < 0.2
        while conn.buffered().count(b"data: ") < 9:
            conn._fill()
        assert time.perf_counter() - started >= 0.25
    emulator.inject(Fault(stall=0.3, stall_at="after_events", after_events=3))
    with RawConnection(emulator.port) as conn:
        conn.send("POST", CHAT, STREAM)
        started = time.perf_counter()
        got = b""
        while got.count(b"data: ") < 3:
            got += conn.sock.recv(65536)
        assert time.perf_counter() - started < 0.2
        while got.count(b"data: ") < 4:
            got += conn.sock.recv(65536)
        assert time.perf_counter() - started >= 0.25


def test_stop_interrupts_a_stall() -> None:
    emu = Emulator().start()
    emu.inject(Fault(stall=30))
    with RawConnection(emu.port) as conn:
        conn.send("POST", CHAT, chat_body())
        time.sleep(0.05)
        started = time.perf_counter()
        emu.stop()
        assert time.perf_counter() - started < 1
        assert conn.at_eof()


# -- stream content -------------------------------------------------------------------------


def test_malformed_frame(emulator: Emulator) -> None:
    emulator.inject(Fault(malformed_frame=True, after_events=2))
    response, _ = request(emulator.port, "POST", CHAT, STREAM)
    payloads = sse_payloads(response.body)
    assert payloads[2] == "{not json"
    assert len(payloads) == 10
    assert payloads[-1] == "[DONE]"


def test_deepinfra_error_frame(emulator: Emulator) -> None:
    emulator.inject(Fault(error_frame="deepinfra", after_events=3, message="context too long"))
    payloads = sse_payloads(request(emulator.port, "POST", CHAT, STREAM)[0].body)
    assert len(payloads) == 5
    frame = json.loads(payloads[3])
    assert "choices" not in frame
    assert frame["error_type"] == "validation_error"
    assert json.loads(frame["error_message"]) == {"error": {"message": "context too long"}}
    assert payloads[4] == "[DONE]"


def test_openai_error_frame_without_done(emulator: Emulator) -> None:
    emulator.inject(Fault(error_frame="openai", after_events=1, no_done=True))
    payloads = sse_payloads(request(emulator.port, "POST", CHAT, STREAM)[0].body)
    assert len(payloads) == 2
    error = json.loads(payloads[1])["error"]
    assert error["message"]
    assert error["type"]


def test_no_done(emulator: Emulator) -> None:
    emulator.inject(Fault(no_done=True))
    response, _ = request(emulator.port, "POST", CHAT, STREAM)
    assert response.error is None
    payloads = sse_payloads(response.body)
    assert len(payloads) == 8
    assert chunks(payloads)[-1]["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("framing", ["chunked", "content-length", "close"])
def test_chunk_size_one_reassembles_to_the_same_body(emulator: Emulator, framing: str) -> None:
    emulator.framing = framing
    body = chat_body("pieces", stream=True, max_tokens=3)
    emulator.inject(Fault(chunk_size=1, line_ending="\r\n", request_id="same"))
    split, _ = request(emulator.port, "POST", CHAT, body)
    emulator.inject(Fault(line_ending="\r\n", request_id="same"))
    whole, _ = request(emulator.port, "POST", CHAT, body)
    strip = [json.loads(p) for p in sse_payloads(split.body)[:-1]]
    again = [json.loads(p) for p in sse_payloads(whole.body)[:-1]]
    for a, b in zip(strip, again):
        a.pop("id"), a.pop("created"), b.pop("id"), b.pop("created")
    assert strip == again
    assert len(split.body) == len(whole.body)
    if framing == "chunked":
        assert {len(p) for p in split.pieces} == {1}
        assert len(split.pieces) == len(split.body)


def test_json_body_in_small_pieces_with_a_drip(
    emulator: Emulator, session: requests.Session
) -> None:
    emulator.inject(Fault(chunk_size=64, drip_delay=0.01, framing="chunked"))
    started = time.perf_counter()
    r = session.post(emulator.url + CHAT, json=chat_body())
    assert r.status_code == 200
    assert r.headers["Transfer-Encoding"] == "chunked"
    pieces = -(-len(r.content) // 64)
    assert time.perf_counter() - started >= (pieces - 1) * 0.01 * 0.8
    assert r.json()["object"] == "chat.completion"


def test_json_body_with_close_framing(emulator: Emulator) -> None:
    emulator.inject(Fault(framing="close"))
    response, closed = request(emulator.port, "POST", CHAT, chat_body())
    assert closed
    assert response.headers["connection"] == "close"
    assert json.loads(response.body)["object"] == "chat.completion"


def test_bom_and_comment_lines(emulator: Emulator) -> None:
    emulator.inject(Fault(bom=True, comment_lines=True))
    response, _ = request(emulator.port, "POST", CHAT, STREAM)
    assert response.body.startswith(BOM + b": keep-alive\n\n: keep-alive\ndata: ")
    assert response.body.count(b": keep-alive\n") == 10
    assert len(sse_payloads(response.body)) == 9
    assert len(response.pieces) == 9  # comments ride with their events


# -- the per-request header -----------------------------------------------------------------


def test_fault_header_applies_to_its_request_only(emulator: Emulator) -> None:
    response, _ = request(
        emulator.port, "POST", CHAT, chat_body(), headers=fault_header(status=429, retry_after="1")
    )
    assert (response.status, response.headers["retry-after"]) == (429, "1")
    response, _ = request(emulator.port, "POST", CHAT, chat_body())
    assert response.status == 200
    response, _ = request(
        emulator.port,
        "POST",
        CHAT,
        STREAM,
        headers=fault_header(drop="after_events", after_events=2),
    )
    assert isinstance(response.error, ConnectionResetError)
    assert len(sse_payloads(response.body)) == 2


def test_fault_header_wins_over_the_queue(emulator: Emulator) -> None:
    emulator.inject(Fault(status=500))
    response, _ = request(
        emulator.port, "POST", CHAT, chat_body(), headers=fault_header(status=418)
    )
    assert response.status == 418
    assert request(emulator.port, "POST", CHAT, chat_body())[0].status == 500


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("{nope", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"stauts": 500}', "unknown field"),
        ('{"drop": "maybe"}', "Fault.drop"),
    ],
)
def test_bad_fault_header_is_400(emulator: Emulator, value: str, words: str) -> None:
    response, _ = request(
        emulator.port, "POST", CHAT, chat_body(), headers={"X-Emulator-Fault": value}
    )
    assert response.status == 400
    message = json.loads(response.body)["error"]
    assert message.startswith("Invalid X-Emulator-Fault header")
    assert words in message


def test_framing_and_line_ending_overrides_for_one_stream(emulator: Emulator) -> None:
    emulator.inject(Fault(framing="content-length", line_ending="\r"))
    response, closed = request(emulator.port, "POST", CHAT, STREAM)
    assert int(response.headers["content-length"]) == len(response.body)
    assert "transfer-encoding" not in response.headers
    assert not closed
    assert b"\n" not in response.body
    assert response.body.count(b"\r\r") == 9
    response, _ = request(emulator.port, "POST", CHAT, STREAM)  # the next one is back to normal
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.body.count(b"\n\n") == 9


# -- streams that end early, carry bad bytes or huge frames ------------------------------------


@pytest.mark.parametrize("framing", ["chunked", "content-length", "close"])
def test_truncate_ends_the_body_cleanly_after_k_events(emulator: Emulator, framing: str) -> None:
    emulator.framing = framing
    emulator.inject(Fault(truncate=True, after_events=3))
    with RawConnection(emulator.port) as conn:
        conn.send("POST", CHAT, STREAM)
        response = conn.read_response()
        payloads = sse_payloads(response.body)
        assert response.error is None  # a proper end of body, not a reset
        assert len(payloads) == 3
        assert "[DONE]" not in payloads
        assert all("finish_reason" in c["choices"][0] for c in chunks(payloads))
        assert chunks(payloads)[-1]["choices"][0]["finish_reason"] is None
        if framing != "close":  # the connection stays usable
            conn.send("POST", CHAT, STREAM)
            assert sse_payloads(conn.read_response().body)[-1] == "[DONE]"


def test_invalid_utf8_goes_into_the_content_string(emulator: Emulator) -> None:
    emulator.inject(Fault(invalid_utf8=True, after_events=2))
    response, _ = request(emulator.port, "POST", CHAT, STREAM)
    events = response.body.split(b"\n\n")
    assert b'"content": "\xff\xfe' in events[2]  # spaced JSON, as recorded
    assert sum(b"\xff" in e for e in events) == 1
    # A client that replaces the bad bytes still reads valid JSON.
    chunk = json.loads(events[2][len(b"data: ") :].decode("utf-8", "replace"))
    assert chunk["choices"][0]["delta"]["content"].startswith("\ufffd\ufffd")


def test_invalid_utf8_in_an_event_without_content(emulator: Emulator) -> None:
    emulator.inject(Fault(invalid_utf8=True, after_events=7))  # the finish chunk
    response, _ = request(emulator.port, "POST", CHAT, STREAM)
    event = response.body.split(b"\n\n")[7]
    assert b'"id": "\xff\xfe' in event
    assert json.loads(event[6:].decode("utf-8", "replace"))["choices"][0]["finish_reason"]


def test_frame_bytes_pads_one_event_to_an_exact_size(emulator: Emulator) -> None:
    size = 3 * 1024 * 1024 + 7
    emulator.inject(Fault(frame_bytes=size, after_events=2, request_id="same"))
    padded, _ = request(emulator.port, "POST", CHAT, STREAM)
    plain, _ = request(emulator.port, "POST", CHAT, STREAM)
    big, small = sse_payloads(padded.body), sse_payloads(plain.body)
    assert len(big[2].encode()) == size
    assert [len(p) for i, p in enumerate(big) if i != 2] == [
        len(p) for i, p in enumerate(small) if i != 2
    ]
    assert json.loads(big[2])["choices"] == json.loads(small[2])["choices"]


def test_frame_bytes_smaller_than_the_event_changes_nothing(emulator: Emulator) -> None:
    emulator.inject(Fault(frame_bytes=10, after_events=1))
    payloads = sse_payloads(request(emulator.port, "POST", CHAT, STREAM)[0].body)
    assert len(payloads) == 9
    assert json.loads(payloads[1])["choices"][0]["delta"]["content"]


# -- image results ---------------------------------------------------------------------------

OPENAI_IMAGES = "/v1/openai/images/generations"
PNG_URI = "data:image/png;base64,"


def _image_answer(emulator: Emulator, route: str, kind: str) -> Dict[str, Any]:
    emulator.inject(Fault(image_result=kind))
    body: Dict[str, Any] = {"prompt": "a red square", "width": 64, "height": 64, "seed": 3}
    if route == OPENAI_IMAGES:
        body = {"model": "stabilityai/sd3.5", "prompt": "a red square", "size": "64x64", "seed": 3}
    response, _ = request(emulator.port, "POST", route, body)
    assert response.status == 200
    answer: Dict[str, Any] = json.loads(response.body)
    return answer


def _clean_payloads(emulator: Emulator, route: str) -> list:
    answer = _image_answer(emulator, route, "output")  # output keeps the PNGs whole
    return [uri[len(PNG_URI) :] for uri in answer["output"]]


@pytest.mark.parametrize("route", [IMAGE, OPENAI_IMAGES])
def test_image_result_truncated_base64(emulator: Emulator, route: str) -> None:
    whole = _clean_payloads(emulator, route)[0]
    answer = _image_answer(emulator, route, "truncated_base64")
    if route == IMAGE:
        (uri,) = answer["images"]
        assert uri.startswith(PNG_URI)
        cut = uri[len(PNG_URI) :]
    else:
        cut = answer["data"][0]["b64_json"]
    assert cut == whole[: len(whole) // 2]


@pytest.mark.parametrize("route", [IMAGE, OPENAI_IMAGES])
def test_image_result_wrong_media_type(emulator: Emulator, route: str) -> None:
    import base64

    answer = _image_answer(emulator, route, "wrong_media_type")
    uri = answer["images"][0] if route == IMAGE else answer["data"][0]["b64_json"]
    assert uri.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG\r\n")


@pytest.mark.parametrize("route", [IMAGE, OPENAI_IMAGES])
def test_image_result_empty_url_and_output(emulator: Emulator, route: str) -> None:
    import base64

    empty = _image_answer(emulator, route, "empty")
    assert (empty["images"] if route == IMAGE else empty["data"]) == []
    if route == IMAGE:
        assert empty["nsfw_content_detected"] == []
    url = _image_answer(emulator, route, "url")
    link = url["image_url"] if route == IMAGE else url["data"][0]["url"]
    assert link.startswith("https://images.emulator.invalid/") and link.endswith(".png")
    if route == IMAGE:
        assert url["status"] == "ok" and url["inference_status"]["status"] == "succeeded"
    output = _image_answer(emulator, route, "output")
    assert output["status"] == "succeeded"
    assert "images" not in output and "data" not in output
    (uri,) = output["output"]
    assert base64.b64decode(uri[len(PNG_URI) :]).startswith(b"\x89PNG\r\n")


def test_image_result_leaves_other_routes_and_errors_alone(emulator: Emulator) -> None:
    emulator.inject(Fault(image_result="empty"))
    response, _ = request(emulator.port, "POST", CHAT, chat_body())
    assert json.loads(response.body)["object"] == "chat.completion"
    emulator.inject(Fault(image_result="empty", status=429))
    response, _ = request(emulator.port, "POST", IMAGE, {"prompt": "x"})
    assert response.status == 429
