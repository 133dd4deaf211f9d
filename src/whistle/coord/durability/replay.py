"""``replay``: rebuild every book of a data directory from its command journal alone.

No snapshot is used: every engine starts empty and re-matches every journaled command
at its journaled tick. Each ``Snapshotted`` record is a check (the rebuilt engine must
hash as the snapshot did at that point of the journal), and so is a ``Stopped`` record
(every symbol's hash at the clean stop). The client-order table (idempotent order entry,
``whistle.coord.durability.client_orders``) is rebuilt by the venue's own rule, and each
``ClientOrdersSaved`` record is a check of it too (symbol ``client-orders``, id 0).
``whistle replay DIR`` prints the report and exits non-zero when any check fails.

Replay reads the command journal through the same checked reader as
``Venue(data_dir=...)`` recovery (``whistle.coord.durability.datadir.iter_records``,
here a batch at a time: ``iter_record_batches``), so the two reach the same verdict: any
damage or inconsistency is a ``JournalDamaged`` naming the file, the offset and the
acknowledged commands that cannot be read. It also checks what recovery would rely on
besides the journal: the latest checkpoint's snapshots (size, CRC, decoding, state hash:
``snapshot_problems``, which recovery survives by falling back to an earlier checkpoint)
and the event journal (per-symbol event seqs gapless: ``event_gaps``; no symbol ahead of
what the commands produce). ``ok`` is False on any of them. A snapshot file that is
simply not there is listed in ``snapshots_missing`` and is not damage: retention deletes
the files of older checkpoints, and after a repair cut the later checkpoints the kept
ones may name deleted files; recovery then falls back (to the start if need be) and says
so.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, final

import msgspec

from whistle.coord.durability.client_orders import ClientOrderTable
from whistle.coord.durability.datadir import (
    DataDirError,
    EventGap,
    SnapshotDamaged,
    iter_record_batches,
    read_event_seqs,
    verified_client_orders,
    verified_snapshot,
)
from whistle.coord.durability.records import (
    COMMANDS_DIR,
    EVENT_TYPE_ID,
    EVENTS_DIR,
    Checkpoint,
    ClientOrdersSaved,
    Defined,
    JournalRecord,
    RecordCodec,
    Sequenced,
    Snapshotted,
    Stopped,
    Ticked,
)
from whistle.engine.whistle import Whistle
from whistle.journal import JournalError, Queue, QueueWriter, ReadOnlyReader, WriterLockedError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from whistle.core.commands import Command
    from whistle.core.events import Event


__all__ = ["EventRebuild", "HashMismatch", "ReplayReport", "event_cut", "rebuild_events", "replay"]


@final
class HashMismatch(msgspec.Struct, frozen=True):
    """A check that failed: where, which symbol, what was recorded, what replay got."""

    where: str
    symbol: str
    symbol_id: int
    recorded: str
    replayed: str


@final
class ReplayReport(msgspec.Struct, kw_only=True):
    """What a replay rebuilt and checked."""

    symbols: int
    commands: int
    ticks: int
    events: int
    seconds: float
    commands_per_sec: float
    checks: int
    mismatches: list[HashMismatch]
    clean_stop: bool
    state_hashes: dict[str, str]
    event_seqs: dict[str, int]
    event_gaps: list[EventGap] = msgspec.field(default_factory=list)
    """Event seqs ``DIR/events`` lacks in the middle of a symbol's stream."""
    event_problems: list[str] = msgspec.field(default_factory=list)
    """Symbols whose recorded events go past what the commands produce."""
    snapshot_problems: list[str] = msgspec.field(default_factory=list)
    """Snapshots of the latest checkpoint whose bytes do not verify (file and cause)."""
    snapshots_missing: list[str] = msgspec.field(default_factory=list)
    """Snapshot files the latest checkpoint names that are not there (not damage)."""
    event_seqs_by_id: dict[int, int] = msgspec.field(default_factory=dict)
    """The last event seq the commands produce, by symbol id."""
    pending: list[int] = msgspec.field(default_factory=list)
    """``enq_seq`` of the commands journaled after the last tick (acknowledged, not yet
    run: a reopened venue runs them at its next tick; ``RecoveryReport.pending``)."""
    client_orders: int = 0
    """The (account, client_order_id) the journal leaves remembered (idempotent entry)."""
    client_orders_hash: str = ""
    """``Venue.client_orders_hash()`` of the rebuilt table (a recovered venue's equals it)."""

    @property
    def ok(self) -> bool:
        """Return whether every check passed (hashes, snapshots, event journal)."""
        return not (
            self.mismatches or self.event_gaps or self.event_problems or self.snapshot_problems
        )


def replay(
    data_dir: str | os.PathLike[str],
    on_tick: Callable[[list[Event], int], None] | None = None,
    *,
    check_events: bool = True,
) -> ReplayReport:
    """Re-match the whole journal of ``data_dir``; check every recorded state hash.

    ``on_tick(events, now_ns)`` receives each tick's events, in the venue's order
    (engines in ``symbol_id`` order). ``check_events=False`` leaves ``DIR/events``
    unread (``rebuild_events`` replaces it).
    """
    engines: dict[int, Whistle] = {}
    names: dict[int, str] = {}
    mismatches: list[HashMismatch] = []
    commands = ticks = events = checks = 0
    last: list[JournalRecord] = []  # the last batch: does the journal end in a Stopped?
    checkpoint: Checkpoint | None = None
    snapshot_records: dict[tuple[int, int], Snapshotted] = {}
    table_records: dict[int, ClientOrdersSaved] = {}
    table = ClientOrderTable()
    on_sequenced = table.on_sequenced
    # Each symbol's commands since the last tick, as (enq_seq, command) pairs; a tick runs
    # them with one Whistle.process_many call (the same events as enqueue + tick: the
    # engine advances to now first, and takes no GTD order already due). ``order`` is
    # (engine, queued) in symbol_id order, the venue's tick order.
    queued: dict[int, list[tuple[int, Command]]] = {}
    order: list[tuple[Whistle, list[tuple[int, Command]]]] = []
    start = time.perf_counter()
    for batch in iter_record_batches(data_dir):
        last = batch
        for record in batch:
            if type(record) is Sequenced:
                command = record.command
                queued[command.symbol_id].append((record.enq_seq, command))
                on_sequenced(record.enq_seq, command)
                continue
            if type(record) is Ticked:
                now = record.now_ns
                produced: list[Event] = []
                for engine, items in order:
                    if items:
                        commands += len(items)
                        produced += engine.process_many(items, now)
                        items.clear()
                    else:
                        produced += engine.tick(now)
                events += len(produced)
                if table.pending:
                    table.capture(produced)
                if on_tick is not None:
                    on_tick(produced, now)
                ticks += 1
            elif type(record) is Checkpoint:
                checkpoint = record
            elif type(record) is Defined:
                instrument = record.instrument
                engines[instrument.symbol_id] = Whistle(instrument)
                names[instrument.symbol_id] = instrument.symbol
                queued[instrument.symbol_id] = []
                order = [(engines[s], queued[s]) for s in sorted(engines)]
            elif type(record) is Snapshotted:
                snapshot_records[(record.symbol_id, record.enq_seq)] = record
                checks += 1
                got = engines[record.symbol_id].state_hash()
                if got != record.state_hash:
                    mismatches.append(
                        HashMismatch(
                            where=f"snapshot at enq_seq {record.enq_seq}",
                            symbol=names[record.symbol_id],
                            symbol_id=record.symbol_id,
                            recorded=record.state_hash,
                            replayed=got,
                        )
                    )
            elif type(record) is ClientOrdersSaved:
                table_records[record.enq_seq] = record
                checks += 1
                got = table.state_hash()
                if got != record.table_hash:
                    mismatches.append(
                        HashMismatch(
                            where=f"client-order table at enq_seq {record.enq_seq}",
                            symbol="client-orders",
                            symbol_id=0,
                            recorded=record.table_hash,
                            replayed=got,
                        )
                    )
            elif type(record) is Stopped:
                for symbol_id, recorded in sorted(record.state_hashes.items()):
                    checks += 1
                    got = engines[symbol_id].state_hash()
                    if got != recorded:
                        mismatches.append(
                            HashMismatch(
                                where=f"stop at enq_seq {record.enq_seq}",
                                symbol=names[symbol_id],
                                symbol_id=symbol_id,
                                recorded=recorded,
                                replayed=got,
                            )
                        )
    # Commands journaled after the last tick: counted, not run (a reopened venue runs them).
    pending = sorted(enq_seq for items in queued.values() for enq_seq, _ in items)
    commands += len(pending)
    seconds = time.perf_counter() - start
    snapshot_problems: list[str] = []
    snapshots_missing: list[str] = []
    if checkpoint is not None:
        for symbol_id, enq_seq in sorted(checkpoint.snapshots.items()):
            try:
                verified_snapshot(Path(data_dir), snapshot_records, symbol_id, enq_seq)
            except SnapshotDamaged as exc:
                (snapshots_missing if exc.missing else snapshot_problems).append(str(exc))
        if checkpoint.client_orders >= 0:
            try:
                verified_client_orders(Path(data_dir), table_records, checkpoint.client_orders)
            except SnapshotDamaged as exc:
                (snapshots_missing if exc.missing else snapshot_problems).append(str(exc))
    in_events, gaps = read_event_seqs(data_dir) if check_events else ({}, [])
    event_problems = [
        f"symbol {symbol_id}: DIR/events holds event seq {seq}, the commands produce"
        f" {engines[symbol_id].book.seq if symbol_id in engines else 0}"
        for symbol_id, seq in sorted(in_events.items())
        if symbol_id not in engines or seq > engines[symbol_id].book.seq
    ]
    return ReplayReport(
        symbols=len(engines),
        commands=commands,
        ticks=ticks,
        events=events,
        seconds=round(seconds, 6),
        commands_per_sec=round(commands / seconds, 1) if seconds > 0 else 0.0,
        checks=checks,
        mismatches=mismatches,
        clean_stop=bool(last) and type(last[-1]) is Stopped,
        state_hashes={names[s]: engines[s].state_hash() for s in sorted(engines)},
        event_seqs={names[s]: engines[s].book.seq for s in sorted(engines)},
        event_gaps=gaps,
        event_problems=event_problems,
        snapshot_problems=snapshot_problems,
        snapshots_missing=snapshots_missing,
        event_seqs_by_id={s: engines[s].book.seq for s in sorted(engines)},
        pending=pending,
        client_orders=len(table),
        client_orders_hash=table.state_hash(),
    )


def event_cut(data_dir: str | os.PathLike[str]) -> int | None:
    """Return the last ``DIR/events`` record to keep so it matches the command journal.

    After a repair cut the command journal, the event journal may still hold events of
    the dropped commands (a venue refuses such a directory: it would issue their seqs
    again). The events the kept commands produce are a prefix of ``DIR/events`` (events
    are recorded in the order they were produced); this returns the queue seq of its last
    record (-1: keep none), or None when nothing has to be cut. Pass it to
    ``whistle.journal.truncate_after(DIR/events, seq)``.
    """
    produced = replay(data_dir).event_seqs_by_id
    path = Path(data_dir) / EVENTS_DIR
    if not path.is_dir():
        return None
    decode = RecordCodec().decode_event
    last_kept = -1
    with ReadOnlyReader(path) as reader:
        for record in reader:
            event = decode(record.payload)
            if event.seq > produced.get(event.symbol_id, 0):
                return last_kept
            last_kept = record.seq
    return None


@final
class EventRebuild(msgspec.Struct, frozen=True, kw_only=True):
    """What ``rebuild_events`` wrote."""

    events: int
    """Events in the rebuilt ``DIR/events``."""
    healed: int
    """Events the old recording lacked (its gaps), now recorded."""
    dropped_notices: int
    """Seq-0 notices (host deaths) of the old recording, which no command produces."""
    kept_at: str
    """Where the old event journal was moved (kept for inspection)."""
    damage: str | None = None
    """Why the old event journal could not be read past some point (None: it was whole);
    every event from there on was rebuilt from the commands alone."""


def rebuild_events(data_dir: str | os.PathLike[str]) -> EventRebuild:
    """Rewrite ``DIR/events`` from the command journal: the explicit repair of a gap.

    Events are a pure function of the command journal, so a full replay produces every
    event again, in the order the venue recorded them; the command journal must be whole
    (``JournalDamaged`` otherwise, nothing changed). Every event the old recording holds
    must equal the replayed one with the same (symbol, seq), and none may be left over,
    or nothing is changed (``DataDirError``). An old recording that cannot be read past
    some point (a missing segment, a bad record in a sealed one) is compared up to there
    and rebuilt from there on (``EventRebuild.damage`` says why). The old journal is kept
    next to the new one. Refused (``WriterLockedError``) while a venue has the directory
    open.
    """
    root = Path(data_dir)
    events_dir = root / EVENTS_DIR
    staging = root / f"{EVENTS_DIR}.rebuilding"
    if staging.exists():
        shutil.rmtree(staging)
    lock = _writer_lock(root)  # no venue may write while we rebuild
    damage: list[str] = []
    try:
        old = _recorded_events(events_dir, damage)
        pending = next(old, None)
        encode = RecordCodec().encode
        counts = {"events": 0, "healed": 0, "notices": 0}
        with Queue.open_publisher(staging) as writer:

            def write(produced: list[Event], now_ns: int) -> None:
                nonlocal pending
                items = []
                for event in produced:
                    payload = encode(event)
                    while pending is not None and pending[0][1] == 0:
                        counts["notices"] += 1
                        pending = next(old, None)
                    if pending is not None and pending[0] == (event.symbol_id, event.seq):
                        if pending[1] != payload:
                            raise DataDirError(
                                f"{events_dir}: event seq {event.seq} of symbol"
                                f" {event.symbol_id} differs from the one the commands produce;"
                                " not rebuilding"
                            )
                        pending = next(old, None)
                    else:
                        counts["healed"] += 1
                    items.append((EVENT_TYPE_ID, payload))
                if items:
                    writer.append_many(items, ts_ns=now_ns)
                    counts["events"] += len(items)

            report = replay(root, on_tick=write, check_events=False)
            if report.mismatches:
                raise DataDirError(
                    f"{root}: replay disagrees with {len(report.mismatches)} recorded state"
                    " hashes; not rebuilding the event journal from it"
                )
            while pending is not None and pending[0][1] == 0:
                counts["notices"] += 1
                pending = next(old, None)
            if pending is not None:
                raise DataDirError(
                    f"{events_dir} holds event seq {pending[0][1]} of symbol {pending[0][0]}"
                    " that the commands do not produce; not rebuilding"
                )
    except BaseException:
        lock.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    lock.close()
    kept = root / f"{EVENTS_DIR}.before-rebuild-{time.time_ns()}"
    os.rename(events_dir, kept)
    os.rename(staging, events_dir)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return EventRebuild(
        events=counts["events"],
        healed=counts["healed"],
        dropped_notices=counts["notices"],
        kept_at=str(kept),
        damage=damage[0] if damage else None,
    )


def _writer_lock(root: Path) -> QueueWriter:
    # The event journal's writer lock, which every venue holds; when that journal is too
    # damaged to open, the command journal's (a venue holds both).
    try:
        return Queue.open_publisher(root / EVENTS_DIR)
    except WriterLockedError:
        raise
    except (JournalError, OSError):
        return Queue.open_publisher(root / COMMANDS_DIR)


def _recorded_events(path: Path, damage: list[str]) -> Iterator[tuple[tuple[int, int], bytes]]:
    # The old recording's events up to the first damage (appended to ``damage``).
    if not path.is_dir():
        return
    decode = RecordCodec().decode_event
    try:
        with ReadOnlyReader(path) as reader:
            while True:
                seq = reader.next_seq
                batch = reader.read_payloads(4096)
                if not batch:
                    return
                for payload in batch:
                    try:
                        event = decode(payload)
                    except msgspec.MsgspecError as exc:
                        damage.append(f"{path}: event record {seq} cannot be decoded: {exc}")
                        return
                    seq += 1
                    yield (event.symbol_id, event.seq), payload
    except (JournalError, OSError) as exc:
        damage.append(f"{path}: {exc}")
