"""Benchmark of :class:`whistle.ipc.SpscRing` between two processes.

Throughput: a spawned child process produces ``records`` records of ``payload_size`` bytes with
``push_many`` batches; the parent consumes them with ``pop_many`` and times the transfer, from
the moment it releases the (already attached) producer until the last record has been popped.

Latency: ping-pong over two rings.  The parent stamps ``time.perf_counter_ns()``, pushes one
record on the ping ring, busy-waits for the echo that a child process sends back on the pong
ring, and records the round trip in an HDR histogram.  Both sides busy-spin (no sleeping), so
this measures the best case with one core per side.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import TYPE_CHECKING, Any

from hdrh.histogram import HdrHistogram

from whistle.ipc import SpscRing, WaitStrategy, make_name

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.synchronize import Event

__all__ = ["run_ring_bench"]

_READY_TIMEOUT = 60.0
_CHILD_CHECK_EVERY = 4096  # idle rounds between "is the other process still alive?" checks


def _payload(size: int) -> bytes:
    return bytes(i & 0xFF for i in range(size))


def _producer(
    name: str, records: int, payload_size: int, batch: int, ready: Event, go: Event
) -> None:
    """Child: push ``records`` records in ``batch``-sized push_many calls."""
    with SpscRing.attach(name) as ring:
        items = [_payload(payload_size)] * batch
        push_many = ring.push_many
        idle = WaitStrategy().idle
        ready.set()
        go.wait()
        left = records
        attempt = 0
        while left:
            pushed = push_many(items if left >= batch else items[:left])
            if pushed:
                left -= pushed
                attempt = 0
            else:
                idle(attempt)
                attempt += 1
        ring.mark_closed()


def _echo(ping_name: str, pong_name: str, ready: Event) -> None:
    """Child: send every record from the ping ring back on the pong ring, busy-spinning."""
    with SpscRing.attach(ping_name) as ping, SpscRing.attach(pong_name) as pong:
        try_pop = ping.try_pop
        try_push = pong.try_push
        ready.set()
        misses = 0
        while True:
            record = try_pop()
            if record is None:
                misses += 1
                if misses >= _CHILD_CHECK_EVERY:
                    misses = 0
                    if ping.producer_closed and ping.readable_bytes == 0:
                        return
                continue
            misses = 0
            while not try_push(record):
                pass


def _start(proc: BaseProcess, ready: Event) -> None:
    proc.start()
    if not ready.wait(_READY_TIMEOUT):
        proc.kill()
        proc.join()
        raise RuntimeError(f"benchmark child {proc.name} did not start (exit {proc.exitcode})")


def _check_alive(proc: BaseProcess) -> None:
    if not proc.is_alive():
        raise RuntimeError(f"benchmark child {proc.name} died with exit code {proc.exitcode}")


def _stop(proc: BaseProcess) -> None:
    proc.join(10.0)
    if proc.is_alive():
        proc.kill()
        proc.join()


def _measure_throughput(
    records: int, payload_size: int, batch: int, capacity: int
) -> tuple[float, int]:
    ctx = multiprocessing.get_context("spawn")
    with SpscRing.create(make_name("bench"), capacity) as ring:
        ready, go = ctx.Event(), ctx.Event()
        proc = ctx.Process(
            target=_producer,
            args=(ring.name, records, payload_size, batch, ready, go),
            name="ring-bench-producer",
            daemon=True,
        )
        _start(proc, ready)
        try:
            pop_many = ring.pop_many
            idle = WaitStrategy().idle
            got = 0
            last = b""
            attempt = 0
            go.set()
            t0 = time.perf_counter_ns()
            while got < records:
                out = pop_many(batch)
                if out:
                    got += len(out)
                    last = out[-1]
                    attempt = 0
                else:
                    idle(attempt)
                    attempt += 1
                    if attempt % _CHILD_CHECK_EVERY == 0:
                        _check_alive(proc)
            t1 = time.perf_counter_ns()
        finally:
            _stop(proc)
    if records and last != _payload(payload_size):
        raise RuntimeError("benchmark received a corrupted record")
    return (t1 - t0) / 1e9, got


def _measure_latency(samples: int, payload_size: int, capacity: int) -> dict[str, int]:
    ctx = multiprocessing.get_context("spawn")
    hist = HdrHistogram(1, 60 * 1_000_000_000, 3)
    with (
        SpscRing.create(make_name("ping"), capacity) as ping,
        SpscRing.create(make_name("pong"), capacity) as pong,
    ):
        ready = ctx.Event()
        proc = ctx.Process(
            target=_echo, args=(ping.name, pong.name, ready), name="ring-bench-echo", daemon=True
        )
        _start(proc, ready)
        try:
            payload = _payload(payload_size)
            try_push = ping.try_push
            try_pop = pong.try_pop
            clock = time.perf_counter_ns
            record_value = hist.record_value
            warmup = min(1000, samples)
            for i in range(warmup + samples):
                t0 = clock()
                while not try_push(payload):
                    pass
                spins = 0
                while try_pop() is None:
                    spins += 1
                    if spins >= 1 << 20:
                        spins = 0
                        _check_alive(proc)
                t1 = clock()
                if i >= warmup:
                    record_value(t1 - t0)
        finally:
            ping.mark_closed()
            _stop(proc)
    return {
        "p50": int(hist.get_value_at_percentile(50.0)),
        "p99": int(hist.get_value_at_percentile(99.0)),
        "p999": int(hist.get_value_at_percentile(99.9)),
        "p9999": int(hist.get_value_at_percentile(99.99)),
    }


def run_ring_bench(
    records: int,
    payload_size: int = 64,
    batch: int = 64,
    *,
    capacity: int = 1 << 20,
    latency_samples: int = 100_000,
) -> dict[str, Any]:
    """Measure SPSC ring throughput and round-trip latency between two processes.

    Returns ``{"records", "payload_bytes", "seconds", "records_per_sec", "latency_ns":
    {"p50", "p99", "p999", "p9999"}}``; latencies are ping-pong round trips in nanoseconds.
    """
    if records < 0 or payload_size < 0 or batch < 1 or latency_samples < 1:
        raise ValueError(
            "expected records >= 0, payload_size >= 0, batch >= 1, latency_samples >= 1; seen "
            f"records={records}, payload_size={payload_size}, batch={batch}, "
            f"latency_samples={latency_samples}"
        )
    seconds, got = _measure_throughput(records, payload_size, batch, capacity)
    latency = _measure_latency(latency_samples, payload_size, capacity)
    return {
        "records": got,
        "payload_bytes": payload_size,
        "seconds": seconds,
        "records_per_sec": got / seconds if seconds > 0 else 0.0,
        "latency_ns": latency,
    }
