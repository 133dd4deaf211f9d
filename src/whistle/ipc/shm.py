"""Named POSIX shared-memory blocks, as whistle.ipc offers them: see ``whistle.shm``.

The code lives in the stdlib-only ``whistle.shm`` (beneath both whistle.ipc and
whistle.metrics, which share it); this module keeps ipc's names for it.
"""

from __future__ import annotations

from whistle.shm import (
    DEFAULT_PREFIX,
    SHM_DIR,
    cleanup_stale,
    creator_pid,
    list_blocks,
    make_name,
    open_block,
    pid_alive,
    unlink_block,
)

__all__ = [
    "DEFAULT_PREFIX",
    "SHM_DIR",
    "cleanup_stale",
    "creator_pid",
    "list_blocks",
    "make_name",
    "open_block",
    "pid_alive",
    "unlink_block",
]
