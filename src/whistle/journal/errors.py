"""Errors raised by the journal layer.

Every error the journal raises on purpose derives from :class:`JournalError`, so a
caller can catch the whole family with one ``except`` clause and still tell the
cases apart.  Errors that concern a particular file carry ``path`` and, where a
byte position is meaningful, ``offset`` attributes; both also appear in the message.

Hierarchy::

    Exception
    └── JournalError
        ├── NotAJournalError          directory has files but no/invalid queue metadata
        ├── JournalFormatError        a file is not in the expected on-disk format
        │   ├── BadSegmentError       wrong magic / version / header CRC / size
        │   └── CorruptRecord         CRC mismatch or broken record in the middle of a segment
        ├── WriterLockedError         a second writer tried to open the same queue
        ├── JournalClosedError        use of a closed writer or reader
        ├── RecordTooLarge            (also a ValueError) payload can never fit a segment
        ├── SequenceUnavailable       seek() to a sequence that retention already deleted
        └── JournalIOError            (also an OSError) an I/O call failed
            └── JournalFull           ENOSPC/EDQUOT: disk or quota is full

``JournalIOError`` subclasses :class:`OSError` so existing ``except OSError`` code keeps
working; it keeps the original ``errno`` and chains the original exception.
``JournalFull`` is raised *before* anything is published: records appended before the
failure are never lost, and the writer remains usable once space is freed.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import final

__all__ = [
    "BadSegmentError",
    "CorruptRecord",
    "JournalClosedError",
    "JournalError",
    "JournalFormatError",
    "JournalFull",
    "JournalIOError",
    "NotAJournalError",
    "RecordTooLarge",
    "SequenceUnavailable",
    "WriterLockedError",
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


class JournalFormatError(JournalError):
    """A journal file exists but does not have the expected on-disk format."""


@final
class BadSegmentError(JournalFormatError):
    """A segment file has a wrong magic, an unsupported version or a bad header."""


@final
class CorruptRecord(JournalFormatError):
    """A committed record failed validation and is followed by valid records.

    A broken record at the *tail* of the head segment is the signature of a torn
    write and is silently cut off on recovery; a broken record in the *middle* of a
    segment is real corruption and is never skipped silently.
    """


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
