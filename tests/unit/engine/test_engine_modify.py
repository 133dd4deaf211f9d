"""ModifyOrder, CancelReplace, CancelOrder and MassCancel."""

from __future__ import annotations

from engine_kit import (
    BUY,
    GTD,
    MASS,
    SELL,
    T0,
    USER,
    Harness,
    brief,
    buy,
    cancel,
    instrument,
    mass_cancel,
    modify,
    replace,
    sell,
    stop,
    stop_limit,
    trade,
)

from whistle.core import OrderRejected, RejectReason


def two_bids():
    h = Harness()
    h.setup(buy(1, 100, 10), buy(2, 100, 10))
    return h


def test_qty_decrease_keeps_priority():
    h = two_bids()
    assert h.b(modify(1, qty=4)) == [
        ("mod", 1, 100, 4, True),
        ("lvl", BUY, 100, 14, 2),
        ("bbo", 100, 14, 0, 0),
    ]
    assert h.ids() == [1, 2]
    h.setup(sell(3, 100, 4))
    assert h.l3() == [(2, 100, 10, 0)]


def test_qty_increase_loses_priority():
    h = two_bids()
    assert h.b(modify(1, qty=15)) == [
        ("mod", 1, 100, 15, False),
        ("lvl", BUY, 100, 25, 2),
        ("bbo", 100, 25, 0, 0),
    ]
    assert h.ids() == [2, 1]


def test_price_change_loses_priority_even_when_it_comes_back():
    h = two_bids()
    assert h.b(modify(1, price=99)) == [
        ("mod", 1, 99, 10, False),
        ("lvl", BUY, 100, 10, 1),
        ("lvl", BUY, 99, 10, 1),
        ("bbo", 100, 10, 0, 0),
    ]
    assert h.b(modify(1, price=100)) == [
        ("mod", 1, 100, 10, False),
        ("lvl", BUY, 100, 20, 2),
        ("lvl", BUY, 99, 0, 0),
        ("bbo", 100, 20, 0, 0),
    ]
    assert h.ids() == [2, 1]


def test_explicit_same_price_decrease_keeps_priority_new_price_loses_it():
    h = two_bids()
    h.setup(modify(1, price=101), modify(2, price=101))
    assert h.b(modify(1, price=101, qty=3)) == [
        ("mod", 1, 101, 3, True),
        ("lvl", BUY, 101, 13, 2),
        ("bbo", 101, 13, 0, 0),
    ]
    assert h.b(modify(1, price=102, qty=2)) == [
        ("mod", 1, 102, 2, False),
        ("lvl", BUY, 102, 2, 1),
        ("lvl", BUY, 101, 10, 1),
        ("bbo", 102, 2, 0, 0),
    ]


def test_price_change_may_trade_on_arrival():
    h = two_bids()
    h.setup(sell(3, 102, 4))
    assert h.b(modify(1, price=102)) == [
        ("mod", 1, 102, 10, False),
        *trade(1, 102, 4, maker=3, taker=1, aggressor=BUY, maker_leaves=0, taker_leaves=6),
        ("lvl", BUY, 102, 6, 1),
        ("lvl", BUY, 100, 10, 1),
        ("lvl", SELL, 102, 0, 0),
        ("bbo", 102, 6, 0, 0),
    ]
    assert h.l3() == [(1, 102, 6, 0), (2, 100, 10, 0)]
    # Fully filled by the move: it is gone.
    h.setup(sell(4, 103, 20))
    assert h.b(modify(2, price=103)) == [
        ("mod", 2, 103, 10, False),
        *trade(2, 103, 10, maker=4, taker=2, aggressor=BUY, maker_leaves=10, taker_leaves=0),
        ("lvl", BUY, 100, 0, 0),
        ("lvl", SELL, 103, 10, 1),
        ("bbo", 102, 6, 103, 10),
    ]
    assert h.ids() == [1, 4]


def test_modify_qty_is_the_new_leaves_after_a_partial_fill():
    h = Harness()
    h.setup(buy(1, 100, 10), sell(2, 100, 4))
    assert h.b(modify(1, qty=8)) == [
        ("mod", 1, 100, 8, False),
        ("lvl", BUY, 100, 8, 1),
        ("bbo", 100, 8, 0, 0),
    ]


def test_iceberg_decrease_takes_the_reserve_first():
    h = Harness()
    h.setup(buy(1, 100, 10, display_qty_lots=3), buy(2, 100, 1))
    assert h.b(modify(1, qty=5)) == [("mod", 1, 100, 5, True)]
    assert h.l3() == [(1, 100, 3, 2), (2, 100, 1, 0)]
    assert h.b(modify(1, qty=2)) == [
        ("mod", 1, 100, 2, True),
        ("lvl", BUY, 100, 3, 2),
        ("bbo", 100, 3, 0, 0),
    ]
    assert h.l3() == [(1, 100, 2, 0), (2, 100, 1, 0)]
    # An increase re-slices: qty = min(display, leaves).
    assert h.b(modify(1, qty=9))[0] == ("mod", 1, 100, 9, False)
    assert h.l3() == [(2, 100, 1, 0), (1, 100, 3, 6)]


def test_modify_no_change():
    h = two_bids()
    assert h.reject(modify(1)) == RejectReason.MODIFY_NO_CHANGE
    assert h.reject(modify(1, price=100, qty=10)) == RejectReason.MODIFY_NO_CHANGE
    assert h.reject(modify(1, price=100)) == RejectReason.MODIFY_NO_CHANGE
    assert h.reject(modify(1, qty=10, acct=1)) == RejectReason.MODIFY_NO_CHANGE


def test_modify_of_a_parked_stop_is_not_allowed():
    h = Harness()
    h.setup(stop(1, BUY, 110, 5), stop_limit(2, SELL, 90, 89, 5))
    assert h.reject(modify(1, qty=3)) == RejectReason.ORDER_NOT_MODIFIABLE
    assert h.reject(modify(2, price=88)) == RejectReason.ORDER_NOT_MODIFIABLE
    assert h.reject(replace(1, 11, 100, 5)) == RejectReason.ORDER_NOT_MODIFIABLE


def test_modify_account_mismatch_and_unknown_id():
    h = two_bids()
    events = h.send(modify(1, qty=5, acct=9))
    assert brief(events) == [("rej", 1, RejectReason.ACCOUNT_MISMATCH)]
    assert events[0].account == 9
    events = h.send(modify(77, qty=5))
    assert brief(events) == [("rej", 77, RejectReason.UNKNOWN_ORDER_ID)]
    assert events[0].account == 0
    events = h.send(modify(77, qty=5, acct=3))
    assert events[0].account == 3
    assert h.b(modify(1, qty=5, acct=1))[0] == ("mod", 1, 100, 5, True)


def test_cancel_reports_leaves_and_checks_the_account():
    h = two_bids()
    h.setup(sell(3, 100, 4))
    assert brief(h.send(cancel(1, acct=2))) == [("rej", 1, RejectReason.ACCOUNT_MISMATCH)]
    assert h.b(cancel(1, acct=1)) == [
        ("cxl", 1, USER, 6, 0),
        ("lvl", BUY, 100, 10, 1),
        ("bbo", 100, 10, 0, 0),
    ]
    events = h.send(cancel(1))
    assert brief(events) == [("rej", 1, RejectReason.UNKNOWN_ORDER_ID)]
    assert events[0].account == 0


def test_cancel_replace_takes_a_new_id_and_priority():
    h = two_bids()
    # Same price and qty: the level's totals end unchanged, so no market data.
    assert h.b(replace(1, 11, 100, 10)) == [("repl", 1, 11, 100, 10)]
    assert h.ids() == [2, 11]
    assert h.l3()[1] == (11, 100, 10, 0)
    assert h.reject(cancel(1)) == RejectReason.UNKNOWN_ORDER_ID


def test_cancel_replace_may_trade_and_keeps_side_and_flags():
    h = Harness()
    h.setup(buy(1, 100, 10, display_qty_lots=2, acct=4), sell(2, 103, 3))
    events = h.send(replace(1, 11, 103, 8, acct=4))
    assert brief(events) == [
        ("repl", 1, 11, 103, 8),
        *trade(1, 103, 3, maker=2, taker=11, aggressor=BUY, maker_leaves=0, taker_leaves=5),
        ("lvl", BUY, 103, 2, 1),
        ("lvl", BUY, 100, 0, 0),
        ("lvl", SELL, 103, 0, 0),
        ("bbo", 103, 2, 0, 0),
    ]
    assert events[0].account == 4
    assert events[2].account == 4
    assert h.l3() == [(11, 103, 2, 3)]


def test_cancel_replace_duplicate_new_id_is_reported_with_the_new_id():
    h = two_bids()
    h.setup(stop(3, BUY, 200, 1))
    for new_id in (2, 1, 3):
        events = h.send(replace(1, new_id, 101, 10))
        assert brief(events) == [("rej", new_id, RejectReason.DUPLICATE_ORDER_ID)]
        assert events[0].account == 0  # the command named no account
    assert h.ids() == [1, 2]


def test_failed_replace_leaves_the_original_untouched():
    h = Harness()
    h.setup(buy(1, 100, 10, post_only=True), sell(2, 102, 5))
    for cmd, reason in (
        (replace(1, 11, 100, 0), RejectReason.QTY_NOT_POSITIVE),
        (replace(1, 11, 0, 5), RejectReason.PRICE_NOT_POSITIVE),
        (replace(1, 11, 102, 5), RejectReason.POST_ONLY_WOULD_TAKE),
        (replace(1, 11, 100, 5, acct=3), RejectReason.ACCOUNT_MISMATCH),
        (replace(9, 11, 100, 5), RejectReason.UNKNOWN_ORDER_ID),
    ):
        assert h.reject(cmd) == reason
    assert h.l3() == [(1, 100, 10, 0), (2, 102, 5, 0)]
    assert h.b(replace(1, 11, 101, 5)) == [
        ("repl", 1, 11, 101, 5),
        ("lvl", BUY, 101, 5, 1),
        ("lvl", BUY, 100, 0, 0),
        ("bbo", 101, 5, 102, 5),
    ]


def test_replaced_gtd_order_keeps_its_expiry():
    h = Harness()
    h.setup(buy(1, 100, 10, tif=GTD, expire_ts_ns=T0 + 50))
    h.setup(replace(1, 11, 99, 4))
    assert brief(h.tick(T0 + 50)) == [
        ("exp", 11, 4),
        ("lvl", BUY, 99, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]


def test_mass_cancel_by_account_in_arrival_order_including_parked_stops():
    h = Harness()
    h.setup(
        buy(1, 99, 5, acct=1),
        sell(2, 105, 5, acct=2),
        stop(3, BUY, 120, 2, acct=1),
        sell(4, 104, 3, acct=1),
        buy(5, 100, 6, acct=1, display_qty_lots=2),
        buy(6, 100, 1, acct=2),
    )
    h.setup(modify(1, qty=7))  # an increase: new priority, same arrival
    assert h.b(mass_cancel(1)) == [
        ("cxl", 1, MASS, 7, 0),
        ("cxl", 3, MASS, 2, 0),
        ("cxl", 4, MASS, 3, 0),
        ("cxl", 5, MASS, 6, 0),
        ("lvl", BUY, 100, 1, 1),
        ("lvl", BUY, 99, 0, 0),
        ("lvl", SELL, 104, 0, 0),
        ("bbo", 100, 1, 105, 5),
    ]
    assert h.ids() == [6, 2]
    assert h.eng.status().parked_stops == 0


def test_mass_cancel_whole_symbol_follows_arrival_of_replacements():
    h = Harness()
    h.setup(
        sell(1, 105, 5, acct=1),
        stop(2, SELL, 50, 2, acct=2),
        buy(3, 100, 5, acct=3),
        replace(1, 11, 106, 5),
    )
    assert h.b(mass_cancel()) == [
        ("cxl", 2, MASS, 2, 0),
        ("cxl", 3, MASS, 5, 0),
        ("cxl", 11, MASS, 5, 0),
        ("lvl", BUY, 100, 0, 0),
        ("lvl", SELL, 106, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]
    assert h.b(mass_cancel()) == []
    assert h.b(mass_cancel(5)) == []


def test_rejects_do_not_touch_the_book_for_modify():
    h = two_bids()
    events = h.send(modify(1, price=-1))
    assert isinstance(events[0], OrderRejected)
    assert events[0].reason == RejectReason.PRICE_NOT_POSITIVE
    assert h.reject(modify(1, qty=-3)) == RejectReason.QTY_NOT_POSITIVE


def test_price_only_modify_skips_the_size_limits():
    h = Harness(instrument(min_qty_lots=5))
    h.setup(buy(1, 100, 10), sell(2, 100, 8))  # leaves 2, below the minimum of 5
    assert h.b(modify(1, price=99)) == [
        ("mod", 1, 99, 2, False),
        ("lvl", BUY, 100, 0, 0),
        ("lvl", BUY, 99, 2, 1),
        ("bbo", 99, 2, 0, 0),
    ]
    assert h.reject(modify(1, qty=3)) == RejectReason.QTY_BELOW_MIN
