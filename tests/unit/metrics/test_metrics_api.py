"""The public surface of whistle.metrics is pinned: changing it must be deliberate.

(That it imports no other whistle package is tests/unit/test_layers.py's job.)
"""

from __future__ import annotations

import whistle.metrics

EXPECTED = [
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


def test_public_surface():
    assert whistle.metrics.__all__ == EXPECTED
    for name in EXPECTED:
        assert getattr(whistle.metrics, name) is not None
