"""The async facade over real loopback sockets, on asyncio and trio."""

from __future__ import annotations

import contextvars
import functools
import gc
import pickle
import random
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest

from deepinfra_sdk import (
    APIConnectionError,
    APIResponseValidationError,
    AsyncChatStream,
    AsyncDeepInfraClient,
    AuthenticationError,
    ChatCompletion,
    ChatCompletionChunk,
    DeepInfraClient,
    ImageResponse,
    RateLimitError,
)
from deepinfra_sdk import _constants as C
from deepinfra_sdk._pump import StreamPump, Wakeups
from deepinfra_sdk.emulator import Emulator, Fault
from deepinfra_sdk.resources.models import Models
from tests._leaks import (
    can_count_sockets,
    client_sockets,
    threads_in_sdk,
    wait_until_no_thread_in_sdk,
)

pytestmark = pytest.mark.anyio

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
MESSAGES = [{"role": "user", "content": "Write a short poem about spring."}]
CHAT = "/v1/openai/chat/completions"
needs_proc = pytest.mark.skipif(not can_count_sockets(), reason="counts sockets through /proc")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    server = Emulator().start()
    yield server
    server.stop()
    assert server.handler_errors == []


@pytest.fixture
def sync_client(emu: Emulator) -> Iterator[DeepInfraClient]:
    with DeepInfraClient(emu.api_key, base_url=emu.url) as c:
        yield c


@pytest.fixture
async def aclient(emu: Emulator) -> Any:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as c:
        yield c


# -- every facade method gives what the sync client gives ------------------------------------


async def test_models_methods_match_the_sync_client(
    aclient: AsyncDeepInfraClient, sync_client: DeepInfraClient
) -> None:
    assert await aclient.models.list() == sync_client.models.list()
    assert await aclient.models.text_models() == sync_client.models.text_models()
    assert await aclient.models.image_models() == sync_client.models.image_models()
    assert await aclient.models.list(featured=False) == sync_client.models.list(featured=False)
    assert (await aclient.models.get(MODEL)).model_name == MODEL
    assert aclient.models.cached(MODEL) is not None


async def test_the_model_list_is_cached_and_shared_with_the_sync_client(emu: Emulator) -> None:
    sync = DeepInfraClient(emu.api_key, base_url=emu.url)
    aclient = AsyncDeepInfraClient(client=sync)
    await aclient.models.list()
    sync.models.list()
    await aclient.models.image_models()
    assert emu.request_count("/models/featured") == 1
    await aclient.aclose()
    sync.models.list(refresh=True)  # a wrapped client stays open after aclose()
    sync.close()


async def test_chat_completion_matches_the_sync_client(
    aclient: AsyncDeepInfraClient, sync_client: DeepInfraClient
) -> None:
    got = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, seed=3)
    want = sync_client.chat.completions.create(model=MODEL, messages=MESSAGES, seed=3)
    assert isinstance(got, ChatCompletion)
    assert got.choices[0].message.content == want.choices[0].message.content
    assert got.choices[0].message.content


async def test_stream_yields_the_same_chunks_as_the_sync_stream(
    aclient: AsyncDeepInfraClient, sync_client: DeepInfraClient
) -> None:
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert isinstance(stream, AsyncChatStream)
    async with stream:
        chunks = [chunk async for chunk in stream]
    with sync_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as s:
        want = list(s)
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert [c.choices[0].delta.content for c in chunks if c.choices] == [
        c.choices[0].delta.content for c in want if c.choices
    ]
    assert stream.text == s.text and stream.text
    assert stream.done and stream.closed
    assert stream.finish_reason == "stop"
    assert stream.usage is not None and stream.usage.completion_tokens > 0
    assert stream.to_completion().choices[0].message.content == stream.text
    assert stream.texts() == {0: stream.text}
    assert stream.chunks_received == len(chunks)
    assert stream.model == MODEL and stream.request_id
    assert "done" in repr(stream) and repr(stream).startswith("<AsyncChatStream")


async def test_iter_text_yields_the_content_pieces(aclient: AsyncDeepInfraClient) -> None:
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async with stream:
        pieces = [piece async for piece in stream.iter_text()]
    assert "".join(pieces) == stream.text
    assert all(pieces)


async def test_a_fast_stream_crosses_to_the_loop_in_batches_not_per_chunk(
    emu: Emulator, aclient: AsyncDeepInfraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.answer_tokens = 3000
    takes: list[int] = []
    wakeups = 0
    original_take, original_call = StreamPump.take, Wakeups.call

    def take(self: StreamPump) -> Any:
        items = original_take(self)
        if items:
            takes.append(len(items))
        return items

    def call(self: Wakeups, fn: Any) -> None:
        nonlocal wakeups
        wakeups += 1
        original_call(self, fn)

    monkeypatch.setattr(StreamPump, "take", take)
    monkeypatch.setattr(Wakeups, "call", call)
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async with stream:
        count = sum([1 async for _ in stream])
    assert count >= 3000 and sum(takes) >= count
    assert len(takes) < count / 10, f"{len(takes)} batches for {count} chunks"
    assert wakeups < count / 10, f"{wakeups} wake-ups for {count} chunks"


async def test_images_and_embeddings(aclient: AsyncDeepInfraClient) -> None:
    image = await aclient.images.generate("a red fox", seed=1)
    assert isinstance(image, ImageResponse)
    assert image.image_bytes().startswith(b"\x89PNG")
    other = await aclient.images.generate("a red fox", api="openai", width=64, height=64)
    assert other.images[0].startswith("data:image/png;base64,")
    vectors = await aclient.embeddings.create(input=["one", "two"])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) > 0


def test_every_sync_method_has_an_async_twin_with_the_same_signature(emu: Emulator) -> None:
    import inspect

    sync = DeepInfraClient(emu.api_key, base_url=emu.url)
    aclient = AsyncDeepInfraClient(client=sync)
    groups = [
        (sync.models, aclient.models),
        (sync.images, aclient.images),
        (sync.embeddings, aclient.embeddings),
        (sync.chat.completions, aclient.chat.completions),
    ]
    for sync_group, async_group in groups:
        names = [n for n in dir(type(sync_group)) if not n.startswith("_")]
        for name in names:
            twin = getattr(async_group, name, None)
            assert twin is not None, f"{type(async_group).__name__} lacks {name}"
            wanted = inspect.signature(getattr(sync_group, name))
            if name == "cached":
                assert not inspect.iscoroutinefunction(twin)  # no request: stays sync
            else:
                assert inspect.iscoroutinefunction(twin), name
            if name != "create" or sync_group is not sync.chat.completions:
                assert inspect.signature(twin) == wanted, name
                assert twin.__doc__ == getattr(sync_group, name).__doc__
    sync.close()


# -- errors ------------------------------------------------------------------------------------


async def test_a_status_error_raises_from_the_await_not_from_the_loop(emu: Emulator) -> None:
    with Emulator(api_keys=["the-right-key"]) as strict:
        async with AsyncDeepInfraClient("wrong-key", base_url=strict.url) as bad:
            with pytest.raises(AuthenticationError):
                await bad.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    emu.inject(Fault(status=429), times=5, route=CHAT)
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url, max_retries=0) as c:
        with pytest.raises(RateLimitError) as info:
            await c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert info.value.status_code == 429 and info.value.request_id


async def test_retries_happen_inside_the_await(
    emu: Emulator, aclient: AsyncDeepInfraClient
) -> None:
    emu.inject(Fault(status=503, retry_after="0"), times=1, route=CHAT)
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async with stream:
        assert [c async for c in stream]
    assert emu.request_count(CHAT) == 2


async def test_a_broken_stream_keeps_the_text_that_arrived(
    emu: Emulator, aclient: AsyncDeepInfraClient
) -> None:
    emu.inject(Fault(drop="after_events", after_events=5), route=CHAT)
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    received = []
    with pytest.raises(APIConnectionError) as info:
        async with stream:
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    assert "".join(received) == stream.text != ""
    assert info.value.partial_text == stream.text
    assert emu.request_count(CHAT) == 1  # a stream that delivered events is never repeated


async def test_bad_input_fails_before_any_request(
    emu: Emulator, aclient: AsyncDeepInfraClient
) -> None:
    with pytest.raises(ValueError, match="model"):
        await aclient.chat.completions.create(model="", messages=MESSAGES)
    with pytest.raises(ValueError, match="prompt"):
        await aclient.images.generate("")
    assert emu.requests == []


def test_constructor_checks_its_arguments(emu: Emulator) -> None:
    sync = DeepInfraClient(emu.api_key, base_url=emu.url)
    with pytest.raises(ValueError, match="either client"):
        AsyncDeepInfraClient(client=sync, base_url=emu.url)
    with pytest.raises(ValueError, match="max_retries"):
        AsyncDeepInfraClient(client=sync, max_retries=1)
    with pytest.raises(TypeError, match="DeepInfraClient"):
        AsyncDeepInfraClient(client="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_concurrency"):
        AsyncDeepInfraClient(client=sync, max_concurrency=0)
    wrapped = AsyncDeepInfraClient(client=sync)
    assert wrapped.sync_client is sync
    assert wrapped.max_concurrency == 256  # the pool size of the wrapped client
    assert AsyncDeepInfraClient(client=sync, max_concurrency=7).max_concurrency == 7
    own = AsyncDeepInfraClient(emu.api_key, base_url=emu.url, max_concurrency=500)
    assert own.max_concurrency == 500 and own.sync_client.config.pool_maxsize == 500
    small = DeepInfraClient(emu.api_key, base_url=emu.url, pool_maxsize=8)
    assert AsyncDeepInfraClient(client=small).max_concurrency == 64
    assert "api_key=set" in repr(own) and emu.api_key not in repr(own)
    sync.close()


async def test_the_client_pickles_as_its_configuration(emu: Emulator) -> None:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url, max_concurrency=70) as c:
        copy = pickle.loads(pickle.dumps(c))
    assert copy.max_concurrency == 70 and copy.base_url == emu.url
    assert await copy.models.text_models()
    await copy.aclose()


# -- threads, contextvars, event loops -------------------------------------------------------

_request_tag: contextvars.ContextVar[str] = contextvars.ContextVar("request_tag", default="")


async def test_contextvars_reach_the_worker_thread(
    aclient: AsyncDeepInfraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, bool]] = []
    original = Models._fetch

    def spy(self: Models, *args: Any) -> Any:
        seen.append((_request_tag.get(), threading.current_thread() is threading.main_thread()))
        return original(self, *args)

    monkeypatch.setattr(Models, "_fetch", spy)
    _request_tag.set("req-42")
    await aclient.models.list()
    assert seen == [("req-42", False)]


async def test_the_private_limiter_is_used_not_anyios_default(
    emu: Emulator, aclient: AsyncDeepInfraClient
) -> None:
    gate_seen: list[int] = []

    def gate(k: int) -> None:
        if k == 1:
            gate_seen.append(1)
            time.sleep(0.05)

    emu.event_gate = gate
    default = anyio.to_thread.current_default_thread_limiter()
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async with stream:
        async for _ in stream:
            assert default.borrowed_tokens == 0
    assert gate_seen
    assert aclient._limiter().total_tokens == aclient.max_concurrency


def test_one_client_serves_successive_event_loops_and_both_backends(emu: Emulator) -> None:
    client = AsyncDeepInfraClient(emu.api_key, base_url=emu.url)

    async def ask() -> str:
        answer = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        return answer.choices[0].message.content or ""

    answers = [anyio.run(ask, backend=b) for b in ("asyncio", "trio", "asyncio", "trio")]
    assert len(set(answers)) == 1 and answers[0]
    client.sync_client.close()


async def test_more_than_forty_streams_progress_at_once(emu: Emulator) -> None:
    # The server holds every stream before its second event until all have reached it: a
    # client that serialised at anyio's default 40 threads could never get there.
    count = 100
    barrier = threading.Barrier(count, timeout=10)

    def gate(k: int) -> None:
        if k == 1:
            barrier.wait()

    emu.event_gate = gate
    texts: list[str] = []
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as c:

        async def one() -> None:
            stream = await c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
            async with stream:
                async for _ in stream:
                    pass
            texts.append(stream.text)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(count):
                    tg.start_soon(one)
    assert not barrier.broken
    assert len(texts) == count and len(set(texts)) == 1


# -- cancellation frees the thread and the socket ------------------------------------------


async def _first_chunk_then_wait(stream: AsyncChatStream) -> None:
    async with stream:
        async for _ in stream:
            pass


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_streams_read_to_the_end_keep_their_connection(
    emu: Emulator, aclient: AsyncDeepInfraClient, framing: str
) -> None:
    emu.framing = framing
    for _ in range(3):
        stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with stream:
            async for _ in stream:
                pass
        assert stream.done and stream.text
    assert wait_until_no_thread_in_sdk() < 2.0
    assert emu.connections_accepted == 1


@pytest.mark.parametrize("ending", ["read to the end", "closed half-way", "failed"])
async def test_a_finished_stream_is_freed_without_the_garbage_collector(
    emu: Emulator, aclient: AsyncDeepInfraClient, ending: str
) -> None:
    # A cycle between the stream and its reader would keep both (and the response,
    # buffers and locks they hold) alive until a full collection, a long pause when
    # hundreds of streams end together.
    if ending == "failed":
        emu.inject(Fault(drop="after_events", after_events=3), route=CHAT)
    gc.collect()
    gc.disable()
    try:
        stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        freed = weakref.ref(stream.sync_stream)
        async with stream:
            try:
                async for _ in stream:
                    if ending == "closed half-way":
                        break
            except APIConnectionError:
                assert ending == "failed"
        assert wait_until_no_thread_in_sdk() < 2.0
        assert freed() is not None
        del stream, _
        assert freed() is None
    finally:
        gc.enable()


@needs_proc
async def test_a_cancelled_stream_frees_its_thread_and_socket_at_once(
    emu: Emulator, aclient: AsyncDeepInfraClient
) -> None:
    # Two events, then a server that goes silent for longer than the test runs.
    emu.inject(Fault(stall=30, stall_at="after_events", after_events=2), route=CHAT)
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.3):
            await _first_chunk_then_wait(stream)
    assert wait_until_no_thread_in_sdk(limit=1.0) < 1.0
    assert stream.closed and stream.text  # what arrived is kept
    assert client_sockets(emu.port) == 0  # dropped, not pooled half-read
    answer = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert answer.choices[0].message.content


@needs_proc
async def test_breaking_out_and_closing_drops_the_connection(
    emu: Emulator, aclient: AsyncDeepInfraClient
) -> None:
    emu.token_delay = 0.01
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async for _ in stream:
        break
    await stream.aclose()
    assert wait_until_no_thread_in_sdk() < 2.0
    assert stream.closed and client_sockets(emu.port) == 0
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


@needs_proc
async def test_cancelling_while_waiting_for_the_response_frees_the_thread(
    emu: Emulator, aclient: AsyncDeepInfraClient
) -> None:
    emu.inject(Fault(stall=30, stall_at="before_response"), route=CHAT)
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.3):
            await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert wait_until_no_thread_in_sdk(limit=1.0) < 1.0
    assert client_sockets(emu.port) == 0
    assert emu.connections_accepted == 1  # the cancelled call is not retried


async def test_cancelling_during_a_retry_wait_ends_the_wait(
    emu: Emulator, aclient: AsyncDeepInfraClient
) -> None:
    emu.inject(Fault(status=503, retry_after="30"), route="/v1/inference")
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.5):
            await aclient.images.generate("a lighthouse")
    assert wait_until_no_thread_in_sdk(limit=1.0) < 1.0
    assert emu.request_count("/v1/inference") == 1


@needs_proc
async def test_two_hundred_cancelled_streams_leave_nothing_behind(emu: Emulator) -> None:
    emu.token_delay = 0.005
    rng = random.Random(7)
    threads_before = threading.active_count()
    # A small limiter: streams are also cancelled while they wait for a worker thread.
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url, max_concurrency=32) as c:

        async def cancelled_stream(delay: float) -> None:
            with anyio.move_on_after(delay):
                stream = await c.chat.completions.create(
                    model=MODEL, messages=MESSAGES, stream=True
                )
                async with stream:
                    async for _ in stream:
                        pass

        async with anyio.create_task_group() as tg:
            for _ in range(200):
                tg.start_soon(cancelled_stream, rng.uniform(0.0, 0.15))
        wait_until_no_thread_in_sdk()
        # Every connection still open is an idle one in the pool: a second pass reuses
        # them and every answer is whole (none was pooled half-read).
        for _ in range(20):
            stream = await c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
            async with stream:
                async for _ in stream:
                    pass
            assert stream.done and stream.finish_reason == "stop"
        assert client_sockets(emu.port) <= c.sync_client.config.pool_maxsize
    # Closing the client closes the pool: nothing was held outside it.
    assert client_sockets(emu.port) == 0
    assert not threads_in_sdk()
    # None of them is busy (checked above). Idle reader threads are kept for reuse; their
    # number follows the streams open at once (a cancelled stream's thread spends a
    # millisecond finishing the aborted read), far from one per cancelled stream.
    assert threading.active_count() - threads_before < 100


# -- the reader thread runs ahead of the consumer, within bounds ------------------------------


def _queued_chars(stream: AsyncChatStream) -> int:
    pump = stream._pump
    assert pump is not None
    return pump._size


async def _wait_until(condition: Any, limit: float = 5.0) -> None:
    with anyio.fail_after(limit):
        while not condition():
            await anyio.sleep(0.005)


async def test_a_slow_consumer_bounds_the_read_ahead(
    emu: Emulator,
    aclient: AsyncDeepInfraClient,
    sync_client: DeepInfraClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(C, "STREAM_READ_AHEAD_CHARS", 2000)
    emu.answer_tokens = 2000
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async with stream:
        first = await stream.__anext__()
        await _wait_until(lambda: _queued_chars(stream) >= 2000)
        await anyio.sleep(0.2)  # the consumer stalls; the reader must stop at the limit
        # Each event is its own HTTP chunk: the reader stops within one read past the limit.
        assert 2000 <= _queued_chars(stream) < 2000 + 1000
        assert not stream.done
        rest = [chunk async for chunk in stream]
    with sync_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as s:
        want = list(s)
    assert 1 + len(rest) == len(want) and first.choices[0].delta.content is not None
    assert stream.text == s.text and stream.done


async def test_an_error_the_reader_met_early_comes_after_the_chunks_before_it(
    emu: Emulator, aclient: AsyncDeepInfraClient
) -> None:
    emu.inject(Fault(drop="after_events", after_events=6), route=CHAT)
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(APIConnectionError) as info:
        async with stream:
            async for chunk in stream:
                if not received:
                    # Stall until the reader has met the dropped connection.
                    await _wait_until(lambda: stream._pump is not None and stream._pump.error)
                received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    assert len(received) >= 5
    assert "".join(received) == stream.text == info.value.partial_text != ""


@needs_proc
async def test_a_bad_frame_met_while_the_reader_runs_ahead_drops_the_connection(
    emu: Emulator, aclient: AsyncDeepInfraClient
) -> None:
    emu.token_delay = 0.01  # the reader is still reading when the bad frame is decoded
    emu.inject(Fault(malformed_frame=True, after_events=3), route=CHAT)
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    with pytest.raises(APIResponseValidationError) as info:
        async with stream:
            async for _ in stream:
                pass
    assert info.value.partial_text == stream.text != ""
    assert wait_until_no_thread_in_sdk(limit=1.0) < 1.0
    assert stream.closed and client_sockets(emu.port) == 0  # dropped, not pooled half-read


@needs_proc
async def test_closing_a_stream_whose_reader_waits_for_room_frees_it(
    emu: Emulator, aclient: AsyncDeepInfraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(C, "STREAM_READ_AHEAD_CHARS", 1000)
    emu.answer_tokens = 2000
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    await stream.__anext__()
    await _wait_until(lambda: _queued_chars(stream) >= 1000)
    await stream.aclose()
    assert wait_until_no_thread_in_sdk(limit=1.0) < 1.0
    assert stream.closed and not stream.done and client_sockets(emu.port) == 0
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


@needs_proc
async def test_a_stream_dropped_without_closing_is_closed_by_the_garbage_collector(
    emu: Emulator, aclient: AsyncDeepInfraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    monkeypatch.setattr(C, "STREAM_READ_AHEAD_CHARS", 1000)
    emu.answer_tokens = 2000
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    await stream.__anext__()
    pump = stream._pump
    assert pump is not None
    await _wait_until(lambda: pump._size >= 1000)
    sync_stream = stream.sync_stream
    del stream
    gc.collect()
    assert wait_until_no_thread_in_sdk(limit=1.0) < 1.0
    assert sync_stream.closed and client_sockets(emu.port) == 0


async def test_a_stream_the_caller_opened_itself_is_read_ahead_too(
    aclient: AsyncDeepInfraClient, sync_client: DeepInfraClient
) -> None:
    # A ChatStream wrapped by hand gets its reader thread at the first read.
    opened = await aclient._call(
        aclient.sync_client.chat.completions.create, model=MODEL, messages=MESSAGES, stream=True
    )
    stream = AsyncChatStream(opened, aclient)
    async with stream:
        texts = [piece async for piece in stream.iter_text()]
    with sync_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as s:
        assert list(s)
    assert "".join(texts) == s.text == stream.text
    assert stream.done and stream.closed


async def test_contextvars_reach_the_stream_reader_thread(
    aclient: AsyncDeepInfraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deepinfra_sdk._http import HTTPTransport

    seen: list[tuple[str, bool]] = []
    original = HTTPTransport.request

    def spy(self: HTTPTransport, *args: Any, **kwargs: Any) -> Any:
        seen.append((_request_tag.get(), threading.current_thread() is threading.main_thread()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HTTPTransport, "request", spy)
    _request_tag.set("req-stream")
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async with stream:
        assert [c async for c in stream]
    assert seen == [("req-stream", False)]


async def test_a_stream_request_holds_a_limiter_token_until_its_response(emu: Emulator) -> None:
    # One token: the second stream's request waits until the first has its response,
    # and no longer (an open stream reads in its own thread, holding no token).
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url, max_concurrency=1) as c:
        first = await c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        assert c._limiter().borrowed_tokens == 0
        with anyio.fail_after(5):
            second = await c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with first, second:
            assert [x async for x in second] and [x async for x in first]
        emu.inject(Fault(stall=30, stall_at="before_response"), route=CHAT)
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                functools.partial(c.chat.completions.create, model=MODEL, messages=MESSAGES)
            )
            await _wait_until(lambda: c._limiter().borrowed_tokens == 1)
            tg.cancel_scope.cancel()


async def test_two_tasks_reading_one_stream_at_once_is_an_error(
    emu: Emulator, aclient: AsyncDeepInfraClient
) -> None:
    emu.token_delay = 0.05
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    errors: list[BaseException] = []

    async def read() -> None:
        try:
            async for _ in stream:
                pass
        except RuntimeError as exc:
            errors.append(exc)

    with anyio.fail_after(10):
        async with stream, anyio.create_task_group() as tg:
            tg.start_soon(read)
            tg.start_soon(read)
    assert len(errors) == 1 and "one task" in str(errors[0])
    # The first reader was not disturbed: it read the whole answer.
    assert stream.done and stream.finish_reason == "stop" and stream.closed


# -- Jupyter ----------------------------------------------------------------------------------


def test_top_level_await_in_a_running_notebook_loop(emu: Emulator) -> None:
    # ipykernel runs each cell with run_cell_async inside its own running asyncio loop;
    # doing the same proves a cell can `await` the facade (and use the sync client) as is.
    import asyncio

    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    # A venv entered without activation makes IPython warn (an error here); not our concern.
    shell = InteractiveShell.instance(warn_venv=False)
    shell.user_ns.update(url=emu.url, key=emu.api_key, MODEL=MODEL, MESSAGES=MESSAGES)
    cells = [
        "from deepinfra_sdk import AsyncDeepInfraClient, DeepInfraClient",
        "aclient = AsyncDeepInfraClient(key, base_url=url)",
        "stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES,"
        " stream=True)",
        "async with stream:\n    pieces = [p async for p in stream.iter_text()]",
        "image = await aclient.images.generate('a lighthouse')",
        "sync_answer = DeepInfraClient(key, base_url=url).chat.completions.create("
        "model=MODEL, messages=MESSAGES)",
        "await aclient.aclose()",
    ]

    async def run_cells() -> None:
        for cell in cells:
            result = await shell.run_cell_async(
                cell, store_history=False, transformed_cell=shell.transform_cell(cell)
            )
            result.raise_error()

    try:
        asyncio.run(run_cells())
        ns = shell.user_ns
        assert "".join(ns["pieces"]) == ns["sync_answer"].choices[0].message.content
        assert ns["image"].image_bytes().startswith(b"\x89PNG")
    finally:
        InteractiveShell.clear_instance()
