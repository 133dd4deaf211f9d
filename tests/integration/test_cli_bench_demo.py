"""``whistle bench matching`` and ``whistle demo`` through the click CLI."""

from __future__ import annotations

import json

from click.testing import CliRunner

from whistle.cli.main import main
from whistle.demo.flow import DemoFlow


def test_bench_matching_json() -> None:
    result = CliRunner().invoke(main, ["bench", "matching", "--orders", "20000", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)  # exactly one JSON object
    assert data["ops"] == 20_000
    assert data["mix"] == "exchange-core"
    for key in ("seconds", "ops_per_sec", "events", "events_per_op", "trade_fraction"):
        assert data[key] > 0
    assert set(data["latency_ns"]) >= {"p50", "p99", "p999", "p9999"}
    assert set(data["latency_ns_by_type"]) == {"gtc", "ioc", "cancel", "move"}
    assert data["bare_ops_per_sec"] > 0
    assert data["bare_trades_match"] is True
    assert data["python"]["version"]
    assert data["machine"]["cpus"] >= 1


def test_bench_matching_table_plain_no_latency() -> None:
    args = ["bench", "matching", "--mix", "plain", "--orders", "3000", "--no-latency"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "whistle commands/s" in result.output
    assert "bare matcher commands/s" in result.output


def test_bench_group_lists_subcommands() -> None:
    result = CliRunner().invoke(main, ["bench", "--help"])
    assert result.exit_code == 0
    for name in ("matching", "ring", "journal"):
        assert name in result.output


def _demo_output() -> list[str]:
    result = CliRunner().invoke(main, ["demo", "--orders", "5000", "--no-live", "--seed", "4"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("throughput:") for line in lines)
    return [line for line in lines if not line.startswith("throughput:")]


def test_demo_summary_is_deterministic() -> None:
    first = _demo_output()
    second = _demo_output()
    assert first == second
    text = "\n".join(first)
    for word in ("AAPL", "BTC-USD", "EURUSD", "trades", "volume", "total"):
        assert word in text


def test_demo_flow_summary_values() -> None:
    a = DemoFlow(symbols=3, seed=9)
    a.run(3_000)
    b = DemoFlow(symbols=3, seed=9)
    b.run(3_000)
    assert a.summary() == b.summary()
    assert a.events == b.events
    assert a.venue.state_hashes() == b.venue.state_hashes()
    rows = a.summary()
    assert [r["symbol"] for r in rows] == ["AAPL", "MSFT", "ESZ5"]
    assert sum(int(r["trades"]) for r in rows) > 0
    assert rows[0]["last"] != "-"
    assert "." in str(rows[0]["bid"])  # decimal prices via the instrument
