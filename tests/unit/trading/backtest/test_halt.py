"""Recorded trading halts (R1 finding 10): while the record's last status is a halt (or a
pause), the strategy's new orders and price-changing modifies are REJECTED with
``TRADING_HALTED`` (cancels and reductions still go through) and nothing fills its resting
orders; after ``STATUS_RESUME`` / ``STATUS_OPEN`` trading goes on as before."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from whistle.book.mbo import MarketByOrderBook
from whistle.core.enums import TimeInForce
from whistle.core.mbo import (
    FLAG_LAST,
    NO_PRICE,
    STATUS_HALT,
    STATUS_OPEN,
    STATUS_PAUSE,
    STATUS_RESUME,
    MboAdd,
    MboEvent,
    MboExecute,
    MboStatus,
)
from whistle.core.reasons import RejectReason
from whistle.trading.backtest import FeeModel, FifoExchange
from whistle.trading.backtest.queue import L2Exchange, queue_model
from whistle.trading.messages import OrderUpdate, UpdateKind

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.trading.backtest.exchange import BacktestExchange

BUY, SELL = 1, 2
GTC = int(TimeInForce.GTC)
HALTED = int(RejectReason.TRADING_HALTED)


def _fifo(book: MarketByOrderBook) -> BacktestExchange:
    return FifoExchange(book, 7, FeeModel())


def _l2(book: MarketByOrderBook) -> BacktestExchange:
    return L2Exchange(book, 7, FeeModel(), queue_model("risk_averse"))


MODELS = pytest.mark.parametrize("make", [_fifo, _l2], ids=["fifo", "l2"])


class Harness:
    def __init__(self, make: Callable[[MarketByOrderBook], BacktestExchange]) -> None:
        self.book = MarketByOrderBook()
        self.ex = make(self.book)
        self.ts = 1_000
        self.seq = 0

    def _stamp(self) -> tuple[int, int, int, int, int]:
        self.ts += 10
        self.seq += 1
        return (0, self.ts, 0, self.seq, FLAG_LAST)

    def feed(self, e: MboEvent) -> list[OrderUpdate]:
        ex = self.ex
        if ex.active:
            ex.observe(e)
        self.book.apply(e)
        if ex.active or ex.needs_settle:
            ex.settle()
        return self.drain()

    def add(self, oid: int, side: int, price: int, qty: int) -> list[OrderUpdate]:
        return self.feed(MboAdd(*self._stamp(), oid, side, price, qty))

    def execute(self, oid: int, qty: int) -> list[OrderUpdate]:
        return self.feed(MboExecute(*self._stamp(), oid, qty, 0, NO_PRICE, True, 0))

    def status(self, status: int) -> list[OrderUpdate]:
        return self.feed(MboStatus(*self._stamp(), status, "x"))

    def submit(self, coid: int, side: int, price: int, qty: int) -> list[OrderUpdate]:
        self.ts += 1
        self.ex.new_order(coid, side, price, qty, GTC, False, self.ts)
        return self.drain()

    def drain(self) -> list[OrderUpdate]:
        out = self.ex.out
        self.ex.out = []
        return out


def kinds(ups: list[OrderUpdate]) -> list[tuple[UpdateKind, int]]:
    return [(u.kind, u.reason) for u in ups]


@MODELS
@pytest.mark.parametrize("halt", [STATUS_HALT, STATUS_PAUSE])
def test_new_orders_are_refused_while_halted_and_cancels_still_work(
    make: Callable[[MarketByOrderBook], BacktestExchange], halt: int
) -> None:
    h = Harness(make)
    h.add(1, SELL, 105, 100)
    h.add(2, BUY, 100, 100)
    assert kinds(h.submit(11, BUY, 99, 10)) == [(UpdateKind.ACCEPTED, 0)]
    h.status(halt)
    assert h.ex.halted()
    # An aggressive buy and a passive one: both refused, nothing taken.
    assert kinds(h.submit(12, BUY, 105, 10)) == [(UpdateKind.REJECTED, HALTED)]
    assert kinds(h.submit(13, BUY, 98, 10)) == [(UpdateKind.REJECTED, HALTED)]
    # A price-changing modify is refused; a reduction and a cancel are accepted.
    h.ex.modify(11, 105, 0, h.ts)
    assert kinds(h.drain()) == [(UpdateKind.REJECTED, HALTED)]
    h.ex.modify(11, 0, 5, h.ts)
    assert kinds(h.drain()) == [(UpdateKind.MODIFIED, 0)]
    h.ex.cancel(11, h.ts)
    assert kinds(h.drain())[0][0] == UpdateKind.CANCELLED
    assert h.ex.orders == {}


@MODELS
@pytest.mark.parametrize("resume", [STATUS_RESUME, STATUS_OPEN])
def test_resting_orders_do_not_fill_while_halted_and_trading_resumes(
    make: Callable[[MarketByOrderBook], BacktestExchange], resume: int
) -> None:
    h = Harness(make)
    h.add(2, BUY, 100, 100)
    h.add(1, SELL, 105, 100)
    assert kinds(h.submit(11, SELL, 104, 10)) == [(UpdateKind.ACCEPTED, 0)]
    h.status(STATUS_HALT)
    # Recorded flow that would fill it (a crossing bid, an execution through it): no fill.
    assert [u for u in h.add(3, BUY, 104, 50) if u.kind == UpdateKind.FILLED] == []
    assert [u for u in h.execute(1, 20) if u.kind == UpdateKind.FILLED] == []
    assert 11 in h.ex.orders
    h.status(resume)
    assert not h.ex.halted()
    # After the resume: an aggressive order trades, the resting one fills on flow again.
    ups = h.submit(12, SELL, 100, 10)
    assert [(u.kind, u.fill_price, u.fill_qty) for u in ups][-1][0] == UpdateKind.FILLED
    filled = [u for u in h.add(4, BUY, 104, 10) if u.kind == UpdateKind.FILLED]
    assert [(u.client_order_id, u.fill_price, u.fill_qty) for u in filled] == [(11, 104, 10)]
