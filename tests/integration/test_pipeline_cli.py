"""``whistle pipeline run`` on recorded data and ``whistle bench pipeline --json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from whistle.cli.main import main

ITCH = Path(__file__).resolve().parents[3] / "shared/data/itch50-simulated/ex20101224.TEST_ITCH_50"


@pytest.mark.skipif(not ITCH.exists(), reason="shared ITCH sample not present")
def test_pipeline_run_trades_recorded_data_against_a_venue(tmp_path: Path) -> None:
    risk = tmp_path / "risk.toml"
    risk.write_text("[default]\nmax_order_qty = 100\n")
    args = [
        "pipeline",
        "run",
        "--data",
        str(ITCH),
        "--symbol",
        "BOB",
        "--strategy",
        "whistle.trading.examples:MarketMaker",
        "--risk",
        str(risk),
        "--max-events",
        "3000",
        "--metrics",
        "--json",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["mode"] == "inprocess"
    assert out["feed_events"] == 3000
    assert out["orders"] > 0
    assert out["open_orders"] == 0
    assert out["failures"] == []
    assert out["latency_ns"]["tick_to_order"]["count"] > 0
    again = json.loads(CliRunner().invoke(main, args).output)
    assert again["counts"] == out["counts"]  # the same run twice decides the same


@pytest.mark.skipif(not ITCH.exists(), reason="shared ITCH sample not present")
def test_pipeline_run_names_a_missing_symbol() -> None:
    result = CliRunner().invoke(
        main,
        ["pipeline", "run", "--data", str(ITCH), "--symbol", "NOPE", "--strategy", "x:Y"],
    )
    assert result.exit_code == 2
    assert "defines no instrument 'NOPE'" in result.output


def test_bench_pipeline_json_has_the_latency_percentiles_per_stage() -> None:
    args = ["bench", "pipeline", "--messages", "400", "--rate", "2000", "--repeat", "1"]
    result = CliRunner().invoke(main, [*args, "--no-processes", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    for stage in ("market_data", "strategy", "risk", "gateway", "tick_to_order"):
        row = out["latency_ns"][stage]
        assert 0 < row["p50"] <= row["p99"] <= row["p999"] <= row["p9999"] <= row["max"]
    assert out["events_per_sec_metrics_on"] > 0
    assert out["events_per_sec_metrics_off"] > 0
    assert "processes" not in out
