"""One verification of a queue directory: what the writer, every reader and the tools use.

Recovery never guesses.  :func:`survey` checks everything that can be checked from the
segment headers, the manifest (:mod:`.manifest`) and the last record of every sealed
segment -- O(number of segments) small reads, plus one scan of the head segment when
the writer opens (which it needs anyway to find its write position) and of any
non-head segment whose seal was lost.  The records inside sealed segments are checked
by the one walk every reader does anyway (:meth:`ReadOnlyReader.read_batch`: a sealed
segment must hold exactly the records its seal promises), so opening a queue is never
O(journal size); :func:`verify` with ``deep=True`` adds that walk.

The rules (each violation is a :class:`~.errors.JournalFormatError` naming the file,
the offset and the sequence numbers that cannot be read):

* segment ids are contiguous from the manifest's ``low`` to its ``activated - 1`` and
  beyond that only FRESH (preallocated) segments follow; every segment file is full
  size with a valid header naming its own id;
* every segment before the head is in use; consecutive segments chain: a segment's
  ``base_seq`` is the previous one's ``next_seq``;
* a sealed segment's seal is consistent (``end_offset`` inside the file, its last
  record valid, ending exactly at ``end_offset``, with sequence ``next_seq - 1``);
* a sealed segment is never the last one: a roll publishes and activates the next
  segment *before* it seals the old one, so a sealed last segment means its successor
  was deleted;
* only the head (last, ACTIVE) segment may end in a torn tail: bytes after its last
  committed record with no valid record after them.  That tail, and only that, is cut
  by the next writer; an invalid record followed by a valid one is damage.

A directory that breaks a rule stays exactly as it is: nothing here writes, and the
writer only starts changing files after :func:`survey` found no damage.  Cutting a
damaged journal is :func:`whistle.journal.truncate_after`'s job, on request.
"""

from __future__ import annotations

import mmap
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, final

from .config import QueueMeta, read_meta
from .errors import (
    BadSegmentError,
    CorruptManifest,
    CorruptRecord,
    JournalFormatError,
    MissingSegment,
    NotAJournalError,
    SequenceGap,
    wrap_os_error,
)
from .liveness import lock_held
from .manifest import Manifest, read_manifest
from .segment import (
    HEADER_SIZE,
    STATE_ACTIVE,
    STATE_FRESH,
    STATE_SEALED,
    HeaderInfo,
    ScanResult,
    Segment,
    _check_header,
    list_segment_ids,
    probe_record,
    read_record_at,
    scan_segment,
    segment_name,
    walk_records,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Layout",
    "QueueReport",
    "SegmentReport",
    "check_layout",
    "survey",
    "verify",
    "with_seqs",
]

_STATE_NAMES = {STATE_FRESH: "fresh", STATE_ACTIVE: "active", STATE_SEALED: "sealed"}
_LIVE_RETRIES = 5


class SegmentReport(NamedTuple):
    """One segment file as the verification saw it."""

    segment_id: int
    path: str
    state: int  # STATE_FRESH / STATE_ACTIVE / STATE_SEALED
    base_seq: int | None  # None when FRESH
    size_bytes: int
    end_offset: int | None  # sealed: its seal; head: where its last record ends
    next_seq: int | None  # one past the last record (None when unknown or FRESH)
    records: int | None  # None unless counted (deep verify, or a scanned head)

    @property
    def state_name(self) -> str:
        return _STATE_NAMES.get(self.state, f"state {self.state}")


@dataclass(slots=True)
class Layout:
    """What :func:`survey` found (internal to the journal package; never written)."""

    path: str
    meta: QueueMeta
    manifest: Manifest  # stored, or derived from the files for an older queue
    manifest_stored: bool
    segments: list[SegmentReport] = field(default_factory=list)  # ids >= low, valid headers
    leftovers: list[int] = field(default_factory=list)  # ids < low (interrupted retention)
    head: SegmentReport | None = None  # last segment in use
    head_scan: ScanResult | None = None
    unsealed: dict[int, ScanResult] = field(default_factory=dict)  # lost seals, scanned
    successor_fresh: bool = False  # the segment after the head exists and is FRESH
    damage: list[JournalFormatError] = field(default_factory=list)

    def raise_damage(self) -> None:
        if self.damage:
            raise self.damage[0]


@final
@dataclass(frozen=True, slots=True)
class QueueReport:
    """Result of :func:`verify`: the queue's segments and records, whole or damaged."""

    path: str
    segments: list[SegmentReport]
    records: int | None  # None when not counted (deep=False, or damage stopped the walk)
    first_seq: int | None  # oldest retained sequence
    next_seq: int | None  # one past the last readable record
    damage: list[JournalFormatError]
    torn_tail: tuple[str, int] | None  # (head path, offset) of a tail the writer will cut
    deep: bool

    @property
    def whole(self) -> bool:
        return not self.damage

    def findings(self) -> list[str]:
        """One line per damage (empty when whole)."""
        return [f"{type(e).__name__}: {e}" for e in self.damage]


def with_seqs(err: JournalFormatError, first: int | None, last: int | None) -> JournalFormatError:
    """The same error with the unreadable sequence range filled in."""
    if err.first_seq is not None or first is None:
        return err
    return type(err)(err.reason, path=err.path, offset=err.offset, first_seq=first, last_seq=last)


def _read_segment_header(path: str) -> tuple[HeaderInfo, int]:
    """Header of the segment at ``path`` and an open read-only fd (caller closes)."""
    fd = os.open(path, os.O_RDONLY)  # FileNotFoundError propagates
    try:
        info = _check_header(os.pread(fd, HEADER_SIZE, 0), path, os.fstat(fd).st_size, False)
    except BaseException:
        os.close(fd)
        raise
    return info, fd


def _first_bad_record(path: str, base: int, end: int) -> tuple[int, int]:
    """``(offset, seq)`` where the walk of a sealed segment first fails (error path)."""
    seg = Segment(path, writable=False)
    try:
        off, seq = HEADER_SIZE, base
        while off < end:
            size = probe_record(seg.mm, seg.mv, off, end)
            if size <= 0 or int.from_bytes(seg.mm[off + 8 : off + 16], "little") != seq:
                break
            off += size
            seq += 1
        return off, seq
    finally:
        seg.close()


def _records_end(path: str, base: int, nxt: int) -> int | None:
    """Where the ``nxt - base`` records of a sealed segment end, if all are whole."""
    seg = Segment(path, writable=False)
    try:
        off, seq = walk_records(seg.mm, seg.mv, HEADER_SIZE, seg.size, base, nxt)
        return off if seq == nxt else None
    finally:
        seg.close()


def _check_sealed(path: str, info: HeaderInfo, fd: int) -> JournalFormatError | None:
    end, nxt, base, last = info.end_offset, info.next_seq, info.base_seq, info.last_offset
    if end < HEADER_SIZE or end > info.size or end % 8 or nxt < base:
        return BadSegmentError(
            f"seal is inconsistent (end_offset {end}, base_seq {base}, next_seq {nxt}, "
            f"file size {info.size})",
            path=path,
            offset=56,
            first_seq=base,
            last_seq=max(base, nxt) - 1 if nxt > base else None,
        )
    if end == HEADER_SIZE:
        if nxt != base:
            return BadSegmentError(
                f"seal says records up to seq {nxt - 1} but end_offset is the header's end",
                path=path,
                offset=56,
                first_seq=base,
                last_seq=nxt - 1,
            )
        return None
    if last == 0:
        return None  # sealed by an older version: the reader's walk checks it
    got = read_record_at(fd, last, end) if HEADER_SIZE <= last < end else None
    if got is not None and got[1] == nxt - 1 and last + got[0] == end:
        return None
    off, seq = _first_bad_record(path, base, end)
    if off >= end:
        return BadSegmentError(
            f"seal says {nxt - base} records ending at offset {end} (next_seq {nxt}), but "
            f"the records end with seq {seq - 1}",
            path=path,
            offset=56,
            first_seq=min(seq, nxt),
            last_seq=max(seq, nxt) - 1,
        )
    true_end = _records_end(path, base, nxt)
    if true_end is not None and true_end != end:
        # Every record the seal promises is whole: its end_offset field is what is wrong.
        return BadSegmentError(
            f"seal end_offset says records end at offset {end}, but its {nxt - base}"
            f" records end at offset {true_end}",
            path=path,
            offset=56,
            first_seq=base,
            last_seq=nxt - 1,
        )
    return CorruptRecord(
        f"invalid record inside sealed segment (its seal says records up to offset {end})",
        path=path,
        offset=off,
        first_seq=seq,
        last_seq=nxt - 1,
    )


def survey(path: str, meta: QueueMeta | None = None, *, scan_head: bool = False) -> Layout:
    """Check the layout of queue ``path`` (never writes); damage is in ``.damage``."""
    qdir = os.fspath(path)
    if meta is None:
        meta = read_meta(qdir)
        if meta is None:
            raise NotAJournalError("no queue here (queue.meta is missing)", path=qdir)
    damage: list[JournalFormatError] = []
    try:
        before = read_manifest(qdir)
    except CorruptManifest as exc:
        damage.append(exc)
        before = None
    ids = list_segment_ids(qdir)
    infos: dict[int, HeaderInfo] = {}
    bad: dict[int, JournalFormatError] = {}
    sealed_bad: dict[int, JournalFormatError] = {}
    for seg_id in ids:
        spath = os.path.join(qdir, segment_name(seg_id))
        try:
            info, fd = _read_segment_header(spath)
        except FileNotFoundError:
            continue  # vanished meanwhile (retention); judged against the manifest below
        except JournalFormatError as exc:
            bad[seg_id] = exc
            continue
        except OSError as exc:
            raise wrap_os_error(exc, "reading a segment header", spath, 0) from exc
        try:
            infos[seg_id] = info
            if info.state == STATE_SEALED:
                err = _check_sealed(spath, info, fd)
                if err is not None:
                    sealed_bad[seg_id] = err
            elif info.state == STATE_FRESH and read_record_at(fd, HEADER_SIZE, info.size):
                # Created all zeros and activated before its first record: a FRESH
                # segment holding a record lost its state (e.g. a bit flip).
                bad[seg_id] = BadSegmentError(
                    "segment is FRESH (never activated) but holds records",
                    path=spath,
                    offset=44,
                )
                del infos[seg_id]
        except OSError as exc:
            raise wrap_os_error(exc, "reading a segment", spath) from exc
        finally:
            os.close(fd)
    try:
        after = read_manifest(qdir) if before is not None else None
    except CorruptManifest:
        after = None
    stored = before is not None and after is not None
    present = sorted(set(infos) | set(bad))
    used_ids = [i for i in sorted(infos) if infos[i].state != STATE_FRESH]
    if stored:
        assert before is not None
        assert after is not None
        manifest = Manifest(after.low, after.low_base, before.activated)
    else:
        if before is None and not damage and meta.requires_manifest:
            damage.append(
                CorruptManifest(
                    "queue.manifest is missing (this queue was created with one): the set "
                    "of segments it must have is unknown",
                    path=os.path.join(qdir, "queue.manifest"),
                )
            )
        low = present[0] if present else 0
        low_base = infos[low].base_seq if low in infos and infos[low].state else 0
        manifest = Manifest(low, low_base, (used_ids[-1] + 1) if used_ids else 0)
    lay = Layout(qdir, meta, manifest, stored)
    low = manifest.low
    lay.leftovers = [i for i in present if i < low]
    retained = [i for i in present if i >= low]
    top = max(retained[-1] if retained else -1, manifest.high)

    def seg_path(seg_id: int) -> str:
        return os.path.join(qdir, segment_name(seg_id))

    def next_of(seg_id: int) -> int | None:
        """next_seq of a used segment, if known without a walk."""
        info = infos.get(seg_id)
        if info is None or info.state == STATE_FRESH:
            return None
        if info.state == STATE_SEALED and seg_id not in sealed_bad:
            return info.next_seq
        scan = lay.unsealed.get(seg_id)
        return scan.next_seq if scan is not None else None

    def base_after(seg_id: int) -> int | None:
        """base_seq of the first used segment after ``seg_id``."""
        for later in range(seg_id + 1, top + 1):
            info = infos.get(later)
            if info is not None and info.state != STATE_FRESH:
                return info.base_seq
        return None

    def prev_next(seg_id: int) -> int | None:
        if seg_id == low:
            return manifest.low_base if stored else None
        return next_of(seg_id - 1) if seg_id - 1 in infos else None

    head_id = used_ids[-1] if used_ids else None
    # Non-head segments in use but not sealed (a seal lost to power loss, or a roll
    # that crashed between activating the next segment and sealing this one).
    for seg_id in used_ids[:-1]:
        if seg_id >= low and infos[seg_id].state == STATE_ACTIVE:
            seg = Segment(seg_path(seg_id), writable=False)
            try:
                lay.unsealed[seg_id] = scan_segment(seg, infos[seg_id].base_seq)
            except JournalFormatError as exc:
                damage.append(exc)
            finally:
                seg.close()
    for seg_id in range(low, top + 1):
        if seg_id in bad:
            first = prev_next(seg_id)
            later = base_after(seg_id)
            damage.append(with_seqs(bad[seg_id], first, None if later is None else later - 1))
            continue
        if seg_id not in infos:
            first = prev_next(seg_id)
            later = base_after(seg_id)
            if stored and manifest.high >= seg_id:
                why = f"the manifest says segments {low}..{manifest.high} were activated"
            else:
                why = "later segments exist"
            damage.append(
                MissingSegment(
                    f"segment {seg_id} is missing ({why})",
                    path=seg_path(seg_id),
                    first_seq=first,
                    last_seq=None if later is None else later - 1,
                )
            )
            continue
        info = infos[seg_id]
        if seg_id in sealed_bad:
            damage.append(sealed_bad[seg_id])
        if info.state not in _STATE_NAMES:
            damage.append(
                BadSegmentError(
                    f"unknown segment state {info.state}",
                    path=seg_path(seg_id),
                    offset=44,
                    first_seq=prev_next(seg_id),
                )
            )
            continue
        if info.state == STATE_FRESH:
            if head_id is not None and seg_id < head_id:
                first = prev_next(seg_id)
                later = base_after(seg_id)
                damage.append(
                    BadSegmentError(
                        "segment was never activated (FRESH) but later segments are in use",
                        path=seg_path(seg_id),
                        offset=44,
                        first_seq=first,
                        last_seq=None if later is None else later - 1,
                    )
                )
            continue
        expect = prev_next(seg_id) if seg_id > low or stored else None
        if expect is not None and info.base_seq != expect:
            lo, hi = sorted((expect, info.base_seq))
            what = "gap" if info.base_seq > expect else "overlap"
            damage.append(
                SequenceGap(
                    f"segment starts at seq {info.base_seq} but the previous one ends before "
                    f"seq {expect} ({what})",
                    path=seg_path(seg_id),
                    offset=48,
                    first_seq=lo,
                    last_seq=hi - 1,
                )
            )
    if head_id is not None and head_id >= low:
        info = infos[head_id]
        if manifest.high < head_id and stored:
            damage.append(
                CorruptManifest(
                    f"segment {head_id} is in use but the manifest says at most segment "
                    f"{manifest.high} was activated (an older manifest restored?)",
                    path=os.path.join(qdir, "queue.manifest"),
                )
            )
        succ = infos.get(head_id + 1)
        lay.successor_fresh = succ is not None and succ.state == STATE_FRESH
        if (
            info.state == STATE_SEALED
            and not lay.successor_fresh
            and head_id + 1 not in bad
            and head_id + 1 not in infos
            and head_id + 1 > top
        ):
            damage.append(
                MissingSegment(
                    f"segment {head_id + 1} is missing (segment {head_id} is sealed, and a "
                    "segment is sealed only after its successor was activated)",
                    path=seg_path(head_id + 1),
                    first_seq=info.next_seq,
                )
            )
        nxt: int | None = info.next_seq if info.state == STATE_SEALED else None
        records = None
        end: int | None = info.end_offset if info.state == STATE_SEALED else None
        if info.state == STATE_ACTIVE and scan_head:
            seg = Segment(seg_path(head_id), writable=False)
            try:
                lay.head_scan = scan_segment(seg, info.base_seq)
                end, records = lay.head_scan.end_offset, lay.head_scan.records
                nxt = lay.head_scan.next_seq
            except JournalFormatError as exc:
                damage.append(exc)
            finally:
                seg.close()
        lay.head = SegmentReport(
            head_id, seg_path(head_id), info.state, info.base_seq, info.size, end, nxt, records
        )
    elif (
        manifest.high >= low
        and stored
        and not any(isinstance(d, MissingSegment) for d in damage)
        # A crash between recording the first segment as activated and activating it:
        # it exists, FRESH, and holds nothing (checked above); the writer activates it.
        and not (manifest.high == low and low in infos and infos[low].state == STATE_FRESH)
    ):
        damage.append(
            MissingSegment(
                f"no segment in use, but the manifest says segments {low}..{manifest.high} "
                "were activated",
                path=seg_path(manifest.high),
                first_seq=manifest.low_base,
            )
        )
    for seg_id in retained:
        info_opt = infos.get(seg_id)
        if info_opt is None:
            continue
        if lay.head is not None and seg_id == lay.head.segment_id:
            lay.segments.append(lay.head)
            continue
        scan = lay.unsealed.get(seg_id)
        fresh = info_opt.state == STATE_FRESH
        lay.segments.append(
            SegmentReport(
                seg_id,
                seg_path(seg_id),
                info_opt.state,
                None if fresh else info_opt.base_seq,
                info_opt.size,
                (scan.end_offset if scan else info_opt.end_offset)
                if info_opt.state != STATE_FRESH
                else None,
                next_of(seg_id),
                scan.records if scan else None,
            )
        )
    lay.damage = _dedupe(damage)
    return lay


def _dedupe(damage: list[JournalFormatError]) -> list[JournalFormatError]:
    seen: set[str] = set()
    out: list[JournalFormatError] = []
    for d in damage:
        key = f"{type(d).__name__}{d}"
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def check_layout(
    path: str,
    meta: QueueMeta | None = None,
    *,
    scan_head: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Layout:
    """:func:`survey`, raising the first damage.

    While a live writer holds the lock, a survey can see a roll or a retention pass
    half done; the survey is then repeated a few times and only damage seen every time
    is reported.  Without a live writer the first verdict is final.
    """
    lay = survey(path, meta, scan_head=scan_head)
    tries = 0
    while lay.damage and tries < _LIVE_RETRIES and lock_held(path):
        tries += 1
        sleep(0.002 * tries)
        lay = survey(path, meta, scan_head=scan_head)
    lay.raise_damage()
    return lay


def _nonzero_after(path: str, offset: int) -> bool:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if offset >= size:
            return False
        with mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ) as mm:
            pos = offset
            while pos < size:
                end = min(pos + (1 << 20), size)
                if mm[pos:end].count(0) != end - pos:
                    return True
                pos = end
    return False


def verify(path: str | os.PathLike[str], *, deep: bool = True) -> QueueReport:
    """Verify queue ``path`` without changing anything.

    ``deep=False`` is the check every open does (headers, manifest, seals, the head);
    ``deep=True`` also walks every record with the readers' own rules.  Raises
    :class:`NotAJournalError` if ``path`` is not a queue; damage is in the report.
    """
    from .readonly import ReadOnlyReader

    qdir = os.fspath(path)
    lay = survey(qdir, scan_head=True)
    damage = list(lay.damage)
    segments = list(lay.segments)
    torn = None
    if (
        lay.head is not None
        and lay.head_scan is not None
        and _nonzero_after(lay.head.path, lay.head_scan.end_offset)
    ):
        torn = (lay.head.path, lay.head_scan.end_offset)
    records: int | None = None
    used = [s for s in segments if s.state != STATE_FRESH]
    first = used[0].base_seq if used else None
    nxt = lay.head.next_seq if lay.head is not None else None
    if deep and not damage:
        counts: dict[int, list[int]] = {}
        records = 0
        try:
            with ReadOnlyReader(qdir, _layout=lay) as reader:
                while n := reader._count_batch(65536, counts):
                    records += n
                nxt = reader.next_seq
        except JournalFormatError as exc:
            damage.append(exc)
            records = None
        for i, s in enumerate(segments):
            got = counts.get(s.segment_id)
            if got is not None:
                segments[i] = s._replace(records=got[0], end_offset=got[1], next_seq=got[2])
            elif s.state != STATE_FRESH and records is not None:
                segments[i] = s._replace(records=0)
    if not used and first is None:
        first = lay.manifest.low_base if lay.manifest_stored else None
    return QueueReport(qdir, segments, records, first, nxt, damage, torn, deep)
