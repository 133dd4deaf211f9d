"""HdrLayout against the hdrhistogram package as the oracle."""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from whistle.metrics import PERCENTILES, HdrLayout

LAYOUTS = [
    (1, 60 * 10**9, 3),
    (1, 10**6, 2),
    (1, 3600 * 10**9, 5),
    (1000, 10**10, 3),
    (7, 10**9, 1),
    (2**20, 2**50, 4),
]


@pytest.mark.parametrize(("lowest", "highest", "figures"), LAYOUTS)
def test_layout_matches_hdrh(lowest: int, highest: int, figures: int):
    layout = HdrLayout(lowest, highest, figures)
    oracle = HdrHistogram(lowest, highest, figures)
    assert layout.counts_len == oracle.counts_len
    assert layout.unit_magnitude == oracle.unit_magnitude
    assert layout.half_count == oracle.sub_bucket_half_count
    rng = random.Random(lowest * 31 + figures)
    values = [0, 1, lowest, highest, highest - 1, *(2**k for k in range(highest.bit_length()))]
    values += [rng.randrange(highest + 1) for _ in range(3000)]
    values += [int(highest ** rng.random()) for _ in range(3000)]
    for value in values:
        if value > highest:
            continue
        index = layout.index_of(value)
        assert index == oracle._counts_index_for(value), value
        assert 0 <= index < layout.counts_len
        assert layout.value_at(index) == oracle.get_value_from_index(index)
        assert layout.highest_equivalent(value) == oracle.get_highest_equivalent_value(value)
        assert layout.value_at(index) <= value <= layout.highest_equivalent(value)


@pytest.mark.parametrize(("lowest", "highest", "figures"), LAYOUTS[:4])
def test_percentiles_match_hdrh(lowest: int, highest: int, figures: int):
    layout = HdrLayout(lowest, highest, figures)
    oracle = HdrHistogram(lowest, highest, figures)
    counts = [0] * layout.counts_len
    rng = random.Random(7)
    for _ in range(20_000):
        value = min(highest, int(rng.lognormvariate(9, 2)))
        oracle.record_value(value)
        counts[layout.index_of(value)] += 1
    got = layout.percentiles(counts)
    assert got["count"] == oracle.get_total_count() == 20_000
    for key, percentile in PERCENTILES:
        assert got[key] == oracle.get_value_at_percentile(percentile), key
    assert got["max"] == oracle.get_max_value()
    assert got["min"] == oracle.get_min_value()


def test_to_histogram_round_trips_through_hdrh_encoding():
    layout = HdrLayout()
    counts = [0] * layout.counts_len
    for value in (5, 5, 900, 12_345, 10**7, 10**9):
        counts[layout.index_of(value)] += 1
    histogram = layout.to_histogram(counts)
    decoded = HdrHistogram.decode(histogram.encode())
    assert decoded.get_total_count() == 6
    assert decoded.get_value_at_percentile(50) == layout.percentiles(counts)["p50"]
    assert decoded.get_max_value() == layout.percentiles(counts)["max"]
    with pytest.raises(ValueError, match="slots"):
        layout.to_histogram(counts[:-1])


def test_empty_counts_give_zeros():
    layout = HdrLayout(1, 10**6, 2)
    got = layout.percentiles([0] * layout.counts_len)
    assert set(got) == {"count", "min", "p50", "p90", "p99", "p999", "p9999", "max"}
    assert all(v == 0 for v in got.values())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lowest_ns": 0}, ValueError, "lowest_ns"),
        ({"lowest_ns": 10, "highest_ns": 19}, ValueError, "2 \\* lowest_ns"),
        ({"significant_figures": 0}, ValueError, "significant_figures"),
        ({"significant_figures": 6}, ValueError, "significant_figures"),
        ({"significant_figures": 2.0}, ValueError, "significant_figures"),
        ({"highest_ns": 1.5e9}, TypeError, "highest_ns must be an int"),
        ({"lowest_ns": True}, TypeError, "lowest_ns must be an int"),
        ({"highest_ns": 2**63}, ValueError, "2\\*\\*62"),
    ],
)
def test_bad_layouts_are_refused(kwargs: dict[str, object], error: type[Exception], match: str):
    with pytest.raises(error, match=match):
        HdrLayout(**kwargs)  # type: ignore[arg-type]
