"""``ProcessHost``: an engine host in a process of its own, spoken to over two SPSC rings.

The parent side owns both shared-memory rings (``whistle-<pid>-h<id>i-…`` inbound and
``…o-…`` outbound), starts the child as a fresh interpreter running
``python -m whistle.coord.hosts.loop`` and waits for its first ``Heartbeat``. The child runs
an ``InProcessHost``, so events are those of the embedded mode, message for message.

Semantics beyond the ``EngineHost`` contract:

- ``submit`` checks what the child could not report back (unknown symbol: ``UnknownEngine``;
  ``enq_seq`` not increasing for the symbol: ``ValueError``; host dead: ``HostDead``),
  then appends ``(enq_seq, command)`` to the host's list for the next tick: nothing is
  encoded or sent per command. True means *accepted*: the command reaches the host, in
  order, with the next ``begin_tick``. False means nothing was queued: the symbol already
  has ``queue_depth`` commands waiting for the next tick (the bound of ``InProcessHost``).
  Nothing drains before a tick, so ``can_drain`` is False and a refusal is final until
  the tick; ``free_slots`` is ``queue_depth`` minus the symbol's waiting commands.
- ``begin_tick`` encodes every waiting command and the tick into *one* ``HostTick`` record
  with one msgspec call (a tick too large for one ring record is cut into leading
  ``HostCommands`` records and a final ``HostTick``), pushes it (waiting for room if
  needed, while watching the host) and returns at once: several hosts tick in parallel.
  The child answers with one ``EventBatch`` (decoded with one call). If the host is (or
  turns out) dead ``begin_tick`` still returns a tick id, whose ``end_tick`` raises
  ``HostDead``.
- Waiting: the parent (for a tick, a reply, room) and the child (for its next message)
  idle with the host's ``WaitStrategy`` (``wait``: spin, then yield, then sleep, with its
  thresholds; the parent caps its sleeps at ``PARENT_MAX_SLEEP_S``).
- ``end_tick(tick_id, timeout)`` collects outbound messages until that tick's batch is
  complete, keeping heartbeats, replies and other ticks' batches on the way. It raises
  ``HostDead`` (with the cause: exit code, signal name, ``HostFailed`` detail, or stale
  heartbeat) and ``HostTimeout`` after ``timeout`` s (``None``: wait while the host lives).
- Every wait of the parent (room in the inbound ring, a reply, a tick) also drains the
  outbound ring, so parent and child can never block each other on two full rings.
- Liveness: the host is dead once its process has exited, it sent ``HostFailed``, or its
  newest heartbeat is older than ``dead_after_s`` (which must exceed the longest tick: the
  child does not beat in the middle of one). The age is measured from the heartbeat's
  ``CLOCK_MONOTONIC`` stamp (shared by all processes on Linux). The default
  (``DEFAULT_DEAD_AFTER_S``, 5 s) outlasts a GC pause, a SIGSTOP of a second or a loaded
  machine; a child that exited is noticed at once whatever the timeout. A child declared
  dead by a stale heartbeat is SIGKILLed there and then: a stalled process that resumed
  later could otherwise still read the inbound ring and write events nobody expects.
- ``stop(timeout)`` flushes, sends ``StopHost``, waits for ``HostStopped`` and the exit,
  then terminates / kills the child if needed and closes and unlinks both rings (also when
  the host is already dead). Commands never ticked are discarded, as in ``InProcessHost``.
- Spawn: the child imports the parent's ``__main__`` module, so a script must create hosts
  under ``if __name__ == "__main__":``; a daemonic process cannot create hosts (the child is
  daemonic too, so an interpreter that exits without ``stop`` terminates it).
- Shared memory: at start ``cleanup_stale()`` reclaims ``whistle-`` blocks of dead
  processes (e.g. a SIGKILLed earlier parent); the child unlinks both rings and exits when
  its parent dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Final, final

import msgspec

from whistle.coord.errors import HostDead, HostStateError, HostTimeout
from whistle.coord.hosts.base import EngineHost
from whistle.coord.hosts.local import DEFAULT_QUEUE_DEPTH, UnknownEngine
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
from whistle.engine import decode_snapshot
from whistle.ipc import SpscRing, WaitStrategy, cleanup_stale, make_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.core.instrument import Instrument

__all__ = [
    "DEFAULT_DEAD_AFTER_S",
    "DEFAULT_HEARTBEAT_INTERVAL_S",
    "DEFAULT_STOP_TIMEOUT_S",
    "PARENT_MAX_SLEEP_S",
    "ProcessHost",
]

#: How often an idle or busy host sends a heartbeat.
DEFAULT_HEARTBEAT_INTERVAL_S: Final = 0.05
#: A host whose newest heartbeat is older than this is declared dead (and killed).
DEFAULT_DEAD_AFTER_S: Final = 5.0
#: ``stop(None)`` waits this long for an orderly exit before terminating the child.
DEFAULT_STOP_TIMEOUT_S: Final = 10.0
#: The parent's longest idle sleep while it waits for a tick or a reply (latency vs CPU).
PARENT_MAX_SLEEP_S: Final = 100e-6
_POP_BATCH: Final = 256
_KILL_WAIT_S: Final = 5.0
_ENVELOPE: Final = 64  # bytes kept free in a record for the tick's header
# ``HostTick`` / ``HostCommands`` are array_like Structs tagged with an int: they encode
# exactly like the tuples ``(tag, now_ns, tick_id, commands)`` / ``(tag, commands)``, which
# msgspec encodes without building a Struct (the tests check the bytes are equal).
_TICK_TAG: Final = HostTick.__struct_config__.tag
_COMMANDS_TAG: Final = HostCommands.__struct_config__.tag
_REPLY_ADDED: Final = 1
_REPLY_REMOVED: Final = 2
_REPLY_SNAPSHOT: Final = 3


@final
class _ChildProcess:
    """A host process started as ``python -m whistle.coord.hosts.loop``.

    A fresh interpreter, not ``multiprocessing``'s spawn: spawn re-imports the parent's
    ``__main__``, which fails for code run from stdin or ``-c`` and forces every script to
    guard its entry point. The child finds whistle where the parent did (``PYTHONPATH``).
    Same surface as ``multiprocessing.Process`` for what the host uses; ``exitcode`` is
    negative for a signal, as there.
    """

    def __init__(
        self,
        host_id: int,
        inbound: str,
        outbound: str,
        cpu: int | None,
        heartbeat_interval_s: float,
        wait: WaitStrategy,
    ) -> None:
        self._args = [
            sys.executable,
            "-m",
            "whistle.coord.hosts.loop",
            str(host_id),
            inbound,
            outbound,
            "-" if cpu is None else str(cpu),
            repr(heartbeat_interval_s),
            str(os.getpid()),
            wait.spec(),
        ]
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        # .../<root>/whistle/coord/host_process.py: <root> is where whistle was imported from
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._popen = subprocess.Popen(self._args, env=env, stdin=subprocess.DEVNULL)  # noqa: S603 - our own interpreter and module

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    @property
    def exitcode(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def join(self, timeout: float | None = None) -> None:
        if self._popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout)

    def terminate(self) -> None:
        if self._popen is not None and self._popen.poll() is None:
            self._popen.terminate()

    def kill(self) -> None:
        if self._popen is not None and self._popen.poll() is None:
            self._popen.kill()

    def close(self) -> None:
        """Release nothing: a finished Popen holds no resources once waited for."""


def _exit_cause(host_id: int, code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"host {host_id} exited with signal {name}"
    return f"host {host_id} exited with code {code}"


@final
class ProcessHost(EngineHost):
    """Engines of several symbols in a child process (spawned), optionally pinned to a CPU."""

    def __init__(
        self,
        host_id: int,
        *,
        cpu: int | None = None,
        ring_capacity: int = 1 << 22,
        heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S,
        dead_after_s: float = DEFAULT_DEAD_AFTER_S,
        start_timeout_s: float = 10.0,
        queue_depth: int = DEFAULT_QUEUE_DEPTH,
        wait: WaitStrategy | None = None,
    ) -> None:
        if queue_depth < 1:
            raise ValueError(f"queue_depth must be at least 1, was {queue_depth}")
        if not 0 < heartbeat_interval_s < dead_after_s:
            raise ValueError(
                f"need 0 < heartbeat_interval_s < dead_after_s, were {heartbeat_interval_s} "
                f"and {dead_after_s}"
            )
        self.host_id = host_id
        self.cpu = cpu
        self.queue_depth = queue_depth
        self.heartbeat_interval_s = heartbeat_interval_s
        self.dead_after_s = dead_after_s
        self._dead_after_ns = int(dead_after_s * 1e9)
        child_wait = wait if wait is not None else WaitStrategy()
        self.wait = child_wait
        self._wait = child_wait.capped(PARENT_MAX_SLEEP_S)
        codec = WireCodec()
        self._encode = codec.encode
        self._decode = codec.decode_outbound
        self._encode_raw = msgspec.msgpack.Encoder().encode
        # symbol_id -> [highest enq_seq submitted, commands queued since the last tick]
        self._mirror: dict[int, list[int]] = {}
        self._symbol_ids: frozenset[int] | None = None  # frozenset(_mirror), cached
        self._pending: list[tuple[int, Command]] = []  # for the next tick, in enq_seq order
        self.records_sent = 0
        """Records pushed into the inbound ring so far (one per tick, plus control)."""
        self._touched: list[list[int]] = []  # mirror slots with commands waiting
        self._next_tick_id = 1
        self._inflight: set[int] = set()
        self._done: dict[int, list[Event]] = {}
        self._parts: dict[int, list[Event]] = {}
        self._replies: dict[tuple[int, int], bytes] = {}
        self._chunks: dict[tuple[int, int], list[bytes]] = {}
        self._now_ns = 0
        self._floor_ns = 0
        self._heartbeats = 0
        self._last_beat_ns = 0  # newest heartbeat stamp, or a backlog drain (see _pump)
        self._host_stopped = False
        self._failure: str | None = None
        self._stopped = False
        self._pid: int | None = None

        cleanup_stale()
        self._in = SpscRing.create(make_name(f"h{host_id}i"), ring_capacity, wait=self._wait)
        try:
            self._out = SpscRing.create(make_name(f"h{host_id}o"), ring_capacity, wait=self._wait)
        except BaseException:
            self._in.close()
            raise
        self._proc = _ChildProcess(
            host_id, self._in.name, self._out.name, cpu, heartbeat_interval_s, child_wait
        )
        try:
            self._proc.start()
            self._pid = self._proc.pid
            self._await(lambda: self._heartbeats > 0, time.monotonic() + start_timeout_s)
        except HostTimeout as exc:
            code = self._proc.exitcode
            self._abort()
            state = "still running" if code is None else _exit_cause(host_id, code)
            raise HostTimeout(
                f"host {host_id} sent no heartbeat within {start_timeout_s} s ({state})"
            ) from exc
        except BaseException:
            self._abort()
            raise

    # ------------------------------------------------------------------ properties

    @property
    def pid(self) -> int | None:
        """Return the child's process id."""
        return self._pid

    @property
    def ring_names(self) -> tuple[str, str]:
        """Return the names of the inbound and outbound shared-memory blocks."""
        return self._in.name, self._out.name

    @property
    def heartbeats(self) -> int:
        """Return how many heartbeats the parent has read so far."""
        return self._heartbeats

    @property
    def symbols(self) -> frozenset[int]:
        """Return the symbol ids of the engines on this host."""
        ids = self._symbol_ids
        if ids is None:  # rebuilt only after an engine came or went, not every tick
            ids = self._symbol_ids = frozenset(self._mirror)
        return ids

    def cpu_affinity(self) -> frozenset[int] | None:
        """Return the CPUs the child may run on (None where the OS cannot tell)."""
        pid = self._pid
        if pid is None or not hasattr(os, "sched_getaffinity"):
            return None
        try:
            return frozenset(os.sched_getaffinity(pid))
        except OSError:
            return None

    # ------------------------------------------------------------------ outbound

    def _pump(self) -> int:
        """Read and file whatever the host has sent; return how many records."""
        out = self._out
        backlog = out.readable_bytes > out.capacity >> 1
        raws = out.pop_many(_POP_BATCH)
        if not raws:
            return 0
        if backlog:
            # The child skips heartbeats while the ring is this full: count the drain as one.
            self._last_beat_ns = max(self._last_beat_ns, time.monotonic_ns())
        decode = self._decode
        for raw in raws:
            msg = decode(raw)
            if isinstance(msg, EventBatch):
                tick_id = msg.tick_id
                if tick_id > 0:
                    parts = self._parts.pop(tick_id, None)
                    if parts is None:
                        self._done[tick_id] = msg.events
                    else:
                        parts += msg.events
                        self._done[tick_id] = parts
                else:
                    self._parts.setdefault(-tick_id, []).extend(msg.events)
            elif isinstance(msg, Heartbeat):
                self._heartbeats += 1
                if msg.monotonic_ns > self._last_beat_ns:
                    self._last_beat_ns = msg.monotonic_ns
            elif isinstance(msg, SnapshotTaken | EngineRemoved):
                kind = _REPLY_SNAPSHOT if isinstance(msg, SnapshotTaken) else _REPLY_REMOVED
                if msg.symbol_id < 0:
                    self._chunks.setdefault((kind, -msg.symbol_id), []).append(msg.snapshot)
                else:
                    head = self._chunks.pop((kind, msg.symbol_id), None)
                    data = msg.snapshot if head is None else b"".join([*head, msg.snapshot])
                    self._replies[kind, msg.symbol_id] = data
            elif isinstance(msg, EngineAdded):
                self._replies[_REPLY_ADDED, msg.symbol_id] = b""
            elif isinstance(msg, HostStopped):
                self._host_stopped = True
            elif isinstance(msg, HostFailed):
                self._failure = f"host {self.host_id} failed: {msg.detail}"
        return len(raws)

    def _refresh(self) -> None:
        """Set ``_failure`` if the child exited or its heartbeat went stale."""
        if self._failure is not None or self._stopped:
            return
        code = self._proc.exitcode
        if code is not None:
            while self._pump():  # it may have said why (HostFailed) before exiting
                pass
            if code == 0 and self._host_stopped:
                return  # an orderly exit after StopHost
            cause = _exit_cause(self.host_id, code)
            if self._failure is None:
                self._failure = cause
            else:
                self._failure = f"{self._failure} ({cause})"
            return
        if self._heartbeats:
            age = time.monotonic_ns() - self._last_beat_ns
            if age > self._dead_after_ns:
                while self._pump():
                    pass
                age = time.monotonic_ns() - self._last_beat_ns
                if age > self._dead_after_ns and self._failure is None:
                    self._failure = (
                        f"host {self.host_id} sent no heartbeat for {age / 1e9:.3f} s "
                        f"(dead after {self._dead_after_ns / 1e9} s); killed it"
                    )
                    # Dead means dead: a stalled child that resumed would go on reading
                    # and writing the rings behind the parent's back.
                    self._proc.kill()
                    self._proc.join(_KILL_WAIT_S)

    def _await(self, done: Callable[[], bool], deadline: float | None) -> None:
        """Wait until ``done()``, reading outbound messages; HostDead / HostTimeout."""
        idle = self._wait.idle
        spin = self._wait.spin
        attempt = 0
        while True:
            if self._pump():
                attempt = 0
            if done():
                return
            if self._failure is not None:
                raise HostDead(self._failure)
            if attempt >= spin or attempt & 63 == 63:
                self._refresh()
                if self._failure is not None:
                    if done():
                        return
                    raise HostDead(self._failure)
                if deadline is not None and time.monotonic() >= deadline:
                    raise HostTimeout(f"host {self.host_id} did not answer in time")
            idle(attempt)
            attempt += 1

    # ------------------------------------------------------------------ inbound

    def _send(self, data: bytes, deadline: float | None = None) -> None:
        """Push one record, waiting for room (and watching the host) if the ring is full."""
        self.records_sent += 1
        push = self._in.try_push
        if not push(data):
            self._await(lambda: push(data), deadline)

    def _send_tick(self, now_ns: int, tick_id: int, pending: list[tuple[int, Command]]) -> None:
        """Send ``pending`` and the tick: one record, or several if it is too large."""
        encode = self._encode_raw
        data = encode((_TICK_TAG, now_ns, tick_id, pending))
        limit = self._in.max_record_size
        if len(data) <= limit:
            self._send(data)
            return
        parts = self._split(pending, 0, len(pending), limit - _ENVELOPE)
        for lo, hi in parts[:-1]:
            self._send(encode((_COMMANDS_TAG, pending[lo:hi])))
        lo, hi = parts[-1]
        self._send(encode((_TICK_TAG, now_ns, tick_id, pending[lo:hi])))

    def _split(
        self, pending: list[tuple[int, Command]], lo: int, hi: int, limit: int
    ) -> list[tuple[int, int]]:
        """Cut ``pending[lo:hi]`` into ranges that each encode within ``limit`` bytes."""
        size = len(self._encode_raw((_COMMANDS_TAG, pending[lo:hi])))
        if size <= limit:
            return [(lo, hi)]
        if hi - lo == 1:
            raise ValueError(
                f"one command of {size} bytes exceeds the inbound ring's record limit of "
                f"{limit} bytes: raise ring_capacity"
            )
        mid = (lo + hi) // 2
        return self._split(pending, lo, mid, limit) + self._split(pending, mid, hi, limit)

    def _check_usable(self) -> None:
        if self._stopped:
            raise HostStateError(f"host {self.host_id} is stopped")
        if self._failure is not None:
            raise HostDead(self._failure)

    def _mirror_slot(self, symbol_id: int, what: str) -> list[int]:
        slot = self._mirror.get(symbol_id)
        if slot is None:
            self._check_usable()
            raise UnknownEngine(
                f"host {self.host_id} has no engine for symbol {symbol_id} ({what}); "
                f"it runs {sorted(self._mirror)}"
            )
        return slot

    def _request(
        self, message: AddEngine | RemoveEngine | TakeSnapshot, key: tuple[int, int]
    ) -> bytes:
        self._send(self._encode(message))
        replies = self._replies
        self._await(lambda: key in replies, None)
        return replies.pop(key)

    # ------------------------------------------------------------------ EngineHost

    def add_engine(self, instrument: Instrument, snapshot: bytes = b"") -> None:
        """Create the engine of ``instrument`` in the host (restored from ``snapshot``)."""
        self._check_usable()
        symbol_id = instrument.symbol_id
        if symbol_id in self._mirror:
            raise HostStateError(f"host {self.host_id} already runs symbol {symbol_id}")
        last_seq = 0
        if snapshot:
            snap = decode_snapshot(snapshot)
            if snap.instrument.symbol_id != symbol_id:
                raise ValueError(
                    f"snapshot is of symbol {snap.instrument.symbol_id}, "
                    f"expected {symbol_id} ({instrument.symbol})"
                )
            last_seq = snap.last_enq_seq
            self._floor_ns = max(self._floor_ns, snap.now_ns)
        message = AddEngine(instrument, snapshot)
        size = len(self._encode(message))
        if size > self._in.max_record_size:
            raise ValueError(
                f"snapshot of symbol {symbol_id} ({size} bytes encoded) exceeds the inbound "
                f"ring's record limit of {self._in.max_record_size} bytes: raise ring_capacity"
            )
        self._request(message, (_REPLY_ADDED, symbol_id))
        self._mirror[symbol_id] = [last_seq, 0]
        self._symbol_ids = None

    def _quiet(self, symbol_id: int, what: str) -> None:
        self._check_usable()
        slot = self._mirror_slot(symbol_id, what)
        if slot[1]:
            raise HostStateError(
                f"cannot {what} symbol {symbol_id} on host {self.host_id}: "
                f"{slot[1]} commands wait for the next tick (take it between ticks)"
            )

    def remove_engine(self, symbol_id: int) -> bytes:
        """Remove an engine; return its final snapshot (msgpack)."""
        self._quiet(symbol_id, "remove")
        data = self._request(RemoveEngine(symbol_id), (_REPLY_REMOVED, symbol_id))
        del self._mirror[symbol_id]
        self._symbol_ids = None
        return data

    def snapshot(self, symbol_id: int) -> bytes:
        """Return a snapshot (msgpack) of a running engine, taken between ticks."""
        self._quiet(symbol_id, "snapshot")
        return self._request(TakeSnapshot(symbol_id), (_REPLY_SNAPSHOT, symbol_id))

    def submit(self, enq_seq: int, command: Command) -> bool:
        """Queue a sequenced command for the next tick; False if its symbol's queue is full."""
        slot = self._mirror.get(command.symbol_id)
        if slot is None:
            slot = self._mirror_slot(command.symbol_id, "submit")
        if self._failure is not None:
            raise HostDead(self._failure)
        if enq_seq <= slot[0]:
            raise ValueError(
                f"enq_seq must increase per symbol: {enq_seq} after {slot[0]} "
                f"for symbol {command.symbol_id}"
            )
        waiting = slot[1]
        if waiting >= self.queue_depth:
            return False
        if not waiting:
            self._touched.append(slot)
        self._pending.append((enq_seq, command))
        slot[0] = enq_seq
        slot[1] = waiting + 1
        return True

    def free_slots(self, symbol_id: int) -> int:
        """Return how many commands for ``symbol_id`` ``submit`` accepts now; ``HostDead``."""
        slot = self._mirror.get(symbol_id)
        if slot is None:
            slot = self._mirror_slot(symbol_id, "free_slots")
        if self._failure is not None:
            raise HostDead(self._failure)
        return self.queue_depth - slot[1]

    def can_drain(self, symbol_id: int) -> bool:
        """Return False: commands reach the child only with a tick, nothing drains before."""
        return False

    def begin_tick(self, now_ns: int) -> int:
        """Send the waiting commands with ``HostTick(now_ns)`` (one record); return the tick id."""
        if self._stopped:
            raise HostStateError(f"host {self.host_id} is stopped")
        if now_ns < self._now_ns or now_ns < self._floor_ns:
            raise ValueError(
                f"time must not go backwards: host {self.host_id} is at "
                f"{max(self._now_ns, self._floor_ns)}, was given {now_ns}"
            )
        tick_id = self._next_tick_id
        self._next_tick_id = tick_id + 1
        self._now_ns = now_ns
        self._inflight.add(tick_id)
        pending = self._pending
        if pending:
            self._pending = []
        if self._failure is None:
            with contextlib.suppress(HostDead):  # end_tick(tick_id) raises it
                self._send_tick(now_ns, tick_id, pending)
        touched = self._touched
        if touched:
            for slot in touched:
                slot[1] = 0
            touched.clear()
        return tick_id

    def end_tick(self, tick_id: int, timeout: float | None = None) -> list[Event]:
        """Wait for tick ``tick_id``'s events; ``HostDead`` / ``HostTimeout`` if they fail."""
        if self._stopped:
            raise HostStateError(f"host {self.host_id} is stopped")
        if tick_id not in self._inflight:
            raise HostStateError(
                f"tick {tick_id} of host {self.host_id} was not begun or was already ended"
            )
        done = self._done
        if tick_id not in done:
            deadline = None if timeout is None else time.monotonic() + timeout
            self._await(lambda: tick_id in done, deadline)
        self._inflight.discard(tick_id)
        return done.pop(tick_id)

    def alive(self) -> bool:
        """Return whether the child runs and beats (reads what it has sent first)."""
        if self._stopped:
            return False
        while self._pump():
            pass
        self._refresh()
        return self._failure is None

    def failure(self) -> str | None:
        """Return why the host died (exit code or signal, ``HostFailed``, stale heartbeat)."""
        if not self._stopped:
            while self._pump():
                pass
            self._refresh()
        return self._failure

    def stop(self, timeout: float | None = None) -> None:
        """Drain, stop the child (terminate/kill after ``timeout``), unlink both rings."""
        if self._stopped:
            raise HostStateError(f"host {self.host_id} is already stopped")
        budget = DEFAULT_STOP_TIMEOUT_S if timeout is None else timeout
        deadline = time.monotonic() + budget
        try:
            self._refresh()
            if self._failure is None and self._proc.exitcode is None:
                try:
                    self._send(self._encode(StopHost()), deadline)
                    self._await(lambda: self._host_stopped, deadline)
                except (HostDead, HostTimeout):
                    pass  # the child is terminated below
            self._stopped = True
            self._in.mark_closed()
            if self._failure is not None:
                self._reap(0.0, hard=True)  # dead or hung: no orderly exit to wait for
            else:
                self._reap(max(deadline - time.monotonic(), 0.0), hard=False)
        finally:
            self._stopped = True
            self._release()

    # ------------------------------------------------------------------ teardown

    def _reap(self, grace: float, *, hard: bool) -> None:
        proc = self._proc
        if proc.exitcode is None and grace > 0:
            proc.join(grace)
        if proc.exitcode is None and not hard:
            proc.terminate()
            proc.join(1.0)
        if proc.exitcode is None:
            proc.kill()  # also ends a SIGSTOPped child, which SIGTERM would not
            proc.join()

    def _release(self) -> None:
        self._mirror.clear()
        self._symbol_ids = None
        self._pending.clear()
        self._touched.clear()
        self._done.clear()
        self._parts.clear()
        self._inflight.clear()
        self._in.close()
        self._out.close()
        if self._proc.exitcode is not None:
            self._proc.close()

    def _abort(self) -> None:
        """Kill a child that failed to start and release everything."""
        self._stopped = True
        try:
            if self._pid is not None:
                self._proc.kill()
                self._proc.join()
        finally:
            self._release()

    def __repr__(self) -> str:
        if self._stopped:
            state = "stopped"
        elif self._failure is not None:
            state = f"dead: {self._failure}"
        else:
            state = f"pid {self._pid}, {len(self._mirror)} engines"
        return f"ProcessHost({self.host_id}, {state})"
