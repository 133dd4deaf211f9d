"""A bare dict-and-heap limit order matcher: the floor the engine is measured against.

It is the simplest fast matcher we could write in CPython for the benchmark's commands:
price-time priority, limit GTC and IOC, cancel, move (``ModifyOrder``). It emits no
events, validates nothing and keeps no market data: the gap between its rate and the
engine's is the price of the engine's validation, events, market data and features.

Representation: per side a dict ``price -> [live count, deque of order records]`` and a
heap of prices (bids negated) with lazy deletion; ``orders`` maps id -> record
``[order_id, qty, side, price]``. A cancelled or moved record is marked dead (``qty = 0``)
and left in its deque (O(1)); matching pops dead records it meets, and a level whose live
count drops to 0 is dropped at once. ``process`` returns the number of trades (maker fills),
which must equal the engine's ``TradeOccurred`` count on the same commands.
"""

from __future__ import annotations

from collections import deque
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any, Final, final

from whistle.core.commands import CancelOrder, ModifyOrder, NewOrder
from whistle.core.enums import Side, TimeInForce

if TYPE_CHECKING:
    from whistle.core.commands import Command

__all__ = ["BareMatcher"]

_BUY: Final = int(Side.BUY)
_SELL: Final = int(Side.SELL)
_IOC: Final = int(TimeInForce.IOC)

# An order record is a list [order_id, qty, side, price]; a level is [live count, deque].
_Order = list[int]
_Level = list[Any]


@final
class BareMatcher:
    """Price-time matching of limit GTC/IOC orders, cancels and moves; no events."""

    __slots__ = ("ask_heap", "asks", "bid_heap", "bids", "orders")

    def __init__(self) -> None:
        self.bids: dict[int, _Level] = {}
        self.asks: dict[int, _Level] = {}
        self.bid_heap: list[int] = []  # negated prices
        self.ask_heap: list[int] = []
        self.orders: dict[int, _Order] = {}

    def process(self, cmd: Command) -> int:
        """Apply one command; return how many trades it made."""
        c: Any = cmd  # dispatch on the exact type below; no isinstance on the hot path
        t = type(c)
        if t is ModifyOrder:
            return self.move(c.order_id, c.price_ticks, c.qty_lots)
        if t is NewOrder:
            if c.side == _BUY:
                return self.buy(c.order_id, c.price_ticks, c.qty_lots, c.tif != _IOC)
            return self.sell(c.order_id, c.price_ticks, c.qty_lots, c.tif != _IOC)
        if t is CancelOrder:
            self.cancel(c.order_id)
        return 0

    # ------------------------------------------------------------------ matching

    def buy(self, order_id: int, price: int, qty: int, rest: bool) -> int:
        """Match a buy limit order; rest what is left when ``rest``. Return the trades."""
        asks = self.asks
        heap = self.ask_heap
        orders = self.orders
        trades = 0
        while heap:
            best = heap[0]
            if best > price:
                break
            level = asks.get(best)
            if level is None:
                heappop(heap)
                continue
            queue: deque[_Order] = level[1]
            live: int = level[0]
            while queue:
                m = queue[0]
                mq = m[1]
                if mq == 0:
                    queue.popleft()
                    continue
                trades += 1
                if mq <= qty:
                    qty -= mq
                    m[1] = 0
                    queue.popleft()
                    del orders[m[0]]
                    live -= 1
                    if qty == 0:
                        break
                else:
                    m[1] = mq - qty
                    qty = 0
                    break
            if live == 0:
                del asks[best]
                heappop(heap)
            else:
                level[0] = live
            if qty == 0:
                return trades
        if rest:
            o = [order_id, qty, _BUY, price]
            orders[order_id] = o
            bids = self.bids
            level = bids.get(price)
            if level is None:
                bids[price] = [1, deque((o,))]
                heap = self.bid_heap
                if len(heap) > 2 * len(bids) + 64:
                    heap[:] = [-p for p in bids]  # drop stale prices that piled up
                    heapify(heap)
                else:
                    heappush(heap, -price)
            else:
                level[0] += 1
                level[1].append(o)
        return trades

    def sell(self, order_id: int, price: int, qty: int, rest: bool) -> int:
        """Match a sell limit order; rest what is left when ``rest``. Return the trades."""
        bids = self.bids
        heap = self.bid_heap
        orders = self.orders
        trades = 0
        while heap:
            best = -heap[0]
            if best < price:
                break
            level = bids.get(best)
            if level is None:
                heappop(heap)
                continue
            queue: deque[_Order] = level[1]
            live: int = level[0]
            while queue:
                m = queue[0]
                mq = m[1]
                if mq == 0:
                    queue.popleft()
                    continue
                trades += 1
                if mq <= qty:
                    qty -= mq
                    m[1] = 0
                    queue.popleft()
                    del orders[m[0]]
                    live -= 1
                    if qty == 0:
                        break
                else:
                    m[1] = mq - qty
                    qty = 0
                    break
            if live == 0:
                del bids[best]
                heappop(heap)
            else:
                level[0] = live
            if qty == 0:
                return trades
        if rest:
            o = [order_id, qty, _SELL, price]
            orders[order_id] = o
            asks = self.asks
            level = asks.get(price)
            if level is None:
                asks[price] = [1, deque((o,))]
                heap = self.ask_heap
                if len(heap) > 2 * len(asks) + 64:
                    heap[:] = list(asks)  # drop stale prices that piled up
                    heapify(heap)
                else:
                    heappush(heap, price)
            else:
                level[0] += 1
                level[1].append(o)
        return trades

    # ------------------------------------------------------------------ cancel, move

    def _unlink(self, o: _Order) -> None:
        levels = self.bids if o[2] == _BUY else self.asks
        price = o[3]
        o[1] = 0
        level = levels[price]
        live: int = level[0]
        if live == 1:
            del levels[price]  # the heap keeps the price until it reaches the top
        else:
            level[0] = live - 1

    def cancel(self, order_id: int) -> None:
        """Remove a resting order (unknown ids are ignored)."""
        o = self.orders.pop(order_id, None)
        if o is not None:
            self._unlink(o)

    def move(self, order_id: int, price: int, qty: int = 0) -> int:
        """Give a resting order a new price and/or quantity (0: unchanged); return trades.

        A new price takes the order out of its level and matches its whole quantity at the
        new price before the rest goes to the back of the new level, as in the engine.
        """
        o = self.orders.get(order_id)
        if o is None:
            return 0
        old_qty = o[1]
        new_qty = qty or old_qty
        new_price = price or o[3]
        if new_price == o[3] and new_qty <= old_qty:
            o[1] = new_qty  # a decrease keeps its place; no change is a no-op
            return 0
        del self.orders[order_id]
        o[1] = 0  # dead: left in its deque, popped when matching reaches it
        levels = self.bids if o[2] == _BUY else self.asks
        level = levels[o[3]]
        live: int = level[0]
        if live == 1:
            del levels[o[3]]  # the heap keeps the price until it reaches the top
        else:
            level[0] = live - 1
        if o[2] == _BUY:
            return self.buy(order_id, new_price, new_qty, True)
        return self.sell(order_id, new_price, new_qty, True)

    # ------------------------------------------------------------------ views

    def resting(self) -> int:
        """Return the number of resting orders."""
        return len(self.orders)

    def levels(self) -> int:
        """Return the number of non-empty price levels (both sides)."""
        return len(self.bids) + len(self.asks)

    def best_bid(self) -> int:
        """Return the best bid price, 0 when there is none."""
        heap = self.bid_heap
        while heap and -heap[0] not in self.bids:
            heappop(heap)
        return -heap[0] if heap else 0

    def best_ask(self) -> int:
        """Return the best ask price, 0 when there is none."""
        heap = self.ask_heap
        while heap and heap[0] not in self.asks:
            heappop(heap)
        return heap[0] if heap else 0

    def level_qty(self, side: int, price: int) -> int:
        """Return the total live quantity at ``price`` on ``side`` (0 when empty)."""
        level = (self.bids if side == _BUY else self.asks).get(price)
        if level is None:
            return 0
        queue: deque[_Order] = level[1]
        return sum(o[1] for o in queue)
