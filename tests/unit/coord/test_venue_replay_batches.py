"""Replay reads the command journal a checked batch at a time and runs each tick's
commands per engine with one ``Whistle.process_many``: the same records, verdicts,
events and state as one record at a time (``iter_records``) and enqueue + tick."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from whistle import NewOrder, Venue
from whistle.coord.durability.datadir import (
    JournalDamaged,
    VenueJournal,
    iter_record_batches,
    iter_records,
)
from whistle.coord.durability.records import COMMANDS_DIR, Sequenced
from whistle.coord.durability.replay import replay
from whistle.core import Instrument
from whistle.engine.whistle import Whistle
from whistle.journal import Queue

if TYPE_CHECKING:
    from pathlib import Path

    from whistle.core.events import Event

A = Instrument(symbol="A", symbol_id=31, tick_size="1")
B = Instrument(symbol="B", symbol_id=32, tick_size="1")


def order(oid: int, sid: int, side: int, price: int, tif: int = 1, expire: int = 0) -> NewOrder:
    return NewOrder(sid, oid, 1, side, 1, tif, price, 5, expire_ts_ns=expire)


def test_batches_hold_the_records_of_iter_records_and_replay_gives_the_venues_events(
    tmp_path: Path,
) -> None:
    data = tmp_path / "d"
    live: list[Event] = []
    with Venue(data_dir=data, checkpoint_every=500) as venue:
        venue.add_instrument(A)
        venue.add_instrument(B)
        for i in range(1, 2101):  # > 4,096 records: several read batches
            venue.enqueue(order(i, 31, 1 + i % 2, 100 + i % 3))
            venue.enqueue(order(i, 32, 1 + i % 3 % 2, 90 + i % 5))
            if i % 7 == 0:
                live.extend(venue.tick())
        live.extend(venue.tick())
        hashes = venue.state_hashes()
    batches = list(iter_record_batches(data))
    assert len(batches) > 1
    assert [r for b in batches for r in b] == list(iter_records(data))
    replayed: list[Event] = []
    report = replay(data, on_tick=lambda events, _now: replayed.extend(events))
    assert report.ok
    assert report.clean_stop
    assert report.pending == []
    assert report.commands == 4200
    assert report.state_hashes == hashes
    assert replayed == live
    assert report.events == len(replayed)


def _journal(data: Path, writes: list[tuple[str, object]]) -> None:
    journal = VenueJournal(data)
    for kind, arg in writes:
        if kind == "define":
            journal.defined(arg, 0)  # type: ignore[arg-type]
        elif kind == "seq":
            enq_seq, command = arg  # type: ignore[misc]
            journal.sequenced(enq_seq, command, 0)
        elif kind == "tick":
            number, now = arg  # type: ignore[misc]
            journal.ticked(number, now)
        else:
            journal.stopped(arg, {}, 0)  # type: ignore[arg-type]
    journal.close()


def test_replay_runs_each_ticks_commands_per_engine_like_enqueue_and_tick(
    tmp_path: Path,
) -> None:
    # Commands of two symbols interleaved, a GTD order that expires at a later tick, an
    # engine with nothing queued at a tick, and commands after the last tick (pending).
    cmds = [
        (1, order(1, 32, 1, 90)),
        (2, order(2, 31, 1, 100, tif=4, expire=5_000)),
        (3, order(3, 32, 2, 90)),
        (4, order(4, 31, 2, 101)),
        (5, order(5, 32, 2, 91)),
        (6, order(6, 31, 2, 100)),
        (7, order(7, 32, 1, 91)),
    ]
    writes: list[tuple[str, object]] = [("define", B), ("define", A)]
    writes += [("seq", c) for c in cmds[:4]] + [("tick", (1, 1_000))]
    writes += [("seq", cmds[4]), ("tick", (2, 1_000)), ("tick", (3, 6_000))]
    writes += [("seq", c) for c in cmds[5:]]
    data = tmp_path / "d"
    _journal(data, writes)

    engines = {31: Whistle(A), 32: Whistle(B)}
    expected: list[tuple[int, list[Event]]] = []
    for chunk, now in ((cmds[:4], 1_000), (cmds[4:5], 1_000), ([], 6_000)):
        for enq_seq, command in chunk:
            engines[command.symbol_id].enqueue(enq_seq, command)
        expected.append((now, [e for s in (31, 32) for e in engines[s].tick(now)]))
    got: list[tuple[int, list[Event]]] = []
    report = replay(data, on_tick=lambda events, now: got.append((now, list(events))))
    assert got == expected
    assert any(e.symbol_id == 31 and e.ts_ns == 6_000 for e in got[2][1])  # the GTD expiry
    assert (report.commands, report.ticks, report.pending) == (7, 3, [6, 7])
    assert report.state_hashes == {"A": engines[31].state_hash(), "B": engines[32].state_hash()}
    assert not report.clean_stop


def test_a_stop_followed_by_more_records_is_not_a_clean_stop(tmp_path: Path) -> None:
    data = tmp_path / "d"
    _journal(
        data,
        [("define", A), ("seq", (1, order(1, 31, 1, 100))), ("tick", (1, 5)), ("stop", 1)],
    )
    assert replay(data).clean_stop
    _journal(data, [("seq", (2, order(2, 31, 2, 100)))])
    report = replay(data)
    assert not report.clean_stop
    assert report.pending == [2]


@pytest.mark.parametrize("bad", ["undecodable", "gap"])
def test_damage_in_a_batch_yields_the_records_before_it_then_the_verdict(
    tmp_path: Path, bad: str
) -> None:
    data = tmp_path / "d"
    writes: list[tuple[str, object]] = [("define", A)]
    writes += [("seq", (i, order(i, 31, 1 + i % 2, 100))) for i in range(1, 101)]
    if bad == "gap":
        writes.append(("seq", (102, order(102, 31, 1, 100))))  # enq_seq 101 is missing
    _journal(data, writes)
    if bad == "undecodable":
        with Queue.open_publisher(data / COMMANDS_DIR) as writer:
            writer.append(2, b"\xc1")  # a whole, CRC-valid record that is never msgpack
    seen: list[object] = []
    records = iter_records(data)
    with pytest.raises(JournalDamaged) as one_by_one:
        seen.extend(records)
    batches = iter_record_batches(data)
    first = next(batches)
    with pytest.raises(JournalDamaged) as batched:
        next(batches)
    assert first == seen
    assert len(seen) == 101  # the definition and enq_seq 1-100
    assert str(batched.value) == str(one_by_one.value)
    assert batched.value.first_enq_seq == one_by_one.value.first_enq_seq == 101
    assert isinstance(seen[-1], Sequenced)
    assert seen[-1].enq_seq == 100
    with pytest.raises(JournalDamaged, match="enq_seq 101"):
        replay(data)
