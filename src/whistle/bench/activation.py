"""Benchmark of ``SymbolCoordinator.ensure_active``: cold activations, in process.

1. ``symbols`` instruments are registered (not timed) with a coordinator over
   ``hosts`` ``InProcessHost`` engine hosts (``whistle.coord.host_local``) and the
   ``HashBasedPolicy``.
2. Every symbol is activated once, cold, in ``symbol_id`` order; each ``ensure_active``
   call is timed with two ``perf_counter_ns`` reads (their own cost, tens of ns, is
   included) and the samples go to an HdrHistogram afterwards. Activation here means:
   placement, creating a ``Whistle`` engine on the host, and the registry bookkeeping.
3. Memory per active symbol, two ways: the RSS growth over step 2 divided by ``symbols``
   (what the process really pays, allocator overhead included; meaningful only in a fresh
   process, since memory freed by an earlier run is reused), and a tracemalloc split
   on a sample of fresh symbols: the ``Whistle`` engine alone against the full activation
   (the difference is the coordinator's and host's bookkeeping).
4. The hot path: ``ensure_active`` on symbols already active (the router's per-command
   check), as a mean over a loop.

The garbage collector stays enabled by default, as in a real venue; ``gc_collections``
reports how many collections ran during step 2 (full collections over a heap that grows
by an engine per activation are what the far tail percentiles show; compare with
``gc_enabled=False``).
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from array import array
from typing import Any, Final

from hdrh.histogram import HdrHistogram

from whistle.bench.matching import percentiles
from whistle.coord.hosts.local import InProcessHost
from whistle.coord.runtime.coordinator import SymbolCoordinator
from whistle.coord.runtime.placement import HashBasedPolicy
from whistle.core.instrument import Instrument
from whistle.engine.whistle import Whistle

__all__ = ["run_activation_bench"]

_HIST_MAX_NS: Final = 60 * 1_000_000_000
_SAMPLE: Final = 2_000
_HOT_CALLS: Final = 200_000


def _rss_bytes() -> int:
    """Return the resident set size of this process (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            resident = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return resident * os.sysconf("SC_PAGE_SIZE")


def _instruments(count: int, first_id: int, prefix: str) -> list[Instrument]:
    return [Instrument(symbol=f"{prefix}{i:07d}", symbol_id=first_id + i) for i in range(count)]


def _coordinator(hosts: int) -> SymbolCoordinator:
    return SymbolCoordinator([InProcessHost(h) for h in range(1, hosts + 1)], HashBasedPolicy())


def _tracemalloc_split(hosts: int, sample: int) -> dict[str, float]:
    """Return bytes per symbol: the engine alone, and a whole activation (tracemalloc)."""
    engines_for = _instruments(sample, 1, "E")
    coord = _coordinator(hosts)
    instruments = _instruments(sample, 1, "T")
    for instrument in instruments:
        coord.register(instrument)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        engines = [Whistle(i) for i in engines_for]
        engine_bytes = tracemalloc.get_traced_memory()[0] - base
        base = tracemalloc.get_traced_memory()[0]
        for instrument in instruments:
            coord.ensure_active(instrument.symbol_id)
        total_bytes = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    del engines
    return {
        "engine": round(engine_bytes / sample, 1),
        "activation_total": round(total_bytes / sample, 1),
        "bookkeeping": round((total_bytes - engine_bytes) / sample, 1),
        "sample": sample,
    }


def run_activation_bench(
    symbols: int = 100_000, hosts: int = 0, *, gc_enabled: bool = True
) -> dict[str, Any]:
    """Activate ``symbols`` cold symbols; return latency percentiles (ns) and memory.

    ``hosts`` <= 0 means one ``InProcessHost`` per CPU core. ``gc_enabled=False`` turns
    the cyclic garbage collector off while timing, to show what it costs in the tail.
    """
    if symbols < 1:
        raise ValueError(f"symbols must be >= 1, was {symbols}")
    n_hosts = hosts if hosts > 0 else (os.cpu_count() or 1)
    coord = _coordinator(n_hosts)
    instruments = _instruments(symbols, 1, "S")
    for instrument in instruments:
        coord.register(instrument)
    ids = [i.symbol_id for i in instruments]
    del instruments

    samples = array("q", bytes(8 * symbols))  # preallocated: nothing grows while timing
    ensure_active = coord.ensure_active
    clock = time.perf_counter_ns
    gc.collect()
    gc_before = sum(s["collections"] for s in gc.get_stats())
    rss_before = _rss_bytes()
    was_enabled = gc.isenabled()
    if not gc_enabled:
        gc.disable()
    try:
        started = time.perf_counter()
        for k, symbol_id in enumerate(ids):
            t0 = clock()
            ensure_active(symbol_id)
            samples[k] = clock() - t0
        seconds = time.perf_counter() - started
    finally:
        if was_enabled:
            gc.enable()
    gc_collections = sum(s["collections"] for s in gc.get_stats()) - gc_before
    gc.collect()
    rss_after = _rss_bytes()

    hist = HdrHistogram(1, _HIST_MAX_NS, 3)
    record = hist.record_value
    for v in samples:
        record(v if v > 0 else 1)
    latency = percentiles(hist)

    # The hot path: every symbol is active now; time the check alone, averaged.
    calls = min(_HOT_CALLS, max(symbols, 1_000))
    hot_ids = [ids[k % symbols] for k in range(calls)]
    t0 = clock()
    for symbol_id in hot_ids:
        ensure_active(symbol_id)
    hot_ns = (clock() - t0) / calls

    split = _tracemalloc_split(n_hosts, min(_SAMPLE, symbols))
    stats = coord.stats()
    return {
        "symbols": symbols,
        "hosts": n_hosts,
        "host": "InProcessHost (whistle.coord.host_local)",
        "policy": type(coord.policy).__name__,
        "activation_latency_ns": latency,
        "latency_ns": dict(latency),
        "activations_per_s": round(symbols / seconds, 1) if seconds > 0 else None,
        "bytes_per_symbol": round((rss_after - rss_before) / symbols, 1),
        "bytes_per_symbol_tracemalloc": split,
        "already_active_ns": round(hot_ns, 1),
        "gc_enabled": gc_enabled,
        "gc_collections": gc_collections,
        "active": stats.by_state["ACTIVE"],
        "host_loads": {load.host_id: load.active for load in stats.loads},
        "seconds": round(seconds, 3),
    }
