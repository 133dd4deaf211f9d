"""R1: attacks on keys, roles and per-key limits, over real sockets.

Keys: missing, garbage, over-long, padded, in a binary header, repeated: each
UNAUTHENTICATED (or gRPC's own RESOURCE_EXHAUSTED for metadata over its limit), nothing
else. Roles: a market-data key enters and reads no orders; a trader calls no admin
method. Limits: the order rate is a documented per-command reject that leaves the call
and the stream usable; ``max_streams`` counts every stream a key holds open.
"""

from __future__ import annotations

import queue
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf import json_format

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "api"))
from server_harness import (  # the harness lives beside the api tests
    KEYS,
    ServerThread,
    Stubs,
    admin_pb2,
    market_data_pb2,
    metadata,
    order_entry_pb2,
)

from whistle.api.auth import Authenticator, KeyEntry
from whistle.api.server import ServerConfig
from whistle.coord import Venue

if TYPE_CHECKING:
    from collections.abc import Iterator

pb = order_entry_pb2
RATE_LIMITED = 1


def make_server(**config: Any) -> ServerThread:
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01")
    return ServerThread(venue, config=ServerConfig(port=0, tick_interval_s=0, **config))


@pytest.fixture
def server() -> Iterator[ServerThread]:
    thread = make_server()
    yield thread
    thread.close()


@pytest.fixture
def stubs(server: ServerThread) -> Iterator[Stubs]:
    s = Stubs(server.address)
    yield s
    s.close()


def book(stubs: Stubs) -> list[Any]:
    snap = stubs.admin.Snapshot(admin_pb2.SnapshotRequest(symbol="AAPL"), metadata=metadata("root"))
    return list(json_format.MessageToDict(snap).get("orders", []))


def alive(stubs: Stubs) -> None:
    stubs.admin.Depth(admin_pb2.DepthRequest(symbol="AAPL"), metadata=metadata("md"))


ALICE = KEYS["alice"][0]
BAD_KEYS = [
    ((), "missing x-api-key"),
    ((("x-api-key", ""),), "unknown API key"),
    ((("x-api-key", "junk"),), "unknown API key"),
    ((("x-api-key", ALICE + " "),), "unknown API key"),
    ((("x-api-key", " " + ALICE),), "unknown API key"),
    ((("x-api-key", ALICE.upper()),), "unknown API key"),
    ((("x-api-key", ALICE[:-1]),), "unknown API key"),
    ((("x-api-key", "k" * 600),), "unknown API key"),
    ((("x-api-key", ALICE * 25),), "unknown API key"),
    ((("x-api-key-bin", ALICE.encode()),), "missing x-api-key"),
    ((("x-api-key-bin", "ключ".encode()),), "missing x-api-key"),
    ((("api-key", ALICE),), "missing x-api-key"),
    ((("authorization", f"Bearer {ALICE}"),), "missing x-api-key"),
    # the first x-api-key is the one read: a valid second one does not rescue a bad first
    ((("x-api-key", "junk"), ("x-api-key", ALICE)), "unknown API key"),
]


@pytest.mark.parametrize(("md", "details"), BAD_KEYS, ids=[str(i) for i in range(len(BAD_KEYS))])
def test_bad_keys_are_unauthenticated_with_nothing_more(
    stubs: Stubs, md: tuple[tuple[str, Any], ...], details: str
) -> None:
    before = book(stubs)
    o = stubs.orders
    for call, request in (
        (o.SubmitOrder, pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1")),
        (o.MassCancel, pb.MassCancelRequest()),
        (o.ListOpenOrders, pb.ListOpenOrdersRequest()),
        (stubs.admin.Halt, admin_pb2.HaltRequest(symbol="AAPL")),
        (stubs.admin.Depth, admin_pb2.DepthRequest(symbol="AAPL")),
        (stubs.md.ListInstruments, market_data_pb2.ListInstrumentsRequest()),
    ):
        with pytest.raises(grpc.RpcError) as err:
            call(request, metadata=md)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert err.value.details() == details
    for stream in (
        o.OrderEntry(iter([pb.OrderEntryRequest()]), metadata=md),
        o.SubscribeOrderUpdates(pb.SubscribeOrderUpdatesRequest(), metadata=md),
        stubs.md.SubscribeMarketData(
            iter(
                [market_data_pb2.MarketDataRequest(subscribe=market_data_pb2.MarketDataSubscribe())]
            ),
            metadata=md,
        ),
    ):
        with pytest.raises(grpc.RpcError) as err:
            next(stream)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert book(stubs) == before
    alive(stubs)


def test_a_key_over_the_metadata_limit_is_refused_by_grpc_and_the_server_serves(
    stubs: Stubs,
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stubs.orders.ListOpenOrders(
            pb.ListOpenOrdersRequest(), metadata=(("x-api-key", "k" * 200_000),)
        )
    assert err.value.code() in (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNAUTHENTICATED,
    )
    alive(stubs)


def test_a_market_data_key_enters_and_reads_no_orders(stubs: Stubs) -> None:
    resting = stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=2, qty="1", price="10"), metadata=metadata("bob")
    ).result
    before = book(stubs)
    o = stubs.orders
    for call, request in (
        (o.SubmitOrder, pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="10")),
        (o.CancelOrder, pb.CancelOrderRequest(symbol="AAPL", order_id=resting.order_id)),
        (o.ModifyOrder, pb.ModifyOrderRequest(symbol="AAPL", order_id=resting.order_id, qty="2")),
        (
            o.CancelReplace,
            pb.CancelReplaceRequest(symbol="AAPL", order_id=resting.order_id, price="9", qty="1"),
        ),
        (o.MassCancel, pb.MassCancelRequest()),
        (o.MassCancel, pb.MassCancelRequest(account=8)),
        (o.GetOrder, pb.GetOrderRequest(symbol="AAPL", order_id=resting.order_id)),
        (o.ListOpenOrders, pb.ListOpenOrdersRequest()),
        (o.GetClientOrder, pb.GetClientOrderRequest(client_order_id=1, account=8)),
        (stubs.admin.Snapshot, admin_pb2.SnapshotRequest(symbol="AAPL")),
        (stubs.admin.Halt, admin_pb2.HaltRequest(symbol="AAPL")),
    ):
        with pytest.raises(grpc.RpcError) as err:
            call(request, metadata=metadata("md"))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, request
    for stream in (
        o.OrderEntry(
            iter(
                [
                    pb.OrderEntryRequest(
                        commands=[pb.OrderCommand(request_id=1, mass_cancel=pb.MassCancelRequest())]
                    )
                ]
            ),
            metadata=metadata("md"),
        ),
        o.SubscribeOrderUpdates(pb.SubscribeOrderUpdatesRequest(), metadata=metadata("md")),
        o.SubscribeOrderUpdates(
            pb.SubscribeOrderUpdatesRequest(account=8), metadata=metadata("md")
        ),
    ):
        with pytest.raises(grpc.RpcError) as err:
            next(stream)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert book(stubs) == before


def test_a_trader_calls_no_admin_method(stubs: Stubs) -> None:
    a = stubs.admin
    for call, request in (
        (a.AddInstrument, admin_pb2.AddInstrumentRequest(symbol="EVIL", tick_size="0.01")),
        (a.Halt, admin_pb2.HaltRequest(symbol="AAPL")),
        (a.Resume, admin_pb2.ResumeRequest(symbol="AAPL")),
        (a.Snapshot, admin_pb2.SnapshotRequest(symbol="AAPL")),
        (a.ReleaseIdle, admin_pb2.ReleaseIdleRequest(idle_ticks=1)),
    ):
        with pytest.raises(grpc.RpcError) as err:
            call(request, metadata=metadata("alice"))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, request
    listed = stubs.md.ListInstruments(
        market_data_pb2.ListInstrumentsRequest(), metadata=metadata("md")
    )
    assert [i.symbol for i in listed.instruments] == ["AAPL"]
    status = a.Status(admin_pb2.StatusRequest(), metadata=metadata("alice"))
    assert [s.state for s in status.symbols] == [1]  # still trading


def limited_server(
    orders_per_sec: float, burst: int, max_streams: int | None = None
) -> ServerThread:
    from server_harness import auth_config

    base = auth_config()
    keys = [
        KeyEntry(
            name=k.name,
            sha256=k.sha256,
            role=k.role,
            account=k.account,
            orders_per_sec=orders_per_sec if k.name == "alice" else None,
            burst=burst if k.name == "alice" else None,
            max_streams=max_streams if k.name == "alice" else None,
        )
        for k in base.keys
    ]
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01")
    auth = Authenticator(type(base)(keys=keys, limits=base.limits))
    return ServerThread(venue, config=ServerConfig(port=0, tick_interval_s=0), auth=auth)


def test_the_order_rate_is_a_per_command_reject_on_unary_and_stream_alike() -> None:
    # 5 orders of burst, a refill far slower than the test: exactly 5 go, whatever the path
    server = limited_server(orders_per_sec=0.001, burst=5)
    stubs = Stubs(server.address)
    try:
        sent = []
        for i in range(3):
            sent.append(
                stubs.orders.SubmitOrder(
                    pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price=str(10 + i)),
                    metadata=metadata("alice"),
                ).result
            )
        commands = [
            pb.OrderCommand(
                request_id=i,
                submit=pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price=str(20 + i)),
            )
            for i in range(6)
        ]
        # one stream, three requests: the stream is never dropped, every command answered
        replies = list(
            stubs.orders.OrderEntry(
                iter(
                    [
                        pb.OrderEntryRequest(commands=commands[:3]),
                        pb.OrderEntryRequest(commands=commands[3:]),
                    ]
                ),
                metadata=metadata("alice"),
            )
        )
        sent += [r.result for reply in replies for r in reply.replies]
        assert len(sent) == 9
        taken = [r for r in sent if r.enq_seq]
        refused = [r for r in sent if r.api_error == RATE_LIMITED]
        assert len(taken) == 5
        assert len(refused) == 4
        assert all(not r.events and r.enq_seq == 0 for r in refused)
        assert "orders/s" in refused[0].detail
        # cancels count too (each command is one token), but another key is untouched
        cancel = stubs.orders.MassCancel(pb.MassCancelRequest(), metadata=metadata("alice")).result
        assert cancel.api_error == RATE_LIMITED
        bob = stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=2, qty="1", price="500"),
            metadata=metadata("bob"),
        ).result
        assert bob.enq_seq
        assert len(book(stubs)) == 6
    finally:
        stubs.close()
        server.close()


def _idle_requests(q: queue.Queue[Any]) -> Iterator[Any]:
    while True:
        item = q.get()
        if item is None:
            return
        yield item


def _wait_open_streams(server: ServerThread, want: int) -> None:
    assert server.server is not None
    for _ in range(200):
        if server.server.open_streams == want:
            return
        time.sleep(0.02)
    raise AssertionError(f"open streams {server.server.open_streams}, wanted {want}")


def test_max_streams_counts_every_kind_and_gives_back_abruptly_closed_ones() -> None:
    server = limited_server(orders_per_sec=1e6, burst=1_000_000, max_streams=3)
    try:
        for _round in range(3):
            stubs = Stubs(server.address)
            q: queue.Queue[Any] = queue.Queue()
            sub = market_data_pb2.MarketDataRequest(subscribe=market_data_pb2.MarketDataSubscribe())
            q.put(sub)
            md = stubs.md.SubscribeMarketData(_idle_requests(q), metadata=metadata("alice"))
            md.initial_metadata()
            updates = stubs.orders.SubscribeOrderUpdates(
                pb.SubscribeOrderUpdatesRequest(), metadata=metadata("alice")
            )
            updates.initial_metadata()
            q2: queue.Queue[Any] = queue.Queue()
            entry = stubs.orders.OrderEntry(_idle_requests(q2), metadata=metadata("alice"))
            _wait_open_streams(server, 3)
            one_more = stubs.orders.SubscribeOrderUpdates(
                pb.SubscribeOrderUpdatesRequest(), metadata=metadata("alice")
            )
            with pytest.raises(grpc.RpcError) as err:
                next(one_more)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            # another key is not counted with alice's
            other = stubs.orders.SubscribeOrderUpdates(
                pb.SubscribeOrderUpdatesRequest(), metadata=metadata("bob")
            )
            other.initial_metadata()
            other.cancel()
            # the client vanishes without ending its streams
            q.put(None)
            q2.put(None)
            stubs.close()
            del md, updates, entry
            _wait_open_streams(server, 0)
    finally:
        server.close()


def test_market_data_streams_that_never_subscribe_still_count() -> None:
    """Finding 2 (fixed in 4fa7c72): counted only after the first request."""
    server = limited_server(orders_per_sec=1e6, burst=1_000_000, max_streams=2)
    stubs = Stubs(server.address)
    queues: list[queue.Queue[Any]] = []
    calls = []
    try:
        for _ in range(5):
            q: queue.Queue[Any] = queue.Queue()
            queues.append(q)
            calls.append(
                stubs.md.SubscribeMarketData(_idle_requests(q), metadata=metadata("alice"))
            )
        # the server has seen all five (a unary call after them on the same channel)
        alive(stubs)
        refused = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and refused < 3:
            refused = sum(
                1
                for c in calls
                if c.done() and c.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
            )
            time.sleep(0.05)
        assert refused == 3, "five open streams of a max_streams=2 key, none refused"
    finally:
        for q in queues:
            q.put(None)
        for c in calls:
            c.cancel()  # type: ignore[attr-defined]
        stubs.close()
        server.close()


def test_an_oversized_message_is_refused_and_changes_nothing() -> None:
    server = make_server(max_message_bytes=64 * 1024)
    stubs = Stubs(server.address)
    try:
        before = book(stubs)
        big = pb.SubmitOrderRequest(symbol="A" * 100_000, side=1, qty="1", price="1")
        with pytest.raises(grpc.RpcError) as err:
            stubs.orders.SubmitOrder(big, metadata=metadata("alice"))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        many = pb.OrderEntryRequest(
            commands=[
                pb.OrderCommand(
                    request_id=i,
                    submit=pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1"),
                )
                for i in range(5000)
            ]
        )
        with pytest.raises(grpc.RpcError) as err:
            list(stubs.orders.OrderEntry(iter([many]), metadata=metadata("alice")))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert book(stubs) == before
        small = stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1"),
            metadata=metadata("alice"),
        ).result
        assert small.enq_seq
    finally:
        stubs.close()
        server.close()


def test_refused_commands_are_rate_limited_too() -> None:
    """Finding 6 (fixed in 579f2bc): refusals at conversion took no rate token."""
    server = limited_server(orders_per_sec=0.001, burst=5)
    stubs = Stubs(server.address)
    try:
        bad = pb.SubmitOrderRequest(symbol="NOPE", side=1, qty="1", price="1")
        unary = [
            stubs.orders.SubmitOrder(bad, metadata=metadata("alice")).result for _ in range(10)
        ]
        commands = [pb.OrderCommand(request_id=i, submit=bad) for i in range(40)]
        replies = list(
            stubs.orders.OrderEntry(
                iter([pb.OrderEntryRequest(commands=commands)]), metadata=metadata("alice")
            )
        )
        results = unary + [r.result for reply in replies for r in reply.replies]
        limited = [r for r in results if r.api_error == RATE_LIMITED]
        assert len(limited) >= len(results) - 5
    finally:
        stubs.close()
        server.close()


def test_a_traders_open_order_list_does_not_walk_every_book(server: ServerThread) -> None:
    """Finding 7 (fixed in 088cc6b): it took a full snapshot of every book."""
    stubs = Stubs(server.address)
    calls: list[int] = []
    backend = server.backend
    full_snapshot = backend.snapshot

    async def counting(symbol_id: int) -> Any:
        calls.append(symbol_id)
        return await full_snapshot(symbol_id)

    try:
        stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=2, qty="1", price="100"),
            metadata=metadata("bob"),
        )
        server.run(setattr, backend, "snapshot", counting)
        listed = stubs.orders.ListOpenOrders(pb.ListOpenOrdersRequest(), metadata=metadata("alice"))
        assert list(listed.orders) == []
        assert calls == [], "alice's empty list cost a full snapshot of every book"
    finally:
        server.run(delattr, backend, "snapshot")
        stubs.close()


_LIMITED_SERVE = (
    "import os, resource, sys;"
    " resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256));"
    " os.execv(sys.executable, [sys.executable, '-m', 'whistle', 'serve', *sys.argv[1:]])"
)
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


@pytest.mark.parametrize("preface", [False, True], ids=["raw TCP", "HTTP/2 preface"])
def test_idle_grpc_connections_cannot_take_order_entry_down(preface: bool) -> None:
    """Finding 9 (mitigated in a6973a4: a connection quota below the descriptor limit, idle
    and half-open connections closed within 2-3 s): the flood never uses up the server's
    descriptors, and a client that waits for the channel gets in once the idle ones go."""
    import re
    import signal
    import socket
    import subprocess

    from whistle.api.v1 import order_entry_pb2_grpc

    proc = subprocess.Popen(
        [sys.executable, "-c", _LIMITED_SERVE, "--port", "0", "--instrument", "AAPL"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    socks: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"listening on \S+?:(\d+)", line)
        assert found is not None, line
        port = int(found.group(1))
        for _ in range(400):  # more than the process may hold
            try:
                sock = socket.create_connection(("127.0.0.1", port), 1)
            except OSError:
                break  # the server stopped accepting: its descriptors are gone
            socks.append(sock)
            if preface:
                sock.sendall(_H2_PREFACE)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        try:
            result = (
                order_entry_pb2_grpc.OrderEntryServiceStub(channel)
                .SubmitOrder(
                    pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1", account=1),
                    timeout=8,
                    wait_for_ready=True,
                )
                .result
            )
            assert result.enq_seq
        finally:
            channel.close()
    finally:
        for sock in socks:
            sock.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=30)
