"""R1 adversarial: byte-identical fills across runs AND across fresh interpreters with
different hash seeds (set / dict-of-str iteration order must not leak into fills), for the
FIFO, seeded L2 and interactive models."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

ITCH = Path("/work/shared/data/itch50-simulated/ex20101224.TEST_ITCH_50")
if not ITCH.is_file():  # pragma: no cover - data absent
    ITCH = Path(__file__).resolve().parents[3] / "shared" / "data" / ITCH.parent.name / ITCH.name

pytestmark = pytest.mark.skipif(not ITCH.is_file(), reason="shared ITCH sample absent")

SCRIPT = r"""
import hashlib, json, sys
import msgspec
from whistle.trading.backtest import BacktestConfig, LatencyConfig, run_backtest
from whistle.trading.examples import MarketMaker, ImbalanceTaker
out = {}
for name, kw in json.loads(sys.argv[2]).items():
    strat = ImbalanceTaker() if name.startswith("taker") else MarketMaker()
    cfg = BacktestConfig(data=sys.argv[1], symbol="BOB",
                         latency=LatencyConfig(feed_ns=3_000, entry_ns=20_000, ack_ns=7_000),
                         **kw)
    r = run_backtest(cfg, strat)
    blob = msgspec.json.encode([r.fills, r.timeline, r.ledger, r.rejects, r.order_to_fill_ns])
    out[name] = [hashlib.sha256(blob).hexdigest(), len(r.fills)]
print(json.dumps(out, sort_keys=True))
"""

CONFIGS = {
    "fifo": {},
    "power3": {"queue_model": "power", "seed": 3},
    "interactive": {"interactive": True},
    "taker_fifo": {},
}


def _run(hashseed: str) -> dict[str, list[object]]:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ITCH), json.dumps(CONFIGS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_fresh_processes_with_different_hash_seeds_give_identical_fills() -> None:
    a = _run("1")
    b = _run("4242")
    assert a == b
    assert a["fifo"][1]  # the maker trades on this file
    # in this process too
    from whistle.trading.backtest import BacktestConfig, LatencyConfig, run_backtest
    from whistle.trading.examples import MarketMaker

    cfg = BacktestConfig(
        data=str(ITCH),
        symbol="BOB",
        latency=LatencyConfig(feed_ns=3_000, entry_ns=20_000, ack_ns=7_000),
        queue_model="power",
        seed=3,
    )
    r = run_backtest(cfg, MarketMaker())
    blob = msgspec.json.encode([r.fills, r.timeline, r.ledger, r.rejects, r.order_to_fill_ns])
    assert [hashlib.sha256(blob).hexdigest(), len(r.fills)] == a["power3"]
