"""The streams over real sockets: OrderEntry, order updates, market data; limits."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from server_harness import (
    ServerThread,
    Stubs,
    auth_config,
    market_data_pb2,
    metadata,
    order_entry_pb2,
)

from whistle.api.auth import Authenticator
from whistle.api.convert import event_from_proto
from whistle.api.server import ServerConfig
from whistle.api.v1 import types_pb2
from whistle.coord import Venue
from whistle.core.commands import NewOrder
from whistle.core.events import OrderAccepted, OrderCancelled, OrderFilled

if TYPE_CHECKING:
    from collections.abc import Iterator

pb = order_entry_pb2
mdpb = market_data_pb2
ApiError = types_pb2.ApiError


def make_server(**config: Any) -> ServerThread:
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01")
    venue.add_instrument("MSFT", tick_size="0.01")
    limits = {k: config.pop(k) for k in list(config) if k in ("orders_per_sec", "burst")}
    cfg = ServerConfig(port=0, tick_interval_s=0, **config, **limits)
    return ServerThread(venue, config=cfg, auth=Authenticator(auth_config()))


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


class Feeder:
    """A request iterator the test feeds one message at a time (None ends it)."""

    def __init__(self) -> None:
        self.items: queue.Queue[Any] = queue.Queue()

    def put(self, item: Any) -> None:
        self.items.put(item)

    def __iter__(self) -> Feeder:
        return self

    def __next__(self) -> Any:
        item = self.items.get(timeout=30)
        if item is None:
            raise StopIteration
        return item


def submit_cmd(request_id: int, **fields: Any) -> order_entry_pb2.OrderCommand:
    return pb.OrderCommand(request_id=request_id, submit=pb.SubmitOrderRequest(**fields))


def test_order_entry_stream_replies_in_order_and_survives_refusals(stubs: Stubs) -> None:
    feeder = Feeder()
    replies = stubs.orders.OrderEntry(feeder, metadata=metadata("alice"))
    feeder.put(
        pb.OrderEntryRequest(
            commands=[
                submit_cmd(10, symbol="AAPL", side=1, qty="5", price="10"),
                pb.OrderCommand(request_id=11),  # no command at all
                submit_cmd(12, symbol="AAPL", side=1, qty="1", price="10", account=8),
                submit_cmd(13, symbol="AAPL", side=1, qty="1", price="10.001"),
                submit_cmd(14, symbol="AAPL", side=2, qty="2", price="10"),
            ]
        )
    )
    first = next(replies)
    assert [r.request_id for r in first.replies] == [10, 11, 12, 13, 14]
    ok, empty, other, precision, taker = (r.result for r in first.replies)
    assert ok.enq_seq
    assert ok.events[0].order_accepted.qty == "5"
    assert empty.api_error == ApiError.API_ERROR_INVALID_ARGUMENT
    assert other.api_error == ApiError.API_ERROR_PERMISSION_DENIED
    assert (
        precision.events[0].order_rejected.reason == types_pb2.REJECT_REASON_INVALID_PRICE_PRECISION
    )
    # self-trade (same account, no STP): both fills are the account's own
    kinds = [type(event_from_proto(e)) for e in taker.events]
    assert kinds.count(OrderFilled) == 2
    assert taker.enq_seq == ok.enq_seq + 1  # sequenced together, in order
    feeder.put(
        pb.OrderEntryRequest(
            commands=[
                pb.OrderCommand(
                    request_id=20, cancel=pb.CancelOrderRequest(symbol="AAPL", order_id=ok.order_id)
                )
            ]
        )
    )
    second = next(replies)
    assert second.replies[0].request_id == 20
    assert OrderCancelled in [type(event_from_proto(e)) for e in second.replies[0].result.events]
    feeder.put(None)
    assert list(replies) == []


def test_order_rate_limit_is_a_documented_reject_not_a_dropped_connection() -> None:
    thread = make_server(orders_per_sec=0.001, burst=3)
    stubs = Stubs(thread.address)
    try:
        feeder = Feeder()
        replies = stubs.orders.OrderEntry(feeder, metadata=metadata("alice"))
        feeder.put(
            pb.OrderEntryRequest(
                commands=[
                    submit_cmd(i, symbol="AAPL", side=1, qty="1", price="1") for i in range(5)
                ]
            )
        )
        results = [r.result for r in next(replies).replies]
        assert [bool(r.enq_seq) for r in results] == [True, True, True, False, False]
        assert [r.api_error for r in results[3:]] == [ApiError.API_ERROR_RATE_LIMITED] * 2
        assert "orders/s" in results[3].detail
        # the unary path says the same, and the stream and the channel keep working
        unary = stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1"),
            metadata=metadata("alice"),
        ).result
        assert unary.api_error == ApiError.API_ERROR_RATE_LIMITED
        assert not unary.events
        # another key has its own bucket
        bob = stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1"),
            metadata=metadata("bob"),
        ).result
        assert bob.enq_seq
        feeder.put(None)
        list(replies)
        assert thread.run(lambda: len(thread.venue.l3("AAPL"))) == 4
    finally:
        stubs.close()
        thread.close()


def test_max_streams_per_key() -> None:
    thread = make_server(max_streams=1)
    stubs = Stubs(thread.address)
    try:
        first = stubs.orders.SubscribeOrderUpdates(
            pb.SubscribeOrderUpdatesRequest(), metadata=metadata("alice")
        )
        # wait until the first stream is open on the server
        deadline = 200
        while thread.run(lambda: thread.server.open_streams) < 1 and deadline:  # type: ignore[union-attr]
            deadline -= 1
            threading.Event().wait(0.02)
        second = stubs.orders.SubscribeOrderUpdates(
            pb.SubscribeOrderUpdatesRequest(), metadata=metadata("alice")
        )
        with pytest.raises(grpc.RpcError) as err:
            next(second)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_streams=1" in (err.value.details() or "")
        # other keys are not affected; the first stream still delivers
        stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1"),
            metadata=metadata("alice"),
        )
        batch = next(first)
        assert type(event_from_proto(batch.events[0])) is OrderAccepted
        first.cancel()
        deadline = 200
        while thread.run(lambda: thread.server.open_streams) > 0 and deadline:  # type: ignore[union-attr]
            deadline -= 1
            threading.Event().wait(0.02)
        third = stubs.orders.SubscribeOrderUpdates(
            pb.SubscribeOrderUpdatesRequest(), metadata=metadata("alice")
        )
        stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="2"),
            metadata=metadata("alice"),
        )
        assert next(third).events
        third.cancel()
    finally:
        stubs.close()
        thread.close()


def wait_streams(thread: ServerThread, count: int) -> None:
    for _ in range(500):
        if thread.run(lambda: thread.server.open_streams) >= count:  # type: ignore[union-attr]
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{count} streams did not open")


def test_order_updates_are_per_account(server: ServerThread, stubs: Stubs) -> None:
    alice = stubs.orders.SubscribeOrderUpdates(
        pb.SubscribeOrderUpdatesRequest(), metadata=metadata("alice")
    )
    admin = stubs.orders.SubscribeOrderUpdates(
        pb.SubscribeOrderUpdatesRequest(), metadata=metadata("root")
    )
    wait_streams(server, 2)
    with pytest.raises(grpc.RpcError) as err:
        next(
            stubs.orders.SubscribeOrderUpdates(
                pb.SubscribeOrderUpdatesRequest(account=8), metadata=metadata("alice")
            )
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        next(
            stubs.orders.SubscribeOrderUpdates(
                pb.SubscribeOrderUpdatesRequest(), metadata=metadata("md")
            )
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    md = metadata("alice")
    maker = stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="5", price="10"), metadata=md
    ).result
    # edge rejects are not order updates
    stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="NOPE", side=1, qty="5", price="10"), metadata=md
    )
    stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=2, qty="2", price="10"), metadata=metadata("bob")
    )
    # bob cancels alice's order: refused, and alice hears nothing of it
    stubs.orders.CancelOrder(
        pb.CancelOrderRequest(symbol="AAPL", order_id=maker.order_id), metadata=metadata("bob")
    )
    stubs.orders.CancelOrder(
        pb.CancelOrderRequest(symbol="AAPL", order_id=maker.order_id), metadata=md
    )
    seen: list[Any] = []
    while len(seen) < 3:
        seen += [event_from_proto(e) for e in next(alice).events]
    assert [type(e) for e in seen] == [OrderAccepted, OrderFilled, OrderCancelled]
    assert {e.account for e in seen} == {7}
    assert all(e.seq for e in seen)
    every: list[Any] = []
    while len(every) < 6:
        every += [event_from_proto(e) for e in next(admin).events]
    assert [(type(e).__name__, e.account) for e in every] == [
        ("OrderAccepted", 7),
        ("OrderAccepted", 8),
        ("OrderFilled", 7),
        ("OrderFilled", 8),
        ("OrderRejected", 8),  # the admin sees the real reason of bob's refused cancel
        ("OrderCancelled", 7),
    ]
    assert every[4].reason == types_pb2.REJECT_REASON_ACCOUNT_MISMATCH
    alice.cancel()
    admin.cancel()


def test_a_slow_order_update_subscriber_is_dropped_and_the_venue_goes_on() -> None:
    thread = make_server(order_update_queue=3)
    stubs = Stubs(thread.address)
    try:
        md = metadata("alice")
        for i in range(5):
            stubs.orders.SubmitOrder(
                pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price=str(i + 1)), metadata=md
            )
        updates = stubs.orders.SubscribeOrderUpdates(pb.SubscribeOrderUpdatesRequest(), metadata=md)
        wait_streams(thread, 1)
        # one batch with 5 events for the account: more than its queue holds
        mass = stubs.orders.MassCancel(pb.MassCancelRequest(symbol="AAPL"), metadata=md).result
        assert len([e for e in mass.events if e.WhichOneof("kind") == "order_cancelled"]) == 5
        with pytest.raises(grpc.RpcError) as err:
            for _ in updates:
                pass
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "fell" in (err.value.details() or "")
        # the venue goes on
        after = stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1"), metadata=md
        ).result
        assert after.enq_seq == 7
    finally:
        stubs.close()
        thread.close()


def md_stream(
    stubs: Stubs, who: str, subscribe: market_data_pb2.MarketDataSubscribe
) -> tuple[Feeder, Any]:
    feeder = Feeder()
    feeder.put(mdpb.MarketDataRequest(subscribe=subscribe))
    return feeder, stubs.md.SubscribeMarketData(feeder, metadata=metadata(who))


def updates_until(stream: Any, count: int) -> list[market_data_pb2.MarketDataUpdate]:
    out: list[market_data_pb2.MarketDataUpdate] = []
    while len(out) < count:
        out += list(next(stream).updates)
    return out


def test_market_data_snapshot_then_deltas_then_requested_snapshot(
    server: ServerThread, stubs: Stubs
) -> None:
    stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="5", price="10"),
        metadata=metadata("alice"),
    )
    feeder, stream = md_stream(stubs, "md", mdpb.MarketDataSubscribe(symbols=["AAPL"], depth=5))
    (snap,) = updates_until(stream, 1)
    assert snap.WhichOneof("kind") == "snapshot"
    assert snap.symbol == "AAPL"
    assert snap.snapshot.cause == mdpb.SNAPSHOT_CAUSE_INITIAL
    assert [(lv.price, lv.qty, lv.order_count) for lv in snap.snapshot.bids] == [("10", "5", 1)]
    stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=2, qty="2", price="10"), metadata=metadata("bob")
    )
    deltas = updates_until(stream, 3)
    assert [u.md_seq for u in deltas] == [snap.md_seq + 1 + i for i in range(len(deltas))]
    by_kind = {u.WhichOneof("kind"): u for u in deltas}
    assert by_kind["trade"].trade.price == "10"
    assert by_kind["level"].level.level.qty == "3"
    assert by_kind["bbo"].bbo.bid.qty == "3"
    # a fresh snapshot on request, in order on the same stream
    feeder.put(mdpb.MarketDataRequest(snapshot=mdpb.MarketDataSnapshotRequest(symbols=["AAPL"])))
    (again,) = updates_until(stream, 1)
    assert again.snapshot.cause == mdpb.SNAPSHOT_CAUSE_REQUESTED
    assert [(lv.price, lv.qty) for lv in again.snapshot.bids] == [("10", "3")]
    feeder.put(None)
    stream.cancel()


def test_market_data_refusals(stubs: Stubs) -> None:
    _, stream = md_stream(stubs, "md", mdpb.MarketDataSubscribe(symbols=["NOPE"]))
    with pytest.raises(grpc.RpcError) as err:
        next(stream)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    feeder = Feeder()
    feeder.put(mdpb.MarketDataRequest(snapshot=mdpb.MarketDataSnapshotRequest()))
    with pytest.raises(grpc.RpcError) as err:
        next(stubs.md.SubscribeMarketData(feeder, metadata=metadata("md")))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, stream = md_stream(stubs, "md", mdpb.MarketDataSubscribe(kinds=[99]))
    with pytest.raises(grpc.RpcError) as err:
        next(stream)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    feeder = Feeder()
    feeder.put(mdpb.MarketDataRequest(subscribe=mdpb.MarketDataSubscribe()))
    with pytest.raises(grpc.RpcError) as err:
        next(stubs.md.SubscribeMarketData(feeder, metadata=()))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_subscriber_that_falls_behind_is_conflated_and_converges() -> None:
    thread = make_server(md_max_pending=20)
    stubs = Stubs(thread.address)
    try:
        feeder, stream = md_stream(
            stubs, "md", mdpb.MarketDataSubscribe(symbols=["AAPL"], all_levels=True)
        )
        (snap,) = updates_until(stream, 1)
        sid = snap.symbol_id
        # 400 commands in batches while the client reads nothing: the wire fills, the
        # server-side queue overflows and is conflated
        for batch in range(8):
            commands = [
                NewOrder(sid, 0, 7, 1 + (i % 2), 1, 1, 1000 + (i % 2) * 1000 + batch * 50 + i, 1)
                for i in range(50)
            ]
            thread.call(thread.backend.execute(commands))
        expected = thread.run(thread.venue.depth, "AAPL", 10_000)
        book: dict[tuple[int, int], tuple[int, int]] = {}
        conflated = False
        last_seq = snap.md_seq
        while True:
            message = next(stream)
            for u in message.updates:
                assert u.md_seq == last_seq + 1 or u.WhichOneof("kind") == "snapshot", u
                last_seq = u.md_seq
                kind = u.WhichOneof("kind")
                if kind == "snapshot":
                    conflated |= u.snapshot.cause == mdpb.SNAPSHOT_CAUSE_CONFLATED
                    book = {
                        (1, lv.price_ticks): (lv.qty_lots, lv.order_count) for lv in u.snapshot.bids
                    }
                    book |= {
                        (2, lv.price_ticks): (lv.qty_lots, lv.order_count) for lv in u.snapshot.asks
                    }
                elif kind == "level":
                    key = (u.level.side, u.level.level.price_ticks)
                    if u.level.level.qty_lots:
                        book[key] = (u.level.level.qty_lots, u.level.level.order_count)
                    else:
                        book.pop(key, None)
            want = {(1, lv.price_ticks): (lv.qty_lots, lv.order_count) for lv in expected.bids}
            want |= {(2, lv.price_ticks): (lv.qty_lots, lv.order_count) for lv in expected.asks}
            if book == want:
                break
        assert conflated, "the subscriber was never conflated"
        assert message.conflations >= 1
        feeder.put(None)
        stream.cancel()
    finally:
        stubs.close()
        thread.close()


def test_a_message_with_more_than_max_batch_commands_is_cut_not_run_whole() -> None:
    thread = make_server(max_batch=5)
    stubs = Stubs(thread.address)
    try:
        commands = [submit_cmd(i, symbol="AAPL", side=1, qty="1", price="1") for i in range(8)]
        (response,) = list(
            stubs.orders.OrderEntry(
                iter([pb.OrderEntryRequest(commands=commands)]), metadata=metadata("alice")
            )
        )
        results = [r.result for r in response.replies]
        assert [r.request_id for r in response.replies] == list(range(8))
        assert [bool(r.enq_seq) for r in results] == [True] * 5 + [False] * 3
        assert {r.api_error for r in results[5:]} == {ApiError.API_ERROR_INVALID_ARGUMENT}
        assert "max_batch=5" in results[5].detail
        assert thread.run(lambda: thread.venue.enq_seq) == 5
    finally:
        stubs.close()
        thread.close()


def test_order_entry_can_leave_market_data_out_of_its_replies(stubs: Stubs) -> None:
    commands = [
        submit_cmd(1, symbol="AAPL", side=1, qty="2", price="10"),
        submit_cmd(2, symbol="AAPL", side=2, qty="1", price="10"),
    ]
    (lean,) = list(
        stubs.orders.OrderEntry(
            iter([pb.OrderEntryRequest(commands=commands, omit_market_data=True)]),
            metadata=metadata("alice"),
        )
    )
    kinds = [[e.WhichOneof("kind") for e in r.result.events] for r in lean.replies]
    assert kinds == [
        ["order_accepted"],
        ["order_accepted", "order_filled", "order_filled", "trade_occurred"],
    ]
    (full,) = list(
        stubs.orders.OrderEntry(
            iter(
                [
                    pb.OrderEntryRequest(
                        commands=[submit_cmd(3, symbol="AAPL", side=1, qty="1", price="11")]
                    )
                ]
            ),
            metadata=metadata("alice"),
        )
    )
    assert [e.WhichOneof("kind") for e in full.replies[0].result.events] == [
        "order_accepted",
        "book_level_changed",
        "best_bid_offer_changed",
    ]


def test_a_market_data_stream_counts_from_the_moment_it_opens() -> None:
    thread = make_server(max_streams=1)
    stubs = Stubs(thread.address)
    idle = Feeder()  # never sends its subscribe
    try:
        first = stubs.md.SubscribeMarketData(idle, metadata=metadata("md"))
        wait_streams(thread, 1)
        _, second = md_stream(stubs, "md", mdpb.MarketDataSubscribe())
        with pytest.raises(grpc.RpcError) as err:
            next(second)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        idle.put(None)
        first.cancel()
    finally:
        stubs.close()
        thread.close()


def test_refused_commands_take_rate_tokens_too() -> None:
    thread = make_server(orders_per_sec=0.001, burst=3)
    stubs = Stubs(thread.address)
    try:
        bad = pb.SubmitOrderRequest(symbol="NOPE", side=1, qty="1", price="1")
        first = [stubs.orders.SubmitOrder(bad, metadata=metadata("alice")).result for _ in range(5)]
        assert [r.events[0].order_rejected.reason for r in first[:3]] == [1001] * 3
        assert [r.api_error for r in first[3:]] == [ApiError.API_ERROR_RATE_LIMITED] * 2
        commands = [pb.OrderCommand(request_id=i, submit=bad) for i in range(4)]
        (reply,) = list(
            stubs.orders.OrderEntry(
                iter([pb.OrderEntryRequest(commands=commands)]), metadata=metadata("alice")
            )
        )
        assert {r.result.api_error for r in reply.replies} == {ApiError.API_ERROR_RATE_LIMITED}
    finally:
        stubs.close()
        thread.close()
