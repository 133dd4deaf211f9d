# Layer rule: whistle.journal imports only the Python standard library and msgspec.
# It must never import anything else from whistle (it knows nothing about orders);
# payloads are opaque bytes tagged with a caller-given integer type id.
"""Persistent, memory-mapped, segmented append-only queue (chronicle-style journal).

One writer (:meth:`Queue.open_publisher`) appends records to fixed-size segment files
in a directory; any number of readers (:meth:`Queue.open_subscriber`) follow it with
durable named cursors.  See :mod:`.segment` for the on-disk format, :mod:`.cursor` for
the cursor file, :mod:`.liveness` for lock and heartbeat files.

Durability (:class:`FsyncPolicy`)
---------------------------------
Records are stored into a shared ``mmap`` of the segment file, i.e. directly into the
kernel page cache.  When ``append``/``append_many`` returns, the record is therefore
in the page cache, which belongs to the kernel, not to the process.

After a **process crash** (exception, ``SIGKILL``, OOM kill) -- *all* policies:
  every record whose ``append`` returned survives and is read back after reopening.
  A record whose append was interrupted is either whole or has no commit marker /
  a bad CRC at the tail, and is cut off by the next writer.  Created segment files are
  always complete (built under a temporary name, fsync'ed, renamed, directory
  fsync'ed).

After a **power loss or kernel crash**:

* ``NONE``: no guarantee for records appended since the kernel last wrote the dirty
  pages back (Linux default: up to ~30 s, ``vm.dirty_expire_centisecs``).  Pages may
  reach the disk out of order; recovery keeps the longest valid prefix of each
  segment and raises :class:`CorruptRecord` if an invalid record is followed by valid
  ones.  ``close()`` does not msync.
* ``INTERVAL``: a sidecar thread msyncs the newly written range every
  ``fsync_interval_ms``; a roll and ``close()`` also msync.  Records appended more than
  about one interval (plus the msync duration) before the failure survive; the most
  recent interval may be lost.
* ``EVERY``: ``append`` and ``append_many`` return only after ``msync(MS_SYNC)`` of the
  written range (one msync per batch for ``append_many``), so every returned append
  survives -- provided the storage honours cache flushes.

Cursors are always written with ``pwrite`` + ``fdatasync`` on ``commit()`` (unless
``commit(sync=False)``), into two alternating CRC-protected slots.

Recovery never guesses (:mod:`.verify`)
---------------------------------------
The writer's recovery on open and every reader (``ReadOnlyReader``, ``QueueReader``)
run the same checks and so reach the same verdict on the same directory.  Only a torn
tail of the head (last, active) segment after its last committed record, with nothing
valid after it, is cut -- and only when everything before it is whole.  Anything else
(a bad record in a sealed segment, a zeroed page followed by records, a missing, short,
duplicated or reordered segment, a segment-id or sequence gap, a seal that disagrees
with its records, a deleted only segment) raises a :class:`JournalFormatError`
subclass naming the file, the byte offset and the unreadable sequence range, and the
directory is left exactly as it was.  ``queue.manifest`` (:mod:`.manifest`) records the
lowest retained and highest activated segment so deletions are never mistaken for the
end of the queue.  :func:`verify` reports on a directory without changing it;
:func:`truncate_after` (``whistle journal repair``) is the only code that cuts a
damaged journal, on an explicit request.

Disk use (:class:`QueueConfig`)
-------------------------------
Segments are ``segment_size`` bytes (default 8 MiB), created full size with
``posix_fallocate`` so that mmap stores can never hit ENOSPC.  With ``prealloc`` (the
default) the next segment is created by a sidecar once the head is
``prealloc_threshold`` full (default 0.5), so a new queue occupies one segment and a
queue at most two beyond those it retains.  Every write site (segment creation,
manifest, cursor, heartbeat, metadata) fails with :class:`JournalFull` /
:class:`JournalIOError` naming the path, publishes nothing partial, and leaves the
writer usable once space is freed.
"""

from .api import Queue, SegmentSummary
from .config import FsyncPolicy, QueueConfig, RetentionPolicy
from .cursor import CursorPosition
from .discovery import (
    DisconnectReason,
    DiscoveryState,
    PassiveDiscovery,
    Transition,
    WriterStatus,
    probe_writer,
)
from .errors import (
    BadSegmentError,
    CorruptCursor,
    CorruptManifest,
    CorruptRecord,
    JournalClosedError,
    JournalError,
    JournalFormatError,
    JournalFull,
    JournalIOError,
    MissingSegment,
    NotAJournalError,
    RecordTooLarge,
    SequenceGap,
    SequenceUnavailable,
    WriterLockedError,
)
from .fanin import FanInReader, MergedRecord
from .reader import QueueReader, Record
from .readonly import ReadOnlyReader
from .repair import (
    RepairError,
    RepairReport,
    damaged_dir_name,
    last_good_seq,
    readable_after,
    readable_prefix,
    truncate_after,
)
from .verify import QueueReport, SegmentReport, verify
from .writer import NATIVE, QueueWriter

__all__ = [
    "NATIVE",
    "BadSegmentError",
    "CorruptCursor",
    "CorruptManifest",
    "CorruptRecord",
    "CursorPosition",
    "DisconnectReason",
    "DiscoveryState",
    "FanInReader",
    "FsyncPolicy",
    "JournalClosedError",
    "JournalError",
    "JournalFormatError",
    "JournalFull",
    "JournalIOError",
    "MergedRecord",
    "MissingSegment",
    "NotAJournalError",
    "PassiveDiscovery",
    "Queue",
    "QueueConfig",
    "QueueReader",
    "QueueReport",
    "QueueWriter",
    "ReadOnlyReader",
    "Record",
    "RecordTooLarge",
    "RepairError",
    "RepairReport",
    "RetentionPolicy",
    "SegmentReport",
    "SegmentSummary",
    "SequenceGap",
    "SequenceUnavailable",
    "Transition",
    "WriterLockedError",
    "WriterStatus",
    "damaged_dir_name",
    "last_good_seq",
    "probe_writer",
    "readable_after",
    "readable_prefix",
    "truncate_after",
    "verify",
]
