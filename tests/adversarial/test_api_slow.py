"""R1: clients that never read, over real sockets.

A client's HTTP/2 receive window is kept at its 64 KiB start (``grpc.http2.bdp_probe`` 0)
so "never reads" fills the pipe within a few hundred orders. The promises: such a client
costs the server a bounded amount (a conflated market-data queue, a bounded order-update
queue that is dropped when full, a stopped OrderEntry reader), never slows or stops
anyone else, and gives back what it held when it leaves.
"""

from __future__ import annotations

import queue
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "api"))
from server_harness import ServerThread, Stubs, market_data_pb2, metadata, order_entry_pb2

from whistle.api.auth import Authenticator, KeyEntry
from whistle.api.server import ServerConfig
from whistle.api.v1 import market_data_pb2_grpc, order_entry_pb2_grpc
from whistle.coord import Venue

if TYPE_CHECKING:
    from collections.abc import Iterator

pb = order_entry_pb2
SMALL_WINDOW = [("grpc.http2.bdp_probe", 0)]


def make_server(max_streams: int | None = None, **config: Any) -> ServerThread:
    from server_harness import auth_config

    base = auth_config()
    keys = [
        KeyEntry(
            name=k.name,
            sha256=k.sha256,
            role=k.role,
            account=k.account,
            max_streams=max_streams if k.name == "alice" else None,
        )
        for k in base.keys
    ]
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01")
    return ServerThread(
        venue,
        config=ServerConfig(port=0, tick_interval_s=0, orders_per_sec=1e9, burst=10**9, **config),
        auth=Authenticator(type(base)(keys=keys, limits=base.limits)),
    )


def requests(n: int, per: int = 5, side: int = 1) -> Iterator[pb.OrderEntryRequest]:
    for i in range(n):
        yield pb.OrderEntryRequest(
            commands=[
                pb.OrderCommand(
                    request_id=i * per + j,
                    submit=pb.SubmitOrderRequest(
                        symbol="AAPL", side=side, qty="1", price=str(1 + (i * per + j) % 400)
                    ),
                )
                for j in range(per)
            ]
        )


def enq_seq(server: ServerThread) -> int:
    return int(server.run(lambda: server.venue.enq_seq))


def wait_stalled(server: ServerThread) -> int:
    """Wait until the venue stops sequencing (the silent client is backpressured)."""
    last = -1
    for _ in range(100):
        time.sleep(0.3)
        now = enq_seq(server)
        if now == last:
            return now
        last = now
    raise AssertionError("the venue never stopped taking a non-reading client's commands")


def wait_open_streams(server: ServerThread, want: int, tries: int = 100) -> bool:
    assert server.server is not None
    for _ in range(tries):
        if server.server.open_streams == want:
            return True
        time.sleep(0.05)
    return False


def bob_trades(server: ServerThread) -> None:
    stubs = Stubs(server.address)
    try:
        result = stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=2, qty="1", price="999"),
            metadata=metadata("bob"),
        ).result
        assert result.enq_seq
    finally:
        stubs.close()


def test_an_order_entry_client_that_never_reads_is_backpressured_and_others_trade() -> None:
    server = make_server()
    channel = grpc.insecure_channel(server.address, options=SMALL_WINDOW)
    try:
        stub = order_entry_pb2_grpc.OrderEntryServiceStub(channel)
        total = 5000 * 5
        call = stub.OrderEntry(requests(5000), metadata=metadata("alice"))
        stalled = wait_stalled(server)
        assert stalled < total // 4  # bounded: the server stopped reading it
        bob_trades(server)
        # reading again: every reply so far arrives, in order
        seen = 0
        for response in call:
            for reply in response.replies:
                assert reply.request_id == seen
                seen += 1
            if seen >= stalled:
                break
        call.cancel()
    finally:
        channel.close()
        server.close()


def test_a_cancelled_backed_up_order_entry_stream_gives_its_slot_back() -> None:
    """Finding 5 (fixed in 73406a7): the reader blocked in queue.put(None); the slot leaked."""
    server = make_server(max_streams=1)
    channel = grpc.insecure_channel(server.address, options=SMALL_WINDOW)
    try:
        stub = order_entry_pb2_grpc.OrderEntryServiceStub(channel)
        call = stub.OrderEntry(requests(5000), metadata=metadata("alice"))
        wait_stalled(server)
        assert wait_open_streams(server, 1)
        call.cancel()
        assert wait_open_streams(server, 0), "the cancelled stream still holds alice's only slot"
    finally:
        channel.close()
        server.close()


def test_an_order_update_subscriber_that_never_reads_is_dropped_not_buffered() -> None:
    server = make_server(order_update_queue=500)
    channel = grpc.insecure_channel(server.address, options=SMALL_WINDOW)
    stubs = Stubs(server.address)
    try:
        stub = order_entry_pb2_grpc.OrderEntryServiceStub(channel)
        updates = stub.SubscribeOrderUpdates(
            pb.SubscribeOrderUpdatesRequest(), metadata=metadata("alice")
        )
        updates.initial_metadata()
        assert server.server is not None
        hub = server.server.order_updates
        for chunk in range(10):
            replies = list(
                stubs.orders.OrderEntry(requests(40, per=25), metadata=metadata("alice"))
            )
            assert all(r.result.enq_seq for resp in replies for r in resp.replies), chunk
            pending = server.run(lambda: [s.pending for s in server.server._order_subs])  # type: ignore[union-attr]
            assert all(p <= 500 for p in pending)
        assert hub.dropped >= 1
        with pytest.raises(grpc.RpcError) as err:
            for _ in updates:
                pass
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert wait_open_streams(server, 0)
        bob_trades(server)
    finally:
        stubs.close()
        channel.close()
        server.close()


def test_a_market_data_subscriber_that_never_reads_stays_conflated() -> None:
    server = make_server(md_max_pending=200, md_drop_after=10**9)
    channel = grpc.insecure_channel(server.address, options=SMALL_WINDOW)
    stubs = Stubs(server.address)
    q: queue.Queue[Any] = queue.Queue()
    q.put(
        market_data_pb2.MarketDataRequest(
            subscribe=market_data_pb2.MarketDataSubscribe(all_levels=True)
        )
    )

    def reqs() -> Iterator[Any]:
        while (item := q.get()) is not None:
            yield item

    try:
        stub = market_data_pb2_grpc.MarketDataServiceStub(channel)
        call = stub.SubscribeMarketData(reqs(), metadata=metadata("md"))
        call.initial_metadata()
        assert server.server is not None
        for _chunk in range(8):
            replies = list(
                stubs.orders.OrderEntry(requests(40, per=25), metadata=metadata("alice"))
            )
            assert all(r.result.enq_seq for resp in replies for r in resp.replies)
            stats = server.run(lambda: [s.stats() for s in server.server._md_subs])  # type: ignore[union-attr]
            assert stats
            assert all(s.pending <= 200 + 8 for s in stats), stats
        assert any(s.conflations for s in stats), stats  # it really fell behind
        bob_trades(server)
        q.put(None)
        call.cancel()
        assert wait_open_streams(server, 0)
    finally:
        q.put(None)
        stubs.close()
        channel.close()
        server.close()


def test_many_connections_that_do_nothing_cost_nobody_anything() -> None:
    server = make_server()
    channels = [grpc.insecure_channel(server.address) for _ in range(100)]
    try:
        for ch in channels:
            grpc.channel_ready_future(ch).result(timeout=20)
        bob_trades(server)
        stubs = Stubs(server.address)
        try:
            replies = list(stubs.orders.OrderEntry(requests(10), metadata=metadata("alice")))
            assert len(replies) == 10
        finally:
            stubs.close()
    finally:
        for ch in channels:
            ch.close()
        server.close()
