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
    # 20 cycles of 5 levels: each level comes and goes, every fill prints, to 3 readers.
    assert out["md_3"]["updates"] >= 3 * 20 * (5 + 5 + 5)
    assert out["md_conflations"] == 0
    latency = out["ack_latency_ns"]
    assert latency["count"] == 200
    assert latency["errors"] == 0
    assert 0 < latency["p50"] <= latency["p99"] <= latency["p999"]
    assert out["stream_bound"] in ("server", "client")
