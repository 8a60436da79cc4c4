"""Recorded DeepInfra answers: the SDK reads each as its ``expect`` block says, and the emulator
answers the same request in the same shape.

The recordings live beside the project, in ``../shared/real-traffic/`` (CI puts ``shared/``
next to the clone; a worktree finds it further up; ``DEEPINFRA_REAL_TRAFFIC`` overrides the
place). Each entry of its ``index.json`` becomes two tests, so a new recording is a body file
plus an index entry, with no change here, as long as its route is one this module knows
(``_SDK_READERS`` and ``_emulator_request``; an unknown one fails and says so).

(a) ``test_sdk_reads_recording``: a loopback server replays the recorded status, content type
and body bytes; the SDK's own call for that route must give what ``expect`` lists.

(b) ``test_emulator_answers_like_recording``: the emulator (``any_model`` on, so a recorded
model outside its catalogue is served) gets the recorded request (fields the index leaves out
filled with a minimal valid value; for an error with no request, the situation that causes it)
and must answer with the same status, content type and shape: the same keys (exactly, for
real captures; at least the recorded ones, for docs examples and fragments, which leave fields
out), the same JSON types, the same nesting; for a stream the same framing too (line ending,
``data: `` prefix, blank-line separators, ``[DONE]``, ``: ping`` comments, JSON separators),
chunk by chunk: opening chunk, token chunks and finish chunk each against their recorded kin.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import requests

from deepinfra_sdk import APIResponseValidationError, APIStatusError, DeepInfraClient
from deepinfra_sdk.emulator import Emulator

_ENV = "DEEPINFRA_REAL_TRAFFIC"
_PROJECT = Path(__file__).resolve().parents[1]
_INDEX = "index.json"


def _find_recordings() -> Optional[Path]:
    override = os.environ.get(_ENV)
    if override:
        return Path(override)
    # ../shared/real-traffic from the project root; a git worktree sits deeper, so look up.
    for parent in _PROJECT.parents:
        candidate = parent / "shared" / "real-traffic"
        if (candidate / _INDEX).is_file():
            return candidate
    return None


_DIR = _find_recordings()


def _load() -> list[dict[str, Any]]:
    if _DIR is None or not (_DIR / _INDEX).is_file():
        return []
    recordings: list[dict[str, Any]] = json.loads((_DIR / _INDEX).read_text("utf-8"))["recordings"]
    return recordings


RECORDINGS = _load()
_IDS = [r["id"] for r in RECORDINGS]


def test_the_recordings_are_there() -> None:
    # Not a skip: without them every check below would silently vanish.
    if _DIR is None or not RECORDINGS:
        pytest.fail(
            "the recorded DeepInfra answers were not found: expected shared/real-traffic/"
            f"{_INDEX} beside the project (../shared/real-traffic from {_PROJECT}) or in a "
            f"parent directory; set {_ENV}=/path/to/real-traffic to point at them"
        )
    assert len(set(_IDS)) == len(_IDS), "recording ids must be unique"
    for recording in RECORDINGS:
        assert (_DIR / recording["body_file"]).is_file(), recording["body_file"]


def _body(recording: dict[str, Any]) -> bytes:
    assert _DIR is not None
    return (_DIR / recording["body_file"]).read_bytes()


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


# -- (a) the SDK reads each recording ----------------------------------------------------------


class _Replay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    recording: dict[str, Any] = {}
    body = b""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(self.recording["status"])
        self.send_header("Content-Type", self.recording["headers"]["content-type"])
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def replay(request: pytest.FixtureRequest) -> Iterator[DeepInfraClient]:
    """A client whose every request gets the recording's status, content type and bytes."""
    recording: dict[str, Any] = request.param
    handler = type("Replay", (_Replay,), {"recording": recording, "body": _body(recording)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with DeepInfraClient(api_key="recordings-key", base_url=url, max_retries=0) as client:
            yield client
    finally:
        server.shutdown()
        server.server_close()


def _messages() -> list[dict[str, str]]:
    return [{"role": "user", "content": "Hello"}]


def _read_chat(client: DeepInfraClient, rec: dict[str, Any]) -> dict[str, Any]:
    request = rec["request"] or {}
    model = request.get("model", "meta-llama/Llama-3.3-70B-Instruct-Turbo")
    if request.get("stream"):
        with client.chat.completions.create(
            model=model, messages=_messages(), stream=True
        ) as stream:
            for _ in stream:
                pass
        return {"finish_reason": stream.finish_reason, "usage": stream.usage, "text": stream.text}
    completion = client.chat.completions.create(model=model, messages=_messages())
    return {
        "finish_reason": completion.choices[0].finish_reason,
        "usage": completion.usage,
        "text": completion.text,
    }


def _read_embeddings(client: DeepInfraClient, rec: dict[str, Any]) -> dict[str, Any]:
    request = rec["request"]
    result = client.embeddings.create(model=request["model"], input=request["input"])
    return {"dims": len(result.data[0].embedding), "usage": result.usage}


def _read_native(client: DeepInfraClient, rec: dict[str, Any]) -> dict[str, Any]:
    model = rec["endpoint"][len("/v1/inference/") :]
    image = client.images.generate(rec["request"]["prompt"], model=model)
    return {"n_images": len(image.images), "media_type": image.media_type(0)}


def _read_openai_images(client: DeepInfraClient, rec: dict[str, Any]) -> dict[str, Any]:
    request = rec["request"]
    if rec["expect"].get("broken"):
        # The typed error a broken answer must give, naming the problem.
        with pytest.raises(APIResponseValidationError, match="image"):
            client.images.generate(request["prompt"], model=request["model"], api="openai")
        return {"broken": True}
    image = client.images.generate(request["prompt"], model=request["model"], api="openai")
    return {"broken": False, "n_images": len(image.images), "media_type": image.media_type(0)}


def _read_models(client: DeepInfraClient, rec: dict[str, Any]) -> dict[str, Any]:
    # The replay answers /models/featured with the recorded list too. Deprecated entries
    # (the recorded sd15 is one) are read like the rest; the default lists leave them out.
    return {
        "text": client.models.text_models(include_deprecated=True),
        "image": client.models.image_models(include_deprecated=True),
    }


_SDK_READERS: dict[str, Callable[[DeepInfraClient, dict[str, Any]], dict[str, Any]]] = {
    "/v1/openai/chat/completions": _read_chat,
    "/v1/openai/embeddings": _read_embeddings,
    "/v1/inference/": _read_native,
    "/v1/openai/images/generations": _read_openai_images,
    "/models/list": _read_models,
    "/models/featured": _read_models,
}


def _reader(rec: dict[str, Any]) -> Callable[[DeepInfraClient, dict[str, Any]], dict[str, Any]]:
    for route, read in _SDK_READERS.items():
        if rec["endpoint"] == route or (route.endswith("/") and rec["endpoint"].startswith(route)):
            return read
    pytest.fail(f"{rec['id']}: no SDK reader for {rec['endpoint']}: add one to _SDK_READERS")


def _check_expected(rec: dict[str, Any], observed: dict[str, Any]) -> None:
    for key, wanted in rec["expect"].items():
        assert key in observed, f"{rec['id']}: the test cannot check expect.{key} yet"
        got = observed[key]
        if isinstance(wanted, dict):  # usage: each recorded field, by name
            assert got is not None, f"{rec['id']}: {key} missing"
            for name, value in wanted.items():
                assert getattr(got, name) == pytest.approx(value), f"{rec['id']}: {key}.{name}"
        else:
            assert got == wanted, f"{rec['id']}: {key}"


@pytest.mark.parametrize("replay", [pytest.param(r, id=r["id"]) for r in RECORDINGS], indirect=True)
def test_sdk_reads_recording(replay: DeepInfraClient, request: pytest.FixtureRequest) -> None:
    rec: dict[str, Any] = request.node.callspec.params["replay"]
    if rec["status"] >= 400:
        # Any route: the error names the recorded message and keeps the status and body.
        with pytest.raises(APIStatusError) as caught:
            replay.chat.completions.create(
                model="meta-llama/Llama-3.3-70B-Instruct-Turbo", messages=_messages()
            )
        assert caught.value.status_code == rec["status"]
        assert rec["expect"]["needle"] in str(caught.value)
        assert caught.value.body is not None
        return
    _check_expected(rec, _reader(rec)(replay, rec))


# -- (b) the emulator answers in the recorded shapes -------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _same_shape(recorded: Any, emulated: Any, exact: bool, path: str = "$") -> list[str]:
    """Where ``emulated`` differs in shape from ``recorded`` (empty: the same shape).

    A recorded null only says the key is there (its type when set is unknown); a list is
    judged by its first item on each side.
    """
    if recorded is None:
        return []
    if _kind(recorded) != _kind(emulated):
        return [f"{path}: {_kind(emulated)} where the recording has {_kind(recorded)}"]
    problems: list[str] = []
    if isinstance(recorded, dict):
        for key in recorded:
            if key not in emulated:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += _same_shape(recorded[key], emulated[key], exact, f"{path}.{key}")
        if exact:
            problems += [
                f"{path}.{key}: not in the recording" for key in emulated if key not in recorded
            ]
    elif isinstance(recorded, list) and recorded and emulated:
        problems += _same_shape(recorded[0], _kin(recorded[0], emulated), exact, f"{path}[0]")
    return problems


def _kin(recorded: Any, emulated: list[Any]) -> Any:
    # A model list is judged entry against entry of the same model (or pricing type).
    if isinstance(recorded, dict) and "model_name" in recorded:
        for same in ("model_name", "pricing"):
            for item in emulated:
                if isinstance(item, dict) and _key(item, same) == _key(recorded, same):
                    return item
    return emulated[0]


def _key(entry: dict[str, Any], field: str) -> Any:
    value = entry.get(field)
    return value.get("type") if isinstance(value, dict) else value


def _exact(rec: dict[str, Any]) -> bool:
    # Docs examples and fragments leave fields out; real captures (and bodies derived from
    # them) are whole.
    return str(rec["kind"]).startswith(("real-capture", "derived"))


def _emulator_request(
    emulator: Emulator, rec: dict[str, Any]
) -> tuple[str, str, Optional[dict[str, Any]], dict[str, str]]:
    """Method, path, JSON body and headers that make the emulator answer as recorded."""
    key = {"Authorization": f"Bearer {emulator.api_key}"}
    status = rec["status"]
    body = dict(rec["request"] or {})
    if rec["endpoint"] == "/v1/openai/chat/completions":
        body.setdefault("model", "meta-llama/Llama-3.3-70B-Instruct-Turbo")
        body.setdefault("messages", _messages())
    if status == 401:
        return rec["method"], rec["endpoint"], body, {}  # no key at all
    if status == 404:
        return rec["method"], rec["endpoint"], body, key  # the unknown path itself
    error = json.loads(_body(rec)).get("error") if status >= 400 else None
    if status == 400 and isinstance(error, dict) and error.get("param") == "tools":
        # Tools sent to the model the message names, one without tool support.
        named = re.search(r"model: (\S+)", error["message"])
        assert named is not None, error
        tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
        return rec["method"], rec["endpoint"], {**body, "model": named[1], "tools": [tool]}, key
    if status >= 400:
        # The situation is not reproducible without the real service (a busy model, a
        # 2024 proxy): ask the emulator for that status, in its realistic body.
        return (
            rec["method"],
            rec["endpoint"],
            body,
            {**key, "X-Emulator-Fault": json.dumps({"status": status})},
        )
    return rec["method"], rec["endpoint"], body or None, key


_EVENT_SPLIT = re.compile(rb"(?:\r\n|\r|\n){2}")
_PING = re.compile(r"^: ping - \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00$")


def _line_ending(body: bytes) -> str:
    return "\r\n" if b"\r\n" in body else "\n"


def _separators(payload: str) -> str:
    return "spaced" if re.search(r'"[^"]*": ', payload) else "compact"


def _events(body: bytes) -> list[str]:
    return [block.decode("utf-8") for block in _EVENT_SPLIT.split(body) if block]


def _chunk_kind(index: int, chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices") or [{}]
    if choices[0].get("finish_reason"):
        return "finish"
    return "opening" if index == 0 else "token"


def _compare_stream(rec: dict[str, Any], recorded: bytes, emulated: bytes) -> list[str]:
    problems: list[str] = []
    eol = _line_ending(recorded)
    if _line_ending(emulated) != eol or (eol == "\n" and b"\r" in emulated):
        problems.append(f"line ending: the recording uses {eol!r}")
    if not emulated.endswith(f"data: [DONE]{eol}{eol}".encode()):
        problems.append("the stream does not end with data: [DONE] and a blank line")
    rec_events, emu_events = _events(recorded), _events(emulated)
    for events in (rec_events, emu_events):
        assert all(e.startswith(("data: ", ":")) for e in events), events[:3]
    rec_comments = [e for e in rec_events if e.startswith(":")]
    emu_comments = [e for e in emu_events if e.startswith(":")]
    if rec_comments:
        if not emu_comments or not all(_PING.match(c) for c in emu_comments + rec_comments):
            problems.append(
                f"comments: {emu_comments[:2]} where the recording has {rec_comments[:1]}"
            )
    elif emu_comments:
        problems.append("comments the recording does not have")

    def chunks(events: list[str]) -> list[tuple[str, dict[str, Any], str]]:
        payloads = [e[len("data: ") :] for e in events if e.startswith("data: ")]
        payloads = [p for p in payloads if p != "[DONE]"]
        return [(_chunk_kind(i, json.loads(p)), json.loads(p), p) for i, p in enumerate(payloads)]

    recorded_chunks, emulated_chunks = chunks(rec_events), chunks(emu_events)
    kin = {}
    for kind, chunk, payload in recorded_chunks:
        kin.setdefault(kind, (chunk, payload))
    if _exact(rec) and {k for k, _, _ in emulated_chunks} != set(kin):
        problems.append(
            f"chunk kinds {sorted({k for k, _, _ in emulated_chunks})}, recorded {sorted(kin)}"
        )
    for kind, chunk, payload in emulated_chunks:
        if kind not in kin:
            continue
        model_chunk, model_payload = kin[kind]
        problems += [f"{kind} chunk {p}" for p in _same_shape(model_chunk, chunk, _exact(rec))]
        if _exact(rec) and _separators(payload) != _separators(model_payload):
            problems.append(f"{kind} chunk JSON is {_separators(payload)}")
    return sorted(set(problems))


@pytest.fixture
def emulator_for(request: pytest.FixtureRequest) -> Iterator[tuple[Emulator, dict[str, Any]]]:
    rec: dict[str, Any] = request.param
    recorded = _body(rec)
    options: dict[str, Any] = {"any_model": True, "answer_tokens": 6}
    if _media(rec["headers"]["content-type"]) == "text/event-stream":
        options["line_ending"] = _line_ending(recorded)
        if re.search(rb"^:", recorded, re.MULTILINE):
            # Pings come from a stream idle for the ping interval: make it so.
            options.update(token_delay=0.05, ping_interval=0.03)
    with Emulator(**options) as emulator:
        yield emulator, rec
    assert emulator.handler_errors == []


@pytest.mark.parametrize(
    "emulator_for", [pytest.param(r, id=r["id"]) for r in RECORDINGS], indirect=True
)
def test_emulator_answers_like_recording(emulator_for: tuple[Emulator, dict[str, Any]]) -> None:
    emulator, rec = emulator_for
    method, path, body, headers = _emulator_request(emulator, rec)
    response = requests.request(method, emulator.url + path, json=body, headers=headers, timeout=30)
    assert response.status_code == rec["status"], response.text[:300]
    wanted = _media(rec["headers"]["content-type"])
    assert _media(response.headers["Content-Type"]) == wanted
    recorded = _body(rec)
    if wanted == "text/event-stream":
        assert _compare_stream(rec, recorded, response.content) == []
        return
    problems = _same_shape(json.loads(recorded), response.json(), _exact(rec))
    assert problems == [], f"{rec['id']} ({rec['body_file']})"
