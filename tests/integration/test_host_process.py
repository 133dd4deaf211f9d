"""``ProcessHost`` with real (spawned) processes: same events as in process, failures, cleanup.

Every wait is a poll against a deadline; the deadlines are generous upper bounds against
hangs, not timing assertions.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import threading
import time
from typing import TYPE_CHECKING

import msgspec
import pytest

from whistle.coord.errors import HostDead, HostStateError, HostTimeout
from whistle.coord.hosts.local import InProcessHost, UnknownEngine
from whistle.coord.hosts.loop import EXIT_FAILED, EXIT_ORPHANED, HostLoop, run_host
from whistle.coord.hosts.process import ProcessHost
from whistle.coord.hosts.wire import AddEngine, HostCommands, HostFailed, HostTick, WireCodec
from whistle.coord.venue.facade import Venue
from whistle.core import (
    CancelOrder,
    CancelReplace,
    EngineFaulted,
    HaltTrading,
    Instrument,
    MassCancel,
    ModifyOrder,
    NewOrder,
    OrderAccepted,
    OrderExpired,
    OrderRejected,
    RejectReason,
    ResumeTrading,
)
from whistle.ipc import SpscRing, WaitStrategy, list_blocks, make_name

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

BUY, SELL = 1, 2
LIMIT, MARKET = 1, 2
GTC, IOC, GTD = 1, 2, 4
TICK_NS = 1_000_000
DEADLINE_S = 20.0


def instruments(n: int) -> list[Instrument]:
    return [Instrument(symbol=f"PH{i}", max_qty_lots=1_000_000) for i in range(n)]


def command_stream(seed: int, insts: list[Instrument], n: int) -> list[tuple[int, object]]:
    """Mixed deterministic order flow (limits, markets, GTD, cancels, modifies, halts)."""
    rng = random.Random(seed)
    live: dict[int, list[int]] = {i.symbol_id: [] for i in insts}
    out: list[tuple[int, object]] = []
    oid = 0
    for seq in range(1, n + 1):
        sid = rng.choice(insts).symbol_id
        orders = live[sid]
        r = rng.random()
        if r < 0.6 or not orders:
            oid += 1
            tif = rng.choice((GTC, GTC, IOC, GTD))
            kind = MARKET if rng.random() < 0.05 else LIMIT
            cmd: object = NewOrder(
                sid,
                oid,
                rng.randint(1, 4),
                rng.choice((BUY, SELL)),
                kind,
                IOC if kind == MARKET else tif,
                0 if kind == MARKET else 1000 + rng.randint(-6, 6),
                rng.randint(1, 20),
                expire_ts_ns=(seq // 40 + rng.randint(1, 4)) * TICK_NS if tif == GTD else 0,
            )
            orders.append(oid)
        elif r < 0.8:
            cmd = CancelOrder(sid, orders.pop(rng.randrange(len(orders))))
        elif r < 0.9:
            cmd = ModifyOrder(sid, rng.choice(orders), 1000 + rng.randint(-6, 6), rng.randint(1, 9))
        elif r < 0.95:
            oid += 1
            old = orders.pop(rng.randrange(len(orders)))
            cmd = CancelReplace(sid, old, oid, 1000 + rng.randint(-6, 6), rng.randint(1, 9))
            orders.append(oid)
        elif r < 0.97:
            cmd = HaltTrading(sid)
        elif r < 0.99:
            cmd = ResumeTrading(sid)
        else:
            cmd = MassCancel(sid, rng.randint(1, 4))
        out.append((seq, cmd))
    return out


def submit_all(host, stream, tick_every: int) -> list[object]:
    """Submit, retrying refusals (a full ring drains as the child reads), tick periodically."""
    events: list[object] = []
    now = 0
    deadline = time.monotonic() + DEADLINE_S
    for k, (seq, cmd) in enumerate(stream, 1):
        while not host.submit(seq, cmd):
            assert time.monotonic() < deadline, "submit stayed refused"
        if k % tick_every == 0:
            now += TICK_NS
            events += host.end_tick(host.begin_tick(now), timeout=DEADLINE_S)
    now += TICK_NS
    events += host.end_tick(host.begin_tick(now), timeout=DEADLINE_S)
    return events


def reference(insts, stream, tick_every: int) -> tuple[list[object], dict[int, bytes]]:
    host = InProcessHost(1)
    for inst in insts:
        host.add_engine(inst)
    events = submit_all(host, stream, tick_every)
    return events, {i.symbol_id: host.snapshot(i.symbol_id) for i in insts}


def by_symbol(events) -> dict[int, list[object]]:
    out: dict[int, list[object]] = {}
    for e in events:
        out.setdefault(e.symbol_id, []).append(e)
    return out


def ours(host: ProcessHost) -> set[str]:
    return set(host.ring_names) & set(list_blocks())


def wait_for(predicate, what: str, deadline_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + deadline_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def pid_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaped counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


# ---------------------------------------------------------------------- equivalence


@pytest.mark.parametrize("n_engines", [1, 2])
def test_same_events_as_the_in_process_host(n_engines):
    insts = instruments(n_engines)
    stream = command_stream(40 + n_engines, insts, 3_000)
    expected, snaps = reference(insts, stream, 100)
    host = ProcessHost(1)
    try:
        assert host.alive()
        for inst in insts:
            host.add_engine(inst)
        assert host.symbols == frozenset(snaps)
        got = submit_all(host, stream, 100)
        assert got == expected  # the full list, so also per symbol
        assert by_symbol(got) == by_symbol(expected)
        assert any(isinstance(e, OrderExpired) for e in got)
        for sid, snap in snaps.items():
            assert host.snapshot(sid) == snap
        first = insts[0].symbol_id
        assert host.remove_engine(first) == snaps[first]
        assert first not in host.symbols
        with pytest.raises(UnknownEngine, match=str(first)):
            host.snapshot(first)
        assert host.failure() is None
    finally:
        host.stop()
    assert not host.alive()
    assert not ours(host)
    with pytest.raises(HostStateError, match="already stopped"):
        host.stop()
    with pytest.raises(HostStateError, match="stopped"):
        host.begin_tick(10**12)


def test_tiny_rings_split_large_batches_and_snapshots():
    """Ticks, their commands and snapshots larger than a ring record travel in parts."""
    insts = instruments(2)
    stream = command_stream(7, insts, 2_000)
    # Then a deep book that does not cross, so that the snapshots outgrow one record.
    seq = len(stream)
    for inst in insts:
        seq += 1
        stream.append((seq, ResumeTrading(inst.symbol_id)))
        for i in range(300):
            seq += 1
            side, price = (BUY, 900 - i) if i % 2 else (SELL, 1100 + i)
            stream.append(
                (seq, NewOrder(inst.symbol_id, 10**6 + seq, 5, side, LIMIT, GTC, price, 3))
            )
    expected, snaps = reference(insts, stream, 500)
    host = ProcessHost(2, ring_capacity=1 << 13)
    try:
        for inst in insts:
            host.add_engine(inst)
        got = submit_all(host, stream, 500)
        assert got == expected
        assert min(len(s) for s in snaps.values()) > 2 * 4096  # split in several parts
        for sid, snap in snaps.items():
            assert host.snapshot(sid) == snap
        big = max(snaps, key=lambda sid: len(snaps[sid]))
        assert host.remove_engine(big) == snaps[big]
        with pytest.raises(ValueError, match="record limit"):
            host.add_engine(next(i for i in insts if i.symbol_id == big), snaps[big])
    finally:
        host.stop()
    assert not ours(host)


def test_a_tick_larger_than_the_ring_waits_for_a_stopped_child_and_delivers_everything():
    (inst,) = instruments(1)
    host = ProcessHost(3, ring_capacity=1 << 12, dead_after_s=30.0)
    pid = host.pid
    assert pid is not None
    try:
        host.add_engine(inst)
        os.kill(pid, signal.SIGSTOP)  # the child reads nothing until SIGCONT
        resume = threading.Timer(0.2, os.kill, (pid, signal.SIGCONT))
        try:
            n = 2_000  # about 40 KB of commands: ten times the ring
            for seq in range(1, n + 1):
                order = NewOrder(inst.symbol_id, seq, 1, BUY, LIMIT, GTC, 900 + seq % 50, 1)
                assert host.submit(seq, order)  # nothing is sent before the tick
            assert host.can_drain(inst.symbol_id) is False
            resume.start()
            tick = host.begin_tick(TICK_NS)  # waits for room while the child is stopped
        finally:
            resume.join()
            os.kill(pid, signal.SIGCONT)
        events = host.end_tick(tick, timeout=DEADLINE_S)
        got = [e.order_id for e in events if isinstance(e, OrderAccepted)]
        assert got == list(range(1, n + 1))  # nothing dropped, in order
    finally:
        host.stop()


def test_queue_depth_applies_per_symbol_like_the_in_process_host():
    (a, b) = instruments(2)
    host = ProcessHost(4, queue_depth=2)
    try:
        host.add_engine(a)
        host.add_engine(b)
        buy = [NewOrder(a.symbol_id, i, 1, BUY, LIMIT, GTC, 1000, 1) for i in range(4)]
        assert host.submit(1, buy[1])
        assert host.submit(2, buy[2])
        assert host.submit(3, buy[3]) is False
        assert host.submit(3, NewOrder(b.symbol_id, 9, 1, BUY, LIMIT, GTC, 1000, 1))
        with pytest.raises(HostStateError, match="wait for the next tick"):
            host.snapshot(a.symbol_id)
        with pytest.raises(ValueError, match="enq_seq must increase"):
            host.submit(2, buy[3])
        events = host.end_tick(host.begin_tick(TICK_NS), timeout=DEADLINE_S)
        assert sorted(e.order_id for e in events if isinstance(e, OrderAccepted)) == [1, 2, 9]
        assert host.submit(4, buy[3])
        with pytest.raises(ValueError, match="backwards"):
            host.begin_tick(0)
    finally:
        host.stop()


# ---------------------------------------------------------------------- liveness


def test_heartbeats_flow_while_idle_and_the_idle_child_sleeps():
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    host = ProcessHost(5, cpu=cpu, heartbeat_interval_s=0.02)
    pid = host.pid
    assert pid is not None
    try:
        try:
            os.sched_setaffinity(0, allowed)  # a no-op that tells whether pinning is allowed
        except OSError:
            assert host.cpu_affinity() is not None
        else:
            assert host.cpu_affinity() == frozenset({cpu})
        seen = host.heartbeats
        wait_for(lambda: host.alive() and host.heartbeats >= seen + 5, "heartbeats")

        def cpu_s() -> float:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        before, t0 = cpu_s(), time.monotonic()
        wait_for(lambda: time.monotonic() - t0 > 0.5, "idle time")
        used = cpu_s() - before
        assert used < 0.25 * (time.monotonic() - t0), f"idle host used {used:.3f} s of CPU"
        assert host.alive()
    finally:
        host.stop()


def test_sigkilled_host_is_detected_with_the_signal_and_its_rings_reclaimed():
    (inst,) = instruments(1)
    host = ProcessHost(6)
    pid = host.pid
    assert pid is not None
    try:
        host.add_engine(inst)
        assert host.submit(1, NewOrder(inst.symbol_id, 1, 1, BUY, LIMIT, GTC, 1000, 1))
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not host.alive(), "death detection", 5.0)
        assert "SIGKILL" in (host.failure() or "")
        with pytest.raises(HostDead, match="host 6 exited with signal SIGKILL"):
            host.submit(2, NewOrder(inst.symbol_id, 2, 1, BUY, LIMIT, GTC, 1000, 1))
        # begin_tick of a dead host still returns; its end_tick reports the death.
        tick = host.begin_tick(TICK_NS)
        with pytest.raises(HostDead, match="SIGKILL"):
            host.end_tick(tick, timeout=DEADLINE_S)
    finally:
        host.stop(timeout=5.0)
    assert not ours(host)


def test_end_tick_raises_host_dead_when_the_child_dies_mid_wait():
    (inst,) = instruments(1)
    host = ProcessHost(7, dead_after_s=30.0)
    pid = host.pid
    assert pid is not None
    try:
        host.add_engine(inst)
        os.kill(pid, signal.SIGSTOP)
        tick = host.begin_tick(TICK_NS)
        with pytest.raises(HostTimeout):
            host.end_tick(tick, timeout=0.05)
        threading.Timer(0.1, os.kill, (pid, signal.SIGKILL)).start()
        t0 = time.monotonic()
        with pytest.raises(HostDead, match="host 7 exited with signal SIGKILL"):
            host.end_tick(tick, timeout=DEADLINE_S)
        assert time.monotonic() - t0 < 5.0
    finally:
        host.stop(timeout=5.0)
    assert not ours(host)


def test_a_hung_host_is_declared_dead_by_its_stale_heartbeat():
    host = ProcessHost(8, heartbeat_interval_s=0.02, dead_after_s=0.3)
    pid = host.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: not host.alive(), "stale heartbeat", 5.0)
        assert "no heartbeat" in (host.failure() or "")
        assert "killed it" in (host.failure() or "")
        # Declared dead means dead: killed now, not left stopped until stop().
        assert pid_gone(pid)
        assert host.can_drain(0) is False
    finally:
        host.stop(timeout=5.0)  # kills the stopped child
    assert pid_gone(pid)
    assert not ours(host)


def test_start_timeout_cleans_up():
    before = set(list_blocks())
    with pytest.raises(HostTimeout, match="no heartbeat within"):
        ProcessHost(9, start_timeout_s=0.001)
    assert set(list_blocks()) <= before


# ---------------------------------------------------------------------- orphans


def _intermediate(conn: Connection) -> None:
    """A parent that starts a host, reports it, and waits to be SIGKILLed."""
    host = ProcessHost(10, heartbeat_interval_s=0.02)
    conn.send((host.pid, host.ring_names))
    conn.recv()  # blocks until SIGKILL


def test_child_exits_and_unlinks_its_rings_when_its_parent_dies():
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe()
    parent = ctx.Process(target=_intermediate, args=(sender,), name="host-parent")
    parent.start()
    try:
        assert receiver.poll(DEADLINE_S), "intermediate parent did not report"
        child_pid, names = receiver.recv()
        assert set(names) <= set(list_blocks())
        parent.kill()
        parent.join(DEADLINE_S)
        wait_for(lambda: pid_gone(child_pid), "orphaned host to exit", 10.0)
        wait_for(lambda: not set(names) & set(list_blocks()), "rings unlinked", 5.0)
    finally:
        if parent.exitcode is None:
            parent.kill()
            parent.join()
        parent.close()
        receiver.close()
        sender.close()


# ---------------------------------------------------------------------- the loop itself


def _loop_in_thread(inbound: SpscRing, outbound: SpscRing) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            run_host(11, inbound.name, outbound.name, None, 0.02, parent_pid=os.getppid())
        )
    )
    thread.start()
    return thread, result


def test_loop_reports_a_bad_message_as_host_failed():
    codec = WireCodec()
    with (
        SpscRing.create(make_name("tin"), 1 << 12) as inbound,
        SpscRing.create(make_name("tout"), 1 << 12) as outbound,
    ):
        thread, result = _loop_in_thread(inbound, outbound)
        inbound.push(b"\x93not a message", timeout=5.0)
        thread.join(DEADLINE_S)
        assert result == [EXIT_FAILED]
        messages = [codec.decode_outbound(raw) for raw in outbound.pop_many(100)]
        failed = [m for m in messages if isinstance(m, HostFailed)]
        assert len(failed) == 1
        assert failed[0].host_id == 11


def test_loop_exits_when_the_parent_closes_the_inbound_ring():
    with (
        SpscRing.create(make_name("tin"), 1 << 12) as inbound,
        SpscRing.create(make_name("tout"), 1 << 12) as outbound,
    ):
        thread, result = _loop_in_thread(inbound, outbound)
        inbound.mark_closed()
        thread.join(DEADLINE_S)
        assert result == [EXIT_ORPHANED]
        assert not {inbound.name, outbound.name} & set(list_blocks())


def test_the_tick_fast_path_encodes_exactly_a_host_tick():
    codec = WireCodec()
    (inst,) = instruments(1)
    commands = [(seq, cmd) for seq, cmd in command_stream(3, [inst], 200)]
    tag = HostTick.__struct_config__.tag
    fast = msgspec.msgpack.encode((tag, 5 * TICK_NS, 9, commands))
    assert fast == codec.encode(HostTick(5 * TICK_NS, 9, commands))
    assert codec.decode_inbound(fast) == HostTick(5 * TICK_NS, 9, commands)
    assert codec.decode_inbound(codec.encode(HostTick(1, 2))) == HostTick(1, 2, [])
    part = msgspec.msgpack.encode((HostCommands.__struct_config__.tag, commands[:7]))
    assert codec.decode_inbound(part) == HostCommands(commands[:7])


# ---------------------------------------------------------------------- capacity and waits


def test_a_full_symbol_queue_cannot_drain_before_a_tick():
    (a, b) = instruments(2)
    host = ProcessHost(12, queue_depth=3)
    try:
        host.add_engine(a)
        host.add_engine(b)
        assert host.free_slots(a.symbol_id) == 3
        for seq in (1, 2, 3):
            assert host.submit(seq, NewOrder(a.symbol_id, seq, 1, BUY, LIMIT, GTC, 1000, 1))
        # The symbol's queue is full: only a tick empties it, so no wait can help.
        assert host.free_slots(a.symbol_id) == 0
        assert host.can_drain(a.symbol_id) is False
        assert host.submit(4, NewOrder(a.symbol_id, 4, 1, BUY, LIMIT, GTC, 1000, 1)) is False
        assert host.free_slots(b.symbol_id) == 3
        host.end_tick(host.begin_tick(TICK_NS), timeout=DEADLINE_S)
        assert host.free_slots(a.symbol_id) == 3
    finally:
        host.stop()
    assert host.can_drain(a.symbol_id) is False


def test_nothing_drains_before_a_tick_and_a_dead_host_has_no_room():
    (a,) = instruments(1)
    host = ProcessHost(14, queue_depth=5)
    pid = host.pid
    assert pid is not None
    try:
        host.add_engine(a)
        for seq in range(1, 4):
            assert host.submit(seq, NewOrder(a.symbol_id, seq, 1, BUY, LIMIT, GTC, 1000, 1))
        assert host.free_slots(a.symbol_id) == 2
        assert host.can_drain(a.symbol_id) is False  # commands travel with the tick
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not host.alive(), "death detection")
        assert host.can_drain(a.symbol_id) is False
        with pytest.raises(HostDead, match="SIGKILL"):
            host.free_slots(a.symbol_id)
    finally:
        host.stop(timeout=5.0)


def test_in_process_free_slots_and_can_drain():
    (a,) = instruments(1)
    host = InProcessHost(13, queue_depth=2)
    host.add_engine(a)
    assert host.free_slots(a.symbol_id) == 2
    assert host.submit(1, NewOrder(a.symbol_id, 1, 1, BUY, LIMIT, GTC, 1000, 1))
    assert host.free_slots(a.symbol_id) == 1
    assert host.submit(2, NewOrder(a.symbol_id, 2, 1, BUY, LIMIT, GTC, 1000, 1))
    assert host.free_slots(a.symbol_id) == 0
    assert host.can_drain(a.symbol_id) is False
    host.tick(TICK_NS)
    assert host.free_slots(a.symbol_id) == 2
    with pytest.raises(UnknownEngine):
        host.free_slots(999)


# ---------------------------------------------------------------------- a venue on hosts

VA = Instrument(symbol="VA", symbol_id=31, tick_size="1")
VB = Instrument(symbol="VB", symbol_id=32, tick_size="1")


def resting(oid: int, sid: int, price: int = 100) -> NewOrder:
    return NewOrder(sid, oid, 1, BUY, LIMIT, GTC, price, 5)


def count_capacity_calls(host) -> list[str]:
    """Wrap ``submit`` and ``free_slots`` (the router calls them through the instance)."""
    calls: list[str] = []
    for name in ("submit", "free_slots"):
        method = getattr(host, name)

        def counted(*args, _method=method, _name=name):
            calls.append(_name)
            return _method(*args)

        setattr(host, name, counted)
    return calls


def test_a_venue_on_hosts_honours_queue_depth_and_refuses_at_once():
    with Venue(hosts=1, queue_depth=2) as venue:  # Backpressure.WAIT, the hosts' default
        venue.add_instrument(VA)
        venue.add_instrument(VB)
        assert venue.enqueue(resting(1, VA.symbol_id)) == 1
        assert venue.enqueue(resting(2, VA.symbol_id)) == 2
        calls = count_capacity_calls(venue.hosts[0])
        refused = venue.enqueue(resting(3, VA.symbol_id))
        assert isinstance(refused, OrderRejected)
        assert refused.reason == RejectReason.QUEUE_FULL
        # Nothing can drain before a tick: one look, no waiting loop (which would retry).
        assert len(calls) == 1, calls
        assert venue.enqueue(resting(3, VB.symbol_id)) == 3  # other symbols are not blocked
        events = venue.tick()
        assert sorted(
            (e.symbol_id, e.order_id) for e in events if isinstance(e, OrderAccepted)
        ) == [
            (VA.symbol_id, 1),
            (VA.symbol_id, 2),
            (VB.symbol_id, 3),
        ]
        assert venue.enqueue(resting(4, VA.symbol_id)) == 4  # the tick emptied the queue


def test_venue_passes_heartbeat_and_death_timeouts_to_its_hosts():
    with Venue(hosts=1, host_heartbeat_s=0.01, host_dead_after_s=7.5) as venue:
        host = venue.hosts[0]
        assert isinstance(host, ProcessHost)
        assert host.dead_after_s == 7.5
        assert host.heartbeat_interval_s == 0.01
    with pytest.raises(ValueError, match="host_heartbeat_s < host_dead_after_s"):
        Venue(hosts=1, host_heartbeat_s=2.0, host_dead_after_s=1.0)


def test_a_one_and_a_half_second_sigstop_does_not_fault_a_host_by_default():
    with Venue(hosts=1) as venue:
        venue.add_instrument(VA)
        venue.send(resting(1, VA.symbol_id))
        pid = venue.hosts[0].pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        resume = threading.Timer(1.5, os.kill, (pid, signal.SIGCONT))
        resume.start()
        try:
            events = venue.send(resting(2, VA.symbol_id))  # waits out the stall
        finally:
            resume.join()
        assert not [e for e in events if isinstance(e, EngineFaulted)]
        assert [e.order_id for e in events if isinstance(e, OrderAccepted)] == [2]
        assert venue.hosts[0].alive()
        assert not venue.coordinator.is_faulted(VA.symbol_id)


def _stall_a_host(venue: Venue, symbol_id: int) -> int:
    host = venue.coordinator.host_of(symbol_id)
    assert isinstance(host, ProcessHost)
    pid = host.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    return pid


def _flow(venue: Venue, oid: int) -> list[object]:
    out: list[object] = []
    for sid in (VA.symbol_id, VB.symbol_id):
        out += venue.send(NewOrder(sid, oid, 1, BUY if oid % 2 else SELL, LIMIT, GTC, 100, 3))
    return out


def test_without_a_data_dir_a_stalled_host_is_killed_and_its_symbols_faulted_with_the_cause():
    with Venue(hosts=2, placement="round-robin", host_dead_after_s=1.0) as venue:
        venue.add_instrument(VA)
        venue.add_instrument(VB)
        _flow(venue, 1)
        pid = _stall_a_host(venue, VA.symbol_id)
        try:
            events = venue.send(resting(2, VA.symbol_id))
            assert pid_gone(pid)  # killed when declared dead, not left to resume
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        faults = [e for e in events if isinstance(e, EngineFaulted)]
        assert [e.symbol_id for e in faults] == [VA.symbol_id]
        assert "no heartbeat" in faults[0].detail
        assert "killed it" in faults[0].detail
        again = venue.send(resting(3, VA.symbol_id))
        assert again[0].reason == RejectReason.ENGINE_FAULTED
        assert isinstance(venue.send(resting(3, VB.symbol_id))[0], OrderAccepted)


def test_with_a_data_dir_a_stalled_host_is_killed_and_its_symbols_restored(tmp_path):
    with Venue() as reference:
        reference.add_instrument(VA)
        reference.add_instrument(VB)
        expected = [_flow(reference, oid) for oid in range(1, 7)]
        hashes = reference.state_hashes()
    with Venue(
        hosts=2,
        placement="round-robin",
        data_dir=tmp_path / "d",
        checkpoint_every=3,
        host_dead_after_s=1.0,
    ) as venue:
        venue.add_instrument(VA)
        venue.add_instrument(VB)
        got = [_flow(venue, oid) for oid in range(1, 4)]
        pid = _stall_a_host(venue, VA.symbol_id)
        try:
            got += [_flow(venue, oid) for oid in range(4, 7)]
            assert pid_gone(pid)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        assert got == expected  # nothing lost, no fault: the journal rebuilt VA elsewhere
        assert venue.state_hashes() == hashes
        assert not venue.coordinator.is_faulted(VA.symbol_id)
        assert venue.coordinator.host_of(VA.symbol_id).alive()


# ---------------------------------------------------------------------- batched wire, waits


def test_one_inbound_record_per_tick_carries_all_its_commands():
    insts = instruments(3)
    stream = command_stream(11, insts, 1_500)
    expected, _ = reference(insts, stream, 500)
    host = ProcessHost(15)
    try:
        for inst in insts:
            host.add_engine(inst)
        before = host.records_sent
        got = submit_all(host, stream, 500)  # three ticks of 500 commands, then an empty one
        assert host.records_sent - before == 4
        assert got == expected
    finally:
        host.stop()


def test_the_wait_strategy_reaches_the_child():
    strategy = WaitStrategy.parse("yield,yields=1234")
    host = ProcessHost(16, wait=strategy)
    pid = host.pid
    assert pid is not None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        assert strategy.spec().encode() in argv
        assert host.wait == strategy
    finally:
        host.stop()


@pytest.mark.parametrize("wait", ["sleep", "yield", "spin"])
def test_a_venue_gives_the_same_events_with_every_wait_strategy(wait):
    with Venue() as reference_venue:
        reference_venue.add_instrument(VA)
        reference_venue.add_instrument(VB)
        expected = [_flow(reference_venue, oid) for oid in range(1, 6)]
    with Venue(hosts=2, placement="round-robin", wait=wait) as venue:
        venue.add_instrument(VA)
        venue.add_instrument(VB)
        assert all(h.wait == WaitStrategy.named(wait) for h in venue.hosts)
        assert [_flow(venue, oid) for oid in range(1, 6)] == expected
    with pytest.raises(ValueError, match="must be one of sleep, yield, spin"):
        Venue(hosts=1, wait="nap")


def test_the_loop_beats_between_the_engines_of_a_long_tick():
    codec = WireCodec()
    insts = instruments(3)
    with (
        SpscRing.create(make_name("tin"), 1 << 16) as inbound,
        SpscRing.create(make_name("tout"), 1 << 16) as outbound,
    ):
        loop = HostLoop(17, inbound, outbound, heartbeat_interval_s=1e-9, parent_pid=os.getppid())
        commands = [(i + 1, resting(i + 1, inst.symbol_id)) for i, inst in enumerate(insts)]
        batch = [codec.encode(AddEngine(inst)) for inst in insts]
        batch.append(codec.encode(HostTick(TICK_NS, 1, commands)))
        assert loop.handle(batch) is False
        kinds = [type(codec.decode_outbound(raw)).__name__ for raw in outbound.pop_many(100)]
    # Every engine's tick is followed by a heartbeat (all due at a 1 ns interval), before
    # the tick's one EventBatch: a tick of many engines never looks like a hang.
    assert kinds == ["EngineAdded"] * 3 + ["Heartbeat"] * 3 + ["EventBatch"]


def test_in_process_tick_calls_between_after_each_ticked_engine():
    insts = instruments(3)
    host = InProcessHost(18)
    for inst in insts:
        host.add_engine(inst)
    host.submit(1, resting(1, insts[0].symbol_id))
    host.submit(2, resting(2, insts[2].symbol_id))
    calls: list[int] = []
    host.tick(TICK_NS, lambda: calls.append(len(calls)))
    assert calls == [0, 1]  # two engines had work; the idle one is skipped
