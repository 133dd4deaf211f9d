"""Time in force: GTC, IOC, FOK, GTD, DAY."""

from __future__ import annotations

from engine_kit import (
    BUY,
    DAY,
    FOK,
    GTC,
    GTD,
    IOC,
    IOC_REM,
    SELL,
    SID,
    T0,
    Harness,
    brief,
    buy,
    end_session,
    limit,
    market,
    sell,
    stop,
    stop_limit,
    trade,
)

from whistle.core import OrderExpired, RejectReason


def test_gtc_rests_through_time_and_session_end():
    h = Harness()
    h.setup(buy(1, 100, 5, tif=GTC))
    assert h.tick(T0 + 10**12) == []
    assert h.b(end_session()) == []
    assert h.l3() == [(1, 100, 5, 0)]


def test_ioc_remainder_is_cancelled():
    h = Harness()
    h.setup(sell(1, 100, 4))
    assert h.b(limit(2, BUY, 100, 10, tif=IOC)) == [
        ("acc", 2),
        *trade(1, 100, 4, maker=1, taker=2, aggressor=BUY, maker_leaves=0, taker_leaves=6),
        ("cxl", 2, IOC_REM, 6, 0),
        ("lvl", SELL, 100, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]
    assert h.l3() == []


def test_ioc_that_does_not_cross_is_cancelled_whole_without_market_data():
    h = Harness()
    h.setup(sell(1, 101, 4))
    assert h.b(limit(2, BUY, 100, 10, tif=IOC)) == [("acc", 2), ("cxl", 2, IOC_REM, 10, 0)]


def test_fok_fills_fully():
    h = Harness()
    h.setup(sell(1, 100, 5), sell(2, 101, 5), sell(3, 102, 5))
    assert h.b(limit(4, BUY, 101, 10, tif=FOK)) == [
        ("acc", 4),
        *trade(1, 100, 5, maker=1, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=5),
        *trade(2, 101, 5, maker=2, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("lvl", SELL, 100, 0, 0),
        ("lvl", SELL, 101, 0, 0),
        ("bbo", 0, 0, 102, 5),
    ]


def test_fok_unfillable_is_rejected_with_the_book_unchanged():
    h = Harness()
    h.setup(sell(1, 100, 5), sell(2, 101, 5), sell(3, 102, 5))
    assert h.reject(limit(4, BUY, 101, 11, tif=FOK)) == RejectReason.FOK_UNFILLABLE
    assert h.reject(market(5, BUY, 16, tif=FOK)) == RejectReason.FOK_UNFILLABLE
    assert h.reject(market(6, BUY, 11, tif=FOK, protection_price_ticks=101)) == (
        RejectReason.FOK_UNFILLABLE
    )
    assert h.asks() == [(100, 5, 1), (101, 5, 1), (102, 5, 1)]


def test_fok_counts_hidden_iceberg_quantity():
    h = Harness()
    h.setup(sell(1, 100, 10, display_qty_lots=2))
    assert h.asks() == [(100, 2, 1)]
    assert h.reject(limit(2, BUY, 100, 11, tif=FOK)) == RejectReason.FOK_UNFILLABLE
    assert h.b(limit(3, BUY, 100, 10, tif=FOK)) == [
        ("acc", 3),
        *trade(1, 100, 2, maker=1, taker=3, aggressor=BUY, maker_leaves=8, taker_leaves=8),
        *trade(2, 100, 2, maker=1, taker=3, aggressor=BUY, maker_leaves=6, taker_leaves=6),
        *trade(3, 100, 2, maker=1, taker=3, aggressor=BUY, maker_leaves=4, taker_leaves=4),
        *trade(4, 100, 2, maker=1, taker=3, aggressor=BUY, maker_leaves=2, taker_leaves=2),
        *trade(5, 100, 2, maker=1, taker=3, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("lvl", SELL, 100, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]


def test_market_fok_fills_fully():
    h = Harness()
    h.setup(buy(1, 100, 5), buy(2, 99, 5))
    assert h.b(market(3, SELL, 10, tif=FOK)) == [
        ("acc", 3),
        *trade(1, 100, 5, maker=1, taker=3, aggressor=SELL, maker_leaves=0, taker_leaves=5),
        *trade(2, 99, 5, maker=2, taker=3, aggressor=SELL, maker_leaves=0, taker_leaves=0),
        ("lvl", BUY, 100, 0, 0),
        ("lvl", BUY, 99, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]


def test_gtd_expires_at_tick_when_now_reaches_expiry():
    h = Harness()
    h.setup(buy(1, 100, 5, tif=GTD, expire_ts_ns=T0 + 500), buy(2, 99, 5))
    assert h.tick(T0 + 499) == []
    events = h.tick(T0 + 500)
    assert brief(events) == [
        ("exp", 1, 5),
        ("lvl", BUY, 100, 0, 0),
        ("bbo", 99, 5, 0, 0),
    ]
    assert all(e.enq_seq == 0 and e.ts_ns == T0 + 500 for e in events)
    assert events[0] == OrderExpired(SID, 6, 0, T0 + 500, 1, 1, 5)
    assert events[0].cause == 4
    assert h.l3() == [(2, 99, 5, 0)]


def test_gtd_expiries_run_in_expiry_then_arrival_order():
    h = Harness()
    h.setup(
        buy(1, 100, 1, tif=GTD, expire_ts_ns=T0 + 600),
        sell(2, 110, 2, tif=GTD, expire_ts_ns=T0 + 500),
        stop(3, BUY, 120, 3, tif=GTD, expire_ts_ns=T0 + 500),
        buy(4, 99, 4, tif=GTD, expire_ts_ns=T0 + 500),
        buy(5, 98, 5, tif=GTD, expire_ts_ns=T0 + 700),
    )
    assert h.b(buy(6, 97, 6), now=T0 + 600) == [
        ("exp", 2, 2),
        ("exp", 3, 3),
        ("exp", 4, 4),
        ("exp", 1, 1),
        ("lvl", BUY, 100, 0, 0),
        ("lvl", BUY, 99, 0, 0),
        ("lvl", SELL, 110, 0, 0),
        ("bbo", 98, 5, 0, 0),
        ("acc", 6),
        ("lvl", BUY, 97, 6, 1),
    ]
    assert h.eng.status().parked_stops == 0


def test_partially_filled_gtd_expires_its_leaves():
    h = Harness()
    h.setup(sell(1, 100, 10, tif=GTD, expire_ts_ns=T0 + 5), buy(2, 100, 4))
    assert brief(h.tick(T0 + 5)) == [
        ("exp", 1, 6),
        ("lvl", SELL, 100, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]


def test_gtd_expiry_checks():
    h = Harness()
    h.setup(buy(1, 100, 1))
    assert h.reject(buy(2, 100, 1, tif=GTD, expire_ts_ns=T0)) == RejectReason.GTD_EXPIRED
    assert h.reject(buy(3, 100, 1, tif=GTD, expire_ts_ns=T0 - 1)) == RejectReason.GTD_EXPIRED
    assert h.reject(buy(4, 100, 1, tif=GTD)) == RejectReason.GTD_MISSING_EXPIRY
    assert h.reject(buy(5, 100, 1, tif=GTD, expire_ts_ns=-1)) == RejectReason.GTD_MISSING_EXPIRY
    for tif in (GTC, DAY, IOC, FOK):
        cmd = limit(6, BUY, 100, 1, tif=tif, expire_ts_ns=T0 + 10)
        assert h.reject(cmd) == RejectReason.EXPIRY_NOT_ALLOWED
    assert h.b(buy(7, 100, 1, tif=GTD, expire_ts_ns=T0 + 1)) == [
        ("acc", 7),
        ("lvl", BUY, 100, 2, 2),
        ("bbo", 100, 2, 0, 0),
    ]


def test_day_orders_expire_on_end_session_in_arrival_order():
    h = Harness()
    h.setup(
        sell(1, 105, 5, tif=DAY),
        buy(2, 100, 5, tif=DAY),
        stop(3, BUY, 120, 2, tif=DAY),
        buy(4, 101, 5),
        stop_limit(5, SELL, 90, 89, 3, tif=DAY),
        buy(6, 100, 7, tif=DAY, display_qty_lots=2),
    )
    assert h.b(end_session()) == [
        ("exp", 1, 5),
        ("exp", 2, 5),
        ("exp", 3, 2),
        ("exp", 5, 3),
        ("exp", 6, 7),
        ("lvl", BUY, 100, 0, 0),
        ("lvl", SELL, 105, 0, 0),
        ("bbo", 101, 5, 0, 0),
    ]
    assert h.l3() == [(4, 101, 5, 0)]
    assert h.eng.status().parked_stops == 0
    assert h.b(end_session()) == []
