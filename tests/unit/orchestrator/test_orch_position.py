"""PositionManager: every snapshot consistent while another thread keeps changing it."""

from __future__ import annotations

import threading

from whistle.core.enums import Side
from whistle.orchestrator.position import PositionManager


def test_counts_fills_orders_and_pnl() -> None:
    pm = PositionManager("X")
    pm.opened(1, Side.BUY, 100, 5)
    pm.fill(Side.BUY, 100, 2, 1, client_order_id=1)
    snap = pm.snapshot()
    assert (snap.position, snap.cash, snap.fees, snap.fills) == (2, -200, 1, 1)
    assert [(s.client_order_id, s.leaves_qty) for s in snap.slots] == [(1, 3)]
    pm.fill(Side.SELL, 105, 2, 1)
    pm.closed(1)
    snap = pm.snapshot()
    assert snap.position == 0
    assert snap.pnl() == 10 - 2
    assert snap.slots == ()
    assert snap.consistent()


def test_snapshots_are_consistent_under_contention() -> None:
    pm = PositionManager("X")
    stop = threading.Event()
    bad: list[object] = []
    taken = [0]

    def writer() -> None:
        coid = 0
        while not stop.is_set():
            coid += 1
            pm.opened(coid, Side.BUY, 100 + coid % 7, 3)
            pm.fill(Side.BUY, 100 + coid % 7, 3, 0, client_order_id=coid)
            pm.fill(Side.SELL, 101, 1, 0)
            if coid >= 4_000:
                stop.set()

    def reader() -> None:
        while not stop.is_set():
            snap = pm.snapshot()
            taken[0] += 1
            if not snap.consistent() or any(s.leaves_qty <= 0 for s in snap.slots):
                bad.append(snap)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    writer()
    for t in threads:
        t.join()
    assert bad == []
    assert taken[0] > 0
    final = pm.snapshot()
    assert final.position == 4_000 * 2
    assert final.slots == ()
