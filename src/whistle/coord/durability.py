"""A venue's journals on disk: writing them, and reading them back for recovery and replay.

``VenueJournal`` owns the two persistent queues and the snapshot files of a data
directory (layout and record meaning: ``whistle.coord.records``). ``scan`` reads the
command journal once and returns what recovery needs: the instruments, the last
complete checkpoint and the records after it, and whether the venue stopped cleanly.

Fsync policies (``FsyncPolicy`` of ``whistle.journal``, applied to both queues):

- ``none``: an acknowledged command is in the page cache; it survives a crash of the
  process, not a power loss;
- ``interval``: as ``none``, plus a background sync every interval: a power loss loses at
  most about one interval of acknowledged commands;
- ``every``: each append is synced before ``enqueue`` returns: an acknowledged command
  survives a power loss (if the disk honours flushes), at the cost of one sync per command.

Snapshot files are written to a temporary name, fsynced, renamed and the directory
fsynced, *then* their ``Snapshotted`` record is appended, so a record never names a file
that is not whole on disk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, final

from whistle.coord.records import (
    COMMANDS_DIR,
    EVENT_TYPE_ID,
    EVENTS_DIR,
    SNAPSHOTS_DIR,
    Checkpoint,
    Defined,
    JournalRecord,
    RecordCodec,
    Sequenced,
    Snapshotted,
    Stopped,
    Ticked,
)
from whistle.core.errors import WhistleError
from whistle.journal import FsyncPolicy, Queue, QueueConfig, ReadOnlyReader

if TYPE_CHECKING:
    from collections.abc import Iterator

    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.core.instrument import Instrument
    from whistle.journal import QueueWriter

__all__ = [
    "DataDirError",
    "JournalScan",
    "VenueJournal",
    "iter_records",
    "last_event_seqs",
    "scan",
    "snapshot_path",
]


class DataDirError(WhistleError):
    """A data directory is unusable: missing files, records that do not fit together."""


def snapshot_path(data_dir: Path, symbol_id: int, enq_seq: int) -> Path:
    """Return where the snapshot of ``symbol_id`` anchored at ``enq_seq`` lives."""
    return data_dir / SNAPSHOTS_DIR / str(symbol_id) / f"{enq_seq:020d}.snap"


@final
class VenueJournal:
    """The command journal, the event journal and the snapshots of one data directory."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy = FsyncPolicy.NONE,
        segment_size: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise DataDirError(f"data directory {self.data_dir} is a file, not a directory")
        (self.data_dir / SNAPSHOTS_DIR).mkdir(parents=True, exist_ok=True)
        config = QueueConfig(fsync=fsync)
        if segment_size is not None:
            config = QueueConfig(fsync=fsync, segment_size=segment_size)
        self.fsync = fsync
        self._codec = RecordCodec()
        self._commands: QueueWriter = Queue.open_publisher(self.data_dir / COMMANDS_DIR, config)
        try:
            self._events: QueueWriter = Queue.open_publisher(self.data_dir / EVENTS_DIR, config)
        except BaseException:
            self._commands.close()
            raise
        self._closed = False

    @property
    def is_new(self) -> bool:
        """Return whether the command journal holds no record yet."""
        return self._commands.next_seq == 0

    # ------------------------------------------------------------------ writing

    def _append(self, record: JournalRecord, ts_ns: int) -> int:
        return self._commands.append(
            RecordCodec.type_id(record), self._codec.encode(record), ts_ns=ts_ns
        )

    def defined(self, instrument: Instrument, now_ns: int) -> None:
        """Journal an instrument definition."""
        self._append(Defined(instrument), now_ns)

    def sequenced(self, enq_seq: int, command: Command, now_ns: int) -> None:
        """Journal an accepted command (before it is acknowledged)."""
        self._append(Sequenced(enq_seq, command), now_ns)

    def ticked(self, number: int, now_ns: int) -> None:
        """Journal a tick (before it runs)."""
        self._append(Ticked(number, now_ns), now_ns)

    def events(self, events: list[Event], now_ns: int) -> None:
        """Record events in the event journal."""
        if events:
            encode = self._codec.encode
            self._events.append_many([(EVENT_TYPE_ID, encode(e)) for e in events], ts_ns=now_ns)

    def snapshot(
        self,
        symbol_id: int,
        enq_seq: int,
        event_seq: int,
        state_hash: str,
        data: bytes,
        now_ns: int,
    ) -> None:
        """Write a snapshot file durably, then journal that it exists."""
        path = snapshot_path(self.data_dir, symbol_id, enq_seq)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
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
        self._append(Snapshotted(symbol_id, enq_seq, event_seq, state_hash), now_ns)

    def checkpoint(
        self, enq_seq: int, tick_number: int, now_ns: int, snapshots: dict[int, int]
    ) -> None:
        """Journal a consistent cut: the snapshot each active symbol restores from."""
        self._append(Checkpoint(enq_seq, tick_number, now_ns, dict(snapshots)), now_ns)
        self._commands.sync()

    def stopped(self, enq_seq: int, state_hashes: dict[int, str], now_ns: int) -> None:
        """Journal a clean stop with every symbol's state hash."""
        self._append(Stopped(enq_seq, dict(state_hashes)), now_ns)

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
            self.sync()
        finally:
            self._commands.close()
            self._events.close()

    # ------------------------------------------------------------------ reading

    def last_event_seqs(self) -> dict[int, int]:
        """Return the last journaled event ``seq`` per symbol (sequenced events only)."""
        return last_event_seqs(self.data_dir)

    def read_snapshot(self, symbol_id: int, enq_seq: int) -> bytes:
        """Return the bytes of a journaled snapshot, or raise ``DataDirError``."""
        path = snapshot_path(self.data_dir, symbol_id, enq_seq)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise DataDirError(f"snapshot {path} named by the journal is missing") from None


@final
class JournalScan:
    """What the command journal says, read once from the start."""

    def __init__(self) -> None:
        self.instruments: list[Instrument] = []
        self.checkpoint: Checkpoint | None = None
        self.checkpoint_instruments = 0
        """How many ``Defined`` records precede the checkpoint."""
        self.tail: list[JournalRecord] = []
        """Every record after the last checkpoint (all records if there is none)."""
        self.snapshot_hashes: dict[tuple[int, int], str] = {}
        self.stopped: Stopped | None = None
        """The last record, when it is a clean stop."""
        self.records = 0
        self.commands = 0
        self.ticks = 0


def _payloads(path: Path) -> Iterator[bytes]:
    # A cursor-free reader: a durable cursor would hold later segments back from retention.
    reader = ReadOnlyReader(path)
    try:
        while batch := reader.read_batch(4096):
            for item in batch:
                yield item.payload
    finally:
        reader.close()


def iter_records(data_dir: str | os.PathLike[str]) -> Iterator[JournalRecord]:
    """Yield every record of ``DATA_DIR/commands``, first to last."""
    path = Path(data_dir) / COMMANDS_DIR
    if not path.is_dir():
        raise DataDirError(f"{data_dir} is not a whistle data directory ({path} is missing)")
    decode = RecordCodec().decode_record
    for payload in _payloads(path):
        yield decode(payload)


def scan(data_dir: str | os.PathLike[str]) -> JournalScan:
    """Read ``DATA_DIR/commands`` once; keep what recovery needs."""
    result = JournalScan()
    for record in iter_records(data_dir):
        result.records += 1
        if isinstance(record, Checkpoint):
            result.checkpoint = record
            result.checkpoint_instruments = len(result.instruments)
            result.tail = []
            continue
        if isinstance(record, Defined):
            result.instruments.append(record.instrument)
        elif isinstance(record, Sequenced):
            result.commands += 1
        elif isinstance(record, Ticked):
            result.ticks += 1
        elif isinstance(record, Snapshotted):
            result.snapshot_hashes[(record.symbol_id, record.enq_seq)] = record.state_hash
        result.tail.append(record)
    last = result.tail[-1] if result.tail else None
    result.stopped = last if isinstance(last, Stopped) else None
    return result


def last_event_seqs(data_dir: str | os.PathLike[str]) -> dict[int, int]:
    """Return the last ``seq`` per symbol in ``DATA_DIR/events`` (0-seq events ignored)."""
    path = Path(data_dir) / EVENTS_DIR
    out: dict[int, int] = {}
    if not path.is_dir():
        return out
    decode = RecordCodec().decode_event
    for payload in _payloads(path):
        event = decode(payload)
        if event.seq:
            out[event.symbol_id] = event.seq
    return out
