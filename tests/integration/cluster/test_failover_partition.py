"""Partition a venue node from PostgreSQL: it loses its leases and stops acknowledging.

Two node processes; n2 reaches PostgreSQL only through a proxy the test controls
(``PgProxy``), n1 directly. Under a seeded load the proxy is cut the hard way: connections
stay open and nothing crosses, so n2's control-plane calls hang instead of failing (the
full run, ``WHISTLE_CLUSTER_KILLS``, also cuts it the other way: connections reset). n2
can no longer renew; its fence (the local lease deadline, shorter than the database
expiry) ends its acknowledgements; n1's supervisor sees n2's heartbeat stop and moves
n2's shards to n1, which acquires them with a higher fencing token once the database
expired n2's leases. n2 is still connected to NATS the whole time and still receives
requests. Then the partition heals: n2 heartbeats again but takes nothing back.

Proof: every symbol of n2's shards is acknowledged again (by n1), the shards' tokens went
up by one, each symbol's log holds n2's token and then n1's and never n2's again, and the
audit finds every acknowledged command once in a contiguous log whose replay is the
events stream; n2's own log says it stopped serving those shards.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from failover_support import KILLS, Load, PgProxy, audit, define, front_end, local_cluster

PARTITIONED = "n2"


# The hard partition (nothing crosses, calls hang) always; the other kind (connections
# reset and refused, calls fail at once) in the full run.
MODES = ["hang", "reset"] if KILLS else ["hang"]


@pytest.mark.parametrize("mode", MODES)
def test_partitioned_node_is_fenced_and_its_shards_move(tmp_path: Path, mode: str) -> None:
    proxy = PgProxy()
    try:
        with local_cluster(tmp_path, nodes=0, shards=4) as cluster:
            plane = cluster.plane
            for shard, node in [(0, PARTITIONED), (1, PARTITIONED), (2, "n1"), (3, "n1")]:
                plane.assign(shard, node)
            cluster.local.start_node("n1")
            n2 = cluster.local.start_node(PARTITIONED, db=proxy.url())

            def placed() -> bool:
                held = {i.shard: i.holder for i in plane.leases() if i.remaining_s > 0}
                return held == {0: PARTITIONED, 1: PARTITIONED, 2: "n1", 3: "n1"}

            wait_sync(placed, "both nodes holding their shards")

            async def main() -> None:
                backend = await front_end(cluster)
                try:
                    await scenario(cluster, backend, proxy, Path(n2.log), reset=mode == "reset")
                finally:
                    await backend.close()

            asyncio.run(main())
    finally:
        proxy.close()


async def scenario(  # type: ignore[no-untyped-def]
    cluster, backend, proxy: PgProxy, n2_log: Path, *, reset: bool
) -> None:
    plane = cluster.plane
    insts = await define(backend, 8)
    cut_shards = {0, 1}
    victims = {i.symbol_id for i in insts if plane.shard_of(i.symbol) in cut_shards}
    everyone = {i.symbol_id for i in insts}
    assert victims, "no symbol on the partitioned node's shards"
    load = Load(backend, insts, seed=5)
    load.start()
    await load.wait("every symbol acked", lambda: {s.symbol_id for s in load.acked()} == everyone)
    before = {s: plane.lease_info(s).token for s in cut_shards}

    proxy.cut(reset=reset)
    t_cut = time.monotonic()
    # n2 may go on acknowledging until its local deadline; then n1 takes over.
    await load.wait(
        "n1 holding n2's shards",
        lambda: all(plane.lease_info(s).holder == "n1" for s in cut_shards),
    )
    t_moved = time.monotonic()
    await load.wait(
        "n2's symbols acknowledged again, by n1",
        lambda: {s.symbol_id for s in load.acked_after(victims, t_moved)} == victims,
    )
    print(f"partition -> n1 holds n2's shards: {t_moved - t_cut:.2f} s")
    for shard in cut_shards:
        info = plane.lease_info(shard)
        assert (info.holder, info.assigned) == ("n1", "n1")
        assert info.token == before[shard] + 1
    assert {n.node: n.up for n in plane.nodes()}[PARTITIONED] is False

    proxy.heal()
    t_heal = time.monotonic()
    await load.wait(
        "n2 heartbeating again",
        lambda: any(n.node == PARTITIONED and n.up for n in plane.nodes()),
    )
    await load.wait(
        "every symbol acked after the heal",
        lambda: {s.symbol_id for s in load.acked_after(everyone, t_heal)} == everyone,
    )
    await load.wait(
        "n2 giving its shards up",
        lambda: all(f"shard {s}: stopped" in n2_log.read_text() for s in cut_shards),
    )
    for shard in cut_shards:
        info = plane.lease_info(shard)
        assert info.holder == "n1", f"shard {shard} went back to {info.holder}"
        assert info.token == before[shard] + 1
    await load.stop()
    result = await audit(cluster, backend, load)
    assert result.unheard == {}, f"the front end's listener missed events: {result.unheard}"
    shard_of = {i.symbol_id: plane.shard_of(i.symbol) for i in insts}
    for sid in victims:
        old = before[shard_of[sid]]
        # n2 wrote under its token, then n1 under the next; the audit checked the order
        assert result.tokens[sid] == [old, old + 1], (sid, result.tokens[sid])
    print(
        f"audit: {result.commands} logged, {result.acked} acked, {result.events} events;"
        f" tokens {result.tokens}"
    )


def wait_sync(cond, what: str, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(0.05)
