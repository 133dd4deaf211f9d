"""Interactive mode: the record and the strategy matched in one whistle engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from whistle.bench.feed import OP_ADD, OP_EXECUTE, SyntheticOp, itch_bytes, synthetic_ops
from whistle.core.enums import TimeInForce
from whistle.trading.backtest import BacktestConfig, LatencyConfig
from whistle.trading.backtest.runner import run_backtest
from whistle.trading.examples import MarketMaker, Noop
from whistle.trading.strategy import Strategy

if TYPE_CHECKING:
    from pathlib import Path

    from whistle.trading.context import Context
    from whistle.trading.strategy import BookView

SYM = "WHSTL"
T0 = 34_200_000_000_000


def test_without_strategy_orders_the_engine_reproduces_every_execution(tmp_path: Path) -> None:
    path = tmp_path / "s.itch"
    path.write_bytes(itch_bytes(synthetic_ops(5_000, 11), symbol=SYM))
    result = run_backtest(BacktestConfig(data=str(path), symbol=SYM, interactive=True), Noop())
    d = result.divergence
    assert d is not None
    assert d.recorded_executions > 100
    assert d.reproduced_executions == d.recorded_executions
    assert (d.skipped_executions, d.skipped_qty, d.extra_fills) == (0, 0, 0)
    assert result.as_dict()["divergence"]["recorded_adds"] == d.recorded_adds


def test_a_strategy_order_ahead_takes_the_recorded_execution(tmp_path: Path) -> None:
    class Front(Strategy):
        def on_book(self, ctx: Context, book: BookView) -> None:
            if not ctx.open_orders and not ctx.position and book.best_bid == 1_000_000:
                ctx.buy(100, 1_000_100, tif=TimeInForce.GTC)  # a better bid: ahead of all

    ops = [
        SyntheticOp(OP_ADD, T0, 1, b"B", 300, 1_000_000, 0),
        SyntheticOp(OP_ADD, T0 + 1, 2, b"S", 300, 1_010_000, 0),
        SyntheticOp(OP_EXECUTE, T0 + 1_000, 1, b"B", 150, 0, 0),
    ]
    path = tmp_path / "f.itch"
    path.write_bytes(itch_bytes(ops, symbol=SYM))
    cfg = BacktestConfig(
        data=str(path), symbol=SYM, interactive=True, latency=LatencyConfig(risk_ns=0)
    )
    result = run_backtest(cfg, Front())
    # The replayed seller meets the strategy's bid at 100.01 first: 100 fill it there
    # (the engine trades at the resting order's price), the other 50 hit order 1.
    assert [(f.price, f.qty, f.liquidity) for f in result.fills] == [(1_000_100, 100, 1)]
    d = result.divergence
    assert d is not None
    assert (d.recorded_executions, d.reproduced_executions, d.skipped_executions) == (1, 0, 1)
    assert (d.skipped_qty, d.extra_fills, d.extra_fill_qty) == (100, 1, 100)


def test_interactive_market_maker_is_deterministic(tmp_path: Path) -> None:
    path = tmp_path / "m.itch"
    path.write_bytes(itch_bytes(synthetic_ops(3_000, 5), symbol=SYM))
    cfg = BacktestConfig(data=str(path), symbol=SYM, interactive=True)
    a = run_backtest(cfg, MarketMaker())
    b = run_backtest(cfg, MarketMaker())
    assert a.fills == b.fills
    assert a.divergence == b.divergence
    assert a.fills
