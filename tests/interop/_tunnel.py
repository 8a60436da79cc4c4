"""A loopback HTTPS proxy that tunnels ``CONNECT api.deepinfra.com:443`` to an emulator.

For clients that hard-code DeepInfra's URL and document no way to change it: they are routed
with the standard proxy settings (``HTTPS_PROXY``) to this proxy, which opens every tunnel to
the emulator serving TLS with a certificate for ``api.deepinfra.com`` from a test CA (trusted
through ``REQUESTS_CA_BUNDLE``). Nothing leaves the machine: any other CONNECT target is
refused.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

from deepinfra_sdk.emulator import Emulator

HOST = "api.deepinfra.com"


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _serve(conn: socket.socket, target: tuple[str, int]) -> None:
    with conn:
        head = b""
        while b"\r\n\r\n" not in head:
            more = conn.recv(4096)
            if not more:
                return
            head += more
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        if line.split()[:2] != ["CONNECT", f"{HOST}:443"]:
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        with socket.create_connection(target) as upstream:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            back = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
            back.start()
            _pipe(conn, upstream)
            back.join(10)


@contextlib.contextmanager
def deepinfra_through_proxy(tmp: Path) -> Iterator[tuple[Emulator, dict[str, str]]]:
    """An emulator reachable as https://api.deepinfra.com through a loopback proxy; yields it
    and the environment variables that route ``requests`` there."""
    trustme = __import__("trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    bundle = tmp / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    with Emulator(ssl_context=context) as emu:
        target = ("127.0.0.1", emu.port)

        def accept() -> None:
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = listener.accept()
                    threading.Thread(target=_serve, args=(conn, target), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"
        try:
            yield (
                emu,
                {
                    "HTTPS_PROXY": proxy,
                    "https_proxy": proxy,
                    "REQUESTS_CA_BUNDLE": str(bundle),
                    "NO_PROXY": "",
                    "no_proxy": "",
                },
            )
        finally:
            listener.close()
