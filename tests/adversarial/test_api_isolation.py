"""R1: attacks on the API's per-account isolation, over real sockets.

A trader (alice, account 7) must never see, cancel, modify, replace or mass-cancel another
account's (bob, account 8) orders, nor learn that they exist: every answer about bob's
order must be exactly the answer about an order id nobody uses (ids, sequence numbers and
timestamps aside), and bob's book must be untouched (its state hash).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf import json_format

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "api"))
from server_harness import (  # the harness lives beside the api tests
    ServerThread,
    Stubs,
    admin_pb2,
    market_data_pb2,
    metadata,
    order_entry_pb2,
)

from whistle.coord import Venue

if TYPE_CHECKING:
    from collections.abc import Iterator

    from google.protobuf.message import Message

pb = order_entry_pb2
NOBODY = 987_654  # an order id no one uses


@pytest.fixture
def server() -> Iterator[ServerThread]:
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01")
    venue.add_instrument("MSFT", tick_size="0.01")
    thread = ServerThread(venue)
    yield thread
    thread.close()


@pytest.fixture
def stubs(server: ServerThread) -> Iterator[Stubs]:
    s = Stubs(server.address)
    yield s
    s.close()


def state(stubs: Stubs) -> list[Any]:
    """Every book's resting orders, in priority order (admin Snapshot; the state hash
    also covers the event sequence, which an engine reject advances)."""
    return [
        json_format.MessageToDict(
            stubs.admin.Snapshot(admin_pb2.SnapshotRequest(symbol=sym), metadata=metadata("root"))
        ).get("orders", [])
        for sym in ("AAPL", "MSFT")
    ]


def bob_resting(stubs: Stubs, symbol: str = "AAPL", price: str = "100") -> int:
    result = stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol=symbol, side=2, qty="5", price=price),
        metadata=metadata("bob"),
    ).result
    assert result.enq_seq
    assert result.order_id
    return int(result.order_id)


def bob_stop(stubs: Stubs) -> int:
    """A parked stop order of bob's (a modify of it is ORDER_NOT_MODIFIABLE to its owner)."""
    result = stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", stop_price="150", order_type=3),
        metadata=metadata("bob"),
    ).result
    assert result.enq_seq
    assert result.events[0].WhichOneof("kind") == "order_accepted"
    return int(result.order_id)


_VOLATILE = {"seq", "enq_seq", "ts_ns", "order_id", "new_order_id"}


def shape(message: Message) -> Any:
    """A message as plain values without what names the order or the moment."""
    return _strip(json_format.MessageToDict(message, preserving_proto_field_name=True))


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def answer(call: Any, request: Message, who: str = "alice") -> Any:
    """The shape of a call's answer: its response, or its status code and details."""
    try:
        return ("ok", shape(call(request, metadata=metadata(who))))
    except grpc.RpcError as err:
        return ("error", err.code(), err.details().replace(str(request.order_id), "<id>"))  # type: ignore[attr-defined]


def test_every_unary_command_on_bobs_order_looks_like_one_on_no_order(stubs: Stubs) -> None:
    bob = bob_resting(stubs)
    stop = bob_stop(stubs)
    before = state(stubs)
    o = stubs.orders
    aapl = sid(stubs, "AAPL")
    coids = itertools.count(5000)  # a fresh client order id per replace
    for target in (bob, stop):
        for call, make in (
            (o.CancelOrder, lambda i: pb.CancelOrderRequest(symbol="AAPL", order_id=i)),
            (o.CancelOrder, lambda i: pb.CancelOrderRequest(symbol_id=0, order_id=i)),
            (o.CancelOrder, lambda i: pb.CancelOrderRequest(symbol_id=aapl, order_id=i)),
            (o.GetOrder, lambda i: pb.GetOrderRequest(symbol_id=aapl, order_id=i)),
            (
                o.ModifyOrder,
                lambda i: pb.ModifyOrderRequest(symbol_id=aapl, order_id=i, price_ticks=9900),
            ),
            (
                o.CancelReplace,
                lambda i: pb.CancelReplaceRequest(
                    symbol_id=aapl,
                    order_id=i,
                    price_ticks=9900,
                    qty_lots=1,
                    client_order_id=next(coids),
                ),
            ),
            (o.ModifyOrder, lambda i: pb.ModifyOrderRequest(symbol="AAPL", order_id=i, price="99")),
            (o.ModifyOrder, lambda i: pb.ModifyOrderRequest(symbol="AAPL", order_id=i, qty="5")),
            (o.ModifyOrder, lambda i: pb.ModifyOrderRequest(symbol="AAPL", order_id=i)),
            (
                o.ModifyOrder,
                lambda i: pb.ModifyOrderRequest(symbol="AAPL", order_id=i, price_ticks=-5),
            ),
            (
                o.CancelReplace,
                lambda i: pb.CancelReplaceRequest(symbol="AAPL", order_id=i, price="101", qty="1"),
            ),
            (
                o.CancelReplace,
                lambda i: pb.CancelReplaceRequest(symbol="AAPL", order_id=i, price="0", qty="0"),
            ),
            (o.GetOrder, lambda i: pb.GetOrderRequest(symbol="AAPL", order_id=i)),
        ):
            assert answer(call, make(target)) == answer(call, make(NOBODY)), (call, target)
    assert state(stubs) == before


def test_the_stream_cannot_touch_bobs_order_and_answers_like_no_order(stubs: Stubs) -> None:
    bob = bob_resting(stubs)
    before = state(stubs)

    def commands(target: int) -> list[pb.OrderCommand]:
        return [
            pb.OrderCommand(
                request_id=1, cancel=pb.CancelOrderRequest(symbol="AAPL", order_id=target)
            ),
            pb.OrderCommand(
                request_id=2,
                modify=pb.ModifyOrderRequest(symbol="AAPL", order_id=target, price="99"),
            ),
            pb.OrderCommand(
                request_id=3,
                cancel_replace=pb.CancelReplaceRequest(
                    symbol="AAPL", order_id=target, price="98", qty="1"
                ),
            ),
            pb.OrderCommand(request_id=4, mass_cancel=pb.MassCancelRequest()),
            pb.OrderCommand(request_id=5, mass_cancel=pb.MassCancelRequest(symbol="AAPL")),
            pb.OrderCommand(request_id=6, mass_cancel=pb.MassCancelRequest(account=8)),
            pb.OrderCommand(
                request_id=7,
                cancel=pb.CancelOrderRequest(symbol="AAPL", order_id=target, account=8),
            ),
        ]

    def run(target: int) -> list[Any]:
        replies = list(
            stubs.orders.OrderEntry(
                iter([pb.OrderEntryRequest(commands=commands(target))]), metadata=metadata("alice")
            )
        )
        return [shape(r) for reply in replies for r in reply.replies]

    mine, none = run(bob), run(NOBODY)
    assert mine == none
    # naming bob's account is refused, never run
    assert mine[5]["result"]["api_error"] == "API_ERROR_PERMISSION_DENIED"
    assert mine[6]["result"]["api_error"] == "API_ERROR_PERMISSION_DENIED"
    assert state(stubs) == before


def test_naming_bobs_account_is_refused_on_every_unary_call(stubs: Stubs) -> None:
    bob = bob_resting(stubs)
    before = state(stubs)
    o = stubs.orders
    for call, request in (
        (
            o.SubmitOrder,
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="100", account=8),
        ),
        (o.CancelOrder, pb.CancelOrderRequest(symbol="AAPL", order_id=bob, account=8)),
        (o.ModifyOrder, pb.ModifyOrderRequest(symbol="AAPL", order_id=bob, price="9", account=8)),
        (
            o.CancelReplace,
            pb.CancelReplaceRequest(symbol="AAPL", order_id=bob, price="9", qty="1", account=8),
        ),
        (o.MassCancel, pb.MassCancelRequest(account=8)),
        (o.MassCancel, pb.MassCancelRequest(symbol="AAPL", account=8)),
        (o.ListOpenOrders, pb.ListOpenOrdersRequest(account=8)),
        (o.GetClientOrder, pb.GetClientOrderRequest(client_order_id=1, account=8)),
        # account 0 is an account too, not "unset"
        (o.MassCancel, pb.MassCancelRequest(account=0)),
    ):
        with pytest.raises(grpc.RpcError) as err:
            call(request, metadata=metadata("alice"))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, request
        assert str(bob) not in (err.value.details() or "")
    updates = o.SubscribeOrderUpdates(
        pb.SubscribeOrderUpdatesRequest(account=8), metadata=metadata("alice")
    )
    with pytest.raises(grpc.RpcError) as err:
        next(updates)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert state(stubs) == before


def test_alices_mass_cancels_never_touch_bob(stubs: Stubs) -> None:
    bob_resting(stubs, "AAPL")
    bob_resting(stubs, "MSFT")
    mine = stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="50"),
        metadata=metadata("alice"),
    ).result
    assert mine.enq_seq
    o = stubs.orders
    for request in (
        pb.MassCancelRequest(),
        pb.MassCancelRequest(symbol="AAPL"),
        pb.MassCancelRequest(symbol_id=sid(stubs, "MSFT")),
        pb.MassCancelRequest(account=7),
    ):
        result = o.MassCancel(request, metadata=metadata("alice")).result
        for event in result.events:
            sub = getattr(event, event.WhichOneof("kind"))
            if "account" in sub.DESCRIPTOR.fields_by_name:
                assert sub.account == 7
    listed = o.ListOpenOrders(pb.ListOpenOrdersRequest(), metadata=metadata("root")).orders
    assert sorted((x.symbol_id, x.account) for x in listed) == sorted(
        (sid(stubs, s), 8) for s in ("AAPL", "MSFT")
    )


def sid(stubs: Stubs, symbol: str) -> int:
    listed = stubs.md.ListInstruments(
        market_data_pb2.ListInstrumentsRequest(), metadata=metadata("md")
    )
    for inst in listed.instruments:
        if inst.symbol == symbol:
            return int(inst.symbol_id)
    raise AssertionError(symbol)


def test_alice_never_reads_bobs_orders_or_updates(server: ServerThread, stubs: Stubs) -> None:
    o = stubs.orders
    updates = o.SubscribeOrderUpdates(pb.SubscribeOrderUpdatesRequest(), metadata=metadata("alice"))
    updates.initial_metadata()  # registered
    bob = bob_resting(stubs)
    # alice takes from bob: her result names her order only
    taker = o.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="2", price="100", client_order_id=5),
        metadata=metadata("alice"),
    ).result
    trades = [e.trade_occurred for e in taker.events if e.WhichOneof("kind") == "trade_occurred"]
    assert trades
    assert all(t.maker_order_id == 0 and t.taker_order_id == taker.order_id for t in trades)
    # bob cancels the rest: alice's stream never carries it
    o.CancelOrder(pb.CancelOrderRequest(symbol="AAPL", order_id=bob), metadata=metadata("bob"))
    bob_resting(stubs, price="120")
    marker = o.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1"), metadata=metadata("alice")
    ).result
    seen = []
    while not any(
        e.WhichOneof("kind") == "order_accepted" and e.order_accepted.order_id == marker.order_id
        for e in seen
    ):
        seen += list(next(updates).events)
    updates.cancel()
    for event in seen:
        sub = getattr(event, event.WhichOneof("kind"))
        assert sub.account == 7, event
    listed = o.ListOpenOrders(pb.ListOpenOrdersRequest(), metadata=metadata("alice")).orders
    assert {x.account for x in listed} == {7}
    listed = o.ListOpenOrders(pb.ListOpenOrdersRequest(symbol="AAPL"), metadata=metadata("alice"))
    assert {x.account for x in listed.orders} == {7}
    # bob's client order ids are not alice's
    with pytest.raises(grpc.RpcError) as err:
        o.GetClientOrder(pb.GetClientOrderRequest(client_order_id=5), metadata=metadata("bob"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_refused_replace_remembered_by_client_order_id_says_nothing_of_bobs_order(
    stubs: Stubs,
) -> None:
    """Finding 3 (fixed in 73406a7): GetClientOrder.reason, DuplicateClientOrder said 3002."""
    bob = bob_resting(stubs)
    before = state(stubs)
    o = stubs.orders
    seen = []
    for target, coid in ((bob, 901), (NOBODY, 902)):
        request = pb.CancelReplaceRequest(
            symbol="AAPL", order_id=target, price="101", qty="1", client_order_id=coid
        )
        first = o.CancelReplace(request, metadata=metadata("alice")).result
        held = o.GetClientOrder(
            pb.GetClientOrderRequest(client_order_id=coid), metadata=metadata("alice")
        )
        repeat = o.CancelReplace(request, metadata=metadata("alice")).result
        dup = repeat.events[0].duplicate_client_order
        seen.append((shape(first), held.reason, held.outcome, dup.reason, dup.outcome))
    assert state(stubs) == before
    assert seen[0] == seen[1]


def test_alice_lists_only_her_own_fills(stubs: Stubs) -> None:
    bob_resting(stubs)
    mine = stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="2", price="100"),
        metadata=metadata("alice"),
    ).result
    assert mine.enq_seq
    o = stubs.orders
    for request in (
        pb.ListFillsRequest(),
        pb.ListFillsRequest(symbol="AAPL"),
        pb.ListFillsRequest(account=7),
    ):
        fills = o.ListFills(request, metadata=metadata("alice")).fills
        assert fills
        for event in fills:
            sub = getattr(event, event.WhichOneof("kind"))
            assert sub.account == 7, event
    bobs = o.ListFills(pb.ListFillsRequest(), metadata=metadata("bob")).fills
    assert bobs
    assert {getattr(e, e.WhichOneof("kind")).account for e in bobs} == {8}
    for who, request in (("alice", pb.ListFillsRequest(account=8)), ("md", pb.ListFillsRequest())):
        with pytest.raises(grpc.RpcError) as err:
            o.ListFills(request, metadata=metadata(who))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def _mine_per_books(stubs: Stubs, account: int) -> set[tuple[int, int]]:
    out = set()
    for symbol in ("AAPL", "MSFT"):
        snap = stubs.admin.Snapshot(
            admin_pb2.SnapshotRequest(symbol=symbol), metadata=metadata("root")
        )
        out |= {(snap.status.symbol_id, o.order_id) for o in snap.orders if o.account == account}
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_open_order_lists_agree_with_the_books_under_random_traffic(
    server: ServerThread, stubs: Stubs, seed: int
) -> None:
    """The per-account index behind ListOpenOrders (088cc6b) against the books, under
    fills, IOC/FOK/market, stops, icebergs, STP, replaces that cross, mass cancels,
    expiry, halts and idle release, from both accounts and an admin acting for alice."""
    import random

    rng = random.Random(seed)
    o = stubs.orders
    who_acct = {"alice": 7, "bob": 8}
    for step in range(250):
        who = rng.choice(["alice", "bob", "root"])
        acct = {"account": 7} if who == "root" else {}
        symbol = rng.choice(["AAPL", "MSFT"])
        price = str(rng.randint(95, 105))
        roll = rng.random()
        if roll < 0.45:
            fields: dict[str, Any] = {
                "symbol": symbol,
                "side": rng.choice([1, 2]),
                "qty": str(rng.randint(1, 6)),
                "price": price,
                **acct,
            }
            extra = rng.random()
            if extra < 0.1:
                fields["tif"] = rng.choice([2, 3])  # IOC / FOK
            elif extra < 0.15:
                del fields["price"]  # market
            elif extra < 0.25:
                fields.update(order_type=4, stop_price=str(rng.randint(95, 105)))  # stop limit
            elif extra < 0.32:
                fields["display_qty"] = "1"
                fields["qty"] = "6"
            elif extra < 0.4:
                fields["stp"] = rng.choice([1, 2, 3, 4])
            elif extra < 0.45:
                fields.update(tif=4, expire_ts_ns=server.venue.now_ns + 1)
            o.SubmitOrder(pb.SubmitOrderRequest(**fields), metadata=metadata(who))
        else:
            acct_no = 7 if who == "root" else who_acct[who]
            live = sorted(_mine_per_books(stubs, acct_no))
            sid = {
                i.symbol: i.symbol_id
                for i in stubs.md.ListInstruments(
                    market_data_pb2.ListInstrumentsRequest(), metadata=metadata("md")
                ).instruments
            }
            if live and roll < 0.65:
                s_id, oid = rng.choice(live)
                o.CancelReplace(
                    pb.CancelReplaceRequest(
                        symbol_id=s_id,
                        order_id=oid,
                        price=price,
                        qty=str(rng.randint(1, 5)),
                        **acct,
                    ),
                    metadata=metadata(who),
                )
            elif live and roll < 0.8:
                s_id, oid = rng.choice(live)
                o.ModifyOrder(
                    pb.ModifyOrderRequest(
                        symbol_id=s_id, order_id=oid, qty=str(rng.randint(1, 3)), **acct
                    ),
                    metadata=metadata(who),
                )
            elif live and roll < 0.88:
                s_id, oid = rng.choice(live)
                o.CancelOrder(
                    pb.CancelOrderRequest(symbol_id=s_id, order_id=oid, **acct),
                    metadata=metadata(who),
                )
            elif roll < 0.91:
                o.MassCancel(
                    pb.MassCancelRequest(symbol_id=sid[symbol], **acct), metadata=metadata(who)
                )
            elif roll < 0.95:
                server.call(server.backend.advance())  # the clock: GTD expiry
                stubs.admin.ReleaseIdle(
                    admin_pb2.ReleaseIdleRequest(idle_ticks=1), metadata=metadata("root")
                )
            else:
                stubs.admin.Halt(admin_pb2.HaltRequest(symbol=symbol), metadata=metadata("root"))
                stubs.admin.Resume(
                    admin_pb2.ResumeRequest(symbol=symbol), metadata=metadata("root")
                )
        if step % 10 == 9 or step == 249:
            for name, account in (("alice", 7), ("bob", 8)):
                listed = o.ListOpenOrders(
                    pb.ListOpenOrdersRequest(), metadata=metadata(name)
                ).orders
                assert {x.account for x in listed} <= {account}
                got = {(x.symbol_id, x.order_id) for x in listed}
                assert got == _mine_per_books(stubs, account), (seed, step, name)


def test_a_stream_without_market_data_still_hides_the_other_side(stubs: Stubs) -> None:
    bob_resting(stubs)
    command = pb.OrderCommand(
        request_id=1, submit=pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="2", price="100")
    )
    replies = list(
        stubs.orders.OrderEntry(
            iter([pb.OrderEntryRequest(commands=[command], omit_market_data=True)]),
            metadata=metadata("alice"),
        )
    )
    result = replies[0].replies[0].result
    kinds = [e.WhichOneof("kind") for e in result.events]
    assert "trade_occurred" in kinds
    assert "book_level_changed" not in kinds
    assert "best_bid_offer_changed" not in kinds
    for event in result.events:
        sub = getattr(event, event.WhichOneof("kind"))
        if "account" in sub.DESCRIPTOR.fields_by_name:
            assert sub.account == 7
        if event.WhichOneof("kind") == "trade_occurred":
            assert sub.maker_order_id == 0
            assert sub.taker_order_id == result.order_id
