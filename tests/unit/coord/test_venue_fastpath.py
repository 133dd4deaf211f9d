"""The Venue's fast paths (issue 8 item 2) change nothing but the speed.

``Venue.submit/cancel/modify/replace`` with integer units build their command without the
general path's closures, ``Venue.send`` runs an accepted hot command on an embedded venue
with one engine call instead of route + tick (``Venue._embedded``), and
``Venue.send_many`` is ``send`` in a loop. These tests drive one seeded stream (valid and
refused commands, ids chosen by the venue, GTD orders expiring, ``enqueue`` mixed in, a
halt, a session end, client order ids with exact and altered repeats) through:

- the fast API (``submit``/``cancel``/...), as a user writes it;
- the general path: the same API with both fast paths switched off;
- ``send`` and ``send_many`` with the same commands as structs;

without and with a data directory, and require identical events (every field), the same
``enq_seq``s, clock, coordinator and host state, state hashes and byte-identical command
and event journals, and the same client-order table (``client_orders_hash``). A venue
with a data directory never takes ``_embedded`` (the journal
path is the general one), so with/without compares the embedded shortcut to the path
that journals every step.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import pytest

from whistle import Venue
from whistle.coord.durability.records import COMMANDS_DIR, EVENTS_DIR
from whistle.coord.hosts.local import InProcessHost
from whistle.coord.venue.facade import _edge_ok
from whistle.core.commands import (
    CancelOrder,
    CancelReplace,
    Command,
    EndSession,
    HaltTrading,
    ModifyOrder,
    NewOrder,
    ResumeTrading,
    command_error,
)
from whistle.core.enums import OrderType, Side, StpMode, TimeInForce
from whistle.core.events import Event, OrderExpired, OrderRejected
from whistle.core.limits import MAX_ORDER_ID, MAX_PRICE_TICKS, MAX_QTY_LOTS
from whistle.core.reasons import RejectReason
from whistle.journal import ReadOnlyReader

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SYMBOLS = ("AAA", "BBB")
SEED = 20261201


class _Forget(dict[Any, Any]):
    """A symbol cache that keeps nothing: every call takes the general path."""

    def __setitem__(self, key: object, value: object) -> None:
        return None


def make_venue(data_dir: Path | None, *, general: bool = False, **kw: Any) -> Venue:
    venue = Venue(data_dir=data_dir, session_end_ns=9_000_000, checkpoint_every=50, **kw)
    for name in SYMBOLS:
        venue.add_instrument(name, tick_size="1", lot_size="1")
    if general:
        venue._fast_host = None
        venue._fast_symbols = _Forget()
    return venue


# One op: ("new", symbol, side, price, qty, tif, order_id|None, account, expire, coid)
#         ("cancel", symbol, order_id) ("modify", symbol, order_id, price, qty)
#         ("replace", symbol, order_id, new_id|None, price, qty) ("advance", ns)
#         ("enqueue_new", ...same as new) ("halt", symbol) ("resume", symbol)
def stream(n: int, seed: int = SEED) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    crng = random.Random(seed + 1)  # client order ids: the main draws stay as they were
    coids = 0
    with_coid: list[tuple[Any, ...]] = []
    ops: list[tuple[Any, ...]] = []
    live: dict[str, list[int]] = {s: [] for s in SYMBOLS}
    next_id = {s: 1 for s in SYMBOLS}
    now = 0  # the venue's clock
    for _ in range(n):
        sym = rng.choice(SYMBOLS)
        r = rng.random()
        if r < 0.40 or not live[sym]:
            oid = None if rng.random() < 0.5 else next_id[sym] + rng.randrange(0, 3)
            tif = rng.choice(["GTC", "GTC", "IOC", "gtd", TimeInForce.DAY, None])
            expire = now + rng.randrange(1, 1_000_000) if tif == "gtd" else 0
            price = rng.randrange(95, 106)
            if rng.random() < 0.02:
                price = MAX_PRICE_TICKS + 1  # refused at the edge: VALUE_OUT_OF_RANGE
            kind = "enqueue_new" if rng.random() < 0.05 else "new"
            side = rng.choice(["buy", "SELL", Side.BUY, 2])
            coid = 0
            if crng.random() < 0.3:
                coids += 1
                coid = coids
            ops.append((kind, sym, side, price, rng.randrange(1, 20), tif, oid, 1, expire, coid))
            if coid:
                with_coid.append(ops[-1])
            if with_coid and crng.random() < 0.08:
                again = crng.choice(with_coid)
                if crng.random() < 0.25:  # altered: DUPLICATE_CLIENT_ORDER_ID
                    again = (*again[:4], again[4] + 1, *again[5:])
                ops.append(("new", *again[1:]))
            # the id the venue will use (a guess: only drives cancels/modifies to live ids)
            used = oid if oid is not None else next_id[sym]
            next_id[sym] = max(next_id[sym], used + 1)
            live[sym].append(used)
        elif r < 0.60:
            oid = rng.choice(live[sym]) if rng.random() < 0.9 else 10**6
            ops.append(("cancel", sym, oid))
        elif r < 0.85:
            oid = rng.choice(live[sym])
            ops.append(("modify", sym, oid, rng.randrange(95, 106), rng.choice([0, 0, 5])))
        elif r < 0.92:
            oid = rng.choice(live[sym])
            new_id = None if rng.random() < 0.5 else next_id[sym]
            ops.append(("replace", sym, oid, new_id, rng.randrange(95, 106), rng.randrange(1, 9)))
            used = new_id if new_id is not None else next_id[sym]
            next_id[sym] = max(next_id[sym], used + 1)
            live[sym].append(used)
        elif r < 0.97:
            ops.append(("advance", rng.randrange(0, 400_000)))
            now += ops[-1][1]
        elif r < 0.985:
            ops.append(("halt", sym))
        else:
            ops.append(("resume", sym))
    return ops


def drive_api(venue: Venue, ops: list[tuple[Any, ...]]) -> list[Event]:
    return [e for events in drive_api_calls(venue, ops) for e in events]


def drive_api_calls(venue: Venue, ops: list[tuple[Any, ...]]) -> list[list[Event]]:
    # The events of each call, apart: an expiry must come out of the very call it did.
    out: list[list[Event]] = []
    for op in ops:
        kind = op[0]
        if kind == "new":
            _, sym, side, price, qty, tif, oid, acct, expire, coid = op
            out.append(
                venue.submit(
                    sym,
                    side,
                    price_ticks=price,
                    qty_lots=qty,
                    tif=tif,
                    order_id=oid,
                    account=acct,
                    expire_ts_ns=expire,
                    client_order_id=coid,
                )
            )
        elif kind == "enqueue_new":
            command = to_command(venue, op)
            venue.enqueue(command)
        elif kind == "cancel":
            out.append(venue.cancel(op[1], op[2]))
        elif kind == "modify":
            out.append(venue.modify(op[1], op[2], price_ticks=op[3], qty_lots=op[4] or None))
        elif kind == "replace":
            out.append(venue.replace(op[1], op[2], op[3], price_ticks=op[4], qty_lots=op[5]))
        elif kind == "advance":
            out.append(venue.advance(op[1]))
        elif kind == "halt":
            out.append(venue.halt(op[1]))
        else:
            out.append(venue.resume(op[1]))
    return out


def to_command(venue: Venue, op: tuple[Any, ...]) -> Command:
    # The struct the API builds for op (ids the venue would choose, read from the venue).
    kind, sym = op[0], op[1]
    sid = venue.instrument(sym).symbol_id
    if kind in ("new", "enqueue_new"):
        _, _, side, price, qty, tif, oid, acct, expire, coid = op
        side_i = int(side) if not isinstance(side, str) else int(Side[side.upper()])
        if tif is None:
            tif_i = int(TimeInForce.GTC)
        elif isinstance(tif, str):
            tif_i = int(TimeInForce[tif.upper()])
        else:
            tif_i = int(tif)
        order_id = venue.next_order_id(sym) if oid is None else oid
        held = venue.client_order(acct, coid) if coid else None
        if oid is None and held is not None:
            order_id = held.order_id  # what submit() does for a repeat without an id
        return NewOrder(
            sid, order_id, acct, side_i, int(OrderType.LIMIT), tif_i, price, qty, 0, 0, False,
            int(StpMode.NONE), expire, 0, coid,
        )  # fmt: skip
    if kind == "cancel":
        return CancelOrder(sid, op[2], None)
    if kind == "modify":
        return ModifyOrder(sid, op[2], op[3], op[4], None)
    if kind == "replace":
        new_id = venue.next_order_id(sym) if op[3] is None else op[3]
        return CancelReplace(sid, op[2], new_id, op[4], op[5], None)
    if kind == "halt":
        return HaltTrading(sid)
    return ResumeTrading(sid)


def drive_structs(venue: Venue, ops: list[tuple[Any, ...]], *, many: bool) -> list[Event]:
    # send() per command, or send_many over each run of commands between clock moves.
    out: list[Event] = []
    run: list[Command] = []

    def flush() -> None:
        if run:
            out.extend(venue.send_many(run))
            run.clear()

    for op in ops:
        if op[0] == "advance":
            flush()
            out += venue.advance(op[1])
        elif op[0] == "enqueue_new":
            flush()
            venue.enqueue(to_command(venue, op))
        elif many and op[0] in ("new", "cancel", "modify"):
            if op[0] == "new" and op[6] is None:
                flush()  # the venue picks the id: it must have seen the commands before
            run.append(to_command(venue, op))
        else:
            flush()
            out += venue.send(to_command(venue, op))
    flush()
    return out


def state(venue: Venue) -> dict[str, Any]:
    host = venue.hosts[0]
    assert isinstance(host, InProcessHost)
    return {
        "enq_seq": venue.enq_seq,
        "now": venue.now_ns,
        "tick": venue.clock.tick_number,
        "router_now": venue.router.now_ns,
        "coord": venue.coordinator.stats(),
        "activity": [
            (e.symbol_id, e.last_activity_tick, e.state) for e in venue.coordinator.registry
        ],
        "host": (host.commands, host.now_ns, host._ticks, sorted(host._timed)),
        "next_ids": [venue.next_order_id(s) for s in SYMBOLS],
        "hashes": venue.state_hashes(),
        "detail": venue.last_reject_detail,
        "client_orders": (venue.client_orders, venue.client_orders_hash()),
    }


def count_fast(venue: Venue) -> list[int]:
    # How many sends the embedded fast path ran (it returns None when it steps aside).
    hits = [0]
    embedded = venue._embedded

    def counted(command: Command) -> list[Event] | None:
        events = embedded(command)
        hits[0] += events is not None
        return events

    venue._embedded = counted  # type: ignore[method-assign]
    return hits


def journal(data: Path) -> tuple[list[bytes], list[bytes]]:
    out = []
    for sub in (COMMANDS_DIR, EVENTS_DIR):
        with ReadOnlyReader(data / sub) as reader:
            out.append([r.payload for r in reader])
    return out[0], out[1]


N = 1500


def test_the_stream_exercises_every_case() -> None:
    # The comparisons below mean something only if the stream has trades, rejects of
    # both kinds, GTD expiries, a session end and venue-chosen ids.
    venue = make_venue(None)
    events = drive_api(venue, stream(N)) + venue.advance(10_000_000)
    names = {type(e).__name__ for e in events}
    assert {"OrderAccepted", "OrderFilled", "OrderCancelled", "OrderModified"} <= names
    assert {"OrderExpired", "TradingStatusChanged"} <= names
    rejected = [e for e in events if isinstance(e, OrderRejected)]
    assert any(e.seq == 0 for e in rejected)  # refused at the edge, unsequenced
    assert any(e.seq > 0 for e in rejected)  # refused by the engine
    # client order ids: exact repeats answered, altered ones refused, some still held
    assert "DuplicateClientOrder" in names
    assert any(e.reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID for e in rejected)
    venue.stop()


def test_fast_api_general_path_send_and_send_many_agree_in_memory() -> None:
    ops = stream(N)
    runs = []
    for how in ("fast", "general", "send", "send_many"):
        venue = make_venue(None, general=how == "general")
        hits = count_fast(venue)
        if how in ("fast", "general"):
            events = drive_api(venue, ops)
        else:
            events = drive_structs(venue, ops, many=how == "send_many")
        before_end = state(venue)  # idle ticks as the stream left them
        events += venue.advance(10_000_000)  # the session end and the last expiries
        # the fast path really ran (and stepped aside at times), except where switched off
        assert (0 < hits[0] < N - 100) if how != "general" else hits[0] == 0, (how, hits)
        runs.append((how, events, {"before_end": before_end, "end": state(venue)}))
        venue.stop()
    _, events0, state0 = runs[0]
    assert len(events0) > N
    for how, events, st in runs[1:]:
        assert events == events0, how
        for moment in ("before_end", "end"):
            st0 = dict(state0[moment])
            st1 = dict(st[moment])
            if how.startswith("send"):  # the detail of the last refusal comes from the edge
                st0.pop("detail")
                st1.pop("detail")
            assert st1 == st0, (how, moment)


def test_journals_are_identical_with_and_without_the_fast_paths(tmp_path: Path) -> None:
    ops = stream(N)
    in_memory = make_venue(None)
    reference = drive_api(in_memory, ops) + in_memory.advance(10_000_000)
    hashes = in_memory.state_hashes()
    in_memory.stop()
    journals = []
    for how in ("fast", "general", "send", "send_many"):
        data = tmp_path / how
        venue = make_venue(data, general=how == "general")
        if how in ("fast", "general"):
            events = drive_api(venue, ops)
        else:
            events = drive_structs(venue, ops, many=how == "send_many")
        events += venue.advance(10_000_000)
        assert events == reference, how  # journaled general path == embedded fast path
        assert venue.state_hashes() == hashes, how
        venue.stop()
        journals.append((how, journal(data)))
    commands0, events0 = journals[0][1]
    assert len(commands0) > N
    assert len(events0) > N
    for how, (commands, recorded) in journals[1:]:
        assert commands == commands0, how
        assert recorded == events0, how
    # And the journal replays: a venue reopened on it has the same state.
    with Venue(data_dir=tmp_path / "fast", session_end_ns=9_000_000) as again:
        assert again.recovery is not None
        assert again.recovery.clean_stop
        assert again.state_hashes() == hashes


def test_each_call_returns_the_same_events_on_both_paths() -> None:
    ops = stream(N, seed=11)
    calls = []
    for general in (False, True):
        venue = make_venue(None, general=general)
        calls.append(drive_api_calls(venue, ops))
        venue.stop()
    expired = [e for events in calls[0] for e in events if isinstance(e, OrderExpired)]
    assert len({e.ts_ns for e in expired}) > 10  # GTD expiries at many times, not just DAY
    assert calls[0] == calls[1]


def test_subscribers_see_the_same_calls_on_both_paths() -> None:
    ops = stream(300, seed=7)
    seen = []
    for general in (False, True):
        venue = make_venue(None, general=general)
        got: list[Event] = []
        venue.subscribe(got.append)
        only_b: list[Event] = []
        venue.subscribe(only_b.append, ["BBB"])
        drive_api(venue, ops)
        seen.append((got, only_b))
        venue.stop()
    assert seen[0] == seen[1]
    assert seen[0][1]
    assert all(e.symbol_id == seen[0][1][0].symbol_id for e in seen[0][1])


def test_queued_commands_run_in_the_next_send_on_both_paths() -> None:
    # enqueue leaves a command waiting: the next send's tick must hold both (the fast
    # path steps aside), in enq_seq order.
    out = []
    for general in (False, True):
        venue = make_venue(None, general=general)
        venue.submit("AAA", "buy", price_ticks=100, qty_lots=5, order_id=1)
        sid = venue.instrument("AAA").symbol_id
        first = venue.enqueue(NewOrder(sid, 2, 0, 2, 1, 1, 100, 2))
        events = venue.submit("AAA", "sell", price_ticks=100, qty_lots=3, order_id=3)
        assert first == 2
        assert sorted({e.enq_seq for e in events}) == [2, 3]
        out.append((events, state(venue)))
        venue.stop()
    assert out[0] == out[1]


def test_send_many_reports_refusals_in_place_and_goes_on() -> None:
    venue = make_venue(None)
    sid = venue.instrument("AAA").symbol_id
    unknown = 99 if 99 not in (sid, venue.instrument("BBB").symbol_id) else 98
    commands: list[Command] = [
        NewOrder(sid, 1, 0, 1, 1, 1, 100, 5),
        NewOrder(sid, 2, True, 1, 1, 1, 100, 5),  # a bool account
        ModifyOrder(sid, 1, MAX_PRICE_TICKS + 1, 0),  # out of range
        NewOrder(unknown, 3, 0, 1, 1, 1, 100, 5),  # unknown symbol
        CancelOrder(sid, 1),
    ]
    events = venue.send_many(commands)
    rejects = [e for e in events if isinstance(e, OrderRejected)]
    assert [(e.order_id, e.seq, e.enq_seq) for e in rejects] == [(2, 0, 0), (1, 0, 0), (3, 0, 0)]
    assert venue.enq_seq == 2  # only the two valid commands were sequenced
    assert "OrderCancelled" in [type(e).__name__ for e in events]
    venue.stop()


@pytest.mark.parametrize("subscribed", [False, True])
@pytest.mark.parametrize("journaled", [False, True])
def test_send_many_reads_the_whole_iterable_before_sending(
    tmp_path: Path, subscribed: bool, journaled: bool
) -> None:
    # Eager on every path: a generator that raises part way sends nothing, and one that
    # reads venue state sees it as it was before the call.
    venue = make_venue(tmp_path / "d" if journaled else None)
    sid = venue.instrument("AAA").symbol_id
    seen: list[Event] = []
    if subscribed:
        venue.subscribe(seen.append)

    def orders(n: int, fail: bool) -> Iterator[Command]:
        for i in range(n):
            assert venue.enq_seq == 0
            yield NewOrder(sid, i + 1, 0, 1, 1, 1, 100 + i, 1)
        if fail:
            raise RuntimeError("feed broke")

    with pytest.raises(RuntimeError, match="feed broke"):
        venue.send_many(orders(2, fail=True))
    assert venue.enq_seq == 0
    assert seen == []
    events = venue.send_many(orders(3, fail=False))
    assert not any(isinstance(e, OrderRejected) for e in events)
    assert venue.enq_seq == 3
    assert len(seen) == (len(events) if subscribed else 0)
    venue.stop()


def test_a_stopped_venue_refuses_the_fast_path_too() -> None:
    venue = make_venue(None)
    venue.submit("AAA", "buy", price_ticks=100, qty_lots=5)
    venue.stop()
    with pytest.raises(Exception, match="stopped"):
        venue.submit("AAA", "buy", price_ticks=100, qty_lots=5)
    with pytest.raises(Exception, match="stopped"):
        venue.send_many([CancelOrder(venue.instrument("AAA").symbol_id, 1)])


def test_an_order_past_the_session_end_takes_the_general_path() -> None:
    # A session end due at the current time ends the session in send's tick: never fast.
    for general in (False, True):
        venue = Venue(session_end_ns=1_000)
        venue.add_instrument("AAA", tick_size="1", lot_size="1")
        if general:
            venue._fast_host = None
        venue.submit("AAA", "buy", price_ticks=100, qty_lots=5, tif="DAY")
        venue.clock._now = 1_000  # the clock reached the end without a tick (restore-like)
        events = venue.submit("AAA", "buy", price_ticks=99, qty_lots=5, tif="DAY")
        names = [type(e).__name__ for e in events]
        assert "OrderExpired" in names, (general, names)
        venue.stop()


MODIFY_VALUES: list[object] = [
    0, 1, -1, 5, MAX_ORDER_ID, MAX_ORDER_ID + 1, MAX_PRICE_TICKS, -MAX_PRICE_TICKS,
    MAX_PRICE_TICKS + 1, MAX_QTY_LOTS, -MAX_QTY_LOTS - 1, 2**32, 2**32 - 1, 2**63, True,
    False, 1.0, None, "1", Side.BUY,
]  # fmt: skip


def test_the_inline_modify_check_agrees_with_command_error() -> None:
    rng = random.Random(3)
    for _ in range(4000):
        fields = [rng.choice(MODIFY_VALUES) for _ in range(5)]
        command = ModifyOrder(*fields)  # type: ignore[arg-type]
        assert _edge_ok(command) == (command_error(command) is None), fields
    others: tuple[Command, ...] = (
        NewOrder(1, 1, 0, 1, 1, 1, 100, 5),
        NewOrder(1, 1, 0, 9, 1, 1, 100, 5),
        CancelOrder(1, True),
        CancelReplace(1, 1, 2, 100, 5),
        EndSession(1),
    )
    for other in others:  # and for the other kinds it is command_error itself
        assert _edge_ok(other) == (command_error(other) is None)


def test_a_send_many_run_leaves_the_state_of_sends_one_by_one() -> None:
    # A run of one symbol's commands ends the batch: the activity tick of its last command,
    # the GTD order it entered (expired by a later tick, not by the next command), the ids.
    results = []
    for many in (True, False):
        venue = make_venue(None)
        sid = venue.instrument("AAA").symbol_id
        gtd, day = int(TimeInForce.GTD), int(TimeInForce.DAY)
        commands: list[Command] = [
            NewOrder(sid, 1, 0, 1, 1, day, 100, 5),
            NewOrder(sid, 2, 0, 1, 1, gtd, 99, 5, 0, 0, False, 0, 500),
            ModifyOrder(sid, 1, 101, 0),
            NewOrder(sid, 7, 0, 2, 1, day, 110, 5),
        ]
        out = venue.send_many(commands) if many else [e for c in commands for e in venue.send(c)]
        after = state(venue)
        expired = venue.advance(1_000)
        more = venue.submit("AAA", "buy", price_ticks=98, qty_lots=1)
        results.append((out, after, expired, more))
        venue.stop()
    assert results[0] == results[1]
    assert isinstance(results[0][2][0], OrderExpired)
