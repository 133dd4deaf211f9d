"""SIGKILL venue nodes and a NATS server under load: shards move, publishing goes on,
nothing acknowledged is lost or sequenced twice.

``whistle cluster up`` (3 node processes, 3 NATS servers with every stream at 3 replicas,
the control plane on PostgreSQL) and a seeded load through the stateless front end on
every symbol, then:

1. node kill rounds: the owner of a symbol's shard is SIGKILLed; the survivors'
   supervisors see its heartbeat stop, the DBOS move workflow hands its shards over once
   its leases expired, and the load goes on. Each round waits (bounded) until every moved
   symbol has a command acknowledged again, then starts the killed node again and
   rebalances (moves on request, under load: the old owners hand their shards over);
2. the NATS server that LEADS a busy command stream is SIGKILLed (the stream elects a
   new leader; nodes and the front end connected to it reconnect elsewhere): every symbol
   is acknowledged again, the server restarts and catches up.

The audit (failover_support) then proves every acknowledged command is in the log once,
the logs are contiguous, the fencing tokens never went down, and the events stream is
each symbol's replay, seq 1..N without a gap, with the cluster's state hashes.

One node kill round by default; ``WHISTLE_CLUSTER_KILLS=10`` for the documented full run.
``failover_seconds`` (kill -> first acknowledged command of a moved symbol) is printed
per round; ``whistle bench cluster`` reports it as a figure, no test asserts a time.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING

from failover_support import KILLS, Load, audit, define, front_end, local_cluster

from whistle.cluster.local import process_alive
from whistle.cluster.log import ClusterNames

if TYPE_CHECKING:
    from pathlib import Path


def test_sigkill_nodes_and_a_nats_server_under_load_loses_nothing(tmp_path: Path) -> None:
    rounds = max(1, KILLS)
    rng = random.Random(13)
    t0 = time.monotonic()
    with local_cluster(tmp_path, nodes=3, nats_servers=3, shards=6) as cluster:
        print(f"phase: cluster up {time.monotonic() - t0:.1f} s")

        async def main() -> list[float]:
            backend = await front_end(cluster)
            try:
                insts = await define(backend, 8)
                load = Load(backend, insts, seed=7)
                load.start()
                everyone = {i.symbol_id for i in insts}
                await load.wait(
                    "every symbol acked",
                    lambda: len({s.symbol_id for s in load.acked()}) == len(everyone),
                )
                print(f"phase: warm {time.monotonic() - t0:.1f} s")
                figures = []
                for round_ in range(rounds):
                    last = round_ == rounds - 1
                    figures.append(
                        await kill_round(cluster, load, insts, rng, round_, restart=not last)
                    )
                nats_seconds = await kill_stream_leader(cluster, backend, load, insts)
                print(f"NATS stream leader kill -> first ack on its stream: {nats_seconds:.2f} s")
                await load.stop()
                print(f"phase: kills done {time.monotonic() - t0:.1f} s")
                result = await audit(cluster, backend, load)
                assert result.unheard == {}, f"the listener missed events: {result.unheard}"
                print(f"phase: audit done {time.monotonic() - t0:.1f} s")
                assert result.symbols == len(insts)
                assert result.acked > 0
                # every kill moved shards: some symbol was written under a later token
                assert any(len(t) > 1 for t in result.tokens.values())
                print(
                    f"audit: {result.commands} commands logged, {result.acked} acked,"
                    f" {result.events} events, tokens {result.tokens}"
                )
                return figures
            finally:
                await backend.close()

        figures = asyncio.run(main())
        print("failover_seconds per round:", [f"{f:.2f}" for f in figures])


async def kill_round(  # type: ignore[no-untyped-def]
    cluster, load: Load, insts, rng: random.Random, round_: int, *, restart: bool
) -> float:
    plane = cluster.plane
    by_shard = {}
    for inst in insts:
        by_shard.setdefault(plane.shard_of(inst.symbol), []).append(inst.symbol_id)
    holders = {info.shard: info.holder for info in plane.leases() if info.remaining_s > 0}
    owners = sorted({holders[s] for s in by_shard if holders.get(s)})
    victim = rng.choice(owners)
    moved = {
        sid for shard, sids in by_shard.items() if holders.get(shard) == victim for sid in sids
    }
    assert moved, f"round {round_}: {victim} holds no symbol's shard"
    t_kill = time.monotonic()
    record = cluster.local.kill_node(victim)
    assert not process_alive(record)
    await load.wait(
        f"round {round_}: every moved symbol acked again after killing {victim}",
        lambda: {s.symbol_id for s in load.acked_after(moved, t_kill)} == moved,
    )
    first = min(s.done_at for s in load.acked_after(moved, t_kill))
    for shard in by_shard:
        owner = plane.owner(shard)
        assert owner is not None, f"shard {shard} has no owner"
        assert owner.holder != victim, f"shard {shard} still on {victim}"
    # the killed node comes back (empty) for the next round
    print(f"phase: round {round_} failover {first - t_kill:.2f} s")
    if not restart:
        return first - t_kill
    cluster.local.start_node(victim)
    await load.wait(
        f"{victim} back",
        lambda: any(n.node == victim and n.up and n.age_s < 1.0 for n in plane.nodes()),
    )
    # ...and gets its share back under load (moves on request: the old owners hand over)
    for shard, node in await asyncio.to_thread(plane.plan_rebalance):
        result = await asyncio.to_thread(plane.request_move, shard, node)
        assert result.outcome == "taken", result
    return first - t_kill


async def kill_stream_leader(cluster, backend, load: Load, insts) -> float:  # type: ignore[no-untyped-def]
    names = ClusterNames(cluster.prefix)
    everyone = {i.symbol_id for i in insts}
    shard = cluster.plane.shard_of(insts[0].symbol)
    js = backend.nc.jetstream()
    info = await js.stream_info(names.cmd_stream(shard))
    assert info.config.num_replicas == 3
    assert info.cluster is not None
    leader = info.cluster.leader
    assert leader is not None
    t_kill = time.monotonic()
    record = cluster.local.kill(leader)
    assert not process_alive(record)
    await load.wait(
        f"every symbol acked again after killing NATS server {leader}",
        lambda: {s.symbol_id for s in load.acked_after(everyone, t_kill)} == everyone,
    )
    first = min(s.done_at for s in load.acked_after({insts[0].symbol_id}, t_kill))
    print(f"phase: every symbol acked {time.monotonic() - t_kill:.1f} s after the NATS kill")
    after = await js.stream_info(names.cmd_stream(shard))
    assert after.cluster is not None
    assert after.cluster.leader not in (None, leader)
    cluster.local.restart_nats(leader)
    t_back = time.monotonic()
    print(f"phase: NATS server back {t_back - t_kill:.1f} s after its kill")
    await load.wait(
        "every symbol acked with the server back",
        lambda: {s.symbol_id for s in load.acked_after(everyone, t_back)} == everyone,
    )
    print(f"phase: every symbol acked {time.monotonic() - t_back:.1f} s after the restart")
    return first - t_kill
