"""``run_matching_bench`` result structure (no timing assertions)."""

from __future__ import annotations

from whistle.bench.matching import run_matching_bench
from whistle.bench.report import format_ns, key_value_table, matching_tables


def test_result_structure() -> None:
    r = run_matching_bench("plain", 2_000, seed=3, repeat=2)
    assert len(r["ops_per_sec_runs"]) == 2
    assert r["ops"] == 2_000
    assert r["mix"] == "plain"
    assert r["seconds"] > 0
    assert r["ops_per_sec"] > 0
    assert r["events"] >= r["ops"]
    assert 0 < r["trade_fraction"] < 1
    assert set(r["latency_ns"]) >= {"p50", "p99", "p999", "p9999"}
    assert set(r["latency_ns_by_type"]) == {"gtc", "ioc", "cancel"}
    assert sum(v["count"] for v in r["latency_ns_by_type"].values()) == 2_000
    assert r["bare_trades_match"] is True
    assert r["whistle_vs_bare"] > 0
    assert matching_tables(r) is not None


def test_without_latency_and_bare() -> None:
    r = run_matching_bench("exchange-core", 1_000, latency=False, compare_bare=False, repeat=1)
    assert r["latency_ns"] is None
    assert r["latency_ns_by_type"] is None
    assert r["bare_ops_per_sec"] is None
    assert r["kinds"]["move"] > 0


def test_format_helpers() -> None:
    assert format_ns(850) == "850 ns"
    assert format_ns(3_610) == "3.61 us"
    assert format_ns(2_900_000) == "2.90 ms"
    assert format_ns(None) == "-"
    assert key_value_table("t", {"a": 1, "b": {"c": 2.5}}).row_count == 2
