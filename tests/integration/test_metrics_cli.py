"""``whistle metrics NAME_OR_DIR``: --json, --once, run directories, errors, the live table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path

import pytest
from click.testing import CliRunner

from whistle.cli.main import main
from whistle.cli.metrics import format_ns
from whistle.metrics import MetricsBlock, make_block_name, write_name_file

STAGES = ("md", "strategy", "risk", "gateway", "tick_to_order")
DEADLINE_S = 60.0  # guards against hangs; not a timing assertion


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["metrics", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def block():
    with MetricsBlock.create(make_block_name("cli"), STAGES) as created:
        recorder = created.recorder()
        publisher = created.publisher(recorder)
        for i in range(1000):
            recorder.record(i % 5, 1_000 + i)
        recorder.count_error(2)
        publisher.publish()
        yield created


def test_json_prints_one_object_with_every_stage(block: MetricsBlock):
    code, out, err = run(block.name, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["block"] == block.name
    assert data["creator_pid"] == os.getpid()
    assert list(data["stages"]) == sorted(STAGES)  # sort_keys
    risk = data["stages"]["risk"]
    assert risk["count"] == 200
    assert risk["errors"] == 1
    for key in ("p50", "p99", "p999", "p9999", "max", "min", "clamped", "published_ns"):
        assert isinstance(risk[key], int)
    assert risk["p50"] <= risk["p99"] <= risk["p999"] <= risk["p9999"] <= risk["max"]


def test_once_prints_the_table(block: MetricsBlock):
    code, out, err = run(f"/dev/shm/{block.name}", "--once")
    assert code == 0, err
    for word in (*STAGES, "p99.99", "rate/s", "200"):
        assert word in out


def test_a_run_directory_names_its_block(block: MetricsBlock, tmp_path: Path):
    write_name_file(tmp_path, block.name)
    code, out, _ = run(str(tmp_path), "--json")
    assert code == 0
    assert json.loads(out)["block"] == block.name


def test_missing_block_is_one_line_and_status_74(tmp_path: Path):
    code, out, err = run("whistle-1-no-such-block", "--once")
    assert code == 74
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("whistle metrics: error: no metrics block named")
    code, _, err = run(str(tmp_path), "--json")  # a directory without metrics.block
    assert code == 74
    assert "not a run directory" in err


def test_foreign_block_is_status_65():
    raw = SharedMemory(make_block_name("foreign"), create=True, size=4096)
    try:
        code, _, err = run(raw.name, "--json")
    finally:
        raw.close()
        raw.unlink()
    assert code == 65
    assert "not a whistle metrics block" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_name_is_a_usage_error():
    code, _, err = run("a/b")
    assert code == 2
    assert "NAME_OR_DIR" in err


def _live(name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "whistle.cli", "metrics", name, "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_first_table(block: MetricsBlock, process: subprocess.Popen[str]) -> None:
    # The command holds a mapping once it has attached; poll our own view until it has read.
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and process.poll() is None:
        if any(entry.startswith(block.name) for entry in os.listdir("/dev/shm")) and _attached(
            process.pid, block.name
        ):
            return
        time.sleep(0.02)
    raise AssertionError("the live command never attached")


def _attached(pid: int, name: str) -> bool:
    try:
        return name in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def test_live_table_ends_by_itself_when_the_pipeline_removes_its_block():
    block = MetricsBlock.create(make_block_name("live"), STAGES)
    process = _live(block.name)
    try:
        _wait_for_first_table(block, process)
    finally:
        block.close()  # the pipeline ends: its block is unlinked
    out, err = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 0, err
    assert "the pipeline has ended" in out
    assert "tick_to_order" in out


def test_live_table_stops_quietly_on_ctrl_c():
    with MetricsBlock.create(make_block_name("live"), STAGES) as block:
        process = _live(block.name)
        _wait_for_first_table(block, process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "Aborted" not in err
    assert out == "" or "risk" in out  # a pipe gets the table when the live view stops


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0 ns"),
        (999, "999 ns"),
        (1_000, "1 us"),
        (12_345, "12.3 us"),
        (123_456, "123 us"),
        (999_999, "1 ms"),
        (4_560_000, "4.56 ms"),
        (1_230_000_000, "1.23 s"),
        (3_600 * 10**9, "3600 s"),
    ],
)
def test_format_ns(ns: int, text: str):
    assert format_ns(ns) == text


def test_live_command_serves_the_block_to_prometheus_from_its_own_process():
    from prometheus_client.parser import text_string_to_metric_families

    with MetricsBlock.create(make_block_name("promcli"), STAGES) as block:
        recorder = block.recorder()
        publisher = block.publisher(recorder)
        process = subprocess.Popen(
            [sys.executable, "-m", "whistle.cli", "metrics", block.name, "--prometheus", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stderr is not None
            line = process.stderr.readline()
            assert line.startswith("serving Prometheus on http://127.0.0.1:"), line
            url = line.split()[-1]
            for value in (2_000, 4_000, 8_000):
                recorder.record(STAGES.index("risk"), value)
            publisher.publish()  # the pipeline side: memory writes only
            with urllib.request.urlopen(url, timeout=DEADLINE_S) as response:
                text = response.read().decode()
            samples = {
                (s.name, s.labels.get("stage"), s.labels.get("le")): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
            assert samples[("whistle_stage_latency_seconds_count", "risk", None)] == 3
            assert samples[("whistle_stage_latency_seconds_bucket", "risk", "5e-06")] == 2
            assert samples[("whistle_stage_events_total", "md", None)] == 0
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=DEADLINE_S)
        assert process.returncode == 0


def test_prometheus_needs_the_live_view(block: MetricsBlock):
    code, _, err = run(block.name, "--once", "--prometheus", "0")
    assert code == 2
    assert "--prometheus" in err


def test_table_rate_is_the_count_delta_over_the_refresh_interval():
    from rich.console import Console

    from whistle.cli.metrics import metrics_table
    from whistle.metrics import LatencyRecorder

    recorder = LatencyRecorder(["risk"])
    before = recorder.snapshot()
    for _ in range(500):
        recorder.record(0, 1_500)
    after = recorder.snapshot()
    console = Console(width=160, record=True)
    console.print(metrics_table("x", after, (10.0, before), 12.0, "a note"))
    text = console.export_text()
    assert "250" in text  # 500 events in 2 s
    assert "1.5 us" in text
    assert "never" in text  # a recorder snapshot was never published
    assert "a note" in text
