"""The stateless front end (``ClusterBackend``) on a real node, control plane and JetStream.

A ``VenueNode`` holds every shard of a fresh control plane; the front end routes by the
shard map, and:

- a symbol defined through one front end is known at once to the others;
- each command's outcome has its own events (enq_seq, automatic order id), unknown
  symbols are edge rejects (seq 0) that never reach a node;
- the listeners get every engine event exactly once, in each symbol's seq order, equal to
  the outcomes' events;
- views (status, depth, book, order) answer from the owner;
- a node stopped cleanly (snapshots, leases released) and a new node taking over give the
  same state hashes, and the front end's next commands reach the new owner;
- a node whose lease ran out (its keeper cut from PostgreSQL) logs and acknowledges
  nothing;
- a record the node did not write (a fenced owner's delayed append) makes its next
  append fail; the node rebuilds the shard under the same lease and goes on after it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from cluster_flow import flow, instruments, per_symbol
from control_support import PG_URL, plane_factory
from nats_support import NATS_URL, connect, purge, require_nats, run, unique_prefix

from whistle.api.backend import Backend
from whistle.cluster.frontend import ClusterBackend
from whistle.cluster.log import Batch, ClusterNames, CommandLog
from whistle.cluster.node import VenueNode
from whistle.core.commands import CancelOrder, NewOrder
from whistle.core.events import OrderAccepted, OrderRejected
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from collections.abc import Iterator

    from whistle.cluster.control import ControlPlane
    from whistle.core.events import Event

SHARDS = 4


@pytest.fixture(autouse=True)
def _nats() -> None:
    require_nats()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


async def _wait(cond: object, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s} s")
        await asyncio.sleep(0.02)


async def _node(plane: ControlPlane, prefix: str, name: str, *, launch: bool = False) -> VenueNode:
    # launch: run DBOS here, so the node's supervisor moves a departed node's shards to it.
    node = VenueNode(
        NATS_URL, plane, node=name, prefix=prefix, shards=list(range(SHARDS)), launch=launch
    )
    await node.start()
    await _wait(lambda: len(node.sequencers) == SHARDS, f"{name} serving every shard")
    return node


def test_front_end_routes_reports_and_survives_a_handover(prefix: str) -> None:
    insts = instruments(5)
    commands = flow([i.symbol_id for i in insts], 400, seed=3)

    with plane_factory(shards=SHARDS, lease_s=2.0, safety_s=0.5) as make:
        plane = make()

        async def go() -> None:
            node = await _node(plane, prefix, "n1")
            nc = await connect()
            backend = ClusterBackend(nc, ClusterNames(prefix), plane.shard_map(), retry_s=30)
            await backend.start()
            assert isinstance(backend, Backend)
            heard: list[Event] = []
            backend.add_listener(heard.extend)
            other = ClusterBackend(await connect(), ClusterNames(prefix), plane.shard_map())
            await other.start()
            try:
                for inst in insts:
                    assert await backend.add_instrument(inst) == inst
                # Another front end learns the new symbols without asking.
                await _wait(
                    lambda: all(other.instrument(i.symbol) == i for i in insts),
                    "the other front end to hear of the symbols",
                )
                await other.close()
                assert {i.symbol_id for i in backend.instruments()} == {i.symbol_id for i in insts}
                acked: list[Event] = []
                for i in range(0, len(commands), 25):
                    chunk = commands[i : i + 25]
                    outcomes = await backend.execute(chunk)
                    assert len(outcomes) == len(chunk)
                    for command, out in zip(chunk, outcomes, strict=True):
                        assert out.error is None, out.error
                        assert out.enq_seq > 0
                        assert out.events
                        assert all(e.symbol_id == command.symbol_id for e in out.events)
                        assert all(e.enq_seq == out.enq_seq for e in out.events)
                        acked.extend(out.events)
                # Automatic id, and an unknown symbol (refused at the front end).
                sid = insts[0].symbol_id
                auto, unknown = await backend.execute(
                    [NewOrder(sid, 0, 9, 1, 1, 1, 50, 1), CancelOrder(99_999, 1)]
                )
                assert type(auto.events[0]) is OrderAccepted
                assert auto.order_id == auto.events[0].order_id > 0
                acked.extend(auto.events)
                assert type(unknown.events[0]) is OrderRejected
                assert unknown.events[0].reason == RejectReason.UNKNOWN_SYMBOL
                assert unknown.events[0].seq == 0
                assert unknown.enq_seq == 0
                await _wait(
                    lambda: len([e for e in heard if e.seq]) >= len(acked), "events to arrive"
                )
                assert per_symbol(heard) == per_symbol(acked)
                assert [e for e in heard if not e.seq] == [unknown.events[0]]
                # Views from the owner.
                book = await backend.snapshot(sid)
                order = await backend.order(sid, auto.order_id)
                assert order is not None
                assert order.price_ticks == 50
                depth = await backend.depth(sid, None)
                assert depth.symbol_id == sid
                status = await backend.status()
                assert len(status.symbols) == len(insts)
                hashes = {
                    i.symbol_id: (await backend.snapshot(i.symbol_id)).state_hash for i in insts
                }
                assert hashes[sid] == book.state_hash

                # A clean handover: n1 stops (snapshots, releases, leaves); n2's supervisor
                # moves n1's shards to n2 (the DBOS move workflow), which rebuilds them.
                await node.stop()
                node = await _node(plane, prefix, "n2", launch=True)
                assert all(
                    s.rebuild_report["snapshot"] is not None
                    for s in node.sequencers.values()
                    if s.symbols
                )
                after = {
                    i.symbol_id: (await backend.snapshot(i.symbol_id)).state_hash for i in insts
                }
                assert after == hashes
                (out,) = await backend.execute([CancelOrder(sid, auto.order_id)])
                assert out.error is None
                assert out.events[0].enq_seq == out.enq_seq
            finally:
                await other.close()
                await backend.close()
                await nc.close()
                await node.stop()

        run(go())


def test_node_past_its_lease_logs_and_acknowledges_nothing(prefix: str) -> None:
    (inst,) = instruments(1)

    with plane_factory(shards=1, lease_s=2.0, safety_s=0.5) as make:
        plane = make()

        async def go() -> None:
            node = VenueNode(NATS_URL, plane, node="p1", prefix=prefix, shards=[0], launch=False)
            await node.start()
            await _wait(lambda: 0 in node.sequencers, "p1 serving")
            # The CLI's way in: the cluster's own shard count from the control plane.
            backend = await ClusterBackend.connect(
                NATS_URL, PG_URL, prefix=prefix, schema=plane.schema, retry_s=1.0
            )
            nc = await connect()
            try:
                await backend.add_instrument(inst)
                (ok,) = await backend.execute([NewOrder(inst.symbol_id, 1, 1, 1, 1, 1, 100, 1)])
                assert ok.error is None
                log = CommandLog(nc.jetstream(), ClusterNames(prefix), 0)
                before = await log.last_seq()
                # Cut the node from PostgreSQL: its keeper renews no more, the lease runs
                # out on the node's own clock.
                keeper = node.keeper
                assert keeper is not None
                lease = keeper.lease(0)
                assert lease is not None
                await asyncio.to_thread(keeper.stop, release=False)
                await _wait(lambda: not plane.valid(lease), "the lease to run out")
                (refused,) = await backend.execute(
                    [NewOrder(inst.symbol_id, 2, 1, 1, 1, 1, 100, 1)]
                )
                assert refused.error is not None
                assert refused.enq_seq == 0
                assert refused.events == []
                assert await log.last_seq() == before
            finally:
                await backend.close()
                await nc.close()
                await node.stop()

        run(go())


def test_a_record_it_did_not_write_makes_the_node_rebuild_and_go_on(prefix: str) -> None:
    (inst,) = instruments(1)
    sid = inst.symbol_id

    with plane_factory(shards=1, lease_s=2.0, safety_s=0.5) as make:
        plane = make()

        async def go() -> None:
            node = VenueNode(NATS_URL, plane, node="r1", prefix=prefix, shards=[0], launch=False)
            await node.start()
            await _wait(lambda: 0 in node.sequencers, "r1 serving")
            nc = await connect()
            backend = ClusterBackend(nc, ClusterNames(prefix), plane.shard_map(), retry_s=10)
            await backend.start()
            try:
                await backend.add_instrument(inst)
                (ok,) = await backend.execute([NewOrder(sid, 1, 1, 1, 1, 1, 100, 1)])
                assert ok.error is None
                # A fenced owner's append that was still in flight lands now: the next
                # record on the subject, written under another token.
                log = CommandLog(nc.jetstream(), ClusterNames(prefix), 0)
                head = await log.last_subject_seq(sid)
                stale = Batch(2, time.time_ns(), [NewOrder(sid, 7, 2, 2, 1, 1, 105, 3)])
                await log.append(sid, stale, expected_last=head, token=10_000)
                first = node.sequencers[0]
                # The node's append is refused (nothing stored: NOT_OWNER), it rebuilds the
                # shard, and the front end's retry lands after the record it did not write.
                (again,) = await backend.execute([NewOrder(sid, 2, 1, 1, 1, 1, 100, 1)])
                assert again.error is None
                assert again.enq_seq == 3
                assert node.sequencers[0] is not first
                assert backend.client.retries > 0
                assert await backend.order(sid, 7) is not None  # applied on the rebuild
            finally:
                await backend.close()
                await node.stop()

        run(go())
