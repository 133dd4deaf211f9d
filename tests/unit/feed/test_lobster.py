"""LOBSTER decoder: the AAPL sample against its orderbook file, the types' meaning, bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import whistle.feed
from whistle.book.mbo import MarketByOrderBook
from whistle.core.mbo import (
    FLAG_LAST,
    FLAG_SNAPSHOT,
    FLAG_SYNTHETIC,
    SIDE_NONE,
    STATUS_HALT,
    STATUS_QUOTE_ONLY,
    STATUS_RESUME,
    TRADE_CROSS,
    TRADE_HIDDEN,
    MboAdd,
    MboCancel,
    MboExecute,
    MboInstrument,
    MboStatus,
    MboTrade,
)
from whistle.feed import FeedFormatError, LobsterDecoder
from whistle.feed.lobster import compare, orderbook_rows

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
SAMPLE = DATA / "lobster-aapl-2012-06-21-level10"
MESSAGES = SAMPLE / "AAPL_2012-06-21_34200000_57600000_message_10.csv"
ORDERBOOK = SAMPLE / "AAPL_2012-06-21_34200000_57600000_orderbook_10.csv"
needs_sample = pytest.mark.skipif(not MESSAGES.exists(), reason=f"{SAMPLE} is absent")


@needs_sample
def test_sample_every_row_equals_the_orderbook_file_but_levels_entering_from_below() -> None:
    result = compare(MESSAGES, ORDERBOOK, levels=10)
    assert result.rows == 999
    # A level-10 LOBSTER message file only describes the best 10 levels: what happens
    # deeper is never in it. When a level above empties, the 11th level moves up into
    # view with a size the messages never gave (or one that changed unseen while it was
    # out of view). Those rows differ at that level only, and always at level 10: 25 of
    # 999. compare() counts them as `deeper` (every differing price was not in the
    # previous row), then sets those levels from the row so the next row is checked
    # against a book that matched (47 levels set, each a synthetic order).
    assert result.unexplained == []
    assert len(result.deeper) == 25
    assert {level for _, level, _, _ in result.deeper} == {10}
    assert result.equal == 974
    assert result.reconciled_levels == 47
    assert result.deeper[0] == (13, 10, "ask (5876500, 1160)", "ask (5879000, 500)")
    # Cancels / executions of orders placed before 09:30 come off the seed orders.
    assert result.synthetic_hits == 10
    assert result.anomalies == {}


@needs_sample
def test_sample_seed_is_the_first_row_less_the_first_message() -> None:
    events = list(LobsterDecoder(MESSAGES, orderbook=ORDERBOOK))
    assert events[0] == MboInstrument(0, 34_200_004_241_176, 0, 0, FLAG_LAST, "AAPL", 4)
    seeds = [e for e in events if isinstance(e, MboAdd) and e.flags & FLAG_SYNTHETIC]
    assert len(seeds) == 19  # 20 levels, less the one message 1 creates
    assert all(e.sequence == 0 and e.order_id < 0 for e in seeds)
    assert all(e.flags & FLAG_SNAPSHOT for e in seeds)
    assert [e.flags & FLAG_LAST for e in seeds].count(FLAG_LAST) == 1
    first = events[len(seeds) + 1]
    # Message 1 adds 18 at 585.33 (buy): row 1 has 18 there, so the seed has none.
    assert first == MboAdd(0, 34_200_004_241_176, 0, 1, FLAG_LAST, 16113575, 1, 5853300, 18)
    assert 5853300 not in {e.price for e in seeds if e.side == 1}
    book = MarketByOrderBook(policy="strict")
    for e in events[: len(seeds) + 2]:
        book.apply(e)
    bids, asks = next(orderbook_rows(ORDERBOOK))
    assert [(p, q) for p, q, _ in book.depth(10)[0]] == bids
    assert [(p, q) for p, q, _ in book.depth(10)[1]] == asks


@needs_sample
def test_sample_counts_by_type_and_gzip(tmp_path: Path) -> None:
    decoder = whistle.feed.open(MESSAGES, format="lobster")
    events = list(decoder)
    assert decoder.stats.messages == 999
    assert sum(decoder.stats.by_type.values()) == 999
    assert set(decoder.stats.by_type) <= {"1", "2", "3", "4", "5", "6", "7"}
    assert decoder.stats.symbols["AAPL"].adds == decoder.stats.by_type["1"]
    packed = tmp_path / "m.csv.gz"
    packed.write_bytes(gzip.compress(MESSAGES.read_bytes()))
    assert list(LobsterDecoder(packed, symbol="AAPL")) == events


# ----------------------------------------------------------------- the types' meaning


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_each_type_becomes_its_event_and_only_visible_ones_change_the_book(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path / "X_2012-06-21_0_1_message_1.csv",
        [
            "34200.5,1,11,100,1000000,1",  # buy 100 @ 100.00
            "34200.6,1,12,50,1010000,-1",  # sell 50 @ 101.00
            "34201,4,12,20,1010000,-1",  # the resting sell (direction -1) executes 20
            "34201.000000001,5,0,7,1005000,1",  # hidden buy executed: no book change
            "34202,6,0,300,1004000,1",  # cross: no book change
            "34203,2,11,30,1000000,1",  # partial cancel of 30
            "34204,7,0,0,-1,-1",  # halt
            "34205,7,0,0,0,-1",  # quoting
            "34206,7,0,0,1,-1",  # resume
            "34207,3,11,70,1000000,1",  # delete the rest
        ],
    )
    decoder = LobsterDecoder(path, instrument_id=5)
    events = list(decoder)
    assert events[0] == MboInstrument(5, 34_200_500_000_000, 0, 0, FLAG_LAST, "X", 4)
    body = events[1:]
    assert body[0] == MboAdd(5, 34_200_500_000_000, 0, 1, FLAG_LAST, 11, 1, 1_000_000, 100)
    assert body[2] == MboExecute(
        5, 34_201_000_000_000, 0, 3, FLAG_LAST, 12, 20, 2, 1_010_000, True, 0
    )
    assert body[3] == MboTrade(
        5, 34_201_000_000_001, 0, 4, FLAG_LAST, 0, 1, 1_005_000, 7, TRADE_HIDDEN, True, 0
    )
    assert body[4] == MboTrade(
        5, 34_202_000_000_000, 0, 5, FLAG_LAST, 0, SIDE_NONE, 1_004_000, 300, TRADE_CROSS, True, 0
    )
    assert body[5] == MboCancel(5, 34_203_000_000_000, 0, 6, FLAG_LAST, 11, 30, 1, 1_000_000)
    assert [e.status for e in body[6:9] if isinstance(e, MboStatus)] == [
        STATUS_HALT,
        STATUS_QUOTE_ONLY,
        STATUS_RESUME,
    ]
    assert body[9] == MboCancel(5, 34_207_000_000_000, 0, 10, FLAG_LAST, 11, 70, 1, 1_000_000)
    book = MarketByOrderBook(5, policy="strict")
    depths = []
    for e in body:
        book.apply(e)
        depths.append(book.depth())
    assert depths[2] == ([(1_000_000, 100, 1)], [(1_010_000, 30, 1)])
    assert depths[3] == depths[4] == depths[2]  # hidden execution and cross: unchanged
    assert depths[5] == ([(1_000_000, 70, 1)], [(1_010_000, 30, 1)])
    assert depths[9] == ([], [(1_010_000, 30, 1)])
    assert book.status == STATUS_RESUME
    assert book.volume == 20 + 7 + 300
    assert decoder.stats.by_type == {"1": 2, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "7": 3}


def test_symbol_filter_skips_another_symbol(tmp_path: Path) -> None:
    path = _write(tmp_path / "MSFT_2012-06-21_0_1_message_1.csv", ["34200.5,1,11,100,1000000,1"])
    assert list(LobsterDecoder(path, symbols=["AAPL"])) == []
    assert len(list(LobsterDecoder(path, symbols=["MSFT"]))) == 2


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("line", "kind", "message"),
    [
        (
            "34200.5,8,11,100,1000000,1",
            "unknown_type",
            "unknown LOBSTER event type 8; expected 1-7",
        ),
        ("34200.5,1,11,100,1000000", "bad_columns", "expected 6 columns (time, type, order id"),
        ("34200.5,1,11,100,1000000,1,9", "bad_columns", "saw 7"),
        ("34200.5,1,11,abc,1000000,1", "bad_value", "not a number"),
        ("34200.5,1,11,100,1000000,0", "bad_direction", "direction 0; expected 1 or -1"),
        ("34200.5,7,0,0,5,1", "bad_value", "trading halt indicator price 5"),
        ("9:30,1,11,100,1000000,1", "bad_value", "is not seconds.nanoseconds"),
        ("", "empty_line", "empty line; expected a message"),
        ("34200.5,1,11,99999999999999999999999999,1000000,1", "bad_value", "out of range"),
        ("34200.5,1,11,-100,1000000,1", "bad_value", "size -100 / price 1000000 out of range"),
        ("34200.5,4,11,100,0,1", "bad_value", "size 100 / price 0 out of range"),
        ("34200.5,1,-7,100,1000000,1", "bad_value", "order id -7"),
    ],
)
def test_a_bad_line_names_file_and_line(tmp_path: Path, line: str, kind: str, message: str) -> None:
    path = _write(
        tmp_path / "m.csv",
        ["34200.1,1,10,5,1000000,1", "34200.2,1,11,5,1000000,1", line, "34200.9,3,10,5,1000000,1"],
    )
    with pytest.raises(FeedFormatError) as info:
        list(LobsterDecoder(path))
    assert str(info.value).startswith(f"{path}: line 3: ")
    assert message in str(info.value)
    assert info.value.line == 3
    lenient = LobsterDecoder(path, policy="lenient")
    events = list(lenient)
    assert [e.sequence for e in events] == [0, 1, 2, 4]  # the bad line is skipped, counted
    assert lenient.stats.anomalies == {kind: 1}
    assert lenient.stats.anomaly_log[0].startswith(f"{path}: line 3: ")


def test_a_bad_orderbook_file_names_its_line(tmp_path: Path) -> None:
    messages = _write(tmp_path / "m.csv", ["34200.1,1,10,5,1000000,1"])
    rows = _write(tmp_path / "o.csv", ["1000100,5,1000000,5,1000200"])
    with pytest.raises(FeedFormatError, match=r"o\.csv: line 1: expected 4 columns per level"):
        list(LobsterDecoder(messages, orderbook=rows))
    gap = _write(tmp_path / "gap.csv", ["9999999999,0,1000000,5", "", "9999999999,0,1000000,5"])
    with pytest.raises(FeedFormatError, match=r"gap\.csv: line 2: empty line"):
        list(orderbook_rows(gap))
    with pytest.raises(FeedFormatError, match=r"line 1: empty orderbook file"):
        list(LobsterDecoder(messages, orderbook=_write(tmp_path / "e.csv", [])))
    short = _write(tmp_path / "two.csv", ["34200.1,1,10,5,1000000,1", "34200.2,1,11,5,1000000,1"])
    one_row = _write(tmp_path / "one.csv", ["9999999999,0,1000000,5"])
    with pytest.raises(FeedFormatError, match="fewer rows than the message file"):
        compare(short, one_row, levels=1)


def test_a_truncated_gzip_file_is_an_error_naming_the_line(tmp_path: Path) -> None:
    text = "".join(f"34200.{i:03d},1,{i},5,1000000,1\n" for i in range(1, 400)).encode()
    packed = gzip.compress(text)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(packed[: len(packed) - 30])
    decoder = LobsterDecoder(path)
    with pytest.raises(FeedFormatError) as info:
        list(decoder)
    assert str(info.value).startswith(f"{path}: line ")
    assert "compressed stream" in str(info.value)
    assert info.value.line is not None
