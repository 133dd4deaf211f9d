"""The loop that runs inside an engine-host process (the child side of ``ProcessHost``).

``run_host`` attaches the two rings made by the parent, optionally pins itself to one CPU,
then handles inbound messages strictly in ring order with an ``InProcessHost`` (the same
engine management and ticking as the embedded mode): ``HostCommands`` queues its
commands, ``HostTick`` queues its commands, ticks and answers one ``EventBatch``,
``AddEngine`` / ``RemoveEngine`` / ``TakeSnapshot`` answer ``EngineAdded`` /
``EngineRemoved`` / ``SnapshotTaken``, ``StopHost`` answers ``HostStopped`` and ends the
loop.

- Heartbeats: one at start, then at least every ``heartbeat_interval_s`` whether busy or
  idle, also between the engines of a tick (never during one engine's tick: the parent's
  ``dead_after_s`` must exceed the longest tick of one engine). A heartbeat is skipped
  while the outbound ring is more than half full: the parent is not reading, and events
  must keep their room.
- Idle: ``pop_many`` finds nothing -> the ``WaitStrategy`` the parent chose (by default
  spin, yield, then sleep up to 1 ms, so an idle host costs almost no CPU).
- Never drop: when the outbound ring is full the loop waits for room (up to
  ``SEND_TIMEOUT_S``, then it fails).
- Large answers: a record may hold at most ``ring.max_record_size`` bytes. A larger
  ``EventBatch`` is sent in parts: every part but the last carries ``-tick_id``, the last one
  ``tick_id``; a larger ``SnapshotTaken`` / ``EngineRemoved`` likewise carries
  ``-symbol_id`` in every part of the snapshot bytes but the last. The parent concatenates.
- Failure: an exception outside an engine (engine exceptions are ``EngineFaulted`` events)
  sends ``HostFailed(detail)`` and the loop returns ``EXIT_FAILED``.
- Orphan: if the parent process dies (``os.getppid()`` changes) or the parent marks the
  inbound ring closed and it is drained, the loop unlinks both rings (nobody else will) and
  returns ``EXIT_ORPHANED``. This is checked at every heartbeat and while waiting for room.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from typing import TYPE_CHECKING, Final, final

from whistle.coord.errors import HostError
from whistle.coord.hosts.local import InProcessHost
from whistle.coord.hosts.wire import (
    AddEngine,
    EngineAdded,
    EngineRemoved,
    EventBatch,
    Heartbeat,
    HostCommands,
    HostFailed,
    HostStopped,
    HostTick,
    RemoveEngine,
    SnapshotTaken,
    StopHost,
    TakeSnapshot,
    WireCodec,
)
from whistle.ipc import RingFull, SpscRing, WaitStrategy

if TYPE_CHECKING:
    from whistle.core.events import Event

__all__ = [
    "EXIT_FAILED",
    "EXIT_ORPHANED",
    "EXIT_STOPPED",
    "POP_BATCH",
    "SEND_TIMEOUT_S",
    "HostLoop",
    "host_main",
    "run_host",
]

EXIT_STOPPED: Final = 0  # StopHost handled
EXIT_FAILED: Final = 1  # HostFailed sent (or could not be sent)
EXIT_ORPHANED: Final = 3  # the parent died or closed the inbound ring

#: Inbound records handled per ``pop_many``.
POP_BATCH: Final = 1024
#: How long the host waits for room in a full outbound ring before it gives up.
SEND_TIMEOUT_S: Final = 300.0
# Bytes kept free in a record for the envelope around a chunk (tag, ids, length headers).
_ENVELOPE: Final = 64


class _Orphaned(Exception):
    """The parent process is gone: nobody will read what the host sends."""


@final
class HostLoop:
    """The message loop of one host process over an attached inbound and outbound ring."""

    def __init__(
        self,
        host_id: int,
        inbound: SpscRing,
        outbound: SpscRing,
        *,
        heartbeat_interval_s: float,
        parent_pid: int,
        wait: WaitStrategy | None = None,
    ) -> None:
        if heartbeat_interval_s <= 0:
            raise ValueError(f"heartbeat_interval_s must be positive, was {heartbeat_interval_s}")
        self.host_id = host_id
        self.host = InProcessHost(host_id)  # submit_many: the parent bounds the queues
        self._in = inbound
        self._out = outbound
        self._interval_ns = int(heartbeat_interval_s * 1e9)
        self._parent_pid = parent_pid
        self._wait = wait if wait is not None else WaitStrategy()
        codec = WireCodec()
        self._encode = codec.encode
        self._decode = codec.decode_inbound
        self._max_record = outbound.max_record_size
        self._next_heartbeat_ns = 0

    # ------------------------------------------------------------------ liveness

    def orphaned(self) -> bool:
        """Return whether the parent died or closed the inbound ring (and it is drained)."""
        if os.getppid() != self._parent_pid:
            return True
        return self._in.producer_closed and self._in.readable_bytes == 0

    def _beat_if_due(self) -> None:
        """Send a heartbeat if one is due (called between the engines of a long tick)."""
        now = time.monotonic_ns()
        if now >= self._next_heartbeat_ns:
            self._heartbeat(now)

    def _heartbeat(self, now_ns: int) -> None:
        self._next_heartbeat_ns = now_ns + self._interval_ns
        out = self._out
        if out.readable_bytes > out.capacity // 2:
            return  # the parent is not reading: keep the room for events
        host = self.host
        out.try_push(
            self._encode(Heartbeat(self.host_id, now_ns, len(host.symbols), host.commands))
        )

    # ------------------------------------------------------------------ sending

    def _send(self, data: bytes) -> None:
        """Push one record, waiting for room while the parent is alive; never drop it."""
        out = self._out
        if out.try_push(data):
            return
        idle = self._wait.idle
        deadline = time.monotonic() + SEND_TIMEOUT_S
        attempt = 0
        while not out.try_push(data):
            if attempt & 63 == 63 or attempt > 256:
                if self.orphaned():
                    raise _Orphaned
                if time.monotonic() > deadline:
                    raise RingFull(
                        f"host {self.host_id}: outbound ring {out.name!r} stayed full for "
                        f"{SEND_TIMEOUT_S} s"
                    )
            idle(attempt)
            attempt += 1

    def _send_events(self, tick_id: int, now_ns: int, events: list[Event]) -> None:
        data = self._encode(EventBatch(self.host_id, tick_id, now_ns, events))
        if len(data) <= self._max_record:
            self._send(data)
            return
        ranges = self._split(events, 0, len(events))
        last = len(ranges) - 1
        for i, (lo, hi) in enumerate(ranges):
            part_id = tick_id if i == last else -tick_id
            self._send(self._encode(EventBatch(self.host_id, part_id, now_ns, events[lo:hi])))

    def _split(self, events: list[Event], lo: int, hi: int) -> list[tuple[int, int]]:
        """Cut ``events[lo:hi]`` into ranges that each fit in one record, in order."""
        size = len(self._encode(EventBatch(self.host_id, 0, 0, events[lo:hi])))
        if size <= self._max_record - _ENVELOPE:
            return [(lo, hi)]
        if hi - lo == 1:
            raise HostError(
                f"host {self.host_id}: one event of {size} bytes exceeds the outbound ring's "
                f"record limit of {self._max_record} bytes"
            )
        mid = (lo + hi) // 2
        return self._split(events, lo, mid) + self._split(events, mid, hi)

    def _send_snapshot(
        self, kind: type[SnapshotTaken] | type[EngineRemoved], symbol_id: int, data: bytes
    ) -> None:
        step = self._max_record - _ENVELOPE
        if len(data) > step:
            for start in range(0, len(data) - step, step):
                part = data[start : start + step]
                self._send(self._encode(kind(self.host_id, -symbol_id, part)))
            data = data[((len(data) - 1) // step) * step :]
        self._send(self._encode(kind(self.host_id, symbol_id, data)))

    # ------------------------------------------------------------------ handling

    def handle(self, batch: list[bytes]) -> bool:
        """Apply ``batch`` in order; return True once ``StopHost`` has been answered."""
        decode = self._decode
        host = self.host
        for raw in batch:
            msg = decode(raw)
            if isinstance(msg, HostTick):
                if msg.commands:
                    host.submit_many(msg.commands)
                events = host.tick(msg.now_ns, self._beat_if_due)
                self._send_events(msg.tick_id, msg.now_ns, events)
            elif isinstance(msg, HostCommands):
                host.submit_many(msg.commands)
            elif isinstance(msg, AddEngine):
                host.add_engine(msg.instrument, msg.snapshot)
                self._send(self._encode(EngineAdded(self.host_id, msg.instrument.symbol_id)))
            elif isinstance(msg, RemoveEngine):
                data = host.remove_engine(msg.symbol_id)
                self._send_snapshot(EngineRemoved, msg.symbol_id, data)
            elif isinstance(msg, TakeSnapshot):
                data = host.snapshot(msg.symbol_id)
                self._send_snapshot(SnapshotTaken, msg.symbol_id, data)
            elif isinstance(msg, StopHost):
                self._send(self._encode(HostStopped(self.host_id)))
                return True
            else:  # pragma: no cover - the decoder only yields the inbound union
                raise HostError(f"host {self.host_id} got an unexpected message {msg!r}")
        return False

    def run(self) -> int:
        """Handle messages until ``StopHost``; return the process exit status."""
        pop_many = self._in.pop_many
        idle = self._wait.idle
        handle = self.handle
        monotonic_ns = time.monotonic_ns
        try:
            self._heartbeat(monotonic_ns())
            attempt = 0
            while True:
                batch = pop_many(POP_BATCH)
                if batch:
                    attempt = 0
                    if handle(batch):
                        return EXIT_STOPPED
                now = monotonic_ns()
                if now >= self._next_heartbeat_ns:
                    if self.orphaned():
                        raise _Orphaned
                    self._heartbeat(now)
                if not batch:
                    idle(attempt)
                    attempt += 1
        except _Orphaned:
            self._in.unlink()
            self._out.unlink()
            return EXIT_ORPHANED
        except Exception as exc:  # anything outside an engine ends the host, loudly
            detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
            with contextlib.suppress(Exception):  # the parent also sees the exit status
                self._out.push(self._encode(HostFailed(self.host_id, detail)), timeout=1.0)
            return EXIT_FAILED


def run_host(
    host_id: int,
    inbound_ring_name: str,
    outbound_ring_name: str,
    cpu: int | None,
    heartbeat_interval_s: float,
    *,
    parent_pid: int | None = None,
    wait: WaitStrategy | None = None,
) -> int:
    """Attach the rings, pin to ``cpu`` if given and allowed, run the loop; return the status.

    ``parent_pid`` is the process whose death ends the loop (default: our parent now).
    Pinning failures (no such CPU, not allowed) are ignored; the parent can read the
    child's affinity with ``os.sched_getaffinity(pid)``.
    """
    if parent_pid is None:
        parent_pid = os.getppid()
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError, ValueError):  # not allowed / no such CPU: unpinned
            os.sched_setaffinity(0, {cpu})
    inbound = SpscRing.attach(inbound_ring_name, wait=wait)
    try:
        outbound = SpscRing.attach(outbound_ring_name, wait=wait)
    except BaseException:
        inbound.close()
        raise
    try:
        loop = HostLoop(
            host_id,
            inbound,
            outbound,
            heartbeat_interval_s=heartbeat_interval_s,
            parent_pid=parent_pid,
            wait=wait,
        )
        return loop.run()
    finally:
        inbound.close()
        outbound.close()


def host_main(
    host_id: int,
    inbound_ring_name: str,
    outbound_ring_name: str,
    cpu: int | None,
    heartbeat_interval_s: float,
) -> None:
    """Process entry point: ignore Ctrl-C (the parent stops us), run, exit with the status."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(run_host(host_id, inbound_ring_name, outbound_ring_name, cpu, heartbeat_interval_s))


def _main(argv: list[str]) -> None:
    # python -m whistle.coord.hosts.loop HOST_ID INBOUND OUTBOUND CPU|- HEARTBEAT_S PARENT_PID
    #   WAIT_SPEC
    host_id, inbound, outbound, cpu, heartbeat, parent, wait = argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(
        run_host(
            int(host_id),
            inbound,
            outbound,
            None if cpu == "-" else int(cpu),
            float(heartbeat),
            parent_pid=int(parent),
            wait=WaitStrategy.parse(wait),
        )
    )


if __name__ == "__main__":
    _main(sys.argv[1:])
