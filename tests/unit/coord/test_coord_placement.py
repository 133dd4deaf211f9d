"""Placement policies: determinism, pinned hash placements, spreading, load awareness."""

from __future__ import annotations

import collections

import pytest

from whistle.coord.runtime.placement import (
    HashBasedPolicy,
    HostLoad,
    LeastLoadedPolicy,
    RoundRobinPolicy,
    mix64,
)
from whistle.core.instrument import stable_symbol_id

HOSTS4 = [HostLoad(h) for h in (1, 2, 3, 4)]


def test_mix64_known_values():
    # SplitMix64 finaliser: the first outputs of splitmix64 seeded with 0 (reference values).
    assert mix64(0) == 0xE220A8397B1DCDAF
    assert mix64(0x9E3779B97F4A7C15) == 0x6E789E6AA1B965F4


def test_hash_policy_is_pinned():
    policy = HashBasedPolicy()
    chosen = {s: policy.choose(s, HOSTS4) for s in PINNED}
    assert chosen == PINNED
    # Real symbols: stable_symbol_id("AAPL") == 912611164, ("MSFT") == 1826992763.
    assert policy.choose(stable_symbol_id("AAPL"), HOSTS4) == 1
    assert policy.choose(stable_symbol_id("MSFT"), HOSTS4) == 2
    # Scores are plain integers too: pin one.
    assert policy.score(1, 1) == SCORE_1_1


def test_hash_policy_chooses_the_highest_score_and_never_ties():
    policy = HashBasedPolicy(seed=3)
    hosts = [HostLoad(h) for h in (2, 5, 11, 40)]
    for s in range(1, 500):
        scores = [policy.score(s, h.host_id) for h in hosts]
        assert len(set(scores)) == len(scores)
        assert policy.choose(s, hosts) == hosts[scores.index(max(scores))].host_id


SCORE_1_1 = 17833914587977557861

# symbol_id -> host_id over hosts 1..4; must never change (placement is part of replay).
PINNED = {
    1: 1,
    2: 1,
    3: 4,
    5: 2,
    7: 3,
    42: 4,
    1000: 1,
    123456789: 2,
    0xFFFFFFFF: 1,
}


def test_hash_policy_ignores_call_order_and_history():
    a, b = HashBasedPolicy(), HashBasedPolicy()
    ids = list(range(1, 200))
    first = [a.choose(s, HOSTS4) for s in ids]
    second = [b.choose(s, HOSTS4) for s in reversed(ids)][::-1]
    assert first == second
    assert first == [a.choose(s, HOSTS4) for s in ids]


def test_hash_policy_seed_changes_placement():
    ids = range(1, 200)
    plain = [HashBasedPolicy().choose(s, HOSTS4) for s in ids]
    seeded = [HashBasedPolicy(seed=7).choose(s, HOSTS4) for s in ids]
    assert plain != seeded


def test_hash_policy_spreads_evenly():
    policy = HashBasedPolicy()
    counts = collections.Counter(policy.choose(s, HOSTS4) for s in range(1, 40_001))
    assert set(counts) == {1, 2, 3, 4}
    for n in counts.values():
        assert 9_000 < n < 11_000


def test_hash_policy_losing_a_host_moves_only_its_symbols():
    policy = HashBasedPolicy()
    three = [h for h in HOSTS4 if h.host_id != 3]
    for s in range(1, 2_000):
        before = policy.choose(s, HOSTS4)
        after = policy.choose(s, three)
        if before != 3:
            assert after == before


def test_round_robin_cycles_in_host_order():
    policy = RoundRobinPolicy()
    assert [policy.choose(s, HOSTS4) for s in range(10)] == [1, 2, 3, 4, 1, 2, 3, 4, 1, 2]
    # A fresh policy with the same calls gives the same answers.
    again = RoundRobinPolicy()
    assert [again.choose(s, HOSTS4) for s in range(10)] == [1, 2, 3, 4, 1, 2, 3, 4, 1, 2]


def test_least_loaded_prefers_fewest_active_then_lowest_id():
    policy = LeastLoadedPolicy()
    loads = [HostLoad(1, 5), HostLoad(2, 3), HostLoad(3, 3), HostLoad(4, 9)]
    assert policy.choose(1, loads) == 2
    assert policy.choose(1, [HostLoad(7, 0), HostLoad(3, 0)]) == 3
    assert policy.choose(1, [HostLoad(1, 1, commands=0), HostLoad(2, 0, commands=10**6)]) == 2


def test_least_loaded_fills_evenly():
    policy = LeastLoadedPolicy()
    active = dict.fromkeys((1, 2, 3), 0)
    order = []
    for s in range(9):
        h = policy.choose(s, [HostLoad(k, v) for k, v in active.items()])
        active[h] += 1
        order.append(h)
    assert order == [1, 2, 3, 1, 2, 3, 1, 2, 3]


@pytest.mark.parametrize("policy", [RoundRobinPolicy(), HashBasedPolicy(), LeastLoadedPolicy()])
def test_empty_host_list_is_refused(policy):
    with pytest.raises(ValueError, match="no host to place symbol_id 5"):
        policy.choose(5, [])
