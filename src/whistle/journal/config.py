"""Configuration objects, file names and the queue metadata file.

A queue is a directory::

    <queue>/
        queue.meta                 fixed 64-byte metadata record (created once, atomically)
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
    10     2    reserved (0)
    12     4    reserved (0)
    16     8    segment_size in bytes
    24     8    created_ns
    32     4    CRC32 of bytes 0..32
    36     28   reserved (0)

The metadata file is written to a temporary name, fsync'ed, renamed into place and
the directory is fsync'ed, so it is either absent or complete.
"""

from __future__ import annotations

import enum
import os
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Final, final

from .errors import NotAJournalError, wrap_os_error

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "HEARTBEAT_FILE",
    "LOCK_FILE",
    "META_FILE",
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
]

META_FILE: Final = "queue.meta"
LOCK_FILE: Final = "writer.lock"
HEARTBEAT_FILE: Final = "writer.heartbeat"
READERS_DIR: Final = "readers"
SEGMENT_SUFFIX: Final = ".wseg"
TMP_PREFIX: Final = ".tmp-"

DEFAULT_SEGMENT_SIZE: Final = 64 * 1024 * 1024
MIN_SEGMENT_SIZE: Final = 4096

_META_MAGIC: Final = b"WHSTLQUE"
_META_VERSION: Final = 1
_META = struct.Struct("<8sHHIQQ")  # 32 bytes, followed by CRC u32 and padding
_META_SIZE: Final = 64
_CRC = struct.Struct("<I")

# Names a writer or reader may create before queue.meta exists; a directory holding
# only these is still "empty" and may become a queue.
_OWN_NAMES: Final = frozenset({LOCK_FILE, HEARTBEAT_FILE, READERS_DIR})


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

    ``segment_size`` only applies when the queue is created; an existing queue keeps
    the size recorded in ``queue.meta``.  ``retention`` is ``None`` by default: no
    segment is ever deleted unless a policy is given (inline size limits are off).
    """

    segment_size: int = DEFAULT_SEGMENT_SIZE
    fsync: FsyncPolicy = FsyncPolicy.NONE
    fsync_interval_ms: int = 100
    heartbeat_interval_ms: int = 100
    prealloc: bool = True
    retention: RetentionPolicy | None = None
    retention_interval_ms: int = 1000

    def __post_init__(self) -> None:
        if self.segment_size < MIN_SEGMENT_SIZE or self.segment_size % 8:
            raise ValueError(f"segment_size must be a multiple of 8 >= {MIN_SEGMENT_SIZE}")
        if self.segment_size >= 1 << 32:
            # Cursors store an offset within a segment as a u32.
            raise ValueError(f"segment_size must be < 4 GiB, was {self.segment_size}")
        for name in ("fsync_interval_ms", "heartbeat_interval_ms", "retention_interval_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")


@final
@dataclass(frozen=True, slots=True)
class QueueMeta:
    """Decoded content of ``queue.meta``."""

    segment_size: int
    created_ns: int

    def encode(self) -> bytes:
        head = _META.pack(_META_MAGIC, _META_VERSION, 0, 0, self.segment_size, self.created_ns)
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
    magic, version, _r1, _r2, seg_size, created = _META.unpack_from(raw)
    (crc,) = _CRC.unpack_from(raw, _META.size)
    if magic != _META_MAGIC:
        raise NotAJournalError(f"bad magic {magic!r} in {META_FILE}", path=meta_path, offset=0)
    if crc != zlib.crc32(raw[: _META.size]):
        raise NotAJournalError(f"CRC mismatch in {META_FILE}", path=meta_path, offset=_META.size)
    if version != _META_VERSION:
        raise NotAJournalError(f"unsupported queue version {version}", path=meta_path, offset=8)
    return QueueMeta(segment_size=seg_size, created_ns=created)


def ensure_queue_dir(path: str, segment_size: int) -> QueueMeta:
    """Create the queue directory and metadata if needed; return the metadata."""
    existing = read_meta(path)
    if existing is not None:
        return existing
    try:
        os.makedirs(os.path.join(path, READERS_DIR), exist_ok=True)
        meta = QueueMeta(segment_size=segment_size, created_ns=time.time_ns())
        tmp = os.path.join(path, f"{TMP_PREFIX}meta-{os.getpid()}")
        with open(tmp, "wb") as fh:
            fh.write(meta.encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, os.path.join(path, META_FILE))
        fsync_dir(path)
    except OSError as exc:
        raise wrap_os_error(exc, "creating queue metadata", path) from exc
    return meta
