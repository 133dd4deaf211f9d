"""Exceptions of the feed layer: a file that cannot be read as the format it claims.

Hierarchy::

    WhistleError
    └── FeedError                  base of every feed exception
        └── FeedFormatError        the bytes are not the format (unknown message type,
            │                      wrong column count, a value that does not parse)
            └── TruncatedFileError the file ends inside a message

Every message names the file and where in it (``byte offset N`` for binary formats,
``line N`` for text), what was expected and what was seen. ``path``, ``offset`` and
``line`` are also attributes (None when not known).
"""

from __future__ import annotations

from whistle.core.errors import WhistleError

__all__ = ["FeedError", "FeedFormatError", "TruncatedFileError"]


class FeedError(WhistleError):
    """Base class of the feed layer's exceptions."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        offset: int | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset
        self.line = line


class FeedFormatError(FeedError, ValueError):
    """Raised when a file's content is not the format being decoded."""


class TruncatedFileError(FeedFormatError):
    """Raised when a file ends in the middle of a message."""
