"""LatencyRecorder: HDR-exact recording, clamping, merging, pickling, the OFF recorder."""

from __future__ import annotations

import multiprocessing
import pickle
import random

import pytest
from hdrh.histogram import HdrHistogram

from whistle.metrics import NULL_RECORDER, PERCENTILES, LatencyRecorder, NullRecorder

STAGES = ("md", "strategy", "risk", "gateway")


def _values(seed: int, n: int = 5000) -> list[int]:
    rng = random.Random(seed)
    return [int(rng.lognormvariate(8, 2.5)) for _ in range(n)]


@pytest.mark.parametrize("storage", ["list", "array"])
@pytest.mark.parametrize(("lowest", "figures"), [(1, 3), (1, 2), (1000, 3), (3, 4)])
@pytest.mark.parametrize("intended", [False, True])
def test_record_matches_hdrh(storage: str, lowest: int, figures: int, intended: bool):
    top = 60 * 10**9
    recorder = LatencyRecorder(STAGES, lowest, top, figures, storage=storage)  # type: ignore[arg-type]
    oracle = HdrHistogram(lowest, top, figures)
    record, record_from_intended = recorder.record, recorder.record_from_intended
    for value in _values(1):
        value = min(value, top)
        if intended:
            record_from_intended(2, 10**12, 10**12 + value)
        else:
            record(2, value)
        oracle.record_value(value)
    got = recorder.percentiles("risk")
    assert got["count"] == oracle.get_total_count()
    for key, percentile in PERCENTILES:
        assert got[key] == oracle.get_value_at_percentile(percentile)
    assert got["max"] == oracle.get_max_value()
    assert got["min"] == oracle.get_min_value()
    assert recorder.percentiles(2) == got
    assert recorder.count("md") == 0
    assert recorder.histogram("risk").get_value_at_percentile(99) == got["p99"]
    counts = recorder.slots(2)[8:]
    assert [i for i, c in enumerate(counts) if c] == [
        i for i in range(oracle.counts_len) if oracle.get_count_at_index(i)
    ]


def test_record_never_raises_and_clamps_out_of_range_ints():
    recorder = LatencyRecorder(["s"], highest_ns=10**6)
    for value in (-1, -(2**80), 10**6 + 1, 2**200, 0, 10**6):
        recorder.record(0, value)
    recorder.record_from_intended(0, 10**9, 5)  # intended in the future: negative latency
    got = recorder.percentiles("s")
    counters = recorder.counters("s")
    assert got["count"] == counters["count"] == 7
    assert counters["clamped"] == 5
    assert counters["last_ns"] == 5
    assert got["min"] == 0
    assert got["max"] == recorder.layout.highest_equivalent(10**6)


def test_record_from_intended_records_the_difference_and_last_ns():
    recorder = LatencyRecorder(["a", "b"])
    recorder.record_from_intended(1, 1_000, 1_850)
    recorder.record_from_intended(1, 2_000, 2_000)
    assert recorder.percentiles("b")["max"] == 850
    assert recorder.percentiles("b")["min"] == 0
    assert recorder.counters("b")["last_ns"] == 2_000
    assert recorder.count("a") == 0


def test_bad_stage_index_is_the_callers_bug():
    recorder = LatencyRecorder(["a"])
    with pytest.raises(IndexError):
        recorder.record(1, 5)
    with pytest.raises(KeyError, match="no stage 'zz'"):
        recorder.percentiles("zz")
    with pytest.raises(IndexError, match=r"0\.\.0"):
        recorder.percentiles(3)


@pytest.mark.parametrize(
    ("stages", "error", "match"),
    [
        ([], ValueError, "at least one"),
        ("abc", TypeError, "not the string"),
        (["a", "a"], ValueError, "unique"),
        ([""], ValueError, "1..47"),
        (["x" * 48], ValueError, "1..47"),
        (["a\0b"], ValueError, "NUL"),
        ([3], TypeError, "must be str"),
    ],
)
def test_bad_stage_names(stages: object, error: type[Exception], match: str):
    with pytest.raises(error, match=match):
        LatencyRecorder(stages)  # type: ignore[arg-type]


def test_bad_storage():
    with pytest.raises(ValueError, match="storage"):
        LatencyRecorder(["a"], storage="dict")  # type: ignore[arg-type]


def test_merge_equals_recording_everything_in_one():
    left, right, whole = (LatencyRecorder(STAGES) for _ in range(3))
    for i, value in enumerate(_values(2)):
        (left if i % 3 else right).record(i % 4, value)
        whole.record(i % 4, value)
    left.count_error(1)
    right.record_from_intended(0, 10, 99)
    whole.count_error(1)
    whole.record_from_intended(0, 10, 99)
    merged = LatencyRecorder.merged([left, right])
    assert merged.as_dict() == whole.as_dict()
    left.merge(right)
    assert left.as_dict() == whole.as_dict()
    assert left.counters("md")["last_ns"] == 99


def test_merge_by_stage_name_and_refusals():
    big = LatencyRecorder(["a", "b", "c"])
    small = LatencyRecorder(["c"])
    small.record(0, 777)
    big.merge(small)
    assert big.count("c") == 1
    assert big.count("a") == 0
    with pytest.raises(ValueError, match="not in this recorder"):
        small.merge(big)
    with pytest.raises(ValueError, match="layout"):
        big.merge(LatencyRecorder(["a"], significant_figures=2))
    union = LatencyRecorder.merged([LatencyRecorder(["x"]), small])
    assert union.stages == ("x", "c")
    assert union.count("c") == 1
    with pytest.raises(ValueError, match="at least one"):
        LatencyRecorder.merged([])


def test_merge_a_snapshot():
    source = LatencyRecorder(["a", "b"])
    source.record(1, 4242)
    target = LatencyRecorder(["a", "b"])
    target.merge(source.snapshot())
    assert target.as_dict() == source.as_dict()


def _child(conn: multiprocessing.connection.Connection) -> None:  # type: ignore[name-defined]
    recorder = LatencyRecorder(STAGES, storage="array")
    for value in _values(3, 1000):
        recorder.record(3, value)
    conn.send(recorder)
    conn.close()


def test_recorder_crosses_processes_by_pickle_and_merges():
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_child, args=(child,))
    process.start()
    received = parent.recv()
    process.join(60)
    assert process.exitcode == 0
    assert isinstance(received, LatencyRecorder)
    assert received.count("gateway") == 1000
    received.record(3, 1)  # the closures were rebuilt over the unpickled storage
    assert received.count("gateway") == 1001
    local = LatencyRecorder(STAGES)
    local.merge(received)
    assert local.count("gateway") == 1001
    clone = pickle.loads(pickle.dumps(local))
    assert clone.as_dict() == local.as_dict()


def test_snapshot_is_a_copy_and_reset_zeroes():
    recorder = LatencyRecorder(["a"])
    recorder.record(0, 10)
    snap = recorder.snapshot()
    recorder.record(0, 20)
    assert snap["a"].count == 1
    assert snap["a"].consistent
    assert snap.percentiles("a")["max"] == 10
    recorder.reset()
    assert recorder.count("a") == 0
    recorder.record(0, 30)
    assert recorder.percentiles("a")["max"] == 30


def test_null_recorder_is_falsy_and_does_nothing():
    assert not NULL_RECORDER
    assert isinstance(NULL_RECORDER, NullRecorder)
    assert (NULL_RECORDER or None) is None
    NULL_RECORDER.record(0, 5)
    NULL_RECORDER.record_from_intended(99, 1, 2)
    NULL_RECORDER.count_error(0)
    recorder = LatencyRecorder(["a"])
    assert (recorder or None) is recorder
