"""Order entry over real sockets: every unary method, per-account rules, idempotency."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest
from server_harness import ServerThread, Stubs, admin_pb2, metadata, order_entry_pb2

from whistle.api.convert import event_from_proto
from whistle.api.v1 import types_pb2
from whistle.coord import Venue
from whistle.core.events import (
    BestBidOfferChanged,
    BookLevelChanged,
    DuplicateClientOrder,
    OrderAccepted,
    OrderCancelled,
    OrderModified,
    OrderReplaced,
    TradeOccurred,
)
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from collections.abc import Iterator

pb = order_entry_pb2


@pytest.fixture
def server() -> Iterator[ServerThread]:
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01")
    venue.add_instrument("MSFT", tick_size="0.05", lot_size="10")
    thread = ServerThread(venue)
    yield thread
    thread.close()


@pytest.fixture
def stubs(server: ServerThread) -> Iterator[Stubs]:
    s = Stubs(server.address)
    yield s
    s.close()


def kinds(result: types_pb2.CommandResult) -> list[type]:
    return [type(event_from_proto(e)) for e in result.events]


def submit(stubs: Stubs, who: str, **fields: object) -> types_pb2.CommandResult:
    response = stubs.orders.SubmitOrder(pb.SubmitOrderRequest(**fields), metadata=metadata(who))
    return response.result


def book(server: ServerThread, symbol: str = "AAPL") -> tuple[object, ...]:
    """The book's levels and resting orders (engine rejects use event seqs, nothing else)."""
    depth = server.run(server.venue.depth, symbol, 100)
    orders = server.run(server.venue.l3, symbol)
    return tuple(depth.bids), tuple(depth.asks), tuple(orders)


def test_submit_with_decimals_returns_the_events_in_both_forms(stubs: Stubs) -> None:
    result = submit(stubs, "alice", symbol="AAPL", side=1, qty="5", price="187.25")
    assert result.enq_seq == 1
    assert result.order_id == 1
    assert kinds(result) == [OrderAccepted, BookLevelChanged, BestBidOfferChanged]
    accepted = result.events[0].order_accepted
    assert (accepted.price_ticks, accepted.price, accepted.qty_lots, accepted.qty) == (
        18725,
        "187.25",
        5,
        "5",
    )
    assert accepted.account == 7
    assert result.events[0].seq == 1
    assert result.events[0].enq_seq == 1


def test_submit_with_integer_units_on_a_lot_grid(stubs: Stubs) -> None:
    result = submit(stubs, "alice", symbol="MSFT", side=2, qty_lots=3, price_ticks=4001)
    accepted = result.events[0].order_accepted
    assert (accepted.price, accepted.qty) == ("200.05", "30")


def test_the_taker_never_sees_the_makers_fill(stubs: Stubs) -> None:
    submit(stubs, "alice", symbol="AAPL", side=1, qty="5", price="10")
    taker = submit(stubs, "bob", symbol="AAPL", side=2, qty="2", price="10")
    fills = [event_from_proto(e) for e in taker.events if e.WhichOneof("kind") == "order_filled"]
    assert [f.account for f in fills] == [8]  # type: ignore[union-attr]
    assert TradeOccurred in kinds(taker)
    (trade,) = [e.trade_occurred for e in taker.events if e.WhichOneof("kind") == "trade_occurred"]
    assert trade.maker_order_id == 0  # alice's order id is not bob's to know
    assert trade.taker_order_id == taker.order_id
    for event in taker.events:
        core = event_from_proto(event)
        assert getattr(core, "account", 8) == 8


def test_cancel_modify_replace_mass_cancel_of_own_orders(
    stubs: Stubs, server: ServerThread
) -> None:
    first = submit(stubs, "alice", symbol="AAPL", side=1, qty="5", price="10")
    oid = first.order_id
    md = metadata("alice")
    modified = stubs.orders.ModifyOrder(
        pb.ModifyOrderRequest(symbol="AAPL", order_id=oid, qty="3"), metadata=md
    ).result
    assert OrderModified in kinds(modified)
    replaced = stubs.orders.CancelReplace(
        pb.CancelReplaceRequest(symbol="AAPL", order_id=oid, price="10.5", qty="4"), metadata=md
    ).result
    assert OrderReplaced in kinds(replaced)
    new_id = replaced.order_id
    assert new_id != oid
    cancelled = stubs.orders.CancelOrder(
        pb.CancelOrderRequest(symbol="AAPL", order_id=new_id), metadata=md
    ).result
    assert OrderCancelled in kinds(cancelled)
    submit(stubs, "alice", symbol="AAPL", side=1, qty="1", price="9")
    submit(stubs, "alice", symbol="MSFT", side=1, qty="10", price="9")
    submit(stubs, "bob", symbol="AAPL", side=1, qty="1", price="8")
    mass = stubs.orders.MassCancel(pb.MassCancelRequest(), metadata=md).result
    cancelled_events = [event_from_proto(e) for e in mass.events]
    cancels = [e for e in cancelled_events if isinstance(e, OrderCancelled)]
    assert len(cancels) == 2
    assert {c.account for c in cancels} == {7}
    # bob's order is still there
    depth = book(server)
    assert [(lv.price_ticks, lv.qty_lots) for lv in depth[0]] == [(800, 1)]  # type: ignore[index]


def test_another_accounts_order_looks_like_no_order_and_is_untouched(
    stubs: Stubs, server: ServerThread
) -> None:
    mine = submit(stubs, "alice", symbol="AAPL", side=1, qty="5", price="10").order_id
    before = book(server)
    md = metadata("bob")
    answers = [
        stubs.orders.CancelOrder(pb.CancelOrderRequest(symbol="AAPL", order_id=mine), metadata=md),
        stubs.orders.ModifyOrder(
            pb.ModifyOrderRequest(symbol="AAPL", order_id=mine, qty="1"), metadata=md
        ),
        stubs.orders.CancelReplace(
            pb.CancelReplaceRequest(symbol="AAPL", order_id=mine, price="11", qty="1"),
            metadata=md,
        ),
    ]
    nothing = stubs.orders.CancelOrder(
        pb.CancelOrderRequest(symbol="AAPL", order_id=999_999), metadata=md
    ).result
    for answer in answers:
        (event,) = answer.result.events
        reject = event.order_rejected
        assert reject.reason == RejectReason.UNKNOWN_ORDER_ID
        assert reject.detail_code == 0
        assert reject.account == 8
        # exactly what a cancel of an order that does not exist says, but for the id
        assert reject.detail == nothing.events[0].order_rejected.detail
        assert "7" not in answer.result.detail
    assert book(server) == before
    # and bob's mass cancel leaves alice's order alone
    stubs.orders.MassCancel(pb.MassCancelRequest(symbol="AAPL"), metadata=md)
    assert book(server) == before


def test_a_trader_cannot_name_another_account_or_choose_order_ids(stubs: Stubs) -> None:
    for request in (
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1", account=8),
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1", order_id=55),
    ):
        with pytest.raises(grpc.RpcError) as err:
            stubs.orders.SubmitOrder(request, metadata=metadata("alice"))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        stubs.orders.CancelOrder(
            pb.CancelOrderRequest(symbol="AAPL", order_id=1, account=8), metadata=metadata("alice")
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # naming itself is fine
    ok = submit(stubs, "alice", symbol="AAPL", side=1, qty="1", price="1", account=7)
    assert ok.enq_seq


def test_market_data_keys_cannot_trade_and_admins_can_for_anyone(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as err:
        submit(stubs, "md", symbol="AAPL", side=1, qty="1", price="1")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    result = submit(
        stubs, "root", symbol="AAPL", side=1, qty="1", price="1", account=42, order_id=77
    )
    assert result.order_id == 77
    assert result.events[0].order_accepted.account == 42
    # an admin cancels without naming the owner
    cancel = stubs.orders.CancelOrder(
        pb.CancelOrderRequest(symbol="AAPL", order_id=77), metadata=metadata("root")
    ).result
    assert OrderCancelled in kinds(cancel)


def test_idempotent_resubmission_changes_nothing(stubs: Stubs, server: ServerThread) -> None:
    fields = {"symbol": "AAPL", "side": 1, "qty": "5", "price": "10", "client_order_id": 123}
    first = submit(stubs, "alice", **fields)
    assert first.enq_seq == 1
    before = book(server), server.run(lambda: server.venue.enq_seq)
    again = submit(stubs, "alice", **fields)
    assert again.enq_seq == 0
    assert again.order_id == first.order_id
    events = [event_from_proto(e) for e in again.events]
    assert isinstance(events[0], DuplicateClientOrder)
    assert events[0].original_enq_seq == 1
    assert isinstance(events[1], OrderAccepted)
    assert (book(server), server.run(lambda: server.venue.enq_seq)) == before
    # the same client order id from ANOTHER account is a different key: a new order
    other = submit(stubs, "bob", **fields)
    assert other.enq_seq == 2
    # a different order under a held key is refused, nothing changes
    changed = submit(stubs, "alice", **{**fields, "qty": "6"})
    reject = changed.events[0].order_rejected
    assert reject.reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID
    lookup = stubs.orders.GetClientOrder(
        pb.GetClientOrderRequest(client_order_id=123), metadata=metadata("alice")
    )
    assert lookup.order_id == first.order_id
    assert lookup.outcome == types_pb2.CLIENT_ORDER_OUTCOME_ACCEPTED


def test_order_lookups_are_per_account(stubs: Stubs) -> None:
    oid = submit(stubs, "alice", symbol="AAPL", side=1, qty="5", price="10").order_id
    submit(stubs, "bob", symbol="AAPL", side=1, qty="2", price="9")
    info = stubs.orders.GetOrder(
        pb.GetOrderRequest(symbol="AAPL", order_id=oid), metadata=metadata("alice")
    ).order
    assert (info.leaves_qty, info.price, info.queue_position) == ("5", "10", 1)
    with pytest.raises(grpc.RpcError) as err:
        stubs.orders.GetOrder(
            pb.GetOrderRequest(symbol="AAPL", order_id=oid), metadata=metadata("bob")
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as missing:
        stubs.orders.GetOrder(
            pb.GetOrderRequest(symbol="AAPL", order_id=9999), metadata=metadata("bob")
        )
    assert missing.value.details().replace("9999", "X") == err.value.details().replace(
        str(oid), "X"
    )
    mine = stubs.orders.ListOpenOrders(pb.ListOpenOrdersRequest(), metadata=metadata("alice"))
    assert [(o.order_id, o.account) for o in mine.orders] == [(oid, 7)]
    every = stubs.orders.ListOpenOrders(pb.ListOpenOrdersRequest(), metadata=metadata("root"))
    assert sorted(o.account for o in every.orders) == [7, 8]
    with pytest.raises(grpc.RpcError) as none:
        stubs.orders.GetClientOrder(
            pb.GetClientOrderRequest(client_order_id=5), metadata=metadata("alice")
        )
    assert none.value.code() == grpc.StatusCode.NOT_FOUND


def test_value_errors_are_documented_rejects_and_change_nothing(
    stubs: Stubs, server: ServerThread
) -> None:
    submit(stubs, "alice", symbol="AAPL", side=1, qty="5", price="10")
    before = book(server)
    cases = [
        ({"symbol": "NOPE", "side": 1, "qty": "1", "price": "1"}, RejectReason.UNKNOWN_SYMBOL),
        (
            {"symbol_id": 12345, "side": 1, "qty_lots": 1, "price_ticks": 1},
            RejectReason.UNKNOWN_SYMBOL,
        ),
        (
            {"symbol": "AAPL", "side": 1, "qty": "1", "price": "10.001"},
            RejectReason.INVALID_PRICE_PRECISION,
        ),
        (
            {"symbol": "MSFT", "side": 1, "qty": "15", "price": "10"},
            RejectReason.INVALID_QTY_PRECISION,
        ),
        (
            {"symbol": "AAPL", "side": 1, "qty": "1e3", "price": "10"},
            RejectReason.MALFORMED_COMMAND,
        ),
        ({"symbol": "AAPL", "side": 1, "qty": " 1", "price": "10"}, RejectReason.MALFORMED_COMMAND),
        ({"symbol": "AAPL", "side": 9, "qty": "1", "price": "10"}, RejectReason.INVALID_SIDE),
        ({"symbol": "AAPL", "side": 0, "qty": "1", "price": "10"}, RejectReason.INVALID_SIDE),
        (
            {"symbol": "AAPL", "side": 1, "qty": "1", "price": "10", "tif": 77},
            RejectReason.INVALID_TIF,
        ),
        (
            {"symbol": "AAPL", "side": 1, "qty_lots": 1 << 62, "price": "10"},
            RejectReason.VALUE_OUT_OF_RANGE,
        ),
        ({"symbol": "AAPL", "side": 1, "qty": "0", "price": "10"}, RejectReason.QTY_NOT_POSITIVE),
        ({"symbol": "AAPL", "side": 1, "qty": "1", "price": "-1"}, RejectReason.PRICE_NOT_POSITIVE),
        ({"side": 1, "qty": "1", "price": "1"}, RejectReason.MALFORMED_COMMAND),
        (
            {"symbol": "AAPL", "side": 1, "qty": "1", "price": "10", "expire_ts_ns": -5},
            RejectReason.VALUE_OUT_OF_RANGE,
        ),
    ]
    for fields, reason in cases:
        result = submit(stubs, "alice", **fields)
        assert len(result.events) == 1, fields
        reject = result.events[0].order_rejected
        assert reject.reason == reason, (fields, reject)
        assert result.enq_seq == 0 or reason >= 3000 or reason in (1004, 1007), fields
        assert result.detail, fields
    assert book(server) == before
    # cancels and modifies of nothing
    gone = stubs.orders.CancelOrder(
        pb.CancelOrderRequest(symbol="AAPL", order_id=424242), metadata=metadata("alice")
    ).result
    assert gone.events[0].order_rejected.reason == RejectReason.UNKNOWN_ORDER_ID
    assert book(server) == before


def test_missing_and_wrong_keys_are_unauthenticated(stubs: Stubs) -> None:
    request = pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1")
    for md in ((), (("x-api-key", "not-a-key"),), (("x-api-key", "alice-key-012345678"),)):
        with pytest.raises(grpc.RpcError) as err:
            stubs.orders.SubmitOrder(request, metadata=md)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "alice" not in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        stubs.admin.Status(admin_pb2.StatusRequest(), metadata=())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_batched_commands_get_their_own_events(server: ServerThread) -> None:
    # Many clients at once: the batcher runs what arrives together in one tick; each
    # caller gets exactly its own command's events.
    import threading

    results: dict[int, types_pb2.CommandResult] = {}

    def one(k: int) -> None:
        s = Stubs(server.address)
        try:
            results[k] = submit(
                s,
                "alice",
                symbol="AAPL",
                side=1,
                qty_lots=k + 1,
                price_ticks=100 + k,
                client_order_id=k + 1,
            )
        finally:
            s.close()

    threads = [threading.Thread(target=one, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16
    seqs = set()
    for k, result in results.items():
        accepted = result.events[0].order_accepted
        assert accepted.qty_lots == k + 1
        assert accepted.price_ticks == 100 + k
        assert all(e.enq_seq == result.enq_seq for e in result.events)
        seqs.add(result.enq_seq)
    assert seqs == set(range(1, 17))
    batcher = server.server.batcher  # type: ignore[union-attr]
    assert batcher.commands == 16


def test_fills_per_account(stubs: Stubs) -> None:
    submit(stubs, "alice", symbol="AAPL", side=1, qty="5", price="10")
    first = submit(stubs, "bob", symbol="AAPL", side=2, qty="2", price="10")
    second = submit(stubs, "bob", symbol="AAPL", side=2, qty="1", price="10")
    mine = stubs.orders.ListFills(pb.ListFillsRequest(), metadata=metadata("alice"))
    assert mine.complete
    assert [(f.order_filled.account, f.order_filled.qty) for f in mine.fills] == [
        (7, "2"),
        (7, "1"),
    ]
    later = stubs.orders.ListFills(
        pb.ListFillsRequest(symbol="AAPL", after_enq_seq=first.enq_seq), metadata=metadata("bob")
    )
    assert [(f.order_filled.account, f.enq_seq) for f in later.fills] == [(8, second.enq_seq)]
    every = stubs.orders.ListFills(pb.ListFillsRequest(), metadata=metadata("root"))
    assert sorted(f.order_filled.account for f in every.fills) == [7, 7, 8, 8]
    with pytest.raises(grpc.RpcError) as err:
        stubs.orders.ListFills(pb.ListFillsRequest(account=7), metadata=metadata("bob"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        stubs.orders.ListFills(pb.ListFillsRequest(), metadata=metadata("md"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    none = stubs.orders.ListFills(pb.ListFillsRequest(symbol="MSFT"), metadata=metadata("alice"))
    assert list(none.fills) == []
