"""MarketDataHub against a real in-process Venue: snapshots, deltas, depth windows, sequence
numbers, conflation, drops, gap recovery, seeding, bad input."""

from __future__ import annotations

import asyncio

import pytest

from whistle.api.marketdata import (
    ALL_KINDS,
    Bbo,
    Kind,
    Level,
    MarketDataHub,
    MarketView,
    Snapshot,
    SnapshotCause,
    Status,
    SubscriptionClosed,
    SubscriptionDropped,
    Trade,
    UnknownSymbol,
)
from whistle.coord import Venue
from whistle.core.enums import TradingState


class Rig:
    """A venue whose every event is collected and handed to a hub on ``flush``."""

    def __init__(self, venue: Venue, hub: MarketDataHub) -> None:
        self.venue = venue
        self.hub = hub
        self.buf: list = []
        venue.subscribe(self.buf.append)

    def flush(self) -> None:
        self.hub.on_events(list(self.buf))
        self.buf.clear()

    def sid(self, symbol: str) -> int:
        return self.venue.instrument(symbol).symbol_id

    def truth(self, symbol: str, depth: int = 0):
        snap = self.venue.engine_view(symbol).depth(depth or None)
        return (
            [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in snap.bids],
            [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in snap.asks],
        )


@pytest.fixture
def venue():
    with Venue() as v:
        v.add_instrument("AAPL")
        v.add_instrument("MSFT")
        yield v


def make_rig(venue: Venue, **kw) -> Rig:
    hub = MarketDataHub(**kw)
    hub.seed_from_venue(venue)
    return Rig(venue, hub)


def read_all(sub, view: MarketView) -> list:
    got = sub.poll()
    for u in got:
        assert view.apply(u), f"gap at {u}"
    return got


def test_snapshot_first_then_contiguous_deltas(venue):
    rig = make_rig(venue)
    aapl = rig.sid("AAPL")
    sub = rig.hub.subscribe([aapl], depth=10)
    first = sub.poll()
    assert len(first) == 1
    assert type(first[0]) is Snapshot
    assert first[0].cause == SnapshotCause.INITIAL
    assert first[0].md_seq == 0
    assert first[0].bids == ()
    venue.submit("AAPL", "buy", "5", "10")
    venue.submit("AAPL", "sell", "7", "11")
    venue.submit("MSFT", "buy", "1", "1")  # another symbol: not subscribed
    rig.flush()
    got = sub.poll()
    assert [u.md_seq for u in got] == list(range(1, len(got) + 1))
    assert {u.symbol_id for u in got} == {aapl}
    kinds = [type(u) for u in got]
    assert Level in kinds
    assert Bbo in kinds
    bbo = [u for u in got if type(u) is Bbo][-1]
    assert (bbo.bid_price_ticks, bbo.bid_qty_lots, bbo.ask_price_ticks, bbo.ask_qty_lots) == (
        1000,
        5,
        1100,
        7,
    )
    venue.submit("AAPL", "sell", "2", "10")
    rig.flush()
    got = sub.poll()
    trades = [u for u in got if type(u) is Trade]
    assert len(trades) == 1
    assert (trades[0].price_ticks, trades[0].qty_lots, trades[0].aggressor_side) == (1000, 2, 2)
    assert sub.poll() == []


def test_depth_window_enters_and_leaves(venue):
    rig = make_rig(venue)
    aapl = rig.sid("AAPL")
    sub = rig.hub.subscribe([aapl], depth=2)
    view = MarketView()
    read_all(sub, view)
    ids = []
    for price in ("10", "11", "12"):
        ids.append(venue.submit("AAPL", "buy", "5", price)[0].order_id)
    rig.flush()
    read_all(sub, view)
    assert view.levels(aapl)[0] == rig.truth("AAPL", 2)[0]
    assert [p for p, _, _ in view.levels(aapl)[0]] == [1200, 1100]
    # A better bid pushes 11 out of the window: it must leave the view explicitly.
    venue.submit("AAPL", "buy", "1", "13")
    rig.flush()
    got = read_all(sub, view)
    gone = [u for u in got if type(u) is Level and u.qty_lots == 0]
    assert [(u.price_ticks, u.order_count) for u in gone] == [(1100, 0)]
    assert view.levels(aapl) == rig.truth("AAPL", 2)
    # Removing the best brings 11 back in.
    venue.cancel("AAPL", ids[2])
    venue.cancel("AAPL", venue.l3("AAPL")[0].order_id)  # the 13 bid
    rig.flush()
    read_all(sub, view)
    assert view.levels(aapl) == rig.truth("AAPL", 2)
    assert [p for p, _, _ in view.levels(aapl)[0]] == [1100, 1000]
    # A change below the window sends nothing to a depth-1 view.
    top = rig.hub.subscribe([aapl], depth=1)
    top.poll()
    venue.submit("AAPL", "buy", "3", "9")
    rig.flush()
    assert top.poll() == []
    assert rig.hub.levels(aapl) == rig.truth("AAPL")


def test_same_view_shares_chunks_and_encoding(venue):
    rig = make_rig(venue)
    aapl = rig.sid("AAPL")
    subs = [rig.hub.subscribe([aapl], depth=5) for _ in range(4)]
    other = rig.hub.subscribe([aapl], depth=6)
    initial = [s.poll_chunks() for s in subs]
    assert all(c[0] is initial[0][0] for c in initial), "one Snapshot object per view and md_seq"
    venue.submit("AAPL", "buy", "5", "10")
    rig.flush()
    chunks = [s.poll_chunks() for s in subs]
    assert all(len(c) == 1 for c in chunks)
    assert all(c[0] is chunks[0][0] for c in chunks)
    calls = []

    def encode(updates):
        calls.append(len(updates))
        return repr(updates).encode()

    encoded = {c[0].encoded(encode) for c in chunks}
    assert len(encoded) == 1
    assert len(calls) == 1
    other.poll()
    assert rig.hub.stats().channels == 2


def test_kinds_filter_keeps_sequence_contiguous(venue):
    rig = make_rig(venue)
    aapl = rig.sid("AAPL")
    trades_only = rig.hub.subscribe([aapl], depth=10, kinds=Kind.TRADES)
    status_only = rig.hub.subscribe([aapl], kinds=[Kind.STATUS])
    snap = trades_only.poll()[0]
    assert type(snap) is Snapshot
    assert snap.bids == ()
    status_only.poll()
    venue.submit("AAPL", "buy", "5", "10")
    venue.submit("AAPL", "sell", "2", "10")
    venue.submit("AAPL", "sell", "1", "10")
    venue.halt("AAPL")
    rig.flush()
    got = trades_only.poll()
    assert [type(u) for u in got] == [Trade, Trade]
    assert [u.md_seq for u in got] == [1, 2]
    got = status_only.poll()
    assert [(type(u), u.state, u.md_seq) for u in got] == [(Status, TradingState.HALTED, 1)]
    venue.resume("AAPL")
    rig.flush()
    assert [(u.state, u.md_seq) for u in status_only.poll()] == [(TradingState.ACTIVE, 2)]
    assert rig.hub.state(aapl) == TradingState.ACTIVE


def test_wildcard_gets_new_symbols(venue):
    rig = make_rig(venue)
    sub = rig.hub.subscribe(None, depth=3)
    first = sub.poll()
    assert {u.symbol_id for u in first} == {rig.sid("AAPL"), rig.sid("MSFT")}
    inst = venue.add_instrument("NVDA")
    venue.submit("NVDA", "sell", "4", "50")
    rig.flush()
    got = sub.poll()
    assert type(got[0]) is Snapshot
    assert got[0].symbol_id == inst.symbol_id
    assert got[0].cause == SnapshotCause.INITIAL
    # The snapshot is built at read time: it already has the order, and the deltas that
    # came before it were not repeated.
    assert got[0].asks[0].price_ticks == 5000
    assert len(got) == 1


def test_gap_then_requested_snapshot_recovers(venue):
    rig = make_rig(venue)
    aapl = rig.sid("AAPL")
    sub = rig.hub.subscribe([aapl], depth=10)
    view = MarketView()
    read_all(sub, view)
    venue.submit("AAPL", "buy", "5", "10")
    venue.submit("AAPL", "buy", "5", "11")
    rig.flush()
    got = sub.poll()
    # The reader loses the first record: the next one no longer follows.
    assert view.apply(got[1]) is False
    assert aapl in view.stale
    assert view.apply(got[2]) is False  # stays stale until a snapshot
    sub.request_snapshot(aapl)
    venue.submit("AAPL", "sell", "1", "20")
    rig.flush()  # deltas of a symbol owed a snapshot are not queued
    got = sub.poll()
    assert type(got[0]) is Snapshot
    assert got[0].cause == SnapshotCause.REQUESTED
    assert len(got) == 1
    for u in got:
        assert view.apply(u)
    assert aapl not in view.stale
    assert view.levels(aapl) == rig.truth("AAPL", 10)
    venue.submit("AAPL", "sell", "1", "21")
    rig.flush()
    read_all(sub, view)
    assert view.levels(aapl) == rig.truth("AAPL", 10)


def test_request_snapshot_discards_pending_deltas(venue):
    rig = make_rig(venue)
    aapl, msft = rig.sid("AAPL"), rig.sid("MSFT")
    sub = rig.hub.subscribe([aapl, msft], depth=10)
    view = MarketView()
    read_all(sub, view)
    venue.submit("AAPL", "buy", "5", "10")
    venue.submit("MSFT", "buy", "5", "10")
    rig.flush()
    sub.request_snapshot(aapl)
    got = sub.poll()
    assert type(got[0]) is Snapshot
    assert got[0].symbol_id == aapl
    assert all(u.symbol_id == msft for u in got[1:])
    assert len(got) > 1
    for u in got:
        assert view.apply(u)
    assert view.levels(aapl) == rig.truth("AAPL", 10)
    assert view.levels(msft) == rig.truth("MSFT", 10)
    with pytest.raises(UnknownSymbol):
        sub.request_snapshot(12345)


def test_slow_subscriber_is_conflated_to_the_truth(venue):
    rig = make_rig(venue, max_pending=20, drop_after=10**9)
    aapl, msft = rig.sid("AAPL"), rig.sid("MSFT")
    slow = rig.hub.subscribe(None, depth=5)
    fast = rig.hub.subscribe(None, depth=5)
    slow_view, fast_view = MarketView(), MarketView()
    read_all(slow, slow_view)
    read_all(fast, fast_view)
    for i in range(60):
        venue.submit("AAPL", "buy" if i % 2 else "sell", str(1 + i % 3), str(90 + (i * 7) % 21))
        if i % 5 == 0:
            venue.submit("MSFT", "sell", "1", str(100 + i))
        rig.flush()
        assert slow.pending <= 20
        read_all(fast, fast_view)
    assert slow.conflations > 0
    assert fast.conflations == 0
    got = read_all(slow, slow_view)
    snaps = [u for u in got if type(u) is Snapshot]
    assert {u.symbol_id for u in snaps} <= {aapl, msft}
    assert all(u.cause == SnapshotCause.CONFLATED for u in snaps)
    for sym in ("AAPL", "MSFT"):
        sid = rig.sid(sym)
        assert slow_view.levels(sid) == rig.truth(sym, 5)
        assert fast_view.levels(sid) == rig.truth(sym, 5)
    # The conflated reader goes on with contiguous deltas afterwards.
    venue.submit("AAPL", "buy", "1", "80")
    rig.flush()
    read_all(slow, slow_view)
    assert slow_view.levels(aapl) == rig.truth("AAPL", 5)
    assert rig.hub.stats().conflations == slow.conflations


@pytest.mark.parametrize("reads_first", [False, True])
def test_subscriber_that_stops_reading_is_dropped(venue, reads_first):
    rig = make_rig(venue, max_pending=4, drop_after=30)
    aapl = rig.sid("AAPL")
    stuck = rig.hub.subscribe([aapl], depth=10)
    if reads_first:
        stuck.poll()
    alive = rig.hub.subscribe([aapl], depth=10)
    view = MarketView()
    read_all(alive, view)
    for i in range(40):
        venue.submit("AAPL", "buy", "1", str(10 + i))
        rig.flush()
        read_all(alive, view)
        assert stuck.pending <= 4
    assert stuck.dropped is not None
    assert "discarded without a read" in stuck.dropped
    with pytest.raises(SubscriptionDropped, match="too slow"):
        stuck.poll()
    with pytest.raises(SubscriptionDropped):
        stuck.request_snapshot(aapl)
    assert rig.hub.stats().dropped == 1
    assert rig.hub.stats().subscriptions == 1
    assert view.levels(aapl) == rig.truth("AAPL", 10)
    assert alive.dropped is None


def test_reading_resets_the_drop_count(venue):
    rig = make_rig(venue, max_pending=4, drop_after=40)
    sub = rig.hub.subscribe([rig.sid("AAPL")], depth=10)
    view = MarketView()
    for i in range(30):
        venue.submit("AAPL", "buy", "1", str(10 + i))
        rig.flush()
        if i % 6 == 5:  # slow: conflated between reads, but it reads
            read_all(sub, view)
    assert sub.dropped is None
    assert sub.conflations >= 4
    read_all(sub, view)
    assert view.levels(rig.sid("AAPL")) == rig.truth("AAPL", 10)


def test_async_next_waits_and_is_woken():
    async def main():
        with Venue() as venue:
            venue.add_instrument("AAPL")
            rig = make_rig(venue)
            sub = rig.hub.subscribe(None, depth=10)
            assert type((await sub.next())[0]) is Snapshot
            reader = asyncio.ensure_future(sub.next())
            await asyncio.sleep(0)
            assert not reader.done()
            venue.submit("AAPL", "buy", "5", "10")
            rig.flush()
            got = await asyncio.wait_for(reader, 10)
            assert got[0].md_seq == 1
            waiting = asyncio.ensure_future(sub.next())
            await asyncio.sleep(0)
            sub.close()
            with pytest.raises(SubscriptionClosed):
                await asyncio.wait_for(waiting, 10)
            sub.close()  # idempotent
            batches = [b async for b in sub]
            assert batches == []
            assert rig.hub.stats().subscriptions == 0
            assert rig.hub.stats().channels == 0

    asyncio.run(main())


@pytest.mark.parametrize("how", ["first_event", "add_symbol", "seed"])
def test_waiting_wildcard_reader_wakes_for_a_new_symbol(how):
    """A reader blocked in next() on an all-symbols subscription gets a symbol added later."""

    async def main():
        with Venue() as venue:
            venue.add_instrument("AAPL")
            rig = make_rig(venue)
            sub = rig.hub.subscribe(None, depth=10)
            assert [u.symbol_id for u in await sub.next()] == [rig.sid("AAPL")]
            reader = asyncio.ensure_future(sub.next())
            await asyncio.sleep(0)
            assert not reader.done()
            sid = venue.add_instrument("NVDA").symbol_id
            if how == "first_event":
                venue.submit("NVDA", "buy", "2", "30")
                rig.flush()
            elif how == "add_symbol":
                rig.hub.add_symbol(sid)
            else:
                rig.hub.seed(sid, [(3000, 2, 1)], [])
            got = await asyncio.wait_for(reader, 10)
            assert [(type(u), u.symbol_id) for u in got] == [(Snapshot, sid)]
            if how != "add_symbol":
                assert got[0].bids[0].price_ticks == 3000
            sub.close()

    asyncio.run(main())


def test_async_iteration_delivers_until_closed():
    async def main():
        with Venue() as venue:
            venue.add_instrument("AAPL")
            rig = make_rig(venue)
            sub = rig.hub.subscribe(None, depth=1, kinds=Kind.BBO)
            got = []

            async def reader():
                async for batch in sub:
                    got.extend(batch)
                    if len(got) >= 3:
                        sub.close()

            task = asyncio.ensure_future(reader())
            for price in ("10", "11"):
                await asyncio.sleep(0)
                venue.submit("AAPL", "buy", "1", price)
                rig.flush()
            await asyncio.wait_for(task, 10)
            assert [type(u) for u in got] == [Snapshot, Bbo, Bbo]

    asyncio.run(main())


def test_slow_async_reader_never_blocks_on_events():
    """A reader stuck forever does not stop the feed: on_events returns, memory is bounded."""

    async def main():
        with Venue() as venue:
            venue.add_instrument("AAPL")
            rig = make_rig(venue, max_pending=50, drop_after=10**9)
            sub = rig.hub.subscribe(None, depth=10)
            gate = asyncio.Event()

            async def stuck_reader():
                await sub.next()
                await gate.wait()  # never set until the end: the reader is wedged

            task = asyncio.ensure_future(stuck_reader())
            await asyncio.sleep(0)
            for i in range(300):
                venue.submit("AAPL", "buy" if i % 2 else "sell", "1", str(50 + i % 40))
                rig.flush()  # a plain call: if it waited for the reader this would hang
                assert sub.pending <= 50
            assert sub.conflations > 0
            gate.set()
            await asyncio.wait_for(task, 10)
            view = MarketView()
            read_all(sub, view)
            assert view.levels(rig.sid("AAPL")) == rig.truth("AAPL", 10)
            sub.close()

    asyncio.run(main())


def test_seeded_from_a_recovered_venue(tmp_path):
    data = tmp_path / "venue"
    with Venue(data_dir=data) as venue:
        venue.add_instrument("AAPL")
        for i in range(10):
            venue.submit("AAPL", "buy", str(i + 1), str(10 + i))
            venue.submit("AAPL", "sell", "1", str(30 + i))
        venue.halt("AAPL")
    with Venue(data_dir=data) as venue:
        hub = MarketDataHub()
        hub.seed_from_venue(venue)
        rig = Rig(venue, hub)
        sid = rig.sid("AAPL")
        assert hub.levels(sid) == rig.truth("AAPL")
        assert hub.state(sid) == TradingState.HALTED
        sub = hub.subscribe([sid], depth=3)
        snap = sub.poll()[0]
        assert [lv.price_ticks for lv in snap.bids] == [1900, 1800, 1700]
        assert (snap.bid_price_ticks, snap.bid_qty_lots) == (1900, 10)
        assert (snap.ask_price_ticks, snap.ask_qty_lots) == (3000, 1)
        assert snap.state == TradingState.HALTED
        # Re-seeding (e.g. after a host was rebuilt) sends every subscriber a fresh snapshot.
        hub.seed(sid, [(500, 1, 1)], [], state=TradingState.ACTIVE)
        snap = sub.poll()[0]
        assert snap.cause == SnapshotCause.REQUESTED
        assert [(lv.price_ticks, lv.qty_lots) for lv in snap.bids] == [(500, 1)]
        assert (snap.ask_price_ticks, snap.ask_qty_lots) == (0, 0)


def test_bad_arguments_are_refused(venue):
    rig = make_rig(venue)
    hub = rig.hub
    for depth in (-1, True, 1.5, "10"):
        with pytest.raises(ValueError, match="depth"):
            hub.subscribe(None, depth=depth)
    for kinds in (0, 16, -1, []):
        with pytest.raises(ValueError, match="kinds"):
            hub.subscribe(None, kinds=kinds)
    with pytest.raises(UnknownSymbol):
        hub.subscribe([rig.sid("AAPL"), 999])
    with pytest.raises(UnknownSymbol):
        hub.levels(999)
    for bad in (0, -5, True, "1"):
        with pytest.raises(ValueError, match="max_pending"):
            MarketDataHub(max_pending=bad)
        with pytest.raises(ValueError, match="drop_after"):
            MarketDataHub(drop_after=bad)
    assert hub.stats().subscriptions == 0
    # Events that are not market data are ignored; unknown symbols start an empty book.
    hub.on_events([])
    assert int(ALL_KINDS) == 15


def test_engine_fault_is_a_status(venue):
    from whistle.core.events import EngineFaulted

    rig = make_rig(venue)
    aapl = rig.sid("AAPL")
    sub = rig.hub.subscribe([aapl], kinds=Kind.STATUS)
    sub.poll()
    rig.hub.on_events([EngineFaulted(aapl, 9, 0, 0, "boom")])
    got = sub.poll()
    assert [(type(u), u.state) for u in got] == [(Status, TradingState.FAULTED)]


def test_linger_gathers_later_ticks_into_one_read(monkeypatch):
    """next_chunks(linger_s=...) waits once more after the first tick is ready, so the ticks
    that come meanwhile ride in the same read (the lingering is made deterministic here)."""
    import whistle.api.marketdata as md

    async def main():
        with Venue() as venue:
            venue.add_instrument("AAPL")
            rig = make_rig(venue)
            sub = rig.hub.subscribe(None, depth=10)
            await sub.next()
            lingering = asyncio.Event()
            release = asyncio.Event()
            slept = []

            async def controlled_sleep(seconds):
                slept.append(seconds)
                lingering.set()
                await release.wait()

            reader = asyncio.ensure_future(sub.next_chunks(linger_s=0.25))
            await asyncio.sleep(0)  # the reader waits for its first tick
            monkeypatch.setattr(md.asyncio, "sleep", controlled_sleep)
            venue.submit("AAPL", "buy", "1", "10")
            rig.flush()  # the first tick: the reader wakes and lingers
            await asyncio.wait_for(lingering.wait(), 10)
            venue.submit("AAPL", "buy", "1", "11")
            rig.flush()  # a second tick while it lingers
            release.set()
            chunks = await asyncio.wait_for(reader, 10)
            assert slept == [0.25]
            assert len(chunks) == 2
            assert [u.md_seq for c in chunks for u in c.updates] == list(range(1, 5))
            # Already max_updates pending: no lingering at all.
            venue.submit("AAPL", "buy", "1", "12")
            rig.flush()
            release.clear()
            got = await asyncio.wait_for(sub.next_chunks(max_updates=1, linger_s=0.25), 10)
            assert slept == [0.25]
            assert len(got) == 1
            sub.close()

    asyncio.run(main())
