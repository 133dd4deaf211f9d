"""R1 adversarial: the live pipeline decides the same in one process and across processes on
recorded ITCH data with the shipped strategies; a callback that never returns is stopped by
the budget wherever it spins (on_start, on_order_update, on_stop), the others go on."""

from __future__ import annotations

from pathlib import Path

import pytest

import whistle.feed
from whistle.bench.pipeline import synthetic_events
from whistle.trading.messages import OrderAction
from whistle.trading.pipeline import PipelineConfig, StrategySpec, run_inprocess, run_processes

ITCH = Path("/work/shared/data/itch50-simulated/ex20101224.TEST_ITCH_50")
HS = "adversarial.hostile_strategies"


@pytest.mark.skipif(not ITCH.is_file(), reason="shared ITCH sample absent")
def test_shipped_and_timer_strategies_decide_the_same_in_process_and_across_processes() -> None:
    events = list(whistle.feed.open(ITCH, "itch", ["BOB"]))[:2500]
    iid = next(e.instrument_id for e in events if hasattr(e, "order_id"))
    config = PipelineConfig(
        symbols={"BOB": iid},
        strategies=[
            StrategySpec("whistle.trading.examples:MarketMaker", "BOB"),
            StrategySpec("whistle.trading.examples:ImbalanceTaker", "BOB"),
            StrategySpec(f"{HS}:TimerTrader", "BOB"),
        ],
        risk={
            "default": {
                "max_position": 5,
                "max_order_rate": 5,
                "order_burst": 2,
                "collar_bps": 500,
            }
        },
    )
    a = run_inprocess(config, events)
    b = run_processes(config, events, timeout_s=240)
    assert a.counts["orders"] > 20
    assert a.counts["rejects_ORDER_RATE"] > 0  # the token bucket bites, on the data clock
    assert a.counts["rejects_PRICE_COLLAR"] > 0
    assert a.decisions_stream() == b.decisions_stream()
    assert a.signals == b.signals
    assert a.orders == b.orders
    assert a.updates == b.updates
    assert a.failures == b.failures == []
    assert a.open_orders == b.open_orders


@pytest.mark.parametrize(
    ("name", "callback"),
    [
        ("SpinOnStart", "on_start"),
        ("SpinInUpdate", "on_order_update"),
        ("SpinOnStop", "on_stop"),
    ],
)
def test_budget_stops_a_callback_spinning_anywhere(name: str, callback: str) -> None:
    config = PipelineConfig(
        symbols={"A": 1},
        strategies=[StrategySpec(f"{HS}:{name}", "A"), StrategySpec(f"{HS}:Quoter", "A")],
        callback_budget_ns=50_000_000,
    )
    r = run_inprocess(config, synthetic_events(300, seed=1, instrument_id=1))
    assert [(f["strategy"], f["callback"]) for f in r.failures] == [(name, callback)]
    assert "CallbackTimeout" in str(r.failures[0]["cause"])
    assert r.open_orders == 0  # its orders were cancelled; the Quoter's at the end too


@pytest.mark.skipif(not ITCH.is_file(), reason="shared ITCH sample absent")
def test_a_trade_only_strategy_sees_the_book_live_as_in_the_backtest() -> None:
    from whistle.trading.backtest import BacktestConfig, run_backtest

    from .hostile_strategies import TradeOnlyBidder

    bt = run_backtest(
        BacktestConfig(data=str(ITCH), symbol="BOB", max_events=2500), TradeOnlyBidder()
    )
    assert bt.orders == 1
    events = list(whistle.feed.open(ITCH, "itch", ["BOB"]))[:2500]
    iid = next(e.instrument_id for e in events if hasattr(e, "order_id"))
    config = PipelineConfig(
        symbols={"BOB": iid}, strategies=[StrategySpec(f"{HS}:TradeOnlyBidder", "BOB")]
    )
    live = run_inprocess(config, events)
    assert [o.action for o in live.orders] == [OrderAction.NEW, OrderAction.CANCEL]  # + end cancel
