"""``whistle orchestrator``: commands against a stopped and a running orchestrator, kill -9."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner

from whistle.cli.main import main

if TYPE_CHECKING:
    from pathlib import Path

MM = "whistle.trading.examples:MarketMaker"


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["orchestrator", *args])
    return result.exit_code, result.output


def listing(data_dir: Path) -> list[dict[str, Any]]:
    code, out = cli("list", "--json", "--data-dir", str(data_dir))
    assert code == 0, out
    items: list[dict[str, Any]] = json.loads(out)
    return items


def statuses(data_dir: Path) -> dict[str, str]:
    return {i["symbol"]: i["status"] for i in listing(data_dir)}


def wait_for(cond: Any, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def run(data_dir: Path, *extra: str) -> subprocess.Popen[str]:
    # Output to a file: a pipe nobody reads would block the live table once full.
    path = data_dir.parent / f"run-{time.monotonic_ns()}.log"
    with path.open("w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "whistle.cli",
                "orchestrator",
                "run",
                "--data-dir",
                str(data_dir),
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


def test_commands_against_a_stopped_then_a_running_orchestrator_and_kill_9(tmp_path: Path) -> None:
    d = tmp_path / "orch"
    d.mkdir()
    # stopped: validated here, queued for the next start
    code, out = cli("add", "AAA", "--strategy", MM, "--data-dir", str(d))
    assert code == 0, out
    assert "queued AAA-add-1" in out
    assert statuses(d) == {"AAA": "QUEUED add"}
    code, out = cli(
        "add", "BAD", "--strategy", "whistle.trading.examples:Nope", "--data-dir", str(d)
    )
    assert code == 65
    assert "Nope" in out
    code, out = cli("remove", "NEVER", "--data-dir", str(d))
    assert code == 65
    assert "NEVER is not in the registry" in out

    proc = run(d, "--duration", "120")
    try:
        wait_for(lambda: statuses(d).get("AAA") == "ACTIVE", "the queued add to be applied")
        for symbol, engine in (("BBB", "simple"), ("CCC", "durable")):
            code, out = cli(
                "add", symbol, "--strategy", MM, "--engine", engine, "--data-dir", str(d)
            )
            assert code == 0, out
            assert out.strip() == "added (ACTIVE)"
        code, out = cli("add", "BBB", "--strategy", MM, "--data-dir", str(d))
        assert out.strip() == "exists (ACTIVE)"
        code, out = cli("pause", "BBB", "--json", "--data-dir", str(d))
        assert code == 0, out
        assert json.loads(out)["row"]["status"] == "PAUSED"
        time.sleep(2.0)  # let them trade a little (not an assertion on time)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert statuses(d) == {"AAA": "ACTIVE", "BBB": "PAUSED", "CCC": "ACTIVE"}
    again = run(d, "--duration", "1", "--no-simulate")
    again.wait(timeout=120)
    out = max(tmp_path.glob("run-*.log"), key=lambda p: p.stat().st_mtime).read_text()
    assert again.returncode == 0, out
    finals = re.findall(r"(AAA|BBB|CCC) (ACTIVE|PAUSED) position", out)
    assert finals == [("AAA", "ACTIVE"), ("BBB", "PAUSED"), ("CCC", "ACTIVE")], out
