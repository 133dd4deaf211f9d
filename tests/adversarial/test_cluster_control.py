"""Adversarial probes of the control plane's leases and moves on a real PostgreSQL (R2).

Probes (all hold today):

- two contenders (two planes, two threads released by one barrier) acquire every shard
  at once: each shard has exactly one lease, its token is the row's token;
- a renew after the lease ran out in the database is refused, the old lease is not valid
  any more, and the holder's next acquire has a higher token; the stale lease's release
  and renew leave the new one alone;
- the holder's own clock fences it: past its deadline ``valid`` is False while the
  database still counts the lease live (the deadline is taken before the query);
- a move to a node that never joined, or that left, is refused and changes nothing;
- a sequencer fenced by a real lease whose holder was paused past its deadline (the
  plane's clock) appends and acknowledges nothing.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "cluster"))

from control_support import plane_factory, wait_for
from nats_support import connect, purge, require_nats, unique_prefix

from whistle.cluster.control import ControlError, Lease
from whistle.cluster.log import ClusterNames
from whistle.cluster.sequencer import ShardSequencer
from whistle.cluster.wire import NOT_OWNER, OK
from whistle.core.commands import NewOrder
from whistle.core.instrument import Instrument

SHARDS = 8


def test_two_contenders_racing_for_every_shard_get_one_lease_each() -> None:
    with plane_factory(shards=SHARDS, lease_s=30.0, safety_s=1.0) as make:
        one, two = make(), make()
        one.join("a")
        two.join("b")
        got: dict[str, list[Lease]] = {"a": [], "b": []}
        barrier = threading.Barrier(2)

        def contend(plane: object, node: str) -> None:
            barrier.wait()
            for shard in range(SHARDS):
                lease = plane.acquire(shard, node)  # type: ignore[attr-defined]
                if lease is not None:
                    got[node].append(lease)

        threads = [
            threading.Thread(target=contend, args=(one, "a")),
            threading.Thread(target=contend, args=(two, "b")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        leases = got["a"] + got["b"]
        assert sorted(lease.shard for lease in leases) == list(range(SHARDS))
        for lease in leases:
            info = one.lease_info(lease.shard)
            assert (info.holder, info.token) == (lease.node, lease.token)
        # The loser of each shard cannot take it either, now.
        for lease in leases:
            loser = "b" if lease.node == "a" else "a"
            assert (two if loser == "b" else one).acquire(lease.shard, loser) is None


def test_a_renew_after_expiry_is_refused_and_a_stale_lease_touches_nothing() -> None:
    with plane_factory(shards=1, lease_s=0.6, safety_s=0.2) as make:
        plane = make()
        plane.join("a")
        old = plane.acquire(0, "a")
        assert old is not None
        wait_for(lambda: plane.lease_info(0).remaining_s <= 0, what="the lease to run out")
        assert not plane.valid(old)
        assert plane.renew(old) is None
        new = wait_for(lambda: plane.acquire(0, "a"), what="a new acquire")
        assert new.token > old.token
        assert plane.valid(new)
        plane.release(old)  # the stale token's release is a no-op
        assert plane.renew(old) is None
        info = plane.lease_info(0)
        assert (info.holder, info.token) == ("a", new.token)
        assert info.remaining_s > 0
        assert plane.renew(new) is not None


def test_the_holders_own_clock_fences_it_before_the_database_expiry() -> None:
    now = [1000.0]
    with plane_factory(shards=1, lease_s=30.0, safety_s=1.0, clock=lambda: now[0]) as make:
        plane = make()
        plane.join("a")
        lease = plane.acquire(0, "a")
        assert lease is not None
        assert plane.valid(lease)
        now[0] += 29.0 + 1e-6  # a stalled holder wakes past lease_s - safety_s
        assert not plane.valid(lease)
        assert plane.lease_info(0).remaining_s > 0  # the database still counts it live
        assert plane.acquire(0, "a") is None  # and nobody else can have it yet


@pytest.mark.parametrize("target", ["ghost", "gone"])
def test_a_move_to_a_node_that_is_not_an_up_member_is_refused(target: str) -> None:
    with plane_factory(shards=2, lease_s=30.0, safety_s=1.0) as make:
        plane = make()
        plane.join("a")
        plane.join("gone")
        plane.leave("gone")
        lease = plane.acquire(0, "a")
        assert lease is not None
        before = plane.lease_info(0)
        with pytest.raises(ControlError, match="not an up member"):
            plane.request_move(0, target, timeout_s=5.0)
        info = plane.lease_info(0)
        assert (info.assigned, info.holder, info.generation, info.revoked) == (
            before.assigned,
            before.holder,
            before.generation,
            before.revoked,
        )
        assert plane.renew(lease) is not None


def test_a_sequencer_fenced_by_a_real_lease_stops_appending_when_its_holder_stalls() -> None:
    require_nats()
    now = [1000.0]
    prefix = unique_prefix()
    with plane_factory(shards=1, lease_s=30.0, safety_s=1.0, clock=lambda: now[0]) as make:
        plane = make()
        plane.join("a")
        lease = plane.acquire(0, "a")
        assert lease is not None

        async def go() -> tuple[int, int, int, int]:
            nc = await connect()
            try:
                seq = ShardSequencer(
                    nc, ClusterNames(prefix), 0, lease.token, fence=lambda: plane.valid(lease)
                )
                await seq.open()
                await seq.define(Instrument(symbol="AAA", symbol_id=5))
                ok = await seq.execute([NewOrder(5, 1, 1, 1, 1, 1, 100, 1)])
                before = await seq.log.last_seq()
                now[0] += 60.0  # the holder was paused past its lease
                late = await seq.execute([NewOrder(5, 2, 1, 1, 1, 1, 100, 1)])
                after = await seq.log.last_seq()
                await seq.close()  # no last snapshot either: the fence refuses
                return ok.status, late.status, before, after
            finally:
                await nc.close()
                await purge(prefix)

        ok, late, before, after = asyncio.run(go())
        assert (ok, late) == (OK, NOT_OWNER)
        assert after == before
