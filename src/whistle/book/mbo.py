"""A market-by-order book builder: applies recorded order-level events, never matches.

``MarketByOrderBook`` keeps one instrument's visible orders in exact queue order, the way
the source reported them (``whistle.core.mbo`` events from ``whistle.feed``), and
answers L1 (``bbo``), MBP-N (``depth``) and L3 (``level_orders``, ``queue_position``).

Representation: as in the matching book (``whistle.book.book``), each side maps a *key*
to a level (asks: the price, bids: the negated price, so the best level is the smallest
key on both sides) and a lazy min-heap of keys finds the next best level. A level's queue
is an insertion-ordered ``dict`` {order id: qty}: adding appends, a cancel / execution
updates the value in place (keeping the position), a delete pops, a move to the back is
pop + insert; all O(1). ``where`` maps an id to its level; ``orders`` is a read-only view
of ``MboOrder`` snapshots made on demand. No object is built per order and the dicts
hold only ints, which the garbage collector does not track. Against an intrusive linked
list of ``__slots__`` nodes (the matching book's layout) on the same stream: 3-4x faster
in pure Python, equal compiled, and less memory (docs/benchmarks.md: 1M live orders in
130 MB).

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
``CHANGED_BBO`` is never missing when the BBO changed; it can be set when a best level
was rebuilt to the same totals (a priority-losing modify at the touch).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any, Final, cast, final

from msgspec.structs import astuple

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
    from collections.abc import Iterable, Iterator

__all__ = [
    "ANOMALY_KINDS",
    "CHANGED_BBO",
    "CHANGED_BOOK",
    "CHANGED_TRADE",
    "MarketByOrderBook",
    "MboAnomalyError",
    "MboLevel",
    "MboOrder",
    "OrdersView",
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

_astuple: Final = astuple
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
    """A snapshot of one live order (built on demand by ``order`` / ``level_orders``);
    ``flags`` has ``FLAG_SYNTHETIC`` for a seed order."""

    __slots__ = ("flags", "order_id", "price", "qty", "side")

    def __init__(self, order_id: int, side: int, price: int, qty: int, flags: int) -> None:
        self.order_id = order_id
        self.side = side
        self.price = price
        self.qty = qty
        self.flags = flags

    @property
    def synthetic(self) -> bool:
        """Return True for an order invented to seed the book from a depth snapshot."""
        return bool(self.flags & FLAG_SYNTHETIC)

    def __repr__(self) -> str:
        return f"MboOrder(id={self.order_id}, side={self.side}, px={self.price}, qty={self.qty})"


@final
class MboLevel:
    """The orders at one price on one side: ``queue`` {order id: qty} in queue order,
    ``qty`` their total (the order count is ``len(queue)``)."""

    __slots__ = ("price", "qty", "queue", "side")

    def __init__(self, side: int, price: int) -> None:
        self.side = side
        self.price = price
        self.qty = 0
        self.queue: dict[int, int] = {}


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
            level = MboLevel(self.code, price)
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
class OrdersView:
    """``MarketByOrderBook.orders``: the live orders by id, as ``MboOrder`` snapshots."""

    __slots__ = ("_book",)

    def __init__(self, book: MarketByOrderBook) -> None:
        self._book = book

    def get(self, order_id: int) -> MboOrder | None:
        """Return a snapshot of order ``order_id``, or None."""
        return self._book.order(order_id)

    def __getitem__(self, order_id: int) -> MboOrder:
        o = self._book.order(order_id)
        if o is None:
            raise KeyError(order_id)
        return o

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._book.where

    def __len__(self) -> int:
        return len(self._book.where)

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._book.where))


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
        self.where: dict[int, MboLevel] = {}
        """Order id -> the level it rests in (``orders`` is the read-only view of orders)."""
        self.synthetic: set[int] = set()
        """Ids of the synthetic (seed) orders."""
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
        # Dispatch on the exact type: a pointer compare. (isinstance() on a msgspec Struct
        # class goes through its metaclass's __instancecheck__: ~450 instructions.) Adds,
        # deletes and cancels, the most frequent events, are read with one astuple() call:
        # compiled, that is cheaper than five or six generic attribute reads.
        t = type(e)
        if t is _ADD:
            _iid, ts, _recv, _seq, flags, oid, side, price, qty = _astuple(e)
            self._check_ts(ts, e)
            r = self._add(oid, side, price, qty, flags, e)
            if r and flags & FLAG_LAST:
                self._check_crossed(e)
            return r
        if t is _DELETE or t is _CANCEL:
            if t is _DELETE:
                _iid, ts, _recv, _seq, flags, oid, side, price = _astuple(e)
                qty = -1
            else:
                _iid, ts, _recv, _seq, flags, oid, qty, side, price = _astuple(e)
            self._check_ts(ts, e)
            r = self._cancel(oid, qty, side, price, e)
            if r and flags & FLAG_LAST:
                self._check_crossed(e)
            return r
        self._check_ts(e.ts_ns, e)
        if t is _EXECUTE:
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
            self._check_crossed(e)
        return r

    def _check_ts(self, ts: int, e: MboEvent) -> None:
        if ts < self.last_ts:
            self._anomaly(e, TIME_REVERSAL, f"ts_ns {ts} < previous {self.last_ts}")
        else:
            self.last_ts = ts

    def _check_crossed(self, e: MboEvent) -> None:
        # After a complete update: count a crossing once, when it starts.
        bb = self.bids.best
        ba = self.asks.best
        if bb != INF_KEY and ba != INF_KEY and -bb >= ba:
            if not self.crossed:
                self.crossed = True
                self._anomaly(e, CROSSED_BOOK, f"best bid {-bb} >= best ask {ba}")
        else:
            self.crossed = False

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
        self, order_id: Any, side: int, price: int, qty: int, flags: int, src: MboEvent | None
    ) -> int:
        # ``order_id`` is typed Any on purpose: compiled, it stays the caller's int object,
        # so the id map and the level's queue share one key object (an int typed ``int``
        # is unboxed and boxed again per dict: +32 bytes per order and two allocations).
        if qty <= 0 or (side != BUY and side != SELL) or price == NO_PRICE:
            self._anomaly(
                src, BAD_ORDER, f"add of order {order_id}: side {side}, price {price}, qty {qty}"
            )
            return 0
        r = 0
        where = self.where
        old = where.get(order_id)
        if old is not None:
            self._anomaly(src, DUPLICATE_ORDER, f"add of order {order_id}, already in the book")
            r = self._remove(order_id, old)
        if side == BUY:
            book_side = self.bids
            key = -price
        else:
            book_side = self.asks
            key = price
        level = book_side.level_for(key, price)
        level.queue[order_id] = qty
        level.qty += qty
        where[order_id] = level
        if flags & FLAG_SYNTHETIC:
            self.synthetic.add(order_id)
        self._touch(side, key)
        if key <= book_side.best:
            return r | CHANGED_BOOK | CHANGED_BBO
        return r | CHANGED_BOOK

    def _remove(self, order_id: Any, level: MboLevel) -> int:
        # Take a resting order out of its level and out of the book.
        if level.side == BUY:
            book_side = self.bids
            key = -level.price
        else:
            book_side = self.asks
            key = level.price
        r = CHANGED_BOOK | CHANGED_BBO if key == book_side.best else CHANGED_BOOK
        queue = level.queue
        level.qty -= queue.pop(order_id)
        if not queue:
            book_side.drop_level(key)
        del self.where[order_id]
        if self.synthetic:
            self.synthetic.discard(order_id)
        self._touch(level.side, key)
        return r

    def _reduce(
        self, order_id: Any, level: MboLevel, qty: int, src: MboEvent | None, what: str
    ) -> int:
        # Take ``qty`` off an order (-1: all of it), keeping its place; the remainder
        # going negative is an anomaly, and the order leaves the book.
        left = level.queue[order_id]
        if qty < 0 or qty == left:
            return self._remove(order_id, level)
        if qty > left:
            self._anomaly(
                src, NEGATIVE_QTY, f"{what} of {qty} on order {order_id} with {left} left"
            )
            return self._remove(order_id, level)
        if qty == 0:
            return 0
        level.queue[order_id] = left - qty
        level.qty -= qty
        if level.side == BUY:
            key = -level.price
            best = self.bids.best
        else:
            key = level.price
            best = self.asks.best
        self._touch(level.side, key)
        return CHANGED_BOOK | CHANGED_BBO if key == best else CHANGED_BOOK

    def _synthetic_at(self, side: int, price: int) -> int:
        # The id of the first synthetic seed order queued at (side, price), else 0.
        if not self.synthetic or price == NO_PRICE or (side != BUY and side != SELL):
            return 0
        level = self.bids.levels.get(-price) if side == BUY else self.asks.levels.get(price)
        if level is None:
            return 0
        synthetic = self.synthetic
        for oid in level.queue:
            if oid in synthetic:
                return oid
        return 0

    def _cancel(self, order_id: int, qty: int, side: int, price: int, src: MboEvent | None) -> int:
        level = self.where.get(order_id)
        if level is None:
            seed = self._synthetic_at(side, price)
            if seed == 0:
                what = "delete" if qty < 0 else "cancel"
                self._anomaly(src, UNKNOWN_ORDER, f"{what} of order {order_id}, not in the book")
                return 0
            self.synthetic_hits += 1
            if qty < 0:
                return 0  # the deleted order's size is unknown: leave the seed alone
            order_id = seed
            level = self.where[seed]
        return self._reduce(order_id, level, qty, src, "cancel")

    def _execute(self, e: MboExecute) -> int:
        order_id = e.order_id
        qty = e.qty
        level = self.where.get(order_id)
        if level is None:
            seed = self._synthetic_at(e.side, e.price)
            if seed == 0:
                self._anomaly(e, UNKNOWN_ORDER, f"execution of order {order_id}, not in the book")
                return 0
            self.synthetic_hits += 1
            order_id = seed
            level = self.where[seed]
        price = e.price
        if price == NO_PRICE:
            price = level.price
        self.last_trade_price = price
        self.last_trade_qty = qty
        if e.printable:
            self.volume += qty
            self.notional += price * qty
        return self._reduce(order_id, level, qty, e, "execution") | CHANGED_TRADE

    def _modify(self, e: MboModify) -> int:
        order_id = e.order_id
        new_id = e.new_order_id
        qty = e.qty
        price = e.price
        level = self.where.get(order_id)
        if level is None:
            self._anomaly(e, UNKNOWN_ORDER, f"modify of order {order_id}, not in the book")
            if e.side == BUY or e.side == SELL:
                return self._add(new_id, e.side, price, qty, e.flags, e)
            return 0
        if qty <= 0:
            self._anomaly(e, BAD_ORDER, f"modify of order {order_id} to qty {qty}")
            return self._remove(order_id, level)
        if price == NO_PRICE:
            price = level.price
        r = 0
        if new_id != order_id:
            other = self.where.get(new_id)
            if other is not None:
                self._anomaly(
                    e, DUPLICATE_ORDER, f"modify of {order_id} to id {new_id}, already in use"
                )
                r = self._remove(new_id, other)
        prio = e.priority
        side = level.side
        old_qty = level.queue[order_id]
        if price == level.price and (
            prio == PRIORITY_KEEP or (prio == PRIORITY_KEEP_ON_DECREASE and qty <= old_qty)
        ):
            # Keeps its place: the quantity changes in place (and the id, if renamed).
            if new_id != order_id:
                self._rename(order_id, new_id, level)
            if qty == old_qty:
                return r
            level.queue[new_id] = qty
            level.qty += qty - old_qty
            if side == BUY:
                key = -price
                best = self.bids.best
            else:
                key = price
                best = self.asks.best
            self._touch(side, key)
            return r | (CHANGED_BOOK | CHANGED_BBO if key == best else CHANGED_BOOK)
        flags = FLAG_SYNTHETIC if self.synthetic and order_id in self.synthetic else 0
        r |= self._remove(order_id, level)
        return r | self._add(new_id, side, price, qty, flags, e)

    def _rename(self, order_id: int, new_id: int, level: MboLevel) -> None:
        # A new id in the same queue position (rare: no format here renames and keeps
        # priority), so rebuilding the level's dict is fine.
        level.queue = {(new_id if k == order_id else k): v for k, v in level.queue.items()}
        del self.where[order_id]
        self.where[new_id] = level
        if order_id in self.synthetic:
            self.synthetic.discard(order_id)
            self.synthetic.add(new_id)

    def _clear(self) -> int:
        if not self.where and not self.bids.levels and not self.asks.levels:
            return 0
        many = [(BUY, k) for k in sorted(self.bids.levels)]
        many += [(SELL, k) for k in sorted(self.asks.levels)]
        self._d_many = many
        self._d_count = -1
        self.bids.clear()
        self.asks.clear()
        self.where = {}
        self.synthetic = set()
        self.crossed = False
        return CHANGED_BOOK | CHANGED_BBO

    # ------------------------------------------------------------------ seeding

    def _synthetic_id(self) -> int:
        # The next negative id no live order uses (real feeds use positive ids).
        oid = self._next_synthetic - 1
        while oid in self.where:
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
        if level is not None and self.synthetic:
            for oid in [k for k in level.queue if k in self.synthetic]:
                self._remove(oid, level)
        level = book_side.levels.get(key)
        real = level.qty if level is not None else 0
        if qty > real:
            self._add(self._synthetic_id(), side, price, qty - real, FLAG_SYNTHETIC, None)
        elif qty < real and level is not None:
            excess = real - qty
            for oid, left in list(level.queue.items()):
                if excess <= 0:
                    break
                take = min(excess, left)
                excess -= take
                self._reduce(oid, level, take, None, "reconciliation")
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
                out.append((side, price, level.qty, len(level.queue)))
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
            b = (-bk, lv.qty, len(lv.queue))
        if ak == INF_KEY:
            return (b[0], b[1], b[2], NO_PRICE, 0, 0)
        lv = self.asks.levels[ak]
        return (b[0], b[1], b[2], ak, lv.qty, len(lv.queue))

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
        bids = [(-k, bl[k].qty, len(bl[k].queue)) for k in heapq.nsmallest(levels, bl)]
        asks = [(k, al[k].qty, len(al[k].queue)) for k in heapq.nsmallest(levels, al)]
        return bids, asks

    def level_orders(self, side: int) -> list[tuple[int, list[MboOrder]]]:
        """Return (price, orders in queue order) per level of ``side``, best first (L3)."""
        book_side = self.bids if side == BUY else self.asks
        out: list[tuple[int, list[MboOrder]]] = []
        for k in sorted(book_side.levels):
            level = book_side.levels[k]
            out.append((level.price, [self._view(oid, level) for oid in level.queue]))
        return out

    def _view(self, order_id: int, level: MboLevel) -> MboOrder:
        flags = FLAG_SYNTHETIC if order_id in self.synthetic else 0
        return MboOrder(order_id, level.side, level.price, level.queue[order_id], flags)

    @property
    def orders(self) -> OrdersView:
        """Return a read-only mapping view: order id -> ``MboOrder`` snapshot."""
        return OrdersView(self)

    def order(self, order_id: int) -> MboOrder | None:
        """Return a snapshot of the live order ``order_id``, or None."""
        level = self.where.get(order_id)
        return self._view(order_id, level) if level is not None else None

    def queue_position(self, order_id: int) -> tuple[int, int] | None:
        """Return (orders ahead, qty ahead) of ``order_id`` in its level, or None."""
        level = self.where.get(order_id)
        if level is None:
            return None
        ahead = 0
        qty = 0
        for oid, left in level.queue.items():
            if oid == order_id:
                break
            ahead += 1
            qty += left
        return ahead, qty

    def __len__(self) -> int:
        return len(self.where)

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
                if level.price != price or level.side != book_side.code:
                    raise AssertionError(f"level at key {key} has price {level.price}")
                if not level.queue:
                    raise AssertionError(f"empty level at {price}")
                if level.qty != sum(level.queue.values()):
                    raise AssertionError(f"level {price} totals do not match its orders")
                for oid, qty in level.queue.items():
                    if qty <= 0:
                        raise AssertionError(f"order {oid} has qty {qty}")
                    if self.where.get(oid) is not level:
                        raise AssertionError(f"order {oid} not in the id map")
                    seen += 1
        if seen != len(self.where):
            raise AssertionError("id map holds orders that are not in any level")
        if not self.synthetic <= set(self.where):
            raise AssertionError("synthetic ids that are not live orders")
