"""The bare dict-and-heap matcher: exact small cases and agreement with the engine."""

from __future__ import annotations

import pytest

from whistle.bench.bare import BareMatcher
from whistle.bench.mixes import MIX_NAMES, generate_mix
from whistle.core.commands import CancelOrder, ModifyOrder, NewOrder
from whistle.core.enums import OrderType, Side, TimeInForce

BUY, SELL = int(Side.BUY), int(Side.SELL)
GTC, IOC = int(TimeInForce.GTC), int(TimeInForce.IOC)


def new(oid: int, side: int, price: int, qty: int, tif: int = GTC) -> NewOrder:
    return NewOrder(1, oid, 1, side, int(OrderType.LIMIT), tif, price, qty)


def test_resting_orders_and_best_prices() -> None:
    m = BareMatcher()
    assert m.process(new(1, BUY, 99, 10)) == 0
    assert m.process(new(2, BUY, 98, 5)) == 0
    assert m.process(new(3, SELL, 101, 7)) == 0
    assert (m.best_bid(), m.best_ask()) == (99, 101)
    assert m.resting() == 3
    assert m.levels() == 3


def test_sweep_in_price_time_priority() -> None:
    m = BareMatcher()
    m.process(new(1, SELL, 100, 10))
    m.process(new(2, SELL, 100, 5))
    m.process(new(3, SELL, 101, 4))
    # 12 at 101: all of order 1 (10), 2 of order 2; order 3 untouched.
    assert m.process(new(4, BUY, 101, 12)) == 2
    assert m.orders[2][1] == 3
    assert 1 not in m.orders
    assert m.level_qty(SELL, 100) == 3
    assert m.best_ask() == 100
    assert 4 not in m.orders  # fully filled, nothing rests


def test_limit_remainder_rests_and_ioc_remainder_does_not() -> None:
    m = BareMatcher()
    m.process(new(1, SELL, 100, 5))
    assert m.process(new(2, BUY, 100, 8)) == 1
    assert m.orders[2][1] == 3
    assert m.best_bid() == 100
    m.process(new(3, BUY, 99, 5))
    assert m.process(new(4, SELL, 99, 10, IOC)) == 2  # takes 3 at 100 and 5 at 99
    assert 4 not in m.orders
    assert m.resting() == 0
    assert (m.best_bid(), m.best_ask()) == (0, 0)


def test_non_crossing_ioc_is_dropped() -> None:
    m = BareMatcher()
    m.process(new(1, SELL, 101, 5))
    assert m.process(new(2, BUY, 100, 5, IOC)) == 0
    assert m.resting() == 1


def test_cancel_removes_and_ignores_unknown() -> None:
    m = BareMatcher()
    m.process(new(1, SELL, 100, 5))
    m.process(new(2, SELL, 101, 5))
    m.process(CancelOrder(1, 1))
    m.process(CancelOrder(1, 99))
    assert m.best_ask() == 101
    assert m.levels() == 1
    # The cancelled order must not trade any more.
    assert m.process(new(3, BUY, 101, 10)) == 1
    assert m.resting() == 1
    assert m.orders[3][1] == 5


def test_move_loses_priority_and_may_trade() -> None:
    m = BareMatcher()
    m.process(new(1, BUY, 99, 5))
    m.process(new(2, BUY, 99, 5))
    m.process(new(3, BUY, 98, 5))
    # Move order 1 away and back: it is now behind order 2.
    assert m.process(ModifyOrder(1, 1, 97)) == 0
    assert m.process(ModifyOrder(1, 1, 99)) == 0
    assert m.process(new(4, SELL, 99, 5)) == 1
    assert 2 not in m.orders
    assert m.orders[1][1] == 5
    # Moving a bid through the ask trades at the ask, the rest rests at the new price.
    m.process(new(5, SELL, 100, 2))
    assert m.process(ModifyOrder(1, 3, 100)) == 1
    assert m.orders[3][1] == 3
    assert m.best_bid() == 100
    assert m.best_ask() == 0


def test_same_price_quantity_decrease_keeps_priority() -> None:
    m = BareMatcher()
    m.process(new(1, SELL, 100, 5))
    m.process(new(2, SELL, 100, 5))
    m.process(ModifyOrder(1, 1, 0, 2))
    assert m.process(new(3, BUY, 100, 2)) == 1
    assert 1 not in m.orders
    assert m.orders[2][1] == 5


@pytest.mark.parametrize("name", MIX_NAMES)
def test_agrees_with_the_engine_on_a_mix(name: str) -> None:
    mix = generate_mix(name, 5_000, seed=5)
    m = BareMatcher()
    for cmd in mix.prefill:
        m.process(cmd)
    trades = sum(m.process(cmd) for cmd in mix.commands)
    assert trades == mix.trades
    assert m.resting() == mix.resting_end
    assert m.levels() == mix.levels_end
