"""One symbol, one shard (R2 finding 1).

A node defines a symbol only in the shard the control plane's map puts it in: an
AddInstrument sent to another shard's subject is refused BAD_REQUEST before anything is
logged; the right shard (and one an override names) takes it; the front end routes by the
same map. And one symbol id is one name in one shard cluster-wide (``SymbolRegistry``):
shards racing to define one id under different names have one winner, the others log
nothing; a refused claim gives back what it took."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from control_support import plane_factory
from nats_support import NATS_URL, connect, purge, require_nats, run, unique_prefix

from whistle.cluster.frontend import ClusterBackend
from whistle.cluster.log import ClusterNames
from whistle.cluster.node import VenueNode
from whistle.cluster.sequencer import ShardSequencer
from whistle.cluster.wire import BAD_REQUEST, OK, AddInstrument, decode_reply, encode_request
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from collections.abc import Iterator

SHARDS = 3


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


def test_a_symbol_is_defined_only_in_its_shard_by_the_map(prefix: str) -> None:
    require_nats()
    names = ClusterNames(prefix)
    with plane_factory(shards=SHARDS, lease_s=5.0, safety_s=1.0) as make:
        plane = make()

        async def go() -> None:
            node = VenueNode(NATS_URL, plane, node="n1", prefix=prefix, shards=list(range(SHARDS)))
            await node.start()
            nc = await connect()
            backend: ClusterBackend | None = None
            try:
                deadline = time.monotonic() + 30
                while len(node.sequencers) < SHARDS:
                    assert time.monotonic() < deadline, "n1 serving every shard"
                    await asyncio.sleep(0.02)
                inst = Instrument(symbol="AAA", symbol_id=7)
                home = plane.shard_of("AAA")
                away = (home + 1) % SHARDS

                async def add(shard: int, what: Instrument) -> tuple[int, str]:
                    msg = await nc.request(
                        names.req_subject(shard), encode_request(AddInstrument(what)), timeout=10
                    )
                    reply = decode_reply(msg.data)
                    return reply.status, reply.detail

                status, detail = await add(away, inst)
                assert status == BAD_REQUEST
                assert detail == f"symbol 'AAA' is in shard {home} by the shard map, not {away}"
                assert 7 not in node.sequencers[away].symbols
                assert await node.sequencers[away].log.last_subject_seq(7) == 0  # nothing logged
                assert (await add(home, inst))[0] == OK
                # An override moves a new symbol's home: the map is read at each define.
                plane.set_override("BBB", away)
                assert (await add(home, Instrument(symbol="BBB", symbol_id=8)))[0] == BAD_REQUEST
                # The front end routes by the same map.
                backend = ClusterBackend(await connect(), names, plane.shard_map())
                await backend.start()
                bbb = Instrument(symbol="BBB", symbol_id=8)
                assert await backend.add_instrument(bbb) == bbb
                assert 8 in node.sequencers[away].symbols
                assert 8 not in node.sequencers[home].symbols
            finally:
                if backend is not None:
                    await backend.close()
                await nc.close()
                await node.stop()

        run(go())


def test_one_symbol_id_is_one_name_in_one_shard_even_when_shards_race(prefix: str) -> None:
    require_nats()
    names = ClusterNames(prefix)

    async def go() -> None:
        nc = await connect()
        seqs = [ShardSequencer(nc, names, shard, 1, fence=lambda: True) for shard in range(4)]
        try:
            for seq in seqs:
                await seq.open()
            # Four shards define id 9 at once, each under its own name: one wins.
            replies = await asyncio.gather(
                *(s.define(Instrument(symbol=f"R{s.shard}", symbol_id=9)) for s in seqs)
            )
            winners = [s.shard for s, r in zip(seqs, replies, strict=True) if r.status == OK]
            assert len(winners) == 1, [(r.status, r.detail) for r in replies]
            (won,) = winners
            for s, r in zip(seqs, replies, strict=True):
                if s.shard != won:
                    assert r.status == BAD_REQUEST
                    assert r.detail == f"symbol id 9 is 'R{won}' in shard {won}"
                    assert 9 not in s.symbols
                    assert await s.log.last_subject_seq(9) == 0  # nothing logged
            # The same instrument again is granted (idempotent); the winner's name under
            # another id is refused, and that refusal gives its id claim back.
            again = await seqs[won].define(Instrument(symbol=f"R{won}", symbol_id=9))
            assert again.status == OK
            other = seqs[(won + 1) % 4]
            refused = await other.define(Instrument(symbol=f"R{won}", symbol_id=10))
            assert (refused.status, refused.detail) == (
                BAD_REQUEST,
                f"symbol id 9 is 'R{won}' in shard {won}",
            )
            fresh = await other.define(Instrument(symbol="FRESH", symbol_id=10))
            assert fresh.status == OK, fresh.detail
        finally:
            for seq in seqs:
                await seq.close(snapshot=False)
            await nc.close()

    run(go())
