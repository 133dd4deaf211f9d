"""R1 adversarial: risk rules at their exact boundaries, the token bucket's integer refill
under uneven clocks, kill-switch semantics, and hostile signals that must be values."""

from __future__ import annotations

from typing import Any

from whistle.trading.messages import (
    MarketEvent,
    MarketKind,
    OrderAction,
    OrderUpdate,
    RiskReason,
    SignalEvent,
    SignalKind,
    UpdateKind,
)
from whistle.trading.risk import RiskConfig, RiskEngine, RiskLimits

S = 1_000_000_000
SYM = 7
R = RiskReason


class Desk:
    def __init__(self, **limits: Any) -> None:
        limits.setdefault("self_cross_check", False)
        self.risk = RiskEngine(RiskConfig(default=RiskLimits(**limits)), {SYM: "BOB"})
        self.n = 100

    def sig(self, kind: SignalKind, price: int = 100, qty: int = 1, coid: int = 0) -> SignalEvent:
        if not coid:
            self.n += 1
            coid = self.n
        return SignalEvent(kind, 1, SYM, coid, price, qty, ts_ns=0)

    def check(self, s: Any, now: Any = 0) -> RiskReason:
        return RiskReason(self.risk.check(s, 1, now).reason)

    def buy(self, now: int = 0, **kw: Any) -> RiskReason:
        return self.check(self.sig(SignalKind.BUY, **kw), now)


def test_token_bucket_keeps_fractions_across_refused_checks() -> None:
    d = Desk(max_order_rate=1, order_burst=1)
    assert d.buy(0) == R.NONE
    assert d.buy(int(0.6 * S)) == R.ORDER_RATE  # 0.6 of a token: refused, fraction kept
    assert d.buy(int(1.2 * S)) == R.NONE
    # every ms for 2 s more: exactly 2 tokens
    ok = sum(d.buy(int(1.2 * S) + i * 1_000_000) == R.NONE for i in range(1, 2001))
    assert ok == 2


def test_token_bucket_exact_at_a_third_of_a_second() -> None:
    d = Desk(max_order_rate=3, order_burst=1)
    got = [d.buy(t) for t in (0, 333_333_333, 333_333_334)]
    assert got == [R.NONE, R.ORDER_RATE, R.NONE]


def test_modify_over_max_order_qty_is_refused() -> None:
    d = Desk(max_order_qty=10)
    assert d.buy(coid=5, qty=10) == R.NONE  # exactly at the limit
    d.risk.on_update(OrderUpdate(UpdateKind.ACCEPTED, 5, SYM, 1, 100, 10, leaves_qty=10))
    assert d.check(SignalEvent(SignalKind.MODIFY, 1, SYM, 5, 0, 11, ts_ns=0)) == R.MAX_ORDER_QTY
    assert d.check(SignalEvent(SignalKind.MODIFY, 1, SYM, 5, 0, 10 - 1, ts_ns=0)) == R.NONE


def test_kill_cancels_even_unacknowledged_orders_then_refuses_until_reset() -> None:
    d = Desk()
    assert d.buy(coid=6) == R.NONE  # approved, never acknowledged
    cancels = d.risk.kill("test")
    assert [(o.action, o.client_order_id) for o in cancels] == [(OrderAction.CANCEL, 6)]
    assert d.risk.killed
    assert d.check(SignalEvent(SignalKind.MODIFY, 1, SYM, 6, 101, 0, ts_ns=0)) == R.KILL_SWITCH
    assert d.check(SignalEvent(SignalKind.CANCEL, 1, SYM, 6, 0, 0, ts_ns=0)) == R.NONE
    assert d.buy() == R.KILL_SWITCH
    d.risk.reset()
    assert not d.risk.killed
    assert d.buy() == R.NONE


def test_fill_exactly_at_max_position_does_not_trip_one_over_is_refused() -> None:
    d = Desk(max_position=10)
    assert d.buy(coid=7, qty=10) == R.NONE
    d.risk.on_update(OrderUpdate(UpdateKind.ACCEPTED, 7, SYM, 1, 100, 10, leaves_qty=10))
    fill = OrderUpdate(
        UpdateKind.FILLED, 7, SYM, 1, 100, 10, leaves_qty=0, fill_price=100, fill_qty=10
    )
    assert d.risk.on_update(fill) == []
    assert not d.risk.killed
    assert d.buy(qty=1) == R.MAX_POSITION
    assert d.check(d.sig(SignalKind.SELL, qty=20)) == R.NONE  # to -10: at the limit
    assert d.check(d.sig(SignalKind.SELL, qty=1)) == R.MAX_POSITION  # -11 counting open


def test_collar_on_an_odd_mid_is_exact() -> None:
    d = Desk(collar_bps=100)
    z = (0,) * 9
    d.risk.on_market(
        MarketEvent(
            MarketKind.BBO,
            SYM,
            0,
            n_bid=1,
            n_ask=1,
            bid_px=(100, *z),
            bid_qty=(1, *z),
            ask_px=(101, *z),
            ask_qty=(1, *z),
        )
    )
    # mid 100.5, 1 %: |p - 100.5| <= 1.005
    assert [d.buy(price=p) for p in (99, 100, 101, 102)] == [
        R.PRICE_COLLAR,
        R.NONE,
        R.NONE,
        R.PRICE_COLLAR,
    ]


def test_hostile_signals_are_malformed_values() -> None:
    d = Desk()
    for price, qty in ((100.0, 1), (100, True), (100, 2**70), (-1, 1), (100, 0)):
        assert d.check(SignalEvent(SignalKind.BUY, 1, SYM, 999, price, qty, ts_ns=0)) == (
            R.MALFORMED
        )
    assert d.check("garbage") == R.MALFORMED
    assert d.check(SignalEvent(99, 1, SYM, 998, 100, 1, ts_ns=0)) == R.MALFORMED  # type: ignore[arg-type]
    assert d.check(SignalEvent(SignalKind.BUY, 1, 12345, 997, 100, 1, ts_ns=0)) == R.MALFORMED
