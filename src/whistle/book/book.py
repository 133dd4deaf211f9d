"""The L3 order book and its matching rules (price-time priority).

One ``OrderBook`` holds one symbol's resting orders, parked stops and GTD expiry schedule,
validates order commands against its instrument and its own state, matches, and appends
the resulting events to ``self.out``. It reads no clock: the engine sets ``enq_seq`` and
``ts_ns`` before each command. The rules it implements are written down in
``docs/matching-rules.md``; ``tests/reference_matcher.py`` is an independent, deliberately
simple implementation of the same rules used as the oracle in property tests.

This module is long (~900 lines) on purpose: the match loop, self-trade prevention,
icebergs and market-data diffing share local state, and splitting them across modules
or objects would add a Python call per order on the hot path.

Representation: each side maps a *key* to a ``Level``. Ask keys are prices, bid keys are
negated prices, so on both sides the best level is the smallest key and one matching loop
serves both: an incoming order with limit key ``L`` crosses while ``opposite.best <= L``.
A lazy min-heap of keys finds the next best level when the best one empties.
"""

from __future__ import annotations

import hashlib
import heapq
import struct
from bisect import bisect_right, insort
from typing import TYPE_CHECKING, Any, Final, final

import msgspec

from whistle.book import details as d
from whistle.book.orders import Level, Order
from whistle.core.events import (
    BestBidOfferChanged,
    BookLevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderReplaced,
    StopTriggered,
    TradeOccurred,
)

if TYPE_CHECKING:
    from whistle.core.commands import (
        CancelOrder,
        CancelReplace,
        MassCancel,
        ModifyOrder,
        NewOrder,
    )
    from whistle.core.events import Event
    from whistle.core.instrument import Instrument

__all__ = ["INF_KEY", "BookSide", "OrderBook"]

# Literal Final ints: mypyc inlines them and CPython reads them as constants, where
# IntEnum members cost an attribute lookup. tests/unit/book pins them to the enums.
BUY: Final = 1  # Side.BUY
SELL: Final = 2  # Side.SELL
LIMIT: Final = 1  # OrderType.LIMIT
MARKET: Final = 2  # OrderType.MARKET
STOP: Final = 3  # OrderType.STOP
STOP_LIMIT: Final = 4  # OrderType.STOP_LIMIT
GTC: Final = 1  # TimeInForce.GTC
IOC: Final = 2  # TimeInForce.IOC
FOK: Final = 3  # TimeInForce.FOK
GTD: Final = 4  # TimeInForce.GTD
DAY: Final = 5  # TimeInForce.DAY
STP_NONE: Final = 0  # StpMode.NONE
STP_NEWEST: Final = 1  # StpMode.CANCEL_NEWEST
STP_OLDEST: Final = 2  # StpMode.CANCEL_OLDEST
STP_BOTH: Final = 3  # StpMode.CANCEL_BOTH
STP_DECREMENT: Final = 4  # StpMode.DECREMENT_AND_CANCEL
C_USER: Final = 1  # CancelCause.USER
C_IOC: Final = 2  # CancelCause.IOC_REMAINDER
C_SELF: Final = 3  # CancelCause.SELF_TRADE
C_MASS: Final = 5  # CancelCause.MASS_CANCEL
MAKER: Final = 1  # Liquidity.MAKER
TAKER: Final = 2  # Liquidity.TAKER

R_DUPLICATE: Final = 1022  # DUPLICATE_ORDER_ID
R_SIDE: Final = 1010  # INVALID_SIDE
R_TYPE: Final = 1011  # INVALID_ORDER_TYPE
R_TIF: Final = 1012  # INVALID_TIF
R_QTY_NOT_POSITIVE: Final = 1004  # QTY_NOT_POSITIVE
R_QTY_BELOW_MIN: Final = 1005  # QTY_BELOW_MIN
R_QTY_ABOVE_MAX: Final = 1006  # QTY_ABOVE_MAX
R_PRICE_NOT_POSITIVE: Final = 1007  # PRICE_NOT_POSITIVE
R_PRICE_NOT_ALLOWED: Final = 1008  # PRICE_NOT_ALLOWED
R_STOP_MISSING: Final = 1013  # MISSING_STOP_PRICE
R_STOP_NOT_ALLOWED: Final = 1014  # STOP_PRICE_NOT_ALLOWED
R_STP: Final = 1021  # INVALID_STP_MODE
R_POST_ONLY: Final = 1015  # INVALID_POST_ONLY
R_DISPLAY: Final = 1016  # INVALID_DISPLAY_QTY
R_PROTECTION: Final = 1017  # INVALID_PROTECTION_PRICE
R_GTD_MISSING: Final = 1018  # GTD_MISSING_EXPIRY
R_GTD_EXPIRED: Final = 1019  # GTD_EXPIRED
R_EXPIRY_NOT_ALLOWED: Final = 1020  # EXPIRY_NOT_ALLOWED
R_BAND: Final = 1009  # PRICE_OUTSIDE_BAND
R_POST_ONLY_TAKE: Final = 3004  # POST_ONLY_WOULD_TAKE
R_NO_LIQUIDITY: Final = 3006  # NO_LIQUIDITY
R_FOK: Final = 3005  # FOK_UNFILLABLE
R_UNKNOWN_ORDER: Final = 3001  # UNKNOWN_ORDER_ID
R_ACCOUNT: Final = 3002  # ACCOUNT_MISMATCH
R_NOT_MODIFIABLE: Final = 3007  # ORDER_NOT_MODIFIABLE
R_RANGE: Final = 1024  # VALUE_OUT_OF_RANGE
R_NO_CHANGE: Final = 3003  # MODIFY_NO_CHANGE

# Ranges of whistle.core.limits, inlined (tests/unit/book pins them to the originals).
MAX_PRICE: Final = (1 << 60) - 1
MAX_ID: Final = (1 << 63) - 1

INF_KEY: Final = (1 << 62) - 1
"""Key of an empty side's best level: nothing ever crosses it.

The largest int mypyc keeps unboxed (a "short" tagged int): every comparison with it stays
a machine compare. Hashes and snapshots still write "no upper band" as 1 << 62 (the value
this sentinel had before), so both are unchanged."""
_SHORT_MAX: Final = (1 << 62) - 1
"""Ids, accounts and expiries up to here are unboxed: ``x > _SHORT_MAX and x > MAX_ID``
checks the range with one machine compare in the common case (MAX_ID itself is boxed)."""
NO_BAND_HI: Final = 1 << 62
"""``band_hi`` without a band, as the state hash and snapshots write it."""
_UNLIMITED: Final = 1 << 61
"""Limit key of a market order without protection or band: crosses every level."""

_STOP_TIFS = (GTC, GTD, DAY)
_STOP_LIMIT_TIFS = (GTC, GTD, DAY, IOC)
_HASH_ORDER = struct.Struct("<qqqqqqqqqqqqq")
_HASH_HEAD = struct.Struct("<qqqqqqq")


@final
class _Builders:
    """The callables the hot path calls, read from one object instead of module globals.

    mypyc looks a module global up in the module's dict on every use; a ``Final`` module
    name is a C static. The event classes stay patchable through this object (tests inject
    engine bugs by replacing one), which a ``Final`` alias of each class would not be.
    """

    __slots__ = (
        "BestBidOfferChanged",
        "BookLevelChanged",
        "OrderAccepted",
        "OrderCancelled",
        "OrderExpired",
        "OrderFilled",
        "OrderModified",
        "OrderRejected",
        "OrderReplaced",
        "StopTriggered",
        "TradeOccurred",
        "heappop",
        "heappush",
    )

    def __init__(self) -> None:
        self.BestBidOfferChanged: Any = BestBidOfferChanged
        self.BookLevelChanged: Any = BookLevelChanged
        self.OrderAccepted: Any = OrderAccepted
        self.OrderCancelled: Any = OrderCancelled
        self.OrderExpired: Any = OrderExpired
        self.OrderFilled: Any = OrderFilled
        self.OrderModified: Any = OrderModified
        self.OrderRejected: Any = OrderRejected
        self.OrderReplaced: Any = OrderReplaced
        self.StopTriggered: Any = StopTriggered
        self.TradeOccurred: Any = TradeOccurred
        self.heappush: Any = heapq.heappush
        self.heappop: Any = heapq.heappop


EV: Final = _Builders()

# A command's fields in one C call: under mypyc a Struct field read is a generic getattr
# (~160 instructions), astuple copies all fields for less than two of them. The field
# order is pinned by tests/unit/book/test_book_constants.py.
_astuple: Final = msgspec.structs.astuple


@final
class BookSide:
    """One side of the book: levels by key, a lazy heap of keys, the best key."""

    __slots__ = ("best", "code", "heap", "levels", "touched")

    def __init__(self, code: int) -> None:
        self.code = code
        self.levels: dict[int, Level] = {}
        self.heap: list[int] = []
        self.best = INF_KEY
        # The levels the current command changed, in the order it first changed them;
        # each is ``marked`` and keeps its (qty, count) from before in b_qty / b_count.
        # A list and a flag, not a dict by key: no boxing, hashing or rehashing per touch.
        self.touched: list[Level] = []

    def level_for(self, key: int, price: int) -> Level:
        """Return the level at ``key``, creating it (and maybe a new best) if needed."""
        level = self.levels.get(key)
        if level is None:
            level = Level(price, key)
            self.levels[key] = level
            heap = self.heap
            if len(heap) > 2 * len(self.levels) + 64:
                # Stale keys pile up when levels come and go below the top; a sorted
                # list is a valid heap, so compaction is one sort of the live keys.
                heap = self.heap = sorted(self.levels)
            else:
                EV.heappush(heap, key)
            if key < self.best:
                self.best = key
        return level

    def clear_touched(self) -> None:
        """Forget the levels the current command touched (after a fault)."""
        for level in self.touched:
            level.marked = False
        self.touched.clear()

    def drop_level(self, key: int) -> None:
        """Forget the (empty) level at ``key`` and find the next best if it was the best."""
        del self.levels[key]
        if key == self.best:
            heap = self.heap
            levels = self.levels
            while heap:
                top = heap[0]
                if top in levels:
                    self.best = top
                    return
                EV.heappop(heap)
            self.best = INF_KEY

    def sorted_keys(self, depth: int | None = None) -> list[int]:
        """Return level keys best first (all, or the best ``depth``)."""
        if depth is None:
            return sorted(self.levels)
        return heapq.nsmallest(depth, self.levels)


@final
class OrderBook:
    """One symbol's L3 book, stop book and expiry schedule, with matching."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        # symbol_id, enq_seq and ts_ns only pass through into events: typed Any, mypyc keeps
        # them as the caller's int objects instead of re-boxing them for every event field.
        self.symbol_id: Any = instrument.symbol_id
        self.min_qty = instrument.min_qty_lots
        self.max_qty = instrument.max_qty_lots
        self.band_bps = instrument.price_band_bps
        self.bids = BookSide(BUY)
        self.asks = BookSide(SELL)
        self.orders: dict[int, Order] = {}
        # Parked stops, sorted by trigger order: buys by (stop, arrival, id) ascending,
        # sells by (-stop, arrival, id) ascending (i.e. highest stop first).
        self.buy_stops: list[tuple[int, int, int]] = []
        self.sell_stops: list[tuple[int, int, int]] = []
        # (expiry, arrival, id) of live GTD orders, lazily deleted; ``gtd_live`` counts the
        # live GTD orders so the heap is compacted when stale entries outnumber them.
        self.gtd_heap: list[tuple[int, int, int]] = []
        self.gtd_live = 0
        self.last_price = 0
        self.band_lo = 0
        self.band_hi = INF_KEY
        self.seq = 0
        self.trade_id = 0
        self.arrival = 0
        self.prio = 0
        self.enq_seq: Any = 0
        self.ts_ns: Any = 0
        self.traded = False
        # The last published top of book (see the ``bbo`` property); the prices are ints
        # kept as the levels' boxed price objects.
        self.bbo_bid_px: Any = 0
        self.bbo_bid_qty = 0
        self.bbo_ask_px: Any = 0
        self.bbo_ask_qty = 0
        # Best keys of the last published BBO; dirty when a best level changed in place.
        self.bbo_bid_key = INF_KEY
        self.bbo_ask_key = INF_KEY
        self.bbo_dirty = False
        self.out: list[Event] = []
        self._set_band(instrument.reference_price_ticks)

    # ------------------------------------------------------------------ helpers

    def _set_band(self, reference: int) -> None:
        bps = self.band_bps
        if bps and reference > 0:
            # lo = ceil(ref * (1 - bps/1e4)), hi = floor(ref * (1 + bps/1e4)), in ints.
            self.band_lo = -((-reference * (10_000 - bps)) // 10_000)
            self.band_hi = (reference * (10_000 + bps)) // 10_000
        else:
            self.band_lo = 0
            self.band_hi = INF_KEY

    def _market_limit_key(self, side: int, protection: int) -> int:
        # How far a market (or triggered stop) order may trade: its protection price,
        # else the band edge, else anywhere.
        if side == BUY:
            if protection:
                return protection
            return self.band_hi if self.band_hi != INF_KEY else _UNLIMITED
        if protection:
            return -protection
        return -self.band_lo if self.band_lo else _UNLIMITED

    def reject(self, order_id: int, account: int, reason: int, detail: int = 0) -> None:
        """Emit ``OrderRejected`` for the current command (``detail``: whistle.book.details)."""
        self.seq += 1
        self.out.append(
            EV.OrderRejected(
                self.symbol_id,
                self.seq,
                self.enq_seq,
                self.ts_ns,
                order_id,
                account,
                reason,
                detail,
            )
        )

    def _cancelled(self, o: Order, cause: int, qty: int, leaves: int) -> None:
        self.seq += 1
        self.out.append(
            EV.OrderCancelled(
                self.symbol_id,
                self.seq,
                self.enq_seq,
                self.ts_ns,
                o.order_id,
                o.account,
                cause,
                qty,
                leaves,
            )
        )

    def _schedule_gtd(self, o: Order) -> None:
        # A GTD order just became live (rested or parked): count it and schedule its expiry.
        self.gtd_live += 1
        EV.heappush(self.gtd_heap, (o.expire_ts, o.arrival, o.order_id))
        if len(self.gtd_heap) > 2 * self.gtd_live + 65:
            self._compact_gtd()

    def _gtd_gone(self) -> None:
        # A live GTD order left the book; its heap entry is now stale.
        self.gtd_live -= 1
        if len(self.gtd_heap) > 2 * self.gtd_live + 64:
            self._compact_gtd()

    def _compact_gtd(self) -> None:
        # Same rule as the price heaps: once stale entries outnumber live ones (plus a
        # margin), keep only the live entries. Amortised O(1): it runs after at least
        # half the heap went stale. A sorted list is a valid heap.
        orders = self.orders
        live: list[tuple[int, int, int]] = []
        for entry in self.gtd_heap:
            o = orders.get(entry[2])
            if o is not None and o.arrival == entry[1]:
                live.append(entry)
        live.sort()
        self.gtd_heap = live

    def _remove_resting(self, o: Order) -> None:
        # Take a resting order out of its level and out of the book entirely.
        level = o.level
        assert level is not None
        side = self.bids if o.side == BUY else self.asks
        key = -o.price if o.side == BUY else o.price
        if not level.marked:
            level.marked = True
            level.b_qty = level.qty
            level.b_count = level.count
            side.touched.append(level)
        level.unlink(o)
        if level.count == 0:
            side.drop_level(key)
        del self.orders[o.order_id]
        if o.tif == GTD:
            self._gtd_gone()

    def _remove_stop(self, o: Order) -> None:
        if o.side == BUY:
            self.buy_stops.remove((o.stop_price, o.arrival, o.order_id))
        else:
            self.sell_stops.remove((-o.stop_price, o.arrival, o.order_id))
        o.stop_pending = False
        del self.orders[o.order_id]
        if o.tif == GTD:
            self._gtd_gone()

    def _forget(self, o: Order) -> None:
        # A live order in no level (a triggered stop, a repriced taker) is gone.
        del self.orders[o.order_id]
        if o.tif == GTD:
            self._gtd_gone()

    def _remove_live(self, o: Order) -> None:
        if o.stop_pending:
            self._remove_stop(o)
        else:
            self._remove_resting(o)

    def _rest(self, o: Order) -> None:
        # Put an order with ``o.qty`` left at the back of its level (iceberg re-sliced).
        total = o.qty
        display = o.display
        if display and display < total:
            o.qty = display
            o.hidden = total - display
        else:
            o.hidden = 0
        if o.side == BUY:
            side = self.bids
            key = -o.price
        else:
            side = self.asks
            key = o.price
        level = side.level_for(key, o.price)
        if not level.marked:
            level.marked = True
            level.b_qty = level.qty
            level.b_count = level.count
            side.touched.append(level)
        self.prio += 1
        o.prio = self.prio
        level.append(o)
        self.orders[o.order_id] = o

    # ------------------------------------------------------------------ matching

    def _take(self, t: Order, limit_key: int) -> int:
        """Match incoming order ``t`` (``t.qty`` = all it has left) up to ``limit_key``.

        Return what is left. Self-trade prevention may consume the taker without a trade.
        """
        if t.side == BUY:
            opp = self.asks
        else:
            opp = self.bids
        rem = t.qty
        if opp.best > limit_key:
            return rem
        levels = opp.levels
        touched = opp.touched
        orders = self.orders
        out = self.out
        sid = self.symbol_id
        enq = self.enq_seq
        ts = self.ts_ns
        t_id = t.order_id
        t_acct = t.account
        t_side = t.side
        stp = t.stp
        seq = self.seq
        trade_id = self.trade_id
        last_px = 0
        t_filled = 0
        while rem > 0 and opp.best <= limit_key:
            key = opp.best
            level = levels[key]
            if not level.marked:
                level.marked = True
                level.b_qty = level.qty
                level.b_count = level.count
                touched.append(level)
            price: int = level.price
            price_obj = level.price  # boxed once per level, not once per event field
            m = level.head
            while m is not None:
                if stp and m.account == t_acct:
                    # Self-trade prevention: no trade between these two orders.
                    nxt = m.next
                    m_leaves = m.qty + m.hidden
                    if stp in (STP_OLDEST, STP_BOTH):
                        level.unlink(m)
                        del orders[m.order_id]
                        if m.tif == GTD:
                            self._gtd_gone()
                        seq += 1
                        out.append(
                            EV.OrderCancelled(
                                sid, seq, enq, ts, m.order_id, m.account, C_SELF, m_leaves, 0
                            )
                        )
                        if stp == STP_OLDEST:
                            m = nxt
                            continue
                    if stp in (STP_NEWEST, STP_BOTH):
                        seq += 1
                        out.append(
                            EV.OrderCancelled(sid, seq, enq, ts, t_id, t_acct, C_SELF, rem, 0)
                        )
                        rem = 0
                        break
                    # Decrement and cancel: both shrink by the smaller leaves, no trade.
                    dec = m_leaves if m_leaves < rem else rem
                    m_leaves -= dec
                    rem -= dec
                    if m_leaves == 0:
                        level.unlink(m)
                        del orders[m.order_id]
                        if m.tif == GTD:
                            self._gtd_gone()
                    elif m.hidden >= dec:
                        m.hidden -= dec
                    else:
                        shown = dec - m.hidden
                        m.hidden = 0
                        m.qty -= shown
                        level.qty -= shown
                    seq += 1
                    out.append(
                        EV.OrderCancelled(
                            sid, seq, enq, ts, m.order_id, m.account, C_SELF, dec, m_leaves
                        )
                    )
                    seq += 1
                    out.append(EV.OrderCancelled(sid, seq, enq, ts, t_id, t_acct, C_SELF, dec, rem))
                    if rem == 0:
                        break
                    m = nxt
                    continue
                mq = m.qty
                q = mq if mq < rem else rem
                mq -= q
                rem -= q
                m.qty = mq
                m.filled += q
                t_filled += q
                level.qty -= q
                trade_id += 1
                last_px = price
                m_id = m.order_id
                # Each value used in several events is boxed once.
                q_obj: Any = q
                tid_obj: Any = trade_id
                out.append(
                    EV.OrderFilled(
                        sid,
                        seq + 1,
                        enq,
                        ts,
                        m_id,
                        m.account,
                        m.side,
                        MAKER,
                        price_obj,
                        q_obj,
                        mq + m.hidden,
                        tid_obj,
                    )
                )
                out.append(
                    EV.OrderFilled(
                        sid,
                        seq + 2,
                        enq,
                        ts,
                        t_id,
                        t_acct,
                        t_side,
                        TAKER,
                        price_obj,
                        q_obj,
                        rem,
                        tid_obj,
                    )
                )
                seq += 3
                out.append(
                    EV.TradeOccurred(
                        sid, seq, enq, ts, tid_obj, price_obj, q_obj, t_side, m_id, t_id
                    )
                )
                nxt = m.next
                if mq == 0:
                    hidden = m.hidden
                    if hidden:
                        # Iceberg refill: a new slice goes to the back of the level.
                        level.unlink(m)
                        display = m.display
                        s = display if display < hidden else hidden
                        m.hidden = hidden - s
                        m.qty = s
                        self.prio += 1
                        m.prio = self.prio
                        level.append(m)
                        if nxt is None:
                            nxt = m
                    else:
                        level.unlink(m)
                        del orders[m_id]
                        if m.tif == GTD:
                            self._gtd_gone()
                if rem == 0:
                    break
                m = nxt
            if level.count == 0:
                opp.drop_level(key)
        self.seq = seq
        if trade_id != self.trade_id:
            t.filled += t_filled
            self.trade_id = trade_id
            self.last_price = last_px
            self.traded = True
        return rem

    def _fok_fillable(
        self, opp: BookSide, limit_key: int, qty: int, account: int, stp: int
    ) -> bool:
        # Walk the levels the order would sweep, exactly as _take would meet them.
        need = qty
        for key in opp.sorted_keys():
            if key > limit_key:
                return False
            node = opp.levels[key].head
            while node is not None:
                if stp and node.account == account:
                    if stp != STP_OLDEST:
                        return False  # the taker would shrink or die without trading
                else:
                    need -= node.qty + node.hidden
                    if need <= 0:
                        return True
                node = node.next
        return False

    def _after_trades(self) -> None:
        # Band and stops follow the last trade price.
        self.traded = False
        if self.band_bps:
            self._set_band(self.last_price)
        if self.buy_stops or self.sell_stops:
            self._run_triggers()

    def _collect_triggers(self) -> list[tuple[Order, int]]:
        # Stops the last trade price reaches, with that price: buys (lowest stop first),
        # then sells (highest stop first); ties by arrival.
        last = self.last_price
        out: list[tuple[Order, int]] = []
        orders = self.orders
        if self.buy_stops and self.buy_stops[0][0] <= last:
            cut = bisect_right(self.buy_stops, (last, INF_KEY, INF_KEY))
            out.extend((orders[k[2]], last) for k in self.buy_stops[:cut])
            del self.buy_stops[:cut]
        if self.sell_stops and self.sell_stops[0][0] <= -last:
            cut = bisect_right(self.sell_stops, (-last, INF_KEY, INF_KEY))
            out.extend((orders[k[2]], last) for k in self.sell_stops[:cut])
            del self.sell_stops[:cut]
        return out

    def _run_triggers(self) -> None:
        """Enter every stop the last trade price reaches, in trigger order, cascading."""
        if not self.last_price:
            return
        queue = self._collect_triggers()
        i = 0
        while i < len(queue):
            o, trigger_px = queue[i]
            i += 1
            o.stop_pending = False
            self.seq += 1
            self.out.append(
                EV.StopTriggered(
                    self.symbol_id,
                    self.seq,
                    self.enq_seq,
                    self.ts_ns,
                    o.order_id,
                    o.account,
                    o.stop_price,
                    trigger_px,
                )
            )
            if o.order_type == STOP:
                limit_key = self._market_limit_key(o.side, o.protection)
            else:
                limit_key = o.price if o.side == BUY else -o.price
            # The triggered order is live (in self.orders) but in no level while it takes.
            rem = self._take(o, limit_key)
            if rem:
                if o.order_type == STOP or o.tif == IOC:
                    self._forget(o)
                    self._cancelled(o, C_IOC, rem, 0)
                else:
                    o.qty = rem
                    self._rest(o)
            else:
                self._forget(o)
            if self.traded:
                self.traded = False
                if self.band_bps:
                    self._set_band(self.last_price)
                queue.extend(self._collect_triggers())

    # ------------------------------------------------------------------ market data

    def flush_market_data(self) -> None:
        """Emit the net L2 changes and the BBO change of the command just processed."""
        bids = self.bids
        asks = self.asks
        bt = bids.touched
        at = asks.touched
        if not bt and not at:
            return
        out = self.out
        sid = self.symbol_id
        enq = self.enq_seq
        ts = self.ts_ns
        seq = self.seq
        bk = bids.best
        ak = asks.best
        # The top of book can only change if a best key moved or a best level was touched;
        # a touched level at the best key is the best level itself (no lookup needed).
        dirty = self.bbo_dirty
        bid_top: Level | None = None
        ask_top: Level | None = None
        # A touched Level object holds the level's state now: one that left the book has
        # count 0 and qty 0. Two touched Levels at one key (a level emptied, dropped and
        # opened again by the same command) are one change: before from the first,
        # after from the last. The bid and ask loops are unrolled on purpose: one helper
        # called per side measured +4.5% instructions per command.
        if bt:
            ordered = _in_key_order(bt) if len(bt) > 1 else bt
            n = len(ordered)
            i = 0
            while i < n:
                first = ordered[i]
                first.marked = False
                last = first
                key = first.key
                i += 1
                while i < n and ordered[i].key == key:
                    last = ordered[i]
                    last.marked = False
                    i += 1
                if key == bk:
                    dirty = True
                    bid_top = last
                qty = last.qty
                count = last.count
                if qty != first.b_qty or count != first.b_count:
                    seq += 1
                    out.append(EV.BookLevelChanged(sid, seq, enq, ts, BUY, first.price, qty, count))
            bt.clear()
        if at:
            ordered = _in_key_order(at) if len(at) > 1 else at
            n = len(ordered)
            i = 0
            while i < n:
                first = ordered[i]
                first.marked = False
                last = first
                key = first.key
                i += 1
                while i < n and ordered[i].key == key:
                    last = ordered[i]
                    last.marked = False
                    i += 1
                if key == ak:
                    dirty = True
                    ask_top = last
                qty = last.qty
                count = last.count
                if qty != first.b_qty or count != first.b_count:
                    seq += 1
                    out.append(
                        EV.BookLevelChanged(sid, seq, enq, ts, SELL, first.price, qty, count)
                    )
            at.clear()
        if bk == self.bbo_bid_key and ak == self.bbo_ask_key and not dirty:
            self.seq = seq
            return
        self.bbo_bid_key = bk
        self.bbo_ask_key = ak
        self.bbo_dirty = False
        bid_px: Any = 0
        ask_px: Any = 0
        if bk == INF_KEY:
            bid_qty = 0
        else:
            if bid_top is None:
                bid_top = bids.levels[bk]
            bid_px = bid_top.price
            bid_qty = bid_top.qty
        if ak == INF_KEY:
            ask_qty = 0
        else:
            if ask_top is None:
                ask_top = asks.levels[ak]
            ask_px = ask_top.price
            ask_qty = ask_top.qty
        if (
            bid_px != self.bbo_bid_px
            or bid_qty != self.bbo_bid_qty
            or ask_px != self.bbo_ask_px
            or ask_qty != self.bbo_ask_qty
        ):
            self.bbo_bid_px = bid_px
            self.bbo_bid_qty = bid_qty
            self.bbo_ask_px = ask_px
            self.bbo_ask_qty = ask_qty
            seq += 1
            out.append(EV.BestBidOfferChanged(sid, seq, enq, ts, bid_px, bid_qty, ask_px, ask_qty))
        self.seq = seq

    @property
    def bbo(self) -> tuple[int, int, int, int]:
        """Return the last published top of book (bid px, bid qty, ask px, ask qty)."""
        return (self.bbo_bid_px, self.bbo_bid_qty, self.bbo_ask_px, self.bbo_ask_qty)

    @bbo.setter
    def bbo(self, value: tuple[int, int, int, int]) -> None:
        self.bbo_bid_px, self.bbo_bid_qty, self.bbo_ask_px, self.bbo_ask_qty = value

    # ------------------------------------------------------------------ commands

    def new_order(self, c: NewOrder) -> None:
        """Validate, accept and execute a ``NewOrder``."""
        self.new_order_fields(c, _astuple(c))

    def new_order_fields(self, c: NewOrder, f: tuple[Any, ...]) -> None:
        """``new_order`` with ``f`` = ``astuple(c)`` (the engine's fast path has it)."""
        # f: symbol_id, order_id, account, side, order_type, tif, price_ticks, qty_lots,
        # stop_price_ticks, display_qty_lots, post_only, stp, expire_ts_ns, protection.
        # The objects go into OrderAccepted as they came (no re-boxing); ints check them.
        oid: int = f[1]
        acct: int = f[2]
        side: int = f[3]
        ot: int = f[4]
        tif: int = f[5]
        price: int = f[6]
        qty: int = f[7]
        stop_price: int = f[8]
        display: int = f[9]
        post_only: bool = f[10]
        stp: int = f[11]
        expire: int = f[12]
        protection: int = f[13]
        if (
            oid <= 0
            or (oid > _SHORT_MAX and oid > MAX_ID)
            or acct < 0
            or (acct > _SHORT_MAX and acct > MAX_ID)
            or price > MAX_PRICE
            or stop_price > MAX_PRICE
            or protection > MAX_PRICE
            or (expire > _SHORT_MAX and expire > MAX_ID)
        ):
            # An out-of-range id or account is not echoed back: it could not be journaled.
            return self._reject_range(c)
        dup = self.orders.get(oid)
        if dup is not None:
            return self._reject_duplicate(dup, acct)
        if side != BUY and side != SELL:
            return self.reject(oid, acct, R_SIDE)
        if ot < LIMIT or ot > STOP_LIMIT:
            return self.reject(oid, acct, R_TYPE)
        if tif < GTC or tif > DAY:
            return self.reject(oid, acct, R_TIF, d.D_TIF_UNKNOWN)
        if ot != LIMIT:
            if ot == MARKET and tif != IOC and tif != FOK:
                return self.reject(oid, acct, R_TIF, d.D_TIF_MARKET)
            if ot == STOP and tif not in _STOP_TIFS:
                return self.reject(oid, acct, R_TIF, d.D_TIF_STOP)
            if ot == STOP_LIMIT and tif not in _STOP_LIMIT_TIFS:
                return self.reject(oid, acct, R_TIF, d.D_TIF_STOP_LIMIT)
        if qty <= 0:
            return self.reject(
                oid, acct, R_QTY_NOT_POSITIVE, d.D_QTY_ZERO if qty == 0 else d.D_QTY_NEGATIVE
            )
        if qty < self.min_qty:
            return self.reject(oid, acct, R_QTY_BELOW_MIN)
        if qty > self.max_qty:
            return self.reject(oid, acct, R_QTY_ABOVE_MAX)
        if ot in (LIMIT, STOP_LIMIT):
            if price <= 0:
                return self.reject(oid, acct, R_PRICE_NOT_POSITIVE)
        elif price != 0:
            return self.reject(oid, acct, R_PRICE_NOT_ALLOWED)
        if ot in (STOP, STOP_LIMIT):
            if stop_price <= 0:
                return self.reject(oid, acct, R_STOP_MISSING)
        elif stop_price != 0:
            return self.reject(oid, acct, R_STOP_NOT_ALLOWED)
        if stp < STP_NONE or stp > STP_DECREMENT:
            return self.reject(oid, acct, R_STP)
        rests = ot == LIMIT and tif != IOC and tif != FOK
        if post_only and not rests:
            return self.reject(oid, acct, R_POST_ONLY)
        if display:
            if display < 0:
                return self.reject(oid, acct, R_DISPLAY, d.D_DISPLAY_NEGATIVE)
            if display > qty:
                return self.reject(oid, acct, R_DISPLAY, d.D_DISPLAY_ABOVE_QTY)
            if not rests:
                return self.reject(oid, acct, R_DISPLAY, d.D_DISPLAY_CANNOT_REST)
        if protection:
            if protection < 0:
                return self.reject(oid, acct, R_PROTECTION, d.D_PROTECTION_NEGATIVE)
            if ot != MARKET and ot != STOP:
                return self.reject(oid, acct, R_PROTECTION, d.D_PROTECTION_TYPE)
        if tif == GTD:
            if expire <= 0:
                return self.reject(oid, acct, R_GTD_MISSING)
            if expire <= self.ts_ns:
                return self.reject(oid, acct, R_GTD_EXPIRED)
        elif expire != 0:
            return self.reject(oid, acct, R_EXPIRY_NOT_ALLOWED)
        if (ot in (LIMIT, STOP_LIMIT)) and (price < self.band_lo or price > self.band_hi):
            return self.reject(
                oid, acct, R_BAND, d.D_BAND_BELOW if price < self.band_lo else d.D_BAND_ABOVE
            )
        limit_key = 0
        if ot in (LIMIT, MARKET):
            opp = self.asks if side == BUY else self.bids
            if ot == LIMIT:
                limit_key = price if side == BUY else -price
                if post_only and opp.best <= limit_key:
                    return self.reject(oid, acct, R_POST_ONLY_TAKE)
            else:
                limit_key = self._market_limit_key(side, protection)
                if opp.best > limit_key:
                    return self.reject(
                        oid,
                        acct,
                        R_NO_LIQUIDITY,
                        d.D_NO_LIQUIDITY_EMPTY if opp.best == INF_KEY else d.D_NO_LIQUIDITY_LIMIT,
                    )
            if tif == FOK and not self._fok_fillable(opp, limit_key, qty, acct, stp):
                return self.reject(oid, acct, R_FOK)

        self.seq += 1
        self.out.append(
            EV.OrderAccepted(
                self.symbol_id,
                self.seq,
                self.enq_seq,
                self.ts_ns,
                f[1],
                f[2],
                f[3],
                f[4],
                f[5],
                f[6],
                f[7],
                f[8],
                f[9],
            )
        )
        self.arrival += 1
        o = Order(
            f[1],
            f[2],
            side,
            ot,
            tif,
            price,
            qty,
            stop_price,
            display,
            post_only,
            stp,
            expire,
            protection,
            self.arrival,
        )
        o.entry_ts = self.ts_ns
        if ot in (STOP, STOP_LIMIT):
            o.stop_pending = True
            self.orders[oid] = o
            if tif == GTD:
                self._schedule_gtd(o)
            if side == BUY:
                insort(self.buy_stops, (stop_price, o.arrival, oid))
            else:
                insort(self.sell_stops, (-stop_price, o.arrival, oid))
            self._run_triggers()
        else:
            rem = self._take(o, limit_key)
            if rem:
                if ot == MARKET or tif in (IOC, FOK):
                    self._cancelled(o, C_IOC, rem, 0)
                else:
                    o.qty = rem
                    self._rest(o)
                    if tif == GTD:
                        self._schedule_gtd(o)
            if self.traded:
                self._after_trades()
        self.flush_market_data()
        return None

    def _owned(self, order_id: Any, account: Any) -> Order | None:
        # The live order, or None after emitting the reject that says why not.
        o = self.orders.get(order_id)
        if o is None:
            self.reject(order_id, account or 0, R_UNKNOWN_ORDER)
            return None
        if account is not None and account != o.account:
            self.reject(order_id, account, R_ACCOUNT)
            return None
        return o

    def cancel(self, c: CancelOrder) -> None:
        """Cancel a live order (resting or parked stop)."""
        self.cancel_fields(_astuple(c))

    def cancel_fields(self, f: tuple[Any, ...]) -> None:
        """``cancel`` with ``f`` = ``astuple(c)``: symbol_id, order_id, account."""
        o = self._owned(f[1], f[2])
        if o is None:
            return
        leaves = o.qty + o.hidden
        self._remove_live(o)
        self._cancelled(o, C_USER, leaves, 0)
        self.flush_market_data()

    def _check_new_terms(self, o: Order, price: int, total: int, qty_given: bool) -> int:
        # Shared validation of modify and replace; returns a reject code or 0.
        if qty_given:
            if total <= 0:
                return R_QTY_NOT_POSITIVE
            if total < self.min_qty:
                return R_QTY_BELOW_MIN
            if total > self.max_qty:
                return R_QTY_ABOVE_MAX
        if price <= 0:
            return R_PRICE_NOT_POSITIVE
        if price != o.price and (price < self.band_lo or price > self.band_hi):
            return R_BAND
        if o.post_only:
            opp = self.asks if o.side == BUY else self.bids
            if opp.best <= (price if o.side == BUY else -price):
                return R_POST_ONLY_TAKE
        return 0

    def _terms_detail(self, code: int, price: int, total: int) -> int:
        # The detail of a _check_new_terms reject.
        if code == R_BAND:
            return d.D_BAND_BELOW if price < self.band_lo else d.D_BAND_ABOVE
        if code == R_QTY_NOT_POSITIVE:
            return d.D_QTY_ZERO if total == 0 else d.D_QTY_NEGATIVE
        return d.D_NONE

    def _reject_duplicate(self, live: Order, account: int) -> None:
        # DUPLICATE_ORDER_ID: the id belongs to ``live``, a resting order or a parked stop.
        detail = d.D_DUPLICATE_PARKED if live.stop_pending else d.D_DUPLICATE_RESTING
        self.reject(live.order_id, account, R_DUPLICATE, detail)

    def _reject_range(self, c: NewOrder) -> None:
        # VALUE_OUT_OF_RANGE for a NewOrder, naming the first field out of range.
        oid = c.order_id
        acct = c.account
        if oid <= 0 or oid > MAX_ID:
            detail = d.D_RANGE_ORDER_ID
        elif acct < 0 or acct > MAX_ID:
            detail = d.D_RANGE_ACCOUNT
        elif c.price_ticks > MAX_PRICE:
            detail = d.D_RANGE_PRICE
        elif c.stop_price_ticks > MAX_PRICE:
            detail = d.D_RANGE_STOP_PRICE
        elif c.protection_price_ticks > MAX_PRICE:
            detail = d.D_RANGE_PROTECTION
        else:
            detail = d.D_RANGE_EXPIRY
        self.reject(
            oid if 0 < oid <= MAX_ID else 0, acct if 0 <= acct <= MAX_ID else 0, R_RANGE, detail
        )

    def modify(self, c: ModifyOrder) -> None:
        """Change a resting order's price and/or remaining quantity."""
        self.modify_fields(c, _astuple(c))

    def modify_fields(self, c: ModifyOrder, f: tuple[Any, ...]) -> None:
        """``modify`` with ``f`` = ``astuple(c)``: symbol_id, order_id, price, qty, account."""
        o = self.orders.get(f[1])
        price_obj = f[2]
        price: int = price_obj
        qty: int = f[3]
        if (
            o is None
            or qty
            or price <= 0
            or price == o.price
            or o.stop_pending
            or o.post_only
            or f[4] is not None
            or price < self.band_lo
            or price > self.band_hi
            or price > MAX_PRICE
        ):
            self._modify_checked(c)
            return
        # Fast path, the exchange-core "move": a new price for a resting order, same
        # leaves, nothing to validate beyond the band. Same events as _modify_checked.
        leaves = o.qty + o.hidden
        seq = self.seq + 1
        self.seq = seq
        self.out.append(
            EV.OrderModified(
                self.symbol_id,
                seq,
                self.enq_seq,
                self.ts_ns,
                o.order_id,
                o.account,
                price_obj,
                leaves,
                False,
            )
        )
        self._reprice(o, price, leaves)

    def _reprice(self, o: Order, price: int, leaves: int) -> None:
        # Move a resting order to a new price with ``leaves`` left: it loses priority,
        # may trade on arrival, and rests what is left at the back of its new level.
        level = o.level
        assert level is not None
        if o.side == BUY:
            side = self.bids
            opp = self.asks
            key = -o.price
            new_key = -price
            limit_key = price
        else:
            side = self.asks
            opp = self.bids
            key = o.price
            new_key = price
            limit_key = -price
        if not level.marked:
            level.marked = True
            level.b_qty = level.qty
            level.b_count = level.count
            side.touched.append(level)
        level.unlink(o)
        if level.count == 0:
            side.drop_level(key)
        o.price = price
        o.qty = leaves
        o.hidden = 0
        if opp.best <= limit_key:
            rem = self._take(o, limit_key)
            if rem:
                o.qty = rem
                self._rest(o)
            else:
                self._forget(o)
            if self.traded:
                self._after_trades()
        else:
            display = o.display
            if display and display < leaves:
                o.qty = display
                o.hidden = leaves - display
            target = side.levels.get(new_key)
            if target is None:
                target = side.level_for(new_key, price)
            if not target.marked:
                target.marked = True
                target.b_qty = target.qty
                target.b_count = target.count
                side.touched.append(target)
            self.prio += 1
            o.prio = self.prio
            target.append(o)
        self.flush_market_data()

    def _modify_checked(self, c: ModifyOrder) -> None:
        # Every modify the fast path does not take, with the full checks in contract order.
        o = self._owned(c.order_id, c.account)
        if o is None:
            return
        acct = o.account
        # Rejects answer the sender: they carry the command's account, never the owner's.
        racct = c.account or 0
        if c.price_ticks > MAX_PRICE:
            return self.reject(o.order_id, racct, R_RANGE, d.D_RANGE_PRICE)
        if o.stop_pending:
            return self.reject(o.order_id, racct, R_NOT_MODIFIABLE)
        if c.price_ticks < 0:
            return self.reject(o.order_id, racct, R_PRICE_NOT_POSITIVE)
        if c.qty_lots < 0:
            return self.reject(o.order_id, racct, R_QTY_NOT_POSITIVE, d.D_QTY_NEGATIVE)
        price = c.price_ticks or o.price
        leaves = o.qty + o.hidden
        total = c.qty_lots or leaves
        if price == o.price and total == leaves:
            return self.reject(o.order_id, racct, R_NO_CHANGE)
        code = self._check_new_terms(o, price, total, c.qty_lots != 0)
        if code:
            return self.reject(o.order_id, racct, code, self._terms_detail(code, price, total))
        keep = price == o.price and total < leaves
        self.seq += 1
        self.out.append(
            EV.OrderModified(
                self.symbol_id,
                self.seq,
                self.enq_seq,
                self.ts_ns,
                o.order_id,
                acct,
                price,
                total,
                keep,
            )
        )
        if price != o.price:
            self._reprice(o, price, total)
            return None
        level = o.level
        assert level is not None
        side = self.bids if o.side == BUY else self.asks
        if not level.marked:
            level.marked = True
            level.b_qty = level.qty
            level.b_count = level.count
            side.touched.append(level)
        if keep:
            # Shrink in place: the reserve goes first, then the displayed slice.
            shown = o.qty if o.qty < total else total
            level.qty -= o.qty - shown
            o.qty = shown
            o.hidden = total - shown
        else:
            # Same price, more quantity: to the back of the level.
            level.unlink(o)
            o.qty = total
            self._rest(o)
        self.flush_market_data()
        return None

    def replace(self, c: CancelReplace) -> None:
        """Replace a resting order by a new one (new id, price, quantity, priority)."""
        o = self._owned(c.order_id, c.account)
        if o is None:
            return
        acct = o.account
        racct = c.account or 0
        new_id = c.new_order_id
        if new_id <= 0 or new_id > MAX_ID:
            return self.reject(o.order_id, racct, R_RANGE, d.D_RANGE_NEW_ORDER_ID)
        if c.price_ticks > MAX_PRICE:
            return self.reject(o.order_id, racct, R_RANGE, d.D_RANGE_PRICE)
        if o.stop_pending:
            return self.reject(o.order_id, racct, R_NOT_MODIFIABLE)
        dup = self.orders.get(new_id)
        if dup is not None:
            return self._reject_duplicate(dup, racct)
        code = self._check_new_terms(o, c.price_ticks, c.qty_lots, True)
        if code:
            return self.reject(
                o.order_id, racct, code, self._terms_detail(code, c.price_ticks, c.qty_lots)
            )
        self._remove_resting(o)
        self.seq += 1
        self.out.append(
            EV.OrderReplaced(
                self.symbol_id,
                self.seq,
                self.enq_seq,
                self.ts_ns,
                o.order_id,
                new_id,
                acct,
                c.price_ticks,
                c.qty_lots,
            )
        )
        self.arrival += 1
        n = Order(
            new_id,
            acct,
            o.side,
            o.order_type,
            o.tif,
            c.price_ticks,
            c.qty_lots,
            0,
            o.display,
            o.post_only,
            o.stp,
            o.expire_ts,
            0,
            self.arrival,
        )
        n.entry_ts = self.ts_ns
        rem = self._take(n, n.price if n.side == BUY else -n.price)
        if rem:
            n.qty = rem
            self._rest(n)
            if n.tif == GTD:
                self._schedule_gtd(n)
        if self.traded:
            self._after_trades()
        self.flush_market_data()
        return None

    def mass_cancel(self, c: MassCancel) -> None:
        """Cancel every live order of one account, or all, in arrival order."""
        account = c.account
        victims = [o for o in self.orders.values() if account is None or o.account == account]
        for o in victims:
            leaves = o.qty + o.hidden
            self._remove_live(o)
            self._cancelled(o, C_MASS, leaves, 0)
        self.flush_market_data()

    def _expire(self, o: Order) -> None:
        leaves = o.qty + o.hidden
        self._remove_live(o)
        self.seq += 1
        self.out.append(
            EV.OrderExpired(
                self.symbol_id, self.seq, self.enq_seq, self.ts_ns, o.order_id, o.account, leaves
            )
        )

    def expire_until(self, now_ns: int) -> None:
        """Expire every GTD order whose expiry is at or before ``now_ns``."""
        orders = self.orders
        expired = False
        # Re-read the heap every round: an expiry may compact it into a new list.
        while self.gtd_heap and self.gtd_heap[0][0] <= now_ns:
            _, arrival, oid = EV.heappop(self.gtd_heap)
            o = orders.get(oid)
            if o is not None and o.arrival == arrival:
                self._expire(o)
                expired = True
        if expired:
            self.flush_market_data()

    def end_session(self) -> None:
        """Expire every DAY order, in arrival order."""
        for o in [o for o in self.orders.values() if o.tif == DAY]:
            self._expire(o)
        self.flush_market_data()

    # ------------------------------------------------------------------ views

    def depth(
        self, levels: int | None
    ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """Return the best ``levels`` (None: all) bid and ask levels as (price, qty, count)."""
        bids = [
            (-k, self.bids.levels[k].qty, self.bids.levels[k].count)
            for k in self.bids.sorted_keys(levels)
        ]
        asks = [
            (k, self.asks.levels[k].qty, self.asks.levels[k].count)
            for k in self.asks.sorted_keys(levels)
        ]
        return bids, asks

    def level_orders(self, side: int) -> list[tuple[int, list[Order]]]:
        """Return (price, orders in priority) per level of ``side``, best first."""
        book_side = self.bids if side == BUY else self.asks
        return [
            (book_side.levels[k].price, book_side.levels[k].orders())
            for k in book_side.sorted_keys()
        ]

    def stops(self) -> list[Order]:
        """Return parked stops: buys then sells, each in trigger order."""
        return [self.orders[k[2]] for k in self.buy_stops] + [
            self.orders[k[2]] for k in self.sell_stops
        ]

    @property
    def best_bid(self) -> int:
        """Return the best bid price in ticks, 0 when there is none."""
        return -self.bids.best if self.bids.best != INF_KEY else 0

    @property
    def best_ask(self) -> int:
        """Return the best ask price in ticks, 0 when there is none."""
        return self.asks.best if self.asks.best != INF_KEY else 0

    def state_hash(self) -> str:
        """Return a hex digest of everything that decides future behaviour."""
        h = hashlib.blake2b(digest_size=16)
        h.update(
            _HASH_HEAD.pack(
                self.symbol_id,
                self.seq,
                self.trade_id,
                self.arrival,
                self.last_price,
                self.band_lo,
                self.band_hi if self.band_hi != INF_KEY else NO_BAND_HI,
            )
        )
        for side in (BUY, SELL):
            for price, orders in self.level_orders(side):
                h.update(price.to_bytes(8, "little", signed=True))
                for o in orders:
                    h.update(_pack_order(o))
        for o in self.stops():
            h.update(_pack_order(o))
        return h.hexdigest()

    def validate_internal_state(self) -> None:
        """Check every structural invariant; raise ``AssertionError`` naming the first broken."""
        seen: set[int] = set()
        for side in (self.bids, self.asks):
            live = [k for k in side.heap if k in side.levels]
            if set(live) != set(side.levels):
                raise AssertionError("every level key must be in the heap")
            expected_best = min(side.levels) if side.levels else INF_KEY
            if side.best != expected_best:
                raise AssertionError(f"best key {side.best} != {expected_best}")
            if side.touched:
                raise AssertionError("touched levels left over after a command")
            if any(level.marked for level in side.levels.values()):
                raise AssertionError("a level is still marked as touched")
            for key, level in side.levels.items():
                price = -key if side.code == BUY else key
                if level.price != price:
                    raise AssertionError(f"level at key {key} has price {level.price}")
                nodes = level.orders()
                if not nodes:
                    raise AssertionError(f"empty level at {price}")
                if level.count != len(nodes) or level.qty != sum(o.qty for o in nodes):
                    raise AssertionError(f"level {price} totals do not match its orders")
                prev_prio = 0
                for o in nodes:
                    if o.price != price or o.side != side.code or o.level is not level:
                        raise AssertionError(f"order {o.order_id} misplaced")
                    if o.prio <= prev_prio:
                        raise AssertionError(f"time priority broken at {price}")
                    prev_prio = o.prio
                    if o.qty <= 0 or o.hidden < 0 or (o.hidden and not o.display):
                        raise AssertionError(f"order {o.order_id} has bad quantities")
                    if self.orders.get(o.order_id) is not o:
                        raise AssertionError(f"order {o.order_id} not in the id map")
                    seen.add(o.order_id)
        if (
            self.bids.best != INF_KEY
            and self.asks.best != INF_KEY
            and -self.bids.best >= self.asks.best
        ):
            raise AssertionError("book is crossed at rest")
        if self.buy_stops != sorted(self.buy_stops) or self.sell_stops != sorted(self.sell_stops):
            raise AssertionError("stop lists out of order")
        for o in self.stops():
            if not o.stop_pending or o.level is not None:
                raise AssertionError(f"stop {o.order_id} in a bad state")
            seen.add(o.order_id)
        if seen != set(self.orders):
            raise AssertionError("id map holds orders that are neither resting nor parked")
        arrivals = [o.arrival for o in self.orders.values()]
        if arrivals != sorted(arrivals):
            raise AssertionError("id map is not in arrival order")
        gtd = {(o.expire_ts, o.arrival, o.order_id) for o in self.orders.values() if o.tif == GTD}
        if len(gtd) != self.gtd_live:
            raise AssertionError(f"gtd_live {self.gtd_live} != {len(gtd)} live GTD orders")
        if not gtd <= set(self.gtd_heap):
            raise AssertionError("a live GTD order is missing from the expiry heap")
        if len(self.gtd_heap) > 2 * self.gtd_live + 65:
            raise AssertionError(
                f"expiry heap holds {len(self.gtd_heap)} entries for {self.gtd_live} live orders"
            )


def _level_key(level: Level) -> int:
    return level.key


def _in_key_order(touched: list[Level]) -> list[Level]:
    # A command touches one or two levels per side almost always: order two by hand
    # (sorted() is measurably slower for two), anything more by a stable sort on the key.
    if len(touched) == 2:
        a = touched[0]
        b = touched[1]
        return touched if a.key <= b.key else [b, a]
    return sorted(touched, key=_level_key)


def _pack_order(o: Order) -> bytes:
    return _HASH_ORDER.pack(
        o.order_id,
        o.account,
        o.side,
        o.order_type,
        o.tif,
        o.price,
        o.qty,
        o.hidden,
        o.display,
        o.stop_price,
        o.stp | (int(o.post_only) << 8),
        o.expire_ts,
        o.arrival,
    ) + o.protection.to_bytes(8, "little", signed=True)
