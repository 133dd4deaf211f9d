"""Golden scenarios: every ``tests/golden/NAME.jsonl`` run in-process must print exactly
``tests/golden/NAME.expected.jsonl``.

The expected files were derived by hand from ``docs/matching-rules.md`` and checked against
the runner; they are reviewed like code. ``WHISTLE_REGEN_GOLDEN=1`` rewrites them from the
current output (then review the diff!) except for the files in ``KNOWN_ENGINE_DISCREPANCIES``,
which keep the contract's answer while the engine disagrees (strict xfail: when the engine is
fixed the test XPASSes and fails, and the entry must be removed).

A scenario containing the line ``# on-error: continue`` runs with ``on_error="continue"``.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from whistle.scenario import encode_line, run_scenario

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
REGEN = os.environ.get("WHISTLE_REGEN_GOLDEN") == "1"

KNOWN_ENGINE_DISCREPANCIES: dict[str, str] = {}


def scenarios() -> list[Path]:
    return sorted(p for p in GOLDEN.glob("*.jsonl") if not p.name.endswith(".expected.jsonl"))


def expected_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(".jsonl")] + ".expected.jsonl")


def on_error_of(text: str) -> str:
    return "continue" if "# on-error: continue" in text.splitlines() else "stop"


def run_golden(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    out = run_scenario(text.splitlines(), on_error=on_error_of(text))
    return b"".join(encode_line(obj) for obj in out).decode("utf-8")


def readable_diff(expected: str, actual: str, name: str) -> str:
    diff = difflib.unified_diff(
        expected.splitlines(),
        actual.splitlines(),
        fromfile=f"{name}.expected.jsonl",
        tofile=f"{name} (actual)",
        lineterm="",
    )
    return "\n".join(diff)


def _params() -> list[object]:
    out: list[object] = []
    for path in scenarios():
        name = path.name[: -len(".jsonl")]
        marks = []
        if name in KNOWN_ENGINE_DISCREPANCIES:
            marks.append(pytest.mark.xfail(reason=KNOWN_ENGINE_DISCREPANCIES[name], strict=True))
        out.append(pytest.param(path, id=name, marks=marks))
    return out


def test_golden_directory_is_complete() -> None:
    paths = scenarios()
    assert len(paths) >= 20
    for path in paths:
        assert expected_path(path).exists(), f"{path.name} has no expected file"
    for exp in GOLDEN.glob("*.expected.jsonl"):
        source = exp.with_name(exp.name[: -len(".expected.jsonl")] + ".jsonl")
        assert source.exists(), f"{exp.name} has no scenario"


@pytest.mark.parametrize("path", _params())
def test_golden(path: Path) -> None:
    name = path.name[: -len(".jsonl")]
    actual = run_golden(path)
    exp = expected_path(path)
    if REGEN and name not in KNOWN_ENGINE_DISCREPANCIES:
        exp.write_text(actual, encoding="utf-8")
        return
    expected = exp.read_text(encoding="utf-8")
    if actual != expected:
        pytest.fail(f"golden {name} differs:\n{readable_diff(expected, actual, name)}")


def test_output_is_deterministic() -> None:
    for path in scenarios():
        assert run_golden(path) == run_golden(path), path.name
