"""Market data: net level diffs per command, ordering, BBO only on a top change."""

from __future__ import annotations

from engine_kit import (
    BUY,
    MASS,
    SELL,
    USER,
    Harness,
    buy,
    cancel,
    mass_cancel,
    modify,
    replace,
    sell,
    stop,
    trade,
)


def test_levels_bids_high_to_low_then_asks_low_to_high():
    h = Harness()
    h.setup(
        sell(1, 104, 1),
        buy(2, 99, 1),
        sell(3, 103, 1),
        buy(4, 101, 1),
        sell(5, 105, 1),
        buy(6, 100, 1),
    )
    assert h.b(mass_cancel()) == [
        *[("cxl", oid, MASS, 1, 0) for oid in range(1, 7)],
        ("lvl", BUY, 101, 0, 0),
        ("lvl", BUY, 100, 0, 0),
        ("lvl", BUY, 99, 0, 0),
        ("lvl", SELL, 103, 0, 0),
        ("lvl", SELL, 104, 0, 0),
        ("lvl", SELL, 105, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]


def test_bbo_only_when_the_top_changes():
    h = Harness()
    assert h.b(buy(1, 100, 5)) == [("acc", 1), ("lvl", BUY, 100, 5, 1), ("bbo", 100, 5, 0, 0)]
    # Below the top: a level event, no BBO.
    assert h.b(buy(2, 99, 5)) == [("acc", 2), ("lvl", BUY, 99, 5, 1)]
    assert h.b(cancel(2)) == [("cxl", 2, USER, 5, 0), ("lvl", BUY, 99, 0, 0)]
    # Same top price, more size: the BBO changes.
    assert h.b(buy(3, 100, 2)) == [("acc", 3), ("lvl", BUY, 100, 7, 2), ("bbo", 100, 7, 0, 0)]
    assert h.b(sell(4, 101, 5)) == [("acc", 4), ("lvl", SELL, 101, 5, 1), ("bbo", 100, 7, 101, 5)]
    # A new better level.
    assert h.b(sell(5, 100 + 1, 1)) == [
        ("acc", 5),
        ("lvl", SELL, 101, 6, 2),
        ("bbo", 100, 7, 101, 6),
    ]


def test_no_event_for_a_level_that_ends_unchanged():
    h = Harness()
    h.setup(sell(1, 100, 9, display_qty_lots=3), sell(2, 100, 3), buy(3, 90, 1))
    # Iceberg refill: (6, 2) before and after.
    assert h.b(buy(4, 100, 3)) == [
        ("acc", 4),
        *trade(1, 100, 3, maker=1, taker=4, aggressor=BUY, maker_leaves=6, taker_leaves=0),
    ]
    # Replace at the same price and size: out and back in, (6, 2) again.
    assert h.b(replace(2, 12, 100, 3)) == [("repl", 2, 12, 100, 3)]
    # A lone order re-queued at the back of its own level: only the size change shows.
    assert h.b(modify(3, qty=2)) == [
        ("mod", 3, 90, 2, False),
        ("lvl", BUY, 90, 2, 1),
        ("bbo", 90, 2, 100, 6),
    ]


def test_parked_stops_produce_no_market_data():
    h = Harness()
    assert h.b(stop(1, BUY, 200, 5)) == [("acc", 1)]
    assert h.b(cancel(1)) == [("cxl", 1, USER, 5, 0)]
    h.setup(stop(2, SELL, 1, 5))
    assert h.b(mass_cancel()) == [("cxl", 2, MASS, 5, 0)]


def test_first_bbo_and_empty_book_publish_zeros():
    h = Harness()
    assert h.b(sell(1, 100, 2)) == [("acc", 1), ("lvl", SELL, 100, 2, 1), ("bbo", 0, 0, 100, 2)]
    assert h.b(cancel(1)) == [("cxl", 1, USER, 2, 0), ("lvl", SELL, 100, 0, 0), ("bbo", 0, 0, 0, 0)]


def test_depth_and_status_views():
    h = Harness()
    h.setup(buy(1, 100, 5), buy(2, 100, 3), buy(3, 98, 1), sell(4, 103, 2), sell(5, 101, 4))
    depth = h.eng.depth(1)
    assert depth.seq == h.seq
    assert [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in depth.bids] == [(100, 8, 2)]
    assert [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in depth.asks] == [(101, 4, 1)]
    assert h.bids() == [(100, 8, 2), (98, 1, 1)]
    assert h.asks() == [(101, 4, 1), (103, 2, 1)]
    assert h.ids() == [1, 2, 3, 5, 4]
    status = h.eng.status()
    assert (status.best_bid_ticks, status.best_bid_qty_lots) == (100, 8)
    assert (status.best_ask_ticks, status.best_ask_qty_lots) == (101, 4)
    assert status.symbol == "TEST"


def test_depth_needs_a_positive_level_count():
    import pytest

    with pytest.raises(ValueError, match="levels must be positive, was 0"):
        Harness().eng.depth(0)
