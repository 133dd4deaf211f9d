"""L2 queue models: risk-averse, power and log, driven like the runner drives them."""

from __future__ import annotations

import itertools

import pytest

from whistle.book.mbo import MarketByOrderBook
from whistle.core.enums import Liquidity, TimeInForce
from whistle.core.mbo import (
    FLAG_LAST,
    NO_PRICE,
    TRADE_HIDDEN,
    MboAdd,
    MboCancel,
    MboDelete,
    MboEvent,
    MboExecute,
    MboTrade,
)
from whistle.trading.backtest import BacktestConfigError, FeeModel
from whistle.trading.backtest.queue import (
    L2Exchange,
    LogQueue,
    PowerQueue,
    RiskAverseQueue,
    queue_model,
)
from whistle.trading.messages import OrderUpdate, UpdateKind

BUY, SELL = 1, 2
GTC = int(TimeInForce.GTC)
M = int(Liquidity.MAKER)


class L2:
    def __init__(self, model: str, seed: int = 0) -> None:
        self.book = MarketByOrderBook()
        self.ex = L2Exchange(self.book, 1, FeeModel(), queue_model(model, 2.0, seed))
        self.ts = 0

    def feed(self, e: MboEvent) -> list[tuple[int, int, int]]:
        if self.ex.active:
            self.ex.observe(e)
        self.book.apply(e)
        if self.ex.active:
            self.ex.settle()
        out: list[OrderUpdate] = self.ex.out
        self.ex.out = []
        return [
            (u.client_order_id, u.fill_qty, u.liquidity) for u in out if u.kind == UpdateKind.FILLED
        ]

    def h(self) -> tuple[int, int, int, int, int]:
        self.ts += 1
        return (0, self.ts, 0, self.ts, FLAG_LAST)

    def add(self, oid: int, side: int, price: int, qty: int) -> list[tuple[int, int, int]]:
        return self.feed(MboAdd(*self.h(), oid, side, price, qty))

    def execute(self, oid: int, qty: int) -> list[tuple[int, int, int]]:
        return self.feed(MboExecute(*self.h(), oid, qty, 0, NO_PRICE, True, 0))

    def cancel(self, oid: int, qty: int) -> list[tuple[int, int, int]]:
        return self.feed(MboCancel(*self.h(), oid, qty, 0, NO_PRICE))

    def delete(self, oid: int) -> list[tuple[int, int, int]]:
        return self.feed(MboDelete(*self.h(), oid, 0, NO_PRICE))

    def submit(self, coid: int, side: int, price: int, qty: int) -> None:
        self.ex.new_order(coid, side, price, qty, GTC, False, self.ts)
        self.ex.out = []

    def ahead(self, coid: int) -> int:
        return self.ex.orders[coid].ahead_qty


def test_risk_averse_only_trades_advance() -> None:
    q = L2("risk_averse")
    q.add(1, BUY, 100, 300)
    q.add(2, BUY, 100, 200)
    q.add(9, SELL, 101, 10)
    q.submit(1001, BUY, 100, 50)
    assert q.ahead(1001) == 500
    q.add(3, BUY, 100, 400)  # behind
    q.cancel(2, 100)  # a decrease: never an advance...
    assert q.ahead(1001) == 500
    # ...except what cannot have come from behind: the model put the cancel of 100
    # behind, so only 300 were behind when order 3's 400 left.
    q.delete(3)
    assert q.ahead(1001) == 400
    q.delete(2)  # the level holds 300 now: nothing of it can be behind
    assert q.ahead(1001) == 300
    assert q.execute(1, 250) == []
    assert q.ahead(1001) == 50
    q.add(4, BUY, 100, 100)
    assert q.execute(1, 50) == []
    assert q.execute(4, 30) == [(1001, 30, M)]


def test_trade_through_fills_in_l2() -> None:
    q = L2("risk_averse")
    q.add(1, BUY, 99, 300)
    q.add(9, SELL, 102, 10)
    q.submit(1001, BUY, 100, 50)
    assert q.ahead(1001) == 0
    assert q.execute(1, 20) == [(1001, 20, M)]
    assert q.feed(MboTrade(*q.h(), 0, SELL, 98, 100, TRADE_HIDDEN, True, 0)) == [(1001, 30, M)]


@pytest.mark.parametrize("model", ["power", "log"])
def test_probabilistic_models_are_seeded_and_deterministic(model: str) -> None:
    def run(seed: int) -> list[int]:
        q = L2(model, seed)
        for i in range(20):
            q.add(i + 1, BUY, 100, 100)
        q.add(99, SELL, 101, 10)
        q.submit(1001, BUY, 100, 10)
        for i in range(20, 40):
            q.add(i + 1, BUY, 100, 100)
        seen = []
        for i in range(0, 40, 2):
            q.delete(i + 1)
            seen.append(q.ahead(1001))
        return seen

    a, b = run(1), run(1)
    assert a == b
    assert a[-1] < 2000  # cancels ahead advanced the order some of the time
    assert all(x >= y for x, y in itertools.pairwise(a))
    assert any(run(s) != a for s in range(2, 8))


def test_model_functions() -> None:
    assert RiskAverseQueue().decrease(500, 100, 50) == 500
    assert RiskAverseQueue().decrease(500, 100, 150) == 450  # 50 cannot have been behind
    assert PowerQueue(2.0, 0).decrease(0, 100, 50) == 0
    # With nothing behind, every decrease was ahead, whatever the draw.
    assert PowerQueue(2.0, 0).decrease(500, 0, 50) == 450
    assert LogQueue(0).decrease(500, 0, 50) == 450
    with pytest.raises(BacktestConfigError):
        queue_model("nope")
