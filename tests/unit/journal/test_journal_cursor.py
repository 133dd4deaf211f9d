"""Durable named cursors: resume, torn writes, validation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from journal_helpers import small_config

from whistle.journal import CursorPosition, Queue, QueueWriter
from whistle.journal.cursor import CursorStore, read_cursor_file

if TYPE_CHECKING:
    from pathlib import Path


def _seqs(qdir: Path, name: str) -> list[int]:
    with Queue.open_subscriber(qdir, name) as r:
        return [x.seq for x in r]


def test_commit_and_resume(writer: QueueWriter, qdir: Path) -> None:
    writer.append_many([(1, b"x" * 50)] * 100)
    with Queue.open_subscriber(qdir, "a") as r:
        assert len(r.read_batch(30)) == 30
        r.commit()
        assert len(r.read_batch(10)) == 10  # read but not committed
    assert _seqs(qdir, "a") == list(range(30, 100))
    assert _seqs(qdir, "b") == list(range(100))  # independent names
    assert Queue.cursors(qdir)["a"].next_seq == 30


def test_resume_across_segments_and_writer_restart(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config()) as w:
        w.append_many([(1, b"y" * 200)] * 50)
    with Queue.open_subscriber(qdir, "a") as r:
        recs = r.read_batch(37)
        r.commit(sync=False)
    assert recs[-1].segment_id > 0
    with Queue.open_publisher(qdir, small_config()) as w:
        w.append_many([(1, b"z")] * 5)
    assert _seqs(qdir, "a") == list(range(37, 55))


def test_commit_at_end_of_sealed_segment(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config(prealloc=False)) as w:
        w.append_many([(1, b"y" * 200)] * 14)
        with Queue.open_subscriber(qdir, "a") as r:
            got = list(r)
            r.commit()
        assert len(got) == 14
        while w.head_segment_id == got[-1].segment_id:
            w.append(1, b"n")
    with Queue.open_subscriber(qdir, "a") as r:
        nxt = r.next()
    assert nxt is not None
    assert nxt.seq == 14


def test_torn_cursor_write_falls_back_to_previous_slot(qdir: Path) -> None:
    store = CursorStore(str(qdir), "c")
    store.store(CursorPosition(10, 0, 128))
    store.store(CursorPosition(20, 1, 256))  # generation 2 -> slot 0
    store.close()
    path = qdir / "readers" / "c.cursor"
    assert read_cursor_file(str(path)) == (2, CursorPosition(20, 1, 256))
    raw = bytearray(path.read_bytes())
    raw[10] ^= 0x55  # tear the newest slot (slot 0)
    path.write_bytes(bytes(raw))
    assert read_cursor_file(str(path)) == (1, CursorPosition(10, 0, 128))
    store = CursorStore(str(qdir), "c")
    assert store.load() == CursorPosition(10, 0, 128)
    store.store(CursorPosition(30, 2, 64))  # generation 2 again, overwrites torn slot
    assert store.load() == CursorPosition(30, 2, 64)
    store.close()
    path.write_bytes(bytes(64))  # both slots destroyed: no cursor at all
    assert read_cursor_file(str(path)) is None


def test_partial_cursor_file(qdir: Path) -> None:
    store = CursorStore(str(qdir), "c")
    store.store(CursorPosition(5, 0, 128))
    store.store(CursorPosition(6, 0, 136))
    store.close()
    path = qdir / "readers" / "c.cursor"
    path.write_bytes(path.read_bytes()[:40])  # slot 1 truncated mid-write
    assert read_cursor_file(str(path)) == (2, CursorPosition(6, 0, 136))


def test_reader_with_torn_cursor_resumes_from_previous_commit(
    writer: QueueWriter, qdir: Path
) -> None:
    writer.append_many([(1, b"q" * 30)] * 20)
    with Queue.open_subscriber(qdir, "a") as r:  # gen 1 = initial cursor
        r.read_batch(5)
        r.commit()  # gen 2 (slot 0)
        r.read_batch(5)
        r.commit()  # gen 3 (slot 1)
    path = qdir / "readers" / "a.cursor"
    raw = bytearray(path.read_bytes())
    raw[32 + 9] ^= 0xFF  # tear gen 3
    path.write_bytes(bytes(raw))
    assert _seqs(qdir, "a") == list(range(5, 20))


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "x" * 65, "sp ace"])
def test_invalid_reader_names(writer: QueueWriter, qdir: Path, name: str) -> None:
    with pytest.raises(ValueError):
        Queue.open_subscriber(qdir, name)
