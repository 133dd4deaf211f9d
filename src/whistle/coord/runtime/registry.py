"""``SymbolRegistry``: every known symbol, its lifecycle state, host and warm-restart snapshot.

The registry is bookkeeping only: it never talks to a host. ``SymbolCoordinator`` drives
it. State changes go through :meth:`SymbolRegistry.transition` (checked against
``lifecycle.TRANSITIONS``) and host changes through :meth:`SymbolRegistry.assign_host`,
so the per-state counts and the per-host index stay exact; the other entry fields are
plain attributes the coordinator writes.

Iteration is in ``symbol_id`` order, whatever the registration order, so everything built
on it (sweeps, reports, recovery) is deterministic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, final

from whistle.coord.errors import CoordError, SymbolNotRegistered
from whistle.coord.runtime.lifecycle import SymbolState, Trigger, next_state

if TYPE_CHECKING:
    from collections.abc import Iterator

    from whistle.core.instrument import Instrument

__all__ = ["DuplicateSymbol", "SymbolEntry", "SymbolRegistry"]


@final
class DuplicateSymbol(CoordError):
    """Raised when a symbol name or symbol id is registered twice."""


@final
class SymbolEntry:
    """What the registry knows about one symbol.

    ``snapshot`` is the msgpack snapshot taken when the engine was last evicted (``b""``:
    none, so the next activation is cold). ``fault`` is the cause text of a fault (see
    ``whistle.coord.runtime.lifecycle``), None while healthy. Ticks are the coordinator's tick
    numbers.
    """

    __slots__ = (
        "activated_at_tick",
        "activations",
        "fault",
        "host_id",
        "instrument",
        "last_activity_tick",
        "snapshot",
        "state",
        "symbol",
        "symbol_id",
    )

    def __init__(self, instrument: Instrument, registered_at_tick: int = 0) -> None:
        self.instrument = instrument
        self.symbol_id = instrument.symbol_id
        self.symbol = instrument.symbol
        self.state = SymbolState.UNREGISTERED
        self.host_id: int | None = None
        self.snapshot = b""
        self.last_activity_tick = registered_at_tick
        self.activated_at_tick: int | None = None
        self.activations = 0
        self.fault: str | None = None

    def __repr__(self) -> str:
        fault = f", fault={self.fault!r}" if self.fault is not None else ""
        return (
            f"SymbolEntry({self.symbol!r}, id={self.symbol_id}, {self.state.name},"
            f" host={self.host_id}, snapshot={len(self.snapshot)} B{fault})"
        )


@final
class SymbolRegistry:
    """Symbols by id and by name, with O(1) state counts and a per-host index."""

    def __init__(self) -> None:
        self._by_id: dict[int, SymbolEntry] = {}
        self._by_name: dict[str, SymbolEntry] = {}
        self._counts = [0] * len(SymbolState)
        self._on_host: dict[int, set[int]] = {}
        # Sorted view for iteration; rebuilt lazily because sorting on every register
        # (or insort into a list) would make bulk registration quadratic.
        self._ordered: list[SymbolEntry] | None = []

    # ------------------------------------------------------------------ registration

    def register(self, instrument: Instrument, *, tick: int = 0) -> SymbolEntry:
        """Register ``instrument`` (state REGISTERED); raise ``DuplicateSymbol`` if known."""
        symbol_id = instrument.symbol_id
        other = self._by_id.get(symbol_id)
        if other is not None:
            raise DuplicateSymbol(
                f"symbol_id {symbol_id} of {instrument.symbol!r} is already registered"
                f" for {other.symbol!r}"
            )
        if instrument.symbol in self._by_name:
            raise DuplicateSymbol(
                f"symbol {instrument.symbol!r} is already registered"
                f" (symbol_id {self._by_name[instrument.symbol].symbol_id})"
            )
        entry = SymbolEntry(instrument, tick)
        entry.state = next_state(entry.state, Trigger.REGISTER)
        self._by_id[symbol_id] = entry
        self._by_name[instrument.symbol] = entry
        self._counts[entry.state] += 1
        self._ordered = None
        return entry

    # ------------------------------------------------------------------ look-ups

    def get(self, symbol_id: int) -> SymbolEntry:
        """Return the entry of ``symbol_id``; raise ``SymbolNotRegistered``."""
        entry = self._by_id.get(symbol_id)
        if entry is None:
            raise SymbolNotRegistered(f"no instrument with symbol_id {symbol_id} is registered")
        return entry

    def find(self, symbol_id: int) -> SymbolEntry | None:
        """Return the entry of ``symbol_id``, or None (no exception: for hot paths)."""
        return self._by_id.get(symbol_id)

    def by_symbol(self, symbol: str) -> SymbolEntry:
        """Return the entry of the symbol named ``symbol``; raise ``SymbolNotRegistered``."""
        entry = self._by_name.get(symbol)
        if entry is None:
            raise SymbolNotRegistered(f"no instrument named {symbol!r} is registered")
        return entry

    def state_of(self, symbol_id: int) -> SymbolState:
        """Return the state of ``symbol_id`` (UNREGISTERED if unknown)."""
        entry = self._by_id.get(symbol_id)
        return SymbolState.UNREGISTERED if entry is None else entry.state

    def __contains__(self, symbol_id: object) -> bool:
        return symbol_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[SymbolEntry]:
        """Iterate over the entries in ``symbol_id`` order."""
        return iter(self.entries())

    def entries(self) -> list[SymbolEntry]:
        """Return every entry in ``symbol_id`` order (a new list)."""
        ordered = self._ordered
        if ordered is None:
            ordered = self._ordered = [self._by_id[k] for k in sorted(self._by_id)]
        return list(ordered)

    def on_host(self, host_id: int) -> list[SymbolEntry]:
        """Return the entries assigned to ``host_id``, in ``symbol_id`` order."""
        ids = self._on_host.get(host_id)
        if not ids:
            return []
        by_id = self._by_id
        return [by_id[k] for k in sorted(ids)]

    def counts(self) -> dict[SymbolState, int]:
        """Return how many symbols are in each state (UNREGISTERED is always 0)."""
        return {state: self._counts[state] for state in SymbolState}

    def count(self, state: SymbolState) -> int:
        """Return how many symbols are in ``state``."""
        return self._counts[state]

    # ------------------------------------------------------------------ changes

    def transition(self, symbol_id: int, trigger: Trigger) -> SymbolState:
        """Apply ``trigger`` to ``symbol_id``; return the new state.

        Raises ``SymbolNotRegistered`` or ``InvalidTransition`` (nothing changes then).
        """
        entry = self.get(symbol_id)
        old = entry.state
        new = next_state(old, trigger)
        entry.state = new
        counts = self._counts
        counts[old] -= 1
        counts[new] += 1
        return new

    def move(self, entry: SymbolEntry, trigger: Trigger, host_id: int | None) -> SymbolState:
        """Apply ``trigger`` to ``entry`` and set its host in one step; return the new state.

        The activation path's form of :meth:`transition` + :meth:`assign_host`: it takes
        the entry already looked up. Nothing changes if the transition is invalid.
        """
        if self._by_id.get(entry.symbol_id) is not entry:
            raise SymbolNotRegistered(
                f"symbol {entry.symbol!r} ({entry.symbol_id}) is not registered here"
            )
        old = entry.state
        new = next_state(old, trigger)
        entry.state = new
        counts = self._counts
        counts[old] -= 1
        counts[new] += 1
        self._set_host(entry, host_id)
        return new

    def assign_host(self, symbol_id: int, host_id: int | None) -> None:
        """Record that ``symbol_id`` now lives on ``host_id`` (None: on no host)."""
        self._set_host(self.get(symbol_id), host_id)

    def _set_host(self, entry: SymbolEntry, host_id: int | None) -> None:
        old = entry.host_id
        if old == host_id:
            return
        symbol_id = entry.symbol_id
        on_host = self._on_host
        if old is not None:
            was = on_host[old]
            was.discard(symbol_id)
            if not was:
                del on_host[old]
        if host_id is not None:
            now = on_host.get(host_id)
            if now is None:
                now = on_host[host_id] = set()
            now.add(symbol_id)
        entry.host_id = host_id
