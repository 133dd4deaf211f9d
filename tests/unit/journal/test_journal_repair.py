"""truncate_after / last_good_seq: the only code that cuts a damaged journal."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from journal_helpers import seg_path, small_config

from whistle.journal import (
    MissingSegment,
    Queue,
    ReadOnlyReader,
    RepairError,
    WriterLockedError,
    last_good_seq,
    truncate_after,
    verify,
)

if TYPE_CHECKING:
    from pathlib import Path

SEG = 16384


def _build(qdir: Path, records: int = 400) -> list[tuple[int, int, int]]:
    with Queue.open_publisher(qdir, small_config(segment_size=SEG, prealloc=False)) as w:
        for i in range(records):
            w.append(1, i.to_bytes(4, "little") * 25)
    with ReadOnlyReader(qdir) as r:
        return [(x.seq, x.segment_id, x.offset) for x in r]


def _seqs(qdir: Path) -> list[int]:
    with ReadOnlyReader(qdir) as r:
        return [x.seq for x in r]


def test_truncate_after_drops_exactly_the_later_records(qdir: Path) -> None:
    recs = _build(qdir)
    head = max(g for _s, g, _o in recs)
    with Queue.open_subscriber(qdir, "late") as sub:
        sub.read_batch(300)
        sub.commit()
    before = {p: p.read_bytes() for p in qdir.iterdir() if p.is_file()}
    dry = truncate_after(qdir, 150, dry_run=True)
    assert {p: p.read_bytes() for p in qdir.iterdir() if p.is_file()} == before
    assert dry.dry_run
    assert (dry.dropped_first, dry.dropped_last, dry.dropped_count) == (151, 399, 249)
    assert dry.dropped_readable == 249
    seg_of_150 = next(g for s, g, _o in recs if s == 150)
    assert dry.files_deleted == [str(seg_path(qdir, i)) for i in range(seg_of_150 + 1, head + 1)]
    assert dry.bytes_zeroed > 0
    assert dry.cursors_moved == ["late"]
    assert "drops seqs 151..399 (249 records" in dry.describe()
    done = truncate_after(qdir, 150)
    assert done._replace(dry_run=True) == dry
    assert _seqs(qdir) == list(range(151))
    assert verify(qdir).whole
    with Queue.open_subscriber(qdir, "late") as sub:
        assert sub.next_seq == 151
    with Queue.open_publisher(qdir, small_config(segment_size=SEG)) as w:
        assert w.next_seq == 151
        assert w.head_segment_id == seg_of_150
        w.append_many([(2, b"again")] * 300)  # rolls again over the cut
    assert _seqs(qdir) == list(range(451))
    assert verify(qdir).whole


def test_truncate_at_a_segment_boundary_and_to_nothing(qdir: Path) -> None:
    recs = _build(qdir)
    last_of_0 = max(s for s, g, _o in recs if g == 0)
    truncate_after(qdir, last_of_0)
    assert _seqs(qdir) == list(range(last_of_0 + 1))
    truncate_after(qdir, -1)
    assert _seqs(qdir) == []
    assert verify(qdir).whole
    with Queue.open_publisher(qdir, small_config(segment_size=SEG)) as w:
        assert w.next_seq == 0
        w.append(1, b"x")
    assert _seqs(qdir) == [0]


def test_repair_of_a_deleted_head_at_damage(qdir: Path) -> None:
    recs = _build(qdir)
    head = max(g for _s, g, _o in recs)
    keep = max(s for s, g, _o in recs if g == head - 1)
    os.unlink(seg_path(qdir, head))
    assert last_good_seq(qdir) == keep
    report = truncate_after(qdir, keep)
    assert report.dropped_first == keep + 1
    assert report.dropped_last is None  # the deleted records cannot be counted
    assert "drops seqs" in report.describe()
    assert verify(qdir).whole
    with Queue.open_publisher(qdir, small_config(segment_size=SEG)) as w:
        assert w.next_seq == keep + 1


def test_repair_of_a_corrupt_sealed_segment_at_damage(qdir: Path) -> None:
    recs = _build(qdir)
    off = next(o for s, _g, o in recs if s == 130)
    seg_id = next(g for s, g, _o in recs if s == 130)
    with open(seg_path(qdir, seg_id), "r+b") as fh:
        fh.seek(off + 30)
        fh.write(b"\xee\xee")
    assert last_good_seq(qdir) == 129
    with pytest.raises(RepairError, match="readable records end with seq 129"):
        truncate_after(qdir, 200)
    report = truncate_after(qdir, 129)
    assert report.dropped_first == 130
    assert report.dropped_last == 399
    assert report.dropped_readable == 399 - 130  # all but the corrupt one
    assert _seqs(qdir) == list(range(130))


def test_repair_of_the_only_segment_deleted(qdir: Path) -> None:
    _build(qdir, records=20)
    os.unlink(seg_path(qdir, 0))
    with pytest.raises(MissingSegment):
        Queue.open_publisher(qdir, small_config(segment_size=SEG))
    assert last_good_seq(qdir) == -1
    report = truncate_after(qdir, -1)
    assert report.dropped_first == 0
    with Queue.open_publisher(qdir, small_config(segment_size=SEG)) as w:
        assert w.next_seq == 0


def test_repair_refuses_while_a_writer_is_live(qdir: Path) -> None:
    _build(qdir, records=10)
    with Queue.open_publisher(qdir, small_config(segment_size=SEG)) as w:
        with pytest.raises(WriterLockedError):
            truncate_after(qdir, 3)
        with pytest.raises(WriterLockedError):
            truncate_after(qdir, 3, dry_run=True)
        assert w.next_seq == 10
    assert _seqs(qdir) == list(range(10))


def test_repair_refuses_impossible_cuts(qdir: Path) -> None:
    _build(qdir, records=10)
    with pytest.raises(RepairError, match="readable records end with seq 9"):
        truncate_after(qdir, 10)
    with pytest.raises(RepairError, match="before the oldest retained"):
        truncate_after(qdir, -2)
    assert _seqs(qdir) == list(range(10))
