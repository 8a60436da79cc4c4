"""The multipart encoder and streamed uploads through the transport.

Uploads go to a small loopback server that parses them with the emulator's streaming
parser and answers what it received (sizes and digests): it keeps no body in memory, so
the memory a test measures is the client's.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import json
import os
import socket
import struct
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deepinfra_sdk import APIConnectionError, DeepInfraClient, RateLimitError, UploadError
from deepinfra_sdk._multipart import CHUNK_SIZE, MultipartBody, is_file_input
from deepinfra_sdk.emulator._multipart import FormError, parse_form, read_form


class _Upstream:
    """What the test server does with the next requests, and what it saw."""

    def __init__(self) -> None:
        self.requests = 0
        self.statuses: list[int] = []  # answer these first (after reading the body)
        self.break_after: int | None = None  # read this many body bytes, then reset
        self.headers: list[dict[str, str]] = []


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        up: _Upstream = self.server.upstream
        up.requests += 1
        up.headers.append(dict(self.headers.items()))
        if up.break_after is not None:
            self.rfile.read(up.break_after)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        form = read_form(self.rfile, self.headers)
        try:
            answer = {
                "fields": {k: v[-1] for k, v in form.fields.items()},
                "files": {
                    k: {
                        "filename": f.filename,
                        "content_type": f.content_type,
                        "size": f.size,
                        "sha256": _digest(f.spool),
                    }
                    for k, (f, *_) in form.files.items()
                },
            }
        finally:
            form.close()
        status = up.statuses.pop(0) if up.statuses else 200
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _requests_seen(up: _Upstream) -> int:
    """The server's request count once it settles (its threads may lag the client)."""
    deadline = time.monotonic() + 5
    while up.requests == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # room for a retry to show up, were one sent
    return up.requests


def _digest(spool: Any) -> str:
    spool.seek(0)
    h = hashlib.sha256()
    for block in iter(lambda: spool.read(CHUNK_SIZE), b""):
        h.update(block)
    return h.hexdigest()


@pytest.fixture
def upstream() -> Iterator[tuple[_Upstream, DeepInfraClient]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.upstream = _Upstream()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = DeepInfraClient(
        api_key="k", base_url=f"http://127.0.0.1:{server.server_port}", max_retries=2
    )
    client._transport._sleep = lambda _delay: None
    try:
        yield server.upstream, client  # type: ignore[attr-defined]
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def _post(client: DeepInfraClient, body: MultipartBody) -> Any:
    return client._transport.request("POST", "/upload", upload=body).json()


def _encoded(body: MultipartBody) -> bytes:
    return b"".join(body)


def _parse(body: MultipartBody) -> Any:
    data = io.BytesIO(_encoded(body))
    return parse_form(data.read, body.content_type)


# -- the encoder ---------------------------------------------------------------------------


def test_fields_and_files_of_every_kind_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "voice.wav"
    path.write_bytes(b"RIFF" + bytes(range(256)) * 600)
    raw = b"\x00\x01binary\r\n--not-a-boundary"
    body = MultipartBody(
        {"model": "m/x", "n": 2, "flag": True, "labels": ["a", "b"], "skip": None},
        [
            ("audio", path),
            ("raw", raw),
            ("fobj", io.BytesIO(b"from a file object")),
            ("named", ("notes.txt", b"hello", "text/x-custom")),
        ],
    )
    encoded = _encoded(body)
    assert len(encoded) == body.length == len(body)
    with _parse(body) as form:
        check_form(form, path, raw)
    assert body.headers() == {
        "Content-Type": f"multipart/form-data; boundary={body.boundary}",
        "Content-Length": str(body.length),
    }


def check_form(form: Any, path: Path, raw: bytes) -> None:
    assert form.fields == {
        "model": ["m/x"],
        "n": ["2"],
        "flag": ["true"],
        "labels": ['["a","b"]'],
    }
    assert form.file("audio").read() == path.read_bytes()
    assert form.file("audio").filename == "voice.wav"
    assert form.file("audio").content_type in ("audio/x-wav", "audio/wav")
    assert form.file("raw").read() == raw
    assert form.file("raw").filename == "raw"
    assert form.file("fobj").read() == b"from a file object"
    named = form.file("named")
    assert (named.filename, named.content_type, named.read()) == (
        "notes.txt",
        "text/x-custom",
        b"hello",
    )


def test_each_pass_reads_the_sources_again(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(os.urandom(3 * CHUNK_SIZE + 5))
    fobj = io.BytesIO(b"xyz" * 1000)
    fobj.seek(3)  # a file object is sent from where it stands
    body = MultipartBody(files={"a": path, "b": fobj})
    first, second = _encoded(body), _encoded(body)
    assert first == second
    with _parse(body) as form:
        assert form.file("b").read() == (b"xyz" * 1000)[3:]
    assert body.reopenable


def test_a_source_is_read_in_chunks_never_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * (5 * CHUNK_SIZE))
    pieces = list(MultipartBody(files={"f": path}))
    assert max(len(p) for p in pieces) <= CHUNK_SIZE
    assert sum(len(p) for p in pieces) == MultipartBody(files={"f": path}).length


def test_unknown_size_means_no_length_and_chunked_framing() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"piped data")
    os.close(write_end)
    with open(read_end, "rb") as pipe:
        body = MultipartBody(files={"f": pipe})
        assert body.length is None
        assert body.headers()["Transfer-Encoding"] == "chunked"
        with pytest.raises(TypeError):
            len(body)
        with _parse(body) as form:
            assert form.file("f").read() == b"piped data"
        assert not body.reopenable
        with pytest.raises(UploadError, match="cannot seek back"):
            _encoded(body)


def test_a_file_that_changes_while_sent_is_an_upload_error(tmp_path: Path) -> None:
    path = tmp_path / "grows.bin"
    path.write_bytes(b"a" * 100)
    body = MultipartBody(files={"f": path})
    path.write_bytes(b"a" * 200)
    with pytest.raises(UploadError, match="changed while it was being uploaded"):
        _encoded(body)


def test_bad_sources_are_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no file at"):
        MultipartBody(files={"file": tmp_path / "missing.wav"})
    with (tmp_path / "t.txt").open("w") as text, pytest.raises(TypeError, match="'rb'"):
        MultipartBody(files={"file": text})
    with pytest.raises(TypeError, match="binary mode"):
        MultipartBody(files={"file": 12})  # type: ignore[dict-item]
    assert is_file_input(b"x") and is_file_input(tmp_path) and is_file_input(("a.wav", b""))
    assert is_file_input(("a.wav", tmp_path, "audio/wav"))
    assert not is_file_input("a string") and not is_file_input(3)
    assert not is_file_input(("dog", "cat"))  # a tuple of labels is a value, not a file


def test_names_with_quotes_and_newlines_are_escaped() -> None:
    body = MultipartBody({'we"ird\r\nname': "v"}, {"f": ('a"b\n.txt', b"1")})
    with _parse(body) as form:
        assert form.fields == {"we%22ird%0D%0Aname": ["v"]}
        assert form.file("f").filename == "a%22b%0A.txt"


# -- the emulator's parser limits --------------------------------------------------------------


def test_parser_refuses_malformed_and_oversized_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    from deepinfra_sdk.emulator import _multipart as emu

    body = MultipartBody({"a": "1"})
    encoded = _encoded(body)
    with pytest.raises(FormError) as cut:
        parse_form(io.BytesIO(encoded[:-10]).read, body.content_type)
    assert cut.value.status == 400
    with pytest.raises(FormError, match="boundary"):
        parse_form(io.BytesIO(encoded).read, "multipart/form-data")
    monkeypatch.setattr(emu, "MAX_FIELD_BYTES", 10)
    big = MultipartBody({"a": "x" * 11})
    with pytest.raises(FormError) as over:
        parse_form(io.BytesIO(_encoded(big)).read, big.content_type)
    assert over.value.status == 413
    monkeypatch.setattr(emu, "MAX_PARTS", 2)
    many = MultipartBody({"a": "1", "b": "2", "c": "3"})
    with pytest.raises(FormError, match="Too many parts"):
        parse_form(io.BytesIO(_encoded(many)).read, many.content_type)


# -- through the transport -------------------------------------------------------------------


def test_a_50_mb_upload_streams_from_disk(
    tmp_path: Path, upstream: tuple[_Upstream, DeepInfraClient]
) -> None:
    up, client = upstream
    path = tmp_path / "big.wav"
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(50):
            f.write(block)
            digest.update(block)
    size = path.stat().st_size
    del block
    tracemalloc.start()
    try:
        answer = _post(client, MultipartBody({"model": "m/x"}, {"file": path}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer["files"]["file"] == {
        "filename": "big.wav",
        "content_type": answer["files"]["file"]["content_type"],
        "size": size,
        "sha256": digest.hexdigest(),
    }
    assert answer["fields"] == {"model": "m/x"}
    expected = MultipartBody({"model": "m/x"}, {"file": path}).length
    assert up.headers[0]["Content-Length"] == str(expected)
    # Client and server together held a few chunks at a time, not the 50 MB file.
    assert peak < 8 * (1 << 20), f"peak {peak / (1 << 20):.1f} MB"


def test_an_upload_through_a_session_of_your_own(
    tmp_path: Path, upstream: tuple[_Upstream, DeepInfraClient]
) -> None:
    import requests

    up, own = upstream
    path = tmp_path / "a.bin"
    path.write_bytes(os.urandom(3 * CHUNK_SIZE + 1))
    # A session passed in goes through requests' own preparation, not the fast path.
    with (
        requests.Session() as session,
        DeepInfraClient(api_key="k", base_url=own.base_url, session=session) as client,
    ):
        answer = _post(client, MultipartBody({"a": "1"}, {"f": path}))
    assert answer["files"]["f"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert up.headers[0]["Content-Length"] == str(MultipartBody({"a": "1"}, {"f": path}).length)


def test_an_unknown_length_upload_goes_chunked(
    upstream: tuple[_Upstream, DeepInfraClient],
) -> None:
    up, client = upstream
    read_end, write_end = os.pipe()
    payload = os.urandom(3 * CHUNK_SIZE)
    writer = threading.Thread(target=lambda: (os.write(write_end, payload), os.close(write_end)))
    writer.start()
    with open(read_end, "rb") as pipe:
        answer = _post(client, MultipartBody(files={"f": pipe}))
    writer.join()
    assert answer["files"]["f"]["sha256"] == hashlib.sha256(payload).hexdigest()
    assert up.headers[0].get("Transfer-Encoding") == "chunked"


def test_a_broken_upload_is_an_upload_error_and_never_retried(
    tmp_path: Path, upstream: tuple[_Upstream, DeepInfraClient]
) -> None:
    up, client = upstream
    up.break_after = 1 << 20
    path = tmp_path / "big.bin"
    path.write_bytes(b"z" * (24 << 20))
    with pytest.raises(UploadError) as caught:
        _post(client, MultipartBody(files={"file": path}))
    err = caught.value
    assert isinstance(err, APIConnectionError)
    assert "the upload broke after" in err.message and "not retried" in err.message
    assert err.bytes_sent is not None and 0 < err.bytes_sent < (24 << 20)
    assert _requests_seen(up) == 1


def test_a_source_failing_midway_is_an_upload_error_and_never_retried(
    upstream: tuple[_Upstream, DeepInfraClient],
) -> None:
    up, client = upstream

    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.reads = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            self.reads += 1
            if self.reads > 3:
                raise OSError(5, "Input/output error")
            buffer[: len(buffer)] = b"d" * len(buffer)
            return len(buffer)

    with pytest.raises(UploadError, match="Input/output error"):
        _post(client, MultipartBody(files={"file": ("d.bin", Failing())}))
    assert _requests_seen(up) == 1


def test_a_refused_upload_is_sent_again_from_a_path(
    tmp_path: Path, upstream: tuple[_Upstream, DeepInfraClient]
) -> None:
    up, client = upstream
    up.statuses = [429]
    path = tmp_path / "a.bin"
    path.write_bytes(os.urandom(200_000))
    answer = _post(client, MultipartBody(files={"file": path}))
    assert answer["files"]["file"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert up.requests == 2


def test_a_refused_one_shot_upload_is_not_sent_again(
    upstream: tuple[_Upstream, DeepInfraClient],
) -> None:
    up, client = upstream
    up.statuses = [429]
    read_end, write_end = os.pipe()
    os.write(write_end, b"once")
    os.close(write_end)
    with open(read_end, "rb") as pipe, pytest.raises(RateLimitError):
        _post(client, MultipartBody(files={"f": pipe}))
    assert _requests_seen(up) == 1


def test_a_connect_failure_retries_and_reopens_the_source(tmp_path: Path) -> None:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed below: nothing listens there
    path = tmp_path / "a.bin"
    path.write_bytes(b"a" * 10)
    body = MultipartBody(files={"f": path})
    delays: list[float] = []
    with DeepInfraClient(api_key="k", base_url=f"http://127.0.0.1:{port}", max_retries=2) as c:
        c._transport._sleep = delays.append
        with pytest.raises(APIConnectionError) as caught:
            c._transport.request("POST", "/upload", upload=body)
    assert not isinstance(caught.value, UploadError)
    assert len(delays) == 2  # retried: not a byte had gone out
    assert body.sent == 0
