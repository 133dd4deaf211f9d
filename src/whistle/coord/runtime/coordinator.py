"""``SymbolCoordinator``: the lifecycle manager of the engines (seed 000).

It places symbols on engine hosts, creates (cold) or restores (warm) their engines there,
retires idle ones keeping a snapshot, and fences the symbols of a dead host. It never
processes orders: the router asks it :meth:`~SymbolCoordinator.ensure_active` and
:meth:`~SymbolCoordinator.host_of`, then submits to the host itself.

The router's hot path is ``is_faulted`` / ``ensure_active`` / ``host_of`` / ``touch`` per
command; for an active symbol each is one dict look-up and allocates nothing
(``ensure_active`` returns the ``ReadyAtTick`` stored at activation).

Determinism: hosts are always presented to the policy in ascending ``host_id`` order,
sweeps run in ``symbol_id`` order, and no clock or random source is read, so the same
registrations and calls give the same placements and the same host calls.

Ticks: ``update_tick`` is fed the clock's tick numbers. Activity (``touch``) and
activation are stamped with the current tick; ``release_if_idle`` compares against it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, final

import msgspec

from whistle.coord.errors import CoordError, HostError, SymbolEvicted
from whistle.coord.runtime.lifecycle import SymbolFaulted, SymbolState, Trigger
from whistle.coord.runtime.placement import HostLoad
from whistle.coord.runtime.registry import SymbolRegistry

if TYPE_CHECKING:
    from collections.abc import Sequence

    from whistle.coord.hosts.base import EngineHost
    from whistle.coord.runtime.placement import PlacementPolicy
    from whistle.coord.runtime.registry import SymbolEntry
    from whistle.core.instrument import Instrument

__all__ = ["CoordStats", "ReadyAtTick", "SymbolCoordinator"]

_ACTIVE = SymbolState.ACTIVE
_EVICTING = SymbolState.EVICTING
_REGISTERED = SymbolState.REGISTERED
_EVICTED = SymbolState.EVICTED


@final
class ReadyAtTick(msgspec.Struct, frozen=True, gc=False):
    """The answer of ``ensure_active``: the symbol takes commands since tick ``tick``.

    Activation is synchronous, so ``tick`` is the coordinator's tick at activation:
    commands submitted from now on are processed at the host's next tick. ``warm`` tells
    whether the engine was restored from a snapshot.
    """

    symbol_id: int
    tick: int
    host_id: int
    warm: bool = False


@final
class CoordStats(msgspec.Struct, frozen=True):
    """A summary of the coordinator, for reports and tests."""

    tick: int
    symbols: int
    by_state: dict[str, int]
    faulted: int
    cold_activations: int
    warm_activations: int
    evictions: int
    live_hosts: list[int]
    dead_hosts: dict[int, str]
    loads: list[HostLoad]


@final
class SymbolCoordinator:
    """Places symbols on hosts and manages their engines' lifecycle."""

    def __init__(
        self,
        hosts: Sequence[EngineHost],
        policy: PlacementPolicy,
        registry: SymbolRegistry | None = None,
        *,
        tick: int = 0,
    ) -> None:
        if not hosts:
            raise CoordError("a SymbolCoordinator needs at least one engine host")
        by_id: dict[int, EngineHost] = {}
        for host in hosts:
            if host.host_id in by_id:
                raise CoordError(f"two engine hosts share host_id {host.host_id}")
            by_id[host.host_id] = host
        if registry is None:
            registry = SymbolRegistry()
        else:
            # A registry passed in may not claim engines: the coordinator cannot know they
            # exist on these hosts, and would otherwise route to engines that do not.
            live = [e.symbol for e in registry if e.state in (_ACTIVE, _EVICTING)]
            if live:
                raise CoordError(
                    f"the registry passed in has {len(live)} symbols ACTIVE or EVICTING"
                    f" (first: {live[0]!r}); only REGISTERED or EVICTED symbols can be adopted"
                )
        self.registry = registry
        self.policy = policy
        self._tick = tick
        self._hosts: dict[int, EngineHost] = {k: by_id[k] for k in sorted(by_id)}
        self._dead: dict[int, str] = {}
        self._live: list[int] = list(self._hosts)  # ascending, without the dead hosts
        self._active_on: dict[int, int] = dict.fromkeys(self._hosts, 0)
        self._commands_on: dict[int, int] = dict.fromkeys(self._hosts, 0)
        # Hot-path indexes: symbol_id -> answer / host, only for symbols the router may
        # use now (ACTIVE and not faulted for _ready; ACTIVE or EVICTING for _host_of).
        self._ready: dict[int, ReadyAtTick] = {}
        self._host_of: dict[int, EngineHost] = {}
        self._faulted: dict[int, str] = {}
        for e in registry:
            if e.fault is not None:
                self._faulted[e.symbol_id] = e.fault
        self._cold = 0
        self._warm = 0
        self._evictions = 0

    # ------------------------------------------------------------------ time

    @property
    def tick(self) -> int:
        """Return the current tick number."""
        return self._tick

    def update_tick(self, tick: int) -> None:
        """Set the current tick (from the clock); it never goes backwards."""
        if tick < self._tick:
            raise ValueError(f"tick must not go backwards: now {self._tick}, was {tick}")
        self._tick = tick

    # ------------------------------------------------------------------ registration

    def register(self, instrument: Instrument) -> SymbolEntry:
        """Register ``instrument`` (REGISTERED, no engine yet); raise ``DuplicateSymbol``."""
        return self.registry.register(instrument, tick=self._tick)

    # ------------------------------------------------------------------ hot path

    def ensure_active(self, symbol_id: int) -> ReadyAtTick:
        """Return when ``symbol_id`` is ready, activating it on a host if needed.

        Raises ``SymbolNotRegistered``, ``SymbolEvicted`` (while EVICTING),
        ``SymbolFaulted`` (a ``HostError``) for a faulted symbol, and ``HostError`` when no
        host is alive or the chosen host fails (the symbol then stays where it was).
        """
        ready = self._ready.get(symbol_id)
        if ready is not None:
            return ready
        return self._activate(symbol_id)

    def is_faulted(self, symbol_id: int) -> bool:
        """Return whether ``symbol_id`` is faulted (False for unknown symbols)."""
        return symbol_id in self._faulted

    def host_of(self, symbol_id: int) -> EngineHost:
        """Return the host running ``symbol_id``'s engine (ACTIVE or EVICTING)."""
        host = self._host_of.get(symbol_id)
        if host is not None:
            return host
        entry = self.registry.get(symbol_id)
        if entry.fault is not None:
            raise self._faulted_error(entry)
        if entry.state is _EVICTED:
            raise SymbolEvicted(f"symbol {entry.symbol!r} ({symbol_id}) is evicted: no engine")
        raise CoordError(
            f"symbol {entry.symbol!r} ({symbol_id}) is {entry.state.name}, not active:"
            " call ensure_active first"
        )

    def touch(self, symbol_id: int) -> None:
        """Record activity of ``symbol_id`` at the current tick (one routed command)."""
        entry = self.registry.find(symbol_id)
        if entry is None:
            self.registry.get(symbol_id)  # raises SymbolNotRegistered
            return
        entry.last_activity_tick = self._tick
        host_id = entry.host_id
        if host_id is not None:
            self._commands_on[host_id] += 1

    # ------------------------------------------------------------------ activation

    def _activate(self, symbol_id: int) -> ReadyAtTick:
        entry = self.registry.get(symbol_id)
        if entry.fault is not None:
            raise self._faulted_error(entry)
        state = entry.state
        if state is _EVICTING:
            raise SymbolEvicted(
                f"symbol {entry.symbol!r} ({symbol_id}) is being evicted; activate it again"
                " once eviction has finished"
            )
        if state is _REGISTERED:
            trigger = Trigger.ACTIVATE
        elif state is _EVICTED:
            trigger = Trigger.REACTIVATE
        else:  # pragma: no cover - ACTIVE and not faulted is always in _ready
            raise CoordError(f"symbol {entry.symbol!r} ({symbol_id}) is {state.name}")
        loads = self.loads()
        if not loads:
            raise HostError(
                f"cannot activate {entry.symbol!r} ({symbol_id}): every engine host is dead"
            )
        host_id = self.policy.choose(symbol_id, loads)
        host = self._hosts.get(host_id)
        if host is None or host_id not in self._active_on or host_id in self._dead:
            raise CoordError(
                f"placement policy {type(self.policy).__name__} chose host {host_id},"
                f" which is not a live host (live: {[h.host_id for h in loads]})"
            )
        snapshot = entry.snapshot
        # If add_engine raises, nothing below has run: the symbol keeps its state,
        # snapshot and (absent) host, so a later attempt can retry on a healthy host.
        host.add_engine(entry.instrument, snapshot)
        self.registry.move(entry, trigger, host_id)
        warm = bool(snapshot)
        tick = self._tick
        # The engine now carries the state; keeping the snapshot would hold a stale copy.
        entry.snapshot = b""
        entry.activated_at_tick = tick
        entry.last_activity_tick = tick
        entry.activations += 1
        if warm:
            self._warm += 1
        else:
            self._cold += 1
        self._active_on[host_id] += 1
        ready = ReadyAtTick(symbol_id, tick, host_id, warm)
        self._ready[symbol_id] = ready
        self._host_of[symbol_id] = host
        return ready

    # ------------------------------------------------------------------ eviction

    def start_eviction(self, symbol_id: int) -> None:
        """ACTIVE -> EVICTING: the router refuses new commands; the engine still runs."""
        entry = self.registry.get(symbol_id)
        self.registry.transition(symbol_id, Trigger.START_EVICTION)
        self._ready.pop(entry.symbol_id, None)

    def finish_eviction(self, symbol_id: int) -> bytes:
        """EVICTING -> EVICTED: remove the engine from its host, keep its final snapshot.

        Call it between ticks (the host snapshots an idle engine). If the host fails, the
        symbol is marked faulted (its engine is lost or in an unknown state) and the
        ``HostError`` is raised.
        """
        entry = self.registry.get(symbol_id)
        if entry.state is not _EVICTING:
            raise SymbolEvicted(
                f"symbol {entry.symbol!r} ({symbol_id}) is {entry.state.name}, not EVICTING:"
                " call start_eviction first"
            )
        host = self._host_of[symbol_id]
        try:
            snapshot = host.remove_engine(symbol_id)
        except HostError as exc:
            self._lose(entry, f"remove_engine failed on host {host.host_id}: {exc}")
            raise
        self._unplace(entry, Trigger.FINISH_EVICTION)
        entry.snapshot = snapshot
        self._evictions += 1
        return snapshot

    def evict(self, symbol_id: int) -> bytes:
        """Evict an ACTIVE symbol now (start + finish); return its snapshot."""
        self.start_eviction(symbol_id)
        return self.finish_eviction(symbol_id)

    def release_if_idle(self, symbol_id: int, idle_ticks: int) -> bool:
        """Evict ``symbol_id`` if ACTIVE, healthy and idle for ``idle_ticks`` ticks.

        Idle means no ``touch`` (nor activation) in the last ``idle_ticks`` ticks:
        ``tick - last_activity_tick >= idle_ticks``. Returns whether it was evicted.

        A symbol whose engine holds live GTD orders is never evicted, however idle: an
        evicted engine is not ticked, so its orders would not expire, while replay (which
        does not journal evictions) keeps ticking it and expires them. It stays ACTIVE
        until its last GTD order expires, fills or is cancelled.
        """
        if idle_ticks < 0:
            raise ValueError(f"idle_ticks must be >= 0, was {idle_ticks}")
        entry = self.registry.get(symbol_id)
        if entry.state is not _ACTIVE or entry.fault is not None:
            return False
        if self._tick - entry.last_activity_tick < idle_ticks:
            return False
        if self._host_of[symbol_id].live_gtd(symbol_id):
            return False
        self.evict(symbol_id)
        return True

    def release_idle(self, idle_ticks: int) -> list[int]:
        """Evict every ACTIVE healthy symbol idle for ``idle_ticks``; return their ids.

        Skips symbols whose engine holds live GTD orders (see :meth:`release_if_idle`):
        they have time-driven work that eviction, which is not journaled, would stop.
        """
        if idle_ticks < 0:
            raise ValueError(f"idle_ticks must be >= 0, was {idle_ticks}")
        tick = self._tick
        registry = self.registry
        host_of = self._host_of
        idle = sorted(
            k
            for k in self._ready
            if tick - registry.get(k).last_activity_tick >= idle_ticks
            and not host_of[k].live_gtd(k)
        )
        for symbol_id in idle:
            self.evict(symbol_id)
        return idle

    def _unplace(self, entry: SymbolEntry, trigger: Trigger) -> None:
        """Apply ``trigger`` and forget where ``entry`` ran (its engine no longer exists)."""
        symbol_id = entry.symbol_id
        host_id = entry.host_id
        self.registry.move(entry, trigger, None)
        if host_id is not None:
            self._active_on[host_id] -= 1
        self._ready.pop(symbol_id, None)
        self._host_of.pop(symbol_id, None)

    # ------------------------------------------------------------------ faults

    def _lose(self, entry: SymbolEntry, cause: str) -> None:
        """Mark ``entry`` faulted because its engine is gone (FAULT -> EVICTED)."""
        self._unplace(entry, Trigger.FAULT)
        entry.fault = cause
        self._faulted[entry.symbol_id] = cause

    def mark_host_dead(self, host_id: int, cause: str) -> list[int]:
        """Fence ``host_id``: fault every symbol on it; return their ids (ascending).

        The host gets no new symbols. Its symbols move to EVICTED (their engines are gone)
        with ``fault`` set; they stay refused until :meth:`clear_fault`. A second call
        returns [].
        """
        if host_id not in self._hosts:
            raise CoordError(f"unknown host_id {host_id} (hosts: {list(self._hosts)})")
        self._dead.setdefault(host_id, cause)
        self._live = [k for k in self._hosts if k not in self._dead]
        lost: list[int] = []
        for entry in self.registry.on_host(host_id):
            self._lose(entry, f"host {host_id} died: {cause}")
            lost.append(entry.symbol_id)
        return lost

    def mark_faulted(self, symbol_id: int, cause: str) -> None:
        """Flag ``symbol_id`` as faulted (e.g. its engine emitted ``EngineFaulted``).

        The engine stays where it is (state unchanged, ``host_of`` still answers, so it can
        be evicted for a post-mortem snapshot) but the router refuses its commands.
        """
        entry = self.registry.get(symbol_id)
        entry.fault = cause
        self._faulted[symbol_id] = cause
        self._ready.pop(symbol_id, None)

    def clear_fault(self, symbol_id: int, snapshot: bytes) -> None:
        """Make a faulted symbol activatable again, from ``snapshot`` (``b""``: cold).

        Only when no engine exists (REGISTERED or EVICTED): evict an engine-faulted ACTIVE
        symbol first. The caller chooses the snapshot (e.g. rebuilt from the journal) since
        the last eviction snapshot is older than the lost state.
        """
        entry = self.registry.get(symbol_id)
        if entry.fault is None:
            raise CoordError(f"symbol {entry.symbol!r} ({symbol_id}) is not faulted")
        if entry.state not in (_REGISTERED, _EVICTED):
            raise CoordError(
                f"symbol {entry.symbol!r} ({symbol_id}) is {entry.state.name}: its engine"
                " still exists; evict it before clearing the fault"
            )
        entry.fault = None
        entry.snapshot = snapshot
        del self._faulted[symbol_id]

    def _faulted_error(self, entry: SymbolEntry) -> SymbolFaulted:
        cause = entry.fault or ""
        return SymbolFaulted(
            f"symbol {entry.symbol!r} ({entry.symbol_id}) is faulted: {cause}", cause
        )

    # ------------------------------------------------------------------ hosts and reports

    @property
    def hosts(self) -> list[EngineHost]:
        """Return every host (live or dead) in ``host_id`` order."""
        return list(self._hosts.values())

    def host(self, host_id: int) -> EngineHost:
        """Return the host ``host_id``."""
        host = self._hosts.get(host_id)
        if host is None:
            raise CoordError(f"unknown host_id {host_id} (hosts: {list(self._hosts)})")
        return host

    def dead_hosts(self) -> dict[int, str]:
        """Return the hosts marked dead, with their causes."""
        return dict(self._dead)

    def loads(self) -> list[HostLoad]:
        """Return the load of every live host, in ``host_id`` order."""
        active = self._active_on
        commands = self._commands_on
        return [HostLoad(k, active[k], commands[k]) for k in self._live]

    def stats(self) -> CoordStats:
        """Return a summary: states, faults, activations, evictions and host loads."""
        counts = self.registry.counts()
        return CoordStats(
            tick=self._tick,
            symbols=len(self.registry),
            by_state={s.name: counts[s] for s in SymbolState if s is not SymbolState.UNREGISTERED},
            faulted=len(self._faulted),
            cold_activations=self._cold,
            warm_activations=self._warm,
            evictions=self._evictions,
            live_hosts=list(self._live),
            dead_hosts=dict(self._dead),
            loads=self.loads(),
        )
