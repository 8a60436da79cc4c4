"""Raw HTTP/1.1 and SSE helpers for the emulator tests: they show exactly what is on the wire."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

TEXT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
CHAT = "/v1/openai/chat/completions"
BOM = b"\xef\xbb\xbf"


def chat_body(content: str = "Hello there", **extra: Any) -> Dict[str, Any]:
    """A chat request body for the default text model."""
    body: Dict[str, Any] = {"model": TEXT_MODEL, "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    return body


def sse_payloads(body: bytes) -> List[str]:
    """The ``data:`` values of an event stream (any line ending, BOM and comments allowed)."""
    if body.startswith(BOM):
        body = body[len(BOM) :]
    text = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").decode("utf-8")
    out = []
    for block in text.split("\n\n"):
        data = [line[5:].lstrip(" ") for line in block.split("\n") if line.startswith("data:")]
        if data:
            out.append("\n".join(data))
    return out


def chunks(payloads: List[str]) -> List[Dict[str, Any]]:
    """The JSON chunks of a stream (``[DONE]`` left out)."""
    return [json.loads(p) for p in payloads if p != "[DONE]"]


@dataclass
class RawResponse:
    """A response read off a socket, framing kept visible."""

    status: int
    reason: str
    headers: Dict[str, str]
    body: bytes = b""
    pieces: List[bytes] = field(default_factory=list)  # chunked: each chunk's payload
    error: Optional[BaseException] = None  # what ended the read early, if anything
    eof: bool = False  # the server closed the connection after the body


class RawConnection:
    """One TCP connection speaking HTTP/1.1 by hand."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._buffer = bytearray()
        self._pos = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Optional[Dict[str, str]] = None,
        key: Optional[str] = "emulator-key",
    ) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        fields = {"Host": "localhost"}
        if key is not None:
            fields["Authorization"] = f"Bearer {key}"
        if body is not None:
            fields["Content-Type"] = "application/json"
            fields["Content-Length"] = str(len(data))
        fields.update(headers or {})
        head = f"{method} {path} HTTP/1.1\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        self.sock.sendall(head.encode() + b"\r\n" + data)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        if self._pos > 1 << 20:  # forget what was consumed, now and then
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    def _line(self) -> bytes:
        end = self._buffer.find(b"\r\n", self._pos)
        while end < 0:
            self._fill()
            end = self._buffer.find(b"\r\n", self._pos)
        line = bytes(self._buffer[self._pos : end])
        self._pos = end + 2
        return line

    def _exactly(self, n: int) -> bytes:
        while len(self._buffer) - self._pos < n:
            self._fill()
        data = bytes(self._buffer[self._pos : self._pos + n])
        self._pos += n
        return data

    def buffered(self) -> bytes:
        """Bytes received but not yet consumed by the reader."""
        return bytes(self._buffer[self._pos :])

    def read_head(self) -> RawResponse:
        status_line = self._line().decode("latin-1")
        _, status, reason = status_line.split(" ", 2)
        headers: Dict[str, str] = {}
        while True:
            line = self._line().decode("latin-1")
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return RawResponse(int(status), reason, headers)

    def read_response(self) -> RawResponse:
        """Read one response; an error that cuts the body short is kept, not raised."""
        response = self.read_head()
        try:
            self._read_body(response)
        except (OSError, EOFError) as exc:
            response.error = exc
        return response

    def _read_body(self, response: RawResponse) -> None:
        if response.headers.get("transfer-encoding") == "chunked":
            try:
                while True:
                    size = int(self._line().split(b";")[0], 16)
                    if size == 0:
                        self._line()
                        return
                    response.pieces.append(self._exactly(size))
                    self._line()
            finally:
                response.body = b"".join(response.pieces)
        elif "content-length" in response.headers:
            try:
                response.body = self._exactly(int(response.headers["content-length"]))
            except (OSError, EOFError):
                response.body = self.buffered()
                raise
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                response.eof = True
            finally:
                response.body = self.buffered()
                self._pos = len(self._buffer)

    def at_eof(self, timeout: float = 2.0) -> bool:
        """Whether the server has closed the connection (nothing more to read)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, TimeoutError, socket.timeout):
            return False


def request(
    port: int, method: str, path: str, body: Any = None, **kwargs: Any
) -> Tuple[RawResponse, bool]:
    """One request on a fresh connection; the response and whether the server then closed."""
    with RawConnection(port) as conn:
        conn.send(method, path, body, **kwargs)
        response = conn.read_response()
        closed = response.eof or (response.error is None and conn.at_eof(0.1))
        return response, closed
