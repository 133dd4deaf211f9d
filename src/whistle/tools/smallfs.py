"""A small, real file system for disk-full tests: a size-limited tmpfs mount.

``mount_tmpfs(path, "2m")`` mounts a 2 MiB tmpfs on ``path`` (root only) and returns
``None``, or the reason the system refused; ``unmount(path)`` lazily unmounts it. A test
decides what a refusal means (the fault suite fails under ``CI=true``, skips otherwise).
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["mount_tmpfs", "unmount"]


def mount_tmpfs(path: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` (``mount -o size=``) on ``path``; return why not, or None."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        return f"mount -t tmpfs could not run: {exc}"
    if proc.returncode != 0:
        return f"mount -t tmpfs refused: {proc.stderr.strip() or f'exit {proc.returncode}'}"
    return None


def unmount(path: Path) -> None:
    """Unmount ``path`` lazily (best effort: a test's cleanup)."""
    argv = ["umount", "-l", str(path)]
    subprocess.run(argv, capture_output=True, check=False)  # noqa: S603 (fixed argv)
