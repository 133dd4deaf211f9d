"""Automatic order ids after a caller chose the top id (R2 finding 2): the sequencer hands
out the lowest id no live order holds (the venue front end's rule), never the refused
2**63; a rebuild from the log replays the same ids and goes on without collisions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from nats_support import connect, purge, require_nats, run, unique_prefix

from whistle.cluster.log import ClusterNames
from whistle.cluster.sequencer import ShardSequencer
from whistle.core.commands import MAX_ORDER_ID, NewOrder
from whistle.core.events import OrderAccepted
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from collections.abc import Iterator

SID = 4


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


def _buy(oid: int, price: int) -> NewOrder:
    return NewOrder(SID, oid, 1, 1, 1, 1, price, 1)


def test_automatic_ids_after_the_top_id_take_free_ids_and_survive_a_rebuild(prefix: str) -> None:
    require_nats()
    names = ClusterNames(prefix)

    async def go() -> tuple[list[int], list[int], dict[int, str], dict[int, str]]:
        nc = await connect()
        try:
            first = ShardSequencer(nc, names, 0, 1, fence=lambda: True)
            await first.open()
            await first.define(Instrument(symbol="AAA", symbol_id=SID))
            # Resting bids (no trades): the top id, a caller's id 2, then automatic ones.
            await first.execute([_buy(MAX_ORDER_ID, 90), _buy(2, 91)])
            reply = await first.execute([_buy(0, 92), _buy(0, 93), _buy(0, 94)])
            live = [e[0].order_id for e in reply.events if type(e[0]) is OrderAccepted]  # type: ignore[union-attr]
            hashes = first.state_hashes()
            await first.close(snapshot=False)
            second = ShardSequencer(nc, names, 0, 2, fence=lambda: True)
            await second.open()  # from the log alone
            rebuilt = second.state_hashes()
            reply = await second.execute([_buy(0, 95), _buy(0, 96)])
            more = [e[0].order_id for e in reply.events if type(e[0]) is OrderAccepted]  # type: ignore[union-attr]
            await second.close(snapshot=False)
            return live, more, hashes, rebuilt
        finally:
            await nc.close()

    live, more, hashes, rebuilt = run(go())
    assert live == [1, 3, 4]  # 2 is a caller's live order
    assert rebuilt == hashes
    assert more == [5, 6]  # after the rebuild: free ids again, none of a live order
