"""``whistle bench api``: the network API under load, on loopback, bounded and self-stopping.

It starts its own ``whistle serve`` in a subprocess (so the server and this load
generator each have a core of their own), with a key whose rate limit is out of the way,
and measures, each phase on its own symbol:

1. ``unary_per_sec``: ``SubmitOrder`` calls/s from ``AsyncClient`` with ``concurrency``
   calls in flight (resting limit orders, no trades; the client converts every answer);
2. ``stream_per_sec``: orders/s through one ``OrderEntry`` stream (``AsyncOrderEntryStream``,
   many commands per message, at most ``window`` unanswered; replies counted, not
   converted), replies without book-level/BBO events (``omit_market_data``: a high-rate
   trader reads those from market data); ``stream_full_per_sec`` with every event;
3. ``md_updates_per_sec`` (8 subscribers; ``md_updates_per_sec_1`` for 1): market-data
   updates/s delivered in total to that many ``SubscribeMarketData`` streams (every level)
   while one ``OrderEntry`` stream drives the book: cycles of ``sweep`` resting orders at
   distinct prices (one tick) and then one order that takes them all (the next tick): a
   level update per order each way, a trade per fill, the BBO;
   counted from the first to the last batch a subscriber received (batches counted
   with ``len``, not converted); ``md_conflations`` says whether a subscriber fell behind;
4. ``ack_latency_ns`` {p50, p99, p999, ...}: orders on one ``OrderEntry`` stream at a fixed
   offered rate (default 1,000/s), each ack measured from its *intended* send time
   (``whistle.metrics.FixedRateSchedule``, ``LatencyRecorder.record_from_intended``): a stall
   delays every order queued behind it and shows in the percentiles;
   ``unary_ack_latency_ns`` the same for ``SubmitOrder`` calls (the sync client's futures).

What bounds each figure: every phase reports both processes' CPU seconds (``server_cpu_s``
from ``/proc``, ``client_cpu_s``) and per wall second; ``<phase>_per_server_cpu_sec`` /
``<phase>_per_client_cpu_sec`` are what one core each would sustain and ``<phase>_bound``
names the side that binds (on a shared, loaded machine the wall-clock rate is noise; CPU
seconds are not). ``grpc_unary_floor`` runs the unary load against a bare ``grpc.aio``
echo server: the per-call cost of gRPC in Python itself on this machine, below which no
whistle server or client can go.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, final

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["DEFAULTS", "PHASES", "ServerProcess", "grpc_floor", "run_api_bench", "write_config"]

BENCH_KEY: Final = "whistle-bench-key-0123456789abcdef"
DEFAULTS: Final = {
    "unary_orders": 20_000,
    "concurrency": 64,
    "stream_orders": 200_000,
    "window": 8192,
    "md_cycles": 2_000,
    "sweep": 20,
    "subscribers": 8,
    "rate": 1_000,
    "latency_orders": 5_000,
}
PHASES: Final = ("unary", "stream", "md", "latency")
_LISTENING: Final = re.compile(r"listening on ([^ ]+):(\d+)")
_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")


def write_config(directory: Path, key: str = BENCH_KEY, *, role: str = "admin") -> Path:
    """Write a server config with one ``key`` (no rate limit in the way); return its path."""
    from whistle.api.auth import hash_key

    path = directory / "whistle-bench-keys.json"
    entry: dict[str, Any] = {
        "name": "bench",
        "sha256": hash_key(key),
        "role": role,
        "orders_per_sec": 1e9,
        "burst": 1_000_000_000,
        "max_streams": 1024,
    }
    limits = {
        "orders_per_sec": 1e9,
        "burst": 1_000_000_000,
        "max_streams": 1024,
        "order_update_queue": 10_000_000,
        "md_max_pending": 1_000_000,
    }
    path.write_text(json.dumps({"keys": [entry], "limits": limits}), encoding="utf-8")
    return path


@final
class ServerProcess:
    """A ``whistle serve`` subprocess on loopback (``port`` 0: an ephemeral one), with
    ``start`` / ``stop`` / ``kill``; ``address`` once started, ``cpu_seconds()`` its CPU
    time so far."""

    def __init__(
        self,
        config: Path | None,
        *,
        instruments: Sequence[str] = (),
        data_dir: Path | None = None,
        extra: Sequence[str] = (),
        port: int = 0,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.args = [sys.executable, "-m", "whistle", "serve", "--port", str(port)]
        self.args += ["--tick-interval", "0"]
        if config is not None:
            self.args += ["--config", str(config)]
        for spec in instruments:
            self.args += ["--instrument", spec]
        if data_dir is not None:
            self.args += ["--data-dir", str(data_dir)]
        self.args += list(extra)
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[str] | None = None
        self.address = ""
        self.output: list[str] = []

    def start(self) -> str:
        """Start the server and wait until it listens; return ``host:port``."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.proc = proc
        assert proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                self.kill()
                raise RuntimeError("whistle serve did not start: " + " | ".join(self.output[-10:]))
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.5))
            if not ready:
                continue
            line = proc.stdout.readline()
            if not line:
                continue
            self.output.append(line.rstrip())
            found = _LISTENING.search(line)
            if found:
                self.address = f"{found.group(1)}:{found.group(2)}"
                break
        # Keep reading so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, args=(proc,), daemon=True).start()
        return self.address

    def _drain(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.output.append(line.rstrip())
            del self.output[:-200]

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """The server's user + system CPU time so far."""
        return _cpu_of(self.pid)

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (drain, checkpoint, stop) and wait; SIGKILL past ``timeout_s``."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc is not None else 0
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return self.kill()
        finally:
            self._close_pipe()

    def kill(self) -> int:
        """SIGKILL the server and reap it."""
        proc = self.proc
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        self._close_pipe()
        return code

    def _close_pipe(self) -> None:
        proc = self.proc
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------- phases


class _Meter:
    """Wall time and both processes' CPU over one phase."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()
        self.s0 = server.cpu_seconds()

    def done(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        server = self.server.cpu_seconds() - self.s0
        client = time.process_time() - self.c0
        return {
            "seconds": round(wall, 4),
            "server_cpu_s": round(server, 3),
            "client_cpu_s": round(client, 3),
            "server_cpu": round(server / wall, 3),
            "client_cpu": round(client / wall, 3),
        }


def _capacity(result: dict[str, Any], key: str, n: int, phase: dict[str, float]) -> None:
    # What a core each would sustain: n over each side's CPU seconds, the smaller one
    # bounds (and is named). Wall-clock rates on a shared, loaded machine are noise.
    server = n / phase["server_cpu_s"] if phase["server_cpu_s"] else 0.0
    client = n / phase["client_cpu_s"] if phase["client_cpu_s"] else 0.0
    result[f"{key}_per_server_cpu_sec"] = round(server)
    result[f"{key}_per_client_cpu_sec"] = round(client)
    result[f"{key}_bound"] = "server" if server <= client else "client"


async def _unary(address: str, symbol: str, orders: int, concurrency: int) -> int:
    import asyncio

    from whistle.api.aio_client import AsyncClient

    async with AsyncClient(address, api_key=BENCH_KEY, timeout_s=60) as client:
        await client.submit(symbol, "buy", qty_lots=1, price_ticks=1)  # warm the channel
        numbers = iter(range(orders))

        async def worker() -> int:
            done = 0
            for i in numbers:
                buy = i & 1
                price = 9_000 - i % 50 if buy else 11_000 + i % 50
                await client.submit(symbol, 1 if buy else 2, qty_lots=1, price_ticks=price)
                done += 1
            return done

        return sum(await asyncio.gather(*(worker() for _ in range(concurrency))))


async def _stream(
    address: str, symbol: str, orders: int, window: int, omit_market_data: bool
) -> tuple[int, float]:
    from whistle.api.aio_client import AsyncClient
    from whistle.api.client import order_command, submit_request

    async with AsyncClient(address, api_key=BENCH_KEY, timeout_s=60) as client:
        sid = (await client.instrument(symbol)).symbol_id
        entry = client.order_entry(max_batch=1024, omit_market_data=omit_market_data)
        # Commands built before the clock starts: the figure is the API's, not protobuf
        # construction in this process.
        commands = [
            order_command(
                "submit",
                submit_request(
                    sid,
                    1 if i & 1 else 2,
                    qty_lots=1,
                    price_ticks=9_000 - i % 50 if i & 1 else 11_000 + i % 50,
                ),
            )
            for i in range(orders)
        ]
        meter_start = time.perf_counter()
        sent = answered = 0
        send = entry.send
        recv = entry.recv_raw
        while answered < orders:
            while sent < orders and sent - answered < window:
                send(commands[sent])
                sent += 1
            await recv()
            answered += 1
        elapsed = time.perf_counter() - meter_start
        await entry.aclose()
        return answered, elapsed


async def _market_data(
    address: str, symbol: str, subscribers: int, cycles: int, sweep: int
) -> dict[str, Any]:
    import asyncio

    import grpc.aio

    from whistle.api.aio_client import AsyncClient
    from whistle.api.client import order_command, submit_request, subscribe_request
    from whistle.api.marketdata import ALL_KINDS

    clients = [AsyncClient(address, api_key=BENCH_KEY, timeout_s=60) for _ in range(subscribers)]
    driver = AsyncClient(address, api_key=BENCH_KEY, timeout_s=60)
    counts = [0] * subscribers
    firsts = [0.0] * subscribers
    lasts = [0.0] * subscribers
    conflations = [0] * subscribers
    try:
        sid = (await driver.instrument(symbol)).symbol_id
        calls = []
        for client in clients:
            call = client.market.SubscribeMarketData(metadata=client.metadata)
            await call.write(subscribe_request([sid], 0, ALL_KINDS))
            await call.initial_metadata()
            calls.append(call)

        async def read(n: int) -> None:
            call = calls[n]
            first = await call.read()  # the snapshot
            del first
            # No timeout on read(): cancelling a grpc.aio read cancels the whole call.
            while True:
                batch = await call.read()
                if batch is grpc.aio.EOF:
                    return
                now = time.perf_counter()
                if not counts[n]:
                    firsts[n] = now
                counts[n] += len(batch.updates)
                lasts[n] = now
                conflations[n] = batch.conflations

        readers = [asyncio.ensure_future(read(n)) for n in range(subscribers)]
        entry = driver.order_entry(max_batch=1024)
        rest = [
            order_command("submit", submit_request(sid, 2, qty_lots=1, price_ticks=10_001 + k))
            for k in range(sweep)
        ]
        take = order_command(
            "submit",
            submit_request(sid, 1, qty_lots=sweep, price_ticks=10_001 + sweep, tif="ioc"),
        )
        for _ in range(cycles):
            # The resting orders and the order that takes them in different ticks, so
            # every level appears and then goes (a tick publishes net level changes).
            for command in rest:
                entry.send(_copy(command))
            while entry.pending:
                await entry.recv_raw()
            entry.send(_copy(take))
            await entry.recv_raw()
        await entry.aclose()
        # Delivered when the readers' counts stop moving (everything sent has arrived).
        seen = -1
        while sum(counts) != seen:
            seen = sum(counts)
            await asyncio.sleep(1.0)
        for call in calls:
            call.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    finally:
        for client in (*clients, driver):
            await client.close()
    total = sum(counts)
    span = max(lasts) - min(f for f in firsts if f) if total else 0.0
    return {
        "updates": total,
        "per_sec": round(total / span) if span > 0 else 0,
        "conflations": max(conflations),
        "commands": cycles * (sweep + 1),
    }


def _copy(command: Any) -> Any:
    clone = type(command)()
    clone.CopyFrom(command)
    return clone


async def _stream_latency(address: str, symbol: str, rate: int, orders: int) -> dict[str, Any]:
    """Orders on one ``OrderEntry`` stream at a fixed offered rate, each ack measured from
    its intended send time. A sender thread waits for each intended time (sleeping, then
    spinning) and hands the command to the event loop, which sends it at once; the loop
    stamps each reply as it reads it."""
    import asyncio

    from whistle.api.aio_client import AsyncClient
    from whistle.api.client import order_command, submit_request
    from whistle.metrics import FixedRateSchedule, LatencyRecorder, wait_until

    recorder = LatencyRecorder(("ack",))
    clock = time.perf_counter_ns
    async with AsyncClient(address, api_key=BENCH_KEY, timeout_s=60) as client:
        sid = (await client.instrument(symbol)).symbol_id
        entry = client.order_entry(max_batch=64)
        commands = [
            order_command(
                "submit",
                submit_request(
                    sid,
                    1 if i & 1 else 2,
                    qty_lots=1,
                    price_ticks=9_000 - i % 50 if i & 1 else 11_000 + i % 50,
                ),
            )
            for i in range(orders)
        ]
        entry.send(_copy(commands[0]))
        await entry.recv_raw()  # the stream is open
        loop = asyncio.get_running_loop()
        intended: dict[int, int] = {}
        schedule = FixedRateSchedule(rate, clock() + 20_000_000)

        def send(i: int, at: int) -> None:
            intended[entry.send(commands[i])] = at

        def sender() -> None:
            for i in range(orders):
                at = schedule.at(i)
                wait_until(at)
                loop.call_soon_threadsafe(send, i, at)

        thread = threading.Thread(target=sender, name="whistle-bench-sender", daemon=True)
        thread.start()
        for _ in range(orders):
            reply = await entry.recv_raw()
            now = clock()
            at = intended.pop(reply.request_id)
            if reply.result.api_error:
                recorder.count_error(0)
            else:
                recorder.record_from_intended(0, at, now)
        thread.join(30)
        await entry.aclose()
    out: dict[str, Any] = dict(recorder.percentiles("ack"))
    out["errors"] = recorder.counters("ack")["errors"]
    return out


def _latency(address: str, symbol: str, rate: int, orders: int) -> dict[str, Any]:
    from whistle.api.client import Client, submit_request
    from whistle.metrics import FixedRateSchedule, LatencyRecorder, wait_until

    recorder = LatencyRecorder(("ack",))
    results: list[tuple[int, int, bool]] = []
    failures: list[str] = []
    with Client(address, api_key=BENCH_KEY, timeout_s=60) as client:
        sid = client.instrument(symbol).symbol_id
        requests = [
            submit_request(
                sid,
                1 if i & 1 else 2,
                qty_lots=1,
                price_ticks=9_000 - i % 50 if i & 1 else 11_000 + i % 50,
            )
            for i in range(orders)
        ]
        method = client.orders.SubmitOrder
        metadata = client.metadata
        client.submit(sid, "buy", qty_lots=1, price_ticks=1)  # a ready channel
        done = threading.Event()
        left = [orders]
        lock = threading.Lock()
        clock = time.perf_counter_ns

        def finished(intended: int) -> Any:
            def callback(future: Any) -> None:
                error = future.exception()
                if error is not None:
                    failures.append(repr(error)[:200])
                results.append((intended, clock(), error is None))
                with lock:
                    left[0] -= 1
                    if not left[0]:
                        done.set()

            return callback

        schedule = FixedRateSchedule(rate, clock() + 20_000_000)
        for i, request in enumerate(requests):
            intended = schedule.at(i)
            wait_until(intended)
            future = method.future(request, metadata=metadata, timeout=60)
            future.add_done_callback(finished(intended))
        done.wait(120)
    for intended, answered, ok in results:
        if ok:
            recorder.record_from_intended(0, intended, answered)
        else:
            recorder.count_error(0)
    out: dict[str, Any] = dict(recorder.percentiles("ack"))
    out["errors"] = recorder.counters("ack")["errors"]
    if failures:
        out["first_error"] = failures[0]
    return out


# ---------------------------------------------------------------------------- grpc's own floor

_ECHO_SERVER: Final = """
import asyncio, grpc
from grpc import aio
async def main():
    async def echo(request, context):
        return request
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server = aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()
asyncio.run(main())
"""


def _cpu_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def grpc_floor(calls: int, concurrency: int) -> dict[str, Any]:
    """The same unary load on a bare ``grpc.aio`` echo server (a 40-byte message, no
    whistle code on either side): what gRPC in Python costs per call on this machine."""
    import asyncio

    import grpc.aio

    proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", _ECHO_SERVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())

        async def run() -> tuple[float, float, float]:
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
            method: Any = channel.unary_unary("/bench.Echo/Echo")
            payload = b"x" * 40
            await method(payload, wait_for_ready=True)
            numbers = iter(range(calls))

            async def worker() -> None:
                for _ in numbers:
                    await method(payload)

            t0 = time.perf_counter()
            c0 = time.process_time()
            s0 = _cpu_of(proc.pid)
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            wall = time.perf_counter() - t0
            out = (wall, time.process_time() - c0, _cpu_of(proc.pid) - s0)
            await channel.close()
            return out

        wall, client, server = asyncio.run(run())
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return {
        "calls": calls,
        "per_sec": round(calls / wall),
        "server_cpu_us_per_call": round(server / calls * 1e6),
        "client_cpu_us_per_call": round(client / calls * 1e6),
    }


# ---------------------------------------------------------------------------- the run


def run_api_bench(
    *,
    unary_orders: int = DEFAULTS["unary_orders"],
    concurrency: int = DEFAULTS["concurrency"],
    stream_orders: int = DEFAULTS["stream_orders"],
    window: int = DEFAULTS["window"],
    md_cycles: int = DEFAULTS["md_cycles"],
    sweep: int = DEFAULTS["sweep"],
    subscribers: int = DEFAULTS["subscribers"],
    rate: int = DEFAULTS["rate"],
    latency_orders: int = DEFAULTS["latency_orders"],
    phases: Sequence[str] = PHASES,
    server_args: Sequence[str] = (),
) -> dict[str, Any]:
    """Run ``phases`` (all four by default) against a fresh server subprocess; return the
    figures."""
    import asyncio

    unknown = set(phases) - set(PHASES)
    if unknown:
        raise ValueError(f"phases are {', '.join(PHASES)}, was {sorted(unknown)}")
    with tempfile.TemporaryDirectory(prefix="whistle-bench-api-") as raw:
        config = write_config(Path(raw))
        instruments = ["UNARY:0.01:1", "STREAM:0.01:1", "MD1:0.01:1", "MD8:0.01:1"]
        instruments += ["LAT:0.01:1", "LAT1:0.01:1", "STREAM2:0.01:1"]
        server = ServerProcess(config, instruments=instruments, extra=server_args)
        server.start()
        try:
            address = server.address
            result: dict[str, Any] = {"bench": "api", "address": address, "cpus": os.cpu_count()}

            if "unary" in phases:
                _run_unary(result, server, unary_orders, concurrency)
            if "stream" in phases:
                _run_stream(result, server, stream_orders, window)
            if "md" in phases:
                _run_md(result, server, subscribers, md_cycles, sweep)
            if "latency" in phases:
                meter = _Meter(server)
                result["ack_latency_ns"] = asyncio.run(
                    _stream_latency(address, "LAT", rate, latency_orders)
                )
                result["ack"] = {
                    "path": "OrderEntry stream",
                    "rate_per_sec": rate,
                    "orders": latency_orders,
                    **meter.done(),
                }
                meter = _Meter(server)
                result["unary_ack_latency_ns"] = _latency(address, "LAT1", rate, latency_orders)
                result["unary_ack"] = {
                    "path": "SubmitOrder",
                    "rate_per_sec": rate,
                    "orders": latency_orders,
                    **meter.done(),
                }
        finally:
            server.stop()
    return result


def _run_unary(
    result: dict[str, Any], server: ServerProcess, orders: int, concurrency: int
) -> None:
    import asyncio

    meter = _Meter(server)
    n = asyncio.run(_unary(server.address, "UNARY", orders, concurrency))
    phase = meter.done()
    result["unary_per_sec"] = round(n / phase["seconds"])
    phase["server_cpu_us_per_order"] = round(phase["server_cpu_s"] / n * 1e6)
    phase["client_cpu_us_per_order"] = round(phase["client_cpu_s"] / n * 1e6)
    result["unary"] = {"orders": n, "concurrency": concurrency, **phase}
    _capacity(result, "unary", n, phase)
    result["grpc_unary_floor"] = grpc_floor(orders, concurrency)


def _run_stream(result: dict[str, Any], server: ServerProcess, orders: int, window: int) -> None:
    import asyncio

    # As a high-rate trader runs it: replies without the book's level/BBO events (those come
    # on market data); and, for comparison, with every event of each command.
    for key, omit, symbol in (("stream", True, "STREAM"), ("stream_full", False, "STREAM2")):
        meter = _Meter(server)
        n, seconds = asyncio.run(_stream(server.address, symbol, orders, window, omit))
        phase = meter.done()
        result[f"{key}_per_sec"] = round(n / seconds)
        _capacity(result, key, n, phase)
        result[key] = {
            "orders": n,
            "window": window,
            "omit_market_data": omit,
            "send_seconds": round(seconds, 4),
            **phase,
        }


def _run_md(
    result: dict[str, Any], server: ServerProcess, subscribers: int, cycles: int, sweep: int
) -> None:
    import asyncio

    for count, symbol in ((1, "MD1"), (subscribers, "MD8")):
        meter = _Meter(server)
        md = asyncio.run(_market_data(server.address, symbol, count, cycles, sweep))
        md.update(meter.done())
        key = "md_updates_per_sec" if count == subscribers else "md_updates_per_sec_1"
        result[key] = md["per_sec"]
        result[f"md_{count}"] = {"subscribers": count, **md}
        _capacity(result, f"md_{count}", md["updates"], md)
    result["md_conflations"] = result[f"md_{subscribers}"]["conflations"]
