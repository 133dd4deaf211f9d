"""Market-data distribution: one hub fed by the venue, many bounded subscriptions.

``MarketDataHub.on_events(events)`` is called on the event-loop thread after each tick with
the venue's events. It keeps every symbol's L2 book (all levels), turns each tick's net
changes into update records once per *channel* and hands the same immutable ``Chunk`` of
records to every subscriber of that channel: the fan-out cost per subscriber is one append
per (symbol, tick), not per event.

A channel is one view of one symbol: ``(symbol_id, depth, kinds)``. Subscribers with the
same view share it, its records and its ``md_seq`` counter.

Sequence numbers (the client's contract)::

    Snapshot(md_seq=S)      the symbol's view as of S (a snapshot takes no number)
    update  (md_seq=S+1)    every delta of the symbol is exactly 1 more than the
    update  (md_seq=S+2)    previous record of that symbol the subscriber received
    ...
    anything else is a gap: call ``Subscription.request_snapshot(symbol_id)``;
    the next record of the symbol is a Snapshot (cause REQUESTED).

A depth-limited view carries the top ``depth`` levels exactly: a level leaving the window
(removed, or pushed out by a better one) arrives as a ``Level`` with quantity and count 0,
a level entering it as a ``Level`` with its values. ``depth=0`` is every level.

Backpressure: a subscription holds at most ``max_pending`` delta records. One more and it
is *conflated*: its pending records are discarded and each symbol they belonged to gets a
fresh Snapshot (cause CONFLATED, built when the subscriber next reads, so it is the
truth at that moment) and ``conflations`` counts it. Until it reads, a symbol owed a
snapshot queues nothing, so a subscriber that stopped reading costs no memory; once
``drop_after`` updates were discarded for it (conflated away, or not queued because it
owes a snapshot) without a read in between, it is *dropped*: its reads raise
``SubscriptionDropped`` (the gRPC server answers RESOURCE_EXHAUSTED). The hub never waits
for a subscriber and never awaits.

Threading: every method runs on one thread (the event loop's, which owns the venue); the
hub takes no locks.

The records, ``Chunk`` and the reader-side ``MarketView`` live in ``whistle.api.md_records``
(re-exported here). The hub and ``Subscription`` stay in one module (~900 lines) on purpose:
the fan-out loop writes the subscriptions' queues and counters directly, without a call per
subscriber per chunk.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from typing import TYPE_CHECKING, final

import msgspec

from whistle.api.md_records import (
    ALL_KINDS,
    Bbo,
    Chunk,
    Kind,
    Level,
    MarketView,
    PriceLevel,
    Snapshot,
    SnapshotCause,
    Status,
    Trade,
    Update,
)
from whistle.core.enums import TradingState
from whistle.core.events import (
    BestBidOfferChanged,
    BookLevelChanged,
    EngineFaulted,
    TradeOccurred,
    TradingStatusChanged,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from whistle.api.backend import Backend
    from whistle.coord import Venue
    from whistle.core.events import Event

__all__ = [
    "ALL_KINDS",
    "Bbo",
    "Chunk",
    "HubStats",
    "Kind",
    "Level",
    "MarketDataHub",
    "MarketView",
    "PriceLevel",
    "Snapshot",
    "SnapshotCause",
    "Status",
    "Subscription",
    "SubscriptionClosed",
    "SubscriptionDropped",
    "SubscriptionStats",
    "Trade",
    "UnknownSymbol",
    "Update",
    "attach_backend",
]

_BUY = 1  # whistle.core.enums.Side.BUY
_SELL = 2
# Kind's bits as plain ints: IntFlag's & costs a Python call per test on the hot path.
_K_LEVELS = int(Kind.LEVELS)
_K_BBO = int(Kind.BBO)
_K_TRADES = int(Kind.TRADES)
_K_STATUS = int(Kind.STATUS)


class UnknownSymbol(LookupError):
    """Raised by ``subscribe`` / ``request_snapshot`` for a symbol the hub does not have."""


class SubscriptionClosed(Exception):
    """Raised by a read on a subscription after ``close()``."""


class SubscriptionDropped(Exception):
    """Raised by every read once the hub dropped a subscription that did not keep up."""


@final
class SubscriptionStats(msgspec.Struct, frozen=True, kw_only=True):
    """One subscription's counters."""

    symbols: int
    depth: int
    kinds: int
    pending: int
    delivered: int
    conflations: int
    snapshots: int
    dropped: str | None
    closed: bool


@final
class HubStats(msgspec.Struct, frozen=True, kw_only=True):
    """The hub's counters (``updates``: records made once per channel, before fan-out)."""

    symbols: int
    channels: int
    subscriptions: int
    events: int
    updates: int
    chunks: int
    conflations: int
    dropped: int


# ---------------------------------------------------------------------------- state


class _Channel:
    """One (symbol, depth, kinds) view: its md_seq, subscribers and snapshot cache."""

    __slots__ = ("depth", "key", "kinds", "md_seq", "snap", "subs")

    def __init__(self, key: tuple[int, int, int], depth: int, kinds: int) -> None:
        self.key = key
        self.depth = depth
        self.kinds = kinds
        self.md_seq = 0
        self.subs: list[Subscription] = []
        # (md_seq, cause) -> the Chunk holding that Snapshot: every subscriber that needs a
        # snapshot of this view at this md_seq gets the same object.
        self.snap: tuple[int, int, Chunk] | None = None


class _Book:
    """The hub's L2 book of one symbol: every level, plus BBO, state and its channels."""

    __slots__ = (
        "ask_keys",
        "asks",
        "bbo",
        "bid_keys",
        "bids",
        "channels",
        "last_trade",
        "max_depth",
        "state",
        "symbol_id",
        "ts_ns",
    )

    def __init__(self, symbol_id: int) -> None:
        self.symbol_id = symbol_id
        # price -> (qty, count); *_keys sorted best first (bids by negated price).
        # sort key -> (price, qty, count), the level as views hand it out (never rebuilt);
        # the sort key is the price for asks and -price for bids, so *_keys (sorted
        # ascending) are best first on both sides.
        self.bids: dict[int, tuple[int, int, int]] = {}
        self.asks: dict[int, tuple[int, int, int]] = {}
        self.bid_keys: list[int] = []
        self.ask_keys: list[int] = []
        self.bbo = (0, 0, 0, 0)
        self.state = int(TradingState.ACTIVE)
        self.last_trade = 0
        self.ts_ns = 0
        self.channels: dict[tuple[int, int, int], _Channel] = {}
        self.max_depth = 0  # the deepest finite view among channels with LEVELS (0: none)

    def top(self, side: int, n: int) -> list[tuple[int, int, int]]:
        """Return the best ``n`` levels of ``side`` (0: all) as (price, qty, count)."""
        if side == _BUY:
            levels, keys = self.bids, self.bid_keys
        else:
            levels, keys = self.asks, self.ask_keys
        return [levels[k] for k in (keys[:n] if n else keys)]

    def set_level(self, side: int, price: int, qty: int, count: int) -> None:
        if side == _BUY:
            levels, keys, key = self.bids, self.bid_keys, -price
        else:
            levels, keys, key = self.asks, self.ask_keys, price
        if qty == 0 and count == 0:
            if levels.pop(key, None) is not None:
                del keys[bisect.bisect_left(keys, key)]
        else:
            if key not in levels:
                bisect.insort(keys, key)
            levels[key] = (price, qty, count)

    def recompute_max_depth(self) -> None:
        self.max_depth = max(
            (c.depth for c in self.channels.values() if c.kinds & _K_LEVELS and c.depth),
            default=0,
        )


class _Pending:
    """One symbol's market data in one ``on_events`` call, netted."""

    __slots__ = ("bbo", "levels", "statuses", "trades", "ts_ns")

    def __init__(self) -> None:
        self.levels: dict[tuple[int, int], tuple[int, int]] = {}
        self.bbo: BestBidOfferChanged | None = None
        self.trades: list[TradeOccurred] = []
        self.statuses: list[int] = []
        self.ts_ns = 0


# Event type -> what the hub does with it (anything else is not market data).
_LEVEL, _BBO, _TRADE, _STATUS, _FAULT = 1, 2, 3, 4, 5
_FAULTED = int(TradingState.FAULTED)
_DISPATCH: dict[type, int] = {
    BookLevelChanged: _LEVEL,
    BestBidOfferChanged: _BBO,
    TradeOccurred: _TRADE,
    TradingStatusChanged: _STATUS,
    EngineFaulted: _FAULT,
}


def _kinds_of(kinds: Kind | int | Iterable[Kind | int] | None) -> int:
    if kinds is None:
        return int(ALL_KINDS)
    if isinstance(kinds, int):
        value = int(kinds)
    else:
        value = 0
        for k in kinds:
            value |= int(k)
    if value <= 0 or value & ~int(ALL_KINDS):
        raise ValueError(f"kinds must be a non-empty set of Kind flags (1..15), was {value}")
    return value


# ---------------------------------------------------------------------------- hub


@final
class MarketDataHub:
    """Per-symbol L2 state and per-subscriber bounded queues (see the module docstring)."""

    def __init__(self, *, max_pending: int = 50_000, drop_after: int = 1_000_000) -> None:
        """Create an empty hub.

        ``max_pending`` bounds each subscription's undelivered delta records (past it: a
        conflation); a subscription that reads nothing while ``drop_after`` updates are
        discarded for it is dropped.
        """
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise ValueError(f"max_pending must be an int >= 1, was {max_pending!r}")
        if isinstance(drop_after, bool) or not isinstance(drop_after, int) or drop_after < 1:
            raise ValueError(f"drop_after must be an int >= 1, was {drop_after!r}")
        self.max_pending = max_pending
        self.drop_after = drop_after
        self._books: dict[int, _Book] = {}
        self._wildcards: list[Subscription] = []
        self._subscriptions: set[Subscription] = set()
        self._events = 0
        self._updates = 0
        self._chunks = 0
        self._conflations = 0
        self._dropped = 0
        self._doomed: list[Subscription] = []

    # ------------------------------------------------------------------ symbols and state

    def add_symbol(self, symbol_id: int) -> None:
        """Know ``symbol_id`` with an empty book (a new instrument); known: nothing changes."""
        if symbol_id not in self._books:
            self._new_book(symbol_id)

    def seed(
        self,
        symbol_id: int,
        bids: Iterable[tuple[int, int, int]],
        asks: Iterable[tuple[int, int, int]],
        *,
        state: int = TradingState.ACTIVE,
        last_trade_price_ticks: int = 0,
        ts_ns: int = 0,
    ) -> None:
        """Set ``symbol_id``'s whole book: levels as (price_ticks, qty_lots, order_count).

        For symbols that have books before the hub sees their events (a recovered venue).
        Subscribers of the symbol get a fresh Snapshot (cause REQUESTED).
        """
        book = self._books.get(symbol_id) or self._new_book(symbol_id)
        book.bids.clear()
        book.asks.clear()
        book.bid_keys.clear()
        book.ask_keys.clear()
        for price, qty, count in bids:
            book.set_level(_BUY, price, qty, count)
        for price, qty, count in asks:
            book.set_level(_SELL, price, qty, count)
        bid = book.top(_BUY, 1)
        ask = book.top(_SELL, 1)
        book.bbo = (
            bid[0][0] if bid else 0,
            bid[0][1] if bid else 0,
            ask[0][0] if ask else 0,
            ask[0][1] if ask else 0,
        )
        book.state = int(state)
        book.last_trade = last_trade_price_ticks
        book.ts_ns = ts_ns
        for channel in book.channels.values():
            channel.snap = None
            for sub in channel.subs:
                sub._mark_stale(symbol_id, SnapshotCause.REQUESTED)

    def seed_from_venue(self, venue: Venue) -> None:
        """Seed every symbol of ``venue`` from its engines (all levels, state, last trade)."""
        for name in venue.symbols:
            engine = venue.engine_view(name)
            snap = engine.depth_all()
            status = engine.status()
            self.seed(
                snap.symbol_id,
                [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in snap.bids],
                [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in snap.asks],
                state=int(status.state),
                last_trade_price_ticks=status.last_trade_ticks,
                ts_ns=status.now_ns,
            )

    def symbols(self) -> list[int]:
        """Return the symbol ids the hub knows, ascending."""
        return sorted(self._books)

    def levels(
        self, symbol_id: int, depth: int = 0
    ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """Return the hub's (bids, asks) of ``symbol_id``, best first (``depth`` 0: all)."""
        book = self._book(symbol_id)
        return book.top(_BUY, depth), book.top(_SELL, depth)

    def state(self, symbol_id: int) -> int:
        """Return the symbol's ``TradingState`` as the hub last saw it."""
        return self._book(symbol_id).state

    def stats(self) -> HubStats:
        """Return the hub's counters."""
        return HubStats(
            symbols=len(self._books),
            channels=sum(len(b.channels) for b in self._books.values()),
            subscriptions=len(self._subscriptions),
            events=self._events,
            updates=self._updates,
            chunks=self._chunks,
            conflations=self._conflations,
            dropped=self._dropped,
        )

    def _book(self, symbol_id: int) -> _Book:
        book = self._books.get(symbol_id)
        if book is None:
            raise UnknownSymbol(f"no market data for symbol_id {symbol_id}")
        return book

    def _new_book(self, symbol_id: int) -> _Book:
        book = self._books[symbol_id] = _Book(symbol_id)
        for sub in self._wildcards:
            self._join(sub, book)
        return book

    # ------------------------------------------------------------------ subscriptions

    def subscribe(
        self,
        symbol_ids: Iterable[int] | None = None,
        depth: int = 10,
        kinds: Kind | int | Iterable[Kind | int] | None = None,
    ) -> Subscription:
        """Subscribe to ``symbol_ids`` (None: every symbol, including ones added later).

        ``depth`` levels per side (0: every level); ``kinds`` a ``Kind`` set (None: all).
        Each symbol's first record is a Snapshot (cause INITIAL). An unknown symbol id
        raises ``UnknownSymbol``; a bad depth or kinds ``ValueError``.
        """
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ValueError(f"depth must be an int >= 0 (0: every level), was {depth!r}")
        kind_bits = _kinds_of(kinds)
        ids: frozenset[int] | None = None
        if symbol_ids is not None:
            ids = frozenset(symbol_ids)
            missing = sorted(i for i in ids if i not in self._books)
            if missing:
                raise UnknownSymbol(f"no market data for symbol_id(s) {missing}")
        sub = Subscription(self, ids, depth, kind_bits)
        self._subscriptions.add(sub)
        if ids is None:
            self._wildcards.append(sub)
            for book in self._books.values():
                self._join(sub, book)
        else:
            for sid in sorted(ids):
                self._join(sub, self._books[sid])
        return sub

    def _join(self, sub: Subscription, book: _Book) -> None:
        key = (book.symbol_id, sub.depth, sub.kinds)
        channel = book.channels.get(key)
        if channel is None:
            channel = book.channels[key] = _Channel(key, sub.depth, sub.kinds)
            book.recompute_max_depth()
        channel.subs.append(sub)
        sub._channels[book.symbol_id] = channel
        sub._mark_stale(book.symbol_id, SnapshotCause.INITIAL)

    def _leave(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)
        if sub.symbol_ids is None and sub in self._wildcards:
            self._wildcards.remove(sub)
        for sid, channel in sub._channels.items():
            channel.subs.remove(sub)
            if not channel.subs:
                book = self._books[sid]
                del book.channels[channel.key]
                book.recompute_max_depth()
        sub._channels.clear()

    def _snapshot_chunk(self, symbol_id: int, channel: _Channel, cause: int) -> Chunk:
        cached = channel.snap
        if cached is not None and cached[0] == channel.md_seq and cached[1] == cause:
            return cached[2]
        book = self._books[symbol_id]
        if channel.kinds & _K_LEVELS:
            bids = tuple(PriceLevel(*lv) for lv in book.top(_BUY, channel.depth))
            asks = tuple(PriceLevel(*lv) for lv in book.top(_SELL, channel.depth))
        else:
            bids = asks = ()
        snap = Snapshot(
            symbol_id,
            channel.md_seq,
            book.ts_ns,
            cause,
            book.state,
            bids,
            asks,
            *book.bbo,
            book.last_trade,
        )
        chunk = Chunk(symbol_id, (snap,))
        channel.snap = (channel.md_seq, cause, chunk)
        return chunk

    # ------------------------------------------------------------------ the feed

    def on_events(self, events: Sequence[Event]) -> None:
        """Take one tick's (or one batch's) events, in order; O(events), never blocks.

        Market-data events change the hub's books; every other event is ignored. A symbol
        the hub has not seen starts empty (right for an instrument added after the hub;
        seed books that existed before it).
        """
        self._events += len(events)
        dispatch = _DISPATCH
        pending: dict[int, _Pending] = {}
        last_sid = -1
        p: _Pending | None = None
        for e in events:
            what = dispatch.get(type(e))
            if what is None:
                continue
            sid = e.symbol_id
            if sid != last_sid or p is None:
                p = pending.get(sid)
                if p is None:
                    p = pending[sid] = _Pending()
                last_sid = sid
            p.ts_ns = e.ts_ns
            # (no typing.cast here: it is a real call per event; the dispatch table
            # says what e is)
            if what == _LEVEL:
                p.levels[e.side, e.price_ticks] = (e.qty_lots, e.order_count)  # type: ignore[union-attr]
            elif what == _BBO:
                p.bbo = e  # type: ignore[assignment]
            elif what == _TRADE:
                p.trades.append(e)  # type: ignore[arg-type]
            elif what == _STATUS:
                p.statuses.append(e.state)  # type: ignore[union-attr]
            else:
                p.statuses.append(_FAULTED)
        for sid, pend in pending.items():
            self._apply(sid, pend)
        if self._doomed:
            doomed, self._doomed = self._doomed, []
            for sub in doomed:
                sub._drop()

    def _apply(self, sid: int, p: _Pending) -> None:
        book = self._books.get(sid) or self._new_book(sid)
        book.ts_ns = ts = p.ts_ns
        channels = book.channels
        # Windows before and after, per touched side, for depth-limited views.
        depth = book.max_depth
        sides = {side for side, _ in p.levels} if p.levels else ()
        before: dict[int, list[tuple[int, int, int]]] = {}
        if depth and channels:
            for side in sides:
                before[side] = book.top(side, depth)
        for (side, price), (qty, count) in p.levels.items():
            book.set_level(side, price, qty, count)
        if p.bbo is not None:
            b = p.bbo
            book.bbo = (b.bid_price_ticks, b.bid_qty_lots, b.ask_price_ticks, b.ask_qty_lots)
        if p.trades:
            book.last_trade = p.trades[-1].price_ticks
        if p.statuses:
            book.state = p.statuses[-1]
        if not channels:
            return
        after: dict[int, list[tuple[int, int, int]]] = {}
        if depth:
            for side in sides:
                after[side] = book.top(side, depth)
        for channel in channels.values():
            channel.snap = None  # the book changed: a cached snapshot is stale
            kinds = channel.kinds
            seq = channel.md_seq
            out: list[Update] = []
            append = out.append
            if kinds & _K_TRADES:
                for t in p.trades:
                    seq += 1
                    append(
                        Trade(sid, seq, ts, t.trade_id, t.price_ticks, t.qty_lots, t.aggressor_side)
                    )
            if kinds & _K_LEVELS and p.levels:
                d = channel.depth
                if d == 0:
                    for (side, price), (qty, count) in p.levels.items():
                        seq += 1
                        append(Level(sid, seq, ts, side, price, qty, count))
                else:
                    for side in sides:
                        old = before[side][:d]
                        new = after[side][:d]
                        if old == new:
                            continue
                        # Leaving the window first, then entering or changed, so a
                        # reader applying them in order never holds more than d levels.
                        new_prices = {lv[0] for lv in new}
                        old_map = {lv[0]: lv for lv in old}
                        for lv in old:
                            if lv[0] not in new_prices:
                                seq += 1
                                append(Level(sid, seq, ts, side, lv[0], 0, 0))
                        for lv in new:
                            if old_map.get(lv[0]) != lv:
                                seq += 1
                                append(Level(sid, seq, ts, side, lv[0], lv[1], lv[2]))
            if kinds & _K_BBO and p.bbo is not None:
                seq += 1
                append(Bbo(sid, seq, ts, *book.bbo))
            if kinds & _K_STATUS:
                for state in p.statuses:
                    seq += 1
                    append(Status(sid, seq, ts, state))
            if not out:
                continue
            channel.md_seq = seq
            chunk = Chunk(sid, tuple(out))
            n = len(out)
            self._updates += n
            self._chunks += 1
            for sub in channel.subs:
                stale = sub._stale
                if stale and sid in stale:
                    sub._discarded += n
                    if sub._discarded >= self.drop_after:
                        self._doom(sub)
                    continue
                sub._queue.append(chunk)
                sub._pending += n
                if sub._pending > sub._max_pending:
                    self._conflate(sub)  # may doom it: dropped at the end of on_events
                waiter = sub._waiter
                if waiter is not None:
                    sub._waiter = None
                    if not waiter.done():
                        waiter.set_result(None)

    def _conflate(self, sub: Subscription) -> None:
        if sub.dropped is not None:  # doomed in this on_events call: keep it empty
            sub._queue.clear()
            sub._pending = 0
            return
        self._conflations += 1
        sub.conflations += 1
        for chunk in sub._queue:
            sub._mark_stale(chunk.symbol_id, SnapshotCause.CONFLATED)
        sub._queue.clear()
        sub._discarded += sub._pending
        sub._pending = 0
        if sub._discarded >= self.drop_after:
            self._doom(sub)

    def _doom(self, sub: Subscription) -> None:
        # Not _leave here: the caller is iterating over a channel's subscribers.
        if sub.dropped is not None:
            return
        self._dropped += 1
        sub.dropped = (
            f"dropped: too slow, {sub._discarded} updates discarded without a read"
            f" (drop_after={self.drop_after}, max_pending={self.max_pending})"
        )
        self._doomed.append(sub)


@final
class Subscription:
    """One subscriber's bounded view of some symbols (made by ``MarketDataHub.subscribe``).

    Read with ``await next()`` / ``await next_chunks()`` (wait for something), ``poll()`` /
    ``poll_chunks()`` (never wait), or ``async for updates in subscription``. Reads return
    whole chunks, at least one, at most about ``max_updates`` records.
    """

    __slots__ = (
        "_channels",
        "_discarded",
        "_hub",
        "_max_pending",
        "_pending",
        "_queue",
        "_stale",
        "_waiter",
        "closed",
        "conflations",
        "delivered",
        "depth",
        "dropped",
        "kinds",
        "snapshots",
        "symbol_ids",
    )

    def __init__(
        self, hub: MarketDataHub, symbol_ids: frozenset[int] | None, depth: int, kinds: int
    ) -> None:
        self._hub = hub
        self.symbol_ids = symbol_ids
        """The subscribed ids (None: every symbol)."""
        self.depth = depth
        self.kinds = kinds
        self._channels: dict[int, _Channel] = {}
        self._queue: deque[Chunk] = deque()
        self._pending = 0
        self._max_pending = hub.max_pending
        # symbol_id -> cause of the Snapshot it is owed; while owed, its deltas are not
        # queued (the snapshot, built at the next read, covers them).
        self._stale: dict[int, int] = {}
        self._discarded = 0  # updates discarded for it since its last read
        self._waiter: asyncio.Future[None] | None = None
        self.conflations = 0
        """Times this subscription fell behind and was conflated."""
        self.delivered = 0
        """Records handed to the reader so far."""
        self.snapshots = 0
        """Snapshots handed to the reader so far."""
        self.dropped: str | None = None
        """Why the hub dropped this subscription (None: it did not)."""
        self.closed = False

    # ------------------------------------------------------------------ control

    def request_snapshot(self, symbol_id: int) -> None:
        """Ask for a fresh Snapshot of ``symbol_id`` (after a gap); its pending deltas go."""
        self._check()
        if symbol_id not in self._channels:
            raise UnknownSymbol(f"symbol_id {symbol_id} is not in this subscription")
        self._mark_stale(symbol_id, SnapshotCause.REQUESTED)
        self._wake()

    def close(self) -> None:
        """Stop receiving; a waiting read raises ``SubscriptionClosed``. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._hub._leave(self)
        self._queue.clear()
        self._stale.clear()
        self._pending = 0
        self._wake()

    @property
    def pending(self) -> int:
        """Undelivered delta records (snapshots owed not counted)."""
        return self._pending

    def stats(self) -> SubscriptionStats:
        """Return this subscription's counters."""
        return SubscriptionStats(
            symbols=len(self._channels),
            depth=self.depth,
            kinds=self.kinds,
            pending=self._pending,
            delivered=self.delivered,
            conflations=self.conflations,
            snapshots=self.snapshots,
            dropped=self.dropped,
            closed=self.closed,
        )

    # ------------------------------------------------------------------ reads

    def poll_chunks(self, max_updates: int = 8192) -> list[Chunk]:
        """Return what is ready (owed snapshots first), or [] at once when nothing is."""
        self._check()
        out: list[Chunk] = []
        taken = 0
        stale = self._stale
        queue = self._queue
        if stale:
            hub = self._hub
            for sid, cause in stale.items():
                channel = self._channels.get(sid)
                if channel is not None:
                    out.append(hub._snapshot_chunk(sid, channel, cause))
            self.snapshots += len(out)
            taken = len(out)
            # Deltas queued before a snapshot was owed are older than it: drop them.
            if queue:
                kept = [c for c in queue if c.symbol_id not in stale]
                queue.clear()
                queue.extend(kept)
                self._pending = sum(len(c) for c in kept)
            stale.clear()
        while queue and taken < max_updates:
            chunk = queue.popleft()
            n = len(chunk.updates)
            self._pending -= n
            taken += n
            out.append(chunk)
        if out:
            self.delivered += taken
            self._discarded = 0
        return out

    def poll(self, max_updates: int = 8192) -> list[Update]:
        """Return the ready records (see ``poll_chunks``), flattened."""
        return [u for chunk in self.poll_chunks(max_updates) for u in chunk.updates]

    async def next_chunks(self, max_updates: int = 8192, linger_s: float = 0.0) -> list[Chunk]:
        """Wait until something is ready and return it (at least one chunk).

        ``linger_s`` > 0: once something is ready, wait that long more (unless
        ``max_updates`` are already pending) so that later ticks ride in the same read:
        fewer, larger messages for the price of at most ``linger_s`` of latency.
        """
        while True:
            if linger_s > 0 and (self._pending or self._stale):
                if self._pending < max_updates:
                    await asyncio.sleep(linger_s)
                linger_s = 0.0
            out = self.poll_chunks(max_updates)
            if out:
                return out
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None

    async def next(self, max_updates: int = 8192, linger_s: float = 0.0) -> list[Update]:
        """Wait until something is ready and return its records (see ``next_chunks``)."""
        chunks = await self.next_chunks(max_updates, linger_s)
        return [u for chunk in chunks for u in chunk.updates]

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> list[Update]:
        if self.closed and self.dropped is None:
            raise StopAsyncIteration
        try:
            return await self.next()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    # ------------------------------------------------------------------ internals

    def _check(self) -> None:
        if self.dropped is not None:
            raise SubscriptionDropped(self.dropped)
        if self.closed:
            raise SubscriptionClosed("the subscription is closed")

    def _mark_stale(self, symbol_id: int, cause: int) -> None:
        # An owed INITIAL snapshot stays INITIAL (the reader has not seen the symbol yet).
        if self._stale.get(symbol_id) != SnapshotCause.INITIAL:
            self._stale[symbol_id] = int(cause)
        # Something is ready now (the snapshot): a waiting reader must wake for it, also
        # when the symbol is new to a wildcard subscription and nothing else is coming.
        if self._waiter is not None:
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _drop(self) -> None:
        self.closed = True
        self._hub._leave(self)
        self._queue.clear()
        self._stale.clear()
        self._pending = 0
        self._wake()


async def attach_backend(hub: MarketDataHub, backend: Backend) -> Callable[[], None]:
    """Seed ``hub`` with every instrument of ``backend`` and feed it the backend's events.

    The listener is added first and what it hears while the books are read is held back,
    then applied minus the events each seeded book already had (by event ``seq``): nothing
    is missed or counted twice even when reading the books yields to the loop. Returns the
    function that detaches the hub again.
    """
    held: list[list[Event]] = []
    marks: dict[int, int] = {}  # symbol_id -> the event seq its seeded book is as of
    live = False

    def listener(events: list[Event]) -> None:
        if live:
            hub.on_events(events)
        else:
            held.append(events)

    backend.add_listener(listener)
    try:
        for instrument in backend.instruments():
            sid = instrument.symbol_id
            depth = await backend.depth(sid, None)
            status = (await backend.status([sid])).symbols
            view = status[0].status if status else None
            hub.seed(
                sid,
                [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in depth.bids],
                [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in depth.asks],
                state=int(view.state) if view is not None else int(TradingState.ACTIVE),
                last_trade_price_ticks=view.last_trade_ticks if view is not None else 0,
                ts_ns=view.now_ns if view is not None else 0,
            )
            marks[sid] = depth.seq
    except BaseException:
        backend.remove_listener(listener)
        raise
    live = True
    for events in held:
        # seq 0: edge rejects, never market data; a symbol seeded at seq S had them all.
        hub.on_events([e for e in events if e.seq > marks.get(e.symbol_id, 0)])
    held.clear()

    def detach() -> None:
        backend.remove_listener(listener)

    return detach
