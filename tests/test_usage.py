"""The usage meter (``client.usage``): exact totals against the emulator, per model, streams
counted once, thread safety, reset, snapshots."""

from __future__ import annotations

import pickle
import random
import sys
import threading
from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from decimal import Decimal
from typing import Any

import pytest

from deepinfra_sdk import (
    APIConnectionError,
    AsyncDeepInfraClient,
    DeepInfraClient,
    InternalServerError,
    UsageMeter,
    UsageSnapshot,
    UsageTotals,
)
from deepinfra_sdk._usage import StreamTally
from deepinfra_sdk.emulator import Emulator, Fault
from deepinfra_sdk.emulator._catalogue import find_model
from deepinfra_sdk.types import Usage

LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
SMALL = "meta-llama/Meta-Llama-3.1-8B-Instruct"
IMAGE_MODEL = "black-forest-labs/FLUX-1-schnell"
EMBED_MODEL = "BAAI/bge-large-en-v1.5"
CHAT = "/v1/openai/chat/completions"


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def exact(amount: Any) -> Decimal:
    """The decimal the server wrote for a float amount."""
    return Decimal(repr(amount))


@pytest.fixture
def emu() -> Iterator[Emulator]:
    server = Emulator(answer_tokens=12).start()
    yield server
    server.stop()
    assert server.handler_errors == []


@pytest.fixture
def client(emu: Emulator) -> Iterator[DeepInfraClient]:
    with DeepInfraClient(emu.api_key, base_url=emu.url) as c:
        c._transport._sleep = lambda seconds: None
        yield c


# --------------------------------------------------------------------------- totals


def test_a_new_client_has_an_empty_meter(client: DeepInfraClient) -> None:
    snap = client.usage.snapshot()
    assert isinstance(client.usage, UsageMeter)
    assert (snap.requests, snap.total_tokens, snap.cost, snap.unpriced) == (0, 0, 0.0, 0)
    assert dict(snap.models) == {}
    assert not snap


def test_chat_totals_are_exactly_what_the_server_reported(client: DeepInfraClient) -> None:
    completions = [
        client.chat.completions.create(model=LLAMA, messages=ask(f"q{i}"), max_tokens=3 + i)
        for i in range(7)
    ]
    usages = [c.usage for c in completions]
    assert all(u is not None and u.estimated_cost for u in usages)
    snap = client.usage.snapshot()
    assert snap.requests == 7
    assert snap.prompt_tokens == sum(u.prompt_tokens for u in usages if u)
    assert snap.completion_tokens == sum(3 + i for i in range(7))
    assert snap.total_tokens == sum(u.total_tokens for u in usages if u)
    assert snap.cost_exact == sum(exact(u.estimated_cost) for u in usages if u)
    assert snap.cost == float(snap.cost_exact)
    assert snap.unpriced == 0
    # And each reported cost is the catalogue price of those tokens (cents -> dollars).
    pricing = find_model(LLAMA)["pricing"]  # type: ignore[index]
    for u in usages:
        assert u is not None
        price = (
            u.prompt_tokens * pricing["cents_per_input_token"]
            + u.completion_tokens * pricing["cents_per_output_token"]
        ) / 100
        assert u.estimated_cost == pytest.approx(price, rel=1e-9)


def test_totals_are_kept_per_model(client: DeepInfraClient) -> None:
    a = [client.chat.completions.create(model=LLAMA, messages=ask(f"a{i}")) for i in range(3)]
    b = [client.chat.completions.create(model=SMALL, messages=ask(f"b{i}")) for i in range(2)]
    by_model = client.usage.by_model()
    assert set(by_model) == {LLAMA, SMALL}
    for model, answers in ((LLAMA, a), (SMALL, b)):
        totals = by_model[model]
        assert totals.requests == len(answers)
        assert totals.total_tokens == sum(c.usage.total_tokens for c in answers if c.usage)
        assert totals.cost_exact == sum(exact(c.usage.estimated_cost) for c in answers if c.usage)
    snap = client.usage.snapshot()
    assert snap.totals == by_model[LLAMA] + by_model[SMALL]
    # Different prices: the small model's tokens cost less.
    assert by_model[SMALL].cost / by_model[SMALL].total_tokens < (
        by_model[LLAMA].cost / by_model[LLAMA].total_tokens
    )


def test_images_count_inference_status_cost(client: DeepInfraClient) -> None:
    first = client.images.generate("a red square", model=IMAGE_MODEL, width=256, height=256)
    second = client.images.generate("a blue square", model=IMAGE_MODEL, num_images=2)
    totals = client.usage.by_model()[IMAGE_MODEL]
    costs = [r.inference_status.cost for r in (first, second) if r.inference_status]
    assert len(costs) == 2 and all(costs)
    assert totals.requests == 2
    assert totals.cost_exact == exact(costs[0]) + exact(costs[1])
    assert totals.unpriced == 0


def test_embeddings_count_tokens_and_cost(emu: Emulator, client: DeepInfraClient) -> None:
    emu.shapes = "lean"  # the lean answer carries estimated_cost
    result = client.embeddings.create(model=EMBED_MODEL, input=["one two three", "four"])
    assert result.usage is not None and result.usage.estimated_cost
    totals = client.usage.by_model()[EMBED_MODEL]
    assert totals.requests == 1
    assert totals.prompt_tokens == totals.total_tokens == result.usage.prompt_tokens
    assert totals.completion_tokens == 0
    assert totals.cost_exact == exact(result.usage.estimated_cost)


def test_embeddings_without_a_cost_count_tokens_as_unpriced(client: DeepInfraClient) -> None:
    # As recorded (real-traffic/embeddings_bge_base_2024-11.json): usage carries no cost, and
    # none is made up.
    result = client.embeddings.create(model=EMBED_MODEL, input=["one two three", "four"])
    assert result.usage is not None and result.usage.estimated_cost is None
    totals = client.usage.by_model()[EMBED_MODEL]
    assert totals.prompt_tokens == result.usage.prompt_tokens
    assert (totals.requests, totals.unpriced, totals.cost_exact) == (1, 1, 0)


def test_an_answer_without_usage_counts_as_unpriced() -> None:
    meter = UsageMeter()
    meter._record_usage("m/x", None)
    meter._record_usage("m/x", Usage(1, 2, 3, None))
    meter._record_usage("m/x", Usage(1, 2, 3, 0.5))
    totals = meter.by_model()["m/x"]
    assert (totals.requests, totals.total_tokens, totals.unpriced) == (3, 6, 2)
    assert totals.cost_exact == Decimal("0.5")
    assert "2 without a reported cost" in repr(meter)


def test_nonsense_numbers_from_a_server_never_raise() -> None:
    # Recording runs inside create(): it must not fail a call whose answer arrived.
    meter = UsageMeter()
    weird: list[Any] = ["many", None, [], {"a": 1}, True, float("nan"), float("inf")]
    for value in weird:
        meter._record_usage("m/x", Usage(value, value, value, value))
    meter._record_usage("m/x", Usage(1, 2, 3, "9e9999999"))  # beyond Decimal's range
    meter._record_usage("m/x", Usage(1.0, 2.0, 0, 10 ** (10**5)))
    meter.record("m/x", cost="1e999998")
    meter.record("m/x", cost="9e999998")
    totals = meter.by_model()["m/x"]
    assert totals.requests == len(weird) + 4
    assert (totals.prompt_tokens, totals.completion_tokens, totals.total_tokens) == (2, 4, 6)
    assert totals.unpriced == len(weird) + 1
    assert totals.cost == float("inf")  # shown as such rather than raising


def test_failed_calls_are_not_counted_and_retries_count_once(
    client: DeepInfraClient, emu: Emulator
) -> None:
    emu.inject(Fault(status=500), route=CHAT)
    with pytest.raises(InternalServerError):
        client.chat.completions.create(model=LLAMA, messages=ask("hi"))
    assert client.usage.requests == 0
    emu.inject(Fault(status=429, retry_after="0"), route=CHAT)
    client.chat.completions.create(model=LLAMA, messages=ask("hi"))
    assert emu.request_count(CHAT) == 3  # the 500, the 429 and its retry
    assert client.usage.requests == 1  # one answer


def test_costs_add_exactly_whatever_the_order() -> None:
    # Floats: (0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3). The meter's sum is exact, so the
    # same calls finishing in any order give the same total, equal with ==.
    costs = [0.1, 0.2, 0.3, 1e-12, 2.68e-05, 0.0000123] * 20
    totals = set()
    float_sums = set()
    rng = random.Random(7)
    for _ in range(50):
        rng.shuffle(costs)
        meter = UsageMeter()
        running = 0.0
        for cost in costs:
            meter.record("m/x", prompt_tokens=1, cost=cost)
            running += cost
        totals.add(meter.cost_exact)
        float_sums.add(running)
    assert totals == {sum(exact(c) for c in costs)}
    assert len(float_sums) > 1  # what the meter avoids
    assert meter.cost == float(meter.cost_exact)


def test_the_callers_decimal_context_does_not_change_the_sums() -> None:
    import decimal

    meter = UsageMeter()
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.traps[decimal.Inexact] = True
        for _ in range(3):
            meter.record("m/x", cost=0.0000268)
        meter.record("m/x", cost="1.000000000001")
    # 3 * 0.0000268 + 1.000000000001, exactly, although the caller's context keeps 3 digits.
    assert meter.cost_exact == Decimal("1.000080400001")


# --------------------------------------------------------------------------- streams


def test_a_stream_is_counted_once_when_its_usage_arrives(client: DeepInfraClient) -> None:
    with client.chat.completions.create(
        model=LLAMA, messages=ask("stream me"), max_tokens=5, stream=True
    ) as stream:
        seen = []
        for chunk in stream:
            seen.append(client.usage.requests)
            if chunk.usage is not None:
                # The chunk carrying usage has been counted before the caller sees it.
                assert client.usage.snapshot().total_tokens == chunk.usage.total_tokens
    stream.close()
    assert seen[0] == 0 and seen[-1] == 1
    usage = stream.usage
    assert usage is not None
    snap = client.usage.snapshot()
    assert (snap.requests, snap.completion_tokens, snap.total_tokens) == (
        1,
        5,
        usage.total_tokens,
    )
    assert snap.cost_exact == exact(usage.estimated_cost)
    # Streamed and non-streamed give the same counts for the same request.
    client.chat.completions.create(model=LLAMA, messages=ask("stream me"), max_tokens=5)
    assert client.usage.snapshot().cost_exact == 2 * exact(usage.estimated_cost)


def test_a_stream_closed_early_counts_a_request_without_tokens(client: DeepInfraClient) -> None:
    stream = client.chat.completions.create(model=LLAMA, messages=ask("long"), stream=True)
    with stream:
        for i, _ in enumerate(stream):
            if i == 2:
                break
    stream.close()
    snap = client.usage.snapshot()
    assert (snap.requests, snap.total_tokens, snap.unpriced) == (1, 0, 1)
    assert snap.cost_exact == 0


def test_a_broken_stream_counts_a_request_without_tokens(
    client: DeepInfraClient, emu: Emulator
) -> None:
    emu.inject(Fault(drop="after_events", after_events=3), route=CHAT)
    with pytest.raises(APIConnectionError):
        with client.chat.completions.create(model=LLAMA, messages=ask("x"), stream=True) as s:
            for _ in s:
                pass
    snap = client.usage.snapshot()
    assert (snap.requests, snap.total_tokens, snap.unpriced) == (1, 0, 1)


def test_a_stream_read_to_the_end_without_a_with_block_is_counted(client: DeepInfraClient) -> None:
    stream = client.chat.completions.create(model=LLAMA, messages=ask("x"), stream=True)
    text = "".join(stream.iter_text())
    assert text
    assert client.usage.requests == 1
    stream.close()
    stream.close()
    assert client.usage.requests == 1


def test_a_stream_finished_without_usage_counts_once_even_unclosed(
    client: DeepInfraClient,
) -> None:
    no_usage = {"stream_options": {"include_usage": False}}
    stream = client.chat.completions.create(model=LLAMA, messages=ask("x"), stream=True, **no_usage)
    assert "".join(stream.iter_text())
    assert stream.done and stream.usage is None
    snap = client.usage.snapshot()  # read to [DONE], not closed: counted already
    assert (snap.requests, snap.total_tokens, snap.unpriced) == (1, 0, 1)
    stream.close()
    assert client.usage.requests == 1


@pytest.mark.anyio
async def test_an_async_stream_without_usage_counts_once(emu: Emulator) -> None:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
        stream = await aclient.chat.completions.create(
            model=LLAMA,
            messages=ask("x"),
            stream=True,
            stream_options={"include_usage": False},
        )
        async with stream:
            async for _ in stream:
                pass
        await stream.aclose()
        snap = aclient.usage.snapshot()
    assert (snap.requests, snap.total_tokens, snap.unpriced) == (1, 0, 1)


def test_repeated_stream_usage_adds_only_the_difference() -> None:
    # A server sending cumulative usage on every chunk must not be counted many times.
    meter = UsageMeter()
    tally = StreamTally(meter, "m/x")
    tally.usage(Usage(10, 1, 11, None))
    tally.usage(Usage(10, 2, 12, 0.1))
    tally.usage(Usage(10, 3, 13, 0.3))
    tally.end()
    totals = meter.by_model()["m/x"]
    assert totals == UsageTotals(1, 10, 3, 13, Decimal("0.3"), 0)


@pytest.mark.anyio
async def test_the_async_client_shares_the_meter_and_counts_streams_once(emu: Emulator) -> None:
    sync = DeepInfraClient(emu.api_key, base_url=emu.url)
    async with AsyncDeepInfraClient(client=sync) as aclient:
        assert aclient.usage is sync.usage
        answer = await aclient.chat.completions.create(model=LLAMA, messages=ask("a"))
        stream = await aclient.chat.completions.create(model=SMALL, messages=ask("b"), stream=True)
        async with stream:
            async for _ in stream:
                pass
        early = await aclient.chat.completions.create(model=SMALL, messages=ask("c"), stream=True)
        async with early:
            async for _ in early:
                break
    by_model = sync.usage.by_model()
    assert answer.usage is not None and stream.usage is not None
    assert by_model[LLAMA].cost_exact == exact(answer.usage.estimated_cost)
    assert by_model[SMALL].requests == 2
    assert by_model[SMALL].total_tokens == stream.usage.total_tokens
    assert by_model[SMALL].unpriced == 1
    sync.close()
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as own:
        await own.chat.completions.create(model=LLAMA, messages=ask("a"))
        assert own.usage is own.sync_client.usage
        assert own.usage.requests == 1


# --------------------------------------------------------------------------- threads


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    # Switch threads as often as possible, so an unlocked read-modify-write would lose counts.
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


@pytest.mark.usefixtures("tiny_switch_interval")
def test_32_threads_recording_lose_nothing() -> None:
    meter = UsageMeter()
    threads, per_thread = 32, 400
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        model = f"m/{n % 4}"
        tally_model = f"s/{n % 2}"
        start.wait()
        for i in range(per_thread):
            meter.record(model, prompt_tokens=2, completion_tokens=1, cost=0.0000001)
            if i % 40 == 0:
                tally = StreamTally(meter, tally_model)
                tally.usage(Usage(1, 1, 2, 0.001))
                tally.end()
                StreamTally(meter, tally_model).end()
            meter.snapshot()

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    snap = meter.snapshot()
    recorded = threads * per_thread
    streams = threads * (per_thread // 40)
    assert snap.requests == recorded + 2 * streams
    assert snap.prompt_tokens == 2 * recorded + streams
    assert snap.completion_tokens == recorded + streams
    assert snap.total_tokens == 3 * recorded + 2 * streams
    assert snap.cost_exact == recorded * Decimal("0.0000001") + streams * Decimal("0.001")
    assert snap.unpriced == streams
    assert {m: t.requests for m, t in snap.models.items()} == {
        "m/0": recorded // 4,
        "m/1": recorded // 4,
        "m/2": recorded // 4,
        "m/3": recorded // 4,
        "s/0": streams,
        "s/1": streams,
    }


@pytest.mark.usefixtures("tiny_switch_interval")
def test_reset_while_32_threads_record_loses_and_doubles_nothing() -> None:
    meter = UsageMeter()
    threads, per_thread = 32, 300
    stop = threading.Event()
    handed_out: list[UsageSnapshot] = []

    def resetter() -> None:
        while not stop.is_set():
            handed_out.append(meter.reset())

    def work() -> None:
        for _ in range(per_thread):
            meter.record("m/x", prompt_tokens=1, cost=0.01)

    r = threading.Thread(target=resetter)
    r.start()
    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    stop.set()
    r.join()
    total = sum(handed_out, meter.snapshot())
    assert len(handed_out) > 1
    assert total.requests == total.prompt_tokens == threads * per_thread
    assert total.cost_exact == threads * per_thread * Decimal("0.01")


def test_32_threads_calling_the_emulator_are_all_counted(emu: Emulator) -> None:
    with DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        answers: list[Any] = []
        lock = threading.Lock()

        def work(n: int) -> None:
            for i in range(2):
                c = client.chat.completions.create(model=LLAMA, messages=ask(f"{n}-{i}"))
                with lock:
                    answers.append(c)

        pool = [threading.Thread(target=work, args=(n,)) for n in range(32)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        snap = client.usage.snapshot()
    assert snap.requests == len(answers) == 64
    assert snap.total_tokens == sum(c.usage.total_tokens for c in answers)
    assert snap.cost_exact == sum(exact(c.usage.estimated_cost) for c in answers)


# --------------------------------------------------------------------------- values


def test_reset_returns_what_was_counted_and_zeroes(client: DeepInfraClient) -> None:
    client.chat.completions.create(model=LLAMA, messages=ask("x"))
    before = client.usage.snapshot()
    spent = client.usage.reset()
    assert spent == before and spent.requests == 1
    after = client.usage.snapshot()
    assert (after.requests, after.total_tokens, after.cost_exact) == (0, 0, 0)
    assert dict(after.models) == {}
    client.chat.completions.create(model=SMALL, messages=ask("y"))
    assert set(client.usage.by_model()) == {SMALL}


def test_a_stream_spanning_a_reset_is_not_counted_twice() -> None:
    meter = UsageMeter()
    tally = StreamTally(meter, "m/x")
    tally.usage(Usage(5, 1, 6, None))
    handed = meter.reset()
    tally.usage(Usage(5, 3, 8, 0.2))
    tally.end()
    assert handed.requests == 1 and handed.unpriced == 1
    now = meter.snapshot()
    # Only what arrived after the reset: two more tokens and the cost; no second request.
    assert (now.requests, now.completion_tokens, now.total_tokens, now.unpriced) == (0, 2, 2, 0)
    assert now.cost_exact == Decimal("0.2")


def test_snapshots_are_immutable_values(client: DeepInfraClient) -> None:
    client.chat.completions.create(model=LLAMA, messages=ask("x"))
    snap = client.usage.snapshot()
    with pytest.raises(FrozenInstanceError):
        snap.requests = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        snap.models[LLAMA] = UsageTotals.zero()  # type: ignore[index]
    with pytest.raises(TypeError):
        client.usage.by_model()[SMALL] = UsageTotals.zero()  # type: ignore[index]
    client.chat.completions.create(model=LLAMA, messages=ask("y"))
    assert snap.requests == 1 and snap.models[LLAMA].requests == 1
    diff = client.usage.snapshot() - snap
    assert isinstance(diff, UsageSnapshot)
    assert diff.requests == 1 and diff.models[LLAMA].requests == 1
    assert pickle.loads(pickle.dumps(snap)) == snap
    assert snap.to_dict()["models"][LLAMA]["requests"] == 1
    assert snap.to_dict()["cost"] == snap.cost


def test_repr_shows_the_totals(client: DeepInfraClient) -> None:
    answer = client.chat.completions.create(model=LLAMA, messages=ask("x"))
    assert answer.usage is not None
    text = repr(client.usage)
    usage = answer.usage
    assert f"1 request, {usage.total_tokens} tokens" in text
    assert f"({usage.prompt_tokens} prompt + {usage.completion_tokens} completion)" in text
    assert f"${exact(usage.estimated_cost):f}".rstrip("0") in text
    assert "over 1 model>" in text


def test_a_pickled_client_starts_with_a_fresh_meter(client: DeepInfraClient) -> None:
    client.chat.completions.create(model=LLAMA, messages=ask("x"))
    copy = pickle.loads(pickle.dumps(client))
    try:
        assert copy.usage is not client.usage
        assert copy.usage.requests == 0
        copy.chat.completions.create(model=LLAMA, messages=ask("x"))
        assert copy.usage.requests == 1 and client.usage.requests == 1
    finally:
        copy.close()
    assert pickle.loads(pickle.dumps(client.usage)).requests == 0


def test_record_counts_calls_made_some_other_way() -> None:
    meter = UsageMeter()
    meter.record("m/x", prompt_tokens=3, completion_tokens=4, cost="0.25")
    meter.record("m/x", prompt_tokens=1, total_tokens=10)
    totals = meter.by_model()["m/x"]
    assert totals == UsageTotals(2, 4, 4, 17, Decimal("0.25"), 1)
    assert totals.describe() == (
        "2 requests, 17 tokens (4 prompt + 4 completion), $0.25 (+ 1 without a reported cost)"
    )
