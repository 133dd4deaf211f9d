"""Market-data records: what a ``MarketDataHub`` subscription delivers, and a reader's view.

Immutable msgspec Structs (``gc=False``), made once per (symbol, view, tick) by the hub and
shared by every subscriber of that view; ``Chunk`` holds one symbol's records of one tick
and caches their serialized form. ``MarketView`` is the reader side: it rebuilds a
subscription's books from the records and tells gaps (``whistle.api.marketdata`` says what
the sequence numbers promise).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, TypeVar, cast, final

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "ALL_KINDS",
    "Bbo",
    "Chunk",
    "Kind",
    "Level",
    "MarketView",
    "PriceLevel",
    "Snapshot",
    "SnapshotCause",
    "Status",
    "Trade",
    "Update",
]


T = TypeVar("T")

_BUY = 1  # whistle.core.enums.Side.BUY


class Kind(enum.IntFlag):
    """What a subscription wants besides its snapshots (a bit set)."""

    LEVELS = 1
    """``Level`` records (and the snapshot's ladder)."""
    BBO = 2
    """``Bbo`` records."""
    TRADES = 4
    """``Trade`` records."""
    STATUS = 8
    """``Status`` records (halt, resume, fault)."""


ALL_KINDS = Kind.LEVELS | Kind.BBO | Kind.TRADES | Kind.STATUS


@enum.unique
class SnapshotCause(enum.IntEnum):
    """Why a Snapshot was sent."""

    INITIAL = 1
    """The first record of a symbol on a subscription."""
    REQUESTED = 2
    """The subscriber asked for it (``request_snapshot``), e.g. after a gap."""
    CONFLATED = 3
    """The subscriber fell behind: its pending deltas of the symbol were replaced by it
    (trades among them are not repeated)."""


# ---------------------------------------------------------------------------- records


@final
class PriceLevel(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One level of a snapshot's ladder: price, displayed quantity, order count."""

    price_ticks: int
    qty_lots: int
    order_count: int


class _Update(msgspec.Struct, frozen=True, gc=False, tag_field="kind"):
    symbol_id: int
    md_seq: int
    ts_ns: int


@final
class Snapshot(_Update, frozen=True, gc=False, tag="snapshot"):
    """A symbol's view as of ``md_seq``: ladder (best first, to the depth), BBO, state.

    ``bids``/``asks`` are empty when the subscription has no ``Kind.LEVELS``.
    """

    cause: int
    state: int
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]
    bid_price_ticks: int
    bid_qty_lots: int
    ask_price_ticks: int
    ask_qty_lots: int
    last_trade_price_ticks: int


@final
class Level(_Update, frozen=True, gc=False, tag="level"):
    """A price level of the view changed; quantity and count 0: it left the view."""

    side: int
    price_ticks: int
    qty_lots: int
    order_count: int


@final
class Bbo(_Update, frozen=True, gc=False, tag="bbo"):
    """Top of book at the end of a tick (an empty side: price and quantity 0)."""

    bid_price_ticks: int
    bid_qty_lots: int
    ask_price_ticks: int
    ask_qty_lots: int


@final
class Trade(_Update, frozen=True, gc=False, tag="trade"):
    """A public trade print."""

    trade_id: int
    price_ticks: int
    qty_lots: int
    aggressor_side: int


@final
class Status(_Update, frozen=True, gc=False, tag="status"):
    """The symbol's ``TradingState`` changed."""

    state: int


Update = Snapshot | Level | Bbo | Trade | Status


@final
class Chunk:
    """One symbol's records of one tick (or one Snapshot), shared by a channel's subscribers.

    Immutable once made. ``encoded(encode)`` computes ``encode(updates)`` once and returns
    the same value to every later caller with the same ``encode`` (the gRPC server caches
    its serialized protobuf here, the web view its JSON).
    """

    __slots__ = ("_cache", "symbol_id", "updates")

    def __init__(self, symbol_id: int, updates: tuple[Update, ...]) -> None:
        self.symbol_id = symbol_id
        self.updates = updates
        self._cache: dict[object, object] | None = None

    def __len__(self) -> int:
        return len(self.updates)

    def __repr__(self) -> str:
        return f"Chunk(symbol_id={self.symbol_id}, updates={len(self.updates)})"

    def encoded(self, encode: Callable[[tuple[Update, ...]], T]) -> T:
        """Return ``encode(self.updates)``, computed on the first call per ``encode``."""
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        elif encode in cache:
            return cast("T", cache[encode])
        value = encode(self.updates)
        cache[encode] = value
        return value


# ---------------------------------------------------------------------------- client side


@final
class MarketView:
    """A reader's copy of one subscription's symbols, rebuilt from its records.

    ``apply(update)`` returns False when the record does not follow the symbol's last one
    (a gap, or a delta before any Snapshot): the symbol is then marked ``stale`` and its
    deltas are ignored until the next Snapshot; the reader should ``request_snapshot``.
    """

    __slots__ = ("asks", "bbo", "bids", "last_trade", "md_seq", "stale", "state", "trades")

    def __init__(self) -> None:
        self.bids: dict[int, dict[int, tuple[int, int]]] = {}
        self.asks: dict[int, dict[int, tuple[int, int]]] = {}
        self.bbo: dict[int, tuple[int, int, int, int]] = {}
        self.state: dict[int, int] = {}
        self.last_trade: dict[int, int] = {}
        self.md_seq: dict[int, int] = {}
        self.trades: dict[int, list[Trade]] = {}
        self.stale: set[int] = set()

    def apply(self, update: Update) -> bool:
        """Apply one record; False: a gap (the symbol is stale until its next Snapshot)."""
        sid = update.symbol_id
        if type(update) is Snapshot:
            self.md_seq[sid] = update.md_seq
            self.bids[sid] = {lv.price_ticks: (lv.qty_lots, lv.order_count) for lv in update.bids}
            self.asks[sid] = {lv.price_ticks: (lv.qty_lots, lv.order_count) for lv in update.asks}
            self.bbo[sid] = (
                update.bid_price_ticks,
                update.bid_qty_lots,
                update.ask_price_ticks,
                update.ask_qty_lots,
            )
            self.state[sid] = update.state
            self.last_trade[sid] = update.last_trade_price_ticks
            self.trades.setdefault(sid, [])
            self.stale.discard(sid)
            return True
        last = self.md_seq.get(sid)
        if sid in self.stale:
            return False
        if last is None or update.md_seq != last + 1:
            self.stale.add(sid)
            return False
        self.md_seq[sid] = update.md_seq
        if type(update) is Level:
            side = self.bids[sid] if update.side == _BUY else self.asks[sid]
            if update.qty_lots == 0 and update.order_count == 0:
                side.pop(update.price_ticks, None)
            else:
                side[update.price_ticks] = (update.qty_lots, update.order_count)
        elif type(update) is Bbo:
            self.bbo[sid] = (
                update.bid_price_ticks,
                update.bid_qty_lots,
                update.ask_price_ticks,
                update.ask_qty_lots,
            )
        elif type(update) is Trade:
            self.last_trade[sid] = update.price_ticks
            self.trades[sid].append(update)
        elif type(update) is Status:
            self.state[sid] = update.state
        return True

    def levels(
        self, symbol_id: int
    ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """Return the view's (bids, asks) of ``symbol_id`` as (price, qty, count), best first."""
        bids = self.bids.get(symbol_id, {})
        asks = self.asks.get(symbol_id, {})
        return (
            [(p, *bids[p]) for p in sorted(bids, reverse=True)],
            [(p, *asks[p]) for p in sorted(asks)],
        )
