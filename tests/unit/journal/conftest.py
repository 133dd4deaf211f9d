"""Fixtures for the journal unit tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from journal_helpers import small_config

from whistle.journal import Queue, QueueWriter

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def qdir(tmp_path: Path) -> Path:
    return tmp_path / "q"


@pytest.fixture
def writer(qdir: Path) -> Iterator[QueueWriter]:
    w = Queue.open_publisher(qdir, small_config())
    yield w
    w.close()
