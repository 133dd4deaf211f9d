"""``OrderRouter``: checks, activates, sequences, journals and dispatches every command.

The write path, in this order (one method, ``route``, so the order is the code's shape):

1. **check**: the symbol must be registered (else ``UNKNOWN_SYMBOL``), not faulted by a
   dead host (``ENGINE_FAULTED``) and not being retired (``SYMBOL_NOT_ACTIVE``). The
   command's field types and ranges were checked by the venue's edge before it got here;
2. **activate**: ``coordinator.ensure_active(symbol_id)`` (a cold or warm activation on
   first use);
3. **capacity**: the symbol's host must have room (``host.free_slots(symbol_id) > 0``);
   if not, the router waits (bounded, when configured and a drain is possible) and
   otherwise refuses with ``QUEUE_FULL``;
4. **stamp**: the next ``enq_seq`` is computed, not yet consumed;
5. **journal** (with a data directory): ``journal(enq_seq, command, now_ns)`` appends the
   ``Sequenced`` record. If it raises, nothing was written, the ``enq_seq`` is not
   consumed and no host has seen the command: the exception (``JournalUnavailable``)
   is the refusal;
6. **dispatch**: ``host.submit(enq_seq, command)``, which cannot fail because step 3
   found room and nothing ran in between; if it does anyway (a host bug), the router
   raises ``DispatchError`` and the venue stops: the command is journaled, so a
   restart executes it.

Without a data directory there is nothing to journal, and steps 3 and 6 are one call:
``submit`` itself refuses a full queue, before anything is sequenced.

Refusals in steps 1-3 happen before sequencing, like the venue's edge rejects: they are
``OrderRejected`` events with ``seq == 0`` and ``enq_seq == 0``. The sequence of
accepted commands is gapless, every accepted command is journaled before any engine
sees it, and nothing accepted is ever dropped.
"""

from __future__ import annotations

import time
from enum import Enum
from typing import TYPE_CHECKING, final

from whistle.coord.errors import CoordError, HostError, SymbolEvicted, SymbolNotRegistered
from whistle.core.events import OrderRejected
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.coord.hosts.base import EngineHost
    from whistle.coord.runtime.coordinator import SymbolCoordinator
    from whistle.core.commands import Command

__all__ = ["Backpressure", "OrderRouter"]

_R_UNKNOWN: int = int(RejectReason.UNKNOWN_SYMBOL)
_R_FAULTED: int = int(RejectReason.ENGINE_FAULTED)
_R_NOT_ACTIVE: int = int(RejectReason.SYMBOL_NOT_ACTIVE)
_R_QUEUE_FULL: int = int(RejectReason.QUEUE_FULL)


class DispatchError(CoordError):
    """A host refused a command it had room for (a broken invariant): the venue stops."""


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
        self.journal: Callable[[int, Command, int], None] | None = None
        """Step 5: appends the ``Sequenced`` record (set by a venue with a data directory)."""

    def route(self, command: Command) -> int | OrderRejected:
        """Check, sequence, journal and dispatch ``command``; return its ``enq_seq``.

        Returns the ``OrderRejected`` of a refusal (nothing sequenced). An exception from
        ``journal`` propagates with nothing sequenced and no host touched.
        """
        coordinator = self.coordinator
        symbol_id = command.symbol_id
        enq_seq = self.enq_seq + 1
        journal = self.journal
        try:
            if coordinator.is_faulted(symbol_id):
                return self._refuse(command, _R_FAULTED)
            coordinator.ensure_active(symbol_id)
            host = coordinator.host_of(symbol_id)
            if journal is None:
                # Nothing to journal: steps 3 and 6 are one call (submit refuses when full,
                # and then nothing was sequenced), the cheapest path for a venue in memory.
                if host.submit(enq_seq, command) or (
                    self._wait_submit(host, symbol_id) and host.submit(enq_seq, command)
                ):
                    self.enq_seq = enq_seq
                    coordinator.touch(symbol_id)
                    return enq_seq
                return self._refuse(command, _R_QUEUE_FULL)
            if host.free_slots(symbol_id) <= 0 and not self._wait_submit(host, symbol_id):
                return self._refuse(command, _R_QUEUE_FULL)
        except SymbolNotRegistered:
            return self._refuse(command, _R_UNKNOWN)
        except SymbolEvicted:
            return self._refuse(command, _R_NOT_ACTIVE)
        except HostError:
            return self._refuse(command, _R_FAULTED)
        journal(enq_seq, command, self.now_ns)
        try:
            accepted = host.submit(enq_seq, command)
        except HostError as exc:
            raise DispatchError(
                f"host {host.host_id} failed taking enq_seq {enq_seq} for symbol {symbol_id}"
                f" right after reporting room: {exc} (the command is journaled)"
            ) from exc
        if not accepted:
            raise DispatchError(
                f"host {host.host_id} refused enq_seq {enq_seq} for symbol {symbol_id}"
                " although it reported room (the command is journaled)"
            )
        self.enq_seq = enq_seq
        coordinator.touch(symbol_id)
        return enq_seq

    def _wait_submit(self, host: EngineHost, symbol_id: int) -> bool:
        # Wait (bounded) for room on the host; True once free_slots(symbol_id) > 0. Only
        # while room can appear before the next tick (can_drain: a process host's ring its
        # child reads); a full per-symbol queue empties only at a tick: refuse at once.
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
