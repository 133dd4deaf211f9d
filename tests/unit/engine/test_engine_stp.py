"""Self-trade prevention: the taker's mode decides, without a trade between the two."""

from __future__ import annotations

from engine_kit import (
    BOTH,
    BUY,
    DECREMENT,
    FOK,
    NEWEST,
    NONE,
    OLDEST,
    SELF,
    SELL,
    Harness,
    buy,
    limit,
    market,
    modify,
    sell,
    trade,
)

from whistle.core import RejectReason


def self_first():
    """Asks at 100: 1 (account 1, 5 lots) then 2 (account 2, 5 lots)."""
    h = Harness()
    h.setup(sell(1, 100, 5, acct=1), sell(2, 100, 5, acct=2))
    return h


def test_cancel_newest_cancels_the_taker():
    h = self_first()
    # The level was visited but ends unchanged: no market data.
    assert h.b(buy(3, 100, 8, acct=1, stp=NEWEST)) == [("acc", 3), ("cxl", 3, SELF, 8, 0)]
    assert h.ids() == [1, 2]


def test_cancel_newest_after_trading_with_others():
    h = Harness()
    h.setup(sell(1, 100, 5, acct=2), sell(2, 100, 5, acct=1))
    assert h.b(buy(3, 100, 8, acct=1, stp=NEWEST)) == [
        ("acc", 3),
        *trade(1, 100, 5, maker=1, taker=3, aggressor=BUY, maker_leaves=0, taker_leaves=3),
        ("cxl", 3, SELF, 3, 0),
        ("lvl", SELL, 100, 5, 1),
        ("bbo", 0, 0, 100, 5),
    ]


def test_cancel_oldest_removes_the_maker_and_goes_on_matching():
    h = self_first()
    assert h.b(buy(3, 100, 8, acct=1, stp=OLDEST)) == [
        ("acc", 3),
        ("cxl", 1, SELF, 5, 0),
        *trade(1, 100, 5, maker=2, taker=3, aggressor=BUY, maker_leaves=0, taker_leaves=3),
        ("lvl", BUY, 100, 3, 1),
        ("lvl", SELL, 100, 0, 0),
        ("bbo", 100, 3, 0, 0),
    ]
    assert h.l3() == [(3, 100, 3, 0)]


def test_cancel_oldest_on_an_iceberg_cancels_its_whole_leaves():
    h = Harness()
    h.setup(sell(1, 100, 9, acct=1, display_qty_lots=3), sell(2, 101, 5, acct=2))
    assert h.b(market(3, BUY, 2, acct=1, stp=OLDEST)) == [
        ("acc", 3),
        ("cxl", 1, SELF, 9, 0),
        *trade(1, 101, 2, maker=2, taker=3, aggressor=BUY, maker_leaves=3, taker_leaves=0),
        ("lvl", SELL, 100, 0, 0),
        ("lvl", SELL, 101, 3, 1),
        ("bbo", 0, 0, 101, 3),
    ]


def test_cancel_both_cancels_maker_then_taker():
    h = self_first()
    assert h.b(buy(3, 100, 8, acct=1, stp=BOTH)) == [
        ("acc", 3),
        ("cxl", 1, SELF, 5, 0),
        ("cxl", 3, SELF, 8, 0),
        ("lvl", SELL, 100, 5, 1),
        ("bbo", 0, 0, 100, 5),
    ]
    assert h.ids() == [2]


def test_decrement_maker_bigger():
    h = Harness()
    h.setup(sell(1, 100, 10, acct=1))
    assert h.b(buy(3, 100, 4, acct=1, stp=DECREMENT)) == [
        ("acc", 3),
        ("cxl", 1, SELF, 4, 6),
        ("cxl", 3, SELF, 4, 0),
        ("lvl", SELL, 100, 6, 1),
        ("bbo", 0, 0, 100, 6),
    ]
    assert h.l3() == [(1, 100, 6, 0)]


def test_decrement_taker_bigger_goes_on_to_the_next_maker():
    h = Harness()
    h.setup(sell(1, 100, 4, acct=1), sell(2, 100, 5, acct=2))
    assert h.b(buy(3, 100, 6, acct=1, stp=DECREMENT)) == [
        ("acc", 3),
        ("cxl", 1, SELF, 4, 0),
        ("cxl", 3, SELF, 4, 2),
        *trade(1, 100, 2, maker=2, taker=3, aggressor=BUY, maker_leaves=3, taker_leaves=0),
        ("lvl", SELL, 100, 3, 1),
        ("bbo", 0, 0, 100, 3),
    ]
    assert h.l3() == [(2, 100, 3, 0)]


def test_decrement_equal_removes_both():
    h = Harness()
    h.setup(sell(1, 100, 5, acct=1))
    assert h.b(buy(3, 100, 5, acct=1, stp=DECREMENT)) == [
        ("acc", 3),
        ("cxl", 1, SELF, 5, 0),
        ("cxl", 3, SELF, 5, 0),
        ("lvl", SELL, 100, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]
    assert h.l3() == []


def test_decrement_takes_the_hidden_reserve_first():
    h = Harness()
    h.setup(sell(1, 100, 10, acct=1, display_qty_lots=4))
    # Reserve 6 -> 3; the displayed 4 and the level are unchanged: no market data.
    assert h.b(sell(9, 200, 1, acct=2)) == [("acc", 9), ("lvl", SELL, 200, 1, 1)]
    assert h.b(buy(3, 100, 3, acct=1, stp=DECREMENT)) == [
        ("acc", 3),
        ("cxl", 1, SELF, 3, 7),
        ("cxl", 3, SELF, 3, 0),
    ]
    assert h.l3() == [(1, 100, 4, 3), (9, 200, 1, 0)]
    # 5 more: 3 from the reserve, then 2 from the displayed slice.
    assert h.b(buy(4, 100, 5, acct=1, stp=DECREMENT)) == [
        ("acc", 4),
        ("cxl", 1, SELF, 5, 2),
        ("cxl", 4, SELF, 5, 0),
        ("lvl", SELL, 100, 2, 1),
        ("bbo", 0, 0, 100, 2),
    ]
    assert h.l3() == [(1, 100, 2, 0), (9, 200, 1, 0)]


def test_stp_none_trades_with_itself():
    h = Harness()
    h.setup(sell(1, 100, 5, acct=1, stp=NEWEST))  # the maker's own mode plays no role
    assert h.b(buy(2, 100, 5, acct=1, stp=NONE)) == [
        ("acc", 2),
        *trade(1, 100, 5, maker=1, taker=2, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("lvl", SELL, 100, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]


def test_stp_applies_to_a_modify_that_crosses():
    h = Harness()
    h.setup(sell(1, 101, 5, acct=1), buy(2, 100, 5, acct=1, stp=NEWEST))
    assert h.b(modify(2, price=101)) == [
        ("mod", 2, 101, 5, False),
        ("cxl", 2, SELF, 5, 0),
        ("lvl", BUY, 100, 0, 0),
        ("bbo", 0, 0, 101, 5),
    ]
    assert h.ids() == [1]


def test_fok_with_stp():
    h = self_first()
    assert h.reject(limit(3, BUY, 100, 5, acct=1, tif=FOK, stp=NEWEST)) == (
        RejectReason.FOK_UNFILLABLE
    )
    assert h.reject(limit(3, BUY, 100, 5, acct=1, tif=FOK, stp=DECREMENT)) == (
        RejectReason.FOK_UNFILLABLE
    )
    # CANCEL_OLDEST skips its own maker: 5 of others is enough for 5, not for 6.
    assert h.reject(limit(3, BUY, 100, 6, acct=1, tif=FOK, stp=OLDEST)) == (
        RejectReason.FOK_UNFILLABLE
    )
    assert h.b(limit(3, BUY, 100, 5, acct=1, tif=FOK, stp=OLDEST)) == [
        ("acc", 3),
        ("cxl", 1, SELF, 5, 0),
        *trade(1, 100, 5, maker=2, taker=3, aggressor=BUY, maker_leaves=0, taker_leaves=0),
        ("lvl", SELL, 100, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]
