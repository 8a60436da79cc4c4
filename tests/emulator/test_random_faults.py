"""Seeded random faults (``Emulator.inject_random``): reproducible, routed, accountable."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List, Optional

import pytest
import requests

from deepinfra_sdk.emulator import Emulator, Fault
from deepinfra_sdk.emulator._faults import FaultQueue, RandomFaults

from .helpers import CHAT, chat_body

MIX = [Fault(status=429), Fault(status=503), Fault(drop="before_response")]
MODELS = "/models/featured"


def pattern(rule: RandomFaults, n: int, path: str = CHAT) -> List[Optional[Fault]]:
    return [rule.draw(path) for _ in range(n)]


# -- the rule on its own -------------------------------------------------------------------


def test_the_same_seed_gives_the_same_faults_and_another_seed_others() -> None:
    first = pattern(RandomFaults(MIX, 0.2, seed=11, route=None), 500)
    again = pattern(RandomFaults(MIX, 0.2, seed=11, route=None), 500)
    other = pattern(RandomFaults(MIX, 0.2, seed=12, route=None), 500)
    assert first == again
    assert first != other
    assert any(f is not None for f in first)


def test_the_share_of_faulted_requests_follows_the_rate() -> None:
    n, rate = 4000, 0.05
    rule = RandomFaults(MIX, rate, seed=3, route=None)
    hits = sum(f is not None for f in pattern(rule, n))
    # Four standard deviations of the binomial: a wrong rate (or a biased draw) fails.
    sigma = math.sqrt(n * rate * (1 - rate))
    assert abs(hits - n * rate) < 4 * sigma
    assert rule.draws == n and len(rule.given) == hits


def test_every_fault_of_the_mix_is_picked_and_only_those() -> None:
    rule = RandomFaults(MIX, 1.0, seed=5, route=None)
    picked = pattern(rule, 300)
    assert all(f in MIX for f in picked)
    for fault in MIX:  # uniform: each of three gets about 100 of 300
        assert 60 < sum(f is fault for f in picked) < 140


def test_rate_zero_never_faults_and_rate_one_always_does() -> None:
    assert pattern(RandomFaults(MIX, 0, seed=1, route=None), 200) == [None] * 200
    assert None not in pattern(RandomFaults(MIX, 1, seed=1, route=None), 200)


def test_given_lists_each_fault_with_its_path_in_order() -> None:
    rule = RandomFaults([Fault(status=500)], 1.0, seed=0, route=None)
    rule.draw("/a")
    rule.draw("/b")
    assert rule.given == [("/a", Fault(status=500)), ("/b", Fault(status=500))]
    assert rule.draws == 2
    assert "draws=2" in repr(rule) and "given=2" in repr(rule)


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (([], 0.1, 1), ValueError, "at least one Fault"),
        ((Fault(status=500), 0.1, 1), TypeError, "sequence of Fault"),
        (("not faults", 0.1, 1), TypeError, "sequence of Fault"),
        (([{"status": 500}], 0.1, 1), TypeError, "Fault objects, not dict"),
        ((MIX, 1.5, 1), ValueError, "between 0 and 1"),
        ((MIX, -0.1, 1), ValueError, "between 0 and 1"),
        ((MIX, math.nan, 1), ValueError, "between 0 and 1"),
        ((MIX, True, 1), ValueError, "a number"),
        ((MIX, "5%", 1), ValueError, "a number"),
        ((MIX, 0.1, "seed"), ValueError, "seed must be an integer"),
        ((MIX, 0.1, 1.5), ValueError, "seed must be an integer"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(args: Any, error: Any, words: str) -> None:
    with pytest.raises(error, match=words):
        RandomFaults(*args, route=None)


def test_bad_arguments_are_refused_by_the_emulator_before_it_starts() -> None:
    emu = Emulator()
    with pytest.raises(ValueError, match="between 0 and 1"):
        emu.inject_random(MIX, rate=2, seed=1)
    with pytest.raises(TypeError, match="RandomFaults"):
        FaultQueue().add_random(MIX)  # type: ignore[arg-type]


# -- the rule in the emulator, over real requests ------------------------------------------


def test_faults_reach_the_wire_and_clean_requests_are_served(
    emulator: Emulator, session: requests.Session
) -> None:
    rule = emulator.inject_random([Fault(status=503, message="busy")], rate=0.3, seed=2)
    statuses = [session.post(emulator.url + CHAT, json=chat_body()).status_code for _ in range(60)]
    reference = pattern(RandomFaults(MIX, 0.3, seed=2, route=None), 60)  # another mix
    expected = [503 if f is not None else 200 for f in reference]
    # Same seed and rate: request k is faulted iff draw k hits, whatever the mix.
    assert statuses == expected
    assert rule.draws == 60 and len(rule.given) == statuses.count(503)
    assert all(path == CHAT for path, _ in rule.given)


def test_only_requests_under_the_route_draw(emulator: Emulator, session: requests.Session) -> None:
    rule = emulator.inject_random([Fault(status=500)], rate=1.0, seed=1, route="/v1/openai/embed")
    assert session.get(emulator.url + MODELS).status_code == 200
    assert session.post(emulator.url + CHAT, json=chat_body()).status_code == 200
    body = {"model": "BAAI/bge-large-en-v1.5", "input": ["x"]}
    assert session.post(emulator.url + "/v1/openai/embeddings", json=body).status_code == 500
    assert rule.draws == 1
    assert rule.given == [("/v1/openai/embeddings", Fault(status=500))]


def test_a_request_draws_from_the_first_rule_whose_route_matches(
    emulator: Emulator, session: requests.Session
) -> None:
    chat_rule = emulator.inject_random([Fault(status=429)], rate=1.0, seed=1, route=CHAT)
    any_rule = emulator.inject_random([Fault(status=502)], rate=1.0, seed=1)
    assert session.post(emulator.url + CHAT, json=chat_body()).status_code == 429
    assert session.get(emulator.url + MODELS).status_code == 502
    assert (chat_rule.draws, any_rule.draws) == (1, 1)


def test_queued_faults_and_the_header_come_first_and_do_not_draw(
    emulator: Emulator, session: requests.Session
) -> None:
    rule = emulator.inject_random([Fault(status=500)], rate=1.0, seed=1)
    emulator.inject(Fault(status=418 + 11))
    assert session.get(emulator.url + MODELS).status_code == 429  # the queued fault
    header = {"X-Emulator-Fault": json.dumps({"status": 404})}
    assert session.get(emulator.url + MODELS, headers=header).status_code == 404
    assert rule.draws == 0
    assert emulator.pending_faults == 0  # a rule is not a count of pending uses
    assert session.get(emulator.url + MODELS).status_code == 500
    assert rule.draws == 1


def test_clear_faults_and_reset_remove_the_rule(
    emulator: Emulator, session: requests.Session
) -> None:
    rule = emulator.inject_random([Fault(status=500)], rate=1.0, seed=1)
    emulator.clear_faults()
    assert session.get(emulator.url + MODELS).status_code == 200
    emulator.inject_random([Fault(status=500)], rate=1.0, seed=1)
    emulator.reset()
    assert session.get(emulator.url + MODELS).status_code == 200
    assert rule.draws == 0


def test_concurrent_requests_each_draw_once(emulator: Emulator) -> None:
    # Arrival order varies under concurrency, so which request is faulted does; how many
    # of N requests are faulted does not, and no draw is lost or doubled.
    n = 200
    rule = emulator.inject_random(MIX[:2], rate=0.25, seed=9, route=MODELS)

    def get(_: int) -> int:
        with requests.Session() as s:
            return s.get(emulator.url + MODELS).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(get, range(n)))
    expected_hits = sum(f is not None for f in pattern(RandomFaults(MIX[:2], 0.25, 9, None), n))
    assert rule.draws == n
    assert len(rule.given) == expected_hits
    assert sum(s != 200 for s in statuses) == expected_hits
    assert sorted(s for s in statuses if s != 200) == sorted(f.status for _, f in rule.given)
