"""Recording decoded events to a journal and playing them back: the same stream every time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from test_dbn_files import scenario, write_dbn

import whistle.feed
from whistle.bench.feed import itch_bytes, synthetic_ops
from whistle.book.mbo import MarketByOrderBook
from whistle.coord.runtime.clock import SimulationClock
from whistle.core.mbo import MboEvent, MboInstrument
from whistle.feed.errors import FeedError, FeedFormatError, TruncatedFileError
from whistle.feed.record import (
    RECORDED_EVENT,
    RECORDING_HEADER,
    FeedPlayback,
    RecordingHeader,
    record_events,
)
from whistle.journal import Queue

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _record(tmp_path: Path, src: Path, fmt: str, name: str = "rec") -> Path:
    reader = whistle.feed.open(src, format=fmt)
    out = tmp_path / name
    n = record_events(
        reader,
        out,
        RecordingHeader(str(src), fmt, None),
        counts=lambda: (reader.stats.messages, reader.stats.by_type),
    )
    assert n > 0
    return out


def _books(events: list[MboEvent]) -> dict[int, tuple[object, ...]]:
    books: dict[int, MarketByOrderBook] = {}
    for e in events:
        if isinstance(e, MboInstrument) or e.instrument_id == 0:
            continue
        book = books.setdefault(e.instrument_id, MarketByOrderBook(e.instrument_id))
        book.apply(e)
    return {
        iid: (
            b.depth(1000),
            [(p, [(o.order_id, o.qty) for o in q]) for p, q in b.level_orders(1)],
            [(p, [(o.order_id, o.qty) for o in q]) for p, q in b.level_orders(2)],
            b.volume,
            b.notional,
        )
        for iid, b in books.items()
    }


@pytest.fixture
def itch_file(tmp_path: Path) -> Path:
    path = tmp_path / "synthetic.itch"
    path.write_bytes(itch_bytes(synthetic_ops(3_000, seed=7)))
    return path


def test_record_then_play_back_twice_is_identical(tmp_path: Path, itch_file: Path):
    decoded = list(whistle.feed.open(itch_file, format="itch"))
    rec = _record(tmp_path, itch_file, "itch")
    playback = FeedPlayback(rec)
    first = list(playback)
    assert playback.complete
    second = list(playback)
    assert first == second == decoded
    assert _books(first) == _books(second) == _books(decoded)
    assert playback.header == RecordingHeader(str(itch_file), "itch", None)
    assert playback.end is not None
    assert playback.end.events == len(decoded)
    assert playback.end.by_type["A"] > 0


def test_drive_a_simulation_clock_to_each_recorded_instant(tmp_path: Path):
    src = write_dbn(tmp_path / "s.dbn", scenario())
    rec = _record(tmp_path, src, "dbn")
    runs = []
    for _ in range(2):
        clock = SimulationClock()
        steps = list(FeedPlayback(rec).drive(clock))
        runs.append([(s.tick.number, s.tick.now_ns, s.events) for s in steps])
        assert clock.now() == steps[-1].events[-1].ts_ns
    assert runs[0] == runs[1]
    # one step per distinct timestamp, ticks numbered 1..n at the recorded times
    decoded = list(whistle.feed.open(src, format="dbn"))
    stamps = sorted({e.ts_ns for e in decoded})
    assert [t for _, t, _ in runs[0]] == stamps
    assert [n for n, _, _ in runs[0]] == list(range(1, len(stamps) + 1))
    assert [e for _, _, events in runs[0] for e in events] == decoded


def test_recorded_pace_uses_an_absolute_schedule(tmp_path: Path):
    src = write_dbn(tmp_path / "s.dbn", scenario())
    rec = _record(tmp_path, src, "dbn")
    now = [5_000]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += round(seconds * 1e9)

    events = list(FeedPlayback(rec, speed=0.5, clock=lambda: now[0], sleep=sleep))
    span = events[-1].ts_ns - events[0].ts_ns
    assert sum(waits) == pytest.approx(2 * span / 1e9)  # half speed: twice the span
    assert list(FeedPlayback(rec)) == events  # pacing never changes the stream


def test_symbol_filter_on_playback(tmp_path: Path):
    src = write_dbn(tmp_path / "s.dbn", scenario())
    rec = _record(tmp_path, src, "dbn")
    msft = list(FeedPlayback(rec, symbols=["MSFT"]))
    assert msft == list(whistle.feed.open(src, format="dbn", symbols=["MSFT"]))


def test_refusals(tmp_path: Path):
    src = write_dbn(tmp_path / "s.dbn", scenario())
    rec = _record(tmp_path, src, "dbn")
    with pytest.raises(FeedFormatError, match="already holds a journal"):
        record_events([], rec, RecordingHeader("x", "dbn", None))
    other = tmp_path / "other"
    with Queue.open_publisher(other) as writer:
        writer.append(RECORDED_EVENT, b"\x01")
    with pytest.raises(FeedFormatError, match="not a feed recording"):
        FeedPlayback(other)
    with pytest.raises(ValueError, match="speed must be > 0"):
        FeedPlayback(rec, speed=0)


def test_a_recording_cut_short_still_plays(tmp_path: Path, itch_file: Path):
    """A recorder that died before its closing record: the events are there, incomplete."""
    import msgspec

    decoded = list(whistle.feed.open(itch_file, format="itch"))
    out = tmp_path / "cut"
    with Queue.open_publisher(out) as writer:
        header = RecordingHeader(str(itch_file), "itch", None)
        writer.append(RECORDING_HEADER, msgspec.json.encode(header), ts_ns=0)
        for e in decoded[:100]:
            writer.append(RECORDED_EVENT, msgspec.msgpack.encode(e), ts_ns=e.ts_ns)
    playback = FeedPlayback(out)
    assert list(playback) == decoded[:100]
    assert not playback.complete


# -- a failed recording leaves nothing behind (review of issue 9) -----------------------
def _failing(tmp_path: Path) -> Iterator[MboEvent]:
    """A truncated DBN file: a few thousand good events, then a TruncatedFileError."""
    data = write_dbn(tmp_path / "s.dbn", scenario() * 300).read_bytes()
    src = tmp_path / "cut.dbn"
    src.write_bytes(data[:-20])
    return iter(whistle.feed.open(src, format="dbn"))


def test_a_failed_recording_leaves_nothing(tmp_path: Path):
    out = tmp_path / "out" / "rec"
    out.parent.mkdir()
    with pytest.raises(TruncatedFileError, match=r"cut\.dbn: byte offset \d+"):
        record_events(_failing(tmp_path), out, RecordingHeader("x", "dbn", None))
    assert list(out.parent.iterdir()) == []  # neither the target nor a temporary directory
    # an empty directory given as the target is left as it was, then used on success
    out.mkdir()
    with pytest.raises(TruncatedFileError):
        record_events(_failing(tmp_path), out, RecordingHeader("x", "dbn", None))
    assert list(out.parent.iterdir()) == [out]
    assert list(out.iterdir()) == []
    src = write_dbn(tmp_path / "ok.dbn", scenario())
    assert record_events(
        whistle.feed.open(src, format="dbn"), out, RecordingHeader("x", "dbn", None)
    )
    playback = FeedPlayback(out)
    assert list(playback) == list(whistle.feed.open(src, format="dbn"))
    assert playback.complete
    assert [p.name for p in out.parent.iterdir()] == ["rec"]


def test_an_interrupted_recording_leaves_nothing(tmp_path: Path):
    def events() -> Iterator[MboEvent]:
        yield from list(whistle.feed.open(write_dbn(tmp_path / "s.dbn", scenario()), format="dbn"))
        raise KeyboardInterrupt

    out = tmp_path / "out" / "rec"
    out.parent.mkdir()
    with pytest.raises(KeyboardInterrupt):
        record_events(events(), out, RecordingHeader("x", "dbn", None))
    assert list(out.parent.iterdir()) == []


def test_a_target_that_is_not_an_empty_directory_is_refused(tmp_path: Path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    afile = tmp_path / "afile"
    afile.write_text("x")
    for target in (busy, afile):
        with pytest.raises(FeedError, match="exists and is not an empty directory"):
            record_events([], target, RecordingHeader("x", "dbn", None))
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "busy"]
