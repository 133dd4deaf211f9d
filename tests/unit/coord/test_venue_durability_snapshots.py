"""Snapshots are verified before use, a bad one falls back, old ones are pruned, and a
checkpoint that cannot be written never fails the command or tick that triggered it."""

from __future__ import annotations

import errno
import os
import shutil
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from click.testing import CliRunner

import whistle.coord.durability.datadir as durability_module
from whistle import NewOrder, Venue
from whistle.cli.main import main
from whistle.coord.durability.datadir import scan, snapshot_path
from whistle.coord.durability.records import Checkpoint, RecordCodec, Snapshotted
from whistle.coord.durability.replay import replay
from whistle.coord.errors import CoordError
from whistle.core import Instrument

if TYPE_CHECKING:
    from pathlib import Path

A = Instrument(symbol="A", symbol_id=41, tick_size="1")
B = Instrument(symbol="B", symbol_id=42, tick_size="1")


def trade(venue: Venue, first: int, n: int) -> None:
    for i in range(first, first + n):
        venue.send(NewOrder(41, i, 1, 1 + i % 2, 1, 1, 100 + i % 4, 3))
        venue.send(NewOrder(42, i, 1, 1, 1, 1, 50 + i % 7, 2))


def build(data: Path, **kw: Any) -> dict[str, str]:
    """A journaled venue with several checkpoints, crashed after the last one."""
    venue = Venue(data_dir=data, checkpoint_every=6, **kw)
    venue.add_instrument(A)
    venue.add_instrument(B)
    trade(venue, 1, 20)
    hashes = venue.state_hashes()
    assert venue._journal is not None
    venue._journal.close()
    venue._journal = None
    venue.stop()
    return hashes


def latest_and_previous(data: Path, symbol_id: int) -> tuple[Path, Path, int]:
    found = scan(data)
    latest, previous = found.checkpoints[-1], found.checkpoints[-2]
    now = snapshot_path(data, symbol_id, latest.snapshots[symbol_id])
    before = snapshot_path(data, symbol_id, previous.snapshots[symbol_id])
    assert now != before
    return now, before, previous.enq_seq


@pytest.mark.parametrize("damage", ["empty", "truncated", "older copy", "bit flip", "deleted"])
def test_a_bad_latest_snapshot_falls_back_to_the_previous_checkpoint(
    tmp_path: Path, damage: str
) -> None:
    # Issue finding 4: a 0-byte snapshot restored an empty book, an older copy was
    # accepted, a truncated one gave a bare DecodeError with no path.
    data = tmp_path / "d"
    hashes = build(data)
    latest, previous, previous_enq = latest_and_previous(data, 41)
    raw = latest.read_bytes()
    if damage == "empty":
        latest.write_bytes(b"")
    elif damage == "truncated":
        latest.write_bytes(raw[: len(raw) // 2])
    elif damage == "older copy":
        shutil.copyfile(previous, latest)
    elif damage == "bit flip":
        flipped = bytearray(raw)
        flipped[len(raw) // 2] ^= 0x10
        latest.write_bytes(bytes(flipped))
    else:
        latest.unlink()
    report = replay(data)
    result = CliRunner().invoke(main, ["replay", str(data)])
    if damage == "deleted":
        # Not there at all, as after retention and a repair: recovery falls back, no damage.
        assert report.ok
        assert str(latest) in report.snapshots_missing[0]
        assert result.exit_code == 0
    else:
        assert not report.ok
        assert report.snapshot_problems
        assert str(latest) in report.snapshot_problems[0]
        assert result.exit_code == 1
        assert "SNAPSHOT" in result.output
    with Venue(data_dir=data) as again:
        assert again.state_hashes() == hashes  # every acknowledged command, same books
        recovery = again.recovery
        assert recovery is not None
        assert recovery.checkpoint_enq_seq == previous_enq
        assert len(recovery.fallbacks) == 1
        assert str(latest) in recovery.fallbacks[0]


def test_with_every_kept_checkpoint_bad_everything_is_replayed_from_the_start(
    tmp_path: Path,
) -> None:
    data = tmp_path / "d"
    hashes = build(data)
    found = scan(data)
    for checkpoint in found.checkpoints:
        snapshot_path(data, 42, checkpoint.snapshots[42]).write_bytes(b"")
    with Venue(data_dir=data) as again:
        assert again.state_hashes() == hashes
        assert again.recovery is not None
        assert again.recovery.checkpoint_enq_seq is None
        assert len(again.recovery.fallbacks) == len(found.checkpoints) + 1


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_old_snapshots_are_pruned_to_the_last_k_checkpoints(tmp_path: Path, keep: int) -> None:
    data = tmp_path / "d"
    build(data, keep_checkpoints=keep)
    found = scan(data, keep=100)
    assert len(found.checkpoints) > keep + 1
    wanted = {
        snapshot_path(data, sid, enq).name
        for cut in found.checkpoints[-keep:]
        for sid, enq in cut.snapshots.items()
    }
    on_disk = {p.name for p in (data / "snapshots").rglob("*") if p.is_file()}
    assert on_disk == wanted
    with Venue(data_dir=data):  # and recovery still works
        pass


def test_keep_checkpoints_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep_checkpoints must be >= 1"):
        Venue(data_dir=tmp_path / "d", keep_checkpoints=0)


def test_disk_full_while_writing_a_snapshot_never_fails_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue finding 5: a bare OSError without a path, then every command raised although
    # each was executed and journaled.
    data = tmp_path / "d"
    venue = Venue(data_dir=data, checkpoint_every=4)
    venue.add_instrument(A)
    venue.add_instrument(B)

    def full(src: Any, dst: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(durability_module.os, "replace", full)
    for i in range(1, 10):
        events = venue.send(NewOrder(41, i, 1, 1, 1, 1, 100, 1))
        assert events
        assert events[0].order_id == i
    error = venue.last_checkpoint_error
    assert error is not None
    assert "No space left on device" in error
    assert str(data / "snapshots") in error
    assert venue.durability().last_checkpoint_error == error
    assert [p for p in (data / "snapshots").rglob("*tmp-*")] == []  # temporaries removed
    checkpoints_before = len(scan(data, 100).checkpoints)
    monkeypatch.undo()  # space is freed: the next tick retries
    venue.send(NewOrder(41, 100, 1, 2, 1, 1, 100, 1))
    assert venue.last_checkpoint_error is None
    assert len(scan(data, 100).checkpoints) == checkpoints_before + 1  # the retry succeeded
    hashes = venue.state_hashes()
    assert venue._journal is not None
    venue._journal.close()
    venue._journal = None
    venue.stop()
    with Venue(data_dir=data) as again:
        assert again.state_hashes() == hashes


def test_an_explicit_checkpoint_reports_its_failure_with_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "d"
    with Venue(data_dir=data, checkpoint_every=0) as venue:
        venue.add_instrument(A)
        venue.send(NewOrder(41, 1, 1, 1, 1, 1, 100, 1))

        def full(*args: Any, **kw: Any) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(durability_module.os, "fsync", full)
        with pytest.raises(durability_module.CheckpointError, match=r"cannot write snapshot .*41"):
            venue.checkpoint()
        monkeypatch.undo()
        venue.enqueue(NewOrder(41, 2, 1, 1, 1, 1, 100, 1))
        with pytest.raises(CoordError, match="tick first"):
            venue.checkpoint()  # between ticks only: the queued command would be lost
        venue.tick()
        venue.checkpoint()
    assert os.path.isdir(data)


def test_records_written_before_sizes_and_ids_still_decode() -> None:
    codec = RecordCodec()
    old_snapshot = msgspec.msgpack.encode([4, 41, 10, 7, "ab" * 16])
    decoded = codec.decode_record(old_snapshot)
    assert decoded == Snapshotted(41, 10, 7, "ab" * 16, 0, 0)
    old_checkpoint = msgspec.msgpack.encode([6, 10, 3, 5, {41: 10}])
    assert codec.decode_record(old_checkpoint) == Checkpoint(10, 3, 5, {41: 10}, {})
