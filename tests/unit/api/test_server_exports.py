"""``whistle.api``'s exported names resolve, lazily, and are pinned."""

from __future__ import annotations

import subprocess
import sys

import pytest

import whistle.api


def test_every_exported_name_resolves() -> None:
    assert whistle.api.__all__ == sorted(whistle.api.__all__)
    for name in whistle.api.__all__:
        assert getattr(whistle.api, name) is not None, name
    with pytest.raises(AttributeError):
        _ = whistle.api.NoSuchName  # type: ignore[attr-defined]


def test_importing_the_package_loads_neither_server_nor_grpc() -> None:
    code = (
        "import sys, whistle.api; print('grpc' in sys.modules, 'whistle.api.server' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]
