"""Hostile input over real sockets: each a documented answer, the book unchanged, the server up.

Malformed bytes, oversized messages, hypothesis-generated requests of every order-entry
method (random symbols, decimal strings, extreme ints, unknown enum values, both forms of a
value, random accounts and order ids) and random OrderEntry stream batches.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_harness import ServerThread, Stubs, metadata, order_entry_pb2

from whistle.api.server import ServerConfig
from whistle.coord import Venue

if TYPE_CHECKING:
    from collections.abc import Iterator

pb = order_entry_pb2
MAX_BYTES = 64 * 1024
I64 = st.integers(-(1 << 63), (1 << 63) - 1)
U64 = st.integers(0, (1 << 64) - 1)
SMALL = st.integers(-5, 20_000)
ENUM = st.integers(-3, 8) | st.integers(-(1 << 31), (1 << 31) - 1)
DECIMAL = (
    st.from_regex(r"-?[0-9]{1,6}(\.[0-9]{0,4})?", fullmatch=True)
    | st.text(alphabet=string.printable + "٣١ 　", max_size=20)
    | st.sampled_from(["", "NaN", "inf", "1e3", "+1", "1_0", "0x10", "9" * 70, ".", "-"])
)
SYMBOL = st.sampled_from(["AAPL", "MSFT", "NOPE", "", "aapl"]) | st.text(max_size=70)
ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01")
    venue.add_instrument("MSFT", tick_size="0.05", lot_size="10")
    thread = ServerThread(
        venue, config=ServerConfig(port=0, tick_interval_s=0, max_message_bytes=MAX_BYTES)
    )
    yield thread
    thread.close()


@pytest.fixture(scope="module")
def stubs(server: ServerThread) -> Iterator[Stubs]:
    s = Stubs(server.address)
    yield s
    s.close()


def snapshot(server: ServerThread) -> tuple[Any, ...]:
    venue = server.venue
    return server.run(
        lambda: tuple(
            (tuple(venue.depth(s, 1000).bids), tuple(venue.depth(s, 1000).asks), tuple(venue.l3(s)))
            for s in venue.symbols
        )
    )


def alive(stubs: Stubs) -> None:
    result = stubs.orders.CancelOrder(
        pb.CancelOrderRequest(symbol="AAPL", order_id=(1 << 62)), metadata=metadata("alice")
    ).result
    assert result.events[0].order_rejected.reason == 3001


def symbol_ref(draw: Any) -> dict[str, Any]:
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return {"symbol": draw(SYMBOL)}
    if choice == 1:
        return {"symbol_id": draw(st.integers(0, (1 << 32) - 1) | st.sampled_from([912611164]))}
    return {}


def value(draw: Any, text: str, units: str, ints: Any = SMALL) -> dict[str, Any]:
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return {text: draw(DECIMAL)}
    if choice == 1:
        return {units: draw(ints | I64)}
    return {}


@st.composite
def submit_requests(draw: Any) -> pb.SubmitOrderRequest:
    fields: dict[str, Any] = symbol_ref(draw)
    fields |= value(draw, "qty", "qty_lots")
    fields |= value(draw, "price", "price_ticks")
    fields |= value(draw, "stop_price", "stop_price_ticks")
    fields |= value(draw, "display_qty", "display_qty_lots")
    fields |= value(draw, "protection_price", "protection_price_ticks")
    fields["side"] = draw(ENUM)
    fields["order_type"] = draw(ENUM)
    fields["tif"] = draw(ENUM)
    fields["stp"] = draw(ENUM)
    fields["post_only"] = draw(st.booleans())
    fields["expire_ts_ns"] = draw(I64)
    fields["client_order_id"] = draw(st.sampled_from([0, 0, 1, 2]) | U64)
    if draw(st.booleans()):
        fields["account"] = draw(st.sampled_from([7, 8]) | U64)
    if draw(st.integers(0, 4)) == 0:
        fields["order_id"] = draw(U64)
    return pb.SubmitOrderRequest(**fields)


@st.composite
def other_requests(draw: Any) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["cancel", "modify", "replace", "mass"]))
    fields: dict[str, Any] = symbol_ref(draw)
    if draw(st.booleans()):
        fields["account"] = draw(st.sampled_from([7, 8]) | U64)
    if kind != "mass":
        fields["order_id"] = draw(U64 | st.integers(0, 10))
    if kind in ("modify", "replace"):
        fields |= value(draw, "qty", "qty_lots")
        fields |= value(draw, "price", "price_ticks")
    if kind == "replace":
        fields["new_order_id"] = draw(st.sampled_from([0, 0, 5]) | U64)
        fields["client_order_id"] = draw(st.sampled_from([0, 3]) | U64)
    request = {
        "cancel": pb.CancelOrderRequest,
        "modify": pb.ModifyOrderRequest,
        "replace": pb.CancelReplaceRequest,
        "mass": pb.MassCancelRequest,
    }[kind](**fields)
    return kind, request


def check_result(result: Any) -> bool:
    # Returns whether the command was refused (so the book must be unchanged).
    if result.api_error:
        assert not result.events
        assert result.detail
        return True
    kinds = [e.WhichOneof("kind") for e in result.events]
    assert kinds, result
    if kinds == ["order_rejected"]:
        reject = result.events[0].order_rejected
        assert reject.reason != 0
        assert reject.detail
        assert reject.account == 7  # a trader sees only its own account's events
        return True
    for event in result.events:
        account = getattr(event, event.WhichOneof("kind")).__class__.DESCRIPTOR.fields_by_name.get(
            "account"
        )
        if account is not None:
            assert getattr(event, event.WhichOneof("kind")).account == 7
    return False


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=submit_requests())
def test_random_submits_get_documented_answers(
    server: ServerThread, stubs: Stubs, request: pb.SubmitOrderRequest
) -> None:
    before = snapshot(server)
    try:
        result = stubs.orders.SubmitOrder(request, metadata=metadata("alice")).result
    except grpc.RpcError as err:
        failure = (err.code(), err.details())
    else:
        failure = None
    if failure is not None:
        assert failure[0] in ALLOWED, failure
        assert snapshot(server) == before
        return
    if check_result(result):
        assert snapshot(server) == before
    # clean up what rested, so the next example starts from an empty-ish book
    stubs.orders.MassCancel(pb.MassCancelRequest(), metadata=metadata("alice"))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(item=other_requests())
def test_random_cancels_modifies_replaces_get_documented_answers(
    server: ServerThread, stubs: Stubs, item: tuple[str, Any]
) -> None:
    kind, request = item
    # bob's order: alice's random commands must never touch it
    bob = stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=2, qty="1", price="500"), metadata=metadata("bob")
    ).result
    assert bob.enq_seq
    before = snapshot(server)
    call = {
        "cancel": stubs.orders.CancelOrder,
        "modify": stubs.orders.ModifyOrder,
        "replace": stubs.orders.CancelReplace,
        "mass": stubs.orders.MassCancel,
    }[kind]
    try:
        result = call(request, metadata=metadata("alice")).result
    except grpc.RpcError as err:
        failure = (err.code(), err.details())
        refused = True
    else:
        failure = None
        refused = result.api_error != 0 or all(
            e.WhichOneof("kind") == "order_rejected" for e in result.events
        )
        for event in result.events:
            sub = getattr(event, event.WhichOneof("kind"))
            if "account" in sub.DESCRIPTOR.fields_by_name:
                assert sub.account == 7
    assert failure is None or failure[0] in ALLOWED, failure
    # alice owns nothing: whatever she sent, the book is as it was
    assert snapshot(server) == before or not refused
    assert snapshot(server) == before
    stubs.orders.MassCancel(pb.MassCancelRequest(), metadata=metadata("bob"))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests=st.lists(submit_requests(), max_size=12))
def test_random_stream_batches_get_one_reply_each(
    server: ServerThread, stubs: Stubs, requests: list[pb.SubmitOrderRequest]
) -> None:
    commands = [pb.OrderCommand(request_id=i, submit=r) for i, r in enumerate(requests)]
    replies = list(
        stubs.orders.OrderEntry(
            iter([pb.OrderEntryRequest(commands=commands)]), metadata=metadata("alice")
        )
    )
    assert len(replies) == 1
    assert [r.request_id for r in replies[0].replies] == list(range(len(requests)))
    for reply in replies[0].replies:
        check_result(reply.result)
    stubs.orders.MassCancel(pb.MassCancelRequest(), metadata=metadata("alice"))
    alive(stubs)


METHODS = [
    "/whistle.v1.OrderEntryService/SubmitOrder",
    "/whistle.v1.OrderEntryService/CancelReplace",
    "/whistle.v1.AdminService/Depth",
    "/whistle.v1.AdminService/AddInstrument",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(method=st.sampled_from(METHODS), payload=st.binary(max_size=200))
def test_random_bytes_never_break_the_server(
    server: ServerThread, method: str, payload: bytes
) -> None:
    channel = grpc.insecure_channel(server.address)
    try:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        try:
            call(payload, metadata=metadata("alice"), timeout=10)
            failure = None
        except grpc.RpcError as err:
            failure = (err.code(), err.details())
        codes = {
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.NOT_FOUND,
            grpc.StatusCode.INVALID_ARGUMENT,
        }
        assert failure is None or failure[0] in codes, failure
    finally:
        channel.close()


def test_malformed_and_oversized_messages(server: ServerThread, stubs: Stubs) -> None:
    before = snapshot(server)
    channel = grpc.insecure_channel(server.address)
    try:
        submit = channel.unary_unary(
            "/whistle.v1.OrderEntryService/SubmitOrder",
            request_serializer=None,
            response_deserializer=None,
        )
        with pytest.raises(grpc.RpcError) as err:
            submit(b"\xff\xff\xff\xff\x0f", metadata=metadata("alice"), timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "malformed whistle.v1.SubmitOrderRequest" in (err.value.details() or "")
        raw = channel.stream_stream(
            "/whistle.v1.OrderEntryService/OrderEntry",
            request_serializer=None,
            response_deserializer=None,
        )
        with pytest.raises(grpc.RpcError) as err:
            list(raw(iter([b"\xff\xff\xff"]), metadata=metadata("alice"), timeout=10))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        md = channel.stream_stream(
            "/whistle.v1.MarketDataService/SubscribeMarketData",
            request_serializer=None,
            response_deserializer=None,
        )
        with pytest.raises(grpc.RpcError) as err:
            list(md(iter([b"\x0a\x05\xff"]), metadata=metadata("md"), timeout=10))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        big = pb.SubmitOrderRequest(symbol="A" * (MAX_BYTES + 10), side=1, qty="1", price="1")
        with pytest.raises(grpc.RpcError) as err:
            stubs.orders.SubmitOrder(big, metadata=metadata("alice"))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        unknown = channel.unary_unary(
            "/whistle.v1.OrderEntryService/NoSuchMethod",
            request_serializer=None,
            response_deserializer=None,
        )
        with pytest.raises(grpc.RpcError) as err:
            unknown(b"", metadata=metadata("alice"), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        channel.close()
    assert snapshot(server) == before
    alive(stubs)
