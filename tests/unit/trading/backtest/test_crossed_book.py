"""A crossed recorded book (R1 finding 6): an aggressive strategy order never takes
recorded liquidity through the opposite recorded best (a buy takes only asks >= the best
recorded bid, a sell only bids <= the best recorded ask), and every strategy order arriving
aggressive while the record is crossed or locked is counted (``crossed_book_orders``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import whistle.feed
from whistle.book.mbo import MarketByOrderBook
from whistle.core.enums import Liquidity, TimeInForce
from whistle.core.mbo import FLAG_LAST, MboAdd, MboEvent, MboInstrument
from whistle.trading.backtest import (
    BacktestConfig,
    FeeModel,
    FifoExchange,
    LatencyConfig,
    run_backtest,
)
from whistle.trading.backtest.queue import L2Exchange, queue_model
from whistle.trading.messages import UpdateKind
from whistle.trading.strategy import Strategy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from whistle.trading.backtest.exchange import BacktestExchange
    from whistle.trading.context import Context

BUY, SELL = 1, 2
GTC = int(TimeInForce.GTC)
T = int(Liquidity.TAKER)


def _fifo(book: MarketByOrderBook) -> BacktestExchange:
    return FifoExchange(book, 7, FeeModel())


def _l2(book: MarketByOrderBook) -> BacktestExchange:
    return L2Exchange(book, 7, FeeModel(), queue_model("risk_averse"))


MODELS = pytest.mark.parametrize("make", [_fifo, _l2], ids=["fifo", "l2"])


def crossed(make: Callable[[MarketByOrderBook], BacktestExchange]) -> BacktestExchange:
    """Bids 110 x50 (stale, over the asks) and 99 x10; asks 100 x30, 105 x20, 110 x10, 112 x10."""
    book = MarketByOrderBook()
    ex = make(book)
    rows = [(1, BUY, 99, 10), (2, SELL, 100, 30), (3, SELL, 105, 20), (4, SELL, 110, 10)]
    rows += [(5, SELL, 112, 10), (6, BUY, 110, 50)]
    for i, (oid, side, price, qty) in enumerate(rows):
        book.apply(MboAdd(0, 10 + i, 0, i + 1, FLAG_LAST, oid, side, price, qty))
    return ex


def taken(ex: BacktestExchange) -> list[tuple[int, int, int]]:
    out = [(u.fill_price, u.fill_qty, u.liquidity) for u in ex.out if u.kind == UpdateKind.FILLED]
    ex.out = []
    return out


@MODELS
def test_a_buy_takes_only_asks_at_or_above_the_best_recorded_bid(
    make: Callable[[MarketByOrderBook], BacktestExchange],
) -> None:
    ex = crossed(make)
    assert ex.available(BUY, 105, 1) == 0  # 100 and 105 are below the 110 bid: stale
    ex.new_order(11, BUY, 112, 20, GTC, False, 100)
    assert taken(ex) == [(110, 10, T), (112, 10, T)]
    assert ex.crossed_book_orders == 1


@MODELS
def test_a_sell_takes_only_bids_at_or_below_the_best_recorded_ask(
    make: Callable[[MarketByOrderBook], BacktestExchange],
) -> None:
    ex = crossed(make)
    ex.new_order(12, SELL, 90, 5, GTC, False, 100)
    assert taken(ex) == [(99, 5, T)]  # not the 110 bid above the 100 ask
    ex.new_order(13, BUY, 95, 5, GTC, False, 101)  # passive: not counted
    assert taken(ex) == []
    assert ex.crossed_book_orders == 1


@MODELS
def test_a_locked_book_trades_normally(
    make: Callable[[MarketByOrderBook], BacktestExchange],
) -> None:
    book = MarketByOrderBook()
    ex = make(book)
    book.apply(MboAdd(0, 10, 0, 1, FLAG_LAST, 1, BUY, 100, 10))
    book.apply(MboAdd(0, 11, 0, 2, FLAG_LAST, 2, SELL, 100, 10))
    book.apply(MboAdd(0, 12, 0, 3, FLAG_LAST, 3, SELL, 101, 10))
    ex.new_order(11, BUY, 101, 15, GTC, False, 100)
    assert taken(ex) == [(100, 10, T), (101, 5, T)]
    assert ex.crossed_book_orders == 1


class _Stats:
    messages = 0


class _Reader:
    def __init__(self, events: list[MboEvent]) -> None:
        self.events = events
        self.stats = _Stats()

    def __iter__(self) -> Iterator[MboEvent]:
        return iter(self.events)


class _TakeAt(Strategy):
    def on_start(self, ctx: Context) -> None:
        ctx.set_timer(100)

    def on_timer(self, ctx: Context, tag: int) -> None:
        ctx.buy(20, 112)


def test_the_result_counts_orders_against_a_crossed_book(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[MboEvent] = [MboInstrument(1, 0, 0, 0, FLAG_LAST, "X", 4)]
    rows = [(2, SELL, 100, 30), (4, SELL, 110, 10), (5, SELL, 112, 10), (6, BUY, 110, 50)]
    for i, (oid, side, price, qty) in enumerate(rows):
        events.append(MboAdd(1, 10 + i, 0, i + 1, FLAG_LAST, oid, side, price, qty))
    events.append(MboAdd(1, 500, 0, 9, FLAG_LAST, 7, BUY, 90, 1))
    monkeypatch.setattr(whistle.feed, "open", lambda *a, **k: _Reader(events))
    cfg = BacktestConfig(data="<tape>", symbol="X", latency=LatencyConfig(risk_ns=0))
    r = run_backtest(cfg, _TakeAt())
    assert [(f.price, f.qty) for f in r.fills] == [(110, 10), (112, 10)]
    assert r.crossed_book_orders == 1
    assert r.as_dict()["crossed_book_orders"] == 1
