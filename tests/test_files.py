"""Writing to disk: atomic writes, and response bodies streamed into files."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from deepinfra_sdk import APIConnectionError, DeepInfraClient
from deepinfra_sdk._files import atomic_write, save_response
from tests._servers import raw_server


def test_atomic_write_takes_bytes_or_chunks(tmp_path: Path) -> None:
    dest = tmp_path / "out.bin"
    assert atomic_write(dest, b"whole") == 5
    assert dest.read_bytes() == b"whole"
    assert atomic_write(dest, iter([b"a", b"bc", b""])) == 3
    assert dest.read_bytes() == b"abc"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_failing_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"old")

    def chunks() -> Iterator[bytes]:
        yield b"new part"
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        atomic_write(dest, chunks())
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def _answer(body: bytes, *, cut: bool = False) -> Callable[[socket.socket], None]:
    def script(conn: socket.socket) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        conn.sendall(head + (body[: len(body) // 2] if cut else body))

    return script


def test_save_response_streams_the_body_into_the_file(tmp_path: Path) -> None:
    body = bytes(range(256)) * 4096
    with raw_server(_answer(body)) as url, DeepInfraClient(api_key="k", base_url=url) as c:
        response = c._transport.request("GET", "/file", stream=True)
        written = save_response(response, tmp_path / "got.bin")
    assert written == tmp_path / "got.bin"
    assert written.read_bytes() == body


def test_a_body_cut_short_leaves_no_file(tmp_path: Path) -> None:
    body = b"x" * 100_000
    dest = tmp_path / "got.bin"
    with (
        raw_server(_answer(body, cut=True)) as url,
        DeepInfraClient(api_key="k", base_url=url, max_retries=0) as c,
    ):
        response = c._transport.request("GET", "/file", stream=True)
        with pytest.raises(APIConnectionError):
            save_response(response, dest)
    assert list(tmp_path.iterdir()) == []
