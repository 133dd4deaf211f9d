"""Order-update fan-out: per account, sequenced events only, bounded, drop not block."""

from __future__ import annotations

import asyncio

import pytest

from whistle.api.orders import OrderUpdates, OrderUpdatesClosed, OrderUpdatesDropped
from whistle.core.events import (
    BookLevelChanged,
    DuplicateClientOrder,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    TradeOccurred,
)
from whistle.core.reasons import RejectReason


def accepted(seq: int, account: int) -> OrderAccepted:
    return OrderAccepted(1, seq, seq, 0, seq, account, 1, 1, 1, 100, 1, 0, 0)


def test_routes_by_account_and_skips_public_and_unsequenced_events() -> None:
    hub = OrderUpdates(max_queue=10)
    seven = hub.subscribe(7)
    eight = hub.subscribe(8)
    every = hub.subscribe(None)
    hub.on_events(
        [
            accepted(1, 7),
            BookLevelChanged(1, 2, 1, 0, 1, 100, 1, 1),
            TradeOccurred(1, 3, 1, 0, 1, 100, 1, 1, 1, 2),
            accepted(4, 8),
            OrderRejected(1, 0, 0, 0, 5, 7, int(RejectReason.UNKNOWN_SYMBOL)),  # edge reject
            DuplicateClientOrder(1, 0, 0, 0, 1, 7, 9, 1, 1, 0),
            OrderCancelled(1, 5, 2, 0, 1, 7, 1, 1, 0),
        ]
    )
    assert [e.seq for e in seven.poll()] == [1, 5]
    assert [e.seq for e in eight.poll()] == [4]
    assert [e.seq for e in every.poll()] == [1, 4, 5]
    assert seven.poll() == []


def test_a_trader_hears_an_unknown_order_not_another_accounts() -> None:
    hub = OrderUpdates()
    trader = hub.subscribe(8, trader=True)
    admin = hub.subscribe(None)
    hub.on_events([OrderRejected(1, 3, 2, 0, 5, 8, int(RejectReason.ACCOUNT_MISMATCH))])
    (seen,) = trader.poll()
    assert seen.reason == RejectReason.UNKNOWN_ORDER_ID
    assert admin.poll()[0].reason == RejectReason.ACCOUNT_MISMATCH


def test_a_full_queue_drops_the_subscriber_and_nobody_else() -> None:
    hub = OrderUpdates(max_queue=3)
    slow = hub.subscribe(7)
    fast = hub.subscribe(7)
    for seq in range(1, 4):
        hub.on_events([accepted(seq, 7)])
        assert [e.seq for e in fast.poll()] == [seq]
    hub.on_events([accepted(4, 7)])
    with pytest.raises(OrderUpdatesDropped, match="fell 3 events behind"):
        slow.poll()
    assert [e.seq for e in fast.poll()] == [4]
    assert hub.dropped == 1
    assert hub.subscribers == 1
    hub.on_events([accepted(5, 7)])  # the dropped one is gone: nothing blocks
    assert [e.seq for e in fast.poll()] == [5]


def test_next_waits_and_close_wakes() -> None:
    async def run() -> None:
        hub = OrderUpdates()
        sub = hub.subscribe(7)
        waiter = asyncio.ensure_future(sub.next())
        await asyncio.sleep(0)
        hub.on_events([accepted(1, 7)])
        assert [e.seq for e in await waiter] == [1]
        waiter = asyncio.ensure_future(sub.next())
        await asyncio.sleep(0)
        sub.close()
        with pytest.raises(OrderUpdatesClosed):
            await waiter
        assert hub.subscribers == 0

    asyncio.run(run())
