"""``OrderbookManagerService``: the seed-003 facade over a ``Venue``.

It keeps the seed's method names and error enum for users who think in those terms:
``add_order``, ``cancel_order``, ``halt_orderbooks``, ``resume_orderbooks``,
``publish_orderbook_status``, ``publish_orderbook_snapshot``, ``start``, ``stop``.
Methods return ``None`` on success and raise an ``OrderbookManagerError`` subclass
(``InstrumentNotRegistered``, ``ChannelSendError``, ``OrderbookError``, ``Timeout``,
``CloseOrderbookError``, ``OrderbookHalted``) when the command could not be delivered.

Delivery is not execution: an order that reaches its engine and is refused there (a bad
price, say) is delivered; its ``OrderRejected`` arrives on the event stream like every
other event. Everything (fills, book updates, status, snapshots) reaches subscribers
through one event stream, filterable by symbol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar, final

import msgspec

from whistle.coord.durability.datadir import JournalUnavailable
from whistle.coord.errors import CoordError, HostError, HostTimeout
from whistle.coord.runtime.router import DispatchError
from whistle.core.commands import CancelOrder, HaltTrading, NewOrder, ResumeTrading
from whistle.core.errors import WhistleError
from whistle.core.events import OrderRejected
from whistle.core.reasons import RejectReason
from whistle.engine.status import DepthSnapshot, EngineStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from whistle.coord.venue.facade import Venue
    from whistle.core.commands import Command
    from whistle.core.events import Event

__all__ = [
    "ChannelSendError",
    "CloseOrderbookError",
    "InstrumentNotRegistered",
    "OrderbookError",
    "OrderbookHalted",
    "OrderbookManagerError",
    "OrderbookManagerService",
    "OrderbookSnapshotPublished",
    "OrderbookStatusPublished",
    "Timeout",
]


class OrderbookManagerError(WhistleError):
    """Base of the service's errors (the seed's ``OrderbookManagerError`` enum)."""


class InstrumentNotRegistered(OrderbookManagerError):
    """The instrument id is not registered with the service."""


class ChannelSendError(OrderbookManagerError):
    """The command could not be handed to its engine (queue full, host gone)."""


class OrderbookError(OrderbookManagerError):
    """The order book refused or failed the operation (e.g. it is faulted or retired)."""


class Timeout(OrderbookManagerError):
    """An operation did not complete in the allowed time."""


class CloseOrderbookError(OrderbookManagerError):
    """Shutting the order books down failed (or they were already shut down)."""


class OrderbookHalted(OrderbookManagerError):
    """The order book is halted: new orders are refused until it is resumed."""


@final
class OrderbookStatusPublished(msgspec.Struct, frozen=True):
    """Published on the event stream by ``publish_orderbook_status``."""

    symbol_id: int
    status: EngineStatus


@final
class OrderbookSnapshotPublished(msgspec.Struct, frozen=True):
    """Published on the event stream by ``publish_orderbook_snapshot``."""

    symbol_id: int
    depth: DepthSnapshot


T = TypeVar("T")

_REASON_ERRORS: dict[int, type[OrderbookManagerError]] = {
    int(RejectReason.UNKNOWN_SYMBOL): InstrumentNotRegistered,
    int(RejectReason.QUEUE_FULL): ChannelSendError,
    int(RejectReason.ENGINE_FAULTED): OrderbookError,
    int(RejectReason.SYMBOL_NOT_ACTIVE): OrderbookError,
}

Published = OrderbookStatusPublished | OrderbookSnapshotPublished


@final
class OrderbookManagerService:
    """Many order books behind the seed's interface, backed by a ``Venue``."""

    def __init__(self, venue: Venue, *, snapshot_levels: int = 10) -> None:
        self.venue = venue
        self.snapshot_levels = snapshot_levels
        self._running = False
        self._stopped = False
        self._halted: set[int] = set()
        self._subscribers: list[
            tuple[Callable[[Event | Published], None], frozenset[int] | None]
        ] = []
        venue.subscribe(self._fan_out)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the service (the venue's hosts are started by the venue itself)."""
        if self._stopped:
            raise OrderbookManagerError("the service was stopped; create a new one")
        if self._running:
            raise OrderbookManagerError("the service is already running")
        self._running = True

    def stop(self) -> None:
        """Stop every order book and release the venue's resources."""
        if not self._running:
            raise CloseOrderbookError(
                "the service is already stopped" if self._stopped else "the service never started"
            )
        self._running = False
        self._stopped = True
        try:
            self.venue.stop()
        except CoordError as exc:
            raise CloseOrderbookError(f"stopping the order books failed: {exc}") from exc

    # ------------------------------------------------------------------ orders

    def add_order(self, order: NewOrder) -> None:
        """Route a new order to its order book."""
        self._require_running()
        self._require_registered(order.symbol_id)
        if order.symbol_id in self._halted:
            raise OrderbookHalted(f"order book {order.symbol_id} is halted")
        self._deliver(order)

    def cancel_order(self, symbol_id: int, order_id: int) -> None:
        """Route a cancel to the order book of ``symbol_id``."""
        self._require_running()
        self._require_registered(symbol_id)
        self._deliver(CancelOrder(symbol_id, order_id))

    def halt_orderbooks(self, symbol_ids: Iterable[int]) -> None:
        """Halt trading on each order book (cancels are still accepted)."""
        self._require_running()
        for symbol_id in symbol_ids:
            self._require_registered(symbol_id)
            self._deliver(HaltTrading(symbol_id))
            self._halted.add(symbol_id)

    def resume_orderbooks(self, symbol_ids: Iterable[int]) -> None:
        """Resume trading on each order book."""
        self._require_running()
        for symbol_id in symbol_ids:
            self._require_registered(symbol_id)
            self._deliver(ResumeTrading(symbol_id))
            self._halted.discard(symbol_id)

    def publish_orderbook_status(self, symbol_id: int) -> None:
        """Publish the order book's status on the event stream."""
        self._require_running()
        self._require_registered(symbol_id)
        status = self._view(lambda: self.venue.status(symbol_id))
        self._emit(OrderbookStatusPublished(symbol_id, status))

    def publish_orderbook_snapshot(self, symbol_id: int) -> None:
        """Publish the order book's depth snapshot on the event stream."""
        self._require_running()
        self._require_registered(symbol_id)
        depth = self._view(lambda: self.venue.depth(symbol_id, self.snapshot_levels))
        self._emit(OrderbookSnapshotPublished(symbol_id, depth))

    # ------------------------------------------------------------------ stream

    def subscribe(
        self, callback: Callable[[Event | Published], None], symbol_ids: Iterable[int] | None = None
    ) -> None:
        """Receive every event (only those of ``symbol_ids`` when given)."""
        ids = None if symbol_ids is None else frozenset(symbol_ids)
        self._subscribers.append((callback, ids))

    def _fan_out(self, event: Event) -> None:
        self._emit(event)

    def _emit(self, item: Event | Published) -> None:
        for callback, ids in self._subscribers:
            if ids is None or item.symbol_id in ids:
                callback(item)

    # ------------------------------------------------------------------ helpers

    def _require_running(self) -> None:
        if not self._running:
            raise OrderbookManagerError(
                "the service is stopped" if self._stopped else "call start() first"
            )

    def _require_registered(self, symbol_id: int) -> None:
        if not self.venue.is_registered(symbol_id):
            raise InstrumentNotRegistered(f"instrument {symbol_id} is not registered")

    def _deliver(self, command: Command) -> None:
        try:
            events = self.venue.send(command)
        except HostTimeout as exc:
            raise Timeout(str(exc)) from exc
        except (HostError, JournalUnavailable, DispatchError) as exc:
            # Not journaled (or not dispatched); or journaled but its tick was not, which
            # the message says (accepted_enq_seq): it then runs at the next tick.
            raise ChannelSendError(str(exc)) from exc
        if len(events) == 1 and isinstance(events[0], OrderRejected) and events[0].seq == 0:
            reason = events[0].reason
            error = _REASON_ERRORS.get(reason, OrderbookError)
            member = RejectReason.of(reason)
            raise error(f"{member.name}: {member.description}")

    def _view(self, read: Callable[[], T]) -> T:
        try:
            return read()
        except HostTimeout as exc:
            raise Timeout(str(exc)) from exc
        except (HostError, KeyError) as exc:
            raise OrderbookError(str(exc)) from exc
