"""The gRPC server (``grpc.aio``): order entry, market data, order updates, admin.

One event loop, one thread: the loop that runs the gRPC handlers also owns the backend
(the ``Venue`` of ``LocalBackend``), so every venue call happens on it and the venue keeps
its single sequencing thread. Handlers never call the venue for order entry themselves:
they hand their commands to the ``CommandBatcher``, which runs everything submitted during
one turn of the loop (from every call and stream) as one ``Backend.execute`` (``enqueue``
each, one ``tick``), and gives each caller its outcome. While one batch runs, the next
collects. Acknowledged means journaled, exactly as in the venue.

Errors (gRPC status codes; order-entry *values* are never statuses, see below):

- ``UNAUTHENTICATED``: no ``x-api-key``, or an unknown key ("missing x-api-key" /
  "unknown API key");
- ``PERMISSION_DENIED``: the key's role may not make the call (a market-data key entering
  orders, a trader calling an admin method, a trader naming another account or choosing
  venue order ids on a unary call);
- ``NOT_FOUND``: an unknown symbol on a view or admin call, an order or client order id
  the key's account does not have (another account's looks exactly like none);
- ``INVALID_ARGUMENT``: bytes that are no message of the call's request type ("malformed
  whistle.v1.X: ..."; a stream ends with it); a request the call cannot use (no symbol on
  Depth, a bad instrument definition, the first market-data request not a subscribe,
  idle_ticks 0);
- ``RESOURCE_EXHAUSTED``: too many open streams for the key; a market-data or order-update
  subscriber that fell behind and was dropped; a message over the size limit (gRPC);
- ``UNAVAILABLE``: the server is shutting down, or the venue stopped (its journal failed);
- ``UNIMPLEMENTED``: no such method; ``UNKNOWN``: a bug (the server logs it).

Order entry answers values with the venue's documented rejects, status OK: an unknown
symbol, a decimal off the grid, an int out of range, an unknown enum value, both forms of
a value given are an ``OrderRejected`` event (seq 0, the book unchanged) in the result,
with the ``RejectReason`` and the venue's words (``CommandResult.detail``). The API layer's
own refusals are ``CommandResult.api_error``: ``RATE_LIMITED`` (the key's order rate, see
``whistle.api.limits``), ``UNAVAILABLE`` (shutting down), and on the OrderEntry stream also
``PERMISSION_DENIED`` and ``INVALID_ARGUMENT`` (so one bad command never ends the stream).

Shutdown (``stop``): health goes NOT_SERVING, new order entry is answered UNAVAILABLE,
subscriptions end, in-flight calls finish within the grace period, the batcher drains,
then the backend closes (``LocalBackend``: ``Venue.stop`` drains queued commands,
checkpoints and journals a clean stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from typing import TYPE_CHECKING, Any, Final, final

import grpc
import msgspec
from google.protobuf.message import DecodeError
from grpc import aio

from whistle.api import convert
from whistle.api.auth import API_KEY_HEADER, Authenticator, Identity
from whistle.api.backend import BackendUnavailable
from whistle.api.convert import Refusal
from whistle.api.limits import KeyLimits, RateLimiter, StreamLimiter
from whistle.api.marketdata import (
    ALL_KINDS,
    Kind,
    MarketDataHub,
    SubscriptionClosed,
    SubscriptionDropped,
    UnknownSymbol,
    attach_backend,
)
from whistle.api.orders import OrderUpdates, OrderUpdatesClosed, OrderUpdatesDropped
from whistle.api.v1 import admin_pb2, market_data_pb2, order_entry_pb2, types_pb2
from whistle.core.errors import InstrumentError, WhistleError
from whistle.core.events import BestBidOfferChanged, BookLevelChanged, OrderRejected
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from whistle.api.backend import Backend, Outcome
    from whistle.api.marketdata import Chunk, Subscription, Update
    from whistle.core.commands import Command
    from whistle.core.events import Event

__all__ = ["SERVICE_NAMES", "CommandBatcher", "ServerConfig", "WhistleServer"]

log = logging.getLogger("whistle.api.server")

SERVICE_NAMES: Final = (
    "whistle.v1.OrderEntryService",
    "whistle.v1.MarketDataService",
    "whistle.v1.AdminService",
)
_ApiError = types_pb2.ApiError
_Entry = tuple[list[Any], "asyncio.Future[list[Outcome]] | None", bool]
"""An OrderEntry request on its way: (reply slots, the batch's outcomes, omit_market_data)."""
_MARKET_DATA_EVENTS: Final = frozenset({BookLevelChanged, BestBidOfferChanged})
_ENCODED_MAX: Final = 1 << 16  # sequenced events kept encoded for their other receivers
_SUBSCRIBED: Final = (("x-whistle-subscribed", "1"),)
"""Initial metadata of a subscription stream once it is registered (events from then on
reach it): ``call.initial_metadata()`` on the client waits for it."""
_MD_KIND: Final = {
    market_data_pb2.MARKET_DATA_KIND_LEVELS: Kind.LEVELS,
    market_data_pb2.MARKET_DATA_KIND_BBO: Kind.BBO,
    market_data_pb2.MARKET_DATA_KIND_TRADES: Kind.TRADES,
    market_data_pb2.MARKET_DATA_KIND_STATUS: Kind.STATUS,
}


@final
class ServerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How a ``WhistleServer`` listens and what it allows (defaults: the config's)."""

    host: str = "127.0.0.1"
    port: int = 50051
    """0: an ephemeral port (``WhistleServer.port`` says which)."""
    max_message_bytes: int = 4 * 1024 * 1024
    """Largest request accepted (RESOURCE_EXHAUSTED beyond)."""
    orders_per_sec: float = 10_000.0
    burst: int = 20_000
    max_streams: int = 64
    order_update_queue: int = 100_000
    md_max_pending: int = 50_000
    md_linger_s: float = 0.0
    """Once a market-data update is ready, wait this long for more before writing (fewer,
    bigger messages: a gRPC write costs ~45 us per subscriber; at most this much later)."""
    md_drop_after: int = 1_000_000
    """A market-data subscriber that reads nothing while this many updates are discarded
    for it is dropped (RESOURCE_EXHAUSTED)."""
    max_batch: int = 4096
    """Commands per backend batch (one tick) at most."""
    tick_interval_s: float = 1.0
    """How often the clock ticks when idle, so GTD orders expire (0: never)."""
    tls_cert: bytes | None = None
    tls_key: bytes | None = None
    grace_s: float = 5.0
    """How long ``stop`` lets in-flight calls finish."""
    max_connections: int = 0
    """Open client connections at most (0: half the process's file-descriptor limit less
    256 for the journal and the web view, between 16 and 4096); more are refused."""
    handshake_timeout_s: float = 2.0
    """A connection that has not completed its handshake by then is closed."""
    connection_idle_s: float = 3.0
    """A connection with no call for this long is closed (clients reconnect on their next
    call, transparently); subscription streams keep theirs open."""


# ---------------------------------------------------------------------------- batching


@final
class CommandBatcher:
    """Collect the commands handlers submit during one loop turn; run them as one batch.

    ``submit(commands)`` returns a future of their outcomes, in order. Batches run one at a
    time, in submission order, so the commands of one stream keep their order.
    """

    def __init__(self, backend: Backend, max_batch: int = 4096) -> None:
        self.backend = backend
        self.max_batch = max_batch
        self._pending: list[tuple[Sequence[Command], asyncio.Future[list[Outcome]]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        """Backend batches run so far."""
        self.commands = 0
        """Commands run so far."""
        self.largest = 0
        """The largest batch so far."""

    def submit(self, commands: Sequence[Command]) -> asyncio.Future[list[Outcome]]:
        """Queue ``commands`` for the next batch; return the future of their outcomes."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Outcome]] = loop.create_future()
        self._pending.append((commands, future))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self._pending:
                taken: list[tuple[Sequence[Command], asyncio.Future[list[Outcome]]]] = []
                flat: list[Command] = []
                pending = self._pending
                while pending and (not flat or len(flat) + len(pending[0][0]) <= self.max_batch):
                    item = pending.pop(0)
                    taken.append(item)
                    flat.extend(item[0])
                self.batches += 1
                self.commands += len(flat)
                self.largest = max(self.largest, len(flat))
                try:
                    outcomes = await self.backend.execute(flat) if flat else []
                except Exception as exc:  # a bug or a dead backend: every caller hears it
                    for _, future in taken:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                start = 0
                for commands, future in taken:
                    end = start + len(commands)
                    if not future.done():
                        future.set_result(outcomes[start:end])
                    start = end
        finally:
            self._task = None

    async def idle(self) -> None:
        """Wait until nothing is queued or running."""
        while self._task is not None:
            await asyncio.shield(self._task)


# ---------------------------------------------------------------------------- the server


def _metadata_key(context: aio.ServicerContext[Any, Any]) -> str | bytes | None:
    for item in context.invocation_metadata() or ():
        if item[0] == API_KEY_HEADER:
            value: str | bytes = item[1]
            return value
    return None


@final
class WhistleServer:
    """A ``grpc.aio`` server over a ``Backend`` (start it inside a running event loop)."""

    def __init__(
        self,
        backend: Backend,
        *,
        auth: Authenticator | None = None,
        config: ServerConfig | None = None,
        rate_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.auth = auth or Authenticator(None)
        self.config = config or ServerConfig()
        cfg = self.config
        self.batcher = CommandBatcher(backend, cfg.max_batch)
        self.hub = MarketDataHub(max_pending=cfg.md_max_pending, drop_after=cfg.md_drop_after)
        self.order_updates = OrderUpdates(max_queue=cfg.order_update_queue)
        self.rates = RateLimiter(rate_clock)
        self.streams = StreamLimiter()
        self.port = 0
        self._server: aio.Server | None = None
        self._health: Any = None
        self._draining = False
        self._ticker: asyncio.Task[None] | None = None
        self._md_subs: set[Subscription] = set()
        self._order_subs: set[Any] = set()
        self._encode = self._encode_chunk  # one bound method: the chunks' cache key
        self._stopped = asyncio.Event()
        self._detach_hub: Callable[[], None] | None = None
        self._encoded: dict[tuple[int, int], dict[str, Any]] = {}
        pb = order_entry_pb2
        self.submit_order = self._order_call(convert.submit_command, pb.SubmitOrderResponse)
        self.cancel_order = self._order_call(convert.cancel_command, pb.CancelOrderResponse)
        self.modify_order = self._order_call(convert.modify_command, pb.ModifyOrderResponse)
        self.cancel_replace = self._order_call(
            convert.cancel_replace_command, pb.CancelReplaceResponse
        )
        self.mass_cancel = self._order_call(convert.mass_cancel_command, pb.MassCancelResponse)

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> int:
        """Seed the market-data hub, bind, start serving; return the port."""
        cfg = self.config
        backend = self.backend
        backend.add_listener(self.order_updates.on_events)
        self._detach_hub = await attach_backend(self.hub, backend)
        server = aio.server(
            options=[
                ("grpc.max_receive_message_length", cfg.max_message_bytes),
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", 0),
                # Connections cost file descriptors before any key is checked: bounded
                # (well below the process's limit, so the journal and the web view keep
                # theirs), a connection that never completes its handshake is closed
                # after handshake_timeout_s, one with no call for connection_idle_s too.
                ("grpc.max_allowed_incoming_connections", _connection_quota(cfg)),
                ("grpc.server_handshake_timeout_ms", int(cfg.handshake_timeout_s * 1000)),
                ("grpc.max_connection_idle_ms", int(cfg.connection_idle_s * 1000)),
            ]
        )
        server.add_generic_rpc_handlers(
            (self._order_entry_handler(), self._market_data_handler(), self._admin_handler())
        )
        self._add_health_and_reflection(server)
        address = f"{cfg.host}:{cfg.port}"
        try:
            if cfg.tls_cert is not None or cfg.tls_key is not None:
                if cfg.tls_cert is None or cfg.tls_key is None:
                    raise ValueError("TLS needs both a certificate and a key")
                credentials = grpc.ssl_server_credentials([(cfg.tls_key, cfg.tls_cert)])
                self.port = server.add_secure_port(address, credentials)
            else:
                self.port = server.add_insecure_port(address)
        except RuntimeError as exc:
            # grpc says "Failed to bind" (the port is taken, or the address is not ours);
            # SO_REUSEPORT is off, so a second server never shares a port silently.
            await server.stop(None)
            raise OSError(
                errno.EADDRINUSE, f"cannot listen on {address} (in use, or not a local address)"
            ) from exc
        if self.port == 0:
            await server.stop(None)
            raise OSError(errno.EADDRNOTAVAIL, f"cannot listen on {address}")
        await server.start()
        self._server = server
        if cfg.tick_interval_s > 0:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())
        return self.port

    def _add_health_and_reflection(self, server: aio.Server) -> None:
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
        from grpc_reflection.v1alpha import reflection  # type: ignore[import-untyped]

        servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        self._health = servicer
        self._health_serving = health_pb2.HealthCheckResponse.SERVING
        self._health_not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        names = (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)

    async def _set_health(self, serving: bool) -> None:
        status = self._health_serving if serving else self._health_not_serving
        for name in ("", *SERVICE_NAMES):
            await self._health.set(name, status)

    async def serving(self) -> None:
        """Mark every service SERVING in the health service (``start`` then this)."""
        await self._set_health(True)

    async def _tick_forever(self) -> None:
        interval = self.config.tick_interval_s
        while not self._draining:
            await asyncio.sleep(interval)
            if self._draining:
                break
            try:
                await self.backend.advance()
            except BackendUnavailable:
                continue  # a stopped venue: order entry says so; the clock just stays
            except Exception:  # a bug: say it, keep the clock going
                log.exception("the idle clock tick failed")

    async def stop(self, grace: float | None = None) -> None:
        """Drain and stop: see the module docstring. Idempotent."""
        if self._draining:
            await self._stopped.wait()
            return
        self._draining = True
        try:
            if self._health is not None:
                await self._set_health(False)
            if self._ticker is not None:
                self._ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._ticker
            for sub in list(self._md_subs):
                sub.close()
            for osub in list(self._order_subs):
                osub.close()
            if self._server is not None:
                await self._server.stop(self.config.grace_s if grace is None else grace)
            await self.batcher.idle()
            self.backend.remove_listener(self.order_updates.on_events)
            if self._detach_hub is not None:
                self._detach_hub()
            await self.backend.close()
        finally:
            self._stopped.set()

    async def wait_for_termination(self) -> None:
        """Wait until the server stopped."""
        if self._server is not None:
            await self._server.wait_for_termination()

    @property
    def open_streams(self) -> int:
        """Return the streams open now (every key)."""
        return self.streams.open_streams()

    # -------------------------------------------------------------- helpers

    async def _identify(self, context: aio.ServicerContext[Any, Any]) -> Identity:
        key = _metadata_key(context)
        if key is None and not self.auth.open:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"missing {API_KEY_HEADER}")
        identity = self.auth.identify(key)
        if identity is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown API key")
        return identity

    async def _trader(self, context: aio.ServicerContext[Any, Any]) -> Identity:
        identity = await self._identify(context)
        if not identity.trades:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"key {identity.name!r} is a market-data key: it may not enter or read orders",
            )
        return identity

    async def _admin(self, context: aio.ServicerContext[Any, Any]) -> Identity:
        identity = await self._identify(context)
        if not identity.is_admin:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"key {identity.name!r} is not an admin key"
            )
        return identity

    def _limits(self, identity: Identity) -> KeyLimits:
        cfg = self.config
        return KeyLimits(
            identity.orders_per_sec or cfg.orders_per_sec,
            identity.burst or cfg.burst,
            cfg.max_streams if identity.max_streams is None else identity.max_streams,
        )

    async def _open_stream(
        self, identity: Identity, context: aio.ServicerContext[Any, Any]
    ) -> None:
        limit = self._limits(identity).max_streams
        if not self.streams.acquire(identity.name, limit):
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"too many streams for key {identity.name!r} (max_streams={limit})",
            )

    def _lookup(self, symbol: str | int) -> Instrument | None:
        return self.backend.instrument(symbol)

    async def _instrument(
        self, request: Any, context: aio.ServicerContext[Any, Any], required: bool = True
    ) -> Instrument | None:
        which = request.WhichOneof("symbol_ref")
        if which is None:
            if required:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "a symbol (name or symbol_id) is required"
                )
            return None
        value = request.symbol if which == "symbol" else request.symbol_id
        instrument = self.backend.instrument(value)
        if instrument is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown symbol {str(value)[:80]!r}")
        return instrument

    def _event_dicts(
        self, events: Sequence[Event], identity: Identity, detail: str | None
    ) -> list[dict[str, Any]]:
        # What ``identity`` may see of ``events``, as message fields (convert.event_fields):
        # responses are built from dicts in one go, never message by message (copies).
        own = identity.own_account
        shown = convert.for_trader(events, own) if own is not None else events
        lookup = self.backend.instrument
        fields = convert.event_fields
        encoded = self._encoded
        cache: dict[int, Instrument | None] = {}
        out = []
        for event in shown:
            sid = event.symbol_id
            seq = event.seq
            kind = type(event)
            # A sequenced event is encoded once, whoever receives it (the command's result,
            # the order-update subscribers): (symbol_id, seq) names it. Rejects are not
            # shared (a trader's view of one may differ from an admin's).
            key = (sid, seq) if seq and kind is not OrderRejected else None
            if key is not None:
                done = encoded.get(key)
                if done is not None:
                    out.append(done)
                    continue
            if sid in cache:
                instrument = cache[sid]
            else:
                instrument = cache[sid] = lookup(sid)
            words = detail if kind is OrderRejected and seq == 0 else None
            value = fields(event, instrument, words)
            if key is not None:
                if len(encoded) >= _ENCODED_MAX:
                    encoded.clear()
                encoded[key] = value
            out.append(value)
        return out

    def _events_to_proto(
        self, events: Sequence[Event], identity: Identity, detail: str | None
    ) -> list[types_pb2.Event]:
        return [types_pb2.Event(**d) for d in self._event_dicts(events, identity, detail)]

    def _result(
        self, outcome: Outcome, identity: Identity, omit_market_data: bool = False
    ) -> dict[str, Any]:
        # A CommandResult's fields.
        if outcome.error is not None:
            return {"api_error": _ApiError.API_ERROR_UNAVAILABLE, "detail": outcome.error}
        shown = outcome.events
        if omit_market_data:
            shown = [e for e in shown if type(e) not in _MARKET_DATA_EVENTS]
        events = self._event_dicts(shown, identity, outcome.detail)
        detail = outcome.detail
        if detail is None:
            # An engine reject: its words (the detail code's text, or the reason's).
            for event in events:
                rejected = event.get("order_rejected")
                if rejected is not None:
                    detail = rejected["detail"]
                    break
        return {
            "enq_seq": outcome.enq_seq,
            "order_id": outcome.order_id,
            "events": events,
            "detail": detail or "",
        }

    def _refusal_result(self, refusal: Refusal, identity: Identity) -> dict[str, Any]:
        # A CommandResult's fields for a request that did not become a command.
        if refusal.reject is not None:
            instrument = self.backend.instrument(refusal.reject.symbol_id)
            event = convert.event_fields(refusal.reject, instrument, refusal.detail)
            return {
                "order_id": refusal.reject.order_id,
                "events": [event],
                "detail": refusal.detail,
            }
        return {"api_error": refusal.api_error, "detail": refusal.detail}

    def _gate(self, identity: Identity, count: int) -> tuple[int, dict[str, Any] | None]:
        # How many of ``count`` commands may go now, and the result for those that may not.
        if self._draining:
            return 0, {
                "api_error": _ApiError.API_ERROR_UNAVAILABLE,
                "detail": "the server is shutting down",
            }
        limits = self._limits(identity)
        granted = self.rates.take(identity.name, limits, count)
        if granted == count:
            return granted, None
        return granted, {
            "api_error": _ApiError.API_ERROR_RATE_LIMITED,
            "detail": (
                f"key {identity.name!r} may enter {limits.orders_per_sec:g} orders/s (burst"
                f" {limits.burst}); not sequenced, retry later"
            ),
        }

    async def _run_unary(
        self,
        command: Command | Refusal,
        identity: Identity,
        context: aio.ServicerContext[Any, Any],
    ) -> dict[str, Any]:
        if isinstance(command, Refusal):
            if command.api_error == _ApiError.API_ERROR_PERMISSION_DENIED:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, command.detail)
            return self._refusal_result(command, identity)
        outcomes = await self.batcher.submit((command,))
        return self._result(outcomes[0], identity)

    # -------------------------------------------------------------- order entry

    def _order_call(self, build: Callable[..., Command | Refusal], response: Any) -> Any:
        # One unary order-entry method: the request becomes a command (convert.*_command,
        # a trader bound to its account), the command runs in the next batch, the result
        # goes back in the method's own response message.
        async def handler(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            identity = await self._trader(context)
            # The rate is taken before any work: a command refused later (a bad value,
            # another account) costs the venue loop too, so it costs a token too.
            _granted, refused = self._gate(identity, 1)
            if refused is not None:
                return response(result=refused)
            command = build(request, self._lookup, identity.own_account)
            return response(result=await self._run_unary(command, identity, context))

        return handler

    async def order_entry(
        self,
        requests: AsyncIterator[Any],
        context: aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[order_entry_pb2.OrderEntryResponse]:
        """The OrderEntry stream: requests are read and submitted as they come (so they
        batch with everything else), replies go out in request order."""
        identity = await self._trader(context)
        await self._open_stream(identity, context)
        queue: asyncio.Queue[_Entry | None] = asyncio.Queue(maxsize=64)
        malformed: list[str] = []
        reader = asyncio.get_running_loop().create_task(
            self._read_entries(requests, identity, queue, malformed)
        )
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                slots, future, omit = item
                outcomes = await future if future is not None else []
                replies = []
                index = 0
                for request_id, answer in slots:
                    if answer is None:
                        result = self._result(outcomes[index], identity, omit)
                        index += 1
                    else:
                        result = answer
                    replies.append({"request_id": request_id, "result": result})
                yield order_entry_pb2.OrderEntryResponse(replies=replies)
            await reader  # its exception (a broken request stream), if any
            if malformed:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, malformed[0])
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
            self.streams.release(identity.name)

    async def _read_entries(
        self,
        requests: AsyncIterator[Any],
        identity: Identity,
        queue: asyncio.Queue[_Entry | None],
        malformed: list[str],
    ) -> None:
        own = identity.own_account
        lookup = self._lookup
        cancelled = False
        too_many = {
            "api_error": _ApiError.API_ERROR_INVALID_ARGUMENT,
            "detail": f"at most max_batch={self.config.max_batch} commands per OrderEntryRequest;"
            " not sequenced, send the rest in the next message",
        }
        try:
            async for request in requests:
                if type(request) is _Malformed:
                    malformed.append(request.detail)
                    return
                slots: list[tuple[int, dict[str, Any] | None]] = []
                commands: list[Command] = []
                items = request.commands
                limit = self.config.max_batch
                # The rate is taken before any work, one token per command (refused ones
                # too: converting them costs the venue loop as well).
                wanted = min(len(items), limit)
                granted, refused = self._gate(identity, wanted) if wanted else (0, None)
                for index, item in enumerate(items):
                    if index >= limit:
                        # One message may not hold the loop for long: past max_batch
                        # commands, each is refused (send them in the next message).
                        slots.append((item.request_id, too_many))
                        continue
                    if index >= granted:
                        slots.append((item.request_id, refused))
                        continue
                    command = convert.command_of(item, lookup, own)
                    if isinstance(command, Refusal):
                        slots.append((item.request_id, self._refusal_result(command, identity)))
                    else:
                        slots.append((item.request_id, None))
                        commands.append(command)
                future = self.batcher.submit(commands) if commands else None
                await queue.put((slots, future, request.omit_market_data))
        except asyncio.CancelledError:
            # The handler is gone (the client cancelled): nobody reads the queue any more,
            # and a full one would keep this task (and the key's stream slot) forever.
            cancelled = True
            raise
        finally:
            if not cancelled:
                await queue.put(None)  # the end: the handler drains what is queued first

    async def subscribe_order_updates(
        self,
        request: order_entry_pb2.SubscribeOrderUpdatesRequest | _Malformed,
        context: aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[order_entry_pb2.OrderUpdateBatch]:
        """The account's order events, batched, until the client leaves or is dropped."""
        if type(request) is _Malformed:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.detail)
        identity = await self._trader(context)
        own = identity.own_account
        given = request.HasField("account")
        if own is not None and given and request.account != own:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"this key reads account {own} only"
            )
        account = own if own is not None else (request.account if given else None)
        if self._draining:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the server is shutting down")
        await self._open_stream(identity, context)
        sub = self.order_updates.subscribe(account, trader=own is not None)
        self._order_subs.add(sub)
        try:
            # Tells the client the subscription is live: an order it sends from now on has
            # its events on this stream (x-whistle-subscribed).
            await context.send_initial_metadata(_SUBSCRIBED)
            while True:
                try:
                    events = await sub.next()
                except OrderUpdatesClosed:
                    return
                except OrderUpdatesDropped as exc:
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
                yield order_entry_pb2.OrderUpdateBatch(
                    events=self._event_dicts(events, identity, None)
                )
        finally:
            sub.close()
            self._order_subs.discard(sub)
            self.streams.release(identity.name)

    async def get_order(
        self, request: order_entry_pb2.GetOrderRequest, context: aio.ServicerContext[Any, Any]
    ) -> order_entry_pb2.GetOrderResponse:
        identity = await self._trader(context)
        instrument = await self._instrument(request, context)
        assert instrument is not None
        info = await self.backend.order(instrument.symbol_id, request.order_id)
        own = identity.own_account
        if info is None or (own is not None and info.account != own):
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"no live order {request.order_id} of this key's account on {instrument.symbol}",
            )
        return order_entry_pb2.GetOrderResponse(order=convert.order_info_to_proto(info, instrument))

    async def list_open_orders(
        self,
        request: order_entry_pb2.ListOpenOrdersRequest,
        context: aio.ServicerContext[Any, Any],
    ) -> order_entry_pb2.ListOpenOrdersResponse:
        identity = await self._trader(context)
        own = identity.own_account
        if own is not None and request.HasField("account") and request.account != own:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"this key reads account {own} only"
            )
        account = (
            own if own is not None else (request.account if request.HasField("account") else None)
        )
        instrument = await self._instrument(request, context, required=False)
        orders: list[Any] = []
        listing = getattr(self.backend, "open_orders", None)
        if account is not None and listing is not None:
            # One account's orders, from the backend's per-account index: never a walk of
            # every book (which a trader could otherwise make the venue loop do at will).
            sid = instrument.symbol_id if instrument is not None else None
            lookup = self.backend.instrument
            for symbol_id, info in await listing(account, sid):
                inst = lookup(symbol_id)
                if inst is not None:
                    orders.append(convert.open_order_fields(symbol_id, info, inst))
            return order_entry_pb2.ListOpenOrdersResponse(orders=orders)
        chosen = [instrument] if instrument is not None else self.backend.instruments()
        for inst in chosen:
            view = await self.backend.snapshot(inst.symbol_id)
            orders += convert.open_orders_to_proto(view, inst, account)
        return order_entry_pb2.ListOpenOrdersResponse(orders=orders)

    async def get_client_order(
        self,
        request: order_entry_pb2.GetClientOrderRequest,
        context: aio.ServicerContext[Any, Any],
    ) -> order_entry_pb2.GetClientOrderResponse:
        identity = await self._trader(context)
        own = identity.own_account
        given = request.HasField("account")
        if own is not None and given and request.account != own:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"this key reads account {own} only"
            )
        if own is None and not given:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "an admin key must name the account"
            )
        account = own if own is not None else request.account
        view = await self.backend.client_order(account, request.client_order_id)
        if view is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"client_order_id {request.client_order_id} is not held for this account",
            )
        answer = convert.client_order_to_proto(view, self.backend.instrument(view.symbol_id))
        if own is not None:
            del answer.events[:]
            answer.events.extend(self._events_to_proto(view.events, identity, None))
            if answer.reason == types_pb2.REJECT_REASON_ACCOUNT_MISMATCH:
                # A replace of another account's order looks like one of no order at all.
                answer.reason = types_pb2.REJECT_REASON_UNKNOWN_ORDER_ID
        return answer

    async def list_fills(
        self, request: order_entry_pb2.ListFillsRequest, context: aio.ServicerContext[Any, Any]
    ) -> order_entry_pb2.ListFillsResponse:
        identity = await self._trader(context)
        own = identity.own_account
        given = request.HasField("account")
        if own is not None and given and request.account != own:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"this key reads account {own} only"
            )
        account = own if own is not None else (request.account if given else None)
        instrument = await self._instrument(request, context, required=False)
        fills = getattr(self.backend, "fills", None)
        if fills is None:
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED, "this server's backend keeps no fill history"
            )
        found, complete = await fills(
            account, instrument.symbol_id if instrument is not None else None, request.after_enq_seq
        )
        return order_entry_pb2.ListFillsResponse(
            fills=self._event_dicts(found, identity, None), complete=complete
        )

    # -------------------------------------------------------------- market data

    async def list_instruments(
        self,
        request: market_data_pb2.ListInstrumentsRequest,
        context: aio.ServicerContext[Any, Any],
    ) -> market_data_pb2.ListInstrumentsResponse:
        await self._identify(context)
        return market_data_pb2.ListInstrumentsResponse(
            instruments=[convert.instrument_to_proto(i) for i in self.backend.instruments()]
        )

    def _encode_chunk(self, updates: tuple[Update, ...]) -> bytes:
        # One chunk (one symbol) as the bytes of a MarketDataBatch holding its updates:
        # concatenated, such fragments are one valid MarketDataBatch (repeated fields append).
        instrument = self.backend.instrument(updates[0].symbol_id) if updates else None
        return convert.md_batch_bytes(updates, instrument)

    async def _md_symbols(
        self, names: Sequence[str], ids: Sequence[int], context: aio.ServicerContext[Any, Any]
    ) -> list[int]:
        out: list[int] = []
        for name in names:
            instrument = self.backend.instrument(name)
            if instrument is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown symbol {name[:80]!r}")
            out.append(instrument.symbol_id)
        for sid in ids:
            if self.backend.instrument(sid) is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown symbol_id {sid}")
            out.append(sid)
        return out

    async def subscribe_market_data(
        self,
        requests: AsyncIterator[Any],
        context: aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[bytes]:
        """Snapshot then deltas of many symbols on one stream; later requests ask for
        fresh snapshots. Yields serialized ``MarketDataBatch`` bytes (shared per chunk).

        The stream counts against the key's ``max_streams`` from the moment it opens, not
        from its first request (a stream that never subscribes still holds resources)."""
        identity = await self._identify(context)
        if self._draining:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the server is shutting down")
        await self._open_stream(identity, context)
        try:
            async for data in self._market_data(requests, context):
                yield data
        finally:
            self.streams.release(identity.name)

    async def _market_data(
        self, requests: AsyncIterator[Any], context: aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[bytes]:
        iterator = requests.__aiter__()
        try:
            first = await iterator.__anext__()
        except StopAsyncIteration:
            return
        if type(first) is _Malformed:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, first.detail)
        if first.WhichOneof("request") != "subscribe":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "the first MarketDataRequest must be a subscribe",
            )
        spec = first.subscribe
        ids = await self._md_symbols(spec.symbols, spec.symbol_ids, context)
        kinds = Kind(0)
        for kind in spec.kinds:
            if kind == market_data_pb2.MARKET_DATA_KIND_UNSPECIFIED:
                continue
            flag = _MD_KIND.get(kind)
            if flag is None:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown kind {kind}")
            kinds |= flag
        depth = 0 if spec.all_levels else (spec.depth or 10)
        try:
            sub = self.hub.subscribe(ids or None, depth, kinds or ALL_KINDS)
        except (UnknownSymbol, ValueError) as exc:
            code = (
                grpc.StatusCode.NOT_FOUND
                if isinstance(exc, UnknownSymbol)
                else grpc.StatusCode.INVALID_ARGUMENT
            )
            await context.abort(code, str(exc))
        self._md_subs.add(sub)
        malformed: list[str] = []
        reader = asyncio.get_running_loop().create_task(self._read_md(iterator, sub, malformed))
        encode = self._encode
        linger = self.config.md_linger_s
        try:
            await context.send_initial_metadata(_SUBSCRIBED)
            while True:
                try:
                    chunks: list[Chunk] = await sub.next_chunks(linger_s=linger)
                except SubscriptionClosed:
                    if malformed:
                        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, malformed[0])
                    return
                except SubscriptionDropped as exc:
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
                data = b"".join([c.encoded(encode) for c in chunks])
                if sub.conflations:
                    data += market_data_pb2.MarketDataBatch(
                        conflations=sub.conflations
                    ).SerializeToString()
                yield data
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            sub.close()
            self._md_subs.discard(sub)

    async def _read_md(
        self,
        iterator: AsyncIterator[Any],
        sub: Subscription,
        malformed: list[str],
    ) -> None:
        # Later requests on a market-data stream: snapshot requests (others are ignored).
        async for request in iterator:
            if type(request) is _Malformed:
                malformed.append(request.detail)
                sub.close()
                return
            if request.WhichOneof("request") != "snapshot":
                continue
            wanted = request.snapshot
            ids = [i.symbol_id for n in wanted.symbols if (i := self.backend.instrument(n))]
            ids += list(wanted.symbol_ids)
            if not wanted.symbols and not wanted.symbol_ids:
                ids = sorted(sub.symbol_ids) if sub.symbol_ids is not None else self.hub.symbols()
            for sid in ids:
                with contextlib.suppress(UnknownSymbol, SubscriptionClosed, SubscriptionDropped):
                    sub.request_snapshot(sid)

    # -------------------------------------------------------------- admin

    async def add_instrument(
        self, request: admin_pb2.AddInstrumentRequest, context: aio.ServicerContext[Any, Any]
    ) -> admin_pb2.AddInstrumentResponse:
        await self._admin(context)
        try:
            instrument = _instrument_of(request)
            added = await self.backend.add_instrument(instrument)
        except (InstrumentError, TypeError) as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except BackendUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except WhistleError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"the venue refused it: {exc}")
        self.hub.add_symbol(added.symbol_id)
        return admin_pb2.AddInstrumentResponse(instrument=convert.instrument_to_proto(added))

    async def _halt_or_resume(
        self, request: Any, context: aio.ServicerContext[Any, Any], halt: bool
    ) -> list[types_pb2.Event]:
        identity = await self._admin(context)
        instrument = await self._instrument(request, context)
        assert instrument is not None
        try:
            if halt:
                events = await self.backend.halt(instrument.symbol_id)
            else:
                events = await self.backend.resume(instrument.symbol_id)
        except BackendUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return self._events_to_proto(events, identity, None)

    async def halt(
        self, request: admin_pb2.HaltRequest, context: aio.ServicerContext[Any, Any]
    ) -> admin_pb2.HaltResponse:
        return admin_pb2.HaltResponse(events=await self._halt_or_resume(request, context, True))

    async def resume(
        self, request: admin_pb2.ResumeRequest, context: aio.ServicerContext[Any, Any]
    ) -> admin_pb2.ResumeResponse:
        return admin_pb2.ResumeResponse(events=await self._halt_or_resume(request, context, False))

    async def status(
        self, request: admin_pb2.StatusRequest, context: aio.ServicerContext[Any, Any]
    ) -> admin_pb2.StatusResponse:
        await self._identify(context)
        ids = None
        if request.symbols:
            ids = await self._md_symbols(request.symbols, (), context)
        status = await self.backend.status(ids)
        return convert.status_to_proto(status, self.backend.instrument, self.open_streams)

    async def depth(
        self, request: admin_pb2.DepthRequest, context: aio.ServicerContext[Any, Any]
    ) -> admin_pb2.DepthResponse:
        await self._identify(context)
        instrument = await self._instrument(request, context)
        assert instrument is not None
        levels = request.levels or 10
        depth = await self.backend.depth(instrument.symbol_id, levels)
        return convert.depth_to_proto(depth, instrument)

    async def snapshot(
        self, request: admin_pb2.SnapshotRequest, context: aio.ServicerContext[Any, Any]
    ) -> admin_pb2.SnapshotResponse:
        await self._admin(context)
        instrument = await self._instrument(request, context)
        assert instrument is not None
        view = await self.backend.snapshot(instrument.symbol_id)
        return convert.book_view_to_proto(view, instrument)

    async def release_idle(
        self, request: admin_pb2.ReleaseIdleRequest, context: aio.ServicerContext[Any, Any]
    ) -> admin_pb2.ReleaseIdleResponse:
        await self._admin(context)
        if request.idle_ticks < 1:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "idle_ticks must be >= 1")
        try:
            released = await self.backend.release_idle(request.idle_ticks)
        except BackendUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return admin_pb2.ReleaseIdleResponse(symbol_ids=released)

    # -------------------------------------------------------------- registration

    def _order_entry_handler(self) -> grpc.GenericRpcHandler:
        pb = order_entry_pb2
        unary = grpc.unary_unary_rpc_method_handler
        return grpc.method_handlers_generic_handler(
            "whistle.v1.OrderEntryService",
            {
                "SubmitOrder": _unary(self.submit_order, pb.SubmitOrderRequest, unary),
                "CancelOrder": _unary(self.cancel_order, pb.CancelOrderRequest, unary),
                "ModifyOrder": _unary(self.modify_order, pb.ModifyOrderRequest, unary),
                "CancelReplace": _unary(self.cancel_replace, pb.CancelReplaceRequest, unary),
                "MassCancel": _unary(self.mass_cancel, pb.MassCancelRequest, unary),
                "OrderEntry": grpc.stream_stream_rpc_method_handler(
                    self.order_entry,
                    request_deserializer=_parser(pb.OrderEntryRequest),
                    response_serializer=pb.OrderEntryResponse.SerializeToString,
                ),
                "SubscribeOrderUpdates": grpc.unary_stream_rpc_method_handler(
                    self.subscribe_order_updates,
                    request_deserializer=_parser(pb.SubscribeOrderUpdatesRequest),
                    response_serializer=pb.OrderUpdateBatch.SerializeToString,
                ),
                "GetOrder": _unary(self.get_order, pb.GetOrderRequest, unary),
                "ListOpenOrders": _unary(self.list_open_orders, pb.ListOpenOrdersRequest, unary),
                "GetClientOrder": _unary(self.get_client_order, pb.GetClientOrderRequest, unary),
                "ListFills": _unary(self.list_fills, pb.ListFillsRequest, unary),
            },
        )

    def _market_data_handler(self) -> grpc.GenericRpcHandler:
        pb = market_data_pb2
        return grpc.method_handlers_generic_handler(
            "whistle.v1.MarketDataService",
            {
                "SubscribeMarketData": grpc.stream_stream_rpc_method_handler(
                    self.subscribe_market_data,
                    request_deserializer=_parser(pb.MarketDataRequest),
                    response_serializer=_passthrough,
                ),
                "ListInstruments": _unary(
                    self.list_instruments,
                    pb.ListInstrumentsRequest,
                    grpc.unary_unary_rpc_method_handler,
                ),
            },
        )

    def _admin_handler(self) -> grpc.GenericRpcHandler:
        pb = admin_pb2
        unary = grpc.unary_unary_rpc_method_handler
        return grpc.method_handlers_generic_handler(
            "whistle.v1.AdminService",
            {
                "AddInstrument": _unary(self.add_instrument, pb.AddInstrumentRequest, unary),
                "Halt": _unary(self.halt, pb.HaltRequest, unary),
                "Resume": _unary(self.resume, pb.ResumeRequest, unary),
                "Status": _unary(self.status, pb.StatusRequest, unary),
                "Depth": _unary(self.depth, pb.DepthRequest, unary),
                "Snapshot": _unary(self.snapshot, pb.SnapshotRequest, unary),
                "ReleaseIdle": _unary(self.release_idle, pb.ReleaseIdleRequest, unary),
            },
        )


@final
class _Malformed:
    """What a request deserializer gives for bytes that are no message of its type."""

    __slots__ = ("detail",)

    def __init__(self, detail: str) -> None:
        self.detail = detail


def _parser(request_type: Any) -> Callable[[bytes], Any]:
    # gRPC answers an exception in a deserializer with UNKNOWN and logs a traceback; a
    # marker lets the handler answer INVALID_ARGUMENT with the reason instead.
    name = request_type.DESCRIPTOR.full_name
    parse = request_type.FromString

    def parser(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError as exc:
            return _Malformed(f"malformed {name}: {exc}"[:200])

    return parser


def _connection_quota(cfg: ServerConfig) -> int:
    if cfg.max_connections > 0:
        return cfg.max_connections
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(16, min(4096, (soft - 256) // 2))


def _passthrough(data: bytes) -> bytes:
    return data


def _unary(handler: Any, request_type: Any, make: Any) -> grpc.RpcMethodHandler[Any, Any]:
    # A unary method: the request's parser, and the response's serializer (any message).
    async def checked(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        if type(request) is _Malformed:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.detail)
        return await handler(request, context)

    handler_: grpc.RpcMethodHandler[Any, Any] = make(
        checked,
        request_deserializer=_parser(request_type),
        response_serializer=_serialize,
    )
    return handler_


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


def _instrument_of(request: admin_pb2.AddInstrumentRequest) -> Instrument:
    # An Instrument from an AddInstrumentRequest: decimals on its own grid, as
    # Venue.add_instrument takes them (InstrumentError / ConversionError when invalid).
    from whistle.core.errors import ConversionError
    from whistle.core.fixed import parse_decimal

    tick = request.tick_size or "0.01"
    lot = request.lot_size or "1"
    try:
        probe = Instrument(symbol=request.symbol, tick_size=tick, lot_size=lot)
        band_bps = 0
        if request.price_band_pct:
            bps = parse_decimal(request.price_band_pct, "price_band_pct") * 100
            if bps != bps.to_integral_value():
                raise InstrumentError(
                    f"price_band_pct must have at most 2 decimals, was {request.price_band_pct}"
                )
            band_bps = int(bps)
        return Instrument(
            symbol=request.symbol,
            symbol_id=request.symbol_id,
            tick_size=tick,
            lot_size=lot,
            min_qty_lots=probe.qty_to_lots(request.min_qty) if request.min_qty else 1,
            max_qty_lots=(probe.qty_to_lots(request.max_qty) if request.max_qty else 1_000_000_000),
            price_band_bps=band_bps,
            reference_price_ticks=(
                probe.price_to_ticks(request.reference_price) if request.reference_price else 0
            ),
        )
    except ConversionError as exc:
        raise InstrumentError(str(exc)) from None
