"""The sync client over real loopback sockets: framing, arrival, timeouts, drops, pooling."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from deepinfra_sdk import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    DeepInfraClient,
    RateLimitError,
    Timeout,
)
from deepinfra_sdk.emulator import Emulator, Fault
from tests._servers import raw_server

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
MSGS = [{"role": "user", "content": "Tell me about loopback sockets."}]
FRAMINGS = ["chunked", "content-length", "close"]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


def make_client(emu: Emulator, **kw: object) -> DeepInfraClient:
    return DeepInfraClient(emu.api_key, base_url=emu.url, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("line_ending", ["\n", "\r\n"])
def test_each_event_reaches_the_caller_before_the_next_is_sent(
    emu: Emulator, framing: str, line_ending: str
) -> None:
    """Lockstep: the server sends event k+1 only once the caller has event k.

    A client that buffers (iter_lines, iter_content(None), a full read of a Content-Length
    body) would wait for bytes the server will not send: the gate then times out.
    """
    emu.framing = framing
    emu.line_ending = line_ending
    received = threading.Semaphore(0)
    stalls: list[int] = []

    def gate(k: int) -> None:
        if k >= 1 and not received.acquire(timeout=3):
            stalls.append(k)

    emu.event_gate = gate
    with (
        make_client(emu) as client,
        client.chat.completions.create(
            model=MODEL, messages=MSGS, stream=True, max_tokens=8
        ) as stream,
    ):
        for _ in stream:
            received.release()
    assert stalls == []
    assert stream.done
    assert len(stream.text.split()) == 8
    assert stream.usage is not None and stream.usage.completion_tokens == 8


@pytest.mark.parametrize("framing", FRAMINGS)
def test_streams_are_identical_across_framings(emu: Emulator, framing: str) -> None:
    emu.framing = framing
    with make_client(emu) as client:
        with client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as stream:
            text = "".join(stream.iter_text())
        whole = client.chat.completions.create(model=MODEL, messages=MSGS)
    assert text == whole.text
    assert stream.usage is not None and whole.usage is not None
    assert stream.usage.total_tokens == whole.usage.total_tokens


def test_connections_return_to_the_pool_after_full_streams(emu: Emulator) -> None:
    with make_client(emu) as client:
        for _ in range(5):
            with client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as s:
                list(s)
        client.chat.completions.create(model=MODEL, messages=MSGS)
    # Counted by the server: every request reused one keep-alive connection.
    assert emu.connections_accepted == 1


def test_an_early_break_costs_a_new_connection(emu: Emulator) -> None:
    with make_client(emu) as client:
        with client.chat.completions.create(
            model=MODEL, messages=MSGS, stream=True, max_tokens=200
        ) as stream:
            next(iter(stream))
        client.chat.completions.create(model=MODEL, messages=MSGS)
    # The half-read connection was closed, not pooled: the next request opened another.
    assert emu.connections_accepted == 2


def test_early_break_does_not_pool_a_half_read_connection(emu: Emulator) -> None:
    emu.token_delay = 0.01
    with make_client(emu) as client:
        with client.chat.completions.create(
            model=MODEL, messages=MSGS, stream=True, max_tokens=200
        ) as stream:
            for _ in stream:
                break
        # The next request must not read the rest of the abandoned stream.
        emu.token_delay = 0.0
        out = client.chat.completions.create(model=MODEL, messages=MSGS)
        assert out.choices[0].finish_reason in ("stop", "length")


def test_drop_after_k_events_keeps_the_text(emu: Emulator) -> None:
    emu.inject(Fault(drop="after_events", after_events=4))
    with make_client(emu) as client:
        stream = client.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
        got: list[str] = []
        with pytest.raises(APIConnectionError) as info, stream:
            for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    assert len(got) == 4
    assert info.value.partial_text == "".join(got) == stream.text
    assert stream.text  # three content tokens after the role chunk
    assert emu.request_count("/v1/openai/chat/completions") == 1  # never repeated


def test_drop_before_response_is_not_retried_for_a_post(emu: Emulator) -> None:
    emu.inject(Fault(drop="before_response"), times=5)
    with make_client(emu) as client, pytest.raises(APIConnectionError):
        client.chat.completions.create(model=MODEL, messages=MSGS)
    assert emu.request_count("/v1/openai/chat/completions") == 1


def test_429_then_success_is_retried(emu: Emulator) -> None:
    emu.inject(Fault(status=429, retry_after="0"), times=1)
    with (
        make_client(emu) as client,
        client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as stream,
    ):
        assert "".join(stream.iter_text())
    assert emu.request_count("/v1/openai/chat/completions") == 2


def test_429_beyond_the_retries_raises_from_create(emu: Emulator) -> None:
    emu.inject(Fault(status=429, retry_after="0"), times=10)
    with make_client(emu, max_retries=1) as client, pytest.raises(RateLimitError):
        client.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
    assert emu.request_count("/v1/openai/chat/completions") == 2


def test_a_stall_longer_than_the_read_timeout_mid_stream(emu: Emulator) -> None:
    emu.inject(Fault(stall=3.0, stall_at="after_events", after_events=3))
    with make_client(emu, timeout=Timeout(connect=2, read=0.3)) as client:
        stream = client.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info, stream:
            list(stream)
        assert time.monotonic() - started < 2.0
    assert info.value.partial_text == stream.text != ""


def test_total_deadline_ends_a_slow_drip(emu: Emulator) -> None:
    # Every piece arrives well within the read timeout; only the total deadline can stop it.
    emu.inject(Fault(chunk_size=8, drip_delay=0.02))
    with make_client(emu, timeout=Timeout(connect=2, read=5, total=0.5)) as client:
        started = time.monotonic()
        stream = client.chat.completions.create(
            model=MODEL, messages=MSGS, stream=True, max_tokens=500
        )
        with pytest.raises(APITimeoutError, match="total timeout") as info, stream:
            list(stream)
        elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 1.5
    assert info.value.partial_text == stream.text


def test_abort_from_another_thread_wakes_a_blocked_read(emu: Emulator) -> None:
    emu.inject(Fault(stall=10.0, stall_at="after_events", after_events=2))
    with make_client(emu) as client:
        stream = client.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
        errors: list[BaseException] = []
        done = threading.Event()

        def consume() -> None:
            try:
                list(stream)
            except BaseException as exc:
                errors.append(exc)
            finally:
                done.set()

        worker = threading.Thread(target=consume)
        worker.start()
        time.sleep(0.2)  # the worker is now blocked in recv()
        started = time.monotonic()
        stream.abort()
        assert done.wait(2.0)
        assert time.monotonic() - started < 0.1 + 0.2  # generous for a loaded CI machine
        worker.join()
        stream.close()
        assert len(errors) == 1 and isinstance(errors[0], APIConnectionError)
        # The client still works afterwards.
        assert client.chat.completions.create(model=MODEL, messages=MSGS).text


def test_in_stream_error_frame_over_the_wire(emu: Emulator) -> None:
    from deepinfra_sdk import APIStreamError

    emu.inject(Fault(error_frame="deepinfra", after_events=3))
    with make_client(emu) as client:
        stream = client.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
        with pytest.raises(APIStreamError) as info, stream:
            list(stream)
    assert info.value.error_type == "validation_error"
    assert info.value.partial_text == stream.text != ""


def test_32_threads_share_one_client(emu: Emulator) -> None:
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(32)

    with make_client(emu) as client:

        def work(i: int) -> None:
            try:
                barrier.wait()
                msgs = [{"role": "user", "content": f"question {i % 4}"}]
                if i % 2:
                    with client.chat.completions.create(
                        model=MODEL, messages=msgs, stream=True
                    ) as s:
                        results.append(f"{i % 4}:" + "".join(s.iter_text()))
                else:
                    results.append(
                        f"{i % 4}:"
                        + client.chat.completions.create(model=MODEL, messages=msgs).text
                    )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(client.models.list()) > 0
    assert errors == []
    assert len(results) == 32
    # Same question, same deterministic answer, whichever way it was fetched.
    by_question: dict[str, set[str]] = {}
    for r in results:
        by_question.setdefault(r[0], set()).add(r)
    assert all(len(v) == 1 for v in by_question.values())


def test_models_images_embeddings_end_to_end(emu: Emulator, tmp_path: object) -> None:
    with make_client(emu) as client:
        assert MODEL in client.models.text_models()
        image_model = client.models.image_models()[0]
        img = client.images.generate("a red square", model=image_model, width=64, height=64, seed=1)
        assert img.media_type() == "image/png"
        assert img.seed == 1
        assert img.inference_status is not None and img.inference_status.cost is not None
        again = client.images.generate(
            "a red square", model=image_model, width=64, height=64, seed=1
        )
        assert again.image_bytes() == img.image_bytes()  # deterministic from prompt and seed
        oa = client.images.generate(
            "a red square", model=image_model, api="openai", width=64, height=64
        )
        assert oa.media_type() == "image/png"
        emb = client.embeddings.create(input=["a", "b"], model="BAAI/bge-large-en-v1.5")
        assert len(emb.embeddings) == 2 and len(emb.embeddings[0]) > 0
        b64 = client.embeddings.create(
            input=["a", "b"], model="BAAI/bge-large-en-v1.5", encoding_format="base64"
        )
        assert b64.embeddings[0] == pytest.approx(emb.embeddings[0], rel=1e-6)


def test_the_loop_ends_at_done_even_if_the_server_keeps_the_body_open() -> None:
    def script(conn: socket.socket) -> None:
        def chunk(data: bytes) -> bytes:
            return b"%x\r\n%s\r\n" % (len(data), data)

        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunk(
                b'data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\n'
            )
            + chunk(b"data: [DONE]\n\n")
        )
        for _ in range(10):  # keep-alive comments after [DONE], for 3 s
            time.sleep(0.3)
            conn.sendall(chunk(b": ping\n\n"))

    with raw_server(script) as url, DeepInfraClient(base_url=url) as client:
        started = time.monotonic()
        with client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as stream:
            assert "".join(stream.iter_text()) == "hi"
        assert time.monotonic() - started < 1.0
        assert stream.done


def test_a_compressed_body_is_refused_as_identity_was_asked() -> None:
    import gzip

    body = gzip.compress(b"[]")

    def script(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    with raw_server(script) as url, DeepInfraClient(base_url=url) as client:
        with pytest.raises(APIResponseValidationError, match="Content-Encoding 'gzip'"):
            client.models.list()


def test_the_total_timeout_covers_retries_too(emu: Emulator) -> None:
    emu.inject(Fault(stall=3.0), times=3, route="/models/featured")
    with make_client(emu, timeout=Timeout(connect=2, read=5, total=0.5)) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="total timeout"):
            client.models.list()
        assert time.monotonic() - started < 1.5
    assert emu.request_count("/models/featured") == 1  # no retry could fit in the deadline


def test_the_key_is_not_in_the_locals_of_a_chained_transport_error() -> None:
    import traceback

    from .conftest import TEST_KEY

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now: connection refused
    with DeepInfraClient(TEST_KEY, base_url=f"http://127.0.0.1:{port}", max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            client.chat.completions.create(model=MODEL, messages=MSGS)
    cause = info.value.__cause__
    assert cause is not None  # raised from the cause, as it should be
    # The cause's chain: our transport's frame and requests'/urllib3's below it.
    text = "".join(traceback.TracebackException.from_exception(cause, capture_locals=True).format())
    assert "urllib3" in text  # the chain is there ...
    assert TEST_KEY not in text  # ... without the headers its frames held
