"""Recovery never guesses: Venue(data_dir) and whistle replay read the journal through one
checked reader and reach the same verdict; a refused open writes nothing."""

from __future__ import annotations

import hashlib
import shutil
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from whistle import NewOrder, Venue
from whistle.cli.main import main
from whistle.coord.durability.datadir import DataDirError, JournalDamaged, VenueJournal
from whistle.coord.durability.records import COMMANDS_DIR, EVENTS_DIR
from whistle.coord.durability.replay import event_cut, replay
from whistle.core import Instrument
from whistle.journal import Queue, ReadOnlyReader, truncate_after

if TYPE_CHECKING:
    from pathlib import Path

A = Instrument(symbol="A", symbol_id=61, tick_size="1")
B = Instrument(symbol="B", symbol_id=62, tick_size="1")


def order(oid: int, sid: int = 61) -> NewOrder:
    return NewOrder(sid, oid, 1, 1 + oid % 2, 1, 1, 100 + oid % 3, 2)


def tree(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def both_refuse(data: Path, pattern: str) -> JournalDamaged:
    """Venue and replay (API and CLI) refuse ``data`` with the same error; nothing written."""
    before = tree(data)
    with pytest.raises(JournalDamaged, match=pattern) as venue_error:
        Venue(data_dir=data)
    assert tree(data) == before  # a refused open writes nothing (no lock, no heartbeat)
    with pytest.raises(JournalDamaged) as replay_error:
        replay(data)
    assert str(replay_error.value) == str(venue_error.value)
    result = CliRunner().invoke(main, ["replay", str(data)])
    assert result.exit_code != 0
    assert str(venue_error.value).splitlines()[0][:60] in result.output.replace("\n", " ")
    return venue_error.value


def segmented(data: Path, n: int = 400) -> None:
    with Venue(data_dir=data, segment_size=16384, checkpoint_every=0) as venue:
        venue.add_instrument(A)
        for i in range(1, n + 1):
            venue.send(order(i))


def test_a_zeroed_page_in_a_segment_is_damage_for_venue_and_replay(tmp_path: Path) -> None:
    # Issue finding 3: replay said "0 mismatches; no clean stop" and exited 0.
    data = tmp_path / "d"
    segmented(data)
    segments = sorted((data / COMMANDS_DIR).glob("*.wseg"))
    assert len(segments) >= 3
    target = segments[1]  # sealed: a later segment exists
    raw = bytearray(target.read_bytes())
    raw[8192 : 8192 + 4096] = bytes(4096)
    target.write_bytes(bytes(raw))
    error = both_refuse(data, "cannot be read")
    assert error.path.endswith(target.name) or target.name in str(error)
    assert "offset" in str(error)
    assert error.first_enq_seq > 1
    # The sealed segment after the damage is readable: the lost range is exact.
    assert error.last_enq_seq is not None
    assert error.last_enq_seq >= error.first_enq_seq
    assert f"from enq_seq {error.first_enq_seq} to {error.last_enq_seq}" in str(error)


def test_a_bit_flip_in_the_last_record_of_a_sealed_segment_is_damage(tmp_path: Path) -> None:
    # Issue finding 2: acknowledged commands were lost and enq_seq 1353 issued twice.
    data = tmp_path / "d"
    segmented(data)
    target = sorted((data / COMMANDS_DIR).glob("*.wseg"))[0]
    raw = bytearray(target.read_bytes())
    last = max(i for i in range(len(raw) - 8) if raw[i : i + 8] != bytes(8)) - 16
    raw[last] ^= 0x01
    target.write_bytes(bytes(raw))
    both_refuse(data, "acknowledged commands from enq_seq")


@pytest.mark.parametrize("which", ["head", "only"])
def test_a_deleted_segment_is_damage(tmp_path: Path, which: str) -> None:
    data = tmp_path / "d"
    segmented(data, 400 if which == "head" else 3)
    segments = sorted((data / COMMANDS_DIR).glob("*.wseg"))
    (segments[-1] if which == "head" else segments[0]).unlink()
    with pytest.raises(DataDirError):
        Venue(data_dir=data)
    with pytest.raises(DataDirError):
        replay(data)


def crafted(data: Path, records: list[tuple[str, tuple[object, ...]]]) -> None:
    journal = VenueJournal(data)
    for kind, args in records:
        getattr(journal, kind)(*args)
    journal.close()


def test_an_enq_seq_gap_is_damage(tmp_path: Path) -> None:
    data = tmp_path / "d"
    crafted(
        data,
        [
            ("defined", (A, 0)),
            ("sequenced", (1, order(1), 0)),
            ("sequenced", (3, order(3), 0)),
        ],
    )
    error = both_refuse(data, r"enq_seq 3 follows 1 \(a gap\)")
    assert error.first_enq_seq == 2


def test_a_duplicate_enq_seq_is_damage(tmp_path: Path) -> None:
    data = tmp_path / "d"
    crafted(
        data,
        [
            ("defined", (A, 0)),
            ("sequenced", (1, order(1), 0)),
            ("sequenced", (1, order(2), 0)),
        ],
    )
    both_refuse(data, r"enq_seq 1 follows 1 \(a duplicate\)")


def test_ticks_going_backwards_are_damage(tmp_path: Path) -> None:
    data = tmp_path / "d"
    crafted(
        data,
        [
            ("defined", (A, 0)),
            ("ticked", (1, 50)),
            ("ticked", (2, 40)),
        ],
    )
    both_refuse(data, "ticks must go forward")


def test_a_command_for_an_undefined_symbol_is_damage(tmp_path: Path) -> None:
    data = tmp_path / "d"
    crafted(
        data,
        [
            ("defined", (A, 0)),
            ("sequenced", (1, order(1, sid=62), 0)),
        ],
    )
    both_refuse(data, "symbol 62, which no earlier record defines")


def test_damage_in_the_event_journal_is_refused_by_both(tmp_path: Path) -> None:
    # fault-suite finding F2: a bit flip in a sealed events segment was recovered silently.
    data = tmp_path / "d"
    segmented(data)
    segments = sorted((data / EVENTS_DIR).glob("*.wseg"))
    assert len(segments) > 2
    raw = bytearray(segments[0].read_bytes())
    raw[len(raw) // 2] ^= 0x40
    segments[0].write_bytes(bytes(raw))
    before = tree(data)
    with pytest.raises(DataDirError, match="event journal is damaged"):
        Venue(data_dir=data)
    assert tree(data) == before
    with pytest.raises(DataDirError, match="event journal is damaged"):
        replay(data)


def test_a_pre_created_empty_queue_is_a_new_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with Queue.open_publisher(data / COMMANDS_DIR):
        pass
    with Venue(data_dir=data) as venue:
        assert venue.recovery is None
        venue.add_instrument(A)
        venue.send(order(1))
    assert replay(data).ok


def test_an_event_journal_ahead_of_the_commands_is_refused(tmp_path: Path) -> None:
    # fault-suite finding F9: after the command journal was cut (a repair), DIR/events still held
    # later events; the venue recovered and would have issued those seqs a second time.
    data = tmp_path / "d"
    segmented(data, 40)
    with ReadOnlyReader(data / COMMANDS_DIR) as reader:
        records = [(r.type_id, r.payload) for r in reader]
    (data / COMMANDS_DIR).rename(tmp_path / "old-commands")
    with Queue.open_publisher(data / COMMANDS_DIR) as writer:
        for type_id, payload in records[: len(records) // 2]:
            writer.append(type_id, payload)
    report = replay(data)
    assert not report.ok
    assert report.event_problems
    before = tree(data)
    with pytest.raises(DataDirError, match="is ahead of the command journal"):
        Venue(data_dir=data)
    assert tree(data) == before
    # What a repair does: cut DIR/events to what the kept commands produce.
    keep = event_cut(data)
    assert keep is not None
    truncate_after(data / EVENTS_DIR, keep)
    assert event_cut(data) is None
    assert replay(data).ok
    with Venue(data_dir=data) as again:
        assert again.recovery is not None
        again.send(order(1000))
    assert replay(data).ok


def test_a_deleted_command_journal_is_not_a_new_venue(tmp_path: Path) -> None:
    # Issue finding 2: with the only data segment deleted the venue started fresh.
    data = tmp_path / "d"
    segmented(data, 5)
    shutil.rmtree(data / COMMANDS_DIR)
    before = tree(data)
    with pytest.raises(DataDirError, match="the command journal is gone"):
        Venue(data_dir=data)
    assert tree(data) == before
    with pytest.raises(DataDirError, match="is not a whistle data directory"):
        replay(data)


def test_commands_journaled_after_the_last_tick_are_named_pending(tmp_path: Path) -> None:
    # The crash came between Sequenced records and the next Ticked: acknowledged, not run.
    data = tmp_path / "d"
    venue = Venue(data_dir=data, checkpoint_every=0)
    venue.add_instrument(A)
    venue.send(order(1))
    assert venue.enqueue(order(3)) == 2  # same side as order 1: nothing trades
    assert venue.enqueue(order(5)) == 3
    assert venue._journal is not None
    venue._journal.close()  # the process dies: no tick, no Stopped
    venue._journal = None
    venue.stop()
    assert replay(data).pending == [2, 3]
    cli = CliRunner().invoke(main, ["replay", str(data)])
    assert "2 commands (enq_seq 2..3) were journaled after the last tick" in cli.output
    reopened = Venue(data_dir=data, checkpoint_every=0)
    report = reopened.recovery
    assert report is not None
    assert report.pending == [2, 3]
    assert "pending=[2, 3]" in repr(report)
    assert report.enq_seq == 3
    assert [o.order_id for o in reopened.l3("A")] == [1]  # not run at recovery
    reopened.tick(5_000)  # they run at the next tick, at its time
    assert sorted(o.order_id for o in reopened.l3("A")) == [1, 3, 5]
    hashes = reopened.state_hashes()
    reopened.stop()
    assert replay(data).state_hashes == hashes
    with Venue(data_dir=data) as again:
        assert again.recovery is not None
        assert again.recovery.pending == []


def test_a_clean_stop_before_a_later_instrument_is_recovered_from_scratch(
    tmp_path: Path,
) -> None:
    # The first Stopped record holds no hash (nothing was defined yet); recovery from the
    # start (snapshots gone) compares it with the symbols defined so far, not every one.
    data = tmp_path / "d"
    Venue(data_dir=data).stop()
    with Venue(data_dir=data, checkpoint_every=0) as venue:
        venue.add_instrument(A)
        venue.send(order(1))
        venue.add_instrument(B)
        venue.send(order(2, sid=62))
        hashes = venue.state_hashes()
    with Venue(data_dir=data) as venue:  # a second clean stop, with A and B in it
        venue.add_instrument(Instrument(symbol="C", symbol_id=63, tick_size="1"))
        venue.send(order(3, sid=63))
        hashes = venue.state_hashes()
    for snap in (data / "snapshots").rglob("*.snap"):
        snap.unlink()  # e.g. set aside by a repair: every record replayed from the start
    assert replay(data).mismatches == []
    with Venue(data_dir=data) as venue:
        assert venue.recovery is not None
        assert venue.recovery.clean_stop
        assert venue.state_hashes() == hashes


@pytest.mark.parametrize(
    ("hashes", "differ"),
    [({61: "0" * 64}, "[61]"), ({}, "[61]"), ("A and B", "[62]")],
    ids=["wrong hash", "defined symbol missing", "symbol not yet defined"],
)
def test_a_real_mismatch_at_an_earlier_stop_is_still_refused(
    tmp_path: Path, hashes: object, differ: str
) -> None:
    good = tmp_path / "good"
    with Venue(data_dir=good, checkpoint_every=0) as venue:
        venue.add_instrument(A)
        venue.send(order(1))
        a_hash = venue.engine_view(61).state_hash()
    stopped = {61: a_hash, 62: a_hash} if hashes == "A and B" else hashes
    data = tmp_path / "d"
    crafted(
        data,
        [
            ("defined", (A, 0)),
            ("sequenced", (1, order(1), 0)),
            ("ticked", (1, 0)),
            ("stopped", (1, stopped, 0)),
            ("defined", (B, 0)),
            ("sequenced", (2, order(2, sid=62), 0)),
            ("ticked", (2, 0)),
        ],
    )
    before = tree(data)
    with pytest.raises(DataDirError, match=rf"differ .* at stop for symbols \{differ}"):
        Venue(data_dir=data)
    assert tree(data) == before
