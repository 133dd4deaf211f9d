"""SIGKILL a venue node under load: its shards move to the survivors, nothing is lost.

``whistle cluster up`` (3 node processes, a NATS server, the control plane on
PostgreSQL), a seeded load through the stateless front end on every symbol, then kill
rounds: the owner of a symbol's shard is SIGKILLed, the survivors' supervisors see its
heartbeat stop, the DBOS move workflow hands its shards over once its leases expired,
and the load goes on. Each round waits (bounded) until every moved symbol has a command
acknowledged again, then starts the killed node again for the next round. The audit
(failover_support) proves no acknowledged command was lost or sequenced twice, the
fencing tokens never went down, and the events stream is each symbol's replay, seq
1..N without a gap.

One kill round by default; ``WHISTLE_CLUSTER_KILLS=10`` for the documented full run.
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

if TYPE_CHECKING:
    from pathlib import Path


def test_sigkill_nodes_under_load_loses_nothing(tmp_path: Path) -> None:
    rounds = max(1, KILLS)
    rng = random.Random(13)
    with local_cluster(tmp_path, nodes=3, shards=6) as cluster:

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
                figures = []
                for round_ in range(rounds):
                    figures.append(await kill_round(cluster, load, insts, rng, round_))
                await load.stop()
                result = await audit(cluster, backend, load)
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


async def kill_round(cluster, load: Load, insts, rng: random.Random, round_: int) -> float:  # type: ignore[no-untyped-def]
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
    cluster.local.start_node(victim)
    await load.wait(
        f"{victim} back",
        lambda: any(n.node == victim and n.up and n.age_s < 1.0 for n in plane.nodes()),
    )
    return first - t_kill
