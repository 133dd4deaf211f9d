"""The activation benchmark runs and reports what it promises (small size)."""

from __future__ import annotations

from whistle.bench.activation import run_activation_bench


def test_small_run_reports_latency_and_memory():
    result = run_activation_bench(symbols=300, hosts=2)
    assert result["symbols"] == 300
    assert result["hosts"] == 2
    assert result["active"] == 300
    assert sum(result["host_loads"].values()) == 300
    latency = result["activation_latency_ns"]
    assert latency == result["latency_ns"]
    assert latency["count"] == 300
    assert 0 < latency["p50"] <= latency["p99"] <= latency["p999"] <= latency["p9999"]
    assert result["bytes_per_symbol_tracemalloc"]["engine"] > 0
    assert result["seconds"] > 0
    assert "InProcessHost" in result["host"]


def test_gc_can_be_turned_off_for_the_timing():
    import gc

    result = run_activation_bench(symbols=50, hosts=1, gc_enabled=False)
    assert result["gc_enabled"] is False
    assert gc.isenabled()
