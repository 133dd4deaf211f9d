"""The event journal never keeps a silent gap: unwritten events wait (bounded) and are
written in order before later ones; recovery re-derives what is missing and reports what
cannot be healed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from click.testing import CliRunner

from whistle import NewOrder, Venue
from whistle.cli.main import main
from whistle.coord.durability.datadir import DataDirError, read_event_seqs
from whistle.coord.durability.records import EVENT_TYPE_ID, EVENTS_DIR, RecordCodec
from whistle.coord.durability.replay import rebuild_events, replay
from whistle.coord.errors import HostStateError
from whistle.core import Instrument
from whistle.journal import JournalFull, Queue, ReadOnlyReader, WriterLockedError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

A = Instrument(symbol="A", symbol_id=51, tick_size="1")
B = Instrument(symbol="B", symbol_id=52, tick_size="1")


def commands(n: int) -> list[NewOrder]:
    out = []
    for i in range(1, n + 1):
        out.append(NewOrder(51, i, 1, 1 + i % 2, 1, 1, 100 + i % 3, 2))
        out.append(NewOrder(52, i, 1, 1 + i % 2, 1, 1, 200 + i % 2, 1))
    return out


def new_venue(data: Path, **kw: Any) -> Venue:
    venue = Venue(data_dir=data, **kw)
    venue.add_instrument(A)
    venue.add_instrument(B)
    return venue


def recorded(data: Path) -> list[bytes]:
    with ReadOnlyReader(data / EVENTS_DIR) as reader:
        return [r.payload for r in reader]


def reference(tmp_path: Path, n: int) -> list[bytes]:
    with new_venue(tmp_path / "reference", checkpoint_every=5) as venue:
        for command in commands(n):
            venue.send(command)
    return recorded(tmp_path / "reference")


def fail_events(venue: Venue, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    journal = venue._journal
    assert journal is not None
    writer = journal._events

    def full(*args: Any, **kw: Any) -> Any:
        raise JournalFull("journal is full while appending", path=writer.path)

    monkeypatch.setattr(writer, "append_many", full)
    monkeypatch.setattr(writer, "append", full)
    return monkeypatch.undo


def test_a_temporary_disk_full_on_the_event_journal_leaves_no_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue finding 5: event seqs 1241-1247 were never re-recorded, later ones were.
    want = reference(tmp_path, 30)
    data = tmp_path / "d"
    venue = new_venue(data, checkpoint_every=5)
    stream = commands(30)
    for command in stream[:20]:
        venue.send(command)
    space_freed = fail_events(venue, monkeypatch)
    answered = [venue.send(command) for command in stream[20:40]]
    assert all(answered)  # the commands ran and their events were returned
    status = venue.durability()
    assert status.unwritten_events > 0
    assert status.event_error is not None
    assert "journal is full" in status.event_error
    assert venue.last_checkpoint_error is not None  # no cut while events wait
    assert "not checkpointing" in venue.last_checkpoint_error
    space_freed()
    for command in stream[40:]:
        venue.send(command)
    assert venue.durability().unwritten_events == 0
    assert venue.durability().event_error is None
    venue.stop()
    assert recorded(data) == want  # same events, same order, nothing missing
    assert read_event_seqs(data)[1] == []
    assert replay(data).ok


def test_too_many_waiting_events_stop_the_venue_and_recovery_rederives_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = reference(tmp_path, 30)
    data = tmp_path / "d"
    # checkpoint_every=1: a checkpoint is due at every tick, the halting one included.
    venue = new_venue(data, checkpoint_every=1, max_unwritten_events=8)
    stream = commands(30)
    for command in stream[:10]:
        venue.send(command)
    fail_events(venue, monkeypatch)
    answered: list[Any] = []
    with pytest.raises(HostStateError, match="the venue stopped: cannot record events"):  # noqa: PT012
        for command in stream[10:]:
            answered.extend(venue.send(command))
    monkeypatch.undo()
    acknowledged = venue.enq_seq
    assert venue._journal is not None
    assert venue._journal.unwritten_events > 8
    # The tick that went past the bound still ran and answered: every waiting event was
    # returned to its caller; only the next call was refused.
    assert len(answered) == venue._journal.unwritten_events
    venue._journal._unwritten.clear()  # and then the process dies
    venue.stop()
    with new_venue_reopened(data) as again:
        assert again.enq_seq == acknowledged
        assert again.recovery is not None
        assert again.recovery.events_recorded > 8
        for command in stream[acknowledged:]:
            again.send(command)
    assert recorded(data) == want
    assert replay(data).ok


def new_venue_reopened(data: Path) -> Venue:
    return Venue(data_dir=data, checkpoint_every=5)


def test_a_crash_with_events_waiting_loses_none_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = reference(tmp_path, 30)
    data = tmp_path / "d"
    venue = new_venue(data, checkpoint_every=5)
    stream = commands(30)
    for command in stream[:30]:
        venue.send(command)
    fail_events(venue, monkeypatch)
    for command in stream[30:45]:
        venue.send(command)
    monkeypatch.undo()
    assert venue._journal is not None
    assert venue._journal.unwritten_events > 0
    venue._journal._unwritten.clear()  # the process dies with them in memory
    venue._journal.close()
    venue._journal = None
    venue.stop()
    with new_venue_reopened(data) as again:
        for command in stream[45:]:
            again.send(command)
    assert recorded(data) == want
    assert read_event_seqs(data)[1] == []


def test_a_gap_in_the_event_journal_is_reported_by_recovery_and_replay(tmp_path: Path) -> None:
    # A directory written before this fix may hold a gap: it cannot be inserted, so it
    # is reported (RecoveryReport.event_gaps, replay not ok), never silent.
    data = tmp_path / "d"
    with new_venue(data) as venue:
        for command in commands(3):
            venue.send(command)
    payloads = recorded(data)
    codec = RecordCodec()
    events = [codec.decode_event(p) for p in payloads]
    drop = next(i for i, e in enumerate(events) if e.symbol_id == 51 and e.seq == 3)
    (data / EVENTS_DIR).rename(tmp_path / "old-events")
    with Queue.open_publisher(data / EVENTS_DIR) as writer:
        for i, payload in enumerate(payloads):
            if i != drop:
                writer.append(EVENT_TYPE_ID, payload)
    report = replay(data)
    assert not report.ok
    assert [(g.symbol_id, g.first, g.last) for g in report.event_gaps] == [(51, 3, 3)]
    with Venue(data_dir=data) as again:
        assert again.recovery is not None
        assert [(g.symbol_id, g.first, g.last) for g in again.recovery.event_gaps] == [(51, 3, 3)]
        with pytest.raises(WriterLockedError):  # not while a venue has it open
            rebuild_events(data)
    # The explicit heal: DIR/events rewritten from the commands, the old one kept.
    result = CliRunner().invoke(main, ["replay", str(data), "--rebuild-events"])
    assert result.exit_code == 0, result.output
    assert "1 of them missing before" in result.output
    assert recorded(data)[: len(payloads)] == payloads  # the gap filled, nothing else changed
    assert read_event_seqs(data)[1] == []
    assert replay(data).ok
    assert list(tmp_path.glob("d/events.before-rebuild-*"))


def test_a_rebuild_that_disagrees_with_the_recording_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with new_venue(data) as venue:
        for command in commands(3):
            venue.send(command)
    payloads = recorded(data)
    codec = RecordCodec()
    first = codec.decode_event(payloads[0])
    forged = msgspec.structs.replace(first, ts_ns=first.ts_ns + 1)
    (data / EVENTS_DIR).rename(tmp_path / "old-events")
    with Queue.open_publisher(data / EVENTS_DIR) as writer:
        writer.append(EVENT_TYPE_ID, codec.encode(forged))
        for payload in payloads[1:]:
            writer.append(EVENT_TYPE_ID, payload)
    with pytest.raises(DataDirError, match="differs from the one the commands produce"):
        rebuild_events(data)
    assert recorded(data)[0] == codec.encode(forged)
    assert not list(tmp_path.glob("d/events.*"))


def test_events_lost_before_the_last_checkpoint_are_rederived(tmp_path: Path) -> None:
    # fault-suite finding F8: the event journal's last record (cut as a torn tail) was before the
    # last checkpoint; recovery replayed only the commands after it and never re-recorded
    # the event. Now the checkpoint is passed over and the longer tail re-derives it.
    want = reference(tmp_path, 30)
    data = tmp_path / "d"
    venue = new_venue(data, checkpoint_every=5)
    for command in commands(30)[:40]:
        venue.send(command)
    assert venue._journal is not None
    venue._journal.close()  # crash right after a checkpoint
    venue._journal = None
    venue.stop()
    payloads = recorded(data)
    (data / EVENTS_DIR).rename(tmp_path / "old-events")
    with Queue.open_publisher(data / EVENTS_DIR) as writer:
        for payload in payloads[:-3]:  # the last events never reached the disk
            writer.append(EVENT_TYPE_ID, payload)
    with new_venue_reopened(data) as again:
        assert again.recovery is not None
        assert "DIR/events ends at" in again.recovery.fallbacks[0]
        assert again.recovery.events_recorded >= 3
        for command in commands(30)[40:]:
            again.send(command)
    assert recorded(data) == want
    assert read_event_seqs(data)[1] == []


def _segmented_events(data: Path) -> list[Path]:
    # Several sealed event segments, then the process dies (no clean stop needed).
    with new_venue(data, segment_size=16384, checkpoint_every=0) as venue:
        venue.send_many(commands(600))
    segments = sorted((data / EVENTS_DIR).glob("*.wseg"))
    assert len(segments) >= 4
    return segments


@pytest.mark.parametrize("damage", ["deleted segment", "bit flip in a sealed segment"])
def test_an_unreadable_event_journal_is_rebuilt_from_the_commands(
    tmp_path: Path, damage: str
) -> None:
    data = tmp_path / "d"
    segments = _segmented_events(data)
    whole = recorded(data)
    if damage == "deleted segment":
        segments[1].unlink()
    else:
        raw = bytearray(segments[1].read_bytes())
        raw[200] ^= 0x10
        segments[1].write_bytes(bytes(raw))
    # The venue refuses and names the command that fixes it.
    with pytest.raises(DataDirError, match=r"whistle replay .* --rebuild-events"):
        Venue(data_dir=data)
    runner = CliRunner()
    out = runner.invoke(main, ["replay", str(data), "--json"])
    assert out.exit_code == 65
    failure = msgspec.json.decode(out.stdout)
    assert failure["ok"] is False
    assert failure["exit_status"] == 65
    assert "--rebuild-events" in failure["error"]
    rebuilt = runner.invoke(main, ["replay", str(data), "--rebuild-events", "--json"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert msgspec.json.decode(rebuilt.stdout)["ok"] is True
    assert "could not be read past a damage" in rebuilt.stderr
    assert recorded(data) == whole  # every event back, byte for byte
    kept = [p for p in data.iterdir() if p.name.startswith(f"{EVENTS_DIR}.before-rebuild-")]
    assert len(kept) == 1
    with Venue(data_dir=data) as venue:
        assert venue.recovery is not None
        assert venue.recovery.event_gaps == []


def test_replay_of_a_directory_that_is_not_one_exits_65_and_json_says_why(
    tmp_path: Path,
) -> None:
    (tmp_path / "x").mkdir()
    runner = CliRunner()
    plain = runner.invoke(main, ["replay", str(tmp_path)])
    assert plain.exit_code == 65
    assert "not a whistle data directory" in plain.stderr
    out = runner.invoke(main, ["replay", str(tmp_path), "--json"])
    assert out.exit_code == 65
    assert "not a whistle data directory" in msgspec.json.decode(out.stdout)["error"]


def test_no_rebuild_from_a_damaged_command_journal(tmp_path: Path) -> None:
    data = tmp_path / "d"
    _segmented_events(data)
    events_before = recorded(data)
    sealed = sorted((data / "commands").glob("*.wseg"))[0]
    raw = bytearray(sealed.read_bytes())
    raw[200] ^= 0x10
    sealed.write_bytes(bytes(raw))
    out = CliRunner().invoke(main, ["replay", str(data), "--rebuild-events", "--json"])
    assert out.exit_code == 65
    assert "cannot be read" in msgspec.json.decode(out.stdout)["error"]
    assert recorded(data) == events_before
    assert sorted(p.name for p in data.iterdir()) == ["commands", "events", "snapshots"]
