"""Sidecars: preallocation, retention, fsync policies, heartbeat."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from journal_helpers import SMALL, seg_path, small_config, wait_until

from whistle.journal import FsyncPolicy, Queue, RetentionPolicy
from whistle.journal.segment import STATE_FRESH, Segment, create_segment
from whistle.journal.workers import SegmentInfo, plan_retention

if TYPE_CHECKING:
    from pathlib import Path


def test_prealloc_publishes_next_segment_by_rename(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config(prealloc_threshold=0.0)) as w:
        nxt = seg_path(qdir, 1)
        wait_until(nxt.exists)
        assert nxt.stat().st_size == SMALL  # full size, header written
        assert [s.state for s in Queue.segments(qdir)] == [1, STATE_FRESH]
        assert not [n for n in os.listdir(qdir) if n.startswith(".tmp-")]
        inode = nxt.stat().st_ino
        while w.head_segment_id == 0:
            w.append(1, b"x" * 200)
        assert nxt.stat().st_ino == inode  # the roll opened the published file
        wait_until(seg_path(qdir, 2).exists)
        assert w.worker_errors == []


def test_prealloc_waits_until_the_head_is_half_full(qdir: Path) -> None:
    # Bounded disk use: a fresh queue holds one segment; the next one is created only
    # once the head passes prealloc_threshold (default 0.5).
    with Queue.open_publisher(qdir, small_config(segment_size=64 * 1024)) as w:
        w.append(1, b"x" * 100)
        assert not seg_path(qdir, 1).exists()
        while w.write_offset < 30 * 1024:
            w.append(1, b"x" * 100)
        assert not seg_path(qdir, 1).exists()
        while w.write_offset <= 32 * 1024 + 64:
            w.append(1, b"x" * 100)
        wait_until(seg_path(qdir, 1).exists)
        assert w.head_segment_id == 0
    with pytest.raises(ValueError, match="prealloc_threshold"):
        small_config(prealloc_threshold=1.5)


def test_create_segment_never_replaces_a_published_segment(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config(prealloc=False)) as w:
        w.append(1, b"keep me")
    before = seg_path(qdir, 0).read_bytes()
    create_segment(str(qdir), 0, SMALL, 1)
    assert seg_path(qdir, 0).read_bytes() == before


def _fill(w: object, segments: int) -> None:
    from whistle.journal import QueueWriter

    assert isinstance(w, QueueWriter)
    while w.head_segment_id < segments:
        w.append(1, b"r" * 300)


def test_retention_keeps_last_n_and_the_head(qdir: Path) -> None:
    cfg = small_config(retention=RetentionPolicy(keep_segments=2), retention_interval_ms=10**6)
    with Queue.open_publisher(qdir, cfg) as w:
        _fill(w, 6)
        deleted = w.run_retention()
        assert deleted == [0, 1, 2, 3, 4]
        ids = [s.segment_id for s in Queue.segments(qdir)]
        assert 6 in ids  # head
        assert min(ids) == 5
        assert w.run_retention() == []


def test_retention_respects_reader_cursors(qdir: Path) -> None:
    cfg = small_config(retention=RetentionPolicy(keep_segments=1), retention_interval_ms=10**6)
    with Queue.open_publisher(qdir, cfg) as w:
        _fill(w, 2)
        with Queue.open_subscriber(qdir, "slow") as slow:  # cursor at segment 0
            _fill(w, 5)
            assert w.run_retention() == []
            batch = slow.read_batch(10_000)
            last_seg = batch[-1].segment_id
            slow.seek(next(r.seq for r in batch if r.segment_id == 3))
            slow.commit()
            assert w.run_retention() == [0, 1, 2]
            assert last_seg == 5
            rec = slow.next()
            assert rec is not None
            assert rec.segment_id == 3


def test_retention_by_bytes(qdir: Path) -> None:
    cfg = small_config(retention=RetentionPolicy(max_bytes=3 * SMALL), retention_interval_ms=10**6)
    with Queue.open_publisher(qdir, cfg) as w:
        _fill(w, 5)
        w.run_retention()
        head = w.head_segment_id
        total = sum(s.size_bytes for s in Queue.segments(qdir) if s.segment_id <= head)
        assert total <= 3 * SMALL
        assert w.head_segment_id in {s.segment_id for s in Queue.segments(qdir)}


def test_retention_worker_runs_in_background(qdir: Path) -> None:
    cfg = small_config(retention=RetentionPolicy(max_age_ns=0), retention_interval_ms=5)
    with Queue.open_publisher(qdir, cfg) as w:
        _fill(w, 3)
        wait_until(lambda: min(s.segment_id for s in Queue.segments(qdir)) == 3)
        wait_until(lambda: w.worker_runs("retention") > 0)


def test_plan_retention_rules() -> None:
    segs = [SegmentInfo(i, 100, 1000 + i) for i in range(5)] + [SegmentInfo(5, 100, None)]
    keep2 = RetentionPolicy(keep_segments=2)
    assert plan_retention(segs, 5, None, keep2, 0) == [0, 1, 2, 3]
    assert plan_retention(segs, 5, 2, keep2, 0) == [0, 1]  # cursor floor
    keep1 = RetentionPolicy(keep_segments=1)
    assert plan_retention(segs, 3, None, keep1, 0) == [0, 1, 2]  # never the head
    age = RetentionPolicy(max_age_ns=500)
    assert plan_retention(segs, 5, None, age, 1502) == [0, 1]
    assert plan_retention(segs, 5, None, RetentionPolicy(max_bytes=250), 0) == [0, 1, 2, 3]
    assert plan_retention(segs, 5, None, RetentionPolicy(), 0) == []
    with pytest.raises(ValueError):
        RetentionPolicy(keep_segments=0)


@pytest.mark.parametrize("policy", list(FsyncPolicy))
def test_fsync_policies_run(
    qdir: Path, policy: FsyncPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"flush": 0, "datasync": 0}
    real_flush, real_datasync = Segment.flush, Segment.datasync

    def flush(self: Segment, start: int = 0, end: int | None = None) -> None:
        calls["flush"] += 1
        real_flush(self, start, end)

    def datasync(self: Segment) -> None:
        calls["datasync"] += 1
        real_datasync(self)

    monkeypatch.setattr(Segment, "flush", flush)
    monkeypatch.setattr(Segment, "datasync", datasync)
    cfg = small_config(fsync=policy, fsync_interval_ms=5)
    with Queue.open_publisher(qdir, cfg) as w:
        at_open = calls["flush"]  # the first segment's activation (synced unless NONE)
        w.append(1, b"a")
        w.append_many([(1, b"b")] * 3)
        if policy is FsyncPolicy.EVERY:
            assert calls["flush"] - at_open == 2  # one per append / append_many batch
        if policy is FsyncPolicy.INTERVAL:
            wait_until(lambda: calls["datasync"] > 0)
            wait_until(lambda: w.worker_runs("fsync") > 0)
        if policy is FsyncPolicy.NONE:
            assert calls == {"flush": 0, "datasync": 0}
        _fill(w, 2)  # rolls under every policy
        w.sync()
    with Queue.open_subscriber(qdir, "r") as r:
        assert len(list(r)) == w.next_seq


def test_heartbeat_advances(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config(heartbeat_interval_ms=5)) as w:
        first = Queue.writer_status(qdir, 10**12).heartbeat_ns
        assert first is not None
        wait_until(lambda: (Queue.writer_status(qdir, 10**12).heartbeat_ns or 0) > first)
        wait_until(lambda: w.worker_runs("heartbeat") > 0)
    status = Queue.writer_status(qdir, 10**12)
    assert status.closed
    assert not status.lock_held
