"""Adversarial probes of idempotent order entry through stateless front ends (R2, issue 13).

One ``VenueNode`` holds every shard of a fresh control plane; two ``ClusterBackend``
front ends route to it.

Finding (strict xfail): finding 4: a client_order_id is unique per (symbol, account) in
the cluster, per account on the venue: the same id on a symbol of another shard enters a
second order (the venue refuses it DUPLICATE_CLIENT_ORDER_ID), and GetClientOrder names
only one of the two.

Probes that hold: the same (account, client_order_id) sent at once through two front
ends enters one order; a command whose reply was lost (published, never answered) sent
again with its client_order_id is applied once.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "cluster"))

from control_support import plane_factory
from nats_support import NATS_URL, connect, purge, require_nats, run, unique_prefix

from whistle.cluster.frontend import ClusterBackend
from whistle.cluster.log import ClusterNames, CommandLog
from whistle.cluster.node import VenueNode
from whistle.cluster.wire import Execute, encode_request
from whistle.core.commands import NewOrder
from whistle.core.events import DuplicateClientOrder, OrderAccepted, OrderRejected
from whistle.core.instrument import Instrument
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    from whistle.cluster.control import ControlPlane

SHARDS = 4
# crc32 mod 4: AAA -> shard 3, DDD -> shard 2.
AAA = Instrument(symbol="AAA", symbol_id=11)
DDD = Instrument(symbol="DDD", symbol_id=12)


@pytest.fixture(autouse=True)
def _nats() -> None:
    require_nats()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


async def _wait(cond: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s} s")
        await asyncio.sleep(0.02)


def _with_cluster(
    prefix: str,
    body: Callable[[ControlPlane, VenueNode, ClusterBackend, ClusterBackend], Awaitable[None]],
) -> None:
    with plane_factory(shards=SHARDS, lease_s=3.0, safety_s=0.75) as make:
        plane = make()

        async def go() -> None:
            node = VenueNode(
                NATS_URL,
                plane,
                node="r2n1",
                prefix=prefix,
                shards=list(range(SHARDS)),
                launch=False,
            )
            await node.start()
            fronts: list[ClusterBackend] = []
            try:
                await _wait(lambda: len(node.sequencers) == SHARDS, "the node serving")
                for _ in range(2):
                    front = ClusterBackend(
                        await connect(), ClusterNames(prefix), plane.shard_map(), retry_s=30
                    )
                    await front.start()
                    fronts.append(front)
                for inst in (AAA, DDD):
                    assert await fronts[0].add_instrument(inst) == inst
                await _wait(
                    lambda: fronts[1].instrument("DDD") == DDD, "the second front end to learn"
                )
                await body(plane, node, fronts[0], fronts[1])
            finally:
                for front in fronts:
                    await front.close()
                await node.stop()

        run(go())


async def _orders_logged(prefix: str, symbol: Instrument, shard: int) -> list[int]:
    nc = await connect()
    try:
        log = CommandLog(nc.jetstream(), ClusterNames(prefix), shard)
        return [
            c.order_id
            async for _, sid, rec in log.read()
            if sid == symbol.symbol_id
            for c in getattr(rec, "commands", [])
        ]
    finally:
        await nc.close()


def _order(inst: Instrument, coid: int, price: int = 100) -> NewOrder:
    return NewOrder(inst.symbol_id, 0, 42, 1, 1, 1, price, 3, client_order_id=coid)


@pytest.mark.xfail(
    strict=True, reason="finding 4: a client_order_id repeat on another shard's symbol enters"
)
def test_a_client_order_id_is_taken_once_per_account_across_shards(prefix: str) -> None:
    async def body(
        plane: ControlPlane, node: VenueNode, a: ClusterBackend, b: ClusterBackend
    ) -> None:
        assert plane.shard_of("AAA") != plane.shard_of("DDD")
        (first,) = await a.execute([_order(AAA, 555)])
        assert type(first.events[0]) is OrderAccepted
        (again,) = await b.execute([_order(DDD, 555, price=90)])
        # The venue's rule (whistle.coord.durability.client_orders): one command per
        # (account, client_order_id); another symbol with the id is refused.
        assert [type(e) for e in again.events] == [OrderRejected], again.events
        assert again.events[0].reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID
        assert await _orders_logged(prefix, DDD, plane.shard_of("DDD")) == []

    _with_cluster(prefix, body)


def test_one_client_order_id_through_two_front_ends_at_once_enters_once(prefix: str) -> None:
    async def body(
        plane: ControlPlane, node: VenueNode, a: ClusterBackend, b: ClusterBackend
    ) -> None:
        outcomes = await asyncio.gather(
            *(front.execute([_order(AAA, 700 + k)]) for k in range(5) for front in (a, b))
        )
        kinds = sorted(type(o.events[0]).__name__ for (o,) in outcomes)
        assert kinds == ["DuplicateClientOrder"] * 5 + ["OrderAccepted"] * 5
        ids = {o.order_id for (o,) in outcomes}
        assert len(ids) == 5  # each pair names one order
        logged = await _orders_logged(prefix, AAA, plane.shard_of("AAA"))
        assert sorted(logged) == sorted(ids)

    _with_cluster(prefix, body)


def test_a_command_whose_reply_was_lost_is_applied_once_when_sent_again(prefix: str) -> None:
    async def body(
        plane: ControlPlane, node: VenueNode, a: ClusterBackend, b: ClusterBackend
    ) -> None:
        shard = plane.shard_of("AAA")
        nc = await connect()
        try:
            # The front end's request reached the node, its reply never came back.
            await nc.publish(
                ClusterNames(prefix).req_subject(shard), encode_request(Execute([_order(AAA, 9)]))
            )
            await nc.flush()
        finally:
            await nc.close()
        (retry,) = await b.execute([_order(AAA, 9)])
        assert retry.error is None
        kinds = [type(e) for e in retry.events]
        assert kinds[0] in (OrderAccepted, DuplicateClientOrder), retry.events
        await asyncio.sleep(0.2)
        (third,) = await a.execute([_order(AAA, 9)])
        assert type(third.events[0]) is DuplicateClientOrder
        assert len(await _orders_logged(prefix, AAA, shard)) == 1

    _with_cluster(prefix, body)
