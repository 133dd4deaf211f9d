"""``whistle script run``: the click command in-process, and one real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def expected(name: str) -> str:
    return (GOLDEN / f"{name}.expected.jsonl").read_text(encoding="utf-8")


def test_subprocess_runs_a_golden() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "whistle.cli", "script", "run", str(GOLDEN / "stop.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected("stop")
    assert proc.stderr == ""


def test_continue_reports_on_stderr_and_exits_1() -> None:
    from whistle.cli.script import script

    path = GOLDEN / "malformed_continue.jsonl"
    result = CliRunner().invoke(script, ["run", str(path), "--on-error", "continue"])
    assert result.exit_code == 1
    assert result.stdout == expected("malformed_continue")
    assert f"whistle script: {path}: line 6: invalid JSON" in result.stderr
    assert "24 line(s) failed" in result.stderr


def test_stop_is_the_default(tmp_path: Path) -> None:
    from whistle.cli.script import script

    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        script, ["run", str(GOLDEN / "malformed_stop.jsonl"), "--output", str(out)]
    )
    assert result.exit_code == 1
    assert out.read_text(encoding="utf-8") == expected("malformed_stop")
    assert "(stopped at the first)" in result.stderr


def test_stdin() -> None:
    from whistle.cli.script import script

    text = (GOLDEN / "multi_symbol.jsonl").read_text(encoding="utf-8")
    result = CliRunner().invoke(script, ["run", "-"], input=text)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == expected("multi_symbol")
