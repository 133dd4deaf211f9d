# Layer rule: whistle.metrics is layer 0. It imports the standard library, hdrhistogram,
# prometheus-client and the stdlib-only whistle.shm, so any layer may call it. Nothing here does
# I/O on the hot path: recording and publishing are memory writes; the Prometheus exporter and
# the `whistle metrics` reader run in other threads or processes.
"""Per-stage latency: HDR recorders, a shared-memory metrics block, Prometheus export.

::

    recorder = LatencyRecorder(["md", "strategy", "risk", "gateway"])   # in-process
    recorder.record(1, 850)                                 # ns; never raises for any int
    recorder.record_from_intended(3, intended_ns, now_ns)   # coordinated-omission free
    recorder.percentiles("risk")  # {"count", "min", "p50", "p90", "p99", "p999", "p9999", "max"}

    block = MetricsBlock.create(make_block_name(), stages)  # owner; close() unlinks
    rec = block.recorder()                                   # array storage, same layout
    pub = block.publisher(rec)                               # this process's stages
    ... rec.record(...); pub.publish_if_due(now_ns) ...      # memory writes only
    MetricsBlock.attach(name).snapshot().percentiles("risk") # another process

    start_prometheus(0, block)    # whistle_stage_latency_seconds{stage=...}, scrape-time only
"""

from __future__ import annotations

from whistle.metrics.block import (
    MAGIC,
    NAME_FILE,
    VERSION,
    MetricsBlock,
    Publisher,
    make_block_name,
    read_name_file,
    resolve_block_name,
    write_name_file,
)
from whistle.metrics.errors import (
    BlockFormatError,
    BlockNotFound,
    MetricsError,
    SnapshotBusy,
    StageClaimed,
)
from whistle.metrics.layout import PERCENTILES, HdrLayout
from whistle.metrics.prom import (
    DEFAULT_BUCKETS_US,
    PrometheusExporter,
    StageCollector,
    start_prometheus,
)
from whistle.metrics.recorder import NULL_RECORDER, LatencyRecorder, NullRecorder
from whistle.metrics.schedule import FixedRateSchedule, wait_until
from whistle.metrics.snapshot import Snapshot, StageSnapshot

__all__ = [
    "DEFAULT_BUCKETS_US",
    "MAGIC",
    "NAME_FILE",
    "NULL_RECORDER",
    "PERCENTILES",
    "VERSION",
    "BlockFormatError",
    "BlockNotFound",
    "FixedRateSchedule",
    "HdrLayout",
    "LatencyRecorder",
    "MetricsBlock",
    "MetricsError",
    "NullRecorder",
    "PrometheusExporter",
    "Publisher",
    "Snapshot",
    "SnapshotBusy",
    "StageClaimed",
    "StageCollector",
    "StageSnapshot",
    "make_block_name",
    "read_name_file",
    "resolve_block_name",
    "start_prometheus",
    "wait_until",
    "write_name_file",
]
