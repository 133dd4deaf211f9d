"""``queue.manifest``: which segments the queue has, so a deleted one is never missed.

Segment files alone cannot tell "the head segment was deleted" from "the queue ends
here", nor "the only segment was deleted" from "a new queue".  The manifest records:

* ``low``       id of the lowest retained segment (raised by retention *before* it
                unlinks anything, so a crash in between leaves only harmless
                leftovers below ``low``, which the next writer deletes);
* ``low_base``  ``base_seq`` of segment ``low`` (the first retained sequence);
* ``activated`` one past the highest segment id ever activated (0: none yet); written
                by a roll *after* the next segment file exists and *before* it is
                activated, so at every instant ``activated - 1`` is the head or the
                published, still FRESH segment right after it.

Storage: like the cursor files (:mod:`.cursor`), two alternating 40-byte slots with a
generation and a CRC, rewritten in place with ``pwrite`` (the 80-byte file is created
full size once, so a later store allocates nothing and cannot hit ENOSPC).  A torn
store only damages the slot being written; the loader takes the valid slot with the
highest generation.  Both slots invalid is :class:`CorruptManifest`.

Slot layout (little endian)::

    offset size field
    0      8    generation (0 = never written)
    8      8    low
    16     8    low_base
    24     8    activated
    32     4    CRC32 of bytes 0..32
    36     4    reserved

A queue created by this version has bit 0 of ``queue.meta``'s flags set: its manifest
must exist.  An older queue without one is opened by deriving the manifest from its
segment files once (the writer then stores it and sets the flag).
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import zlib
from typing import Final, NamedTuple, final

from .errors import CorruptManifest, wrap_os_error

__all__ = ["MANIFEST_FILE", "Manifest", "ManifestFile", "read_manifest", "write_new_manifest"]

MANIFEST_FILE: Final = "queue.manifest"
_SLOT = struct.Struct("<QQQQ")
_CRC = struct.Struct("<I")
_SLOT_SIZE: Final = 40
_FILE_SIZE: Final = 2 * _SLOT_SIZE


class Manifest(NamedTuple):
    low: int
    low_base: int
    activated: int

    @property
    def high(self) -> int:
        """Highest activated segment id (-1 when none was activated)."""
        return self.activated - 1


def _slot(gen: int, m: Manifest) -> bytes:
    body = _SLOT.pack(gen, m.low, m.low_base, m.activated)
    return (body + _CRC.pack(zlib.crc32(body))).ljust(_SLOT_SIZE, b"\0")


def _decode(raw: bytes, path: str) -> tuple[int, Manifest]:
    best: tuple[int, Manifest] | None = None
    for i in range(2):
        part = raw[i * _SLOT_SIZE : (i + 1) * _SLOT_SIZE]
        if len(part) < _SLOT.size + 4:
            continue
        gen, low, base, act = _SLOT.unpack_from(part)
        (crc,) = _CRC.unpack_from(part, _SLOT.size)
        if gen and crc == zlib.crc32(part[: _SLOT.size]) and (best is None or gen > best[0]):
            best = (gen, Manifest(low, base, act))
    if best is None:
        raise CorruptManifest(
            f"neither slot of {MANIFEST_FILE} is valid ({len(raw)} bytes); the set of "
            "segments this queue must have is unknown",
            path=path,
            offset=0,
        )
    return best


def read_manifest(queue_dir: str) -> Manifest | None:
    """The stored manifest, ``None`` if the file does not exist (an older queue)."""
    path = os.path.join(queue_dir, MANIFEST_FILE)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_FILE_SIZE)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise wrap_os_error(exc, "reading the queue manifest", path) from exc
    return _decode(raw, path)[1]


def write_new_manifest(queue_dir: str, m: Manifest) -> None:
    """Create the manifest with one valid slot (temporary name, fsync, rename)."""
    path = os.path.join(queue_dir, MANIFEST_FILE)
    tmp = os.path.join(queue_dir, f".tmp-manifest-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(_slot(2, m) + _slot(1, m))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise wrap_os_error(exc, "creating the queue manifest", path) from exc


@final
class ManifestFile:
    """Writer-side handle: serialises stores from the appender and the retention thread."""

    __slots__ = ("_fd", "_gen", "_lock", "current", "path")

    def __init__(self, queue_dir: str) -> None:
        self.path = os.path.join(queue_dir, MANIFEST_FILE)
        self._lock = threading.Lock()
        try:
            self._fd = os.open(self.path, os.O_RDWR)
        except OSError as exc:
            raise wrap_os_error(exc, "opening the queue manifest", self.path) from exc
        try:
            raw = os.pread(self._fd, _FILE_SIZE, 0)
        except OSError as exc:
            os.close(self._fd)
            raise wrap_os_error(exc, "reading the queue manifest", self.path) from exc
        try:
            self._gen, self.current = _decode(raw, self.path)
        except BaseException:
            os.close(self._fd)
            raise

    def store(
        self,
        *,
        low: int | None = None,
        low_base: int | None = None,
        activated: int | None = None,
        sync: bool = True,
    ) -> None:
        """Write a new generation with the given fields changed (JournalIOError on failure;
        then nothing changed, in memory or on disk beyond the slot being written)."""
        with self._lock:
            cur = self.current
            new = Manifest(
                cur.low if low is None else low,
                cur.low_base if low_base is None else low_base,
                cur.activated if activated is None else activated,
            )
            gen = self._gen + 1
            slot = gen % 2
            try:
                os.pwrite(self._fd, _slot(gen, new), slot * _SLOT_SIZE)
                if sync:
                    os.fdatasync(self._fd)
            except OSError as exc:
                raise wrap_os_error(
                    exc, "writing the queue manifest", self.path, slot * _SLOT_SIZE
                ) from exc
            self._gen, self.current = gen, new

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
