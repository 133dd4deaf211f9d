"""Seeded synthetic order flow over an in-process ``Venue`` with several symbols.

Each symbol has a mid price that random-walks; the flow places limit orders around it
(mostly passive, some marketable), market orders, cancels and modifies of live orders,
icebergs, stop orders and short-lived GTD orders, and advances the venue's virtual clock
by 1 ms every ``CLOCK_EVERY`` commands (GTD orders expire on that clock).

Everything is drawn from ``random.Random(seed)`` and decided from the events the venue
returns, and the venue is deterministic, so for a seed the whole run (every event, every
statistic) is the same on every machine; only the wall-clock timings differ.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from math import log
from typing import TYPE_CHECKING, Any, Final

from whistle.coord.venue.facade import Venue
from whistle.core.commands import CancelOrder, ModifyOrder, NewOrder
from whistle.core.enums import OrderType, Side, TimeInForce
from whistle.core.events import (
    BestBidOfferChanged,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    StopTriggered,
    TradeOccurred,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.core.instrument import Instrument

__all__ = [
    "CLOCK_EVERY",
    "DEFAULT_ORDERS",
    "DEFAULT_SYMBOLS",
    "UNIVERSE",
    "DemoFlow",
    "SymbolSpec",
    "SymbolStats",
]

DEFAULT_ORDERS: Final = 200_000
DEFAULT_SYMBOLS: Final = 8
CLOCK_EVERY: Final = 64
"""Commands between two 1 ms steps of the virtual clock."""
_STEP_NS: Final = 1_000_000

_BUY: Final = int(Side.BUY)
_SELL: Final = int(Side.SELL)
_LIMIT: Final = int(OrderType.LIMIT)
_MARKET: Final = int(OrderType.MARKET)
_STOP: Final = int(OrderType.STOP)
_GTC: Final = int(TimeInForce.GTC)
_IOC: Final = int(TimeInForce.IOC)
_GTD: Final = int(TimeInForce.GTD)


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """A demo symbol: its grid, starting price, typical order size and activity weight."""

    symbol: str
    tick_size: str
    lot_size: str
    price: str
    max_lots: int
    weight: float


UNIVERSE: Final = (
    SymbolSpec("AAPL", "0.01", "1", "187.50", 500, 3.0),
    SymbolSpec("MSFT", "0.01", "1", "415.20", 300, 2.0),
    SymbolSpec("ESZ5", "0.25", "1", "5300.00", 20, 2.5),
    SymbolSpec("BTC-USD", "0.01", "0.0001", "64250.00", 5_000, 2.0),
    SymbolSpec("EURUSD", "0.00001", "1000", "1.08500", 1_000, 1.5),
    SymbolSpec("TSLA", "0.01", "1", "245.80", 400, 1.5),
    SymbolSpec("GCZ5", "0.1", "1", "2350.0", 10, 1.0),
    SymbolSpec("7203.T", "1", "100", "3000", 50, 1.0),
    SymbolSpec("NVDA", "0.01", "1", "121.40", 800, 2.0),
    SymbolSpec("SAP.DE", "0.01", "1", "178.30", 200, 0.8),
    SymbolSpec("CLZ5", "0.01", "1", "78.40", 30, 1.2),
    SymbolSpec("ZNZ5", "0.015625", "1", "110.5", 100, 0.8),
)
"""The symbols a demo can list, in order (``--symbols N`` takes the first N)."""

_BAND_PCT: Final = "10"


@dataclass(slots=True)
class SymbolStats:
    """What happened on one symbol; prices in ticks, volume in lots."""

    symbol: str
    symbol_id: int
    instrument: Instrument
    orders: int = 0
    cancels: int = 0
    modifies: int = 0
    trades: int = 0
    volume_lots: int = 0
    last_ticks: int = 0
    bid_ticks: int = 0
    ask_ticks: int = 0
    rejects: int = 0
    stops_triggered: int = 0
    expired: int = 0


@dataclass(slots=True)
class _Book:
    """The flow's view of one symbol: its mid, its live orders and what they are."""

    spec: SymbolSpec
    stats: SymbolStats
    mid: float
    unit: int  # about one basis point of the price, in ticks (>= 1)
    ids: list[int] = field(default_factory=list)
    pos: dict[int, int] = field(default_factory=dict)
    side: dict[int, int] = field(default_factory=dict)
    parked: set[int] = field(default_factory=set)

    def add(self, order_id: int, side: int, parked: bool) -> None:
        self.pos[order_id] = len(self.ids)
        self.ids.append(order_id)
        self.side[order_id] = side
        if parked:
            self.parked.add(order_id)

    def remove(self, order_id: int) -> None:
        index = self.pos.pop(order_id, None)
        if index is None:
            return
        last = self.ids.pop()
        if last != order_id:
            self.ids[index] = last
            self.pos[last] = index
        del self.side[order_id]
        self.parked.discard(order_id)


class DemoFlow:
    """Drive a ``Venue`` with seeded order flow; ``run(n)`` sends the next ``n`` commands."""

    def __init__(
        self,
        symbols: int = DEFAULT_SYMBOLS,
        seed: int = 1,
        *,
        hosts: int = 0,
        batch: int = 64,
        data_dir: str | None = None,
        venue_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not 1 <= symbols <= len(UNIVERSE):
            raise ValueError(f"symbols must be in 1..{len(UNIVERSE)}, was {symbols}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, was {batch}")
        self.seed = seed
        self.batch = batch
        self.rng = random.Random(seed)  # noqa: S311 (reproducible flow, not secrets)
        # The flow is the same with or without host processes: it enqueues and ticks every
        # `batch` commands in both cases, so a seed gives the same summary either way.
        # ``venue_options``: further ``Venue`` keywords (host timeouts, wait strategy).
        self.venue = Venue(hosts=hosts, data_dir=data_dir, **dict(venue_options or {}))
        if self.venue.recovery is not None:
            raise ValueError(
                f"{data_dir} already holds a journal; the demo needs a new data directory"
            )
        self.books: list[_Book] = []
        self._by_id: dict[int, _Book] = {}
        for spec in UNIVERSE[:symbols]:
            inst = self.venue.add_instrument(
                spec.symbol,
                tick_size=spec.tick_size,
                lot_size=spec.lot_size,
                price_band_pct=_BAND_PCT,
                reference_price=spec.price,
            )
            mid = inst.price_to_ticks(spec.price)
            stats = SymbolStats(spec.symbol, inst.symbol_id, inst)
            book = _Book(spec, stats, float(mid), max(1, round(mid / 10_000)))
            self.books.append(book)
            self._by_id[inst.symbol_id] = book
        total = sum(b.spec.weight for b in self.books)
        acc = 0.0
        self._cumulative: list[float] = []
        for b in self.books:
            acc += b.spec.weight / total
            self._cumulative.append(acc)
        self._last = len(self.books) - 1
        self._next_id = 1
        self.commands = 0
        self.events = 0

    @property
    def stats(self) -> list[SymbolStats]:
        """Return the per-symbol statistics, in symbol order."""
        return [b.stats for b in self.books]

    @property
    def now_ns(self) -> int:
        """Return the venue's virtual clock."""
        return self.venue.now_ns

    # ------------------------------------------------------------------ events

    def _follow(self, events: list[Event]) -> None:
        self.events += len(events)
        by_id = self._by_id
        for ev in events:
            e: Any = ev  # dispatch on the exact type; no isinstance per event
            t = type(e)
            book = by_id.get(e.symbol_id)
            if book is None:
                continue
            if t is OrderFilled:
                if e.leaves_qty_lots == 0:
                    book.remove(e.order_id)
            elif t is TradeOccurred:
                st = book.stats
                st.trades += 1
                st.volume_lots += e.qty_lots
                st.last_ticks = e.price_ticks
            elif t is BestBidOfferChanged:
                st = book.stats
                st.bid_ticks = e.bid_price_ticks
                st.ask_ticks = e.ask_price_ticks
            elif t is OrderAccepted:
                ot = e.order_type
                book.add(e.order_id, e.side, ot != _LIMIT and ot != _MARKET)
            elif t is OrderCancelled:
                if e.leaves_qty_lots == 0:
                    book.remove(e.order_id)
            elif t is OrderExpired:
                book.remove(e.order_id)
                book.stats.expired += 1
            elif t is StopTriggered:
                book.parked.discard(e.order_id)
                book.stats.stops_triggered += 1
            elif t is OrderRejected:
                book.stats.rejects += 1

    # ------------------------------------------------------------------ flow

    def _pick_book(self) -> _Book:
        return self.books[min(bisect_right(self._cumulative, self.rng.random()), self._last)]

    def _qty(self, book: _Book) -> int:
        # Mostly small, sometimes large: a truncated exponential in lots.
        top = book.spec.max_lots
        return max(1, min(top, int(-log(1.0 - self.rng.random()) * top / 4)))

    def _passive_price(self, book: _Book, side: int) -> int:
        depth = 1 + int(-log(1.0 - self.rng.random()) * 4.0)  # exponential, mean 5 units
        mid = round(book.mid)
        if side == _BUY:
            return max(1, mid - depth * book.unit)
        return mid + depth * book.unit

    def _new(
        self,
        book: _Book,
        side: int,
        order_type: int,
        tif: int,
        price: int,
        qty: int,
        *,
        stop: int = 0,
        display: int = 0,
        expire: int = 0,
    ) -> NewOrder:
        oid = self._next_id
        self._next_id += 1
        book.stats.orders += 1
        account = 1 + int(self.rng.random() * 50)
        return NewOrder(
            book.stats.symbol_id,
            oid,
            account,
            side,
            order_type,
            tif,
            price,
            qty,
            stop_price_ticks=stop,
            display_qty_lots=display,
            expire_ts_ns=expire,
        )

    def _next_command(self) -> Command:
        rng = self.rng
        rand = rng.random
        book = self._pick_book()
        # The mid random-walks ~0.4 bp per step and is pulled gently toward the last trade.
        last = book.stats.last_ticks
        book.mid += (rand() + rand() - 1.0) * book.unit
        if last:
            book.mid += (last - book.mid) * 0.01
        sid = book.stats.symbol_id
        side = _BUY if rand() < 0.5 else _SELL
        mid = round(book.mid)
        x = rand()
        if x < 0.55:  # passive limit GTC
            price = self._passive_price(book, side)
            return self._new(book, side, _LIMIT, _GTC, price, self._qty(book))
        if x < 0.62:  # marketable limit IOC
            through = (1 + int(rand() * 4)) * book.unit
            price = mid + through if side == _BUY else max(1, mid - through)
            return self._new(book, side, _LIMIT, _IOC, price, self._qty(book))
        if x < 0.65:  # market order
            return self._new(book, side, _MARKET, _IOC, 0, self._qty(book))
        if x < 0.68:  # iceberg: a large order showing a fifth
            qty = self._qty(book) * 5
            price = self._passive_price(book, side)
            return self._new(book, side, _LIMIT, _GTC, price, qty, display=max(1, qty // 5))
        if x < 0.70:  # stop: buy above, sell below the market
            away = (5 + int(rand() * 20)) * book.unit
            stop = mid + away if side == _BUY else max(1, mid - away)
            return self._new(book, side, _STOP, _GTC, 0, self._qty(book), stop=stop)
        if x < 0.73:  # short-lived GTD limit (expires 2..50 ms of virtual time later)
            expire = self.venue.now_ns + (2 + int(rand() * 49)) * _STEP_NS
            price = self._passive_price(book, side)
            return self._new(book, side, _LIMIT, _GTD, price, self._qty(book), expire=expire)
        if not book.ids:
            price = self._passive_price(book, side)
            return self._new(book, side, _LIMIT, _GTC, price, self._qty(book))
        oid = book.ids[int(rand() * len(book.ids))]
        if x < 0.88 or oid in book.parked:  # cancel (parked stops are cancelled, not moved)
            book.stats.cancels += 1
            return CancelOrder(sid, oid)
        book.stats.modifies += 1  # modify: a new price (loses priority), sometimes a new qty
        price = self._passive_price(book, book.side[oid])
        qty = self._qty(book) if rand() < 0.25 else 0
        return ModifyOrder(sid, oid, price, qty)

    def run(self, n: int) -> None:
        """Send the next ``n`` commands: a tick every ``batch``, the clock every ``CLOCK_EVERY``."""
        venue = self.venue
        enqueue = venue.enqueue
        follow = self._follow
        batch = self.batch
        for _ in range(n):
            result = enqueue(self._next_command())
            if not isinstance(result, int):
                follow([result])
            self.commands += 1
            if self.commands % CLOCK_EVERY == 0:
                follow(venue.advance(_STEP_NS))
            elif self.commands % batch == 0:
                follow(venue.tick())
        follow(venue.tick())

    def host_loads(self) -> list[tuple[int, int, int]]:
        """Return (host id, symbols, commands) per engine host."""
        per_host: dict[int, list[int]] = {h.host_id: [0, 0] for h in self.venue.hosts}
        registry = self.venue.coordinator.registry
        for book in self.books:
            entry = registry.get(book.stats.symbol_id)
            if entry.host_id is not None:
                load = per_host[entry.host_id]
                load[0] += 1
                load[1] += book.stats.orders + book.stats.cancels + book.stats.modifies
        return [(host_id, load[0], load[1]) for host_id, load in sorted(per_host.items())]

    def close(self) -> None:
        """Stop the venue (and its host processes)."""
        self.venue.stop()

    def summary(self) -> list[dict[str, str | int]]:
        """Return each symbol's statistics with decimal prices and quantities (no timings)."""
        rows: list[dict[str, str | int]] = []
        for st in self.stats:
            inst = st.instrument
            rows.append(
                {
                    "symbol": st.symbol,
                    "orders": st.orders,
                    "cancels": st.cancels,
                    "modifies": st.modifies,
                    "trades": st.trades,
                    "volume": inst.lots_to_qty(st.volume_lots),
                    "last": inst.ticks_to_price(st.last_ticks) if st.last_ticks else "-",
                    "bid": inst.ticks_to_price(st.bid_ticks) if st.bid_ticks else "-",
                    "ask": inst.ticks_to_price(st.ask_ticks) if st.ask_ticks else "-",
                    "stops_triggered": st.stops_triggered,
                    "expired": st.expired,
                    "rejects": st.rejects,
                }
            )
        return rows
