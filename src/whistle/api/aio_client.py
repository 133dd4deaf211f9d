"""``AsyncClient``: ``whistle.api.client.Client`` for asyncio (``grpc.aio``).

The same methods, awaited (``await client.submit("AAPL", "buy", "100", "187.25")``), the
same arguments, results, errors and reconnection rules (the ``Client`` docstring). Make it
inside the event loop that uses it (``async with AsyncClient(target, api_key=...)``).

Streams:

- ``order_entry()``: an ``AsyncOrderEntryStream``: ``send_*`` queue a command without
  waiting and return its ``request_id``; a writer task sends whatever waits as one
  message (so many commands share a message under load); ``await recv()`` /
  ``async for ... in results()`` give ``(request_id, CommandResult)`` in command order;
- ``market_data(...)``: an ``AsyncMarketDataStream`` (``async for records in ...``), gap
  checked like the sync one (a gap asks for the symbol's snapshot on the stream);
- ``order_updates(account)``: an ``AsyncOrderUpdateStream`` of event batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Final, TypeVar, final

import grpc
import grpc.aio

from whistle.api.client import (
    MAX_COMMANDS_PER_MESSAGE,
    RETRYABLE,
    ChannelSettings,
    ClientError,
    CommandResult,
    ConnectionLost,
    MarketDataState,
    NotFound,
    OpenOrder,
    Retry,
    ServerStatus,
    add_instrument_request,
    cancel_request,
    client_order_of,
    client_order_request,
    depth_of,
    error_of,
    events_of,
    fills_of,
    fills_request,
    instruments_of,
    kinds_of,
    l3_of,
    mass_cancel_request,
    modify_request,
    open_orders_of,
    open_orders_request,
    order_command,
    refused,
    replace_request,
    result_of,
    server_status_of,
    snapshot_request,
    submit_request,
    subscribe_request,
    symbol_ref,
)
from whistle.api.convert import instrument_from_proto
from whistle.api.marketdata import MarketView
from whistle.api.v1 import admin_pb2, market_data_pb2, order_entry_pb2
from whistle.api.v1.admin_pb2_grpc import AdminServiceStub
from whistle.api.v1.market_data_pb2_grpc import MarketDataServiceStub
from whistle.api.v1.order_entry_pb2_grpc import OrderEntryServiceStub

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
    from pathlib import Path

    from whistle.api.backend import ClientOrderView
    from whistle.api.marketdata import Kind, Update
    from whistle.core.enums import Side
    from whistle.core.events import Event, OrderFilled
    from whistle.core.instrument import Instrument
    from whistle.engine.status import DepthSnapshot, EngineStatus, L3Order

__all__ = [
    "AsyncClient",
    "AsyncMarketDataStream",
    "AsyncOrderEntryStream",
    "AsyncOrderUpdateStream",
]

T = TypeVar("T")
_MAX_BATCH: Final = 512


def _retryable(exc: grpc.aio.AioRpcError) -> bool:
    return exc.code() in RETRYABLE


@final
class AsyncClient:
    """A whistle venue over gRPC for asyncio (see the module docstring)."""

    def __init__(
        self,
        target: str,
        *,
        api_key: str | None = None,
        tls: bool = False,
        root_certificates: bytes | str | Path | None = None,
        server_name: str | None = None,
        timeout_s: float = 10.0,
        retry: Retry | None = None,
        max_message_bytes: int = 16 << 20,
    ) -> None:
        """Open a channel to ``target`` (``host:port``); nothing is sent yet."""
        self.target = target
        self.timeout_s = timeout_s
        self.retry = retry if retry is not None else Retry()
        settings = ChannelSettings.of(
            target, api_key, tls, root_certificates, server_name, self.retry, max_message_bytes
        )
        self.metadata = settings.metadata
        self.channel: grpc.aio.Channel = (
            grpc.aio.secure_channel(target, settings.credentials, settings.options)
            if settings.credentials is not None
            else grpc.aio.insecure_channel(target, settings.options)
        )
        self.orders = OrderEntryServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.market = MarketDataServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.admin = AdminServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self._instruments: dict[str | int, Instrument] = {}
        self.last_result: CommandResult | None = None
        """The last order-entry answer (of whichever task awaited last)."""
        self._closed = False

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel (open streams end)."""
        if not self._closed:
            self._closed = True
            await self.channel.close()

    async def call(
        self, method: Callable[..., Awaitable[T]], request: object, *, retry: bool = True
    ) -> T:
        """Call a unary ``method``; retry UNAVAILABLE with backoff when ``retry``."""
        if self._closed:
            raise ClientError("the client is closed")
        delays = self.retry.delays() if retry else iter(())
        while True:
            try:
                return await method(
                    request, metadata=self.metadata, timeout=self.timeout_s, wait_for_ready=True
                )
            except grpc.aio.AioRpcError as exc:
                if not _retryable(exc):
                    raise error_of(exc) from None
                delay = next(delays, None)
                if delay is None:
                    raise error_of(exc) from None
                await asyncio.sleep(delay)

    @property
    def last_reject_detail(self) -> str | None:
        """The server's words for the last refusal at the edge (else None)."""
        result = self.last_result
        return result.detail or None if result is not None else None

    async def _command(self, method: Any, request: object, retry: bool) -> list[Event]:
        answer = await self.call(method, request, retry=retry)
        if answer.result.api_error:
            raise refused(answer.result)
        result = result_of(answer.result)
        self.last_result = result
        return result.events

    # ------------------------------------------------------------------ order entry

    async def submit(
        self, symbol: str | int, side: Side | str | int, *args: Any, **kw: Any
    ) -> list[Event]:
        """Enter a new order (``Venue.submit``'s arguments); return its events."""
        request = submit_request(symbol, side, *args, **kw)
        return await self._command(self.orders.SubmitOrder, request, request.client_order_id != 0)

    async def cancel(
        self, symbol: str | int, order_id: int, *, account: int | None = None
    ) -> list[Event]:
        """Cancel a live order; return the events."""
        request = cancel_request(symbol, order_id, account=account)
        return await self._command(self.orders.CancelOrder, request, False)

    async def modify(self, symbol: str | int, order_id: int, **kw: Any) -> list[Event]:
        """Change a resting order's price and/or remaining quantity (``Venue.modify``)."""
        request = modify_request(symbol, order_id, **kw)
        return await self._command(self.orders.ModifyOrder, request, False)

    async def replace(
        self, symbol: str | int, order_id: int, new_order_id: int | None = None, **kw: Any
    ) -> list[Event]:
        """Replace a resting order by a new one (``Venue.replace``)."""
        request = replace_request(symbol, order_id, new_order_id, **kw)
        return await self._command(self.orders.CancelReplace, request, request.client_order_id != 0)

    async def mass_cancel(
        self, symbol: str | int | None = None, *, account: int | None = None
    ) -> list[Event]:
        """Cancel every live order of the account (or all: admin) on one or every symbol."""
        request = mass_cancel_request(symbol, account=account)
        return await self._command(self.orders.MassCancel, request, False)

    async def open_orders(
        self, symbol: str | int | None = None, *, account: int | None = None
    ) -> list[OpenOrder]:
        """The account's resting orders (``Client.open_orders``)."""
        request = open_orders_request(symbol, account)
        return open_orders_of(await self.call(self.orders.ListOpenOrders, request))

    async def fills(
        self,
        symbol: str | int | None = None,
        *,
        account: int | None = None,
        after_enq_seq: int = 0,
    ) -> tuple[list[OrderFilled], bool]:
        """The account's fills and whether they are all (``Client.fills``)."""
        request = fills_request(symbol, account, after_enq_seq)
        return fills_of(await self.call(self.orders.ListFills, request))

    async def client_order(
        self, client_order_id: int, *, account: int | None = None
    ) -> ClientOrderView | None:
        """What the venue remembers of (account, client_order_id), or None."""
        request = client_order_request(client_order_id, account)
        try:
            answer = await self.call(self.orders.GetClientOrder, request)
        except NotFound:
            return None
        return client_order_of(answer)

    # ------------------------------------------------------------------ instruments

    async def instruments(self) -> list[Instrument]:
        """Every defined instrument, in ``symbol_id`` order (refreshes the cache)."""
        request = market_data_pb2.ListInstrumentsRequest()
        found = instruments_of(await self.call(self.market.ListInstruments, request))
        for inst in found:
            self._instruments[inst.symbol] = inst
            self._instruments[inst.symbol_id] = inst
        return found

    async def instrument(self, symbol: str | int) -> Instrument:
        """The instrument of a symbol name or id (``NotFound`` if none)."""
        known = self._instruments.get(symbol)
        if known is None:
            await self.instruments()
            known = self._instruments.get(symbol)
        if known is None:
            raise NotFound(f"unknown symbol {symbol!r}")
        return known

    async def is_registered(self, symbol: str | int) -> bool:
        """Whether a symbol name or id is defined."""
        try:
            await self.instrument(symbol)
        except NotFound:
            return False
        return True

    async def add_instrument(self, symbol: str, **kw: Any) -> Instrument:
        """Define a symbol (admin); return its ``Instrument``."""
        answer = await self.call(self.admin.AddInstrument, add_instrument_request(symbol, **kw))
        inst = instrument_from_proto(answer.instrument)
        self._instruments[inst.symbol] = inst
        self._instruments[inst.symbol_id] = inst
        return inst

    # ------------------------------------------------------------------ admin and views

    async def halt(self, symbol: str | int) -> list[Event]:
        """Halt a symbol (admin); return the events."""
        answer = await self.call(self.admin.Halt, symbol_ref(admin_pb2.HaltRequest(), symbol))
        return events_of(answer.events)

    async def resume(self, symbol: str | int) -> list[Event]:
        """Resume a halted symbol (admin); return the events."""
        answer = await self.call(self.admin.Resume, symbol_ref(admin_pb2.ResumeRequest(), symbol))
        return events_of(answer.events)

    async def depth(self, symbol: str | int, levels: int = 10) -> DepthSnapshot:
        """The L2 depth of ``symbol``."""
        request = symbol_ref(admin_pb2.DepthRequest(levels=levels), symbol)
        return depth_of(await self.call(self.admin.Depth, request))

    async def server_status(self, symbols: Sequence[str] = ()) -> ServerStatus:
        """The server's status of ``symbols`` (none: every symbol) and its counters."""
        request = admin_pb2.StatusRequest(symbols=list(symbols))
        return server_status_of(await self.call(self.admin.Status, request))

    async def status(self, symbol: str | int) -> EngineStatus:
        """The status of ``symbol``'s engine."""
        name = symbol if type(symbol) is str else (await self.instrument(symbol)).symbol
        found = (await self.server_status([str(name)])).symbols
        if not found:
            raise NotFound(f"unknown symbol {symbol!r}")
        return found[0]

    async def l3(self, symbol: str | int) -> list[L3Order]:
        """``symbol``'s resting orders in priority order (admin)."""
        request = symbol_ref(admin_pb2.SnapshotRequest(), symbol)
        return l3_of(await self.call(self.admin.Snapshot, request))

    async def release_idle(self, idle_ticks: int) -> list[int]:
        """Retire every symbol idle for ``idle_ticks`` ticks (admin); return their ids."""
        request = admin_pb2.ReleaseIdleRequest(idle_ticks=idle_ticks)
        return list((await self.call(self.admin.ReleaseIdle, request)).symbol_ids)

    # ------------------------------------------------------------------ streams

    def order_entry(
        self, max_batch: int = _MAX_BATCH, *, omit_market_data: bool = False
    ) -> AsyncOrderEntryStream:
        """An ``OrderEntry`` stream (opened by the first ``send``). ``omit_market_data``:
        the replies leave out book-level and BBO events (they are on market data)."""
        return AsyncOrderEntryStream(self, max_batch, omit_market_data=omit_market_data)

    def market_data(
        self,
        symbols: Iterable[str | int] | None = None,
        *,
        depth: int = 10,
        kinds: Kind | Iterable[str | Kind] | None = None,
    ) -> AsyncMarketDataStream:
        """Subscribe to market data (None: every symbol); ``async for`` record batches."""
        return AsyncMarketDataStream(self, symbols, depth, kinds_of(kinds))

    def order_updates(self, account: int | None = None) -> AsyncOrderUpdateStream:
        """Subscribe to the account's order events."""
        return AsyncOrderUpdateStream(self, account)


# ---------------------------------------------------------------------------- streams


class _AsyncStream:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.reconnects = 0
        self.closed = False
        self._call: Any = None

    def close(self) -> None:
        """End the stream (an ``async for`` over it ends)."""
        self.closed = True
        if self._call is not None:
            self._call.cancel()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def wait_ready(self) -> bool:
        """Wait until the server has registered the subscription (its initial metadata);
        False if the stream ended first. Opens the stream if it is not open yet."""
        if self._call is None:
            self._call = self._connect()
        try:
            await self._call.initial_metadata()
        except grpc.aio.AioRpcError:
            return False
        return not self._call.done() or self._call.code() == grpc.StatusCode.OK

    def _connect(self) -> Any:
        raise NotImplementedError

    async def _lost(self, exc: grpc.aio.AioRpcError, delays: Any) -> bool:
        if self.closed or exc.code() == grpc.StatusCode.CANCELLED:
            return False
        if not _retryable(exc):
            raise error_of(exc) from None
        delay = next(delays, None)
        if delay is None:
            raise error_of(exc) from None
        await asyncio.sleep(delay)
        self.reconnects += 1
        return not self.closed


def _ended_early() -> ConnectionLost:
    return ConnectionLost("the server ended the stream", grpc.StatusCode.UNAVAILABLE)


@final
class AsyncOrderUpdateStream(_AsyncStream):
    """The account's order events, batch by batch (``async for``); reopens after a restart."""

    def __init__(self, client: AsyncClient, account: int | None) -> None:
        super().__init__(client)
        self.request = order_entry_pb2.SubscribeOrderUpdatesRequest()
        if account is not None:
            self.request.account = account

    async def __aiter__(self) -> AsyncIterator[list[Event]]:
        client = self.client
        delays = client.retry.delays()
        while not self.closed:
            if self._call is None:
                self._call = self._connect()
            try:
                async for batch in self._call:
                    delays = client.retry.delays()
                    yield events_of(batch.events)
                if self.closed:
                    return
                raise _ended_early()
            except grpc.aio.AioRpcError as exc:
                self._call = None
                if not await self._lost(exc, delays):
                    return

    def _connect(self) -> Any:
        client = self.client
        return client.orders.SubscribeOrderUpdates(
            self.request, metadata=client.metadata, wait_for_ready=True
        )


@final
class AsyncMarketDataStream(_AsyncStream, MarketDataState):
    """Market-data record batches (``async for``), gap checked (``MarketDataState``)."""

    def __init__(
        self, client: AsyncClient, symbols: Iterable[str | int] | None, depth: int, kinds: Kind
    ) -> None:
        _AsyncStream.__init__(self, client)
        MarketDataState.__init__(self)
        self.subscribe = subscribe_request(symbols, depth, kinds)
        self._sent_subscribe = False

    async def request_snapshot(self, symbol_ids: Iterable[int]) -> None:
        """Ask for fresh snapshots of ``symbol_ids`` on this stream."""
        if self._call is not None:
            await self._call.write(snapshot_request(set(symbol_ids)))

    async def __aiter__(self) -> AsyncIterator[list[Update]]:
        client = self.client
        delays = client.retry.delays()
        while not self.closed:
            if self._call is None:
                self._call = self._connect()
            call = self._call
            try:
                await self._subscribed(call)
                while True:
                    batch = await call.read()
                    if batch is grpc.aio.EOF:
                        break
                    delays = client.retry.delays()
                    records, gapped = self.take(batch)
                    if gapped:
                        await call.write(snapshot_request(gapped))
                    yield records
                if self.closed:
                    return
                raise _ended_early()
            except grpc.aio.AioRpcError as exc:
                self._call = None
                if not await self._lost(exc, delays):
                    return

    def _connect(self) -> Any:
        self.view = MarketView()  # a new stream starts from snapshots
        self._sent_subscribe = False
        client = self.client
        return client.market.SubscribeMarketData(metadata=client.metadata, wait_for_ready=True)

    async def _subscribed(self, call: Any) -> None:
        if not self._sent_subscribe:
            self._sent_subscribe = True
            await call.write(self.subscribe)

    async def wait_ready(self) -> bool:
        """Send the subscription and wait until the server registered it."""
        if self._call is None:
            self._call = self._connect()
        await self._subscribed(self._call)
        return await super().wait_ready()


@final
class AsyncOrderEntryStream(_AsyncStream):
    """One ``OrderEntry`` stream for asyncio (see the module docstring).

    When the stream breaks, ``recv`` raises ``ConnectionLost`` whose ``unanswered`` names
    the request ids left without an answer; the next ``send`` opens a new stream.
    """

    def __init__(
        self, client: AsyncClient, max_batch: int = _MAX_BATCH, *, omit_market_data: bool = False
    ) -> None:
        super().__init__(client)
        if not 1 <= max_batch <= MAX_COMMANDS_PER_MESSAGE:
            raise ValueError(f"max_batch must be 1..{MAX_COMMANDS_PER_MESSAGE}, was {max_batch!r}")
        self.max_batch = max_batch
        self.omit_market_data = omit_market_data
        self._next_id = 0
        self._unanswered: dict[int, None] = {}
        self._waiting: list[order_entry_pb2.OrderCommand] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._replies: list[Any] = []
        self._reply_at = 0
        self.messages_sent = 0

    @property
    def pending(self) -> int:
        """Commands sent and not answered yet."""
        return len(self._unanswered)

    def _ensure(self) -> None:
        if self._call is not None:
            return
        if self.closed:
            raise ClientError("the order-entry stream is closed")
        client = self.client
        self._call = client.orders.OrderEntry(metadata=client.metadata, wait_for_ready=True)
        self._writer = asyncio.get_running_loop().create_task(self._write(self._call))

    async def _write(self, call: Any) -> None:
        waiting = self._waiting
        wake = self._wake
        max_batch = self.max_batch
        omit = self.omit_market_data
        request_type = order_entry_pb2.OrderEntryRequest
        try:
            while True:
                if not waiting:
                    wake.clear()
                    await wake.wait()
                    if self.closed:
                        return
                    continue
                batch = waiting[:max_batch]
                del waiting[:max_batch]
                await call.write(request_type(commands=batch, omit_market_data=omit))
                self.messages_sent += 1
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return  # the read side reports the broken stream

    def send(self, command: order_entry_pb2.OrderCommand) -> int:
        """Queue one ``OrderCommand`` (its ``request_id`` is set here); return the id."""
        self._ensure()
        self._next_id += 1
        rid = self._next_id
        command.request_id = rid
        self._unanswered[rid] = None
        self._waiting.append(command)
        self._wake.set()
        return rid

    def send_submit(self, symbol: str | int, side: Side | str | int, *args: Any, **kw: Any) -> int:
        """Queue a submit (``Venue.submit``'s arguments); return its request id."""
        return self.send(order_command("submit", submit_request(symbol, side, *args, **kw)))

    def send_cancel(self, symbol: str | int, order_id: int, **kw: Any) -> int:
        """Queue a cancel; return its request id."""
        return self.send(order_command("cancel", cancel_request(symbol, order_id, **kw)))

    def send_modify(self, symbol: str | int, order_id: int, **kw: Any) -> int:
        """Queue a modify; return its request id."""
        return self.send(order_command("modify", modify_request(symbol, order_id, **kw)))

    def send_replace(self, symbol: str | int, order_id: int, **kw: Any) -> int:
        """Queue a cancel-replace; return its request id."""
        return self.send(order_command("cancel_replace", replace_request(symbol, order_id, **kw)))

    def send_mass_cancel(self, symbol: str | int | None = None, **kw: Any) -> int:
        """Queue a mass cancel; return its request id."""
        return self.send(order_command("mass_cancel", mass_cancel_request(symbol, **kw)))

    async def recv_raw(self) -> Any:
        """The next ``OrderReply`` message itself (no conversion: for load generators)."""
        replies = self._replies
        while self._reply_at >= len(replies):
            call = self._call
            if call is None:
                raise ClientError("nothing was sent on this order-entry stream")
            try:
                answer = await call.read()
            except grpc.aio.AioRpcError as exc:
                raise self._broken(exc) from None
            if answer is grpc.aio.EOF:
                raise self._broken(None)
            self._replies = replies = list(answer.replies)
            self._reply_at = 0
        reply = replies[self._reply_at]
        self._reply_at += 1
        self._unanswered.pop(reply.request_id, None)
        return reply

    async def recv(self) -> tuple[int, CommandResult]:
        """Wait for the next answer: ``(request_id, CommandResult)``."""
        reply = await self.recv_raw()
        return reply.request_id, result_of(reply.result)

    async def results(self) -> AsyncIterator[tuple[int, CommandResult]]:
        """Yield the answers while commands are pending."""
        while self._unanswered:
            yield await self.recv()

    def _broken(self, exc: grpc.aio.AioRpcError | None) -> ClientError:
        lost = list(self._unanswered)
        self._unanswered.clear()
        self._waiting.clear()
        self._stop_writer()
        self._call = None
        if self.closed:
            return ClientError("the order-entry stream is closed")
        why = error_of(exc) if exc is not None else "the server ended the stream"
        error = ConnectionLost(f"the order-entry stream broke ({why}); unanswered: {lost}")
        error.unanswered = lost
        return error

    def _stop_writer(self) -> None:
        writer = self._writer
        self._writer = None
        if writer is not None and not writer.done():
            writer.cancel()

    async def aclose(self) -> None:
        """End the stream and wait for its writer."""
        writer = self._writer
        self.close()
        if writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def close(self) -> None:
        """End the stream (answers not read yet are lost)."""
        self._stop_writer()
        super().close()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
