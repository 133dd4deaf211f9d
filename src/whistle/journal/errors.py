"""Errors raised by the journal layer.

Every error the journal raises on purpose derives from :class:`JournalError`, so a
caller can catch the whole family with one ``except`` clause and still tell the
cases apart.  Errors that concern a particular file carry ``path`` and, where a
byte position is meaningful, ``offset`` attributes; both also appear in the message.

Hierarchy::

    Exception
    └── JournalError
        ├── NotAJournalError          directory has files but no/invalid queue metadata
        ├── JournalFormatError        a file is not in the expected on-disk format (damage)
        │   ├── BadSegmentError       wrong magic / version / header CRC / size / id, or a
        │   │                         sealed segment whose seal disagrees with its records
        │   ├── CorruptRecord         an invalid record anywhere except the torn tail of
        │   │                         the head segment
        │   ├── MissingSegment        a segment that must exist is gone (head, only, gap)
        │   ├── SequenceGap           a segment's base_seq != the previous one's next_seq
        │   ├── CorruptManifest       queue.manifest: both slots invalid, or missing
        │   └── CorruptCursor         a reader cursor file whose both slots are invalid
        ├── WriterLockedError         a second writer tried to open the same queue
        ├── JournalClosedError        use of a closed writer or reader
        ├── RecordTooLarge            (also a ValueError) payload can never fit a segment
        ├── SequenceUnavailable       seek() to a sequence that retention already deleted
        └── JournalIOError            (also an OSError) an I/O call failed
            └── JournalFull           ENOSPC/EDQUOT: disk or quota is full

``JournalIOError`` subclasses :class:`OSError` so existing ``except OSError`` code keeps
working; it keeps the original ``errno`` and chains the original exception.
Damage (every :class:`JournalFormatError`) also carries ``first_seq`` / ``last_seq``:
the range of sequence numbers that cannot be read because of it (``last_seq`` is
``None`` when the end is unknown), and the message ends with e.g. ``seqs 1353..1999
unreadable``.  Recovery never cuts damage; only :func:`whistle.journal.truncate_after`
does, on an explicit request.

``JournalFull`` is raised *before* anything is published: records appended before the
failure are never lost, and the writer remains usable once space is freed.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import final

__all__ = [
    "BadSegmentError",
    "CorruptCursor",
    "CorruptManifest",
    "CorruptRecord",
    "JournalClosedError",
    "JournalError",
    "JournalFormatError",
    "JournalFull",
    "JournalIOError",
    "MissingSegment",
    "NotAJournalError",
    "RecordTooLarge",
    "SequenceGap",
    "SequenceUnavailable",
    "WriterLockedError",
    "seq_range_text",
    "wrap_os_error",
]

_FULL_ERRNOS = frozenset({_errno.ENOSPC, _errno.EDQUOT})


def _where(path: str | os.PathLike[str] | None, offset: int | None) -> str:
    if path is None:
        return ""
    if offset is None:
        return f" [{os.fspath(path)}]"
    return f" [{os.fspath(path)} @ offset {offset}]"


class JournalError(Exception):
    """Base class of every error raised by :mod:`whistle.journal`.

    ``path`` names the file or directory involved (or ``None``); ``offset`` is the
    byte offset inside ``path`` when the error concerns a position in a file.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        offset: int | None = None,
    ) -> None:
        self.path: str | None = None if path is None else os.fspath(path)
        self.offset: int | None = offset
        self.reason = message
        super().__init__(message + _where(path, offset))


@final
class NotAJournalError(JournalError):
    """The path exists and contains files, but no valid queue metadata file."""


def seq_range_text(first: int | None, last: int | None) -> str:
    """``"seqs 5..9 unreadable"`` (``"seqs 5.. unreadable"`` when the end is unknown)."""
    if first is None:
        return ""
    if last is None:
        return f"seqs {first}.. unreadable"
    if last < first:
        return "no sequence lost"
    return f"seqs {first}..{last} unreadable"


class JournalFormatError(JournalError):
    """A journal file exists but does not have the expected on-disk format (damage).

    ``first_seq`` .. ``last_seq`` is the range of sequence numbers the damage makes
    unreadable (``None`` when unknown; ``last_seq`` ``None`` with a ``first_seq`` means
    "from ``first_seq`` to the end").
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        offset: int | None = None,
        first_seq: int | None = None,
        last_seq: int | None = None,
    ) -> None:
        self.first_seq = first_seq
        self.last_seq = last_seq
        seqs = seq_range_text(first_seq, last_seq)
        super().__init__(f"{message}: {seqs}" if seqs else message, path=path, offset=offset)
        self.reason = message


@final
class BadSegmentError(JournalFormatError):
    """A segment file has a wrong magic, version, size, id or header, or its seal
    (``end_offset`` / ``next_seq``) disagrees with the records it holds."""


@final
class CorruptRecord(JournalFormatError):
    """A record failed validation where the journal says records must be.

    Only a broken record at the *tail* of the head (last, active) segment, after its
    last committed record and with nothing valid after it, is the signature of a torn
    write and is cut off on recovery.  Anything else (inside a sealed segment, or
    followed by valid records) is damage and is never skipped silently.
    """


@final
class MissingSegment(JournalFormatError):
    """A segment the queue's manifest or its neighbours say must exist is absent
    (the head deleted, the only segment deleted, a gap in segment ids)."""


@final
class SequenceGap(JournalFormatError):
    """A segment's ``base_seq`` differs from the previous segment's ``next_seq``."""


@final
class CorruptManifest(JournalFormatError):
    """``queue.manifest`` is unreadable (both slots invalid) or missing where required."""


@final
class CorruptCursor(JournalFormatError):
    """A reader cursor file holds data but neither of its two slots is valid."""


@final
class WriterLockedError(JournalError):
    """Another writer (this or another process) holds the queue's writer lock."""


@final
class JournalClosedError(JournalError):
    """The writer or reader was already closed."""


@final
class RecordTooLarge(JournalError, ValueError):
    """A payload is larger than what an empty segment can hold."""


@final
class SequenceUnavailable(JournalError):
    """The requested sequence number is older than the oldest retained record."""


class JournalIOError(JournalError, OSError):
    """An operating-system call failed while reading or writing the journal.

    ``errno`` is copied from the underlying :class:`OSError` (also chained as
    ``__cause__``).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        offset: int | None = None,
        errno: int | None = None,
    ) -> None:
        JournalError.__init__(self, message, path=path, offset=offset)
        self.errno = errno

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.reason


@final
class JournalFull(JournalIOError):
    """The file system reported ENOSPC/EDQUOT; nothing already appended is lost."""


def wrap_os_error(
    exc: OSError, action: str, path: str | os.PathLike[str] | None, offset: int | None = None
) -> JournalIOError:
    """Convert an :class:`OSError` into :class:`JournalFull` or :class:`JournalIOError`.

    The caller is expected to ``raise wrap_os_error(...) from exc``.  Exceptions that
    already belong to the journal family are returned unchanged.
    """
    if isinstance(exc, JournalIOError):
        return exc
    code = exc.errno
    detail = exc.strerror or str(exc)
    if code in _FULL_ERRNOS:
        return JournalFull(
            f"journal is full while {action}: {detail}", path=path, offset=offset, errno=code
        )
    return JournalIOError(
        f"I/O error while {action}: {detail}", path=path, offset=offset, errno=code
    )
