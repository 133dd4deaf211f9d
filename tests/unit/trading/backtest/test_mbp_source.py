"""MBP-N rows as backtest input: the same L2 fills as the order-level file they came from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import whistle.feed
from whistle.bench.feed import itch_bytes, synthetic_ops
from whistle.book.mbo import MarketByOrderBook
from whistle.core.mbo import MboInstrument
from whistle.feed.mbp import MbpBuilder, open_row_writer
from whistle.trading.backtest import BacktestConfig, BacktestConfigError, BacktestError
from whistle.trading.backtest.mbp_source import MbpRowReader
from whistle.trading.backtest.runner import run_backtest
from whistle.trading.examples import MarketMaker

if TYPE_CHECKING:
    from pathlib import Path

SYM = "WHSTL"


def rows_file(tmp_path: Path, kind: str) -> tuple[str, str]:
    itch = tmp_path / "s.itch"
    itch.write_bytes(itch_bytes(synthetic_ops(1_500, 21), symbol=SYM))
    out = tmp_path / f"rows.{kind}"
    builder = MbpBuilder(10)
    with out.open("w", newline="") as fh:
        writer = open_row_writer(fh, kind, 10, builder.decimals())
        for e in whistle.feed.open(str(itch), "itch", [SYM]):
            row = builder.push(e)
            if row is not None:
                writer.write(row)
        writer.close()
    return str(itch), str(out)


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_rows_rebuild_the_top_of_book(tmp_path: Path, kind: str) -> None:
    itch, rows = rows_file(tmp_path, kind)
    book = MarketByOrderBook()
    tops = []
    reader = MbpRowReader(rows, SYM)
    for e in reader:
        if type(e) is MboInstrument:
            assert e.price_decimals == 4
            continue
        book.apply(e)
        if e.flags & 128:
            tops.append(book.depth(10))
    ref = MarketByOrderBook()
    expected = []
    for e in whistle.feed.open(itch, "itch", [SYM]):
        if type(e) is MboInstrument:
            continue
        ref.apply(e)
        expected.append(ref.depth(10))

    def distinct(states: list) -> list:  # type: ignore[type-arg]
        out: list = [([], [])]  # type: ignore[type-arg]
        for b, a in states:
            top = ([(p, q) for p, q, _ in b], [(p, q) for p, q, _ in a])
            if not out or out[-1] != top:
                out.append(top)
        return out

    # A row is written for every change of the top 10 (and every trade): the same states.
    assert distinct(tops) == distinct(expected)
    assert book.anomaly_count == 0


def test_l2_fills_from_rows_equal_l2_fills_from_the_order_level_file(tmp_path: Path) -> None:
    itch, rows = rows_file(tmp_path, "csv")
    a = run_backtest(
        BacktestConfig(data=itch, symbol=SYM, queue_model="risk_averse"), MarketMaker()
    )
    b = run_backtest(
        BacktestConfig(data=rows, symbol=SYM, format="mbp", queue_model="risk_averse"),
        MarketMaker(),
    )
    assert a.fills
    assert [(f.side, f.price, f.qty) for f in a.fills] == [
        (f.side, f.price, f.qty) for f in b.fills
    ]


def test_mbp_input_refuses_fifo_and_bad_rows(tmp_path: Path) -> None:
    with pytest.raises(BacktestConfigError, match="L2 queue_model"):
        run_backtest(BacktestConfig(data="x.csv", symbol=SYM, format="mbp"), MarketMaker())
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "ts_event,ts_recv,symbol,action,side,depth,price,size,flags,sequence,bid_px_00,bid_sz_00,bid_ct_00,ask_px_00,ask_sz_00,ask_ct_00\n1,0,WHSTL,A,B,0,1.5,1,128,0,1.x,1,1,,0,0\n"
    )
    cfg = BacktestConfig(data=str(bad), symbol=SYM, format="mbp", queue_model="log")
    with pytest.raises(BacktestError, match="line 2: bid_px_00"):
        run_backtest(cfg, MarketMaker())
