"""R1 adversarial: hostile strategies and bad input give a clear error, never figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adversarial._bt import BUY, SELL, Script, Tape, run
from whistle.bench.pipeline import synthetic_events
from whistle.trading.backtest import BacktestConfig, BacktestError, run_backtest
from whistle.trading.examples import Noop
from whistle.trading.pipeline import PipelineConfig, StrategySpec, run_inprocess

from .hostile_strategies import ExitOnBbo, RaiseUnprintable

HERE = Path(__file__).resolve().parent
ITCH = Path("/work/shared/data/itch50-simulated/ex20101224.TEST_ITCH_50")


def tape() -> Tape:
    t = Tape()
    for i in range(40):
        t.add(100 + 10 * i, 1 + i, BUY, 100 - i % 3, 10)
        t.add(105 + 10 * i, 1000 + i, SELL, 105 + i % 3, 10)
    return t


def test_system_exit_in_a_callback_is_a_backtest_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BacktestError):
        run(monkeypatch, tape(), ExitOnBbo())


@pytest.mark.skipif(not ITCH.is_file(), reason="shared ITCH sample absent")
def test_cli_exits_non_zero_when_the_strategy_exits() -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "whistle"),
            "backtest",
            "--data",
            str(ITCH),
            "--format",
            "itch",
            "--symbol",
            "BOB",
            "--strategy",
            "adversarial.hostile_strategies:ExitOnBbo",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert proc.stdout.strip() == ""


def test_pipeline_isolates_a_strategy_raising_system_exit() -> None:
    events = synthetic_events(400, seed=1, instrument_id=1)
    config = PipelineConfig(
        symbols={"A": 1},
        strategies=[
            StrategySpec("adversarial.hostile_strategies:ExitOnBbo", "A"),
            StrategySpec("adversarial.hostile_strategies:Quoter", "A"),
        ],
    )
    result = run_inprocess(config, events)
    assert [f["strategy"] for f in result.failures] == ["ExitOnBbo"]


def test_bad_book_policy_is_a_config_error() -> None:
    cfg = BacktestConfig(data="x", symbol="S", feed_options={"book_policy": "whatever"})
    with pytest.raises(BacktestError, match="book_policy"):
        run_backtest(cfg, Noop())


def test_strategy_raising_in_on_order_update_gives_no_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Bad(Script):
        def on_order_update(self, ctx: object, update: object) -> None:
            raise LookupError("x")

    s = Bad({150: lambda ctx: ctx.buy(5, 100)})
    with pytest.raises(BacktestError, match="on_order_update"):
        run(monkeypatch, tape(), s)


def test_malformed_orders_are_refused_with_reasons_not_exceptions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def bad(ctx: object) -> None:
        c: object = ctx
        c.buy(5, -1)  # type: ignore[attr-defined]
        c.buy(0, 100)  # type: ignore[attr-defined]
        c.sell(2**62, 105)  # type: ignore[attr-defined]
        assert not c.cancel(999_999)  # type: ignore[attr-defined]

    r = run(monkeypatch, tape(), Script({150: bad}))
    assert r.fills == []
    assert sum(r.rejects.values()) == 3
    assert r.ledger.position == 0


def test_flood_is_capped_by_the_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    def flood(ctx: object) -> None:
        for _ in range(500):
            ctx.buy(1, 90)  # type: ignore[attr-defined]

    risk = {"default": {"max_order_rate": 10, "order_burst": 10}}
    r = run(monkeypatch, tape(), Script({150: flood}), risk=risk)
    assert r.orders == 10
    assert r.rejects == {"ORDER_RATE": 490}


@pytest.mark.parametrize("cut", [1, 7, 33])
def test_truncated_or_garbage_itch_gives_no_result(tmp_path: Path, cut: int) -> None:
    if not ITCH.is_file():
        pytest.skip("shared ITCH sample absent")
    raw = ITCH.read_bytes()[:200_000]
    bad = tmp_path / "bad.itch"
    bad.write_bytes(raw[: len(raw) - cut] if cut != 33 else raw[:5000] + os.urandom(64))
    with pytest.raises(BacktestError):
        run_backtest(BacktestConfig(data=str(bad), symbol="BOB"), Noop())


def test_strategy_cannot_move_risks_reference_price(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Tape().add(10, 1, BUY, 100, 10).add(20, 2, SELL, 102, 10)
    for i in range(10):
        t.add(100 + i * 10, 10 + i, BUY, 95, 1)

    def spoof(ctx: object) -> None:
        book = ctx.book  # type: ignore[attr-defined]
        book.best_bid, book.best_ask = 500, 502
        ctx.buy(1, 501)  # type: ignore[attr-defined]

    r = run(monkeypatch, t, Script({50: spoof}), risk={"default": {"collar_bps": 100}})
    assert r.rejects == {"PRICE_COLLAR": 1}
    assert r.fills == []


@pytest.mark.skipif(not ITCH.is_file(), reason="shared ITCH sample absent")
def test_unprintable_exception_is_still_a_backtest_error() -> None:
    with pytest.raises(BacktestError):
        run_backtest(BacktestConfig(data=str(ITCH), symbol="BOB"), RaiseUnprintable())


def test_pipeline_isolates_an_unprintable_exception() -> None:
    config = PipelineConfig(
        symbols={"A": 1},
        strategies=[
            StrategySpec("adversarial.hostile_strategies:RaiseUnprintable", "A"),
            StrategySpec("adversarial.hostile_strategies:Quoter", "A"),
        ],
    )
    result = run_inprocess(config, synthetic_events(300, seed=1, instrument_id=1))
    assert [f["strategy"] for f in result.failures] == ["RaiseUnprintable"]
