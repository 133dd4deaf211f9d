"""truncate_after / last_good_seq: the only code that cuts a damaged journal."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from journal_helpers import flip_bit, seg_path, small_config

from whistle.journal import (
    MissingSegment,
    Queue,
    ReadOnlyReader,
    RepairError,
    WriterLockedError,
    last_good_seq,
    readable_prefix,
    truncate_after,
    verify,
)

if TYPE_CHECKING:
    from collections.abc import Callable
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
    assert dry.files_set_aside == [str(seg_path(qdir, i)) for i in range(seg_of_150 + 1, head + 1)]
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


def _copy_over(src: Path, dst: Path) -> None:
    dst.write_bytes(src.read_bytes())


def _swap(a: Path, b: Path) -> None:
    tmp = a.with_name("swap.tmp")
    os.rename(a, tmp)
    os.rename(b, a)
    os.rename(tmp, b)


# Every damage verify names that is not a bad record: damage(qdir, head id, an offset
# inside the head's middle record).
_FILE_DAMAGE: dict[str, Callable[[Path, int, int], None]] = {
    "sealed_header_crc": lambda q, h, _c: flip_bit(seg_path(q, 1), 10),
    "sealed_truncated": lambda q, h, _c: os.truncate(seg_path(q, 1), SEG // 2),
    "head_truncated_mid": lambda q, h, c: os.truncate(seg_path(q, h), c),
    "head_truncated_128": lambda q, h, _c: os.truncate(seg_path(q, h), 128),
    "head_truncated_0": lambda q, h, _c: os.truncate(seg_path(q, h), 0),
    "sealed_swapped": lambda q, h, _c: _swap(seg_path(q, 1), seg_path(q, 2)),
    "old_copy_over_head": lambda q, h, _c: _copy_over(seg_path(q, h - 1), seg_path(q, h)),
    "stray_extra_segment": lambda q, h, _c: _copy_over(seg_path(q, 1), seg_path(q, h + 3)),
}


@pytest.mark.parametrize("kind", sorted(_FILE_DAMAGE))
def test_repair_at_damage_of_every_file_damage_sets_files_aside(qdir: Path, kind: str) -> None:
    recs = _build(qdir)
    head = max(g for _s, g, _o in recs)
    assert head >= 3
    last_of = {g: max(s for s, gg, _o in recs if gg == g) for g in range(head + 1)}
    in_head = [(s, o) for s, g, o in recs if g == head]
    _FILE_DAMAGE[kind](qdir, head, in_head[len(in_head) // 2][1] + 8)
    assert not verify(qdir).whole
    originals = {p.name: p.read_bytes() for p in qdir.glob("*.wseg")}
    keep = last_good_seq(qdir)
    if kind in ("sealed_header_crc", "sealed_truncated", "sealed_swapped"):
        assert keep <= last_of[1]  # at most segment 1's readable prefix is kept
        assert keep >= last_of[0]
    elif kind == "head_truncated_mid":
        assert last_of[head - 1] < keep < last_of[head]  # the readable half is kept
    elif kind == "stray_extra_segment":
        assert keep == last_of[head]  # nothing is lost: only the stray file goes
    else:
        assert keep == last_of[head - 1]
    assert [s for s, _t, _p in readable_prefix(qdir, keep)] == list(range(keep + 1))
    dest = qdir.parent / "aside"
    report = truncate_after(qdir, keep, set_aside=dest)
    assert report.set_aside_dir == str(dest)
    assert report.files_set_aside or kind == "head_truncated_mid"
    # the cut segment is kept and zeroed after the cut: a copy of it as it was is set aside
    copies = 1 if report.bytes_zeroed > 0 or kind.endswith("_mid") else 0
    assert len(os.listdir(dest)) == len(report.files_set_aside) + copies
    for name in os.listdir(dest):
        assert (dest / name).read_bytes() == originals[name]
    for moved in report.files_set_aside:  # set aside, byte for byte, never deleted
        name = os.path.basename(moved)
        assert not os.path.exists(moved)
        assert (dest / name).read_bytes() == originals[name]
    assert verify(qdir).whole, verify(qdir).findings()
    assert _seqs(qdir) == list(range(keep + 1))
    with Queue.open_publisher(qdir, small_config(segment_size=SEG)) as w:
        assert w.next_seq == keep + 1
        w.append_many([(2, b"again")] * 200)  # rolls over the cut
    assert _seqs(qdir) == list(range(keep + 201))
    assert verify(qdir).whole


def test_repair_keeps_a_copy_of_the_segment_it_zeroes(qdir: Path) -> None:
    recs = _build(qdir)
    seg_id = next(g for s, g, _o in recs if s == 150)
    original = seg_path(qdir, seg_id).read_bytes()
    report = truncate_after(qdir, 150)
    assert report.bytes_zeroed > 0
    assert report.set_aside_dir.startswith(str(qdir / "damaged-"))
    kept_copy = os.path.join(report.set_aside_dir, seg_path(qdir, seg_id).name)
    with open(kept_copy, "rb") as fh:
        assert fh.read() == original
    assert seg_path(qdir, seg_id).read_bytes() != original
    assert verify(qdir).whole  # the folder inside the queue directory is ignored
