"""Between the wire (``whistle.api.v1`` protobuf messages) and the core (commands, events).

Both directions live here, so the server and the clients agree by construction:

- requests -> core commands (``submit_command``, ``cancel_command``, ...): a request that
  cannot become a command is a ``Refusal``: either a value the venue documents as a reject
  (an unknown symbol name, a decimal off the grid or malformed, both forms of a value given:
  an ``OrderRejected`` with seq 0 and the ``RejectReason``, as the venue's own edge
  answers) or something this key may not do (``ApiError.PERMISSION_DENIED``). Ints are
  passed on untouched: the venue's edge checks every range (``whistle.core.limits``) and
  every enum value, and answers with its documented reasons;
- core events -> ``v1.Event`` (``event_to_proto``), with every price and quantity also as
  a decimal string of the event's instrument, and back (``event_from_proto``);
- instruments, engine views and the market-data hub's records -> their messages.

What a trader may see (``for_trader``): public events (trades, book levels, BBO, status,
faults) and the events of its own account; a command on another account's order is
answered like one on an order that does not exist (``ACCOUNT_MISMATCH`` becomes
``UNKNOWN_ORDER_ID`` with detail code 0, the engine's own answer for an unknown order),
and a trade print names only the trader's own order (the other side's id is 0), so
nothing tells a trader that another account's order exists or which one traded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TypeVar, final

import msgspec
from google.protobuf.message import Message

from whistle.api.v1 import admin_pb2, market_data_pb2, order_entry_pb2, types_pb2
from whistle.core.commands import CancelOrder, CancelReplace, MassCancel, ModifyOrder, NewOrder
from whistle.core.enums import OrderType, TimeInForce
from whistle.core.errors import ConversionError, PrecisionError
from whistle.core.events import (
    EVENT_TYPES,
    DuplicateClientOrder,
    OrderFilled,
    OrderRejected,
    TradeOccurred,
)
from whistle.core.fixed import from_units
from whistle.core.instrument import Instrument
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from whistle.api.backend import BookView, SymbolView, VenueStatus
    from whistle.api.marketdata import PriceLevel, Update
    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.engine.status import DepthLevel, DepthSnapshot, OrderInfo

__all__ = [
    "Refusal",
    "book_view_to_proto",
    "cancel_command",
    "cancel_replace_command",
    "client_order_to_proto",
    "decimal_formatter",
    "depth_to_proto",
    "event_fields",
    "event_from_proto",
    "event_to_proto",
    "for_trader",
    "instrument_from_proto",
    "instrument_to_proto",
    "mass_cancel_command",
    "md_batch_bytes",
    "md_update_fields",
    "md_updates_to_proto",
    "modify_command",
    "open_order_fields",
    "order_info_to_proto",
    "status_to_proto",
    "submit_command",
    "visible",
]

ApiError = types_pb2.ApiError


@final
class Refusal:
    """A request that did not become a command.

    ``reject`` (an ``OrderRejected``, seq 0) for a documented value reject, or
    ``api_error`` (``ApiError``) for something the key may not do; ``detail`` in words.
    """

    __slots__ = ("api_error", "detail", "reject")

    def __init__(
        self, detail: str, *, reject: OrderRejected | None = None, api_error: int = 0
    ) -> None:
        self.detail = detail
        self.reject = reject
        self.api_error = api_error

    def __repr__(self) -> str:
        return f"Refusal({self.detail!r}, reject={self.reject!r}, api_error={self.api_error})"


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


M = TypeVar("M", bound=Message)


def _msg(cls: type[M], **fields: Any) -> M:
    # Build a message from ints for its enum fields: the generated stubs type enum fields
    # as the enum class only, the runtime takes any int (the values are the core's).
    return cls(**fields)


# ---------------------------------------------------------------------------- decimals


def decimal_formatter(step: str) -> Callable[[int], str]:
    """Return a function giving the decimal string of ``units * step`` (as ``from_units``).

    A power-of-ten step ("0.01", "1", "100") formats with integer arithmetic; any other
    step goes through ``from_units``. Both give the same text (a property test checks).
    """
    value = Decimal(step)
    sign, digits, exponent = value.as_tuple()
    if sign == 0 and digits == (1,) and isinstance(exponent, int):
        if exponent >= 0:
            scale = 10**exponent
            return lambda units: str(units * scale)
        places = -exponent
        base = 10**places

        def fmt(units: int) -> str:
            whole, frac = divmod(abs(units), base)
            text = str(whole) if frac == 0 else f"{whole}.{frac:0{places}d}".rstrip("0")
            return "-" + text if units < 0 and text != "0" else text

        return fmt
    return lambda units: from_units(units, value)


_MEMO_SIZE: Final = 1 << 16


def _memo(fmt: Callable[[int], str]) -> Callable[[int], str]:
    # Prices and quantities repeat: a bounded memo of their texts (cleared when full).
    cache: dict[int, str] = {}
    get = cache.get

    def memo(units: int) -> str:
        text = get(units)
        if text is None:
            if len(cache) >= _MEMO_SIZE:
                cache.clear()
            text = cache[units] = fmt(units)
        return text

    return memo


@final
class _Grid:
    # One instrument's formatters, cached per instrument.
    __slots__ = ("price", "qty")

    def __init__(self, instrument: Instrument) -> None:
        self.price = _memo(decimal_formatter(instrument.tick_size))
        self.qty = _memo(decimal_formatter(instrument.lot_size))


_GRIDS: dict[Instrument, _Grid] = {}


def _grid(instrument: Instrument) -> _Grid:
    grid = _GRIDS.get(instrument)
    if grid is None:
        if len(_GRIDS) > 100_000:
            _GRIDS.clear()  # bounded: instruments are few, this only guards a leak
        grid = _GRIDS[instrument] = _Grid(instrument)
    return grid


def _no_text(units: int) -> str:
    return ""


# ---------------------------------------------------------------------------- events

# Per core event type: (oneof field, proto class, fields) where each field is
# (name, decimal name or "", "price" | "qty" | "").
_Field = tuple[str, str, str]


def _fields_of(kind: type) -> tuple[_Field, ...]:
    out: list[_Field] = []
    for name in kind.__struct_fields__:  # type: ignore[attr-defined]  # a msgspec Struct
        if name in ("symbol_id", "seq", "enq_seq", "ts_ns"):
            continue
        if name.endswith("_ticks") and name != "ts_ns":
            out.append((name, name[: -len("_ticks")], "price"))
        elif name.endswith("_lots"):
            out.append((name, name[: -len("_lots")], "qty"))
        else:
            out.append((name, "", ""))
    return tuple(out)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


_EVENT_TABLE: Final[dict[type, tuple[str, type, tuple[_Field, ...]]]] = {
    kind: (_snake(kind.__name__), getattr(types_pb2, kind.__name__), _fields_of(kind))
    for kind in EVENT_TYPES
}
_CORE_OF: Final[dict[str, tuple[type, tuple[_Field, ...]]]] = {
    field: (kind, fields) for kind, (field, _, fields) in _EVENT_TABLE.items()
}


def event_to_proto(
    event: Event, instrument: Instrument | None, detail: str | None = None
) -> types_pb2.Event:
    """Return ``event`` as a ``v1.Event`` (decimals on ``instrument``'s grid; none: "").

    ``detail`` is an ``OrderRejected``'s words (default: the reason's description, or the
    engine's detail-code text).
    """
    return types_pb2.Event(**event_fields(event, instrument, detail))


def event_fields(
    event: Event, instrument: Instrument | None, detail: str | None = None
) -> dict[str, Any]:
    """Return the fields of ``event_to_proto(event, ...)`` as a dict of plain values.

    A message built from nested dicts is built in place, once: building the parts as
    messages copies each into its parent (about twice the cost, measured), so responses
    of many events are assembled from these.
    """
    field, _cls, fields = _EVENT_TABLE[type(event)]
    if instrument is not None:
        grid = _grid(instrument)
        price, qty = grid.price, grid.qty
    else:
        price = qty = _no_text
    values: dict[str, object] = {}
    for name, text_name, unit in fields:
        value = getattr(event, name)
        values[name] = value
        if unit == "price":
            values[text_name] = price(value)
        elif unit == "qty":
            values[text_name] = qty(value)
    if type(event) is OrderRejected:
        values["detail"] = detail if detail is not None else _reject_words(event)
    return {
        "symbol_id": event.symbol_id,
        "seq": event.seq,
        "enq_seq": event.enq_seq,
        "ts_ns": event.ts_ns,
        field: values,
    }


def _reject_words(event: OrderRejected) -> str:
    if event.detail_code:
        from whistle.book.details import detail_text  # the engine's table of detail codes

        return detail_text(event.detail_code)
    try:
        return RejectReason.of(event.reason).description
    except ValueError:
        return f"reject code {event.reason}"


def event_from_proto(message: types_pb2.Event) -> Event:
    """Return the core event of a ``v1.Event`` (the decimal strings are dropped).

    ``ValueError`` for a message with no kind set.
    """
    field = message.WhichOneof("kind")
    if field is None:
        raise ValueError("a v1.Event without a kind")
    kind, fields = _CORE_OF[field]
    sub = getattr(message, field)
    values = {name: getattr(sub, name) for name, _, _ in fields}
    event: Event = kind(
        symbol_id=message.symbol_id,
        seq=message.seq,
        enq_seq=message.enq_seq,
        ts_ns=message.ts_ns,
        **values,
    )
    return event


def event_detail(message: types_pb2.Event) -> str:
    """Return an ``OrderRejected`` message's words ("" for any other kind)."""
    if message.WhichOneof("kind") == "order_rejected":
        return message.order_rejected.detail
    return ""


# Event types that carry an account (the order events): visible to that account only.
_PRIVATE: Final = frozenset(k for k in EVENT_TYPES if "account" in k.__struct_fields__)
_MISMATCH: Final = int(RejectReason.ACCOUNT_MISMATCH)
_UNKNOWN_ORDER: Final = int(RejectReason.UNKNOWN_ORDER_ID)


def visible(event: Event, account: int) -> bool:
    """Return whether a trader of ``account`` may see ``event``."""
    return type(event) not in _PRIVATE or event.account == account  # type: ignore[union-attr]


def for_trader(events: Sequence[Event], account: int) -> list[Event]:
    """Return what a trader of ``account`` may see of ``events``.

    Another account's order events are left out; a command on another account's order is
    answered as one on an unknown order; a trade print names only the trader's own order
    (the other side's order id is 0), so a trader cannot follow another's orders.
    """
    out: list[Event] = []
    own_orders: set[int] | None = None
    for event in events:
        kind = type(event)
        if kind in _PRIVATE:
            if event.account != account:  # type: ignore[union-attr]  # checked: private
                continue
            if kind is OrderRejected and event.reason == _MISMATCH:  # type: ignore[union-attr]
                event = msgspec.structs.replace(event, reason=_UNKNOWN_ORDER, detail_code=0)
            elif kind is DuplicateClientOrder and event.reason == _MISMATCH:  # type: ignore[union-attr]
                # a repeat of a refused replace of another account's order: the same answer
                event = msgspec.structs.replace(event, reason=_UNKNOWN_ORDER)
        elif kind is TradeOccurred:
            if own_orders is None:
                own_orders = {
                    e.order_id for e in events if type(e) is OrderFilled and e.account == account
                }
            maker = event.maker_order_id  # type: ignore[union-attr]  # a TradeOccurred
            taker = event.taker_order_id  # type: ignore[union-attr]
            if maker not in own_orders or taker not in own_orders:
                event = msgspec.structs.replace(
                    event,
                    maker_order_id=maker if maker in own_orders else 0,
                    taker_order_id=taker if taker in own_orders else 0,
                )
        out.append(event)
    return out


# ---------------------------------------------------------------------------- requests


def _refuse_value(
    reason: RejectReason, detail: str, symbol_id: int, order_id: int, account: int
) -> _Refused:
    reject = OrderRejected(symbol_id, 0, 0, 0, order_id, account, int(reason))
    return _Refused(Refusal(detail, reject=reject))


def _symbol(
    request: object, lookup: Callable[[str | int], Instrument | None], required: bool = True
) -> tuple[int, Instrument | None]:
    # (symbol_id, instrument or None). A name that names nothing is UNKNOWN_SYMBOL here; an
    # unknown id goes on (the venue answers UNKNOWN_SYMBOL itself).
    which = request.WhichOneof("symbol_ref")  # type: ignore[attr-defined]
    if which == "symbol":
        name = request.symbol  # type: ignore[attr-defined]
        instrument = lookup(name)
        if instrument is None:
            raise _refuse_value(
                RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {name[:80]!r}", 0, 0, 0
            )
        return instrument.symbol_id, instrument
    if which == "symbol_id":
        sid: int = request.symbol_id  # type: ignore[attr-defined]
        return sid, lookup(sid)
    if required:
        raise _refuse_value(
            RejectReason.MALFORMED_COMMAND, "a symbol (name or symbol_id) is required", 0, 0, 0
        )
    return 0, None


def _units(
    request: object,
    oneof: str,
    text_field: str,
    int_field: str,
    instrument: Instrument | None,
    symbol_id: int,
) -> int:
    # The value of a `oneof {string x; int64 x_ticks|x_lots}`: the int as is, the decimal
    # converted exactly on the instrument's grid; absent: 0.
    which = request.WhichOneof(oneof)  # type: ignore[attr-defined]
    if which is None:
        return 0
    if which == int_field:
        value: int = getattr(request, int_field)
        return value
    text: str = getattr(request, text_field)
    if instrument is None:
        raise _refuse_value(
            RejectReason.UNKNOWN_SYMBOL,
            f"unknown symbol_id {symbol_id}: a decimal {text_field} needs its instrument",
            symbol_id,
            0,
            0,
        )
    is_price = int_field.endswith("_ticks")
    try:
        return instrument.price_to_ticks(text) if is_price else instrument.qty_to_lots(text)
    except PrecisionError as exc:
        reason = (
            RejectReason.INVALID_PRICE_PRECISION if is_price else RejectReason.INVALID_QTY_PRECISION
        )
        raise _refuse_value(reason, f"{text_field}: {exc}", instrument.symbol_id, 0, 0) from None
    except ConversionError as exc:
        raise _refuse_value(
            RejectReason.MALFORMED_COMMAND, f"{text_field}: {exc}", instrument.symbol_id, 0, 0
        ) from None


def _account(request: object, own: int | None, admin_default: int | None) -> int | None:
    # The command's account: a trader's own (naming another is refused), an admin's
    # choice or ``admin_default``.
    given = request.HasField("account")  # type: ignore[attr-defined]
    if own is not None:
        if given and request.account != own:  # type: ignore[attr-defined]
            raise _Refused(
                Refusal(
                    f"this key trades account {own} only",
                    api_error=ApiError.API_ERROR_PERMISSION_DENIED,
                )
            )
        return own
    return request.account if given else admin_default  # type: ignore[attr-defined]


def _stamp(refused: _Refused, symbol_id: int, order_id: int, account: int | None) -> Refusal:
    # Fill in what the reject can echo (the command's symbol, order and account).
    refusal = refused.refusal
    reject = refusal.reject
    if reject is not None:
        refusal.reject = msgspec.structs.replace(
            reject,
            symbol_id=reject.symbol_id or symbol_id,
            order_id=reject.order_id or order_id,
            account=reject.account or (account or 0),
        )
    return refusal


def submit_command(
    request: order_entry_pb2.SubmitOrderRequest,
    lookup: Callable[[str | int], Instrument | None],
    own_account: int | None,
) -> NewOrder | Refusal:
    """Return the ``NewOrder`` of a request (order_id 0: the venue assigns), or why not.

    ``own_account``: a trader key's account (None: an admin key).
    """
    sid, account, order_id = 0, own_account, request.order_id
    try:
        account = _account(request, own_account, 0)
        if own_account is not None and order_id:
            raise _Refused(
                Refusal(
                    "a trader key cannot choose venue order ids (leave order_id 0; name the"
                    " order with client_order_id)",
                    api_error=ApiError.API_ERROR_PERMISSION_DENIED,
                )
            )
        sid, instrument = _symbol(request, lookup)
        price = _units(request, "price_value", "price", "price_ticks", instrument, sid)
        qty = _units(request, "qty_value", "qty", "qty_lots", instrument, sid)
        stop = _units(
            request, "stop_price_value", "stop_price", "stop_price_ticks", instrument, sid
        )
        display = _units(
            request, "display_qty_value", "display_qty", "display_qty_lots", instrument, sid
        )
        protection = _units(
            request,
            "protection_price_value",
            "protection_price",
            "protection_price_ticks",
            instrument,
            sid,
        )
    except _Refused as refused:
        return _stamp(refused, sid, order_id, account)
    order_type: int = request.order_type
    if order_type == 0:
        has_price = request.WhichOneof("price_value") is not None
        order_type = int(OrderType.LIMIT if has_price else OrderType.MARKET)
    tif: int = request.tif
    if tif == 0:
        tif = int(TimeInForce.IOC if order_type == OrderType.MARKET else TimeInForce.GTC)
    return NewOrder(
        sid,
        order_id,
        account if account is not None else 0,
        request.side,
        order_type,
        tif,
        price,
        qty,
        stop,
        display,
        request.post_only,
        request.stp,
        request.expire_ts_ns,
        protection,
        request.client_order_id,
    )


def cancel_command(
    request: order_entry_pb2.CancelOrderRequest,
    lookup: Callable[[str | int], Instrument | None],
    own_account: int | None,
) -> CancelOrder | Refusal:
    """Return the ``CancelOrder`` of a request, or why not."""
    sid, account = 0, own_account
    try:
        account = _account(request, own_account, None)
        sid, _ = _symbol(request, lookup)
    except _Refused as refused:
        return _stamp(refused, sid, request.order_id, account)
    return CancelOrder(sid, request.order_id, account)


def modify_command(
    request: order_entry_pb2.ModifyOrderRequest,
    lookup: Callable[[str | int], Instrument | None],
    own_account: int | None,
) -> ModifyOrder | Refusal:
    """Return the ``ModifyOrder`` of a request (a value left out: unchanged), or why not."""
    sid, account = 0, own_account
    try:
        account = _account(request, own_account, None)
        sid, instrument = _symbol(request, lookup)
        price = _units(request, "price_value", "price", "price_ticks", instrument, sid)
        qty = _units(request, "qty_value", "qty", "qty_lots", instrument, sid)
    except _Refused as refused:
        return _stamp(refused, sid, request.order_id, account)
    return ModifyOrder(sid, request.order_id, price, qty, account)


def cancel_replace_command(
    request: order_entry_pb2.CancelReplaceRequest,
    lookup: Callable[[str | int], Instrument | None],
    own_account: int | None,
) -> CancelReplace | Refusal:
    """Return the ``CancelReplace`` of a request (new_order_id 0: the venue assigns)."""
    sid, account = 0, own_account
    try:
        account = _account(request, own_account, None)
        if own_account is not None and request.new_order_id:
            raise _Refused(
                Refusal(
                    "a trader key cannot choose venue order ids (leave new_order_id 0)",
                    api_error=ApiError.API_ERROR_PERMISSION_DENIED,
                )
            )
        sid, instrument = _symbol(request, lookup)
        price = _units(request, "price_value", "price", "price_ticks", instrument, sid)
        qty = _units(request, "qty_value", "qty", "qty_lots", instrument, sid)
    except _Refused as refused:
        return _stamp(refused, sid, request.order_id, account)
    return CancelReplace(
        sid, request.order_id, request.new_order_id, price, qty, account, request.client_order_id
    )


def mass_cancel_command(
    request: order_entry_pb2.MassCancelRequest,
    lookup: Callable[[str | int], Instrument | None],
    own_account: int | None,
) -> MassCancel | Refusal:
    """Return the ``MassCancel`` of a request (symbol_id 0: every symbol), or why not."""
    sid, account = 0, own_account
    try:
        account = _account(request, own_account, None)
        sid, _ = _symbol(request, lookup, required=False)
    except _Refused as refused:
        return _stamp(refused, sid, 0, account)
    return MassCancel(sid, account)


def command_of(
    request: order_entry_pb2.OrderCommand,
    lookup: Callable[[str | int], Instrument | None],
    own_account: int | None,
) -> Command | Refusal:
    """Return the command of one ``OrderCommand`` of an OrderEntry stream, or why not."""
    which = request.WhichOneof("command")
    if which == "submit":
        return submit_command(request.submit, lookup, own_account)
    if which == "cancel":
        return cancel_command(request.cancel, lookup, own_account)
    if which == "modify":
        return modify_command(request.modify, lookup, own_account)
    if which == "cancel_replace":
        return cancel_replace_command(request.cancel_replace, lookup, own_account)
    if which == "mass_cancel":
        return mass_cancel_command(request.mass_cancel, lookup, own_account)
    return Refusal(
        "an OrderCommand without a command", api_error=ApiError.API_ERROR_INVALID_ARGUMENT
    )


# ---------------------------------------------------------------------------- instruments


def instrument_to_proto(instrument: Instrument) -> types_pb2.Instrument:
    """Return an instrument as a ``v1.Instrument``."""
    return types_pb2.Instrument(
        symbol=instrument.symbol,
        symbol_id=instrument.symbol_id,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
        min_qty_lots=instrument.min_qty_lots,
        max_qty_lots=instrument.max_qty_lots,
        price_band_bps=instrument.price_band_bps,
        reference_price_ticks=instrument.reference_price_ticks,
    )


def instrument_from_proto(message: types_pb2.Instrument) -> Instrument:
    """Return the ``Instrument`` of a ``v1.Instrument`` (``InstrumentError`` if invalid)."""
    return Instrument(
        symbol=message.symbol,
        symbol_id=message.symbol_id,
        tick_size=message.tick_size,
        lot_size=message.lot_size,
        min_qty_lots=message.min_qty_lots,
        max_qty_lots=message.max_qty_lots,
        price_band_bps=message.price_band_bps,
        reference_price_ticks=message.reference_price_ticks,
    )


# ---------------------------------------------------------------------------- views


def _level(grid: _Grid, price: int, qty: int, count: int) -> types_pb2.Level:
    return types_pb2.Level(
        price_ticks=price,
        price=grid.price(price),
        qty_lots=qty,
        qty=grid.qty(qty),
        order_count=count,
    )


def _levels(grid: _Grid, levels: Sequence[DepthLevel | PriceLevel]) -> list[types_pb2.Level]:
    return [_level(grid, lv.price_ticks, lv.qty_lots, lv.order_count) for lv in levels]


def depth_to_proto(depth: DepthSnapshot, instrument: Instrument) -> admin_pb2.DepthResponse:
    """Return a ``DepthSnapshot`` as a ``DepthResponse``."""
    grid = _grid(instrument)
    return admin_pb2.DepthResponse(
        symbol_id=depth.symbol_id,
        seq=depth.seq,
        bids=_levels(grid, depth.bids),
        asks=_levels(grid, depth.asks),
    )


def symbol_status_to_proto(view: SymbolView, instrument: Instrument) -> admin_pb2.SymbolStatus:
    """Return one symbol's status as a ``SymbolStatus``."""
    grid = _grid(instrument)
    s = view.status
    return _msg(
        admin_pb2.SymbolStatus,
        symbol=s.symbol,
        symbol_id=s.symbol_id,
        state=int(s.state),
        resting_orders=s.resting_orders,
        bid_orders=s.bid_orders,
        ask_orders=s.ask_orders,
        parked_stops=s.parked_stops,
        best_bid=_level(grid, s.best_bid_ticks, s.best_bid_qty_lots, 0),
        best_ask=_level(grid, s.best_ask_ticks, s.best_ask_qty_lots, 0),
        last_trade_price_ticks=s.last_trade_ticks,
        last_trade_price=grid.price(s.last_trade_ticks),
        trades=s.trades,
        event_seq=s.event_seq,
        last_enq_seq=s.last_enq_seq,
        fault=s.fault or "",
        host_id=view.host_id,
        lifecycle=view.lifecycle,
    )


def status_to_proto(
    status: VenueStatus,
    lookup: Callable[[str | int], Instrument | None],
    open_streams: int,
) -> admin_pb2.StatusResponse:
    """Return the venue's status as a ``StatusResponse``."""
    symbols = []
    for view in status.symbols:
        instrument = lookup(view.status.symbol_id)
        if instrument is not None:
            symbols.append(symbol_status_to_proto(view, instrument))
    return admin_pb2.StatusResponse(
        symbols=symbols,
        enq_seq=status.enq_seq,
        now_ns=status.now_ns,
        hosts=[
            admin_pb2.HostStatus(host_id=h.host_id, symbols=h.symbols, commands=h.commands)
            for h in status.hosts
        ],
        journaled=status.journaled,
        last_checkpoint_error=status.last_checkpoint_error or "",
        event_error=status.event_error or "",
        unwritten_events=status.unwritten_events,
        open_streams=open_streams,
    )


def book_view_to_proto(view: BookView, instrument: Instrument) -> admin_pb2.SnapshotResponse:
    """Return a symbol's full book as a ``SnapshotResponse``."""
    grid = _grid(instrument)
    return admin_pb2.SnapshotResponse(
        status=symbol_status_to_proto(view.symbol, instrument),
        orders=[
            _msg(
                admin_pb2.RestingOrder,
                order_id=o.order_id,
                account=o.account,
                side=o.side,
                price_ticks=o.price_ticks,
                price=grid.price(o.price_ticks),
                qty_lots=o.qty_lots,
                qty=grid.qty(o.qty_lots),
                hidden_lots=o.hidden_lots,
            )
            for o in view.orders
        ],
        state_hash=view.state_hash,
    )


def open_orders_to_proto(
    view: BookView, instrument: Instrument, account: int | None
) -> list[order_entry_pb2.OpenOrder]:
    """Return the resting orders of ``account`` (None: all) of one book, priority order."""
    grid = _grid(instrument)
    sid = instrument.symbol_id
    return [
        _msg(
            order_entry_pb2.OpenOrder,
            symbol_id=sid,
            order_id=o.order_id,
            account=o.account,
            side=o.side,
            price_ticks=o.price_ticks,
            price=grid.price(o.price_ticks),
            qty_lots=o.qty_lots,
            qty=grid.qty(o.qty_lots),
            hidden_lots=o.hidden_lots,
        )
        for o in view.orders
        if account is None or o.account == account
    ]


def open_order_fields(symbol_id: int, info: OrderInfo, instrument: Instrument) -> dict[str, Any]:
    """Return an ``OpenOrder``'s fields for one live order (displayed and hidden quantity)."""
    grid = _grid(instrument)
    return {
        "symbol_id": symbol_id,
        "order_id": info.order_id,
        "account": info.account,
        "side": info.side,
        "price_ticks": info.price_ticks,
        "price": grid.price(info.price_ticks),
        "qty_lots": info.displayed_qty_lots,
        "qty": grid.qty(info.displayed_qty_lots),
        "hidden_lots": info.hidden_qty_lots,
    }


def order_info_to_proto(info: OrderInfo, instrument: Instrument) -> order_entry_pb2.OrderInfo:
    """Return one live order as a ``v1.OrderInfo``."""
    grid = _grid(instrument)
    return _msg(
        order_entry_pb2.OrderInfo,
        symbol_id=instrument.symbol_id,
        order_id=info.order_id,
        account=info.account,
        side=info.side,
        order_type=info.order_type,
        tif=info.tif,
        price_ticks=info.price_ticks,
        price=grid.price(info.price_ticks),
        stop_price_ticks=info.stop_price_ticks,
        stop_price=grid.price(info.stop_price_ticks),
        leaves_qty_lots=info.leaves_qty_lots,
        leaves_qty=grid.qty(info.leaves_qty_lots),
        displayed_qty_lots=info.displayed_qty_lots,
        hidden_qty_lots=info.hidden_qty_lots,
        filled_qty_lots=info.filled_qty_lots,
        filled_qty=grid.qty(info.filled_qty_lots),
        original_qty_lots=info.original_qty_lots,
        original_qty=grid.qty(info.original_qty_lots),
        queue_position=info.queue_position,
        queue_ahead_lots=info.queue_ahead_lots,
        entry_ts_ns=info.entry_ts_ns,
        expire_ts_ns=info.expire_ts_ns,
        parked=info.parked,
    )


def client_order_to_proto(
    view: object, instrument: Instrument | None
) -> order_entry_pb2.GetClientOrderResponse:
    """Return a ``ClientOrderView`` as a ``GetClientOrderResponse``."""
    from whistle.api.backend import ClientOrderView

    assert isinstance(view, ClientOrderView)
    return _msg(
        order_entry_pb2.GetClientOrderResponse,
        symbol_id=view.symbol_id,
        order_id=view.order_id,
        account=view.account,
        client_order_id=view.client_order_id,
        enq_seq=view.enq_seq,
        outcome=view.outcome,
        reason=view.reason,
        events=[event_to_proto(e, instrument) for e in view.events],
    )


# ---------------------------------------------------------------------------- market data


def md_updates_to_proto(
    updates: Sequence[Update], instrument: Instrument | None
) -> list[market_data_pb2.MarketDataUpdate]:
    """Return the hub's records of one symbol as ``MarketDataUpdate`` messages."""
    return [market_data_pb2.MarketDataUpdate(**u) for u in md_update_fields(updates, instrument)]


def md_batch_bytes(updates: Sequence[Update], instrument: Instrument | None) -> bytes:
    """Return the serialized ``MarketDataBatch`` of the hub's records of one symbol.

    Built in one protobuf construction from plain fields (``md_update_fields``).
    """
    batch = market_data_pb2.MarketDataBatch(updates=md_update_fields(updates, instrument))
    return batch.SerializeToString()


def _level_fields(grid: _Grid, price: int, qty: int, count: int) -> dict[str, Any]:
    return {
        "price_ticks": price,
        "price": grid.price(price),
        "qty_lots": qty,
        "qty": grid.qty(qty),
        "order_count": count,
    }


def md_update_fields(
    updates: Sequence[Update], instrument: Instrument | None
) -> list[dict[str, Any]]:
    """Return the fields of each record's ``MarketDataUpdate`` as plain dicts."""
    from whistle.api.marketdata import Bbo, Level, Snapshot, Trade

    if instrument is not None:
        grid = _grid(instrument)
        symbol = instrument.symbol
    else:
        grid = _Grid.__new__(_Grid)
        grid.price = grid.qty = _no_text
        symbol = ""
    price, qty = grid.price, grid.qty
    out: list[dict[str, Any]] = []
    for u in updates:
        kind = type(u)
        head: dict[str, Any] = {
            "symbol_id": u.symbol_id,
            "symbol": symbol,
            "md_seq": u.md_seq,
            "ts_ns": u.ts_ns,
        }
        if kind is Level:
            assert isinstance(u, Level)
            head["level"] = {
                "side": u.side,
                "level": _level_fields(grid, u.price_ticks, u.qty_lots, u.order_count),
            }
        elif kind is Bbo:
            assert isinstance(u, Bbo)
            head["bbo"] = {
                "bid": _level_fields(grid, u.bid_price_ticks, u.bid_qty_lots, 0),
                "ask": _level_fields(grid, u.ask_price_ticks, u.ask_qty_lots, 0),
            }
        elif kind is Trade:
            assert isinstance(u, Trade)
            head["trade"] = {
                "trade_id": u.trade_id,
                "price_ticks": u.price_ticks,
                "price": price(u.price_ticks),
                "qty_lots": u.qty_lots,
                "qty": qty(u.qty_lots),
                "aggressor_side": u.aggressor_side,
            }
        elif kind is Snapshot:
            assert isinstance(u, Snapshot)
            head["snapshot"] = {
                "cause": u.cause,
                "state": u.state,
                "bids": [
                    _level_fields(grid, lv.price_ticks, lv.qty_lots, lv.order_count)
                    for lv in u.bids
                ],
                "asks": [
                    _level_fields(grid, lv.price_ticks, lv.qty_lots, lv.order_count)
                    for lv in u.asks
                ],
                "bid": _level_fields(grid, u.bid_price_ticks, u.bid_qty_lots, 0),
                "ask": _level_fields(grid, u.ask_price_ticks, u.ask_qty_lots, 0),
                "last_trade_price_ticks": u.last_trade_price_ticks,
                "last_trade_price": price(u.last_trade_price_ticks),
            }
        else:
            head["status"] = {"state": u.state}  # type: ignore[union-attr]  # a Status
        out.append(head)
    return out
