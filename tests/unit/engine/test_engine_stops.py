"""Stop and stop-limit orders: parking, triggers, trigger order, cascades."""

from __future__ import annotations

from engine_kit import (
    BUY,
    DAY,
    IOC,
    IOC_REM,
    SELL,
    USER,
    Harness,
    buy,
    cancel,
    end_session,
    modify,
    replace,
    sell,
    stop,
    stop_limit,
    trade,
)


def traded_at(h, price, maker_id=901, taker_id=902):
    """Print one lot at ``price`` between two throwaway orders (accounts 90/91)."""
    h.setup(sell(maker_id, price, 1, acct=90), buy(taker_id, price, 1, acct=91))


def test_stop_is_parked_out_of_the_book():
    h = Harness()
    assert h.b(stop(1, BUY, 105, 5)) == [("acc", 1)]
    assert h.b(stop_limit(2, SELL, 95, 94, 5)) == [("acc", 2)]
    assert h.l3() == []
    assert (h.eng.status().parked_stops, h.eng.status().resting_orders) == (2, 0)
    assert h.b(cancel(1)) == [("cxl", 1, USER, 5, 0)]
    assert h.eng.status().parked_stops == 1


def test_stops_never_trigger_before_the_first_trade():
    h = Harness()
    # With no last trade any stop price would be "reached" by 0 for a sell stop.
    assert h.b(stop(1, SELL, 1_000, 5)) == [("acc", 1)]
    assert h.b(stop(2, BUY, 1, 5)) == [("acc", 2)]
    assert h.eng.status().parked_stops == 2


def test_buy_stop_triggers_on_last_trade_at_or_above():
    h = Harness()
    h.setup(stop(1, BUY, 105, 5), sell(2, 104, 1), sell(3, 105, 1), sell(4, 106, 10))
    h.setup(buy(5, 104, 1))  # last 104: below the stop
    assert h.eng.status().parked_stops == 1
    assert h.b(buy(6, 105, 1)) == [
        ("acc", 6),
        *trade(2, 105, 1, maker=3, taker=6, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("trig", 1, 105, 105),
        *trade(3, 106, 5, maker=4, taker=1, aggressor=BUY, maker_leaves=5, taker_leaves=0),
        ("lvl", SELL, 105, 0, 0),
        ("lvl", SELL, 106, 5, 1),
        ("bbo", 0, 0, 106, 5),
    ]
    assert h.eng.status().parked_stops == 0


def test_sell_stop_triggers_on_last_trade_at_or_below():
    h = Harness()
    h.setup(stop(1, SELL, 95, 5), buy(2, 96, 1), buy(3, 95, 1), buy(4, 90, 10))
    h.setup(sell(5, 96, 1))  # last 96: above the stop
    assert h.eng.status().parked_stops == 1
    assert h.b(sell(6, 95, 1)) == [
        ("acc", 6),
        *trade(2, 95, 1, maker=3, taker=6, aggressor=SELL, maker_leaves=0, taker_leaves=0),
        ("trig", 1, 95, 95),
        *trade(3, 90, 5, maker=4, taker=1, aggressor=SELL, maker_leaves=5, taker_leaves=0),
        ("lvl", BUY, 95, 0, 0),
        ("lvl", BUY, 90, 5, 1),
        ("bbo", 90, 5, 0, 0),
    ]


def test_stop_already_reached_triggers_on_entry():
    h = Harness()
    traded_at(h, 105)
    h.setup(sell(1, 110, 10))
    assert h.b(stop(2, BUY, 100, 4)) == [
        ("acc", 2),
        ("trig", 2, 100, 105),
        *trade(2, 110, 4, maker=1, taker=2, aggressor=BUY, maker_leaves=6, taker_leaves=0),
        ("lvl", SELL, 110, 6, 1),
        ("bbo", 0, 0, 110, 6),
    ]
    assert h.b(stop_limit(3, SELL, 115, 111, 2)) == [
        ("acc", 3),
        ("trig", 3, 115, 110),
        ("lvl", SELL, 111, 2, 1),
    ]


def test_trigger_order_buys_lowest_first_then_sells_highest_first_ties_by_arrival():
    h = Harness()
    # Parked before any trade; buy limits at 90 and sell limits at 200 never trade.
    h.setup(
        stop_limit(1, BUY, 101, 90, 1),
        stop_limit(2, BUY, 100, 90, 1),
        stop_limit(3, SELL, 102, 200, 1),
        stop_limit(4, BUY, 100, 90, 1),
        stop_limit(5, SELL, 103, 200, 1),
        stop_limit(6, SELL, 102, 200, 1),
        stop_limit(7, BUY, 102, 90, 1),  # not reached by a print at 101
        stop_limit(8, SELL, 100, 200, 1),  # not reached either
        sell(9, 101, 1),
    )
    assert h.b(buy(10, 101, 1)) == [
        ("acc", 10),
        *trade(1, 101, 1, maker=9, taker=10, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("trig", 2, 100, 101),
        ("trig", 4, 100, 101),
        ("trig", 1, 101, 101),
        ("trig", 5, 103, 101),
        ("trig", 3, 102, 101),
        ("trig", 6, 102, 101),
        ("lvl", BUY, 90, 3, 3),
        ("lvl", SELL, 101, 0, 0),
        ("lvl", SELL, 200, 3, 3),
        ("bbo", 90, 3, 200, 3),
    ]
    assert h.ids() == [2, 4, 1, 5, 3, 6]
    assert h.eng.status().parked_stops == 2


def test_cascade_newly_reached_stops_join_the_queue():
    h = Harness()
    h.setup(
        stop(1, BUY, 101, 5),
        stop(2, BUY, 102, 2),
        sell(3, 101, 1),
        sell(4, 102, 5),
        sell(5, 103, 5),
    )
    assert h.b(buy(6, 101, 1)) == [
        ("acc", 6),
        *trade(1, 101, 1, maker=3, taker=6, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("trig", 1, 101, 101),
        *trade(2, 102, 5, maker=4, taker=1, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("trig", 2, 102, 102),
        *trade(3, 103, 2, maker=5, taker=2, aggressor=BUY, maker_leaves=3, taker_leaves=0),
        ("lvl", SELL, 101, 0, 0),
        ("lvl", SELL, 102, 0, 0),
        ("lvl", SELL, 103, 3, 1),
        ("bbo", 0, 0, 103, 3),
    ]
    assert h.eng.status().last_trade_ticks == 103


def test_triggered_stop_market_leftover_is_cancelled():
    h = Harness()
    h.setup(stop(1, BUY, 101, 10), sell(2, 101, 1), sell(3, 102, 5))
    assert h.b(buy(4, 101, 1)) == [
        ("acc", 4),
        *trade(1, 101, 1, maker=2, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("trig", 1, 101, 101),
        *trade(2, 102, 5, maker=3, taker=1, aggressor=BUY, maker_leaves=0, taker_leaves=5),
        ("cxl", 1, IOC_REM, 5, 0),
        ("lvl", SELL, 101, 0, 0),
        ("lvl", SELL, 102, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]
    assert h.eng.status().parked_stops == 0
    assert h.l3() == []


def test_triggered_stop_without_liquidity_is_cancelled_whole():
    h = Harness()
    h.setup(stop(1, SELL, 100, 7), sell(2, 100, 1))
    assert h.b(buy(3, 100, 1)) == [
        ("acc", 3),
        *trade(1, 100, 1, maker=2, taker=3, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("trig", 1, 100, 100),
        ("cxl", 1, IOC_REM, 7, 0),
        ("lvl", SELL, 100, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]


def test_triggered_stop_market_respects_its_protection_price():
    h = Harness()
    h.setup(
        stop(1, BUY, 101, 10, protection_price_ticks=102),
        sell(2, 101, 1),
        sell(3, 102, 3),
        sell(4, 103, 5),
    )
    assert h.b(buy(5, 101, 1)) == [
        ("acc", 5),
        *trade(1, 101, 1, maker=2, taker=5, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("trig", 1, 101, 101),
        *trade(2, 102, 3, maker=3, taker=1, aggressor=BUY, maker_leaves=0, taker_leaves=7),
        ("cxl", 1, IOC_REM, 7, 0),
        ("lvl", SELL, 101, 0, 0),
        ("lvl", SELL, 102, 0, 0),
        ("bbo", 0, 0, 103, 5),
    ]


def test_triggered_stop_limit_rests_its_leftover():
    h = Harness()
    h.setup(stop_limit(1, BUY, 101, 102, 10, acct=5), sell(2, 101, 1), sell(3, 102, 4))
    assert h.b(buy(4, 101, 1)) == [
        ("acc", 4),
        *trade(1, 101, 1, maker=2, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("trig", 1, 101, 101),
        *trade(2, 102, 4, maker=3, taker=1, aggressor=BUY, maker_leaves=0, taker_leaves=6),
        ("lvl", BUY, 102, 6, 1),
        ("lvl", SELL, 101, 0, 0),
        ("lvl", SELL, 102, 0, 0),
        ("bbo", 102, 6, 0, 0),
    ]
    assert h.l3() == [(1, 102, 6, 0)]
    status = h.eng.status()
    assert (status.parked_stops, status.resting_orders) == (0, 1)
    # Once resting it is an ordinary order: cancellable with its leaves.
    assert h.b(cancel(1, acct=5)) == [
        ("cxl", 1, USER, 6, 0),
        ("lvl", BUY, 102, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]


def test_triggered_stop_limit_ioc_leftover_is_cancelled():
    h = Harness()
    h.setup(stop_limit(1, BUY, 101, 102, 10, tif=IOC), sell(2, 101, 1), sell(3, 102, 4))
    events = h.b(buy(4, 101, 1))
    assert events[4:] == [
        ("trig", 1, 101, 101),
        *trade(2, 102, 4, maker=3, taker=1, aggressor=BUY, maker_leaves=0, taker_leaves=6),
        ("cxl", 1, IOC_REM, 6, 0),
        ("lvl", SELL, 101, 0, 0),
        ("lvl", SELL, 102, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]


def test_triggered_stop_is_not_accepted_again_and_keeps_its_day_tif():
    h = Harness()
    h.setup(stop_limit(1, SELL, 100, 150, 3, tif=DAY), sell(2, 100, 1))
    events = h.b(buy(3, 100, 1))
    assert [e for e in events if e[0] == "acc"] == [("acc", 3)]
    assert h.l3() == [(1, 150, 3, 0)]
    assert h.b(end_session()) == [
        ("exp", 1, 3),
        ("lvl", SELL, 150, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]


def stops_behind_a_bid():
    h = Harness()
    h.setup(stop(1, BUY, 101, 2), sell(2, 101, 1), sell(3, 102, 5), buy(4, 100, 1))
    return h


def after_the_first_trade():
    return [
        ("trig", 1, 101, 101),
        *trade(2, 102, 2, maker=3, taker=1, aggressor=BUY, maker_leaves=3, taker_leaves=0),
        ("lvl", BUY, 100, 0, 0),
        ("lvl", SELL, 101, 0, 0),
        ("lvl", SELL, 102, 3, 1),
        ("bbo", 0, 0, 102, 3),
    ]


def test_a_modify_that_trades_runs_the_stops():
    h = stops_behind_a_bid()
    assert h.b(modify(4, price=101)) == [
        ("mod", 4, 101, 1, False),
        *trade(1, 101, 1, maker=2, taker=4, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        *after_the_first_trade(),
    ]


def test_a_replace_that_trades_runs_the_stops():
    h = stops_behind_a_bid()
    assert h.b(replace(4, 14, 101, 1)) == [
        ("repl", 4, 14, 101, 1),
        *trade(1, 101, 1, maker=2, taker=14, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        *after_the_first_trade(),
    ]
