"""The market-data hub over a venue with engine-host processes: kill -9 of a host (with and
without a journal), recovery of a data directory. The hub must stay equal to the venue's
books, a subscriber's stream must stay contiguous, and no trade may be printed twice."""

from __future__ import annotations

import os
import random
import signal
import time

from whistle.api.marketdata import Kind, MarketDataHub, MarketView, Snapshot, Status, Trade
from whistle.coord import ProcessHost, Venue
from whistle.core.commands import NewOrder
from whistle.core.enums import TradingState
from whistle.core.events import EngineFaulted
from whistle.core.instrument import Instrument

SYMBOLS = [Instrument(symbol=f"S{i}", symbol_id=31 + i, tick_size="1") for i in range(4)]
DEADLINE_S = 20


class Feed:
    def __init__(self, venue: Venue, hub: MarketDataHub) -> None:
        self.venue = venue
        self.hub = hub
        self.buf: list = []
        venue.subscribe(self.buf.append)
        self.oid = 0

    def flush(self) -> None:
        self.hub.on_events(list(self.buf))
        self.buf.clear()

    def orders(self, rng: random.Random, n: int, symbols=SYMBOLS) -> None:
        for _ in range(n):
            self.oid += 1
            inst = rng.choice(symbols)
            side = rng.choice((1, 2))
            price = 100 + rng.randint(-6, 6)
            qty = rng.randint(1, 9)
            self.venue.enqueue(NewOrder(inst.symbol_id, self.oid, 1, side, 1, 1, price, qty))
        self.venue.tick()
        self.flush()


def truth(venue: Venue, sid: int, depth: int = 0):
    snap = venue.engine_view(sid).depth(depth or None)
    return (
        [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in snap.bids],
        [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in snap.asks],
    )


class Reader:
    def __init__(self, hub: MarketDataHub, depth: int = 0) -> None:
        self.sub = hub.subscribe(None, depth=depth)
        self.view = MarketView()
        self.trade_ids: dict[int, list[int]] = {}

    def read(self) -> list:
        got = self.sub.poll(1 << 30)
        for u in got:
            assert self.view.apply(u), f"the hub sent a gap: {u}"
            if type(u) is Trade:
                self.trade_ids.setdefault(u.symbol_id, []).append(u.trade_id)
        return got


def _pid_running(venue: Venue, sid: int) -> int:
    host = venue.coordinator.host_of(sid)
    assert isinstance(host, ProcessHost)
    assert host.pid is not None
    return host.pid


def _assert_equal(venue: Venue, hub: MarketDataHub, reader: Reader) -> None:
    for inst in SYMBOLS:
        sid = inst.symbol_id
        assert hub.levels(sid) == truth(venue, sid), inst.symbol
        assert reader.view.levels(sid) == truth(venue, sid), inst.symbol
        ids = reader.trade_ids.get(sid, [])
        assert ids == sorted(set(ids)), f"{inst.symbol}: a trade printed twice or out of order"


def test_process_hosts_books_equal_the_hub():
    rng = random.Random(7)
    with Venue(hosts=2, placement="round-robin") as venue:
        for inst in SYMBOLS:
            venue.add_instrument(inst)
        hub = MarketDataHub()
        hub.seed_from_venue(venue)
        feed = Feed(venue, hub)
        reader = Reader(hub)
        shallow = Reader(hub, depth=3)
        for _ in range(30):
            feed.orders(rng, 12)
            reader.read()
            shallow.read()
        _assert_equal(venue, hub, reader)
        for inst in SYMBOLS:
            assert shallow.view.levels(inst.symbol_id) == truth(venue, inst.symbol_id, 3)


def test_kill_9_of_a_host_with_a_journal_keeps_the_hub_exact(tmp_path):
    rng = random.Random(11)
    data = tmp_path / "venue"
    with Venue(hosts=2, placement="round-robin", data_dir=data, checkpoint_every=25) as venue:
        for inst in SYMBOLS:
            venue.add_instrument(inst)
        hub = MarketDataHub()
        hub.seed_from_venue(venue)
        feed = Feed(venue, hub)
        reader = Reader(hub)
        for _ in range(10):
            feed.orders(rng, 10)
            reader.read()
        victim = SYMBOLS[0].symbol_id
        dead = venue.coordinator.host_of(victim)
        os.kill(_pid_running(venue, victim), signal.SIGKILL)
        # Orders keep coming while the venue notices and rebuilds the dead host's symbols.
        deadline = time.monotonic() + DEADLINE_S
        while venue.coordinator.host_of(victim) is dead and time.monotonic() < deadline:
            feed.orders(rng, 5)
            reader.read()
        assert venue.coordinator.host_of(victim) is not dead, "the symbol was not restored"
        for _ in range(5):
            feed.orders(rng, 10)
            reader.read()
        assert not venue.coordinator.is_faulted(victim)
        _assert_equal(venue, hub, reader)


def test_kill_9_of_a_host_without_a_journal_is_a_fault_status():
    rng = random.Random(5)
    with Venue(hosts=2, placement="round-robin") as venue:
        for inst in SYMBOLS:
            venue.add_instrument(inst)
        hub = MarketDataHub()
        feed = Feed(venue, hub)
        feed.orders(rng, 20)
        status_only = hub.subscribe(None, kinds=Kind.STATUS)
        status_only.poll()
        victim = SYMBOLS[1].symbol_id
        os.kill(_pid_running(venue, victim), signal.SIGKILL)
        faulted: set[int] = set()
        deadline = time.monotonic() + DEADLINE_S
        while not faulted and time.monotonic() < deadline:
            others = [s for s in SYMBOLS if venue.coordinator.host_of(s.symbol_id) is not None]
            feed.orders(rng, 4, others or SYMBOLS)
            faulted |= {e.symbol_id for e in venue.tick() if isinstance(e, EngineFaulted)}
            feed.flush()
            faulted |= {
                u.symbol_id
                for u in status_only.poll()
                if type(u) is Status and u.state == TradingState.FAULTED
            }
        assert victim in faulted
        assert hub.state(victim) == TradingState.FAULTED
        alive = [s.symbol_id for s in SYMBOLS if hub.state(s.symbol_id) == TradingState.ACTIVE]
        assert alive, "every symbol faulted: the kill took more than its host"
        for sid in alive:
            assert hub.levels(sid) == truth(venue, sid)


def test_a_recovered_data_dir_seeds_the_hub(tmp_path):
    rng = random.Random(3)
    data = tmp_path / "venue"
    with Venue(hosts=2, data_dir=data) as venue:
        for inst in SYMBOLS:
            venue.add_instrument(inst)
        feed = Feed(venue, MarketDataHub())
        for _ in range(8):
            feed.orders(rng, 10)
        venue.halt(SYMBOLS[2].symbol)
        before = {inst.symbol_id: truth(venue, inst.symbol_id) for inst in SYMBOLS}
    with Venue(hosts=2, data_dir=data) as venue:
        hub = MarketDataHub()
        hub.seed_from_venue(venue)
        reader = Reader(hub, depth=5)
        snaps = [u for u in reader.read() if type(u) is Snapshot]
        assert {u.symbol_id for u in snaps} == {inst.symbol_id for inst in SYMBOLS}
        for inst in SYMBOLS:
            sid = inst.symbol_id
            assert hub.levels(sid) == before[sid]
            assert reader.view.levels(sid) == truth(venue, sid, 5)
        assert hub.state(SYMBOLS[2].symbol_id) == TradingState.HALTED
