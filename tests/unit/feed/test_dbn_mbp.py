"""MBP-10 rows from Databento MBO: expected rows written by hand for the scenario file."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

import pytest
from test_dbn_files import PX, T0, scenario, write_dbn

import whistle.feed
from whistle.feed.mbp import (
    MbpBuilder,
    format_price,
    mbp_columns,
    mbp_rows,
    open_row_writer,
)

if TYPE_CHECKING:
    from pathlib import Path

B100 = 100 * PX  # 100.00
B9999 = 99_990_000_000
A10005 = 100_050_000_000
A10003 = 100_030_000_000
T10002 = 100_020_000_000
NONE = (None, None, 0, 0, 0, 0)  # an empty level pair: bid_px ask_px bid_sz ask_sz bid_ct ask_ct


def head(ts: int, sym: str, action: str, side: str, depth: int, price: int | None, size: int,
         flags: int, seq: int) -> tuple[Any, ...]:  # fmt: skip
    return (T0 + ts, T0 + ts + 7, sym, action, side, depth, price, size, flags, seq)


def lvl(bid: tuple[int, int, int] | None, ask: tuple[int, int, int] | None) -> tuple[Any, ...]:
    bp, bs, bc = bid or (None, 0, 0)
    ap, as_, ac = ask or (None, 0, 0)
    return (bp, ap, bs, as_, bc, ac)


def grouped(levels: tuple[Any, ...]) -> tuple[Any, ...]:
    """Per-level (bid_px ask_px bid_sz ask_sz bid_ct ask_ct) tuples -> the row's column
    order: every bid_px, bid_sz, bid_ct, then every ask_px, ask_sz, ask_ct."""
    chunks = [levels[i : i + 6] for i in range(0, len(levels), 6)]
    return tuple(c[j] for j in (0, 2, 4, 1, 3, 5) for c in chunks)


def regroup(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row[:10] + grouped(row[10:])


ASK3 = (A10005, 300, 1)  # ask #3: 100.05 x 300, one order

# The book after each F_LAST record of scenario() (see its docstring), two levels deep,
# written level by level (lvl(best bid, best ask) + lvl(second bid, second ask)).
ON_LAST_BY_LEVEL = [
    head(0, "AAPL", "A", "A", 0, A10005, 300, 168, 12) + lvl((B100, 300, 2), ASK3) + NONE,
    head(1000, "AAPL", "A", "B", 1, B9999, 50, 128, 13)
    + lvl((B100, 300, 2), ASK3) + lvl((B9999, 50, 1), None),
    head(2000, "AAPL", "M", "B", 0, B100, 180, 128, 14)
    + lvl((B100, 280, 2), ASK3) + lvl((B9999, 50, 1), None),
    head(3000, "AAPL", "M", "B", 0, B100, 150, 128, 15)
    + lvl((B100, 330, 2), ASK3) + lvl((B9999, 50, 1), None),
    head(4000, "AAPL", "M", "B", 0, B100, 50, 128, 16) + lvl((B100, 380, 3), ASK3) + NONE,
    # T, F, C of one event: one row, at the C that carries F_LAST
    head(5000, "AAPL", "C", "B", 0, B100, 100, 128, 17) + lvl((B100, 280, 3), ASK3) + NONE,
    # a side-N trade: no book change, but a print
    head(6000, "AAPL", "T", "N", 0, T10002, 10, 128, 18) + lvl((B100, 280, 3), ASK3) + NONE,
    # the ask leaves (C without F_LAST); the N record closes the event
    head(7000, "AAPL", "N", "N", 0, None, 0, 128, 19) + lvl((B100, 280, 3), None) + NONE,
    head(8000, "MSFT", "A", "A", 0, A10003, 70, 128, 20) + lvl(None, (A10003, 70, 1)) + NONE,
    head(9000, "AAPL", "R", "N", 0, None, 0, 128, 21) + NONE + NONE,
]  # fmt: skip
ON_LAST = [regroup(row) for row in ON_LAST_BY_LEVEL]


def _rows(path: Path, *, on_last: bool, depth: int = 2) -> list[tuple[Any, ...]]:
    builder = MbpBuilder(depth, on_last=on_last)
    return list(builder.run(whistle.feed.open(path, format="dbn")))


def test_on_last_rows_written_by_hand(tmp_path: Path):
    assert _rows(write_dbn(tmp_path / "s.dbn", scenario()), on_last=True) == ON_LAST


def test_every_event_publishes_each_visible_record(tmp_path: Path):
    rows = _rows(write_dbn(tmp_path / "s.dbn", scenario()), on_last=False)
    # 40 = F_SNAPSHOT | F_BAD_TS_RECV without F_LAST: the snapshot's first adds show too
    assert [(r[3], r[4], r[5], r[8]) for r in rows] == [
        ("A", "B", 0, 40),
        ("A", "B", 0, 40),
        ("A", "A", 0, 168),
        ("A", "B", 1, 128),
        ("M", "B", 0, 128),
        ("M", "B", 0, 128),
        ("M", "B", 0, 128),
        ("T", "A", 0, 0),  # the aggressor's trade (F: not a print, no row)
        ("C", "B", 0, 128),
        ("T", "N", 0, 128),
        ("C", "A", 0, 0),  # the N that closes it changes nothing: no row
        ("A", "A", 0, 128),
        ("R", "N", 0, 128),
    ]
    assert rows[0][10:] == grouped(lvl((B100, 100, 1), None) + NONE)
    assert rows[7][10:] == grouped(lvl((B100, 380, 3), ASK3) + NONE)  # T: book untouched
    # At each F_LAST both modes agree on the book.
    last_books = [r[10:] for r in rows if r[8] & 128 and r[3] != "T"]
    assert last_books == [r[10:] for r in ON_LAST if r[3] not in ("T", "N")]


def test_changes_below_the_depth_publish_nothing(tmp_path: Path):
    rows = _rows(write_dbn(tmp_path / "s.dbn", scenario()), on_last=True, depth=1)
    # the add at 99.99 (level 1) is invisible at depth 1
    assert [r[9] for r in rows] == [12, 14, 15, 16, 17, 18, 19, 20, 21]


def test_mbp_rows_one_liner(tmp_path: Path):
    path = write_dbn(tmp_path / "s.dbn", scenario())
    rows = list(mbp_rows(path, format="dbn", depth=2, symbols=["AAPL"]))
    assert [r["sequence"] for r in rows] == [12, 13, 14, 15, 16, 17, 18, 19, 21]
    assert rows[1]["bid_px_01"] == B9999
    assert rows[1]["bid_ct_00"] == 2
    assert rows[-1]["ask_px_00"] is None
    assert list(rows[0]) == mbp_columns(2)


def test_columns_are_databentos_names():
    cols = mbp_columns(10)
    assert cols[:10] == [
        "ts_event", "ts_recv", "symbol", "action", "side", "depth", "price", "size", "flags",
        "sequence",
    ]  # fmt: skip
    assert cols[10:13] == ["bid_px_00", "bid_px_01", "bid_px_02"]
    assert cols[19:21] == ["bid_px_09", "bid_sz_00"]
    assert cols[29:31] == ["bid_sz_09", "bid_ct_00"]
    assert cols[40:42] == ["ask_px_00", "ask_px_01"]
    assert cols[-1] == "ask_ct_09"
    assert len(cols) == 10 + 60


def test_format_price():
    assert format_price(1_000_500, 4) == "100.0500"
    assert format_price(-5, 4) == "-0.0005"
    assert format_price(A10005, 9) == "100.050000000"
    assert format_price(None, 4) == ""
    assert format_price(7, 0) == "7"


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_writers_print_decimal_prices(tmp_path: Path, kind: str):
    path = write_dbn(tmp_path / "s.dbn", scenario())
    builder = MbpBuilder(2)
    out = io.StringIO()
    writer = open_row_writer(out, kind, 2, builder.decimals())
    for row in builder.run(whistle.feed.open(path, format="dbn")):
        writer.write(row)
    writer.close()
    text = out.getvalue()
    if kind == "csv":
        table = list(csv.DictReader(io.StringIO(text)))
    else:
        table = [json.loads(line) for line in text.splitlines()]
    assert len(table) == len(ON_LAST)
    assert table[1]["bid_px_01"] == "99.990000000"
    assert table[1]["ask_px_00"] == "100.050000000"
    assert str(table[1]["bid_sz_00"]) == "300"
    empty = table[-1]["bid_px_00"]
    assert empty == ("" if kind == "csv" else None)


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth must be >= 1, was 0"):
        MbpBuilder(0)


@pytest.mark.parametrize("depth", [1, 3, 10])
def test_rows_match_the_books_depth_after_every_event(tmp_path: Path, depth: int):
    """The cached bid / ask columns are rebuilt whenever their side's top levels change:
    every row equals the book's own depth() at that moment (a synthetic ITCH day)."""
    from whistle.bench.feed import itch_bytes, synthetic_ops

    path = tmp_path / "s.itch"
    path.write_bytes(itch_bytes(synthetic_ops(6_000, seed=11)))
    builder = MbpBuilder(depth, on_last=False)
    rows = 0
    for e in whistle.feed.open(path, format="itch"):
        row = builder.push(e)
        if row is None:
            continue
        rows += 1
        book = builder.books()[e.instrument_id][2]
        bids, asks = book.depth(depth)
        want: list[Any] = []
        for levels in (bids, asks):
            pad = depth - len(levels)
            want += [p for p, _, _ in levels] + [None] * pad
            want += [q for _, q, _ in levels] + [0] * pad
            want += [c for _, _, c in levels] + [0] * pad
        assert list(row[10:]) == want, (rows, e)
    assert rows > 1_000


def test_on_last_publishes_once_per_event_at_its_last_record(tmp_path: Path):
    """A synthetic DBN day (replaces as C + A, executions as T + F + C, F_LAST on each
    event's last record): rows only at F_LAST, each the book's depth at that moment, and
    one row for every event whose records changed the top levels or printed a trade."""
    from whistle.bench.feed import dbn_bytes, synthetic_ops
    from whistle.core.mbo import FLAG_LAST

    path = tmp_path / "s.dbn"
    path.write_bytes(dbn_bytes(synthetic_ops(4_000, seed=2)))
    on_last = MbpBuilder(5, on_last=True)
    every = MbpBuilder(5, on_last=False)
    rows = 0
    pending = False
    for e in whistle.feed.open(path, format="dbn"):
        row = on_last.push(e)
        pending |= every.push(e) is not None
        if not e.flags & FLAG_LAST:
            assert row is None
            continue
        assert (row is not None) == pending, e
        pending = False
        if row is None:
            continue
        rows += 1
        book = on_last.books()[e.instrument_id][2]
        bids, asks = book.depth(5)
        assert row[10:15] == tuple([p for p, _, _ in bids] + [None] * (5 - len(bids)))
        assert row[25:30] == tuple([p for p, _, _ in asks] + [None] * (5 - len(asks)))
    assert rows > 1_000
