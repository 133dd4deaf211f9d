"""What the gRPC server drives: the ``Backend`` protocol and ``LocalBackend(venue)``.

The server turns requests into core commands (``whistle.api.convert``) and hands them to a
backend; ``LocalBackend`` runs them on an in-process ``Venue``, ``whistle.cluster``'s
front end on a cluster of venue nodes. Every method is called on the server's event-loop
thread, the one thread that owns the venue (no locks): the venue keeps its single
sequencing thread, so determinism and the journal rules are the venue's own.

Batching: ``execute(commands)`` takes every command that arrived together (the server's
``CommandBatcher`` collects what the handlers submitted during one turn of the event
loop) and ``LocalBackend`` runs them as ``Venue.enqueue`` each, then ONE ``Venue.tick``;
the tick's events are given back to their commands by ``enq_seq``. Acknowledged means
journaled, as in the venue: a command with an ``enq_seq`` is in the command journal (with
a data directory) before its ``Outcome`` exists.

Conventions of ``execute``:

- a ``NewOrder`` with ``order_id == 0`` (a ``CancelReplace`` with ``new_order_id == 0``)
  gets the symbol's next free id (a repeat of a ``client_order_id``: the original's);
- a ``MassCancel`` with ``symbol_id == 0`` cancels on every symbol (one command per symbol,
  one outcome);
- a repeat of an (account, client_order_id) the venue holds is answered after the tick
  with ``[DuplicateClientOrder, *the original's events]`` and changes nothing;
- the outcome's events are every event of the command (all accounts): the server filters
  what a key may see.

Listeners (``add_listener``) get every event the backend produced, in venue order, once
per ``execute`` or admin call or clock tick, on the loop thread: the market-data hub and
the order-update fan-out hang off it. A listener must not block or raise.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Protocol, final, runtime_checkable

import msgspec

from whistle.coord import Playback
from whistle.core.commands import CancelOrder, CancelReplace, MassCancel, ModifyOrder, NewOrder
from whistle.core.errors import WhistleError
from whistle.core.events import (
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    StopTriggered,
)
from whistle.core.limits import MAX_ORDER_ID, MIN_ORDER_ID
from whistle.engine.status import DepthSnapshot, EngineStatus, L3Order, OrderInfo

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Sequence

    from whistle.coord import Venue
    from whistle.core.commands import Command
    from whistle.core.instrument import Instrument

__all__ = [
    "DEFAULT_MAX_FILLS",
    "Backend",
    "BackendUnavailable",
    "BookView",
    "ClientOrderView",
    "HostView",
    "LocalBackend",
    "Outcome",
    "SymbolView",
    "VenueStatus",
]


class _ClientOrderInfo(Protocol):
    # The fields of whistle.coord's ClientOrderInfo this module reads (read-only).
    @property
    def symbol_id(self) -> int: ...
    @property
    def order_id(self) -> int: ...
    @property
    def account(self) -> int: ...
    @property
    def client_order_id(self) -> int: ...
    @property
    def enq_seq(self) -> int: ...
    @property
    def outcome(self) -> int: ...
    @property
    def reason(self) -> int: ...
    @property
    def events(self) -> tuple[Event, ...]: ...


DEFAULT_MAX_FILLS = 1_000_000
"""Fills a ``LocalBackend`` keeps for ``fills`` (about 100 bytes each)."""


class BackendUnavailable(WhistleError):
    """The backend cannot take commands (stopped, its journal failed, closing)."""


@final
class Outcome:
    """What one command of an ``execute`` batch produced.

    ``enq_seq`` 0: not sequenced (an edge reject, a duplicate answer, ``error``).
    ``error`` set: the backend refused it before sequencing (stopped venue, journal that
    cannot be written); nothing of it was journaled. ``detail``: the venue's words for an
    edge reject or a duplicate answer, or what went wrong after sequencing (a tick that
    could not run: the command is acknowledged and runs at the next tick).
    """

    __slots__ = ("detail", "enq_seq", "error", "events", "order_id")

    def __init__(self, order_id: int = 0) -> None:
        self.enq_seq = 0
        self.order_id = order_id
        self.events: list[Event] = []
        self.detail: str | None = None
        self.error: str | None = None

    def __repr__(self) -> str:
        return (
            f"Outcome(enq_seq={self.enq_seq}, order_id={self.order_id},"
            f" events={self.events!r}, detail={self.detail!r}, error={self.error!r})"
        )


@final
class ClientOrderView(msgspec.Struct, frozen=True, kw_only=True):
    """What the venue remembers of an (account, client_order_id)."""

    symbol_id: int
    order_id: int
    account: int
    client_order_id: int
    enq_seq: int
    outcome: int
    """A ``ClientOrderOutcome`` (PENDING, ACCEPTED, REJECTED)."""
    reason: int
    events: tuple[Event, ...]


@final
class SymbolView(msgspec.Struct, frozen=True, kw_only=True):
    """One symbol's engine status plus where it runs."""

    status: EngineStatus
    host_id: int
    """The engine host running it (-1: not active)."""
    lifecycle: str
    """``SymbolState`` name (REGISTERED, ACTIVE, EVICTED, ...)."""


@final
class HostView(msgspec.Struct, frozen=True, kw_only=True):
    """One engine host."""

    host_id: int
    symbols: int
    commands: int


@final
class VenueStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The venue as a whole (``Backend.status``)."""

    symbols: list[SymbolView]
    enq_seq: int
    now_ns: int
    hosts: list[HostView]
    journaled: bool
    last_checkpoint_error: str | None
    event_error: str | None
    unwritten_events: int


@final
class BookView(msgspec.Struct, frozen=True, kw_only=True):
    """One symbol's full book (``Backend.snapshot``): status, L3 orders, state hash."""

    symbol: SymbolView
    orders: list[L3Order]
    state_hash: str


@runtime_checkable
class Backend(Protocol):
    """What ``whistle.api.server`` calls, always on its event-loop thread."""

    async def execute(self, commands: Sequence[Command]) -> list[Outcome]:
        """Sequence ``commands`` together (one tick); return one ``Outcome`` each, in order."""
        ...

    def instruments(self) -> list[Instrument]:
        """Return every defined instrument in ``symbol_id`` order (cheap: called per request)."""
        ...

    def instrument(self, symbol: str | int) -> Instrument | None:
        """Return the instrument of a name or id, or None (cheap: called per request)."""
        ...

    async def add_instrument(self, instrument: Instrument) -> Instrument:
        """Define a symbol; ``InstrumentError`` if it clashes with one already defined."""
        ...

    async def halt(self, symbol_id: int) -> list[Event]:
        """Halt a symbol; return the events."""
        ...

    async def resume(self, symbol_id: int) -> list[Event]:
        """Resume a halted symbol; return the events."""
        ...

    async def status(self, symbol_ids: Sequence[int] | None = None) -> VenueStatus:
        """Return the venue's status (``symbol_ids`` None: every symbol)."""
        ...

    async def depth(self, symbol_id: int, levels: int | None) -> DepthSnapshot:
        """Return the L2 depth (``levels`` None: every level)."""
        ...

    async def snapshot(self, symbol_id: int) -> BookView:
        """Return the symbol's full book."""
        ...

    async def order(self, symbol_id: int, order_id: int) -> OrderInfo | None:
        """Return one live order, or None."""
        ...

    async def client_order(self, account: int, client_order_id: int) -> ClientOrderView | None:
        """Return what the venue remembers of (account, client_order_id), or None."""
        ...

    async def release_idle(self, idle_ticks: int) -> list[int]:
        """Retire every symbol idle for ``idle_ticks`` ticks; return their ids."""
        ...

    async def advance(self) -> None:
        """Tick the clock to now (GTD expiry); the events go to the listeners."""
        ...

    def add_listener(self, listener: Callable[[list[Event]], None]) -> None:
        """Call ``listener`` with every batch of events, in venue order."""
        ...

    def remove_listener(self, listener: Callable[[list[Event]], None]) -> None:
        """Stop calling ``listener`` (unknown: nothing happens)."""
        ...

    async def close(self) -> None:
        """Drain what is queued, checkpoint, stop (a second call does nothing)."""
        ...


def _unavailable(exc: Exception) -> str:
    return f"the venue cannot take commands: {exc}"


@final
class LocalBackend:
    """A ``Backend`` on an in-process ``Venue`` (which it closes on ``close``).

    ``clock`` gives the time of each tick (ns; default ``time.time_ns``, so GTD expiry
    times are Unix-epoch ns); the venue's clock never goes back (a tick at
    ``max(venue.now_ns, clock())``). ``owns_venue=False`` leaves the venue running on
    ``close`` (a test that inspects it afterwards). ``data_dir`` (the venue's) lets
    ``fills`` start with the fills recorded before a restart; ``max_fills`` bounds the
    fill history kept.
    """

    def __init__(
        self,
        venue: Venue,
        *,
        clock: Callable[[], int] = time.time_ns,
        owns_venue: bool = True,
        data_dir: str | os.PathLike[str] | None = None,
        max_fills: int = DEFAULT_MAX_FILLS,
    ) -> None:
        if max_fills < 1:
            raise ValueError(f"max_fills must be >= 1, was {max_fills}")
        self.venue = venue
        self._clock = clock
        self._owns = owns_venue
        # Every fill since the venue began, oldest first (``fills``): bounded; once one is
        # let go the history is no longer complete.
        self._fills: deque[OrderFilled] = deque()
        self._max_fills = max_fills
        self._fills_complete = self._load_fills(venue, data_dir)
        # Each account's live order ids (symbol_id, order_id), kept from the events, so
        # one account's open orders are listed without walking every book (open_orders).
        self._live: dict[int, set[tuple[int, int]]] = {}
        for name in venue.symbols:
            for order in venue.l3(name):
                sid = venue.instrument(name).symbol_id
                self._live.setdefault(order.account, set()).add((sid, order.order_id))
        self._listeners: list[Callable[[list[Event]], None]] = []
        self._known: dict[str | int, Instrument] = {}
        self._spare: dict[int, int] = {}  # symbol_id -> where the search for a free id goes on
        self._closed = False
        self.batches = 0
        """``execute`` calls so far."""
        self.commands = 0
        """Commands executed so far."""

    # ------------------------------------------------------------------ commands

    async def execute(self, commands: Sequence[Command]) -> list[Outcome]:
        """Enqueue every command, tick once, and give each its events (see module doc)."""
        self.batches += 1
        self.commands += len(commands)
        venue = self.venue
        outcomes = [Outcome() for _ in commands]
        if self._closed:
            for outcome in outcomes:
                outcome.error = "the server is shutting down"
            return outcomes
        by_seq: dict[int, Outcome] = {}
        repeats: list[tuple[int, Command]] = []
        refused: list[Event] = []
        sequenced = False
        stopped: str | None = None
        for index, command in enumerate(commands):
            outcome = outcomes[index]
            if stopped is not None:
                outcome.error = stopped
                continue
            command, held = self._complete(command)
            if held:
                repeats.append((index, command))
                continue
            outcome.order_id = _order_id_of(command)
            parts: Sequence[Command] = (
                self._every_symbol(command)
                if type(command) is MassCancel and command.symbol_id == 0
                else (command,)
            )
            for part in parts:
                try:
                    result = venue.enqueue(part)
                except WhistleError as exc:
                    stopped = _unavailable(exc)
                    if not outcome.enq_seq:
                        outcome.error = stopped
                    break
                if isinstance(result, OrderRejected):
                    outcome.events.append(result)
                    outcome.detail = venue.last_reject_detail
                    refused.append(result)
                else:
                    outcome.enq_seq = result
                    by_seq[result] = outcome
                    sequenced = True
        produced: list[Event] = refused
        if sequenced:
            try:
                events = venue.tick(max(venue.now_ns, self._clock()))
            except WhistleError as exc:
                # Journaled (acknowledged) but not run: they run at the next tick.
                for outcome in by_seq.values():
                    outcome.detail = (
                        f"acknowledged (journaled as enq_seq {outcome.enq_seq}); its tick"
                        f" could not run and it runs at the next one: {exc}"
                    )
                events = []
            get = by_seq.get
            for event in events:
                owner = get(event.enq_seq)
                if owner is not None:
                    owner.events.append(event)
            produced = refused + events if refused else events
        if repeats:
            produced = list(produced)
        for index, command in repeats:
            outcome = outcomes[index]
            try:
                answer = venue.send(command)
            except WhistleError as exc:
                outcome.error = _unavailable(exc)
                continue
            outcome.events = answer
            outcome.order_id = _order_id_of(command)
            outcome.detail = venue.last_reject_detail
            produced += answer
        if produced:
            self._emit(produced)
        return outcomes

    def _complete(self, command: Command) -> tuple[Command, bool]:
        # Fill in the order ids the caller left to the venue (0); say whether the
        # command's (account, client_order_id) is already held (a repeat: answered after
        # the tick, so a repeat of a command of this very batch sees its outcome).
        kind = type(command)
        if kind is NewOrder:
            assert isinstance(command, NewOrder)
            info = self._held(command.account, command.client_order_id)
            if command.order_id == 0:
                oid = info.order_id if info is not None else self._next_id(command.symbol_id)
                command = msgspec.structs.replace(command, order_id=oid)
            return command, info is not None
        if kind is CancelReplace:
            assert isinstance(command, CancelReplace)
            account = command.account
            info = self._held(account, command.client_order_id) if account is not None else None
            if command.new_order_id == 0:
                oid = info.order_id if info is not None else self._next_id(command.symbol_id)
                command = msgspec.structs.replace(command, new_order_id=oid)
            return command, info is not None
        return command, False

    def _held(self, account: object, client_order_id: object) -> _ClientOrderInfo | None:
        if not client_order_id or type(account) is not int or type(client_order_id) is not int:
            return None
        try:
            return self.venue.client_order(account, client_order_id)
        except (TypeError, ValueError):
            return None

    def _next_id(self, symbol_id: int) -> int:
        # Unknown symbol: any valid id, so the router answers UNKNOWN_SYMBOL.
        venue = self.venue
        if not venue.is_registered(symbol_id):
            return 1
        next_id = venue.next_order_id(symbol_id)
        if next_id <= MAX_ORDER_ID:
            return next_id
        # The venue's counter (the largest id used + 1) ran past the top: a caller chose an
        # id near MAX_ORDER_ID. Rather than refuse every automatic order from then on, take
        # the lowest id no live order holds (an id of an order long gone may come back).
        candidate = self._spare.get(symbol_id, MIN_ORDER_ID)
        while venue.order(symbol_id, candidate) is not None:
            candidate += 1
        self._spare[symbol_id] = candidate + 1  # the next one, even before this one is live
        return candidate

    def _every_symbol(self, command: MassCancel) -> list[Command]:
        venue = self.venue
        return [
            MassCancel(venue.instrument(name).symbol_id, command.account) for name in venue.symbols
        ]

    def _emit(self, events: list[Event]) -> None:
        fills = self._fills
        live = self._live
        for event in events:
            kind = type(event)
            if kind is OrderFilled:
                fills.append(event)  # type: ignore[arg-type]  # checked: an OrderFilled
                if not event.leaves_qty_lots:  # type: ignore[union-attr]  # an OrderFilled
                    _forget(live, event)
            elif kind is OrderAccepted or kind is StopTriggered:
                if event.seq:
                    live.setdefault(event.account, set()).add(  # type: ignore[union-attr]
                        (event.symbol_id, event.order_id)  # type: ignore[union-attr]
                    )
            elif kind is OrderCancelled:
                if not event.leaves_qty_lots:  # type: ignore[union-attr]  # an OrderCancelled
                    _forget(live, event)
            elif kind is OrderExpired:
                _forget(live, event)
            elif kind is OrderReplaced:
                _forget(live, event)
                live.setdefault(event.account, set()).add(  # type: ignore[union-attr]
                    (event.symbol_id, event.new_order_id)  # type: ignore[union-attr]
                )
        if len(fills) > self._max_fills:
            while len(fills) > self._max_fills:
                fills.popleft()
            self._fills_complete = False
        for listener in self._listeners:
            listener(events)

    def _load_fills(self, venue: Venue, data_dir: str | os.PathLike[str] | None) -> bool:
        # The fills of a recovered venue's past, from its event journal; whether the
        # history is complete (a recovered venue whose directory was not given: it is not).
        if venue.recovery is None:
            return True  # a new venue: nothing happened before us
        if data_dir is None:
            return False
        fills = self._fills
        complete = True
        for event in Playback(data_dir):
            if type(event) is OrderFilled:
                fills.append(event)
                if len(fills) > self._max_fills:
                    fills.popleft()
                    complete = False
        return complete

    async def open_orders(
        self, account: int, symbol_id: int | None = None
    ) -> list[tuple[int, OrderInfo]]:
        """Return ``account``'s resting orders (symbol_id, info) on one symbol or all:
        symbols in id order, bids best first then asks, each level in queue order.

        Read from the account's live ids (kept from the events) and ``Venue.order``: the
        cost is the account's orders, never every book. Parked stops are not listed.
        """
        venue = self.venue
        ids = self._live.get(account)
        if not ids:
            return []
        found: list[tuple[int, OrderInfo]] = []
        gone: list[tuple[int, int]] = []
        for sid, oid in ids:
            if symbol_id is not None and sid != symbol_id:
                continue
            info = venue.order(sid, oid)
            if info is None:
                gone.append((sid, oid))  # left by a path that told no listener
            elif not info.parked:
                found.append((sid, info))
        ids.difference_update(gone)
        found.sort(
            key=lambda item: (
                item[0],
                item[1].side,
                -item[1].price_ticks if item[1].side == 1 else item[1].price_ticks,
                item[1].queue_position,
            )
        )
        return found

    async def fills(
        self, account: int | None, symbol_id: int | None, after_enq_seq: int
    ) -> tuple[list[OrderFilled], bool]:
        """Return the fills of ``account`` (None: all) on ``symbol_id`` (None: all) of
        commands after ``after_enq_seq``, oldest first, and whether the history is whole."""
        out = [
            f
            for f in self._fills
            if f.enq_seq > after_enq_seq
            and (account is None or f.account == account)
            and (symbol_id is None or f.symbol_id == symbol_id)
        ]
        return out, self._fills_complete

    # ------------------------------------------------------------------ instruments

    def instruments(self) -> list[Instrument]:
        """Return every instrument in ``symbol_id`` order."""
        venue = self.venue
        return sorted((venue.instrument(name) for name in venue.symbols), key=lambda i: i.symbol_id)

    def instrument(self, symbol: str | int) -> Instrument | None:
        """Return the instrument of a name or id, or None."""
        known = self._known.get(symbol)
        if known is not None:
            return known
        venue = self.venue
        if not venue.is_registered(symbol):
            return None
        found = venue.instrument(symbol)
        # Instruments are never removed or changed: remembered by name and by id.
        self._known[found.symbol] = self._known[found.symbol_id] = found
        return found

    async def add_instrument(self, instrument: Instrument) -> Instrument:
        """Define a symbol (journaled first with a data directory)."""
        self._check_open()
        return self.venue.add_instrument(instrument)

    # ------------------------------------------------------------------ admin

    async def halt(self, symbol_id: int) -> list[Event]:
        """Halt a symbol; return its events."""
        return self._admin(lambda: self.venue.halt(symbol_id))

    async def resume(self, symbol_id: int) -> list[Event]:
        """Resume a symbol; return its events."""
        return self._admin(lambda: self.venue.resume(symbol_id))

    def _admin(self, call: Callable[[], list[Event]]) -> list[Event]:
        self._check_open()
        try:
            events = call()
        except WhistleError as exc:
            raise BackendUnavailable(_unavailable(exc)) from exc
        if events:
            self._emit(events)
        return events

    def _check_open(self) -> None:
        if self._closed:
            raise BackendUnavailable("the server is shutting down")

    async def status(self, symbol_ids: Sequence[int] | None = None) -> VenueStatus:
        """Return the venue's status."""
        venue = self.venue
        ids = [i.symbol_id for i in self.instruments()] if symbol_ids is None else list(symbol_ids)
        durability = venue.durability()
        loads = venue.coordinator.loads()
        hosts = [
            HostView(host_id=load.host_id, symbols=load.active, commands=load.commands)
            for load in loads
        ]
        return VenueStatus(
            symbols=[self._symbol_view(sid) for sid in ids],
            enq_seq=venue.enq_seq,
            now_ns=venue.now_ns,
            hosts=hosts,
            journaled=durability.journaled,
            last_checkpoint_error=durability.last_checkpoint_error,
            event_error=durability.event_error,
            unwritten_events=durability.unwritten_events,
        )

    def _symbol_view(self, symbol_id: int) -> SymbolView:
        venue = self.venue
        coordinator = venue.coordinator
        state = coordinator.registry.state_of(symbol_id)
        host_id = -1
        if state.name == "ACTIVE":
            host_id = coordinator.host_of(symbol_id).host_id
        return SymbolView(status=venue.status(symbol_id), host_id=host_id, lifecycle=state.name)

    async def depth(self, symbol_id: int, levels: int | None) -> DepthSnapshot:
        """Return the L2 depth (``levels`` None: every level)."""
        return self.venue.engine_view(symbol_id).depth(levels)

    async def snapshot(self, symbol_id: int) -> BookView:
        """Return the full book: status, L3 orders in priority order, state hash."""
        engine = self.venue.engine_view(symbol_id)
        return BookView(
            symbol=self._symbol_view(symbol_id), orders=engine.l3(), state_hash=engine.state_hash()
        )

    async def order(self, symbol_id: int, order_id: int) -> OrderInfo | None:
        """Return one live order, or None."""
        return self.venue.engine_view(symbol_id).order(order_id)

    async def client_order(self, account: int, client_order_id: int) -> ClientOrderView | None:
        """Return what the venue remembers of (account, client_order_id), or None."""
        info = self._held(account, client_order_id)
        if info is None:
            return None
        return ClientOrderView(
            symbol_id=info.symbol_id,
            order_id=info.order_id,
            account=info.account,
            client_order_id=info.client_order_id,
            enq_seq=info.enq_seq,
            outcome=int(info.outcome),
            reason=info.reason,
            events=tuple(info.events),
        )

    async def release_idle(self, idle_ticks: int) -> list[int]:
        """Retire every symbol idle for ``idle_ticks`` ticks."""
        self._check_open()
        return self.venue.release_idle(idle_ticks)

    async def advance(self) -> None:
        """Tick to now: GTD orders due expire (their events go to the listeners)."""
        if self._closed:
            return
        venue = self.venue
        try:
            events = venue.tick(max(venue.now_ns, self._clock()))
        except WhistleError as exc:
            raise BackendUnavailable(_unavailable(exc)) from exc
        if events:
            self._emit(events)

    # ------------------------------------------------------------------ listeners, close

    def add_listener(self, listener: Callable[[list[Event]], None]) -> None:
        """Call ``listener`` with every batch of events."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[list[Event]], None]) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def close(self) -> None:
        """Stop the venue when this backend owns it: drain, checkpoint, clean stop."""
        if self._closed:
            return
        self._closed = True
        if self._owns:
            self.venue.stop()


def _order_id_of(command: Command) -> int:
    if isinstance(command, CancelReplace):
        return command.new_order_id
    if isinstance(command, (NewOrder, CancelOrder, ModifyOrder)):
        return command.order_id
    return 0


def _forget(live: dict[int, set[tuple[int, int]]], event: Event) -> None:
    # The order of an event (it has an account and an order id) is no longer live.
    ids = live.get(event.account)  # type: ignore[union-attr]  # an order event
    if ids is not None:
        ids.discard((event.symbol_id, event.order_id))  # type: ignore[union-attr]
        if not ids:
            del live[event.account]  # type: ignore[union-attr]
