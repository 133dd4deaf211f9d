"""Disk full during submits with client order ids: retried until they go through, each
order is entered exactly once.

Two ways of filling the disk:

- a real ENOSPC from ``os.posix_fallocate`` at a segment roll of ``DIR/commands``
  (``faults.diskfull.DiskFull``, site ``commands-append``, on 4 KiB segments without
  preallocation so rolls are frequent and synchronous): the roll falls on the command's
  ``Sequenced`` record (refused: nothing sequenced, the id still free) or on the tick's
  ``Ticked`` record (the command is journaled and acknowledged; it runs at the next tick),
  wherever the load puts it;
- a deterministic ``JournalFull`` from the command queue's ``append`` for one record
  type (``Sequenced`` or ``Ticked``), so both cases are met on every run.

In both, the client keeps resubmitting the same client order id while the disk is full
and after space returns. Every answer must be a ``JournalUnavailable`` (nothing
sequenced), a ``DuplicateClientOrder`` (PENDING until its tick ran) or the order's first
entry; at the end the journal holds one ``Sequenced`` per client order id, a reopened
venue and ``whistle replay`` hold the same client-order table, and each id still answers
as a repeat.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from faults.diskfull import DiskFull
from whistle import Venue
from whistle.coord.durability.datadir import JournalUnavailable, iter_records
from whistle.coord.durability.records import Sequenced
from whistle.coord.durability.replay import replay
from whistle.core.commands import NewOrder
from whistle.core.enums import ClientOrderOutcome
from whistle.core.events import DuplicateClientOrder, Event, OrderAccepted
from whistle.journal import JournalFull

if TYPE_CHECKING:
    from pathlib import Path

SEED = 20261202


def fields(k: int) -> dict[str, Any]:
    return {
        "symbol": "AAA" if k % 2 else "BBB",
        "side": "buy" if k % 3 else "sell",
        "qty_lots": 1 + k % 5,
        "price_ticks": 98 + k % 5,
        "account": 1 + k % 3,
        "client_order_id": k,
    }


def make(data: Path, **kw: Any) -> Venue:
    venue = Venue(data_dir=data, checkpoint_every=25, **kw)
    if not venue.symbols:
        venue.add_instrument("AAA", tick_size="1", lot_size="1")
        venue.add_instrument("BBB", tick_size="1", lot_size="1")
    return venue


def sequenced(data: Path) -> Counter[tuple[int, int]]:
    counts: Counter[tuple[int, int]] = Counter()
    for record in iter_records(data):
        if isinstance(record, Sequenced) and isinstance(record.command, NewOrder):
            counts[(record.command.account, record.command.client_order_id)] += 1
    return counts


def submit(venue: Venue, k: int, notes: Counter[str]) -> list[Event] | None:
    """One attempt; None when the journal refused it (JournalUnavailable)."""
    try:
        events = venue.submit(**fields(k))
    except JournalUnavailable as exc:
        if exc.fatal:
            raise  # a full disk is never fatal
        notes["journaled, tick refused" if exc.accepted_enq_seq else "refused"] += 1
        return None
    first = events[0]
    if isinstance(first, DuplicateClientOrder):
        notes[f"repeat {ClientOrderOutcome(first.outcome).name}"] += 1
    else:
        assert first.seq > 0, venue.last_reject_detail  # sequenced: accepted or engine reject
        notes["entered"] += 1
    return events


def check_once(data: Path, sent: int, want: str) -> None:
    counts = sequenced(data)
    assert set(counts.values()) == {1}, [k for k, n in counts.items() if n > 1]
    assert {k for _, k in counts} == set(range(1, sent + 1))
    with make(data) as again:
        assert again.client_orders_hash() == want
        for k in range(1, sent + 1):
            assert isinstance(again.submit(**fields(k))[0], DuplicateClientOrder), k
    report = replay(data)
    assert report.ok, report
    assert report.client_orders_hash == want
    assert set(sequenced(data).values()) == {1}


def test_real_enospc_at_segment_rolls_then_retries_enter_each_order_once(tmp_path: Path):
    rng = random.Random(SEED)
    data = tmp_path / "d"
    venue = make(data, segment_size=4096, prealloc=False)
    full = DiskFull(data, "commands-append", 0)
    notes: Counter[str] = Counter()
    sent = 120
    with full.installed():
        full.phase = "enqueue"
        arm_at = set(rng.sample(range(5, sent), 6))
        for k in range(1, sent + 1):
            if k in arm_at:
                full.armed = True
                full.fired = False
                full.freed = False
            events = submit(venue, k, notes)
            tries = 0
            while events is None or (
                isinstance(events[0], DuplicateClientOrder)
                and events[0].outcome == ClientOrderOutcome.PENDING
            ):
                tries += 1
                if tries == 3:
                    full.free()  # the operator frees space; the client goes on retrying
                    full.armed = False
                if events is not None:
                    try:
                        venue.tick()  # a PENDING order runs at the next tick
                    except JournalUnavailable:
                        notes["tick refused"] += 1
                events = submit(venue, k, notes)
                assert tries < 10
    print(f"disk full at segment rolls: {dict(notes)}")
    assert notes["refused"] + notes["journaled, tick refused"] > 0, notes  # the disk did fill
    want = venue.client_orders_hash()
    venue.stop()
    check_once(data, sent, want)


@pytest.mark.parametrize("record", ["Sequenced", "Ticked"])
def test_a_full_journal_on_either_record_then_retries_enter_the_order_once(
    tmp_path: Path, record: str
) -> None:
    data = tmp_path / "d"
    venue = make(data)
    assert venue._journal is not None
    queue = venue._journal._commands
    real_append = queue.append
    type_id = {"Sequenced": 2, "Ticked": 3}[record]
    full = {"on": False}

    def append(kind: int, payload: bytes, **kw: Any) -> int:
        if full["on"] and kind == type_id:
            raise JournalFull("No space left on device (injected)", path=str(data))
        return real_append(kind, payload, **kw)

    queue.append = append  # type: ignore[method-assign]
    notes: Counter[str] = Counter()
    for k in range(1, 6):
        assert submit(venue, k, notes) is not None
    full["on"] = True
    for _ in range(3):  # while the disk is full: refused every time, or journaled once
        submit(venue, 6, notes)
    if record == "Ticked":
        assert notes["journaled, tick refused"] == 1
        assert notes["repeat PENDING"] == 2  # journaled once; the retries are repeats
        assert venue.client_order(fields(6)["account"], 6) is not None
    else:
        assert notes["refused"] == 3
        assert venue.client_order(fields(6)["account"], 6) is None  # the id is still free
    enq_seq = venue.enq_seq
    full["on"] = False
    if record == "Ticked":
        venue.tick()  # a repeat runs no tick: the journaled order runs at the next one
    events = submit(venue, 6, notes)
    assert events is not None
    if record == "Ticked":
        assert isinstance(events[0], DuplicateClientOrder)  # it ran in the tick after
        assert events[0].outcome == ClientOrderOutcome.ACCEPTED
        assert venue.enq_seq == enq_seq
    else:
        assert isinstance(events[0], OrderAccepted)
        assert venue.enq_seq == enq_seq + 1
    want = venue.client_orders_hash()
    venue.stop()
    check_once(data, 6, want)
