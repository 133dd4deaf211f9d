"""The in-process pipeline: rounds, isolation of hostile strategies, floods, metrics."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from whistle.core.events import BestBidOfferChanged
from whistle.trading.messages import (
    MarketEvent,
    MarketKind,
    OrderUpdate,
    RiskReason,
    SignalKind,
    UpdateKind,
)
from whistle.trading.pipeline import InProcessPipeline, PipelineConfig, run_inprocess
from whistle.trading.strategy import BookView, Strategy

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # tests/: pipeline_strategies
from pipeline_strategies import CHASER, MM, SYMBOLS, RaiseAt, SpinAt, spec, two_symbols

if TYPE_CHECKING:
    from whistle.core.mbo import MboEvent
    from whistle.trading.context import Context
    from whistle.trading.pipeline import StrategySpec

RAISE_ON_TENTH = {"at": 10, "ask_above": 300, "last_bid_below": 400, "message": "boom"}
"""Quotes both sides, then on its tenth BBO change buys once more and raises."""


class SleepForever(Strategy):
    """Sleeps in a callback (a blocking call, not bytecode)."""

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        time.sleep(3600)


class Flood(Strategy):
    """Twenty new orders on every BBO change; counts the ORDER_RATE refusals it is told of."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.refused = 0

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        for i in range(20):
            ctx.buy(1, max(1, book.best_bid - 1000 - i))

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        if update.kind is UpdateKind.REJECTED and update.reason == RiskReason.ORDER_RATE:
            self.refused += 1


def cancelled_coids(result: Any) -> set[int]:
    return {u.client_order_id for u in result.updates if u.kind is UpdateKind.CANCELLED}


def test_a_clean_run_trades_and_ends_with_no_open_order() -> None:
    cfg = PipelineConfig(symbols=SYMBOLS, strategies=[spec(CHASER, "A"), spec(MM, "B")])
    result = run_inprocess(cfg, two_symbols())
    assert result.failures == []
    assert result.counts["orders"] > 100
    assert result.open_orders == 0
    # every order the gateway got is one risk approved, in order
    approved = [d.signal.client_order_id for d in result.decisions if d.approved]
    assert [o.client_order_id for o in result.orders] == approved
    assert {s.strategy_id for s in result.signals} == {1, 2}


def test_a_raising_strategy_is_stopped_its_orders_cancelled_the_others_go_on() -> None:
    cfg = PipelineConfig(
        symbols=SYMBOLS,
        strategies=[
            spec(RaiseAt, "A", config=RAISE_ON_TENTH),
            spec(CHASER, "A"),
            spec(CHASER, "B"),
        ],
    )
    result = run_inprocess(cfg, two_symbols())
    (failure,) = result.failures
    assert failure["strategy_id"] == 1
    assert failure["callback"] == "on_bbo"
    assert "RaiseAt.on_bbo raised RuntimeError: boom" in failure["cause"]
    mine = {s.client_order_id for s in result.signals if s.strategy_id == 1}
    assert len(mine) == 3  # two quotes, and the order placed just before raising
    assert mine <= cancelled_coids(result)
    kinds = [s.kind for s in result.signals if s.strategy_id == 1]
    assert kinds[-3:] == [SignalKind.CANCEL] * 3
    # the others kept trading after the failure
    last_failed = max(i for i, s in enumerate(result.signals) if s.strategy_id == 1)
    assert any(s.strategy_id == 2 for s in result.signals[last_failed:])
    assert any(s.strategy_id == 3 for s in result.signals[last_failed:])
    assert result.open_orders == 0


@pytest.mark.parametrize(
    "hostile", [spec(SpinAt, "A", config={"at": 5}), spec(SleepForever, "A")], ids=["spin", "sleep"]
)
def test_a_callback_over_its_budget_is_interrupted_and_stopped(hostile: StrategySpec) -> None:
    cfg = PipelineConfig(
        symbols=SYMBOLS,
        strategies=[hostile, spec(CHASER, "B")],
        callback_budget_ns=30_000_000,
    )
    result = run_inprocess(cfg, two_symbols(400))
    (failure,) = result.failures
    assert failure["strategy_id"] == 1
    assert "CallbackTimeout" in failure["cause"]
    assert "budget of 30 ms" in failure["cause"]
    mine = {s.client_order_id for s in result.signals if s.strategy_id == 1}
    assert mine <= cancelled_coids(result)
    assert sum(s.strategy_id == 2 for s in result.signals) > 50
    assert result.open_orders == 0


def test_an_order_flood_is_refused_by_the_rate_limit_without_stalling() -> None:
    cfg = PipelineConfig(
        symbols=SYMBOLS,
        strategies=[spec(Flood, "A"), spec(CHASER, "B")],
        risk={"per_symbol": {"A": {"max_order_rate": 1000, "order_burst": 20}}},
    )
    events = two_symbols(300)
    pipeline = InProcessPipeline(cfg)
    result = pipeline.run(events)
    refused = result.counts["rejects_ORDER_RATE"]
    flood = [d for d in result.decisions if d.signal.strategy_id == 1]
    assert refused == sum(not d.approved for d in flood)
    assert refused > len(flood) // 2
    assert all(d.reason is RiskReason.ORDER_RATE for d in flood if not d.approved)
    # the denials went back to the strategy as REJECTED updates with the reason
    flood_strategy = pipeline.strategy.slots[0].strategy
    assert isinstance(flood_strategy, Flood)
    assert flood_strategy.refused == refused
    # the other symbol's strategy was not throttled and the whole feed went through
    assert all(d.approved for d in result.decisions if d.signal.strategy_id == 2)
    assert result.feed_events == len(events)


def test_a_feed_disconnect_trips_the_kill_switch_and_cancels_everything() -> None:
    cfg = PipelineConfig(symbols=SYMBOLS, strategies=[spec(CHASER, "A"), spec(CHASER, "B")])
    events: list[MboEvent | MarketEvent] = list(two_symbols(400))
    events.insert(400, MarketEvent(MarketKind.DISCONNECT, 1, events[399].ts_ns))
    result = run_inprocess(cfg, events)
    assert result.open_orders == 0
    after = result.decisions[-20:]
    refused = [d for d in after if not d.approved]
    assert refused
    new_or_modify = [d for d in refused if d.signal.kind is not SignalKind.CANCEL]
    assert all(d.reason is RiskReason.KILL_SWITCH for d in new_or_modify)


def test_metrics_off_runs_a_loop_without_metric_code() -> None:
    cfg = PipelineConfig(symbols=SYMBOLS, strategies=[spec(CHASER, "A")])
    off = run_inprocess(cfg, two_symbols(300))
    assert off.latency_ns == {}
    names = InProcessPipeline._loop_plain.__code__.co_names
    assert "record" not in names
    assert "recorder" not in names
    on = run_inprocess(cfg, two_symbols(300), metrics=True)
    assert set(on.latency_ns) == {"market_data", "strategy", "risk", "gateway", "tick_to_order"}
    assert on.latency_ns["market_data"]["count"] == 600
    assert on.latency_ns["tick_to_order"]["count"] == on.latency_ns["risk"]["count"]
    # same decisions with or without metrics
    assert on.decisions_stream() == off.decisions_stream()


def test_a_paced_run_measures_from_intended_send_times() -> None:
    cfg = PipelineConfig(symbols=SYMBOLS, strategies=[spec(CHASER, "A")])
    result = run_inprocess(cfg, two_symbols(100), metrics=True, rate=20_000)
    row = result.latency_ns["tick_to_order"]
    assert 0 < row["p50"] <= row["p99"] <= row["max"]


def test_bad_configs_are_refused_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="not one of the pipeline's symbols"):
        PipelineConfig(symbols=SYMBOLS, strategies=[spec(CHASER, "Z")]).check()
    with pytest.raises(ValueError, match="strategy ids must be unique"):
        PipelineConfig(
            symbols=SYMBOLS,
            strategies=[spec(CHASER, "A", strategy_id=2), spec(CHASER, "B")],
        ).check()
    with pytest.raises(ValueError, match="at least one strategy"):
        PipelineConfig(symbols=SYMBOLS, strategies=[]).check()
    with pytest.raises(ValueError, match="must be 'module:function'"):
        PipelineConfig(symbols=SYMBOLS, strategies=[spec(CHASER)], gateway="nope").check()


def test_a_strategy_trades_on_a_venues_own_market_data() -> None:
    cfg = PipelineConfig(symbols={"A": 1}, strategies=[spec(CHASER, "A")])
    bbos = [
        BestBidOfferChanged(1, i, i, 1_000 * i, 10_000 + 2 * i, 5, 10_200, 5) for i in range(1, 40)
    ]
    result = run_inprocess(cfg, bbos)
    assert result.market_events == 40  # 39 BBO changes and the END
    assert result.counts["orders"] >= 39  # one order or modify per BBO change, then a cancel
    assert result.open_orders == 0


class EveryMillisecond(Strategy):
    """Buys on a timer every 1 ms of event time (and raises in its third timer)."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.fired: list[int] = []

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        if not self.fired and book.best_bid and not ctx.open_orders:
            self.fired.append(0)
            ctx.after(1_000_000, tag=7)

    def on_timer(self, ctx: Context, tag: int) -> None:
        assert tag == 7
        self.fired.append(ctx.now_ns)
        if len(self.fired) == 4:
            raise RuntimeError("third timer")
        ctx.buy(1, max(1, ctx.book.best_bid - 900))
        ctx.after(1_000_000, tag=7)


def test_timers_fire_at_their_own_time_and_a_raising_timer_is_isolated() -> None:
    cfg = PipelineConfig(symbols=SYMBOLS, strategies=[spec(EveryMillisecond, "A")])
    pipeline = InProcessPipeline(cfg)
    result = pipeline.run(two_symbols(600))
    strategy = pipeline.strategy.slots[0].strategy
    assert isinstance(strategy, EveryMillisecond)
    first, second, third = strategy.fired[1:]
    assert second - first == third - second == 1_000_000  # each at its due time
    buys = [s for s in result.signals if s.kind is SignalKind.BUY]
    assert [s.ts_ns for s in buys] == [first, second]  # signals carry the timer's time
    (failure,) = result.failures
    assert failure["callback"] == "on_timer"
    assert result.open_orders == 0
