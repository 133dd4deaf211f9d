"""The example strategies, driven by synthetic market events and order updates, signal by
signal (the way a runtime drives them: apply the update, call back, drain)."""

from __future__ import annotations

import pytest

from whistle.core.enums import CancelCause, Liquidity, Side, TimeInForce
from whistle.trading.context import Context
from whistle.trading.examples import (
    EXIT_TIMER,
    ImbalanceTaker,
    ImbalanceTakerConfig,
    MarketMaker,
    MarketMakerConfig,
    Noop,
)
from whistle.trading.messages import (
    LEVELS,
    MarketEvent,
    MarketKind,
    OrderUpdate,
    SignalEvent,
    SignalKind,
    UpdateKind,
)
from whistle.trading.strategy import BookView

SYM = 7
BUY, SELL, MODIFY, CANCEL = SignalKind.BUY, SignalKind.SELL, SignalKind.MODIFY, SignalKind.CANCEL
DAY, IOC = TimeInForce.DAY, TimeInForce.IOC


def bbo(bid, bid_qty, ask, ask_qty, ts):
    pad = (0,) * (LEVELS - 1)
    return MarketEvent(
        MarketKind.BBO,
        SYM,
        ts,
        n_bid=1 if bid else 0,
        n_ask=1 if ask else 0,
        bid_px=(bid, *pad),
        bid_qty=(bid_qty, *pad),
        ask_px=(ask, *pad),
        ask_qty=(ask_qty, *pad),
    )


class Driver:
    """The smallest runtime: one strategy, one context, events in, signals out."""

    def __init__(self, strategy):
        self.strategy = strategy
        self.ctx = Context("BOB", SYM)
        self.view = BookView(SYM)
        self.ctx.book = self.view
        strategy.on_start(self.ctx)

    def market(self, event):
        ctx = self.ctx
        self.fire_timers(event.ts_ns)
        ctx.now_ns = event.ts_ns
        before = self.view.top()
        self.view.load_event(event)
        if self.view.top() != before:
            self.strategy.on_bbo(ctx, self.view)
        return ctx.drain_signals()

    def update(self, update, ts):
        ctx = self.ctx
        ctx.now_ns = ts
        ctx.apply_update(update)
        self.strategy.on_order_update(ctx, update)
        return ctx.drain_signals()

    def fire_timers(self, until):
        ctx = self.ctx
        out = []
        t = ctx.next_timer_ns()
        while t is not None and t <= until:
            ctx.now_ns = t
            for tag in ctx.due_timers(t):
                self.strategy.on_timer(ctx, tag)
            out += ctx.drain_signals()
            t = ctx.next_timer_ns()
        return out


def sig(kind, coid, price, qty, tif=DAY, post_only=False, ts=0):
    return SignalEvent(kind, 0, SYM, coid, price, qty, tif, post_only, ts)


def accepted(coid, side, price, qty, ts=0):
    return OrderUpdate(UpdateKind.ACCEPTED, coid, SYM, side, price, qty, qty, ts_ns=ts)


def filled(coid, side, price, qty, leaves, liquidity=Liquidity.MAKER):
    return OrderUpdate(
        UpdateKind.FILLED,
        coid,
        SYM,
        side,
        price,
        qty,
        leaves,
        fill_price=price,
        fill_qty=qty,
        liquidity=liquidity,
    )


def modified(coid, side, price, leaves):
    return OrderUpdate(UpdateKind.MODIFIED, coid, SYM, side, price, leaves, leaves)


# -- MarketMaker -----------------------------------------------------------------------


def maker(**kw):
    cfg = {"qty_lots": 2, "half_spread_ticks": 1, "skew_ticks": 1, "max_inventory_lots": 3}
    return Driver(MarketMaker({**cfg, **kw}))


def test_market_maker_quotes_requotes_and_skews_exactly():
    d = maker()
    # 1. Quotes around the mid (102): 101 / 103, post-only, 2 lots each.
    assert d.market(bbo(100, 5, 104, 5, ts=10)) == [
        sig(BUY, 1, 101, 2, post_only=True, ts=10),
        sig(SELL, 2, 103, 2, post_only=True, ts=10),
    ]
    # 2. The BBO moves while both quotes are in flight: nothing is stacked on them.
    assert d.market(bbo(100, 5, 105, 5, ts=11)) == []
    # 3. The bid is accepted: it is still at its target (mid 102.5 -> 101 / 104).
    assert d.update(accepted(1, Side.BUY, 101, 2), ts=12) == []
    # 4. The ask is accepted at 103 but its target is now 104: modified (price only).
    assert d.update(accepted(2, Side.SELL, 103, 2), ts=13) == [sig(MODIFY, 2, 104, 0, 0, ts=13)]
    # 5. The bid fills: long 2, so both quotes move down one tick (skew 1 tick per 2 lots)
    #    and the new bid is cut to the 1 lot of room under max inventory 3.
    assert d.update(filled(1, Side.BUY, 101, 2, 0), ts=14) == [
        sig(BUY, 3, 100, 1, post_only=True, ts=14)
    ]
    assert d.ctx.position == 2
    # 6. The modify lands at 104; the skewed target is 103: modified again.
    assert d.update(modified(2, Side.SELL, 104, 2), ts=15) == [sig(MODIFY, 2, 103, 0, 0, ts=15)]
    # 7. One side of the book empties: every quote is cancelled.
    assert d.market(bbo(0, 0, 105, 5, ts=16)) == [
        sig(CANCEL, 3, 0, 0, 0, ts=16),
        sig(CANCEL, 2, 0, 0, 0, ts=16),
    ]
    # 8. Nothing is resent while the cancels are on their way.
    assert d.market(bbo(0, 0, 106, 5, ts=17)) == []


def test_market_maker_stops_bidding_at_max_inventory_and_cuts_a_resting_quote():
    d = maker(max_inventory_lots=2)
    d.market(bbo(100, 5, 104, 5, ts=1))
    d.update(accepted(1, Side.BUY, 101, 2), ts=2)
    d.update(accepted(2, Side.SELL, 103, 2), ts=2)
    # Long 2 = max: no new bid (the filled one is gone); the ask follows the skew (mid 102,
    # long one quote's worth: center 101, ask 102).
    out = d.update(filled(1, Side.BUY, 101, 2, 0), ts=3)
    assert [s.kind for s in out] == [MODIFY]  # only the ask moves; no new bid
    assert d.strategy.targets(2, d.view) == (0, 0, 102, 2)
    # A resting ask larger than the room left is cut, keeping its price.
    d2 = maker(max_inventory_lots=3, skew_ticks=0)
    d2.market(bbo(100, 5, 104, 5, ts=1))
    d2.update(accepted(1, Side.BUY, 101, 2), ts=2)
    d2.update(accepted(2, Side.SELL, 103, 2), ts=2)
    d2.ctx.ledger.fill(Side.SELL, 103, 2, 0)  # short 2 from elsewhere: ask room 3 - 2 = 1
    assert d2.market(bbo(100, 6, 104, 5, ts=3)) == [sig(MODIFY, 2, 0, 1, 0, ts=3)]


def test_market_maker_targets_never_cross_the_touch():
    mm = MarketMaker(MarketMakerConfig(qty_lots=1, half_spread_ticks=0, skew_ticks=1))
    view = BookView(SYM, 0, 100, 1, 101, 1)
    assert mm.targets(0, view) == (100, 1, 101, 1)
    # Short 2: the center moves up 2 ticks (102.5); the post-only bid is clamped under the ask.
    assert mm.targets(-2, view) == (100, 1, 103, 1)
    # Long 5: the center moves down 5; the ask is clamped above the bid.
    assert mm.targets(5, view) == (95, 1, 101, 1)
    # Zero half spread on an even center would put bid == ask: the ask goes one up.
    wide = BookView(SYM, 0, 100, 1, 110, 1)
    assert mm.targets(0, wide) == (105, 1, 106, 1)
    # A center so low the bid would be at or under 0: no bid.
    low = BookView(SYM, 0, 1, 1, 3, 1)
    assert mm.targets(10, low) == (0, 0, 2, 1)
    assert mm.targets(0, BookView(SYM)) == (0, 0, 0, 0)


def test_market_maker_leaves_its_own_quotes_out_of_the_mid():
    d = maker(skew_ticks=0)
    d.market(bbo(100, 5, 104, 5, ts=1))
    d.update(accepted(1, Side.BUY, 101, 2), ts=2)
    d.update(accepted(2, Side.SELL, 103, 2), ts=2)
    pad = (0,) * (LEVELS - 2)
    # The venue's book now shows the maker's own quotes at the touch: its mid stays 102.
    own = MarketEvent(
        MarketKind.BOOK,
        SYM,
        3,
        n_bid=2,
        n_ask=2,
        bid_px=(101, 100, *pad),
        bid_qty=(2, 5, *pad),
        ask_px=(103, 104, *pad),
        ask_qty=(2, 5, *pad),
    )
    assert d.market(own) == []
    assert d.strategy.market(d.ctx, d.view).top() == (100, 5, 104, 5)
    # Someone else joins the maker's bid: that level is the market's too.
    joined = MarketEvent(
        MarketKind.BOOK,
        SYM,
        4,
        n_bid=2,
        n_ask=1,
        bid_px=(101, 100, *pad),
        bid_qty=(3, 5, *pad),
        ask_px=(103, *pad, 0),
        ask_qty=(2, *pad, 0),
    )
    # The ask side is only the maker: no market ask is left, so every quote is cancelled.
    assert [s.kind for s in d.market(joined)] == [CANCEL, CANCEL]
    assert d.strategy.market(d.ctx, d.view).top() == (101, 3, 0, 0)


def two_level_book(bids, asks, ts):
    def side(levels):
        px = tuple(p for p, _ in levels) + (0,) * (LEVELS - len(levels))
        qty = tuple(q for _, q in levels) + (0,) * (LEVELS - len(levels))
        return px, qty

    bid_px, bid_qty = side(bids)
    ask_px, ask_qty = side(asks)
    return MarketEvent(
        MarketKind.BOOK,
        SYM,
        ts,
        n_bid=len(bids),
        n_ask=len(asks),
        bid_px=bid_px,
        bid_qty=bid_qty,
        ask_px=ask_px,
        ask_qty=ask_qty,
    )


def test_market_maker_post_only_quotes_stay_inside_its_own_opposite_quote():
    d = maker(skew_ticks=0)
    d.market(bbo(100, 5, 104, 5, ts=1))
    d.update(accepted(1, Side.BUY, 101, 2), ts=2)
    d.update(accepted(2, Side.SELL, 103, 2), ts=2)
    # Without its own quotes the market is 100 / 110 (mid 105): the bid target 104 would
    # cross the maker's own ask at 103, so it stops at 102.
    event = two_level_book([(101, 2), (100, 5)], [(103, 2), (110, 5)], ts=3)
    assert d.market(event) == [sig(MODIFY, 1, 102, 0, 0, ts=3), sig(MODIFY, 2, 106, 0, 0, ts=3)]
    # The mirror image: the market is 90 / 104 (mid 97); the ask target 98 would cross the
    # maker's own bid at 101, so it stops at 102.
    d = maker(skew_ticks=0)
    d.market(bbo(100, 5, 104, 5, ts=1))
    d.update(accepted(1, Side.BUY, 101, 2), ts=2)
    d.update(accepted(2, Side.SELL, 103, 2), ts=2)
    event = two_level_book([(101, 2), (90, 5)], [(104, 5)], ts=3)
    assert d.market(event) == [sig(MODIFY, 1, 96, 0, 0, ts=3), sig(MODIFY, 2, 102, 0, 0, ts=3)]


def test_market_maker_never_crosses_its_own_quotes_when_the_mid_jumps():
    d = maker()
    d.market(bbo(100, 5, 104, 5, ts=1))
    d.update(accepted(1, Side.BUY, 101, 2), ts=2)
    d.update(accepted(2, Side.SELL, 103, 2), ts=2)
    # Mid 112: targets 111 / 113. The bid may not reach the maker's own ask at 103 yet.
    assert d.market(bbo(110, 5, 114, 5, ts=3)) == [
        sig(MODIFY, 1, 102, 0, 0, ts=3),
        sig(MODIFY, 2, 113, 0, 0, ts=3),
    ]
    assert d.update(modified(2, Side.SELL, 113, 2), ts=4) == []  # the bid is in flight
    assert d.update(modified(1, Side.BUY, 102, 2), ts=5) == [sig(MODIFY, 1, 111, 0, 0, ts=5)]
    # The mirror: the mid drops to 92 (targets 91 / 93); the ask may not reach the bid at 111,
    # nor the price a modify in flight asked for.
    assert d.update(modified(1, Side.BUY, 111, 2), ts=6) == []
    assert d.market(bbo(90, 5, 94, 5, ts=7)) == [
        sig(MODIFY, 1, 91, 0, 0, ts=7),
        sig(MODIFY, 2, 112, 0, 0, ts=7),
    ]
    assert d.update(modified(2, Side.SELL, 112, 2), ts=8) == []
    assert d.update(modified(1, Side.BUY, 91, 2), ts=9) == [sig(MODIFY, 2, 93, 0, 0, ts=9)]


def test_market_maker_cancels_everything_at_stop():
    d = maker()
    d.market(bbo(100, 5, 104, 5, ts=1))
    d.strategy.on_stop(d.ctx)
    assert d.ctx.drain_signals() == [sig(CANCEL, 1, 0, 0, 0, ts=1), sig(CANCEL, 2, 0, 0, 0, ts=1)]


def test_market_maker_replaces_a_rejected_quote_at_the_next_bbo_change():
    d = maker()
    d.market(bbo(100, 5, 104, 5, ts=1))
    reject = OrderUpdate(UpdateKind.REJECTED, 1, SYM, Side.BUY, 101, 2, 0, reason=3004)
    assert d.update(reject, ts=2) == []  # not at once: the same book would refuse it again
    assert d.market(bbo(100, 6, 104, 5, ts=3)) == [sig(BUY, 3, 101, 2, post_only=True, ts=3)]


# -- ImbalanceTaker --------------------------------------------------------------------


def taker(**kw):
    cfg = {"qty_lots": 1, "threshold_pct": 70, "exit_pct": 60, "hold_ns": 1000}
    return Driver(ImbalanceTaker({**cfg, **kw}))


def test_imbalance_taker_enters_on_imbalance_and_exits_on_reversal():
    d = taker()
    assert d.market(bbo(100, 6, 101, 4, ts=5)) == []  # 60% < 70%
    assert d.market(bbo(100, 7, 101, 3, ts=6)) == [sig(BUY, 1, 101, 1, IOC, ts=6)]
    assert d.market(bbo(100, 8, 101, 3, ts=7)) == []  # an order is in flight
    assert d.update(accepted(1, Side.BUY, 101, 1), ts=10) == []
    assert d.update(filled(1, Side.BUY, 101, 1, 0, Liquidity.TAKER), ts=10) == []
    assert d.ctx.position == 1
    assert d.ctx.next_timer_ns() == 1010  # the holding clock started at the fill
    assert d.market(bbo(100, 5, 101, 5, ts=500)) == []  # 50% ask: no reversal; at max
    assert d.market(bbo(100, 3, 101, 7, ts=600)) == [sig(SELL, 2, 100, 1, IOC, ts=600)]
    d.update(accepted(2, Side.SELL, 100, 1), ts=601)
    d.update(filled(2, Side.SELL, 100, 1, 0, Liquidity.TAKER), ts=601)
    assert d.ctx.position == 0
    assert d.ctx.next_timer_ns() is None  # flat: the exit timer is gone
    assert d.ctx.pnl().realised == -1


def test_imbalance_taker_exits_on_time_and_retries_an_unfilled_exit():
    d = taker()
    assert d.market(bbo(100, 2, 101, 8, ts=1000)) == [sig(SELL, 1, 100, 1, IOC, ts=1000)]
    d.update(accepted(1, Side.SELL, 100, 1), ts=2000)
    d.update(filled(1, Side.SELL, 100, 1, 0), ts=2000)
    assert d.ctx.next_timer_ns() == 3000
    # The book goes quiet and balanced; the timer alone makes the exit at 3000.
    assert d.market(bbo(100, 5, 101, 5, ts=2500)) == []
    assert d.fire_timers(3000) == [sig(BUY, 2, 101, 1, IOC, ts=3000)]
    # The IOC finds nothing and is cancelled: the next BBO change retries (time is up).
    d.update(accepted(2, Side.BUY, 101, 1), ts=3001)
    cancelled = OrderUpdate(
        UpdateKind.CANCELLED, 2, SYM, Side.BUY, 101, 1, 0, reason=CancelCause.IOC_REMAINDER
    )
    assert d.update(cancelled, ts=3001) == []
    assert d.market(bbo(100, 5, 102, 5, ts=3100)) == [sig(BUY, 3, 102, 1, IOC, ts=3100)]


def test_imbalance_taker_respects_max_position_and_needs_both_sides():
    d = taker(max_position_lots=2, qty_lots=1, hold_ns=0, exit_pct=100)
    assert d.market(bbo(100, 9, 0, 0, ts=1)) == []  # one side empty
    assert d.market(bbo(100, 9, 101, 1, ts=2)) == [sig(BUY, 1, 101, 1, IOC, ts=2)]
    d.update(filled(1, Side.BUY, 101, 1, 0), ts=3)
    assert d.ctx.next_timer_ns() is None  # hold_ns 0: no time exit
    assert d.market(bbo(100, 9, 101, 2, ts=4)) == [sig(BUY, 2, 101, 1, IOC, ts=4)]
    d.update(filled(2, Side.BUY, 101, 1, 0), ts=5)
    assert d.market(bbo(100, 9, 101, 3, ts=6)) == []  # at max 2
    d.strategy.on_timer(d.ctx, 99)  # an unknown tag does nothing
    assert d.ctx.drain_signals() == []


def test_imbalance_taker_config_defaults_and_bounds():
    assert ImbalanceTaker().config == ImbalanceTakerConfig()
    assert EXIT_TIMER == 1
    with pytest.raises(ValueError, match="threshold_pct"):
        ImbalanceTaker({"threshold_pct": 101})


# -- Noop ------------------------------------------------------------------------------


def test_noop_does_nothing_on_books():
    d = Driver(Noop())
    d.strategy.on_book(d.ctx, d.view)
    assert d.market(bbo(100, 1, 101, 1, ts=1)) == []
    assert d.ctx.drain_signals() == []
