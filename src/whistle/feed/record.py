"""Record decoded market data to a whistle journal, and play it back, identically each time.

A *recording* is one queue of :mod:`whistle.journal` (a directory). Its records, by
``type_id``:

- ``RECORDING_HEADER`` (1), first: a :class:`RecordingHeader` (JSON): the source file,
  its format, the symbol filter, the recording format version;
- ``RECORDED_EVENT`` (2): one ``whistle.core.mbo`` event, msgpack-encoded as its tagged
  array-like msgspec Struct (``MboAdd`` ... ``MboInstrument``), the record's journal
  timestamp set to the event's ``ts_ns``;
- ``RECORDING_END`` (3), last: the source's counts (:class:`RecordingEnd`, JSON). A
  recording without it was cut short (the recorder died): playback still delivers what
  is there, and ``FeedPlayback.complete`` says so.

:class:`FeedPlayback` reads a recording through
:class:`~whistle.journal.ReadOnlyReader` (it never writes into the queue) and delivers the
events in recorded order, as fast as possible (``speed=None``) or paced at the recorded
pace of their ``ts_ns`` (``speed=1.0``; ``2.0`` twice as fast), with the same rule as
:class:`whistle.coord.playback.Playback` for venue events: the wait before an event is
``start + (ts_ns - first_ts_ns) / speed - clock()`` from an absolute start, so it does not
drift, and an earlier timestamp than the highest so far does not wait. ``clock`` and
``sleep`` are injectable. :meth:`FeedPlayback.drive` moves a virtual
:class:`~whistle.coord.clock.SimulationClock` to each recorded instant and hands over the
events of that instant: a strategy sees exactly the same stream at every run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from typing import TYPE_CHECKING, Final, NamedTuple, final

import msgspec

from whistle.coord.durability.playback import Pacer
from whistle.core.mbo import (
    MboAdd,
    MboCancel,
    MboClear,
    MboDelete,
    MboEvent,
    MboExecute,
    MboInstrument,
    MboModify,
    MboStatus,
    MboTrade,
)
from whistle.feed.errors import FeedError, FeedFormatError
from whistle.journal import Queue, ReadOnlyReader
from whistle.journal.errors import JournalError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from whistle.coord.durability.playback import VirtualClock
    from whistle.coord.runtime.clock import Tick
    from whistle.journal import QueueConfig

__all__ = [
    "RECORDED_EVENT",
    "RECORDING_END",
    "RECORDING_HEADER",
    "RECORDING_VERSION",
    "FeedPlayback",
    "FeedStep",
    "RecordingEnd",
    "RecordingHeader",
    "record_events",
]

RECORDING_HEADER: Final = 1
RECORDED_EVENT: Final = 2
RECORDING_END: Final = 3
RECORDING_VERSION: Final = 1

AnyMboEvent = (
    MboAdd
    | MboModify
    | MboCancel
    | MboDelete
    | MboExecute
    | MboTrade
    | MboClear
    | MboStatus
    | MboInstrument
)
_BATCH: Final = 512


class RecordingHeader(msgspec.Struct, frozen=True):
    """What a recording holds: where it came from."""

    source: str
    format: str
    symbols: list[str] | None
    version: int = RECORDING_VERSION


class RecordingEnd(msgspec.Struct, frozen=True):
    """The closing record: how many events were recorded, and the source's counts."""

    events: int
    messages: int
    by_type: dict[str, int]


class FeedStep(NamedTuple):
    """The events of one recorded instant, and the tick that reached it."""

    tick: Tick
    events: tuple[MboEvent, ...]


def record_events(
    events: Iterable[MboEvent],
    out_dir: str | os.PathLike[str],
    header: RecordingHeader,
    *,
    config: QueueConfig | None = None,
    counts: Callable[[], tuple[int, dict[str, int]]] | None = None,
) -> int:
    """Write ``events`` to a new recording at ``out_dir``; return how many were written.

    ``counts`` (optional) returns the source's (messages, by_type) once ``events`` is
    exhausted, for the closing record. Refuses a directory that already holds a queue
    (a recording is written once) or anything else that is not an empty directory.

    The recording is written into a temporary directory beside ``out_dir`` and renamed
    into place only once complete: if ``events`` raises (a file that fails to decode
    half-way) or the write fails, the temporary directory is removed and ``out_dir`` is
    left as it was -- a failed recording leaves nothing behind.
    """
    path = os.fspath(out_dir)
    if os.path.lexists(path) and not (os.path.isdir(path) and not os.listdir(path)):
        try:
            holds = os.path.isdir(path) and Queue.exists(path)
        except JournalError:  # files, but not a journal
            holds = False
        if holds:
            raise FeedFormatError(
                f"{path}: already holds a journal; record into a new directory", path=path
            )
        raise FeedError(
            f"{path}: exists and is not an empty directory; record into a new directory",
            path=path,
        )
    parent = os.path.dirname(os.path.abspath(path))
    try:
        work = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.partial-", dir=parent)
    except OSError as exc:
        raise FeedError(
            f"{path}: cannot create a temporary directory in {parent}: {exc.strerror}",
            path=path,
        ) from None
    try:
        written = _write_recording(events, work, header, config, counts)
        os.replace(work, path)  # an empty directory at ``path`` is replaced atomically
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    with contextlib.suppress(OSError):  # make the rename durable
        fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return written


def _write_recording(
    events: Iterable[MboEvent],
    path: str,
    header: RecordingHeader,
    config: QueueConfig | None,
    counts: Callable[[], tuple[int, dict[str, int]]] | None,
) -> int:
    encode = msgspec.msgpack.Encoder().encode
    written = 0
    writer = Queue.open_publisher(path, config)
    try:
        writer.append(RECORDING_HEADER, msgspec.json.encode(header), ts_ns=0)
        batch: list[tuple[int, bytes]] = []
        ts = 0
        append_many = writer.append_many
        for e in events:
            if batch and e.ts_ns != ts:
                append_many(batch, ts_ns=ts)
                batch.clear()
            ts = e.ts_ns
            batch.append((RECORDED_EVENT, encode(e)))
            written += 1
            if len(batch) >= _BATCH:
                append_many(batch, ts_ns=ts)
                batch.clear()
        if batch:
            append_many(batch, ts_ns=ts)
        messages, by_type = counts() if counts is not None else (written, {})
        end = RecordingEnd(written, messages, by_type)
        writer.append(RECORDING_END, msgspec.json.encode(end), ts_ns=ts)
        writer.sync()
    finally:
        writer.close()
    return written


@final
class FeedPlayback:
    """The events of the recording at ``path``, in recorded order (see the module doc).

    ``speed=None`` delivers as fast as possible; ``speed=1.0`` at the recorded pace.
    ``symbols`` keeps only the events of those symbols (named by the recording's
    ``MboInstrument`` events; system-wide events with instrument 0 are kept). Each
    iteration starts again from the first event.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        speed: float | None = None,
        symbols: Iterable[str] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._pacer: Pacer[MboEvent] = Pacer(speed, clock, sleep)
        self.path = os.fspath(path)
        self.speed = speed
        self.symbols = None if symbols is None else frozenset(symbols)
        self.header = self._read_header()
        self.end: RecordingEnd | None = None
        """The closing record, once an iteration has reached it."""

    @property
    def complete(self) -> bool:
        """Return True once an iteration has read the closing record."""
        return self.end is not None

    def _read_header(self) -> RecordingHeader:
        with ReadOnlyReader(self.path) as reader:
            for rec in reader:
                if rec.type_id != RECORDING_HEADER:
                    break
                try:
                    return msgspec.json.decode(rec.payload, type=RecordingHeader)
                except msgspec.DecodeError as exc:
                    raise FeedFormatError(
                        f"{self.path}: record {rec.seq}: bad recording header: {exc}",
                        path=self.path,
                    ) from None
        raise FeedFormatError(
            f"{self.path}: not a feed recording (its first record is not a recording"
            " header); write one with `whistle feed record`",
            path=self.path,
        )

    def _events(self) -> Iterator[MboEvent]:
        decode = msgspec.msgpack.Decoder(AnyMboEvent).decode
        keep = self.symbols
        kept_ids: set[int] = {0}
        with ReadOnlyReader(self.path) as reader:
            while batch := reader.read_batch(_BATCH):
                for rec in batch:
                    if rec.type_id != RECORDED_EVENT:
                        if rec.type_id == RECORDING_END:
                            self.end = msgspec.json.decode(rec.payload, type=RecordingEnd)
                        continue
                    try:
                        event: MboEvent = decode(rec.payload)
                    except msgspec.DecodeError as exc:
                        raise FeedFormatError(
                            f"{self.path}: record {rec.seq}: not a recorded MBO event: {exc}",
                            path=self.path,
                        ) from None
                    if keep is not None:
                        if type(event) is MboInstrument:
                            assert isinstance(event, MboInstrument)
                            if event.symbol in keep:
                                kept_ids.add(event.instrument_id)
                        if event.instrument_id not in kept_ids:
                            continue
                    yield event

    def __iter__(self) -> Iterator[MboEvent]:
        self.end = None
        return self._pacer.pace(self._events())

    def steps(self) -> Iterator[tuple[int, tuple[MboEvent, ...]]]:
        """``(ts_ns, events)`` for each run of consecutive events with one timestamp."""
        self.end = None
        return self._pacer.steps(self._events())

    def drive(self, clock: VirtualClock) -> Iterator[FeedStep]:
        """Advance ``clock`` to each recorded instant (never backwards) and yield the tick
        with the events recorded at it."""
        for ts, events in self.steps():
            yield FeedStep(clock.advance_to(max(ts, clock.now())), events)
