"""``whistle.api.AsyncClient`` against a real server on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from server_harness import KEYS, ServerThread

from whistle.api.aio_client import AsyncClient
from whistle.api.client import AuthenticationError, ClientError, NotFound, PermissionDenied
from whistle.api.marketdata import Snapshot, Trade
from whistle.coord import Venue
from whistle.core.events import (
    DuplicateClientOrder,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
)
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator


@pytest.fixture
def server() -> Iterator[ServerThread]:
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01", lot_size="1")
    thread = ServerThread(venue)
    yield thread
    thread.close()


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def make(server: ServerThread, who: str = "alice") -> AsyncClient:
    return AsyncClient(server.address, api_key=KEYS[who][0], timeout_s=20)


def test_unary_methods_mirror_the_sync_client(server: ServerThread) -> None:
    async def main() -> None:
        async with make(server) as c, make(server, "root") as root:
            events = await c.submit("AAPL", "buy", "10", "100.00", client_order_id=5)
            assert isinstance(events[0], OrderAccepted)
            order_id = events[0].order_id
            again = await c.submit("AAPL", "buy", "10", "100.00", client_order_id=5)
            assert isinstance(again[0], DuplicateClientOrder)
            bad = await c.submit("AAPL", "buy", "1", "100.001")
            assert isinstance(bad[0], OrderRejected)
            assert bad[0].reason == RejectReason.INVALID_PRICE_PRECISION
            assert c.last_reject_detail
            assert [o.order_id for o in await c.open_orders("AAPL")] == [order_id]
            view = await c.client_order(5)
            assert view is not None
            assert view.order_id == order_id
            depth = await c.depth("AAPL")
            assert [(lv.price_ticks, lv.qty_lots) for lv in depth.bids] == [(10000, 10)]
            assert (await c.status("AAPL")).resting_orders == 1
            assert (await root.l3("AAPL"))[0].order_id == order_id
            with pytest.raises(PermissionDenied):
                await c.halt("AAPL")
            await root.halt("AAPL")
            await root.resume("AAPL")
            with pytest.raises(NotFound):
                await c.depth("NOPE")
            cancelled = await c.cancel("AAPL", order_id)
            assert isinstance(cancelled[0], OrderCancelled)
            assert await c.open_orders("AAPL") == []
        async with AsyncClient(server.address, api_key="wrong") as stranger:
            with pytest.raises(AuthenticationError):
                await stranger.instruments()
        closed = make(server)
        await closed.close()
        with pytest.raises(ClientError, match="closed"):
            await closed.depth("AAPL")

    run(main())


def test_order_entry_stream_batches_and_answers_in_order(server: ServerThread) -> None:
    async def main() -> None:
        async with make(server) as c:
            entry = c.order_entry()
            ids = [
                entry.send_submit("AAPL", "sell", qty_lots=1, price_ticks=10_000 + i)
                for i in range(1000)
            ]
            got = [rid async for rid, _ in entry.results()]
            assert got == ids
            assert entry.messages_sent < len(ids)  # many commands per message
            rid = entry.send_mass_cancel("AAPL")
            answer_id, answer = await entry.recv()
            assert answer_id == rid
            assert sum(isinstance(e, OrderCancelled) for e in answer.events) == 1000
            await entry.aclose()
            assert (await c.depth("AAPL")).asks == []

    run(main())


def test_market_data_and_order_updates_streams(server: ServerThread) -> None:
    async def main() -> None:
        async with make(server) as alice, make(server, "bob") as bob:
            md = alice.market_data(["AAPL"])
            updates = alice.order_updates()
            md_iter = md.__aiter__()
            first = await md_iter.__anext__()
            assert isinstance(first[0], Snapshot)
            up_iter = updates.__aiter__()
            reader = asyncio.ensure_future(up_iter.__anext__())
            await asyncio.sleep(0)
            order_id = (await alice.submit("AAPL", "buy", "5", "100.00"))[0].order_id  # type: ignore[attr-defined]
            got = await reader
            while not any(isinstance(e, OrderAccepted) and e.order_id == order_id for e in got):
                got = await up_iter.__anext__()
            await bob.submit("AAPL", "sell", "5", "100.00")
            fills: list[Any] = []
            while not fills:
                fills = [e for e in await up_iter.__anext__() if isinstance(e, OrderFilled)]
            assert fills[0].order_id == order_id
            records: list[Any] = []
            while not any(isinstance(r, Trade) for r in records):
                records += await md_iter.__anext__()
            assert md.gaps == 0
            md.close()
            updates.close()
            await md_iter.aclose()
            await up_iter.aclose()

    run(main())


def test_order_entry_stream_can_leave_book_events_out(server: ServerThread) -> None:
    async def main() -> None:
        async with make(server) as c:
            lean = c.order_entry(omit_market_data=True)
            lean.send_submit("AAPL", "buy", qty_lots=1, price_ticks=9_000)
            _rid, result = await lean.recv()
            assert [type(e).__name__ for e in result.events] == ["OrderAccepted"]
            await lean.aclose()
            full = c.order_entry()
            full.send_submit("AAPL", "buy", qty_lots=1, price_ticks=9_001)
            _rid, result = await full.recv()
            assert "BookLevelChanged" in [type(e).__name__ for e in result.events]
            await full.aclose()
        with pytest.raises(ValueError, match="max_batch"):
            c.order_entry(max_batch=5000)

    run(main())
