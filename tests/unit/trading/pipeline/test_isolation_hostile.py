"""Hostile strategies the stage must survive (R1 findings 2, 7, 9): SystemExit, an exception
that cannot be printed, and a trade/timer-only strategy that reads ``ctx.book``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from whistle.bench.pipeline import synthetic_events
from whistle.trading.messages import OrderAction, SignalKind, UpdateKind
from whistle.trading.pipeline import PipelineConfig, StrategySpec, run_inprocess
from whistle.trading.strategy import BookView, Strategy

if TYPE_CHECKING:
    from whistle.trading.context import Context
    from whistle.trading.messages import MarketEvent

CHASER = "whistle.bench.pipeline:QuoteChaser"


def spec(cls: type[Strategy] | str) -> StrategySpec:
    name = cls if isinstance(cls, str) else f"{cls.__module__}:{cls.__qualname__}"
    return StrategySpec(name, "A")


def run(*strategies: type[Strategy] | str, n: int = 400) -> Any:
    config = PipelineConfig(symbols={"A": 1}, strategies=[spec(s) for s in strategies])
    return run_inprocess(config, synthetic_events(n, seed=1, instrument_id=1))


class _Raiser(Strategy):
    """Rests one bid on its first two-sided BBO, raises ``self.make()`` on the fifth."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.n = 0

    def make(self) -> BaseException:
        raise NotImplementedError

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        if not (book.best_bid and book.best_ask):
            return
        self.n += 1
        if self.n == 1:
            ctx.buy(1, book.best_bid - 300)
        if self.n == 5:
            raise self.make()


class Exits(_Raiser):
    def make(self) -> BaseException:
        return SystemExit(3)


class _Unprintable(Exception):
    def __str__(self) -> NoReturn:
        raise RuntimeError("no str")

    def __repr__(self) -> NoReturn:
        raise RuntimeError("no repr")


class RaisesUnprintable(_Raiser):
    def make(self) -> BaseException:
        return _Unprintable()


class Interrupted(_Raiser):
    def make(self) -> BaseException:
        return KeyboardInterrupt()


@pytest.mark.parametrize(
    ("hostile", "text"),
    [
        (Exits, "Exits.on_bbo raised SystemExit: 3"),
        (
            RaisesUnprintable,
            "RaisesUnprintable.on_bbo raised _Unprintable: <unprintable _Unprintable>",
        ),
    ],
)
def test_a_base_exception_or_an_unprintable_one_stops_only_that_strategy(
    hostile: type[Strategy], text: str
) -> None:
    result = run(hostile, CHASER)
    (failure,) = result.failures
    assert (failure["strategy_id"], failure["callback"]) == (1, "on_bbo")
    assert text in failure["cause"]
    mine = [s for s in result.signals if s.strategy_id == 1]
    assert [s.kind for s in mine] == [SignalKind.BUY, SignalKind.CANCEL]  # its order cancelled
    assert mine[0].client_order_id in {
        u.client_order_id for u in result.updates if u.kind is UpdateKind.CANCELLED
    }
    last = max(i for i, s in enumerate(result.signals) if s.strategy_id == 1)
    assert any(s.strategy_id == 2 for s in result.signals[last:])  # the other went on
    assert result.open_orders == 0


def test_keyboard_interrupt_still_ends_the_run() -> None:
    with pytest.raises(KeyboardInterrupt):
        run(Interrupted, CHASER)


class TradeOnly(Strategy):
    """Trades only: bids under ``ctx.book`` on every trade it sees (at most once)."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.seen: list[tuple[int, int]] = []

    def on_trade(self, ctx: Context, trade: MarketEvent) -> None:
        self.seen.append((ctx.book.best_bid, ctx.book.best_ask))
        if len(self.seen) == 1 and ctx.book.best_bid > 1:
            ctx.buy(1, ctx.book.best_bid - 1)


class TimerOnly(Strategy):
    """Timers only: one timer 10 ms into the synthetic stream (it starts at 34,200 s); bids
    under ``ctx.book`` when it fires."""

    def on_start(self, ctx: Context) -> None:
        ctx.set_timer(34_200_010_000_000)

    def on_timer(self, ctx: Context, tag: int) -> None:
        if ctx.book.best_bid > 1:
            ctx.buy(1, ctx.book.best_bid - 1)


@pytest.mark.parametrize("strategy", [TradeOnly, TimerOnly])
def test_a_trade_or_timer_only_strategy_reads_the_live_book(strategy: type[Strategy]) -> None:
    result = run(strategy, n=2000)
    news = [o for o in result.orders if o.action is OrderAction.NEW]
    assert len(news) == 1
    assert news[0].price > 1
