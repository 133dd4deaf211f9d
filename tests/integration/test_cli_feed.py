"""``whistle feed replay / stats / record / play`` end to end, on the sample data and DBN files.

The sample files live in ``shared/data`` beside the project root (``../shared/data`` here,
the same beside CI's clone); the tests that need them skip cleanly when it is absent.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import whistle.feed
from whistle.book.mbo import MarketByOrderBook
from whistle.cli.main import main
from whistle.core.mbo import MboInstrument
from whistle.feed.mbp import format_price, mbp_columns, mbp_rows

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
ITCH = DATA / "itch50-simulated" / "ex20101224.TEST_ITCH_50"
LOBSTER_DIR = DATA / "lobster-aapl-2012-06-21-level10"
LOBSTER = LOBSTER_DIR / "AAPL_2012-06-21_34200000_57600000_message_10.csv"
needs_itch = pytest.mark.skipif(not ITCH.is_file(), reason=f"sample data absent: {ITCH}")
needs_lobster = pytest.mark.skipif(not LOBSTER.is_file(), reason=f"sample data absent: {LOBSTER}")

sys.path.insert(0, str(ROOT / "tests" / "unit" / "feed"))
from test_dbn_files import scenario, write_csv, write_dbn  # noqa: E402


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["feed", *args])
    return result.exit_code, result.stdout, result.stderr


# -- the done-when commands -----------------------------------------------------
@needs_itch
def test_stats_prints_the_data_readme_counts():
    code, out, _ = run("stats", str(ITCH), "--format", "itch", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["messages"] == 12_012
    assert result["by_type"] == {
        "S": 6, "R": 3, "H": 3, "A": 4_997, "F": 3, "E": 198, "X": 45, "D": 1_745, "U": 12,
        "P": 5_000,
    }  # fmt: skip
    symbols = result["symbols"]
    assert {s: symbols[s]["adds"] for s in symbols} == {"ALC": 950, "BOB": 2_482, "CHAR": 1_568}
    assert {s: symbols[s]["trades"] for s in symbols} == {"ALC": 1_885, "BOB": 1_658, "CHAR": 1_457}
    assert all("executions" in v for v in symbols.values())
    assert len(result["warnings"]) == 1  # the all-zero length prefixes, reported once
    code, text, _ = run("stats", str(ITCH), "--format", "itch")
    assert code == 0
    assert "4,997" in text
    assert "12,012" in text


@needs_itch
def test_replay_bob_writes_mbp10_rows(tmp_path: Path):
    out = tmp_path / "bob.csv"
    code, text, err = run(
        "replay", str(ITCH), "--format", "itch", "--symbol", "BOB", "--out", str(out)
    )
    assert code == 0, err
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    assert list(rows[0]) == mbp_columns(10)
    assert {r["symbol"] for r in rows} == {"BOB"}
    assert f"{len(rows):,} MBP-10 rows written" in text
    assert "books at the end" in text
    # The last row is the final book, as a book built here from the decoder sees it.
    book = MarketByOrderBook()
    for e in whistle.feed.open(ITCH, format="itch", symbols=["BOB"]):
        if not isinstance(e, MboInstrument) and e.instrument_id != 0:
            book.apply(e)
    bids, asks = book.depth(10)
    last = rows[-1]
    for i, (price, qty, count) in enumerate(bids):
        assert last[f"bid_px_{i:02d}"] == format_price(price, 4)
        assert int(last[f"bid_sz_{i:02d}"]) == qty
        assert int(last[f"bid_ct_{i:02d}"]) == count
    for i, (price, qty, count) in enumerate(asks):
        assert last[f"ask_px_{i:02d}"] == format_price(price, 4)
        assert int(last[f"ask_sz_{i:02d}"]) == qty
        assert int(last[f"ask_ct_{i:02d}"]) == count


@needs_itch
def test_every_event_equals_on_last_for_itch(tmp_path: Path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert run("replay", str(ITCH), "--format", "itch", "--out", str(a), "--on-last")[0] == 0
    assert run("replay", str(ITCH), "--format", "itch", "--out", str(b), "--every-event")[0] == 0
    assert a.read_text() == b.read_text()
    first = json.loads(a.read_text().splitlines()[0])
    assert list(first) == mbp_columns(10)


@needs_itch
def test_record_and_play_back_twice(tmp_path: Path):
    rec = tmp_path / "rec"
    code, text, err = run("record", str(ITCH), "--format", "itch", "--out", str(rec))
    assert code == 0, err
    assert "12,012 messages recorded" in text
    outs = []
    for name in ("p1.csv", "p2.csv"):
        code, text, err = run("play", str(rec), "--out", str(tmp_path / name))
        assert code == 0, err
        assert "recording complete" in text
        outs.append((tmp_path / name).read_text())
    assert outs[0] == outs[1]
    direct = tmp_path / "direct.csv"
    assert run("replay", str(ITCH), "--format", "itch", "--out", str(direct))[0] == 0
    assert outs[0] == direct.read_text()
    code, _, err = run("record", str(ITCH), "--format", "itch", "--out", str(rec))
    assert code == 65
    assert "already holds a journal" in err


@needs_lobster
def test_lobster_replay_infers_the_orderbook_file(tmp_path: Path):
    inferred, explicit = tmp_path / "a.csv", tmp_path / "b.csv"
    code, _, err = run("replay", str(LOBSTER), "--format", "lobster", "--out", str(inferred))
    assert code == 0, err
    book_file = str(LOBSTER).replace("_message_", "_orderbook_")
    code, _, err = run(
        "replay", str(LOBSTER), "--format", "lobster", "--orderbook", book_file,
        "--out", str(explicit),
    )  # fmt: skip
    assert code == 0, err
    assert inferred.read_text() == explicit.read_text()
    with inferred.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    assert rows[0]["bid_px_00"]  # seeded from the first orderbook row: a book from row one


# -- Databento ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["dbn", "dbn-csv"])
def test_databento_replay_and_stats(tmp_path: Path, fmt: str):
    if fmt == "dbn":
        src = write_dbn(tmp_path / "s.dbn.zst", scenario(), how="zstd")
    else:
        src = write_csv(tmp_path / "s.csv", scenario())
    out = tmp_path / "rows.jsonl"
    code, _, err = run("replay", str(src), "--format", fmt, "--depth", "2", "--out", str(out))
    assert code == 0, err
    got = [json.loads(line) for line in out.read_text().splitlines()]
    want = list(mbp_rows(src, format=fmt, depth=2))
    assert len(got) == len(want) == 10
    assert [g["sequence"] for g in got] == [w["sequence"] for w in want]
    assert got[1]["bid_px_01"] == "99.990000000"
    code, text, _ = run("stats", str(src), "--format", fmt, "--json")
    assert code == 0
    stats = json.loads(text)
    assert stats["messages"] == 16
    assert stats["by_type"] == {"A": 5, "C": 2, "F": 1, "M": 3, "N": 1, "R": 2, "T": 2}
    assert stats["symbols"]["AAPL"]["adds"] == 4


# -- bad input: one line, exit 65, the file and where ---------------------------------
def test_truncated_dbn_is_one_line_naming_the_offset(tmp_path: Path):
    path = write_dbn(tmp_path / "s.dbn", scenario())
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    code, out, err = run("replay", str(path), "--format", "dbn")
    assert code == 65
    assert "Traceback" not in out + err
    assert f"s.dbn: byte offset {len(data) - 56}: file ends inside a record" in err
    assert len(err.strip().splitlines()) == 1


def test_wrong_format_flag(tmp_path: Path):
    path = write_dbn(tmp_path / "s.dbn", scenario())
    code, _, err = run("stats", str(path), "--format", "itch")
    assert code == 65
    assert "s.dbn" in err
    assert "Traceback" not in err
    code, _, err = run("stats", str(path), "--format", "nasdaq")
    assert code == 2
    assert "'nasdaq' is not one of" in err


def test_csv_with_missing_columns(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text("ts_event,action\n1,A\n")
    code, _, err = run("replay", str(path), "--format", "dbn-csv")
    assert code == 65
    assert "m.csv: line 1: missing column(s)" in err


def test_out_must_be_csv_or_jsonl(tmp_path: Path):
    path = write_dbn(tmp_path / "s.dbn", scenario())
    code, _, err = run("replay", str(path), "--format", "dbn", "--out", str(tmp_path / "x.txt"))
    assert code == 2
    assert "expected a .csv or .jsonl file name" in err


def test_orderbook_only_for_lobster(tmp_path: Path):
    path = write_dbn(tmp_path / "s.dbn", scenario())
    code, _, err = run("stats", str(path), "--format", "dbn", "--orderbook", str(path))
    assert code == 2
    assert "only LOBSTER has an orderbook file" in err


# -- whistle bench feed -----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["itch", "lobster", "dbn"])
def test_bench_feed_json(fmt: str):
    result = CliRunner().invoke(
        main,
        ["bench", "feed", "--format", fmt, "--messages", "2000", "--repeat", "1",
         "--no-sample", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    for key in ("messages", "seconds", "decode_per_sec", "book_per_sec", "mbp10_per_sec",
                "bare_per_sec"):  # fmt: skip
        assert figures[key] > 0, key
    assert figures["input"] == "synthetic"
    # every message framed by the bare loop is a message the decoder counted
    assert figures["bare_messages"] == figures["messages"]


def test_synthetic_stream_is_a_valid_book(tmp_path: Path):
    """The generated ITCH stream never crosses, never names an unknown order."""
    from whistle.bench.feed import itch_bytes, synthetic_ops

    ops = synthetic_ops(20_000, seed=3)
    assert ops == synthetic_ops(20_000, seed=3)  # seeded
    path = tmp_path / "synthetic.itch"
    path.write_bytes(itch_bytes(ops))
    book = MarketByOrderBook(1, policy="strict")
    reader = whistle.feed.open(path, format="itch")
    for e in reader:
        if e.instrument_id == 1 and not isinstance(e, MboInstrument):
            book.apply(e)
    book.validate_internal_state()
    assert book.anomaly_count == 0
    assert reader.stats.warnings == []  # every length prefix is the real length
    kinds = reader.stats.by_type
    assert kinds["A"] > kinds["U"] > kinds["E"] > kinds["X"] > kinds["P"] > 0


def test_progress_bar_does_not_change_the_rows(tmp_path: Path):
    src = write_dbn(tmp_path / "s.dbn", scenario() * 3000)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    code, _, err = run("replay", str(src), "--format", "dbn", "--progress", "--out", str(a))
    assert code == 0, err
    code, _, err = run("replay", str(src), "--format", "dbn", "--no-progress", "--out", str(b))
    assert code == 0, err
    assert a.read_text() == b.read_text()


def test_read_position_follows_an_open_file(tmp_path: Path):
    from whistle.cli.feed import _read_position

    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10_000)
    with path.open("rb", buffering=0) as fh:
        fh.read(4096)
        assert _read_position(str(path)) == 4096
    assert _read_position(str(path)) is None


def test_an_unknown_symbol_is_reported(tmp_path: Path):
    path = write_dbn(tmp_path / "s.dbn", scenario())
    code, _, err = run("replay", str(path), "--format", "dbn", "--symbol", "NOPE")
    assert code == 0
    assert "no symbol NOPE in the file" in err
    code, out, err = run("stats", str(path), "--format", "dbn", "--symbol", "NOPE", "--json")
    assert code == 0
    assert json.loads(out)["symbols"] == {}
    assert "no symbol NOPE" in err


# -- hostile files at the CLI (review of issue 9) -----------------------------------------
def _flipped(tmp_path: Path) -> tuple[Path, int]:
    """A DBN file of 3,200 MBO records with one bit flipped in a record's length byte."""
    good = write_dbn(tmp_path / "good.dbn", scenario() * 200).read_bytes()
    bad = len(good) - 56 * 100
    data = bytearray(good)
    data[bad] ^= 0x40
    path = tmp_path / "flip.dbn"
    path.write_bytes(bytes(data))
    return path, bad


@pytest.mark.parametrize("command", ["stats", "replay", "record"])
def test_a_corrupt_dbn_record_is_one_error_line_not_a_panic(tmp_path: Path, command: str):
    path, bad = _flipped(tmp_path)
    extra = {"replay": ["--out", str(tmp_path / "o.csv")], "record": ["--out", str(tmp_path / "r")]}
    code, _, err = run(command, str(path), "--format", "dbn", *extra.get(command, []))
    assert code == 65, err
    assert "Traceback" not in err
    assert "PanicException" not in err
    assert f"flip.dbn: byte offset {bad}: malformed MBO record header" in err
    assert not (tmp_path / "r").exists()


def test_a_failed_record_leaves_nothing_and_says_so(tmp_path: Path):
    data = write_dbn(tmp_path / "s.dbn", scenario() * 200).read_bytes()
    src = tmp_path / "cut.dbn"
    src.write_bytes(data[:-20])
    out = tmp_path / "out" / "rec"
    out.parent.mkdir()
    code, _, err = run("record", str(src), "--format", "dbn", "--out", str(out))
    assert code == 65
    assert "file ends inside a record" in err
    assert f"nothing was recorded to {out}" in err
    assert list(out.parent.iterdir()) == []


def test_dbn_csv_strict_refuses_a_blank_line(tmp_path: Path):
    lines = write_csv(tmp_path / "ok.csv", scenario()).read_text().splitlines(keepends=True)
    path = tmp_path / "blank.csv"
    path.write_text("".join(lines[:3]) + "\n" + "".join(lines[3:]))
    code, _, err = run("stats", str(path), "--format", "dbn-csv", "--policy", "strict")
    assert code == 65
    assert "blank.csv: line 4: an empty line" in err
    code, out, err = run("stats", str(path), "--format", "dbn-csv", "--policy", "lenient", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["messages"] == len(scenario())
    assert result["anomalies"] == {"empty_line": 1}
