"""Prometheus export over a real socket, parsed with prometheus_client's own parser."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from whistle.metrics import (
    LatencyRecorder,
    MetricsBlock,
    StageCollector,
    make_block_name,
    start_prometheus,
)

VALUES_NS = (500, 1_500, 3_000, 50_000, 2_000_000)


def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float, str]]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    out: dict[str, list[tuple[dict[str, str], float, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(family.name, []).append((sample.labels, sample.value, sample.name))
    return out


def _sample(families, family: str, name: str, **labels: str) -> float:
    for got_labels, value, sample_name in families[family]:
        if sample_name == name and all(got_labels.get(k) == v for k, v in labels.items()):
            return value
    raise AssertionError(f"no {name} {labels} in {families[family]}")


def test_scrape_a_recorder_over_a_real_socket():
    recorder = LatencyRecorder(["md", "risk"])
    for value in VALUES_NS:
        recorder.record(1, value)
    recorder.count_error(1)
    recorder.record(0, -3)  # clamped
    with start_prometheus(0, recorder) as exporter:
        assert exporter.host == "127.0.0.1"
        assert exporter.port > 0
        families = _scrape(exporter.url)
    hist = "whistle_stage_latency_seconds"
    bucket = f"{hist}_bucket"
    assert _sample(families, hist, bucket, stage="risk", le="1e-06") == 1
    assert _sample(families, hist, bucket, stage="risk", le="2e-06") == 2
    assert _sample(families, hist, bucket, stage="risk", le="3e-06") == 3  # 3,000 ns is exact
    assert _sample(families, hist, bucket, stage="risk", le="5e-05") == 4
    assert _sample(families, hist, bucket, stage="risk", le="0.001") == 4
    assert _sample(families, hist, bucket, stage="risk", le="0.002") == 5
    assert _sample(families, hist, bucket, stage="risk", le="+Inf") == 5
    assert _sample(families, hist, f"{hist}_count", stage="risk") == 5
    assert _sample(families, hist, f"{hist}_sum", stage="risk") == pytest.approx(
        sum(VALUES_NS) / 1e9, rel=1e-3
    )
    assert _sample(families, hist, f"{hist}_count", stage="md") == 1
    quantile = "whistle_stage_latency_quantile_seconds"
    p50 = recorder.percentiles("risk")["p50"] / 1e9
    assert _sample(families, quantile, quantile, stage="risk", quantile="0.5") == p50
    assert _sample(families, quantile, quantile, stage="risk", quantile="1.0") == pytest.approx(
        2e-3, rel=1e-3
    )
    assert (
        _sample(families, "whistle_stage_events", "whistle_stage_events_total", stage="risk") == 5
    )
    assert (
        _sample(families, "whistle_stage_errors", "whistle_stage_errors_total", stage="risk") == 1
    )
    clamped = _sample(families, "whistle_stage_clamped", "whistle_stage_clamped_total", stage="md")
    assert clamped == 1
    # le values must be microsecond multiples
    les = [
        float(labels["le"])
        for labels, _, name in families[hist]
        if name == bucket and labels["le"] != "+Inf" and labels["stage"] == "risk"
    ]
    assert all(abs(le * 1e6 - round(le * 1e6)) < 1e-6 for le in les)
    assert les == sorted(les)


def test_scrape_reads_a_block_at_scrape_time_and_close_frees_the_port():
    with MetricsBlock.create(make_block_name("prom"), ["a", "b"]) as block:
        recorder = block.recorder()
        publisher = block.publisher(recorder)
        exporter = start_prometheus(0, block, buckets_us=[10, 100])
        try:
            first = _scrape(exporter.url)
            count = "whistle_stage_latency_seconds_count"
            assert _sample(first, "whistle_stage_latency_seconds", count, stage="b") == 0
            recorder.record(1, 50_000)
            publisher.publish()
            second = _scrape(exporter.url)
            assert _sample(second, "whistle_stage_latency_seconds", count, stage="b") == 1
            assert (
                _sample(
                    second,
                    "whistle_stage_latency_seconds",
                    "whistle_stage_latency_seconds_bucket",
                    stage="b",
                    le="0.0001",
                )
                == 1
            )
        finally:
            exporter.close()
            exporter.close()
        with socket.socket() as sock:
            sock.settimeout(5)
            with pytest.raises(OSError):
                sock.connect(("127.0.0.1", exporter.port))


@pytest.mark.parametrize(
    ("buckets", "match"),
    [([], "at least one"), ([0], "positive ints"), ([1.5], "positive ints"), ([5, 5], "strictly")],
)
def test_bad_buckets(buckets: list[object], match: str):
    with pytest.raises(ValueError, match=match):
        StageCollector(LatencyRecorder(["a"]), buckets)  # type: ignore[arg-type]


def test_bad_source():
    with pytest.raises(TypeError, match="source"):
        StageCollector(42)  # type: ignore[arg-type]
