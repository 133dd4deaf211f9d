"""Admin and view calls, health and reflection, over real sockets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from server_harness import (
    ServerThread,
    Stubs,
    admin_pb2,
    market_data_pb2,
    metadata,
    order_entry_pb2,
)

from whistle.api.v1 import types_pb2
from whistle.coord import Venue

if TYPE_CHECKING:
    from collections.abc import Iterator

apb = admin_pb2
pb = order_entry_pb2


@pytest.fixture
def server() -> Iterator[ServerThread]:
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01")
    thread = ServerThread(venue)
    yield thread
    thread.close()


@pytest.fixture
def stubs(server: ServerThread) -> Iterator[Stubs]:
    s = Stubs(server.address)
    yield s
    s.close()


def denied(
    call: object,
    *args: object,
    code: grpc.StatusCode = grpc.StatusCode.PERMISSION_DENIED,
    **kw: object,
) -> str:
    with pytest.raises(grpc.RpcError) as err:
        call(*args, **kw)  # type: ignore[operator]
    assert err.value.code() == code, err.value.details()
    return err.value.details() or ""


def test_add_instrument_needs_admin_and_validates(stubs: Stubs, server: ServerThread) -> None:
    request = apb.AddInstrumentRequest(
        symbol="MSFT",
        tick_size="0.05",
        lot_size="10",
        min_qty="20",
        price_band_pct="2.5",
        reference_price="100",
    )
    for who in ("alice", "md"):
        denied(stubs.admin.AddInstrument, request, metadata=metadata(who))
    added = stubs.admin.AddInstrument(request, metadata=metadata("root")).instrument
    assert (
        added.symbol,
        added.tick_size,
        added.lot_size,
        added.min_qty_lots,
        added.price_band_bps,
        added.reference_price_ticks,
    ) == ("MSFT", "0.05", "10", 2, 250, 2000)
    assert server.run(lambda: server.venue.is_registered("MSFT"))
    names = [
        i.symbol
        for i in stubs.md.ListInstruments(
            market_data_pb2.ListInstrumentsRequest(), metadata=metadata("md")
        ).instruments
    ]
    assert sorted(names) == ["AAPL", "MSFT"]
    for bad in (
        apb.AddInstrumentRequest(symbol="MSFT"),  # already defined
        apb.AddInstrumentRequest(symbol="has space"),
        apb.AddInstrumentRequest(symbol=""),
        apb.AddInstrumentRequest(symbol="X", tick_size="-1"),
        apb.AddInstrumentRequest(symbol="X", tick_size="0.01", min_qty="0.5"),
        apb.AddInstrumentRequest(symbol="X", price_band_pct="1.234"),
        apb.AddInstrumentRequest(symbol="X" * 65),
    ):
        denied(
            stubs.admin.AddInstrument,
            bad,
            metadata=metadata("root"),
            code=grpc.StatusCode.INVALID_ARGUMENT,
        )
    assert sorted(server.run(lambda: server.venue.symbols)) == ["AAPL", "MSFT"]


def test_halt_and_resume(stubs: Stubs) -> None:
    denied(stubs.admin.Halt, apb.HaltRequest(symbol="AAPL"), metadata=metadata("alice"))
    halted = stubs.admin.Halt(apb.HaltRequest(symbol="AAPL"), metadata=metadata("root"))
    assert [e.trading_status_changed.state for e in halted.events] == [
        types_pb2.TRADING_STATE_HALTED
    ]
    result = stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1"), metadata=metadata("alice")
    ).result
    assert result.events[0].order_rejected.reason == types_pb2.REJECT_REASON_TRADING_HALTED
    resumed = stubs.admin.Resume(apb.ResumeRequest(symbol="AAPL"), metadata=metadata("root"))
    assert [e.trading_status_changed.state for e in resumed.events] == [
        types_pb2.TRADING_STATE_ACTIVE
    ]
    denied(
        stubs.admin.Halt,
        apb.HaltRequest(symbol="NOPE"),
        metadata=metadata("root"),
        code=grpc.StatusCode.NOT_FOUND,
    )
    denied(
        stubs.admin.Halt,
        apb.HaltRequest(),
        metadata=metadata("root"),
        code=grpc.StatusCode.INVALID_ARGUMENT,
    )


def test_views_are_public_snapshot_is_admin(stubs: Stubs) -> None:
    stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="5", price="10"),
        metadata=metadata("alice"),
    )
    stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=2, qty="2", price="11"), metadata=metadata("bob")
    )
    for who in ("md", "alice", "root"):
        depth = stubs.admin.Depth(apb.DepthRequest(symbol="AAPL", levels=3), metadata=metadata(who))
        assert [(lv.price, lv.qty) for lv in depth.bids] == [("10", "5")]
        assert [(lv.price, lv.qty) for lv in depth.asks] == [("11", "2")]
        status = stubs.admin.Status(apb.StatusRequest(), metadata=metadata(who))
        (sym,) = status.symbols
        assert (
            sym.symbol,
            sym.resting_orders,
            sym.bid_orders,
            sym.ask_orders,
            sym.best_bid.price,
            sym.lifecycle,
        ) == ("AAPL", 2, 1, 1, "10", "ACTIVE")
        assert status.enq_seq == 2
    denied(
        stubs.admin.Depth,
        apb.DepthRequest(symbol="NOPE"),
        metadata=metadata("md"),
        code=grpc.StatusCode.NOT_FOUND,
    )
    denied(
        stubs.admin.Status,
        apb.StatusRequest(symbols=["NOPE"]),
        metadata=metadata("md"),
        code=grpc.StatusCode.NOT_FOUND,
    )
    for who in ("md", "alice"):
        denied(stubs.admin.Snapshot, apb.SnapshotRequest(symbol="AAPL"), metadata=metadata(who))
    snap = stubs.admin.Snapshot(apb.SnapshotRequest(symbol="AAPL"), metadata=metadata("root"))
    assert [(o.account, o.side, o.price) for o in snap.orders] == [(7, 1, "10"), (8, 2, "11")]
    assert len(snap.state_hash) >= 16


def test_release_idle(stubs: Stubs, server: ServerThread) -> None:
    stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(
            symbol="AAPL", side=1, qty="5", price="10", tif=types_pb2.TIME_IN_FORCE_IOC
        ),
        metadata=metadata("alice"),
    )
    denied(
        stubs.admin.ReleaseIdle, apb.ReleaseIdleRequest(idle_ticks=1), metadata=metadata("alice")
    )
    denied(
        stubs.admin.ReleaseIdle,
        apb.ReleaseIdleRequest(idle_ticks=0),
        metadata=metadata("root"),
        code=grpc.StatusCode.INVALID_ARGUMENT,
    )
    for _ in range(3):
        server.call(server.backend.advance())
    released = stubs.admin.ReleaseIdle(
        apb.ReleaseIdleRequest(idle_ticks=1), metadata=metadata("root")
    )
    sid = server.run(lambda: server.venue.instrument("AAPL").symbol_id)
    assert list(released.symbol_ids) == [sid]
    status = stubs.admin.Status(apb.StatusRequest(), metadata=metadata("md"))
    assert status.symbols[0].lifecycle == "EVICTED"
    # it comes back on use
    result = stubs.orders.SubmitOrder(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="5", price="10"),
        metadata=metadata("alice"),
    ).result
    assert result.enq_seq


def test_health_and_reflection(server: ServerThread) -> None:
    channel = grpc.insecure_channel(server.address)
    try:
        health = health_pb2_grpc.HealthStub(channel)
        for service in (
            "",
            "whistle.v1.OrderEntryService",
            "whistle.v1.MarketDataService",
            "whistle.v1.AdminService",
        ):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = list(
            reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            )
        )
        names = {s.name for s in answers[0].list_services_response.service}
        assert {
            "whistle.v1.OrderEntryService",
            "whistle.v1.MarketDataService",
            "whistle.v1.AdminService",
            "grpc.health.v1.Health",
        } <= names
        files = list(
            reflection.ServerReflectionInfo(
                iter(
                    [
                        reflection_pb2.ServerReflectionRequest(
                            file_containing_symbol="whistle.v1.OrderEntryService"
                        )
                    ]
                )
            )
        )
        assert files[0].file_descriptor_response.file_descriptor_proto
    finally:
        channel.close()
