"""Every reject reason the engine emits: exactly one OrderRejected, the book unchanged."""

from __future__ import annotations

import msgspec
import pytest
from engine_kit import (
    BUY,
    DAY,
    FOK,
    GTC,
    GTD,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    SID,
    STOP,
    STOP_LIMIT,
    T0,
    Harness,
    buy,
    cancel,
    failing_event,
    halt,
    instrument,
    market,
    modify,
    replace,
    sell,
    stop,
    stop_limit,
)

from whistle.core import NewOrder, RejectReason

R = RejectReason

# Reasons that only the edge or the router emit (decimal parsing, routing, backpressure).
NOT_FROM_THE_ENGINE = {
    R.INVALID_PRICE_PRECISION,
    R.INVALID_QTY_PRECISION,
    R.SYMBOL_NOT_ACTIVE,
    R.QUEUE_FULL,
    R.DUPLICATE_CLIENT_ORDER_ID,  # the venue's client-order table (tests/unit/coord)
    R.CLIENT_ORDER_IDS_FULL,
}


class Bogus(msgspec.Struct):
    symbol_id: int
    order_id: int = 0
    account: int = 0


def new(oid=50, side=BUY, ot=LIMIT, tif=GTC, price=100, qty=5, **kw) -> NewOrder:
    return NewOrder(SID, oid, 7, side, ot, tif, price, qty, **kw)


def book() -> Harness:
    """Band [90, 110] around 100, qty 2..1000; bids 1 (post-only) and 4, ask 2, stop 3."""
    h = Harness(
        instrument(
            price_band_bps=1_000, reference_price_ticks=100, min_qty_lots=2, max_qty_lots=1_000
        )
    )
    h.setup(
        buy(1, 100, 10, acct=1, post_only=True),
        sell(2, 105, 10, acct=1, post_only=True),
        stop(3, BUY, 108, 2, acct=1),
        buy(4, 95, 5, acct=2),
    )
    return h


def halted(h: Harness) -> None:
    h.setup(halt())


def fault(h: Harness) -> None:
    with failing_event("OrderCancelled"):
        h.send(cancel(1))
    assert h.eng.status().state == 3


# (reason, setup, command, reported order_id, reported account)
# A modify/replace/cancel reject carries the command's account (0 if none), never the owner's.
CASES = [
    (R.UNKNOWN_SYMBOL, None, buy(50, 100, 5, acct=7, sid=SID + 1), 50, 7),
    (R.UNKNOWN_SYMBOL, None, cancel(1), 1, 0),  # replaced below with a foreign symbol
    (R.MALFORMED_COMMAND, None, Bogus(SID, 50, 7), 50, 7),
    # Ranges of whistle.core.limits; an id or account out of range is reported as 0.
    (R.VALUE_OUT_OF_RANGE, None, new(oid=0), 0, 7),
    (R.VALUE_OUT_OF_RANGE, None, new(oid=-5), 0, 7),
    (R.VALUE_OUT_OF_RANGE, None, new(oid=1 << 63), 0, 7),
    (R.VALUE_OUT_OF_RANGE, None, NewOrder(SID, 50, -1, BUY, LIMIT, GTC, 100, 5), 50, 0),
    (R.VALUE_OUT_OF_RANGE, None, NewOrder(SID, 50, 1 << 63, BUY, LIMIT, GTC, 100, 5), 50, 0),
    (R.VALUE_OUT_OF_RANGE, None, new(price=1 << 60), 50, 7),
    (R.VALUE_OUT_OF_RANGE, None, stop(50, BUY, 1 << 60, 5, acct=7), 50, 7),
    (R.VALUE_OUT_OF_RANGE, None, market(50, BUY, 5, acct=7, protection_price_ticks=1 << 60), 50, 7),
    (R.VALUE_OUT_OF_RANGE, None, new(tif=GTD, expire_ts_ns=1 << 63), 50, 7),
    (R.VALUE_OUT_OF_RANGE, None, modify(1, price=1 << 60), 1, 0),
    (R.VALUE_OUT_OF_RANGE, None, replace(1, 0, 100, 5), 1, 0),
    (R.VALUE_OUT_OF_RANGE, None, replace(1, 51, 1 << 60, 5), 1, 0),
    (R.QTY_NOT_POSITIVE, None, new(qty=0), 50, 7),
    (R.QTY_NOT_POSITIVE, None, new(qty=-1), 50, 7),
    (R.QTY_NOT_POSITIVE, None, modify(1, qty=-1), 1, 0),
    (R.QTY_NOT_POSITIVE, None, replace(1, 51, 100, 0), 1, 0),
    (R.QTY_BELOW_MIN, None, new(qty=1), 50, 7),
    (R.QTY_BELOW_MIN, None, modify(1, qty=1), 1, 0),
    (R.QTY_BELOW_MIN, None, replace(1, 51, 100, 1), 1, 0),
    (R.QTY_ABOVE_MAX, None, new(qty=1_001), 50, 7),
    (R.QTY_ABOVE_MAX, None, modify(1, qty=1_001), 1, 0),
    (R.QTY_ABOVE_MAX, None, replace(1, 51, 100, 1_001), 1, 0),
    (R.PRICE_NOT_POSITIVE, None, new(price=0), 50, 7),
    (R.PRICE_NOT_POSITIVE, None, new(price=-3), 50, 7),
    (R.PRICE_NOT_POSITIVE, None, new(ot=STOP_LIMIT, price=0, stop_price_ticks=101), 50, 7),
    (R.PRICE_NOT_POSITIVE, None, modify(1, price=-1), 1, 0),
    (R.PRICE_NOT_POSITIVE, None, replace(1, 51, 0, 5), 1, 0),
    (R.PRICE_NOT_ALLOWED, None, new(ot=MARKET, tif=IOC, price=100), 50, 7),
    (R.PRICE_NOT_ALLOWED, None, new(ot=STOP, price=100, stop_price_ticks=101), 50, 7),
    (R.PRICE_OUTSIDE_BAND, None, new(price=111), 50, 7),
    (R.PRICE_OUTSIDE_BAND, None, new(side=SELL, price=89), 50, 7),
    (R.PRICE_OUTSIDE_BAND, None, new(ot=STOP_LIMIT, price=111, stop_price_ticks=101), 50, 7),
    (R.PRICE_OUTSIDE_BAND, None, modify(1, price=89), 1, 0),
    (R.PRICE_OUTSIDE_BAND, None, replace(2, 51, 111, 5), 2, 0),
    (R.INVALID_SIDE, None, new(side=0), 50, 7),
    (R.INVALID_SIDE, None, new(side=3), 50, 7),
    (R.INVALID_ORDER_TYPE, None, new(ot=0), 50, 7),
    (R.INVALID_ORDER_TYPE, None, new(ot=5), 50, 7),
    (R.INVALID_TIF, None, new(tif=0), 50, 7),
    (R.INVALID_TIF, None, new(tif=6), 50, 7),
    (R.INVALID_TIF, None, market(50, BUY, 5, acct=7, tif=GTC), 50, 7),
    (R.INVALID_TIF, None, market(50, BUY, 5, acct=7, tif=DAY), 50, 7),
    (R.INVALID_TIF, None, market(50, BUY, 5, acct=7, tif=GTD, expire_ts_ns=T0 + 9), 50, 7),
    (R.INVALID_TIF, None, stop(50, BUY, 101, 5, acct=7, tif=IOC), 50, 7),
    (R.INVALID_TIF, None, stop(50, BUY, 101, 5, acct=7, tif=FOK), 50, 7),
    (R.INVALID_TIF, None, stop_limit(50, BUY, 101, 101, 5, acct=7, tif=FOK), 50, 7),
    (R.MISSING_STOP_PRICE, None, new(ot=STOP, price=0), 50, 7),
    (R.MISSING_STOP_PRICE, None, new(ot=STOP_LIMIT, stop_price_ticks=-1), 50, 7),
    (R.STOP_PRICE_NOT_ALLOWED, None, new(stop_price_ticks=101), 50, 7),
    (R.STOP_PRICE_NOT_ALLOWED, None, market(50, BUY, 5, acct=7, stop_price_ticks=1), 50, 7),
    (R.INVALID_STP_MODE, None, new(stp=-1), 50, 7),
    (R.INVALID_STP_MODE, None, new(stp=5), 50, 7),
    (R.INVALID_POST_ONLY, None, new(tif=IOC, post_only=True), 50, 7),
    (R.INVALID_POST_ONLY, None, market(50, BUY, 5, acct=7, post_only=True), 50, 7),
    (R.INVALID_DISPLAY_QTY, None, new(display_qty_lots=6), 50, 7),
    (R.INVALID_DISPLAY_QTY, None, new(display_qty_lots=-1), 50, 7),
    (R.INVALID_DISPLAY_QTY, None, new(tif=IOC, display_qty_lots=2), 50, 7),
    (R.INVALID_DISPLAY_QTY, None, stop_limit(50, BUY, 101, 101, 5, display_qty_lots=2), 50, 1),
    (R.INVALID_PROTECTION_PRICE, None, new(protection_price_ticks=101), 50, 7),
    (R.INVALID_PROTECTION_PRICE, None, market(50, BUY, 5, protection_price_ticks=-1), 50, 1),
    (
        R.INVALID_PROTECTION_PRICE,
        None,
        stop_limit(50, BUY, 101, 101, 5, protection_price_ticks=2),
        50,
        1,
    ),
    (R.GTD_MISSING_EXPIRY, None, new(tif=GTD), 50, 7),
    (R.GTD_EXPIRED, None, new(tif=GTD, expire_ts_ns=T0), 50, 7),
    (R.EXPIRY_NOT_ALLOWED, None, new(tif=DAY, expire_ts_ns=T0 + 9), 50, 7),
    (R.DUPLICATE_ORDER_ID, None, new(oid=4), 4, 7),
    (R.DUPLICATE_ORDER_ID, None, new(oid=3), 3, 7),  # a parked stop is live
    (R.DUPLICATE_ORDER_ID, None, replace(1, 4, 100, 5), 4, 0),
    (R.TRADING_HALTED, halted, new(), 50, 7),
    (R.TRADING_HALTED, halted, modify(1, qty=5), 1, 0),
    (R.TRADING_HALTED, halted, replace(1, 51, 100, 5, acct=1), 1, 1),
    (R.ENGINE_FAULTED, fault, new(), 50, 7),
    (R.ENGINE_FAULTED, fault, cancel(4, acct=2), 4, 2),
    (R.ENGINE_FAULTED, fault, halt(), 0, 0),
    (R.UNKNOWN_ORDER_ID, None, cancel(99), 99, 0),
    (R.UNKNOWN_ORDER_ID, None, modify(99, qty=5, acct=7), 99, 7),
    (R.UNKNOWN_ORDER_ID, None, replace(99, 51, 100, 5), 99, 0),
    (R.ACCOUNT_MISMATCH, None, cancel(1, acct=2), 1, 2),
    (R.ACCOUNT_MISMATCH, None, cancel(3, acct=2), 3, 2),
    (R.ACCOUNT_MISMATCH, None, modify(1, qty=5, acct=2), 1, 2),
    (R.ACCOUNT_MISMATCH, None, replace(1, 51, 100, 5, acct=2), 1, 2),
    (R.MODIFY_NO_CHANGE, None, modify(1, price=100, qty=10), 1, 0),
    (R.POST_ONLY_WOULD_TAKE, None, new(price=105, post_only=True), 50, 7),
    (R.POST_ONLY_WOULD_TAKE, None, modify(1, price=106), 1, 0),
    (R.POST_ONLY_WOULD_TAKE, None, modify(2, price=100), 2, 0),
    (R.POST_ONLY_WOULD_TAKE, None, replace(1, 51, 105, 5), 1, 0),
    (R.FOK_UNFILLABLE, None, new(price=105, qty=11, tif=FOK), 50, 7),
    (R.FOK_UNFILLABLE, None, new(side=SELL, ot=MARKET, tif=FOK, price=0, qty=16), 50, 7),
    (R.NO_LIQUIDITY, None, market(50, BUY, 5, acct=7, protection_price_ticks=104), 50, 7),
    (R.NO_LIQUIDITY, None, market(50, SELL, 5, acct=7, protection_price_ticks=101), 50, 7),
    (R.ORDER_NOT_MODIFIABLE, None, modify(3, qty=3), 3, 0),
    (R.ORDER_NOT_MODIFIABLE, None, replace(3, 51, 100, 3), 3, 0),
]
# A cancel for another symbol (CancelOrder has no sid parameter in the kit).
CASES[1] = (R.UNKNOWN_SYMBOL, None, type(cancel(1))(SID + 1, 1, 5), 1, 5)


@pytest.mark.parametrize(
    ("reason", "prepare", "cmd", "order_id", "account"),
    CASES,
    ids=[f"{c[0].name}-{type(c[2]).__name__}-{i}" for i, c in enumerate(CASES)],
)
def test_reject(reason, prepare, cmd, order_id, account):
    h = book()
    if prepare is not None:
        prepare(h)
    seq_before = h.eng.status().event_seq
    assert h.reject(cmd) == reason
    (rejected,) = h.last_events
    assert (rejected.order_id, rejected.account, rejected.reason) == (order_id, account, reason)
    assert rejected.seq == seq_before + 1
    assert rejected.enq_seq == h.enq == h.eng.status().last_enq_seq


def test_every_engine_reason_is_covered():
    covered = {case[0] for case in CASES}
    assert covered | NOT_FROM_THE_ENGINE == set(RejectReason)
    assert not covered & NOT_FROM_THE_ENGINE


@pytest.mark.parametrize(
    ("cmd", "reason"),
    [
        # Documented order: the first failing check wins.
        (new(oid=4, side=9, qty=0), R.DUPLICATE_ORDER_ID),
        (new(side=9, ot=9), R.INVALID_SIDE),
        (new(ot=9, tif=9), R.INVALID_ORDER_TYPE),
        (new(tif=9, qty=0), R.INVALID_TIF),
        (new(ot=MARKET, tif=GTC, qty=0, price=0), R.INVALID_TIF),
        (new(qty=0, price=0), R.QTY_NOT_POSITIVE),
        (new(qty=1, price=0), R.QTY_BELOW_MIN),
        (new(price=0, stop_price_ticks=5), R.PRICE_NOT_POSITIVE),
        (new(stop_price_ticks=5, stp=9), R.STOP_PRICE_NOT_ALLOWED),
        (new(stp=9, tif=IOC, post_only=True), R.INVALID_STP_MODE),
        (new(tif=IOC, post_only=True, display_qty_lots=2), R.INVALID_POST_ONLY),
        (new(display_qty_lots=9, protection_price_ticks=3), R.INVALID_DISPLAY_QTY),
        (new(protection_price_ticks=3, tif=GTD), R.INVALID_PROTECTION_PRICE),
        (new(tif=GTD, price=200), R.GTD_MISSING_EXPIRY),
        (new(expire_ts_ns=5, price=200), R.EXPIRY_NOT_ALLOWED),
        (new(price=200, post_only=True), R.PRICE_OUTSIDE_BAND),
        (new(price=105, qty=11, tif=FOK, post_only=False), R.FOK_UNFILLABLE),
        (modify(3, price=-1, qty=-1), R.ORDER_NOT_MODIFIABLE),
        (modify(1, price=-1, qty=-1), R.PRICE_NOT_POSITIVE),
        (modify(1, qty=-1), R.QTY_NOT_POSITIVE),
        (modify(1, price=100, qty=10, acct=1), R.MODIFY_NO_CHANGE),
        (modify(1, price=200, qty=1), R.QTY_BELOW_MIN),
        (modify(1, price=200, qty=5), R.PRICE_OUTSIDE_BAND),
        (replace(3, 1, 0, 0), R.ORDER_NOT_MODIFIABLE),
        (replace(1, 2, 0, 0), R.DUPLICATE_ORDER_ID),
        (replace(1, 51, 0, 0), R.QTY_NOT_POSITIVE),
        (replace(1, 51, 0, 5), R.PRICE_NOT_POSITIVE),
        (replace(1, 51, 200, 5), R.PRICE_OUTSIDE_BAND),
    ],
)
def test_check_order(cmd, reason):
    assert book().reject(cmd) == reason


def test_symbol_is_checked_before_state_and_state_before_the_order():
    h = book()
    h.setup(halt())
    assert h.reject(buy(4, 100, 0, sid=SID + 1)) == R.UNKNOWN_SYMBOL
    assert h.reject(buy(4, 100, 0)) == R.TRADING_HALTED
    assert h.reject(modify(99, price=-1)) == R.TRADING_HALTED
    assert h.reject(replace(99, 1, 0, 0)) == R.TRADING_HALTED
