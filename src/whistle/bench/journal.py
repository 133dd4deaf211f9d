"""Journal micro-benchmark: append and read rates of :mod:`whistle.journal`.

``run_journal_bench(records)`` creates throw-away queues in a temporary directory and
measures, single-threaded on the calling core:

* ``append_per_sec``           ``QueueWriter.append_many`` in batches, fsync NONE
* ``append_single_per_sec``    ``QueueWriter.append`` one record per call, fsync NONE
* ``append_interval_per_sec``  ``append_many``, fsync INTERVAL (sidecar msync every 10 ms)
* ``append_every_per_sec``     ``append`` + msync per record, fsync EVERY (fewer records)
* ``read_per_sec``             ``QueueReader.read_batch`` over the NONE queue
* ``native``                   1 if the C loops of ``whistle.journal._native`` ran (the
  compiled install), 0 for the pure-Python loops

Rates are wall-clock; the ``*_cpu_per_sec`` fields divide by the CPU time of the
measuring thread (``time.thread_time``), which is what one core can do when the
machine is shared.  Only the append/read loops are timed (not open, the first
segment's preallocation, or close).
Segments are 64 MiB, preallocated by the sidecar.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from whistle.journal import NATIVE, FsyncPolicy, Queue, QueueConfig

__all__ = ["run_journal_bench"]

_BATCH = 1024
_Times = tuple[float, float]  # (wall seconds, CPU seconds of the measuring thread)
_SEGMENT = 64 * 1024 * 1024


def _append_many(path: Path, records: int, payload: bytes, policy: FsyncPolicy) -> _Times:
    cfg = QueueConfig(segment_size=_SEGMENT, fsync=policy, fsync_interval_ms=10)
    with Queue.open_publisher(path, cfg) as writer:
        batch = [(1, payload)] * _BATCH
        full, rest = divmod(records, _BATCH)
        append_many = writer.append_many
        t0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(full):
            append_many(batch)
        if rest:
            append_many(batch[:rest])
        return time.perf_counter() - t0, time.thread_time() - c0


def _append_single(path: Path, records: int, payload: bytes, policy: FsyncPolicy) -> _Times:
    cfg = QueueConfig(segment_size=_SEGMENT, fsync=policy)
    with Queue.open_publisher(path, cfg) as writer:
        append = writer.append
        t0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(records):
            append(1, payload)
        return time.perf_counter() - t0, time.thread_time() - c0


def _read(path: Path, records: int) -> _Times:
    with Queue.open_subscriber(path, "bench") as reader:
        read_batch = reader.read_batch
        got = 0
        t0, c0 = time.perf_counter(), time.thread_time()
        while got < records:
            batch = read_batch(_BATCH)
            if not batch:
                break
            got += len(batch)
        elapsed = time.perf_counter() - t0, time.thread_time() - c0
    if got != records:
        raise RuntimeError(f"read back {got} of {records} records")
    return elapsed


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def run_journal_bench(records: int, payload_size: int = 64) -> dict[str, float | int]:
    """Measure append/read rates; see the module docstring for the fields."""
    if records <= 0 or payload_size < 0:
        raise ValueError("records must be > 0 and payload_size >= 0")
    payload = bytes(range(256)) * (payload_size // 256) + bytes(payload_size % 256)
    every_records = max(1, min(records, 2000))
    with tempfile.TemporaryDirectory(prefix="whistle-jbench-") as tmp:
        root = Path(tmp)
        t_many = _append_many(root / "none", records, payload, FsyncPolicy.NONE)
        t_read = _read(root / "none", records)
        t_single = _append_single(root / "single", records, payload, FsyncPolicy.NONE)
        t_interval = _append_many(root / "interval", records, payload, FsyncPolicy.INTERVAL)
        t_every = _append_single(root / "every", every_records, payload, FsyncPolicy.EVERY)
    return {
        "append_per_sec": _rate(records, t_many[0]),
        "append_single_per_sec": _rate(records, t_single[0]),
        "append_interval_per_sec": _rate(records, t_interval[0]),
        "append_every_per_sec": _rate(every_records, t_every[0]),
        "read_per_sec": _rate(records, t_read[0]),
        "append_cpu_per_sec": _rate(records, t_many[1]),
        "append_single_cpu_per_sec": _rate(records, t_single[1]),
        "read_cpu_per_sec": _rate(records, t_read[1]),
        "records": records,
        "every_records": every_records,
        "payload_bytes": payload_size,
        "native": int(NATIVE),
    }
