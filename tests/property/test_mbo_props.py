"""MarketByOrderBook against the simple reference (tests/mbo_reference.py).

Random streams of adds, modifies (every priority rule, renames, unknown ids), partial
cancels, deletes, executions (over-sized ones included), clears, trades, status changes and
timestamps that sometimes go backwards go through both books; after every event the depth
(every level), each level's queue in order, the anomaly counts and the structural
invariants must agree, and the change bits / deltas must describe what changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import given
from hypothesis import strategies as st

from mbo_reference import ReferenceMboBook
from property.strategies import PROFILE
from whistle.book.mbo import CHANGED_BBO, CHANGED_BOOK, MarketByOrderBook
from whistle.core.mbo import (
    FLAG_LAST,
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

if TYPE_CHECKING:
    from whistle.core.mbo import MboEvent

IDS = st.integers(1, 14)
PRICES = st.integers(96, 104)
QTYS = st.integers(1, 9)


@st.composite
def events(draw: st.DrawFn) -> list[MboEvent]:
    out: list[MboEvent] = []
    ts = 0
    for seq in range(1, draw(st.integers(1, 80)) + 1):
        ts += draw(st.sampled_from([0, 1, 5, 5, 5, -3]))  # sometimes backwards
        head = (7, ts, 0, seq, FLAG_LAST)
        kind = draw(
            st.sampled_from(
                ["add"] * 6
                + ["cancel", "delete", "execute", "modify", "modify"]
                + ["clear", "trade", "status"]
            )
        )
        oid = draw(IDS)
        if kind == "add":
            side = draw(st.sampled_from([1, 2, 1, 2, 0]))
            qty = draw(st.sampled_from([1, 2, 3, 5, 8, 0]))
            out.append(MboAdd(*head, oid, side, draw(PRICES), qty))
        elif kind == "cancel":
            out.append(MboCancel(*head, oid, draw(st.integers(0, 10)), 0, NO_PRICE))
        elif kind == "delete":
            out.append(MboDelete(*head, oid, 0, NO_PRICE))
        elif kind == "execute":
            price = draw(st.sampled_from([NO_PRICE, 100]))
            out.append(MboExecute(*head, oid, draw(st.integers(1, 10)), 0, price, True, seq))
        elif kind == "modify":
            new = draw(st.sampled_from([oid, oid, draw(IDS)]))
            price = draw(st.one_of(st.just(NO_PRICE), PRICES))
            qty = draw(st.integers(0, 10))
            prio = draw(st.sampled_from([PRIORITY_LOSE, PRIORITY_KEEP_ON_DECREASE, PRIORITY_KEEP]))
            side = draw(st.sampled_from([0, 1, 2]))
            out.append(MboModify(*head, oid, new, side, price, qty, prio))
        elif kind == "clear":
            if draw(st.integers(0, 3)) == 0:
                out.append(MboClear(*head))
        elif kind == "trade":
            out.append(MboTrade(*head, 0, 1, draw(PRICES), draw(QTYS), TRADE_HIDDEN, True, 0))
        else:
            out.append(MboStatus(*head, STATUS_HALT, "H"))
    return out


def _queues(book: MarketByOrderBook, side: int) -> list[tuple[int, list[int]]]:
    return [(p, [o.order_id for o in orders]) for p, orders in book.level_orders(side)]


@PROFILE
@given(events())
def test_book_equals_reference_after_every_event(stream: list[MboEvent]) -> None:
    book = MarketByOrderBook(7)
    ref = ReferenceMboBook()
    for i, e in enumerate(stream):
        before_depth = book.depth(1000)
        before_bbo = book.bbo()
        changed = book.apply(e)
        ref.apply(e)
        book.validate_internal_state()
        depth = book.depth(1000)
        assert depth == ref.depth(), f"event {i}: {e}"
        assert _queues(book, 1) == ref.queues(1), f"event {i}: {e}"
        assert _queues(book, 2) == ref.queues(2), f"event {i}: {e}"
        assert book.anomalies == ref.anomalies, f"event {i}: {e}"
        assert len(book) == len(ref.orders)
        # Change bits: never missing (a spurious bit only when the best level was
        # rebuilt to the same totals).
        if book.bbo() != before_bbo:
            assert changed & CHANGED_BBO, f"event {i}: BBO changed without CHANGED_BBO"
        if depth != before_depth:
            assert changed & CHANGED_BOOK, f"event {i}: depth changed without CHANGED_BOOK"
        # Deltas: every level whose (qty, count) changed is reported with its new state.
        deltas = {(s, p): (q, c) for s, p, q, c in book.deltas()}
        for side, old, new in ((1, before_depth[0], depth[0]), (2, before_depth[1], depth[1])):
            was = {p: (q, c) for p, q, c in old}
            now = {p: (q, c) for p, q, c in new}
            for price in set(was) | set(now):
                if was.get(price) != now.get(price):
                    assert deltas.get((side, price)) == now.get(price, (0, 0)), (
                        f"event {i}: level {side}/{price} changed, deltas {deltas}"
                    )
        for (side, price), state in deltas.items():
            now = {p: (q, c) for p, q, c in depth[side - 1]}
            assert now.get(price, (0, 0)) == state


@PROFILE
@given(events())
def test_queue_position_matches_the_reference_queue(stream: list[MboEvent]) -> None:
    book = MarketByOrderBook(7)
    ref = ReferenceMboBook()
    for e in stream:
        book.apply(e)
        ref.apply(e)
    for side in (1, 2):
        for _, ids in ref.queues(side):
            for k, oid in enumerate(ids):
                ahead_qty = sum(ref.orders[a][2] for a in ids[:k])
                assert book.queue_position(oid) == (k, ahead_qty)
