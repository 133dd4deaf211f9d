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


def test_l2_probabilistic_models_use_the_seed_and_only_the_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from adversarial._bt import BUY, SELL, Script, Tape, fills, run
    from whistle.trading.backtest import LatencyConfig

    def tape() -> Tape:
        t = Tape().add(10, 1, BUY, 100, 1000).add(20, 90, SELL, 105, 100)
        t.add(200, 2, BUY, 100, 1000)  # behind us
        t.cancel(300, 1, 500)  # L2 cannot tell whose: the model draws
        return t.execute(400, 1, 500).execute(410, 2, 100)

    def once(model: str, seed: int) -> tuple[tuple[int, int, int, int], ...]:
        s = Script({100: lambda ctx: ctx.buy(50, 100)})
        lat = LatencyConfig(risk_ns=0)
        return tuple(fills(run(monkeypatch, tape(), s, latency=lat, queue_model=model, seed=seed)))

    assert {once("risk_averse", seed) for seed in range(4)} == {()}  # cancels never advance
    for model in ("power", "log"):
        seen = {seed: once(model, seed) for seed in range(12)}
        assert set(seen.values()) == {(), ((410, 100, 50, 1),)}  # both outcomes occur
        assert all(once(model, seed) == seen[seed] for seed in (0, 5, 11))


@pytest.mark.parametrize("interactive", [False, True])
def test_the_reported_ledger_is_the_ledger_of_the_reported_fills(interactive: bool) -> None:
    from whistle.trading.accounting import Ledger
    from whistle.trading.backtest import BacktestConfig, FeeConfig, LatencyConfig, run_backtest
    from whistle.trading.examples import MarketMaker

    cfg = BacktestConfig(
        data=str(ITCH),
        symbol="BOB",
        interactive=interactive,
        fees=FeeConfig(maker_ppm=-25, taker_ppm=37),
        latency=LatencyConfig(entry_ns=20_000, ack_ns=5_000),
    )
    r = run_backtest(cfg, MarketMaker())
    ledger = Ledger()
    for f in r.fills:
        ledger.fill(f.side, f.price, f.qty, f.fee)
    assert r.fills
    assert msgspec.structs.replace(ledger.snapshot(), symbol_id=r.ledger.symbol_id) == r.ledger
    assert r.timeline[-1].equity_tl == r.pnl()["total"]
    assert r.timeline[-1].position == ledger.position
