"""Idempotent order entry: one command per (account, client_order_id).

A ``NewOrder`` or ``CancelReplace`` with ``client_order_id != 0`` is taken once per
account. The table of this module remembers, for each (account, client_order_id), the
command the venue sequenced, its ``enq_seq`` and -- once its tick ran -- the events it
produced about its own order. The venue consults it before a command is sequenced:

- a key it does not hold: the command goes the usual way; the key is remembered when
  the command is *sequenced* (journaled: acknowledged), never before, so a command
  refused before sequencing (a bad field, an unknown symbol, ``QUEUE_FULL``, a journal
  that cannot be written) does not use its id up, and an engine reject does (the
  outcome is the reject);
- a key it holds with an equal command: nothing is sequenced or journaled; the answer is
  a ``DuplicateClientOrder`` (seq 0) followed by the original command's events about its
  order, the very events first produced (``answer``);
- a key it holds with a different command: ``OrderRejected(DUPLICATE_CLIENT_ORDER_ID)``,
  seq 0, the original untouched.

The table is a pure function of the command journal: ``on_sequenced`` is called for
every sequenced command (live, in recovery and in ``whistle replay``) and ``capture`` with
every tick's events, so a recovered venue and a replay hold the same table
(``state_hash``). Retention: the entries of a symbol are let go when its ``EndSession``
is sequenced (``Venue.end_session`` or the clock's session end; a journaled command, so
replay lets them go at the same point): a client order id is unique per account for the
trading session of its symbol. Between session ends the table holds at most
``capacity`` entries; a new key past that is refused (``CLIENT_ORDER_IDS_FULL``), never
silently forgotten. Checkpoints save it whole (``encode``/``load``; format in
``whistle.coord.durability.records.ClientOrderTableFile``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

import msgspec

from whistle.coord.durability.records import (
    CLIENT_ORDER_TABLE_VERSION,
    ClientOrderTableFile,
    table_hash,
)
from whistle.core.commands import CancelReplace, EndSession, NewOrder
from whistle.core.enums import ClientOrderOutcome
from whistle.core.events import (
    DuplicateClientOrder,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderReplaced,
    StopTriggered,
)
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from whistle.core.commands import Command

__all__ = [
    "DEFAULT_MAX_CLIENT_ORDERS",
    "ClientOrderInfo",
    "ClientOrderTable",
    "client_order_key",
]

DEFAULT_MAX_CLIENT_ORDERS: Final = 1_000_000
"""How many (account, client_order_id) a venue remembers at most (``max_client_orders``)."""

# The event types that name an order (``order_id``) and may be a command's own.
_ORDER_EVENTS: Final = frozenset(
    {
        OrderAccepted,
        OrderRejected,
        OrderFilled,
        OrderCancelled,
        OrderExpired,
        OrderModified,
        OrderReplaced,
        StopTriggered,
    }
)
_PENDING: Final = int(ClientOrderOutcome.PENDING)
_ACCEPTED: Final = int(ClientOrderOutcome.ACCEPTED)
_REJECTED: Final = int(ClientOrderOutcome.REJECTED)
_R_DUPLICATE: Final = int(RejectReason.DUPLICATE_CLIENT_ORDER_ID)
_ENCODE: Final = msgspec.msgpack.Encoder().encode

ClientOrderCommand = NewOrder | CancelReplace


def client_order_key(command: ClientOrderCommand) -> tuple[int, int]:
    """Return the (account, client_order_id) of a command the edge accepted."""
    return (command.account or 0, command.client_order_id)


@final
class ClientOrderInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the venue remembers of one (account, client_order_id) (``Venue.client_order``)."""

    symbol_id: int
    order_id: int
    """The order's venue id (a CancelReplace's ``new_order_id``)."""
    account: int
    client_order_id: int
    enq_seq: int
    """The ``enq_seq`` the command was sequenced with."""
    outcome: ClientOrderOutcome
    reason: int
    """The engine's ``RejectReason`` when ``outcome`` is REJECTED, else 0."""
    events: tuple[Event, ...]
    """The command's events about its order, as first produced (empty while PENDING)."""


@final
class _Entry:
    __slots__ = ("command", "enq_seq", "events", "ids", "order_id")

    def __init__(self, enq_seq: int, command: ClientOrderCommand, events: list[Event]) -> None:
        self.enq_seq = enq_seq
        self.command = command
        self.events = events
        if type(command) is NewOrder:
            self.order_id = command.order_id
            self.ids: tuple[int, ...] = (command.order_id,)
        else:
            assert type(command) is CancelReplace
            self.order_id = command.new_order_id
            self.ids = (command.order_id, command.new_order_id)

    def outcome(self) -> tuple[int, int]:
        for event in self.events:
            kind = type(event)
            if kind is OrderRejected:
                return _REJECTED, event.reason  # type: ignore[union-attr]  # an OrderRejected
            if kind is OrderAccepted or kind is OrderReplaced:
                return _ACCEPTED, 0
        return _PENDING, 0


@final
class ClientOrderTable:
    """Every (account, client_order_id) a venue took, until its symbol's session ends."""

    __slots__ = ("_by_symbol", "_entries", "capacity", "changes", "pending", "release_unrun")

    def __init__(
        self, capacity: int = DEFAULT_MAX_CLIENT_ORDERS, *, release_unrun: bool = False
    ) -> None:
        self.capacity = capacity
        self.release_unrun = release_unrun
        """Let go of a key whose command did not run in its tick (``capture``): for a
        venue without a data directory, where such a command is lost for good."""
        self._entries: dict[tuple[int, int], _Entry] = {}
        self._by_symbol: dict[int, dict[tuple[int, int], None]] = {}
        self.pending: dict[int, _Entry] = {}
        """Entries whose command is sequenced and has not run yet, by ``enq_seq``."""
        self.changes = 0
        """Bumped at every change (a checkpoint saves the table only when it moved)."""

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def full(self) -> bool:
        """Return whether a new key would be refused (``CLIENT_ORDER_IDS_FULL``)."""
        return len(self._entries) >= self.capacity

    def order_id_of(self, account: int, client_order_id: int) -> int | None:
        """Return the order id the key's command used (None: the key is not held)."""
        entry = self._entries.get((account, client_order_id))
        return None if entry is None else entry.order_id

    def holds(self, command: ClientOrderCommand) -> int | None:
        """Return the original's ``enq_seq`` if ``command`` repeats it exactly, else None."""
        entry = self._entries.get(client_order_key(command))
        return entry.enq_seq if entry is not None and entry.command == command else None

    def repeat(self, command: ClientOrderCommand, now_ns: int) -> tuple[list[Event], str] | None:
        """Return the answer to ``command`` if its key is held (else None), with a detail.

        An equal command: ``[DuplicateClientOrder, *original events]``; a different one:
        ``[OrderRejected(DUPLICATE_CLIENT_ORDER_ID)]`` and what differs.
        """
        key = client_order_key(command)
        entry = self._entries.get(key)
        if entry is None:
            return None
        original = entry.command
        account, coid = key
        if original != command:
            if type(original) is not type(command):
                what = f"it was a {type(original).__name__}, this is a {type(command).__name__}"
            else:
                what = _first_difference(original, command)
            own_id = command.order_id if type(command) is NewOrder else command.new_order_id
            reject = OrderRejected(command.symbol_id, 0, 0, now_ns, own_id, account, _R_DUPLICATE)
            detail = (
                f"client_order_id {coid} of account {account} was used by order"
                f" {entry.order_id} of symbol {original.symbol_id} (enq_seq {entry.enq_seq});"
                f" {what}"
            )
            return [reject], detail
        outcome, reason = entry.outcome()
        marker = DuplicateClientOrder(
            original.symbol_id,
            0,
            0,
            now_ns,
            entry.order_id,
            account,
            coid,
            entry.enq_seq,
            outcome,
            reason,
        )
        detail = (
            f"client_order_id {coid} of account {account}: a repeat of enq_seq"
            f" {entry.enq_seq} ({ClientOrderOutcome(outcome).name}); nothing was sequenced"
        )
        return [marker, *entry.events], detail

    def info(self, account: int, client_order_id: int) -> ClientOrderInfo | None:
        """Return what is remembered of the key (None: not held)."""
        entry = self._entries.get((account, client_order_id))
        if entry is None:
            return None
        outcome, reason = entry.outcome()
        return ClientOrderInfo(
            symbol_id=entry.command.symbol_id,
            order_id=entry.order_id,
            account=account,
            client_order_id=client_order_id,
            enq_seq=entry.enq_seq,
            outcome=ClientOrderOutcome(outcome),
            reason=reason,
            events=tuple(entry.events),
        )

    # ------------------------------------------------------------------ changes

    def on_sequenced(self, enq_seq: int, command: Command) -> None:
        """Take note of a sequenced command (the one rule live, recovery and replay share)."""
        kind = type(command)
        if kind is NewOrder or kind is CancelReplace:
            if command.client_order_id:  # type: ignore[union-attr]  # checked: one of the two
                self.add(enq_seq, command)  # type: ignore[arg-type]  # checked: one of the two
        elif kind is EndSession:
            self.end_session(command.symbol_id)

    def add(self, enq_seq: int, command: ClientOrderCommand) -> None:
        """Remember a sequenced command with a client order id (its key must be new)."""
        key = client_order_key(command)
        entry = _Entry(enq_seq, command, [])
        self._entries[key] = entry
        self._by_symbol.setdefault(command.symbol_id, {})[key] = None
        self.pending[enq_seq] = entry
        self.changes += 1

    def end_session(self, symbol_id: int) -> None:
        """Let go of every key whose command was for ``symbol_id`` (its session ended)."""
        keys = self._by_symbol.pop(symbol_id, None)
        if keys:
            entries = self._entries
            for key in keys:
                del entries[key]
            self.changes += 1

    def capture(self, events: list[Event]) -> None:
        """Give each pending entry its events from a tick that ran; none is pending after.

        A command's own events carry its ``enq_seq`` and name one of its order ids; other
        accounts' fills and market data are left out. Every command that runs has one (its
        ``OrderAccepted``/``OrderReplaced`` or its ``OrderRejected``), so an entry left
        without any did not run: it was lost with a host that died before its tick. With
        ``release_unrun`` (no data directory: nothing can rebuild it) its key is let go, so
        a retry enters the order (or is refused like any command for that symbol); with a
        journal the key stays (PENDING): the command is rebuilt on a live host or by the
        next recovery, and runs once.
        """
        pending = self.pending
        if not pending:
            return
        get = pending.get
        kinds = _ORDER_EVENTS
        for event in events:
            entry = get(event.enq_seq)
            if (
                entry is not None
                and type(event) in kinds
                and event.order_id in entry.ids  # type: ignore[union-attr]  # an order event
                and event.symbol_id == entry.command.symbol_id
            ):
                entry.events.append(event)
        for entry in pending.values() if self.release_unrun else ():
            if not entry.events:
                key = client_order_key(entry.command)
                if self._entries.get(key) is entry:
                    del self._entries[key]
                    del self._by_symbol[entry.command.symbol_id][key]
        pending.clear()
        self.changes += 1

    # ------------------------------------------------------------------ persistence

    def encode(self) -> bytes:
        """Return the table as a ``ClientOrderTableFile`` (msgpack), entries in enq_seq order."""
        # The wire form of ClientOrderTableFile (array_like structs are msgpack arrays),
        # built from tuples: no struct per entry. Entries are kept in insertion order,
        # which is enq_seq order (keys are added as commands are sequenced; load keeps
        # the file's order), so no sort is needed.
        return _ENCODE(
            (
                CLIENT_ORDER_TABLE_VERSION,
                [(e.enq_seq, e.command, e.events) for e in self._entries.values()],
            )
        )

    def state_hash(self) -> str:
        """Return a digest of every entry (equal tables, equal hashes)."""
        return table_hash(self.encode())

    def load(self, table: ClientOrderTableFile) -> None:
        """Replace the content by a saved table (a checkpoint's; nothing is pending)."""
        self._entries.clear()
        self._by_symbol.clear()
        self.pending.clear()
        for saved in table.entries:
            command = saved.command
            assert type(command) is NewOrder or type(command) is CancelReplace
            key = client_order_key(command)
            self._entries[key] = _Entry(saved.enq_seq, command, list(saved.events))
            self._by_symbol.setdefault(command.symbol_id, {})[key] = None
        self.changes += 1


def _first_difference(a: msgspec.Struct, b: msgspec.Struct) -> str:
    for name in a.__struct_fields__:
        left, right = getattr(a, name), getattr(b, name)
        if left != right:
            return f"{name} was {left!r}, this one has {right!r}"
    return "the commands differ"  # unreachable for unequal structs of one type
