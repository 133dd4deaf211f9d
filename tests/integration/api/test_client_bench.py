"""``whistle bench api --json`` runs bounded against its own server and reports every figure
(tiny sizes: this checks the harness, the figures themselves go to docs/benchmarks.md)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from whistle.cli.bench_api import api_cmd


def test_bench_api_json_has_every_figure() -> None:
    args = ["--json", "--unary-orders", "200", "--stream-orders", "2000", "--md-cycles", "20"]
    args += ["--latency-orders", "200", "--subscribers", "3", "--sweep", "5"]
    result = CliRunner().invoke(api_cmd, args)
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    out = json.loads(line)
    for key in ("unary_per_sec", "stream_per_sec", "md_updates_per_sec", "md_updates_per_sec_1"):
        assert out[key] > 0, key
    assert out["unary"]["orders"] == 200
    assert out["stream"]["orders"] == 2000
    assert out["stream"]["omit_market_data"]
    assert out["stream_full_per_sec"] > 0
    # 20 cycles of 5 levels: each level comes and goes, every fill prints, to 3 readers.
    assert out["md_3"]["updates"] >= 3 * 20 * (5 + 5 + 5)
    assert out["md_conflations"] == 0
    for key in ("ack_latency_ns", "unary_ack_latency_ns"):
        latency = out[key]
        assert latency["count"] == 200
        assert latency["errors"] == 0
        assert 0 < latency["p50"] <= latency["p99"] <= latency["p999"]
    assert out["stream_bound"] in ("server", "client")


def test_bench_api_runs_only_the_phases_asked_for() -> None:
    result = CliRunner().invoke(api_cmd, ["--json", "--phases", "stream", "--stream-orders", "500"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["stream"]["orders"] == 500
    assert "unary_per_sec" not in out
    assert "ack_latency_ns" not in out
    bad = CliRunner().invoke(api_cmd, ["--json", "--phases", "nope"])
    assert bad.exit_code == 2  # a usage error, before any server starts
    assert "phases are" in bad.output
