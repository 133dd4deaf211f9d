"""Determinism: one command stream, on one in-process ``Venue`` and on a 3-node cluster.

Three ``VenueNode``s (each its own NATS connection and control-plane client) hold two
shards each; a front end sends a seeded stream over eight symbols through them, in
concurrent requests. The cluster's log holds each symbol's batches with the times they
were stamped with; the same commands, ticked at those times, run on one in-process
``Venue``. Per symbol, the events are equal (``enq_seq`` renumbered to the command's
place in its symbol's stream: a venue numbers all symbols together, a shard each symbol
on its own) and so are the state hashes. A fourth node rebuilding every shard from the
log (no snapshot) again gives those hashes.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import msgspec
import pytest
from cluster_flow import flow, instruments, per_symbol
from control_support import plane_factory
from nats_support import NATS_URL, connect, purge, require_nats, run, unique_prefix

from whistle.cluster.frontend import ClusterBackend
from whistle.cluster.log import Batch, ClusterNames, CommandLog
from whistle.cluster.node import ShardSequencer, VenueNode
from whistle.coord import Venue

if TYPE_CHECKING:
    from collections.abc import Iterator

    from whistle.core.commands import Command
    from whistle.core.events import Event

SHARDS = 6


@pytest.fixture(autouse=True)
def _nats() -> None:
    require_nats()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


def _renumber(events: list[Event], order: dict[int, int]) -> list[Event]:
    # enq_seq -> the command's 1-based place in its symbol's stream (0 stays 0: the clock).
    return [
        msgspec.structs.replace(e, enq_seq=order[e.enq_seq]) if e.enq_seq else e for e in events
    ]


def test_venue_and_three_node_cluster_agree(prefix: str) -> None:
    insts = instruments(8)
    sids = [i.symbol_id for i in insts]
    commands = flow(sids, 1_200, seed=2026)
    names = ClusterNames(prefix)

    with plane_factory(shards=SHARDS, lease_s=3.0, safety_s=0.75) as make:
        planes = [make() for _ in range(4)]

        async def cluster_run() -> tuple[
            dict[int, list[Event]], dict[int, str], list[tuple[int, int, Batch]]
        ]:
            nodes = [
                VenueNode(
                    NATS_URL,
                    planes[k],
                    node=f"d{k}",
                    prefix=prefix,
                    shards=[2 * k, 2 * k + 1],
                    launch=False,
                    max_batch=8,
                )
                for k in range(3)
            ]
            for node in nodes:
                await node.start()
            deadline = time.monotonic() + 30
            while sum(len(n.sequencers) for n in nodes) < SHARDS:
                assert time.monotonic() < deadline, "nodes did not take their shards"
                await asyncio.sleep(0.02)
            nc = await connect()
            backend = ClusterBackend(nc, names, planes[0].shard_map())
            await backend.start()
            try:
                for inst in insts:
                    await backend.add_instrument(inst)
                used = {planes[0].shard_of(i.symbol) for i in insts}
                assert len(used) >= 3, "the symbols should spread over the nodes"
                # Concurrent requests of mixed symbols: per symbol the order is the
                # stream's (each request is sent only when the previous one of that
                # position answered: chunks go in order, several chunks at once).
                acked: list[Event] = []
                step = 40
                for i in range(0, len(commands), step):
                    part = commands[i : i + step]
                    # Per symbol in order: send each symbol's slice as its own request.
                    by_symbol: dict[int, list[Command]] = {}
                    for c in part:
                        by_symbol.setdefault(c.symbol_id, []).append(c)
                    results = await asyncio.gather(
                        *(backend.execute(cs) for cs in by_symbol.values())
                    )
                    for outcomes in results:
                        for out in outcomes:
                            assert out.error is None, out.error
                            acked.extend(out.events)
                hashes = {
                    i.symbol_id: (await backend.snapshot(i.symbol_id)).state_hash for i in insts
                }
                # The log, per shard: (stream seq, symbol id, batch) in stream order.
                batches: list[tuple[int, int, Batch]] = []
                for shard in range(SHARDS):
                    log = CommandLog(nc.jetstream(), names, shard)
                    async for _seq, sid, record in log.read():
                        if type(record) is Batch:
                            batches.append((record.ts_ns, sid, record))
                # A fresh sequencer per shard rebuilt from the log alone agrees.
                for shard in range(SHARDS):
                    rebuilt = ShardSequencer(nc, names, shard, 999, fence=lambda: False)
                    await rebuilt.open()
                    for sid, digest in rebuilt.state_hashes().items():
                        assert digest == hashes[sid]
                return per_symbol(acked), hashes, batches
            finally:
                await backend.close()
                for node in nodes:
                    await node.stop()

        cluster_events, cluster_hashes, batches = run(cluster_run())

    # The same commands on one Venue, each symbol's batches ticked at their stamped times.
    assert sum(len(b.commands) for _, _, b in batches) == len(commands)
    venue = Venue()
    for inst in insts:
        venue.add_instrument(inst)
    venue_events: list[Event] = []
    place: dict[int, int] = {}  # venue enq_seq -> place in its symbol's stream
    seen = dict.fromkeys(sids, 0)
    batches.sort(key=lambda b: b[0])  # one clock for the venue (stable per symbol)
    i = 0
    while i < len(batches):
        ts = batches[i][0]
        while i < len(batches) and batches[i][0] == ts:
            _, sid, batch = batches[i]
            for command in batch.commands:
                enq = venue.enqueue(command)
                assert isinstance(enq, int)
                seen[sid] += 1
                place[enq] = seen[sid]
            i += 1
        venue_events.extend(venue.tick(ts))
    venue_by_symbol = per_symbol(venue_events)
    assert set(venue_by_symbol) == set(cluster_events)
    for sid in sids:
        assert _renumber(venue_by_symbol[sid], place) == cluster_events[sid], sid
    by_name = venue.state_hashes()
    assert {i.symbol_id: by_name[i.symbol] for i in insts} == cluster_hashes
    venue.stop()
