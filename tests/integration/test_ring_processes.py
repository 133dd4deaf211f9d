"""SPSC ring between real processes (spawn): bulk transfer, crash hygiene, no tracker noise.

Run as a script (``python test_ring_processes.py scenario``) it performs a small transfer and a
crash + reclaim in a fresh interpreter, so the test can check that nothing at all is printed,
including by multiprocessing's resource tracker when it shuts down.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import signal
import subprocess
import sys
import time
import zlib
from typing import TYPE_CHECKING

from whistle.ipc import (
    RingClosed,
    RingEmpty,
    SpscRing,
    WaitStrategy,
    cleanup_stale,
    list_blocks,
    make_name,
)

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

RECORDS = 2_000_000
BLOCK = 64  # sequence numbers per block: even blocks share one size, odd blocks vary
BODY = bytes(range(256)) * 2
DEADLINE_S = 120.0  # generous upper bound against hangs, not a timing assertion


def record_length(seq: int) -> int:
    block = seq // BLOCK
    spread = block * 37 if block % 2 == 0 else seq * 37
    return 8 + spread % 121


def make_record(seq: int) -> bytes:
    """Payload derived from the sequence number: 8-byte seq then a seq-dependent body."""
    start = seq & 0xFF
    return seq.to_bytes(8, "little") + BODY[start : start + record_length(seq) - 8]


def _produce(name: str, count: int, conn: Connection) -> None:
    """Child: push records 0..count-1 in blocks with push_many, then mark the ring closed."""
    crc = 0
    idle = WaitStrategy().idle
    with SpscRing.attach(name) as ring:
        push_many = ring.push_many
        seq = 0
        pending: list[bytes] = []
        attempt = 0
        while seq < count or pending:
            if not pending:
                end = min(count, (seq // BLOCK + 1) * BLOCK)
                pending = [make_record(s) for s in range(seq, end)]
                seq = end
                crc = zlib.crc32(b"".join(pending), crc)
            pushed = push_many(pending)
            if pushed:
                pending = pending[pushed:]
                attempt = 0
            else:
                idle(attempt)
                attempt += 1
        ring.mark_closed()
    conn.send(crc)
    conn.close()


def _crash_owner(prefix: str, conn: Connection) -> None:
    """Child: create a ring, fill it a little, report its name, then wait to be killed."""
    ring = SpscRing.create(make_name("crash", prefix=prefix), 4096)
    for seq in range(10):
        ring.push(make_record(seq), timeout=10.0)
    conn.send(ring.name)
    conn.recv()  # blocks until SIGKILL arrives


def _join(proc: BaseProcess) -> None:
    proc.join(DEADLINE_S)
    if proc.is_alive():
        proc.kill()
        proc.join()
        raise AssertionError(f"{proc.name} did not finish")


def transfer(count: int, capacity: int) -> int:
    """Parent: consume ``count`` records from a spawned producer, verifying every byte."""
    ctx = multiprocessing.get_context("spawn")
    idle = WaitStrategy().idle
    with SpscRing.create(make_name("it"), capacity) as ring:
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_produce, args=(ring.name, count, sender), name="producer")
        proc.start()
        sender.close()
        deadline = time.monotonic() + DEADLINE_S
        expected = 0
        crc = 0
        attempt = 0
        rounds = 0
        while True:
            rounds += 1
            if rounds % 97 == 0:  # exercise the single-record blocking path as well
                try:
                    out = [ring.pop(timeout=1.0)]
                except RingClosed:
                    break
                except RingEmpty:
                    out = []
            else:
                out = ring.pop_many(256)
            if not out:
                if ring.producer_closed and ring.readable_bytes == 0:
                    break
                idle(attempt)
                attempt += 1
                if attempt % 1024 == 0 or attempt < 2:
                    assert time.monotonic() < deadline, "transfer hung"
                    assert proc.is_alive() or ring.readable_bytes or ring.producer_closed, (
                        f"producer died with exit code {proc.exitcode}"
                    )
                continue
            attempt = 0
            for rec in out:
                if rec != make_record(expected):
                    raise AssertionError(f"record {expected} differs: {rec[:16].hex()}...")
                expected += 1
            crc = zlib.crc32(b"".join(out), crc)
        assert receiver.poll(DEADLINE_S), "producer did not report its checksum"
        producer_crc = receiver.recv()
        _join(proc)
        assert proc.exitcode == 0
        assert ring.try_pop() is None
    assert expected == count
    assert crc == producer_crc
    return expected


def crash_and_reclaim() -> None:
    """A ring whose creator is SIGKILLed stays in /dev/shm until cleanup_stale reclaims it."""
    prefix = f"whistle-it{secrets.token_hex(3)}-"
    ctx = multiprocessing.get_context("spawn")
    parent_conn, child_conn = ctx.Pipe()
    proc = ctx.Process(target=_crash_owner, args=(prefix, child_conn), name="crash-owner")
    proc.start()
    try:
        assert parent_conn.poll(DEADLINE_S), "child did not create its ring"
        name = parent_conn.recv()
        assert list_blocks(prefix) == [name]
        with SpscRing.attach(name) as ring:
            assert ring.creator_pid == proc.pid
            assert ring.pop_many(100) == [make_record(seq) for seq in range(10)]
        assert list_blocks(prefix) == [name]  # attached side does not unlink
        assert cleanup_stale(prefix) == []  # creator still alive
        os.kill(proc.pid, signal.SIGKILL)
        _join(proc)  # also reaps it: a zombie would still count as alive
        assert proc.exitcode == -signal.SIGKILL
        assert list_blocks(prefix) == [name]  # leaked by the crash ...
        assert cleanup_stale(prefix) == [name]  # ... and reclaimed
        assert list_blocks(prefix) == []
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
        cleanup_stale(prefix)
        parent_conn.close()


def our_blocks() -> list[str]:
    return list_blocks(f"whistle-{os.getpid()}-")


def test_two_processes_move_two_million_records() -> None:
    assert transfer(RECORDS, 1 << 16) == RECORDS
    assert our_blocks() == []


def test_small_ring_many_wraps() -> None:
    assert transfer(30_000, 512) == 30_000
    assert our_blocks() == []


def test_sigkilled_creator_is_reclaimed_by_cleanup_stale() -> None:
    crash_and_reclaim()
    assert our_blocks() == []


def test_nothing_printed_and_nothing_left_in_a_fresh_interpreter() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", __file__, "scenario"],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )
    assert result.stderr == ""
    assert result.returncode == 0
    pid = int(result.stdout.strip())
    assert list_blocks(f"whistle-{pid}-") == []


if __name__ == "__main__" and sys.argv[1:] == ["scenario"]:
    transfer(20_000, 4096)
    crash_and_reclaim()
    print(os.getpid())
