"""``ReadOnlyReader``: read a queue in order; the base of ``QueueReader``.

A reader maps segments read-only and walks records in order. Opening runs the same
verification as the writer's recovery (:func:`~.verify.check_layout`), so a reader and
a writer reach the same verdict on the same directory. A record is visible only once its
commit marker is set and its CRC matches. A *sealed* segment must hold exactly the
records its seal promises (anything else is ``CorruptRecord`` / ``BadSegmentError``),
then the reader moves on to its successor, which must exist and chain on
(``MissingSegment`` / ``SequenceGap``). In the active segment, bytes at the tail with
nothing valid after them are "not yet written" (a torn write the next writer will cut
off); an invalid *or uncommitted* record followed by valid ones raises ``CorruptRecord``
(checked once per tail position when no live writer holds the lock, or when the writer
has rolled on).

This class keeps no cursor: tools that only look (``whistle journal``, playback, recovery
scans) must not leave named cursors behind, since a cursor holds every later segment back
from retention. It never writes in the queue directory and works on read-only copies; if
retention deletes the segment it needs next, it raises ``SequenceUnavailable``.
``QueueReader`` adds the durable named cursor and writer liveness on top.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self, final

import msgspec

from .config import read_meta
from .errors import (
    BadSegmentError,
    CorruptRecord,
    JournalClosedError,
    JournalFormatError,
    MissingSegment,
    NotAJournalError,
    SequenceGap,
    SequenceUnavailable,
)
from .liveness import lock_held
from .manifest import read_manifest
from .segment import (
    COMMIT_MARK,
    HEADER_SIZE,
    REC_HDR,
    REC_HDR_SIZE,
    REC_TRAILER,
    STATE_FRESH,
    STATE_SEALED,
    Segment,
    find_commit_mark,
    find_valid_record_after,
    list_segment_ids,
    probe_record,
    read_header,
    record_size,
    segment_name,
    walk_records,
)
from .verify import Layout, check_layout, with_seqs

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ReadOnlyReader", "Record"]

_ScanRecords = Callable[..., tuple[int, int]]
_scan_records: _ScanRecords | None
try:
    from ._native import scan_records as _scan_records
except ImportError:  # pure-Python install: the Python loops below read every record
    _scan_records = None

_LEN_SEQ = struct.Struct("<I4xQ")  # a record header's length and seq only
_U64 = struct.Struct("<Q")

_SPIN_POLLS = 64
_MAX_POLL_SLEEP = 0.005
_MIN_POLL_SLEEP = 50e-6


@final
class Record(msgspec.Struct, frozen=True, gc=False):
    """One journal record (immutable)."""

    seq: int
    ts_ns: int
    type_id: int
    payload: bytes
    segment_id: int
    offset: int


class ReadOnlyReader:
    """Read one queue in order without a durable cursor; never modifies the queue.

    Starts at the oldest retained record. :meth:`read_batch` never blocks;
    :meth:`wait_next` polls with backoff until a record arrives or the timeout passes.
    """

    def __init__(self, path: str | os.PathLike[str], *, _layout: Layout | None = None) -> None:
        self.path = os.fspath(path)
        meta = read_meta(self.path)
        if meta is None:
            raise NotAJournalError("no queue here (queue.meta is missing)", path=self.path)
        self._seg: Segment | None = None
        self._off = HEADER_SIZE
        self._next_seq = 0
        self._skip_below = 0
        self._closed = False
        self._tail_key: tuple[int, int] = (-1, -1)
        # The same verification as the writer's recovery (headers, manifest, seals):
        # a damaged directory raises here, whoever opens it.
        lay = _layout if _layout is not None else check_layout(self.path, meta)
        self._derived_low = None if lay.manifest_stored else lay.manifest.low
        try:
            self._open_oldest()
        except BaseException:
            self.close()
            raise

    # -- positioning ------------------------------------------------------------------
    def _seg_path(self, seg_id: int) -> str:
        return os.path.join(self.path, segment_name(seg_id))

    def _low(self) -> int:
        """The lowest retained segment id now (the manifest's ``low``)."""
        if self._derived_low is not None:
            return self._derived_low
        man = read_manifest(self.path)
        return 0 if man is None else man.low

    def _open_at(self, seg_id: int, offset: int, next_seq: int) -> bool:
        try:
            seg = Segment(self._seg_path(seg_id), writable=False)
        except FileNotFoundError:
            return False
        if self._seg is not None:
            self._seg.close()
        self._seg, self._off, self._next_seq = seg, offset, next_seq
        return True

    def _used_headers(self) -> list[tuple[int, int]]:
        """``(segment_id, base_seq)`` of every retained segment that holds or held records."""
        out: list[tuple[int, int]] = []
        low = self._low()
        for seg_id in list_segment_ids(self.path):
            if seg_id < low:
                continue  # left behind by an interrupted retention pass
            try:
                hdr = read_header(self._seg_path(seg_id))
            except FileNotFoundError:
                continue  # deleted by retention meanwhile
            if hdr.state != STATE_FRESH:
                out.append((seg_id, hdr.base_seq))
        return out

    def _open_oldest(self) -> bool:
        return any(self._open_at(s, HEADER_SIZE, b) for s, b in self._used_headers())

    def seek(self, seq: int) -> None:
        """Position so that the next record returned has sequence ``seq`` (or the first
        one after it, once written)."""
        self._check_open()
        used = self._used_headers()
        best = [sb for sb in used if sb[1] <= seq]
        if not used and seq >= 0:
            self._skip_below = seq  # nothing written yet: skip up to seq once it is
            return
        if not best:
            oldest = used[0][1] if used else None
            raise SequenceUnavailable(
                f"sequence {seq} is older than the oldest retained ({oldest})", path=self.path
            )
        seg_id, base = best[-1]
        if not self._open_at(seg_id, HEADER_SIZE, base):
            raise SequenceUnavailable(f"segment {seg_id} vanished", path=self.path)
        seg = self._seg
        assert seg is not None
        while self._next_seq < seq:
            size = probe_record(seg.mm, seg.mv, self._off, seg.size)
            if size <= 0:
                break
            self._off += size
            self._next_seq += 1
        self._skip_below = seq

    def end_seq(self) -> int:
        """The sequence the next appended record will get (one past the last record)."""
        self._check_open()
        used = self._used_headers()
        if not used:
            return 0
        seg_id, base = used[-1]
        try:
            seg = Segment(self._seg_path(seg_id), writable=False)
        except FileNotFoundError:
            return self._next_seq
        try:
            if seg.state == STATE_SEALED:
                return seg.seal_info()[1]
            off, nxt = HEADER_SIZE, base
            while (size := probe_record(seg.mm, seg.mv, off, seg.size)) > 0:
                off += size
                nxt += 1
            return nxt
        finally:
            seg.close()

    def first_seq(self) -> int:
        """The sequence of the oldest retained record (``end_seq()`` if there is none)."""
        used = self._used_headers()
        return used[0][1] if used else self.end_seq()

    def seek_last(self, n: int) -> None:
        """Position on the last ``n`` records written so far (all of them if fewer)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, was {n}")
        end = self.end_seq()
        self.seek(max(self.first_seq(), end - n))

    @property
    def next_seq(self) -> int:
        """Sequence of the next record this reader will return."""
        return max(self._next_seq, self._skip_below)

    # -- reading ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise JournalClosedError("reader is closed", path=self.path)

    def _advance(self) -> bool:
        """Move from the end of a sealed segment to its successor (False: none yet)."""
        seg = self._seg
        if seg is None:
            return self._open_oldest()
        nxt = seg.segment_id + 1
        path = self._seg_path(nxt)
        try:
            succ = Segment(path, writable=False)
        except FileNotFoundError:
            if self._low() > nxt:
                # No cursor protects us: retention deleted the segment we were about to read.
                raise SequenceUnavailable(
                    f"segment {nxt} (from sequence {self._next_seq}) was deleted while reading",
                    path=self.path,
                ) from None
            raise MissingSegment(
                f"segment {nxt} is missing (segment {seg.segment_id} is sealed, and a segment "
                "is sealed only after its successor was activated)",
                path=path,
                first_seq=self._next_seq,
            ) from None
        except JournalFormatError as exc:
            raise with_seqs(exc, self._next_seq, None) from None
        state, base = succ.state, succ.base_seq
        if state == STATE_FRESH:
            succ.close()  # its activation was lost (power loss): the next writer redoes it
            return False
        if base != self._next_seq:
            succ.close()
            lo, hi = sorted((base, self._next_seq))
            raise SequenceGap(
                f"segment starts at seq {base} but the previous one ends before seq "
                f"{self._next_seq}",
                path=path,
                offset=48,
                first_seq=lo,
                last_seq=hi - 1,
            )
        seg.close()
        self._seg, self._off = succ, HEADER_SIZE
        return True

    def _at_tail(self, seg: Segment, off: int, size: int) -> bool:
        """Nothing valid at ``off`` of the ACTIVE segment ``seg``: wait (False), move on
        to an already activated successor (True), or raise on damage -- the rule of
        :func:`~.segment.scan_segment`: an invalid or missing record followed by a valid
        one is damage, a tail with nothing valid after it is not written yet."""
        key = (seg.segment_id, off)
        if key == self._tail_key:
            return False  # judged already; nothing changed at this position
        nxt = seg.segment_id + 1
        try:
            succ = read_header(self._seg_path(nxt))
        except FileNotFoundError:
            succ = None
        rolled = succ is not None and succ.state != STATE_FRESH
        if rolled or size < 0 or not lock_held(self.path):
            # A dead writer's queue, a roll, or a bad CRC: is anything valid after this?
            later = find_valid_record_after(seg.mm, seg.mv, off, seg.size)
            if later is not None:
                what = "CRC mismatch" if size < 0 else "missing commit marker"
                later_seq = int.from_bytes(seg.mm[later + 8 : later + 16], "little")
                raise CorruptRecord(
                    f"{what} before a valid record (seq {later_seq}) at offset {later}",
                    path=seg.path,
                    offset=off,
                    first_seq=self._next_seq,
                    last_seq=later_seq - 1,
                )
            if not lock_held(self.path):
                # No writer is storing here: a commit marker past the last whole record
                # belongs to a record that was committed and no longer validates.
                mark = find_commit_mark(seg.mm, off, seg.size)
                if mark is not None:
                    raise CorruptRecord(
                        f"a committed record (commit marker at offset {mark}) fails"
                        " validation after the last whole record: damage, not a torn write",
                        path=seg.path,
                        offset=off,
                        first_seq=self._next_seq,
                        last_seq=None,
                    )
        if rolled:
            assert succ is not None
            if succ.base_seq != self._next_seq:
                lo, hi = sorted((succ.base_seq, self._next_seq))
                raise SequenceGap(
                    f"segment {nxt} starts at seq {succ.base_seq} but segment "
                    f"{seg.segment_id} (not sealed) ends before seq {self._next_seq}",
                    path=self._seg_path(nxt),
                    offset=48,
                    first_seq=lo,
                    last_seq=hi - 1,
                )
            # The writer activated the successor (and seals this one next, or crashed
            # before it could): every record of this segment is already here.
            return self._open_at(nxt, HEADER_SIZE, self._next_seq)
        self._tail_key = key
        return False

    def read_batch(self, max_n: int) -> list[Record]:
        """Up to ``max_n`` records available now (possibly none); never blocks.

        Raises a :class:`~.errors.JournalFormatError` on damage: a sealed segment must
        hold exactly the records its seal promises, segments must chain, and an invalid
        record is acceptable only at the tail of the active segment, with nothing valid
        after it.  The records before the damage are returned first; the call after
        them raises (the reader stays positioned at the damage).
        """
        self._check_open()
        out: list[Record] = []
        try:
            self._read_into(out, max_n, True)
        except JournalFormatError:
            if not out:
                raise
        return out

    def read_payloads(self, max_n: int) -> list[bytes]:
        """Like :meth:`read_batch` (same checks, same damage errors), but only the
        payloads: no :class:`Record` per record, for replay loops that decode payloads
        and need nothing else.  ``next_seq`` afterwards is one past the last returned."""
        self._check_open()
        out: list[bytes] = []
        try:
            self._read_into(out, max_n, False)
        except JournalFormatError:
            if not out:
                raise
        return out

    def _read_into(self, out: list[Any], max_n: int, records: bool) -> None:
        append = out.append
        unpack_header = REC_HDR.unpack_from
        unpack_trailer = REC_TRAILER.unpack_from
        crc32 = zlib.crc32
        header_size = REC_HDR_SIZE
        mark_ok = COMMIT_MARK
        mark_high = COMMIT_MARK << 32
        unpack_len_seq = _LEN_SEQ.unpack_from
        unpack_u64 = _U64.unpack_from
        while len(out) < max_n:
            seg = self._seg
            if seg is None:
                if not self._advance():
                    break
                continue
            sealed = seg.state == STATE_SEALED
            seal_end, seal_next, _ts = seg.seal_info()
            # Fast loop over whole, committed, CRC-valid records (what a reader meets
            # almost always): one header unpack, one trailer unpack, one CRC each. Anything
            # else stops it and is classified below.
            buf, mv, seg_id = seg.mm, seg.mv, seg.segment_id
            limit = min(seal_end, seg.size) if sealed else seg.size
            off, expect, skip = self._off, self._next_seq, self._skip_below
            if _scan_records is not None:  # the same loop in C (whistle.journal._native)
                off, expect = _scan_records(
                    buf,
                    off,
                    limit,
                    expect,
                    skip,
                    max_n - len(out),
                    out,
                    Record if records else None,
                    seg_id,
                )
            elif records:
                while len(out) < max_n and off + header_size + 8 <= limit:
                    n, type_id, seq, ts = unpack_header(buf, off)
                    trailer = off + ((header_size + n + 3) & ~3)
                    if trailer + 8 > limit:
                        break
                    crc, mark = unpack_trailer(buf, trailer)
                    if (
                        mark != mark_ok
                        or seq != expect
                        or crc32(mv[off : off + header_size + n]) != crc
                    ):
                        break
                    if seq >= skip:
                        start = off + header_size
                        append(Record(seq, ts, type_id, buf[start : start + n], seg_id, off))
                    off += (trailer + 8 - off + 7) & ~7
                    expect = seq + 1
            else:  # the same checks, appending only the payload (read_payloads)
                while len(out) < max_n and off + header_size + 8 <= limit:
                    n, seq = unpack_len_seq(buf, off)
                    trailer = off + ((header_size + n + 3) & ~3)
                    if trailer + 8 > limit:
                        break
                    # crc (low half) and commit marker (high half) as one u64
                    if (
                        seq != expect
                        or unpack_u64(buf, trailer)[0]
                        != crc32(mv[off : off + header_size + n]) | mark_high
                    ):
                        break
                    if seq >= skip:
                        start = off + header_size
                        append(buf[start : start + n])
                    off += (trailer + 8 - off + 7) & ~7
                    expect = seq + 1
            self._off, self._next_seq = off, expect
            if len(out) >= max_n:
                break
            if sealed and off == limit:
                if expect != seal_next:
                    raise BadSegmentError(
                        f"seal says next_seq {seal_next} at offset {seal_end}, but the records "
                        f"there end before seq {expect}",
                        path=seg.path,
                        offset=56,
                        first_seq=min(expect, seal_next),
                        last_seq=max(expect, seal_next) - 1,
                    )
                if not self._advance():
                    break
                continue
            size = probe_record(buf, mv, off, limit)
            if size > 0:
                seq = int(REC_HDR.unpack_from(buf, off)[2])
                raise CorruptRecord(
                    f"sequence {seq}, expected {expect}",
                    path=seg.path,
                    offset=off,
                    first_seq=expect,
                    last_seq=seq - 1 if seq > expect else (seal_next - 1 if sealed else None),
                )
            if sealed:
                true_end, walked = walk_records(buf, mv, off, seg.size, expect, seal_next)
                if walked == seal_next and true_end != seal_end:
                    # Every record the seal promises is here and whole: the seal's own
                    # end_offset (header bytes 56..63, outside the header CRC) is wrong.
                    raise BadSegmentError(
                        f"seal end_offset says records end at offset {seal_end}, but its"
                        f" {seal_next - seg.base_seq} records end at offset {true_end}",
                        path=seg.path,
                        offset=56,
                        first_seq=seg.base_seq,
                        last_seq=seal_next - 1,
                    )
                raise CorruptRecord(
                    f"invalid record inside sealed segment (its seal says records up to "
                    f"offset {seal_end})",
                    path=seg.path,
                    offset=off,
                    first_seq=expect,
                    last_seq=seal_next - 1,
                )
            if not self._at_tail(seg, off, size):
                break

    def _count_batch(self, max_n: int, counts: dict[int, list[int]]) -> int:
        """Read up to ``max_n`` records, tallying ``[records, end offset, next seq]`` per
        segment id into ``counts`` (for :func:`~.verify.verify`); return how many."""
        batch = self.read_batch(max_n)
        for rec in batch:
            end = rec.offset + record_size(len(rec.payload))
            got = counts.get(rec.segment_id)
            if got is None:
                counts[rec.segment_id] = [1, end, rec.seq + 1]
            else:
                got[0] += 1
                got[1] = end
                got[2] = rec.seq + 1
        return len(batch)

    def next(self) -> Record | None:
        """The next record if one is available, else None (never blocks)."""
        got = self.read_batch(1)
        return got[0] if got else None

    def wait_next(
        self,
        timeout: float,
        *,
        clock: Callable[[], int] = time.monotonic_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Record | None:
        """Wait up to ``timeout`` seconds for a record: spin a few dozen polls, then sleep
        with exponential backoff (50 us .. 5 ms), so an idle reader costs no core."""
        rec = self.next()
        if rec is not None or timeout <= 0:
            return rec
        deadline = clock() + int(timeout * 1e9)
        # Spin a bounded number of polls (tens of microseconds), whatever the clock is:
        # an injected clock may only move when sleep() is called.
        for _ in range(_SPIN_POLLS):
            rec = self.next()
            if rec is not None:
                return rec
        delay = _MIN_POLL_SLEEP
        while True:
            left = deadline - clock()
            if left <= 0:
                return self.next()
            sleep(min(delay, left / 1e9))
            delay = min(delay * 2, _MAX_POLL_SLEEP)
            rec = self.next()
            if rec is not None:
                return rec

    def __iter__(self) -> Iterator[Record]:
        """Iterate over the records available now (stops at the current tail)."""
        while batch := self.read_batch(256):
            yield from batch

    # -- shutdown ---------------------------------------------------------------------
    def close(self) -> None:
        """Unmap the current segment. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._seg is not None:
            self._seg.close()
            self._seg = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
