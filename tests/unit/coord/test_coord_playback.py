"""Playback of a recorded ``DIR/events`` queue, and the cursor-free ReadOnlyReader."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from whistle.coord.durability.playback import Playback, load_instruments, queue_path
from whistle.coord.durability.records import (
    COMMANDS_DIR,
    EVENT_TYPE_ID,
    EVENTS_DIR,
    Defined,
    RecordCodec,
    Sequenced,
    Ticked,
)
from whistle.coord.runtime.clock import SimulationClock
from whistle.core.commands import NewOrder
from whistle.core.events import BookLevelChanged, TradeOccurred
from whistle.core.instrument import Instrument
from whistle.journal import (
    JournalError,
    NotAJournalError,
    Queue,
    QueueConfig,
    ReadOnlyReader,
    SequenceUnavailable,
)

if TYPE_CHECKING:
    from pathlib import Path

    from whistle.core.events import Event

SMALL = QueueConfig(segment_size=4096)
AAA = Instrument(symbol="AAA", symbol_id=1, tick_size="0.01", lot_size="1")
BBB = Instrument(symbol="BBB", symbol_id=2, tick_size="0.5", lot_size="0.1")
SEC = 1_000_000_000


def level(symbol_id: int, seq: int, ts_ns: int, price: int = 100) -> BookLevelChanged:
    return BookLevelChanged(symbol_id, seq, seq, ts_ns, 1, price, 10, 1)


def record_venue(data_dir: Path, events: list[Event]) -> None:
    """Write a small data directory: instruments, commands, ticks and ``events``."""
    codec = RecordCodec()
    with Queue.open_publisher(data_dir / COMMANDS_DIR, SMALL) as cmds:
        for inst in (AAA, BBB):
            cmds.append(1, codec.encode(Defined(inst)), ts_ns=0)
        order = NewOrder(1, 7, 1, 1, 2, 1, 10_050, 3)
        cmds.append(2, codec.encode(Sequenced(1, order)), ts_ns=0)
        cmds.append(3, codec.encode(Ticked(1, SEC)), ts_ns=SEC)
    with Queue.open_publisher(data_dir / EVENTS_DIR, SMALL) as evq:
        for event in events:
            evq.append(EVENT_TYPE_ID, codec.encode(event), ts_ns=event.ts_ns)


def recorded(tmp_path: Path) -> tuple[Path, list[Event]]:
    events: list[Event] = [
        level(1, 1, 1 * SEC),
        level(2, 1, 1 * SEC),
        TradeOccurred(1, 2, 2, 2 * SEC, 1, 100, 5, 1, 1, 2),
        level(2, 2, 4 * SEC),
        level(1, 3, 4 * SEC),
        level(1, 4, 5 * SEC),
    ]
    record_venue(tmp_path / "venue", events)
    return tmp_path / "venue", events


class FakeTime:
    """A monotonic clock that only moves when ``sleep`` is called."""

    def __init__(self, start: int = 1_000) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += round(seconds * 1e9)


def no_cursors(data_dir: Path) -> None:
    for name in (COMMANDS_DIR, EVENTS_DIR):
        assert Queue.cursors(data_dir / name) == {}
        readers = data_dir / name / "readers"
        assert not readers.exists() or os.listdir(readers) == []


def test_events_in_recorded_order_as_fast_as_possible(tmp_path: Path) -> None:
    data_dir, events = recorded(tmp_path)
    fake = FakeTime()
    playback = Playback(data_dir, clock=fake.clock, sleep=fake.sleep)
    assert list(playback) == events
    assert list(playback) == events  # each iteration starts again
    assert fake.sleeps == []
    no_cursors(data_dir)


def test_recorded_speed_sleeps_the_timestamp_deltas(tmp_path: Path) -> None:
    data_dir, events = recorded(tmp_path)
    fake = FakeTime()
    assert list(Playback(data_dir, speed=1.0, clock=fake.clock, sleep=fake.sleep)) == events
    assert fake.sleeps == [1.0, 2.0, 1.0]
    assert fake.now == 1_000 + 4 * SEC


def test_double_speed_halves_the_sleeps(tmp_path: Path) -> None:
    data_dir, _ = recorded(tmp_path)
    fake = FakeTime()
    for _ in Playback(data_dir, speed=2.0, clock=fake.clock, sleep=fake.sleep):
        pass
    assert fake.sleeps == [0.5, 1.0, 0.5]


def test_pacing_does_not_drift_with_a_slow_consumer(tmp_path: Path) -> None:
    data_dir, _ = recorded(tmp_path)
    fake = FakeTime()
    for event in Playback(data_dir, speed=1.0, clock=fake.clock, sleep=fake.sleep):
        if event.ts_ns == 2 * SEC:
            fake.now += SEC // 2  # the consumer took 0.5 s: the next wait is shorter
    assert fake.sleeps == [1.0, 1.5, 1.0]


def test_symbol_filter(tmp_path: Path) -> None:
    data_dir, events = recorded(tmp_path)
    fake = FakeTime()
    got = list(Playback(data_dir, symbols={2}, speed=1.0, clock=fake.clock, sleep=fake.sleep))
    assert got == [e for e in events if e.symbol_id == 2]
    assert fake.sleeps == [3.0]  # paced by the kept events
    assert list(Playback(data_dir, symbols=set())) == []


def test_drive_advances_a_virtual_clock(tmp_path: Path) -> None:
    data_dir, events = recorded(tmp_path)
    clock = SimulationClock(start_ns=0, session_end_ns=4 * SEC)
    steps = list(Playback(data_dir).drive(clock))
    assert [(s.tick.number, s.tick.now_ns) for s in steps] == [
        (1, SEC),
        (2, 2 * SEC),
        (3, 4 * SEC),
        (4, 5 * SEC),
    ]
    assert [s.tick.session_ended for s in steps] == [False, False, True, False]
    assert [e for s in steps for e in s.events] == events
    assert [len(s.events) for s in steps] == [2, 1, 2, 1]
    assert clock.now() == 5 * SEC


def test_drive_never_moves_the_clock_backwards(tmp_path: Path) -> None:
    data_dir, events = recorded(tmp_path)
    clock = SimulationClock(start_ns=3 * SEC)
    steps = list(Playback(data_dir).drive(clock))
    assert [s.tick.now_ns for s in steps] == [3 * SEC, 3 * SEC, 4 * SEC, 5 * SEC]
    assert [e for s in steps for e in s.events] == events


def test_playback_spans_segments_and_is_deterministic(tmp_path: Path) -> None:
    events: list[Event] = [level(1 + i % 2, i, i * 1_000) for i in range(1, 301)]
    record_venue(tmp_path / "v", events)
    assert len(Queue.segments(tmp_path / "v" / EVENTS_DIR)) > 3
    assert list(Playback(tmp_path / "v")) == events
    assert list(Playback(tmp_path / "v" / EVENTS_DIR, symbols={1})) == events[1::2]


def test_instruments_from_the_command_journal(tmp_path: Path) -> None:
    data_dir, _ = recorded(tmp_path)
    assert Playback(data_dir).instruments() == {1: AAA, 2: BBB}
    assert load_instruments(tmp_path / "nothing") == {}
    no_cursors(data_dir)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(NotAJournalError, match="no 'events' queue"):
        Playback(tmp_path)
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(NotAJournalError):
        queue_path(tmp_path, EVENTS_DIR)
    data_dir, _ = recorded(tmp_path / "x")
    with pytest.raises(ValueError, match="speed must be > 0"):
        Playback(data_dir, speed=0)


def test_read_only_reader_tail_and_seek(tmp_path: Path) -> None:
    qdir = tmp_path / "q"
    with Queue.open_publisher(qdir, SMALL) as writer:
        for i in range(200):
            writer.append(7, f"r{i}".encode(), ts_ns=i)
        with ReadOnlyReader(qdir) as reader:
            assert reader.end_seq() == 200
            assert reader.first_seq() == 0
            reader.seek_last(3)
            assert [r.payload for r in reader] == [b"r197", b"r198", b"r199"]
            assert reader.next() is None
            writer.append(7, b"late")
            got = reader.wait_next(5.0)
            assert got is not None
            assert (got.seq, got.payload) == (200, b"late")
            reader.seek(150)
            assert [r.seq for r in reader.read_batch(3)] == [150, 151, 152]
            reader.seek_last(1_000)
            assert sum(1 for _ in reader) == 201
            with pytest.raises(ValueError, match="n must be"):
                reader.seek_last(-1)
    assert Queue.cursors(qdir) == {}


def test_read_only_reader_on_an_empty_queue_waits_for_records(tmp_path: Path) -> None:
    qdir = tmp_path / "q"
    with Queue.open_publisher(qdir, SMALL) as writer, ReadOnlyReader(qdir) as reader:
        reader.seek_last(5)
        assert reader.next() is None
        fake = FakeTime()
        assert reader.wait_next(0.01, clock=fake.clock, sleep=fake.sleep) is None
        assert fake.sleeps
        assert sum(fake.sleeps) == pytest.approx(0.01)
        writer.append(1, b"a")
        rec = reader.next()
        assert rec is not None
        assert rec.payload == b"a"


def test_read_only_reader_errors(tmp_path: Path) -> None:
    with pytest.raises(NotAJournalError):
        ReadOnlyReader(tmp_path / "missing")
    qdir = tmp_path / "q"
    with Queue.open_publisher(qdir, QueueConfig(segment_size=4096)) as writer:
        writer.append(1, b"x")
    reader = ReadOnlyReader(qdir)
    reader.close()
    reader.close()
    with pytest.raises(Exception, match="closed"):
        reader.read_batch(1)
    with ReadOnlyReader(qdir) as again, pytest.raises(SequenceUnavailable):
        again.seek(-1)


@pytest.mark.parametrize("deleted", [(0, 1), (1,)])
def test_read_only_reader_reports_a_segment_deleted_under_it(
    tmp_path: Path, deleted: tuple[int, ...]
) -> None:
    qdir = tmp_path / "q"
    with Queue.open_publisher(qdir, SMALL) as writer:
        for i in range(300):
            writer.append(7, f"record {i}".encode())
    ids = [s.segment_id for s in Queue.segments(qdir)]
    assert len(ids) > 3
    with ReadOnlyReader(qdir) as reader:
        assert reader.read_batch(1)[0].seq == 0
        for index in deleted:  # behind the journal's back: no retention recorded it
            os.unlink(qdir / f"{ids[index]:016x}.wseg")
        with pytest.raises(JournalError, match=f"segment {ids[1]}"):
            list(reader)
