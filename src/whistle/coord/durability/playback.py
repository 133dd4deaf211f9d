"""Market-data playback from a recorded ``DIR/events`` queue, and read-only queue access.

:class:`Playback` iterates the events a venue recorded (``whistle.coord.durability.records``), in
recorded order, optionally filtered by symbol and paced at the recorded speed (or a
multiple of it) from each event's ``ts_ns`` -- the simulation time of the tick in which it
happened. Pacing is scheduled against an absolute start (``clock`` at the first delivered
event), so it does not drift, and ``clock``/``sleep`` are injectable, so a test never
sleeps. :meth:`Playback.drive` moves a virtual :class:`~whistle.coord.runtime.clock.SimulationClock`
(anything with ``now``/``advance_to``) to each recorded timestamp and hands over the events
of that instant.

:class:`whistle.journal.ReadOnlyReader` reads a queue **without a durable cursor**: unlike
``Queue.open_subscriber`` it never creates or writes a file in the queue directory, so
inspection and playback leave nothing behind that could hold back retention, and they
work on a read-only copy of a data directory. It walks the segments with the public
functions of :mod:`whistle.journal.segment` (the same validation as ``QueueReader``: a
record exists once its commit marker is set and its CRC matches; an invalid record at the
tail is a torn write, not yet visible; an invalid record followed by valid ones raises
:class:`~whistle.journal.errors.CorruptRecord`).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Generic, NamedTuple, Protocol, TypeVar, final

from whistle.coord.durability.records import (
    COMMANDS_DIR,
    EVENT_TYPE_ID,
    EVENTS_DIR,
    Defined,
    RecordCodec,
)
from whistle.journal import NotAJournalError, ReadOnlyReader
from whistle.journal.config import read_meta

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from whistle.coord.runtime.clock import Tick
    from whistle.core.events import Event
    from whistle.core.instrument import Instrument

__all__ = [
    "Pacer",
    "Playback",
    "PlaybackStep",
    "VirtualClock",
    "load_instruments",
    "queue_path",
]


def queue_path(data_dir: str | os.PathLike[str], name: str) -> str:
    """Return ``data_dir/name`` if it is a queue, else ``data_dir`` itself if that is one.

    Raises :class:`NotAJournalError` naming ``data_dir`` when neither is a queue.
    """
    base = os.fspath(data_dir)
    sub = os.path.join(base, name)
    if os.path.isdir(sub) and read_meta(sub) is not None:
        return sub
    if read_meta(base) is not None:
        return base
    raise NotAJournalError(f"no {name!r} queue here (no {name}/queue.meta)", path=base)


def load_instruments(data_dir: str | os.PathLike[str]) -> dict[int, Instrument]:
    """Return the instruments defined in ``data_dir/commands`` by symbol id.

    Empty when there is no command journal (e.g. a lone copy of ``events``).
    """
    path = os.path.join(os.fspath(data_dir), COMMANDS_DIR)
    if not os.path.isdir(path) or read_meta(path) is None:
        return {}
    codec = RecordCodec()
    found: dict[int, Instrument] = {}
    with ReadOnlyReader(path) as reader:
        for rec in reader:
            if rec.type_id == 1:
                item = codec.decode_record(rec.payload)
                if isinstance(item, Defined):
                    found[item.instrument.symbol_id] = item.instrument
    return found


class _Stamped(Protocol):
    @property
    def ts_ns(self) -> int: ...


S = TypeVar("S", bound=_Stamped)


@final
class Pacer(Generic[S]):
    """Deliver time-stamped items at their recorded pace: the one pacing rule of every
    playback (venue events here, recorded market data in ``whistle.feed.record``).

    ``speed=None`` delivers as fast as possible; ``speed=1.0`` waits so that items are
    delivered at the recorded pace of their ``ts_ns`` (``2.0`` twice as fast). The wait
    before an item is ``start + (ts_ns - first_ts_ns) / speed - clock()``, ``start`` being
    ``clock()`` when the first item was read, so pacing does not drift; a timestamp
    earlier than the highest seen so far does not wait. ``clock``/``sleep`` are injectable.
    """

    def __init__(
        self,
        speed: float | None,
        clock: Callable[[], int] = time.monotonic_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be > 0 (or None for as fast as possible), was {speed}")
        self.speed = speed
        self._clock = clock
        self._sleep = sleep

    def _wait(self, ts_ns: int, state: list[int]) -> None:
        # state is [start, first_ts, high_ts] of this pass.
        speed = self.speed
        if speed is None:
            return
        if not state:
            state.extend((self._clock(), ts_ns, ts_ns))
            return
        start, first, high = state
        if ts_ns <= high:
            return
        state[2] = ts_ns
        wait = start + round((ts_ns - first) / speed) - self._clock()
        if wait > 0:
            self._sleep(wait / 1e9)

    def pace(self, items: Iterable[S]) -> Iterator[S]:
        """Yield ``items``, each once it is due."""
        state: list[int] = []
        for item in items:
            self._wait(item.ts_ns, state)
            yield item

    def steps(self, items: Iterable[S]) -> Iterator[tuple[int, tuple[S, ...]]]:
        """``(ts_ns, items)`` for each run of consecutive items with one timestamp, each run
        once it is due."""
        state: list[int] = []
        group: list[S] = []
        ts = 0
        for item in items:
            if group and item.ts_ns != ts:
                yield ts, tuple(group)
                group.clear()
            if not group:
                ts = item.ts_ns
                self._wait(ts, state)
            group.append(item)
        if group:
            yield ts, tuple(group)


class VirtualClock(Protocol):
    """What :meth:`Playback.drive` needs of a clock (``SimulationClock`` in virtual mode)."""

    def now(self) -> int: ...

    def advance_to(self, now_ns: int) -> Tick: ...


class PlaybackStep(NamedTuple):
    """The delivered events of one recorded instant, and the tick that reached it."""

    tick: Tick
    events: tuple[Event, ...]


@final
class Playback:
    """Recorded events of ``data_dir/events`` (or of the queue ``data_dir``) in order.

    ``speed=None`` delivers as fast as possible; ``speed=1.0`` waits so that events are
    delivered at the recorded pace of their ``ts_ns`` (``2.0`` twice as fast). The wait
    before an event is ``start + (ts_ns - first_ts_ns) / speed - clock()`` where ``start``
    is ``clock()`` when the first delivered event was read; a timestamp earlier than the
    highest seen so far does not wait. ``symbols`` keeps only those symbol ids (pacing
    then follows the kept events). Records of other type ids than ``EVENT_TYPE_ID`` are
    skipped. Reading uses :class:`ReadOnlyReader`: nothing is written to the queue.
    Each iteration starts again from the oldest retained event.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        speed: float | None = None,
        symbols: set[int] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._pacer: Pacer[Event] = Pacer(speed, clock, sleep)
        self.data_dir = os.fspath(data_dir)
        self.path = queue_path(self.data_dir, EVENTS_DIR)
        self.speed = speed
        self.symbols = None if symbols is None else frozenset(symbols)
        self._codec = RecordCodec()

    def instruments(self) -> dict[int, Instrument]:
        """The instruments defined in the data directory's command journal, by symbol id."""
        return load_instruments(self.data_dir)

    def _events(self) -> Iterator[Event]:
        keep = self.symbols
        decode = self._codec.decode_event
        with ReadOnlyReader(self.path) as reader:
            while batch := reader.read_batch(256):
                for rec in batch:
                    if rec.type_id != EVENT_TYPE_ID:
                        continue
                    event = decode(rec.payload)
                    if keep is None or event.symbol_id in keep:
                        yield event

    def __iter__(self) -> Iterator[Event]:
        return self._pacer.pace(self._events())

    def steps(self) -> Iterator[tuple[int, tuple[Event, ...]]]:
        """``(ts_ns, events)`` for each run of consecutive events with one timestamp."""
        return self._pacer.steps(self._events())

    def drive(self, clock: VirtualClock) -> Iterator[PlaybackStep]:
        """Advance ``clock`` to each recorded instant (never backwards) and yield the tick
        with the events recorded at it -- e.g. to replay market data into a strategy that
        runs on a virtual ``SimulationClock``."""
        for ts, events in self.steps():
            yield PlaybackStep(clock.advance_to(max(ts, clock.now())), events)
