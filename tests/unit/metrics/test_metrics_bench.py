"""``whistle bench metrics`` runs and reports every figure (no timing is asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from whistle.bench.metrics import _bare, _events, build_stage
from whistle.cli.main import main
from whistle.metrics import NULL_RECORDER, LatencyRecorder

KEYS = {
    "bare_events_per_sec",
    "off_events_per_sec",
    "on_events_per_sec",
    "on_block_events_per_sec",
    "off_vs_bare",
    "on_vs_off",
    "record_ns",
    "hdrh_record_value_ns",
    "publish_us_per_stage",
    "snapshot_us_per_stage",
}


def test_every_variant_computes_the_same_state_and_on_records_every_event():
    stream = _events(3000)
    expected = _bare(stream)
    recorder = LatencyRecorder(["a", "b"])
    assert build_stage(None, 1)(stream) == expected
    assert build_stage(NULL_RECORDER, 1)(stream) == expected
    assert build_stage(recorder, 1)(stream) == expected
    assert recorder.count("b") == 3000
    assert recorder.count("a") == 0
    # the OFF loop holds no metric code: its bytecode names no recorder
    off = build_stage(None, 1)
    assert not {"record", "clock", "due"} & set(off.__code__.co_freevars)


def test_cli_json_reports_every_figure():
    result = CliRunner().invoke(
        main, ["bench", "metrics", "--events", "2000", "--rounds", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= KEYS
    assert all(data[key] > 0 for key in KEYS)
    assert not [p for p in Path("/dev/shm").iterdir() if "-bench-" in p.name]
