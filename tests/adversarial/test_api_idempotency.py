"""R1: attacks on client_order_id idempotency through the network API.

Whatever mix of unary calls and OrderEntry streams, concurrently, in one batch or many,
an (account, client_order_id) enters the venue once: every repeat names the original's
order id and changes nothing; a repeat with different fields (another price, quantity,
side, symbol, or another command kind) is DUPLICATE_CLIENT_ORDER_ID and changes nothing.
"""

from __future__ import annotations

import itertools
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "api"))
from server_harness import ServerThread, Stubs, admin_pb2, metadata, order_entry_pb2

from whistle.coord import Venue

if TYPE_CHECKING:
    from collections.abc import Iterator

    from whistle.api.v1 import types_pb2

pb = order_entry_pb2
DUPLICATE_COID = 1025


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


def resting(stubs: Stubs, symbol: str = "AAPL") -> list[Any]:
    snap = stubs.admin.Snapshot(admin_pb2.SnapshotRequest(symbol=symbol), metadata=metadata("root"))
    return list(json_format.MessageToDict(snap).get("orders", []))


def unary(
    stubs: Stubs, request: pb.SubmitOrderRequest, who: str = "alice"
) -> types_pb2.CommandResult:
    return stubs.orders.SubmitOrder(request, metadata=metadata(who)).result


def streamed(
    stubs: Stubs, requests: list[pb.SubmitOrderRequest], who: str = "alice"
) -> list[types_pb2.CommandResult]:
    commands = [pb.OrderCommand(request_id=i, submit=r) for i, r in enumerate(requests)]
    replies = list(
        stubs.orders.OrderEntry(
            iter([pb.OrderEntryRequest(commands=commands)]), metadata=metadata(who)
        )
    )
    return [r.result for reply in replies for r in reply.replies]


def first_kind(result: types_pb2.CommandResult) -> str:
    return str(result.events[0].WhichOneof("kind")) if result.events else ""


def test_concurrent_repeats_from_unary_and_streams_enter_one_order(
    stubs: Stubs, server: ServerThread
) -> None:
    request = pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="3", price="10", client_order_id=42)
    results: list[types_pb2.CommandResult] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)
    channels = [Stubs(server.address) for _ in range(8)]

    def worker(i: int) -> None:
        s = channels[i]
        barrier.wait()
        got = [unary(s, request)] if i % 2 else streamed(s, [request, request])
        with lock:
            results.extend(got)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for s in channels:
            s.close()
    assert len(results) == 12
    entered = [r for r in results if r.enq_seq]
    assert len(entered) == 1
    assert {r.order_id for r in results} == {entered[0].order_id}
    repeats = [r for r in results if not r.enq_seq]
    assert all(first_kind(r) == "duplicate_client_order" for r in repeats)
    assert len(resting(stubs)) == 1


def test_concurrent_repeats_with_different_fields_enter_one_and_refuse_the_rest(
    stubs: Stubs, server: ServerThread
) -> None:
    variants = [
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty=str(1 + i), price="10", client_order_id=77)
        for i in range(6)
    ]
    results: list[tuple[int, types_pb2.CommandResult]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)
    channels = [Stubs(server.address) for _ in range(6)]

    def worker(i: int) -> None:
        s = channels[i]
        barrier.wait()
        got = unary(s, variants[i]) if i % 2 else streamed(s, [variants[i]])[0]
        with lock:
            results.append((i, got))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for s in channels:
            s.close()
    entered = [(i, r) for i, r in results if r.enq_seq]
    assert len(entered) == 1
    winner = entered[0][0]
    for i, r in results:
        if i != winner:
            assert first_kind(r) == "order_rejected"
            assert r.events[0].order_rejected.reason == DUPLICATE_COID
    orders = resting(stubs)
    assert len(orders) == 1
    assert int(orders[0]["qtyLots"]) == 1 + winner


def test_a_repeat_as_another_command_or_on_another_symbol_changes_nothing(stubs: Stubs) -> None:
    original = unary(
        stubs, pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="2", price="10", client_order_id=5)
    )
    assert original.enq_seq
    before = (resting(stubs), resting(stubs, "MSFT"))
    o = stubs.orders
    tries = [
        unary(
            stubs,
            pb.SubmitOrderRequest(symbol="MSFT", side=1, qty="2", price="10", client_order_id=5),
        ),
        unary(
            stubs,
            pb.SubmitOrderRequest(symbol="AAPL", side=2, qty="2", price="10", client_order_id=5),
        ),
        unary(
            stubs,
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="2", price="11", client_order_id=5),
        ),
        unary(
            stubs,
            pb.SubmitOrderRequest(
                symbol="AAPL", side=1, qty="2", price="10", tif=2, client_order_id=5
            ),
        ),
        # the original's own id as a CancelReplace's client order id: not a new order
        o.CancelReplace(
            pb.CancelReplaceRequest(
                symbol="AAPL", order_id=original.order_id, price="12", qty="2", client_order_id=5
            ),
            metadata=metadata("alice"),
        ).result,
    ]
    for result in tries:
        assert result.enq_seq == 0, result
        assert first_kind(result) == "order_rejected"
        assert result.events[0].order_rejected.reason == DUPLICATE_COID
    assert (resting(stubs), resting(stubs, "MSFT")) == before
    # the same id is another account's own: bob may use it
    other = unary(
        stubs,
        pb.SubmitOrderRequest(symbol="AAPL", side=2, qty="1", price="500", client_order_id=5),
        "bob",
    )
    assert other.enq_seq
    assert other.order_id != original.order_id


_COIDS = itertools.count(10_000, 100)
_request = st.builds(
    lambda coid, qty, price, side: pb.SubmitOrderRequest(
        symbol="AAPL", side=side, qty=str(qty), price=str(price), client_order_id=coid
    ),
    coid=st.integers(0, 4),
    qty=st.integers(1, 2),
    price=st.sampled_from([10, 11]),
    side=st.just(1),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plan=st.lists(st.tuples(st.booleans(), st.lists(_request, min_size=1, max_size=4)), max_size=6)
)
def test_random_mixes_of_paths_enter_each_client_order_id_once(
    stubs: Stubs, plan: list[tuple[bool, list[pb.SubmitOrderRequest]]]
) -> None:
    base = next(_COIDS)
    first: dict[int, tuple[pb.SubmitOrderRequest, int]] = {}
    for use_stream, requests in plan:
        for r in requests:
            r.client_order_id = base + r.client_order_id if r.client_order_id else 0
        results = streamed(stubs, requests) if use_stream else [unary(stubs, r) for r in requests]
        for r, result in zip(requests, results, strict=True):
            coid = r.client_order_id
            if not coid:
                assert result.enq_seq
                continue
            if coid not in first:
                assert result.enq_seq, result
                first[coid] = (r, result.order_id)
                continue
            original, oid = first[coid]
            assert result.enq_seq == 0
            if r == original:
                assert first_kind(result) == "duplicate_client_order"
                assert result.order_id == oid
            else:
                assert result.events[0].order_rejected.reason == DUPLICATE_COID
    mine = stubs.orders.ListOpenOrders(
        pb.ListOpenOrdersRequest(), metadata=metadata("alice")
    ).orders
    held = {oid for _, oid in first.values()}
    assert held <= {o.order_id for o in mine}
    stubs.orders.MassCancel(pb.MassCancelRequest(), metadata=metadata("alice"))
