"""Iceberg orders: displayed slice, refills to the back, hidden quantity in one sweep."""

from __future__ import annotations

from engine_kit import BUY, SELL, Harness, buy, sell, trade

from whistle.core import OrderAccepted


def test_only_the_display_is_shown():
    h = Harness()
    events = h.send(buy(1, 100, 10, display_qty_lots=3))
    assert isinstance(events[0], OrderAccepted)
    assert (events[0].qty_lots, events[0].display_qty_lots) == (10, 3)
    assert [e[0:1] for e in h.b(sell(2, 101, 1))] == [("acc",), ("lvl",), ("bbo",)]
    assert h.bids() == [(100, 3, 1)]
    assert h.l3()[0] == (1, 100, 3, 7)
    assert h.eng.status().best_bid_qty_lots == 3


def test_display_equal_to_qty_has_no_reserve():
    h = Harness()
    h.setup(sell(1, 100, 5, display_qty_lots=5))
    assert h.l3() == [(1, 100, 5, 0)]


def test_partial_take_of_the_slice_keeps_priority_without_refill():
    h = Harness()
    h.setup(sell(1, 100, 10, display_qty_lots=3), sell(2, 100, 4))
    assert h.b(buy(3, 100, 1)) == [
        ("acc", 3),
        *trade(1, 100, 1, maker=1, taker=3, aggressor=BUY, maker_leaves=9, taker_leaves=0),
        ("lvl", SELL, 100, 6, 2),
        ("bbo", 0, 0, 100, 6),
    ]
    assert h.l3() == [(1, 100, 2, 7), (2, 100, 4, 0)]


def test_refill_goes_to_the_back_behind_later_orders():
    h = Harness()
    h.setup(sell(1, 100, 10, display_qty_lots=3), sell(2, 100, 4))
    # The slice of 3 is consumed: 1 refills 3 from its reserve and queues behind 2.
    # The level shows (3 + 4, 2 orders) before and after: no level or BBO event.
    assert h.b(buy(3, 100, 3)) == [
        ("acc", 3),
        *trade(1, 100, 3, maker=1, taker=3, aggressor=BUY, maker_leaves=7, taker_leaves=0),
    ]
    assert h.l3() == [(2, 100, 4, 0), (1, 100, 3, 4)]
    assert h.b(buy(4, 100, 5)) == [
        ("acc", 4),
        *trade(2, 100, 4, maker=2, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=1),
        *trade(3, 100, 1, maker=1, taker=4, aggressor=BUY, maker_leaves=6, taker_leaves=0),
        ("lvl", SELL, 100, 2, 1),
        ("bbo", 0, 0, 100, 2),
    ]
    assert h.l3() == [(1, 100, 2, 4)]


def test_hidden_quantity_is_consumed_across_refills_in_one_sweep():
    h = Harness()
    h.setup(sell(1, 100, 10, display_qty_lots=4), sell(2, 100, 2), sell(3, 101, 5))
    assert h.b(buy(4, 101, 13)) == [
        ("acc", 4),
        *trade(1, 100, 4, maker=1, taker=4, aggressor=BUY, maker_leaves=6, taker_leaves=9),
        *trade(2, 100, 2, maker=2, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=7),
        *trade(3, 100, 4, maker=1, taker=4, aggressor=BUY, maker_leaves=2, taker_leaves=3),
        *trade(4, 100, 2, maker=1, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=1),
        *trade(5, 101, 1, maker=3, taker=4, aggressor=BUY, maker_leaves=4, taker_leaves=0),
        ("lvl", SELL, 100, 0, 0),
        ("lvl", SELL, 101, 4, 1),
        ("bbo", 0, 0, 101, 4),
    ]


def test_lone_iceberg_refills_in_place_and_trades_again():
    h = Harness()
    h.setup(buy(1, 100, 7, display_qty_lots=2))
    assert h.b(sell(2, 100, 5)) == [
        ("acc", 2),
        *trade(1, 100, 2, maker=1, taker=2, aggressor=SELL, maker_leaves=5, taker_leaves=3),
        *trade(2, 100, 2, maker=1, taker=2, aggressor=SELL, maker_leaves=3, taker_leaves=1),
        *trade(3, 100, 1, maker=1, taker=2, aggressor=SELL, maker_leaves=2, taker_leaves=0),
        ("lvl", BUY, 100, 1, 1),
        ("bbo", 100, 1, 0, 0),
    ]
    assert h.l3() == [(1, 100, 1, 1)]


def test_iceberg_taker_trades_its_whole_quantity_and_is_sliced_when_resting():
    h = Harness()
    h.setup(sell(1, 100, 3), sell(2, 101, 3))
    assert h.b(buy(3, 101, 10, display_qty_lots=2)) == [
        ("acc", 3),
        *trade(1, 100, 3, maker=1, taker=3, aggressor=BUY, maker_leaves=0, taker_leaves=7),
        *trade(2, 101, 3, maker=2, taker=3, aggressor=BUY, maker_leaves=0, taker_leaves=4),
        ("lvl", BUY, 101, 2, 1),
        ("lvl", SELL, 100, 0, 0),
        ("lvl", SELL, 101, 0, 0),
        ("bbo", 101, 2, 0, 0),
    ]
    assert h.l3() == [(3, 101, 2, 2)]


def test_leftover_smaller_than_display_rests_without_reserve():
    h = Harness()
    h.setup(sell(1, 100, 8))
    h.setup(buy(2, 100, 10, display_qty_lots=5))
    assert h.l3() == [(2, 100, 2, 0)]
