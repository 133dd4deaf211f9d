"""``ReadOnlyReader``: read a queue in order; the base of ``QueueReader``.

A reader maps segments read-only and walks records in order. A record is visible only
once its commit marker is set and its CRC matches; at the end of a *sealed* segment the
reader moves on to the next one. Records invalid at the current tail (CRC mismatch with
nothing valid after) are "not yet written" (a torn write the next writer will cut off);
an invalid record followed by valid ones raises ``CorruptRecord``.

This class keeps no cursor: tools that only look (``whistle journal``, playback, recovery
scans) must not leave named cursors behind, since a cursor holds every later segment back
from retention. It never writes in the queue directory and works on read-only copies; if
retention deletes the segment it needs next, it raises ``SequenceUnavailable``.
``QueueReader`` adds the durable named cursor and writer liveness on top.
"""

from __future__ import annotations

import os
import time
import zlib
from typing import TYPE_CHECKING, Any, Self, final

import msgspec

from .config import read_meta
from .errors import (
    CorruptRecord,
    JournalClosedError,
    NotAJournalError,
    SequenceUnavailable,
)
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
    from collections.abc import Callable, Iterator

__all__ = ["ReadOnlyReader", "Record"]

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

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        if read_meta(self.path) is None:
            raise NotAJournalError("no queue here (queue.meta is missing)", path=self.path)
        self._seg: Segment | None = None
        self._off = HEADER_SIZE
        self._next_seq = 0
        self._skip_below = 0
        self._closed = False
        try:
            self._open_oldest()
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

    def _used_headers(self) -> list[tuple[int, int]]:
        """``(segment_id, base_seq)`` of every segment that holds or held records."""
        out: list[tuple[int, int]] = []
        for seg_id in list_segment_ids(self.path):
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
        seg = self._seg
        if seg is None:
            return self._open_oldest()
        if seg.state != STATE_SEALED or seg.seal_info()[0] > self._off:
            return False
        nxt = seg.segment_id + 1
        if self._open_at(nxt, HEADER_SIZE, self._next_seq):
            return True
        if any(i > nxt for i in list_segment_ids(self.path)):
            # No cursor protects us: retention deleted the segment we were about to read.
            raise SequenceUnavailable(
                f"segment {nxt} (from sequence {self._next_seq}) was deleted while reading",
                path=self.path,
            )
        return False

    def read_batch(self, max_n: int) -> list[Record]:
        """Up to ``max_n`` records available now (possibly none); never blocks."""
        self._check_open()
        out: list[Record] = []
        append = out.append
        unpack_header = REC_HDR.unpack_from
        unpack_trailer = REC_TRAILER.unpack_from
        crc32 = zlib.crc32
        header_size = REC_HDR_SIZE
        mark_ok = COMMIT_MARK
        while len(out) < max_n:
            seg = self._seg
            if seg is None:
                if not self._advance():
                    break
                continue
            # Fast loop over whole, committed, CRC-valid records (what a reader meets
            # almost always): one header unpack, one trailer unpack, one CRC each. Anything
            # else stops it and goes through probe_record below, which classifies it.
            buf, mv, limit, seg_id = seg.mm, seg.mv, seg.size, seg.segment_id
            off, expect, skip = self._off, self._next_seq, self._skip_below
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
            self._off, self._next_seq = off, expect
            if len(out) >= max_n:
                break
            size = probe_record(buf, mv, off, limit)
            if size > 0:
                n, type_id, seq, ts = REC_HDR.unpack_from(buf, off)
                if seq != self._next_seq:
                    raise CorruptRecord(
                        f"sequence {seq}, expected {self._next_seq}", path=seg.path, offset=off
                    )
                if seq >= self._skip_below:
                    start = off + REC_HDR_SIZE
                    payload = buf[start : start + n]
                    append(Record(seq, ts, type_id, payload, seg.segment_id, off))
                self._off = off + size
                self._next_seq = seq + 1
                continue
            if size < 0:
                later = find_valid_record_after(buf, mv, off, seg.size)
                if later is not None:
                    raise CorruptRecord(
                        f"CRC mismatch before a valid record at offset {later}",
                        path=seg.path,
                        offset=off,
                    )
            if not self._advance():
                break
        return out

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
