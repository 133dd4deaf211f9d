"""A strategy of ``whistle.trading.examples`` in the trading pipeline, trading through a
real server with ``RemoteGateway`` (the pipeline factory ``remote_gateway``), and the
``RemoteExchange`` on its own.

The pipeline runs unchanged: only its ``gateway`` / ``gateway_options`` name the remote
venue. Another account (bob) trades against the strategy's quote on the server while the
pipeline runs; the fill reaches the strategy through the update stream (``poll``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from server_harness import KEYS, ServerThread

from whistle.api.client import Client
from whistle.api.remote import RemoteExchange, RemoteGateway, remote_gateway
from whistle.coord import Venue
from whistle.trading.messages import (
    ZERO_LEVELS,
    MarketEvent,
    MarketKind,
    Order,
    OrderAction,
    OrderUpdate,
    UpdateKind,
)
from whistle.trading.pipeline import PipelineConfig, StrategySpec, run_inprocess

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

LOCAL_ID = 1  # the pipeline's id of XYZ (the server's is derived from the name)
GATEWAYS: list[RemoteGateway] = []


def gateway(symbols: Mapping[int, str], account: int, **options: Any) -> RemoteGateway:
    """The pipeline's gateway factory for this test: ``remote_gateway``, remembered."""
    made = remote_gateway(symbols, account, **options)
    GATEWAYS.append(made)
    return made


def wait_for(cond: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


@pytest.fixture
def server() -> Iterator[ServerThread]:
    venue = Venue()
    venue.add_instrument("XYZ", tick_size="0.01", lot_size="1")
    thread = ServerThread(venue)
    yield thread
    thread.close()


def bbo(ts: int, bid: int, ask: int) -> MarketEvent:
    return MarketEvent(
        MarketKind.BBO,
        LOCAL_ID,
        ts,
        n_bid=1,
        n_ask=1,
        bid_px=(bid, *ZERO_LEVELS[1:]),
        bid_qty=(5, *ZERO_LEVELS[1:]),
        ask_px=(ask, *ZERO_LEVELS[1:]),
        ask_qty=(5, *ZERO_LEVELS[1:]),
    )


def test_a_market_maker_in_the_pipeline_trades_on_a_remote_venue(server: ServerThread) -> None:
    GATEWAYS.clear()
    bob = Client(server.address, api_key=KEYS["bob"][0])
    server_sid = bob.instrument("XYZ").symbol_id
    hit: list[Any] = []

    def source() -> Iterator[MarketEvent]:
        yield bbo(1, 10_000, 10_010)  # the maker quotes 10004 / 10006
        (gw,) = GATEWAYS
        wait_for(lambda: gw.live_orders == 2, "both quotes live")
        before = gw.updates_received
        hit.extend(bob.submit("XYZ", "sell", qty_lots=1, price_ticks=10_004, tif="ioc"))
        # The fill reaches alice's gateway on the update stream; the next event polls it.
        wait_for(lambda: gw.updates_received > before, "alice's fill on her update stream")
        yield bbo(2, 10_000, 10_010)
        yield bbo(3, 10_000, 10_010)

    config = PipelineConfig(
        symbols={"XYZ": LOCAL_ID},
        strategies=[StrategySpec("whistle.trading.examples:MarketMaker", "XYZ", {"qty_lots": 1})],
        account=7,
        gateway="test_remote_pipeline:gateway",
        gateway_options={"target": server.address, "api_key": KEYS["alice"][0]},
    )
    try:
        result = run_inprocess(config, source())
    finally:
        bob.close()
    assert result.failures == []
    kinds = [(u.kind, u.side, u.price) for u in result.updates]
    assert (UpdateKind.ACCEPTED, 1, 10_004) in kinds
    assert (UpdateKind.ACCEPTED, 2, 10_006) in kinds
    fills = [u for u in result.updates if u.kind == UpdateKind.FILLED]
    assert [(f.side, f.fill_price, f.fill_qty, f.symbol_id) for f in fills] == [
        (1, 10_004, 1, LOCAL_ID)
    ]
    assert any(type(e).__name__ == "TradeOccurred" for e in hit)
    # The run's end cancelled every quote at the venue; the gateway closed its stream.
    assert server.run(lambda: [o for o in server.venue.l3(server_sid) if o.account == 7]) == []
    assert result.open_orders == 0
    assert GATEWAYS[0].closed
    assert GATEWAYS[0].stream_errors == []


def test_remote_exchange_delivers_books_trades_and_updates(server: ServerThread) -> None:
    alice = Client(server.address, api_key=KEYS["alice"][0])
    bob = Client(server.address, api_key=KEYS["bob"][0])
    exchange = RemoteExchange(alice, 7)
    sid = alice.instrument("XYZ").symbol_id
    markets: list[MarketEvent] = []
    updates: list[OrderUpdate] = []
    try:
        exchange.subscribe(sid, markets.append, updates.append)
        wait_for(lambda: exchange.pump(0) > 0 or bool(markets), "the first book")
        own = exchange.send(Order(OrderAction.NEW, 11, 7, sid, 1, 10_000, 3))
        assert [u.kind for u in own] == [UpdateKind.ACCEPTED]
        bob.submit("XYZ", "sell", qty_lots=2, price_ticks=10_000)
        wait_for(
            lambda: exchange.pump(0) >= 0 and any(u.kind == UpdateKind.FILLED for u in updates),
            "the fill from bob's flow",
        )
        assert [u.kind for u in updates] == [UpdateKind.FILLED]  # send's own is not repeated
        assert updates[0].leaves_qty == 1
        wait_for(
            lambda: (
                exchange.pump(0) >= 0
                and any(m.kind == MarketKind.TRADE for m in markets)
                and markets[-1].kind == MarketKind.BOOK
                and markets[-1].bid_qty[0] == 1
            ),
            "the trade and the book after it",
        )
        last = markets[-1]
        assert (last.n_bid, last.bid_px[0], last.n_ask) == (1, 10_000, 0)
        cancel = exchange.send(Order(OrderAction.CANCEL, 11, 7, sid, 1))
        assert [(u.kind, u.leaves_qty) for u in cancel] == [(UpdateKind.CANCELLED, 0)]
        assert exchange.live_orders == 0
        refused = exchange.send(Order(OrderAction.NEW, 12, 8, sid, 1, 10_000, 1))
        assert refused[0].kind == UpdateKind.REJECTED  # another account's order
    finally:
        exchange.close()
        alice.close()
        bob.close()
    assert exchange.stream_errors == []
