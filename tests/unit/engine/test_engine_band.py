"""Price band: static reference, moving with the last trade, checks on entry and modify."""

from __future__ import annotations

import pytest
from engine_kit import (
    BUY,
    IOC_REM,
    SELL,
    Harness,
    buy,
    instrument,
    modify,
    replace,
    sell,
    stop,
    stop_limit,
    trade,
)

from whistle.core import RejectReason

OUTSIDE = RejectReason.PRICE_OUTSIDE_BAND


def band(h):
    snap = h.eng.snapshot()
    return snap.band_lo, snap.band_hi


@pytest.mark.parametrize(
    ("ref", "bps", "lo", "hi"),
    [
        (10_000, 100, 9_900, 10_100),
        (10_001, 100, 9_901, 10_101),  # lo rounds up, hi rounds down
        (999, 50, 995, 1_003),
        (3, 5_000, 2, 4),
    ],
)
def test_static_band_edges_are_inclusive(ref, bps, lo, hi):
    h = Harness(instrument(price_band_bps=bps, reference_price_ticks=ref))
    assert band(h) == (lo, hi)
    assert h.reject(buy(1, hi + 1, 1)) == OUTSIDE
    assert h.reject(sell(2, lo - 1, 1)) == OUTSIDE
    h.setup(buy(3, lo, 1), sell(4, hi, 1))
    assert h.bids() == [(lo, 1, 1)]
    assert h.asks() == [(hi, 1, 1)]


def test_band_applies_to_limit_prices_only():
    h = Harness(instrument(price_band_bps=100, reference_price_ticks=10_000))
    assert h.reject(stop_limit(1, BUY, 10_000, 10_101, 1)) == OUTSIDE
    assert h.reject(stop_limit(2, SELL, 10_000, 9_899, 1)) == OUTSIDE
    # The stop price itself is not banded.
    h.setup(stop(3, BUY, 20_000, 1), stop_limit(4, SELL, 5_000, 9_900, 1))


def test_no_reference_means_no_band_until_the_first_trade():
    h = Harness(instrument(price_band_bps=100))
    h.setup(buy(1, 1, 1), sell(2, 1_000_000, 1), sell(3, 500, 1), buy(4, 500, 1))
    assert band(h) == (495, 505)
    assert h.reject(buy(5, 506, 1)) == OUTSIDE
    assert h.reject(sell(6, 494, 1)) == OUTSIDE


def test_band_moves_with_the_last_trade_of_each_taker():
    h = Harness(instrument(price_band_bps=100, reference_price_ticks=10_000))
    h.setup(sell(1, 10_000, 1), sell(2, 10_050, 1))
    assert h.reject(buy(9, 10_150, 1)) == OUTSIDE
    h.setup(buy(3, 10_100, 2))  # prints 10000 then 10050: the last one is the reference
    assert band(h) == (9_950, 10_150)
    h.setup(buy(4, 10_150, 1))
    assert h.reject(sell(5, 9_949, 1)) == OUTSIDE


def test_band_checked_on_modify_and_replace_price_changes_only():
    h = Harness(instrument(price_band_bps=100, reference_price_ticks=10_000))
    h.setup(buy(1, 9_900, 5), buy(2, 9_950, 5))
    assert h.reject(modify(2, price=9_899)) == OUTSIDE
    assert h.reject(replace(2, 12, 9_899, 5)) == OUTSIDE
    # Move the band up: 9900 is now outside [9950, 10150] but may still shrink or be
    # replaced at its own price.
    h.setup(sell(3, 10_050, 1), buy(4, 10_050, 1))
    assert band(h) == (9_950, 10_150)
    assert h.b(modify(1, qty=3)) == [
        ("mod", 1, 9_900, 3, True),
        ("lvl", BUY, 9_900, 3, 1),
    ]
    assert h.b(replace(1, 11, 9_900, 4))[0] == ("repl", 1, 11, 9_900, 4)
    assert h.reject(modify(11, price=9_949)) == OUTSIDE
    assert h.reject(buy(5, 9_900, 1)) == OUTSIDE


def test_triggered_stop_market_is_bounded_by_the_band_edge():
    h = Harness(instrument(price_band_bps=100, reference_price_ticks=10_000))
    h.setup(sell(1, 10_100, 5), stop(2, BUY, 9_950, 5), sell(3, 9_950, 1), sell(4, 10_000, 2))
    # The print at 9950 moves the band to [9851, 10049] before the stop enters.
    assert h.b(buy(5, 9_950, 1)) == [
        ("acc", 5),
        *trade(1, 9_950, 1, maker=3, taker=5, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("trig", 2, 9_950, 9_950),
        *trade(2, 10_000, 2, maker=4, taker=2, aggressor=BUY, maker_leaves=0, taker_leaves=3),
        ("cxl", 2, IOC_REM, 3, 0),
        ("lvl", SELL, 9_950, 0, 0),
        ("lvl", SELL, 10_000, 0, 0),
        ("bbo", 0, 0, 10_100, 5),
    ]
    assert band(h) == (9_900, 10_100)
