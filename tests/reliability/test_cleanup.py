"""Cleaning up after trouble: ``close()`` stops a call waiting to retry and nothing is sent
after it; the provider class closes the clients it evicts; ``repr()`` of a half-built client
does not raise; a ``Retry-After`` of zero gets a small jitter; the credential header of the
request an error carries is redacted.
"""

from __future__ import annotations

import email.utils
import threading
import time
from typing import Callable

import anyio
import pytest

from deepinfra_sdk import (
    APIConnectionError,
    AsyncDeepInfraClient,
    AuthenticationError,
    DeepInfra,
    DeepInfraClient,
    RateLimitError,
)
from deepinfra_sdk import provider as provider_module
from deepinfra_sdk._http import retry_delay
from deepinfra_sdk.emulator import Emulator, Fault

from .conftest import KEY, MESSAGES, MODEL, Api, client_sockets, free_port, port_of


def test_close_stops_a_call_waiting_to_retry(mode: str, emu: Emulator) -> None:
    emu.inject(Fault(status=429, retry_after="5"), times=5, route="/models/featured")
    client = DeepInfraClient(KEY, base_url=emu.url)
    closer = threading.Timer(0.3, client.close)
    started = time.monotonic()
    closer.start()
    try:
        with pytest.raises(APIConnectionError, match="closed while waiting to retry"):
            if mode == "sync":
                client.models.list(refresh=True)
            else:

                async def main() -> None:
                    await AsyncDeepInfraClient(client=client).models.list(refresh=True)

                anyio.run(main, backend=mode)
    finally:
        closer.join()
    assert time.monotonic() - started < 2.0
    time.sleep(0.2)
    assert emu.request_count("/models/featured") == 1  # nothing went out after close()
    assert client_sockets(port_of(emu.url)) == 0


def test_a_closed_client_sends_nothing(emu: Emulator) -> None:
    client = DeepInfraClient(KEY, base_url=emu.url)
    transport = client._transport
    client.close()
    with pytest.raises(APIConnectionError, match="the client was closed"):
        transport.request("GET", "/models/featured")
    assert emu.request_count() == 0


def test_the_provider_closes_the_clients_it_evicts(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEEPINFRA_API_KEY", KEY)
    monkeypatch.setenv("DEEPINFRA_BASE_URL", emu.url)
    DeepInfra.close_clients()
    port = port_of(emu.url)
    try:
        for i in range(40):
            list(DeepInfra.create_completion(MODEL, MESSAGES, stream=False, timeout=10 + i))
        # One pooled socket per cached client; the evicted ones are closed (was 36-40).
        assert client_sockets(port) <= provider_module._MAX_SHARED_CLIENTS
    finally:
        DeepInfra.close_clients()
    assert client_sockets(port) == 0


def test_repr_of_a_half_built_client_does_not_raise() -> None:
    assert "not configured" in repr(DeepInfraClient.__new__(DeepInfraClient))
    assert "not configured" in repr(AsyncDeepInfraClient.__new__(AsyncDeepInfraClient))
    half = AsyncDeepInfraClient.__new__(AsyncDeepInfraClient)
    half._client = DeepInfraClient(base_url=f"http://127.0.0.1:{free_port()}")
    assert "max_concurrency=None" in repr(half)


def test_a_retry_after_of_zero_or_past_gets_a_small_jitter() -> None:
    delays = {retry_delay(0, 0.0) for _ in range(50)}
    assert all(d is not None and 0.05 <= d <= 0.25 for d in delays)
    assert len(delays) > 10  # spread, not one instant for every client
    assert retry_delay(0, 2.0) == 2.0  # a real wait is kept exactly


def test_a_retry_after_date_in_the_past_is_retried_with_jitter(
    make_api: Callable[..., Api], emu: Emulator
) -> None:
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    emu.inject(Fault(status=429, retry_after=past), times=1, route="/models/featured")
    api = make_api()
    api.models()
    assert len(api.sleeps) == 1 and 0.05 <= api.sleeps[0] <= 0.25


def test_the_request_an_error_carries_has_no_credential(
    make_api: Callable[..., Api], emu: Emulator
) -> None:
    emu.inject(Fault(status=401), times=1)
    api = make_api(max_retries=0)
    with pytest.raises(AuthenticationError) as info:
        api.chat()
    assert info.value.response.request.headers["Authorization"] == "[redacted]"
    emu.inject(Fault(status=429), times=1)
    with pytest.raises(RateLimitError) as info2:
        api.models()
    assert info2.value.response.request.headers["Authorization"] == "[redacted]"


def test_the_request_of_a_connection_error_has_no_credential(make_api: Callable[..., Api]) -> None:
    api = make_api(base_url=f"http://127.0.0.1:{free_port()}", max_retries=0)
    with pytest.raises(APIConnectionError) as info:
        api.chat()
    cause = info.value.__cause__
    request = getattr(cause, "request", None)
    assert request is not None
    assert request.headers["Authorization"] == "[redacted]"
