# Layer rule: whistle.ipc may import only the standard library, msgspec and whistle.shm -- nothing
# else from whistle.  It moves opaque byte records between processes and knows nothing about orders.
"""Shared-memory IPC: single-producer single-consumer byte rings between processes."""

from __future__ import annotations

from whistle.ipc.errors import (
    IpcError,
    RingClosed,
    RingCorrupted,
    RingEmpty,
    RingFull,
    RingTimeout,
)
from whistle.ipc.ring import BytesLike, SpscRing
from whistle.ipc.shm import DEFAULT_PREFIX, cleanup_stale, list_blocks, make_name
from whistle.ipc.wait import WaitStrategy

__all__ = [
    "DEFAULT_PREFIX",
    "BytesLike",
    "IpcError",
    "RingClosed",
    "RingCorrupted",
    "RingEmpty",
    "RingFull",
    "RingTimeout",
    "SpscRing",
    "WaitStrategy",
    "cleanup_stale",
    "list_blocks",
    "make_name",
]
