"""``EngineHost``: many engines in one loop, in this process or in a process of its own.

The contract both modes honour (``InProcessHost``, ``ProcessHost``):

- ``add_engine`` / ``remove_engine`` / ``snapshot`` are synchronous: they return when the
  host has done it (or raise ``HostError``).
- ``submit(enq_seq, command)`` queues a sequenced command for the engine of its symbol.
  It returns False when the host's inbound queue is full (the router turns that into a
  ``QUEUE_FULL`` reject or a bounded wait); it never drops silently.
- ``free_slots(symbol_id)`` says how many commands for that symbol ``submit`` accepts right
  now: when it is above 0 the next ``submit`` for the symbol returns True (nothing else
  called in between), so a caller can journal a command before dispatching it.
  ``can_drain(symbol_id)`` says whether room can appear *before the next tick*: False when
  the limit is the symbol's ``queue_depth`` (only a tick empties it) or the host is dead,
  so a refusal needs no wait; True only while a transport the host reads between ticks
  (a process host's ring) is full. The defaults here fit a host that never refuses.
- A tick is split in two so that several hosts work in parallel: ``begin_tick(now_ns)``
  asks every engine of the host to tick (expiry, then queued commands in ``enq_seq``
  order) and returns a tick id; ``end_tick(tick_id)`` returns that tick's events, in the
  order the engines produced them (engines in ``symbol_id`` order).
  ``begin_tick`` does not report a host's death: ``end_tick`` does (``HostDead``), so the
  caller handles a death in one place whichever half found it.
- ``alive()`` / ``failure()``: a host that died (process exit, stale heartbeat) says why.
- ``stop()`` drains what is queued and releases every resource (shared memory included);
  calling it twice raises ``HostStateError``.

Because a host handles its inbound messages strictly in order, and every engine is a pure
function of its commands and tick times, the events of a symbol are the same whichever
host (or none) runs it.
"""

from __future__ import annotations

import abc
import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.core.instrument import Instrument

__all__ = ["EngineHost"]

_UNBOUNDED: Final = sys.maxsize


class EngineHost(abc.ABC):
    """Hosts engines of several symbols and ticks them together."""

    host_id: int

    @abc.abstractmethod
    def add_engine(self, instrument: Instrument, snapshot: bytes = b"") -> None:
        """Create the engine of ``instrument`` (restored from msgpack ``snapshot`` if given)."""

    @abc.abstractmethod
    def remove_engine(self, symbol_id: int) -> bytes:
        """Remove an engine; return its final snapshot (msgpack)."""

    @abc.abstractmethod
    def snapshot(self, symbol_id: int) -> bytes:
        """Return a snapshot (msgpack) of a running engine, taken between ticks."""

    @abc.abstractmethod
    def submit(self, enq_seq: int, command: Command) -> bool:
        """Queue a sequenced command; return False if the inbound queue is full."""

    def free_slots(self, symbol_id: int) -> int:
        """Return how many commands for ``symbol_id`` ``submit`` would accept now."""
        return _UNBOUNDED

    def can_drain(self, symbol_id: int) -> bool:
        """Return whether room for ``symbol_id`` can appear before the next tick."""
        return False

    def live_gtd(self, symbol_id: int) -> int:
        """Return how many live GTD orders the engine of ``symbol_id`` holds.

        Taken between ticks. This default decodes a snapshot (a host round trip); hosts
        that hold their engines in this process override it with a field read.
        """
        from whistle.engine import Whistle, decode_snapshot

        return Whistle.restore(decode_snapshot(self.snapshot(symbol_id))).live_gtd

    @abc.abstractmethod
    def begin_tick(self, now_ns: int) -> int:
        """Start a tick of every engine at ``now_ns``; return its tick id."""

    @abc.abstractmethod
    def end_tick(self, tick_id: int, timeout: float | None = None) -> list[Event]:
        """Wait for tick ``tick_id`` to finish and return its events."""

    @property
    @abc.abstractmethod
    def symbols(self) -> frozenset[int]:
        """Return the symbol ids of the engines on this host."""

    @abc.abstractmethod
    def alive(self) -> bool:
        """Return whether the host is running and answering."""

    @abc.abstractmethod
    def failure(self) -> str | None:
        """Return why the host died, or None while it is fine."""

    @abc.abstractmethod
    def stop(self, timeout: float | None = None) -> None:
        """Drain, stop and release everything; a second call raises ``HostStateError``."""
