"""Limit and market orders, price-time priority, post-only."""

from __future__ import annotations

from engine_kit import (
    BUY,
    FOK,
    GTC,
    IOC,
    IOC_REM,
    LIMIT,
    SELL,
    SID,
    T0,
    Harness,
    buy,
    instrument,
    limit,
    market,
    sell,
    stop,
    stop_limit,
    trade,
)

from whistle.core import OrderAccepted, RejectReason


def test_limit_rests_with_exact_accept_event():
    h = Harness()
    events = h.send(buy(1, 100, 10, acct=7))
    assert events[0] == OrderAccepted(SID, 1, 1, T0, 1, 7, BUY, LIMIT, GTC, 100, 10, 0, 0)
    assert h.b(sell(2, 105, 3)) == [
        ("acc", 2),
        ("lvl", SELL, 105, 3, 1),
        ("bbo", 100, 10, 105, 3),
    ]
    assert h.bids() == [(100, 10, 1)]
    assert h.asks() == [(105, 3, 1)]
    status = h.eng.status()
    assert (status.resting_orders, status.parked_stops, status.trades) == (2, 0, 0)
    assert (status.best_bid_ticks, status.best_ask_ticks, status.event_seq) == (100, 105, 6)


def test_limit_full_fill_empties_the_book():
    h = Harness()
    h.setup(sell(1, 100, 10))
    assert h.b(buy(2, 100, 10)) == [
        ("acc", 2),
        *trade(1, 100, 10, maker=1, taker=2, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("lvl", SELL, 100, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]
    assert h.l3() == []
    status = h.eng.status()
    assert (status.last_trade_ticks, status.trades, status.resting_orders) == (100, 1, 0)


def test_partial_fill_taker_rests_at_its_price():
    h = Harness()
    h.setup(sell(1, 100, 4))
    assert h.b(buy(2, 101, 10)) == [
        ("acc", 2),
        *trade(1, 100, 4, maker=1, taker=2, aggressor=BUY, maker_leaves=0, taker_leaves=6),
        ("lvl", BUY, 101, 6, 1),
        ("lvl", SELL, 100, 0, 0),
        ("bbo", 101, 6, 0, 0),
    ]
    assert h.l3() == [(2, 101, 6, 0)]


def test_partial_fill_maker_keeps_its_place():
    h = Harness()
    h.setup(sell(1, 100, 10), sell(2, 100, 10))
    assert h.b(buy(3, 100, 4)) == [
        ("acc", 3),
        *trade(1, 100, 4, maker=1, taker=3, aggressor=BUY, maker_leaves=6, taker_leaves=0),
        ("lvl", SELL, 100, 16, 2),
        ("bbo", 0, 0, 100, 16),
    ]
    assert h.ids() == [1, 2]


def test_sweep_several_levels_stops_at_the_limit():
    h = Harness()
    h.setup(sell(1, 100, 5), sell(2, 101, 5), sell(3, 103, 5))
    assert h.b(buy(4, 102, 12)) == [
        ("acc", 4),
        *trade(1, 100, 5, maker=1, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=7),
        *trade(2, 101, 5, maker=2, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=2),
        ("lvl", BUY, 102, 2, 1),
        ("lvl", SELL, 100, 0, 0),
        ("lvl", SELL, 101, 0, 0),
        ("bbo", 102, 2, 103, 5),
    ]
    assert h.eng.status().last_trade_ticks == 101


def test_sell_taker_sweeps_bids_from_the_highest():
    h = Harness()
    h.setup(buy(1, 99, 5), buy(2, 101, 5), buy(3, 100, 5))
    assert h.b(sell(4, 100, 8)) == [
        ("acc", 4),
        *trade(1, 101, 5, maker=2, taker=4, aggressor=SELL, maker_leaves=0, taker_leaves=3),
        *trade(2, 100, 3, maker=3, taker=4, aggressor=SELL, maker_leaves=2, taker_leaves=0),
        ("lvl", BUY, 101, 0, 0),
        ("lvl", BUY, 100, 2, 1),
        ("bbo", 100, 2, 0, 0),
    ]


def test_price_time_priority_within_and_across_levels():
    h = Harness()
    h.setup(sell(1, 100, 5, acct=1), sell(2, 100, 5, acct=2), sell(3, 99, 5, acct=3))
    assert h.b(buy(4, 100, 12, acct=4)) == [
        ("acc", 4),
        *trade(1, 99, 5, maker=3, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=7),
        *trade(2, 100, 5, maker=1, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=2),
        *trade(3, 100, 2, maker=2, taker=4, aggressor=BUY, maker_leaves=3, taker_leaves=0),
        ("lvl", SELL, 99, 0, 0),
        ("lvl", SELL, 100, 3, 1),
        ("bbo", 0, 0, 100, 3),
    ]
    assert h.l3() == [(2, 100, 3, 0)]


def test_trade_prints_at_the_maker_price_and_fills_carry_accounts():
    h = Harness()
    h.setup(sell(1, 100, 5, acct=11))
    events = h.send(buy(2, 105, 5, acct=22))
    maker, taker, print_ = events[1:4]
    assert (maker.account, maker.side, maker.price_ticks) == (11, SELL, 100)
    assert (taker.account, taker.side, taker.price_ticks) == (22, BUY, 100)
    assert (print_.price_ticks, print_.aggressor_side) == (100, BUY)


def test_market_order_fills_across_levels():
    h = Harness()
    h.setup(sell(1, 100, 5), sell(2, 101, 5))
    assert h.b(market(3, BUY, 7)) == [
        ("acc", 3),
        *trade(1, 100, 5, maker=1, taker=3, aggressor=BUY, maker_leaves=0, taker_leaves=2),
        *trade(2, 101, 2, maker=2, taker=3, aggressor=BUY, maker_leaves=3, taker_leaves=0),
        ("lvl", SELL, 100, 0, 0),
        ("lvl", SELL, 101, 3, 1),
        ("bbo", 0, 0, 101, 3),
    ]


def test_market_order_leftover_is_cancelled_never_rests():
    h = Harness()
    h.setup(buy(1, 100, 4))
    assert h.b(market(2, SELL, 10, tif=IOC)) == [
        ("acc", 2),
        *trade(1, 100, 4, maker=1, taker=2, aggressor=SELL, maker_leaves=0, taker_leaves=6),
        ("cxl", 2, IOC_REM, 6, 0),
        ("lvl", BUY, 100, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]
    assert h.l3() == []


def test_market_protection_price_stops_the_sweep():
    h = Harness()
    h.setup(sell(1, 100, 5), sell(2, 101, 5), sell(3, 102, 5))
    assert h.b(market(4, BUY, 20, protection_price_ticks=101)) == [
        ("acc", 4),
        *trade(1, 100, 5, maker=1, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=15),
        *trade(2, 101, 5, maker=2, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=10),
        ("cxl", 4, IOC_REM, 10, 0),
        ("lvl", SELL, 100, 0, 0),
        ("lvl", SELL, 101, 0, 0),
        ("bbo", 0, 0, 102, 5),
    ]


def test_market_sell_protection_price():
    h = Harness()
    h.setup(buy(1, 100, 5), buy(2, 99, 5), buy(3, 98, 5))
    assert h.b(market(4, SELL, 20, protection_price_ticks=99)) == [
        ("acc", 4),
        *trade(1, 100, 5, maker=1, taker=4, aggressor=SELL, maker_leaves=0, taker_leaves=15),
        *trade(2, 99, 5, maker=2, taker=4, aggressor=SELL, maker_leaves=0, taker_leaves=10),
        ("cxl", 4, IOC_REM, 10, 0),
        ("lvl", BUY, 100, 0, 0),
        ("lvl", BUY, 99, 0, 0),
        ("bbo", 98, 5, 0, 0),
    ]


def test_market_order_is_bounded_by_the_band_edge():
    # ref 10000, 100 bps: [9900, 10100]. A trade at 9950 moves it to [9851, 10049],
    # leaving the ask at 10100 (entered earlier) outside the band.
    h = Harness(instrument(price_band_bps=100, reference_price_ticks=10_000))
    h.setup(sell(1, 10_100, 5), sell(2, 9_950, 1), buy(3, 9_950, 1), sell(4, 10_000, 5))
    snap = h.eng.snapshot()
    assert (snap.band_lo, snap.band_hi) == (9_851, 10_049)
    assert h.b(market(5, BUY, 10)) == [
        ("acc", 5),
        *trade(2, 10_000, 5, maker=4, taker=5, aggressor=BUY, maker_leaves=0, taker_leaves=5),
        ("cxl", 5, IOC_REM, 5, 0),
        ("lvl", SELL, 10_000, 0, 0),
        ("bbo", 0, 0, 10_100, 5),
    ]


def test_market_order_without_liquidity_is_rejected():
    h = Harness()
    assert h.reject(market(1, BUY, 5)) == RejectReason.NO_LIQUIDITY
    h.setup(sell(2, 105, 5))
    assert h.reject(market(3, BUY, 5, protection_price_ticks=104)) == RejectReason.NO_LIQUIDITY
    assert h.reject(market(4, SELL, 5)) == RejectReason.NO_LIQUIDITY


def test_market_order_beyond_the_band_is_no_liquidity():
    h = Harness(instrument(price_band_bps=100, reference_price_ticks=10_000))
    h.setup(sell(1, 10_100, 5), sell(2, 9_950, 1), buy(3, 9_950, 1))
    assert h.reject(market(4, BUY, 5)) == RejectReason.NO_LIQUIDITY


def test_post_only_rests_when_not_crossing():
    h = Harness()
    h.setup(sell(1, 101, 5))
    assert h.b(buy(2, 100, 5, post_only=True)) == [
        ("acc", 2),
        ("lvl", BUY, 100, 5, 1),
        ("bbo", 100, 5, 101, 5),
    ]
    assert h.b(sell(3, 102, 5, post_only=True)) == [("acc", 3), ("lvl", SELL, 102, 5, 1)]


def test_post_only_that_would_take_is_rejected():
    h = Harness()
    h.setup(sell(1, 101, 5), buy(2, 99, 5))
    assert h.reject(buy(3, 101, 5, post_only=True)) == RejectReason.POST_ONLY_WOULD_TAKE
    assert h.reject(buy(4, 150, 5, post_only=True)) == RejectReason.POST_ONLY_WOULD_TAKE
    assert h.reject(sell(5, 99, 5, post_only=True)) == RejectReason.POST_ONLY_WOULD_TAKE
    assert h.reject(sell(6, 98, 5, post_only=True)) == RejectReason.POST_ONLY_WOULD_TAKE


def test_post_only_on_orders_that_cannot_rest_is_invalid():
    h = Harness()
    h.setup(sell(1, 101, 5), buy(2, 99, 5))
    for cmd in (
        market(3, BUY, 5, post_only=True),
        market(4, BUY, 5, tif=FOK, post_only=True),
        limit(5, BUY, 100, 5, tif=IOC, post_only=True),
        limit(6, BUY, 100, 5, tif=FOK, post_only=True),
        stop(7, BUY, 120, 5, post_only=True),
        stop_limit(8, BUY, 120, 121, 5, post_only=True),
    ):
        assert h.reject(cmd) == RejectReason.INVALID_POST_ONLY
