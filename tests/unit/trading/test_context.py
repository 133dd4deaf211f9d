"""Context: client order ids, signals, bad actions, the order state table, ledger, timers."""

from __future__ import annotations

import pytest

from whistle.core.enums import CancelCause, Liquidity, Side, TimeInForce
from whistle.trading.context import TRANSITIONS, Context, OrderState, PnL, Trigger
from whistle.trading.errors import OrderStateError
from whistle.trading.messages import (
    OrderUpdate,
    RiskReason,
    SignalEvent,
    SignalKind,
    UpdateKind,
)
from whistle.trading.strategy import BookView

BUY, SELL = Side.BUY, Side.SELL


def ctx_at(now=100, **kw):
    ctx = Context("BOB", 7, account=3, **kw)
    ctx.now_ns = now
    return ctx


def upd(kind, coid, side=BUY, **kw):
    return OrderUpdate(kind, coid, 7, side, **kw)


def accepted(coid, price=100, qty=5):
    return upd(UpdateKind.ACCEPTED, coid, price=price, qty=qty, leaves_qty=qty)


def filled(coid, price, qty, leaves, side=BUY, fee=0):
    return upd(
        UpdateKind.FILLED,
        coid,
        side,
        price=price,
        fill_price=price,
        fill_qty=qty,
        leaves_qty=leaves,
        liquidity=Liquidity.MAKER,
        fee=fee,
    )


# -- ids and signals -------------------------------------------------------------------


def test_client_order_ids_are_deterministic():
    ctx = ctx_at()
    assert [ctx.buy(1, 100), ctx.sell(1, 101), ctx.submit(BUY, 1, 99)] == [1, 2, 3]
    assert ctx_at(strategy_id=3).buy(1, 100) == (3 << 32) + 1
    assert ctx_at(strategy_id=3, order_id_base=1000).buy(1, 100) == 1001
    # Two contexts built alike give the same ids and signals.
    a, b = ctx_at(), ctx_at()
    for c in (a, b):
        c.buy(2, 100, TimeInForce.IOC)
        c.cancel(1)
    assert a.drain_signals() == b.drain_signals()


def test_signals_carry_exactly_what_was_asked_in_order():
    ctx = ctx_at(now=55, strategy_id=2)
    base = 2 << 32
    coid = ctx.buy(3, 100, TimeInForce.GTC, post_only=True)
    ctx.now_ns = 56
    ctx.sell(4, 102)
    assert ctx.modify(coid, price=99)
    assert ctx.cancel(coid)
    assert ctx.drain_signals() == [
        SignalEvent(SignalKind.BUY, 2, 7, base + 1, 100, 3, TimeInForce.GTC, True, 55),
        SignalEvent(SignalKind.SELL, 2, 7, base + 2, 102, 4, TimeInForce.DAY, False, 56),
        SignalEvent(SignalKind.MODIFY, 2, 7, base + 1, 99, 0, 0, False, 56),
        SignalEvent(SignalKind.CANCEL, 2, 7, base + 1, 0, 0, 0, False, 56),
    ]
    assert ctx.drain_signals() == []
    order = ctx.open_orders[base + 1]
    assert (order.side, order.price, order.qty, order.state) == (
        BUY,
        100,
        3,
        OrderState.PENDING_NEW,
    )
    assert order.pending == [SignalKind.MODIFY, SignalKind.CANCEL]
    assert order.pending_cancel
    assert order.pending_modifies == 1
    assert list(ctx.open_orders) == [base + 1, base + 2]


def test_submit_accepts_int_side_and_tif_values():
    ctx = ctx_at()
    ctx.submit(2, 1, 100, 2)  # type: ignore[arg-type]
    (sig,) = ctx.drain_signals()
    assert (sig.kind, sig.tif) == (SignalKind.SELL, TimeInForce.IOC)
    assert ctx.open_orders[1].side is SELL


# -- bad actions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "price", "tif", "post_only", "error", "match"),
    [
        (1.0, 100, TimeInForce.DAY, False, TypeError, "qty must be an int, was float"),
        (True, 100, TimeInForce.DAY, False, TypeError, "qty must be an int, was bool"),
        (1, "100", TimeInForce.DAY, False, TypeError, "price must be an int, was str"),
        (1, 100.5, TimeInForce.DAY, False, TypeError, "price must be an int"),
        (1, 100, 9, False, TypeError, "tif must be a TimeInForce"),
        (1, 100, True, False, TypeError, "tif must be a TimeInForce"),
        (1, 100, TimeInForce.DAY, 1, TypeError, "post_only must be a bool"),
        (1 << 63, 100, TimeInForce.DAY, False, ValueError, "signed 64-bit"),
        (1, -(1 << 63) - 1, TimeInForce.DAY, False, ValueError, "signed 64-bit"),
    ],
)
def test_wrong_types_raise_at_the_call_and_send_nothing(qty, price, tif, post_only, error, match):
    ctx = ctx_at()
    with pytest.raises(error, match=match):
        ctx.buy(qty, price, tif, post_only)
    assert ctx.drain_signals() == []
    assert not ctx.open_orders
    assert ctx.buy(1, 100) == 1  # no id was used up


def test_bad_side_raises():
    ctx = ctx_at()
    for side in (0, 3, True, "BUY"):
        with pytest.raises(TypeError, match="side must be a Side"):
            ctx.submit(side, 1, 100)  # type: ignore[arg-type]


@pytest.mark.parametrize(("qty", "price"), [(0, 100), (-5, 100), (5, 0), (5, -1)])
def test_non_positive_values_go_to_risk_and_come_back_rejected(qty, price):
    ctx = ctx_at()
    coid = ctx.buy(qty, price)
    (sig,) = ctx.drain_signals()
    assert (sig.qty, sig.price) == (qty, price)
    assert ctx.open_orders[coid].state is OrderState.PENDING_NEW
    order = ctx.apply_update(
        upd(UpdateKind.REJECTED, coid, reason=RiskReason.MALFORMED, text="qty must be > 0")
    )
    assert order is not None
    assert order.state is OrderState.REJECTED
    assert coid not in ctx.open_orders


def test_cancel_and_modify_of_what_is_not_open_return_false():
    ctx = ctx_at()
    assert ctx.cancel(42) is False
    assert ctx.modify(42, qty=1) is False
    coid = ctx.buy(5, 100)
    assert ctx.modify(coid) is False  # nothing to change
    assert ctx.modify(coid, qty=5, price=100) is False  # the same values
    assert ctx.modify(coid, qty=0, price=0) is False  # 0 means unchanged
    assert ctx.cancel(coid) is True
    assert ctx.cancel(coid) is False  # already pending
    assert ctx.modify(coid, price=101) is False  # a cancel is pending
    ctx.drain_signals()
    ctx.apply_update(upd(UpdateKind.CANCELLED, coid, reason=CancelCause.USER))
    assert ctx.cancel(coid) is False
    assert ctx.drain_signals() == []
    with pytest.raises(TypeError, match="client_order_id must be an int"):
        ctx.cancel(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="client_order_id must be an int"):
        ctx.modify("1", qty=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="qty must be an int"):
        ctx.modify(coid, qty=2.0)  # type: ignore[arg-type]


def test_negative_modify_values_are_sent_for_risk_to_refuse():
    ctx = ctx_at()
    coid = ctx.buy(5, 100)
    assert ctx.modify(coid, qty=-1)
    assert ctx.drain_signals()[-1].qty == -1


def test_open_orders_cannot_be_changed_through_the_mapping():
    ctx = ctx_at()
    coid = ctx.buy(1, 100)
    with pytest.raises(TypeError):
        ctx.open_orders[coid] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        del ctx.open_orders[coid]  # type: ignore[attr-defined]
    assert list(ctx.open_orders) == [coid]


def test_cancel_all_counts_what_it_sent():
    ctx = ctx_at()
    a = ctx.buy(1, 100)
    ctx.buy(1, 99)
    ctx.sell(1, 105)
    ctx.cancel(a)
    assert ctx.cancel_all() == 2
    assert ctx.cancel_all() == 0
    assert [s.kind for s in ctx.drain_signals()].count(SignalKind.CANCEL) == 3


# -- the state table -------------------------------------------------------------------


def test_lifecycle_with_partial_fills_goes_to_the_ledger():
    ctx = ctx_at()
    coid = ctx.buy(5, 100)
    assert ctx.apply_update(accepted(coid)).state is OrderState.OPEN
    order = ctx.apply_update(filled(coid, 100, 2, 3, fee=4))
    assert order.state is OrderState.PARTIALLY_FILLED
    assert (order.filled_qty, order.leaves_qty) == (2, 3)
    assert ctx.position == 2
    order = ctx.apply_update(filled(coid, 100, 3, 0, fee=6))
    assert order.state is OrderState.FILLED
    assert coid not in ctx.open_orders
    assert (ctx.position, ctx.ledger.fees) == (5, 10)
    sell = ctx.sell(5, 104)
    ctx.apply_update(accepted(sell, 104))
    ctx.apply_update(filled(sell, 104, 5, 0, side=SELL))
    assert ctx.position == 0
    assert ctx.pnl() == PnL(realised=20, unrealised=0, fees=10, total=10)


def test_rejected_cancel_keeps_the_order_and_allows_a_new_cancel():
    ctx = ctx_at()
    coid = ctx.buy(5, 100)
    ctx.apply_update(accepted(coid))
    ctx.modify(coid, price=101)
    ctx.cancel(coid)
    assert ctx.open_orders[coid].pending == [SignalKind.MODIFY, SignalKind.CANCEL]
    # A refusal answers the newest request: the cancel may be sent again at once.
    order = ctx.apply_update(upd(UpdateKind.REJECTED, coid, reason=RiskReason.ORDER_RATE))
    assert order.state is OrderState.OPEN
    assert order.pending == [SignalKind.MODIFY]
    assert ctx.cancel(coid)
    ctx.apply_update(upd(UpdateKind.REJECTED, coid, reason=3003))
    ctx.apply_update(upd(UpdateKind.REJECTED, coid, reason=3003))
    assert ctx.open_orders[coid].pending == []
    # A refusal of a request the context did not make (risk's kill switch) changes nothing.
    assert ctx.apply_update(upd(UpdateKind.REJECTED, coid, reason=2001)).state is OrderState.OPEN
    assert ctx.cancel(coid)


def test_a_risk_refusal_overtaking_the_ack_does_not_end_a_live_order():
    # Multi-process pipeline: the NEW goes to the venue, the MODIFY right after it is refused
    # by risk, and that refusal comes back before the venue's ACCEPTED.
    ctx = ctx_at()
    coid = ctx.buy(5, 100)
    ctx.modify(coid, price=1_000_000)
    order = ctx.apply_update(upd(UpdateKind.REJECTED, coid, reason=RiskReason.PRICE_COLLAR))
    assert (order.state, order.pending) == (OrderState.PENDING_NEW, [])
    assert ctx.apply_update(accepted(coid)).state is OrderState.OPEN
    assert ctx.open_orders[coid].price == 100


@pytest.mark.parametrize("unknown", [RiskReason.UNKNOWN_ORDER, 3001])
def test_a_refused_new_with_a_cancel_behind_it_ends_in_either_order(unknown):
    # Both requests are answered: the new one refused, the cancel refused (no such order).
    ctx = ctx_at()
    coid = ctx.buy(5, 100)
    ctx.cancel(coid)
    ctx.apply_update(upd(UpdateKind.REJECTED, coid, reason=RiskReason.MAX_POSITION))
    assert ctx.open_orders[coid].state is OrderState.PENDING_NEW
    order = ctx.apply_update(upd(UpdateKind.REJECTED, coid, reason=unknown))
    assert order.state is OrderState.REJECTED
    assert not ctx.open_orders
    ctx = ctx_at()
    coid = ctx.buy(5, 100)
    ctx.cancel(coid)
    order = ctx.apply_update(upd(UpdateKind.REJECTED, coid, reason=unknown))
    assert order.state is OrderState.REJECTED
    assert ctx.apply_update(upd(UpdateKind.REJECTED, coid, reason=2006)) is None


def test_a_new_that_never_reached_risk_ends_at_the_cancels_unknown_order():
    # A runtime dropped the new order's signal (a feedback-loop breaker): only the cancel's
    # "no such order" ever comes back.
    ctx = ctx_at()
    coid = ctx.buy(5, 100)
    ctx.cancel(coid)
    order = ctx.apply_update(upd(UpdateKind.REJECTED, coid, reason=RiskReason.UNKNOWN_ORDER))
    assert (order.state, order.pending) == (OrderState.REJECTED, [])
    assert not ctx.open_orders


def test_a_live_order_the_venue_no_longer_knows_is_cancelled_and_a_late_fill_still_counts():
    ctx = ctx_at()
    coid = ctx.buy(5, 100)
    ctx.apply_update(accepted(coid))
    ctx.modify(coid, price=101)
    order = ctx.apply_update(upd(UpdateKind.REJECTED, coid, reason=3001))
    assert order.state is OrderState.CANCELLED
    ctx.apply_update(filled(coid, 100, 5, 0))
    assert ctx.position == 5
    assert ctx.unmatched_updates == 1


def test_modified_and_reduced_updates_change_the_order():
    ctx = ctx_at()
    coid = ctx.buy(10, 100)
    ctx.apply_update(accepted(coid, qty=10))
    ctx.apply_update(filled(coid, 100, 4, 6))
    ctx.modify(coid, qty=3, price=99)
    order = ctx.apply_update(upd(UpdateKind.MODIFIED, coid, price=99, qty=3, leaves_qty=3))
    assert (order.price, order.qty, order.leaves_qty, order.state) == (
        99,
        7,
        3,
        OrderState.PARTIALLY_FILLED,
    )
    assert order.pending == []
    order = ctx.apply_update(
        upd(UpdateKind.CANCELLED, coid, leaves_qty=1, reason=CancelCause.SELF_TRADE)
    )
    assert (order.qty, order.leaves_qty, order.state) == (5, 1, OrderState.PARTIALLY_FILLED)
    order = ctx.apply_update(upd(UpdateKind.EXPIRED, coid, reason=CancelCause.EXPIRED))
    assert order.state is OrderState.EXPIRED
    assert order.leaves_qty == 0
    assert not ctx.open_orders


def test_an_ioc_that_fills_then_cancels():
    ctx = ctx_at()
    coid = ctx.buy(5, 100, TimeInForce.IOC)
    ctx.apply_update(accepted(coid))
    ctx.apply_update(filled(coid, 99, 2, 3))
    order = ctx.apply_update(upd(UpdateKind.CANCELLED, coid, reason=CancelCause.IOC_REMAINDER))
    assert order.state is OrderState.CANCELLED
    assert ctx.position == 2


@pytest.mark.parametrize(
    ("first", "second", "match"),
    [
        (UpdateKind.ACCEPTED, UpdateKind.ACCEPTED, "ACCEPTED update .* cannot follow state OPEN"),
        (None, UpdateKind.MODIFIED, "cannot follow state PENDING_NEW"),
    ],
)
def test_impossible_transitions_raise(first, second, match):
    ctx = ctx_at()
    coid = ctx.buy(5, 100)
    if first is not None:
        ctx.apply_update(upd(first, coid, leaves_qty=5))
    with pytest.raises(OrderStateError, match=match):
        ctx.apply_update(upd(second, coid, price=100, leaves_qty=5))


def test_updates_for_orders_not_open_are_counted_but_fills_still_count():
    ctx = ctx_at()
    assert ctx.apply_update(accepted(99)) is None
    assert ctx.apply_update(filled(99, 100, 3, 0, side=SELL)) is None
    assert ctx.unmatched_updates == 2
    assert ctx.position == -3
    with pytest.raises(OrderStateError, match="has no side"):
        ctx.apply_update(upd(UpdateKind.FILLED, 98, 0, fill_price=1, fill_qty=1))
    # A fill without a side takes the open order's side.
    coid = ctx.buy(1, 100)
    ctx.apply_update(accepted(coid, qty=1))
    ctx.apply_update(upd(UpdateKind.FILLED, coid, 0, fill_price=100, fill_qty=1))
    assert ctx.position == -2


def test_the_table_has_no_way_out_of_a_done_state():
    done = {OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED}
    for state, _trigger in TRANSITIONS:
        assert state not in done
    live = set(OrderState) - done
    for state in live:
        for trigger in (
            Trigger.FILL,
            Trigger.CANCELLED,
            Trigger.EXPIRED,
            Trigger.PARTIAL,
            Trigger.REFUSED,
            Trigger.REJECTED,
            Trigger.UNKNOWN,
        ):
            assert (state, trigger) in TRANSITIONS
    # A refused request never changes the state.
    assert all(TRANSITIONS[(state, Trigger.REFUSED)] is state for state in live)


# -- pnl -------------------------------------------------------------------------------


def test_pnl_marks_at_the_mid_exactly_or_the_side_there_is():
    ctx = ctx_at()
    coid = ctx.buy(2, 100)
    ctx.apply_update(filled(coid, 100, 2, 0, fee=1))
    assert ctx.pnl() == PnL(0, 0, 1, -1)  # no book: no mark
    ctx.book = BookView(7, 0, 101, 1, 104, 1)
    assert ctx.pnl() == PnL(0, 5, 1, 4)  # mid 102.5: 2 * 2.5
    ctx.book = BookView(7, 0, 101, 1, 102, 1)
    assert ctx.pnl().unrealised == 3  # 2 * 1.5
    ctx.book = BookView(7, 0, 0, 0, 107, 1)
    assert ctx.pnl().unrealised == 14
    assert ctx.pnl(mark=90) == PnL(0, -20, 1, -21)
    with pytest.raises(TypeError):
        ctx.pnl(mark=90.0)  # type: ignore[arg-type]


# -- timers ----------------------------------------------------------------------------


def test_timers_fire_in_time_then_set_order():
    ctx = ctx_at(now=0)
    ctx.set_timer(50, tag=1)
    ctx.set_timer(20, tag=2)
    ctx.set_timer(50, tag=3)
    ctx.after(20, tag=4)
    assert ctx.next_timer_ns() == 20
    assert ctx.due_timers(19) == []
    assert ctx.due_timers(20) == [2, 4]
    ctx.set_timer(10, tag=5)  # in the past: due at the next call
    assert ctx.due_timers(20) == [5]
    assert ctx.due_timers(100) == [1, 3]
    assert ctx.next_timer_ns() is None
    assert ctx.due_timers(1000) == []


def test_timers_set_while_handling_wait_for_the_next_call_and_can_be_dropped():
    ctx = ctx_at(now=10)
    ctx.after(0, tag=1)
    tags = ctx.due_timers(10)
    ctx.after(0, tag=2)  # set "inside" on_timer
    assert tags == [1]
    assert ctx.due_timers(10) == [2]
    ctx.after(5, tag=7)
    ctx.after(6, tag=8)
    ctx.after(7, tag=7)
    assert ctx.cancel_timers(7) == 2
    assert ctx.cancel_timers(7) == 0
    assert ctx.due_timers(100) == [8]
    with pytest.raises(ValueError, match=">= 0"):
        ctx.after(-1)
    with pytest.raises(TypeError):
        ctx.set_timer(1.5)  # type: ignore[arg-type]


def test_log_is_bounded_and_stamped():
    ctx = ctx_at(now=3)
    for i in range(1500):
        ctx.log(f"m{i}")
    assert len(ctx.logs) == 1000
    assert ctx.logs[-1] == (3, "m1499")


def test_constructor_refusals():
    with pytest.raises(TypeError, match="symbol_id"):
        Context("X", "7")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="strategy_id"):
        Context("X", 7, strategy_id=1 << 31)
    with pytest.raises(ValueError, match="account"):
        Context("X", 7, account=-1)
    with pytest.raises(ValueError, match="order_id_base"):
        Context("X", 7, order_id_base=-1)
