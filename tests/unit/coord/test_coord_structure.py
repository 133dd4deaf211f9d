"""Inside ``whistle.coord`` imports go one way: errors < hosts < runtime < durability < venue.

Checked on the source of every module (top-level, function-level and ``TYPE_CHECKING``
imports alike), as ``tests/unit/test_layers.py`` does for the packages of ``whistle``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import whistle.coord

COORD = Path(whistle.coord.__file__).resolve().parent

# Rank of each part; a module imports its own part or strictly lower ones. The package's
# ``__init__`` (the public exports) may import every part.
RANK = {"errors": 0, "hosts": 1, "runtime": 2, "durability": 3, "venue": 4}


def _part(path: Path) -> str:
    rel = path.relative_to(COORD)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _coord_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path.name}: relative import"
            names = [node.module]
            if node.module == "whistle.coord":
                names = [f"whistle.coord.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["whistle", "coord"] and len(parts) > 2:
                found.add(parts[2])
    return found


def _modules() -> list[Path]:
    return sorted(p for p in COORD.rglob("*.py") if p != COORD / "__init__.py")


def test_every_part_has_a_rank():
    parts = {_part(p) for p in _modules()}
    assert parts == set(RANK)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(COORD)))
def test_parts_import_one_way(path: Path):
    part = _part(path)
    for imported in _coord_imports(path):
        assert imported in RANK, f"{path.name} imports unknown whistle.coord.{imported}"
        assert RANK[imported] <= RANK[part], (
            f"{path.relative_to(COORD)}: {part} ({RANK[part]}) imports {imported}"
            f" ({RANK[imported]})"
        )


def test_sub_packages_say_the_order():
    for part in ("hosts", "runtime", "durability", "venue"):
        doc = (COORD / part / "__init__.py").read_text()
        assert "``errors`` < ``hosts`` < ``runtime`` < ``durability`` < ``venue``" in doc, part


def test_public_exports_come_from_the_parts():
    for name in whistle.coord.__all__:
        module = getattr(getattr(whistle.coord, name), "__module__", "")
        if module.startswith("whistle.coord."):
            assert module.split(".")[2] in RANK, (name, module)
