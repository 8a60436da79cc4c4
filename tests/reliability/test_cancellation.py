"""Mass cancellation: 200 async calls cancelled at random points leave nothing behind.

Each call runs under ``anyio.fail_after`` with a random timeout, spread so that the
cancellation lands in every phase of a call: before its request reached the server, while
waiting for the response, in the middle of a stream, and after the end (the call is over and
the task idles inside the same scope). Which phase each cancellation hit is recorded, from
the task's side and from what the server had seen at that moment, and every phase must have
been hit a few times. Afterwards no thread runs SDK code, every client socket to the
emulator is an idle one in the pool, and the same client still gives whole, right answers.

The emulator makes the phases long and their timing predictable (every response is held
back 0.2 or 0.3 s, a stream then lasts about 0.25 s), and the calls start a few milliseconds
apart, so that the spread of timeouts, not the machine's load, decides where cancellations
land.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Iterator
from typing import Any, Callable

import anyio
import pytest

from deepinfra_sdk import AsyncChatStream, AsyncDeepInfraClient
from deepinfra_sdk.emulator import Emulator, Fault
from tests._leaks import (
    client_sockets,
    idle_pooled,
    threads_in_sdk,
    wait_until_no_thread_in_sdk,
)

pytestmark = pytest.mark.anyio

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
CHAT = "/v1/openai/chat/completions"
MODELS = "/models/featured"
CALLS = 200
# Calls start this far apart (seconds): about 90 are alive at once, under 128 threads.
STAGGER = 0.006
CONCURRENCY = 128
# Every response is held back by one of these, drawn at random: the waiting phase.
STALLS = [Fault(stall=0.2), Fault(stall=0.3)]
PROMPTS = [f"Say something about the number {k}." for k in range(8)]
# Phases, in the order a call goes through them.
BEFORE, WAITING, STREAMING, AFTER_END = "before request", "waiting", "mid-stream", "after end"
UNTAGGED = "models list pending"  # before or waiting: a GET carries no tag to tell them apart
PNG = b"\x89PNG\r\n\x1a\n"
# Each phase's band aims about 40 cancellations at it: 5 shows it is hit every run.
MIN_HITS = 5


def timeouts(rng: random.Random) -> list[float]:
    """Random timeouts, in seconds from each call's start, in bands aimed at the phases.

    A timeout of exactly 0 is cancelled at the call's first checkpoint, before any thread
    has taken it: that keeps "before request" hit on a loaded machine, where a worker can
    send a request within a millisecond. Under a millisecond the request has usually not
    left yet (recorded as "waiting" when it had); 30-180 ms falls inside the 200-300 ms
    the server holds every response back; 350-500 ms falls inside a stream (headers by
    300 ms, then about 250 ms of events); 800 ms-1 s is well after the end. Load on the
    machine only moves some cancellations into a neighbouring phase, and each is recorded
    where it really landed.
    """
    bands = [(0.0, 0.0), (0.0, 0.001), (0.03, 0.18), (0.35, 0.5), (0.8, 1.0)]
    shares = [0.1, 0.1, 0.25, 0.25, 0.3]
    return [rng.uniform(*rng.choices(bands, shares)[0]) for _ in range(CALLS)]


def messages(k: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPTS[k % len(PROMPTS)]}]


def tag(i: int) -> str:
    """What marks call ``i``'s request on the server (its ``user`` field or image prompt)."""
    return f"task-{i}"


def tags_of(emu: Emulator) -> list[str]:
    """The tag of every tagged request the server has received so far."""
    tags = []
    for request in emu.requests:
        body = request.json
        if isinstance(body, dict):
            found = body.get("user") or body.get("prompt")
            if isinstance(found, str) and found.startswith("task-"):
                tags.append(found)
    return tags


@pytest.fixture
def emu() -> Iterator[Emulator]:
    # Eight tokens 25 ms apart: after the held-back headers a stream lasts about 0.25 s.
    server = Emulator(token_delay=0.025, answer_tokens=8).start()
    yield server
    server.stop()
    assert server.handler_errors == []


@pytest.fixture
async def client(emu: Emulator) -> Any:
    async with AsyncDeepInfraClient(
        emu.api_key, base_url=emu.url, max_concurrency=CONCURRENCY
    ) as c:
        yield c
    assert client_sockets(emu.port) == 0  # closing the client closed the whole pool
    assert not threads_in_sdk()


async def reference_answers(client: AsyncDeepInfraClient) -> list[str]:
    """The full answer to each prompt, asked before any fault or cancellation."""
    answers = []
    for k in range(len(PROMPTS)):
        done = await client.chat.completions.create(model=MODEL, messages=messages(k))
        answers.append(done.choices[0].message.content or "")
    return answers


async def whole_stream(client: AsyncDeepInfraClient, k: int) -> str:
    stream = await client.chat.completions.create(model=MODEL, messages=messages(k), stream=True)
    async with stream:
        async for _ in stream:
            pass
    assert stream.done and stream.finish_reason == "stop"
    return stream.text


async def storm(
    emu: Emulator,
    call: Callable[[int, Callable[[str], None]], Awaitable[None]],
    rng: random.Random,
) -> tuple[dict[int, str], list[BaseException]]:
    """Start ``call(i, set_phase)`` for each of the 200 calls, ``STAGGER`` apart, each
    under ``fail_after`` with its random timeout.

    Returns the phase each call was in when cancelled, and whatever other than the timeout
    escaped a call (there must be nothing). A call cancelled before its result came back is
    "before request" if the server had not received its request at that moment, else
    "waiting".
    """
    phases: dict[int, str] = {}
    escaped: list[BaseException] = []

    async def one(i: int, timeout: float) -> None:
        where = [BEFORE]
        try:
            with anyio.fail_after(timeout):
                await call(i, where.append)
                where.append(AFTER_END)
                await anyio.sleep(60)  # the cancellation lands after the end
        except TimeoutError:
            phase = where[-1]
            if phase == BEFORE and tag(i) in tags_of(emu):
                phase = WAITING  # the server had the request when the cancellation came
            phases[i] = phase
        except Exception as exc:
            escaped.append(exc)

    async with anyio.create_task_group() as tg:
        for i, timeout in enumerate(timeouts(rng)):
            tg.start_soon(one, i, timeout)
            await anyio.sleep(STAGGER)
    return phases, escaped


async def assert_nothing_left(client: AsyncDeepInfraClient, emu: Emulator) -> None:
    wait_until_no_thread_in_sdk(limit=3.0)
    # Every socket still open to the emulator is an idle pooled one: none is held by a
    # cancelled call (still_serves shows none of them was pooled half-read).
    assert client_sockets(emu.port) == idle_pooled(client.sync_client)


def sent_once_at_most(emu: Emulator) -> Counter:
    """How many times each tagged request reached the server: a cancelled call is never
    retried, so none more than once."""
    sent = Counter(tags_of(emu))
    assert all(n == 1 for n in sent.values()), sent.most_common(3)
    return sent


async def still_serves(client: AsyncDeepInfraClient, emu: Emulator, answers: list[str]) -> None:
    """After the storm: whole streams (as many at once as there are pooled connections,
    so that every one of them is used) and plain calls give the right answers."""
    emu.clear_faults()
    texts: dict[int, str] = {}

    async def one(k: int) -> None:
        texts[k] = await whole_stream(client, k)

    async with anyio.create_task_group() as tg:
        for k in range(max(idle_pooled(client.sync_client), len(PROMPTS))):
            tg.start_soon(one, k)
    assert texts and all(text == answers[k % len(PROMPTS)] for k, text in texts.items())
    done = await client.chat.completions.create(model=MODEL, messages=messages(0))
    assert done.choices[0].message.content == answers[0]
    assert [m.model_name for m in await client.models.list(refresh=True)]
    image = await client.images.generate("a lighthouse after the storm")
    assert image.images and image.image_bytes(0)[:8] == PNG


async def test_two_hundred_streams_cancelled_at_random_points(
    emu: Emulator, client: AsyncDeepInfraClient
) -> None:
    answers = await reference_answers(client)
    emu.inject_random(STALLS, rate=1.0, seed=1, route=CHAT)
    streams: dict[int, AsyncChatStream] = {}

    async def stream_call(i: int, set_phase: Callable[[str], None]) -> None:
        stream = await client.chat.completions.create(
            model=MODEL, messages=messages(i), stream=True, user=tag(i)
        )
        streams[i] = stream
        set_phase(STREAMING)
        async with stream:
            async for _ in stream:
                pass

    phases, escaped = await storm(emu, stream_call, random.Random(20240611))
    assert escaped == []
    assert len(phases) == CALLS  # every call was cancelled, in some phase
    hits = Counter(phases.values())
    assert all(hits[p] >= MIN_HITS for p in (BEFORE, WAITING, STREAMING, AFTER_END)), hits
    await assert_nothing_left(client, emu)
    sent = sent_once_at_most(emu)
    assert all(sent[tag(i)] == 1 for i, p in phases.items() if p != BEFORE)
    # Every stream is closed; the text it handed out is kept and is the start of the true
    # answer; a stream whose loop ended holds all of it.
    for i, stream in streams.items():
        expected = answers[i % len(PROMPTS)]
        assert stream.closed and expected.startswith(stream.text)
        if phases[i] == AFTER_END:
            assert stream.done and stream.text == expected
    await still_serves(client, emu, answers)
    await assert_nothing_left(client, emu)


async def test_two_hundred_plain_calls_cancelled_at_random_points(
    emu: Emulator, client: AsyncDeepInfraClient
) -> None:
    answers = await reference_answers(client)
    catalogue = [m.model_name for m in await client.models.list()]
    # Held back as the streams are; some bodies are also dripped in small pieces, so that
    # cancellations land while a worker thread still reads the response.
    dripped = Fault(stall=0.2, chunk_size=256, drip_delay=0.01)
    emu.inject_random([*STALLS, dripped], rate=1.0, seed=2)
    results: dict[int, bool] = {}

    async def plain_call(i: int, set_phase: Callable[[str], None]) -> None:
        kind = i % 3
        if kind == 0:
            done = await client.chat.completions.create(
                model=MODEL, messages=messages(i), user=tag(i)
            )
            results[i] = done.choices[0].message.content == answers[i % len(PROMPTS)]
        elif kind == 1:
            set_phase(UNTAGGED)
            listed = await client.models.list(refresh=True)
            results[i] = [m.model_name for m in listed] == catalogue
        else:
            image = await client.images.generate(tag(i), width=64, height=64)
            results[i] = image.image_bytes(0)[:8] == PNG

    phases, escaped = await storm(emu, plain_call, random.Random(99))
    assert escaped == []
    assert len(phases) == CALLS
    hits = Counter(phases.values())
    assert all(hits[p] >= MIN_HITS for p in (BEFORE, WAITING, AFTER_END)), hits
    # Every result that came back before its cancellation was right.
    assert sorted(results) == sorted(i for i, p in phases.items() if p == AFTER_END)
    assert all(results.values())
    await assert_nothing_left(client, emu)
    sent = sent_once_at_most(emu)
    tagged = [i for i, p in phases.items() if p in (WAITING, AFTER_END) and i % 3 != 1]
    assert all(sent[tag(i)] == 1 for i in tagged)  # (model lists carry no tag)
    await still_serves(client, emu, answers)
    await assert_nothing_left(client, emu)


async def test_a_cancelled_model_list_fetch_does_not_fail_the_calls_sharing_it(
    emu: Emulator, client: AsyncDeepInfraClient
) -> None:
    # Concurrent model-list calls share one request. When the call that made it is
    # cancelled, the others were not: they must still get the list, not its cancellation.
    emu.inject(Fault(stall=0.5), route=MODELS)
    listed: list[int] = []

    async def patient() -> None:
        with anyio.fail_after(10):
            while emu.request_count(MODELS) == 0:  # the first call's request is out
                await anyio.sleep(0.005)
            listed.append(len(await client.models.list(refresh=True)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(patient)
        with anyio.move_on_after(0.2) as scope:
            await client.models.list(refresh=True)
    assert scope.cancelled_caught
    assert listed and listed[0] > 0
    assert emu.request_count(MODELS) == 2  # the cancelled fetch, then the patient one's own
    await assert_nothing_left(client, emu)
