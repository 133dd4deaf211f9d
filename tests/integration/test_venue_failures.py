"""Failure isolation at the venue: a faulted engine or a killed host takes only its symbols."""

from __future__ import annotations

import os
import signal
import time

import pytest

import whistle.book.book as book_module
from whistle import EngineFaulted, NewOrder, OrderAccepted, RejectReason, Venue
from whistle.coord import ProcessHost
from whistle.core import Instrument

A = Instrument(symbol="A", symbol_id=21, tick_size="1")
B = Instrument(symbol="B", symbol_id=22, tick_size="1")


def order(oid: int, sid: int, price: int = 100) -> NewOrder:
    return NewOrder(sid, oid, 1, 1, 1, 1, price, 5)


def test_an_engine_exception_faults_one_symbol_and_the_others_trade(monkeypatch):
    with Venue() as venue:
        venue.add_instrument(A)
        venue.add_instrument(B)
        venue.send(order(1, A.symbol_id))
        venue.send(order(1, B.symbol_id))
        original = book_module.EV.OrderAccepted

        def boom(*args):
            if args[0] == A.symbol_id:  # only symbol A's engine has the bug
                raise RuntimeError("injected")
            return original(*args)

        monkeypatch.setattr(book_module.EV, "OrderAccepted", boom)  # what the book calls
        faulted = venue.send(order(2, A.symbol_id))
        assert [type(e).__name__ for e in faulted] == ["EngineFaulted"]
        assert isinstance(venue.send(order(2, B.symbol_id))[0], OrderAccepted)
        monkeypatch.undo()
        rejected = venue.send(order(3, A.symbol_id))
        assert rejected[0].reason == RejectReason.ENGINE_FAULTED
        assert venue.status("A").fault == "RuntimeError: injected"
        assert isinstance(venue.send(order(3, B.symbol_id))[0], OrderAccepted)


def _pid_of_host_running(venue: Venue, symbol_id: int) -> int:
    host = venue.coordinator.host_of(symbol_id)
    assert isinstance(host, ProcessHost)
    assert host.pid is not None
    return host.pid


def test_a_killed_host_faults_its_symbols_with_the_cause_and_the_rest_trade():
    with Venue(hosts=2, placement="round-robin") as venue:
        venue.add_instrument(A)
        venue.add_instrument(B)
        venue.send(order(1, A.symbol_id))
        venue.send(order(1, B.symbol_id))
        host_a = venue.coordinator.host_of(A.symbol_id)
        assert host_a is not venue.coordinator.host_of(B.symbol_id)
        os.kill(_pid_of_host_running(venue, A.symbol_id), signal.SIGKILL)
        deadline = time.monotonic() + 10
        events: list = []
        while time.monotonic() < deadline and not any(isinstance(e, EngineFaulted) for e in events):
            venue.enqueue(order(len(events) + 10, B.symbol_id))
            events.extend(venue.tick())
        faulted = [e for e in events if isinstance(e, EngineFaulted)]
        assert [e.symbol_id for e in faulted] == [A.symbol_id]
        assert "SIGKILL" in faulted[0].detail
        assert venue.coordinator.is_faulted(A.symbol_id)
        # A is refused with a reason; B keeps trading on the surviving host.
        assert venue.send(order(99, A.symbol_id))[0].reason == RejectReason.ENGINE_FAULTED
        assert isinstance(venue.send(order(99, B.symbol_id))[0], OrderAccepted)
    leftovers = [n for n in os.listdir("/dev/shm") if n.startswith(f"whistle-{os.getpid()}-")]
    assert leftovers == []


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs sched_getaffinity")
def test_host_processes_are_pinned_where_the_os_allows():
    with Venue(hosts=2) as venue:
        cpus = sorted(os.sched_getaffinity(0))
        pinned = [h.cpu_affinity() for h in venue.hosts if isinstance(h, ProcessHost)]
        assert pinned == [frozenset({cpus[i % len(cpus)]}) for i in range(2)]


def test_with_a_journal_a_killed_hosts_symbols_are_restored_on_another_host(tmp_path):
    from whistle.coord.durability.replay import replay

    data = tmp_path / "venue"
    with Venue(hosts=2, placement="round-robin", data_dir=data, checkpoint_every=3) as venue:
        venue.add_instrument(A)
        venue.add_instrument(B)
        for i in range(1, 8):
            venue.send(order(i, A.symbol_id, price=100 + i % 3))
            venue.send(order(i, B.symbol_id))
        survivor = venue.coordinator.host_of(B.symbol_id)
        os.kill(_pid_of_host_running(venue, A.symbol_id), signal.SIGKILL)
        # Orders for A sent to the dead host are in the journal: they are not lost.
        venue.enqueue(order(50, A.symbol_id, price=99))
        deadline = time.monotonic() + 10
        events: list = []
        while (
            time.monotonic() < deadline and venue.coordinator.host_of(A.symbol_id) is not survivor
        ):
            events.extend(venue.tick())
        assert venue.coordinator.host_of(A.symbol_id) is survivor
        assert not any(isinstance(e, EngineFaulted) for e in events)
        assert any(isinstance(e, OrderAccepted) and e.order_id == 50 for e in events)
        assert isinstance(venue.send(order(51, A.symbol_id))[0], OrderAccepted)
        hashes = venue.state_hashes()
    report = replay(data)
    assert report.ok
    assert report.state_hashes == hashes


def test_a_killed_hosts_symbols_are_restored_past_a_damaged_latest_snapshot(tmp_path):
    # The host-death restore chooses its checkpoint as recovery does: a damaged latest
    # snapshot falls back to the previous checkpoint and its longer journal tail.
    from whistle.coord.durability.datadir import scan, snapshot_path
    from whistle.coord.durability.replay import replay

    data = tmp_path / "venue"
    with Venue(hosts=2, placement="round-robin", data_dir=data, checkpoint_every=3) as venue:
        venue.add_instrument(A)
        venue.add_instrument(B)
        for i in range(1, 8):
            venue.send(order(i, A.symbol_id, price=100 + i % 3))
            venue.send(order(i, B.symbol_id))
        latest = scan(data).checkpoints[-1]
        snapshot_path(data, A.symbol_id, latest.snapshots[A.symbol_id]).write_bytes(b"")
        survivor = venue.coordinator.host_of(B.symbol_id)
        os.kill(_pid_of_host_running(venue, A.symbol_id), signal.SIGKILL)
        deadline = time.monotonic() + 10
        events: list = []
        while (
            time.monotonic() < deadline and venue.coordinator.host_of(A.symbol_id) is not survivor
        ):
            events.extend(venue.tick())
        assert venue.coordinator.host_of(A.symbol_id) is survivor
        assert not any(isinstance(e, EngineFaulted) for e in events)
        assert isinstance(venue.send(order(51, A.symbol_id))[0], OrderAccepted)
        hashes = venue.state_hashes()
    report = replay(data)
    assert report.state_hashes == hashes


def test_a_host_dying_while_events_wait_for_the_disk_delivers_no_event_twice(tmp_path, monkeypatch):
    from whistle.coord.durability.datadir import read_event_seqs
    from whistle.coord.durability.replay import replay
    from whistle.journal import JournalFull

    data = tmp_path / "venue"
    with Venue(hosts=2, placement="round-robin", data_dir=data, checkpoint_every=3) as venue:
        venue.add_instrument(A)
        venue.add_instrument(B)
        for i in range(1, 6):
            venue.send(order(i, A.symbol_id, price=100 + i % 3))
            venue.send(order(i, B.symbol_id))
        journal = venue._journal
        assert journal is not None
        writer = journal._events

        def full(*args, **kwargs):
            raise JournalFull("journal is full", path=writer.path)

        monkeypatch.setattr(writer, "append_many", full)
        monkeypatch.setattr(writer, "append", full)
        delivered: list = []
        for i in range(6, 9):  # their events wait in memory
            delivered.extend(venue.send(order(i, A.symbol_id, price=100 + i % 3)))
        assert journal.unwritten_events > 0
        survivor = venue.coordinator.host_of(B.symbol_id)
        os.kill(_pid_of_host_running(venue, A.symbol_id), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while (
            time.monotonic() < deadline and venue.coordinator.host_of(A.symbol_id) is not survivor
        ):
            delivered.extend(venue.tick())
        assert venue.coordinator.host_of(A.symbol_id) is survivor
        monkeypatch.undo()
        delivered.extend(venue.send(order(60, A.symbol_id)))
        seqs = [e.seq for e in delivered if e.symbol_id == A.symbol_id and e.seq]
        assert len(seqs) == len(set(seqs))  # nothing delivered twice
    _, gaps = read_event_seqs(data)  # a duplicate would raise here
    assert gaps == []
    report = replay(data)
    assert report.event_problems == []
    assert report.ok
