"""The queue reader (subscriber) with a durable named cursor.

A reader maps segments read-only and walks records in order.  A record is visible only
once its commit marker is set and its CRC matches.  At the end of a *sealed* segment
the reader moves on to the next segment.  ``commit()`` persists the position in the
reader's cursor file; a reader reopened under the same name resumes there.

Records that are invalid at the current tail (CRC mismatch with nothing valid after)
are treated as "not yet written": they are the signature of a torn write that the next
writer will cut off.  An invalid record followed by valid ones raises
:class:`~whistle.journal.errors.CorruptRecord`.
"""

from __future__ import annotations

import os
import time
import zlib
from typing import TYPE_CHECKING, Any, Self, final

import msgspec

from .config import read_meta
from .cursor import CursorPosition, CursorStore
from .discovery import DisconnectReason, WriterStatus, probe_writer
from .errors import CorruptRecord, JournalClosedError, NotAJournalError, SequenceUnavailable
from .segment import (
    COMMIT_MARK,
    HEADER_SIZE,
    REC_HDR,
    REC_HDR_SIZE,
    REC_TRAILER,
    STATE_FRESH,
    STATE_SEALED,
    Segment,
    find_valid_record_after,
    list_segment_ids,
    probe_record,
    read_header,
    segment_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["QueueReader", "Record"]

_SPIN_NS = 50_000
_MIN_SLEEP = 50e-6
_MAX_SLEEP = 0.005


@final
class Record(msgspec.Struct, frozen=True, gc=False):
    """One journal record (immutable)."""

    seq: int
    ts_ns: int
    type_id: int
    payload: bytes
    segment_id: int
    offset: int


@final
class QueueReader:
    """Reader of one queue; use :meth:`Queue.open_subscriber`."""

    def __init__(self, path: str | os.PathLike[str], reader_name: str) -> None:
        self.path = os.fspath(path)
        if read_meta(self.path) is None:
            raise NotAJournalError("no queue here (queue.meta is missing)", path=self.path)
        self._cursor = CursorStore(self.path, reader_name)
        self.name = reader_name
        self._seg: Segment | None = None
        self._off = HEADER_SIZE
        self._next_seq = 0
        self._skip_below = 0
        self._closed = False
        try:
            pos = self._cursor.load()
            if pos is None:
                self._open_oldest()
                self.commit()  # a durable cursor protects our segments from retention
            elif not self._open_at(pos.segment_id, pos.offset, pos.next_seq):
                self.seek(pos.next_seq)
        except BaseException:
            self.close()
            raise

    # -- positioning ------------------------------------------------------------------
    def _seg_path(self, seg_id: int) -> str:
        return os.path.join(self.path, segment_name(seg_id))

    def _open_at(self, seg_id: int, offset: int, next_seq: int) -> bool:
        try:
            seg = Segment(self._seg_path(seg_id), writable=False)
        except FileNotFoundError:
            return False
        if self._seg is not None:
            self._seg.close()
        self._seg, self._off, self._next_seq = seg, offset, next_seq
        return True

    def _open_oldest(self) -> bool:
        for seg_id in list_segment_ids(self.path):
            try:
                hdr = read_header(self._seg_path(seg_id))
            except FileNotFoundError:
                continue
            if hdr.state != STATE_FRESH and self._open_at(seg_id, HEADER_SIZE, hdr.base_seq):
                return True
        return False

    def seek(self, seq: int) -> None:
        """Position so that the next record returned has sequence ``seq``."""
        self._check_open()
        best = None
        oldest = None
        for seg_id in list_segment_ids(self.path):
            try:
                hdr = read_header(self._seg_path(seg_id))
            except FileNotFoundError:
                continue
            if hdr.state == STATE_FRESH:
                continue
            oldest = hdr.base_seq if oldest is None else oldest
            if hdr.base_seq <= seq:
                best = hdr
        if best is None:
            raise SequenceUnavailable(
                f"sequence {seq} is older than the oldest retained ({oldest})", path=self.path
            )
        if not self._open_at(best.segment_id, HEADER_SIZE, best.base_seq):
            raise SequenceUnavailable(f"segment {best.segment_id} vanished", path=self.path)
        seg = self._seg
        assert seg is not None
        off, nxt = HEADER_SIZE, best.base_seq
        while nxt < seq:
            size = probe_record(seg.mm, seg.mv, off, seg.size)
            if size <= 0:
                break
            off += size
            nxt += 1
        self._off, self._next_seq, self._skip_below = off, nxt, seq

    @property
    def position(self) -> CursorPosition:
        seg_id = self._seg.segment_id if self._seg is not None else 0
        return CursorPosition(self._next_seq, seg_id, self._off)

    def commit(self, *, sync: bool = True) -> None:
        """Persist the current position as this reader's durable cursor."""
        self._check_open()
        self._cursor.store(self.position, sync=sync)

    # -- reading ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise JournalClosedError("reader is closed", path=self.path)

    def _advance(self) -> bool:
        """Move to the next segment if the current one is sealed and fully read."""
        seg = self._seg
        if seg is None:
            return self._open_oldest()
        if seg.state != STATE_SEALED or seg.seal_info()[0] > self._off:
            return False
        nxt = seg.segment_id + 1
        return self._open_at(nxt, HEADER_SIZE, self._next_seq)

    def _invalid_at(self, seg: Segment, off: int) -> None:
        later = find_valid_record_after(seg.mm, seg.mv, off, seg.size)
        if later is not None:
            raise CorruptRecord(
                f"CRC mismatch before a valid record at offset {later}", path=seg.path, offset=off
            )

    def read_batch(self, max_n: int) -> list[Record]:
        """Up to ``max_n`` available records (possibly none); never blocks."""
        self._check_open()
        out: list[Record] = []
        seg = self._seg
        if seg is None and not self._advance():
            return out
        seg = self._seg
        assert seg is not None
        mm, mv, limit, seg_id = seg.mm, seg.mv, seg.size, seg.segment_id
        off, expect, skip = self._off, self._next_seq, self._skip_below
        unpack_hdr, unpack_trl, crc32, mark = (
            REC_HDR.unpack_from,
            REC_TRAILER.unpack_from,
            zlib.crc32,
            COMMIT_MARK,
        )
        append = out.append
        while len(out) < max_n:
            if off + REC_HDR_SIZE + 8 <= limit:
                n, type_id, seq, ts = unpack_hdr(mm, off)
                tpos = off + ((REC_HDR_SIZE + n + 3) & ~3)
                if tpos + 8 <= limit:
                    crc, m = unpack_trl(mm, tpos)
                    if m == mark:
                        end = off + REC_HDR_SIZE + n
                        if crc32(mv[off:end]) != crc:
                            self._off, self._next_seq = off, expect
                            self._invalid_at(seg, off)
                            break
                        if seq != expect:
                            raise CorruptRecord(
                                f"sequence {seq}, expected {expect}", path=seg.path, offset=off
                            )
                        if seq >= skip:
                            append(
                                Record(seq, ts, type_id, mm[off + REC_HDR_SIZE : end], seg_id, off)
                            )
                        off = (tpos + 15) & ~7
                        expect = seq + 1
                        continue
            self._off, self._next_seq = off, expect
            if not self._advance():
                break
            seg = self._seg
            assert seg is not None
            mm, mv, limit, seg_id = seg.mm, seg.mv, seg.size, seg.segment_id
            off = self._off
        self._off, self._next_seq = off, expect
        return out

    def next(self) -> Record | None:
        """The next record if one is available, else None (never blocks)."""
        got = self.read_batch(1)
        return got[0] if got else None

    def wait_next(self, timeout: float) -> Record | None:
        """Wait up to ``timeout`` seconds for a record: spin ~50 µs, then sleep with
        exponential backoff (50 µs .. 5 ms), so an idle reader costs no core."""
        rec = self.next()
        if rec is not None or timeout <= 0:
            return rec
        start = time.monotonic_ns()
        deadline = start + int(timeout * 1e9)
        while time.monotonic_ns() - start < _SPIN_NS:
            rec = self.next()
            if rec is not None:
                return rec
        delay = _MIN_SLEEP
        while True:
            left = deadline - time.monotonic_ns()
            if left <= 0:
                return self.next()
            time.sleep(min(delay, left / 1e9))
            delay = min(delay * 2, _MAX_SLEEP)
            rec = self.next()
            if rec is not None:
                return rec

    def __iter__(self) -> Iterator[Record]:
        """Iterate over the records available now (stops at the current tail)."""
        while True:
            batch = self.read_batch(256)
            if not batch:
                return
            yield from batch

    # -- writer liveness --------------------------------------------------------------
    def writer_status(self, ttl_ns: int, now_ns: int | None = None) -> WriterStatus:
        return probe_writer(self.path, ttl_ns, now_ns)

    def _segment_missing(self) -> bool:
        seg = self._seg
        if seg is None:
            return False
        try:
            st = os.stat(seg.path)
        except FileNotFoundError:
            return True
        if st.st_ino != os.fstat(seg.fd).st_ino:
            return True
        if seg.state == STATE_SEALED and seg.seal_info()[0] <= self._off:
            return not os.path.exists(self._seg_path(seg.segment_id + 1))
        return False

    def detect_disconnect(self, ttl_ns: int, now_ns: int | None = None) -> DisconnectReason | None:
        """Why this reader can no longer expect new records, or None if all is well."""
        if self._segment_missing():
            return DisconnectReason.SEGMENT_MISSING
        return self.writer_status(ttl_ns, now_ns).reason

    # -- shutdown ---------------------------------------------------------------------
    def close(self) -> None:
        """Close files and maps (does not commit). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._seg is not None:
            self._seg.close()
            self._seg = None
        self._cursor.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
