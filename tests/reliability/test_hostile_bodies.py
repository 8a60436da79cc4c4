"""A hostile server's bodies: compression bombs, answers larger than any real one, endless
streams, error bodies of megabytes, JSON nested 100,000 deep. Each ends in a typed error
within bounded time and memory (measured with tracemalloc, every thread included), on the
sync client and the async facade (asyncio, trio).
"""

from __future__ import annotations

import gc
import json
import socket
import time
from typing import Any, Callable

import pytest

from deepinfra_sdk import (
    APIResponseTooLargeError,
    APIResponseValidationError,
    DeepInfraClient,
    InternalServerError,
    RateLimitError,
)
from deepinfra_sdk import _validation as validation

from ._hostile import gzip_bomb, head, hostile_server, peak_memory
from .conftest import MESSAGES, MODEL, Api

MiB = 1024 * 1024
# A peak above this means a body was held or decoded whole (every case sends >= 16 MiB).
BOUNDED = 6 * MiB

CHAT_ANSWER = {
    "id": "x",
    "object": "chat.completion",
    "created": 1,
    "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
}


def _call(api: Api, route: str) -> Any:
    if route == "models":
        return api.models()
    if route == "chat":
        return api.chat()
    outcome = api.stream()
    if outcome.error is not None:
        raise outcome.error
    return outcome


ROUTES = ["models", "chat", "stream"]


# -- Content-Encoding ---------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_a_compression_bomb_is_refused_undecoded(make_api: Callable[..., Api], route: str) -> None:
    bomb = gzip_bomb(64 * MiB)
    assert len(bomb) < 100_000

    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head("200 OK", "Content-Encoding: gzip", length=len(bomb)) + bomb)

    with hostile_server(script) as server:
        api = make_api(base_url=server.url)
        with peak_memory() as peak, pytest.raises(APIResponseValidationError) as info:
            _call(api, route)
        assert server.count() == 1  # not retried: the next answer would be the same
    assert "Content-Encoding 'gzip'" in info.value.message
    assert info.value.status_code == 200
    assert peak[0] < BOUNDED, f"{peak[0] / MiB:.1f} MiB"


@pytest.mark.parametrize("route", ROUTES)
def test_a_compressed_error_body_is_not_decoded(make_api: Callable[..., Api], route: str) -> None:
    bomb = gzip_bomb(64 * MiB)

    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            head("500 Internal Server Error", "Content-Encoding: deflate", length=len(bomb)) + bomb
        )

    with hostile_server(script) as server:
        api = make_api(base_url=server.url, max_retries=0)
        with peak_memory() as peak, pytest.raises(InternalServerError) as info:
            _call(api, route)
    assert (
        "Content-Encoding 'deflate'" in info.value.message and "not decoded" in info.value.message
    )
    assert info.value.body is None
    assert peak[0] < BOUNDED, f"{peak[0] / MiB:.1f} MiB"


# -- size caps ----------------------------------------------------------------------------


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "close-delimited"])
@pytest.mark.parametrize("route", ["models", "chat"])
def test_an_answer_over_max_response_bytes_is_refused(
    make_api: Callable[..., Api], route: str, announced: bool
) -> None:
    size = 16 * MiB
    filler = b"[" + b"0," * (size // 2) + b"0]"

    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head("200 OK", length=len(filler) if announced else None))
        for start in range(0, len(filler), MiB):
            conn.sendall(filler[start : start + MiB])

    with hostile_server(script) as server:
        api = make_api(base_url=server.url, max_response_bytes=MiB)
        with peak_memory() as peak, pytest.raises(APIResponseTooLargeError) as info:
            _call(api, route)
    err = info.value
    assert err.limit == MiB
    assert "max_response_bytes (1,048,576 bytes)" in err.message
    assert "DeepInfraClient(max_response_bytes=...)" in err.message
    assert peak[0] < BOUNDED, f"{peak[0] / MiB:.1f} MiB"


def test_the_default_cap_is_well_above_a_real_answer() -> None:
    with DeepInfraClient(base_url="http://127.0.0.1:1") as client:
        assert client.config.max_response_bytes == 256 * MiB
    with pytest.raises(ValueError, match="max_response_bytes must be a whole number"):
        DeepInfraClient(base_url="http://127.0.0.1:1", max_response_bytes=0)


def _endless_stream(conn: socket.socket, request: bytes) -> None:
    conn.sendall(head("200 OK", "Content-Type: text/event-stream", "Transfer-Encoding: chunked"))
    event = (
        "data: "
        + json.dumps(
            {
                "id": "x",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": MODEL,
                "choices": [{"index": 0, "delta": {"content": "y" * 1000}}],
            }
        )
        + "\n\n"
    ).encode()
    frame = f"{len(event) * 64:x}\r\n".encode() + event * 64 + b"\r\n"
    until = time.monotonic() + 20
    while time.monotonic() < until:
        conn.sendall(frame)


def test_an_endless_stream_ends_at_max_response_bytes_keeping_its_text(
    make_api: Callable[..., Api],
) -> None:
    with hostile_server(_endless_stream) as server:
        api = make_api(base_url=server.url, max_response_bytes=4 * MiB)
        started = time.monotonic()
        with peak_memory() as peak:
            outcome = api.stream()
        assert time.monotonic() - started < 10
    assert isinstance(outcome.error, APIResponseTooLargeError)
    kept = outcome.error.partial_text or ""
    # What arrived before the cap is kept, exactly what the loop yielded.
    assert kept == "".join(outcome.pieces) == outcome.text
    assert 2 * MiB < len(kept) <= 4 * MiB
    # The test's own copies (pieces, text, partial_text) and the async read-ahead count
    # too; without the cap the stream would run for 20 s and grow by hundreds of MiB.
    assert peak[0] < 10 * 4 * MiB, f"{peak[0] / MiB:.1f} MiB"


def test_an_error_body_keeps_its_first_64_kib_and_says_it_was_cut(
    make_api: Callable[..., Api],
) -> None:
    message = b'{"error": {"message": "slow down"}}'
    body = message + b" " * (100 * MiB)

    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head("429 Too Many Requests", length=len(body)))
        for start in range(0, len(body), 4 * MiB):
            conn.sendall(body[start : start + 4 * MiB])

    with hostile_server(script) as server:
        api = make_api(base_url=server.url, max_retries=0)
        started = time.monotonic()
        with peak_memory() as peak, pytest.raises(RateLimitError) as info:
            api.chat()
        assert time.monotonic() - started < 10
    err = info.value
    assert "cut at 64 KiB" in err.message
    assert len(err.response.content) == 64 * 1024
    assert err.response.content.startswith(message)
    assert peak[0] < BOUNDED, f"{peak[0] / MiB:.1f} MiB"


# -- nesting ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["models", "chat", "stream", "error"])
def test_json_nested_100000_deep_is_a_typed_error(make_api: Callable[..., Api], route: str) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    if route == "stream":
        payload = b"data: " + deep + b"\n\n"  # one event: the decoder must refuse it, not recurse
        answer = head("200 OK", "Content-Type: text/event-stream", length=len(payload)) + payload
    elif route == "error":
        answer = head("400 Bad Request", length=len(deep)) + deep
    else:
        answer = head("200 OK", "Content-Type: application/json", length=len(deep)) + deep

    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(answer)

    with hostile_server(script) as server:
        api = make_api(base_url=server.url, max_retries=0)
        # A collection run while the decoder is 1,000 levels deep would call the
        # finalizers of earlier tests' garbage with no stack left for them (pytest then
        # reports their RecursionError as unraisable): collect that garbage first.
        gc.collect()
        with pytest.raises(Exception) as info:
            _call(api, "chat" if route == "error" else route)
    err = info.value
    assert not isinstance(err, RecursionError)
    if route == "error":
        assert type(err).__name__ == "BadRequestError"
    else:
        assert isinstance(err, APIResponseValidationError), repr(err)
        assert "deep" in err.message


def test_caller_data_nested_too_deeply_is_a_value_error(make_api: Callable[..., Api]) -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]

    def script(conn: socket.socket, request: bytes) -> None:
        raise AssertionError("nothing may be sent")

    with hostile_server(script) as server:
        api = make_api(base_url=server.url)
        with pytest.raises(ValueError, match="nests lists or dicts too deeply"):
            api.chat(extra_body={"deep": deep})
        assert server.count() == 0


# -- the request limit --------------------------------------------------------------------


def test_the_request_limit_counts_encoded_bytes(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validation, "MAX_REQUEST_BYTES", 4000)
    text = "\u6f22" * 1500  # 1,500 characters, 4,500 bytes of UTF-8

    def script(conn: socket.socket, request: bytes) -> None:
        body = json.dumps(CHAT_ANSWER).encode()
        conn.sendall(head("200 OK", length=len(body)) + body)

    with hostile_server(script) as server:
        api = make_api(base_url=server.url)
        with pytest.raises(ValueError, match=r"would be 4,\d{3} bytes, over .* 4,000 bytes"):
            api.call(
                "chat.completions.create",
                model=MODEL,
                messages=[{"role": "user", "content": text}],
            )
        assert server.count() == 0
        # Under the limit in bytes, it goes.
        api.call("chat.completions.create", model=MODEL, messages=MESSAGES)
        assert server.count() == 1


def test_a_file_download_is_not_bounded_by_max_response_bytes(
    make_api: Callable[..., Api], tmp_path: Any
) -> None:
    # Streamed to disk, never whole in memory: the in-memory cap does not apply.
    content = b'{"id": 1}\n' * (300 * 1024)  # 3 MiB

    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head("200 OK", "Content-Type: application/jsonl", length=len(content)))
        conn.sendall(content)

    with hostile_server(script) as server:
        api = make_api(base_url=server.url, max_response_bytes=MiB)
        if api.aclient is None:
            saved = api.client.files.content("file-abc").save(tmp_path / "out.jsonl")
            assert saved.read_bytes() == content
        else:
            import anyio

            async def main() -> bytes:
                assert api.aclient is not None
                got = await api.aclient.files.content("file-abc")
                path = tmp_path / "out.jsonl"
                await got.save(path)
                return path.read_bytes()

            assert anyio.run(main, backend=api.mode) == content


def test_tool_arguments_nested_100000_deep_are_a_value_error() -> None:
    from deepinfra_sdk._tools import _Tool

    def add(a: int) -> int:
        return a

    gc.collect()  # see test_json_nested_100000_deep_is_a_typed_error
    with pytest.raises(ValueError, match="nest too deeply"):
        _Tool(add).arguments("[" * 100_000 + "]" * 100_000)


def test_a_batch_results_line_nested_100000_deep_is_a_typed_error() -> None:
    from deepinfra_sdk._bulk import _result_line

    gc.collect()
    with pytest.raises(APIResponseValidationError, match="file-x: a results line"):
        _result_line(b"[" * 100_000 + b"]" * 100_000, "file-x")
    assert _result_line(b'{"custom_id": "r1"}\n', "file-x") == {"custom_id": "r1"}
