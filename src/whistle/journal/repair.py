"""Explicit repair: the only code that may cut a damaged journal.

Recovery never cuts anything but a torn tail of the head segment (:mod:`.verify`).
When a queue is damaged, an operator decides what to give up and calls
:func:`truncate_after` (``whistle journal repair``): every record after ``seq`` is
dropped, the segment holding ``seq`` becomes the active head again, later segment
files are set aside (moved, never deleted, into a ``damaged-<UTC timestamp>/`` folder,
with a copy of the kept segment as it was before its tail was zeroed), the manifest and
reader cursors are brought in line.  The
:class:`RepairReport` says exactly what was (or, with ``dry_run=True``, would be)
dropped.  :func:`last_good_seq` names the last sequence before the first damage (what
``--at-damage`` keeps).

Repair refuses to run while a writer holds the queue's lock.  It is not crash-atomic:
if it is interrupted, run it again with the same ``seq`` (it is idempotent).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import shutil
import time
from typing import TYPE_CHECKING, NamedTuple, final

from .config import META_FLAG_MANIFEST, QueueMeta, fsync_dir, read_meta, write_meta
from .cursor import CURSOR_SUFFIX, CursorPosition, CursorStore, read_cursor_file
from .errors import (
    JournalError,
    JournalFormatError,
    NotAJournalError,
    WriterLockedError,
    wrap_os_error,
)
from .liveness import WriterLock, lock_held
from .manifest import Manifest, ManifestFile, read_manifest, write_new_manifest
from .segment import (
    HEADER_SIZE,
    REC_HDR,
    STATE_FRESH,
    STATE_SEALED,
    HeaderInfo,
    Segment,
    _check_header,
    find_valid_record_after,
    list_segment_ids,
    probe_record,
    segment_name,
)
from .verify import survey, verify

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .verify import Layout

__all__ = [
    "RepairError",
    "RepairReport",
    "damaged_dir_name",
    "last_good_seq",
    "readable_after",
    "readable_prefix",
    "truncate_after",
]


@final
class RepairError(JournalError, ValueError):
    """The requested cut is impossible (e.g. records before it are unreadable)."""


@final
class RepairReport(NamedTuple):
    """What :func:`truncate_after` dropped (or would drop, when ``dry_run``)."""

    path: str
    kept_through: int  # last kept sequence (-1: none)
    dropped_first: int | None  # first dropped sequence (None: nothing dropped)
    dropped_last: int | None  # last dropped sequence, if known
    dropped_readable: int  # how many dropped records were still readable
    files_set_aside: list[str]  # segment files moved into set_aside_dir
    set_aside_dir: str  # where they go (created only when something is moved or copied)
    bytes_zeroed: int
    cursors_moved: list[str]
    dry_run: bool

    @property
    def dropped_count(self) -> int | None:
        """Number of dropped sequence numbers (None when the end is unknown)."""
        if self.dropped_first is None:
            return 0
        if self.dropped_last is None:
            return None
        return self.dropped_last - self.dropped_first + 1

    def describe(self) -> str:
        if self.dropped_first is None:
            what = "drops no record"
        else:
            last = "(unknown end)" if self.dropped_last is None else str(self.dropped_last)
            count = self.dropped_count
            n = "an unknown number of" if count is None else f"{count}"
            what = (
                f"drops seqs {self.dropped_first}..{last} ({n} records, "
                f"{self.dropped_readable} of them still readable)"
            )
        verb = "would keep" if self.dry_run else "kept"
        return (
            f"{self.path}: {verb} seqs through {self.kept_through}, {what}; "
            f"{len(self.files_set_aside)} segment file(s) set aside, {self.bytes_zeroed} "
            f"bytes zeroed, {len(self.cursors_moved)} cursor(s) moved back"
        )


class _Seg(NamedTuple):
    segment_id: int
    path: str
    info: HeaderInfo | None  # None: header unreadable
    short: bool  # file shorter than its header says (cut short)


def _segments(qdir: str) -> list[_Seg]:
    out: list[_Seg] = []
    for seg_id in list_segment_ids(qdir):
        path = os.path.join(qdir, segment_name(seg_id))
        try:
            with open(path, "rb") as fh:
                head = fh.read(HEADER_SIZE)
                size = os.fstat(fh.fileno()).st_size
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise wrap_os_error(exc, "reading a segment header", path) from exc
        try:
            info: HeaderInfo | None = _check_header(head, path, size, True)
        except JournalFormatError:
            info = None
        short = info is not None and size < info.size
        out.append(_Seg(seg_id, path, info, short))
    return out


class _Walk(NamedTuple):
    end: int  # offset after the last valid record read
    next_seq: int  # seq after it
    whole: bool  # the segment ended where it should (sealed: exactly at its seal)


def _walk(seg: _Seg, upto: int | None) -> _Walk:
    """Walk the valid records of ``seg`` in order, stopping after seq ``upto``."""
    info = seg.info
    assert info is not None
    with open(seg.path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= HEADER_SIZE:
            return _Walk(HEADER_SIZE, info.base_seq, not seg.short)
        with mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ) as mm:
            mv = memoryview(mm)
            try:
                sealed = info.state == STATE_SEALED
                limit = min(info.end_offset, size) if sealed else size
                off, nxt = HEADER_SIZE, info.base_seq
                while off < limit and (upto is None or nxt <= upto):
                    n = probe_record(mm, mv, off, limit)
                    if n <= 0 or int.from_bytes(mm[off + 8 : off + 16], "little") != nxt:
                        break
                    off += n
                    nxt += 1
                if sealed:
                    whole = off == info.end_offset and nxt == info.next_seq and not seg.short
                else:
                    whole = not seg.short
                return _Walk(off, nxt, whole)
            finally:
                mv.release()


def _valid_records(seg: _Seg, payloads: bool) -> Iterator[tuple[int, int, bytes]]:
    """``(seq, type_id, payload or b"")`` of every valid record of ``seg`` in file order,
    resynchronising after damage (reports only: never used to recover)."""
    with open(seg.path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= HEADER_SIZE:
            return
        with mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ) as mm:
            mv = memoryview(mm)
            try:
                off: int | None = HEADER_SIZE
                while off is not None and off < size:
                    n = probe_record(mm, mv, off, size)
                    if n <= 0:
                        off = find_valid_record_after(mm, mv, off, size)
                        continue
                    length, type_id, rec_seq, _ts = REC_HDR.unpack_from(mm, off)
                    start = off + REC_HDR.size
                    yield rec_seq, type_id, mm[start : start + length] if payloads else b""
                    off += n
            finally:
                mv.release()


def _count_after(seg: _Seg, first_seq: int) -> tuple[int, int]:
    """``(records with seq >= first_seq still readable, highest seq seen)`` in ``seg``."""
    count, highest = 0, -1
    for rec_seq, _t, _p in _valid_records(seg, payloads=False):
        count += rec_seq >= first_seq
        highest = max(highest, rec_seq)
    return count, highest


def readable_after(path: str | os.PathLike[str], seq: int) -> Iterator[tuple[int, int, bytes]]:
    """``(seq, type_id, payload)`` of every still-readable record with a sequence above
    ``seq``, in file order, skipping over damage (what a cut would drop, for a report;
    never used to recover)."""
    qdir = os.fspath(path)
    low = _low(qdir)
    for seg in _segments(qdir):
        if seg.segment_id >= low and seg.info is not None:
            for item in _valid_records(seg, payloads=True):
                if item[0] > seq:
                    yield item


def readable_prefix(path: str | os.PathLike[str], upto: int) -> Iterator[tuple[int, int, bytes]]:
    """``(seq, type_id, payload)`` of the records ``..upto`` in sequence order, walking
    the chain of segments from the oldest and stopping at the first damage: exactly what
    :func:`truncate_after` keeps.  Unlike a reader it needs no whole layout, so it works
    on the damaged queues repair is for."""
    qdir = os.fspath(path)
    lay = survey(qdir)
    segs = [s for s in _segments(qdir) if s.segment_id >= lay.manifest.low]
    for seg, walk in _chain(segs, lay.manifest.low, _low_base(lay, segs), upto):
        for item in _valid_records(seg, payloads=True):
            if item[0] >= walk.next_seq:
                break
            yield item


def _low_base(lay: Layout, segs: list[_Seg]) -> int:
    """The first sequence of the oldest retained segment (the manifest's, if stored)."""
    first_info = segs[0].info if segs and segs[0].segment_id == lay.manifest.low else None
    if lay.manifest_stored or first_info is None:
        return lay.manifest.low_base
    return first_info.base_seq


def _chain(segs: list[_Seg], low: int, low_base: int, upto: int) -> Iterator[tuple[_Seg, _Walk]]:
    """The segments a cut may keep, each walked up to seq ``upto``: consecutive ids from
    ``low``, valid headers, in use, each starting where the previous one ends; stops
    after the first that reaches ``upto`` or does not end whole."""
    reached = low_base - 1
    expect_id = low
    for seg in segs:
        info = seg.info
        if seg.segment_id != expect_id or info is None or info.state == STATE_FRESH:
            return
        if info.base_seq != reached + 1 or upto <= reached:
            return
        walk = _walk(seg, upto)
        yield seg, walk
        reached = walk.next_seq - 1
        if reached >= upto or not walk.whole:
            return
        expect_id += 1


def _nonzero_bytes(path: str, offset: int) -> int:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if offset >= size:
            return 0
        with mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ) as mm:
            total = 0
            pos = offset
            while pos < size:
                end = min(pos + (1 << 20), size)
                chunk = mm[pos:end]
                if chunk.count(0) != len(chunk):
                    total += len(chunk.rstrip(b"\0")) - (len(chunk) - len(chunk.lstrip(b"\0")))
                pos = end
            return total


def last_good_seq(path: str | os.PathLike[str]) -> int:
    """The last sequence before the first damage (all of them when whole; -1: none).

    What ``whistle journal repair --at-damage`` keeps.
    """
    qdir = os.fspath(path)
    report = verify(qdir, deep=True)
    if report.whole:
        return -1 if report.next_seq is None else report.next_seq - 1
    firsts = [d.first_seq for d in report.damage if d.first_seq is not None]
    # The readable prefix: walk the segments in order until one does not end whole.
    low = _low(qdir)
    segs = [s for s in _segments(qdir) if s.segment_id >= low]
    last = -1
    expect_id: int | None = None
    stop: _Seg | None = None
    for seg in segs:
        if seg.info is None or seg.info.state == STATE_FRESH:
            break
        if expect_id is not None and seg.segment_id != expect_id:
            break
        if expect_id is not None and seg.info.base_seq != last + 1:
            break
        walk = _walk(seg, None)
        last = walk.next_seq - 1
        if not walk.whole:
            stop = seg
            break
        expect_id = seg.segment_id + 1
    if stop is not None and stop.short:
        # A segment cut short: its records up to the cut were each checked by the walk;
        # the damage verify names for the file (from its base_seq on) starts after them.
        firsts = [
            d.first_seq for d in report.damage if d.first_seq is not None and d.path != stop.path
        ]
    if firsts:
        last = min(last, min(firsts) - 1)
    return last


def _low(qdir: str) -> int:
    try:
        man = read_manifest(qdir)
    except JournalFormatError:
        man = None
    if man is not None:
        return man.low
    ids = list_segment_ids(qdir)
    return ids[0] if ids else 0


def damaged_dir_name() -> str:
    """``damaged-<UTC timestamp>``: the folder repair moves dropped segment files into."""
    return time.strftime("damaged-%Y%m%dT%H%M%SZ", time.gmtime())


def truncate_after(
    path: str | os.PathLike[str],
    seq: int,
    *,
    dry_run: bool = False,
    set_aside: str | os.PathLike[str] | None = None,
) -> RepairReport:
    """Drop every record after ``seq`` (``-1``: all of them) from queue ``path``.

    Raises :class:`WriterLockedError` while a writer holds the lock, and
    :class:`RepairError` when a record at or before ``seq`` is unreadable (cut earlier)
    or ``seq`` lies before the oldest retained record.  The report names the dropped
    sequence range, the files set aside and the zeroed bytes.  Dropped segment files
    are moved into ``set_aside`` (default ``path/damaged-<UTC timestamp>/``), and the
    kept segment is copied there before its tail is zeroed: nothing is deleted.
    """
    qdir = os.fspath(path)
    meta = read_meta(qdir)
    if meta is None:
        raise NotAJournalError("no queue here (queue.meta is missing)", path=qdir)
    lock: WriterLock | None = None
    if dry_run:
        if lock_held(qdir):
            raise WriterLockedError(
                "a live writer holds the queue: stop it before repairing", path=qdir
            )
    else:
        lock = WriterLock(qdir)
    try:
        dest = (
            os.fspath(set_aside)
            if set_aside is not None
            else os.path.join(qdir, damaged_dir_name())
        )
        return _truncate(qdir, meta, seq, dry_run, dest)
    finally:
        if lock is not None:
            lock.release()


def _truncate(qdir: str, meta: QueueMeta, seq: int, dry_run: bool, dest: str) -> RepairReport:
    lay = survey(qdir, meta)
    low = lay.manifest.low
    segs = [s for s in _segments(qdir) if s.segment_id >= low]
    low_base = _low_base(lay, segs)
    if seq < low_base - 1:
        raise RepairError(
            f"seq {seq} is before the oldest retained record (seq {low_base})", path=qdir
        )
    # Walk the chain of whole segments from the oldest until the one holding seq.
    cut: _Seg | None = None
    cut_off = HEADER_SIZE
    reached = low_base - 1  # last sequence known readable so far
    for seg, walk in _chain(segs, low, low_base, seq):
        cut, cut_off, reached = seg, walk.end, walk.next_seq - 1
    if reached < seq:
        raise RepairError(
            f"cannot keep through seq {seq}: the readable records end with seq {reached}; "
            f"cut at or before seq {reached}",
            path=qdir if cut is None else cut.path,
            offset=None if cut is None else cut_off,
        )
    keep_id = None if seq < low_base else (cut.segment_id if cut is not None else None)
    # What is dropped: readable records after the cut, and the highest seq known anywhere.
    readable = 0
    highest = seq
    for seg in segs:
        if seg.info is None or seg.info.state == STATE_FRESH:
            continue
        if seg.info.state == STATE_SEALED:
            highest = max(highest, seg.info.next_seq - 1)
        if keep_id is not None and seg.segment_id < keep_id:
            continue
        got, top = _count_after(seg, seq + 1)
        highest = max(highest, top)
        readable += got
    unknown_tail = any(d.first_seq is not None and d.last_seq is None for d in lay.damage)
    dropped_first = seq + 1 if highest > seq or unknown_tail else None
    dropped_last = None if unknown_tail else (highest if highest > seq else None)
    if keep_id is None:
        doomed = list(segs)
        zero_bytes = 0
    else:
        assert cut is not None
        doomed = [s for s in segs if s.segment_id > keep_id]
        zero_bytes = _nonzero_bytes(cut.path, cut_off)
    cursors = _cursors_after(qdir, seq)
    report = RepairReport(
        qdir,
        seq,
        dropped_first,
        dropped_last,
        readable,
        [s.path for s in doomed],
        dest,
        zero_bytes,
        sorted(cursors),
        dry_run,
    )
    if dry_run:
        return report
    # 1. set later segments aside, highest first, and keep a copy of the cut segment
    keeps_copy = cut is not None and keep_id is not None and (zero_bytes > 0 or cut.short)
    if doomed or keeps_copy:
        try:
            os.makedirs(dest, exist_ok=True)
            if keeps_copy:
                assert cut is not None
                shutil.copy2(cut.path, _free_name(dest, os.path.basename(cut.path)))
            for seg in sorted(doomed, key=lambda s: -s.segment_id):
                with contextlib.suppress(FileNotFoundError):
                    os.rename(seg.path, _free_name(dest, os.path.basename(seg.path)))
            fsync_dir(dest)
        except OSError as exc:
            raise wrap_os_error(exc, "setting damaged segments aside", dest) from exc
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(qdir):
            if name.startswith(".tmp-"):
                os.unlink(os.path.join(qdir, name))
    fsync_dir(qdir)
    # 2. the manifest: segments up to the kept one were activated
    activated = low if keep_id is None else keep_id + 1
    new = Manifest(low, low_base, activated)
    if lay.manifest_stored:
        man = ManifestFile(qdir)
        try:
            man.store(low=new.low, low_base=new.low_base, activated=new.activated)
        finally:
            man.close()
    else:
        write_new_manifest(qdir, new)
    if not meta.flags & META_FLAG_MANIFEST:
        write_meta(qdir, QueueMeta(meta.segment_size, meta.created_ns, meta.flags | 1))
    fsync_dir(qdir)
    # 3. the kept segment becomes the active head, zeroed after the cut
    pos = CursorPosition(seq + 1, low if keep_id is None else keep_id, HEADER_SIZE)
    if keep_id is not None and cut is not None and cut.info is not None:
        if cut.short:
            os.truncate(cut.path, cut.info.size)  # zeros: nothing committed there
        seg_obj = Segment(cut.path, writable=True)
        try:
            seg_obj.zero_from(cut_off)
            if seg_obj.state == STATE_SEALED:
                seg_obj.unseal()
            seg_obj.flush()
        finally:
            seg_obj.close()
        pos = CursorPosition(seq + 1, keep_id, cut_off)
    # 4. cursors past the cut resume at the cut
    for name in cursors:
        store = CursorStore(qdir, name)
        try:
            store.store(pos)
        finally:
            store.close()
    return report


def _free_name(dest: str, name: str) -> str:
    """``dest/name``, or ``dest/name.N`` when a repair already put one there."""
    target = os.path.join(dest, name)
    n = 1
    while os.path.lexists(target):
        target = os.path.join(dest, f"{name}.{n}")
        n += 1
    return target


def _cursors_after(qdir: str, seq: int) -> list[str]:
    rdir = os.path.join(qdir, "readers")
    try:
        names = os.listdir(rdir)
    except FileNotFoundError:
        return []
    out = []
    for fname in names:
        if not fname.endswith(CURSOR_SUFFIX):
            continue
        try:
            got = read_cursor_file(os.path.join(rdir, fname))
        except JournalFormatError:
            got = None
        if got is not None and got[1].next_seq > seq + 1:
            out.append(fname[: -len(CURSOR_SUFFIX)])
    return out
