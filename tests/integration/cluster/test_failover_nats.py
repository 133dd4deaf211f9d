"""Kill one NATS server of 3-replica streams under load: publishing continues.

``whistle cluster up`` with 3 NATS servers (every stream with 3 replicas) and 2 venue
nodes, a seeded load on every symbol, then the server that LEADS the busiest command
stream is SIGKILLed (the hard case: the stream must elect a new leader, and the nodes and
the front end connected to that server must reconnect to another). Commands go on being
acknowledged on every symbol, the killed server is started again and catches up, and
the audit proves that no acknowledged command was lost (an append is acknowledged only
once a quorum stored it) or sequenced twice, and the events stream is each symbol's replay.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from failover_support import Load, audit, define, front_end, local_cluster

from whistle.cluster.local import process_alive
from whistle.cluster.log import ClusterNames

if TYPE_CHECKING:
    from pathlib import Path


def test_kill_the_stream_leader_of_a_three_replica_log(tmp_path: Path) -> None:
    with local_cluster(tmp_path, nodes=2, nats_servers=3, shards=4) as cluster:
        assert cluster.local.state().replicas == 3

        async def main() -> float:
            backend = await front_end(cluster)
            try:
                insts = await define(backend, 6)
                everyone = {i.symbol_id for i in insts}
                load = Load(backend, insts, seed=11)
                load.start()
                await load.wait(
                    "every symbol acked", lambda: {s.symbol_id for s in load.acked()} == everyone
                )
                names = ClusterNames(cluster.prefix)
                shard = cluster.plane.shard_of(insts[0].symbol)
                info = await backend.nc.jetstream().stream_info(names.cmd_stream(shard))
                assert info.config.num_replicas == 3
                assert info.cluster is not None
                leader = info.cluster.leader
                assert leader is not None
                t_kill = time.monotonic()
                record = cluster.local.kill(leader)
                assert not process_alive(record)
                await load.wait(
                    f"every symbol acked again after killing {leader}",
                    lambda: {s.symbol_id for s in load.acked_after(everyone, t_kill)} == everyone,
                )
                first = min(s.done_at for s in load.acked_after({insts[0].symbol_id}, t_kill))
                after = await backend.nc.jetstream().stream_info(names.cmd_stream(shard))
                assert after.cluster is not None
                assert after.cluster.leader not in (None, leader)
                cluster.local.restart_nats(leader)
                t_back = time.monotonic()
                await load.wait(
                    "every symbol acked with the server back",
                    lambda: {s.symbol_id for s in load.acked_after(everyone, t_back)} == everyone,
                )
                await load.stop()
                result = await audit(cluster, backend, load)
                assert result.symbols == len(insts)
                print(
                    f"audit: {result.commands} logged, {result.acked} acked, {result.events}"
                    f" events; kill of {leader} -> first ack on its stream {first - t_kill:.2f} s"
                )
                return first - t_kill
            finally:
                await backend.close()

        asyncio.run(main())
