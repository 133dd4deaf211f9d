"""Backtests on the shared sample files (skipped when ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from whistle.trading.backtest import BacktestConfig, LatencyConfig
from whistle.trading.backtest.runner import run_backtest
from whistle.trading.examples import ImbalanceTaker, MarketMaker

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ITCH = DATA / "itch50-simulated" / "ex20101224.TEST_ITCH_50"
LOBSTER = DATA / "lobster-aapl-2012-06-21-level10"
LOB_MSG = LOBSTER / "AAPL_2012-06-21_34200000_57600000_message_10.csv"
LOB_BOOK = LOBSTER / "AAPL_2012-06-21_34200000_57600000_orderbook_10.csv"


@pytest.mark.skipif(not ITCH.is_file(), reason="shared ITCH sample absent")
def test_itch_market_maker_twice_gives_identical_fills() -> None:
    cfg = BacktestConfig(
        data=str(ITCH),
        symbol="BOB",
        latency=LatencyConfig(feed_ns=5_000, entry_ns=20_000, ack_ns=15_000),
    )
    a = run_backtest(cfg, MarketMaker())
    b = run_backtest(cfg, MarketMaker())
    assert a.events == b.events > 4_000
    assert a.fills
    assert msgspec.json.encode(a.fills) == msgspec.json.encode(b.fills)
    assert a.as_dict()["pnl"] == b.as_dict()["pnl"]
    assert a.price_decimals == 4


@pytest.mark.skipif(not LOB_MSG.is_file(), reason="shared LOBSTER sample absent")
@pytest.mark.parametrize("model", ["fifo", "risk_averse", "power", "log"])
def test_lobster_every_queue_model_runs_deterministically(model: str) -> None:
    cfg = BacktestConfig(
        data=str(LOB_MSG),
        symbol="AAPL",
        format="lobster",
        queue_model=model,
        seed=3,
        feed_options={"orderbook": str(LOB_BOOK)},
        latency=LatencyConfig(entry_ns=50_000, ack_ns=50_000),
    )
    a = run_backtest(cfg, MarketMaker())
    b = run_backtest(cfg, MarketMaker())
    assert a.events > 900
    assert a.fills == b.fills
    assert a.timeline == b.timeline


@pytest.mark.skipif(not LOB_MSG.is_file(), reason="shared LOBSTER sample absent")
def test_lobster_interactive_and_taker() -> None:
    cfg = BacktestConfig(
        data=str(LOB_MSG),
        symbol="AAPL",
        format="lobster",
        interactive=True,
        feed_options={"orderbook": str(LOB_BOOK)},
    )
    result = run_backtest(cfg, ImbalanceTaker())
    assert result.divergence is not None
    assert result.divergence.recorded_executions > 0
