"""The book's building blocks: Level FIFOs, BookSide best-level tracking, OrderBook views."""

from __future__ import annotations

from whistle.book import INF_KEY, BookSide, Level, Order, OrderBook
from whistle.core import Instrument, NewOrder


def order(oid, qty=5, price=100, side=1):
    return Order(oid, 1, side, 1, 1, price, qty, 0, 0, False, 0, 0, 0, oid)


def test_level_is_a_fifo_with_totals():
    level = Level(100)
    a, b, c = order(1, 5), order(2, 3), order(3, 2)
    for o in (a, b, c):
        level.append(o)
    assert [o.order_id for o in level.orders()] == [1, 2, 3]
    assert (level.qty, level.count) == (10, 3)
    level.unlink(b)
    assert [o.order_id for o in level.orders()] == [1, 3]
    assert (level.qty, level.count) == (7, 2)
    assert (b.level, b.prev, b.next) == (None, None, None)
    level.unlink(a)
    level.append(a)
    assert [o.order_id for o in level.orders()] == [3, 1]
    assert level.head is c
    assert level.tail is a
    level.unlink(c)
    level.unlink(a)
    assert level.orders() == []
    assert (level.qty, level.count, level.head, level.tail) == (0, 0, None, None)


def test_order_leaves_counts_the_reserve():
    o = order(1, 3)
    o.hidden = 7
    assert o.leaves == 10
    assert "qty=3, hidden=7" in repr(o)


def test_book_side_tracks_the_best_key():
    side = BookSide(2)
    assert side.best == INF_KEY
    side.level_for(105, 105)
    side.level_for(103, 103)
    side.level_for(107, 107)
    assert side.best == 103
    assert side.sorted_keys() == [103, 105, 107]
    assert side.sorted_keys(2) == [103, 105]
    side.drop_level(105)  # not the best: best unchanged
    assert side.best == 103
    side.drop_level(103)
    assert side.best == 107
    side.drop_level(107)
    assert side.best == INF_KEY
    assert side.level_for(110, 110) is side.level_for(110, 110)


def test_book_side_survives_many_levels_coming_and_going():
    side = BookSide(2)
    for round_ in range(5):
        for k in range(200):
            side.level_for(1_000 + k, 1_000 + k)
        for k in range(199):
            side.drop_level(1_000 + k)
        assert side.best == 1_199
        side.drop_level(1_199)
        assert side.best == INF_KEY, round_
    assert len(side.heap) <= 2 * len(side.levels) + 64 + 200


def test_order_book_views_after_direct_commands():
    inst = Instrument(symbol="B")
    book = OrderBook(inst)
    sid = inst.symbol_id
    book.new_order(NewOrder(sid, 1, 1, 1, 1, 1, 100, 5))
    book.new_order(NewOrder(sid, 2, 1, 2, 1, 1, 102, 4, display_qty_lots=1))
    book.new_order(NewOrder(sid, 3, 1, 1, 1, 1, 99, 2))
    assert (book.best_bid, book.best_ask) == (100, 102)
    assert book.depth(1) == ([(100, 5, 1)], [(102, 1, 1)])
    assert book.depth(5) == ([(100, 5, 1), (99, 2, 1)], [(102, 1, 1)])
    assert [(p, [o.order_id for o in os]) for p, os in book.level_orders(1)] == [
        (100, [1]),
        (99, [3]),
    ]
    assert [e.seq for e in book.out] == list(range(1, len(book.out) + 1))
    book.validate_internal_state()


def test_empty_book_reports_zero_prices():
    book = OrderBook(Instrument(symbol="B"))
    assert (book.best_bid, book.best_ask) == (0, 0)
    assert book.depth(3) == ([], [])
    assert book.stops() == []
    book.validate_internal_state()
