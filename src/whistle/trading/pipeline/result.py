"""What a pipeline run returns: the decision streams, failures, counts and latency.

``PipelineResult`` is a msgspec Struct so that a stage process can hand its part back to the
supervisor as bytes (``StageReport``), and ``decisions()`` gives the streams the
determinism test compares between the in-process and the process runtimes. ``OrderUpdate``
``text`` is not part of the fixed ring record, so ``decisions()`` compares updates without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from whistle.trading.messages import Order, OrderUpdate, RiskDecision, SignalEvent

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from whistle.metrics.recorder import LatencyRecorder

__all__ = ["PipelineResult", "StageReport", "latency_summary", "merge_slots", "recorder_slots"]

_LAST_NS = 3  # whistle.metrics.snapshot.SLOT_LAST_NS: kept as the larger, not summed


def latency_summary(recorder: LatencyRecorder) -> dict[str, dict[str, int]]:
    """Return stage -> {count, min, p50, p90, p99, p999, p9999, max} (ns), recorded stages."""
    return {name: recorder.percentiles(name) for name in recorder.stages if recorder.count(name)}


def recorder_slots(recorder: LatencyRecorder) -> dict[str, list[int]]:
    """Return stage -> the recorder's raw slots (header + HDR counts), recorded stages only."""
    return {
        name: list(recorder.slots(i)) for i, name in enumerate(recorder.stages) if recorder.count(i)
    }


def merge_slots(recorder: LatencyRecorder, slots: Mapping[str, Sequence[int]]) -> None:
    """Add ``recorder_slots`` of a recorder with the same layout (another process's) into it."""
    for name, source in slots.items():
        target = recorder.slots(recorder.stage_index(name))
        if len(source) != len(target):
            raise ValueError(f"stage {name!r}: {len(source)} slots, expected {len(target)}")
        for i, value in enumerate(source):
            if value:
                if i == _LAST_NS:
                    target[i] = max(target[i], value)
                else:
                    target[i] += value


class StageReport(msgspec.Struct, kw_only=True):
    """One stage's share of a run (a stage process writes it to the supervisor)."""

    stage: int
    signals: list[SignalEvent] = msgspec.field(default_factory=list)
    decisions: list[RiskDecision] = msgspec.field(default_factory=list)
    orders: list[Order] = msgspec.field(default_factory=list)
    updates: list[OrderUpdate] = msgspec.field(default_factory=list)
    failures: list[dict[str, Any]] = msgspec.field(default_factory=list)
    counts: dict[str, int] = msgspec.field(default_factory=dict)
    cpus: list[int] = msgspec.field(default_factory=list)
    """The CPUs the stage process ran on (after pinning)."""
    latency: dict[str, list[int]] = msgspec.field(default_factory=dict)
    """Stage name -> the slots of the latencies this stage recorded (``recorder_slots``)."""
    error: str = ""


class PipelineResult(msgspec.Struct, kw_only=True):
    """The outcome of ``run_inprocess`` / ``run_processes``."""

    mode: str
    feed_events: int = 0
    market_events: int = 0
    rounds: int = 0
    seconds: float = 0.0
    """Wall time of the whole run (process start-up and shutdown included)."""
    active_seconds: float = 0.0
    """From the first feed event to the end of the stream (no start-up): events/s use it."""
    signals: list[SignalEvent] = msgspec.field(default_factory=list)
    decisions: list[RiskDecision] = msgspec.field(default_factory=list)
    orders: list[Order] = msgspec.field(default_factory=list)
    updates: list[OrderUpdate] = msgspec.field(default_factory=list)
    failures: list[dict[str, Any]] = msgspec.field(default_factory=list)
    """Strategies stopped by the isolation rule: strategy_id, strategy, symbol_id, callback,
    cause."""
    counts: dict[str, int] = msgspec.field(default_factory=dict)
    """signals, orders, updates, rejects_<REASON>..."""
    open_orders: int = 0
    """Open orders of every strategy at the end (0 after a clean shutdown)."""
    stage_cpus: list[list[int]] = msgspec.field(default_factory=list)
    """Processes only: the CPUs each stage process ran on (its affinity after pinning)."""
    latency_ns: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    """Stage name -> count, min, p50, p90, p99, p999, p9999, max (ns); empty when metrics
    were off."""

    def decisions_stream(
        self,
    ) -> tuple[list[SignalEvent], list[RiskDecision], list[Order], list[OrderUpdate]]:
        """Return (signals, risk decisions, orders, updates without text) for comparison."""
        updates = [msgspec.structs.replace(u, text="") if u.text else u for u in self.updates]
        return list(self.signals), list(self.decisions), list(self.orders), updates

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-safe summary (counts, failures, latency; not the streams)."""
        return {
            "mode": self.mode,
            "feed_events": self.feed_events,
            "market_events": self.market_events,
            "rounds": self.rounds,
            "seconds": self.seconds,
            "active_seconds": self.active_seconds,
            "signals": len(self.signals) if self.signals else self.counts.get("signals", 0),
            "orders": len(self.orders) if self.orders else self.counts.get("orders", 0),
            "updates": len(self.updates) if self.updates else self.counts.get("updates", 0),
            "failures": list(self.failures),
            "counts": dict(self.counts),
            "open_orders": self.open_orders,
            "latency_ns": dict(self.latency_ns),
        }
