"""The embedded venue's fast lane (whistle.coord.venue.lane): the edge it applies is never
looser than ``command_error``, and the counters it keeps between calls are settled before
anything can look, so every reader sees what the general path leaves."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_venue_fastpath import SYMBOLS, drive_api_calls, make_venue, state, stream

from whistle.coord import Venue
from whistle.coord.venue.lane import Lane, edge_ok
from whistle.core.commands import CancelOrder, ModifyOrder, NewOrder, command_error
from whistle.core.enums import OrderType, Side, StpMode, TimeInForce
from whistle.core.events import OrderAccepted, OrderRejected
from whistle.core.limits import (
    MAX_ACCOUNT,
    MAX_CLIENT_ORDER_ID,
    MAX_ORDER_ID,
    MAX_PRICE_TICKS,
    MAX_QTY_LOTS,
    MAX_SYMBOL_ID,
    MAX_TS_NS,
)

_EDGES = [
    0, 1, 2, 3, 4, 5, -1, 2**31, 2**63, -(2**63), MAX_ORDER_ID, MAX_ORDER_ID + 1, MAX_ACCOUNT,
    MAX_ACCOUNT + 1, MAX_PRICE_TICKS, MAX_PRICE_TICKS + 1, -MAX_PRICE_TICKS,
    -MAX_PRICE_TICKS - 1, MAX_QTY_LOTS, MAX_QTY_LOTS + 1, -MAX_QTY_LOTS - 1, MAX_SYMBOL_ID,
    MAX_SYMBOL_ID + 1, MAX_TS_NS, MAX_TS_NS + 1, MAX_CLIENT_ORDER_ID, MAX_CLIENT_ORDER_ID + 1,
]  # fmt: skip
_HOSTILE: list[Any] = [
    True, False, 1.0, 0.5, "1", "buy", None, b"1", Side.BUY, OrderType.LIMIT, StpMode.NONE,
    TimeInForce.IOC, 10**30, [1],
]  # fmt: skip
values = st.one_of(st.sampled_from(_EDGES), st.sampled_from(_HOSTILE), st.integers())


@settings(max_examples=600, deadline=None)
@given(st.lists(values, min_size=15, max_size=15), st.sampled_from(["new", "cancel", "modify"]))
def test_the_lane_never_takes_what_the_edge_refuses(fields: list[Any], kind: str) -> None:
    if kind == "new":
        command: Any = NewOrder(*fields)
    elif kind == "cancel":
        command = CancelOrder(*fields[:3])
    else:
        command = ModifyOrder(*fields[:5])
    if edge_ok(command):
        assert command_error(command) is None
        assert kind != "new" or command.client_order_id == 0  # a key goes through its gate


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 10**6),
    st.integers(0, 1000),
    st.sampled_from([1, 2]),
    st.sampled_from([1, 2]),
    st.sampled_from([1, 2, 3, 4]),
    st.integers(-(10**6), 10**6),
    st.integers(0, 10**6),
)
def test_the_lane_takes_the_plain_commands_the_edge_accepts(
    sid: int, oid: int, acct: int, side: int, ot: int, tif: int, price: int, qty: int
) -> None:
    # Not stricter either, for what users send: plain ints, no client order id.
    for command in (
        NewOrder(sid, oid, acct, side, ot, tif, price, qty),
        CancelOrder(sid, oid),
        CancelOrder(sid, oid, acct),
        ModifyOrder(sid, oid, price, qty),
        ModifyOrder(sid, oid, price, qty, acct),
    ):
        assert edge_ok(command) == (command_error(command) is None), command


def test_an_embedded_venue_binds_the_lane_and_others_do_not(tmp_path) -> None:
    venue = Venue()
    assert isinstance(venue._lane, Lane)
    assert venue.submit == venue._lane.submit
    assert venue.send_many == venue._lane.send_many
    venue.stop()
    journaled = Venue(data_dir=tmp_path / "d")
    assert journaled._lane is None
    assert journaled.submit.__func__ is Venue.submit  # type: ignore[attr-defined]
    journaled.stop()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_state_read_at_any_point_is_the_general_paths(seed: int) -> None:
    # The same stream through the lane and through the general path; the whole state is
    # compared at random points, so the lane settles after runs of every length (and
    # after single commands), across symbol switches, fallbacks and clock moves.
    ops = stream(1_500, seed=seed)
    fast = make_venue(None)
    general = make_venue(None, general=True)
    rng = random.Random(seed)
    i = 0
    while i < len(ops):
        step = rng.choice([1, 1, 2, 5, 17, 60])
        chunk = ops[i : i + step]
        assert drive_api_calls(fast, chunk) == drive_api_calls(general, chunk), i
        assert state(fast) == state(general), i
        i += step
    fast.stop()
    general.stop()


def test_a_subscriber_added_after_lane_calls_sees_only_later_events() -> None:
    venue = make_venue(None)
    venue.submit("AAA", "buy", price_ticks=100, qty_lots=5)
    venue.submit("AAA", "buy", price_ticks=101, qty_lots=5)
    seen: list[Any] = []
    venue.subscribe(seen.append)
    assert venue.enq_seq == 2
    events = venue.submit("AAA", "sell", price_ticks=101, qty_lots=2)
    assert seen == events
    assert events[0].enq_seq == 3
    venue.stop()


def test_enqueue_and_tick_after_lane_calls_continue_the_sequence() -> None:
    venue = make_venue(None)
    sid = venue.instrument("AAA").symbol_id
    for i in range(5):
        venue.submit("AAA", "buy", price_ticks=100 - i, qty_lots=1)
    assert venue.enqueue(NewOrder(sid, 50, 0, 1, 1, 1, 90, 1)) == 6
    (accepted,) = [e for e in venue.tick() if isinstance(e, OrderAccepted)]
    assert accepted.enq_seq == 6
    assert venue.next_order_id("AAA") == 51
    (after,) = [e for e in venue.submit("AAA", "buy", price_ticks=89, qty_lots=1)
                if isinstance(e, OrderAccepted)]  # fmt: skip
    assert (after.enq_seq, after.order_id) == (7, 51)
    assert venue.clock.tick_number == 7
    venue.stop()


def test_send_many_mixing_lane_and_general_commands_is_send_in_a_loop() -> None:
    fast = make_venue(None)
    loop = make_venue(None, general=True)
    a, b = (fast.instrument(s).symbol_id for s in SYMBOLS[:2])
    commands: list[Any] = []
    for i in range(200):
        sid = a if i % 7 else b
        if i % 3 == 0:
            commands.append(NewOrder(sid, 1 + i, 0, 1 + i % 2, 1, 1, 100 + i % 5, 1 + i % 4))
        elif i % 3 == 1:
            commands.append(ModifyOrder(sid, i, 100 + i % 4, 0))
        else:
            commands.append(CancelOrder(sid, i - 1))
        if i % 50 == 25:
            commands.append(NewOrder(sid, 10**6 + i, 0, 1, 1, 1, 1.5, 1))  # type: ignore[arg-type]
            commands.append(NewOrder(sid, 2 * 10**6 + i, 3, 1, 1, 1, 99, 1, client_order_id=i))
    assert fast.send_many(commands) == [e for c in commands for e in loop.send(c)]
    assert state(fast) == state(loop)
    rejects = [e for e in fast.send_many(commands[:3]) if isinstance(e, OrderRejected)]
    assert rejects  # the same ids again: duplicates, rejected by the engine
    fast.stop()
    loop.stop()


def test_a_generator_that_raises_in_send_many_sends_nothing() -> None:
    venue = make_venue(None)
    sid = venue.instrument("AAA").symbol_id
    venue.submit("AAA", "buy", price_ticks=100, qty_lots=5)

    def broken():
        yield NewOrder(sid, 10, 0, 1, 1, 1, 99, 1)
        raise RuntimeError("feed broke")

    with pytest.raises(RuntimeError):
        venue.send_many(broken())
    assert venue.enq_seq == 1
    assert venue.next_order_id("AAA") == 2
    venue.stop()
