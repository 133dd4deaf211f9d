"""Writer liveness as seen by readers, and passive connection discovery.

:func:`probe_writer` combines the writer lock and the heartbeat into a
:class:`WriterStatus`.  :class:`PassiveDiscovery` turns successive observations into
``WAITING -> CONNECTED -> DISCONNECTED (-> CONNECTED ...)`` transitions.  It is
*passive*: it only reports what it sees; it never deletes, repairs, fences or
reopens anything -- deciding what to do about a dead writer is the caller's job.

States:

* ``WAITING``      no live writer has been observed yet (queue may not even exist).
* ``CONNECTED``    the writer lock is held and the heartbeat is younger than ``ttl_ns``.
* ``DISCONNECTED`` a writer was connected before and now is not; ``reason`` tells why
  (:class:`DisconnectReason`: lock lost, heartbeat stale, or segment missing).
"""

from __future__ import annotations

import enum
import os
import time
from typing import NamedTuple, Protocol, final

from .config import META_FILE
from .liveness import lock_held, read_heartbeat

__all__ = [
    "DisconnectReason",
    "DiscoveryState",
    "PassiveDiscovery",
    "Transition",
    "WriterStatus",
    "probe_writer",
]


@final
class DisconnectReason(enum.Enum):
    LOCK_LOST = "lock_lost"  # no process holds the writer lock (writer exited or died)
    HEARTBEAT_STALE = "heartbeat_stale"  # lock held but no heartbeat within ttl (stuck)
    SEGMENT_MISSING = "segment_missing"  # a segment the reader needs is gone


@final
class DiscoveryState(enum.Enum):
    WAITING = "waiting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class WriterStatus(NamedTuple):
    """Snapshot of the writer's liveness signals."""

    lock_held: bool  # a process holds writer.lock exclusively
    pid: int | None  # pid in the last heartbeat
    heartbeat_ns: int | None  # wall-clock time of the last heartbeat
    heartbeat_age_ns: int | None
    closed: bool  # the last heartbeat was written by a clean close()
    alive: bool  # lock held and heartbeat fresh

    @property
    def reason(self) -> DisconnectReason | None:
        """Why the writer is not alive (None when alive)."""
        if self.alive:
            return None
        if not self.lock_held:
            return DisconnectReason.LOCK_LOST
        return DisconnectReason.HEARTBEAT_STALE


def probe_writer(
    path: str | os.PathLike[str], ttl_ns: int, now_ns: int | None = None
) -> WriterStatus:
    """Observe the writer of the queue at ``path`` (never blocks, never modifies)."""
    qdir = os.fspath(path)
    held = bool(lock_held(qdir))
    hb = read_heartbeat(qdir)
    now = time.time_ns() if now_ns is None else now_ns
    if hb is None:
        return WriterStatus(held, None, None, None, False, False)
    age = now - hb.ts_ns
    alive = held and not hb.closed and age <= ttl_ns
    return WriterStatus(held, hb.pid, hb.ts_ns, age, hb.closed, alive)


class _DisconnectSource(Protocol):
    def detect_disconnect(
        self, ttl_ns: int, now_ns: int | None = None
    ) -> DisconnectReason | None: ...


class Transition(NamedTuple):
    previous: DiscoveryState
    current: DiscoveryState
    reason: DisconnectReason | None
    at_ns: int


@final
class PassiveDiscovery:
    """Report writer connection transitions for the queue at ``path``.

    Call :meth:`poll` periodically (e.g. from a reader's idle loop).  When ``reader``
    is given, its :meth:`~whistle.journal.reader.QueueReader.detect_disconnect` is used,
    which adds ``SEGMENT_MISSING`` detection for the reader's position.
    """

    __slots__ = ("_path", "_reader", "_state", "_ttl", "transitions")

    def __init__(
        self,
        path: str | os.PathLike[str],
        ttl_ns: int,
        reader: _DisconnectSource | None = None,
    ) -> None:
        if ttl_ns <= 0:
            raise ValueError("ttl_ns must be > 0")
        self._path = os.fspath(path)
        self._ttl = ttl_ns
        self._reader = reader
        self._state = DiscoveryState.WAITING
        self.transitions: list[Transition] = []

    @property
    def state(self) -> DiscoveryState:
        return self._state

    def _observe(self, now: int) -> tuple[bool, DisconnectReason | None]:
        """``(connected, reason)`` for the current instant."""
        if not os.path.exists(os.path.join(self._path, META_FILE)):
            return False, None
        if self._reader is not None:
            reason = self._reader.detect_disconnect(self._ttl, now)
            return reason is None, reason
        status = probe_writer(self._path, self._ttl, now)
        return status.alive, status.reason

    def poll(self, now_ns: int | None = None) -> Transition | None:
        """Observe once; return the transition if the state changed, else None."""
        now = time.time_ns() if now_ns is None else now_ns
        connected, reason = self._observe(now)
        prev = self._state
        if connected:
            new = DiscoveryState.CONNECTED
        elif prev is DiscoveryState.WAITING:
            new = DiscoveryState.WAITING  # never seen a writer yet: keep waiting
        else:
            new = DiscoveryState.DISCONNECTED
        if new is prev:
            return None
        self._state = new
        event = Transition(prev, new, reason if new is DiscoveryState.DISCONNECTED else None, now)
        self.transitions.append(event)
        return event
