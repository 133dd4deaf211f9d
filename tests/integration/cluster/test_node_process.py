"""``whistle node run`` as a process: serve, SIGKILL, rebuild on a new node; SIGTERM.

- a node process takes its shard and answers requests (acknowledged = in the log);
- SIGKILL it: a second node process takes the shard once the lease ran out, rebuilds from
  the stream (no snapshot was written) and has every acknowledged command, nothing twice
  (state hashes equal the ones the first node reported before the kill); a front end
  listening across the kill hears every event once, in order, no gap (the new owner
  publishes its rebuilt tail again; the front end drops the seqs it had);
- SIGTERM: a clean stop stores a snapshot, releases the lease and exits 0 (a rebuild from
  that snapshot is test_node_rebuild's and test_frontend_backend's).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import pytest
from cluster_flow import flow, instruments, per_symbol
from control_support import PG_URL, plane_factory
from nats_support import NATS_URL, connect, purge, require_nats, run, unique_prefix

from whistle.cluster.frontend import ClusterBackend
from whistle.cluster.log import ClusterNames
from whistle.cluster.node import OK, Query, decode_reply, encode_request

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator
    from pathlib import Path

    from whistle.core.events import Event

T = TypeVar("T")

_NODE = "from whistle.cli.node import node; node()"


@pytest.fixture(autouse=True)
def _nats() -> None:
    require_nats()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


def _start(name: str, schema: str, prefix: str, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-c", _NODE, "run", "--nats", NATS_URL, "--db", PG_URL]
    argv += ["--schema", schema, "--prefix", prefix, "--node", name, "--shards", "0"]
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def _wait_log(log: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text():
        if proc.poll() is not None:
            pytest.fail(f"node exited {proc.returncode}: {log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(
                f"{text!r} not in the node's output within {timeout_s} s: {log.read_text()}"
            )
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


async def _hashes(prefix: str) -> dict[int, str]:
    nc = await connect()
    try:
        msg = await nc.request(
            ClusterNames(prefix).req_subject(0), encode_request(Query("state_hashes")), timeout=10
        )
        reply = decode_reply(msg.data)
        assert reply.status == OK
        return msgspec.msgpack.decode(reply.value, type=dict[int, str])
    finally:
        await nc.close()


async def _snapshot_size(prefix: str) -> int:
    nc = await connect()
    try:
        store = await nc.jetstream().object_store(ClusterNames(prefix).snap_bucket(0))
        return len((await store.get("latest")).data or b"")
    finally:
        await nc.close()


class Front:
    """A front end (ClusterBackend) on its own event loop in a thread, across the kill."""

    def __init__(self, prefix: str, schema: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.backend: ClusterBackend = self.call(
            ClusterBackend.connect(NATS_URL, PG_URL, prefix=prefix, schema=schema)
        )

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        try:
            self.call(self.backend.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(30)
            self.loop.close()


async def _listen(front: Front, sink: list[Event]) -> None:
    front.backend.add_listener(sink.extend)


async def _settle(cond: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "the front end did not hear the events"
        await asyncio.sleep(0.02)


def test_kill_nine_then_rebuild_on_another_node(prefix: str, tmp_path: Path) -> None:
    insts = instruments(2)
    commands = flow([i.symbol_id for i in insts], 300, seed=9)
    with plane_factory(shards=1, lease_s=2.0, safety_s=0.5, node_timeout_s=2.0) as make:
        plane = make()
        schema = plane.schema
        first = _start("k1", schema, prefix, tmp_path / "k1.log")
        second: subprocess.Popen[bytes] | None = None
        try:
            _wait_log(tmp_path / "k1.log", "shard 0: serving", first)

            front = Front(prefix, schema)
            heard: list[Event] = []
            front.call(_listen(front, heard))
            try:
                for inst in insts:
                    front.call(front.backend.add_instrument(inst))
                acked: list[Event] = []
                for i in range(0, len(commands), 30):
                    for out in front.call(front.backend.execute(commands[i : i + 30])):
                        assert out.error is None, out.error
                        acked.extend(out.events)
                before = run(_hashes(prefix))
                front.call(_settle(lambda: len([e for e in heard if e.seq]) >= len(acked)))
                os.kill(first.pid, signal.SIGKILL)
                first.wait(timeout=30)
                # The dead node's shard stays assigned to it; a second node run with DBOS
                # (node run launches it) supervises: k1's heartbeat goes stale, the move
                # workflow hands shard 0 to k2, which rebuilds it from the stream.
                second = _start("k2", schema, prefix, tmp_path / "k2.log")
                _wait_log(tmp_path / "k2.log", "shard 0: serving", second)
                assert "'snapshot': None" in (tmp_path / "k2.log").read_text()
                assert run(_hashes(prefix)) == before
                # k2 published the whole rebuilt tail again; the front end passed on each
                # event once, in order, with no gap.
                front.call(_settle(lambda: front.backend.duplicates > 0))
                assert front.backend.gaps == 0
                assert per_symbol(heard) == per_symbol(acked)
            finally:
                front.close()
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0
            text = (tmp_path / "k2.log").read_text()
            assert "node k2: stopped" in text
            assert plane.owner(0) is None  # released at the clean stop

            # The clean stop stored the shard's snapshot (what the next owner starts from).
            assert run(_snapshot_size(prefix)) > 0
        finally:
            _stop(first)
            if second is not None:
                _stop(second)
