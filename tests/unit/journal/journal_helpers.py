"""Helpers for the journal unit tests (imported by name; unique module name)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from whistle.journal import QueueConfig

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SMALL = 4096


def wait_until(pred: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``pred`` until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.005)


def small_config(**kw: object) -> QueueConfig:
    kw.setdefault("segment_size", SMALL)
    return QueueConfig(**kw)  # type: ignore[arg-type]


def seg_path(qdir: Path, seg_id: int) -> Path:
    return qdir / f"{seg_id:016x}.wseg"


def flip_bit(path: Path, offset: int) -> None:
    """Flip bit 0 of the byte at ``offset`` of ``path`` in place."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))
