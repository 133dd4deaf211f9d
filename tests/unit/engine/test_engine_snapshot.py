"""Snapshots: capture, encode, restore, and identical behaviour afterwards."""

from __future__ import annotations

import msgspec
import pytest
from engine_kit import (
    BUY,
    DAY,
    GTD,
    SELL,
    T0,
    Harness,
    buy,
    cancel,
    end_session,
    failing_event,
    halt,
    instrument,
    market,
    mass_cancel,
    modify,
    replace,
    resume,
    sell,
    stop,
    stop_limit,
)

from whistle.engine import Whistle, decode_snapshot


def busy_engine() -> Harness:
    h = Harness(instrument(price_band_bps=500, reference_price_ticks=1_000))
    h.setup(
        buy(1, 990, 10, acct=1, display_qty_lots=3),
        buy(2, 990, 4, acct=2, tif=GTD, expire_ts_ns=T0 + 100),
        buy(3, 980, 6, acct=3, tif=DAY),
        sell(4, 1_010, 5, acct=4),
        sell(5, 1_020, 8, acct=5, display_qty_lots=2, stp=2),
        stop(6, BUY, 1_015, 3, acct=6),
        stop_limit(7, SELL, 985, 984, 2, acct=7, tif=GTD, expire_ts_ns=T0 + 200),
        sell(8, 990, 2, acct=8),  # trades with the iceberg: last 990, band moves
        modify(2, qty=3),
        buy(9, 1_000, 1, acct=9, post_only=True),
    )
    return h


def continuation():
    return [
        (buy(20, 1_020, 6, acct=20), T0 + 50),  # trades up to 1020, triggers stop 6
        (replace(3, 21, 985, 6), T0 + 60),
        (sell(22, 985, 9, acct=22), T0 + 70),  # may trigger the sell stop-limit
        (market(23, SELL, 2, acct=23), T0 + 100),  # GTD 2 expires first
        (cancel(1), T0 + 110),
        (end_session(), T0 + 120),
        (halt(), T0 + 130),
        (resume(), T0 + 140),
        (mass_cancel(), T0 + 250),
    ]


def test_restore_reproduces_every_view():
    h = busy_engine()
    snap = h.eng.snapshot()
    restored = Whistle.restore(snap)
    restored.validate_internal_state()
    assert restored.state_hash() == h.eng.state_hash() == snap.state_hash
    assert restored.depth(50) == h.eng.depth(50)
    assert restored.l3() == h.eng.l3()
    assert restored.status() == h.eng.status()
    assert restored.snapshot() == snap


def test_continuing_after_restore_gives_the_same_events():
    h = busy_engine()
    restored = Whistle.restore(decode_snapshot(h.eng.snapshot().encode()))
    enq = h.enq
    all_events = []
    for cmd, now in continuation():
        enq += 1
        a = h.eng.process(enq, cmd, now)
        b = restored.process(enq, cmd, now)
        assert a == b
        all_events.extend(a)
        assert restored.state_hash() == h.eng.state_hash()
    kinds = {type(e).__name__ for e in all_events}
    assert {"StopTriggered", "OrderExpired", "TradeOccurred", "OrderReplaced"} <= kinds


def test_encode_decode_round_trip():
    snap = busy_engine().eng.snapshot()
    data = snap.encode()
    assert isinstance(data, bytes)
    assert decode_snapshot(data) == snap
    assert len(snap.orders) == 8  # 6 resting + 2 parked stops
    assert [o.stop_pending for o in snap.orders][-2:] == [True, True]


def test_snapshot_with_queued_commands_is_refused():
    h = busy_engine()
    h.eng.enqueue(h.enq + 1, cancel(1))
    with pytest.raises(RuntimeError, match="snapshot needs an idle engine, 1 commands are queued"):
        h.eng.snapshot()
    h.eng.tick(T0)
    assert h.eng.snapshot().last_enq_seq == h.enq + 1


def test_version_mismatch_is_refused():
    snap = msgspec.structs.replace(busy_engine().eng.snapshot(), version=2)
    with pytest.raises(ValueError, match="snapshot version must be 1, was 2"):
        decode_snapshot(snap.encode())


def test_restore_keeps_halted_and_faulted_states():
    h = Harness()
    h.setup(buy(1, 100, 5), halt())
    restored = Whistle.restore(h.eng.snapshot())
    assert restored.status().state == 2
    assert restored.state_hash() == h.eng.state_hash()

    with failing_event("OrderCancelled"):
        h.send(cancel(1))
    restored = Whistle.restore(h.eng.snapshot())
    assert restored.status().fault == "RuntimeError: boom"
    assert restored.status().state == 3
    events = restored.process(h.enq + 1, buy(2, 100, 5), T0)
    assert [e.reason for e in events] == [2002]


def test_restored_engine_keeps_counters():
    h = busy_engine()
    restored = Whistle.restore(h.eng.snapshot())
    events = restored.process(h.enq + 1, sell(30, 990, 1, acct=30), T0)
    fill = events[1]
    assert fill.seq == h.seq + 2
    assert fill.trade_id == h.eng.status().trades + 1
    assert (fill.order_id, fill.side, fill.leaves_qty_lots) == (9, BUY, 0)
    assert events[-1].enq_seq == h.enq + 1
