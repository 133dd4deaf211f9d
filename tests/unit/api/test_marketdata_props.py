"""Properties of the market-data hub over generated venue histories.

- the hub's L2 book equals the venue's depth (every level) after any sequence of commands;
- every subscriber (any depth, any kinds, fast, slow or lossy) that reads to the end, and
  asks for a snapshot when it saw a gap, holds exactly the venue's top ``depth`` levels, its
  BBO and its trading state;
- a subscriber's records of a symbol are a Snapshot followed by md_seq + 1, + 2, ...
- a subscriber never holds more than ``max_pending`` undelivered deltas.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whistle.api.marketdata import (
    ALL_KINDS,
    Kind,
    MarketDataHub,
    MarketView,
    Snapshot,
    SubscriptionDropped,
)
from whistle.coord import Venue

SYMBOLS = ("AAPL", "MSFT")

order = st.tuples(
    st.just("order"),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 9),  # qty
    st.integers(95, 106),  # price
    st.sampled_from(["limit", "market", "iceberg"]),
)
cancel = st.tuples(st.just("cancel"), st.integers(0, 10_000))
modify = st.tuples(st.just("modify"), st.integers(0, 10_000), st.integers(1, 12))
halt = st.tuples(st.just("halt"), st.sampled_from(SYMBOLS), st.booleans())
flush = st.tuples(st.just("flush"))
read = st.tuples(st.just("read"), st.integers(0, 5))
lose = st.tuples(st.just("lose"), st.integers(0, 5))  # the reader drops one record
ops = st.lists(
    st.one_of(order, order, order, cancel, modify, halt, flush, flush, read, lose),
    max_size=120,
)
views = st.lists(
    st.tuples(
        st.sampled_from([0, 1, 2, 3, 5]),  # depth
        st.sampled_from([ALL_KINDS, Kind.LEVELS, Kind.BBO | Kind.STATUS]),
        st.booleans(),  # wildcard
    ),
    min_size=1,
    max_size=6,
)


def truth(venue: Venue, symbol: str, depth: int):
    snap = venue.engine_view(symbol).depth(depth or None)
    return (
        [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in snap.bids],
        [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in snap.asks],
    )


class Reader:
    """One subscriber: applies what it reads, asks for a snapshot after a gap."""

    def __init__(self, hub, ids, depth, kinds):
        self.sub = hub.subscribe(ids, depth=depth, kinds=kinds)
        self.depth = depth
        self.kinds = kinds
        self.view = MarketView()
        self.lose_next = False
        self.last: dict[int, int] = {}

    def read(self):
        for u in self.sub.poll(max_updates=7):
            if type(u) is not Snapshot:
                assert u.md_seq == self.last[u.symbol_id] + 1, "hub sent a gap"
            self.last[u.symbol_id] = u.md_seq
            if self.lose_next and type(u) is not Snapshot:
                self.lose_next = False
                continue
            if not self.view.apply(u):
                self.sub.request_snapshot(u.symbol_id)

    def drain(self):
        while True:
            before = self.sub.delivered
            self.read()
            # A lost last record leaves no later one to show the gap: a reader that knows
            # what it dropped (here: the md_seq it saw vs the one it applied) asks again.
            asked = False
            for sid, seq in self.last.items():
                if self.view.md_seq.get(sid) != seq:
                    self.sub.request_snapshot(sid)
                    asked = True
            if self.sub.delivered == before and not asked:
                return


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=ops, specs=views, max_pending=st.sampled_from([3, 10, 10_000]))
def test_hub_and_every_reader_end_at_the_truth(history, specs, max_pending):
    with Venue() as venue:
        ids = {s: venue.add_instrument(s).symbol_id for s in SYMBOLS}
        buf: list = []
        venue.subscribe(buf.append)
        hub = MarketDataHub(max_pending=max_pending, drop_after=10**9)
        hub.seed_from_venue(venue)
        readers = [
            Reader(hub, None if wild else [ids["AAPL"]], depth, kinds)
            for depth, kinds, wild in specs
        ]
        orders: list[tuple[str, int]] = []
        for op in history:
            kind = op[0]
            if kind == "order":
                _, sym, side, qty, price, style = op
                if style == "market":
                    events = venue.submit(sym, side, str(qty))
                elif style == "iceberg":
                    events = venue.submit(sym, side, str(qty + 5), str(price), display_qty="2")
                else:
                    events = venue.submit(sym, side, str(qty), str(price))
                orders += [(sym, e.order_id) for e in events if type(e).__name__ == "OrderAccepted"]
            elif kind == "cancel" and orders:
                sym, oid = orders[op[1] % len(orders)]
                venue.cancel(sym, oid)
            elif kind == "modify" and orders:
                sym, oid = orders[op[1] % len(orders)]
                venue.modify(sym, oid, qty=str(op[2]))
            elif kind == "halt":
                (venue.halt if op[2] else venue.resume)(op[1])
            elif kind == "flush":
                hub.on_events(buf)
                buf.clear()
                for sym in SYMBOLS:
                    assert hub.levels(ids[sym]) == truth(venue, sym, 0)
            elif kind == "read":
                readers[op[1] % len(readers)].read()
            elif kind == "lose":
                readers[op[1] % len(readers)].lose_next = True
            for r in readers:
                assert r.sub.pending <= max_pending
        hub.on_events(buf)
        buf.clear()
        for sym in SYMBOLS:
            sid = ids[sym]
            assert hub.levels(sid) == truth(venue, sym, 0)
            status = venue.status(sym)
            assert hub.state(sid) == status.state
        for r in readers:
            r.drain()
            assert not r.view.stale
            for sym in SYMBOLS:
                sid = ids[sym]
                if r.sub.symbol_ids is not None and sid not in r.sub.symbol_ids:
                    assert sid not in r.view.md_seq
                    continue
                status = venue.status(sym)
                if r.kinds & Kind.LEVELS:
                    assert r.view.levels(sid) == truth(venue, sym, r.depth), (sym, r.depth)
                if r.kinds & Kind.BBO:
                    assert r.view.bbo[sid] == (
                        status.best_bid_ticks,
                        status.best_bid_qty_lots,
                        status.best_ask_ticks,
                        status.best_ask_qty_lots,
                    )
                if r.kinds & Kind.STATUS:
                    assert r.view.state[sid] == status.state
            r.sub.close()
        assert hub.stats().subscriptions == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prices=st.lists(st.tuples(st.booleans(), st.integers(90, 110), st.integers(1, 5)), max_size=80)
)
def test_a_reader_that_never_reads_is_bounded_then_dropped(prices):
    with Venue() as venue:
        venue.add_instrument("AAPL")
        buf: list = []
        venue.subscribe(buf.append)
        hub = MarketDataHub(max_pending=5, drop_after=25)
        hub.seed_from_venue(venue)
        stuck = hub.subscribe(None, depth=0)
        stuck.poll()
        made = 0
        for buy, price, qty in prices:
            venue.submit("AAPL", "buy" if buy else "sell", str(qty), str(price))
            hub.on_events(buf)
            buf.clear()
            made = hub.stats().updates
            assert stuck.pending <= 5
        if made >= 25 + 5:
            assert stuck.dropped is not None
            try:
                stuck.poll()
            except SubscriptionDropped:
                pass
            else:
                raise AssertionError("a dropped subscription must raise on read")
        elif stuck.dropped is None:
            stuck.close()
