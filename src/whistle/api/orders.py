"""Order-update fan-out: each account's own order events to its subscribers.

``OrderUpdates.on_events(events)`` is a backend listener (called on the event-loop thread
after every batch, in venue order). It routes every *sequenced* order event (one that
carries an ``account`` and has ``seq != 0``: accepted, rejected, filled, cancelled,
expired, modified, replaced, stop triggered) to the subscriptions of that account and to
the all-accounts subscriptions (admin). Edge rejects and ``DuplicateClientOrder`` answers
(``seq == 0``) are only in the command's own result.

Backpressure: a subscription holds at most ``max_queue`` events not yet read. Order
events cannot be conflated (every fill matters), so one more *drops* the subscription:
its queue is cleared, and its next read raises ``OrderUpdatesDropped`` saying how many
events it had waiting (the server ends the stream with ``RESOURCE_EXHAUSTED``). The venue
never waits for a subscriber; a dropped client resubscribes and reads its state with
``ListOpenOrders`` / ``GetOrder`` / ``GetClientOrder``.

For a trader, an ``OrderRejected`` with ``ACCOUNT_MISMATCH`` (its command on another
account's order) is delivered as ``UNKNOWN_ORDER_ID``, as in the command's result
(``whistle.api.convert.for_trader``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Final, final

from whistle.api.convert import for_trader
from whistle.core.events import EVENT_TYPES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from whistle.core.events import Event

__all__ = ["OrderSubscription", "OrderUpdates", "OrderUpdatesClosed", "OrderUpdatesDropped"]

_ORDER_KINDS: Final = frozenset(k for k in EVENT_TYPES if "account" in k.__struct_fields__)


class OrderUpdatesDropped(Exception):
    """Raised by reads of a subscription that fell ``max_queue`` events behind."""


class OrderUpdatesClosed(Exception):
    """Raised by reads of a closed subscription."""


@final
class OrderSubscription:
    """One subscriber's bounded queue of order events (``account`` None: every account)."""

    __slots__ = (
        "_hub",
        "_queue",
        "_waiter",
        "account",
        "closed",
        "delivered",
        "dropped",
        "max_queue",
        "trader",
    )

    def __init__(
        self, hub: OrderUpdates, account: int | None, max_queue: int, trader: bool
    ) -> None:
        self._hub = hub
        self.account = account
        self.max_queue = max_queue
        self.trader = trader
        self._queue: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.dropped: str | None = None
        """Why the hub dropped this subscription (None: it was not)."""
        self.delivered = 0

    def _push(self, event: Event) -> None:
        if self.dropped is not None or self.closed:
            return
        queue = self._queue
        if len(queue) >= self.max_queue:
            self.dropped = (
                f"order-update subscriber fell {len(queue)} events behind (max_order_update"
                f"_queue={self.max_queue}); dropped: resubscribe and read ListOpenOrders"
            )
            queue.clear()
            self._hub._remove(self)
        else:
            queue.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def pending(self) -> int:
        """Return how many events wait to be read."""
        return len(self._queue)

    def poll(self, max_events: int = 8192) -> list[Event]:
        """Return up to ``max_events`` waiting events ([] when none); raise when dropped."""
        self._check()
        queue = self._queue
        n = min(len(queue), max_events)
        if n == len(queue):
            out = list(queue)
            queue.clear()
        else:
            out = [queue.popleft() for _ in range(n)]
        if self.trader and out and self.account is not None:
            out = for_trader(out, self.account)
        self.delivered += len(out)
        return out

    async def next(self, max_events: int = 8192) -> list[Event]:
        """Wait for at least one event; return up to ``max_events``."""
        while True:
            out = self.poll(max_events)
            if out:
                return out
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def close(self) -> None:
        """Stop receiving (idempotent); a waiting ``next`` raises ``OrderUpdatesClosed``."""
        if not self.closed:
            self.closed = True
            self._queue.clear()
            self._hub._remove(self)
            self._wake()

    def _check(self) -> None:
        if self.dropped is not None:
            raise OrderUpdatesDropped(self.dropped)
        if self.closed:
            raise OrderUpdatesClosed("the order-update subscription is closed")


@final
class OrderUpdates:
    """Routes order events to per-account bounded subscriptions (a backend listener)."""

    def __init__(self, *, max_queue: int = 100_000) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, was {max_queue}")
        self.max_queue = max_queue
        self._by_account: dict[int, list[OrderSubscription]] = {}
        self._every: list[OrderSubscription] = []
        self.dropped = 0
        """Subscriptions dropped for falling behind so far."""

    def subscribe(self, account: int | None, *, trader: bool = False) -> OrderSubscription:
        """Subscribe to ``account``'s order events (None: every account's)."""
        sub = OrderSubscription(self, account, self.max_queue, trader)
        if account is None:
            self._every.append(sub)
        else:
            self._by_account.setdefault(account, []).append(sub)
        return sub

    def _remove(self, sub: OrderSubscription) -> None:
        if sub.dropped is not None:
            self.dropped += 1
        if sub.account is None:
            if sub in self._every:
                self._every.remove(sub)
            return
        subs = self._by_account.get(sub.account)
        if subs is not None and sub in subs:
            subs.remove(sub)
            if not subs:
                del self._by_account[sub.account]

    @property
    def subscribers(self) -> int:
        """Return the open subscriptions."""
        return len(self._every) + sum(len(v) for v in self._by_account.values())

    def on_events(self, events: Sequence[Event]) -> None:
        """Route ``events`` (a backend listener: never blocks, never raises for a subscriber)."""
        by_account = self._by_account
        every = self._every
        if not by_account and not every:
            return
        kinds = _ORDER_KINDS
        for event in events:
            if type(event) not in kinds or not event.seq:
                continue
            subs = by_account.get(event.account)  # type: ignore[union-attr]  # an order event
            if subs:
                for sub in tuple(subs):
                    sub._push(event)
            if every:
                for sub in tuple(every):
                    sub._push(event)
