"""Full engine snapshots: capture and rebuild.

A snapshot holds everything that decides future behaviour: counters, band, last trade,
the published BBO, and every live order with its place in time priority. Resting orders
are listed bids (best level first) then asks, each level in priority order, then parked
stops in trigger order; rebuilding replays them into empty levels in that order, so the
restored book is the same book, not merely an equivalent one (the state hash proves it).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, final

import msgspec

from whistle.book.book import INF_KEY, NO_BAND_HI
from whistle.book.orders import Order
from whistle.core.enums import Side, TimeInForce
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from whistle.book.book import OrderBook
    from whistle.engine.whistle import Whistle

__all__ = ["EngineSnapshot", "OrderState", "capture", "decode_snapshot", "rebuild"]

SNAPSHOT_VERSION = 1


@final
class OrderState(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One live order inside a snapshot."""

    order_id: int
    account: int
    side: int
    order_type: int
    tif: int
    price: int
    qty: int
    hidden: int
    stop_price: int
    display: int
    post_only: bool
    stp: int
    expire_ts: int
    protection: int
    arrival: int
    prio: int
    stop_pending: bool
    # Lookup-only fields (Whistle.order), trailing defaults so older snapshots decode:
    # 0 there means "not recorded" (original quantity then reads as leaves + filled).
    orig_qty: int = 0
    filled: int = 0
    entry_ts: int = 0


@final
class EngineSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything needed to rebuild one engine exactly."""

    version: int
    instrument: Instrument
    state: int
    fault: str | None
    now_ns: int
    last_enq_seq: int
    seq: int
    trade_id: int
    arrival: int
    prio: int
    last_price: int
    band_lo: int
    band_hi: int
    bbo: tuple[int, int, int, int]
    orders: list[OrderState]
    state_hash: str

    def encode(self) -> bytes:
        """Return the snapshot as msgpack bytes."""
        return msgspec.msgpack.encode(self)


def decode_snapshot(data: bytes) -> EngineSnapshot:
    """Decode msgpack bytes written by ``EngineSnapshot.encode``."""
    snap = msgspec.msgpack.decode(data, type=EngineSnapshot)
    if snap.version != SNAPSHOT_VERSION:
        raise ValueError(f"snapshot version must be {SNAPSHOT_VERSION}, was {snap.version}")
    return snap


def _state(o: Order) -> OrderState:
    return OrderState(
        o.order_id,
        o.account,
        o.side,
        o.order_type,
        o.tif,
        o.price,
        o.qty,
        o.hidden,
        o.stop_price,
        o.display,
        o.post_only,
        o.stp,
        o.expire_ts,
        o.protection,
        o.arrival,
        o.prio,
        o.stop_pending,
        o.orig_qty,
        o.filled,
        o.entry_ts,
    )


def capture(engine: Whistle) -> EngineSnapshot:
    """Return a snapshot of ``engine`` (which must have nothing queued)."""
    book = engine.book
    orders: list[OrderState] = []
    for side in (int(Side.BUY), int(Side.SELL)):
        for _, level_orders in book.level_orders(side):
            orders.extend(_state(o) for o in level_orders)
    orders.extend(_state(o) for o in book.stops())
    return EngineSnapshot(
        version=SNAPSHOT_VERSION,
        instrument=engine.instrument,
        state=engine.state,
        fault=engine.fault,
        now_ns=engine.now_ns,
        last_enq_seq=engine.last_enq_seq,
        seq=book.seq,
        trade_id=book.trade_id,
        arrival=book.arrival,
        prio=book.prio,
        last_price=book.last_price,
        band_lo=book.band_lo,
        band_hi=book.band_hi if book.band_hi != INF_KEY else NO_BAND_HI,
        bbo=book.bbo,
        orders=orders,
        state_hash=engine.state_hash(),
    )


def rebuild(book: OrderBook, snap: EngineSnapshot) -> None:
    """Fill an empty ``book`` from ``snap``."""
    book.seq = snap.seq
    book.trade_id = snap.trade_id
    book.arrival = snap.arrival
    book.prio = snap.prio
    book.last_price = snap.last_price
    book.band_lo = snap.band_lo
    book.band_hi = snap.band_hi if snap.band_hi != NO_BAND_HI else INF_KEY
    book.bbo = snap.bbo
    # The published BBO always equals the book's top at a command boundary.
    book.bbo_bid_key = -snap.bbo[0] if snap.bbo[0] else INF_KEY
    book.bbo_ask_key = snap.bbo[2] if snap.bbo[2] else INF_KEY
    live: list[Order] = []
    gtd = int(TimeInForce.GTD)
    buy = int(Side.BUY)
    for s in snap.orders:
        o = Order(
            s.order_id,
            s.account,
            s.side,
            s.order_type,
            s.tif,
            s.price,
            s.qty,
            s.stop_price,
            s.display,
            s.post_only,
            s.stp,
            s.expire_ts,
            s.protection,
            s.arrival,
        )
        o.hidden = s.hidden
        o.prio = s.prio
        o.filled = s.filled
        o.orig_qty = s.orig_qty or s.qty + s.hidden + s.filled
        o.entry_ts = s.entry_ts
        if s.stop_pending:
            o.stop_pending = True
            if o.side == buy:
                book.buy_stops.append((o.stop_price, o.arrival, o.order_id))
            else:
                book.sell_stops.append((-o.stop_price, o.arrival, o.order_id))
        else:
            side = book.bids if o.side == buy else book.asks
            key = -o.price if o.side == buy else o.price
            side.level_for(key, o.price).append(o)
        if o.tif == gtd:
            book.gtd_heap.append((o.expire_ts, o.arrival, o.order_id))
            book.gtd_live += 1
        live.append(o)
    book.buy_stops.sort()
    book.sell_stops.sort()
    heapq.heapify(book.gtd_heap)
    live.sort(key=lambda o: o.arrival)
    book.orders = {o.order_id: o for o in live}
