"""``user:password@`` in the base URL: taken out of the URL into the session's auth when the
client is configured, so no URL the transport builds, logs or quotes holds the password,
and no error (message, repr, pickle, traceback locals) or DEBUG log line shows it.
"""

from __future__ import annotations

import base64
import pickle
import socket
import traceback
from typing import Callable

import anyio
import pytest

from deepinfra_sdk import APIConnectionError, AsyncDeepInfraClient, DeepInfraClient

from ._hostile import head, hostile_server
from .conftest import Api, free_port
from .test_secrets import _debug_logs

PASSWORD = "pw-S3cr3t-h0rse"


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and all(cur is not seen for seen in out):
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _assert_clean(err: BaseException) -> None:
    for exc in _chain(err):
        assert PASSWORD not in str(exc)
        assert PASSWORD not in repr(exc)
        # The frames below the caller's (whose own variables are its business).
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            if "/tests/" in frame.f_code.co_filename:
                continue
            for name, value in frame.f_locals.items():
                shown = f"{name}={value!r}"
                assert PASSWORD not in shown, f"in {frame.f_code.co_name}: {shown[:200]}"
    assert PASSWORD.encode() not in pickle.dumps(err)


def test_the_password_leaves_the_url_at_configuration() -> None:
    client = DeepInfraClient(base_url=f"http://gw-user:{PASSWORD}@127.0.0.1:{free_port()}")
    with client:
        assert client.base_url.startswith("http://127.0.0.1:")
        assert client.config.base_auth == ("gw-user", PASSWORD)
        for text in (repr(client), repr(client.config), repr(client._transport._bearer)):
            assert PASSWORD not in text


def _models(mode: str, base: str) -> None:
    if mode == "sync":
        with DeepInfraClient(base_url=base, max_retries=0) as client:
            client.models.list()
        return

    async def main() -> None:
        async with AsyncDeepInfraClient(base_url=base, max_retries=0) as client:
            await client.models.list()

    anyio.run(main, backend=mode)


@pytest.mark.parametrize("url", ["http://u:{pw}@127.0.0.1:99999", "http://u:{pw}@127.0.0.1:{port}"])
def test_an_unusable_or_closed_base_url_never_shows_the_password(mode: str, url: str) -> None:
    base = url.format(pw=PASSWORD, port=free_port())
    with (
        _debug_logs("deepinfra_sdk", "urllib3", "requests") as logs,
        pytest.raises(APIConnectionError) as info,
    ):
        _models(mode, base)
    _assert_clean(info.value)
    lines = [record.getMessage() for record in logs.records]
    assert lines and all(PASSWORD not in line for line in lines), lines


@pytest.mark.parametrize("with_key", [False, True])
def test_the_credentials_are_sent_as_basic_auth_unless_a_key_is(
    make_api: Callable[..., Api], with_key: bool
) -> None:
    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head("200 OK", length=2) + b"[]")

    with hostile_server(script) as server:
        base = server.url.replace("http://", f"http://gw%40user:{PASSWORD}@")
        api = make_api(base_url=base, api_key="sk-the-key" if with_key else None)
        assert api.models() == []
        sent = server.heads[0].decode()
    assert f"{PASSWORD}@" not in sent  # not in the request line or Host
    if with_key:
        assert "Authorization: Bearer sk-the-key" in sent
    else:
        token = base64.b64encode(f"gw@user:{PASSWORD}".encode()).decode()
        assert f"Authorization: Basic {token}" in sent
