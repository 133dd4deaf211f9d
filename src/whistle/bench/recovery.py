"""Replay and recovery of a journaled venue: re-matching speed and restart time.

One seeded exchange-core stream (``whistle.bench.mixes``) is run three ways:

1. **live**: ``Whistle.process`` per command, timed: the matching rate;
2. **journaled**: through ``Venue(data_dir=...)`` (every command journaled, a tick every
   1,000 commands), then stopped cleanly;
3. **replay**: ``whistle.coord.replay.replay`` re-matches the whole journal from empty
   books (decode + match + hash checks): ``replay_per_sec`` and its ratio to live;
4. **recovery**: opening the data directory again. With ``checkpoint_every=0`` the venue
   never checkpoints, so recovery re-matches every journaled command: the worst case.

Wall rates swing with the load of a shared machine, so live and replay are also timed in
CPU time of this thread (``*_cpu_per_sec``, ``replay_vs_live_cpu``); the CPU-timed replay
leaves ``DIR/events`` unread (``check_events=False``): it times what re-matching costs.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from whistle.bench.mixes import generate_mix
from whistle.coord.durability.replay import replay
from whistle.coord.venue.facade import Venue
from whistle.engine.whistle import Whistle

__all__ = ["run_recovery_bench"]


def run_recovery_bench(commands: int = 200_000, seed: int = 1) -> dict[str, Any]:
    """Measure replay and recovery on ``commands`` journaled exchange-core commands."""
    if commands <= 0:
        raise ValueError(f"commands must be positive, was {commands}")
    mix = generate_mix("exchange-core", commands, seed)
    stream = [*mix.prefill, *mix.commands]

    engine = Whistle(mix.instrument)
    process = engine.process
    start, cpu = time.perf_counter(), time.thread_time()
    for seq, command in enumerate(stream, 1):
        process(seq, command, 0)
    live_seconds = time.perf_counter() - start
    live_cpu = time.thread_time() - cpu

    with tempfile.TemporaryDirectory(prefix="whistle-recovery-bench-") as tmp:
        data = Path(tmp) / "venue"
        start = time.perf_counter()
        with Venue(data_dir=data, checkpoint_every=0) as venue:
            venue.add_instrument(mix.instrument)
            enqueue = venue.enqueue
            for i, command in enumerate(stream, 1):
                enqueue(command)
                if i % 1_000 == 0:
                    venue.tick()
            venue.tick()
            live_hash = venue.state_hashes()[mix.instrument.symbol]
        journaled_seconds = time.perf_counter() - start

        report = replay(data)
        if not report.ok or report.state_hashes[mix.instrument.symbol] != live_hash:
            raise RuntimeError("replay did not reproduce the journaled venue")
        cpu = time.thread_time()
        replay(data, check_events=False)
        replay_cpu = time.thread_time() - cpu

        start = time.perf_counter()
        recovered = Venue(data_dir=data, checkpoint_every=0)
        recovery_seconds = time.perf_counter() - start
        try:
            recovered_hash = recovered.state_hashes()[mix.instrument.symbol]
        finally:
            recovered.stop()
        if recovered_hash != live_hash:
            raise RuntimeError("recovery did not reproduce the journaled venue")

    n = len(stream)
    live_rate = n / live_seconds
    return {
        "commands": n,
        "live_matching_per_sec": round(live_rate, 1),
        "journaled_per_sec": round(n / journaled_seconds, 1),
        "replay_per_sec": round(report.commands_per_sec, 1),
        "replay_vs_live": round(report.commands_per_sec / live_rate, 3),
        "replay_seconds": report.seconds,
        "live_cpu_per_sec": round(n / live_cpu, 1) if live_cpu > 0 else 0.0,
        "replay_cpu_per_sec": round(n / replay_cpu, 1) if replay_cpu > 0 else 0.0,
        "replay_vs_live_cpu": round(live_cpu / replay_cpu, 3) if replay_cpu > 0 else 0.0,
        "recovery_seconds": round(recovery_seconds, 3),
        "recovery_commands": n,
        "hash_checks": report.checks,
    }
