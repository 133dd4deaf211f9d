"""A venue node: keeps its shard leases and runs one ``ShardSequencer`` per held shard.

One wiring place (``VenueNode``), read top to bottom:

1. the node joins the control plane and keeps its shard leases (``ShardKeeper``, a
   thread: heartbeat, acquire the shards assigned to it, renew, report a lost lease);
2. for each shard acquired: ``ShardSequencer.open`` rebuilds the shard
   (``whistle.cluster.sequencer``: snapshot + stream tail, hashes checked), re-publishes
   the rebuilt tail's events, then the shard is served on ``<prefix>.req.<shard>``
   (``serve_shard``: NATS request/reply, one queue group, so one node takes each request;
   the messages are ``whistle.cluster.wire``'s);
3. the fence of each sequencer is its lease (``ControlPlane.valid``, no I/O): a lost lease
   stops the shard before the keeper releases it; a sequencer that stopped on its own (a
   record it did not write, appends left unacknowledged) or a rebuild that failed is
   rebuilt under the same lease, with backoff;
4. a clock loop gives idle symbols with due GTD orders a clock-only batch;
5. ``stop``: stop serving, last snapshots, release the leases, leave.

Names here re-export the wire records and the sequencer (``whistle.cluster.node`` was
their first home).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, final

import nats
import nats.errors

from whistle.cluster.log import ClusterNames, EventLog, LogError
from whistle.cluster.sequencer import (
    ShardSequencer,
    ShardSnapshot,
    SymbolState,
    serve_shard,
)
from whistle.cluster.wire import (
    BAD_REQUEST,
    NOT_OWNER,
    OK,
    UNAVAILABLE,
    AddInstrument,
    ClientOrderAnswer,
    Execute,
    Query,
    Reply,
    Request,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from nats.aio.client import Client
    from nats.aio.subscription import Subscription

    from whistle.cluster.control import ControlPlane, Lease, ShardKeeper

__all__ = [
    "BAD_REQUEST",
    "NOT_OWNER",
    "OK",
    "UNAVAILABLE",
    "AddInstrument",
    "ClientOrderAnswer",
    "Execute",
    "Query",
    "Reply",
    "Request",
    "ShardSequencer",
    "ShardSnapshot",
    "SymbolState",
    "VenueNode",
    "decode_reply",
    "decode_request",
    "encode_reply",
    "encode_request",
    "serve_shard",
]


@final
class VenueNode:
    """A venue node: keeps its shard leases and runs a ``ShardSequencer`` per held shard.

    ``plane`` is the cluster's ``ControlPlane`` (created by whoever set the cluster up);
    ``shards`` asks the control plane to assign those shards to this node when nobody has
    them (otherwise the node serves what it is assigned: ``cluster up``, moves).
    """

    def __init__(
        self,
        nats_url: str,
        plane: ControlPlane,
        *,
        node: str,
        prefix: str = "whistle",
        shards: list[int] | None = None,
        replicas: int = 1,
        max_batch: int = 1024,
        snapshot_every: int = 50_000,
        tick_interval_s: float = 1.0,
        launch: bool = True,
        event_stream: bool = False,
        clock: Callable[[], int] = time.time_ns,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.nats_url = nats_url
        self.plane = plane
        self.node = node
        self.names = ClusterNames(prefix)
        self.wanted = list(shards or [])
        self.replicas = replicas
        self.max_batch = max_batch
        self.snapshot_every = snapshot_every
        self.tick_interval_s = tick_interval_s
        self.launch = launch
        self.event_stream = event_stream
        self.clock = clock
        self.say = log or (lambda line: None)
        self.sequencers: dict[int, ShardSequencer] = {}
        self.errors: list[str] = []
        self._subs: dict[int, Subscription] = {}
        self._opening: dict[int, asyncio.Task[None]] = {}
        self._nc: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.keeper: ShardKeeper | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._stopping = False
        self._restarts: set[asyncio.Task[None]] = set()
        self._restart_count: dict[int, int] = {}

    # -------------------------------------------------------------- start / stop

    async def start(self) -> None:
        """Connect, join the cluster, take the assigned shards' leases and serve them."""
        from whistle.cluster.control import ControlError, ShardKeeper

        self._loop = asyncio.get_running_loop()
        # Reconnect to the next server at once when one dies (nats-py waits 2 s by default).
        self._nc = await nats.connect(
            self.nats_url.split(","),
            connect_timeout=5,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,
        )
        if self.event_stream:
            await EventLog(self._nc, self.names).ensure_stream(
                self._nc.jetstream(), replicas=self.replicas
            )
        plane = self.plane
        if self.launch:
            await asyncio.to_thread(plane.launch, self.node)
        for shard in self.wanted:
            with contextlib.suppress(ControlError):
                await asyncio.to_thread(plane.assign, shard, self.node)
        self.keeper = ShardKeeper(
            plane,
            self.node,
            on_acquired=self._on_acquired,
            on_lost=self._on_lost,
            supervise=self.launch,
        )
        await asyncio.to_thread(self.keeper.start)
        self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())

    def _on_acquired(self, lease: Lease) -> None:
        # The keeper's thread: hand the lease to the loop.
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._open_soon, lease)

    def _open_soon(self, lease: Lease) -> None:
        task = asyncio.get_running_loop().create_task(self._open(lease))
        self._opening[lease.shard] = task

    def _on_lost(self, shard: int) -> None:
        # The keeper's thread; return only once the shard acknowledges nothing more (the
        # lease is already marked ended, so the fence refuses; this stops it outright).
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self._lose(shard, "lease lost"), loop)
        with contextlib.suppress(Exception):
            future.result(timeout=10)

    def _fence(self, shard: int, token: int) -> Callable[[], bool]:
        keeper = self.keeper
        plane = self.plane
        assert keeper is not None

        def fence() -> bool:
            lease = keeper.lease(shard)
            return lease is not None and lease.token == token and plane.valid(lease)

        return fence

    async def _placement(self, symbol: str) -> int | None:
        # Read at each AddInstrument (rare): an override set since is seen at once.
        from whistle.cluster.control import ControlError

        try:
            return await asyncio.to_thread(self.plane.shard_of, symbol)
        except ControlError:
            return None

    async def _open(self, lease: Lease) -> None:
        shard = lease.shard
        assert self._nc is not None
        old = self.sequencers.pop(shard, None)
        if old is not None:
            await self._close_one(shard, old, snapshot=False)
        seq = ShardSequencer(
            self._nc,
            self.names,
            shard,
            lease.token,
            fence=self._fence(shard, lease.token),
            replicas=self.replicas,
            max_batch=self.max_batch,
            snapshot_every=self.snapshot_every,
            clock=self.clock,
            on_stop=self._sequencer_stopped,
            event_stream=self.event_stream,
            placement=self._placement,
        )
        t0 = time.perf_counter()
        try:
            # The tail's events again: what the last owner may not have sent. The events
            # stream keeps only those it lacks; front ends drop seqs they already had.
            report = await seq.open(publish_events=True)
        except (LogError, nats.errors.Error, OSError, ValueError) as exc:
            self.errors.append(f"shard {shard}: rebuild failed: {exc}")
            self.say(f"shard {shard}: rebuild failed: {exc}")
            if not self._stopping:  # try again while the lease holds (NATS back, ...)
                task = asyncio.get_running_loop().create_task(
                    self._reopen_later(shard, lease.token, 0)
                )
                self._restarts.add(task)
                task.add_done_callback(self._restarts.discard)
            return
        finally:
            self._opening.pop(shard, None)
        if not seq.fence():
            self.say(f"shard {shard}: lease ended during the rebuild")
            return
        self.sequencers[shard] = seq
        self._subs[shard] = await serve_shard(seq)
        self.say(
            f"shard {shard}: serving (token {lease.token}, rebuilt in"
            f" {time.perf_counter() - t0:.3f} s: {report})"
        )

    def _sequencer_stopped(self, shard: int, why: str) -> None:
        # A sequencer stopped on its own (a SequencerConflict: a record it did not know of
        # landed on a subject, e.g. a fenced owner's append delayed in flight; or appends
        # that stayed unacknowledged). While this node still holds the lease, rebuild the
        # shard (the rebuild reads that record) and serve again.
        self.say(f"shard {shard}: stopped: {why}")
        seq = self.sequencers.get(shard)
        if seq is not None and self._loop is not None and not self._stopping:
            task = self._loop.create_task(self._restart(shard, seq.token, why, seq.acked))
            self._restarts.add(task)
            task.add_done_callback(self._restarts.discard)

    async def _restart(self, shard: int, token: int, why: str, acked: int) -> None:
        await self._lose(shard, why)
        await self._reopen_later(shard, token, acked)

    async def _reopen_later(self, shard: int, token: int, acked: int) -> None:
        # Back off while restarts fail at once; a sequencer that worked resets it.
        tries = 0 if acked else self._restart_count.get(shard, 0)
        self._restart_count[shard] = tries + 1
        await asyncio.sleep(min(5.0, 0.1 * 2**tries))
        keeper = self.keeper
        lease = keeper.lease(shard) if keeper is not None else None
        if (
            self._stopping
            or lease is None
            or lease.token != token
            or not self.plane.valid(lease)
            or shard in self.sequencers
            or shard in self._opening
        ):
            return
        self.say(f"shard {shard}: rebuilding under the same lease (token {token})")
        self._open_soon(lease)

    async def _lose(self, shard: int, why: str) -> None:
        opening = self._opening.pop(shard, None)
        if opening is not None:
            opening.cancel()
        seq = self.sequencers.pop(shard, None)
        if seq is not None:
            seq._stop(f"shard {shard}: {why}")  # at once, before any await
            await self._close_one(shard, seq, snapshot=False)

    async def _close_one(self, shard: int, seq: ShardSequencer, *, snapshot: bool) -> None:
        sub = self._subs.pop(shard, None)
        if sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        await seq.close(snapshot=snapshot)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval_s)
            for seq in list(self.sequencers.values()):
                seq.want_ticks()

    async def stop(self) -> None:
        """Stop serving (last snapshots), release the leases, leave, disconnect."""
        self._stopping = True
        for task in list(self._restarts):
            task.cancel()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for task in list(self._opening.values()):
            task.cancel()
        for shard, seq in list(self.sequencers.items()):
            # Stop taking requests first, then snapshot while the lease still holds.
            sub = self._subs.pop(shard, None)
            if sub is not None:
                with contextlib.suppress(nats.errors.Error):
                    await sub.unsubscribe()
            await seq.close(snapshot=True)
        self.sequencers.clear()
        if self.keeper is not None:
            await asyncio.to_thread(self.keeper.stop, release=True)
        if self.launch:
            await asyncio.to_thread(self.plane.shutdown)
        if self._nc is not None:
            await self._nc.close()
