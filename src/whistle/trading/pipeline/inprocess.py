"""The in-process runtime: the four stages called directly, in order, in one thread.

``run_inprocess(config, source)`` builds the stages (``wiring.STAGE_BUILDERS``), starts the
strategies, feeds every ``source`` event through stage 1 and runs each resulting market
event through stages 2-4 in rounds (``wiring``'s docstring), then sends ``END``: the
strategies' ``on_stop``, the cancels of every open order and a last round. The decisions
are the ones ``run_processes`` makes for the same config and source.

Metrics: with a recorder (``metrics=True`` builds a ``whistle.metrics.LatencyRecorder``) the
loop stamps the
time into each stage; without one a different loop runs, with no metric code at all (the
choice is made once, before the first event). ``rate`` paces the source at a fixed
offered rate and measures from intended send times (``pacing``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

from whistle.metrics.recorder import LatencyRecorder
from whistle.trading.messages import MarketKind, RiskReason
from whistle.trading.pipeline.config import STAGES
from whistle.trading.pipeline.pacing import Pacer
from whistle.trading.pipeline.result import PipelineResult, latency_summary
from whistle.trading.pipeline.wiring import BARRIER_KINDS, STAGE_BUILDERS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from whistle.core.events import Event
    from whistle.core.mbo import MboEvent
    from whistle.trading.messages import MarketEvent, OrderUpdate, SignalEvent
    from whistle.trading.pipeline.config import PipelineConfig
    from whistle.trading.pipeline.market_data import MarketDataStage
    from whistle.trading.pipeline.order_stages import GatewayStage, RiskStage
    from whistle.trading.pipeline.strategy_stage import StrategyStage

__all__ = ["InProcessPipeline", "run_inprocess"]

_END: Final = MarketKind.END
_MAX_ROUNDS: Final = 100
"""Rounds one market event may run before its looping strategies are stopped."""


class InProcessPipeline:
    """The four stages of ``config`` in this process (see the module docstring)."""

    def __init__(self, config: PipelineConfig, recorder: LatencyRecorder | None = None) -> None:
        config.check()
        self.config = config
        b1, b2, b3, b4 = STAGE_BUILDERS
        self.market_data: MarketDataStage = b1(config)
        self.strategy: StrategyStage = b2(config)
        self.risk: RiskStage = b3(config)
        self.gateway: GatewayStage = b4(config)
        self.recorder = recorder
        self.record = config.record
        self.signals: list[SignalEvent] = []
        self.feed_events = 0
        self.market_events = 0
        self.rounds = 0
        self.counts: dict[str, int] = {"signals": 0, "orders": 0, "updates": 0}
        self.seconds = 0.0

    # ------------------------------------------------------------------ rounds

    def _rounds(self, signals: list[SignalEvent], now_ns: int, origin: int) -> None:
        """Run the rounds of one market event (``wiring``); record latency on the first."""
        strategy = self.strategy
        risk = self.risk
        gateway = self.gateway
        rec = self.recorder
        counts = self.counts
        for n in range(_MAX_ROUNDS + 2):
            if n == _MAX_ROUNDS:  # a feedback loop: stop the strategies still answering
                signals = strategy.break_loop(signals, n)
            self.rounds += 1
            if rec is not None and n == 0:
                rec.record(2, time.monotonic_ns() - origin)
            if signals:
                counts["signals"] += len(signals)
                if self.record:
                    self.signals += signals
            orders, rejects = risk.check(signals)
            updates: list[OrderUpdate] = rejects
            for u in rejects:
                key = "rejects_" + _reason_name(u.reason)
                counts[key] = counts.get(key, 0) + 1
            if orders:
                if rec is not None and n == 0:
                    t = time.monotonic_ns() - origin
                    rec.record(3, t)
                    rec.record(4, t)
                updates = list(rejects)
                while orders:  # kill-switch cancels from the updates go at once
                    counts["orders"] += len(orders)
                    done = gateway.send(orders, now_ns)
                    risk.on_updates(done)
                    updates += done
                    orders = risk.take_pending()
            if not updates:
                return
            counts["updates"] += len(updates)
            signals = strategy.on_updates(updates)
            if not signals:
                return
        raise RuntimeError(f"a market event at {now_ns} ns did not end after its loop was broken")

    def _event(self, ev: MarketEvent, origin: int) -> None:
        self.market_events += 1
        rec = self.recorder
        if rec is not None:
            rec.record(1, time.monotonic_ns() - origin)
        signals = self.strategy.on_market(ev)
        self.risk.on_market(ev)
        if signals or ev.kind in BARRIER_KINDS:
            self._rounds(signals, ev.ts_ns, origin)

    # ------------------------------------------------------------------ loops

    def _loop_plain(self, source: Iterable[MboEvent | MarketEvent | Event], pacer: Pacer) -> int:
        on_feed = self.market_data.on_event
        strategy_on_market = self.strategy.on_market
        risk_on_market = self.risk.on_market
        rounds = self._rounds
        barrier = BARRIER_KINDS
        nxt = pacer.next
        n = 0
        m = 0
        last_ts = 0
        for item in source:
            n += 1
            origin = nxt()
            for ev in on_feed(item, origin):
                if ev.kind is _END:
                    self.market_events += m
                    self._finish(ev)
                    return n
                m += 1
                last_ts = ev.ts_ns
                signals = strategy_on_market(ev)
                risk_on_market(ev)
                if signals or ev.kind in barrier:
                    rounds(signals, ev.ts_ns, origin)
        self.market_events += m
        self._finish(self.market_data.end(last_ts, time.monotonic_ns()))
        return n

    def _loop_metered(self, source: Iterable[MboEvent | MarketEvent | Event], pacer: Pacer) -> int:
        rec = self.recorder
        assert rec is not None
        record = rec.record
        monotonic_ns = time.monotonic_ns
        on_feed = self.market_data.on_event
        event = self._event
        nxt = pacer.next
        n = 0
        last_ts = 0
        for item in source:
            n += 1
            origin = nxt()
            record(0, monotonic_ns() - origin)
            for ev in on_feed(item, origin):
                if ev.kind is _END:
                    self._finish(ev)
                    return n
                last_ts = ev.ts_ns
                event(ev, origin)
        self._finish(self.market_data.end(last_ts, monotonic_ns()))
        return n

    def _finish(self, end: MarketEvent) -> None:
        """The END event: on_stop, the cancels of every open order, a last round."""
        self.market_events += 1
        signals = self.strategy.stop(end.ts_ns)
        self.risk.on_market(end)
        self._rounds(signals, end.ts_ns, end.recv_ts_ns)

    def run(
        self, source: Iterable[MboEvent | MarketEvent | Event], rate: int = 0
    ) -> PipelineResult:
        """Run ``source`` through the pipeline; return the result.

        With a callback budget, its SIGALRM timer runs for the duration of the call (so it
        must be made from the main thread).
        """
        t0 = time.perf_counter()
        budget = self.strategy.budget
        if budget is not None:
            budget.arm()
        try:
            start = self.strategy.start(0)
            if start:
                self._rounds(start, 0, time.monotonic_ns())
            loop = self._loop_plain if self.recorder is None else self._loop_metered
            self.feed_events = loop(source, Pacer(rate))
        finally:
            if budget is not None:
                budget.disarm()
            self.seconds = time.perf_counter() - t0
            self.gateway.close()
        return self.result()

    def result(self) -> PipelineResult:
        """Return what the run produced so far."""
        return PipelineResult(
            mode="inprocess",
            feed_events=self.feed_events,
            market_events=self.market_events,
            rounds=self.rounds,
            seconds=self.seconds,
            active_seconds=self.seconds,
            signals=list(self.signals),
            decisions=list(self.risk.decisions),
            orders=list(self.gateway.orders),
            updates=list(self.gateway.updates),
            failures=[f.as_dict() for f in self.strategy.failures],
            counts=dict(self.counts),
            open_orders=self.strategy.open_orders(),
            latency_ns=latency_summary(self.recorder) if self.recorder is not None else {},
        )


def _reason_name(code: int) -> str:
    try:
        return RiskReason(code).name
    except ValueError:
        return str(code)


def run_inprocess(
    config: PipelineConfig,
    source: Iterable[MboEvent | MarketEvent | Event],
    *,
    metrics: bool | LatencyRecorder = False,
    rate: int = 0,
) -> PipelineResult:
    """Run ``source`` through the four stages in this process; see the module docstring.

    ``metrics=True`` records per-stage latency into a new ``LatencyRecorder`` (or into the one
    given); ``rate`` > 0 paces the source at that many events per second.
    """
    recorder: LatencyRecorder | None
    if metrics is True:
        recorder = LatencyRecorder(STAGES)
    elif metrics is False:
        recorder = None
    else:
        recorder = metrics
    return InProcessPipeline(config, recorder).run(source, rate)
