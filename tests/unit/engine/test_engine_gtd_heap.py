"""The GTD expiry heap stays bounded by the live GTD orders; expiry behaviour is unchanged.

Issue 7 item 10: cancelled or filled GTD orders used to stay in the heap until their expiry
(2M GTD commands left 460,766 stale entries for 3,230 live orders). The heap is now
compacted by the price heaps' rule: when stale entries outnumber live ones (plus a margin).
These tests count entries, not memory.
"""

from __future__ import annotations

import random

from engine_kit import (
    BUY,
    EXPIRED,
    GTD,
    SELL,
    Harness,
    brief,
    buy,
    cancel,
    modify,
    replace,
    sell,
    stop,
)

from whistle.engine import Whistle

FAR = 10**15


def heap_size(h: Harness) -> int:
    return len(h.eng.book.gtd_heap)


def live_gtd(h: Harness) -> int:
    return sum(1 for o in h.eng.book.orders.values() if o.tif == GTD)


def test_cancelled_gtd_orders_do_not_pile_up():
    h = Harness()
    for i in range(1, 20_001):
        h.send(buy(i, 100 + i % 7, 1, tif=GTD, expire_ts_ns=FAR + i))
        h.send(cancel(i))
    assert live_gtd(h) == 0
    # Before the fix: 20,000 entries. Now at most the margin.
    assert heap_size(h) <= 65


def test_filled_gtd_orders_do_not_pile_up():
    h = Harness()
    for i in range(1, 5_001):
        h.send(sell(2 * i, 100, 3, tif=GTD, expire_ts_ns=FAR))
        h.send(buy(2 * i + 1, 100, 3))  # fills the GTD maker completely
    assert live_gtd(h) == 0
    assert heap_size(h) <= 65


def test_a_gtd_taker_that_fills_at_once_is_never_scheduled():
    h = Harness()
    h.setup(sell(1, 100, 5))
    h.send(buy(2, 100, 5, tif=GTD, expire_ts_ns=FAR))
    assert heap_size(h) == 0


def test_heap_bounded_by_live_orders_under_random_churn():
    rnd = random.Random(7)
    h = Harness()
    live: list[int] = []
    oid = 0
    biggest = 0
    most_live = 0
    for _ in range(6_000):
        r = rnd.random()
        if r < 0.5 or not live:
            oid += 1
            side = buy if rnd.random() < 0.5 else sell
            price = 100 + rnd.randint(1, 5) if side is sell else 100 - rnd.randint(0, 4)
            h.send(side(oid, price, rnd.randint(1, 4), tif=GTD, expire_ts_ns=FAR + oid))
            live.append(oid)
        elif r < 0.8:
            victim = live.pop(rnd.randrange(len(live)))
            h.send(cancel(victim))
        else:
            # An aggressive IOC that eats GTD makers.
            oid += 1
            h.send(buy(oid, 106, rnd.randint(1, 8), tif=2))
        live = [o for o in live if o in h.eng.book.orders]
        n = live_gtd(h)
        assert heap_size(h) <= 2 * n + 65, (heap_size(h), n)  # also checked by validate
        biggest = max(biggest, heap_size(h))
        most_live = max(most_live, n)
    # Thousands of GTD orders entered over the run, a few dozen live at a time: the heap
    # never held more than twice the most live orders plus the margin.
    assert oid > 2_500
    assert most_live < 200
    assert biggest <= 2 * most_live + 65


def test_expiry_order_and_events_unchanged_after_compaction():
    # Enough churn to force several compactions, then every survivor expires in
    # (expiry, arrival) order, each exactly once, at its expiry time.
    h = Harness()
    expiries = {}
    for i in range(1, 3_001):
        exp = 5_000 + (i * 7919) % 1_000  # many equal expiries: ties by arrival
        h.send(buy(i, 50 + i % 13, 1 + i % 3, tif=GTD, expire_ts_ns=exp))
        expiries[i] = exp
        if i % 4:
            h.send(cancel(i))
            del expiries[i]
    assert heap_size(h) <= 2 * len(expiries) + 65
    events = brief(h.tick(10_000))
    expired = [e[1] for e in events if e[0] == "exp"]
    want = sorted(expiries, key=lambda oid: (expiries[oid], oid))
    assert expired == want
    assert heap_size(h) == 0
    assert h.eng.book.gtd_live == 0


def test_expiry_at_due_time_only_and_leaves_reported():
    h = Harness()
    h.setup(
        buy(1, 100, 5, tif=GTD, expire_ts_ns=2_000),
        sell(2, 101, 4, tif=GTD, expire_ts_ns=3_000),
        stop(3, BUY, 150, 2, tif=GTD, expire_ts_ns=2_500),
    )
    assert brief(h.tick(1_999)) == []
    assert brief(h.tick(2_000)) == [
        ("exp", 1, 5),
        ("lvl", BUY, 100, 0, 0),
        ("bbo", 0, 0, 101, 4),
    ]
    assert brief(h.tick(2_600)) == [("exp", 3, 2)]
    assert brief(h.tick(3_000)) == [
        ("exp", 2, 4),
        ("lvl", SELL, 101, 0, 0),
        ("bbo", 0, 0, 0, 0),
    ]
    assert EXPIRED == 4


def test_modified_and_replaced_gtd_orders_expire_once():
    h = Harness()
    h.setup(buy(1, 100, 5, tif=GTD, expire_ts_ns=2_000))
    h.send(modify(1, price=99))  # reprice: same order, same expiry entry
    h.send(replace(1, 2, 98, 3))  # new order, scheduled anew
    assert h.eng.book.gtd_live == 1
    events = brief(h.tick(2_000))
    assert [e for e in events if e[0] == "exp"] == [("exp", 2, 3)]


def test_snapshot_restore_keeps_the_live_count():
    h = Harness()
    for i in range(1, 200):
        h.send(buy(i, 100, 1, tif=GTD, expire_ts_ns=FAR))
        if i % 2:
            h.send(cancel(i))
    restored = Whistle.restore(h.eng.snapshot())
    assert restored.book.gtd_live == h.eng.book.gtd_live == 99
    assert len(restored.book.gtd_heap) == 99
    restored.validate_internal_state()
