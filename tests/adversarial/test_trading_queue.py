"""R1 adversarial: exact queue position on MBO data, end to end through run_backtest.

Each test scripts recorded MBO events at explicit exchange times and a strategy acting at
explicit strategy-clock times (feed latency 0 unless said, risk_ns 0), and asserts the exact
exchange time and quantity of each fill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adversarial._bt import BUY, SELL, Script, Tape, fills, run
from whistle.core.enums import Liquidity
from whistle.core.mbo import PRIORITY_KEEP, PRIORITY_KEEP_ON_DECREASE, PRIORITY_LOSE, TRADE_HIDDEN
from whistle.trading.backtest import LatencyConfig
from whistle.trading.messages import UpdateKind

if TYPE_CHECKING:
    import pytest

    from whistle.trading.context import Context

M = int(Liquidity.MAKER)
T = int(Liquidity.TAKER)
ZERO = LatencyConfig(risk_ns=0)


def base(t: Tape) -> Tape:
    """Bids at 100: 1 (300), 2 (200), 3 (500); an ask at 105."""
    return (
        t.add(10, 1, BUY, 100, 300)
        .add(20, 2, BUY, 100, 200)
        .add(30, 3, BUY, 100, 500)
        .add(40, 90, SELL, 105, 1000)
    )


def buy(qty: int, price: int = 100) -> object:
    return lambda ctx: ctx.buy(qty, price)


def test_fills_exactly_when_n_ahead_executed(monkeypatch: pytest.MonkeyPatch) -> None:
    t = base(Tape())
    t.add(200, 4, BUY, 100, 400)  # behind us
    t.execute(300, 1, 300).execute(310, 2, 199).execute(320, 2, 1).execute(330, 3, 500)
    t.execute(400, 4, 30).execute(410, 4, 370)
    r = run(monkeypatch, t, Script({100: buy(100)}), latency=ZERO)
    assert fills(r) == [(400, 100, 30, M), (410, 100, 70, M)]


def test_order_arriving_at_the_ns_of_a_recorded_add_is_behind_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Sent at 90 with entry 10: arrives at 100, the ns the recorded order 5 is added.
    t = base(Tape()).add(100, 5, BUY, 100, 50)
    t.execute(200, 1, 300).execute(201, 2, 200).execute(202, 3, 500)
    t.execute(300, 5, 50)  # order 5 was ahead of us: no fill
    t.add(301, 6, BUY, 100, 10).execute(302, 6, 10)  # behind us: we fill 10
    r = run(monkeypatch, t, Script({90: buy(20)}), latency=LatencyConfig(risk_ns=0, entry_ns=10))
    assert fills(r) == [(302, 100, 10, M)]


def test_order_arriving_at_the_ns_of_an_execution_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    t = base(Tape()).execute(100, 1, 300)  # executes first: 700 ahead when we arrive
    t.execute(200, 2, 200).execute(201, 3, 499)
    t.add(300, 7, BUY, 100, 10).execute(301, 7, 5)  # 1 lot of 3 ahead, then us: 4
    r = run(monkeypatch, t, Script({90: buy(20)}), latency=LatencyConfig(risk_ns=0, entry_ns=10))
    assert fills(r) == [(301, 100, 4, M)]


def test_priority_keep_increase_ahead_grows_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    t = base(Tape()).modify(200, 1, 100, 400, PRIORITY_KEEP)  # +100 ahead of us, keeps place
    t.execute(300, 1, 400).execute(301, 2, 200).execute(302, 3, 499)
    t.add(400, 8, BUY, 100, 10).execute(401, 8, 10)  # 1 ahead, then 9 for us
    r = run(monkeypatch, t, Script({100: buy(50)}), latency=ZERO)
    assert fills(r) == [(401, 100, 9, M)]


def test_keep_on_decrease_ahead_then_increase_goes_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    t = base(Tape())
    t.modify(200, 2, 100, 50, PRIORITY_KEEP_ON_DECREASE)  # ahead: 300 + 50 + 500
    t.modify(210, 3, 100, 600, PRIORITY_KEEP_ON_DECREASE)  # increase: behind us
    t.execute(300, 1, 300).execute(301, 2, 50)
    t.execute(302, 3, 25)  # order 3 is behind us: we take all 25
    r = run(monkeypatch, t, Script({100: buy(50)}), latency=ZERO)
    assert fills(r) == [(302, 100, 25, M)]


def test_lose_priority_replace_with_new_id_goes_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    t = base(Tape()).modify(200, 1, 100, 300, PRIORITY_LOSE, new_id=11)
    t.execute(300, 2, 200).execute(301, 3, 500)
    t.execute(302, 11, 40)  # behind us now
    r = run(monkeypatch, t, Script({100: buy(50)}), latency=ZERO)
    assert fills(r) == [(302, 100, 40, M)]


def test_keep_priority_modify_with_new_id_then_second_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Order 1 keeps its place under a new id (11); our two orders at 100 must each see it once.
    t = base(Tape()).modify(150, 1, 100, 250, PRIORITY_KEEP_ON_DECREASE, new_id=11)
    t.execute(300, 11, 250).execute(301, 2, 200).execute(302, 3, 500)
    t.add(400, 9, BUY, 100, 100).execute(401, 9, 70)  # behind both: 50 to A, 20 to B
    r = run(monkeypatch, t, Script({100: buy(50), 200: buy(30)}), latency=ZERO)
    assert fills(r) == [(401, 100, 50, M), (401, 100, 20, M)]


def test_partial_cancels_and_deletes_ahead_and_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    t = base(Tape()).add(150, 4, BUY, 100, 100)  # behind
    t.cancel(200, 1, 100).delete(201, 2).cancel(202, 4, 50).delete(203, 4)  # ahead 200+500
    t.cancel(204, 3, 499)  # ahead 200 + 1
    t.execute(300, 1, 200).execute(301, 3, 1)
    t.add(302, 5, BUY, 100, 5).execute(303, 5, 5)
    r = run(monkeypatch, t, Script({100: buy(10)}), latency=ZERO)
    assert fills(r) == [(303, 100, 5, M)]


def test_execution_at_a_better_bid_does_not_touch_us(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Tape().add(10, 1, BUY, 100, 100).add(20, 90, SELL, 105, 100)
    t.add(200, 2, BUY, 101, 100).execute(210, 2, 100)  # a seller hits 101 only
    t.execute(220, 1, 100)  # the level ahead of us is gone
    t.add(230, 3, BUY, 100, 10).execute(240, 3, 10)
    r = run(monkeypatch, t, Script({100: buy(10)}), latency=ZERO)
    assert fills(r) == [(240, 100, 10, M)]


def test_hidden_trade_through_and_at_our_price(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Tape().add(10, 1, BUY, 100, 100).add(20, 90, SELL, 105, 100)
    t.trade(200, BUY, 99, 30, TRADE_HIDDEN)  # a seller went through 100 to a hidden 99
    # ahead (100) eaten first: 30 < 100, so nothing for us yet
    t.trade(210, BUY, 99, 80, TRADE_HIDDEN)  # 70 more ahead, then 10 for us
    r = run(monkeypatch, t, Script({100: buy(20)}), latency=ZERO)
    assert fills(r) == [(210, 100, 10, M)]


def test_cancel_in_flight_loses_the_race_to_a_full_fill(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Tape().add(10, 90, SELL, 105, 100).add(20, 1, BUY, 100, 10)
    t.add(150, 2, BUY, 100, 100).execute(160, 1, 10).execute(170, 2, 50)  # fills us (20)
    t.add(400, 3, BUY, 99, 1)
    s = Script({100: buy(20), 155: lambda ctx: ctx.cancel(next(iter(ctx.open_orders)))})
    r = run(monkeypatch, t, s, latency=LatencyConfig(risk_ns=0, cancel_ns=100, ack_ns=5))
    assert fills(r) == [(170, 100, 20, M)]
    assert r.ledger.position == 20
    assert [u.kind for u in s.updates] == [
        UpdateKind.ACCEPTED,
        UpdateKind.FILLED,
        UpdateKind.REJECTED,
    ]


def test_modify_in_flight_loses_the_race_to_a_full_fill(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Tape().add(10, 90, SELL, 105, 100).add(20, 1, BUY, 100, 10)
    t.add(150, 2, BUY, 100, 100).execute(160, 1, 10).execute(170, 2, 50)
    t.add(400, 3, BUY, 99, 1)

    def shrink(ctx: Context) -> None:
        assert ctx.modify(next(iter(ctx.open_orders)), qty=5)

    s = Script({100: buy(20), 155: shrink})
    r = run(monkeypatch, t, s, latency=LatencyConfig(risk_ns=0, modify_ns=100, ack_ns=5))
    assert fills(r) == [(170, 100, 20, M)]
    assert r.ledger.position == 20
    assert not r.open_orders


def test_cancel_in_flight_keeps_fills_before_it_arrives(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Tape().add(10, 90, SELL, 105, 100).add(20, 1, BUY, 100, 10)
    t.add(150, 2, BUY, 100, 100).execute(160, 1, 10).execute(170, 2, 5)  # 5 for us
    t.execute(260, 2, 5)  # the cancel arrived at 255: no fill
    s = Script({100: buy(20), 155: lambda ctx: ctx.cancel(next(iter(ctx.open_orders)))})
    r = run(monkeypatch, t, s, latency=LatencyConfig(risk_ns=0, cancel_ns=100))
    assert fills(r) == [(170, 100, 5, M)]
    assert r.cancels == 1


def test_crossing_order_takes_then_rests_with_nothing_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = Tape().add(10, 1, BUY, 99, 100).add(20, 90, SELL, 101, 30).add(30, 91, SELL, 102, 30)
    t.add(200, 2, BUY, 102, 100)  # a recorded bid at 102 after our rest: behind us
    t.execute(210, 2, 60)  # would meet us first (we are 102 with 50 left... see below)
    r = run(monkeypatch, t, Script({100: buy(110, 102)}), latency=ZERO)
    # 30 @101 + 30 @102 taken; 50 rest at 102 at the head; the 60 executed vs order 2 meet
    # us first: 50.  (Recorded 91 shows 30 at 102 still; it was hidden.)
    assert fills(r) == [(100, 101, 30, T), (100, 102, 30, T), (210, 102, 50, M)]


def test_latency_feed_and_entry_put_the_arrival_after_the_events_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The strategy acts on the book at its clock 100 (feed 50 => exchange 50); entry 30 and
    # risk 20 => it arrives at exchange 150 (100 + 20 + 30), after the add at 140.
    t = Tape().add(10, 1, BUY, 100, 10).add(11, 90, SELL, 105, 10)
    t.add(140, 2, BUY, 100, 7).add(160, 3, BUY, 100, 5)
    t.execute(200, 1, 10).execute(201, 2, 7).execute(202, 3, 5)
    lat = LatencyConfig(feed_ns=50, entry_ns=30, risk_ns=20)
    r = run(monkeypatch, t, Script({100: buy(3)}), latency=lat)
    assert fills(r) == [(202, 100, 3, M)]


def test_a_cancel_never_overtakes_its_own_new_order(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Tape().add(10, 1, BUY, 99, 100).add(20, 90, SELL, 105, 100)
    t.add(5000, 50, BUY, 100, 10).execute(5010, 50, 10)  # would fill a resting bid at 100

    def new_then_cancel(ctx: Context) -> None:
        assert ctx.cancel(ctx.buy(5, 100))

    s = Script({100: new_then_cancel})
    r = run(monkeypatch, t, s, latency=LatencyConfig(risk_ns=0, entry_ns=1000, cancel_ns=10))
    assert fills(r) == []
    assert [u.kind for u in s.updates] == [UpdateKind.ACCEPTED, UpdateKind.CANCELLED]


def test_a_modify_never_overtakes_its_own_new_order(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Tape().add(10, 1, BUY, 99, 100).add(20, 90, SELL, 105, 100)
    t.add(5000, 50, BUY, 100, 10).execute(5010, 50, 10)

    def new_then_shrink(ctx: Context) -> None:
        assert ctx.modify(ctx.buy(5, 100), qty=2)

    s = Script({100: new_then_shrink})
    r = run(monkeypatch, t, s, latency=LatencyConfig(risk_ns=0, entry_ns=1000, modify_ns=10))
    assert fills(r) == [(5010, 100, 2, M)]


def _mine(ctx: Context) -> int:
    return next(iter(ctx.open_orders))


def test_own_decrease_in_flight_keeps_the_place(monkeypatch: pytest.MonkeyPatch) -> None:
    t = base(Tape()).add(150, 4, BUY, 100, 100)  # behind us
    t.execute(300, 1, 300).execute(301, 2, 200).execute(302, 3, 500)
    t.execute(400, 4, 100)  # behind us: we fill what the modify left (20)
    s = Script({100: buy(50), 200: lambda ctx: ctx.modify(_mine(ctx), qty=20)})
    r = run(monkeypatch, t, s, latency=LatencyConfig(risk_ns=0, modify_ns=50))
    assert fills(r) == [(400, 100, 20, M)]


def test_own_increase_goes_behind_what_arrived_before_the_modify(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = base(Tape()).add(150, 4, BUY, 100, 100)  # behind us, ahead after our increase
    t.add(260, 5, BUY, 100, 100)  # arrives after the modify (250): behind us again
    t.execute(300, 1, 300).execute(301, 2, 200).execute(302, 3, 500)
    t.execute(303, 4, 100)  # was ahead after the increase: no fill
    t.execute(400, 5, 100)  # behind: we fill 80
    s = Script({100: buy(50), 200: lambda ctx: ctx.modify(_mine(ctx), qty=80)})
    r = run(monkeypatch, t, s, latency=LatencyConfig(risk_ns=0, modify_ns=50))
    assert fills(r) == [(400, 100, 80, M)]


def test_own_price_move_lands_behind_the_new_level(monkeypatch: pytest.MonkeyPatch) -> None:
    t = base(Tape()).add(50, 6, BUY, 99, 40).add(150, 7, BUY, 99, 60)
    t.add(260, 8, BUY, 99, 10)  # after the move arrives (250): behind us
    t.execute(300, 6, 40).execute(301, 7, 59)
    t.execute(302, 8, 10)  # 1 of order 7 still ahead, then 9 for us
    s = Script({100: buy(50), 200: lambda ctx: ctx.modify(_mine(ctx), price=99)})
    r = run(monkeypatch, t, s, latency=LatencyConfig(risk_ns=0, modify_ns=50))
    assert fills(r) == [(302, 99, 9, M)]


def test_renamed_keep_priority_order_then_deleted_advances(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = base(Tape()).modify(150, 1, 100, 250, PRIORITY_KEEP_ON_DECREASE, new_id=11)
    t.delete(300, 11).delete(301, 2).cancel(302, 3, 450)  # 50 of order 3 ahead
    t.add(400, 9, BUY, 100, 100).execute(401, 9, 70)  # behind both of ours
    t.execute(402, 3, 50).execute(403, 9, 30)
    r = run(monkeypatch, t, Script({100: buy(50), 200: buy(30)}), latency=ZERO)
    # 401: order 9's 70 meet the 50 of order 3 still ahead of A first, then A takes 20.
    # 402: order 3's own 50 execute, but they were met already: that aggressor's flow meets
    # the next in the queue, A (30) then B (20). 403: order 9's 30 meet B's last 10.
    assert fills(r) == [(401, 100, 20, M), (402, 100, 30, M), (402, 100, 20, M), (403, 100, 10, M)]


def test_cancel_arriving_at_the_ns_of_a_filling_execution_comes_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing ahead; the cancel (sent 150, cancel 50) arrives at 200, the ns an order behind
    # us executes 30: the recorded event first -> we fill 30, then the cancel takes the rest.
    t = Tape().add(10, 90, SELL, 105, 100).add(150, 2, BUY, 100, 100).execute(200, 2, 30)
    t.execute(300, 2, 30)
    s = Script({100: buy(50), 150: lambda ctx: ctx.cancel(_mine(ctx))})
    r = run(monkeypatch, t, s, latency=LatencyConfig(risk_ns=0, cancel_ns=50))
    assert fills(r) == [(200, 100, 30, M)]
    assert [u.kind for u in s.updates] == [
        UpdateKind.ACCEPTED,
        UpdateKind.FILLED,
        UpdateKind.CANCELLED,
    ]
    assert s.updates[-1].leaves_qty == 0


class _Probe(Script):
    """Buys 30 through the ask at 100 (fills at once), looks at its position at 150."""

    def __init__(self) -> None:
        super().__init__({100: lambda ctx: ctx.buy(30, 105), 150: self.look})
        self.seen: list[tuple[int, int]] = []
        self.heard: list[tuple[str, int]] = []

    def look(self, ctx: Context) -> None:
        self.seen.append((ctx.now_ns, ctx.position))

    def on_order_update(self, ctx: Context, update: object) -> None:
        self.heard.append((update.kind.name, ctx.now_ns))  # type: ignore[attr-defined]


def test_updates_reach_the_strategy_before_a_later_timer_in_a_quiet_gap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = Tape().add(10, 90, SELL, 105, 100).add(20, 1, BUY, 100, 100)
    t.add(1_000, 2, BUY, 99, 1)  # the next recorded event, long after
    s = _Probe()
    run(monkeypatch, t, s, latency=ZERO)  # no latency at all
    assert s.heard == [("ACCEPTED", 100), ("FILLED", 100)]
    assert s.seen == [(150, 30)]


class _Chain(Script):
    """On its first book event buys through the ask; on that fill rests a sell at 106."""

    def __init__(self) -> None:
        super().__init__()
        self.done = False

    def on_book(self, ctx: Context, book: object) -> None:
        if not self.done and ctx.book.best_ask:
            self.done = True
            ctx.buy(30, 105)

    def on_order_update(self, ctx: Context, update: object) -> None:
        if update.kind == UpdateKind.FILLED and update.side == BUY:  # type: ignore[attr-defined]
            ctx.sell(10, 106)


def test_an_order_sent_on_a_fill_joins_the_queue_before_later_recorded_orders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = Tape().add(10, 1, BUY, 100, 100).add(20, 90, SELL, 105, 100)
    t.add(1_000, 91, SELL, 106, 50)  # recorded long after our sell (sent at 20)
    t.execute(1_200, 91, 20)  # 91 is behind us: we fill 10
    r = run(monkeypatch, t, _Chain(), latency=ZERO)
    assert fills(r) == [(20, 105, 30, T), (1_200, 106, 10, M)]


def test_an_order_sent_on_a_fill_joins_the_queue_in_time_with_latency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = Tape().add(10, 1, BUY, 100, 100).add(20, 90, SELL, 105, 100)
    t.add(1_000, 91, SELL, 106, 50).execute(1_200, 91, 20)
    lat = LatencyConfig(feed_ns=5, risk_ns=5, entry_ns=5, ack_ns=5)
    # seen at 25, checked 30, at the exchange 35 (fill); heard 40, sell at the exchange 50
    r = run(monkeypatch, t, _Chain(), latency=lat)
    assert fills(r) == [(35, 105, 30, T), (1_200, 106, 10, M)]


def test_a_fast_cancel_waits_for_a_slow_modify_of_the_same_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Modify (1000 ns) then cancel (10 ns) at 100: both reach the exchange at 1100, in order;
    # until then the order rests at 100 and the execution behind it at 500 fills it.
    t = Tape().add(10, 90, SELL, 105, 100).add(20, 1, BUY, 99, 10).add(150, 2, BUY, 100, 100)
    t.execute(500, 2, 30).add(2_000, 3, BUY, 98, 1)

    def modify_then_cancel(ctx: Context) -> None:
        coid = _mine(ctx)
        assert ctx.modify(coid, price=101)
        assert ctx.cancel(coid)

    s = Script({50: buy(20), 100: modify_then_cancel})
    r = run(monkeypatch, t, s, latency=LatencyConfig(risk_ns=0, modify_ns=1000, cancel_ns=10))
    assert fills(r) == [(500, 100, 20, M)]
    assert [(u.kind, u.ts_ns) for u in s.updates[2:]] == [
        (UpdateKind.REJECTED, 1100),
        (UpdateKind.REJECTED, 1100),
    ]


def test_no_fills_while_the_record_says_trading_is_halted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from whistle.core.mbo import FLAG_LAST, STATUS_HALT, STATUS_RESUME, MboStatus

    t = Tape().add(10, 90, SELL, 105, 100).add(20, 1, BUY, 100, 100)
    t.events.append(MboStatus(1, 50, 0, 90, FLAG_LAST, STATUS_HALT, "H"))
    t.add(300, 2, BUY, 99, 1)
    t.events.append(MboStatus(1, 400, 0, 91, FLAG_LAST, STATUS_RESUME, "T"))
    t.add(500, 3, BUY, 98, 1)
    s = Script({100: buy(10, 105), 150: lambda ctx: ctx.sell(5, 95)})
    r = run(monkeypatch, t, s, latency=ZERO)
    assert [f for f in fills(r) if 50 <= f[0] < 400] == []  # refused, or held to the resume
