"""attach_backend: the hub is seeded from a backend's books and then fed its events, with
nothing missed or applied twice when reading the books yields to the loop meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from whistle.api.backend import LocalBackend
from whistle.api.marketdata import MarketDataHub, MarketView, Snapshot, Trade, attach_backend
from whistle.coord import Venue
from whistle.core.commands import NewOrder


def order(sid, side, qty, price, oid=0):
    return NewOrder(sid, oid, 1, side, 1, 1, price, qty)  # LIMIT GTC


def truth(venue, sid):
    snap = venue.engine_view(sid).depth(None)
    return (
        [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in snap.bids],
        [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in snap.asks],
    )


class Interleaving:
    """A backend whose depth/status reads let other commands run first (like a remote one)."""

    def __init__(self, inner, before_depth, before_status):
        self.inner = inner
        self.before_depth = list(before_depth)
        self.before_status = list(before_status)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def depth(self, sid, levels):
        if self.before_depth:
            await self.inner.execute([self.before_depth.pop(0)])
        await asyncio.sleep(0)
        return await self.inner.depth(sid, levels)

    async def status(self, ids=None):
        if self.before_status:
            await self.inner.execute([self.before_status.pop(0)])
        await asyncio.sleep(0)
        return await self.inner.status(ids)


@pytest.mark.parametrize("where", ["none", "before_depth", "after_depth"])
def test_attach_seeds_then_follows(where):
    async def main():
        venue = Venue()
        backend = LocalBackend(venue)
        sid = venue.add_instrument("AAPL").symbol_id
        other = venue.add_instrument("MSFT").symbol_id
        await backend.execute([order(sid, 1, 5, 1000), order(sid, 2, 3, 1010)])
        await backend.execute([order(other, 2, 1, 500)])
        racing = [order(sid, 2, 2, 1000), order(sid, 1, 4, 990)]  # a trade, then a level
        wrapped = Interleaving(
            backend,
            racing if where == "before_depth" else [],
            racing if where == "after_depth" else [],
        )
        hub = MarketDataHub()
        detach = await attach_backend(hub, wrapped if where != "none" else backend)
        for s in (sid, other):
            assert hub.levels(s) == truth(venue, s)
        sub = hub.subscribe(None, depth=0)
        view = MarketView()
        for u in sub.poll():
            assert type(u) is Snapshot
            assert view.apply(u)
        await backend.execute([order(sid, 2, 1, 1000), order(other, 1, 1, 400)])
        got = sub.poll()
        for u in got:
            assert view.apply(u)
        assert [type(u) for u in got].count(Trade) == 1
        for s in (sid, other):
            assert hub.levels(s) == truth(venue, s)
            assert view.levels(s) == truth(venue, s)
        assert hub.state(sid) == venue.status(sid).state
        detach()
        await backend.execute([order(sid, 1, 1, 900)])
        assert hub.levels(sid) != truth(venue, sid)  # detached: no longer fed
        await backend.close()

    asyncio.run(main())
