"""Resting orders and price levels: the L3 book's nodes.

A price level is an intrusive doubly linked FIFO of ``Order`` nodes: cancel and move are
O(1), iteration is in time priority, and nothing is left behind (no lazy tombstones).
Both classes use ``__slots__`` and plain ints so the hot path stays cheap in CPython and
compilable by mypyc.
"""

from __future__ import annotations

from typing import Any, final

__all__ = ["Level", "Order"]


@final
class Order:
    """One live order: resting in a level, or parked as an untriggered stop.

    ``qty`` is the displayed (matchable-now) quantity, ``hidden`` the iceberg reserve;
    ``qty + hidden`` is what the order has left. ``arrival`` numbers acceptances (it orders
    mass cancels, expiries and stop triggers); ``prio`` numbers each entry at the back of a
    level (time priority: it grows along every level). ``orig_qty``, ``filled`` and
    ``entry_ts`` (acceptance time) serve lookups only.
    """

    __slots__ = (
        "account",
        "arrival",
        "display",
        "entry_ts",
        "expire_ts",
        "filled",
        "hidden",
        "level",
        "next",
        "order_id",
        "order_type",
        "orig_qty",
        "post_only",
        "prev",
        "price",
        "prio",
        "protection",
        "qty",
        "side",
        "stop_pending",
        "stop_price",
        "stp",
        "tif",
    )

    def __init__(
        self,
        order_id: Any,
        account: Any,
        side: int,
        order_type: int,
        tif: int,
        price: int,
        qty: int,
        stop_price: int,
        display: int,
        post_only: bool,
        stp: int,
        expire_ts: int,
        protection: int,
        arrival: int,
    ) -> None:
        # Ints, kept as the objects they came in (the command's): they only pass through
        # into events and the id map, so mypyc need not box them again for each use.
        self.order_id: Any = order_id
        self.account: Any = account
        self.side = side
        self.order_type = order_type
        self.tif = tif
        self.price = price
        self.qty = qty
        self.hidden = 0
        self.stop_price = stop_price
        self.display = display
        self.post_only = post_only
        self.stp = stp
        self.expire_ts = expire_ts
        self.protection = protection
        self.arrival = arrival
        self.prio = 0
        self.stop_pending = False
        # Lookups only (``Whistle.order``): what was asked, what traded, when it arrived.
        # Not in the state hash: they decide no future event.
        self.orig_qty = qty
        self.filled = 0
        self.entry_ts = 0
        self.level: Level | None = None
        self.prev: Order | None = None
        self.next: Order | None = None

    @property
    def leaves(self) -> int:
        """Return the quantity the order has left (displayed plus hidden)."""
        return self.qty + self.hidden

    def __repr__(self) -> str:
        return (
            f"Order(id={self.order_id}, acct={self.account}, side={self.side},"
            f" px={self.price}, qty={self.qty}, hidden={self.hidden})"
        )


@final
class Level:
    """All resting orders at one price on one side, in time priority.

    ``qty`` is the sum of the orders' displayed quantities (what L2 shows) and ``count``
    the number of orders.
    """

    __slots__ = ("b_count", "b_qty", "count", "head", "key", "marked", "price", "qty", "tail")

    def __init__(self, price: int, key: int = 0) -> None:
        # An int, kept as one boxed object: it goes into every event about this level.
        self.price: Any = price
        # The book side's key for this level (-price for bids, price for asks).
        self.key = key
        self.qty = 0
        self.count = 0
        # ``marked``: the current command changed this level and it is in its side's
        # ``touched`` list; b_qty / b_count are its (qty, count) from before that first
        # change (see OrderBook.flush_market_data), meaningful only while marked.
        self.marked = False
        self.b_qty = 0
        self.b_count = 0
        self.head: Order | None = None
        self.tail: Order | None = None

    def append(self, order: Order) -> None:
        """Put ``order`` at the back of the level."""
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

    def unlink(self, order: Order) -> None:
        """Take ``order`` out of the level (its displayed qty leaves the level's total)."""
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

    def orders(self) -> list[Order]:
        """Return the level's orders in time priority."""
        out: list[Order] = []
        node = self.head
        while node is not None:
            out.append(node)
            node = node.next
        return out
