"""The matching benchmark: one engine, one prebuilt command list, timed in process.

Procedure (``run_matching_bench``):

1. generate the mix (``whistle.bench.mixes``) before anything is timed;
2. warm up on a throwaway engine (prefill, then the first commands);
3. throughput: a fresh engine gets the untimed prefill, then ``perf_counter_ns`` is read
   around the whole loop ``engine.process(enq, cmd, 0)`` over every command, with every
   event built and counted; nothing else happens per command. Best of ``repeat`` runs,
   interleaved with the bare matcher's runs (step 5) so both see the same machine noise;
4. latency (unless disabled): another fresh engine, ``perf_counter_ns`` around each
   ``process`` call, the deltas recorded afterwards in one HdrHistogram per command kind
   (and one overall). The two clock reads add their own cost (tens of ns) to each sample;
5. the bare matcher (``whistle.bench.bare``) on the same lists, timed like step 3.

The result is a JSON-ready dict (see ``run_matching_bench``).
"""

from __future__ import annotations

import gc
import os
import platform
import sys
import time
from typing import TYPE_CHECKING, Any, Final

from hdrh.histogram import HdrHistogram

from whistle.bench.bare import BareMatcher
from whistle.bench.mixes import KIND_NAMES, generate_mix
from whistle.engine.whistle import Whistle

if TYPE_CHECKING:
    from whistle.bench.mixes import CommandMix
    from whistle.core.commands import Command

__all__ = [
    "DEFAULT_ORDERS",
    "DEFAULT_REPEAT",
    "PERCENTILES",
    "clock_overhead_ns",
    "environment",
    "percentiles",
    "run_bare",
    "run_latency",
    "run_matching_bench",
    "run_throughput",
]

DEFAULT_ORDERS: Final = 200_000
DEFAULT_REPEAT: Final = 3
PERCENTILES: Final = (("p50", 50.0), ("p99", 99.0), ("p999", 99.9), ("p9999", 99.99))
"""JSON key and percentile of each reported latency quantile."""

_HIST_MAX_NS: Final = 60 * 1_000_000_000
_WARMUP_MIN: Final = 20_000


def environment() -> dict[str, Any]:
    """Return the Python and machine description attached to every benchmark result."""
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "compiler": platform.python_compiler(),
            "gil": getattr(sys, "_is_gil_enabled", lambda: True)(),
        },
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count() or 1,
            "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        },
    }


def percentiles(hist: HdrHistogram) -> dict[str, int]:
    """Return the reported quantiles (ns) of ``hist`` plus its count, min, max and mean."""
    out = {key: int(hist.get_value_at_percentile(p)) for key, p in PERCENTILES}
    out["count"] = int(hist.get_total_count())
    out["min"] = int(hist.get_min_value())
    out["max"] = int(hist.get_max_value())
    out["mean"] = round(float(hist.get_mean_value()))
    return out


def clock_overhead_ns(samples: int = 10_000) -> int:
    """Return the median cost of two back-to-back ``perf_counter_ns`` reads (in every sample)."""
    clock = time.perf_counter_ns
    deltas = []
    for _ in range(samples):
        t0 = clock()
        deltas.append(clock() - t0)
    deltas.sort()
    return deltas[len(deltas) // 2]


def _fresh_engine(mix: CommandMix) -> tuple[Whistle, int]:
    """Return an engine with the prefill applied, and the next enq_seq."""
    engine = Whistle(mix.instrument)
    process = engine.process
    enq = 0
    for cmd in mix.prefill:
        enq += 1
        process(enq, cmd, 0)
    return engine, enq + 1


def run_throughput(mix: CommandMix, commands: list[Command] | None = None) -> tuple[int, int, int]:
    """Replay ``commands`` (default: all) on a fresh engine.

    Return (elapsed wall ns, events, process CPU ns): on a busy machine CPU time below
    wall time means the loop was preempted.
    """
    cmds = mix.commands if commands is None else commands
    engine, start = _fresh_engine(mix)
    process = engine.process
    events = 0
    gc.collect()
    c0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    for enq, cmd in enumerate(cmds, start):
        events += len(process(enq, cmd, 0))
    elapsed = time.perf_counter_ns() - t0
    cpu = time.process_time_ns() - c0
    return elapsed, events, cpu


def run_latency(mix: CommandMix) -> tuple[HdrHistogram, list[HdrHistogram]]:
    """Time each command on a fresh engine; return the overall and per-kind histograms."""
    engine, start = _fresh_engine(mix)
    process = engine.process
    clock = time.perf_counter_ns
    samples: list[list[int]] = [[] for _ in KIND_NAMES]
    appends = [s.append for s in samples]
    kinds = mix.kinds
    gc.collect()
    for i, cmd in enumerate(mix.commands):
        t0 = clock()
        process(start + i, cmd, 0)
        t1 = clock()
        appends[kinds[i]](t1 - t0)
    overall = HdrHistogram(1, _HIST_MAX_NS, 3)
    by_kind = []
    for values in samples:
        hist = HdrHistogram(1, _HIST_MAX_NS, 3)
        record = hist.record_value
        for v in values:
            record(v if v > 0 else 1)
        if values:  # adding an empty histogram would pull the overall min to 0
            overall.add(hist)
        by_kind.append(hist)
    return overall, by_kind


def run_bare(mix: CommandMix) -> tuple[int, int]:
    """Replay the mix on a fresh ``BareMatcher``; return (elapsed ns of the timed list, trades)."""
    bare = BareMatcher()
    process = bare.process
    for cmd in mix.prefill:
        process(cmd)
    trades = 0
    gc.collect()
    t0 = time.perf_counter_ns()
    for cmd in mix.commands:
        trades += process(cmd)
    elapsed = time.perf_counter_ns() - t0
    return elapsed, trades


def _warm_up(mix: CommandMix, compare_bare: bool) -> None:
    n = min(len(mix.commands), max(_WARMUP_MIN, len(mix.commands) // 10))
    run_throughput(mix, mix.commands[:n])
    if compare_bare:
        bare = BareMatcher()
        for cmd in mix.prefill:
            bare.process(cmd)
        for cmd in mix.commands[:n]:
            bare.process(cmd)


def run_matching_bench(
    mix_name: str,
    orders: int = DEFAULT_ORDERS,
    seed: int = 1,
    *,
    latency: bool = True,
    compare_bare: bool = True,
    repeat: int = DEFAULT_REPEAT,
) -> dict[str, Any]:
    """Run the matching benchmark and return its JSON-ready result.

    Throughput (whistle and bare) is the best of ``repeat`` runs on fresh books.

    Keys: ``bench``, ``mix``, ``seed``, ``ops``, ``seconds``, ``ops_per_sec`` (best run),
    ``repeat``, ``ops_per_sec_runs`` (every run), ``events``,
    ``events_per_op``, ``trades``, ``trading_ops``, ``trade_fraction``, ``kinds`` (count per
    command kind), ``book`` (resting orders and levels), ``latency_ns`` (overall ``p50``,
    ``p99``, ``p999``, ``p9999`` ... in ns, or ``None`` without latency), ``cpu_seconds``
    (process CPU time of the throughput loop: well below ``seconds`` means preemption),
    ``latency_ns_by_type`` (the same per kind: ``gtc``, ``ioc``, ``cancel``, ``move``),
    ``latency_clock_overhead_ns`` (median cost of the two clock reads, included in samples),
    ``bare_ops_per_sec``, ``bare_seconds``, ``whistle_vs_bare`` (whistle rate / bare rate)
    and ``bare_trades_match`` (``None`` without the bare run), ``generation_seconds``,
    ``python`` and ``machine``.
    """
    t_gen = time.perf_counter()
    mix = generate_mix(mix_name, orders, seed)
    generation_seconds = time.perf_counter() - t_gen
    ops = len(mix.commands)

    _warm_up(mix, compare_bare)
    # Best of ``repeat`` runs, whistle and bare interleaved so both see the same noise.
    runs: list[tuple[int, int, int]] = []
    bare_runs: list[tuple[int, int]] = []
    for _ in range(repeat):
        runs.append(run_throughput(mix))
        if compare_bare:
            bare_runs.append(run_bare(mix))
    if any(events != mix.events for _, events, _ in runs):
        raise RuntimeError("a replay emitted other events than generation: not deterministic")
    elapsed_ns, events, cpu_ns = min(runs)
    seconds = elapsed_ns / 1e9
    ops_per_sec = ops / seconds if seconds > 0 else 0.0

    latency_ns: dict[str, int] | None = None
    by_type: dict[str, dict[str, int]] | None = None
    if latency:
        overall, by_kind = run_latency(mix)
        latency_ns = percentiles(overall)
        by_type = {
            name: percentiles(hist)
            for name, hist in zip(KIND_NAMES, by_kind, strict=True)
            if hist.get_total_count()
        }

    bare: dict[str, Any] = {
        "bare_ops_per_sec": None,
        "bare_seconds": None,
        "whistle_vs_bare": None,
        "bare_trades_match": None,
    }
    if compare_bare:
        bare_ns = min(ns for ns, _ in bare_runs)
        bare_rate = ops / (bare_ns / 1e9) if bare_ns > 0 else 0.0
        bare = {
            "bare_ops_per_sec": round(bare_rate, 1),
            "bare_seconds": round(bare_ns / 1e9, 6),
            "whistle_vs_bare": round(ops_per_sec / bare_rate, 4) if bare_rate else None,
            "bare_trades_match": all(trades == mix.trades for _, trades in bare_runs),
        }

    return {
        "bench": "matching",
        "mix": mix.name,
        "seed": seed,
        "ops": ops,
        "seconds": round(seconds, 6),
        "ops_per_sec": round(ops_per_sec, 1),
        "repeat": repeat,
        "ops_per_sec_runs": [round(ops / (ns / 1e9), 1) for ns, _, _ in runs],
        "cpu_seconds": round(cpu_ns / 1e9, 6),
        "events": events,
        "events_per_op": round(events / ops, 4),
        "trades": mix.trades,
        "trading_ops": mix.trading_commands,
        "trade_fraction": round(mix.trading_commands / ops, 5),
        "rejects": mix.rejects,
        "kinds": mix.kind_counts(),
        "book": {
            "prefill": len(mix.prefill),
            "resting_start": mix.resting_start,
            "resting_end": mix.resting_end,
            "levels_end": mix.levels_end,
        },
        "latency_ns": latency_ns,
        "latency_ns_by_type": by_type,
        "latency_clock_overhead_ns": clock_overhead_ns() if latency else None,
        **bare,
        "generation_seconds": round(generation_seconds, 3),
        **environment(),
    }
