"""The failover harness (H6): a local cluster of node processes, a seeded load through the
stateless front end, and the checks that read the logs back.

``Load`` sends each symbol's seeded command flow one command at a time (so a symbol's
commands are sequenced in the order sent) through ``ClusterBackend`` and records every
outcome: *acknowledged* (it has an ``enq_seq``) or *unknown* (the request timed out or the
node stopped: it may or may not be in the log). ``audit`` then reads every shard's
command stream and the events stream and proves:

- every acknowledged command is in its symbol's log at its ``enq_seq``, exactly once;
- each symbol's log is contiguous (enq_seq 1, 2, ... with no gap and no overlap: nothing
  was sequenced twice) and its fencing tokens never go down (no old owner wrote after a
  new one);
- replaying the log through a fresh engine gives exactly the events in the events
  stream, whose ``seq`` runs 1..N without a gap or a duplicate, and the state hash the
  cluster reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nats
import nats.errors
import nats.js.errors
from cluster_flow import flow, instruments
from control_support import PG_URL, require_postgres, unique_schema
from nats.js import api

from whistle.cluster.control import ControlPlane
from whistle.cluster.frontend import ClusterBackend
from whistle.cluster.local import LocalCluster
from whistle.cluster.log import (
    Batch,
    ClusterNames,
    Define,
    Fenced,
    decode_events,
    decode_record,
    msg_id_token,
)
from whistle.engine import Whistle

if TYPE_CHECKING:
    from collections.abc import Iterator

    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.core.instrument import Instrument

# The node CLI by its module (works whether or not `whistle node` is registered yet).
NODE_COMMAND = [sys.executable, "-c", "from whistle.cli.node import node; node()", "run"]
KILLS = int(os.environ.get("WHISTLE_CLUSTER_KILLS", "0") or 0)


@dataclass
class Cluster:
    local: LocalCluster
    plane: ControlPlane
    urls: list[str]
    prefix: str
    schema: str


@contextlib.contextmanager
def local_cluster(
    tmp_path: Path,
    *,
    nodes: int = 3,
    nats_servers: int = 1,
    shards: int = 6,
    lease_s: float = 2.0,
    node_args: list[str] | None = None,
    db: str = PG_URL,
) -> Iterator[Cluster]:
    """``whistle cluster up`` in ``tmp_path`` (nodes with the events stream); down after."""
    require_postgres()
    schema = unique_schema()
    local = LocalCluster(tmp_path / "cluster")
    state = local.up(
        nodes=nodes,
        nats_servers=nats_servers,
        shards=shards,
        db=db,
        schema=schema,
        prefix="wf" + schema[2:],
        lease_s=lease_s,
        safety_s=lease_s / 4,
        node_timeout_s=lease_s,
        node_command=NODE_COMMAND,
        node_args=["--event-stream", "--snapshot-every", "200", *(node_args or [])],
    )
    plane = ControlPlane.attach(PG_URL, schema=schema)
    try:
        yield Cluster(local, plane, state.nats_urls, state.prefix, schema)
    except BaseException:
        # down removes the logs: show what the nodes said first
        for record in local.state().nodes:
            with contextlib.suppress(OSError):
                lines = Path(record.log).read_text().splitlines()
                print(f"--- {record.name} (pid {record.pid}), last lines:", *lines[-25:], sep="\n")
        raise
    finally:
        plane.close()
        local.down()


@dataclass
class Sent:
    symbol_id: int
    command: Command
    sent_at: float
    done_at: float = 0.0
    enq_seq: int = 0
    error: str | None = None


@dataclass
class Load:
    """Seeded per-symbol flows through the front end (see the module docstring)."""

    backend: ClusterBackend
    insts: list[Instrument]
    seed: int
    per_symbol: int = 100_000
    pace_s: float = 0.01  # between a symbol's commands: a steady load, not a flood
    sent: list[Sent] = field(default_factory=list)
    heard: dict[int, list[Event]] = field(default_factory=dict)  # the front end's listener
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self.backend.add_listener(self._hear)
        for k, inst in enumerate(self.insts):
            commands = flow([inst.symbol_id], self.per_symbol, seed=self.seed * 1000 + k)
            self._tasks.append(asyncio.get_running_loop().create_task(self._run(commands)))

    async def _run(self, commands: list[Command]) -> None:
        for command in commands:
            if self._stop.is_set():
                return
            record = Sent(command.symbol_id, command, time.monotonic())  # type: ignore[attr-defined]
            self.sent.append(record)
            [outcome] = await self.backend.execute([command])
            record.done_at = time.monotonic()
            record.enq_seq = outcome.enq_seq
            record.error = outcome.error
            # a failover in progress: do not spin
            await asyncio.sleep(0.02 if outcome.error else self.pace_s)

    def _hear(self, events: list[Event]) -> None:
        for e in events:
            if e.seq:
                self.heard.setdefault(e.symbol_id, []).append(e)

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            await task

    def acked(self) -> list[Sent]:
        return [s for s in self.sent if s.enq_seq and s.error is None]

    def acked_after(self, symbol_ids: set[int], t: float) -> list[Sent]:
        return [s for s in self.acked() if s.symbol_id in symbol_ids and s.sent_at > t]

    async def wait(self, what: str, cond: Any, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not happen within {timeout_s:g} s")
            await asyncio.sleep(0.02)


async def front_end(cluster: Cluster, *, timeout_s: float = 2.0) -> ClusterBackend:
    nc = await nats.connect(
        cluster.urls, connect_timeout=5, max_reconnect_attempts=-1, reconnect_time_wait=0.1
    )
    backend = ClusterBackend(nc, ClusterNames(cluster.prefix), cluster.plane.shard_map())
    backend.client.timeout_s = timeout_s  # an Execute lost with a killed node: unknown soon
    backend.client.retry_s = 60.0
    await backend.start()
    return backend


async def define(backend: ClusterBackend, n: int) -> list[Instrument]:
    insts = instruments(n)
    for inst in insts:
        await backend.add_instrument(inst)
    return insts


# ---------------------------------------------------------------------- reading the logs


@dataclass
class Entry:
    stream_seq: int
    subject: str
    msg_id: str
    data: bytes


async def read_stream(js: Any, stream: str, subjects: str) -> list[Entry]:
    """Every message of ``stream`` (headers kept), in stream order."""
    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        return []
    end = int(info.state.last_seq or 0)
    if not info.state.messages:
        return []
    config = api.ConsumerConfig(
        deliver_policy=api.DeliverPolicy.ALL,
        ack_policy=api.AckPolicy.NONE,
        inactive_threshold=30.0,
    )
    sub = await js.pull_subscribe(subjects, stream=stream, config=config)
    out: list[Entry] = []
    try:
        seq = 0
        while seq < end:
            msgs = await sub.fetch(512, timeout=5)
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                msg_id = (msg.headers or {}).get("Nats-Msg-Id", "")
                out.append(Entry(seq, msg.subject, msg_id, msg.data))
    finally:
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error):
            await sub.unsubscribe()
    return out


@dataclass
class Audit:
    commands: int
    symbols: int
    acked: int
    events: int
    tokens: dict[int, list[int]]
    unheard: dict[int, int]  # symbol -> events the front end's listener never got


async def audit(cluster: Cluster, backend: ClusterBackend, load: Load) -> Audit:
    """The checks of the module docstring; return what was counted."""
    names = ClusterNames(cluster.prefix)
    js = backend.nc.jetstream()
    logged: dict[int, dict[int, Command]] = {}  # symbol -> enq_seq -> command
    batches: dict[int, list[tuple[int, int, Batch]]] = {}  # symbol -> (stream seq, token, rec)
    defines: dict[int, Instrument] = {}
    tokens: dict[int, list[int]] = {}
    for shard in range(cluster.plane.shards):
        entries = await read_stream(js, names.cmd_stream(shard), names.cmd_wildcard(shard))
        for entry in entries:
            symbol_id = int(entry.subject.rsplit(".", 1)[1])
            record = decode_record(entry.data)
            token = msg_id_token(entry.msg_id)
            seen = tokens.setdefault(symbol_id, [])
            assert not seen or token >= seen[-1], (
                f"symbol {symbol_id}: token {token} written after token {seen[-1]}"
                f" (stream seq {entry.stream_seq}): an old owner wrote after a new one"
            )
            seen.append(token)
            if type(record) is Define:
                defines[symbol_id] = record.instrument
                continue
            if type(record) is Fenced:  # an owner took the symbol over here
                assert record.token == token, (symbol_id, entry.stream_seq, record, token)
                continue
            assert type(record) is Batch
            mine = logged.setdefault(symbol_id, {})
            expected = len(mine) + 1
            assert record.first_enq_seq == expected, (
                f"symbol {symbol_id}: batch at stream seq {entry.stream_seq} starts at"
                f" enq_seq {record.first_enq_seq}, expected {expected} (gap or duplicate)"
            )
            for i, command in enumerate(record.commands):
                mine[record.first_enq_seq + i] = command
            batches.setdefault(symbol_id, []).append((entry.stream_seq, token, record))
    acked = load.acked()
    for sent in acked:
        in_log = logged.get(sent.symbol_id, {}).get(sent.enq_seq)
        assert in_log == sent.command, (
            f"acknowledged command lost: symbol {sent.symbol_id} enq_seq {sent.enq_seq}"
            f" {sent.command!r}, the log has {in_log!r}"
        )
    # Replay each symbol's log through a fresh engine: its events are the events stream's.
    published: dict[int, list[Event]] = {}
    for entry in await read_stream(js, names.evt_stream(), names.evt_wildcard()):
        batch = decode_events(entry.data)
        published.setdefault(batch.symbol_id, []).extend(batch.events)
    # The front end's listeners: each event once, in seq order (late ones may still come).
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline and any(
        len(load.heard.get(sid, [])) < len(evs) for sid, evs in published.items()
    ):
        await asyncio.sleep(0.05)
    unheard: dict[int, int] = {}
    for sid, evs in published.items():
        heard = [e.seq for e in load.heard.get(sid, [])]
        assert heard == sorted(set(heard)), f"symbol {sid}: the listener got a seq twice or late"
        missing = len(evs) - len(heard)
        if missing:
            unheard[sid] = missing
        got = set(heard)
        assert load.heard.get(sid, []) == [e for e in evs if e.seq in got], f"symbol {sid}"
    total_events = 0
    for symbol_id, instrument in defines.items():
        engine = Whistle(instrument)
        replayed: list[Event] = []
        for _, _, record in batches.get(symbol_id, []):
            replayed += engine.process_many(
                [(record.first_enq_seq + i, c) for i, c in enumerate(record.commands)],
                record.ts_ns,
            )
        got = published.get(symbol_id, [])
        seqs = [e.seq for e in got]
        if seqs != list(range(1, len(seqs) + 1)):
            at = next((i for i, s in enumerate(seqs) if s != i + 1), len(seqs))
            raise AssertionError(
                f"symbol {symbol_id}: the events stream's seqs are not 1..N: after seq {at}"
                f" come {seqs[at : at + 5]} ({len(seqs)} events stored, a replay of the log"
                f" gives {len(replayed)})"
            )
        assert got == replayed, f"symbol {symbol_id}: published events differ from a replay"
        view = await backend.snapshot(symbol_id)
        assert view.state_hash == engine.state_hash(), f"symbol {symbol_id}: state hash"
        total_events += len(got)
    return Audit(
        commands=sum(len(v) for v in logged.values()),
        symbols=len(defines),
        acked=len(acked),
        events=total_events,
        tokens={s: sorted(set(t)) for s, t in tokens.items()},
        unheard=unheard,
    )


# ---------------------------------------------------------------------- a partition


class PgProxy:
    """A TCP proxy between one node and PostgreSQL that the test can cut.

    ``cut()`` is a partition that looks like a dead network, the hard kind: connections
    stay open but nothing crosses in either direction (bytes wait in the kernel buffers,
    so no error reaches either side) and new connections are accepted but never
    connected through. ``heal()`` lets everything flow again.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 5432) -> None:
        import socket
        import threading

        self.target = (host, port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        self.cut_now = False
        self.reset = False
        self.pairs: dict[Any, Any] = {}  # socket -> its peer, both directions
        self.parked: list[Any] = []  # accepted while cut: connected through on heal
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-proxy", daemon=True)
        self._thread.start()

    def url(self, database: str = "test") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def cut(self, *, reset: bool = False) -> None:
        """Partition; ``reset``: the other kind, every connection closed and new ones
        refused at once (the node's calls fail fast instead of hanging)."""
        self.reset = reset
        self.cut_now = True

    def heal(self) -> None:
        self.cut_now = False

    def _connect(self, client: Any) -> None:
        import socket

        upstream = socket.create_connection(self.target, timeout=3)
        upstream.settimeout(None)
        self.pairs[client] = upstream
        self.pairs[upstream] = client

    def _close(self, sock: Any) -> None:
        peer = self.pairs.pop(sock, None)
        sock.close()
        if peer is not None:
            self.pairs.pop(peer, None)
            peer.close()

    def _run(self) -> None:
        import select

        while not self._stop.is_set():
            if not self.cut_now:
                for client in self.parked:
                    self._connect(client)
                self.parked.clear()
            if self.cut_now and self.reset:
                for sock in list(self.pairs):
                    if sock in self.pairs:
                        self._close(sock)
            watched = [self.listener] + ([] if self.cut_now else list(self.pairs))
            readable, _, _ = select.select(watched, [], [], 0.05)
            for sock in readable:
                if sock is self.listener:
                    client, _ = self.listener.accept()
                    if self.cut_now and self.reset:
                        client.close()
                    elif self.cut_now:
                        self.parked.append(client)
                    else:
                        self._connect(client)
                    continue
                if sock not in self.pairs or self.cut_now:
                    continue
                try:
                    data = sock.recv(65536)
                    if data:
                        self.pairs[sock].sendall(data)
                        continue
                except OSError:
                    pass
                self._close(sock)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in list(self.pairs):
            if sock in self.pairs:
                self._close(sock)
        for sock in self.parked:
            sock.close()
        self.listener.close()
