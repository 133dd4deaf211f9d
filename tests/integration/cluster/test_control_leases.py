"""The control plane's shard map, membership and leases on a real PostgreSQL.

Attacks: two contenders racing for the same lease on separate connections (exactly one
holder, tokens strictly increasing), a stale token after a re-acquire or a revoke, expiry
judged by the database's clock and never the node's, a node that is down or not assigned,
concurrent schema creation, a shard count that does not match.
"""

from __future__ import annotations

import itertools
import threading
import time
import zlib

import pytest
from control_support import plane_factory, wait_for

from whistle.cluster.control import (
    ControlError,
    ControlPlane,
    ControlUnavailable,
    Lease,
    ShardMap,
    shard_for,
)


def race(planes: list[ControlPlane], shard: int, nodes: list[str]) -> list[object]:
    """Call acquire(shard, node_i) on plane_i from one thread each, released together."""
    barrier = threading.Barrier(len(planes))
    results: list[object] = [None] * len(planes)

    def contend(i: int) -> None:
        barrier.wait()
        results[i] = planes[i].acquire(shard, nodes[i])

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(planes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_contenders_race_exactly_one_holder() -> None:
    with plane_factory(shards=40, lease_s=30.0, safety_s=1.0) as make:
        a, b = make(), make()
        a.join("a")
        a.join("b")
        tokens: list[int] = []
        for shard in range(40):
            won = [r for r in race([a, b], shard, ["a", "b"]) if r is not None]
            assert len(won) == 1, f"shard {shard}: {won}"
            info = a.owner(shard)
            assert info is not None
            assert info.holder == won[0].node  # type: ignore[attr-defined]
            assert info.assigned == info.holder
            tokens.append(won[0].token)  # type: ignore[attr-defined]
        assert tokens == [1] * 40
        # One shard raced again and again (each round the holder releases and both
        # connections race for it as the holder): one winner, the token grows by one.
        for round_ in range(10):
            held = a.lease_info(0)
            assert held.holder is not None
            assert a.acquire(0, held.holder) is None  # live: nobody gets it
            a.release(Lease(0, held.holder, held.token, 0.0))
            won = [r for r in race([a, b], 0, [held.holder, held.holder]) if r is not None]
            assert len(won) == 1, round_
            assert won[0].token == held.token + 1, round_  # type: ignore[attr-defined]


def test_stale_token_is_refused_after_reacquire() -> None:
    with plane_factory(shards=2, lease_s=30.0, safety_s=1.0) as make:
        cp = make()
        cp.join("a")
        first = cp.acquire(0, "a")
        assert first is not None
        assert cp.acquire(0, "a") is None  # no second lease while one is live
        cp.release(first)
        assert not cp.valid(first)
        second = cp.acquire(0, "a")
        assert second is not None
        assert second.token == first.token + 1
        assert cp.renew(first) is None  # the old token can never be renewed
        cp.release(first)  # releasing the old token does not end the new lease
        info = cp.owner(0)
        assert info is not None
        assert info.token == second.token
        renewed = cp.renew(second)
        assert renewed is not None
        assert renewed.token == second.token
        assert cp.valid(renewed)


def test_expiry_is_judged_by_the_database_clock() -> None:
    frozen = [1000.0]
    with plane_factory(shards=1, lease_s=1.0, safety_s=0.3) as make:
        cp = make(clock=lambda: frozen[0])
        cp.join("a")
        lease = cp.acquire(0, "a")
        assert lease is not None
        assert lease.deadline == pytest.approx(1000.0 + 1.0 - 0.3)
        # The node's clock stands still, so it still thinks the lease is valid...
        assert cp.valid(lease)
        # ...but the database expires it on its own clock: renew refused, re-acquire works.
        wait_for(lambda: cp.owner(0) is None, what="the database expiry")
        assert cp.renew(lease) is None
        assert not cp.valid(lease)  # a refused renew ends it locally at once
        again = cp.acquire(0, "a")
        assert again is not None
        assert again.token == lease.token + 1
        # The local deadline passes: not valid, whatever the database says.
        frozen[0] = again.deadline
        assert not cp.valid(again)


def test_local_deadline_ends_before_the_database_expiry() -> None:
    with plane_factory(shards=1, lease_s=5.0, safety_s=1.0) as make:
        cp = make()
        cp.join("a")
        lease = cp.acquire(0, "a")
        for _ in range(5):
            assert lease is not None
            db_left = cp.lease_info(0).remaining_s
            local_left = lease.deadline - time.monotonic()  # read after: no load can help it
            # the database was asked after the clock was read: its expiry is later
            assert db_left > local_left + 0.5
            lease = cp.renew(lease)


def test_acquire_needs_an_up_member_and_the_assignment() -> None:
    with plane_factory(shards=3, lease_s=30.0, safety_s=1.0) as make:
        cp = make()
        assert cp.acquire(0, "ghost") is None  # never joined
        cp.join("a")
        cp.join("b")
        cp.assign(1, "b")
        assert cp.acquire(1, "a") is None  # assigned to b
        with pytest.raises(ControlError, match="assigned to 'b'"):
            cp.assign(1, "a")
        lease = cp.acquire(1, "b")
        assert lease is not None
        cp.leave("a")
        assert cp.acquire(0, "a") is None  # down
        assert cp.heartbeat("a") == []  # a heartbeat brings it back up
        assert cp.acquire(0, "a") is not None
        assert cp.assignments("a") == [0]
        assert cp.heartbeat("b") == [1]
        with pytest.raises(ControlError, match="has not joined"):
            cp.heartbeat("ghost")
        with pytest.raises(ControlError, match="shard must be in"):
            cp.acquire(3, "a")
        with pytest.raises(ControlError, match="node name"):
            cp.join("")


def test_revoked_lease_blocks_until_released_and_cannot_renew() -> None:
    with plane_factory(shards=1, lease_s=30.0, safety_s=1.0) as make:
        cp = make()
        cp.join("a")
        cp.join("b")
        lease = cp.acquire(0, "a")
        assert lease is not None
        # What the move workflow does, step by step (its own test drives the workflow).
        assert cp._move_begin("w", 0, 0, "b", "test") == "a"
        assert cp._move_revoke(0, "b") == lease.token
        assert cp.acquire(0, "b") is None  # a revoked lease still blocks until it ends
        assert cp.renew(lease) is None
        assert not cp.valid(lease)
        cp.release(lease)
        taken = cp.acquire(0, "b")
        assert taken is not None
        assert taken.token == lease.token + 1
        assert cp._move_begin("w2", 0, 0, "a", "stale generation") is None


def test_shard_map_hash_overrides_and_snapshot() -> None:
    with plane_factory(shards=8) as make:
        cp = make()
        for symbol in ["AAPL", "MSFT", "ÆØÅ", "X"]:
            assert cp.shard_of(symbol) == zlib.crc32(symbol.encode()) % 8
            assert shard_for(symbol, 8) == cp.shard_of(symbol)
        cp.set_override("AAPL", 5)
        cp.set_override("AAPL", 6)
        assert cp.shard_of("AAPL") == 6
        snapshot = cp.shard_map()
        assert snapshot == ShardMap(8, {"AAPL": 6})
        assert snapshot.shard_of("AAPL") == 6
        assert snapshot.shard_of("MSFT") == cp.shard_of("MSFT")
        cp.set_override("AAPL", None)
        assert cp.shard_of("AAPL") == zlib.crc32(b"AAPL") % 8
        with pytest.raises(ControlError, match="shard must be in"):
            cp.set_override("AAPL", 8)


def test_create_races_and_shard_count_is_fixed() -> None:
    with plane_factory(shards=4) as make:
        first = make()
        planes = [ControlPlane(first.url, schema=first.schema, shards=4) for _ in range(4)]
        errors: list[BaseException] = []

        def create(p: ControlPlane) -> None:
            try:
                p.create()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=create, args=(p,)) for p in planes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for p in planes:
            p.close()
        assert errors == []
        assert len(first.leases()) == 4
        other = ControlPlane(first.url, schema=first.schema, shards=5)
        try:
            with pytest.raises(ControlError, match="created with 4 shards"):
                other.create()
        finally:
            other.close()


def test_bad_arguments() -> None:
    with pytest.raises(ControlError, match="schema must match"):
        ControlPlane("postgresql://x/y", schema="Bad-Name")
    with pytest.raises(ControlError, match="safety_s"):
        ControlPlane("postgresql://x/y", lease_s=1.0, safety_s=1.0)
    with pytest.raises(ControlError, match="postgresql://"):
        ControlPlane("mysql://x/y")
    assert ControlPlane("postgresql+psycopg://h/d").url == "postgresql://h/d"


def test_unreachable_database_is_control_unavailable() -> None:
    cp = ControlPlane("postgresql://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(ControlUnavailable, match="cannot reach"):
            cp.join("a")
    finally:
        cp.close()


def test_attach_takes_the_shard_count_and_timings_of_the_cluster() -> None:
    with plane_factory(shards=6, lease_s=2.5, safety_s=0.5, node_timeout_s=4.0) as make:
        first = make()
        attached = ControlPlane.attach(first.url, schema=first.schema)
        try:
            assert (attached.shards, attached.lease_s, attached.safety_s) == (6, 2.5, 0.5)
            assert attached.node_timeout_s == 4.0
        finally:
            attached.close()
        with pytest.raises(ControlError, match="no cluster in schema"):
            ControlPlane.attach(first.url, schema=first.schema + "_none")


def test_random_contenders_and_moves_never_overlap() -> None:
    """Seeded contenders acquire, renew, release and let leases lapse while a mover keeps
    reassigning the shards (the move workflow's steps, called directly): for every shard
    the tokens are unique and each lease's last moment of validity (its final deadline,
    or its release) comes before the next token's holder got it. One process, one
    monotonic clock, so the times compare; a stalled machine only makes the next
    acquisition later, never earlier."""
    import random

    nodes = ["a", "b", "c"]
    with plane_factory(shards=2, lease_s=0.6, safety_s=0.2) as make:
        planes = {n: make() for n in nodes}
        mover = make()
        for n in nodes:
            mover.join(n)
        stop = threading.Event()
        lock = threading.Lock()
        # shard -> token -> [node, got_at, last_valid]
        held: dict[int, dict[int, list[object]]] = {0: {}, 1: {}}
        errors: list[BaseException] = []

        def contender(node: str, seed: int) -> None:
            rng = random.Random(seed)
            cp = planes[node]
            mine: dict[int, Lease] = {}
            try:
                while not stop.is_set():
                    shard = rng.randrange(2)
                    lease = mine.get(shard)
                    if lease is None:
                        got = cp.acquire(shard, node)
                        if got is not None:
                            now = time.monotonic()
                            with lock:
                                assert got.token not in held[shard], "a token given twice"
                                held[shard][got.token] = [node, now, got.deadline]
                            mine[shard] = got
                    elif not cp.valid(lease):
                        del mine[shard]  # lapsed: its last deadline is its end
                    else:
                        roll = rng.random()
                        if roll < 0.7:
                            renewed = cp.renew(lease)
                            if renewed is None:
                                del mine[shard]
                            else:
                                mine[shard] = renewed
                                with lock:
                                    held[shard][lease.token][2] = renewed.deadline
                        elif roll < 0.85:
                            with lock:  # it stops acting now, then releases
                                entry = held[shard][lease.token]
                                entry[2] = min(entry[2], time.monotonic())  # type: ignore[type-var]
                            cp.release(lease)
                            del mine[shard]
                    time.sleep(rng.uniform(0.0, 0.05))
            except BaseException as exc:
                errors.append(exc)

        def move_around(seed: int) -> None:
            rng = random.Random(seed)
            try:
                while not stop.is_set():
                    shard = rng.randrange(2)
                    info = mover.lease_info(shard)
                    target = rng.choice(nodes)
                    wid = f"w-{shard}-{info.generation}"
                    if mover._move_begin(wid, shard, info.generation, target, "test") is not None:
                        mover._move_revoke(shard, target)
                    time.sleep(rng.uniform(0.1, 0.4))
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=contender, args=(n, 100 + i)) for i, n in enumerate(nodes)
        ]
        threads.append(threading.Thread(target=move_around, args=(7,)))
        for t in threads:
            t.start()
        time.sleep(5.0)
        stop.set()
        for t in threads:
            t.join()
        assert errors == []
        for shard, tokens in held.items():
            order = sorted(tokens)
            assert len(order) > 5, f"shard {shard}: too few acquisitions to mean anything"
            assert order == list(range(order[0], order[0] + len(order))), order
            for prev, nxt in itertools.pairwise(order):
                last_valid = tokens[prev][2]
                got_at = tokens[nxt][1]
                assert last_valid < got_at, (  # type: ignore[operator]
                    f"shard {shard}: token {prev} ({tokens[prev][0]}) valid until"
                    f" {last_valid}, token {nxt} ({tokens[nxt][0]}) taken at {got_at}"
                )
        assert {n for t in held.values() for n, _, _ in t.values()} == set(nodes)
