"""Durable named reader cursors.

Storage choice: **two alternating slots, each with a generation number and a CRC**
(``readers/<name>.cursor``, 64 bytes).  A commit writes generation ``g`` into slot
``g % 2`` with one ``pwrite`` (then ``fdatasync`` unless asked not to); the loader takes
the valid slot with the highest generation.  A torn or partial write can only damage
the slot being written, whose CRC then fails, so the loader falls back to the other
slot, which still holds the previous commit.  Compared with write-temp + fsync +
rename this costs one ``pwrite`` + ``fdatasync`` per commit instead of a create, a
rename and a directory fsync, never lets the file disappear, and leaves no temporary
files behind after a crash.  A file with data but no valid slot is
:class:`~.errors.CorruptCursor` (never a silent restart from the oldest record).

Slot layout (32 bytes, little endian)::

    offset size field
    0      8    generation  (0 = slot never written)
    8      8    next_seq     sequence of the next record the reader will deliver
    16     8    segment_id   segment holding that record
    24     4    offset       byte offset of that record in the segment
    28     4    CRC32 of bytes 0..28

The retention worker reads every cursor file and never deletes a segment with an id
``>= segment_id`` of any cursor, so a reader can always resume from its cursor.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from typing import Final, NamedTuple, final

from .config import READERS_DIR
from .errors import CorruptCursor, wrap_os_error

__all__ = [
    "CURSOR_SUFFIX",
    "CursorPosition",
    "CursorStore",
    "list_cursors",
    "read_cursor_file",
    "validate_reader_name",
]

CURSOR_SUFFIX: Final = ".cursor"
_SLOT = struct.Struct("<QQQI")
_CRC = struct.Struct("<I")
_SLOT_SIZE: Final = 32
_NAME_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


class CursorPosition(NamedTuple):
    next_seq: int
    segment_id: int
    offset: int


def validate_reader_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"invalid reader name {name!r}: use 1-64 of [A-Za-z0-9_.-]")
    return name


def _decode_slot(raw: bytes) -> tuple[int, CursorPosition] | None:
    if len(raw) < _SLOT_SIZE:
        return None
    gen, nxt, seg, off = _SLOT.unpack_from(raw)
    (crc,) = _CRC.unpack_from(raw, _SLOT.size)
    if gen == 0 or crc != zlib.crc32(raw[: _SLOT.size]):
        return None
    return gen, CursorPosition(nxt, seg, off)


def _decode(raw: bytes, path: str) -> tuple[int, CursorPosition] | None:
    """The newest valid slot; None if the cursor was never stored (all zero / empty);
    :class:`CorruptCursor` if it holds data but neither slot is valid."""
    slots = [_decode_slot(raw[i * _SLOT_SIZE : (i + 1) * _SLOT_SIZE]) for i in range(2)]
    valid = [s for s in slots if s is not None]
    if valid:
        return max(valid, key=lambda s: s[0])
    if raw.count(0) != len(raw):
        raise CorruptCursor(
            f"cursor file holds {len(raw)} bytes but neither slot is valid: the reader's "
            "position is unknown (restore it, or delete the file to restart the reader "
            "from the oldest record)",
            path=path,
            offset=0,
        )
    return None


def read_cursor_file(path: str) -> tuple[int, CursorPosition] | None:
    """``(generation, position)`` of the newest valid slot, or None if never stored.

    Raises :class:`CorruptCursor` when the file holds data but no valid slot.
    """
    try:
        with open(path, "rb") as fh:
            return _decode(fh.read(2 * _SLOT_SIZE), path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise wrap_os_error(exc, "reading a cursor", path) from exc


def list_cursors(queue_dir: str) -> dict[str, CursorPosition]:
    """All durable cursors of the queue, by reader name."""
    rdir = os.path.join(queue_dir, READERS_DIR)
    try:
        names = os.listdir(rdir)
    except FileNotFoundError:
        return {}
    out: dict[str, CursorPosition] = {}
    for fname in names:
        if not fname.endswith(CURSOR_SUFFIX):
            continue
        got = read_cursor_file(os.path.join(rdir, fname))
        if got is not None:
            out[fname[: -len(CURSOR_SUFFIX)]] = got[1]
    return out


@final
class CursorStore:
    """Read/write access to one named cursor file."""

    __slots__ = ("_fd", "_gen", "name", "path")

    def __init__(self, queue_dir: str, name: str) -> None:
        self.name = validate_reader_name(name)
        rdir = os.path.join(queue_dir, READERS_DIR)
        self.path = os.path.join(rdir, name + CURSOR_SUFFIX)
        try:
            os.makedirs(rdir, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise wrap_os_error(exc, "opening a cursor", self.path) from exc
        try:
            got = self._read()
        except BaseException:
            os.close(self._fd)
            raise
        self._gen = 0 if got is None else got[0]

    def _read(self) -> tuple[int, CursorPosition] | None:
        try:
            raw = os.pread(self._fd, 2 * _SLOT_SIZE, 0)
        except OSError as exc:
            raise wrap_os_error(exc, "reading a cursor", self.path) from exc
        return _decode(raw, self.path)

    def load(self) -> CursorPosition | None:
        got = self._read()
        return None if got is None else got[1]

    @property
    def generation(self) -> int:
        return self._gen

    def store(self, pos: CursorPosition, *, sync: bool = True) -> None:
        """Persist ``pos`` into the slot not holding the newest generation."""
        gen = self._gen + 1
        body = _SLOT.pack(gen, pos.next_seq, pos.segment_id, pos.offset)
        slot = gen % 2
        try:
            os.pwrite(self._fd, body + _CRC.pack(zlib.crc32(body)), slot * _SLOT_SIZE)
            if sync:
                os.fdatasync(self._fd)
        except OSError as exc:
            raise wrap_os_error(exc, "writing a cursor", self.path, slot * _SLOT_SIZE) from exc
        self._gen = gen

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
