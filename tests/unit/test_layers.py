"""Imports only go downward (ARCHITECTURE.md): checked on the source of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "whistle"

# Layer of each package; a module may import its own package or strictly lower layers.
RANK = {
    "shm": -1,  # POSIX shared-memory primitives (standard library only) under ipc and metrics
    "metrics": 0,  # latency recorders, shared-memory block, Prometheus: any layer may call it
    "core": 1,
    "book": 2,
    "engine": 3,
    "ipc": 4,
    "journal": 4,
    "coord": 5,
    "feed": 6,
    "trading": 7,
    "scenario": 7,
    "orchestrator": 8,
    "api": 9,
    "cluster": 10,  # a cluster front end implements whistle.api's backend protocol
    "bench": 11,
    "demo": 11,
    "tools": 12,
    "cli": 13,
    "": 11,  # the `whistle` facade itself (re-exports layers 1-5); only the top may use it
}
# Layers that must not know about orders: only the standard library and third-party packages.
NO_WHISTLE = {"shm", "ipc", "journal", "metrics"}
# ... except for these stdlib-only packages beneath them.
NO_WHISTLE_MAY_IMPORT = {"ipc": {"shm"}, "metrics": {"shm"}}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.parent != SRC)


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "whistle":
                found.add(parts[1] if len(parts) > 1 else "")
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_downward(path: Path):
    package = path.relative_to(SRC).parts[0]
    assert package in RANK, f"{package} has no layer in RANK (add it, and to ARCHITECTURE.md)"
    for imported in _imported_packages(path):
        if imported == package:
            continue
        if package in NO_WHISTLE and imported not in NO_WHISTLE_MAY_IMPORT.get(package, set()):
            pytest.fail(f"{path.name}: whistle.{package} must not import whistle.{imported}")
        assert imported in RANK, f"{path.name} imports unknown whistle.{imported}"
        assert RANK[imported] < RANK[package], (
            f"{path.relative_to(SRC)}: layer {package} ({RANK[package]}) imports"
            f" {imported} ({RANK[imported]})"
        )
