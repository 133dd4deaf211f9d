"""``whistle pipeline run --remote`` and ``whistle orchestrator run --remote`` against a real
``whistle serve`` process: the commands as a user runs them, fills seen at the server."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from server_harness import KEYS, auth_config

from whistle.api.client import Client
from whistle.bench.api import ServerProcess
from whistle.core.events import OrderFilled

if TYPE_CHECKING:
    from collections.abc import Iterator

ITCH = Path(__file__).resolve().parents[4] / "shared/data/itch50-simulated/ex20101224.TEST_ITCH_50"
MM = "whistle.trading.examples:MarketMaker"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    config = tmp_path / "keys.json"
    config.write_bytes(msgspec.json.encode(auth_config()))
    process = ServerProcess(config, instruments=["AAA:0.01:1"])
    process.start()
    yield process
    process.stop()


def whistle(*args: str, log: Path) -> subprocess.Popen[str]:
    # Output to a file: a pipe nobody reads would block a live table once full.
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "whistle", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )


class Fills:
    """Count an account's fills at the server from its order-update stream (admin key)."""

    def __init__(self, address: str, account: int) -> None:
        self.client = Client(address, api_key=KEYS["root"][0])
        self.stream = self.client.order_updates(account)
        assert self.stream.wait_ready()
        self.fills: list[OrderFilled] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for events in self.stream:
            self.fills += [e for e in events if isinstance(e, OrderFilled)]

    def close(self) -> None:
        self.stream.close()
        self.thread.join(30)
        self.client.close()


@pytest.mark.skipif(not ITCH.exists(), reason="shared ITCH sample not present")
def test_pipeline_run_remote_trades_on_the_server(server: ServerProcess, tmp_path: Path) -> None:
    log = tmp_path / "pipeline.log"
    proc = whistle(
        "pipeline",
        "run",
        "--data",
        str(ITCH),
        "--symbol",
        "BOB",
        "--strategy",
        MM,
        "--max-events",
        "6000",
        "--rate",
        "2000",
        "--remote",
        server.address,
        "--api-key",
        KEYS["root"][0],
        "--define",
        "--account",
        "7",
        "--json",
        log=tmp_path / "pipeline.log",
    )
    fills = Fills(server.address, 7)
    root = Client(server.address, api_key=KEYS["root"][0])
    bob = Client(server.address, api_key=KEYS["bob"][0])
    taken: list[Any] = []
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the pipeline did not finish"
            # Bob takes whatever the strategy quotes at the server while it runs.
            for order in root.open_orders(account=7):
                side = "sell" if order.side == 1 else "buy"
                taken += bob.submit(
                    order.symbol_id, side, qty_lots=1, price_ticks=order.price_ticks, tif="ioc"
                )
            time.sleep(0.02)
        out = log.read_text()
        assert proc.returncode == 0, out
        result = msgspec.json.decode(out.strip().splitlines()[-1])
        assert result["orders"] > 0
        assert result["failures"] == []
        assert result["open_orders"] == 0
        assert root.is_registered("BOB")  # --define put the feed's symbol on the server
        deadline = time.monotonic() + 30
        while not fills.fills and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fills.fills, "the strategy's quotes were filled at the server"
        assert any(type(e).__name__ == "TradeOccurred" for e in taken)
        assert root.open_orders(account=7) == []  # the run's end cancelled every quote
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        fills.close()
        root.close()
        bob.close()


def test_orchestrator_run_remote_trades_on_the_server(
    server: ServerProcess, tmp_path: Path
) -> None:
    data_dir = tmp_path / "orch"
    data_dir.mkdir()
    add = whistle(
        "orchestrator", "add", "AAA", "--strategy", MM, "--data-dir", str(data_dir),
        log=tmp_path / "add.log",
    )  # fmt: skip
    assert add.wait(120) == 0, (tmp_path / "add.log").read_text()
    fills = Fills(server.address, 1)  # the pair's account
    log = tmp_path / "run.log"
    proc = whistle(
        "orchestrator",
        "run",
        "--data-dir",
        str(data_dir),
        "--remote",
        server.address,
        "--api-key",
        KEYS["root"][0],
        "--duration",
        "120",
        log=log,
    )
    try:
        deadline = time.monotonic() + 120
        while len(fills.fills) < 3:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no fills of the pair at the server"
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(60)
        fills.close()
    out = log.read_text()
    assert proc.returncode == 0, out
    assert f"venue {server.address}" in out
    assert "AAA ACTIVE position" in out
    with Client(server.address, api_key=KEYS["root"][0]) as root:
        assert root.status("AAA").trades >= 3
