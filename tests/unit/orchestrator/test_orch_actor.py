"""SymbolManager: callbacks, orders through its engine, failure states, a bounded inbox."""

from __future__ import annotations

import time

import pytest

from whistle.orchestrator.actor import (
    COID_EPOCH_BITS,
    COID_LIFE_BITS,
    CRASHED,
    MAX_EPOCH,
    STOPPED,
    SymbolManager,
    coid_base,
)
from whistle.orchestrator.position import PositionManager
from whistle.orchestrator.testing import Burst, Raiser
from whistle.trading.messages import MarketEvent, MarketKind, Order, OrderUpdate, UpdateKind


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.orders: list[Order] = []

    def send(self, order: Order) -> list[OrderUpdate]:
        self.orders.append(order)
        return []


def book(sid: int, bid: int, ask: int) -> MarketEvent:
    lv = (0,) * 9
    return MarketEvent(
        MarketKind.BOOK,
        sid,
        1,
        time.time_ns(),
        n_bid=1,
        n_ask=1,
        bid_px=(bid, *lv),
        bid_qty=(5, *lv),
        ask_px=(ask, *lv),
        ask_qty=(5, *lv),
    )


def wait_for(cond: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.005)


def manager(strategy: object, engine: Recorder, **kw: object) -> SymbolManager:
    return SymbolManager(
        "X",
        7,
        3,
        1,
        2,
        strategy,
        engine,
        PositionManager("X"),
        **kw,  # type: ignore[arg-type]
    )


def test_book_events_become_orders_with_the_lifes_client_order_ids() -> None:
    engine = Recorder()
    m = manager(Burst({"orders": 4, "per_book": 2}), engine)
    m.start()
    m.post_market(book(7, 99, 101))
    m.post_market(book(7, 98, 102))
    wait_for(lambda: len(engine.orders) == 4)
    m.stop()
    assert m.state == STOPPED
    base = coid_base(3, 2)
    assert [o.client_order_id for o in engine.orders] == [base + 1, base + 2, base + 3, base + 4]
    assert [o.price for o in engine.orders] == [101, 99, 102, 98]
    assert all(o.account == 1 and o.symbol_id == 7 for o in engine.orders)
    assert m.positions.snapshot().orders_sent == 4


def test_fills_reach_the_position_manager() -> None:
    m = manager(Burst({"orders": 0}), Recorder())
    m.start()
    m.post_update(OrderUpdate(UpdateKind.FILLED, 5, 7, side=1, fill_price=100, fill_qty=3))
    wait_for(lambda: m.positions.snapshot().fills == 1)
    m.stop()
    assert m.positions.snapshot().position == 3


def test_a_raising_strategy_crashes_only_its_actor_with_the_cause() -> None:
    m = manager(Raiser({"after": 0}), Recorder())
    m.start()
    m.post_market(book(7, 99, 101))
    wait_for(lambda: m.state == CRASHED)
    assert m.error is not None
    assert m.error.startswith("on_book: RuntimeError: the strategy broke on purpose")


def test_a_full_inbox_drops_the_oldest_market_event_and_counts_it() -> None:
    m = manager(Burst({"orders": 0}), Recorder(), inbox_capacity=3)
    for i in range(5):  # not started: nothing drains
        m.post_market(book(7, 90 + i, 110))
    assert m.inbox_depth() == 3
    assert m.market_dropped == 2
    for _ in range(10):  # updates are never dropped
        m.post_update(OrderUpdate(UpdateKind.ACCEPTED, 1, 7))
    assert m.inbox_depth() == 13


def test_client_order_id_ranges_never_overlap() -> None:
    assert coid_base(1, 1) + (1 << COID_LIFE_BITS) <= coid_base(1, 2)
    assert coid_base(1, MAX_EPOCH) + (1 << COID_LIFE_BITS) - 1 < coid_base(2, 0)
    top = (1 << (63 - COID_LIFE_BITS - COID_EPOCH_BITS)) - 1
    assert coid_base(top, MAX_EPOCH) + (1 << COID_LIFE_BITS) - 1 < 1 << 63
    with pytest.raises(ValueError, match="pair_id"):
        coid_base(0, 1)
    with pytest.raises(ValueError, match="pair_id"):
        coid_base(top + 1, 1)
    # Never modulo: the life after the last is refused, not wrapped onto life 0's ids.
    with pytest.raises(ValueError, match="client order id space exhausted"):
        coid_base(1, MAX_EPOCH + 1)
