"""``whistle backtest`` end to end: the issue's done-when command, determinism, bad input.

The sample ITCH file lives in ``shared/data`` beside the project root (``../shared/data``);
the tests that need it skip cleanly when it is absent. A run that did not finish must
exit non-zero with one error line on stderr and print nothing on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from whistle.cli.backtest import QUEUE_MODELS, parse_duration_ns, parse_fees, parse_latency
from whistle.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
ITCH = DATA / "itch50-simulated" / "ex20101224.TEST_ITCH_50"
needs_itch = pytest.mark.skipif(not ITCH.is_file(), reason=f"sample data absent: {ITCH}")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # cli_backtest_strategies: hostile strategies by module:Class

MM = "whistle.trading.examples:MarketMaker"
CHARTS = ("equity.png", "position.png", "mid_fills.png", "spread_captured.png")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["backtest", *args])
    return result.exit_code, result.stdout, result.stderr


def itch_args(*extra: str, strategy: str = MM) -> list[str]:
    return [
        "--data",
        str(ITCH),
        "--format",
        "itch",
        "--symbol",
        "BOB",
        "--strategy",
        strategy,
        *extra,
    ]


def assert_refused(code: int, out: str, err: str, *words: str, status: int | None = None) -> None:
    """Exit non-zero, nothing on stdout, one error line naming ``words``."""
    assert code != 0, err
    if status is not None:
        assert code == status, (code, err)
    assert out == "", out
    errors = [line for line in err.splitlines() if "rror" in line]
    assert len(errors) == 1, err
    for word in words:
        assert word in errors[0], (word, err)


# -- option syntax ----------------------------------------------------------------------
def test_durations_parse_strictly():
    assert parse_duration_ns("50us") == 50_000
    assert parse_duration_ns("50µs") == 50_000
    assert parse_duration_ns("1.5ms") == 1_500_000
    assert parse_duration_ns("0ns") == 0
    assert parse_duration_ns("2s") == 2_000_000_000
    for bad in ("50", "50xs", "-5us", "1.5ns", "us", "5 us x", "1e3us", "0x10ns", ""):
        with pytest.raises(ValueError):
            parse_duration_ns(bad)


def test_latency_and_fees_parse_strictly():
    assert parse_latency("entry=50us,ack=20us,feed=10us,cancel=1ms,modify=3us,risk=2us") == {
        "entry_ns": 50_000,
        "ack_ns": 20_000,
        "feed_ns": 10_000,
        "cancel_ns": 1_000_000,
        "modify_ns": 3_000,
        "risk_ns": 2_000,
    }
    for bad, word in (
        ("entry=50us,entry=1us", "twice"),
        ("wire=5us", "unknown latency 'wire'"),
        ("entry=50", "unit"),
        ("entry", "KEY=VALUE"),
        ("entry=", "KEY=VALUE"),
        ("entry=5us,", "KEY=VALUE"),
        ("", "KEY=VALUE"),
    ):
        with pytest.raises(ValueError, match=word):
            parse_latency(bad)
    assert parse_fees("maker=-20ppm,taker=0.3bps") == {"maker_ppm": -20, "taker_ppm": 30}
    assert parse_fees("taker=+1bps") == {"taker_ppm": 100}
    for bad, word in (
        ("maker=20", "unit"),
        ("maker=0.5ppm", "whole number"),
        ("maker=20%", "unit"),
        ("maker=2000000ppm", "100 %"),
        ("fee=1ppm", "unknown fee"),
    ):
        with pytest.raises(ValueError, match=word):
            parse_fees(bad)


def test_the_cli_offers_every_queue_model_of_the_backtest():
    from whistle.trading.backtest import QUEUE_MODELS as BACKTEST_QUEUE_MODELS

    assert set(QUEUE_MODELS) == set(BACKTEST_QUEUE_MODELS)


# -- bad input: refused before anything runs --------------------------------------------
@needs_itch
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--latency", "entry=50xs"], ["--latency", "50xs"]),
        (["--latency", "wire=5us"], ["--latency", "wire"]),
        (["--latency", "entry=50"], ["--latency", "unit"]),
        (["--fees", "maker=20"], ["--fees", "unit"]),
        (["--queue-model", "magic"], ["--queue-model"]),
        (["--sample-every", "0s"], ["--sample-every"]),
    ],
)
def test_bad_options_are_usage_errors(extra: list[str], words: list[str]):
    code, out, err = run(*itch_args(*extra))
    assert_refused(code, out, err, *words, status=2)


def test_missing_file_and_unknown_format_are_usage_errors(tmp_path: Path):
    missing = tmp_path / "nope.itch"
    code, out, err = run(
        "--data", str(missing), "--format", "itch", "--symbol", "X", "--strategy", MM
    )
    assert_refused(code, out, err, "nope.itch", status=2)
    (tmp_path / "f").write_bytes(b"")
    code, out, err = run(
        "--data", str(tmp_path / "f"), "--format", "csv2", "--symbol", "X", "--strategy", MM
    )
    assert_refused(code, out, err, "--format", status=2)


@needs_itch
def test_report_path_that_is_a_file_is_refused(tmp_path: Path):
    file = tmp_path / "report"
    file.write_text("keep")
    code, out, err = run(*itch_args("--report", str(file)))
    assert_refused(code, out, err, "--report", status=2)
    assert file.read_text() == "keep"


@needs_itch
@pytest.mark.parametrize(
    ("strategy", "words"),
    [
        ("whistle.trading.examples:Nope", ["Nope"]),
        ("no_such_module_xyz:Thing", ["no_such_module_xyz"]),
        ("cli_backtest_strategies:NotAStrategy", ["NotAStrategy", "Strategy"]),
        ("MarketMaker", ["module:Class"]),
    ],
)
def test_unknown_strategy_is_refused(strategy: str, words: list[str]):
    code, out, err = run(*itch_args(strategy=strategy))
    assert_refused(code, out, err, "strategy cannot be loaded", *words, status=65)


@needs_itch
def test_bad_config_key_is_refused(tmp_path: Path):
    config = tmp_path / "mm.toml"
    config.write_text("qty_lots = 1\nhalf_spread_tick = 2\n")  # typo: half_spread_ticks
    code, out, err = run(*itch_args("--config", str(config)))
    assert_refused(code, out, err, "half_spread_tick", "mm.toml", status=65)
    config.write_text('qty_lots = "one"\n')
    code, out, err = run(*itch_args("--config", str(config)))
    assert_refused(code, out, err, "qty_lots", status=65)


@needs_itch
def test_risk_file_limits_the_run(tmp_path: Path):
    for name, text in (("risk.toml", "[default]\nmax_position = 2\n"),
                       ("risk.json", '{"default": {"max_position": 2}}')):  # fmt: skip
        (tmp_path / name).write_text(text)
        code, out, err = run(*itch_args("--risk", str(tmp_path / name), "--json"))
        assert code == 0, err
        result = json.loads(out)
        assert result["rejects"]["MAX_POSITION"] > 0
        assert result["max_position"] <= 2


@needs_itch
def test_bad_risk_file_is_refused(tmp_path: Path):
    risk = tmp_path / "risk.toml"
    risk.write_text("[default]\nmax_positon = 5\n")  # typo
    code, out, err = run(*itch_args("--risk", str(risk)))
    assert_refused(code, out, err, "--risk", "max_positon", status=2)


@needs_itch
def test_latency_file_is_used_and_a_bad_one_refused(tmp_path: Path):
    good = tmp_path / "lat.csv"
    good.write_text("ts_ns,entry_ns,ack_ns\n0,50000,20000\n86400000000000,50000,20000\n")
    code, out, err = run(*itch_args("--latency-file", str(good), "--json"))
    assert code == 0, err
    constant = json.loads(run(*itch_args("--latency", "entry=50us,ack=20us", "--json"))[1])
    assert json.loads(out)["fills_digest"] == constant["fills_digest"]  # same latencies
    bad = tmp_path / "bad.csv"
    bad.write_text("ts_ns,entry_ns\n0,-5\n")
    code, out, err = run(*itch_args("--latency-file", str(bad), "--json"))
    assert_refused(code, out, err, "bad.csv", "line 2", status=65)


# -- runs that do not finish: no figures ------------------------------------------------
@needs_itch
def test_wrong_format_for_the_file_reports_nothing(tmp_path: Path):
    code, out, err = run(
        "--data", str(ITCH), "--format", "lobster", "--symbol", "BOB", "--strategy", MM,
        "--report", str(tmp_path / "r"), "--json",
    )  # fmt: skip
    assert_refused(code, out, err)
    assert not (tmp_path / "r" / "index.html").exists()


@needs_itch
def test_a_symbol_the_file_does_not_have_reports_nothing():
    args = itch_args("--json")
    args[args.index("BOB")] = "NOPE"
    code, out, err = run(*args)
    assert_refused(code, out, err, "did not finish", "NOPE", status=65)


@needs_itch
def test_a_strategy_that_raises_reports_nothing(tmp_path: Path):
    code, out, err = run(
        *itch_args(
            "--json", "--report", str(tmp_path / "r"), strategy="cli_backtest_strategies:Raises"
        )
    )
    assert_refused(code, out, err, "did not finish", "boom in on_book", status=65)
    assert not (tmp_path / "r").exists()  # the directory it made for the report is gone
    (tmp_path / "kept").mkdir()
    code, out, err = run(
        *itch_args("--report", str(tmp_path / "kept"), strategy="cli_backtest_strategies:Raises")
    )
    assert_refused(code, out, err, "did not finish", status=65)
    assert (tmp_path / "kept").is_dir()  # a directory that was there is left alone
    assert list((tmp_path / "kept").iterdir()) == []


@needs_itch
def test_ctrl_c_reports_nothing(tmp_path: Path):
    code, out, _ = run(*itch_args("--json", strategy="cli_backtest_strategies:Interrupted"))
    assert code != 0
    assert out == ""
    code, out, _ = run(*itch_args(strategy="cli_backtest_strategies:Interrupted"))
    assert code != 0
    assert "PnL" not in out


@needs_itch
def test_a_truncated_file_reports_nothing(tmp_path: Path):
    cut = tmp_path / "cut.itch"
    data = ITCH.read_bytes()
    cut.write_bytes(data[: len(data) // 2 + 3])  # ends inside a message
    code, out, err = run(
        "--data", str(cut), "--format", "itch", "--symbol", "BOB", "--strategy", MM, "--json"
    )
    assert_refused(code, out, err, "cut.itch")


# -- the done-when command --------------------------------------------------------------
def assert_report(directory: Path) -> None:
    page = (directory / "index.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 4
    assert "MarketMaker" in page
    for name in CHARTS:
        data = (directory / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 10_000, (name, len(data))


def real_command(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "whistle.cli", "backtest", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


@needs_itch
def test_done_when_command_twice_gives_identical_fills(tmp_path: Path):
    # Once through the real command (a process, progress bar forced on stderr), once in
    # process: same fills, same figures, and stdout holds exactly one JSON object.
    proc = real_command(*itch_args("--report", str(tmp_path / "one"), "--json", "--progress"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1
    code, out, err = run(*itch_args("--report", str(tmp_path / "two"), "--json"))
    assert code == 0, err
    assert out.count("\n") == 1
    first, second = json.loads(proc.stdout), json.loads(out)
    for name in ("one", "two"):
        assert_report(tmp_path / name)
    for key in ("events", "seconds", "events_per_sec", "fills", "pnl", "crossed_book_orders"):
        assert key in first, key
    assert first["crossed_book_orders"] >= 0
    assert first["events"] > 0
    assert first["fills"] > 0  # the example maker trades on this file
    assert set(first["pnl"]) == {"realised", "unrealised", "fees", "total"}
    assert (
        first["pnl"]["total"]
        == sum(first["pnl"][k] for k in ("realised", "unrealised")) - first["pnl"]["fees"]
    )
    assert first["fills_digest"] == second["fills_digest"]
    fills_one = (tmp_path / "one" / "fills.csv").read_bytes()
    assert fills_one == (tmp_path / "two" / "fills.csv").read_bytes()
    assert fills_one.count(b"\n") == first["fills"] + 1
    for name in CHARTS:  # the charts hold no wall time: byte-identical across runs
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    timing = {"seconds", "events_per_sec", "report"}
    assert {k: v for k, v in first.items() if k not in timing} == {
        k: v for k, v in second.items() if k not in timing
    }


@needs_itch
def test_summary_table_and_options():
    code, out, err = run(
        *itch_args(
            "--latency", "entry=50us,ack=20us,feed=10us", "--fees", "maker=-20ppm,taker=30ppm"
        )
    )
    assert code == 0, err
    for label in ("PnL total", "PnL realised", "fees", "max drawdown", "fills (maker / taker)",
                  "cancel ratio", "order-to-fill p99", "events / s"):  # fmt: skip
        assert label in out, label
    assert err == ""  # no progress bar when stderr is not a terminal
    rebate = next(line for line in out.splitlines() if line.lstrip("│┃ ").startswith("fees"))
    assert "-" in rebate  # maker fills at -20 ppm: a rebate


@needs_itch
def test_the_readme_strategy_runs_with_its_config(tmp_path: Path):
    config = tmp_path / "quoter.toml"
    config.write_text("offset_ticks = 0\nmax_position_lots = 3\n")
    code, out, err = run(
        *itch_args("--config", str(config), "--latency", "entry=50us,ack=20us", "--json",
                   strategy="cli_backtest_strategies:Quoter")
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["fills"] > 0
    assert result["rejects_total"] == 0  # it never quotes into a crossed book
    assert result["max_position"] <= 3


@needs_itch
def test_interactive_mode_reports_its_divergence():
    code, out, err = run(*itch_args("--interactive", "--json"))
    assert code == 0, err
    divergence = json.loads(out)["divergence"]
    assert divergence["recorded_executions"] > 0
    assert {"reproduced_executions", "skipped_executions", "extra_fills"} <= divergence.keys()
    code, out, err = run(*itch_args("--interactive"))
    assert code == 0, err
    assert "divergence" in out
    assert "reproduced executions" in out


@needs_itch
def test_mbp_rows_backtest_with_an_l2_queue_model(tmp_path: Path):
    rows = tmp_path / "bob.csv"
    result = CliRunner().invoke(
        main,
        ["feed", "replay", str(ITCH), "--format", "itch", "--symbol", "BOB", "--out", str(rows)],
    )
    assert result.exit_code == 0, result.stderr
    mbp = ["--data", str(rows), "--format", "mbp", "--symbol", "BOB", "--strategy", MM, "--json"]
    code, out, err = run(*mbp)  # default queue model for MBP rows: risk_averse
    assert code == 0, err
    summary = json.loads(out)
    assert summary["queue_model"] == "risk_averse"
    assert summary["events"] > 0
    code, out, err = run(*mbp, "--queue-model", "fifo")  # no order ids in MBP rows
    assert_refused(code, out, err, "did not finish", "fifo", status=65)
