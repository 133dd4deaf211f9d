"""Tick-bounded processing: enq_seq order, process == enqueue + tick, clock checks."""

from __future__ import annotations

import pytest
from engine_kit import (
    BUY,
    GTD,
    SELL,
    T0,
    Harness,
    brief,
    buy,
    cancel,
    instrument,
    modify,
    sell,
    stop,
    trade,
)

from whistle.engine import Whistle


def script():
    """(enq_seq, command, now) steps touching expiry, stops, trades and cancels."""
    return [
        (1, buy(1, 100, 5, tif=GTD, expire_ts_ns=T0 + 20), T0),
        (2, sell(2, 102, 5), T0),
        (3, stop(3, BUY, 102, 2), T0 + 5),
        (5, buy(4, 102, 1), T0 + 5),
        (6, sell(5, 104, 3), T0 + 10),
        (8, modify(5, qty=2), T0 + 20),
        (9, cancel(2), T0 + 30),
        (10, sell(6, 99, 9), T0 + 30),
    ]


def test_process_and_enqueue_tick_give_identical_events():
    direct = Whistle(instrument())
    queued = Whistle(instrument())
    for enq_seq, cmd, now in script():
        a = direct.process(enq_seq, cmd, now)
        queued.enqueue(enq_seq, cmd)
        b = queued.tick(now)
        assert a == b
        assert a
    assert direct.state_hash() == queued.state_hash()


def test_commands_run_in_enq_seq_order_whatever_the_enqueue_order():
    h = Harness()
    eng = h.eng
    eng.enqueue(3, buy(3, 100, 2))
    eng.enqueue(1, sell(1, 100, 5))
    eng.enqueue(2, buy(2, 100, 1))
    assert eng.pending == 3
    events = eng.tick(T0)
    assert eng.pending == 0
    assert [e.enq_seq for e in events] == [1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3]
    assert brief(events) == [
        ("acc", 1),
        ("lvl", SELL, 100, 5, 1),
        ("bbo", 0, 0, 100, 5),
        ("acc", 2),
        *trade(1, 100, 1, maker=1, taker=2, aggressor=BUY, maker_leaves=4, taker_leaves=0),
        ("lvl", SELL, 100, 4, 1),
        ("bbo", 0, 0, 100, 4),
        ("acc", 3),
        *trade(2, 100, 2, maker=1, taker=3, aggressor=BUY, maker_leaves=2, taker_leaves=0),
        ("lvl", SELL, 100, 2, 1),
        ("bbo", 0, 0, 100, 2),
    ]
    assert [e.seq for e in events] == list(range(1, 16))
    assert eng.status().last_enq_seq == 3


def test_gtd_expiry_comes_before_the_ticks_commands():
    h = Harness()
    h.setup(buy(1, 100, 5, tif=GTD, expire_ts_ns=T0 + 10))
    h.eng.enqueue(5, sell(2, 100, 5))
    events = h.tick(T0 + 10)
    assert [(e.enq_seq, brief([e])[0][0]) for e in events] == [
        (0, "exp"),
        (0, "lvl"),
        (0, "bbo"),
        (5, "acc"),
        (5, "lvl"),
        (5, "bbo"),
    ]


def test_process_with_commands_queued_joins_the_queue():
    eng = Whistle(instrument())
    eng.enqueue(2, buy(2, 100, 1))
    events = eng.process(1, sell(1, 100, 1), T0)
    assert [e.enq_seq for e in events][:3] == [1, 1, 1]
    assert eng.pending == 0
    assert eng.status().trades == 1


def test_stale_or_duplicate_enq_seq_is_refused():
    eng = Whistle(instrument())
    eng.process(5, buy(1, 100, 1), T0)
    message = "enq_seq must be greater than the last processed 5, was 5"
    with pytest.raises(ValueError, match=message):
        eng.enqueue(5, buy(2, 100, 1))
    with pytest.raises(ValueError, match="last processed 5, was 3"):
        eng.enqueue(3, buy(2, 100, 1))
    with pytest.raises(ValueError, match="last processed 5, was 4"):
        eng.process(4, buy(2, 100, 1), T0)
    eng.enqueue(9, buy(2, 100, 1))
    eng.enqueue(7, buy(3, 100, 1))
    with pytest.raises(ValueError, match="enq_seq 7 is already queued"):
        eng.enqueue(7, buy(4, 100, 1))
    with pytest.raises(ValueError, match="enq_seq 9 is already queued"):
        eng.enqueue(9, buy(4, 100, 1))
    assert eng.pending == 2


def test_time_must_not_go_backwards():
    eng = Whistle(instrument())
    eng.process(1, buy(1, 100, 1), T0)
    with pytest.raises(ValueError, match=f"now is {T0}, was given {T0 - 1}"):
        eng.tick(T0 - 1)
    with pytest.raises(ValueError, match="time must not go backwards"):
        eng.process(2, buy(2, 100, 1), T0 - 1)
    assert eng.status().now_ns == T0
    assert eng.tick(T0) == []
    assert eng.process(2, buy(2, 100, 1), T0)[0].enq_seq == 2


def test_empty_tick_advances_the_clock_only():
    eng = Whistle(instrument())
    before = eng.state_hash()
    assert eng.tick(T0 + 7) == []
    assert eng.status().now_ns == T0 + 7
    assert eng.state_hash() == before
