"""``whistle bench cluster`` runs end to end (a very short run) and reports its keys."""

from __future__ import annotations

import json

from click.testing import CliRunner
from nats_support import NATS_URL, require_nats

from whistle.bench.cluster import DEFAULTS
from whistle.cli import bench_cluster


def test_cli_defaults_are_the_bench_defaults() -> None:
    assert {k: v for k, v in DEFAULTS.items() if k in bench_cluster.DEFAULTS} == (
        bench_cluster.DEFAULTS
    )


def test_short_run_reports_every_key() -> None:
    require_nats()
    result = CliRunner().invoke(
        bench_cluster.cluster,
        [
            "--nats",
            NATS_URL,
            "--seconds",
            "0.2",
            "--no-r3",
            "--symbols",
            "2",
            "--rate",
            "200",
            "--clients",
            "4",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    for key in (
        "acked_per_sec",
        "acked_per_sec_unbatched",
        "node_acked_per_sec",
        "request_acked_per_sec",
    ):
        assert out[key] > 0, key
    assert out["ack_latency_ns"]["p50"] > 0
    assert out["ack_latency_ns"]["p99"] >= out["ack_latency_ns"]["p50"]
    assert out["acked_per_sec_r3"] is None
    assert out["failover_seconds"] is None
    assert out["runs"]["latency"]["failures"] == 0
