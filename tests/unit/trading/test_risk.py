"""Unit tests of the risk engine: every rule, its boundary (exactly at a limit passes), the
rate bucket's determinism, the kill switch, override resolution and config refusals."""

from __future__ import annotations

import json

import msgspec
import pytest

from whistle.core.enums import Side, TimeInForce
from whistle.core.limits import MAX_ORDER_ID, MAX_PRICE_TICKS, MAX_QTY_LOTS
from whistle.trading.messages import (
    MarketEvent,
    MarketKind,
    Order,
    OrderAction,
    OrderUpdate,
    RiskDecision,
    RiskReason,
    SignalEvent,
    SignalKind,
    UpdateKind,
)
from whistle.trading.risk import RiskConfig, RiskConfigError, RiskEngine, RiskLimits

SYM = 7
OTHER = 8
SYMBOLS = {SYM: "BOB", OTHER: "ALICE"}
ACCT = 1
SECOND = 1_000_000_000
R = RiskReason


class Desk:
    """A risk engine plus helpers that number client order ids and feed updates back."""

    def __init__(self, config: RiskConfig | None = None, **limits: int | bool) -> None:
        if config is None:
            limits.setdefault("self_cross_check", False)
            config = RiskConfig(default=RiskLimits(**limits))  # type: ignore[arg-type]
        self.risk = RiskEngine(config, SYMBOLS)
        self.next_id = 1_000  # explicit ids in the tests stay below
        self.now = 1_000

    def signal(self, kind, price=100, qty=1, coid=None, symbol=SYM, **extra) -> SignalEvent:
        if coid is None:
            self.next_id += 1
            coid = self.next_id
        return SignalEvent(kind, 1, symbol, coid, price, qty, ts_ns=self.now, **extra)

    def check(self, signal, account=ACCT, now=None) -> RiskDecision:
        return self.risk.check(signal, account, self.now if now is None else now)

    def buy(self, price=100, qty=1, **kw) -> RiskDecision:
        return self.check(self.signal(SignalKind.BUY, price, qty, **kw))

    def sell(self, price=100, qty=1, **kw) -> RiskDecision:
        return self.check(self.signal(SignalKind.SELL, price, qty, **kw))

    def update(self, kind, coid, symbol=SYM, **fields) -> list[Order]:
        return self.risk.on_update(OrderUpdate(kind, coid, symbol, **fields))

    def fill(self, coid, qty, leaves, price=100) -> list[Order]:
        return self.update(
            UpdateKind.FILLED, coid, fill_qty=qty, fill_price=price, leaves_qty=leaves
        )

    def book(self, bid, ask, symbol=SYM) -> None:
        n_bid, n_ask = int(bid > 0), int(ask > 0)
        self.risk.on_market(
            MarketEvent(
                MarketKind.BBO,
                symbol,
                self.now,
                n_bid=n_bid,
                n_ask=n_ask,
                bid_px=(bid, *([0] * 9)),
                bid_qty=(n_bid, *([0] * 9)),
                ask_px=(ask, *([0] * 9)),
                ask_qty=(n_ask, *([0] * 9)),
            )
        )

    def trade(self, price, symbol=SYM) -> None:
        self.risk.on_market(MarketEvent(MarketKind.TRADE, symbol, self.now, price=price, qty=1))


def ok(decision: RiskDecision) -> bool:
    assert isinstance(decision, RiskDecision)
    assert decision.approved == (decision.reason is R.NONE)
    return decision.approved


def reason(decision: RiskDecision) -> RiskReason:
    assert not decision.approved
    return decision.reason


# -- approval and the decision value ---------------------------------------------------------


def test_no_limits_approves_and_the_decision_carries_signal_and_time():
    desk = Desk()
    signal = desk.signal(SignalKind.BUY, 100, 5)
    decision = desk.risk.check(signal, ACCT, 12_345)
    assert decision == RiskDecision(signal, True, R.NONE, 12_345)
    assert desk.risk.open_orders(ACCT, SYM) == {signal.client_order_id: (Side.BUY, 100, 5)}
    assert desk.risk.open_notional(ACCT, SYM) == 500


def test_check_order_builds_the_gateway_order():
    desk = Desk()
    signal = desk.signal(SignalKind.SELL, 101, 4, tif=TimeInForce.IOC, post_only=True)
    decision, order = desk.risk.check_order(signal, 9, 50)
    assert decision.approved
    assert order == Order(
        OrderAction.NEW,
        signal.client_order_id,
        9,
        SYM,
        Side.SELL,
        101,
        4,
        TimeInForce.IOC,
        True,
        50,
    )
    modify = SignalEvent(SignalKind.MODIFY, 1, SYM, signal.client_order_id, 0, 2)
    assert desk.risk.check_order(modify, 9, 60)[1] == Order(
        OrderAction.MODIFY, signal.client_order_id, 9, SYM, Side.SELL, 0, 2, ts_ns=60
    )
    cancel = SignalEvent(SignalKind.CANCEL, 1, SYM, signal.client_order_id)
    assert desk.risk.check_order(cancel, 9, 70)[1] == Order(
        OrderAction.CANCEL, signal.client_order_id, 9, SYM, Side.SELL, ts_ns=70
    )
    refused, none = desk.risk.check_order(cancel, 10, 80)  # another account's order
    assert (refused.reason, none) == (R.UNKNOWN_ORDER, None)


# -- MALFORMED and UNKNOWN_ORDER ---------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"qty": 0},
        {"qty": -1},
        {"qty": MAX_QTY_LOTS + 1},
        {"qty": 1.0},
        {"qty": None},
        {"price": 0},
        {"price": -5},
        {"price": MAX_PRICE_TICKS + 1},
        {"price": 100.5},
        {"price": "100"},
        {"tif": 0},
        {"tif": 9},
        {"post_only": 1},
        {"client_order_id": 0},
        {"client_order_id": -1},
        {"client_order_id": MAX_ORDER_ID + 1},
        {"client_order_id": "7"},
        {"symbol_id": 99},
        {"symbol_id": None},
        {"kind": 0},
        {"kind": 5},
        {"kind": "BUY"},
    ],
)
def test_malformed_new_orders(fields):
    desk = Desk(max_order_qty=1)  # limits must not mask MALFORMED
    base = {
        "kind": SignalKind.BUY,
        "strategy_id": 1,
        "symbol_id": SYM,
        "client_order_id": 1,
        "price": 100,
        "qty": 1,
    }
    signal = SignalEvent(**{**base, **fields})
    assert reason(desk.check(signal)) is R.MALFORMED
    assert desk.risk.open_orders(ACCT, SYM) == {}


@pytest.mark.parametrize("account", [-1, 2**63, 1.0, None, "1"])
def test_malformed_account(account):
    desk = Desk()
    assert reason(desk.check(desk.signal(SignalKind.BUY), account=account)) is R.MALFORMED


def test_not_a_signal_is_malformed_not_an_exception():
    desk = Desk()
    for bad in (None, 42, "BUY", Order(OrderAction.NEW, 1, 1, SYM, Side.BUY, 100, 1)):
        decision = desk.risk.check(bad, ACCT, 5)  # type: ignore[arg-type]
        assert (decision.approved, decision.reason, decision.ts_ns) == (False, R.MALFORMED, 5)


def test_a_non_int_clock_does_not_raise():
    desk = Desk(max_order_rate=1)
    assert ok(desk.risk.check(desk.signal(SignalKind.BUY), ACCT, 10))
    decision = desk.risk.check(desk.signal(SignalKind.BUY), ACCT, None)  # type: ignore[arg-type]
    assert decision.ts_ns == 10  # the last good time is used
    assert decision.reason is R.ORDER_RATE


def test_duplicate_open_client_order_id_is_malformed_but_reuse_after_close_is_not():
    desk = Desk()
    assert ok(desk.buy(coid=5))
    assert reason(desk.sell(coid=5)) is R.MALFORMED
    assert ok(desk.buy(coid=5, symbol=OTHER))  # ids are per symbol
    desk.update(UpdateKind.CANCELLED, 5)
    assert ok(desk.buy(coid=5))


@pytest.mark.parametrize(
    ("price", "qty"), [(-1, 1), (1, -1), (0, 0), (1.5, 0), (0, None), (MAX_PRICE_TICKS + 1, 0)]
)
def test_malformed_modify(price, qty):
    desk = Desk()
    assert ok(desk.buy(coid=1))
    modify = desk.signal(SignalKind.MODIFY, price, qty, coid=1)
    assert reason(desk.check(modify)) is R.MALFORMED
    assert desk.risk.open_orders(ACCT, SYM) == {1: (Side.BUY, 100, 1)}


def test_unknown_order_on_cancel_and_modify():
    desk = Desk()
    assert reason(desk.check(desk.signal(SignalKind.CANCEL, coid=3))) is R.UNKNOWN_ORDER
    assert reason(desk.check(desk.signal(SignalKind.MODIFY, 0, 2, coid=3))) is R.UNKNOWN_ORDER
    assert ok(desk.buy(coid=3))
    # Another account cannot cancel or modify it; the same id on another symbol is another order.
    assert reason(desk.check(desk.signal(SignalKind.CANCEL, coid=3), account=2)) is R.UNKNOWN_ORDER
    assert reason(desk.check(desk.signal(SignalKind.MODIFY, 0, 2, coid=3), account=2)) is (
        R.UNKNOWN_ORDER
    )
    assert reason(desk.check(desk.signal(SignalKind.CANCEL, coid=3, symbol=OTHER))) is (
        R.UNKNOWN_ORDER
    )
    assert ok(desk.check(desk.signal(SignalKind.CANCEL, coid=3)))
    # A cancel approval does not close the order: the venue's CANCELLED does.
    assert ok(desk.check(desk.signal(SignalKind.CANCEL, coid=3)))
    desk.update(UpdateKind.CANCELLED, 3)
    assert reason(desk.check(desk.signal(SignalKind.CANCEL, coid=3))) is R.UNKNOWN_ORDER


# -- per-order limits ----------------------------------------------------------------------


def test_max_order_qty_boundary():
    desk = Desk(max_order_qty=10)
    assert ok(desk.buy(qty=10, coid=1))
    assert reason(desk.buy(qty=11)) is R.MAX_ORDER_QTY
    assert reason(desk.sell(qty=11)) is R.MAX_ORDER_QTY
    assert reason(desk.check(desk.signal(SignalKind.MODIFY, 0, 11, coid=1))) is R.MAX_ORDER_QTY
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 0, 9, coid=1)))


def test_max_order_notional_boundary():
    desk = Desk(max_order_notional=1_000)
    assert ok(desk.buy(price=100, qty=10, coid=1))
    assert reason(desk.buy(price=101, qty=10)) is R.MAX_ORDER_NOTIONAL
    assert reason(desk.sell(price=1_001, qty=1)) is R.MAX_ORDER_NOTIONAL
    # A modify is checked at its new price with the unchanged qty (0 = unchanged).
    assert reason(desk.check(desk.signal(SignalKind.MODIFY, 101, 0, coid=1))) is (
        R.MAX_ORDER_NOTIONAL
    )
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 50, 20, coid=1)))


# -- collar and reference prices -----------------------------------------------------------


def test_collar_without_reference_price():
    desk = Desk(collar_bps=100)
    assert reason(desk.buy()) is R.NO_REFERENCE_PRICE
    desk.book(bid=0, ask=100)  # one side only: no mid
    assert reason(desk.buy()) is R.NO_REFERENCE_PRICE
    assert desk.risk.reference_price_x2(SYM) == 0


def test_collar_around_mid_boundary_is_exact():
    desk = Desk(collar_bps=100)  # 1%
    desk.book(bid=999, ask=1_001)  # mid 1000
    assert ok(desk.buy(price=1_010))
    assert ok(desk.sell(price=990))
    assert reason(desk.buy(price=1_011)) is R.PRICE_COLLAR
    assert reason(desk.sell(price=989)) is R.PRICE_COLLAR
    # Half-tick mid: bid 1000 / ask 1001 -> mid 1000.5; 1% is 10.005, so 1010 passes and
    # 1011 (10.5 away) fails; 990 is 10.5 away and fails, 991 passes.
    desk.book(bid=1_000, ask=1_001)
    assert desk.risk.reference_price_x2(SYM) == 2_001
    assert ok(desk.buy(price=1_010))
    assert reason(desk.buy(price=1_011)) is R.PRICE_COLLAR
    assert reason(desk.sell(price=990)) is R.PRICE_COLLAR
    assert ok(desk.sell(price=991))


def test_collar_falls_back_to_last_trade_and_back_to_mid():
    desk = Desk(collar_bps=500)  # 5%
    desk.trade(200)
    assert desk.risk.reference_price_x2(SYM) == 400
    assert ok(desk.buy(price=210))
    assert reason(desk.buy(price=211)) is R.PRICE_COLLAR
    desk.book(bid=299, ask=301)
    assert reason(desk.buy(price=210)) is R.PRICE_COLLAR  # the mid wins over the last trade
    assert ok(desk.buy(price=315))
    desk.book(bid=299, ask=0)  # the book lost a side: back to the last trade
    assert ok(desk.buy(price=190))
    # Another symbol has its own reference.
    assert reason(desk.buy(price=200, symbol=OTHER)) is R.NO_REFERENCE_PRICE


def test_collar_checks_a_modify_at_its_new_price():
    desk = Desk(collar_bps=100)
    desk.book(bid=999, ask=1_001)
    assert ok(desk.buy(price=1_000, coid=1))
    assert reason(desk.check(desk.signal(SignalKind.MODIFY, 1_011, 0, coid=1))) is R.PRICE_COLLAR
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 0, 5, coid=1)))  # qty only: price 1000


def test_collar_off_needs_no_reference():
    assert ok(Desk().buy(price=10**9))


# -- self-cross ----------------------------------------------------------------------------


def test_self_cross_boundary_and_per_account():
    desk = Desk(RiskConfig())  # the default turns self_cross_check on
    assert ok(desk.sell(price=105, coid=1))
    assert ok(desk.sell(price=103, coid=2))
    assert ok(desk.buy(price=102))
    assert reason(desk.buy(price=103)) is R.SELF_CROSS  # at its own best ask
    assert reason(desk.buy(price=200)) is R.SELF_CROSS
    assert ok(desk.check(desk.signal(SignalKind.BUY, 103), account=2))  # another account
    assert ok(desk.buy(price=103, symbol=OTHER))  # another symbol
    # Sells at or below the account's own best bid (102) cross.
    assert reason(desk.sell(price=102)) is R.SELF_CROSS
    assert ok(desk.sell(price=104))
    # When the ask at 103 goes, 103 is free to buy (best ask now 104).
    desk.update(UpdateKind.CANCELLED, 2)
    assert ok(desk.buy(price=103))
    assert reason(desk.buy(price=104)) is R.SELF_CROSS


def test_self_cross_on_modify():
    desk = Desk(RiskConfig())
    assert ok(desk.sell(price=105, coid=1))
    assert ok(desk.buy(price=100, coid=2))
    assert reason(desk.check(desk.signal(SignalKind.MODIFY, 105, 0, coid=2))) is R.SELF_CROSS
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 104, 0, coid=2)))
    assert reason(desk.check(desk.signal(SignalKind.MODIFY, 104, 0, coid=1))) is R.SELF_CROSS


def test_self_cross_off():
    desk = Desk(self_cross_check=False)
    assert ok(desk.sell(price=100))
    assert ok(desk.buy(price=100))


# -- open orders and open notional ---------------------------------------------------------


def test_max_open_orders_boundary_and_release():
    desk = Desk(max_open_orders=2)
    assert ok(desk.buy(coid=1))
    assert ok(desk.sell(price=101, coid=2))
    assert reason(desk.buy()) is R.MAX_OPEN_ORDERS
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 0, 3, coid=1)))  # modify opens nothing
    assert ok(desk.buy(symbol=OTHER))  # per symbol
    desk.fill(1, 3, leaves=0)
    assert ok(desk.buy())


def test_max_open_notional_boundary_new_and_modify():
    desk = Desk(max_open_notional=1_000)
    assert ok(desk.buy(price=100, qty=4, coid=1))
    assert ok(desk.sell(price=120, qty=5, coid=2))  # 400 + 600 = 1000: at the limit
    assert reason(desk.buy(price=1, qty=1)) is R.MAX_OPEN_NOTIONAL
    # A modify counts with its new values in place of its old ones.
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 50, 8, coid=1)))  # 400 -> 400
    assert reason(desk.check(desk.signal(SignalKind.MODIFY, 51, 0, coid=1))) is (
        R.MAX_OPEN_NOTIONAL
    )
    desk.fill(2, 2, leaves=3, price=120)
    assert desk.risk.open_notional(ACCT, SYM) == 400 + 360
    assert ok(desk.buy(price=240, qty=1))


# -- position ------------------------------------------------------------------------------


def test_max_position_counts_every_open_order_on_the_side():
    desk = Desk(max_position=10)
    assert ok(desk.buy(qty=6, coid=1))
    assert ok(desk.buy(qty=4, coid=2))  # 0 + 6 + 4 = 10: at the limit
    assert reason(desk.buy(qty=1)) is R.MAX_POSITION
    assert ok(desk.sell(price=101, qty=10, coid=3))  # the sell side is separate: 0 - 10
    assert reason(desk.sell(price=101, qty=1)) is R.MAX_POSITION
    desk.fill(1, 6, leaves=0)  # long 6; open buys 4 -> worst 10
    assert desk.risk.position(ACCT, SYM) == 6
    assert reason(desk.buy(qty=1)) is R.MAX_POSITION
    assert ok(desk.sell(price=101, qty=6))  # 6 - 10 - 6 = -10
    assert reason(desk.sell(price=101, qty=1)) is R.MAX_POSITION


def test_max_position_modify_replaces_the_old_qty():
    desk = Desk(max_position=10)
    assert ok(desk.buy(qty=8, coid=1))
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 0, 10, coid=1)))
    assert reason(desk.check(desk.signal(SignalKind.MODIFY, 0, 11, coid=1))) is R.MAX_POSITION
    assert ok(desk.sell(qty=10, price=101, coid=2))
    assert reason(desk.check(desk.signal(SignalKind.MODIFY, 0, 11, coid=2))) is R.MAX_POSITION


def test_position_breach_from_fills_trips_the_kill_switch():
    desk = Desk(max_position=5)
    assert ok(desk.buy(qty=5, coid=1))
    assert ok(desk.buy(price=99, qty=1, symbol=OTHER, coid=2))
    # The venue over-fills (or fills an order risk saw modified down): a breach.
    cancels = desk.fill(1, 6, leaves=0)
    assert desk.risk.killed
    assert "position breach" in desk.risk.kill_cause
    assert cancels == [Order(OrderAction.CANCEL, 2, ACCT, OTHER, Side.BUY, ts_ns=desk.now)]
    assert reason(desk.buy(symbol=OTHER)) is R.KILL_SWITCH


# -- order rate ----------------------------------------------------------------------------


def test_rate_bucket_burst_then_exact_refill():
    desk = Desk(max_order_rate=10, order_burst=3)  # one token per 100 ms
    t = 5 * SECOND
    for _ in range(3):
        assert ok(desk.risk.check(desk.signal(SignalKind.BUY), ACCT, t))
    assert reason(desk.risk.check(desk.signal(SignalKind.BUY), ACCT, t)) is R.ORDER_RATE
    assert reason(desk.risk.check(desk.signal(SignalKind.BUY), ACCT, t + 99_999_999)) is (
        R.ORDER_RATE
    )
    assert ok(desk.risk.check(desk.signal(SignalKind.BUY), ACCT, t + 100_000_000))
    assert reason(desk.risk.check(desk.signal(SignalKind.BUY), ACCT, t + 100_000_000)) is (
        R.ORDER_RATE
    )
    # A long idle refills to the burst, never beyond it.
    t += 100 * SECOND
    assert [ok(desk.risk.check(desk.signal(SignalKind.BUY), ACCT, t)) for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]


def test_rate_burst_defaults_to_one_second_and_counts_modifies_not_cancels():
    desk = Desk(max_order_rate=2)
    t = SECOND
    assert ok(desk.risk.check(desk.signal(SignalKind.BUY, coid=1), ACCT, t))
    assert ok(desk.risk.check(desk.signal(SignalKind.MODIFY, 0, 5, coid=1), ACCT, t))
    assert reason(desk.risk.check(desk.signal(SignalKind.MODIFY, 0, 4, coid=1), ACCT, t)) is (
        R.ORDER_RATE
    )
    assert ok(desk.risk.check(desk.signal(SignalKind.CANCEL, coid=1), ACCT, t))
    assert ok(desk.risk.check(desk.signal(SignalKind.CANCEL, coid=1), ACCT, t))
    # Per pair: another account and another symbol have their own buckets.
    assert ok(desk.risk.check(desk.signal(SignalKind.BUY), 2, t))
    assert ok(desk.risk.check(desk.signal(SignalKind.BUY, symbol=OTHER), ACCT, t))


def test_rate_refusals_for_other_reasons_cost_no_token():
    desk = Desk(max_order_rate=1, max_order_qty=5)
    for _ in range(10):
        assert reason(desk.buy(qty=6)) is R.MAX_ORDER_QTY
    assert ok(desk.buy(qty=5))
    assert reason(desk.buy(qty=5)) is R.ORDER_RATE


def test_rate_clock_going_back_refills_nothing():
    desk = Desk(max_order_rate=1, order_burst=1)
    assert ok(desk.risk.check(desk.signal(SignalKind.BUY), ACCT, 10 * SECOND))
    assert reason(desk.risk.check(desk.signal(SignalKind.BUY), ACCT, 5 * SECOND)) is R.ORDER_RATE
    # The refill is measured from the latest time seen, not from the earlier one.
    assert reason(desk.risk.check(desk.signal(SignalKind.BUY), ACCT, 11 * SECOND - 1)) is (
        R.ORDER_RATE
    )
    assert ok(desk.risk.check(desk.signal(SignalKind.BUY), ACCT, 11 * SECOND))


def test_rate_bucket_is_deterministic_for_a_time_sequence():
    times = [0, 1, 3, 7, 250_000_000, 250_000_001, 900_000_000, 1_000_000_000, 3_333_333_333]
    times += [3_333_333_333 + 123_456_789 * i for i in range(40)]

    def run() -> list[RiskReason]:
        desk = Desk(max_order_rate=3, order_burst=2)
        return [desk.risk.check(desk.signal(SignalKind.SELL), ACCT, t).reason for t in times]

    first = run()
    assert first == run()
    assert R.ORDER_RATE in first
    assert R.NONE in first


# -- kill switch -----------------------------------------------------------------------------


def test_kill_cancels_everything_refuses_new_allows_cancels_until_reset():
    desk = Desk()
    assert ok(desk.buy(coid=1))
    assert ok(desk.sell(price=101, coid=2))
    assert ok(desk.check(desk.signal(SignalKind.BUY, coid=1, symbol=OTHER), account=2))
    desk.now = 77
    desk.buy(coid=50)  # moves the engine's clock to 77
    cancels = desk.risk.kill("operator")
    assert desk.risk.killed
    assert desk.risk.kill_cause == "operator"
    assert cancels == [
        Order(OrderAction.CANCEL, 1, ACCT, SYM, Side.BUY, ts_ns=77),
        Order(OrderAction.CANCEL, 2, ACCT, SYM, Side.SELL, ts_ns=77),
        Order(OrderAction.CANCEL, 1, 2, OTHER, Side.BUY, ts_ns=77),
        Order(OrderAction.CANCEL, 50, ACCT, SYM, Side.BUY, ts_ns=77),
    ]
    assert reason(desk.buy()) is R.KILL_SWITCH
    assert reason(desk.sell()) is R.KILL_SWITCH
    assert reason(desk.check(desk.signal(SignalKind.MODIFY, 0, 3, coid=1))) is R.KILL_SWITCH
    assert ok(desk.check(desk.signal(SignalKind.CANCEL, coid=1)))
    # MALFORMED and UNKNOWN_ORDER still say what is wrong.
    assert reason(desk.buy(qty=0)) is R.MALFORMED
    assert reason(desk.check(desk.signal(SignalKind.CANCEL, coid=999))) is R.UNKNOWN_ORDER
    # A second kill keeps the first cause and lists what is still open.
    desk.update(UpdateKind.CANCELLED, 1)
    again = desk.risk.kill("second")
    assert desk.risk.kill_cause == "operator"
    assert [o.client_order_id for o in again] == [2, 1, 50]
    desk.risk.reset()
    assert not desk.risk.killed
    assert desk.risk.kill_cause == ""
    assert ok(desk.buy())


def test_disconnect_market_event_trips_the_kill_switch():
    desk = Desk()
    assert ok(desk.buy(coid=1))
    cancels = desk.risk.on_market(MarketEvent(MarketKind.DISCONNECT, SYM, 555))
    assert [o.action for o in cancels] == [OrderAction.CANCEL]
    assert desk.risk.killed
    assert "disconnect" in desk.risk.kill_cause
    assert "BOB" in desk.risk.kill_cause
    assert reason(desk.buy()) is R.KILL_SWITCH
    assert desk.risk.on_market(MarketEvent(MarketKind.END, SYM, 556)) == []
    assert desk.risk.on_market(MarketEvent(MarketKind.STATUS, SYM, 557, qty=2)) == []


def test_empty_kill_returns_no_cancels():
    desk = Desk()
    assert desk.risk.kill("nothing open") == []
    assert desk.risk.killed


# -- order life cycle as risk tracks it ------------------------------------------------------


def test_rejected_new_order_is_forgotten_rejected_modify_is_undone():
    desk = Desk(max_open_notional=1_000)
    assert ok(desk.buy(price=100, qty=5, coid=1))
    desk.update(UpdateKind.REJECTED, 1, reason=1004)
    assert desk.risk.open_orders(ACCT, SYM) == {}
    assert desk.risk.open_notional(ACCT, SYM) == 0
    assert ok(desk.buy(price=100, qty=5, coid=2))
    desk.update(UpdateKind.ACCEPTED, 2)
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 200, 5, coid=2)))
    assert desk.risk.open_notional(ACCT, SYM) == 1_000
    desk.update(UpdateKind.REJECTED, 2, reason=3003)
    assert desk.risk.open_orders(ACCT, SYM) == {2: (Side.BUY, 100, 5)}
    # A refused cancel leaves the order open.
    desk.update(UpdateKind.REJECTED, 2, reason=3001)
    assert desk.risk.open_orders(ACCT, SYM) == {2: (Side.BUY, 100, 5)}


def test_modified_update_sets_price_and_leaves():
    desk = Desk()
    assert ok(desk.buy(price=100, qty=5, coid=1))
    desk.update(UpdateKind.ACCEPTED, 1)
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 101, 3, coid=1)))
    desk.update(UpdateKind.MODIFIED, 1, price=101, leaves_qty=3)
    desk.update(UpdateKind.REJECTED, 1)  # nothing to undo any more
    assert desk.risk.open_orders(ACCT, SYM) == {1: (Side.BUY, 101, 3)}


def test_fill_during_a_modify_in_flight():
    desk = Desk()
    assert ok(desk.buy(price=100, qty=5, coid=1))
    desk.update(UpdateKind.ACCEPTED, 1)
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 99, 0, coid=1)))
    desk.fill(1, 2, leaves=3)
    desk.update(UpdateKind.REJECTED, 1)  # the modify was refused: back to 100, 3 left
    assert desk.risk.open_orders(ACCT, SYM) == {1: (Side.BUY, 100, 3)}
    assert desk.risk.position(ACCT, SYM) == 2


def test_partial_cancel_expiry_and_unknown_updates():
    desk = Desk()
    assert ok(desk.sell(price=100, qty=5, coid=1))
    assert ok(desk.sell(price=100, qty=5, coid=2))
    desk.update(UpdateKind.CANCELLED, 1, leaves_qty=2)  # reduced, not gone
    assert desk.risk.open_orders(ACCT, SYM)[1] == (Side.SELL, 100, 2)
    desk.update(UpdateKind.EXPIRED, 2)
    desk.fill(1, 2, leaves=0)
    assert desk.risk.open_orders(ACCT, SYM) == {}
    assert desk.risk.position(ACCT, SYM) == -2
    assert desk.risk.open_notional(ACCT, SYM) == 0
    # Updates for orders risk does not know change nothing.
    assert desk.fill(99, 5, leaves=0) == []
    assert desk.update(UpdateKind.CANCELLED, 1) == []
    assert desk.risk.position(ACCT, SYM) == -2


# -- override resolution -------------------------------------------------------------------


def test_effective_limits_are_the_most_restrictive_non_zero():
    config = RiskConfig(
        default=RiskLimits(
            max_position=100, max_order_qty=10, collar_bps=0, self_cross_check=False
        ),
        per_symbol={"BOB": RiskLimits(max_position=50, max_order_qty=20, collar_bps=300)},
        per_account={2: RiskLimits(max_position=70, max_open_orders=4, collar_bps=200)},
    )
    assert config.effective("BOB", 1) == RiskLimits(
        max_position=50, max_order_qty=10, collar_bps=300, self_cross_check=True
    )
    assert config.effective("BOB", 2) == RiskLimits(
        max_position=50, max_order_qty=10, max_open_orders=4, collar_bps=200
    )
    assert config.effective("ALICE", 2) == RiskLimits(
        max_position=70, max_order_qty=10, max_open_orders=4, collar_bps=200
    )
    assert config.effective("ALICE", 1) == config.default
    assert config.effective(None, 3) == config.default


def test_overrides_resolve_per_symbol_and_account_in_the_engine():
    config = RiskConfig(
        default=RiskLimits(max_order_qty=10, self_cross_check=False),
        per_symbol={"ALICE": RiskLimits(max_order_qty=5, self_cross_check=False)},
        per_account={2: RiskLimits(max_order_qty=3, self_cross_check=False)},
    )
    desk = Desk(config)
    assert ok(desk.buy(qty=10))
    assert reason(desk.buy(qty=6, symbol=OTHER)) is R.MAX_ORDER_QTY
    assert ok(desk.buy(qty=5, symbol=OTHER))
    assert reason(desk.check(desk.signal(SignalKind.BUY, qty=4), account=2)) is R.MAX_ORDER_QTY
    assert ok(desk.check(desk.signal(SignalKind.BUY, qty=3, symbol=OTHER), account=2))
    assert desk.risk.limits(2, OTHER).max_order_qty == 3
    assert desk.risk.limits(1, SYM).max_order_qty == 10


# -- config loading ------------------------------------------------------------------------


def test_config_from_toml_and_json_files(tmp_path):
    toml = tmp_path / "risk.toml"
    toml.write_text(
        """
[default]
max_position = 100
max_order_rate = 50
order_burst = 10
collar_bps = 250

[per_symbol.BOB]
max_order_qty = 5
self_cross_check = false

[per_account.7]
max_open_orders = 3
"""
    )
    config = RiskConfig.load(toml)
    assert config.default.max_position == 100
    assert config.per_symbol["BOB"] == RiskLimits(max_order_qty=5, self_cross_check=False)
    assert config.per_account == {7: RiskLimits(max_open_orders=3)}
    path = tmp_path / "risk.json"
    path.write_text(json.dumps(msgspec.to_builtins(config)))
    assert RiskConfig.load(path) == config
    assert RiskConfig.from_dict({}) == RiskConfig()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"default": {"max_postion": 1}}, r"unknown field `max_postion` - at `\$.default`"),
        ({"defaults": {}}, r"unknown field `defaults`"),
        ({"default": {"max_position": -1}}, r"Expected `int` >= 0 - at `\$.default.max_position`"),
        ({"per_symbol": {"BOB": {"collar_bps": -5}}}, r"at `\$.per_symbol\[...\].collar_bps`"),
        (
            {"per_account": {"3": {"max_open_orders": -2}}},
            r"`\$.per_account\[...\].max_open_orders`",
        ),
        (
            {"default": {"max_order_qty": 1.5}},
            r"Expected `int`, got `float` - at `\$.default.max_order_qty`",
        ),
        ({"default": {"max_order_qty": "10"}}, r"Expected `int`, got `str`"),
        ({"default": {"max_order_qty": True}}, r"Expected `int`, got `bool`"),
        ({"default": {"self_cross_check": 1}}, r"Expected `bool`, got `int`"),
        ({"per_account": {"one": {}}}, r"per_account key 'one' is not an account number"),
        ({"per_account": {"-1": {}}}, r"per_account key '-1' is not an account number"),
        ({"default": 5}, r"Expected `object`, got `int` - at `\$.default`"),
    ],
)
def test_bad_config_is_refused_naming_the_key(data, expected):
    with pytest.raises(RiskConfigError, match=expected):
        RiskConfig.from_dict(data, source="risk.toml")
    with pytest.raises(RiskConfigError, match=r"^risk\.toml: "):
        RiskConfig.from_dict(data, source="risk.toml")


def test_bad_config_files(tmp_path):
    with pytest.raises(RiskConfigError, match="cannot read risk config"):
        RiskConfig.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[default\n")
    with pytest.raises(RiskConfigError, match=r"bad.toml: not valid TOML"):
        RiskConfig.load(bad)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{")
    with pytest.raises(RiskConfigError, match=r"bad.json: not valid JSON"):
        RiskConfig.load(bad_json)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[default]\nmax_position = -3\n")
    with pytest.raises(
        RiskConfigError, match=r"wrong.toml: Expected `int` >= 0 - at `\$.default.max_position`"
    ):
        RiskConfig.load(wrong)
    with pytest.raises(RiskConfigError, match="expected a table"):
        RiskConfig.from_dict([1, 2])  # type: ignore[arg-type]


def test_direct_construction_refuses_negative_limits():
    with pytest.raises(
        RiskConfigError, match=r"RiskLimits.max_open_notional must be an int >= 0, was -1"
    ):
        RiskLimits(max_open_notional=-1)
    with pytest.raises(RiskConfigError, match="self_cross_check must be a bool"):
        RiskLimits(self_cross_check=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a RiskConfig"):
        RiskEngine({"default": {}}, SYMBOLS)  # type: ignore[arg-type]


def test_plain_int_kinds_and_sides_work_like_the_enums():
    desk = Desk()
    buy = SignalEvent(1, 1, SYM, 1, 100, 2)  # type: ignore[arg-type]
    decision, order = desk.risk.check_order(buy, ACCT, 5)
    assert decision.approved
    assert order is not None
    assert order.side is Side.BUY
    assert order.action is OrderAction.NEW
    cancel = SignalEvent(3, 1, SYM, 1)  # type: ignore[arg-type]
    assert desk.risk.check_order(cancel, ACCT, 6)[1] == Order(
        OrderAction.CANCEL, 1, ACCT, SYM, Side.BUY, ts_ns=6
    )
    # An update whose kind is a plain int is applied too.
    desk.risk.on_update(OrderUpdate(3, 1, SYM))  # type: ignore[arg-type]
    assert desk.risk.open_orders(ACCT, SYM) == {}


def test_a_partial_fill_proves_acceptance_without_an_ack():
    desk = Desk()
    assert ok(desk.buy(price=100, qty=5, coid=1))
    desk.fill(1, 1, leaves=4)  # no ACCEPTED first
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 101, 0, coid=1)))
    desk.update(UpdateKind.REJECTED, 1)  # the modify was refused, the order lives
    assert desk.risk.open_orders(ACCT, SYM) == {1: (Side.BUY, 100, 4)}
    assert ok(desk.buy(price=100, qty=5, coid=2))
    desk.update(UpdateKind.CANCELLED, 2, leaves_qty=3)  # a reduction: accepted too
    desk.update(UpdateKind.REJECTED, 2)
    assert desk.risk.open_orders(ACCT, SYM)[2] == (Side.BUY, 100, 3)


def test_the_echo_of_risks_own_refusals_changes_nothing():
    # A backtest hands every update to risk, its own refusals included (as REJECTED updates).
    desk = Desk(RiskConfig())  # self-cross on
    assert ok(desk.sell(price=101, qty=2, coid=1))  # pending: no ACCEPTED yet
    assert ok(desk.buy(price=99, qty=2, coid=2))
    desk.update(UpdateKind.ACCEPTED, 2)
    assert ok(desk.check(desk.signal(SignalKind.MODIFY, 98, 0, coid=2)))  # in flight
    refusals = [
        desk.check(desk.signal(SignalKind.MODIFY, 101, 0, coid=2)),  # crosses its own ask
        desk.check(desk.signal(SignalKind.MODIFY, 98, 0, coid=1)),  # the ask crosses the bid
        desk.sell(price=105, coid=1),  # a duplicate id of the pending ask
        desk.check(desk.signal(SignalKind.CANCEL, coid=1), account=2),  # someone else's order
    ]
    assert [d.reason for d in refusals] == [
        R.SELF_CROSS,
        R.SELF_CROSS,
        R.MALFORMED,
        R.UNKNOWN_ORDER,
    ]
    before = desk.risk.open_orders(ACCT, SYM)
    for d in refusals:
        desk.update(UpdateKind.REJECTED, d.signal.client_order_id, reason=int(d.reason))
    assert (
        desk.risk.open_orders(ACCT, SYM)
        == before
        == {
            1: (Side.SELL, 101, 2),
            2: (Side.BUY, 98, 2),
        }
    )
    # The venue's own refusals still count: the in-flight modify of 2 is undone, the
    # unacknowledged ask 1 is forgotten.
    desk.update(UpdateKind.REJECTED, 2, reason=3003)
    desk.update(UpdateKind.REJECTED, 1, reason=2001)  # the venue's TRADING_HALTED
    assert desk.risk.open_orders(ACCT, SYM) == {2: (Side.BUY, 99, 2)}


def test_unechoed_refusals_are_bounded_per_order():
    desk = Desk(max_order_qty=5)
    assert ok(desk.buy(qty=1, coid=1))
    for _ in range(1_000):  # a runtime that never echoes refusals back
        assert reason(desk.check(desk.signal(SignalKind.MODIFY, 0, 6, coid=1))) is R.MAX_ORDER_QTY
    order = desk.risk._orders[1 << 32 | SYM]
    assert order.refused is not None
    assert len(order.refused) == 16
