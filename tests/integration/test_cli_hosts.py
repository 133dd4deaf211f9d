"""``whistle demo`` and ``whistle bench venue``: the host-process options reach the venue."""

from __future__ import annotations

import json

from click.testing import CliRunner

from whistle.cli import main


def test_bench_venue_takes_the_wait_strategy_and_host_timeouts():
    args = ["bench", "venue", "--symbols", "2", "--hosts", "1", "--orders", "2000", "--json"]
    args += ["--wait", "yield", "--dead-after-s", "3", "--heartbeat-s", "0.02"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["wait"] == "yield"
    assert report["refused"] == 0
    assert report["parent_cpu_us_per_command"] > 0


def test_bench_venue_queue_depth_refuses_beyond_the_depth():
    args = ["bench", "venue", "--symbols", "1", "--orders", "50", "--batch", "50", "--json"]
    result = CliRunner().invoke(main, [*args, "--queue-depth", "10"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["refused"] == 40


def test_a_bad_wait_spec_is_a_usage_error_naming_the_choices():
    result = CliRunner().invoke(main, ["bench", "venue", "--wait", "nap", "--orders", "10"])
    assert result.exit_code == 2
    assert "must be one of sleep, yield, spin" in result.output


def test_heartbeat_must_be_below_the_death_timeout():
    args = ["demo", "--orders", "10", "--no-live", "--heartbeat-s", "2", "--dead-after-s", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "must be below --dead-after-s" in result.output


def test_demo_runs_on_a_host_with_the_options():
    args = ["demo", "--orders", "300", "--no-live", "--hosts", "1", "--wait", "yield"]
    result = CliRunner().invoke(main, [*args, "--dead-after-s", "10"])
    assert result.exit_code == 0, result.output
