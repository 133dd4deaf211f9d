"""Lookups asked for while replaying real data (issue 8 item 3).

``Whistle.order(order_id)``, ``depth(None)`` / ``depth_all()``, per-side order counts in
``status()`` and the detail code on engine rejects.
"""

from __future__ import annotations

import msgspec
import pytest
from engine_kit import (
    BUY,
    DAY,
    GTD,
    IOC,
    MARKET,
    SELL,
    STOP,
    Harness,
    buy,
    cancel,
    instrument,
    limit,
    market,
    modify,
    replace,
    sell,
    stop,
    stop_limit,
)

from whistle.book import details as d
from whistle.book.details import DETAIL_REASON, DETAIL_TEXT, detail_text
from whistle.core import NewOrder, OrderRejected
from whistle.core.reasons import RejectReason as R
from whistle.engine import OrderInfo, Whistle


def info(h: Harness, oid: int) -> OrderInfo:
    o = h.eng.order(oid)
    assert o is not None, f"order {oid} is not live"
    return o


def pos(h: Harness, oid: int) -> tuple[int, int]:
    o = info(h, oid)
    return o.queue_position, o.queue_ahead_lots


# ---------------------------------------------------------------------- order()


def test_order_reports_every_field():
    h = Harness(now=5_000)
    h.setup(buy(7, 100, 10, acct=3, tif=GTD, expire_ts_ns=9_000, display_qty_lots=4))
    o = info(h, 7)
    assert o == OrderInfo(
        order_id=7,
        account=3,
        side=BUY,
        order_type=1,
        tif=GTD,
        price_ticks=100,
        stop_price_ticks=0,
        leaves_qty_lots=10,
        displayed_qty_lots=4,
        hidden_qty_lots=6,
        filled_qty_lots=0,
        original_qty_lots=10,
        queue_position=1,
        queue_ahead_lots=0,
        entry_ts_ns=5_000,
        expire_ts_ns=9_000,
        parked=False,
    )
    with pytest.raises(AttributeError):
        o.order_id = 8  # type: ignore[misc]  # frozen


def test_order_is_none_when_unknown_or_gone():
    h = Harness()
    assert h.eng.order(1) is None
    h.setup(sell(1, 100, 5), sell(2, 101, 5))
    h.send(cancel(1))
    assert h.eng.order(1) is None
    h.send(buy(3, 101, 5))  # fills 2 completely, 3 never rests
    assert h.eng.order(2) is None
    assert h.eng.order(3) is None
    h.send(market(4, BUY, 1))  # IOC remainder: nothing rests
    assert h.eng.order(4) is None


def test_taker_that_rests_reports_its_fill_and_entry_time():
    h = Harness(now=1_000)
    h.setup(sell(1, 100, 3))
    h.send(buy(2, 101, 10), now=2_000)
    o = info(h, 2)
    assert (o.leaves_qty_lots, o.filled_qty_lots, o.original_qty_lots) == (7, 3, 10)
    assert (o.price_ticks, o.queue_position, o.entry_ts_ns) == (101, 1, 2_000)


def test_queue_position_after_partial_fills():
    h = Harness()
    h.setup(sell(1, 100, 5), sell(2, 100, 4), sell(3, 100, 6), sell(4, 101, 1))
    assert [pos(h, i) for i in (1, 2, 3, 4)] == [(1, 0), (2, 5), (3, 9), (1, 0)]
    h.send(buy(10, 100, 2))  # 1 partially filled: keeps the front
    assert [pos(h, i) for i in (1, 2, 3)] == [(1, 0), (2, 3), (3, 7)]
    assert (info(h, 1).leaves_qty_lots, info(h, 1).filled_qty_lots) == (3, 2)
    h.send(buy(11, 100, 5))  # 1 filled (3), then 2 takes 2 of 4
    assert h.eng.order(1) is None
    assert [pos(h, i) for i in (2, 3)] == [(1, 0), (2, 2)]
    assert (info(h, 2).filled_qty_lots, info(h, 2).original_qty_lots) == (2, 4)


def test_modify_decrease_keeps_priority_increase_and_reprice_lose_it():
    h = Harness()
    h.setup(buy(1, 100, 5), buy(2, 100, 5), buy(3, 100, 5))
    h.send(modify(1, qty=2))  # decrease: keeps its place
    assert [pos(h, i) for i in (1, 2, 3)] == [(1, 0), (2, 2), (3, 7)]
    assert (info(h, 1).leaves_qty_lots, info(h, 1).original_qty_lots) == (2, 5)
    h.send(modify(1, qty=6))  # increase: to the back
    assert [pos(h, i) for i in (2, 3, 1)] == [(1, 0), (2, 5), (3, 10)]
    h.send(modify(2, price=99))  # new price: back of (new) level 99
    assert pos(h, 2) == (1, 0)
    assert info(h, 2).price_ticks == 99
    assert [pos(h, i) for i in (3, 1)] == [(1, 0), (2, 5)]
    h.send(modify(3, price=100, qty=5))  # unchanged: rejected, position unchanged
    assert pos(h, 3) == (1, 0)


def test_iceberg_refill_goes_to_the_back_and_counts_fills():
    h = Harness()
    h.setup(sell(1, 100, 10, display_qty_lots=3), sell(2, 100, 4))
    assert [pos(h, i) for i in (1, 2)] == [(1, 0), (2, 3)]
    h.send(buy(5, 100, 3))  # takes the whole slice: 1 refills behind 2
    o = info(h, 1)
    assert (o.displayed_qty_lots, o.hidden_qty_lots, o.filled_qty_lots) == (3, 4, 3)
    assert (o.leaves_qty_lots, o.original_qty_lots) == (7, 10)
    assert [pos(h, i) for i in (2, 1)] == [(1, 0), (2, 4)]


def test_parked_stop_has_no_queue_position_and_reports_stop_price():
    h = Harness()
    h.setup(stop(1, BUY, 120, 4, tif=DAY))
    o = info(h, 1)
    assert (o.parked, o.queue_position, o.queue_ahead_lots) == (True, 0, 0)
    assert (o.order_type, o.stop_price_ticks, o.price_ticks, o.leaves_qty_lots) == (
        STOP,
        120,
        0,
        4,
    )


def test_triggered_stop_limit_that_rests_is_a_plain_resting_order():
    h = Harness()
    h.setup(stop_limit(1, BUY, 101, 101, 5), sell(2, 101, 2), sell(3, 102, 1))
    h.send(buy(4, 101, 2))  # trades at 101: the stop triggers, takes nothing at 101
    o = info(h, 1)
    assert (o.parked, o.queue_position, o.price_ticks, o.filled_qty_lots) == (False, 1, 101, 0)


def test_replace_reports_the_new_order_from_scratch():
    h = Harness()
    h.setup(sell(1, 100, 5), buy(2, 99, 8))
    h.send(buy(3, 100, 2))
    h.send(replace(1, 9, 101, 6), now=3_000)
    assert h.eng.order(1) is None
    o = info(h, 9)
    assert (o.original_qty_lots, o.filled_qty_lots, o.leaves_qty_lots) == (6, 0, 6)
    assert (o.entry_ts_ns, o.price_ticks) == (3_000, 101)


def test_lookup_fields_survive_a_snapshot():
    h = Harness(now=2_000)
    h.setup(sell(1, 100, 10, display_qty_lots=4), sell(2, 100, 3))
    h.send(buy(3, 100, 5), now=3_000)
    h.send(modify(2, qty=1))
    restored = Whistle.restore(h.eng.snapshot())
    for oid in (1, 2):
        assert restored.order(oid) == h.eng.order(oid)
    assert restored.state_hash() == h.eng.state_hash()


def test_old_snapshot_without_lookup_fields_still_restores():
    h = Harness()
    h.setup(sell(1, 100, 10), buy(2, 90, 3))
    h.send(buy(3, 100, 4))
    snap = h.eng.snapshot()
    # A snapshot written before the lookup fields existed: the trailing fields are absent.
    raw = msgspec.msgpack.decode(snap.encode())
    for order in raw["orders"]:
        del order[-3:]
    old = msgspec.msgpack.decode(msgspec.msgpack.encode(raw), type=type(snap))
    restored = Whistle.restore(old)
    o = restored.order(1)
    assert o is not None
    # Not recorded then: no fills known, the original quantity reads as the leaves.
    assert (o.leaves_qty_lots, o.filled_qty_lots, o.original_qty_lots) == (6, 0, 6)
    assert restored.state_hash() == h.eng.state_hash()


# ---------------------------------------------------------------------- depth, status


def test_depth_of_all_levels():
    h = Harness()
    h.setup(
        *[buy(i, 100 - i, 1) for i in range(1, 31)], *[sell(100 + i, 200 + i, 2) for i in range(25)]
    )
    everything = h.eng.depth(None)
    assert h.eng.depth_all() == everything
    assert [lv.price_ticks for lv in everything.bids] == [100 - i for i in range(1, 31)]
    assert [lv.price_ticks for lv in everything.asks] == [200 + i for i in range(25)]
    assert h.eng.depth(10).bids == everything.bids[:10]
    assert len(h.eng.depth().asks) == 10  # the default is unchanged
    with pytest.raises(ValueError, match="levels must be positive, was 0"):
        h.eng.depth(0)


def test_status_counts_orders_per_side():
    h = Harness()
    st = h.eng.status()
    assert (st.bid_orders, st.ask_orders, st.resting_orders) == (0, 0, 0)
    h.setup(buy(1, 99, 1), buy(2, 99, 1), buy(3, 98, 1), sell(4, 101, 1), stop(5, SELL, 90, 1))
    st = h.eng.status()
    assert (st.bid_orders, st.ask_orders, st.resting_orders, st.parked_stops) == (3, 1, 4, 1)
    h.send(sell(6, 99, 2))  # takes 1 and 2
    st = h.eng.status()
    assert (st.bid_orders, st.ask_orders) == (1, 1)
    assert st.resting_orders == st.bid_orders + st.ask_orders


# ---------------------------------------------------------------------- reject details


def detail_of(h: Harness, cmd) -> tuple[int, int]:
    events = h.send(cmd)
    assert len(events) == 1, events
    assert isinstance(events[0], OrderRejected), events
    return events[0].reason, events[0].detail_code


def test_engine_rejects_carry_a_detail_code():
    inst = instrument(price_band_bps=100, reference_price_ticks=1_000)
    h = Harness(inst)
    h.setup(buy(1, 1_000, 5), stop(2, BUY, 1_005, 1))
    sid = h.eng.symbol_id
    cases = [
        (buy(2**63, 1_000, 1), R.VALUE_OUT_OF_RANGE, d.D_RANGE_ORDER_ID),
        (buy(9, 1_000, 1, acct=-1), R.VALUE_OUT_OF_RANGE, d.D_RANGE_ACCOUNT),
        (buy(9, 2**60, 1), R.VALUE_OUT_OF_RANGE, d.D_RANGE_PRICE),
        (buy(1, 1_000, 1), R.DUPLICATE_ORDER_ID, d.D_DUPLICATE_RESTING),
        (buy(2, 1_000, 1), R.DUPLICATE_ORDER_ID, d.D_DUPLICATE_PARKED),
        (buy(9, 1_000, 1, tif=9), R.INVALID_TIF, d.D_TIF_UNKNOWN),
        (market(9, BUY, 1, tif=1), R.INVALID_TIF, d.D_TIF_MARKET),
        (stop(9, BUY, 1_005, 1, tif=IOC), R.INVALID_TIF, d.D_TIF_STOP),
        (buy(9, 1_000, 0), R.QTY_NOT_POSITIVE, d.D_QTY_ZERO),
        (buy(9, 1_000, -3), R.QTY_NOT_POSITIVE, d.D_QTY_NEGATIVE),
        (buy(9, 1_000, 3, display_qty_lots=-1), R.INVALID_DISPLAY_QTY, d.D_DISPLAY_NEGATIVE),
        (buy(9, 1_000, 3, display_qty_lots=4), R.INVALID_DISPLAY_QTY, d.D_DISPLAY_ABOVE_QTY),
        (
            buy(9, 1_000, 3, tif=IOC, display_qty_lots=1),
            R.INVALID_DISPLAY_QTY,
            d.D_DISPLAY_CANNOT_REST,
        ),
        (
            NewOrder(sid, 9, 1, SELL, MARKET, IOC, 0, 1, protection_price_ticks=-5),
            R.INVALID_PROTECTION_PRICE,
            d.D_PROTECTION_NEGATIVE,
        ),
        (
            buy(9, 1_000, 1, protection_price_ticks=5),
            R.INVALID_PROTECTION_PRICE,
            d.D_PROTECTION_TYPE,
        ),
        (buy(9, 989, 1), R.PRICE_OUTSIDE_BAND, d.D_BAND_BELOW),
        (buy(9, 1_011, 1), R.PRICE_OUTSIDE_BAND, d.D_BAND_ABOVE),
        (market(9, BUY, 1), R.NO_LIQUIDITY, d.D_NO_LIQUIDITY_EMPTY),
        (modify(1, price=1_020), R.PRICE_OUTSIDE_BAND, d.D_BAND_ABOVE),
        (modify(1, qty=-1), R.QTY_NOT_POSITIVE, d.D_QTY_NEGATIVE),
        (replace(1, 2**63, 1_000, 1), R.VALUE_OUT_OF_RANGE, d.D_RANGE_NEW_ORDER_ID),
        (replace(1, 2, 1_000, 1), R.DUPLICATE_ORDER_ID, d.D_DUPLICATE_PARKED),
        (replace(1, 9, 1_000, 0), R.QTY_NOT_POSITIVE, d.D_QTY_ZERO),
        (cancel(77), R.UNKNOWN_ORDER_ID, d.D_NONE),
    ]
    for cmd, reason, detail in cases:
        assert detail_of(h, cmd) == (reason, detail), cmd
        assert detail == 0 or DETAIL_REASON[detail] == reason


def test_no_liquidity_within_the_limit_is_told_apart_from_an_empty_side():
    h = Harness()
    h.setup(sell(1, 110, 5))
    cmd = NewOrder(h.eng.symbol_id, 9, 1, BUY, MARKET, IOC, 0, 1, protection_price_ticks=105)
    assert detail_of(h, cmd) == (R.NO_LIQUIDITY, d.D_NO_LIQUIDITY_LIMIT)


def test_detail_table_is_complete_and_readable():
    assert set(DETAIL_TEXT) == {0} | set(DETAIL_REASON)
    for code, text in DETAIL_TEXT.items():
        assert detail_text(code) == text
        assert code == 0 or text
    assert detail_text(999) == "detail 999"
    reasons = {int(r) for r in R}
    assert set(DETAIL_REASON.values()) <= reasons


def test_reject_detail_round_trips_and_old_rejects_decode():
    h = Harness()
    events = h.send(limit(1, BUY, 100, 0))
    enc = msgspec.msgpack.Encoder()
    dec = msgspec.msgpack.Decoder(OrderRejected)
    assert dec.decode(enc.encode(events[0])) == events[0]
    # A reject journaled before detail_code existed (one field shorter) decodes with 0.
    # (tag 2, symbol_id, seq, enq_seq, ts_ns, order_id, account, reason)
    tagged = msgspec.msgpack.encode([2, 1, 2, 3, 4, 5, 6, 1004])
    old = dec.decode(tagged)
    assert (old.reason, old.detail_code) == (1004, 0)


# ---------------------------------------------------------------------- account_orders()


def test_account_orders_lists_one_accounts_live_orders_in_book_order():
    h = Harness()
    h.setup(
        buy(1, 99, 3, acct=7),
        buy(2, 99, 2, acct=8),
        buy(3, 99, 4, acct=7),
        buy(4, 100, 1, acct=7),
        sell(5, 105, 6, acct=7),
        sell(6, 104, 1, acct=8),
        stop(9, SELL, 90, 1, acct=7),
        stop(10, BUY, 120, 1, acct=7),
        stop(11, BUY, 110, 1, acct=8),
    )
    got = h.eng.account_orders(7)
    # Bids best first, time priority in a level, then asks, then parked stops by arrival.
    assert [o.order_id for o in got] == [4, 1, 3, 5, 9, 10]
    # Each entry is exactly what order(id) says (positions count every account's orders).
    assert got == [info(h, o.order_id) for o in got]
    assert (got[2].queue_position, got[2].queue_ahead_lots) == (3, 5)
    assert [o.order_id for o in h.eng.account_orders(8)] == [2, 6, 11]
    assert h.eng.account_orders(99) == []
    h.send(cancel(1))
    assert [o.order_id for o in h.eng.account_orders(7)] == [4, 3, 5, 9, 10]
    assert pos(h, 3) == (2, 2)
