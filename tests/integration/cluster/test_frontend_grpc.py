"""The network API on a cluster: ``WhistleServer`` over ``ClusterBackend`` over a node.

A gRPC client (``whistle.api.client.Client``) that knows nothing of shards defines
symbols, trades, reads books and repeats a client order id; everything goes through the
front end, NATS and JetStream to the node that owns each symbol's shard, and back.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from control_support import plane_factory
from nats_support import NATS_URL, connect, purge, require_nats, run, unique_prefix

from whistle.api.auth import Authenticator
from whistle.api.client import Client
from whistle.api.server import ServerConfig, WhistleServer
from whistle.cluster.frontend import ClusterBackend
from whistle.cluster.log import ClusterNames
from whistle.cluster.node import VenueNode
from whistle.core.events import DuplicateClientOrder, OrderAccepted, TradeOccurred

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator

    from whistle.cluster.control import ControlPlane

SHARDS = 3


@pytest.fixture(autouse=True)
def _nats() -> None:
    require_nats()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


class Stack:
    """A node, a front end and a gRPC server on one event loop in a thread."""

    def __init__(self, plane: ControlPlane, prefix: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.node = VenueNode(
            NATS_URL, plane, node="g1", prefix=prefix, shards=list(range(SHARDS)), launch=False
        )

        async def up() -> int:
            await self.node.start()
            deadline = time.monotonic() + 30
            while len(self.node.sequencers) < SHARDS:
                assert time.monotonic() < deadline, "the node did not take its shards"
                await asyncio.sleep(0.02)
            nc = await connect()
            self.backend = ClusterBackend(nc, ClusterNames(prefix), plane.shard_map())
            await self.backend.start()
            self.server = WhistleServer(
                self.backend,
                auth=Authenticator(None),
                config=ServerConfig(port=0, tick_interval_s=0),
            )
            port = await self.server.start()
            await self.server.serving()
            return port

        self.port = self.call(up())

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        async def down() -> None:
            await self.server.stop(grace=1.0)
            await self.node.stop()

        try:
            self.call(down())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(30)
            self.loop.close()


def test_grpc_client_trades_through_the_cluster(prefix: str) -> None:
    with plane_factory(shards=SHARDS) as make:
        plane = make()
        stack = Stack(plane, prefix)
        try:
            with Client(f"127.0.0.1:{stack.port}") as client:
                symbols = ["AAA", "BBB", "CCC", "DDD"]
                for symbol in symbols:
                    client.add_instrument(symbol, tick_size="0.01")
                assert sorted(client.symbols) == symbols
                assert len({plane.shard_of(s) for s in symbols}) > 1  # spread over shards
                for symbol in symbols:
                    resting = client.submit(symbol, "sell", "5", "10.00", account=1)
                    assert type(resting[0]) is OrderAccepted
                    taking = client.submit(symbol, "buy", "2", "10.00", account=2)
                    assert any(type(e) is TradeOccurred for e in taking)
                    depth = client.depth(symbol)
                    assert [(lv.price_ticks, lv.qty_lots) for lv in depth.asks] == [(1000, 3)]
                # A repeated client order id is answered, not entered twice.
                first = client.submit("AAA", "buy", "1", "9.00", account=3, client_order_id=42)
                again = client.submit("AAA", "buy", "1", "9.00", account=3, client_order_id=42)
                assert type(first[0]) is OrderAccepted
                assert type(again[0]) is DuplicateClientOrder
                assert again[0].order_id == first[0].order_id
                view = client.client_order(42, account=3)
                assert view is not None
                assert view.order_id == first[0].order_id
                hashes = {s: client.state_hash(s) for s in symbols}
                digests = stack.call(_node_hashes(stack))
                by_id = {i.symbol: i.symbol_id for i in client.instruments()}
                assert {s: digests[by_id[s]] for s in symbols} == hashes
        finally:
            stack.close()


async def _node_hashes(stack: Stack) -> dict[int, str]:
    out: dict[int, str] = {}
    for seq in stack.node.sequencers.values():
        out.update(seq.state_hashes())
    return out
