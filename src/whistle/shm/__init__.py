# Layer rule: whistle.shm imports only the standard library -- nothing from whistle. It is the
# layer under whistle.ipc (rings) and whistle.metrics (the metrics block), which share it.
"""Named POSIX shared-memory blocks: naming, untracked open/unlink, stale-block reclamation.

Naming: every block we create is called ``<prefix><creator pid>-<tag->-<random hex>`` (default
prefix ``whistle-``), so a block left in ``/dev/shm`` by a crashed run can be recognised and its
creator checked for liveness; see :func:`cleanup_stale`.

Resource tracker: on Python < 3.13 ``SharedMemory`` registers *every* block it opens, created or
attached, with ``multiprocessing.resource_tracker``, which unlinks (and warns about) whatever is
still registered when the tracker shuts down.  The often-quoted fix — attach, then call
``resource_tracker.unregister`` — is wrong for children started with spawn/forkserver/fork: they
share the parent's tracker, whose registry is a *set*, so the child's unregister also erases the
owner's registration and the owner's later ``unlink()`` makes the tracker print a ``KeyError``
traceback.  We instead keep our blocks out of the tracker entirely: while one of our blocks is
being opened or unlinked, ``register``/``unregister`` calls for *that exact name* are dropped
(calls for any other name pass through).  On 3.13+ ``track=False`` does the same thing.
Lifetime is then managed by us: the owner unlinks on ``close()`` (and from a finaliser at
interpreter exit), and :func:`cleanup_stale` reclaims blocks of processes that died.

Users: ``whistle.ipc`` (its rings; ``whistle.ipc.shm`` re-exports this module) and
``whistle.metrics`` (its metrics block), which may import nothing else from whistle.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import threading
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Sized

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
    "unlink_name",
]

DEFAULT_PREFIX = "whistle-"
# Linux exposes POSIX shared memory as files here; used only to list and reclaim blocks.
SHM_DIR = Path("/dev/shm")  # noqa: S108 - not a temp file: the POSIX shm mount point

_SHM_RTYPE = "shared_memory"
_TRACKER_LOCK = threading.Lock()


def make_name(tag: str = "", *, prefix: str = DEFAULT_PREFIX) -> str:
    """A fresh block name ``<prefix><pid>-[<tag>-]<8 hex>`` that :func:`cleanup_stale` parses."""
    if "/" in prefix or "/" in tag:
        raise ValueError(f"shared memory names cannot contain '/', seen {prefix!r} / {tag!r}")
    middle = f"{tag}-" if tag else ""
    return f"{prefix}{os.getpid()}-{middle}{secrets.token_hex(4)}"


def creator_pid(name: str, prefix: str = DEFAULT_PREFIX) -> int | None:
    """The creator pid encoded in ``name`` by :func:`make_name`, or None if it has none."""
    if not name.startswith(prefix):
        return None
    digits, sep, _rest = name[len(prefix) :].partition("-")
    if not sep or not digits.isascii() or not digits.isdigit():
        return None
    pid = int(digits)
    return pid if pid > 0 else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts as alive until reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@contextlib.contextmanager
def _untracked(name: str) -> Iterator[None]:
    """Drop resource-tracker (un)registrations of exactly ``name`` for the duration."""
    key = "/" + name  # SharedMemory prepends the slash on POSIX
    with _TRACKER_LOCK:
        original_register = resource_tracker.register
        original_unregister = resource_tracker.unregister

        def register(res: Sized, rtype: str) -> None:
            if res != key or rtype != _SHM_RTYPE:
                original_register(res, rtype)

        def unregister(res: Sized, rtype: str) -> None:
            if res != key or rtype != _SHM_RTYPE:
                original_unregister(res, rtype)

        # The stub types these module attributes as unbound methods, hence the ignores.
        resource_tracker.register = register  # type: ignore[assignment]
        resource_tracker.unregister = unregister  # type: ignore[assignment]
        try:
            yield
        finally:
            resource_tracker.register = original_register
            resource_tracker.unregister = original_unregister


def open_block(name: str, *, create: bool, size: int = 0) -> SharedMemory:
    """Create (``create=True``, exclusive) or attach to the block ``name``, untracked."""
    if sys.version_info >= (3, 13):
        return SharedMemory(name, create=create, size=size, track=False)
    with _untracked(name):
        return SharedMemory(name, create=create, size=size)


def unlink_block(block: SharedMemory) -> bool:
    """Remove the block's name (existing mappings stay valid); False if it was already gone."""
    name = block.name
    try:
        if sys.version_info >= (3, 13):
            block.unlink()  # untracked blocks do not talk to the tracker on 3.13+
        else:
            with _untracked(name):
                block.unlink()
    except FileNotFoundError:
        return False
    return True


def unlink_name(name: str) -> bool:
    """Remove the block called ``name`` (no block object needed, e.g. in a finaliser).

    False if there was no such block. Mappings of it stay valid.
    """
    try:
        if sys.version_info >= (3, 13):
            SharedMemory(name, track=False).unlink()
        else:
            with _untracked(name):
                block = SharedMemory(name)
                block.close()
                block.unlink()
    except FileNotFoundError:
        return False
    return True


def list_blocks(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Names of the blocks in ``/dev/shm`` starting with ``prefix`` (sorted; [] if no /dev/shm)."""
    try:
        entries = os.listdir(SHM_DIR)
    except FileNotFoundError:
        return []
    return sorted(entry for entry in entries if entry.startswith(prefix))


def cleanup_stale(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Unlink blocks named ``<prefix><pid>-...`` whose creating process no longer exists.

    This reclaims shared memory left behind by a crashed (e.g. SIGKILLed) earlier run.  Blocks
    whose creator is alive, and names that do not carry a pid right after ``prefix``, are left
    alone.  Returns the names removed.  Caveats: a pid that has been reused keeps its block
    alive (conservative); a dead child that has not been reaped yet is a zombie and still counts
    as alive, so join it first.
    """
    removed: list[str] = []
    for entry in list_blocks(prefix):
        pid = creator_pid(entry, prefix)
        if pid is None or pid_alive(pid):
            continue
        try:
            os.unlink(SHM_DIR / entry)
        except FileNotFoundError:  # another cleaner won the race
            continue
        removed.append(entry)
    return removed
