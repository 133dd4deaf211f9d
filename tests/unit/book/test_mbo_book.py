"""MarketByOrderBook: queue order, priority rules, anomalies and policies, seeding, views."""

from __future__ import annotations

import pytest

import whistle.book.mbo as mbo
import whistle.core.mbo as core
from whistle.book.mbo import (
    CHANGED_BBO,
    CHANGED_BOOK,
    CHANGED_TRADE,
    MarketByOrderBook,
    MboAnomalyError,
)
from whistle.core.enums import Side
from whistle.core.mbo import (
    FLAG_LAST,
    FLAG_SYNTHETIC,
    NO_PRICE,
    PRIORITY_KEEP,
    PRIORITY_KEEP_ON_DECREASE,
    PRIORITY_LOSE,
    STATUS_HALT,
    TRADE_HIDDEN,
    MboAdd,
    MboCancel,
    MboClear,
    MboDelete,
    MboExecute,
    MboModify,
    MboStatus,
    MboTrade,
)

B, S = 1, 2
_seq = iter(range(1, 1_000_000))


def _h(ts: int = 10, flags: int = FLAG_LAST) -> tuple[int, int, int, int, int]:
    return (1, ts, 0, next(_seq), flags)


def add(oid: int, side: int, price: int, qty: int, ts: int = 10) -> MboAdd:
    return MboAdd(*_h(ts), oid, side, price, qty)


def cancel(oid: int, qty: int, side: int = 0, price: int = NO_PRICE) -> MboCancel:
    return MboCancel(*_h(), oid, qty, side, price)


def execute(oid: int, qty: int, price: int = NO_PRICE, side: int = 0) -> MboExecute:
    return MboExecute(*_h(), oid, qty, side, price, True, 0)


def modify(oid: int, price: int, qty: int, prio: int, new: int | None = None) -> MboModify:
    return MboModify(*_h(), oid, oid if new is None else new, 0, price, qty, prio)


def ids(book: MarketByOrderBook, side: int) -> list[tuple[int, list[int]]]:
    return [(p, [o.order_id for o in orders]) for p, orders in book.level_orders(side)]


def test_constants_are_the_core_values() -> None:
    assert (mbo.BUY, mbo.SELL) == (Side.BUY, Side.SELL)
    assert mbo.NO_PRICE == core.NO_PRICE
    assert (mbo.FLAG_LAST, mbo.FLAG_SYNTHETIC) == (core.FLAG_LAST, core.FLAG_SYNTHETIC)
    assert (mbo.PRIORITY_LOSE, mbo.PRIORITY_KEEP_ON_DECREASE, mbo.PRIORITY_KEEP) == (
        PRIORITY_LOSE,
        PRIORITY_KEEP_ON_DECREASE,
        PRIORITY_KEEP,
    )
    assert core.SIDE_NONE == 0


def test_queue_order_l1_mbp_and_l3() -> None:
    book = MarketByOrderBook(1, policy="strict")
    for e in [add(1, B, 100, 5), add(2, B, 100, 3), add(3, B, 99, 7), add(4, S, 101, 2)]:
        book.apply(e)
    assert book.bbo() == (100, 8, 2, 101, 2, 1)
    assert book.depth(1) == ([(100, 8, 2)], [(101, 2, 1)])
    assert book.depth() == ([(100, 8, 2), (99, 7, 1)], [(101, 2, 1)])
    assert ids(book, B) == [(100, [1, 2]), (99, [3])]
    assert book.queue_position(2) == (1, 5)
    assert book.queue_position(1) == (0, 0)
    assert book.queue_position(42) is None
    assert (book.best_bid, book.best_ask) == (100, 101)
    order = book.order(2)
    assert order is not None
    assert (order.side, order.price, order.qty, order.synthetic) == (B, 100, 3, False)
    book.validate_internal_state()


def test_cancel_execute_delete() -> None:
    book = MarketByOrderBook(policy="strict")
    book.apply(add(1, S, 101, 10))
    book.apply(add(2, S, 101, 4))
    assert book.apply(cancel(1, 3)) == CHANGED_BOOK | CHANGED_BBO
    assert book.apply(execute(1, 7)) == CHANGED_BOOK | CHANGED_BBO | CHANGED_TRADE
    assert book.order(1) is None
    assert (book.last_trade_price, book.last_trade_qty, book.volume) == (101, 7, 7)
    assert book.apply(MboDelete(*_h(), 2, 0, NO_PRICE)) == CHANGED_BOOK | CHANGED_BBO
    assert book.bbo() == (NO_PRICE, 0, 0, NO_PRICE, 0, 0)
    assert len(book) == 0
    assert book.anomaly_count == 0


def test_execution_at_its_own_price_counts_volume_and_notional() -> None:
    book = MarketByOrderBook()
    book.apply(add(1, B, 100, 10))
    book.apply(execute(1, 4, price=98))  # ITCH C: a price other than the order's
    book.apply(MboTrade(*_h(), 0, B, 99, 6, TRADE_HIDDEN, True, 0))
    book.apply(MboTrade(*_h(), 0, B, 99, 50, TRADE_HIDDEN, False, 0))  # not printable
    assert (book.volume, book.notional) == (10, 4 * 98 + 6 * 99)
    assert book.depth() == ([(100, 6, 1)], [])


@pytest.mark.parametrize(
    ("prio", "price", "qty", "queue"),
    [
        (PRIORITY_LOSE, 100, 2, [2, 3, 1]),  # ITCH / LOBSTER: always to the back
        (PRIORITY_KEEP_ON_DECREASE, 100, 2, [1, 2, 3]),  # smaller: keeps its place
        (PRIORITY_KEEP_ON_DECREASE, 100, 9, [2, 3, 1]),  # larger: loses it
        (PRIORITY_KEEP, 100, 9, [1, 2, 3]),  # keeps it whatever the size
        (PRIORITY_KEEP, 99, 2, [2, 3]),  # a new price always loses it
        (PRIORITY_KEEP_ON_DECREASE, NO_PRICE, 2, [1, 2, 3]),  # no price: the same one
    ],
)
def test_modify_follows_the_source_priority_rule(
    prio: int, price: int, qty: int, queue: list[int]
) -> None:
    book = MarketByOrderBook(policy="strict")
    for oid in (1, 2, 3):
        book.apply(add(oid, B, 100, 5))
    book.apply(modify(1, price, qty, prio))
    assert ids(book, B)[0] == (100, queue)
    o = book.order(1)
    assert o is not None
    assert o.qty == qty
    book.validate_internal_state()


def test_replace_with_a_new_id() -> None:
    book = MarketByOrderBook(policy="strict")
    book.apply(add(1, S, 101, 5))
    book.apply(add(2, S, 101, 5))
    changed = book.apply(modify(1, 102, 8, PRIORITY_LOSE, new=9))
    assert changed == CHANGED_BOOK | CHANGED_BBO
    assert book.order(1) is None
    assert ids(book, S) == [(101, [2]), (102, [9])]
    assert book.deltas() == [(S, 101, 5, 1), (S, 102, 8, 1)]
    # A rename that keeps priority keeps the place in the queue.
    book.apply(add(3, S, 101, 5))
    book.apply(modify(2, 101, 5, PRIORITY_KEEP, new=7))
    assert ids(book, S)[0] == (101, [7, 3])
    book.validate_internal_state()


def test_change_bits_and_deltas_are_cheap_and_exact() -> None:
    book = MarketByOrderBook()
    assert book.apply(add(1, B, 100, 5)) == CHANGED_BOOK | CHANGED_BBO
    assert book.apply(add(2, B, 99, 5)) == CHANGED_BOOK  # behind the touch: BBO unchanged
    assert book.deltas() == [(B, 99, 5, 1)]
    assert book.apply(cancel(2, 5)) == CHANGED_BOOK
    assert book.deltas() == [(B, 99, 0, 0)]  # the level is gone
    assert book.apply(MboStatus(*_h(), STATUS_HALT, "H")) == 0
    assert book.status == STATUS_HALT
    assert book.deltas() == []
    book.apply(add(3, S, 105, 1))
    assert book.apply(MboClear(*_h())) == CHANGED_BOOK | CHANGED_BBO
    assert book.deltas() == [(B, 100, 0, 0), (S, 105, 0, 0)]
    assert book.apply(MboClear(*_h())) == 0
    assert len(book) == 0


def test_lenient_counts_every_kind_of_bad_data_with_the_message_index() -> None:
    book = MarketByOrderBook(max_logged=4)
    book.apply(MboAdd(1, 50, 0, 7, FLAG_LAST, 1, B, 100, 5))
    book.apply(MboCancel(1, 60, 0, 8, FLAG_LAST, 99, 1, 0, NO_PRICE))  # unknown order
    book.apply(MboExecute(1, 40, 0, 9, FLAG_LAST, 1, 9, 0, NO_PRICE, True, 0))  # 9 > 5, ts back
    book.apply(MboAdd(1, 70, 0, 0, FLAG_LAST, 2, 0, 100, 5))  # no side; no sequence
    book.apply(MboAdd(1, 70, 0, 11, FLAG_LAST, 3, S, 100, 5))
    book.apply(MboAdd(1, 70, 0, 12, FLAG_LAST, 3, S, 100, 5))  # duplicate id
    assert book.anomalies == {
        "unknown_order": 1,
        "time_reversal": 1,
        "negative_qty": 1,
        "bad_order": 1,
        "duplicate_order": 1,
    }
    assert book.anomaly_log == [
        (8, "unknown_order", "cancel of order 99, not in the book"),
        (9, "time_reversal", "ts_ns 40 < previous 60"),
        (9, "negative_qty", "execution of 9 on order 1 with 5 left"),
        (4, "bad_order", "add of order 2: side 0, price 100, qty 5"),  # the book's count
    ]
    assert book.anomaly_count == 5
    assert book.order(1) is None  # over-executed: gone
    book.validate_internal_state()


def test_a_crossed_book_is_counted_once_per_crossing_and_only_when_complete() -> None:
    book = MarketByOrderBook()
    book.apply(add(1, B, 100, 5))
    book.apply(MboAdd(*_h(flags=0), 2, S, 99, 5))  # mid-event (no FLAG_LAST): not judged
    assert book.anomalies == {}
    book.apply(add(3, S, 99, 1))
    book.apply(add(4, S, 98, 1))  # still the same crossing
    assert book.anomalies == {"crossed_book": 1}
    for oid in (2, 3, 4):
        book.apply(cancel(oid, 10))
    book.apply(add(5, S, 100, 1))  # locked: crossed again
    assert book.anomalies == {"crossed_book": 2, "negative_qty": 3}
    assert book.crossed


def test_strict_raises_naming_the_message_before_changing_the_book() -> None:
    book = MarketByOrderBook(policy="strict")
    book.apply(MboAdd(1, 5, 0, 41, FLAG_LAST, 1, B, 100, 5))
    with pytest.raises(MboAnomalyError, match=r"^message 42: unknown_order: delete of order 7"):
        book.apply(MboDelete(1, 5, 0, 42, FLAG_LAST, 7, 0, NO_PRICE))
    with pytest.raises(MboAnomalyError) as info:
        book.apply(MboCancel(1, 6, 0, 43, FLAG_LAST, 1, 6, 0, NO_PRICE))
    assert (info.value.index, info.value.kind) == (43, "negative_qty")
    assert book.depth() == ([(100, 5, 1)], [])
    with pytest.raises(MboAnomalyError, match="time_reversal"):
        book.apply(MboAdd(1, 1, 0, 44, FLAG_LAST, 2, B, 100, 5))
    with pytest.raises(MboAnomalyError, match="message 45: crossed_book"):
        book.apply(MboAdd(1, 9, 0, 45, FLAG_LAST, 3, S, 99, 5))
    with pytest.raises(ValueError, match="policy must be 'lenient' or 'strict'"):
        MarketByOrderBook(policy="loose")


def test_seed_from_depth_puts_synthetic_orders_at_the_back() -> None:
    book = MarketByOrderBook(policy="strict")
    book.apply(add(1, B, 100, 5))
    made = book.seed_depth([(100, 20), (99, 7), (98, 0)], [(101, 3)])
    assert len(made) == 3
    assert all(i < 0 for i in made)
    assert ids(book, B) == [(100, [1, made[0]]), (99, [made[1]])]
    seed = book.order(made[0])
    assert seed is not None
    assert seed.synthetic
    assert seed.flags & FLAG_SYNTHETIC
    assert book.depth() == ([(100, 25, 2), (99, 7, 1)], [(101, 3, 1)])
    # A cancel / execution of an id the book never saw, where the source gives side and
    # price, comes off the synthetic order there.
    book.apply(cancel(777, 6, side=B, price=99))
    book.apply(execute(778, 2, price=101, side=S))
    assert book.depth() == ([(100, 25, 2), (99, 1, 1)], [(101, 1, 1)])
    assert book.synthetic_hits == 2
    assert book.anomalies == {}
    book.validate_internal_state()


def test_set_level_reconciles_a_level_with_synthetic_orders() -> None:
    book = MarketByOrderBook(policy="strict")
    book.apply(add(1, S, 101, 5))
    assert book.set_level(S, 101, 9) == 4
    assert book.depth() == ([], [(101, 9, 2)])
    assert book.set_level(S, 101, 3) == -6  # the seed goes, then the real order shrinks
    assert ids(book, S) == [(101, [1])]
    assert book.depth() == ([], [(101, 3, 1)])
    assert book.set_level(B, 99, 4) == 4
    assert book.set_level(B, 99, 0) == -4
    assert book.depth() == ([], [(101, 3, 1)])
    book.validate_internal_state()


def test_load_snapshot_replaces_the_book_in_queue_order() -> None:
    book = MarketByOrderBook(policy="strict")
    book.apply(add(1, B, 100, 5))
    book.load_snapshot([add(7, S, 101, 2), add(8, S, 101, 3), add(9, B, 99, 1)])
    assert ids(book, S) == [(101, [7, 8])]
    assert ids(book, B) == [(99, [9])]
    assert book.order(1) is None
    book.validate_internal_state()


def test_validate_internal_state_finds_a_broken_book() -> None:
    book = MarketByOrderBook()
    book.apply(add(1, B, 100, 5))
    book.apply(add(2, B, 100, 5))
    level = book.bids.levels[-100]
    level.qty += 1
    with pytest.raises(AssertionError, match="totals do not match"):
        book.validate_internal_state()
    level.qty -= 1
    book.where[3] = book.where.pop(2)
    with pytest.raises(AssertionError, match="not in the id map"):
        book.validate_internal_state()


def test_orders_view_gives_order_snapshots() -> None:
    book = MarketByOrderBook(policy="strict")
    book.apply(add(1, B, 100, 5))
    book.apply(add(2, B, 100, 7))
    view = book.orders
    assert len(view) == 2
    assert 2 in view
    assert 3 not in view
    assert list(view) == [1, 2]
    o = view.get(2)
    assert o is not None
    assert (o.order_id, o.side, o.price, o.qty) == (2, B, 100, 7)  # the order's, not the level's
    assert view[1].qty == 5
    assert view.get(3) is None
    with pytest.raises(KeyError):
        view[3]
