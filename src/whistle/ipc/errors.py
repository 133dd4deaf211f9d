"""Errors raised by the shared-memory IPC layer.

Hierarchy::

    Exception
    └── IpcError                    any failure of the IPC layer
        ├── RingTimeout             a blocking call ran out of time (also a TimeoutError)
        │   ├── RingFull            push() could not find room before its timeout
        │   └── RingEmpty           pop() found nothing before its timeout
        ├── RingClosed              the producer marked the ring closed and it is drained
        └── RingCorrupted           the block is not a ring of ours, or its contents are invalid

Misuse that does not depend on the other side (a capacity that is not a power of two, a
record larger than the ring's maximum) raises the built-in ``ValueError`` instead.
"""

from __future__ import annotations

from typing import final

__all__ = [
    "IpcError",
    "RingClosed",
    "RingCorrupted",
    "RingEmpty",
    "RingFull",
    "RingTimeout",
]


class IpcError(Exception):
    """Base class of every error raised by :mod:`whistle.ipc`."""


class RingTimeout(IpcError, TimeoutError):
    """A blocking ring operation did not complete before its deadline."""


@final
class RingFull(RingTimeout):
    """The ring stayed full until the push deadline passed."""


@final
class RingEmpty(RingTimeout):
    """The ring stayed empty until the pop deadline passed."""


@final
class RingClosed(IpcError):
    """The producer has marked the ring closed and every record has been consumed."""


@final
class RingCorrupted(IpcError):
    """The shared block is not a whistle ring (magic, version, sizes) or holds a bad record."""
