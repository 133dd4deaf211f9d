"""The write path rule: validated, then journaled, then dispatched; a journal failure refuses.

Each test attacks one promise of ``whistle.coord.runtime.router`` (module docstring): nothing is
sequenced before it is validated, nothing reaches a host before it is journaled, a
journal failure consumes no ``enq_seq`` and touches no host, and the venue either stays
usable or stops cleanly.
"""

from __future__ import annotations

import errno
import random
from typing import TYPE_CHECKING, Any

import pytest

import whistle.journal.writer as writer_module
from whistle import NewOrder, OrderAccepted, OrderRejected, RejectReason, Venue
from whistle.coord.durability.datadir import JournalUnavailable, iter_records
from whistle.coord.durability.records import Sequenced, Ticked
from whistle.coord.durability.replay import replay
from whistle.coord.errors import HostStateError
from whistle.coord.runtime.router import DispatchError
from whistle.core import Instrument
from whistle.core.limits import MAX_TS_NS
from whistle.journal import JournalFull, JournalIOError

if TYPE_CHECKING:
    from pathlib import Path

A = Instrument(symbol="A", symbol_id=1, tick_size="0.01")


def journaled_venue(path: Path, **kw: Any) -> Venue:
    venue = Venue(data_dir=path, checkpoint_every=0, **kw)
    venue.add_instrument(A)
    return venue


def crash(venue: Venue) -> None:
    # The process dies: the journal is closed as the kernel would leave it, no Stopped.
    assert venue._journal is not None
    venue._journal.close()
    venue._journal = None
    venue.stop()


def sequenced(path: Path) -> list[int]:
    return [r.enq_seq for r in iter_records(path) if isinstance(r, Sequenced)]


def test_an_unencodable_cancel_is_refused_before_it_is_sequenced(tmp_path: Path) -> None:
    # Issue finding 1: cancel("A", 2**64) raised OverflowError with the cancel queued, the
    # next submit traded unjournaled and the journal held enq_seq 1 and 3.
    data = tmp_path / "d"
    with journaled_venue(data) as venue:
        venue.submit("A", "sell", "10", "100.00")
        refused = venue.cancel("A", 2**64)
        assert [(type(e), e.seq, e.enq_seq) for e in refused] == [(OrderRejected, 0, 0)]
        assert refused[0].reason == RejectReason.VALUE_OUT_OF_RANGE
        assert venue.enq_seq == 1
        traded = venue.submit("A", "buy", "10", "100.00")
        assert traded[0].enq_seq == 2
        assert any(type(e).__name__ == "TradeOccurred" for e in traded)
    assert sequenced(data) == [1, 2]
    assert replay(data).ok


def _full_at_roll(path_part: str) -> Any:
    real = writer_module.create_segment

    def create(dirpath: str, *args: Any, **kw: Any) -> str:
        if path_part in dirpath:
            raise JournalFull("journal is full while creating a segment", path=dirpath)
        return real(dirpath, *args, **kw)

    return create


def test_disk_full_while_the_command_journal_rolls_refuses_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue finding 1 (roll): the command reached its host, was not journaled, and after a
    # crash the venue reopened with a different book.
    data = tmp_path / "d"
    venue = journaled_venue(data, segment_size=4096, prealloc=False)
    monkeypatch.setattr(writer_module, "create_segment", _full_at_roll("commands"))
    accepted = 0
    refused: JournalUnavailable | None = None
    for i in range(1, 1000):
        try:
            venue.enqueue(NewOrder(1, i, 1, 1 + i % 2, 1, 1, 10_000 + i % 3, 5))
        except JournalUnavailable as exc:
            refused = exc
            break
        accepted += 1
    assert refused is not None
    assert "nothing was written" in str(refused)
    assert not refused.fatal
    assert "commands" in str(refused)
    assert venue.enq_seq == accepted  # the refused command consumed no enq_seq
    assert venue.next_order_id("A") == accepted + 1
    monkeypatch.undo()  # space is freed
    after = venue.tick()
    accepted_ids = [e.order_id for e in after if isinstance(e, OrderAccepted)]
    assert accepted_ids == list(range(1, accepted + 1))  # the refused one never ran
    assert venue.enqueue(NewOrder(1, 5000, 1, 1, 1, 1, 9000, 5)) == accepted + 1
    venue.tick()
    live = venue.state_hashes()
    crash(venue)
    with Venue(data_dir=data) as again:
        assert again.state_hashes() == live
    assert sequenced(data) == list(range(1, accepted + 2))
    assert replay(data).ok


def refuse_ticks(venue: Venue, monkeypatch: pytest.MonkeyPatch) -> None:
    # The command journal is full for Ticked records only (commands still fit).
    journal = venue._journal
    assert journal is not None
    commands = journal._commands
    real = commands.append

    def append(type_id: int, payload: bytes, ts_ns: int | None = None) -> int:
        if type_id == 3:  # Ticked
            raise JournalFull("journal is full", path=commands.path)
        return real(type_id, payload, ts_ns=ts_ns)

    monkeypatch.setattr(commands, "append", append)


def test_a_tick_that_cannot_be_journaled_does_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "d"
    venue = journaled_venue(data)
    venue.enqueue(NewOrder(1, 1, 1, 1, 1, 1, 10_000, 5))
    refuse_ticks(venue, monkeypatch)
    with pytest.raises(JournalUnavailable):
        venue.tick(1_000)
    assert (venue.now_ns, venue.clock.tick_number) == (0, 0)  # the clock did not move
    assert venue.status("A").event_seq == 0  # the engine never ran the queued command
    monkeypatch.undo()
    events = venue.tick(1_000)
    assert [type(e) for e in events][:1] == [OrderAccepted]
    assert events[0].ts_ns == 1_000
    venue.stop()
    ticks = [(r.number, r.now_ns) for r in iter_records(data) if isinstance(r, Ticked)]
    assert ticks[0] == (1, 1_000)
    assert replay(data).ok


def test_send_says_when_its_command_was_journaled_but_its_tick_was_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venue = journaled_venue(tmp_path / "d")
    venue.submit("A", "buy", "1", "1.00")
    refuse_ticks(venue, monkeypatch)
    with pytest.raises(JournalUnavailable, match="was accepted as enq_seq 2") as info:
        venue.submit("A", "buy", "1", "1.00")
    assert info.value.accepted_enq_seq == 2  # acknowledged: do not send it again
    monkeypatch.undo()
    events = venue.tick()
    assert [e.order_id for e in events if isinstance(e, OrderAccepted)] == [2]
    venue.stop()


def test_a_time_past_the_journal_range_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    # Issue: the clock passed 2**64 ns; every later tick and command failed.
    data = tmp_path / "d"
    with journaled_venue(data) as venue:
        for bad in (2**64, MAX_TS_NS + 1):
            with pytest.raises(ValueError, match="MAX_TS_NS"):
                venue.tick(bad)
        with pytest.raises(ValueError, match="MAX_TS_NS"):
            venue.advance(2**63)
        with pytest.raises(TypeError, match="must be an int"):
            venue.tick(True)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be an int"):
            venue.advance(1.5)  # type: ignore[arg-type]
        assert (venue.now_ns, venue.clock.tick_number) == (0, 0)
        venue.submit("A", "buy", "1", "1.00")  # still usable
        venue.tick(MAX_TS_NS)
    ticks = [r.now_ns for r in iter_records(data) if isinstance(r, Ticked)]
    assert max(ticks) == MAX_TS_NS
    assert replay(data).ok


def test_a_journal_that_can_no_longer_be_written_stops_the_venue_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "d"
    venue = journaled_venue(data)
    venue.submit("A", "buy", "1", "1.00")
    journal = venue._journal
    assert journal is not None

    def broken(*args: Any, **kw: Any) -> int:
        raise JournalIOError("I/O error while writing", path=journal._commands.path, errno=5)

    monkeypatch.setattr(journal._commands, "append", broken)
    with pytest.raises(JournalUnavailable, match="can no longer be written") as info:
        venue.submit("A", "buy", "1", "1.00")
    assert info.value.fatal
    assert venue.enq_seq == 1
    for call in (
        lambda: venue.submit("A", "buy", "1", "1.00"),
        lambda: venue.tick(),
        lambda: venue.add_instrument("B"),
    ):
        with pytest.raises(HostStateError, match="the venue stopped: cannot journal"):
            call()
    assert venue.durability().stopped_reason is not None
    monkeypatch.undo()
    venue.stop()  # closes cleanly (no drain, no Stopped record)
    with Venue(data_dir=data) as again:
        assert again.enq_seq == 1
        assert again.recovery is not None
        assert not again.recovery.clean_stop


def test_a_refused_journal_write_leaves_the_host_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venue = journaled_venue(tmp_path / "d")
    journal = venue._journal
    assert journal is not None
    host = venue.hosts[0]
    seen: list[int] = []
    real_submit = host.submit

    def spy(enq_seq: int, command: Any) -> bool:
        seen.append(enq_seq)
        return real_submit(enq_seq, command)

    monkeypatch.setattr(host, "submit", spy)

    def full(*args: Any, **kw: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal._commands, "append", full)
    with pytest.raises(JournalUnavailable):
        venue.submit("A", "buy", "1", "1.00")
    assert seen == []  # journaled before any host sees it: nothing was journaled
    venue.stop()


def test_dispatch_cannot_fail_once_the_router_found_room(tmp_path: Path) -> None:
    # The capacity check comes before the journal: a full queue is refused (QUEUE_FULL)
    # without a record, so every journaled command has room on its host.
    data = tmp_path / "d"
    with journaled_venue(data, queue_depth=2) as venue:
        assert [venue.enqueue(NewOrder(1, i, 1, 1, 1, 1, 100, 5)) for i in (1, 2)] == [1, 2]
        full = venue.enqueue(NewOrder(1, 3, 1, 1, 1, 1, 100, 5))
        assert isinstance(full, OrderRejected)
        assert full.reason == RejectReason.QUEUE_FULL
        assert sequenced(data) == [1, 2]  # the refused one was never journaled
        venue.tick()
        assert venue.enqueue(NewOrder(1, 3, 1, 1, 1, 1, 100, 5)) == 3
    assert sequenced(data) == [1, 2, 3]


def test_a_host_breaking_its_room_promise_stops_the_venue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "d"
    venue = journaled_venue(data)
    monkeypatch.setattr(venue.hosts[0], "submit", lambda enq_seq, command: False)
    with pytest.raises(DispatchError, match="although it reported room"):
        venue.submit("A", "buy", "1", "1.00")
    with pytest.raises(HostStateError, match="the venue stopped"):
        venue.submit("A", "buy", "1", "1.00")
    monkeypatch.undo()
    venue.stop()
    with Venue(data_dir=data) as again:  # journaled, so a restart executes it
        again.tick()
        assert again.status("A").event_seq > 0


def test_every_journaled_command_runs_and_no_refused_one_is_journaled(tmp_path: Path) -> None:
    # The capacity check precedes the journal: under random bursts against a tiny queue,
    # the journaled enq_seqs are exactly the ones the engines executed (each NewOrder
    # answers with at least one event carrying its enq_seq), and nothing refused is there.
    rng = random.Random(7)
    data = tmp_path / "d"
    executed: set[int] = set()
    refused = 0
    with journaled_venue(data, queue_depth=3) as venue:
        venue.add_instrument("B", symbol_id=2)
        oid = 0
        for _ in range(200):
            for _ in range(rng.randrange(0, 6)):
                oid += 1
                result = venue.enqueue(
                    NewOrder(rng.choice((1, 2)), oid, 1, rng.choice((1, 2)), 1, 1, 100, 1)
                )
                refused += isinstance(result, OrderRejected)
            executed.update(e.enq_seq for e in venue.tick() if e.enq_seq)
    assert refused > 0  # the queue was full often
    assert set(sequenced(data)) == executed
    assert sequenced(data) == list(range(1, len(executed) + 1))


def test_a_session_end_is_not_lost_when_a_symbol_queue_is_full(tmp_path: Path) -> None:
    # The EndSession of a symbol whose queue is full at the session-ending tick used to be
    # refused and dropped: its DAY orders never expired. It now goes at the next tick.
    data = tmp_path / "d"
    with journaled_venue(data, queue_depth=1, session_end_ns=1_000) as venue:
        venue.submit("A", "buy", "1", "1.00", tif="day")
        venue.enqueue(NewOrder(1, 50, 1, 1, 1, 1, 99, 1))  # the one slot is taken
        venue.tick(1_000)
        assert any(o.order_id == 1 for o in venue.l3("A"))  # the session end waits ...
        assert not venue.clock.session_ended
        venue.tick()
        assert venue.clock.session_ended
        assert venue.l3("A") == [o for o in venue.l3("A") if o.order_id == 50]  # ... DAY gone
        live = venue.state_hashes()
    assert replay(data).ok
    with Venue(data_dir=data) as again:
        assert again.state_hashes() == live
