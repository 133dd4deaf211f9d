"""Sidecar workers: background threads that keep slow work off the append path.

* :class:`PeriodicWorker` runs a callable every ``interval`` seconds (heartbeat,
  ``FsyncPolicy.INTERVAL`` msync, retention).  Errors are recorded in ``error`` and
  the worker keeps running, so a transient failure never kills the sidecar.
* :class:`PreallocWorker` prepares the *next* segment on request: a temporary file of
  full size with its header, fsync'ed, then published by rename (see
  :func:`~whistle.journal.segment.create_segment`).  A roll then only opens and maps
  an existing file.  A published segment is never replaced or truncated.
* :func:`plan_retention` / :func:`apply_retention` decide and perform deletion of old
  sealed segments according to a :class:`~whistle.journal.config.RetentionPolicy`.
  They never delete the head segment, any later (preallocated) segment, or any
  segment at or after the oldest durable reader cursor, and they only ever delete a
  prefix of the oldest segments, so the retained segments stay contiguous.

All workers are daemon threads that wait on an :class:`threading.Event`, so an idle
worker costs no CPU, and ``stop()`` wakes and joins them promptly.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import TYPE_CHECKING, NamedTuple, final

from .config import RetentionPolicy, fsync_dir
from .cursor import list_cursors
from .errors import JournalError, MissingSegment
from .segment import (
    STATE_SEALED,
    create_segment,
    list_segment_ids,
    read_header,
    segment_name,
    warm_segment,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from .manifest import ManifestFile

__all__ = [
    "PeriodicWorker",
    "PreallocWorker",
    "SegmentInfo",
    "apply_retention",
    "plan_retention",
]


@final
class PeriodicWorker(threading.Thread):
    """Call ``fn`` every ``interval_s`` seconds until :meth:`stop`."""

    def __init__(self, name: str, interval_s: float, fn: Callable[[], object]) -> None:
        super().__init__(name=name, daemon=True)
        self._interval = interval_s
        self._fn = fn
        self._halt = threading.Event()
        self.runs = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        while not self._halt.wait(self._interval):
            try:
                self._fn()
            except Exception as exc:  # recorded, surfaced by the owner
                self.error = exc
            self.runs += 1

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join()


@final
class PreallocWorker(threading.Thread):
    """Create segment files ahead of the writer, in the background."""

    def __init__(self, dirpath: str, segment_size: int) -> None:
        super().__init__(name="journal-prealloc", daemon=True)
        self._dir = dirpath
        self._size = segment_size
        self._cond = threading.Condition()
        self._want: int | None = None
        self._halt = False
        self.created: list[int] = []
        self.error: JournalError | None = None

    def request(self, segment_id: int) -> None:
        """Ask for ``segment_id`` to be published (no-op if it already exists)."""
        with self._cond:
            self._want = segment_id
            self._cond.notify()

    def run(self) -> None:
        while True:
            with self._cond:
                while self._want is None and not self._halt:
                    self._cond.wait()
                if self._halt:
                    return
                want, self._want = self._want, None
            if want is None:
                continue
            path = os.path.join(self._dir, segment_name(want))
            if os.path.exists(path):
                continue
            try:
                create_segment(self._dir, want, self._size, time.time_ns())
            except JournalError as exc:
                self.error = exc  # the writer retries synchronously at roll time
            else:
                self.error = None
                self.created.append(want)
                warm_segment(path)

    def stop(self) -> None:
        with self._cond:
            self._halt = True
            self._cond.notify()
        if self.is_alive():
            self.join()


class SegmentInfo(NamedTuple):
    segment_id: int
    size_bytes: int
    sealed_ns: int | None  # None unless sealed


def plan_retention(
    segments: list[SegmentInfo],
    head_id: int,
    cursor_floor: int | None,
    policy: RetentionPolicy,
    now_ns: int,
) -> list[int]:
    """Ids of the segments to delete, oldest first (always a prefix of ``segments``).

    Limits count the segments up to and including the head; preallocated segments
    after the head hold no records and are not counted.
    """
    ordered = sorted(s for s in segments if s.segment_id <= head_id)
    total_count = len(ordered)
    total_bytes = sum(s.size_bytes for s in ordered)
    doomed: list[int] = []
    for seg in ordered:
        if seg.segment_id >= head_id or seg.sealed_ns is None:
            break
        if cursor_floor is not None and seg.segment_id >= cursor_floor:
            break
        too_many = policy.keep_segments is not None and total_count > policy.keep_segments
        too_big = policy.max_bytes is not None and total_bytes > policy.max_bytes
        too_old = policy.max_age_ns is not None and now_ns - seg.sealed_ns > policy.max_age_ns
        if not (too_many or too_big or too_old):
            break
        doomed.append(seg.segment_id)
        total_count -= 1
        total_bytes -= seg.size_bytes
    return doomed


def apply_retention(
    dirpath: str,
    head_id: int,
    policy: RetentionPolicy,
    now_ns: int | None = None,
    manifest: ManifestFile | None = None,
) -> list[int]:
    """Delete the segments chosen by :func:`plan_retention`; return their ids.

    The manifest's ``low`` (and ``low_base``) is raised and made durable *before* the
    first unlink: a crash in between leaves segments below ``low``, which the next
    writer deletes, and never a missing segment that the manifest still claims.
    """
    now = time.time_ns() if now_ns is None else now_ns
    infos: list[SegmentInfo] = []
    bases: dict[int, int] = {}
    for seg_id in list_segment_ids(dirpath):
        path = os.path.join(dirpath, segment_name(seg_id))
        try:
            hdr = read_header(path)
        except FileNotFoundError:
            continue
        sealed = hdr.sealed_ns if hdr.state == STATE_SEALED else None
        infos.append(SegmentInfo(seg_id, hdr.size, sealed))
        bases[seg_id] = hdr.base_seq
    cursors = list_cursors(dirpath)
    floor = min((c.segment_id for c in cursors.values()), default=None)
    doomed = plan_retention(infos, head_id, floor, policy, now)
    if not doomed:
        return []
    new_low = doomed[-1] + 1
    if new_low not in bases:
        raise MissingSegment(
            f"segment {new_low} is missing (retention would make it the oldest)",
            path=os.path.join(dirpath, segment_name(new_low)),
        )
    if manifest is not None:
        manifest.store(low=new_low, low_base=bases[new_low], sync=True)
    for seg_id in doomed:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(dirpath, segment_name(seg_id)))
    fsync_dir(dirpath)
    return doomed
