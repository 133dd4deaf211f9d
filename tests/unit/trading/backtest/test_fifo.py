"""Exact queue position on MBO data (the issue's "done when"): a strategy order behind N lots
fills exactly when N lots ahead of it have executed or been cancelled.

Each test builds a synthetic MBO sequence, drives ``FifoExchange`` the way the runner does
(``observe`` before ``book.apply``, ``settle`` after) and asserts the exact event at which
the strategy's order fills, and by how much.
"""

from __future__ import annotations

import pytest

from whistle.book.mbo import MarketByOrderBook
from whistle.core.enums import Liquidity, TimeInForce
from whistle.core.mbo import (
    FLAG_LAST,
    NO_PRICE,
    PRIORITY_KEEP_ON_DECREASE,
    PRIORITY_LOSE,
    TRADE_HIDDEN,
    MboAdd,
    MboCancel,
    MboClear,
    MboDelete,
    MboEvent,
    MboExecute,
    MboModify,
    MboTrade,
)
from whistle.core.reasons import RejectReason
from whistle.trading.backtest import FeeModel, FifoExchange
from whistle.trading.messages import OrderUpdate, UpdateKind

BUY, SELL = 1, 2
GTC = int(TimeInForce.GTC)


class Harness:
    """A recorded book and the exchange, driven event by event like the runner does."""

    def __init__(self, fees: FeeModel | None = None) -> None:
        self.book = MarketByOrderBook()
        self.ex = FifoExchange(self.book, 7, fees or FeeModel())
        self.ts = 1_000
        self.seq = 0

    def _stamp(self) -> tuple[int, int, int, int, int]:
        self.ts += 10
        self.seq += 1
        return (0, self.ts, 0, self.seq, FLAG_LAST)

    def feed(self, e: MboEvent) -> list[OrderUpdate]:
        ex = self.ex
        if ex.active:
            ex.observe(e)
        self.book.apply(e)
        if ex.active:
            ex.settle()
        self.book.validate_internal_state()
        return self.drain()

    def add(self, oid: int, side: int, price: int, qty: int) -> list[OrderUpdate]:
        return self.feed(MboAdd(*self._stamp(), oid, side, price, qty))

    def execute(self, oid: int, qty: int, price: int = NO_PRICE) -> list[OrderUpdate]:
        return self.feed(MboExecute(*self._stamp(), oid, qty, 0, price, True, 0))

    def cancel(self, oid: int, qty: int) -> list[OrderUpdate]:
        return self.feed(MboCancel(*self._stamp(), oid, qty, 0, NO_PRICE))

    def delete(self, oid: int) -> list[OrderUpdate]:
        return self.feed(MboDelete(*self._stamp(), oid, 0, NO_PRICE))

    def modify(
        self, oid: int, price: int, qty: int, prio: int, new_id: int | None = None
    ) -> list[OrderUpdate]:
        nid = oid if new_id is None else new_id
        return self.feed(MboModify(*self._stamp(), oid, nid, 0, price, qty, prio))

    def hidden_trade(self, side: int, price: int, qty: int) -> list[OrderUpdate]:
        return self.feed(MboTrade(*self._stamp(), 0, side, price, qty, TRADE_HIDDEN, True, 0))

    def submit(
        self, coid: int, side: int, price: int, qty: int, tif: int = GTC, post_only: bool = False
    ) -> list[OrderUpdate]:
        self.ts += 1
        self.ex.new_order(coid, side, price, qty, tif, post_only, self.ts)
        return self.drain()

    def drain(self) -> list[OrderUpdate]:
        out = self.ex.out
        self.ex.out = []
        return out


def fills(updates: list[OrderUpdate]) -> list[tuple[int, int, int, int]]:
    """(coid, price, qty, liquidity) of the FILLED updates."""
    return [
        (u.client_order_id, u.fill_price, u.fill_qty, u.liquidity)
        for u in updates
        if u.kind == UpdateKind.FILLED
    ]


M = int(Liquidity.MAKER)
T = int(Liquidity.TAKER)


def level_with_ahead(h: Harness) -> None:
    """Bids at 100: orders 1 (300), 2 (200), 3 (500) = 1000 lots; asks at 101."""
    h.add(1, BUY, 100, 300)
    h.add(2, BUY, 100, 200)
    h.add(3, BUY, 100, 500)
    h.add(90, SELL, 101, 1000)


def test_fills_exactly_after_n_lots_ahead_executed() -> None:
    h = Harness()
    level_with_ahead(h)
    ups = h.submit(1001, BUY, 100, 100)
    assert [u.kind for u in ups] == [UpdateKind.ACCEPTED]
    assert h.ex.queue_position(1001) == (1000, 100)
    h.add(4, BUY, 100, 700)  # behind us: never delays us
    assert fills(h.execute(1, 300)) == []
    assert fills(h.execute(2, 150)) == []
    assert h.ex.queue_position(1001) == (550, 100)
    assert fills(h.execute(2, 50)) == []
    assert fills(h.execute(3, 499)) == []
    assert h.ex.queue_position(1001) == (1, 100)
    assert fills(h.execute(3, 1)) == []  # the last lot ahead: nothing is ahead now
    assert h.ex.queue_position(1001) == (0, 100)
    # The next execution at the level (order 4, behind us) would have met us first.
    assert fills(h.execute(4, 60)) == [(1001, 100, 60, M)]
    assert fills(h.execute(4, 60)) == [(1001, 100, 40, M)]
    assert h.ex.queue_position(1001) is None  # filled and gone
    assert fills(h.execute(4, 60)) == []
    assert not h.ex.active


def test_cancels_and_partial_cancels_ahead_advance_by_exactly_their_size() -> None:
    h = Harness()
    level_with_ahead(h)
    h.submit(1001, BUY, 100, 100)
    h.add(4, BUY, 100, 700)
    h.cancel(2, 50)  # partial cancel ahead: -50
    assert h.ex.queue_position(1001) == (950, 100)
    h.delete(1)  # delete ahead: -300 (that order alone, not the whole queue)
    assert h.ex.queue_position(1001) == (650, 100)
    h.delete(4)  # delete behind: no advance
    h.cancel(3, 500)  # a cancel of the whole remainder deletes it: -500
    assert h.ex.queue_position(1001) == (150, 100)
    h.add(5, BUY, 100, 100)
    assert fills(h.execute(2, 150)) == []  # the last 150 ahead execute
    assert h.ex.queue_position(1001) == (0, 100)
    assert fills(h.execute(5, 30)) == [(1001, 100, 30, M)]


def test_deletes_behind_never_advance() -> None:
    h = Harness()
    h.add(1, BUY, 100, 400)
    h.submit(1001, BUY, 100, 50)
    for oid in range(10, 20):
        h.add(oid, BUY, 100, 100)
    for oid in range(10, 20):
        h.delete(oid)
        assert h.ex.queue_position(1001) == (400, 50)
    h.add(20, BUY, 100, 100)
    assert fills(h.execute(1, 399)) == []
    assert fills(h.execute(1, 1)) == []
    assert fills(h.execute(20, 100)) == [(1001, 100, 50, M)]


def test_modify_losing_priority_moves_the_order_behind_us() -> None:
    h = Harness()
    level_with_ahead(h)
    h.submit(1001, BUY, 100, 100)
    # Order 1 (300 ahead) is replaced at the same price with a bigger size: to the back.
    h.modify(1, 100, 400, PRIORITY_LOSE, new_id=11)
    assert h.ex.queue_position(1001) == (700, 100)
    # Order 2 decreases under keep-on-decrease: keeps its place, ahead shrinks by 50.
    h.modify(2, 100, 150, PRIORITY_KEEP_ON_DECREASE)
    assert h.ex.queue_position(1001) == (650, 100)
    # Order 3 increases under keep-on-decrease: loses priority, goes behind us.
    h.modify(3, 100, 600, PRIORITY_KEEP_ON_DECREASE)
    assert h.ex.queue_position(1001) == (150, 100)
    assert fills(h.execute(2, 150)) == []
    # Order 3 (now behind us) executes: we fill first.
    assert fills(h.execute(3, 80)) == [(1001, 100, 80, M)]
    assert fills(h.execute(11, 100)) == [(1001, 100, 20, M)]


def test_modify_away_to_another_price_leaves_the_queue() -> None:
    h = Harness()
    level_with_ahead(h)
    h.submit(1001, BUY, 100, 100)
    h.modify(3, 99, 500, PRIORITY_LOSE)
    assert h.ex.queue_position(1001) == (500, 100)
    h.modify(3, 100, 500, PRIORITY_LOSE)  # back at our price: behind us now
    assert h.ex.queue_position(1001) == (500, 100)


def test_trade_through_fills_at_our_price() -> None:
    h = Harness()
    h.add(1, BUY, 100, 300)
    h.add(2, BUY, 99, 300)
    h.add(90, SELL, 102, 100)
    h.submit(1001, BUY, 101, 100)  # a better bid: nothing recorded ahead
    assert h.ex.queue_position(1001) == (0, 100)
    # A seller hits the recorded best bid at 100: it went through our 101 first.
    assert fills(h.execute(1, 60)) == [(1001, 101, 60, M)]
    # A hidden trade below our price also trades through.
    assert fills(h.hidden_trade(SELL, 99, 10)) == [(1001, 101, 10, M)]
    # A hidden trade above our bid does nothing to it.
    assert fills(h.hidden_trade(SELL, 102, 10)) == []
    assert h.ex.queue_position(1001) == (0, 30)


def test_execution_at_a_worse_price_fills_a_level_with_orders_ahead() -> None:
    h = Harness()
    h.add(1, SELL, 105, 100)
    h.add(2, SELL, 105, 100)
    h.add(90, BUY, 100, 100)
    h.submit(1001, SELL, 105, 50)
    assert h.ex.queue_position(1001) == (200, 50)
    assert fills(h.execute(1, 100)) == []
    assert fills(h.execute(2, 40)) == []
    # An execution at 106 (worse for our ask): the buyer went through 105 first; the 60
    # still counted ahead at 105 come first, then us.
    h.add(3, SELL, 106, 500)
    assert fills(h.execute(3, 80, price=106)) == [(1001, 105, 20, M)]
    assert h.ex.queue_position(1001) == (0, 30)


def test_crossing_add_fills_our_resting_order_and_is_hidden_afterwards() -> None:
    h = Harness()
    h.add(1, BUY, 99, 100)
    h.add(2, SELL, 103, 100)
    h.submit(1001, BUY, 101, 100)
    # A recorded seller adds at 100, through our bid at 101: its 70 fill us.
    assert fills(h.add(3, SELL, 100, 70)) == [(1001, 101, 70, M)]
    assert h.ex.consumed == {3: 70}
    # Our next buy cannot take order 3 again: only the 100 at 103 is available.
    ups = h.submit(1002, BUY, 103, 200, tif=int(TimeInForce.IOC))
    assert fills(ups) == [(1002, 103, 100, T)]
    assert ups[-1].kind == UpdateKind.CANCELLED
    h.delete(3)
    assert 3 not in h.ex.consumed


def test_aggressive_order_takes_in_price_time_order_and_hides_what_it_took() -> None:
    h = Harness()
    h.add(1, SELL, 101, 100)
    h.add(2, SELL, 101, 50)
    h.add(3, SELL, 102, 100)
    h.add(90, BUY, 99, 100)
    ups = h.submit(1001, BUY, 102, 200)
    assert fills(ups) == [(1001, 101, 100, T), (1001, 101, 50, T), (1001, 102, 50, T)]
    assert h.ex.consumed == {1: 100, 2: 50, 3: 50}
    # The record is unchanged: the book still shows the taken orders.
    assert h.book.best_ask == 101
    # A second buy finds only what was not taken.
    assert fills(h.submit(1002, BUY, 102, 100, tif=int(TimeInForce.IOC))) == [(1002, 102, 50, T)]
    # The recorded order 3 executes (someone else): what we took from it stops being hidden.
    h.execute(3, 100)
    assert 3 not in h.ex.consumed
    assert not h.ex.active or h.ex.consumed


def test_taken_liquidity_is_not_ahead_of_our_later_order() -> None:
    h = Harness()
    h.add(1, BUY, 100, 100)
    h.add(2, BUY, 100, 100)
    h.add(90, SELL, 105, 100)
    ups = h.submit(1001, SELL, 100, 150, tif=int(TimeInForce.IOC))
    assert fills(ups) == [(1001, 100, 100, T), (1001, 100, 50, T)]
    h.submit(1002, BUY, 100, 10)
    assert h.ex.queue_position(1002) == (50, 10)  # order 2's 50 not taken; order 1 hidden


def test_two_of_our_orders_at_one_level_queue_in_arrival_order() -> None:
    h = Harness()
    h.add(1, BUY, 100, 100)
    h.submit(1001, BUY, 100, 30)
    h.add(2, BUY, 100, 100)
    h.submit(1002, BUY, 100, 40)
    h.add(3, BUY, 100, 100)
    assert h.ex.queue_position(1001) == (100, 30)
    assert h.ex.queue_position(1002) == (230, 40)
    h.execute(1, 100)
    # Order 2 (between our two) executes: our first order was ahead of it.
    assert fills(h.execute(2, 50)) == [(1001, 100, 30, M)]
    # The record is unchanged: order 2 has 50 left, still ahead of our second order.
    assert h.ex.queue_position(1002) == (50, 40)
    # Order 3 (behind both) executes 70: what is still counted of order 2 first, then us.
    assert fills(h.execute(3, 70)) == [(1002, 100, 20, M)]


def test_cancelling_our_first_order_hands_its_queue_to_the_second() -> None:
    h = Harness()
    h.add(1, BUY, 100, 100)
    h.submit(1001, BUY, 100, 30)
    h.add(2, BUY, 100, 100)
    h.submit(1002, BUY, 100, 40)
    h.ex.cancel(1001, h.ts)
    assert [u.kind for u in h.drain()] == [UpdateKind.CANCELLED]
    assert h.ex.queue_position(1002) == (200, 40)
    h.delete(1)
    assert h.ex.queue_position(1002) == (100, 40)


def test_own_modify_keeps_place_on_decrease_and_loses_it_otherwise() -> None:
    h = Harness()
    h.add(1, BUY, 100, 100)
    h.submit(1001, BUY, 100, 50)
    h.add(2, BUY, 100, 100)
    h.ex.modify(1001, 0, 20, h.ts)
    ups = h.drain()
    assert [(u.kind, u.leaves_qty, u.qty) for u in ups] == [(UpdateKind.MODIFIED, 20, 20)]
    assert h.ex.queue_position(1001) == (100, 20)
    h.ex.modify(1001, 0, 60, h.ts)  # an increase: to the back, behind order 2
    h.drain()
    assert h.ex.queue_position(1001) == (200, 60)
    h.ex.modify(1001, 0, 60, h.ts)
    assert h.drain()[0].reason == RejectReason.MODIFY_NO_CHANGE


def test_clear_drops_everything_ahead() -> None:
    h = Harness()
    level_with_ahead(h)
    h.submit(1001, BUY, 100, 100)
    h.feed(MboClear(*h._stamp()))
    assert h.ex.queue_position(1001) == (0, 100)
    h.add(1, BUY, 100, 100)
    assert fills(h.execute(1, 10)) == [(1001, 100, 10, M)]


@pytest.mark.parametrize(
    ("tif", "post_only", "qty", "reason"),
    [
        (int(TimeInForce.FOK), False, 500, RejectReason.FOK_UNFILLABLE),
        (GTC, True, 10, RejectReason.POST_ONLY_WOULD_TAKE),
        (int(TimeInForce.IOC), True, 10, RejectReason.INVALID_POST_ONLY),
        (int(TimeInForce.GTD), False, 10, RejectReason.GTD_MISSING_EXPIRY),
        (GTC, False, 0, RejectReason.QTY_NOT_POSITIVE),
        (99, False, 10, RejectReason.INVALID_TIF),
    ],
)
def test_entry_rejects(tif: int, post_only: bool, qty: int, reason: RejectReason) -> None:
    h = Harness()
    h.add(1, SELL, 101, 100)
    ups = h.submit(1001, BUY, 101, qty, tif=tif, post_only=post_only)
    assert [(u.kind, u.reason) for u in ups] == [(UpdateKind.REJECTED, int(reason))]
    assert h.ex.consumed == {}


def test_fok_fills_whole_and_unknown_cancel_is_rejected() -> None:
    h = Harness()
    h.add(1, SELL, 101, 100)
    h.add(2, SELL, 102, 100)
    ups = h.submit(1001, BUY, 102, 150, tif=int(TimeInForce.FOK))
    assert fills(ups) == [(1001, 101, 100, T), (1001, 102, 50, T)]
    h.ex.cancel(1001, h.ts)
    assert h.drain()[0].reason == RejectReason.UNKNOWN_ORDER_ID
    h.submit(1002, BUY, 99, 10)
    assert h.submit(1002, BUY, 99, 10)[0].reason == RejectReason.DUPLICATE_ORDER_ID


def test_fees_maker_and_taker_in_ppm() -> None:
    h = Harness(FeeModel(maker_ppm=-20, taker_ppm=30))
    h.add(1, SELL, 10_000, 1000)
    h.add(90, BUY, 9_000, 1000)
    (taker,) = [u for u in h.submit(1001, BUY, 10_000, 500) if u.kind == UpdateKind.FILLED]
    assert (taker.fee, taker.liquidity) == (150, T)  # 5,000,000 tick-lots x 30 ppm
    h.submit(1002, BUY, 9_000, 500)
    h.execute(90, 1000)
    h.add(91, BUY, 9_000, 1000)
    (maker,) = [u for u in h.execute(91, 250) if u.kind == UpdateKind.FILLED]
    assert (maker.fee, maker.liquidity, maker.fill_qty) == (-45, M, 250)  # a rebate


def test_priority_keeping_rename_ahead_is_counted_once_for_a_later_order() -> None:
    h = Harness()
    level_with_ahead(h)
    h.submit(1001, BUY, 100, 50)
    h.modify(1, 100, 250, PRIORITY_KEEP_ON_DECREASE, new_id=11)  # keeps its place, renamed
    h.submit(1002, BUY, 100, 30)
    assert h.ex.queue_position(1001) == (950, 50)
    assert h.ex.queue_position(1002) == (1000, 30)  # 950 recorded + our 50 (11 not twice)
    h.execute(11, 250)
    h.execute(2, 200)
    h.execute(3, 500)
    h.add(9, BUY, 100, 100)
    assert fills(h.execute(9, 70)) == [(1001, 100, 50, M), (1002, 100, 20, M)]
