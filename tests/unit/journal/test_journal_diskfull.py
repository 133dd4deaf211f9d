"""Disk full at every write site: JournalFull naming the path, nothing published, the
writer usable again once space is freed.  Injected failures per site, and a real small
tmpfs (root only; CI runs as root and must not skip it)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import uuid
from typing import TYPE_CHECKING

import pytest
from journal_helpers import seg_path, small_config

from whistle.journal import (
    JournalFull,
    Queue,
    QueueWriter,
    ReadOnlyReader,
    RetentionPolicy,
    verify,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

SEG = 16384


def _enospc(*_a: object, **_k: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def _fail_pwrite_to(monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    real = os.pwrite

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        if _fd_path(fd).endswith(suffix):
            _enospc()
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)


def _no_tmp(qdir: Path) -> None:
    assert not [n for n in os.listdir(qdir) if n.startswith(".tmp-")]


def _roll_until_error(w: QueueWriter) -> JournalFull:
    start = w.head_segment_id

    def append_until_roll() -> None:
        while w.head_segment_id == start:
            w.append(1, b"r" * 200)

    with pytest.raises(JournalFull) as info:
        append_until_roll()
    return info.value


def _check_whole(qdir: Path, count: int) -> None:
    assert verify(qdir).whole
    with ReadOnlyReader(qdir) as r:
        assert [x.seq for x in r] == list(range(count))


def test_disk_full_creating_the_next_segment(qdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Queue.open_publisher(qdir, small_config(segment_size=SEG, prealloc=False)) as w:
        monkeypatch.setattr(os, "posix_fallocate", _enospc)
        err = _roll_until_error(w)
        assert err.path == str(seg_path(qdir, 1))
        assert str(seg_path(qdir, 1)) in str(err)
        assert not seg_path(qdir, 1).exists()
        _no_tmp(qdir)
        _check_whole(qdir, w.next_seq)  # nothing published, every record readable
        monkeypatch.undo()
        n = w.next_seq
        w.append_many([(1, b"s" * 200)] * 200)  # usable again: rolls now
        assert w.head_segment_id >= 1
        total = w.next_seq
    assert total == n + 200
    _check_whole(qdir, total)


def test_disk_full_writing_the_manifest_at_a_roll(
    qdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = small_config(segment_size=SEG, prealloc=False, heartbeat_interval_ms=10**6)
    with Queue.open_publisher(qdir, cfg) as w:
        _fail_pwrite_to(monkeypatch, "queue.manifest")
        err = _roll_until_error(w)
        assert err.path == str(qdir / "queue.manifest")
        assert w.head_segment_id == 0
        _check_whole(qdir, w.next_seq)  # the new segment exists but is FRESH: harmless
        monkeypatch.undo()
        w.append_many([(1, b"s" * 200)] * 200)
        total = w.next_seq
    _check_whole(qdir, total)


def test_disk_full_storing_a_cursor(qdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Queue.open_publisher(qdir, small_config(segment_size=SEG)) as w:
        w.append_many([(1, b"x")] * 10)
    with Queue.open_subscriber(qdir, "r") as r:
        r.read_batch(3)
        r.commit()
        r.read_batch(3)
        _fail_pwrite_to(monkeypatch, "r.cursor")
        with pytest.raises(JournalFull) as info:
            r.commit()
        assert info.value.path == str(qdir / "readers" / "r.cursor")
        monkeypatch.undo()
        assert Queue.cursors(qdir)["r"].next_seq == 3  # the previous commit holds
        r.commit()
    assert Queue.cursors(qdir)["r"].next_seq == 6


def test_disk_full_writing_the_heartbeat(qdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Queue.open_publisher(qdir, small_config(segment_size=SEG)) as w:
        w.append(1, b"x")
    _fail_pwrite_to(monkeypatch, "writer.heartbeat")
    with pytest.raises(JournalFull) as info:
        Queue.open_publisher(qdir, small_config(segment_size=SEG))
    assert info.value.path == str(qdir / "writer.heartbeat")
    monkeypatch.undo()
    with Queue.open_publisher(qdir, small_config(segment_size=SEG)) as w:  # lock released
        assert w.append(1, b"y") == 1
    _check_whole(qdir, 2)


@pytest.mark.parametrize("call", ["replace", "fsync"])
def test_disk_full_creating_the_queue(
    qdir: Path, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    monkeypatch.setattr(os, call, _enospc)
    with pytest.raises(JournalFull) as info:
        Queue.open_publisher(qdir, small_config(segment_size=SEG))
    assert info.value.path is not None
    assert str(qdir) in info.value.path
    monkeypatch.undo()
    assert not (qdir / "queue.meta").exists()  # not a queue yet: nothing published
    _no_tmp(qdir)
    with Queue.open_publisher(qdir, small_config(segment_size=SEG)) as w:
        assert w.append(1, b"x") == 0
    _check_whole(qdir, 1)


def test_disk_full_during_retention_deletes_nothing(
    qdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = small_config(
        segment_size=SEG,
        prealloc=False,
        retention=RetentionPolicy(keep_segments=1),
        retention_interval_ms=10**6,
        heartbeat_interval_ms=10**6,
    )
    with Queue.open_publisher(qdir, cfg) as w:
        w.append_many([(1, b"r" * 200)] * 300)
        segs = [s.segment_id for s in Queue.segments(qdir)]
        _fail_pwrite_to(monkeypatch, "queue.manifest")
        with pytest.raises(JournalFull):
            w.run_retention()
        assert [s.segment_id for s in Queue.segments(qdir)] == segs
        _check_whole(qdir, 300)
        monkeypatch.undo()
        assert w.run_retention()
    assert verify(qdir).whole


# -- a real small file system ------------------------------------------------------------
@contextlib.contextmanager
def _tmpfs(base: Path, size: str) -> Iterator[Path]:
    mnt = base / f"tmpfs-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        why = f"cannot mount a tmpfs ({proc.stderr.strip() or proc.returncode})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}: CI must run this test (as root)")
        pytest.skip(f"{why}: needs root; CI runs it")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt: Path) -> Callable[[], None]:
    """Fill the file system; return a function that frees the space again."""
    filler = mnt / "filler"
    with open(filler, "wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\1" * 65536)
            fh.flush()
    return lambda: filler.unlink()


def test_real_disk_full_on_a_small_tmpfs(tmp_path: Path) -> None:
    with _tmpfs(tmp_path, "2m") as mnt:
        qdir = mnt / "q"
        cfg = small_config(segment_size=256 * 1024, prealloc=False)
        with Queue.open_publisher(qdir, cfg) as w:
            w.append_many([(1, b"a" * 200)] * 500)
            free = _fill(mnt)
            err = _roll_until_error(w)
            assert err.path is not None
            assert err.path.startswith(str(qdir))
            assert err.errno == errno.ENOSPC
            _no_tmp(qdir)
            before = w.next_seq
            _check_whole(qdir, before)
            with pytest.raises(JournalFull):
                w.append(1, b"b" * 200)  # still full: still refused, nothing lost
            free()
            w.append_many([(1, b"c" * 200)] * 1500)  # space again: rolls, goes on
            total = w.next_seq
        assert total == before + 1500
        _check_whole(qdir, total)
        with Queue.open_publisher(qdir, cfg) as w:
            assert w.next_seq == total


def test_real_disk_full_creating_a_queue_and_a_cursor(tmp_path: Path) -> None:
    with _tmpfs(tmp_path, "1m") as mnt:
        with Queue.open_publisher(mnt / "q", small_config(segment_size=SEG)) as w:
            w.append(1, b"x")
        free = _fill(mnt)
        with pytest.raises(JournalFull) as info:
            Queue.open_publisher(mnt / "q2", small_config(segment_size=SEG))
        assert info.value.path is not None
        assert str(mnt / "q2") in info.value.path
        with pytest.raises(JournalFull):
            Queue.open_subscriber(mnt / "q", "new-reader")
        free()
        with Queue.open_publisher(mnt / "q2", small_config(segment_size=SEG)) as w2:
            assert w2.append(1, b"y") == 0
        with Queue.open_subscriber(mnt / "q", "new-reader") as r:
            assert [x.seq for x in r] == [0]
        assert verify(mnt / "q").whole
        assert verify(mnt / "q2").whole
