"""``Client``: a whistle venue over gRPC, with ``Venue``'s methods (synchronous).

``Client("127.0.0.1:50051", api_key=...)`` talks to ``whistle serve``. Its order-entry
methods are ``Venue``'s: ``submit`` / ``cancel`` / ``modify`` / ``replace`` / ``mass_cancel``
take decimal strings (``qty="100"``, ``price="187.25"``) or integer units
(``qty_lots=``, ``price_ticks=``), symbols by name or id, and return the command's events
as ``whistle.core.events`` values (an edge refusal is an ``OrderRejected`` with ``seq`` 0,
its words in ``last_reject_detail``; ``last_result`` holds the whole answer: ``enq_seq``,
the venue's ``order_id``). Views and admin: ``instrument`` / ``is_registered`` /
``symbols`` / ``instruments`` / ``add_instrument`` / ``halt`` / ``resume`` / ``depth`` /
``status`` / ``l3`` / ``state_hash`` / ``release_idle`` / ``server_status``.

Streams:

- ``order_entry()``: an ``OrderEntryStream`` (the bidirectional ``OrderEntry`` call) for high
  rates: ``send_*`` queue commands without waiting, ``results()`` yields the answers in
  order (``request_id`` correlates);
- ``market_data(symbols, depth, kinds)``: a ``MarketDataStream`` iterator of record
  batches (``whistle.api.marketdata``'s ``Snapshot`` / ``Level`` / ``Bbo`` / ``Trade`` /
  ``Status``) with per-symbol gap detection: a gap drops the symbol's records until the
  fresh snapshot it asks for arrives;
- ``order_updates()``: an ``OrderUpdateStream`` iterator of the account's event batches.

Connection. One gRPC channel (``tls=True`` or ``root_certificates`` for TLS); the API key
goes in the ``x-api-key`` metadata of every call. Calls wait for the channel to be ready
(``wait_for_ready``), so a call made while the server restarts is sent once it is back
(within ``timeout_s``). A call that fails with ``UNAVAILABLE`` after it was sent is retried
with exponential backoff (``backoff_s`` doubling to ``max_backoff_s``, within
``reconnect_timeout_s``) only where a repeat is harmless: views, admin calls, and
``submit`` / ``replace`` with a ``client_order_id`` (the venue answers a repeat with the
original's outcome). Other order entry raises ``ConnectionLost``: the command may or may
not have been taken. Streams reopen with the same backoff (``reconnects`` counts it);
what the server published while one was down is not replayed (market data starts again
from snapshots).

Errors (``ClientError`` and its subclasses; every one names the gRPC status)::

    ClientError
     +-- AuthenticationError      UNAUTHENTICATED: missing or unknown key
     +-- PermissionDenied         PERMISSION_DENIED: the key's role or account may not
     +-- NotFound (KeyError)      NOT_FOUND: unknown symbol in a view or admin call
     +-- InvalidArgument (ValueError)  INVALID_ARGUMENT: a bad definition or request
     +-- ResourceExhausted        RESOURCE_EXHAUSTED: too many streams, a dropped stream
     +-- ConnectionLost           UNAVAILABLE / DEADLINE_EXCEEDED after the retries
     +-- RequestRefused           the API layer refused an order (api_error: RATE_LIMITED,
                                  UNAVAILABLE while draining): nothing was sequenced
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from decimal import Decimal
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar, final

import grpc
import msgspec

from whistle.api.backend import ClientOrderView
from whistle.api.convert import event_from_proto, instrument_from_proto
from whistle.api.marketdata import (
    ALL_KINDS,
    Bbo,
    Kind,
    Level,
    MarketView,
    PriceLevel,
    Snapshot,
    SnapshotCause,
    Status,
    Trade,
    Update,
)
from whistle.api.v1 import admin_pb2, market_data_pb2, order_entry_pb2, types_pb2
from whistle.api.v1.admin_pb2_grpc import AdminServiceStub
from whistle.api.v1.market_data_pb2_grpc import MarketDataServiceStub
from whistle.api.v1.order_entry_pb2_grpc import OrderEntryServiceStub
from whistle.core.enums import OrderType, Side, StpMode, TimeInForce, TradingState
from whistle.core.events import Event, OrderFilled
from whistle.engine.status import DepthLevel, DepthSnapshot, EngineStatus, L3Order, OrderInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from whistle.core.instrument import Instrument

__all__ = [
    "AuthenticationError",
    "ChannelSettings",
    "ClientError",
    "CommandResult",
    "ConnectionLost",
    "InvalidArgument",
    "MarketDataState",
    "MarketDataStream",
    "NotFound",
    "OpenOrder",
    "OrderEntryStream",
    "OrderUpdateStream",
    "PermissionDenied",
    "RequestRefused",
    "ResourceExhausted",
    "Retry",
    "ServerStatus",
    "events_of",
    "md_records",
]

Number = str | int | Decimal
T = TypeVar("T")

API_KEY_HEADER: Final = "x-api-key"
MAX_COMMANDS_PER_MESSAGE: Final = 4096
"""The server's limit of commands per ``OrderEntryRequest`` (the ones past it are refused)."""
_TRADES_KEPT: Final = 100  # recent trades a MarketDataStream's view keeps per symbol
_E = TypeVar("_E", bound=IntEnum)


# ---------------------------------------------------------------------------- errors


class ClientError(Exception):
    """A call failed; ``code`` is the gRPC status (None for an api_error refusal)."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.code = code


class AuthenticationError(ClientError):
    """UNAUTHENTICATED: the key is missing or unknown."""


class PermissionDenied(ClientError):
    """PERMISSION_DENIED: the key's role or account may not do this."""


class NotFound(ClientError, KeyError):
    """NOT_FOUND: an unknown symbol in a view or admin call."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidArgument(ClientError, ValueError):
    """INVALID_ARGUMENT: a bad instrument definition or request."""


class ResourceExhausted(ClientError):
    """RESOURCE_EXHAUSTED: a limit (streams per key, a stream that fell behind)."""


class ConnectionLost(ClientError):
    """The server could not be reached (UNAVAILABLE, DEADLINE_EXCEEDED) after the retries.

    ``unanswered``: the request ids of an ``OrderEntryStream`` left without an answer.
    """

    unanswered: list[int] = []  # noqa: RUF012  # a per-instance list is set where known


class RequestRefused(ClientError):
    """The API layer refused an order entry (``api_error``); nothing was sequenced."""

    def __init__(self, message: str, api_error: int) -> None:
        super().__init__(message, None)
        self.api_error = api_error


_ERRORS: Final[dict[grpc.StatusCode, type[ClientError]]] = {
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: ConnectionLost,
    grpc.StatusCode.DEADLINE_EXCEEDED: ConnectionLost,
}
RETRYABLE: Final = frozenset({grpc.StatusCode.UNAVAILABLE})


def error_of(exc: grpc.RpcError | grpc.aio.AioRpcError) -> ClientError:
    """Translate a gRPC error into the ``ClientError`` of its status."""
    code: grpc.StatusCode = exc.code()
    details = exc.details() or ""
    kind = _ERRORS.get(code, ClientError)
    return kind(f"{code.name}: {details}" if details else code.name, code)


def refused(result: types_pb2.CommandResult) -> RequestRefused:
    """The ``RequestRefused`` of a result with an ``api_error``."""
    name = types_pb2.ApiError.Name(result.api_error)
    return RequestRefused(f"{name}: {result.detail}" if result.detail else name, result.api_error)


# ---------------------------------------------------------------------------- retry policy


@final
class Retry(msgspec.Struct, frozen=True, kw_only=True):
    """How calls and streams come back after the server went away."""

    backoff_s: float = 0.05
    """The first wait after a failure; doubled after each one."""
    max_backoff_s: float = 2.0
    """The longest wait between two attempts."""
    reconnect_timeout_s: float = 30.0
    """Give up (``ConnectionLost``) after this long without success."""

    def delays(self) -> Iterator[float]:
        """The waits between attempts, ending when the timeout would pass."""
        deadline = time.monotonic() + self.reconnect_timeout_s
        delay = self.backoff_s
        while time.monotonic() + delay < deadline:
            yield delay
            delay = min(delay * 2, self.max_backoff_s)


def channel_options(max_message_bytes: int, retry: Retry) -> list[tuple[str, Any]]:
    """The gRPC channel options the clients use (reconnect backoff from ``retry``)."""
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.initial_reconnect_backoff_ms", max(1, int(retry.backoff_s * 1000))),
        ("grpc.min_reconnect_backoff_ms", max(1, int(retry.backoff_s * 1000))),
        ("grpc.max_reconnect_backoff_ms", max(1, int(retry.max_backoff_s * 1000))),
        ("grpc.enable_retries", 0),
        # No keepalive pings: a server's default policy answers a client that pings an idle
        # connection more often than every 5 minutes with GOAWAY (too_many_pings), which
        # fails the calls in flight. A dead server on loopback resets the connection anyway.
    ]


def credentials(
    tls: bool, root_certificates: bytes | str | Path | None
) -> grpc.ChannelCredentials | None:
    """TLS channel credentials (None: plain text)."""
    if root_certificates is None and not tls:
        return None
    if isinstance(root_certificates, (str, Path)):
        root_certificates = Path(root_certificates).read_bytes()
    return grpc.ssl_channel_credentials(root_certificates=root_certificates)


# ---------------------------------------------------------------------------- requests


def _member(kind: type[_E], value: object, what: str) -> int:
    # An enum member, its int value or its name in any case ("buy", "GTC"). A value the
    # core does not know is sent as is (the server refuses it with the reason); a name it
    # does not know cannot be sent, so it is refused here.
    if isinstance(value, kind):
        return int(value)
    if type(value) is int:
        return value
    if type(value) is str:
        member = kind.__members__.get(value.upper())
        if member is not None:
            return int(member)
        raise ValueError(f"{what} must be one of {', '.join(kind.__members__)}, was {value!r}")
    raise TypeError(f"{what} must be a {kind.__name__}, an int or a name, was {value!r}")


def _decimal(value: Number, what: str) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]  # checked: a str
    if kind is int or kind is Decimal:
        return str(value)
    raise TypeError(f"{what} must be a decimal string, an int or a Decimal, was {value!r}")


def _symbol(request: Any, symbol: str | int) -> None:
    kind = type(symbol)
    if kind is str:
        request.symbol = symbol
    elif kind is int:
        request.symbol_id = symbol
    else:
        raise TypeError(f"symbol must be a name or an int id, was {symbol!r}")


def _amount(
    request: Any, name: str, value: Number | None, units: int | None, unit_name: str
) -> None:
    if value is not None and units is not None:
        raise ValueError(f"give {name} or {unit_name}, not both")
    if value is not None:
        setattr(request, name, _decimal(value, name))
    elif units is not None:
        if type(units) is not int:
            raise TypeError(f"{unit_name} must be an int, was {units!r}")
        setattr(request, unit_name, units)


def submit_request(
    symbol: str | int,
    side: Side | str | int,
    qty: Number | None = None,
    price: Number | None = None,
    *,
    order_type: OrderType | str | int | None = None,
    tif: TimeInForce | str | int | None = None,
    order_id: int | None = None,
    account: int | None = None,
    stop_price: Number | None = None,
    display_qty: Number | None = None,
    post_only: bool = False,
    stp: StpMode | str | int = StpMode.NONE,
    expire_ts_ns: int = 0,
    protection_price: Number | None = None,
    qty_lots: int | None = None,
    price_ticks: int | None = None,
    stop_price_ticks: int | None = None,
    display_qty_lots: int | None = None,
    protection_price_ticks: int | None = None,
    client_order_id: int = 0,
) -> order_entry_pb2.SubmitOrderRequest:
    """Build a ``SubmitOrderRequest`` from ``Venue.submit``'s arguments."""
    request = order_entry_pb2.SubmitOrderRequest(
        side=_member(Side, side, "side"),  # type: ignore[arg-type]
        post_only=post_only,
        stp=_member(StpMode, stp, "stp"),  # type: ignore[arg-type]
        expire_ts_ns=expire_ts_ns,
        client_order_id=client_order_id,
    )
    _symbol(request, symbol)
    if order_type is not None:
        request.order_type = _member(OrderType, order_type, "order_type")  # type: ignore[assignment]
    if tif is not None:
        request.tif = _member(TimeInForce, tif, "tif")  # type: ignore[assignment]
    if order_id is not None:
        request.order_id = order_id
    if account is not None:
        request.account = account
    _amount(request, "qty", qty, qty_lots, "qty_lots")
    _amount(request, "price", price, price_ticks, "price_ticks")
    _amount(request, "stop_price", stop_price, stop_price_ticks, "stop_price_ticks")
    _amount(request, "display_qty", display_qty, display_qty_lots, "display_qty_lots")
    _amount(
        request,
        "protection_price",
        protection_price,
        protection_price_ticks,
        "protection_price_ticks",
    )
    return request


def cancel_request(
    symbol: str | int, order_id: int, *, account: int | None = None
) -> order_entry_pb2.CancelOrderRequest:
    """Build a ``CancelOrderRequest``."""
    request = order_entry_pb2.CancelOrderRequest(order_id=order_id)
    _symbol(request, symbol)
    if account is not None:
        request.account = account
    return request


def modify_request(
    symbol: str | int,
    order_id: int,
    *,
    price: Number | None = None,
    qty: Number | None = None,
    price_ticks: int | None = None,
    qty_lots: int | None = None,
    account: int | None = None,
) -> order_entry_pb2.ModifyOrderRequest:
    """Build a ``ModifyOrderRequest`` (a field left out is unchanged)."""
    request = order_entry_pb2.ModifyOrderRequest(order_id=order_id)
    _symbol(request, symbol)
    _amount(request, "price", price, price_ticks, "price_ticks")
    _amount(request, "qty", qty, qty_lots, "qty_lots")
    if account is not None:
        request.account = account
    return request


def replace_request(
    symbol: str | int,
    order_id: int,
    new_order_id: int | None = None,
    *,
    price: Number | None = None,
    qty: Number | None = None,
    price_ticks: int | None = None,
    qty_lots: int | None = None,
    account: int | None = None,
    client_order_id: int = 0,
) -> order_entry_pb2.CancelReplaceRequest:
    """Build a ``CancelReplaceRequest``."""
    request = order_entry_pb2.CancelReplaceRequest(
        order_id=order_id, client_order_id=client_order_id
    )
    _symbol(request, symbol)
    if new_order_id is not None:
        request.new_order_id = new_order_id
    _amount(request, "price", price, price_ticks, "price_ticks")
    _amount(request, "qty", qty, qty_lots, "qty_lots")
    if account is not None:
        request.account = account
    return request


def mass_cancel_request(
    symbol: str | int | None = None, *, account: int | None = None
) -> order_entry_pb2.MassCancelRequest:
    """Build a ``MassCancelRequest`` (no symbol: every symbol)."""
    request = order_entry_pb2.MassCancelRequest()
    if symbol is not None:
        _symbol(request, symbol)
    if account is not None:
        request.account = account
    return request


def symbol_ref(message: Any, symbol: str | int) -> Any:
    """Set ``message``'s symbol oneof from a name or an id; return the message."""
    _symbol(message, symbol)
    return message


def add_instrument_request(
    symbol: str,
    *,
    tick_size: str = "0.01",
    lot_size: str = "1",
    min_qty: Number | None = None,
    max_qty: Number | None = None,
    price_band_pct: Number | None = None,
    reference_price: Number | None = None,
    symbol_id: int = 0,
) -> admin_pb2.AddInstrumentRequest:
    """Build an ``AddInstrumentRequest`` from ``Venue.add_instrument``'s arguments."""
    if type(symbol) is not str:
        raise TypeError(f"symbol must be a str, was {symbol!r}")

    def opt(value: Number | None, what: str) -> str:
        return "" if value is None else _decimal(value, what)

    return admin_pb2.AddInstrumentRequest(
        symbol=symbol,
        tick_size=tick_size,
        lot_size=lot_size,
        min_qty=opt(min_qty, "min_qty"),
        max_qty=opt(max_qty, "max_qty"),
        price_band_pct=opt(price_band_pct, "price_band_pct"),
        reference_price=opt(reference_price, "reference_price"),
        symbol_id=symbol_id,
    )


# ---------------------------------------------------------------------------- answers


def events_of(messages: Iterable[types_pb2.Event]) -> list[Event]:
    """Return the core events of a list of ``whistle.v1.Event``."""
    return [event_from_proto(m) for m in messages]


@final
class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    """One order-entry command's answer: its events and what the server says of it."""

    events: list[Any]
    """The command's events (``whistle.core.events``), in the venue's order."""
    enq_seq: int
    """The command's ``enq_seq`` (0: not sequenced: an edge reject, a repeat's answer)."""
    order_id: int
    """The order the command is about (a submit: the id the venue assigned)."""
    detail: str
    """The server's words for a refusal."""
    api_error: int = 0
    """Set when the API layer refused the command (``whistle.v1.ApiError``)."""


def result_of(message: types_pb2.CommandResult) -> CommandResult:
    """Return the ``CommandResult`` of a ``whistle.v1.CommandResult``."""
    return CommandResult(
        events=events_of(message.events),
        enq_seq=message.enq_seq,
        order_id=message.order_id,
        detail=message.detail,
        api_error=message.api_error,
    )


def depth_of(message: admin_pb2.DepthResponse) -> DepthSnapshot:
    """Return the ``DepthSnapshot`` of a ``DepthResponse``."""
    return DepthSnapshot(
        symbol_id=message.symbol_id,
        seq=message.seq,
        bids=[DepthLevel(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in message.bids],
        asks=[DepthLevel(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in message.asks],
    )


def engine_status_of(message: admin_pb2.SymbolStatus, now_ns: int) -> EngineStatus:
    """Return the ``EngineStatus`` of one ``SymbolStatus``."""
    return EngineStatus(
        symbol=message.symbol,
        symbol_id=message.symbol_id,
        state=TradingState(message.state) if message.state else TradingState.ACTIVE,
        resting_orders=message.resting_orders,
        parked_stops=message.parked_stops,
        best_bid_ticks=message.best_bid.price_ticks,
        best_bid_qty_lots=message.best_bid.qty_lots,
        best_ask_ticks=message.best_ask.price_ticks,
        best_ask_qty_lots=message.best_ask.qty_lots,
        last_trade_ticks=message.last_trade_price_ticks,
        trades=message.trades,
        event_seq=message.event_seq,
        last_enq_seq=message.last_enq_seq,
        now_ns=now_ns,
        fault=message.fault or None,
        bid_orders=message.bid_orders,
        ask_orders=message.ask_orders,
    )


@final
class OpenOrder(msgspec.Struct, frozen=True, array_like=True):
    """One resting order as ``ListOpenOrders`` lists it (``hidden_lots``: iceberg reserve)."""

    symbol_id: int
    order_id: int
    account: int
    side: int
    price_ticks: int
    qty_lots: int
    hidden_lots: int


@final
class ServerStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The server's ``Status`` answer: every symbol's status plus the venue's counters."""

    symbols: list[EngineStatus]
    enq_seq: int
    now_ns: int
    journaled: bool
    open_streams: int
    hosts: list[tuple[int, int, int]]
    """(host id, symbols, commands) per engine host."""
    last_checkpoint_error: str
    unwritten_events: int


def server_status_of(message: admin_pb2.StatusResponse) -> ServerStatus:
    """Return the ``ServerStatus`` of a ``StatusResponse``."""
    return ServerStatus(
        symbols=[engine_status_of(s, message.now_ns) for s in message.symbols],
        enq_seq=message.enq_seq,
        now_ns=message.now_ns,
        journaled=message.journaled,
        open_streams=message.open_streams,
        hosts=[(h.host_id, h.symbols, h.commands) for h in message.hosts],
        last_checkpoint_error=message.last_checkpoint_error,
        unwritten_events=message.unwritten_events,
    )


@final
class ChannelSettings:
    """What both clients open their channel with: options, credentials, call metadata."""

    __slots__ = ("credentials", "metadata", "options")

    def __init__(
        self,
        options: list[tuple[str, Any]],
        creds: grpc.ChannelCredentials | None,
        metadata: tuple[tuple[str, str], ...],
    ) -> None:
        self.options = options
        self.credentials = creds
        self.metadata = metadata

    @classmethod
    def of(
        cls,
        target: str,
        api_key: str | None,
        tls: bool,
        root_certificates: bytes | str | Path | None,
        server_name: str | None,
        retry: Retry,
        max_message_bytes: int,
    ) -> ChannelSettings:
        """Check ``target`` and build the settings (the key goes in ``x-api-key``)."""
        if type(target) is not str or not target:
            raise ValueError(f"target must be 'host:port', was {target!r}")
        options = channel_options(max_message_bytes, retry)
        if server_name is not None:
            options.append(("grpc.ssl_target_name_override", server_name))
        metadata = ((API_KEY_HEADER, api_key),) if api_key else ()
        return cls(options, credentials(tls, root_certificates), metadata)


def open_orders_request(
    symbol: str | int | None, account: int | None
) -> order_entry_pb2.ListOpenOrdersRequest:
    """Build a ``ListOpenOrdersRequest`` (no symbol: every symbol)."""
    request = order_entry_pb2.ListOpenOrdersRequest()
    if symbol is not None:
        _symbol(request, symbol)
    if account is not None:
        request.account = account
    return request


def open_orders_of(message: order_entry_pb2.ListOpenOrdersResponse) -> list[OpenOrder]:
    """Return the ``OpenOrder`` s of a ``ListOpenOrdersResponse``."""
    return [
        OpenOrder(
            o.symbol_id, o.order_id, o.account, o.side, o.price_ticks, o.qty_lots, o.hidden_lots
        )
        for o in message.orders
    ]


def fills_request(
    symbol: str | int | None, account: int | None, after_enq_seq: int
) -> order_entry_pb2.ListFillsRequest:
    """Build a ``ListFillsRequest`` (no symbol: every symbol)."""
    request = order_entry_pb2.ListFillsRequest(after_enq_seq=after_enq_seq)
    if symbol is not None:
        _symbol(request, symbol)
    if account is not None:
        request.account = account
    return request


def fills_of(message: order_entry_pb2.ListFillsResponse) -> tuple[list[OrderFilled], bool]:
    """Return the fills of a ``ListFillsResponse`` (venue order) and whether they are all."""
    fills = [e for e in events_of(message.fills) if isinstance(e, OrderFilled)]
    return fills, message.complete


def client_order_request(
    client_order_id: int, account: int | None
) -> order_entry_pb2.GetClientOrderRequest:
    """Build a ``GetClientOrderRequest``."""
    request = order_entry_pb2.GetClientOrderRequest(client_order_id=client_order_id)
    if account is not None:
        request.account = account
    return request


def client_order_of(message: order_entry_pb2.GetClientOrderResponse) -> ClientOrderView:
    """Return the ``ClientOrderView`` of a ``GetClientOrderResponse``."""
    return ClientOrderView(
        symbol_id=message.symbol_id,
        order_id=message.order_id,
        account=message.account,
        client_order_id=message.client_order_id,
        enq_seq=message.enq_seq,
        outcome=message.outcome,
        reason=message.reason,
        events=tuple(events_of(message.events)),
    )


def l3_of(message: admin_pb2.SnapshotResponse) -> list[L3Order]:
    """Return the resting orders of a ``SnapshotResponse``, in priority order."""
    return [
        L3Order(o.order_id, o.account, o.side, o.price_ticks, o.qty_lots, o.hidden_lots)
        for o in message.orders
    ]


def instruments_of(message: market_data_pb2.ListInstrumentsResponse) -> list[Instrument]:
    """Return the instruments of a ``ListInstrumentsResponse`` in ``symbol_id`` order."""
    return sorted(
        (instrument_from_proto(m) for m in message.instruments), key=lambda i: i.symbol_id
    )


# ---------------------------------------------------------------------------- market data


_KIND_NAMES: Final = {
    "levels": Kind.LEVELS,
    "bbo": Kind.BBO,
    "trades": Kind.TRADES,
    "status": Kind.STATUS,
}
_KIND_PROTO: Final = {
    Kind.LEVELS: market_data_pb2.MARKET_DATA_KIND_LEVELS,
    Kind.BBO: market_data_pb2.MARKET_DATA_KIND_BBO,
    Kind.TRADES: market_data_pb2.MARKET_DATA_KIND_TRADES,
    Kind.STATUS: market_data_pb2.MARKET_DATA_KIND_STATUS,
}


def kinds_of(kinds: Kind | Iterable[str | Kind] | None) -> Kind:
    """A ``Kind`` set from a flag, names (``"levels"``, ``"bbo"``, ...) or None (all)."""
    if kinds is None:
        return ALL_KINDS
    if isinstance(kinds, Kind):
        return kinds
    out = Kind(0)
    for kind in kinds:
        if isinstance(kind, Kind):
            out |= kind
        elif isinstance(kind, str) and kind.lower() in _KIND_NAMES:
            out |= _KIND_NAMES[kind.lower()]
        else:
            raise ValueError(f"market data kinds are {', '.join(_KIND_NAMES)}, was {kind!r}")
    return out


def subscribe_request(
    symbols: Iterable[str | int] | None, depth: int, kinds: Kind
) -> market_data_pb2.MarketDataRequest:
    """The first request of a ``SubscribeMarketData`` stream."""
    names: list[str] = []
    ids: list[int] = []
    for symbol in symbols or ():
        if type(symbol) is str:
            names.append(symbol)
        elif type(symbol) is int:
            ids.append(symbol)
        else:
            raise TypeError(f"a symbol is a name or an int id, was {symbol!r}")
    if type(depth) is not int or depth < 0:
        raise ValueError(f"depth must be an int >= 0, was {depth!r}")
    return market_data_pb2.MarketDataRequest(
        subscribe=market_data_pb2.MarketDataSubscribe(
            symbols=names,
            symbol_ids=ids,
            depth=depth,
            all_levels=depth == 0,
            kinds=[p for k, p in _KIND_PROTO.items() if k in kinds],
        )
    )


def snapshot_request(symbol_ids: Iterable[int]) -> market_data_pb2.MarketDataRequest:
    """A request for fresh snapshots of ``symbol_ids`` on a market-data stream."""
    return market_data_pb2.MarketDataRequest(
        snapshot=market_data_pb2.MarketDataSnapshotRequest(symbol_ids=sorted(symbol_ids))
    )


def _ladder(levels: Iterable[types_pb2.Level]) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in levels)


def record_of(message: market_data_pb2.MarketDataUpdate) -> Update:
    """Return the ``whistle.api.marketdata`` record a ``MarketDataUpdate`` carries."""
    which = message.WhichOneof("kind")
    sid = message.symbol_id
    seq = message.md_seq
    ts = message.ts_ns
    if which == "level":
        lv = message.level
        return Level(
            sid, seq, ts, lv.side, lv.level.price_ticks, lv.level.qty_lots, lv.level.order_count
        )
    if which == "trade":
        tr = message.trade
        return Trade(sid, seq, ts, tr.trade_id, tr.price_ticks, tr.qty_lots, tr.aggressor_side)
    if which == "bbo":
        b = message.bbo
        return Bbo(
            sid, seq, ts, b.bid.price_ticks, b.bid.qty_lots, b.ask.price_ticks, b.ask.qty_lots
        )
    if which == "status":
        return Status(sid, seq, ts, message.status.state)
    if which == "snapshot":
        sn = message.snapshot
        cause = sn.cause or SnapshotCause.INITIAL
        return Snapshot(
            sid,
            seq,
            ts,
            int(cause),
            sn.state,
            _ladder(sn.bids),
            _ladder(sn.asks),
            sn.bid.price_ticks,
            sn.bid.qty_lots,
            sn.ask.price_ticks,
            sn.ask.qty_lots,
            sn.last_trade_price_ticks,
        )
    raise ValueError(f"a market-data update without a kind (symbol {sid}, md_seq {seq})")


def md_records(batch: market_data_pb2.MarketDataBatch) -> list[Update]:
    """Return the records of a ``MarketDataBatch``."""
    return [record_of(message) for message in batch.updates]


# ---------------------------------------------------------------------------- the client


def _is_retryable(exc: grpc.RpcError) -> bool:
    return exc.code() in RETRYABLE


@final
class Client:
    """A whistle venue over gRPC with ``Venue``'s methods (see the module docstring)."""

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
        self.channel: grpc.Channel = (
            grpc.secure_channel(target, settings.credentials, settings.options)
            if settings.credentials is not None
            else grpc.insecure_channel(target, settings.options)
        )
        self.orders = OrderEntryServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.market = MarketDataServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.admin = AdminServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self._instruments: dict[str | int, Instrument] = {}
        self._local = threading.local()
        self._closed = False

    # ------------------------------------------------------------------ plumbing

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel (open streams end)."""
        if not self._closed:
            self._closed = True
            self.channel.close()

    def call(self, method: Callable[..., T], request: object, *, retry: bool = True) -> T:
        """Call a unary ``method``; retry UNAVAILABLE with backoff when ``retry``."""
        if self._closed:
            raise ClientError("the client is closed")
        delays = self.retry.delays() if retry else iter(())
        while True:
            try:
                return method(
                    request, metadata=self.metadata, timeout=self.timeout_s, wait_for_ready=True
                )
            except grpc.RpcError as exc:
                if not _is_retryable(exc):
                    raise error_of(exc) from None
                delay = next(delays, None)
                if delay is None:
                    raise error_of(exc) from None
                time.sleep(delay)

    @property
    def last_result(self) -> CommandResult | None:
        """This thread's last order-entry answer."""
        return getattr(self._local, "result", None)

    @property
    def last_reject_detail(self) -> str | None:
        """The server's words for this thread's last refusal at the edge (else None)."""
        result = self.last_result
        return result.detail or None if result is not None else None

    def _command(self, method: Callable[..., Any], request: object, retry: bool) -> list[Event]:
        answer = self.call(method, request, retry=retry)
        if answer.result.api_error:
            raise refused(answer.result)
        result = result_of(answer.result)
        self._local.result = result
        return result.events

    # ------------------------------------------------------------------ order entry

    def submit(
        self, symbol: str | int, side: Side | str | int, *args: Any, **kw: Any
    ) -> list[Event]:
        """Enter a new order (``Venue.submit``'s arguments); return its events.

        Retried after a lost connection only with a ``client_order_id``.
        """
        request = submit_request(symbol, side, *args, **kw)
        return self._command(self.orders.SubmitOrder, request, request.client_order_id != 0)

    def cancel(
        self, symbol: str | int, order_id: int, *, account: int | None = None
    ) -> list[Event]:
        """Cancel a live order; return the events."""
        request = cancel_request(symbol, order_id, account=account)
        return self._command(self.orders.CancelOrder, request, False)

    def modify(self, symbol: str | int, order_id: int, **kw: Any) -> list[Event]:
        """Change a resting order's price and/or remaining quantity (``Venue.modify``)."""
        return self._command(self.orders.ModifyOrder, modify_request(symbol, order_id, **kw), False)

    def replace(
        self, symbol: str | int, order_id: int, new_order_id: int | None = None, **kw: Any
    ) -> list[Event]:
        """Replace a resting order by a new one (``Venue.replace``)."""
        request = replace_request(symbol, order_id, new_order_id, **kw)
        return self._command(self.orders.CancelReplace, request, request.client_order_id != 0)

    def mass_cancel(
        self, symbol: str | int | None = None, *, account: int | None = None
    ) -> list[Event]:
        """Cancel every live order of the account (or all: admin) on one or every symbol."""
        return self._command(
            self.orders.MassCancel, mass_cancel_request(symbol, account=account), False
        )

    def order(self, symbol: str | int, order_id: int) -> OrderInfo | None:
        """One live order of the key's account (an admin: any), or None."""
        request = symbol_ref(order_entry_pb2.GetOrderRequest(order_id=order_id), symbol)
        try:
            answer = self.call(self.orders.GetOrder, request)
        except NotFound:
            return None
        o = answer.order
        return OrderInfo(
            order_id=o.order_id,
            account=o.account,
            side=o.side,
            order_type=o.order_type,
            tif=o.tif,
            price_ticks=o.price_ticks,
            stop_price_ticks=o.stop_price_ticks,
            leaves_qty_lots=o.leaves_qty_lots,
            displayed_qty_lots=o.displayed_qty_lots,
            hidden_qty_lots=o.hidden_qty_lots,
            filled_qty_lots=o.filled_qty_lots,
            original_qty_lots=o.original_qty_lots,
            queue_position=o.queue_position,
            queue_ahead_lots=o.queue_ahead_lots,
            entry_ts_ns=o.entry_ts_ns,
            expire_ts_ns=o.expire_ts_ns,
            parked=o.parked,
        )

    def open_orders(
        self, symbol: str | int | None = None, *, account: int | None = None
    ) -> list[OpenOrder]:
        """The account's resting orders (an admin: ``account``'s, or everyone's), per
        symbol in id order, each in priority order."""
        request = open_orders_request(symbol, account)
        return open_orders_of(self.call(self.orders.ListOpenOrders, request))

    def fills(
        self,
        symbol: str | int | None = None,
        *,
        account: int | None = None,
        after_enq_seq: int = 0,
    ) -> tuple[list[OrderFilled], bool]:
        """The account's fills (an admin: ``account``'s, or everyone's) on one symbol or
        all, oldest first, and whether the server still holds every one since the venue
        began (``complete``)."""
        request = fills_request(symbol, account, after_enq_seq)
        return fills_of(self.call(self.orders.ListFills, request))

    def client_order(
        self, client_order_id: int, *, account: int | None = None
    ) -> ClientOrderView | None:
        """What the venue remembers of (account, client_order_id), or None (never taken,
        refused before sequencing, or let go at its session's end)."""
        request = client_order_request(client_order_id, account)
        try:
            answer = self.call(self.orders.GetClientOrder, request)
        except NotFound:
            return None
        return client_order_of(answer)

    # ------------------------------------------------------------------ instruments

    def instruments(self) -> list[Instrument]:
        """Every defined instrument, in ``symbol_id`` order (refreshes the cache)."""
        request = market_data_pb2.ListInstrumentsRequest()
        found = instruments_of(self.call(self.market.ListInstruments, request))
        for inst in found:
            self._instruments[inst.symbol] = inst
            self._instruments[inst.symbol_id] = inst
        return found

    @property
    def symbols(self) -> list[str]:
        """The defined symbols in ``symbol_id`` order."""
        return [inst.symbol for inst in self.instruments()]

    def instrument(self, symbol: str | int) -> Instrument:
        """The instrument of a symbol name or id (``NotFound``, a ``KeyError``, if none)."""
        known = self._instruments.get(symbol)
        if known is None and type(symbol) in (str, int):
            self.instruments()
            known = self._instruments.get(symbol)
        if known is None:
            raise NotFound(f"unknown symbol {symbol!r}")
        return known

    def is_registered(self, symbol: str | int) -> bool:
        """Whether a symbol name or id is defined."""
        try:
            self.instrument(symbol)
        except NotFound:
            return False
        return True

    def add_instrument(self, symbol: str, **kw: Any) -> Instrument:
        """Define a symbol (admin); return its ``Instrument`` (``Venue.add_instrument``)."""
        answer = self.call(self.admin.AddInstrument, add_instrument_request(symbol, **kw))
        inst = instrument_from_proto(answer.instrument)
        self._instruments[inst.symbol] = inst
        self._instruments[inst.symbol_id] = inst
        return inst

    # ------------------------------------------------------------------ admin and views

    def halt(self, symbol: str | int) -> list[Event]:
        """Halt a symbol (admin); return the events."""
        answer = self.call(self.admin.Halt, symbol_ref(admin_pb2.HaltRequest(), symbol))
        return events_of(answer.events)

    def resume(self, symbol: str | int) -> list[Event]:
        """Resume a halted symbol (admin); return the events."""
        answer = self.call(self.admin.Resume, symbol_ref(admin_pb2.ResumeRequest(), symbol))
        return events_of(answer.events)

    def depth(self, symbol: str | int, levels: int = 10) -> DepthSnapshot:
        """The L2 depth of ``symbol``."""
        request = symbol_ref(admin_pb2.DepthRequest(levels=levels), symbol)
        return depth_of(self.call(self.admin.Depth, request))

    def server_status(self, symbols: Sequence[str] = ()) -> ServerStatus:
        """The server's status of ``symbols`` (none: every symbol) and its counters."""
        request = admin_pb2.StatusRequest(symbols=list(symbols))
        return server_status_of(self.call(self.admin.Status, request))

    def status(self, symbol: str | int) -> EngineStatus:
        """The status of ``symbol``'s engine."""
        name = symbol if type(symbol) is str else self.instrument(symbol).symbol
        found = self.server_status([name]).symbols
        if not found:
            raise NotFound(f"unknown symbol {symbol!r}")
        return found[0]

    def snapshot(self, symbol: str | int) -> admin_pb2.SnapshotResponse:
        """The full book of ``symbol`` (admin): status, L3 orders, state hash."""
        answer: admin_pb2.SnapshotResponse = self.call(
            self.admin.Snapshot, symbol_ref(admin_pb2.SnapshotRequest(), symbol)
        )
        return answer

    def l3(self, symbol: str | int) -> list[L3Order]:
        """``symbol``'s resting orders in priority order (admin)."""
        return l3_of(self.snapshot(symbol))

    def state_hash(self, symbol: str | int) -> str:
        """``symbol``'s engine state hash (admin)."""
        return self.snapshot(symbol).state_hash

    def release_idle(self, idle_ticks: int) -> list[int]:
        """Retire every symbol idle for ``idle_ticks`` ticks (admin); return their ids."""
        request = admin_pb2.ReleaseIdleRequest(idle_ticks=idle_ticks)
        return list(self.call(self.admin.ReleaseIdle, request).symbol_ids)

    # ------------------------------------------------------------------ streams

    def order_entry(
        self, max_batch: int = 512, *, omit_market_data: bool = False
    ) -> OrderEntryStream:
        """Open an ``OrderEntry`` stream (see ``OrderEntryStream``)."""
        return OrderEntryStream(self, max_batch, omit_market_data=omit_market_data)

    def market_data(
        self,
        symbols: Iterable[str | int] | None = None,
        *,
        depth: int = 10,
        kinds: Kind | Iterable[str | Kind] | None = None,
    ) -> MarketDataStream:
        """Subscribe to market data (None: every symbol); iterate for record batches."""
        return MarketDataStream(self, symbols, depth, kinds_of(kinds))

    def order_updates(self, account: int | None = None) -> OrderUpdateStream:
        """Subscribe to the account's order events (admin: ``account`` or every account)."""
        return OrderUpdateStream(self, account)


# ---------------------------------------------------------------------------- stream helpers

_CLOSE: Final = object()


class _Stream:
    """Shared by the streams: reopen with backoff, close from any thread."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.reconnects = 0
        self.closed = False
        self._call: Any = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """End the stream (a blocked iteration ends too)."""
        with self._lock:
            self.closed = True
            call = self._call
        if call is not None:
            call.cancel()

    def wait_ready(self) -> bool:
        """Wait until the server has registered the subscription (it answers with initial
        metadata then); False if the stream ended first."""
        call = self._call
        if call is None:
            return False
        try:
            call.initial_metadata()
        except grpc.RpcError:
            return False
        return bool(call.is_active() or call.code() == grpc.StatusCode.OK)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, make: Callable[[], Any]) -> Any:
        with self._lock:
            if self.closed:
                return None
            self._call = make()
            return self._call

    def _lost(self, exc: grpc.RpcError, delays: Iterator[float]) -> bool:
        """After a stream error: True to reopen (after a wait), False when closed."""
        if self.closed or exc.code() == grpc.StatusCode.CANCELLED:
            return False
        if not _is_retryable(exc):
            raise error_of(exc) from None
        delay = next(delays, None)
        if delay is None:
            raise error_of(exc) from None
        time.sleep(delay)
        self.reconnects += 1
        return not self.closed


@final
class OrderUpdateStream(_Stream):
    """The account's order events, batch by batch (iterate); reopens after a restart.

    The call is made at once; ``wait_ready()`` returns when the server has registered it.
    """

    def __init__(self, client: Client, account: int | None) -> None:
        super().__init__(client)
        self.request = order_entry_pb2.SubscribeOrderUpdatesRequest()
        if account is not None:
            self.request.account = account

        self._connect()

    def _connect(self) -> Any:
        client = self.client
        return self._open(
            lambda: client.orders.SubscribeOrderUpdates(
                self.request, metadata=client.metadata, wait_for_ready=True
            )
        )

    def __iter__(self) -> Iterator[list[Event]]:
        delays = self.client.retry.delays()
        call = self._call
        while call is not None:
            try:
                for batch in call:
                    delays = self.client.retry.delays()
                    yield events_of(batch.events)
                if self.closed:
                    return
                raise error_of(_ended(call))
            except grpc.RpcError as exc:
                if not self._lost(exc, delays):
                    return
            call = self._connect()


def _ended(call: Any) -> grpc.RpcError:
    # A server-side end of a stream the client did not close: an error to report.
    code = call.code()
    if code == grpc.StatusCode.OK:
        return _StreamEnded(grpc.StatusCode.UNAVAILABLE, "the server ended the stream")
    return _StreamEnded(code, call.details() or "")


class _StreamEnded(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


class MarketDataState:
    """A market-data subscriber's books and gap check (shared by both clients' streams).

    ``view`` (a ``whistle.api.marketdata.MarketView``) holds every subscribed symbol's book,
    state and recent trades as of the records delivered.
    """

    def __init__(self) -> None:
        self.view = MarketView()
        self.gaps = 0
        self.conflations = 0

    def take(self, batch: market_data_pb2.MarketDataBatch) -> tuple[list[Update], set[int]]:
        """Apply a batch to ``view``; return the records that follow on and the symbols
        that just went into a gap (ask for their snapshots)."""
        self.conflations = batch.conflations
        view = self.view
        stale = view.stale
        out: list[Update] = []
        gapped: set[int] = set()
        for message in batch.updates:
            record = record_of(message)
            sid = record.symbol_id
            was_stale = sid in stale
            if view.apply(record):
                out.append(record)
                trades = view.trades[sid]
                if len(trades) > _TRADES_KEPT:
                    del trades[: len(trades) - _TRADES_KEPT]
            elif not was_stale:
                self.gaps += 1
                gapped.add(sid)
        return out, gapped


@final
class MarketDataStream(_Stream, MarketDataState):
    """Market-data record batches (iterate), gap-checked per symbol (``MarketDataState``).

    A record that does not
    follow its symbol's previous one (``md_seq`` + 1) is a gap: it and the symbol's later
    deltas are not delivered, a fresh snapshot is asked for on the same stream, and
    delivery resumes with it. ``request_snapshot(symbol_ids)`` asks for one explicitly.
    ``gaps`` / ``conflations`` / ``reconnects`` count what happened; after a reconnect
    every symbol starts again from a snapshot.
    """

    def __init__(
        self, client: Client, symbols: Iterable[str | int] | None, depth: int, kinds: Kind
    ) -> None:
        _Stream.__init__(self, client)
        MarketDataState.__init__(self)
        self.subscribe = subscribe_request(symbols, depth, kinds)
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._connect()

    def request_snapshot(self, symbol_ids: Iterable[int]) -> None:
        """Ask for fresh snapshots of ``symbol_ids`` (they arrive in order, on this stream)."""
        self._requests.put(snapshot_request(set(symbol_ids)))

    def close(self) -> None:
        """End the stream."""
        self._requests.put(_CLOSE)
        super().close()

    def _request_iter(self, requests: queue.SimpleQueue[Any]) -> Iterator[Any]:
        yield self.subscribe
        while True:
            item = requests.get()
            if item is _CLOSE:
                return
            yield item

    def _connect(self) -> Any:
        requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._requests = requests
        self.view = MarketView()
        client = self.client
        return self._open(
            lambda: client.market.SubscribeMarketData(
                self._request_iter(requests), metadata=client.metadata, wait_for_ready=True
            )
        )

    def __iter__(self) -> Iterator[list[Update]]:
        delays = self.client.retry.delays()
        call = self._call
        while call is not None:
            try:
                for batch in call:
                    delays = self.client.retry.delays()
                    records, gapped = self.take(batch)
                    if gapped:
                        self.request_snapshot(gapped)
                    yield records
                if self.closed:
                    return
                raise error_of(_ended(call))
            except grpc.RpcError as exc:
                self._requests.put(_CLOSE)
                if not self._lost(exc, delays):
                    return
            call = self._connect()


def feed_batches(
    requests: queue.SimpleQueue[Any], max_batch: int, omit_market_data: bool = False
) -> Iterator[Any]:
    """Group queued ``OrderCommand`` s into ``OrderEntryRequest`` s until ``_CLOSE``.

    Whatever waits when the transport asks for the next message goes in one message (at
    most ``max_batch`` commands): under load many commands share one message, an idle
    stream sends each command at once.
    """
    get = requests.get
    get_nowait = requests.get_nowait
    empty = queue.Empty
    while True:
        item = get()
        if item is _CLOSE:
            return
        commands = [item]
        closing = False
        while len(commands) < max_batch:
            try:
                item = get_nowait()
            except empty:
                break
            if item is _CLOSE:
                closing = True
                break
            commands.append(item)
        yield order_entry_pb2.OrderEntryRequest(
            commands=commands, omit_market_data=omit_market_data
        )
        if closing:
            return


def order_command(kind: str, request: Any) -> order_entry_pb2.OrderCommand:
    """One ``OrderCommand`` (``kind``: submit, cancel, modify, cancel_replace, mass_cancel)."""
    command = order_entry_pb2.OrderCommand()
    getattr(command, kind).CopyFrom(request)
    return command


@final
class OrderEntryStream(_Stream):
    """One ``OrderEntry`` stream: commands in without waiting, answers out in order.

    ``send_submit`` / ``send_cancel`` / ``send_modify`` / ``send_replace`` /
    ``send_mass_cancel`` (or ``send(command)``) queue a command and return its
    ``request_id``; commands waiting together travel in one message (``max_batch``).
    ``results()`` yields ``(request_id, CommandResult)`` in command order while commands
    are pending (``recv()`` one). When the stream breaks, ``recv`` raises
    ``ConnectionLost`` whose ``unanswered`` lists the request ids with no answer (their
    fate is unknown: resubmit with the same ``client_order_id`` to learn it); the next
    ``send`` opens a new stream.
    """

    def __init__(
        self, client: Client, max_batch: int = 512, *, omit_market_data: bool = False
    ) -> None:
        super().__init__(client)
        if not 1 <= max_batch <= MAX_COMMANDS_PER_MESSAGE:
            raise ValueError(f"max_batch must be 1..{MAX_COMMANDS_PER_MESSAGE}, was {max_batch!r}")
        self.max_batch = max_batch
        self.omit_market_data = omit_market_data
        self._next_id = 0
        self._unanswered: dict[int, None] = {}
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._responses: Iterator[Any] | None = None
        self._replies: deque[Any] = deque()

    @property
    def pending(self) -> int:
        """Commands sent and not answered yet."""
        return len(self._unanswered)

    def _ensure(self) -> None:
        if self._responses is not None:
            return
        if self.closed:
            raise ClientError("the order-entry stream is closed")
        requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._requests = requests
        client = self.client
        self._responses = self._open(
            lambda: client.orders.OrderEntry(
                feed_batches(requests, self.max_batch, self.omit_market_data),
                metadata=client.metadata,
                wait_for_ready=True,
            )
        )

    def send(self, command: order_entry_pb2.OrderCommand) -> int:
        """Queue one ``OrderCommand`` (its ``request_id`` is set here); return the id."""
        self._ensure()
        self._next_id += 1
        rid = self._next_id
        command.request_id = rid
        self._unanswered[rid] = None
        self._requests.put(command)
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

    def recv(self) -> tuple[int, CommandResult]:
        """Wait for the next answer: ``(request_id, CommandResult)``."""
        replies = self._replies
        if not replies:
            if self._responses is None:
                raise ClientError("nothing was sent on this order-entry stream")
            try:
                answer = next(self._responses)
            except StopIteration:
                raise self._broken(None) from None
            except grpc.RpcError as exc:
                raise self._broken(exc) from None
            replies.extend(answer.replies)
            if not replies:
                return self.recv()
        reply = replies.popleft()
        self._unanswered.pop(reply.request_id, None)
        return reply.request_id, result_of(reply.result)

    def results(self) -> Iterator[tuple[int, CommandResult]]:
        """Yield the answers while commands are pending."""
        while self._unanswered:
            yield self.recv()

    def _broken(self, exc: grpc.RpcError | None) -> ClientError:
        lost = list(self._unanswered)
        self._unanswered.clear()
        self._responses = None
        self._requests.put(_CLOSE)
        if self.closed:
            return ClientError("the order-entry stream is closed")
        why = error_of(exc) if exc is not None else "the server ended the stream"
        error = ConnectionLost(f"the order-entry stream broke ({why}); unanswered: {lost}")
        error.unanswered = lost
        return error

    def close(self) -> None:
        """End the stream (answers not read yet are lost)."""
        self._requests.put(_CLOSE)
        super().close()
