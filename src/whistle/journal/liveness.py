"""Writer lock and heartbeat files: how readers learn whether a writer is alive.

* ``writer.lock`` is held with ``fcntl.flock(LOCK_EX)`` by the one live writer for
  its whole lifetime.  flock locks belong to the open file description and are
  released by the kernel when the process dies, so "lock not held" reliably means
  "no live writer" -- even after ``kill -9``.  A reader probes the lock by trying a
  *non-blocking shared* lock and releasing it at once; a writer that races with such
  a probe retries for a few milliseconds before reporting a second writer.
* ``writer.heartbeat`` holds one 32-byte record rewritten in place by a sidecar thread
  with ``os.pwrite``.  It detects a writer that is alive but stuck (lock held,
  heartbeat stale).  A torn heartbeat write is detected by its CRC and treated as
  "unknown" (the previous value is lost, which only delays detection).

Heartbeat record (little endian)::

    offset size field
    0      4    magic  b"WHB1"
    4      4    pid
    8      8    ts_ns  time.time_ns() of the beat
    16     4    state  1 RUNNING, 2 CLOSED (clean shutdown)
    20     4    CRC32 of bytes 0..20
    24     8    reserved
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import time
import zlib
from typing import Final, NamedTuple, final

from .config import HEARTBEAT_FILE, LOCK_FILE
from .errors import WriterLockedError, wrap_os_error

__all__ = [
    "HB_CLOSED",
    "HB_RUNNING",
    "HeartbeatFile",
    "HeartbeatInfo",
    "WriterLock",
    "lock_held",
    "read_heartbeat",
]

HB_RUNNING: Final = 1
HB_CLOSED: Final = 2
_HB_MAGIC: Final = b"WHB1"
_HB = struct.Struct("<4sIQI")
_CRC = struct.Struct("<I")
_HB_SIZE: Final = 32
_LOCK_RETRIES: Final = 25


class HeartbeatInfo(NamedTuple):
    pid: int
    ts_ns: int
    closed: bool


@final
class WriterLock:
    """Exclusive flock on ``<queue>/writer.lock``; raises :class:`WriterLockedError`."""

    __slots__ = ("_fd", "path")

    def __init__(self, queue_dir: str) -> None:
        self.path = os.path.join(queue_dir, LOCK_FILE)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise wrap_os_error(exc, "opening the writer lock", self.path) from exc
        delay = 0.0005
        for _ in range(_LOCK_RETRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # A reader's probe holds a shared lock for microseconds: retry briefly.
                time.sleep(delay)
                delay = min(delay * 2, 0.005)
        else:
            os.close(fd)
            hb = read_heartbeat(queue_dir)
            who = f" (heartbeat pid {hb.pid})" if hb is not None else ""
            raise WriterLockedError(
                f"queue already has a live writer{who}; only one writer is allowed",
                path=self.path,
            )
        self._fd = fd

    def write_pid(self) -> None:
        """Record our pid in the lock file (for people; nothing reads it). The writer does
        this only once its recovery accepted the directory: a refused open changes no
        byte, the lock file included."""
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def lock_held(queue_dir: str) -> bool | None:
    """True if a live writer holds the lock, False if not, None if never created."""
    path = os.path.join(queue_dir, LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@final
class HeartbeatFile:
    """Writer side of ``writer.heartbeat``: ``beat()`` rewrites the record in place."""

    __slots__ = ("_fd", "_pid", "path")

    def __init__(self, queue_dir: str) -> None:
        self.path = os.path.join(queue_dir, HEARTBEAT_FILE)
        self._pid = os.getpid()
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise wrap_os_error(exc, "opening the heartbeat file", self.path) from exc

    def beat(self, now_ns: int | None = None, *, closed: bool = False) -> None:
        if self._fd < 0:
            return
        ts = time.time_ns() if now_ns is None else now_ns
        body = _HB.pack(_HB_MAGIC, self._pid, ts, HB_CLOSED if closed else HB_RUNNING)
        record = (body + _CRC.pack(zlib.crc32(body))).ljust(_HB_SIZE, b"\0")
        try:
            os.pwrite(self._fd, record, 0)
        except OSError as exc:
            raise wrap_os_error(exc, "writing the heartbeat", self.path, 0) from exc

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_heartbeat(queue_dir: str) -> HeartbeatInfo | None:
    """The last heartbeat, or None if absent or torn (CRC mismatch)."""
    path = os.path.join(queue_dir, HEARTBEAT_FILE)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_HB_SIZE)
    except FileNotFoundError:
        return None
    if len(raw) < _HB.size + 4:
        return None
    magic, pid, ts, state = _HB.unpack_from(raw)
    (crc,) = _CRC.unpack_from(raw, _HB.size)
    if magic != _HB_MAGIC or crc != zlib.crc32(raw[: _HB.size]):
        return None
    return HeartbeatInfo(pid=pid, ts_ns=ts, closed=state == HB_CLOSED)
