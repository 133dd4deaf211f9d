"""A venue's journals on disk: writing them, and reading them back for recovery and replay.

``VenueJournal`` owns the two persistent queues and the snapshot files of a data
directory (layout and record meaning: ``whistle.coord.durability.records``). ``iter_records`` is the
one reader of the command journal: ``Venue(data_dir=...)`` recovery (through ``scan``)
and ``whistle replay`` both use it, so they reach the same verdict on the same directory.

Writing (what a failure means)
------------------------------
Every record is encoded before anything is written. ``JournalUnavailable`` (a
``DataDirError``) means the record was *not* written: ``fatal`` is False when the file
system was full (the writer stays usable once space is freed) and True for any other
failure (the venue then stops and refuses every later call). An instrument definition
is decoded back before it is appended, so no record that cannot be read again is ever
journaled. Events that could not be written are kept (at most ``max_unwritten_events``)
and written, in order, before any later event. A snapshot is written to a temporary
name, fsynced, renamed and the directory fsynced, *then* its ``Snapshotted`` record
(with the file's size and CRC-32) is appended, so a record never names a file that is
not whole on disk; a failure removes the temporary and raises ``CheckpointError``.

Reading (recovery never guesses)
--------------------------------
``iter_records`` yields records only while the journal is whole and consistent. Any
damage the journal layer reports (a bad record in a sealed segment, a missing or short
segment, a sequence gap; only a torn tail after the last commit of the last segment is
cut, by the journal writer) and any inconsistency between records (an ``enq_seq`` gap or
duplicate, tick numbers or times going backwards, a command or snapshot for a symbol not
defined before it, a checkpoint or stop that disagrees with the records before it) is a
``JournalDamaged`` naming the file, the offset where known, and the acknowledged
commands (``enq_seq`` range) that cannot be read.

The event journal is checked too (``read_event_seqs``): damage is a ``DataDirError``;
per-symbol seqs must run 1, 2, 3, ...; a gap is reported (``EventGap``) and healed only by
the explicit ``whistle replay DIR --rebuild-events``. Snapshots are checked against their
``Snapshotted`` record (``verified_snapshot``: size, CRC-32, decoding, symbol, anchor and
state hash) and ``choose_checkpoint`` picks the latest kept checkpoint whose snapshots
all verify and are not ahead of the event journal; ``Venue`` recovery and host-death
restore both use it, falling back to an earlier checkpoint or to the start.

Fsync policies (``FsyncPolicy`` of ``whistle.journal``, applied to both queues):

- ``none``: an acknowledged command is in the page cache; it survives a crash of the
  process, not a power loss;
- ``interval``: as ``none``, plus a background sync every interval: a power loss loses at
  most about one interval of acknowledged commands;
- ``every``: each append is synced before ``enqueue`` returns: an acknowledged command
  survives a power loss (if the disk honours flushes), at the cost of one sync per command.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, final

import msgspec

from whistle.coord.durability.records import (
    CLIENT_ORDERS_SNAPSHOT_ID,
    COMMANDS_DIR,
    EVENT_TYPE_ID,
    EVENTS_DIR,
    SNAPSHOTS_DIR,
    Checkpoint,
    ClientOrdersSaved,
    ClientOrderTableFile,
    Defined,
    JournalRecord,
    RecordCodec,
    Sequenced,
    Snapshotted,
    Stopped,
    Ticked,
    decode_client_order_table,
    table_hash,
)
from whistle.core.errors import WhistleError
from whistle.engine.snapshot import decode_snapshot
from whistle.engine.whistle import Whistle
from whistle.journal import (
    FsyncPolicy,
    JournalError,
    JournalFull,
    Queue,
    QueueConfig,
    ReadOnlyReader,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.core.instrument import Instrument
    from whistle.journal import QueueWriter

__all__ = [
    "DEFAULT_MAX_UNWRITTEN_EVENTS",
    "DEFAULT_SEGMENT_SIZE",
    "CheckpointChoice",
    "CheckpointError",
    "DataDirError",
    "EventGap",
    "JournalDamaged",
    "JournalScan",
    "JournalUnavailable",
    "SnapshotDamaged",
    "VenueJournal",
    "check_data_dir",
    "choose_checkpoint",
    "decode_client_order_table",
    "events_after",
    "iter_record_batches",
    "iter_records",
    "last_event_seqs",
    "read_event_seqs",
    "read_snapshot",
    "scan",
    "snapshot_crc",
    "snapshot_path",
    "table_hash",
    "verified_client_orders",
    "verified_snapshot",
]

DEFAULT_SEGMENT_SIZE = 4 << 20
"""Segment file size of a new venue journal (each queue keeps about two on disk)."""
DEFAULT_MAX_UNWRITTEN_EVENTS = 1_000_000
"""How many events a venue keeps waiting for the event journal before it stops."""


class DataDirError(WhistleError):
    """A data directory is unusable: missing files, records that do not fit together.

    Hierarchy::

        DataDirError
        ├── JournalDamaged       the command journal cannot be read whole (file, offset,
        │                        enq_seqs that cannot be read)
        ├── SnapshotDamaged      a snapshot's bytes or hash do not match its record
        ├── JournalUnavailable   a record could not be written (nothing of it was)
        └── CheckpointError      a snapshot or checkpoint could not be written
    """


@final
class JournalDamaged(DataDirError):
    """The command journal is damaged or inconsistent; recovery and replay stop here.

    ``path`` is the file (or queue directory), ``offset`` the byte offset when known,
    ``first_enq_seq`` the first acknowledged command that cannot be read (the one after
    the last good command) and ``last_enq_seq`` the last one when known (else None).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str],
        offset: int | None = None,
        first_enq_seq: int,
        last_enq_seq: int | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.offset = offset
        self.first_enq_seq = first_enq_seq
        self.last_enq_seq = last_enq_seq
        where = self.path if offset is None else f"{self.path} at offset {offset}"
        upto = "on" if last_enq_seq is None else f"to {last_enq_seq}"
        super().__init__(
            f"{where}: {message}; acknowledged commands from enq_seq {first_enq_seq} {upto}"
            " cannot be read (whistle journal verify / repair)"
        )


@final
class SnapshotDamaged(DataDirError):
    """A snapshot file is missing, of the wrong size or checksum, undecodable, or of
    another state than its ``Snapshotted`` record says.

    ``missing`` tells a file that is not there (retention may have deleted it after a
    later checkpoint that a repair then cut) from one whose bytes are wrong.
    """

    def __init__(
        self, message: str, *, path: str | os.PathLike[str], missing: bool = False
    ) -> None:
        self.path = os.fspath(path)
        self.missing = missing
        super().__init__(f"snapshot {self.path}: {message}")


@final
class JournalUnavailable(DataDirError):
    """A record could not be journaled; nothing of it was written.

    ``fatal`` is False when the file system is full (retry once space is freed) and True
    when the journal can no longer be written (the venue stops). ``path`` names the queue.
    ``accepted_enq_seq`` is set when ``Venue.send`` journaled its command but not the
    tick after it: that command is acknowledged and runs at the next tick.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str],
        fatal: bool,
        accepted_enq_seq: int | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.fatal = fatal
        self.accepted_enq_seq = accepted_enq_seq
        super().__init__(message)


@final
class CheckpointError(DataDirError):
    """A snapshot or checkpoint could not be written (temporaries were removed)."""


@final
class EventGap(msgspec.Struct, frozen=True):
    """Event seqs of a symbol missing from ``DIR/events`` (``first..last``, inclusive)."""

    symbol_id: int
    first: int
    last: int


KNOWN_ENTRIES = frozenset({COMMANDS_DIR, EVENTS_DIR, SNAPSHOTS_DIR, f"{EVENTS_DIR}.rebuilding"})
"""What a data directory may hold at its top level (see ``KNOWN_PREFIXES``)."""
KNOWN_PREFIXES = (f"{EVENTS_DIR}.before-", "damaged-")
"""Kept-aside entries a data directory may also hold: the event journals ``whistle replay
--rebuild-events`` moved aside, the files ``whistle journal repair`` set aside."""
IGNORED_ENTRIES = frozenset({"lost+found"})
"""Entries a data directory may hold that are no venue's: a fresh file system's
``lost+found``. Hidden names (``.DS_Store``, ``.nfs*``, ...) are ignored as well."""


def check_data_dir(data_dir: object) -> Path:
    """Return ``data_dir`` as a ``Path`` if a venue may use it; read only, never writes.

    ``TypeError`` unless a ``str`` or ``os.PathLike`` of one; ``ValueError`` for ``''``
    (it would mean the current directory); ``DataDirError`` for a path that is a file, or
    for a directory that holds anything a whistle data directory does not (it names what
    it found). A missing or empty directory is a new venue's; ``lost+found`` (a freshly
    mounted volume) and hidden dot-files (``.DS_Store``) do not count.
    """
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir must be a str or os.PathLike, was {type(data_dir).__name__}")
    text = os.fspath(data_dir)
    if not isinstance(text, str):
        raise TypeError(f"data_dir must be a str path, was {type(text).__name__}")
    if not text:
        raise ValueError("data_dir must name a directory, was '' (use '.' for this one)")
    root = Path(text)
    if not root.is_dir():
        if root.exists() or root.is_symlink():
            raise DataDirError(f"data directory {root} is a file, not a directory")
        return root
    try:
        names = sorted(os.listdir(root))
    except OSError as exc:
        raise DataDirError(f"cannot list data directory {root}: {_cause(exc)}") from exc
    foreign = [
        n
        for n in names
        if n not in KNOWN_ENTRIES
        and n not in IGNORED_ENTRIES
        and not n.startswith(KNOWN_PREFIXES)
        and not n.startswith(".")
    ]
    if foreign:
        shown = ", ".join(repr(n) for n in foreign[:5])
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise DataDirError(
            f"{root} is not empty and not a whistle data directory: it holds {shown}{more}"
            f" (a data directory holds only {COMMANDS_DIR}/, {EVENTS_DIR}/ and"
            f" {SNAPSHOTS_DIR}/; use an empty or new directory)"
        )
    return root


def snapshot_path(data_dir: Path, symbol_id: int, enq_seq: int) -> Path:
    """Return where the snapshot of ``symbol_id`` anchored at ``enq_seq`` lives."""
    return data_dir / SNAPSHOTS_DIR / str(symbol_id) / f"{enq_seq:020d}.snap"


def snapshot_crc(data: bytes) -> int:
    """Return the checksum a ``Snapshotted`` record keeps of a snapshot's bytes."""
    return zlib.crc32(data)


def _cause(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _write_durably(path: Path, data: bytes) -> None:
    # To a temporary name, fsynced, renamed, the directory fsynced: a record written after
    # this never names a file that is not whole on disk. CheckpointError on failure (the
    # temporary removed).
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise CheckpointError(
            f"cannot write snapshot {path}: {exc.strerror or _cause(exc)}"
        ) from exc


@final
class VenueJournal:
    """The command journal, the event journal and the snapshots of one data directory."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy = FsyncPolicy.NONE,
        segment_size: int | None = None,
        prealloc: bool | None = None,
        max_unwritten_events: int = DEFAULT_MAX_UNWRITTEN_EVENTS,
    ) -> None:
        # Absolute once, here: a relative path would follow a later os.chdir of the
        # process, splitting the journal, its segments and its snapshots across two trees.
        self.data_dir = Path(data_dir).absolute()
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise DataDirError(f"data directory {self.data_dir} is a file, not a directory")
        fields: dict[str, object] = {"fsync": fsync}
        if segment_size is not None:
            fields["segment_size"] = segment_size
        if prealloc is not None:
            fields["prealloc"] = prealloc
        # The configuration is checked before anything is created: a refused open writes
        # nothing.
        config = QueueConfig(**fields)  # type: ignore[arg-type]  # keyword fields of QueueConfig
        try:
            (self.data_dir / SNAPSHOTS_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(f"cannot create {self.data_dir / SNAPSHOTS_DIR}: {exc}") from exc
        self.fsync = fsync
        self.max_unwritten_events = max_unwritten_events
        self._codec = RecordCodec()
        self._commands_path = self.data_dir / COMMANDS_DIR
        self._events_path = self.data_dir / EVENTS_DIR
        self._commands: QueueWriter = Queue.open_publisher(self._commands_path, config)
        try:
            self._events: QueueWriter = Queue.open_publisher(self._events_path, config)
        except BaseException:
            self._commands.close()
            raise
        self._unwritten: list[tuple[bytes, int]] = []
        self.event_error: str | None = None
        """Why the last event write failed (None once every event is written)."""
        self._closed = False

    @property
    def is_new(self) -> bool:
        """Return whether the command journal holds no record yet."""
        return self._commands.next_seq == 0

    @property
    def unwritten_events(self) -> int:
        """Return how many events wait for the event journal (0 when it is whole)."""
        return len(self._unwritten)

    # ------------------------------------------------------------------ writing

    def _append(self, record: JournalRecord, ts_ns: int) -> int:
        data = self._codec.encode(record)
        try:
            return self._commands.append(RecordCodec.type_id(record), data, ts_ns=ts_ns)
        except JournalFull as exc:
            raise JournalUnavailable(
                f"cannot journal {type(record).__name__} to {self._commands_path}: {exc};"
                " nothing was written, retry once space is freed",
                path=self._commands_path,
                fatal=False,
            ) from exc
        except ValueError as exc:  # RecordTooLarge or a header field out of range
            raise JournalUnavailable(
                f"cannot journal {type(record).__name__} to {self._commands_path}:"
                f" {_cause(exc)}; nothing was written",
                path=self._commands_path,
                fatal=False,
            ) from exc
        except (JournalError, OSError) as exc:
            raise JournalUnavailable(
                f"cannot journal {type(record).__name__} to {self._commands_path}:"
                f" {_cause(exc)}; the journal can no longer be written",
                path=self._commands_path,
                fatal=True,
            ) from exc

    def defined(self, instrument: Instrument, now_ns: int) -> None:
        """Journal an instrument definition, after checking it decodes back equal.

        ``ValueError`` (nothing written) if it would not: a record that cannot be read
        back would make the whole directory unreadable.
        """
        record = Defined(instrument)
        data = self._codec.encode(record)
        try:
            back = self._codec.decode_record(data)
        except msgspec.MsgspecError as exc:
            raise ValueError(f"instrument {instrument!r} cannot be journaled: {exc}") from None
        if back != record:
            raise ValueError(
                f"instrument {instrument!r} cannot be journaled: it reads back as {back!r}"
            )
        self._append(record, now_ns)

    def sequenced(self, enq_seq: int, command: Command, now_ns: int) -> None:
        """Journal an accepted command (before any host sees it)."""
        self._append(Sequenced(enq_seq, command), now_ns)

    def ticked(self, number: int, now_ns: int) -> None:
        """Journal a tick (before it runs)."""
        self._append(Ticked(number, now_ns), now_ns)

    def events(self, events: list[Event], now_ns: int) -> bool:
        """Record events in the event journal, after any still waiting from before.

        Never raises for an I/O failure: what could not be written is kept, in order, and
        written first next time (``event_error`` says why). Returns False when more than
        ``max_unwritten_events`` are waiting (the caller must stop).
        """
        encode = self._codec.encode
        if not self._unwritten:
            if not events:
                return True
            items = [(EVENT_TYPE_ID, encode(e)) for e in events]
            writer = self._events
            before = writer.next_seq
            try:
                writer.append_many(items, ts_ns=now_ns)
            except (JournalError, OSError, ValueError) as exc:
                # append_many is not atomic: keep exactly what it did not write.
                done = writer.next_seq - before
                self._unwritten = [(payload, now_ns) for _, payload in items[done:]]
                self.event_error = f"cannot record events in {self._events_path}: {_cause(exc)}"
            return len(self._unwritten) <= self.max_unwritten_events
        self._unwritten.extend((encode(e), now_ns) for e in events)
        self.flush_events()
        return len(self._unwritten) <= self.max_unwritten_events

    def unwritten_event_seqs(self) -> dict[int, int]:
        """Return the last event seq per symbol among the events still waiting."""
        out: dict[int, int] = {}
        decode = self._codec.decode_event
        for payload, _ in self._unwritten:
            event = decode(payload)
            if event.seq:
                out[event.symbol_id] = event.seq
        return out

    def flush_events(self) -> bool:
        """Write the events still waiting, in order; return whether none is left."""
        pending = self._unwritten
        if not pending:
            return True
        append = self._events.append
        done = 0
        try:
            for payload, ts_ns in pending:
                append(EVENT_TYPE_ID, payload, ts_ns=ts_ns)
                done += 1
        except (JournalError, OSError, ValueError) as exc:
            self.event_error = f"cannot record events in {self._events_path}: {_cause(exc)}"
        del pending[:done]
        if not pending:
            self.event_error = None
        return not pending

    def snapshot(
        self,
        symbol_id: int,
        enq_seq: int,
        event_seq: int,
        state_hash: str,
        data: bytes,
        now_ns: int,
    ) -> None:
        """Write a snapshot file durably, then journal that it exists (size and CRC).

        ``CheckpointError`` naming the file if it cannot be written (the temporary is
        removed, nothing is journaled); ``JournalUnavailable`` if the record cannot be.
        """
        path = snapshot_path(self.data_dir, symbol_id, enq_seq)
        _write_durably(path, data)
        record = Snapshotted(
            symbol_id, enq_seq, event_seq, state_hash, len(data), snapshot_crc(data)
        )
        self._append(record, now_ns)

    def client_orders(self, enq_seq: int, entries: int, data: bytes, now_ns: int) -> None:
        """Write a client-order table file durably, then journal ``ClientOrdersSaved``.

        The same rules as ``snapshot``: ``CheckpointError`` (nothing journaled) if the
        file cannot be written, ``JournalUnavailable`` if the record cannot be.
        """
        path = snapshot_path(self.data_dir, CLIENT_ORDERS_SNAPSHOT_ID, enq_seq)
        _write_durably(path, data)
        record = ClientOrdersSaved(
            enq_seq, entries, table_hash(data), len(data), snapshot_crc(data)
        )
        self._append(record, now_ns)

    def checkpoint(
        self,
        enq_seq: int,
        tick_number: int,
        now_ns: int,
        snapshots: dict[int, int],
        next_order_ids: dict[int, int],
        client_orders: int = -1,
    ) -> None:
        """Journal a consistent cut: the snapshot each active symbol restores from, and
        the client-order table file (``client_orders``: its anchor; -1: empty table)."""
        self._append(
            Checkpoint(
                enq_seq,
                tick_number,
                now_ns,
                dict(snapshots),
                dict(next_order_ids),
                client_orders,
            ),
            now_ns,
        )
        try:
            self._commands.sync()
        except (JournalError, OSError) as exc:
            raise CheckpointError(f"cannot sync {self._commands_path}: {_cause(exc)}") from exc

    def stopped(self, enq_seq: int, state_hashes: dict[int, str], now_ns: int) -> None:
        """Journal a clean stop with every symbol's state hash."""
        self._append(Stopped(enq_seq, dict(state_hashes)), now_ns)

    def prune_snapshots(self, keep: set[tuple[int, int]]) -> int:
        """Delete snapshot files not in ``keep`` ((symbol_id, enq_seq)); return how many."""
        removed = 0
        root = self.data_dir / SNAPSHOTS_DIR
        for folder in root.iterdir() if root.is_dir() else ():
            if not folder.is_dir() or not folder.name.isdigit():
                continue
            symbol_id = int(folder.name)
            for file in folder.iterdir():
                stem, _, suffix = file.name.partition(".")
                stale_tmp = suffix.startswith("tmp-")
                if not stale_tmp and (suffix != "snap" or not stem.isdigit()):
                    continue
                if stale_tmp or (symbol_id, int(stem)) not in keep:
                    with contextlib.suppress(OSError):
                        file.unlink()
                        removed += 1
        return removed

    def sync(self) -> None:
        """Make everything appended so far durable."""
        self._commands.sync()
        self._events.sync()

    def close(self) -> None:
        """Sync and close both queues (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush_events()
            self.sync()
        finally:
            self._commands.close()
            self._events.close()

    # ------------------------------------------------------------------ reading

    def read_snapshot(self, record: Snapshotted) -> bytes:
        """Return the verified bytes of the snapshot ``record`` names (``SnapshotDamaged``)."""
        return read_snapshot(self.data_dir, record)


def read_snapshot(data_dir: Path, record: Snapshotted) -> bytes:
    """Return a snapshot's bytes after checking its size and CRC against ``record``.

    Decoding and the state hash are checked by the caller (``whistle.engine``).
    """
    path = snapshot_path(data_dir, record.symbol_id, record.enq_seq)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SnapshotDamaged("named by the journal, is missing", path=path, missing=True) from None
    except OSError as exc:
        raise SnapshotDamaged(f"cannot be read: {exc.strerror or exc}", path=path) from exc
    if not data:
        raise SnapshotDamaged("is empty (0 bytes)", path=path)
    if record.size and len(data) != record.size:
        raise SnapshotDamaged(
            f"must be {record.size} bytes as its record says, is {len(data)}", path=path
        )
    if record.size and snapshot_crc(data) != record.crc32:
        raise SnapshotDamaged(
            f"CRC-32 must be {record.crc32:#010x} as its record says, is"
            f" {snapshot_crc(data):#010x}",
            path=path,
        )
    return data


@final
class JournalScan:
    """What the command journal says, read once from the start.

    Keeps the last ``keep`` checkpoints and every record after the oldest of them, so a
    recovery whose latest checkpoint is bad can fall back to an earlier one.
    """

    def __init__(self, keep: int = 2) -> None:
        self.keep = max(1, keep)
        self.instruments: list[Instrument] = []
        self.checkpoints: list[Checkpoint] = []
        """The last ``keep`` checkpoints, oldest first."""
        self._records: list[JournalRecord] = []
        self._starts: list[int] = []
        self.snapshot_records: dict[tuple[int, int], Snapshotted] = {}
        self.client_order_records: dict[int, ClientOrdersSaved] = {}
        """Each ``ClientOrdersSaved`` record, by its ``enq_seq`` anchor."""
        self.stopped: Stopped | None = None
        """The last record, when it is a clean stop."""
        self.records = 0
        self.commands = 0
        self.ticks = 0
        self.enq_seq = 0
        """The last ``enq_seq`` in the journal."""
        self.trimmed = False
        """Whether records before the oldest kept checkpoint were let go."""

    @property
    def checkpoint(self) -> Checkpoint | None:
        """Return the latest checkpoint (None if there is none)."""
        return self.checkpoints[-1] if self.checkpoints else None

    @property
    def tail(self) -> list[JournalRecord]:
        """Return every record after the latest checkpoint (all if there is none)."""
        return self.tail_after(len(self.checkpoints) - 1)

    def tail_after(self, index: int) -> list[JournalRecord]:
        """Return the records after ``checkpoints[index]`` (all, when there is none)."""
        if index < 0:
            return list(self._records)
        return self._records[self._starts[index] :]

    def _add(self, record: JournalRecord) -> None:
        if isinstance(record, Checkpoint):
            self.checkpoints.append(record)
            self._starts.append(len(self._records))
            if len(self.checkpoints) > self.keep:
                drop = self._starts[1]
                self.trimmed = True
                del self.checkpoints[0]
                del self._records[:drop]
                self._starts = [s - drop for s in self._starts[1:]]
            return
        self._records.append(record)


def _payloads(path: Path) -> Iterator[tuple[int, bytes]]:
    # A cursor-free reader: a durable cursor would hold later segments back from retention.
    # read_payloads returns the records before a damage and raises at the next call, so
    # the caller sees every readable record before the error (and can say exactly which
    # acknowledged commands are lost).
    reader = ReadOnlyReader(path)
    try:
        while True:
            seq = reader.next_seq
            batch = reader.read_payloads(4096)
            if not batch:
                return
            for payload in batch:
                yield seq, payload
                seq += 1
    finally:
        reader.close()


@final
class _Checker:
    """The venue-level consistency rules of a command journal, record by record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.enq_seq = 0
        self.tick = 0
        self.now_ns = 0
        self.symbols: set[int] = set()

    def damaged(self, message: str, seq: int) -> JournalDamaged:
        return JournalDamaged(
            f"record {seq}: {message}", path=self.path, first_enq_seq=self.enq_seq + 1
        )

    def check(self, record: JournalRecord, seq: int) -> None:
        if isinstance(record, Sequenced):
            if record.enq_seq != self.enq_seq + 1:
                kind = "a gap" if record.enq_seq > self.enq_seq else "a duplicate"
                raise self.damaged(f"enq_seq {record.enq_seq} follows {self.enq_seq} ({kind})", seq)
            if record.command.symbol_id not in self.symbols:
                raise self.damaged(
                    f"enq_seq {record.enq_seq} is for symbol {record.command.symbol_id},"
                    " which no earlier record defines",
                    seq,
                )
            self.enq_seq = record.enq_seq
        elif isinstance(record, Ticked):
            if record.number <= self.tick or record.now_ns < self.now_ns:
                raise self.damaged(
                    f"tick {record.number} at {record.now_ns} ns follows tick {self.tick} at"
                    f" {self.now_ns} ns (ticks must go forward)",
                    seq,
                )
            self.tick, self.now_ns = record.number, record.now_ns
        elif isinstance(record, Defined):
            symbol_id = record.instrument.symbol_id
            if symbol_id in self.symbols:
                raise self.damaged(f"symbol {symbol_id} is defined twice", seq)
            self.symbols.add(symbol_id)
        elif isinstance(record, Snapshotted):
            if record.symbol_id not in self.symbols or record.enq_seq > self.enq_seq:
                raise self.damaged(
                    f"snapshot of symbol {record.symbol_id} at enq_seq {record.enq_seq} does"
                    f" not fit (last enq_seq {self.enq_seq})",
                    seq,
                )
        elif isinstance(record, ClientOrdersSaved):
            if record.enq_seq > self.enq_seq:
                raise self.damaged(
                    f"client-order table at enq_seq {record.enq_seq} does not fit (last"
                    f" enq_seq {self.enq_seq})",
                    seq,
                )
        elif isinstance(record, Checkpoint):
            unknown = sorted(set(record.snapshots) - self.symbols)
            if (
                record.enq_seq != self.enq_seq
                or record.tick_number != self.tick
                or unknown
                or record.client_orders > record.enq_seq
            ):
                raise self.damaged(
                    f"checkpoint at enq_seq {record.enq_seq} / tick {record.tick_number}"
                    f" disagrees with the records before it (enq_seq {self.enq_seq} / tick"
                    f" {self.tick}; symbols never defined: {unknown})",
                    seq,
                )
        elif isinstance(record, Stopped) and record.enq_seq != self.enq_seq:
            raise self.damaged(
                f"stop at enq_seq {record.enq_seq} after enq_seq {self.enq_seq}", seq
            )


def iter_records(data_dir: str | os.PathLike[str]) -> Iterator[JournalRecord]:
    """Yield every record of ``DATA_DIR/commands``, first to last, checked.

    ``JournalDamaged`` at the first damage or inconsistency (see the module docstring);
    records before it have been yielded. One record at a time over ``iter_record_batches``
    (the same reader and checks).
    """
    for batch in iter_record_batches(data_dir):
        yield from batch


def iter_record_batches(data_dir: str | os.PathLike[str]) -> Iterator[list[JournalRecord]]:
    """Yield the records of ``DATA_DIR/commands`` in checked lists, first to last.

    The same records and verdicts as ``iter_records``, a read batch at a time (up to
    4,096 records), for callers that loop over them in one place (``replay``). At the
    first damage or inconsistency the records before it are yielded as a last, shorter
    list, and the next step raises ``JournalDamaged``.
    """
    path = Path(data_dir) / COMMANDS_DIR
    if not path.is_dir():
        raise DataDirError(f"{data_dir} is not a whistle data directory ({path} is missing)")
    decode = RecordCodec().decode_record
    checker = _Checker(path)
    symbols = checker.symbols
    sequenced = Sequenced
    reader: ReadOnlyReader | None = None
    try:
        while True:
            try:
                if reader is None:
                    reader = ReadOnlyReader(path)
                seq = reader.next_seq
                # read_payloads returns the records before a damage and raises at the next
                # call, so every readable record is checked and yielded before the error.
                batch = reader.read_payloads(4096)
            except JournalError as exc:
                raise JournalDamaged(
                    _journal_reason(exc),
                    path=exc.path or path,
                    offset=exc.offset,
                    first_enq_seq=checker.enq_seq + 1,
                    last_enq_seq=_last_lost_enq_seq(path, exc, decode),
                ) from exc
            except OSError as exc:
                raise JournalDamaged(
                    f"cannot be read: {exc.strerror or _cause(exc)}",
                    path=exc.filename or path,
                    first_enq_seq=checker.enq_seq + 1,
                ) from exc
            if not batch:
                return
            # One msgspec call per record with a reused Decoder: decoding a batch as one
            # msgpack array (header + joined payloads) measured no faster (the cost is in
            # building the structs) and would no longer prove each payload is one record.
            records: list[JournalRecord] = []
            append = records.append
            enq_seq = checker.enq_seq
            try:
                for payload in batch:
                    try:
                        record = decode(payload)
                    except msgspec.MsgspecError as exc:
                        checker.enq_seq = enq_seq
                        raise checker.damaged(f"cannot be decoded: {exc}", seq) from None
                    if (
                        type(record) is sequenced
                        and record.enq_seq == enq_seq + 1
                        and record.command.symbol_id in symbols
                    ):
                        enq_seq += 1  # the common case, checked inline
                    else:
                        checker.enq_seq = enq_seq
                        checker.check(record, seq)
                        enq_seq = checker.enq_seq
                    append(record)
                    seq += 1
            except JournalDamaged as damage:
                if records:
                    yield records  # every record before the damage, then the verdict
                raise damage
            checker.enq_seq = enq_seq
            yield records
    finally:
        if reader is not None:
            reader.close()


def _last_lost_enq_seq(
    path: Path, exc: JournalError, decode: Callable[[bytes], JournalRecord]
) -> int | None:
    # When the journal knows where the damage ends, the first command readable after it
    # bounds the lost range (best effort: None when nothing after the damage can be read).
    last = getattr(exc, "last_seq", None)
    if last is None:
        return None
    try:
        with ReadOnlyReader(path) as reader:
            reader.seek(last + 1)
            for _ in range(64):
                batch = reader.read_batch(256)
                if not batch:
                    return None
                for item in batch:
                    record = decode(item.payload)
                    if isinstance(record, Sequenced):
                        return record.enq_seq - 1
    except (JournalError, OSError, msgspec.MsgspecError):
        return None
    return None


def _journal_reason(exc: JournalError) -> str:
    # The journal's own words without its "[path @ offset]" suffix (JournalDamaged says
    # where), plus the queue records it could not read when it knows them.
    first = getattr(exc, "first_seq", None)
    if first is None:
        return exc.reason
    last = getattr(exc, "last_seq", None)
    return f"{exc.reason} (journal records {first}..{'' if last is None else last})"


def scan(data_dir: str | os.PathLike[str], keep: int = 2) -> JournalScan:
    """Read ``DATA_DIR/commands`` once; keep what recovery needs (``keep`` checkpoints)."""
    result = JournalScan(keep)
    last: JournalRecord | None = None
    for record in iter_records(data_dir):
        result.records += 1
        last = record
        if isinstance(record, Defined):
            result.instruments.append(record.instrument)
        elif isinstance(record, Sequenced):
            result.commands += 1
            result.enq_seq = record.enq_seq
        elif isinstance(record, Ticked):
            result.ticks += 1
        elif isinstance(record, Snapshotted):
            result.snapshot_records[(record.symbol_id, record.enq_seq)] = record
        elif isinstance(record, ClientOrdersSaved):
            result.client_order_records[record.enq_seq] = record
        result._add(record)
    result.stopped = last if isinstance(last, Stopped) else None
    return result


def read_event_seqs(data_dir: str | os.PathLike[str]) -> tuple[dict[int, int], list[EventGap]]:
    """Return the last event ``seq`` per symbol in ``DATA_DIR/events`` and any gaps.

    Per symbol the seqs must run 1, 2, 3, ...; a jump is an ``EventGap`` (events the
    recording lacks), a repeat or step back is ``DataDirError``. Seq-0 events (host-death
    notices) are not part of a symbol's stream and are ignored.
    """
    path = Path(data_dir) / EVENTS_DIR
    out: dict[int, int] = {}
    gaps: list[EventGap] = []
    if not path.is_dir():
        return out, gaps
    decode = RecordCodec().decode_event
    payloads = _payloads(path)
    while True:
        try:
            item = next(payloads, None)
        except JournalError as exc:
            raise DataDirError(
                f"the event journal is damaged: {exc}; the events are a function of the"
                f" command journal: rebuild them with `whistle replay {data_dir}"
                " --rebuild-events` (the damaged journal is kept aside)"
            ) from exc
        if item is None:
            return out, gaps
        seq, payload = item
        try:
            event = decode(payload)
        except msgspec.MsgspecError as exc:
            raise DataDirError(f"{path}: event record {seq} cannot be decoded: {exc}") from None
        if not event.seq:
            continue
        before = out.get(event.symbol_id, 0)
        if event.seq != before + 1:
            if event.seq <= before:
                raise DataDirError(
                    f"{path}: event record {seq}: symbol {event.symbol_id} event seq"
                    f" {event.seq} after {before} (a duplicate)"
                )
            gaps.append(EventGap(event.symbol_id, before + 1, event.seq - 1))
        out[event.symbol_id] = event.seq


def last_event_seqs(data_dir: str | os.PathLike[str]) -> dict[int, int]:
    """Return the last ``seq`` per symbol in ``DATA_DIR/events`` (0-seq events ignored)."""
    return read_event_seqs(data_dir)[0]


def events_after(events: Iterable[Event], journaled: dict[int, int]) -> list[Event]:
    """Return the events whose per-symbol ``seq`` is past what the event journal holds."""
    return [e for e in events if e.seq > journaled.get(e.symbol_id, 0)]


@final
class CheckpointChoice:
    """The checkpoint recovery restores from (``index`` into ``JournalScan.checkpoints``;
    -1: none, replay from the start), its verified snapshots by symbol, and why each
    later checkpoint was passed over."""

    __slots__ = ("client_orders", "fallbacks", "index", "snapshots")

    def __init__(
        self,
        index: int,
        snapshots: dict[int, bytes],
        fallbacks: list[str],
        client_orders: ClientOrderTableFile | None = None,
    ) -> None:
        self.index = index
        self.snapshots = snapshots
        self.fallbacks = fallbacks
        self.client_orders = client_orders
        """The checkpoint's client-order table, verified (None: an empty table)."""


def verified_snapshot(
    data_dir: Path, records: dict[tuple[int, int], Snapshotted], symbol_id: int, enq_seq: int
) -> bytes:
    """Return the bytes of a snapshot a checkpoint names, checked against its record.

    Size and CRC-32, then decoding, then the snapshot's symbol, anchor and state hash
    against the ``Snapshotted`` record (a record from before sizes were kept: the book is
    rebuilt to check the hash). ``SnapshotDamaged`` naming the file otherwise.
    """
    path = snapshot_path(data_dir, symbol_id, enq_seq)
    record = records.get((symbol_id, enq_seq))
    if record is None:
        raise SnapshotDamaged("no Snapshotted record precedes the checkpoint naming it", path=path)
    data = read_snapshot(data_dir, record)
    try:
        snap = decode_snapshot(data)
    except (msgspec.MsgspecError, ValueError) as exc:
        raise SnapshotDamaged(f"cannot be decoded: {exc}", path=path) from None
    seen = (snap.instrument.symbol_id, snap.last_enq_seq, snap.state_hash)
    if seen != (symbol_id, enq_seq, record.state_hash):
        raise SnapshotDamaged(
            f"holds symbol {seen[0]} at enq_seq {seen[1]} with state hash {seen[2]}; its"
            f" record says symbol {symbol_id} at enq_seq {enq_seq} with {record.state_hash}"
            " (an older or another snapshot?)",
            path=path,
        )
    if not record.size:
        try:
            Whistle.restore(snap)
        except ValueError as exc:
            raise SnapshotDamaged(str(exc), path=path) from None
    return data


def verified_client_orders(
    data_dir: Path, records: dict[int, ClientOrdersSaved], enq_seq: int
) -> ClientOrderTableFile:
    """Return the client-order table a checkpoint names, checked against its record.

    Size and CRC-32, the table hash, the format version, decoding: ``SnapshotDamaged``
    naming the file otherwise.
    """
    path = snapshot_path(data_dir, CLIENT_ORDERS_SNAPSHOT_ID, enq_seq)
    record = records.get(enq_seq)
    if record is None:
        raise SnapshotDamaged(
            "no ClientOrdersSaved record precedes the checkpoint naming it", path=path
        )
    data = read_snapshot(
        data_dir,
        Snapshotted(CLIENT_ORDERS_SNAPSHOT_ID, enq_seq, 0, "", record.size, record.crc32),
    )
    if table_hash(data) != record.table_hash:
        raise SnapshotDamaged(
            f"hashes to {table_hash(data)}, its record says {record.table_hash}", path=path
        )
    try:
        table = decode_client_order_table(data)
    except ValueError as exc:
        raise SnapshotDamaged(str(exc), path=path) from None
    if len(table.entries) != record.entries:
        raise SnapshotDamaged(
            f"holds {len(table.entries)} entries, its record says {record.entries}", path=path
        )
    return table


def choose_checkpoint(
    data_dir: str | os.PathLike[str],
    found: JournalScan,
    recorded: dict[int, int] | None = None,
) -> CheckpointChoice:
    """Return the latest kept checkpoint whose every snapshot verifies (else none).

    With ``recorded`` (the last event seq per symbol in ``DIR/events``), a checkpoint is
    also passed over when a snapshot is ahead of the recording: the events in between
    are re-derived only if recovery starts before them (a torn tail of the event
    journal cut before the checkpoint).
    """
    root = Path(data_dir)
    fallbacks: list[str] = []
    for index in range(len(found.checkpoints) - 1, -1, -1):
        checkpoint = found.checkpoints[index]
        if recorded is not None:
            ahead = [
                (symbol_id, record.event_seq, recorded.get(symbol_id, 0))
                for symbol_id, enq_seq in sorted(checkpoint.snapshots.items())
                if (record := found.snapshot_records.get((symbol_id, enq_seq))) is not None
                and record.event_seq > recorded.get(symbol_id, 0)
            ]
            if ahead:
                symbol_id, wanted, have = ahead[0]
                fallbacks.append(
                    f"checkpoint at enq_seq {checkpoint.enq_seq} not used: DIR/events ends at"
                    f" event seq {have} of symbol {symbol_id}, its snapshot is at {wanted}"
                    " (the events between are re-derived from an earlier point)"
                )
                continue
        try:
            snapshots = {
                symbol_id: verified_snapshot(root, found.snapshot_records, symbol_id, enq_seq)
                for symbol_id, enq_seq in sorted(checkpoint.snapshots.items())
            }
            table = (
                verified_client_orders(root, found.client_order_records, checkpoint.client_orders)
                if checkpoint.client_orders >= 0
                else None
            )
        except SnapshotDamaged as exc:
            fallbacks.append(f"checkpoint at enq_seq {checkpoint.enq_seq} not used: {exc}")
            continue
        return CheckpointChoice(index, snapshots, fallbacks, table)
    if fallbacks:
        fallbacks.append("no checkpoint usable: every engine replayed from the start")
    return CheckpointChoice(-1, {}, fallbacks)
