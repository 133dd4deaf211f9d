"""``InProcessHost``: the EngineHost contract, determinism against bare engines, errors."""

from __future__ import annotations

import random

import pytest

import whistle.book.book as book_module
from whistle.coord.errors import HostError, HostStateError
from whistle.coord.hosts.base import EngineHost
from whistle.coord.hosts.local import InProcessHost, UnknownEngine
from whistle.core import (
    CancelOrder,
    CancelReplace,
    EndSession,
    HaltTrading,
    Instrument,
    MassCancel,
    ModifyOrder,
    NewOrder,
    OrderAccepted,
    OrderExpired,
    ResumeTrading,
)
from whistle.engine import Whistle, decode_snapshot

BUY, SELL = 1, 2
LIMIT, MARKET = 1, 2
GTC, IOC, GTD, DAY = 1, 2, 4, 5
TICK_NS = 1_000_000


def instruments(n: int) -> list[Instrument]:
    return [Instrument(symbol=f"SYM{i}", max_qty_lots=1_000_000) for i in range(n)]


def command_stream(seed: int, insts: list[Instrument], n: int) -> list[tuple[int, object]]:
    """A mixed, deterministic order flow over ``insts``: enq_seq starts at 1."""
    rng = random.Random(seed)
    live: dict[int, list[int]] = {i.symbol_id: [] for i in insts}
    out: list[tuple[int, object]] = []
    oid = 0
    for seq in range(1, n + 1):
        sid = rng.choice(insts).symbol_id
        r = rng.random()
        orders = live[sid]
        if r < 0.55 or not orders:
            oid += 1
            side = rng.choice((BUY, SELL))
            price = 1000 + rng.randint(-8, 8)
            tif = rng.choice((GTC, GTC, GTC, IOC, GTD, DAY))
            expire = (seq // 50 + rng.randint(1, 5)) * TICK_NS if tif == GTD else 0
            kind = MARKET if rng.random() < 0.05 else LIMIT
            cmd: object = NewOrder(
                sid,
                oid,
                rng.randint(1, 4),
                side,
                kind,
                IOC if kind == MARKET else tif,
                0 if kind == MARKET else price,
                rng.randint(1, 20),
                expire_ts_ns=expire,
            )
            orders.append(oid)
        elif r < 0.75:
            cmd = CancelOrder(sid, orders.pop(rng.randrange(len(orders))))
        elif r < 0.88:
            cmd = ModifyOrder(
                sid, rng.choice(orders), 1000 + rng.randint(-8, 8), rng.randint(1, 30)
            )
        elif r < 0.94:
            oid += 1
            old = orders.pop(rng.randrange(len(orders)))
            cmd = CancelReplace(sid, old, oid, 1000 + rng.randint(-8, 8), rng.randint(1, 20))
            orders.append(oid)
        elif r < 0.96:
            cmd = HaltTrading(sid)
        elif r < 0.985:
            cmd = ResumeTrading(sid)
        elif r < 0.995:
            cmd = MassCancel(sid, rng.randint(1, 4))
        else:
            cmd = EndSession(sid)
        out.append((seq, cmd))
    return out


def drive_direct(insts, stream, tick_every: int):
    """Every engine ticked at every tick, in symbol_id order: the reference output."""
    engines = {i.symbol_id: Whistle(i) for i in insts}
    order = sorted(engines)
    events = []
    now = 0
    for k, (seq, cmd) in enumerate(stream, 1):
        engines[cmd.symbol_id].enqueue(seq, cmd)
        if k % tick_every == 0:
            now += TICK_NS
            for sid in order:
                events += engines[sid].tick(now)
    now += TICK_NS
    for sid in order:
        events += engines[sid].tick(now)
    return events, engines, now


def drive_host(host: EngineHost, stream, tick_every: int, now: int = 0):
    events = []
    for k, (seq, cmd) in enumerate(stream, 1):
        assert host.submit(seq, cmd)
        if k % tick_every == 0:
            now += TICK_NS
            events += host.end_tick(host.begin_tick(now))
    now += TICK_NS
    events += host.end_tick(host.begin_tick(now))
    return events, now


def make_host(insts, **kw) -> InProcessHost:
    host = InProcessHost(7, **kw)
    for inst in insts:
        host.add_engine(inst)
    return host


# ---------------------------------------------------------------------- determinism


@pytest.mark.parametrize(("seed", "tick_every"), [(1, 1), (2, 7), (3, 50), (4, 400)])
def test_events_equal_driving_the_engines_directly(seed, tick_every):
    insts = instruments(5)
    stream = command_stream(seed, insts, 2_000)
    expected, engines, _ = drive_direct(insts, stream, tick_every)
    host = make_host(insts)
    got, _ = drive_host(host, stream, tick_every)
    assert got == expected
    assert any(isinstance(e, OrderExpired) for e in got)  # GTD expiry is exercised
    for sid, engine in engines.items():
        # Snapshots equal too, although the host skipped idle engines (their clocks caught up).
        assert host.snapshot(sid) == engine.snapshot().encode()
        assert host.engine(sid).state_hash() == engine.state_hash()


def test_events_come_in_symbol_id_order_within_a_tick():
    insts = instruments(6)
    host = make_host(insts)
    sids = sorted(i.symbol_id for i in insts)
    for seq, sid in enumerate(reversed(sids), 1):
        assert host.submit(seq, NewOrder(sid, seq, 1, BUY, LIMIT, GTC, 1000, 5))
    events = host.end_tick(host.begin_tick(TICK_NS))
    accepted = [e.symbol_id for e in events if isinstance(e, OrderAccepted)]
    assert accepted == sids


def test_gtd_expiry_reaches_an_otherwise_idle_engine():
    (a, b) = instruments(2)
    host = make_host([a, b])
    gtd = NewOrder(a.symbol_id, 1, 1, BUY, LIMIT, GTD, 1000, 5, expire_ts_ns=3 * TICK_NS)
    assert host.submit(1, gtd)
    assert host.end_tick(host.begin_tick(TICK_NS))
    assert host.end_tick(host.begin_tick(2 * TICK_NS)) == []
    assert host.submit(2, NewOrder(b.symbol_id, 2, 1, BUY, LIMIT, GTC, 1000, 5))
    events = host.end_tick(host.begin_tick(3 * TICK_NS))
    expired = [e for e in events if isinstance(e, OrderExpired)]
    assert [e.order_id for e in expired] == [1]
    assert events[0].symbol_id == min(a.symbol_id, b.symbol_id)
    assert host.end_tick(host.begin_tick(4 * TICK_NS)) == []


def test_ticks_may_overlap_and_end_in_any_order():
    (a,) = instruments(1)
    host = make_host([a])
    assert host.submit(1, NewOrder(a.symbol_id, 1, 1, BUY, LIMIT, GTC, 1000, 5))
    t1 = host.begin_tick(TICK_NS)
    assert host.submit(2, NewOrder(a.symbol_id, 2, 1, SELL, LIMIT, GTC, 1001, 5))
    t2 = host.begin_tick(2 * TICK_NS)
    assert t2 > t1
    second = host.end_tick(t2)
    first = host.end_tick(t1)
    assert first
    assert {e.enq_seq for e in first} == {1}
    assert {e.enq_seq for e in second} == {2}


# ---------------------------------------------------------------------- backpressure


def test_queue_depth_refuses_without_dropping():
    (a, b) = instruments(2)
    host = make_host([a, b], queue_depth=3)
    orders = [NewOrder(a.symbol_id, i, 1, BUY, LIMIT, GTC, 1000 - i, 1) for i in range(1, 6)]
    assert [host.submit(i, orders[i - 1]) for i in (1, 2, 3)] == [True] * 3
    assert host.submit(4, orders[3]) is False
    assert host.submit(4, orders[3]) is False  # still full; the refusal queued nothing
    # Another symbol has its own bound.
    assert host.submit(5, NewOrder(b.symbol_id, 99, 1, BUY, LIMIT, GTC, 1000, 1))
    events = host.end_tick(host.begin_tick(TICK_NS))
    assert sorted(e.order_id for e in events if isinstance(e, OrderAccepted)) == [1, 2, 3, 99]
    # After the tick the queue has room again; the refused command can be sent again.
    assert host.submit(6, orders[3])
    events = host.end_tick(host.begin_tick(2 * TICK_NS))
    assert [e.order_id for e in events if isinstance(e, OrderAccepted)] == [4]


def test_queue_depth_must_be_positive():
    with pytest.raises(ValueError, match="queue_depth"):
        InProcessHost(1, queue_depth=0)


# ---------------------------------------------------------------------- snapshots


def test_snapshot_restore_through_the_host_continues_identically():
    insts = instruments(3)
    stream = command_stream(11, insts, 1_200)
    head, tail = stream[:600], stream[600:]
    host = make_host(insts)
    _, now = drive_host(host, head, 40)
    other = InProcessHost(8)
    for inst in insts:
        other.add_engine(inst, host.snapshot(inst.symbol_id))
    assert other.symbols == host.symbols == frozenset(i.symbol_id for i in insts)
    expected, _ = drive_host(host, tail, 40, now)
    got, _ = drive_host(other, tail, 40, now)
    assert got == expected
    for inst in insts:
        final = host.remove_engine(inst.symbol_id)
        assert final == other.snapshot(inst.symbol_id)
        assert decode_snapshot(final).instrument == inst
    assert host.symbols == frozenset()


def test_restored_engine_clock_bounds_the_next_tick():
    (a,) = instruments(1)
    src = make_host([a])
    src.end_tick(src.begin_tick(5 * TICK_NS))
    snap = src.snapshot(a.symbol_id)
    assert decode_snapshot(snap).now_ns == 5 * TICK_NS
    dst = InProcessHost(2)
    dst.add_engine(a, snap)
    with pytest.raises(ValueError, match="backwards"):
        dst.begin_tick(4 * TICK_NS)
    assert dst.end_tick(dst.begin_tick(5 * TICK_NS)) == []


def test_snapshot_needs_an_idle_engine():
    (a,) = instruments(1)
    host = make_host([a])
    assert host.submit(1, NewOrder(a.symbol_id, 1, 1, BUY, LIMIT, GTC, 1000, 5))
    with pytest.raises(HostStateError, match="wait for the next tick"):
        host.snapshot(a.symbol_id)
    with pytest.raises(HostStateError, match="wait for the next tick"):
        host.remove_engine(a.symbol_id)
    host.end_tick(host.begin_tick(TICK_NS))
    assert host.snapshot(a.symbol_id)


def test_add_engine_refuses_duplicates_and_foreign_snapshots():
    (a, b) = instruments(2)
    host = make_host([a])
    with pytest.raises(HostStateError, match="already runs"):
        host.add_engine(a)
    with pytest.raises(ValueError, match="snapshot is of symbol"):
        host.add_engine(b, host.snapshot(a.symbol_id))
    assert host.symbols == frozenset({a.symbol_id})


# ---------------------------------------------------------------------- errors


def test_unknown_symbol_is_a_host_error_naming_it():
    (a, b) = instruments(2)
    host = make_host([a])
    sid = b.symbol_id
    with pytest.raises(UnknownEngine, match=f"no engine for symbol {sid}"):
        host.submit(1, NewOrder(sid, 1, 1, BUY, LIMIT, GTC, 1000, 5))
    with pytest.raises(UnknownEngine, match=str(sid)):
        host.remove_engine(sid)
    with pytest.raises(UnknownEngine, match=str(sid)):
        host.snapshot(sid)
    assert issubclass(UnknownEngine, HostError)


def test_enq_seq_must_increase_per_symbol():
    (a,) = instruments(1)
    host = make_host([a])
    assert host.submit(5, NewOrder(a.symbol_id, 1, 1, BUY, LIMIT, GTC, 1000, 5))
    with pytest.raises(ValueError, match="enq_seq must increase"):
        host.submit(5, NewOrder(a.symbol_id, 2, 1, BUY, LIMIT, GTC, 1000, 5))
    with pytest.raises(ValueError, match="enq_seq must increase"):
        host.submit(3, NewOrder(a.symbol_id, 2, 1, BUY, LIMIT, GTC, 1000, 5))


def test_time_must_not_go_backwards():
    (a,) = instruments(1)
    host = make_host([a])
    host.end_tick(host.begin_tick(2 * TICK_NS))
    with pytest.raises(ValueError, match="backwards"):
        host.begin_tick(TICK_NS)


def test_end_tick_of_an_unknown_or_ended_tick_raises():
    host = make_host(instruments(1))
    with pytest.raises(HostStateError, match="not begun"):
        host.end_tick(1)
    tick = host.begin_tick(TICK_NS)
    assert host.end_tick(tick) == []
    with pytest.raises(HostStateError, match="already ended"):
        host.end_tick(tick)


def test_stop_twice_raises_and_a_stopped_host_refuses_work():
    (a,) = instruments(1)
    host = make_host([a])
    assert isinstance(host, EngineHost)
    assert host.alive()
    assert host.failure() is None
    host.stop()
    assert not host.alive()
    assert host.failure() is None
    with pytest.raises(HostStateError, match="already stopped"):
        host.stop()
    with pytest.raises(HostStateError, match="stopped"):
        host.submit(1, NewOrder(a.symbol_id, 1, 1, BUY, LIMIT, GTC, 1000, 5))
    with pytest.raises(HostStateError, match="stopped"):
        host.begin_tick(TICK_NS)
    with pytest.raises(HostStateError, match="stopped"):
        host.add_engine(a)
    with pytest.raises(HostStateError, match="stopped"):
        host.snapshot(a.symbol_id)
    assert host.symbols == frozenset()


def test_engine_fault_stays_an_event(monkeypatch: pytest.MonkeyPatch):
    """A faulting engine does not take the host down: Whistle reports it as an event."""
    (a, b) = instruments(2)
    host = make_host([a, b])
    original = book_module.EV.OrderAccepted

    def boom(*args: object) -> object:
        # Only symbol a's engine has the bug; the book calls its event classes through
        # ``EV``, which stays patchable in the compiled book too.
        if args[0] == a.symbol_id:
            raise RuntimeError("boom")
        return original(*args)

    monkeypatch.setattr(book_module.EV, "OrderAccepted", boom)
    assert host.submit(1, NewOrder(a.symbol_id, 1, 1, BUY, LIMIT, GTC, 1000, 5))
    assert host.submit(2, NewOrder(b.symbol_id, 2, 1, BUY, LIMIT, GTC, 1000, 5))
    events = host.end_tick(host.begin_tick(TICK_NS))
    kinds = {(e.symbol_id, type(e).__name__) for e in events}
    assert (a.symbol_id, "EngineFaulted") in kinds
    assert (b.symbol_id, "OrderAccepted") in kinds
    assert host.alive()


def test_submit_many_queues_like_submit_without_the_depth_bound():
    insts = instruments(3)
    stream = command_stream(5, insts, 600)
    one = InProcessHost(1, queue_depth=1)  # submit_many ignores the bound
    many = InProcessHost(2, queue_depth=1)
    for inst in insts:
        one.add_engine(inst)
        many.add_engine(inst)
    reference = InProcessHost(3)
    for inst in insts:
        reference.add_engine(inst)
    for seq, cmd in stream:
        assert reference.submit(seq, cmd)
    many.submit_many(stream)
    assert many.commands == len(stream)
    assert many.tick(TICK_NS) == reference.tick(TICK_NS)
    first = insts[0].symbol_id
    with pytest.raises(ValueError, match="enq_seq must increase"):
        many.submit_many([(10_000, ResumeTrading(first)), (9_999, HaltTrading(first))])
    assert many.commands == len(stream) + 1  # the pair before the bad one stays queued
    with pytest.raises(UnknownEngine, match="no engine for symbol 4242"):
        many.submit_many([(20_000, HaltTrading(4242))])
    assert one.commands == 0
