"""Errors of whistle.metrics; raised on setup and by readers, never by ``record``.

::

    MetricsError                 (Exception)
    ├── BlockNotFound            no shared-memory block by that name (nothing running, or typo)
    ├── BlockFormatError         (also ValueError): the block is not a metrics block, has another
    │                            version, or its header contradicts its size
    ├── SnapshotBusy             a stage stayed mid-publish for the whole read timeout (its writer
    │                            is stuck, or was killed while publishing)
    └── StageClaimed             another live process already publishes that stage
"""

from __future__ import annotations

__all__ = ["BlockFormatError", "BlockNotFound", "MetricsError", "SnapshotBusy", "StageClaimed"]


class MetricsError(Exception):
    """Base of every whistle.metrics error."""


class BlockNotFound(MetricsError):
    """No metrics block exists under that name (the pipeline is not running, or another name)."""


class BlockFormatError(MetricsError, ValueError):
    """A shared-memory block that is not a metrics block of this version."""


class SnapshotBusy(MetricsError):
    """A stage could not be read consistently within the timeout."""


class StageClaimed(MetricsError):
    """A stage is already published by another live process."""
