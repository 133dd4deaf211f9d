"""A market-by-order book builder: applies recorded order-level events, never matches.

``MarketByOrderBook`` keeps one instrument's visible orders in exact queue order, the way
the source reported them (``whistle.core.mbo`` events from ``whistle.feed``), and
answers L1 (``bbo``), MBP-N (``depth``) and L3 (``level_orders``, ``queue_position``).

Representation: as in the matching book (``whistle.book.book``), each side maps a *key*
to a level (asks: the price, bids: the negated price, so the best level is the smallest
key on both sides) and a lazy min-heap of keys finds the next best level; a level is an
intrusive doubly linked FIFO of ``__slots__`` nodes, so add, cancel, execute and delete
are O(1) and nothing is left behind. The nodes are this module's own (``MboOrder`` has 8
fields where the matching book's ``Order`` has 20: a million live orders must fit in
memory).

Bad data never raises by default: an execute / cancel / modify of an unknown order, a
quantity going negative, a duplicate add, a crossed book after a complete update
(``FLAG_LAST``) and a timestamp going backwards are *anomalies*, counted by kind in
``anomalies`` with the message index (the event's ``sequence`` when it has one, else the
book's own 1-based event count) logged in ``anomaly_log`` (the first
``max_logged``). With ``policy="strict"`` the first anomaly raises ``MboAnomalyError``
naming the message index instead (before the book changes, except for a crossed book,
which is found after the update).

What changed: ``apply`` returns a bitmask (``CHANGED_BOOK``, ``CHANGED_BBO``,
``CHANGED_TRADE``) computed from the one or two levels an event touches, without
building anything; ``deltas()`` builds the per-event level changes only when asked. A
strategy that wants BBO changes tests ``apply(e) & CHANGED_BBO`` and reads ``bbo()``.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Final, cast, final

from whistle.core.errors import WhistleError
from whistle.core.mbo import (
    MboAdd,
    MboCancel,
    MboClear,
    MboDelete,
    MboEvent,
    MboExecute,
    MboModify,
    MboStatus,
    MboTrade,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ANOMALY_KINDS",
    "CHANGED_BBO",
    "CHANGED_BOOK",
    "CHANGED_TRADE",
    "MarketByOrderBook",
    "MboAnomalyError",
    "MboLevel",
    "MboOrder",
]

# Literal Final ints (mypyc inlines them); tests/unit/book/test_mbo.py pins them to
# whistle.core.mbo / whistle.core.enums.
BUY: Final = 1
SELL: Final = 2
NO_PRICE: Final = (1 << 63) - 1
FLAG_LAST: Final = 1 << 7
FLAG_SYNTHETIC: Final = 1 << 8
PRIORITY_LOSE: Final = 1
PRIORITY_KEEP_ON_DECREASE: Final = 2
PRIORITY_KEEP: Final = 3

_ADD: Final = MboAdd
_DELETE: Final = MboDelete
_CANCEL: Final = MboCancel
_EXECUTE: Final = MboExecute
_MODIFY: Final = MboModify
_TRADE: Final = MboTrade
_CLEAR: Final = MboClear
_STATUS: Final = MboStatus

INF_KEY: Final = 1 << 62
"""Key of an empty side's best level."""

CHANGED_BOOK: Final = 1
"""The event changed at least one visible level (see ``deltas()``)."""
CHANGED_BBO: Final = 2
"""The best bid or best ask (price, quantity or order count) changed."""
CHANGED_TRADE: Final = 4
"""The event reported a trade (``last_trade_price`` / ``last_trade_qty``)."""

UNKNOWN_ORDER: Final = "unknown_order"
DUPLICATE_ORDER: Final = "duplicate_order"
NEGATIVE_QTY: Final = "negative_qty"
CROSSED_BOOK: Final = "crossed_book"
TIME_REVERSAL: Final = "time_reversal"
BAD_ORDER: Final = "bad_order"
ANOMALY_KINDS: Final = (
    UNKNOWN_ORDER,
    DUPLICATE_ORDER,
    NEGATIVE_QTY,
    CROSSED_BOOK,
    TIME_REVERSAL,
    BAD_ORDER,
)
"""Every anomaly kind ``MarketByOrderBook.anomalies`` counts."""


class MboAnomalyError(WhistleError):
    """A ``strict`` book met bad data; ``index`` is the message index, ``kind`` the anomaly."""

    def __init__(self, index: int, kind: str, detail: str) -> None:
        super().__init__(f"message {index}: {kind}: {detail}")
        self.index = index
        self.kind = kind
        self.detail = detail


@final
class MboOrder:
    """One visible order resting in a level (``flags`` has ``FLAG_SYNTHETIC`` for a seed)."""

    __slots__ = ("flags", "level", "next", "order_id", "prev", "price", "qty", "side")

    def __init__(self, order_id: int, side: int, price: int, qty: int, flags: int) -> None:
        self.order_id = order_id
        self.side = side
        self.price = price
        self.qty = qty
        self.flags = flags
        self.level: MboLevel | None = None
        self.prev: MboOrder | None = None
        self.next: MboOrder | None = None

    @property
    def synthetic(self) -> bool:
        """Return True for an order invented to seed the book from a depth snapshot."""
        return bool(self.flags & FLAG_SYNTHETIC)

    def __repr__(self) -> str:
        return f"MboOrder(id={self.order_id}, side={self.side}, px={self.price}, qty={self.qty})"


@final
class MboLevel:
    """The orders at one price on one side, in queue order; ``qty`` / ``count`` totals."""

    __slots__ = ("count", "head", "price", "qty", "tail")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0
        self.count = 0
        self.head: MboOrder | None = None
        self.tail: MboOrder | None = None

    def append(self, order: MboOrder) -> None:
        """Put ``order`` at the back of the queue."""
        tail = self.tail
        order.prev = tail
        order.next = None
        order.level = self
        if tail is None:
            self.head = order
        else:
            tail.next = order
        self.tail = order
        self.count += 1
        self.qty += order.qty

    def unlink(self, order: MboOrder) -> None:
        """Take ``order`` out of the queue (its qty leaves the level's total)."""
        prev = order.prev
        nxt = order.next
        if prev is None:
            self.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            self.tail = prev
        else:
            nxt.prev = prev
        order.prev = None
        order.next = None
        order.level = None
        self.count -= 1
        self.qty -= order.qty

    def orders(self) -> list[MboOrder]:
        """Return the level's orders in queue order."""
        out: list[MboOrder] = []
        node = self.head
        while node is not None:
            out.append(node)
            node = node.next
        return out


@final
class _Side:
    """One side: levels by key, a lazy heap of keys, the best key."""

    __slots__ = ("best", "code", "heap", "levels")

    def __init__(self, code: int) -> None:
        self.code = code
        self.levels: dict[int, MboLevel] = {}
        self.heap: list[int] = []
        self.best = INF_KEY

    def level_for(self, key: int, price: int) -> MboLevel:
        level = self.levels.get(key)
        if level is None:
            level = MboLevel(price)
            self.levels[key] = level
            heap = self.heap
            if len(heap) > 2 * len(self.levels) + 64:
                heap = self.heap = sorted(self.levels)  # a sorted list is a heap
            else:
                heapq.heappush(heap, key)
            if key < self.best:
                self.best = key
        return level

    def drop_level(self, key: int) -> None:
        del self.levels[key]
        if key == self.best:
            heap = self.heap
            levels = self.levels
            while heap:
                top = heap[0]
                if top in levels:
                    self.best = top
                    return
                heapq.heappop(heap)
            self.best = INF_KEY

    def clear(self) -> None:
        self.levels = {}
        self.heap = []
        self.best = INF_KEY


@final
class MarketByOrderBook:
    """One instrument's order-level book, built from ``whistle.core.mbo`` events."""

    def __init__(
        self, instrument_id: int = 0, policy: str = "lenient", max_logged: int = 1000
    ) -> None:
        if policy not in ("lenient", "strict"):
            raise ValueError(f"policy must be 'lenient' or 'strict', not {policy!r}")
        self.instrument_id = instrument_id
        self.strict = policy == "strict"
        self.max_logged = max_logged
        self.bids = _Side(BUY)
        self.asks = _Side(SELL)
        self.orders: dict[int, MboOrder] = {}
        self.index = 0
        """Events applied so far (the message index of the last one when it has no
        ``sequence``)."""
        self.last_ts = 0
        self.status = 0
        """The last ``MboStatus.status`` seen (``STATUS_*``; 0 before any)."""
        self.crossed = False
        self.anomalies: dict[str, int] = {}
        self.anomaly_log: list[tuple[int, str, str]] = []
        self.synthetic_hits = 0
        """Cancels / executions of unknown ids served by a synthetic seed order."""
        self.last_trade_price = NO_PRICE
        self.last_trade_qty = 0
        self.volume = 0
        """Printable traded quantity (executions and non-displayed trades)."""
        self.notional = 0
        """Sum of price x qty over the printable trades (VWAP = notional / volume)."""
        self._next_synthetic = 0
        # The levels the last event touched: (side, key) twice at most, or a list after
        # a clear / snapshot; deltas() reads their state on demand.
        self._d_count = 0
        self._d1_side = 0
        self._d1_key = 0
        self._d2_side = 0
        self._d2_key = 0
        self._d_many: list[tuple[int, int]] = []

    # ------------------------------------------------------------------ anomalies

    def _anomaly(self, src: MboEvent | None, kind: str, detail: str) -> None:
        # ``src``: the event being applied (its sequence names the message), if any.
        seq = src.sequence if src is not None else 0
        index = seq if seq else self.index
        if self.strict:
            raise MboAnomalyError(index, kind, detail)
        self.anomalies[kind] = self.anomalies.get(kind, 0) + 1
        if len(self.anomaly_log) < self.max_logged:
            self.anomaly_log.append((index, kind, detail))

    @property
    def anomaly_count(self) -> int:
        """Return the number of anomalies counted so far."""
        return sum(self.anomalies.values())

    # ------------------------------------------------------------------ apply

    def apply(self, e: MboEvent) -> int:
        """Apply one event; return the ``CHANGED_*`` bits it caused."""
        self.index += 1
        self._d_count = 0
        ts = e.ts_ns
        if ts < self.last_ts:
            self._anomaly(e, TIME_REVERSAL, f"ts_ns {ts} < previous {self.last_ts}")
        else:
            self.last_ts = ts
        # Dispatch on the exact type: a pointer compare. (isinstance() on a msgspec Struct
        # class goes through its metaclass's __instancecheck__: ~450 instructions.)
        t = type(e)
        if t is _ADD:
            a = cast("MboAdd", e)
            r = self._add(a.order_id, a.side, a.price, a.qty, a.flags, a)
        elif t is _DELETE:
            d = cast("MboDelete", e)
            r = self._cancel(d.order_id, -1, d.side, d.price, d)
        elif t is _CANCEL:
            c = cast("MboCancel", e)
            r = self._cancel(c.order_id, c.qty, c.side, c.price, c)
        elif t is _EXECUTE:
            r = self._execute(cast("MboExecute", e))
        elif t is _MODIFY:
            r = self._modify(cast("MboModify", e))
        elif t is _TRADE:
            tr = cast("MboTrade", e)
            qty = tr.qty
            self.last_trade_price = tr.price
            self.last_trade_qty = qty
            if tr.printable:
                self.volume += qty
                self.notional += tr.price * qty
            return CHANGED_TRADE
        elif t is _CLEAR:
            return self._clear()
        elif t is _STATUS:
            self.status = cast("MboStatus", e).status
            return 0
        else:
            return 0
        if r and e.flags & FLAG_LAST:
            bb = self.bids.best
            ba = self.asks.best
            if bb != INF_KEY and ba != INF_KEY and -bb >= ba:
                if not self.crossed:
                    self.crossed = True
                    self._anomaly(e, CROSSED_BOOK, f"best bid {-bb} >= best ask {ba}")
            else:
                self.crossed = False
        return r

    def _touch(self, side: int, key: int) -> None:
        # Remember a level this event changed: two in fields, more (rare) in a list.
        n = self._d_count
        if n == 0:
            self._d1_side = side
            self._d1_key = key
            self._d_count = 1
        elif n == 1:
            if side != self._d1_side or key != self._d1_key:
                self._d2_side = side
                self._d2_key = key
                self._d_count = 2
        elif n == 2:
            if (side != self._d1_side or key != self._d1_key) and (
                side != self._d2_side or key != self._d2_key
            ):
                self._d_many = [(self._d1_side, self._d1_key), (self._d2_side, self._d2_key)]
                self._d_many.append((side, key))
                self._d_count = -1
        elif (side, key) not in self._d_many:
            self._d_many.append((side, key))

    def _add(
        self, order_id: int, side: int, price: int, qty: int, flags: int, src: MboEvent | None
    ) -> int:
        if qty <= 0 or (side != BUY and side != SELL) or price == NO_PRICE:
            self._anomaly(
                src, BAD_ORDER, f"add of order {order_id}: side {side}, price {price}, qty {qty}"
            )
            return 0
        r = 0
        old = self.orders.get(order_id)
        if old is not None:
            self._anomaly(src, DUPLICATE_ORDER, f"add of order {order_id}, already in the book")
            r = self._remove(old)
        o = MboOrder(order_id, side, price, qty, flags)
        if side == BUY:
            book_side = self.bids
            key = -price
        else:
            book_side = self.asks
            key = price
        book_side.level_for(key, price).append(o)
        self.orders[order_id] = o
        self._touch(side, key)
        if key <= book_side.best:
            return r | CHANGED_BOOK | CHANGED_BBO
        return r | CHANGED_BOOK

    def _remove(self, o: MboOrder) -> int:
        # Take a resting order out of its level and out of the book.
        level = o.level
        assert level is not None
        if o.side == BUY:
            book_side = self.bids
            key = -o.price
        else:
            book_side = self.asks
            key = o.price
        r = CHANGED_BOOK | CHANGED_BBO if key == book_side.best else CHANGED_BOOK
        level.unlink(o)
        if level.count == 0:
            book_side.drop_level(key)
        del self.orders[o.order_id]
        self._touch(o.side, key)
        return r

    def _reduce(self, o: MboOrder, qty: int, src: MboEvent | None, what: str) -> int:
        # Take ``qty`` off an order (-1: all of it); the remainder going negative is an
        # anomaly, and the order leaves the book.
        left = o.qty
        if qty < 0 or qty == left:
            return self._remove(o)
        if qty > left:
            self._anomaly(
                src, NEGATIVE_QTY, f"{what} of {qty} on order {o.order_id} with {left} left"
            )
            return self._remove(o)
        if qty == 0:
            return 0
        level = o.level
        assert level is not None
        o.qty = left - qty
        level.qty -= qty
        if o.side == BUY:
            key = -o.price
            best = self.bids.best
        else:
            key = o.price
            best = self.asks.best
        self._touch(o.side, key)
        return CHANGED_BOOK | CHANGED_BBO if key == best else CHANGED_BOOK

    def _synthetic_at(self, side: int, price: int) -> MboOrder | None:
        # The first synthetic seed order queued at (side, price), if any.
        if price == NO_PRICE or (side != BUY and side != SELL):
            return None
        level = self.bids.levels.get(-price) if side == BUY else self.asks.levels.get(price)
        if level is None:
            return None
        node = level.head
        while node is not None:
            if node.flags & FLAG_SYNTHETIC:
                return node
            node = node.next
        return None

    def _cancel(self, order_id: int, qty: int, side: int, price: int, src: MboEvent | None) -> int:
        o = self.orders.get(order_id)
        if o is None:
            o = self._synthetic_at(side, price)
            if o is None:
                what = "delete" if qty < 0 else "cancel"
                self._anomaly(src, UNKNOWN_ORDER, f"{what} of order {order_id}, not in the book")
                return 0
            self.synthetic_hits += 1
            if qty < 0:
                return 0  # the deleted order's size is unknown: leave the seed alone
        return self._reduce(o, qty, src, "cancel")

    def _execute(self, e: MboExecute) -> int:
        order_id = e.order_id
        qty = e.qty
        o = self.orders.get(order_id)
        if o is None:
            o = self._synthetic_at(e.side, e.price)
            if o is None:
                self._anomaly(e, UNKNOWN_ORDER, f"execution of order {order_id}, not in the book")
                return 0
            self.synthetic_hits += 1
        price = e.price
        if price == NO_PRICE:
            price = o.price
        self.last_trade_price = price
        self.last_trade_qty = qty
        if e.printable:
            self.volume += qty
            self.notional += price * qty
        return self._reduce(o, qty, e, "execution") | CHANGED_TRADE

    def _modify(self, e: MboModify) -> int:
        order_id = e.order_id
        new_id = e.new_order_id
        qty = e.qty
        price = e.price
        o = self.orders.get(order_id)
        if o is None:
            self._anomaly(e, UNKNOWN_ORDER, f"modify of order {order_id}, not in the book")
            if e.side == BUY or e.side == SELL:
                return self._add(new_id, e.side, price, qty, e.flags, e)
            return 0
        if qty <= 0:
            self._anomaly(e, BAD_ORDER, f"modify of order {order_id} to qty {qty}")
            return self._remove(o)
        if price == NO_PRICE:
            price = o.price
        r = 0
        if new_id != order_id:
            other = self.orders.get(new_id)
            if other is not None:
                self._anomaly(
                    e, DUPLICATE_ORDER, f"modify of {order_id} to id {new_id}, already in use"
                )
                r = self._remove(other)
        prio = e.priority
        side = o.side
        if price == o.price and (
            prio == PRIORITY_KEEP or (prio == PRIORITY_KEEP_ON_DECREASE and qty <= o.qty)
        ):
            # Keeps its place: the quantity changes in place (and the id, if renamed).
            level = o.level
            assert level is not None
            if new_id != order_id:
                del self.orders[order_id]
                o.order_id = new_id
                self.orders[new_id] = o
            if qty == o.qty:
                return r
            level.qty += qty - o.qty
            o.qty = qty
            if side == BUY:
                key = -price
                best = self.bids.best
            else:
                key = price
                best = self.asks.best
            self._touch(side, key)
            return r | (CHANGED_BOOK | CHANGED_BBO if key == best else CHANGED_BOOK)
        flags = o.flags
        r |= self._remove(o)
        return r | self._add(new_id, side, price, qty, flags, e)

    def _clear(self) -> int:
        if not self.orders and not self.bids.levels and not self.asks.levels:
            return 0
        many = [(BUY, k) for k in sorted(self.bids.levels)]
        many += [(SELL, k) for k in sorted(self.asks.levels)]
        self._d_many = many
        self._d_count = -1
        self.bids.clear()
        self.asks.clear()
        self.orders = {}
        self.crossed = False
        return CHANGED_BOOK | CHANGED_BBO

    # ------------------------------------------------------------------ seeding

    def _synthetic_id(self) -> int:
        # The next negative id no live order uses (real feeds use positive ids).
        oid = self._next_synthetic - 1
        while oid in self.orders:
            oid -= 1
        self._next_synthetic = oid
        return oid

    def seed_depth(
        self, bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]]
    ) -> list[int]:
        """Seed levels from a depth snapshot: one synthetic order of ``qty`` at the back of
        each (price, qty) level (ids -1, -2, ...). Return the ids made."""
        made: list[int] = []
        for side, levels in ((BUY, bids), (SELL, asks)):
            for price, qty in levels:
                if qty <= 0:
                    continue
                oid = self._synthetic_id()
                self._add(oid, side, price, qty, FLAG_SYNTHETIC, None)
                made.append(oid)
        self._d_count = 0
        return made

    def set_level(self, side: int, price: int, qty: int) -> int:
        """Make the visible quantity at (``side``, ``price``) equal ``qty`` (depth-snapshot
        reconciliation, e.g. a level that comes back into a limited-depth feed's view).

        The level's synthetic orders go; then a synthetic order at the back carries what
        the real orders lack, or, when the real orders alone exceed ``qty``, they are
        reduced oldest first. Return the change in the level's quantity."""
        key = -price if side == BUY else price
        book_side = self.bids if side == BUY else self.asks
        level = book_side.levels.get(key)
        before = level.qty if level is not None else 0
        if level is not None:
            for o in level.orders():
                if o.flags & FLAG_SYNTHETIC:
                    self._remove(o)
        level = book_side.levels.get(key)
        real = level.qty if level is not None else 0
        if qty > real:
            self._add(self._synthetic_id(), side, price, qty - real, FLAG_SYNTHETIC, None)
        elif qty < real and level is not None:
            excess = real - qty
            for o in level.orders():
                if excess <= 0:
                    break
                take = min(excess, o.qty)
                excess -= take
                self._reduce(o, take, None, "reconciliation")
        self._d_count = 0
        return qty - before

    def load_snapshot(self, orders: Iterable[MboAdd]) -> None:
        """Replace the book with an MBO snapshot: the adds, in queue order per level."""
        self._clear()
        for e in orders:
            self._add(e.order_id, e.side, e.price, e.qty, e.flags, e)
        self._d_count = 0

    # ------------------------------------------------------------------ queries

    def deltas(self) -> list[tuple[int, int, int, int]]:
        """Return the levels the last event changed as (side, price, qty, count) after it
        (qty and count 0: the level is gone), bids before asks, best first."""
        n = self._d_count
        if n == 0:
            return []
        if n < 0:
            pairs = sorted(self._d_many)
        elif n == 1:
            pairs = [(self._d1_side, self._d1_key)]
        else:
            pairs = [(self._d1_side, self._d1_key), (self._d2_side, self._d2_key)]
            pairs.sort()
        out: list[tuple[int, int, int, int]] = []
        for side, key in pairs:
            price = -key if side == BUY else key
            level = (self.bids if side == BUY else self.asks).levels.get(key)
            if level is None:
                out.append((side, price, 0, 0))
            else:
                out.append((side, price, level.qty, level.count))
        return out

    def bbo(self) -> tuple[int, int, int, int, int, int]:
        """Return (bid price, bid qty, bid count, ask price, ask qty, ask count); an empty
        side is ``NO_PRICE``, 0, 0."""
        bk = self.bids.best
        ak = self.asks.best
        if bk == INF_KEY:
            b = (NO_PRICE, 0, 0)
        else:
            lv = self.bids.levels[bk]
            b = (-bk, lv.qty, lv.count)
        if ak == INF_KEY:
            return (b[0], b[1], b[2], NO_PRICE, 0, 0)
        lv = self.asks.levels[ak]
        return (b[0], b[1], b[2], ak, lv.qty, lv.count)

    @property
    def best_bid(self) -> int:
        """Return the best bid price, ``NO_PRICE`` when there is none."""
        return -self.bids.best if self.bids.best != INF_KEY else NO_PRICE

    @property
    def best_ask(self) -> int:
        """Return the best ask price, ``NO_PRICE`` when there is none."""
        return self.asks.best if self.asks.best != INF_KEY else NO_PRICE

    def depth(
        self, levels: int = 10
    ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """Return the best ``levels`` bid and ask levels as (price, qty, order count)."""
        bl = self.bids.levels
        al = self.asks.levels
        bids = [(-k, bl[k].qty, bl[k].count) for k in heapq.nsmallest(levels, bl)]
        asks = [(k, al[k].qty, al[k].count) for k in heapq.nsmallest(levels, al)]
        return bids, asks

    def level_orders(self, side: int) -> list[tuple[int, list[MboOrder]]]:
        """Return (price, orders in queue order) per level of ``side``, best first (L3)."""
        book_side = self.bids if side == BUY else self.asks
        return [
            (book_side.levels[k].price, book_side.levels[k].orders())
            for k in sorted(book_side.levels)
        ]

    def order(self, order_id: int) -> MboOrder | None:
        """Return the live order ``order_id``, or None."""
        return self.orders.get(order_id)

    def queue_position(self, order_id: int) -> tuple[int, int] | None:
        """Return (orders ahead, qty ahead) of ``order_id`` in its level, or None."""
        o = self.orders.get(order_id)
        if o is None:
            return None
        ahead = 0
        qty = 0
        node = o.prev
        while node is not None:
            ahead += 1
            qty += node.qty
            node = node.prev
        return ahead, qty

    def __len__(self) -> int:
        return len(self.orders)

    def validate_internal_state(self) -> None:
        """Check every structural invariant; raise ``AssertionError`` naming the first broken."""
        seen = 0
        for book_side in (self.bids, self.asks):
            live = {k for k in book_side.heap if k in book_side.levels}
            if live != set(book_side.levels):
                raise AssertionError("every level key must be in the heap")
            expected = min(book_side.levels) if book_side.levels else INF_KEY
            if book_side.best != expected:
                raise AssertionError(f"best key {book_side.best} != {expected}")
            for key, level in book_side.levels.items():
                price = -key if book_side.code == BUY else key
                if level.price != price:
                    raise AssertionError(f"level at key {key} has price {level.price}")
                nodes = level.orders()
                if not nodes:
                    raise AssertionError(f"empty level at {price}")
                if level.count != len(nodes) or level.qty != sum(o.qty for o in nodes):
                    raise AssertionError(f"level {price} totals do not match its orders")
                if level.tail is not nodes[-1] or nodes[0].prev is not None:
                    raise AssertionError(f"level {price} head/tail links are broken")
                prev: MboOrder | None = None
                for o in nodes:
                    if o.price != price or o.side != book_side.code or o.level is not level:
                        raise AssertionError(f"order {o.order_id} misplaced")
                    if o.prev is not prev:
                        raise AssertionError(f"order {o.order_id} has a broken back link")
                    if o.qty <= 0:
                        raise AssertionError(f"order {o.order_id} has qty {o.qty}")
                    if self.orders.get(o.order_id) is not o:
                        raise AssertionError(f"order {o.order_id} not in the id map")
                    prev = o
                    seen += 1
        if seen != len(self.orders):
            raise AssertionError("id map holds orders that are not in any level")
