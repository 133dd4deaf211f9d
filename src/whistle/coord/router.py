"""``OrderRouter``: validates, activates, sequences and dispatches every command.

For each command, in this order:

1. the symbol must be registered (else ``UNKNOWN_SYMBOL``), not faulted by a dead host
   (``ENGINE_FAULTED``) and not being retired (``SYMBOL_NOT_ACTIVE``);
2. ``coordinator.ensure_active(symbol_id)`` (a cold or warm activation on first use);
3. the next ``enq_seq`` is stamped and the command handed to the symbol's host; if the
   host's queue is full the router waits (bounded, when configured) and otherwise refuses
   with ``QUEUE_FULL``. A refused command does not consume an ``enq_seq``: the sequence
   of accepted commands stays gapless, and nothing accepted is ever dropped.

Refusals here happen before sequencing, like the venue's edge rejects: they are
``OrderRejected`` events with ``seq == 0`` and ``enq_seq == 0``.
"""

from __future__ import annotations

import time
from enum import Enum
from typing import TYPE_CHECKING, final

from whistle.coord.errors import HostError, SymbolEvicted, SymbolNotRegistered
from whistle.core.events import OrderRejected
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.coord.coordinator import SymbolCoordinator
    from whistle.coord.host import EngineHost
    from whistle.core.commands import Command

__all__ = ["Backpressure", "OrderRouter"]

_R_UNKNOWN: int = int(RejectReason.UNKNOWN_SYMBOL)
_R_FAULTED: int = int(RejectReason.ENGINE_FAULTED)
_R_NOT_ACTIVE: int = int(RejectReason.SYMBOL_NOT_ACTIVE)
_R_QUEUE_FULL: int = int(RejectReason.QUEUE_FULL)


class Backpressure(Enum):
    """What the router does when a host's inbound queue is full."""

    REJECT = "reject"
    """Refuse at once with ``QUEUE_FULL``."""
    WAIT = "wait"
    """Retry until ``wait_timeout_s`` has passed, then refuse with ``QUEUE_FULL``."""


@final
class OrderRouter:
    """The single sequencer of a venue."""

    def __init__(
        self,
        coordinator: SymbolCoordinator,
        *,
        backpressure: Backpressure = Backpressure.REJECT,
        wait_timeout_s: float = 1.0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if wait_timeout_s < 0:
            raise ValueError(f"wait_timeout_s must be >= 0, was {wait_timeout_s}")
        self.coordinator = coordinator
        self.backpressure = backpressure
        self.wait_timeout_ns = int(wait_timeout_s * 1e9)
        self._clock_ns = clock_ns
        self.enq_seq = 0
        self.refused = 0
        self.now_ns = 0

    def route(self, command: Command) -> int | OrderRejected:
        """Sequence and dispatch ``command``; return its ``enq_seq`` or the refusal."""
        coordinator = self.coordinator
        symbol_id = command.symbol_id
        try:
            if coordinator.is_faulted(symbol_id):
                return self._refuse(command, _R_FAULTED)
            coordinator.ensure_active(symbol_id)
        except SymbolNotRegistered:
            return self._refuse(command, _R_UNKNOWN)
        except SymbolEvicted:
            return self._refuse(command, _R_NOT_ACTIVE)
        except HostError:
            return self._refuse(command, _R_FAULTED)
        host = coordinator.host_of(symbol_id)
        enq_seq = self.enq_seq + 1
        try:
            if host.free_slots(symbol_id) <= 0 and not self._wait_submit(host, symbol_id):
                return self._refuse(command, _R_QUEUE_FULL)
        except HostError:
            return self._refuse(command, _R_FAULTED)
        if not host.submit(enq_seq, command):
            raise HostError(f"host {host.host_id} refused a command it had room for")
        self.enq_seq = enq_seq
        coordinator.touch(symbol_id)
        return enq_seq

    def _wait_submit(self, host: EngineHost, symbol_id: int) -> bool:
        if self.backpressure is Backpressure.REJECT or self.wait_timeout_ns == 0:
            return False
        deadline = self._clock_ns() + self.wait_timeout_ns
        pause = 1e-6
        while host.can_drain(symbol_id) and self._clock_ns() < deadline:
            time.sleep(pause)
            if host.free_slots(symbol_id) > 0:
                return True
            pause = min(pause * 2, 1e-3)
        return False

    def _refuse(self, command: Command, reason: int) -> OrderRejected:
        self.refused += 1
        return OrderRejected(
            command.symbol_id,
            0,
            0,
            self.now_ns,
            getattr(command, "order_id", 0),
            getattr(command, "account", 0) or 0,
            reason,
        )
