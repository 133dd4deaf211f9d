"""The process runtime: four pinned stage processes decide exactly what one process does;
hostile strategies, dead stages and hung stages end the run with a cause, never a hang.

The stage processes import strategies and the risk-engine factory by name (the supervisor
passes its ``sys.path`` on): the hostile strategies shared with the in-process tests from
tests/pipeline_strategies.py, the rest from this module.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from whistle.ipc import list_blocks
from whistle.metrics.block import MetricsBlock, make_block_name
from whistle.trading.messages import MarketEvent, MarketKind, OrderUpdate, UpdateKind
from whistle.trading.pipeline import (
    STAGES,
    PipelineConfig,
    StageFailed,
    run_inprocess,
    run_processes,
    stage_cpus,
)
from whistle.trading.pipeline.wiring import risk_engine
from whistle.trading.strategy import Strategy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: pipeline_strategies
from pipeline_strategies import (
    CHASER,
    MM,
    SYMBOLS,
    ExitAt,
    RaiseAt,
    SpinAt,
    UnstoppableAt,
    spec,
)
from pipeline_strategies import two_symbols as _two_symbols

if TYPE_CHECKING:
    from collections.abc import Mapping

    from whistle.core.mbo import MboEvent
    from whistle.trading.context import Context
    from whistle.trading.strategy import BookView

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")

DEADLINE_S = 60.0


def two_symbols(n: int) -> list[MboEvent]:
    return _two_symbols(n, seeds=(3, 4))


class TradeOnly(Strategy):
    """Trades only and reads ctx.book (kept live from the BBO events): bids under it."""

    def on_trade(self, ctx: Context, trade: MarketEvent) -> None:
        if not ctx.open_orders and ctx.book.best_bid > 200:
            ctx.buy(1, ctx.book.best_bid - 200)


class Burst(Strategy):
    """Ten orders on every BBO change (against a rate limit on its symbol)."""

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        if book.best_bid:
            for i in range(10):
                ctx.buy(1, book.best_bid - 2000 - i)


class Stubborn(Strategy):
    """Answers every cancel or refusal of its order with the same order again."""

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        if book.best_bid and not ctx.open_orders and ctx.position == 0:
            ctx.buy(1, book.best_bid - 700)

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        if update.kind in (UpdateKind.CANCELLED, UpdateKind.REJECTED):
            ctx.buy(1, update.price or 1)


class DyingRisk:
    """A real RiskEngine whose process SIGKILLs itself at the 30th check."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.calls = 0
        self.on_update = engine.on_update
        self.on_market = engine.on_market
        self.kill = engine.kill

    @property
    def killed(self) -> bool:
        return bool(self.engine.killed)

    @property
    def kill_cause(self) -> str:
        return str(self.engine.kill_cause)

    def check_order(self, signal_event: Any, account: int, now_ns: int) -> Any:
        self.calls += 1
        if self.calls == 30:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.engine.check_order(signal_event, account, now_ns)


def dying_risk(risk: Mapping[str, Any], symbols: Mapping[int, str]) -> DyingRisk:
    return DyingRisk(risk_engine(risk, symbols))


def our_blocks() -> set[str]:
    return set(list_blocks(f"whistle-{os.getpid()}-"))


def test_stages_are_spread_over_the_cpus() -> None:
    assert stage_cpus([0, 1]) == [0, 0, 1, 1]
    assert stage_cpus([3]) == [3, 3, 3, 3]
    assert stage_cpus([0, 1, 2, 3, 4, 5]) == [0, 1, 3, 4]
    assert stage_cpus([]) == [-1, -1, -1, -1]


def test_a_budget_longer_than_the_heartbeat_timeout_is_refused() -> None:
    cfg = PipelineConfig(
        symbols=SYMBOLS, strategies=[spec(CHASER, "A")], callback_budget_ns=2_000_000_000
    )
    with pytest.raises(ValueError, match="must exceed the callback budget"):
        run_processes(cfg, two_symbols(10), dead_after_s=1.0)


def test_a_bad_source_is_refused_before_anything_is_created() -> None:
    cfg = PipelineConfig(symbols=SYMBOLS, strategies=[spec(CHASER, "A")])
    runs = Path(tempfile.gettempdir())
    before = set(runs.glob("whistle-pipeline-*"))
    blocks = our_blocks()
    with pytest.raises(TypeError, match="a source yields"):
        run_processes(cfg, [*two_symbols(5), "not an event"])  # type: ignore[list-item]
    assert set(runs.glob("whistle-pipeline-*")) == before
    assert our_blocks() == blocks


def test_processes_decide_exactly_what_one_process_decides() -> None:
    cfg = PipelineConfig(
        symbols=SYMBOLS,
        strategies=[
            spec(RaiseAt, "A", config={"at": 40, "bid_qty": 2, "bid_below": 200}),
            spec(CHASER, "A"),
            spec(MM, "B", config={"half_spread_ticks": 100}),
            spec(Burst, "B"),
            spec(SpinAt, "B", config={"at": 10}),
            spec(Stubborn, "A"),
            spec(ExitAt, "A", config={"at": 30, "bid_qty": 2, "bid_below": 200}),
            spec(TradeOnly, "B"),
        ],
        risk={"per_symbol": {"B": {"max_order_rate": 2000, "order_burst": 10}}},
        callback_budget_ns=50_000_000,
    )
    events: list[MboEvent | MarketEvent] = list(two_symbols(350))
    events.insert(600, MarketEvent(MarketKind.DISCONNECT, 2, events[599].ts_ns))
    before = our_blocks()
    t0 = time.monotonic()
    with MetricsBlock.create(make_block_name("pipetest"), STAGES) as block:
        # Tiny rings (8 KiB: about 20 market events): producers keep meeting full rings and
        # wait (backpressure), which must neither lose nor reorder anything.
        across = run_processes(
            cfg, events, timeout_s=DEADLINE_S, metrics_block=block.name, ring_capacity=8192
        )
        live = block.snapshot()
    assert time.monotonic() - t0 < DEADLINE_S
    # every stage published its histograms into the shared block (what `whistle metrics` reads)
    for stage in STAGES:
        assert live[stage].count == across.latency_ns[stage]["count"] > 0
    local = run_inprocess(cfg, events, metrics=True)
    signals, decisions, orders, updates = across.decisions_stream()
    assert signals == local.signals
    assert decisions == local.decisions
    assert orders == local.orders
    assert updates == local.decisions_stream()[3]
    assert across.failures == local.failures
    # after the disconnect's kill switch the stubborn strategy answers every refusal with
    # the same order: stopped as a feedback loop; the spinning one is interrupted by its
    # budget; the raising one stopped
    causes = {f["strategy_id"]: f["cause"] for f in across.failures}
    assert {1, 5, 6, 7} <= set(causes)
    assert "SystemExit: 2" in causes[7]  # sys.exit() stopped that strategy, not the stage
    assert any(s.strategy_id == 8 for s in signals)  # a trade-only strategy read a live book
    assert "feedback loop" in causes[6]
    assert "CallbackTimeout" in causes[5]
    assert "RuntimeError: strategy bug" in causes[1]
    ended = {u.client_order_id for u in updates if u.kind is not UpdateKind.ACCEPTED}
    for sid in causes:  # every order a stopped strategy had at the venue ended
        sent = {o.client_order_id for o in orders if o.client_order_id >> 32 == sid}
        assert sent <= ended
    assert sum(s.strategy_id == 2 for s in signals) > 100  # the others went on
    assert across.counts.get("rejects_ORDER_RATE", 0) > 0
    assert across.counts.get("rejects_KILL_SWITCH", 0) > 0
    assert across.open_orders == local.open_orders == 0
    assert across.latency_ns["tick_to_order"]["count"] > 0
    for stage in ("market_data", "risk", "gateway", "tick_to_order"):  # the same samples
        assert across.latency_ns[stage]["count"] == local.latency_ns[stage]["count"]
    assert our_blocks() <= before  # rings and control block unlinked
    # each stage ran pinned to its CPU (where this machine lets a process pin itself)
    assert across.stage_cpus == [[cpu] for cpu in stage_cpus()]


def test_a_hung_strategy_stage_is_killed_and_risk_cancels_every_open_order() -> None:
    cfg = PipelineConfig(
        symbols=SYMBOLS,
        strategies=[
            spec(UnstoppableAt, "A", config={"at": 20, "ask_above": 300}),
            spec(CHASER, "B"),
        ],
        callback_budget_ns=20_000_000,
    )
    t0 = time.monotonic()
    with pytest.raises(StageFailed) as caught:
        run_processes(cfg, two_symbols(400), timeout_s=DEADLINE_S, dead_after_s=1.5)
    assert time.monotonic() - t0 < DEADLINE_S
    err = caught.value
    assert err.stage == "strategy"
    assert "no heartbeat" in err.cause
    result = err.result
    accepted = {u.client_order_id for u in result.updates if u.kind is UpdateKind.ACCEPTED}
    done = {
        u.client_order_id
        for u in result.updates
        if u.kind in (UpdateKind.CANCELLED, UpdateKind.FILLED, UpdateKind.EXPIRED)
    }
    assert accepted
    assert accepted <= done  # every order that rested was cancelled by the kill switch
    assert result.counts["kill_cancels"] >= 2


def test_a_killed_stage_is_reported_and_nothing_is_left_running() -> None:
    cfg = PipelineConfig(
        symbols=SYMBOLS,
        strategies=[spec(CHASER, "A")],
        risk_engine=f"{dying_risk.__module__}:dying_risk",
    )
    before = our_blocks()
    t0 = time.monotonic()
    with pytest.raises(StageFailed) as caught:
        run_processes(cfg, two_symbols(300), timeout_s=DEADLINE_S, stop_timeout_s=5.0)
    assert time.monotonic() - t0 < DEADLINE_S
    assert caught.value.stage == "risk"
    assert "SIGKILL" in caught.value.cause
    assert our_blocks() <= before
