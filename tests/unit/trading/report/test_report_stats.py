"""summarize(): every figure of the worked example computed by hand; empty runs; helpers."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whistle.core.enums import Liquidity, Side
from whistle.trading.report import summarize, summary_rows
from whistle.trading.report.stats import drawdown, fills_digest, percentile
from whistle.trading.report.table import format_ns

sys.path.insert(0, str(Path(__file__).parent))
from report_results import Fill, Ledger, Result, sample, worked_example


def test_worked_example_figures():
    s = summarize(worked_example())
    assert (s.realised_tl, s.fees_tl, s.total_tl, s.unrealised_tl) == (-10, 4, -19, -5)
    assert s.unrealised_tl == -5 * (101 - 100)  # short 5 from 100, marked at 101
    assert (s.volume_lots, s.notional_tl) == (25, 10 * 99 + 10 * 98 + 5 * 100)
    assert (s.fills, s.maker_fills, s.taker_fills) == (3, 2, 1)
    assert (s.orders, s.modifies, s.cancels) == (5, 1, 2)
    assert s.cancel_ratio == 2 / 5
    assert s.fill_ratio == 3 / 5
    assert s.rejects == {"MAX_POSITION": 2}  # a zero count is not listed
    assert s.rejects_total == 2
    assert (s.final_position, s.max_position) == (-5, 10)
    assert s.max_drawdown_tl == 30  # peak 9 at t=2000, trough -21 at t=3000
    assert (s.order_to_fill_p50_ns, s.order_to_fill_p99_ns) == (300, 500)
    assert s.order_to_fill_count == 3
    assert (s.events, s.seconds, s.events_per_sec) == (100, 0.5, 200.0)
    assert s.tick_value == Decimal(
        "0.01"
    )  # the float 0.01 shown as written, not 0.01000000000000000020816...
    assert s.money(s.total_tl) == Decimal("-0.19")
    assert s.money(s.max_drawdown_tl) == Decimal("0.30")


def test_as_dict_is_json_with_the_cli_keys():
    d = summarize(worked_example()).as_dict()
    again = json.loads(json.dumps(d))
    assert again == d
    assert {"events", "seconds", "events_per_sec", "fills", "pnl"} <= d.keys()
    assert d["pnl"] == {"realised": -10, "unrealised": -5, "fees": 4, "total": -19}
    assert d["pnl_money"] == {
        "realised": "-0.10",
        "unrealised": "-0.05",
        "fees": "0.04",
        "total": "-0.19",
    }
    assert d["max_drawdown_money"] == "0.30"
    assert d["tick_value"] == "0.01"
    assert d["fills"] == 3


def test_empty_run_has_defined_figures():
    s = summarize(Result())
    assert (s.events, s.seconds, s.events_per_sec) == (0, 0.0, 0.0)
    assert (s.fills, s.maker_fills, s.taker_fills, s.volume_lots) == (0, 0, 0, 0)
    assert (s.cancel_ratio, s.fill_ratio) == (0.0, 0.0)
    assert (s.realised_tl, s.unrealised_tl, s.fees_tl, s.total_tl) == (0, 0, 0, 0)
    assert s.max_drawdown_tl == 0
    assert (s.max_position, s.final_position) == (0, 0)
    assert s.order_to_fill_p50_ns is None
    assert s.order_to_fill_p99_ns is None
    assert s.rejects == {}
    json.dumps(s.as_dict())
    rows = dict(summary_rows(s))
    assert rows["order-to-fill p50"] == "-"
    assert rows["PnL total (after fees)"] == "0.00  (0 tick-lots)"


def test_orders_without_fills_and_a_flat_timeline():
    timeline = [sample(t, 100, 0, 0, 0) for t in (1, 2, 3)]
    s = summarize(Result(events=3, seconds=0.001, orders=4, cancels=4, timeline=timeline))
    assert s.cancel_ratio == 1.0
    assert s.fill_ratio == 0.0
    assert s.max_drawdown_tl == 0
    assert s.total_tl == 0
    assert s.events_per_sec == 3000.0


def test_no_timeline_falls_back_to_the_ledger():
    # A run with fills but no sample (sampling off): total = realised - fees, nothing open.
    fills = [
        Fill(1, 1, Side.BUY, 10, 1, Liquidity.TAKER, 1),
        Fill(2, 2, Side.SELL, 12, 1, Liquidity.TAKER, 1),
    ]
    s = summarize(
        Result(
            fills=fills, orders=2, ledger=Ledger(realised=2, fees=2, volume=2, max_abs_position=1)
        )
    )
    assert (s.total_tl, s.unrealised_tl, s.max_drawdown_tl) == (0, 0, 0)
    assert (s.taker_fills, s.max_position) == (2, 1)


def test_max_position_takes_the_timeline_when_larger():
    timeline = [sample(1, 100, -7, 0, 0)]
    s = summarize(Result(timeline=timeline, ledger=Ledger(max_abs_position=3)))
    assert s.max_position == 7


def test_reject_keys_of_any_kind_are_named():
    s = summarize(Result(rejects={"SELF_CROSS": 1, 3002: 4}))
    assert s.rejects == {"3002": 4, "SELF_CROSS": 1}
    assert s.rejects_total == 5


def test_percentile_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7], 50) == 7
    assert percentile([7], 99) == 7
    assert percentile([1, 2], 50) == 1
    assert percentile([1, 2], 51) == 2
    assert percentile([], 50) is None
    for bad in (0, -1, 101):
        with pytest.raises(ValueError, match="percentile"):
            percentile(values, bad)


def test_drawdown():
    assert drawdown([]) == 0
    assert drawdown([1, 2, 3]) == 0
    assert drawdown([-5, -3]) == 5  # the peak starts at 0 (equity before the first event)
    assert drawdown([10, 4, 12, 1, 11]) == 11
    assert drawdown([3, 1], start=5) == 4


def test_fills_digest_sees_every_field():
    fills = worked_example().fills
    base = fills_digest(fills)
    assert base == fills_digest(list(fills))
    assert base != fills_digest(fills[:-1])
    assert base != fills_digest(list(reversed(fills)))
    f = fills[0]
    for change in (
        {"ts_ns": f.ts_ns + 1},
        {"client_order_id": 9},
        {"side": Side.SELL},
        {"price": f.price + 1},
        {"qty": f.qty + 1},
        {"liquidity": Liquidity.TAKER},
        {"fee": f.fee - 1},
    ):
        other = Fill(**{**f.__dict__, **change})
        assert fills_digest([other, *fills[1:]]) != base, change


def test_format_ns():
    assert format_ns(None) == "-"
    assert format_ns(850) == "850 ns"
    assert format_ns(12_500) == "12.5 us"
    assert format_ns(3_000_000) == "3.0 ms"
    assert format_ns(1_250_000_000) == "1.250 s"


def test_summary_rows_show_money_and_tick_lots():
    rows = dict(summary_rows(summarize(worked_example())))
    assert rows["PnL total (after fees)"] == "-0.19  (-19 tick-lots)"
    assert rows["max drawdown"] == "0.30  (30 tick-lots)"
    assert rows["fills (maker / taker)"] == "3 (2 / 1)"
    assert rows["rejects"] == "2 (MAX_POSITION 2)"
    assert rows["order-to-fill p99"] == "500 ns"


@given(st.lists(st.integers(-(10**12), 10**12), max_size=40))
def test_drawdown_is_the_worst_fall_from_any_earlier_peak(equity: list[int]):
    points = [0, *equity]  # the equity before the first event is 0
    brute = max(
        (points[i] - points[j] for i in range(len(points)) for j in range(i, len(points))),
        default=0,
    )
    assert drawdown(equity) == brute
