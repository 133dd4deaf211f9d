"""``InProcessHost``: the embedded engine host, and the engine management every host shares.

``InProcessHost`` keeps its engines in a dict by ``symbol_id`` and ticks them in this
process. The process host's loop (``whistle.coord.hosts.loop``) runs an ``InProcessHost``
inside the child process, so both modes share one implementation of engine management,
ticking and snapshots, and produce the same events by construction.

Semantics (both modes, see ``whistle.coord.hosts.base`` for the contract):

- ``submit`` queues the command on its symbol's engine. It returns False, queueing nothing,
  when that symbol already has ``queue_depth`` commands waiting for the next tick. A
  command whose ``enq_seq`` is not greater than the previous one submitted for the same
  symbol raises ``ValueError`` (the router stamps a global increasing sequence, so this is
  a caller bug); a symbol without an engine raises ``UnknownEngine``.
- ``tick(now_ns)`` (used by ``begin_tick``) ticks, in ``symbol_id`` order, every engine
  that has queued commands or a GTD expiry due at ``now_ns``. The others are skipped:
  ``Whistle.tick`` with nothing queued and nothing due emits nothing, so skipping changes
  no event. The only state a skipped engine misses is its clock, which ``snapshot`` and
  ``remove_engine`` bring up to the host's last tick time first, so snapshots are the same
  as if every engine had been ticked. Time must not go backwards (``ValueError``).
- ``snapshot`` / ``remove_engine`` need an engine with nothing queued (take them between
  ticks): otherwise ``HostStateError``.
- ``stop`` forgets the engines and anything still queued (commands not yet ticked are
  discarded: tick first, or remove the engines to keep their state).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from whistle.coord.errors import HostError, HostStateError
from whistle.coord.hosts.base import EngineHost
from whistle.engine import Whistle, decode_snapshot

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.core.instrument import Instrument

__all__ = ["DEFAULT_QUEUE_DEPTH", "InProcessHost", "UnknownEngine"]

#: Commands one symbol may have waiting for the next tick before ``submit`` says False.
DEFAULT_QUEUE_DEPTH: Final = 65_536


@final
class UnknownEngine(HostError):
    """Raised when a host is asked about a symbol it does not run (a routing bug)."""


@final
class _Slot:
    """One engine and the host's bookkeeping for it."""

    __slots__ = ("added_at_tick", "engine", "last_seq", "pending")

    def __init__(self, engine: Whistle, added_at_tick: int) -> None:
        self.engine = engine
        self.last_seq = engine.last_enq_seq  # highest enq_seq submitted so far
        self.pending = 0  # commands queued since the engine's last tick
        self.added_at_tick = added_at_tick  # host tick count when the engine was added


@final
class InProcessHost(EngineHost):
    """Engines of several symbols in this process, ticked together in ``symbol_id`` order."""

    def __init__(self, host_id: int, queue_depth: int = DEFAULT_QUEUE_DEPTH) -> None:
        if queue_depth < 1:
            raise ValueError(f"queue_depth must be at least 1, was {queue_depth}")
        self.host_id = host_id
        self.queue_depth = queue_depth
        self._slots: dict[int, _Slot] = {}
        self._symbol_ids: frozenset[int] | None = None  # frozenset(_slots), cached
        self._busy: set[int] = set()  # symbols with queued commands
        self._timed: set[int] = set()  # symbols whose engine has GTD orders to expire
        self._results: dict[int, list[Event]] = {}  # events of begun, not yet ended ticks
        self._next_tick_id = 1
        self._ticks = 0  # ticks run so far
        self._now_ns = 0  # time of the last tick
        self._floor_ns = 0  # the clock of restored engines: ticks may not go below it
        self._commands = 0  # commands accepted so far
        self._stopped = False

    # ------------------------------------------------------------------ helpers

    def _check_running(self) -> None:
        if self._stopped:
            raise HostStateError(f"host {self.host_id} is stopped")

    def _slot(self, symbol_id: int, what: str) -> _Slot:
        slot = self._slots.get(symbol_id)
        if slot is None:
            self._check_running()
            raise UnknownEngine(
                f"host {self.host_id} has no engine for symbol {symbol_id} ({what}); "
                f"it runs {sorted(self._slots)}"
            )
        return slot

    def _quiet_engine(self, symbol_id: int, what: str) -> Whistle:
        """The engine of ``symbol_id``, idle and with its clock at the host's last tick."""
        slot = self._slot(symbol_id, what)
        if slot.pending:
            raise HostStateError(
                f"cannot {what} symbol {symbol_id} on host {self.host_id}: "
                f"{slot.pending} commands wait for the next tick (take it between ticks)"
            )
        engine = slot.engine
        if self._ticks > slot.added_at_tick and engine.now_ns < self._now_ns:
            # The engine was skipped by idle ticks; a tick with nothing queued and nothing
            # due only moves its clock.
            late = engine.tick(self._now_ns)
            if late:  # pragma: no cover - would mean an idle engine was skipped wrongly
                raise HostError(f"engine {symbol_id} emitted {len(late)} events in a catch-up tick")
        return engine

    # ------------------------------------------------------------------ EngineHost

    def add_engine(self, instrument: Instrument, snapshot: bytes = b"") -> None:
        """Create the engine of ``instrument`` (restored from msgpack ``snapshot`` if given)."""
        self._check_running()
        symbol_id = instrument.symbol_id
        if symbol_id in self._slots:
            raise HostStateError(f"host {self.host_id} already runs symbol {symbol_id}")
        if snapshot:
            snap = decode_snapshot(snapshot)
            if snap.instrument.symbol_id != symbol_id:
                raise ValueError(
                    f"snapshot is of symbol {snap.instrument.symbol_id}, "
                    f"expected {symbol_id} ({instrument.symbol})"
                )
            engine = Whistle.restore(snap)
        else:
            engine = Whistle(instrument)
        self._slots[symbol_id] = _Slot(engine, self._ticks)
        self._symbol_ids = None
        if engine.now_ns > self._floor_ns:
            self._floor_ns = engine.now_ns
        if engine.book.gtd_heap:
            self._timed.add(symbol_id)

    def remove_engine(self, symbol_id: int) -> bytes:
        """Remove an engine; return its final snapshot (msgpack)."""
        self._check_running()
        data = self._quiet_engine(symbol_id, "remove").snapshot().encode()
        del self._slots[symbol_id]
        self._symbol_ids = None
        self._timed.discard(symbol_id)
        return data

    def snapshot(self, symbol_id: int) -> bytes:
        """Return a snapshot (msgpack) of a running engine, taken between ticks."""
        self._check_running()
        return self._quiet_engine(symbol_id, "snapshot").snapshot().encode()

    def live_gtd(self, symbol_id: int) -> int:
        """Return how many live GTD orders the engine of ``symbol_id`` holds (a field read)."""
        self._check_running()
        return self._slot(symbol_id, "count GTD orders of").engine.live_gtd

    def submit(self, enq_seq: int, command: Command) -> bool:
        """Queue a sequenced command; return False if its symbol's queue is full."""
        slot = self._slots.get(command.symbol_id)
        if slot is None:
            slot = self._slot(command.symbol_id, "submit")
        if enq_seq <= slot.last_seq:
            raise ValueError(
                f"enq_seq must increase per symbol: {enq_seq} after {slot.last_seq} "
                f"for symbol {command.symbol_id}"
            )
        if slot.pending >= self.queue_depth:
            return False
        slot.engine.enqueue(enq_seq, command)
        slot.last_seq = enq_seq
        slot.pending += 1
        self._busy.add(command.symbol_id)
        self._commands += 1
        return True

    def submit_many(self, commands: list[tuple[int, Command]]) -> None:
        """Queue ``(enq_seq, command)`` pairs with no ``queue_depth`` bound (a host's loop).

        The same checks as ``submit`` otherwise (``UnknownEngine``, ``ValueError``); on an
        error the pairs before the bad one stay queued.
        """
        slots = self._slots
        busy = self._busy
        done = 0
        try:
            for enq_seq, command in commands:
                symbol_id = command.symbol_id
                slot = slots.get(symbol_id)
                if slot is None:
                    slot = self._slot(symbol_id, "submit")
                if enq_seq <= slot.last_seq:
                    raise ValueError(
                        f"enq_seq must increase per symbol: {enq_seq} after {slot.last_seq} "
                        f"for symbol {symbol_id}"
                    )
                slot.engine.enqueue(enq_seq, command)
                slot.last_seq = enq_seq
                slot.pending += 1
                busy.add(symbol_id)
                done += 1
        finally:
            self._commands += done

    def free_slots(self, symbol_id: int) -> int:
        """Return how many more commands ``symbol_id`` may queue before the next tick."""
        slot = self._slots.get(symbol_id)
        if slot is None:
            slot = self._slot(symbol_id, "free_slots")
        return self.queue_depth - slot.pending

    def can_drain(self, symbol_id: int) -> bool:
        """Return False: only a tick empties a symbol's queue in this process."""
        return False

    def tick(self, now_ns: int, between: Callable[[], None] | None = None) -> list[Event]:
        """Tick the engines at ``now_ns`` now and return the events (engines in id order).

        ``between`` (if given) is called after each engine's tick: a host process sends
        its heartbeat from there, so a long tick of many engines does not look like a hang.
        """
        self._check_running()
        if now_ns < self._now_ns or now_ns < self._floor_ns:
            raise ValueError(
                f"time must not go backwards: host {self.host_id} is at "
                f"{max(self._now_ns, self._floor_ns)}, was given {now_ns}"
            )
        self._now_ns = now_ns
        self._ticks += 1
        due = self._busy
        slots = self._slots
        timed = self._timed
        for symbol_id in timed:
            heap = slots[symbol_id].engine.book.gtd_heap
            if heap and heap[0][0] <= now_ns:
                due.add(symbol_id)
        if not due:
            return []
        self._busy = set()
        events: list[Event] = []
        for symbol_id in sorted(due) if len(due) > 1 else due:
            slot = slots[symbol_id]
            engine = slot.engine
            out = engine.tick(now_ns)
            slot.pending = 0
            if out:
                events += out
            if engine.book.gtd_heap:
                timed.add(symbol_id)
            else:
                timed.discard(symbol_id)
            if between is not None:
                between()
        return events

    def begin_tick(self, now_ns: int) -> int:
        """Tick every engine at ``now_ns`` (this host runs it at once); return the tick id."""
        events = self.tick(now_ns)
        tick_id = self._next_tick_id
        self._next_tick_id = tick_id + 1
        self._results[tick_id] = events
        return tick_id

    def end_tick(self, tick_id: int, timeout: float | None = None) -> list[Event]:
        """Return the events of tick ``tick_id`` (already finished in this mode)."""
        self._check_running()
        events = self._results.pop(tick_id, None)
        if events is None:
            raise HostStateError(
                f"tick {tick_id} of host {self.host_id} was not begun or was already ended"
            )
        return events

    @property
    def symbols(self) -> frozenset[int]:
        """Return the symbol ids of the engines on this host."""
        ids = self._symbol_ids
        if ids is None:  # rebuilt only after an engine came or went, not every tick
            ids = self._symbol_ids = frozenset(self._slots)
        return ids

    @property
    def commands(self) -> int:
        """Return how many commands this host has accepted."""
        return self._commands

    @property
    def now_ns(self) -> int:
        """Return the time of the last tick."""
        return self._now_ns

    def engine(self, symbol_id: int) -> Whistle:
        """Return the engine of ``symbol_id`` (for inspection; do not drive it directly)."""
        return self._slot(symbol_id, "engine").engine

    def alive(self) -> bool:
        """Return whether the host is running (until ``stop``)."""
        return not self._stopped

    def failure(self) -> str | None:
        """Return None: an in-process host does not die (engine faults are events)."""
        return None

    def stop(self, timeout: float | None = None) -> None:
        """Forget every engine and queued command; a second call raises ``HostStateError``."""
        if self._stopped:
            raise HostStateError(f"host {self.host_id} is already stopped")
        self._stopped = True
        self._slots.clear()
        self._symbol_ids = None
        self._busy.clear()
        self._timed.clear()
        self._results.clear()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else f"{len(self._slots)} engines"
        return f"InProcessHost({self.host_id}, {state})"
