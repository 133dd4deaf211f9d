"""Every error the journal raises on purpose, with file names and offsets."""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

import pytest
from journal_helpers import seg_path, small_config

from whistle.journal import (
    BadSegmentError,
    CorruptRecord,
    JournalError,
    JournalFull,
    JournalIOError,
    NotAJournalError,
    Queue,
    QueueConfig,
    WriterLockedError,
)
from whistle.journal import segment as segment_mod
from whistle.journal.errors import wrap_os_error
from whistle.journal.segment import HEADER_SIZE, record_size

if TYPE_CHECKING:
    from pathlib import Path


def _write_records(qdir: Path, n: int, size: int = 40) -> list[int]:
    """Append n records (all in segment 0); return their offsets."""
    with Queue.open_publisher(qdir, small_config()) as w:
        w.append_many([(1, bytes([i]) * size) for i in range(n)])
        assert w.head_segment_id == 0
    return [HEADER_SIZE + i * record_size(size) for i in range(n)]


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0xFF]))


def test_not_a_journal_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(NotAJournalError) as info:
        Queue.open_publisher(tmp_path)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(NotAJournalError):
        Queue.open_subscriber(tmp_path, "r")


def test_path_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_bytes(b"x")
    with pytest.raises(NotAJournalError):
        Queue.open_publisher(f)


def test_invalid_metadata(qdir: Path) -> None:
    _write_records(qdir, 1)
    meta = qdir / "queue.meta"
    _flip(meta, 20)
    with pytest.raises(NotAJournalError) as info:
        Queue.open_publisher(qdir)
    assert info.value.path == str(meta)
    meta.write_bytes(b"short")
    with pytest.raises(NotAJournalError):
        Queue.open_subscriber(qdir, "r")


def test_subscriber_on_missing_queue(tmp_path: Path) -> None:
    with pytest.raises(NotAJournalError):
        Queue.open_subscriber(tmp_path / "nope", "r")


@pytest.mark.parametrize(("offset", "what"), [(0, "magic"), (8, "version"), (20, "CRC")])
def test_bad_segment_header(qdir: Path, offset: int, what: str) -> None:
    _write_records(qdir, 3)
    path = seg_path(qdir, 0)
    _flip(path, offset)
    with pytest.raises(BadSegmentError) as info:
        Queue.open_publisher(qdir, small_config())
    assert what in str(info.value)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    with pytest.raises(BadSegmentError):
        Queue.open_subscriber(qdir, "r")


def test_crc_mismatch_in_the_middle_raises(qdir: Path) -> None:
    offsets = _write_records(qdir, 5)
    path = seg_path(qdir, 0)
    _flip(path, offsets[2] + 30)  # payload byte of record 2
    with pytest.raises(CorruptRecord) as info:
        Queue.open_publisher(qdir, small_config())
    assert info.value.path == str(path)
    assert info.value.offset == offsets[2]
    assert f"offset {offsets[2]}" in str(info.value)
    with Queue.open_subscriber(qdir, "r") as r:
        assert [x.seq for x in r.read_batch(2)] == [0, 1]
        with pytest.raises(CorruptRecord):
            r.next()


def test_corrupt_length_in_the_middle_raises(qdir: Path) -> None:
    offsets = _write_records(qdir, 5)
    _flip(seg_path(qdir, 0), offsets[1])  # the length field of record 1
    with pytest.raises(CorruptRecord) as info:
        Queue.open_publisher(qdir, small_config())
    assert info.value.offset == offsets[1]


@pytest.mark.parametrize("where", ["payload", "crc"])
def test_a_committed_last_record_that_fails_its_crc_is_damage(qdir: Path, where: str) -> None:
    # Its commit marker (stored last) is there, so the record was committed: a flip in
    # its payload or CRC is damage, not a torn write (it was cut silently before).
    offsets = _write_records(qdir, 5)
    size = record_size(40)
    _flip(seg_path(qdir, 0), offsets[4] + {"payload": 30, "crc": size - 8}[where])
    before = seg_path(qdir, 0).read_bytes()
    with pytest.raises(CorruptRecord) as info:
        Queue.open_publisher(qdir, small_config())
    assert info.value.offset == offsets[4]
    with pytest.raises(CorruptRecord), Queue.open_subscriber(qdir, "early") as r:
        list(r)
    assert seg_path(qdir, 0).read_bytes() == before


@pytest.mark.parametrize("where", ["marker"])
def test_torn_tail_is_cut_off(qdir: Path, where: str) -> None:
    # A torn write: the commit marker, the last field stored, never landed.
    offsets = _write_records(qdir, 5)
    size = record_size(40)
    delta = {"marker": size - 4}[where]
    _flip(seg_path(qdir, 0), offsets[4] + delta)
    with Queue.open_subscriber(qdir, "early") as r:
        assert [x.seq for x in r] == [0, 1, 2, 3]  # a reader never sees the torn record
    with Queue.open_publisher(qdir, small_config()) as w:
        assert w.next_seq == 4
        assert w.write_offset == offsets[4]
        assert w.append(2, b"new") == 4
    with Queue.open_subscriber(qdir, "r") as r:
        recs = list(r)
    assert [x.seq for x in recs] == [0, 1, 2, 3, 4]
    assert recs[-1].payload == b"new"
    data = seg_path(qdir, 0).read_bytes()
    assert not any(data[offsets[4] + record_size(3) :])  # the rest was zeroed


def test_second_writer_is_rejected(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config()):
        with pytest.raises(WriterLockedError) as info:
            Queue.open_publisher(qdir, small_config())
        assert "writer.lock" in str(info.value)
    with Queue.open_publisher(qdir, small_config()) as w:  # free again after close
        w.append(1, b"x")


def test_disk_full_while_preallocating(qdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Queue.open_publisher(qdir, small_config(prealloc=False)) as w:
        w.append_many([(1, b"a" * 100)] * 20)

        def full(fd: int, size: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(segment_mod, "_fallocate", full)

        def append_until_roll() -> None:
            for _ in range(100):
                w.append(1, b"b" * 100)

        with pytest.raises(JournalFull) as info:
            append_until_roll()
        assert isinstance(info.value, JournalIOError)
        assert isinstance(info.value, OSError)
        assert info.value.errno == errno.ENOSPC
        written = w.next_seq
        assert not [n for n in os.listdir(qdir) if n.startswith(".tmp-")]
        monkeypatch.undo()
        assert w.append(1, b"c") == written  # usable again once space is back
    with Queue.open_subscriber(qdir, "r") as r:
        assert [x.seq for x in r] == list(range(written + 1))


def test_disk_full_when_creating_queue(qdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, size: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(segment_mod, "_fallocate", full)
    with pytest.raises(JournalFull):
        Queue.open_publisher(qdir, small_config())
    monkeypatch.undo()
    with Queue.open_publisher(qdir, small_config()) as w:  # the lock was released
        assert w.append(1, b"x") == 0


def test_wrap_os_error() -> None:
    other = wrap_os_error(OSError(errno.EIO, "boom"), "testing", "/x", 5)
    assert type(other) is JournalIOError
    assert other.errno == errno.EIO
    assert "/x @ offset 5" in str(other)
    quota = wrap_os_error(OSError(errno.EDQUOT, "quota"), "testing", None)
    assert isinstance(quota, JournalFull)
    assert wrap_os_error(quota, "again", None) is quota
    assert issubclass(JournalFull, JournalError)


def test_orphaned_temporary_segments_are_reclaimed_on_open(tmp_path: Path) -> None:
    qdir = tmp_path / "q"
    with Queue.open_publisher(qdir, small_config()) as w:
        w.append(1, b"x")
    orphan = qdir / ".tmp-00000000000000ff-99999"
    orphan.write_bytes(b"\0" * 4096)  # as a crash between prepare and rename leaves it
    with Queue.open_publisher(qdir, small_config()) as w:
        assert not orphan.exists()
        w.append(1, b"y")


def test_segments_of_4_gib_and_more_are_refused() -> None:
    with pytest.raises(ValueError, match="segment_size must be < 4 GiB, was 4294967296"):
        QueueConfig(segment_size=1 << 32)
