"""``whistle bench marketdata`` runs small and its figures add up (no speed asserted)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from whistle.bench.marketdata import run_marketdata_bench
from whistle.cli.bench_marketdata import marketdata_cmd


@pytest.mark.parametrize("encode", ["proto", "json"])
def test_every_reader_gets_every_record_once(encode):
    r = run_marketdata_bench(subscribers=3, symbols=2, orders=2_000, batch=50, encode=encode)
    assert r["events"] > 0
    assert r["updates_made"] > 0
    # One view (same depth, kinds) per symbol: each record made once, delivered to all 3.
    assert r["delivered"] == 3 * r["updates_made"]
    assert r["delivered_bytes"] > 0
    assert r["delivered_per_cpu_sec"] > 0


def test_command_prints_one_json_object():
    out = CliRunner().invoke(
        marketdata_cmd, ["--orders", "500", "--subscribers", "2", "--encode", "none", "--json"]
    )
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["bench"] == "marketdata"
    assert result["encode"] == "none"
    assert result["delivered_bytes"] == 0
