"""``whistle bench cluster``: acknowledged commands through JetStream, and their latency.

What is measured (each a short run on its own stream, deleted afterwards):

``acked_per_sec`` (1 replica, batched)
    the sequencer's append path alone (``CommandLog.append``): ``symbols`` subjects of one
    shard, each with one append in flight (the sequencer's rule: the next append must
    name the previous one's stream sequence), ``batch`` commands per message, both guards
    (``Nats-Msg-Id``, ``Nats-Expected-Last-Subject-Sequence``) on every message; a command
    counts when its append's publish acknowledgement arrived.
``acked_per_sec_unbatched``
    the same with one command per message.
``node_acked_per_sec``
    the whole node path in one process (``ShardSequencer.execute``): edge validation,
    automatic ids, group commit, append, the engine applying the batch on the
    acknowledgement, events published, the requests answered. Pure-Python engines unless
    the build is compiled.
``request_acked_per_sec``
    the same through NATS request/reply (a front end's connection to the node).
``rebuild_per_sec``
    commands a new owner replays per second rebuilding the node run's shard from the
    stream alone (state hashes checked against the original).
``ack_latency_ns``
    p50 / p99 from the moment a single-command request was due (open loop at
    ``offered_per_sec``, so a stall counts for every request it delays) to its reply.
``acked_per_sec_r3`` / ``acked_per_sec_r3_unbatched``
    the append path on a 3-replica stream of a local 3-server JetStream cluster started for
    the run (``whistle.cluster.local.NatsCluster``: loopback, temporary directory);
    ``acked_per_sec_r1_same_servers`` a 1-replica stream on those same servers (the
    baseline for the cost of replication); ``node_acked_per_sec_r3`` the whole node path
    on a 3-replica stream. Those runs also report the servers' CPU time
    (``server_cpu_us_per_message``: the three processes together, from /proc).
``failover_seconds``
    with a PostgreSQL URL (``--db``): ``whistle cluster up`` on loopback (one NATS server,
    three node processes, a fresh schema and prefix), SIGKILL the node owning a symbol's
    shard, and time from the kill to the first acknowledged command of that symbol
    through a front end (the slowest of ``failover_rounds``); ``None`` without ``--db``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from typing import TYPE_CHECKING, Any, Final

import nats
import nats.errors
import nats.js.errors

from whistle.cluster.log import Batch, ClusterNames, CommandLog
from whistle.cluster.sequencer import ShardSequencer, serve_shard
from whistle.cluster.wire import OK, Execute, decode_reply, encode_request
from whistle.core.commands import CancelOrder, Command, NewOrder
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client

__all__ = ["DEFAULTS", "run_cluster_bench"]

DEFAULTS: Final[dict[str, Any]] = {
    "seconds": 2.0,
    "symbols": 16,
    "batch": 512,
    "clients": 64,
    "chunk": 64,
    "offered_per_sec": 1_000,
    "r3": True,
    "db": None,
    "failover_rounds": 1,
}
_SYMBOL_BASE: Final = 1000


def _orders(symbol_id: int, first_oid: int, n: int) -> list[Command]:
    # A resting order then its cancel, alternating sides over a 10-tick band: the book
    # stays small, every command does real work (accept + rest, cancel + level change).
    out: list[Command] = []
    oid = first_oid
    for i in range(n // 2):
        out.append(NewOrder(symbol_id, oid, 1, 1 + (i & 1), 1, 1, 95 + (i % 10), 5))
        out.append(CancelOrder(symbol_id, oid))
        oid += 1
    return out


async def _purge(js: Any, names: ClusterNames, shard: int) -> None:
    streams = (
        names.cmd_stream(shard),
        "OBJ_" + names.snap_bucket(shard),
        "KV_" + names.symbols_bucket(),  # the symbol claims of whistle.cluster.log
    )
    for stream in streams:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(stream)


@contextlib.asynccontextmanager
async def _connected(url: str, *, quiet: bool = False) -> AsyncIterator[Client]:
    async def silent(exc: Exception) -> None:
        del exc

    nc = await nats.connect(
        url.split(","),
        connect_timeout=5,
        max_reconnect_attempts=5,
        **({"error_cb": silent, "allow_reconnect": False} if quiet else {}),
    )
    try:
        yield nc
    finally:
        await nc.close()


async def log_throughput(
    url: str, prefix: str, *, replicas: int, batch: int, symbols: int, seconds: float
) -> dict[str, Any]:
    """Append ``batch``-command records on ``symbols`` subjects for ``seconds``."""
    names = ClusterNames(prefix)
    async with _connected(url) as nc:
        js = nc.jetstream()
        log = CommandLog(js, names, 0, replicas=replicas, timeout_s=10.0)
        await _purge(js, names, 0)
        await log.ensure()
        try:
            counts = [0] * symbols
            heads = [0] * symbols
            enqs = [1] * symbols
            stop = 0.0

            async def writer(k: int) -> None:
                sid = _SYMBOL_BASE + k
                commands = _orders(sid, 1, max(2, batch))[:batch]
                while time.perf_counter() < stop:
                    heads[k], _ = await log.append(
                        sid,
                        Batch(enqs[k], time.time_ns(), commands),
                        expected_last=heads[k],
                        token=1,
                    )
                    enqs[k] += batch
                    counts[k] += batch

            # One short warm-up append per subject (stream leader, connections).
            stop = time.perf_counter() + 0.2
            await asyncio.gather(*(writer(k) for k in range(symbols)))
            counts = [0] * symbols
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            stop = t0 + seconds
            await asyncio.gather(*(writer(k) for k in range(symbols)))
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
        finally:
            await _purge(js, names, 0)
    total = sum(counts)
    return {
        "acked_per_sec": round(total / elapsed),
        "commands": total,
        "messages": total // batch,
        "seconds": round(elapsed, 3),
        "client_cpu_seconds": round(cpu, 3),
        "replicas": replicas,
        "batch": batch,
        "symbols": symbols,
    }


def _cpu_seconds(pids: list[int]) -> float:
    # utime + stime of processes we started (/proc/<pid>/stat fields 14 and 15).
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def _with_server_cpu(pids: list[int], run: Any) -> dict[str, Any]:
    before = _cpu_seconds(pids)
    result: dict[str, Any] = await run
    used = _cpu_seconds(pids) - before
    result["server_cpu_seconds"] = round(used, 3)
    messages = result.get("messages") or result.get("commands")
    if messages:
        result["server_cpu_us_per_message"] = round(used / messages * 1e6, 1)
    return result


async def _define(seq: ShardSequencer, symbols: int) -> list[int]:
    sids = []
    for k in range(symbols):
        sid = _SYMBOL_BASE + k
        reply = await seq.define(Instrument(symbol=f"B{k}", symbol_id=sid))
        if reply.status != OK:
            raise RuntimeError(f"define {sid}: {reply.detail}")
        sids.append(sid)
    return sids


async def node_throughput(
    url: str,
    prefix: str,
    *,
    batch: int,
    symbols: int,
    clients: int,
    chunk: int,
    seconds: float,
    through_nats: bool,
    replicas: int = 1,
) -> dict[str, Any]:
    """Drive a ShardSequencer with ``clients`` concurrent requests of ``chunk`` commands."""
    names = ClusterNames(prefix)
    async with _connected(url) as nc, _connected(url) as front:
        js = nc.jetstream()
        await _purge(js, names, 0)
        seq = ShardSequencer(
            nc,
            names,
            0,
            1,
            fence=lambda: True,
            max_batch=batch,
            snapshot_every=10**12,
            replicas=replicas,
        )
        await seq.open()
        sub = await serve_shard(seq) if through_nats else None
        try:
            sids = await _define(seq, symbols)
            # Commands are built before the clock starts (a front end decodes them).
            per_client = max(1, int(120_000 * seconds) // (clients * chunk) + 1)
            work = [
                [
                    _orders(sids[c % len(sids)], 1 + (c * per_client + r) * chunk, chunk)
                    for r in range(per_client)
                ]
                for c in range(clients)
            ]
            subject = names.req_subject(0)
            counts = [0] * clients
            stop = 0.0

            async def client(c: int) -> None:
                for commands in work[c]:
                    if time.perf_counter() >= stop:
                        return
                    if through_nats:
                        msg = await front.request(
                            subject, encode_request(Execute(commands)), timeout=10
                        )
                        reply = decode_reply(msg.data)
                    else:
                        reply = await seq.execute(commands)
                    if reply.status != OK:
                        raise RuntimeError(f"node refused: {reply.detail}")
                    counts[c] += len(commands)

            cpu0 = time.process_time()
            t0 = time.perf_counter()
            stop = t0 + seconds
            await asyncio.gather(*(client(c) for c in range(clients)))
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
            batches = seq.batches
            acked = seq.acked
            rebuild: dict[str, Any] = {}
            if not through_nats:
                # A new owner rebuilding the shard from the stream alone (no snapshot).
                fresh = ShardSequencer(nc, names, 0, 2, fence=lambda: True)
                r0 = time.perf_counter()
                report = await fresh.open()
                took = time.perf_counter() - r0
                if fresh.state_hashes() != seq.state_hashes():
                    raise RuntimeError("the rebuilt shard differs from the original")
                replayed = int(report["commands"])  # type: ignore[call-overload]
                rebuild = {
                    "rebuild_seconds": round(took, 3),
                    "rebuild_commands": replayed,
                    "rebuild_per_sec": round(replayed / took) if took > 0 else None,
                }
        finally:
            if sub is not None:
                await sub.unsubscribe()
            await seq.close(snapshot=False)
            await _purge(js, names, 0)
    total = sum(counts)
    return {
        "acked_per_sec": round(total / elapsed),
        "commands": total,
        "seconds": round(elapsed, 3),
        "process_cpu_seconds": round(cpu, 3),
        "commands_per_cpu_second": round(total / cpu) if cpu > 0 else None,
        "mean_batch": round(acked / max(1, batches), 1),
        "clients": clients,
        "chunk": chunk,
        "symbols": symbols,
        **rebuild,
    }


async def ack_latency(
    url: str, prefix: str, *, offered_per_sec: int, seconds: float, symbols: int
) -> dict[str, Any]:
    """Single-command requests at a fixed rate through NATS request/reply to a node."""
    names = ClusterNames(prefix)
    async with _connected(url) as nc, _connected(url) as front:
        js = nc.jetstream()
        await _purge(js, names, 0)
        seq = ShardSequencer(nc, names, 0, 1, fence=lambda: True, snapshot_every=10**12)
        await seq.open()
        sub = await serve_shard(seq)
        try:
            sids = await _define(seq, symbols)
            n = max(1, int(offered_per_sec * seconds))
            # An order then its cancel on the same symbol, the symbols in turn.
            commands: list[Command] = []
            per_symbol = dict.fromkeys(sids, 1)
            for i in range(n):
                sid = sids[(i // 2) % len(sids)]
                oid = per_symbol[sid]
                if i % 2 == 0:
                    commands.append(NewOrder(sid, oid, 1, 1 + (oid & 1), 1, 1, 95 + oid % 10, 5))
                else:
                    commands.append(CancelOrder(sid, oid))
                    per_symbol[sid] = oid + 1
            subject = names.req_subject(0)
            latencies: list[int] = []
            failures = 0
            interval_ns = 1_000_000_000 // offered_per_sec

            async def one(due: int, command: Command) -> None:
                nonlocal failures
                msg = await front.request(subject, encode_request(Execute([command])), timeout=10)
                if decode_reply(msg.data).status != OK:
                    failures += 1
                latencies.append(time.perf_counter_ns() - due)

            tasks = []
            start = time.perf_counter_ns() + 50_000_000
            for i, command in enumerate(commands):
                due = start + i * interval_ns
                wait = due - time.perf_counter_ns()
                if wait > 0:
                    await asyncio.sleep(wait / 1e9)
                tasks.append(asyncio.create_task(one(due, command)))
            await asyncio.gather(*tasks)
        finally:
            await sub.unsubscribe()
            await seq.close(snapshot=False)
            await _purge(js, names, 0)
    latencies.sort()
    return {
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, (len(latencies) * 99) // 100)],
        "max": latencies[-1],
        "offered_per_sec": offered_per_sec,
        "count": len(latencies),
        "failures": failures,
    }


# ------------------------------------------------------------------ failover


async def failover(
    db_url: str, *, nodes: int = 3, shards: int = 6, lease_s: float = 2.0, rounds: int = 1
) -> dict[str, Any]:
    """``whistle cluster up`` on loopback (one NATS server, ``nodes`` node processes), then
    per round: SIGKILL the node owning a symbol's shard and time from the kill to the
    first acknowledged command of that symbol (sent again and again through a front end)."""
    from whistle.cluster.frontend import ClusterBackend
    from whistle.cluster.local import LocalCluster

    root = tempfile.mkdtemp(prefix="whistle-failover-")
    tag = f"f{os.getpid()}"
    cluster = LocalCluster(os.path.join(root, "cluster"))
    times: list[float] = []
    seen: list[list[str]] = []  # per round: what the front end was told meanwhile
    try:
        state = await asyncio.to_thread(
            lambda: cluster.up(
                nodes=nodes,
                nats_servers=1,
                shards=shards,
                db=db_url,
                schema=f"wb_{tag}",
                prefix=tag,
                lease_s=lease_s,
                safety_s=lease_s / 4,
                node_timeout_s=lease_s,
            )
        )
        # A 0.5 s request timeout: the first request after the kill can reach NATS before
        # it dropped the dead node's subscription, and waits out the timeout (errors_seen
        # shows it); the client then sends again, as a real one would.
        backend = await ClusterBackend.connect(
            ",".join(state.nats_urls),
            db_url,
            prefix=tag,
            schema=f"wb_{tag}",
            retry_s=2.0,
            timeout_s=0.5,
        )
        try:
            inst = await backend.add_instrument(Instrument(symbol="FAIL", symbol_id=77))
            shard = backend.client.shard_of(inst.symbol)
            oid = 1
            for _ in range(rounds):
                (out,) = await backend.execute([NewOrder(77, oid, 1, 1, 1, 1, 100, 1)])
                oid += 1
                if out.error is not None:
                    raise RuntimeError(f"no owner for the symbol before the kill: {out.error}")
                with cluster.plane() as plane:
                    owner = await asyncio.to_thread(plane.owner, shard)
                if owner is None or owner.holder is None:
                    raise RuntimeError(f"shard {shard} has no lease holder")
                killed = owner.holder
                t0 = time.perf_counter()
                await asyncio.to_thread(cluster.kill_node, killed)
                errors: list[str] = []
                while True:
                    (out,) = await backend.execute([NewOrder(77, oid, 1, 1, 1, 1, 100, 1)])
                    oid += 1
                    if out.error is None:
                        break
                    errors.append(f"{time.perf_counter() - t0:.2f} s: {out.error}")
                    if time.perf_counter() - t0 > 120:
                        raise RuntimeError("no failover within 120 s")
                times.append(time.perf_counter() - t0)
                seen.append(errors[:3] + errors[-2:] if len(errors) > 5 else errors)
                await asyncio.to_thread(cluster.start_node, killed)
        finally:
            await backend.close()
    finally:
        await asyncio.to_thread(cluster.down)
        shutil.rmtree(root, ignore_errors=True)
    return {
        "failover_seconds": round(max(times), 3),
        "rounds": [round(t, 3) for t in times],
        "errors_seen": seen,
        "lease_s": lease_s,
        "nodes": nodes,
        "shards": shards,
    }


# ------------------------------------------------------------------ all of it


async def _run(
    url: str,
    *,
    seconds: float,
    symbols: int,
    batch: int,
    clients: int,
    chunk: int,
    offered_per_sec: int,
    r3: bool,
    prefix: str,
    db: str | None,
    failover_rounds: int,
) -> dict[str, Any]:
    batched = await log_throughput(
        url, prefix, replicas=1, batch=batch, symbols=symbols, seconds=seconds
    )
    unbatched = await log_throughput(
        url, prefix, replicas=1, batch=1, symbols=symbols, seconds=seconds
    )
    node = await node_throughput(
        url,
        prefix,
        batch=max(batch, chunk),
        symbols=symbols,
        clients=clients,
        chunk=chunk,
        seconds=seconds,
        through_nats=False,
    )
    request = await node_throughput(
        url,
        prefix,
        batch=max(batch, chunk),
        symbols=symbols,
        clients=clients,
        chunk=chunk,
        seconds=seconds,
        through_nats=True,
    )
    latency = await ack_latency(
        url, prefix, offered_per_sec=offered_per_sec, seconds=seconds, symbols=symbols
    )
    result: dict[str, Any] = {
        "acked_per_sec": batched["acked_per_sec"],
        "acked_per_sec_unbatched": unbatched["acked_per_sec"],
        "acked_per_sec_r3": None,
        "acked_per_sec_r3_unbatched": None,
        "node_acked_per_sec": node["acked_per_sec"],
        "node_commands_per_cpu_second": node["commands_per_cpu_second"],
        "rebuild_per_sec": node.get("rebuild_per_sec"),
        "request_acked_per_sec": request["acked_per_sec"],
        "ack_latency_ns": {"p50": latency["p50"], "p99": latency["p99"]},
        "failover_seconds": None,
        "runs": {
            "r1_batched": batched,
            "r1_unbatched": unbatched,
            "node": node,
            "request": request,
            "latency": latency,
        },
        "cpus": os.cpu_count(),
    }
    if r3:
        from whistle.cluster.local import NatsCluster

        nats_cluster = NatsCluster(3)
        await asyncio.to_thread(nats_cluster.start)
        try:
            joined = ",".join(nats_cluster.urls)
            pids = [p.pid for p in nats_cluster.processes()]
            r3b = await _with_server_cpu(
                pids,
                log_throughput(
                    joined, prefix, replicas=3, batch=batch, symbols=symbols, seconds=seconds
                ),
            )
            r3u = await _with_server_cpu(
                pids,
                log_throughput(
                    joined, prefix, replicas=3, batch=1, symbols=symbols, seconds=seconds
                ),
            )
            # The same servers with one replica: the cost of replication alone (the shared
            # server on 4222 carries other traffic too, so it is no fair baseline).
            r1c = await _with_server_cpu(
                pids,
                log_throughput(
                    joined, prefix, replicas=1, batch=batch, symbols=symbols, seconds=seconds
                ),
            )
            r1cu = await _with_server_cpu(
                pids,
                log_throughput(
                    joined, prefix, replicas=1, batch=1, symbols=symbols, seconds=seconds
                ),
            )
            node3 = await node_throughput(
                joined,
                prefix,
                batch=max(batch, chunk),
                symbols=symbols,
                clients=clients,
                chunk=chunk,
                seconds=seconds,
                through_nats=False,
                replicas=3,
            )
        finally:
            await asyncio.to_thread(nats_cluster.stop)
        result["acked_per_sec_r3"] = r3b["acked_per_sec"]
        result["acked_per_sec_r3_unbatched"] = r3u["acked_per_sec"]
        result["runs"]["r3_batched"] = r3b
        result["runs"]["r3_unbatched"] = r3u
        result["acked_per_sec_r1_same_servers"] = r1c["acked_per_sec"]
        result["node_acked_per_sec_r3"] = node3["acked_per_sec"]
        result["runs"]["node_r3"] = node3
        result["runs"]["r1_same_servers"] = r1c
        result["runs"]["r1_same_servers_unbatched"] = r1cu
    if db:
        fail = await failover(db, rounds=failover_rounds)
        result["failover_seconds"] = fail["failover_seconds"]
        result["runs"]["failover"] = fail
    return result


def run_cluster_bench(url: str = "nats://127.0.0.1:4222", **options: Any) -> dict[str, Any]:
    """Run every measurement (``DEFAULTS`` for the options); return the JSON dict."""
    unknown = set(options) - set(DEFAULTS) - {"prefix"}
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    merged = {**DEFAULTS, **options}
    merged.setdefault("prefix", f"wbench{os.getpid()}")
    return asyncio.run(_run(url, **merged))
