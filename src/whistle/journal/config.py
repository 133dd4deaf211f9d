"""Configuration objects, file names and the queue metadata file.

A queue is a directory::

    <queue>/
        queue.meta                 fixed 64-byte metadata record (created once, atomically)
        queue.manifest             lowest retained / highest activated segment (.manifest)
        writer.lock                flock() target; held exclusively by the one live writer
        writer.heartbeat           32-byte heartbeat record rewritten by a sidecar thread
        0000000000000000.wseg      segment files, named by 16 hex digits of the segment id
        0000000000000001.wseg
        readers/<name>.cursor      durable named reader cursors (two CRC'd slots each)
        .tmp-*                     preallocation temporaries (never read; safe to delete)

``queue.meta`` layout (little endian)::

    offset size field
    0      8    magic  b"WHSTLQUE"
    8      2    version (1)
    10     2    flags: bit 0 = queue.manifest must exist (queues made since issue 7)
    12     4    reserved (0)
    16     8    segment_size in bytes
    24     8    created_ns
    32     4    CRC32 of bytes 0..32
    36     28   reserved (0)

The metadata file is written to a temporary name, fsync'ed, renamed into place and
the directory is fsync'ed, so it is either absent or complete.
"""

from __future__ import annotations

import contextlib
import enum
import os
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Final, final

from .errors import NotAJournalError, wrap_os_error
from .manifest import Manifest, write_new_manifest

__all__ = [
    "DEFAULT_PREALLOC_THRESHOLD",
    "DEFAULT_SEGMENT_SIZE",
    "HEARTBEAT_FILE",
    "LOCK_FILE",
    "META_FILE",
    "META_FLAG_MANIFEST",
    "MIN_SEGMENT_SIZE",
    "READERS_DIR",
    "SEGMENT_SUFFIX",
    "TMP_PREFIX",
    "FsyncPolicy",
    "QueueConfig",
    "QueueMeta",
    "RetentionPolicy",
    "ensure_queue_dir",
    "fsync_dir",
    "read_meta",
    "write_meta",
]

META_FILE: Final = "queue.meta"
LOCK_FILE: Final = "writer.lock"
HEARTBEAT_FILE: Final = "writer.heartbeat"
READERS_DIR: Final = "readers"
SEGMENT_SUFFIX: Final = ".wseg"
TMP_PREFIX: Final = ".tmp-"

DEFAULT_SEGMENT_SIZE: Final = 8 * 1024 * 1024
DEFAULT_PREALLOC_THRESHOLD: Final = 0.5
META_FLAG_MANIFEST: Final = 1
MIN_SEGMENT_SIZE: Final = 4096

_META_MAGIC: Final = b"WHSTLQUE"
_META_VERSION: Final = 1
_META = struct.Struct("<8sHHIQQ")  # 32 bytes, followed by CRC u32 and padding
_META_SIZE: Final = 64
_CRC = struct.Struct("<I")

# Names a writer or reader may create before queue.meta exists; a directory holding
# only these is still "empty" and may become a queue.
_OWN_NAMES: Final = frozenset({LOCK_FILE, HEARTBEAT_FILE, READERS_DIR, "queue.manifest"})


@final
class FsyncPolicy(enum.Enum):
    """When appended records are forced to stable storage (see the package docstring)."""

    NONE = "none"
    INTERVAL = "interval"
    EVERY = "every"


@final
@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Which sealed segments the retention worker may delete.

    A segment is deleted when it violates *any* configured limit, but never the head
    segment (nor any later, preallocated one) and never a segment at or after the
    oldest durable reader cursor.  ``None`` disables a limit.
    """

    keep_segments: int | None = None
    max_bytes: int | None = None
    max_age_ns: int | None = None

    def __post_init__(self) -> None:
        if self.keep_segments is not None and self.keep_segments < 1:
            raise ValueError("keep_segments must be >= 1")
        if self.max_bytes is not None and self.max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        if self.max_age_ns is not None and self.max_age_ns < 0:
            raise ValueError("max_age_ns must be >= 0")


@final
@dataclass(frozen=True, slots=True)
class QueueConfig:
    """Writer-side configuration.

    ``segment_size`` (default 8 MiB) only applies when the queue is created; an existing
    queue keeps the size recorded in ``queue.meta``.  Every segment file is created full
    size (``posix_fallocate``), so a queue occupies at least one segment on disk.

    ``prealloc`` (default on) lets a sidecar create the *next* segment in the background
    once the head is ``prealloc_threshold`` full (default 0.5; 0.0 = as soon as the head
    is activated), so a roll only maps an existing file.  A queue therefore holds at most
    two segments of ``segment_size`` beyond its retained ones.  With ``prealloc=False``
    the next segment is created synchronously by the roll.

    ``retention`` is ``None`` by default: no segment is ever deleted unless a policy is
    given (inline size limits are off).
    """

    segment_size: int = DEFAULT_SEGMENT_SIZE
    fsync: FsyncPolicy = FsyncPolicy.NONE
    fsync_interval_ms: int = 100
    heartbeat_interval_ms: int = 100
    prealloc: bool = True
    prealloc_threshold: float = DEFAULT_PREALLOC_THRESHOLD
    retention: RetentionPolicy | None = None
    retention_interval_ms: int = 1000

    def __post_init__(self) -> None:
        if self.segment_size < MIN_SEGMENT_SIZE or self.segment_size % 8:
            raise ValueError(f"segment_size must be a multiple of 8 >= {MIN_SEGMENT_SIZE}")
        if self.segment_size >= 1 << 32:
            # Cursors store an offset within a segment as a u32.
            raise ValueError(f"segment_size must be < 4 GiB, was {self.segment_size}")
        if not 0.0 <= self.prealloc_threshold <= 1.0:
            raise ValueError(
                f"prealloc_threshold must be within [0, 1], was {self.prealloc_threshold}"
            )
        for name in ("fsync_interval_ms", "heartbeat_interval_ms", "retention_interval_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")


@final
@dataclass(frozen=True, slots=True)
class QueueMeta:
    """Decoded content of ``queue.meta``."""

    segment_size: int
    created_ns: int
    flags: int = 0

    @property
    def requires_manifest(self) -> bool:
        return bool(self.flags & META_FLAG_MANIFEST)

    def encode(self) -> bytes:
        head = _META.pack(
            _META_MAGIC, _META_VERSION, self.flags, 0, self.segment_size, self.created_ns
        )
        body = head + _CRC.pack(zlib.crc32(head))
        return body.ljust(_META_SIZE, b"\0")


def fsync_dir(path: str) -> None:
    """fsync a directory so that a rename/creation/unlink inside it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_meta(path: str) -> QueueMeta | None:
    """Return the metadata of queue directory ``path``.

    Returns ``None`` when the directory does not exist or holds only files the journal
    itself creates before the metadata.  Raises :class:`NotAJournalError` when the
    directory has other files but no valid metadata.
    """
    meta_path = os.path.join(path, META_FILE)
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotAJournalError("not a directory", path=path)
    try:
        with open(meta_path, "rb") as fh:
            raw = fh.read(_META_SIZE + 1)
    except FileNotFoundError:
        if not os.path.isdir(path):
            return None
        foreign = [
            n for n in os.listdir(path) if n not in _OWN_NAMES and not n.startswith(TMP_PREFIX)
        ]
        if foreign:
            raise NotAJournalError(
                f"directory has files ({sorted(foreign)[:3]}...) but no {META_FILE}", path=path
            ) from None
        return None
    except OSError as exc:
        raise wrap_os_error(exc, "reading queue metadata", meta_path) from exc
    if len(raw) != _META_SIZE:
        raise NotAJournalError(f"{META_FILE} has size {len(raw)}", path=meta_path, offset=0)
    magic, version, flags, _r2, seg_size, created = _META.unpack_from(raw)
    (crc,) = _CRC.unpack_from(raw, _META.size)
    if magic != _META_MAGIC:
        raise NotAJournalError(f"bad magic {magic!r} in {META_FILE}", path=meta_path, offset=0)
    if crc != zlib.crc32(raw[: _META.size]):
        raise NotAJournalError(f"CRC mismatch in {META_FILE}", path=meta_path, offset=_META.size)
    if version != _META_VERSION:
        raise NotAJournalError(f"unsupported queue version {version}", path=meta_path, offset=8)
    return QueueMeta(segment_size=seg_size, created_ns=created, flags=flags)


def write_meta(path: str, meta: QueueMeta) -> None:
    """Publish ``queue.meta`` atomically (temporary name, fsync, rename, dir fsync)."""
    tmp = os.path.join(path, f"{TMP_PREFIX}meta-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(meta.encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, os.path.join(path, META_FILE))
        fsync_dir(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise wrap_os_error(exc, "writing queue metadata", os.path.join(path, META_FILE)) from exc


def ensure_queue_dir(path: str, segment_size: int) -> QueueMeta:
    """Create the queue directory, manifest and metadata if needed; return the metadata.

    The manifest is published before ``queue.meta``: a directory without ``queue.meta``
    is not a queue yet, whatever else it holds (the next attempt starts over).
    """
    existing = read_meta(path)
    if existing is not None:
        return existing
    try:
        os.makedirs(os.path.join(path, READERS_DIR), exist_ok=True)
    except OSError as exc:
        raise wrap_os_error(exc, "creating the queue directory", path) from exc
    write_new_manifest(path, Manifest(0, 0, 0))
    meta = QueueMeta(segment_size=segment_size, created_ns=time.time_ns(), flags=1)
    write_meta(path, meta)
    return meta
