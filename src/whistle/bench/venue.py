"""``whistle bench venue``: end to end, router to collected events, 0..N host processes.

Each symbol gets its own seeded command stream (the matching bench's mixes, one seed per
symbol); the streams are interleaved round-robin and sent through ``Venue.enqueue``, with
a tick every ``batch`` commands. Two measurements:

- **full speed** (no ``rate``): commands/s from the first enqueue to the last collected
  event;
- **constant offered rate** (``rate`` commands/s): command *i* is due at ``t0 + i / rate``;
  the loop sends every due command, ticks, and records for each of them the time from its
  *intended* send time to the end of the tick that returned its events. A stall shows up
  as latency of every command that should have been sent meanwhile (no coordinated
  omission).
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import msgspec
from hdrh.histogram import HdrHistogram

from whistle.bench.mixes import generate_mix
from whistle.coord.venue.facade import Venue
from whistle.core.instrument import Instrument

__all__ = ["run_venue_bench"]

_MAX_LATENCY_NS = 60 * 1_000_000_000


def _streams(
    symbols: int, orders: int, mix: str, seed: int
) -> tuple[list[Instrument], list[Any], list[Any]]:
    per_symbol = max(1, -(-orders // symbols))
    instruments = [
        Instrument(symbol=f"SYM{i:04d}", symbol_id=10_000 + i, tick_size="0.01")
        for i in range(symbols)
    ]
    prefill: list[Any] = []
    lanes: list[list[Any]] = []
    replace = msgspec.structs.replace
    for i, inst in enumerate(instruments):
        generated = generate_mix(mix, per_symbol, seed + i)
        sid = inst.symbol_id
        prefill.extend(replace(c, symbol_id=sid) for c in generated.prefill)
        lanes.append([replace(c, symbol_id=sid) for c in generated.commands])
    interleaved: list[Any] = []
    for j in range(per_symbol):
        interleaved.extend(lane[j] for lane in lanes if j < len(lane))
    return instruments, prefill, interleaved[:orders]


def _no_yield() -> None:
    """Stand-in for ``os.sched_yield`` where the OS has none."""


def _percentiles(hist: HdrHistogram) -> dict[str, int]:
    return {
        "p50": hist.get_value_at_percentile(50.0),
        "p99": hist.get_value_at_percentile(99.0),
        "p999": hist.get_value_at_percentile(99.9),
        "p9999": hist.get_value_at_percentile(99.99),
        "max": hist.get_max_value(),
    }


def run_venue_bench(
    *,
    symbols: int = 8,
    hosts: int = 0,
    orders: int = 200_000,
    rate: float | None = None,
    batch: int = 1_000,
    mix: str = "plain",
    seed: int = 1,
    placement: str = "hash",
    wait: str = "sleep",
    queue_depth: int = 1 << 16,
    host_heartbeat_s: float = 0.05,
    host_dead_after_s: float = 5.0,
) -> dict[str, Any]:
    """Run the venue end to end; return the figures as a JSON-ready dict."""
    if symbols <= 0 or orders <= 0 or batch <= 0:
        raise ValueError(
            f"symbols, orders and batch must be positive, were {symbols}, {orders}, {batch}"
        )
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be positive, was {rate}")
    instruments, prefill, commands = _streams(symbols, orders, mix, seed)
    events = 0
    refused = 0
    with Venue(
        hosts=hosts,
        placement=placement,
        wait=wait,
        queue_depth=queue_depth,
        host_heartbeat_s=host_heartbeat_s,
        host_dead_after_s=host_dead_after_s,
    ) as venue:
        for inst in instruments:
            venue.add_instrument(inst)
        for cmd in prefill:
            venue.enqueue(cmd)
        venue.tick()
        enqueue = venue.enqueue
        tick = venue.tick
        hist = HdrHistogram(1, _MAX_LATENCY_NS, 3)
        cpu0 = time.process_time()
        t0 = time.perf_counter_ns()
        if rate is None:
            pending = 0
            for cmd in commands:
                if not isinstance(enqueue(cmd), int):
                    refused += 1
                pending += 1
                if pending == batch:
                    events += len(tick())
                    pending = 0
            events += len(tick())
        else:
            interval_ns = 1e9 / rate
            yield_cpu = getattr(os, "sched_yield", _no_yield)
            i = 0
            n = len(commands)
            while i < n:
                now = time.perf_counter_ns()
                due = min(n, int((now - t0) / interval_ns) + 1, i + batch)
                if due <= i:
                    # Nothing due yet: wait for the next intended send time. Close to it,
                    # yield rather than spin: a host process pinned to this core must
                    # not wait for the generator's time slice to end.
                    gap = t0 + i * interval_ns - now
                    if gap > 50_000:
                        time.sleep(gap / 2e9)
                    else:
                        yield_cpu()
                    continue
                start = i
                while i < due:
                    if not isinstance(enqueue(commands[i]), int):
                        refused += 1
                    i += 1
                events += len(tick())
                done = time.perf_counter_ns()
                for k in range(start, due):
                    hist.record_value(
                        min(_MAX_LATENCY_NS, max(1, int(done - (t0 + k * interval_ns))))
                    )
        seconds = (time.perf_counter_ns() - t0) / 1e9
        cpu = time.process_time() - cpu0
        placed = {h.host_id: len(h.symbols) for h in venue.hosts}
    result: dict[str, Any] = {
        "bench": "venue",
        "symbols": symbols,
        "hosts": hosts,
        "placement": placement,
        "wait": wait,
        "mix": mix,
        "seed": seed,
        "batch": batch,
        "ops": len(commands),
        "refused": refused,
        "events": events,
        "seconds": round(seconds, 6),
        "ops_per_sec": round(len(commands) / seconds, 1),
        "parent_cpu_seconds": round(cpu, 6),
        "parent_cpu_us_per_command": round(cpu / len(commands) * 1e6, 3),
        "symbols_per_host": placed,
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
    }
    if rate is not None:
        result["rate"] = rate
        result["latency_ns"] = _percentiles(hist)
    return result
