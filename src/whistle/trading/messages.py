"""Pipeline messages: market data -> strategy -> risk -> gateway, and the updates back.

Every message is a frozen msgspec Struct (``gc=False``: they hold only ints, bools, a short
str and tuples of ints) plus a fixed-size little-endian binary record, so that it crosses
an SPSC ring (``whistle.ipc``) without pickling:

- ``SIZE``: the record's size in bytes (a ``ClassVar``);
- ``pack_into(buf, offset=0)``: write the record into a writable buffer;
- ``unpack_from(buf, offset=0)``: read one back (a classmethod).

Units: prices in instrument ticks, quantities in lots, times in ns, money (fees) in
tick-lots (``price_ticks * qty_lots``); all ints.

Record layout. Byte 0 is the record's *type code* (``MarketEvent`` 1, ``SignalEvent`` 2,
``RiskDecision`` 3, ``Order`` 4, ``OrderUpdate`` 5), so a buffer holding another message is
refused rather than misread. Then the fields in declaration order: prices, quantities, times
and fees as signed 64-bit ints (``q``), ids, accounts and sequence numbers as unsigned 64-bit
(``Q``), symbol and strategy ids and reason codes as unsigned 32-bit (``I``), enums, sides and
flags as unsigned bytes (``B``). No padding (``struct`` with ``<``).

Validation. ``pack_into`` refuses, with a ``MessageFormatError`` (a ``ValueError``) naming the
field, any value that does not fit its field (an int out of range, a float, a level tuple
that is not 10 long) and any enum field that holds no member of its enum: nothing is ever
truncated. ``unpack_from`` refuses a buffer too short, a wrong type code and an enum field
holding an unknown value. Everything ``pack_into`` accepts, ``unpack_from`` gives back equal.
A refused ``pack_into`` may leave part of the record in the buffer, but with type code 0, so
that it can never be read back as a message; a buffer too short is left untouched.

Why one module past 800 lines: the five records share the codec helpers and type codes, and
a layout change must be made (and reviewed) for all of them together.

Why five hand-written ``pack_into`` / ``unpack_from`` pairs, not one table-driven codec: they
are on the ring path (every market event, signal, decision, order and update of the
pipeline crosses a ring packed and comes out unpacked), and a table costs about as much as
the ring itself. Measured in thread CPU time per call (best of 7 x 100,000, CPython 3.11,
``.venv/bin/python tests/bench/message_codec.py``), hand-written vs the best table-driven
version (``operator.attrgetter`` over the field names, enum checks and decodes, booleans,
levels and ``text`` from a per-record table): pack / unpack MarketEvent (BOOK, 10 levels)
588 / 584 ns vs 1,253 / 1,232; SignalEvent 167 / 232 vs 451 / 440; Order 204 / 258 vs
513 / 486; OrderUpdate 237 / 293 vs 608 / 552. One ring trip (``try_push`` + ``try_pop``)
is ~510 ns, so a signal's pack + ring + unpack would go from ~900 ns to ~1,390 ns (+55%).
The cost is the generic part itself (building the attribute tuple, looping over the checks,
rebuilding the argument list); a codec generated from the table with ``exec`` would run as
fast as this code but could be neither type-checked nor compiled. So the duplication stays,
held together by tests/unit/trading/test_messages.py (each record's layout, refusals by
field name, enum codes) and tests/property/test_trading_messages.py (every record
round-trips at any offset).
"""

from __future__ import annotations

import struct
from enum import IntEnum, unique
from typing import Any, ClassVar, Final, Self, final

import msgspec

from whistle.core.enums import Liquidity, Side, TimeInForce

__all__ = [
    "LEVELS",
    "ZERO_LEVELS",
    "MarketEvent",
    "MarketKind",
    "MessageFormatError",
    "Order",
    "OrderAction",
    "OrderUpdate",
    "RiskDecision",
    "RiskReason",
    "SignalEvent",
    "SignalKind",
    "UpdateKind",
]

LEVELS: Final = 10
"""Book levels per side carried by a ``MarketEvent``."""
ZERO_LEVELS: Final[tuple[int, ...]] = (0,) * LEVELS
"""Ten zeros: the levels of an event that carries no book (or the unused levels of one)."""


class MessageFormatError(ValueError):
    """A message cannot be packed (a field does not fit) or a buffer is not a valid record."""


@unique
class MarketKind(IntEnum):
    """What a ``MarketEvent`` reports."""

    BOOK = 1
    """The book changed; the event carries the top ``LEVELS`` levels of each side."""
    BBO = 2
    """The best bid or offer (price or quantity) changed; levels carry at least level 1."""
    TRADE = 3
    """A trade printed: ``price``, ``qty`` and ``side`` (the aggressor's side, or 0)."""
    STATUS = 4
    """The symbol's trading status changed (``qty`` carries the ``TradingState`` value)."""
    DISCONNECT = 5
    """The feed was lost: the risk stage trips its kill switch."""
    END = 6
    """The feed ended (end of file or of session): no more events follow."""


@unique
class SignalKind(IntEnum):
    """What a strategy asks for."""

    BUY = 1
    """A new buy order: ``client_order_id``, ``price``, ``qty``, ``tif``, ``post_only``."""
    SELL = 2
    """A new sell order (same fields as ``BUY``)."""
    CANCEL = 3
    """Cancel the open order ``client_order_id`` (price and qty are ignored)."""
    MODIFY = 4
    """Change the open order ``client_order_id``: ``price`` and/or ``qty`` (the new remaining
    quantity); ``0`` leaves that field unchanged, as in ``whistle.core.ModifyOrder``."""


@unique
class RiskReason(IntEnum):
    """Why the risk stage refused a signal (``NONE``: it approved). Range ``6xxx``.

    The numbering follows exchange-core's per-subsystem ranges, in a range of its own: the
    core ``RejectReason`` uses ``1xxx`` (validation), ``2xxx`` (symbol state) and ``3xxx``
    (matching), so an ``OrderUpdate.reason`` names its source by its value alone
    (``whistle.trading.risk`` documents each check in detail).
    """

    NONE = 0
    """Approved."""
    MAX_POSITION = 6001
    """The position, if this order and every open order on its side filled, would pass
    ``max_position`` (in absolute lots)."""
    MAX_ORDER_QTY = 6002
    """The order's quantity is above ``max_order_qty``."""
    MAX_ORDER_NOTIONAL = 6003
    """The order's notional (``price * qty``, tick-lots) is above ``max_order_notional``."""
    MAX_OPEN_NOTIONAL = 6004
    """The notional of all open orders plus this one would pass ``max_open_notional``."""
    ORDER_RATE = 6005
    """The order-rate token bucket (``max_order_rate`` per second, ``order_burst`` deep) is
    empty at the signal's time."""
    MAX_OPEN_ORDERS = 6006
    """The account already has ``max_open_orders`` open orders on this symbol."""
    PRICE_COLLAR = 6007
    """The price is more than ``collar_bps`` basis points from the reference price (the mid,
    else the last trade)."""
    SELF_CROSS = 6008
    """The order would trade against the account's own resting order (a buy at or above
    its own best ask, a sell at or below its own best bid)."""
    KILL_SWITCH = 6009
    """The kill switch is tripped (feed disconnect or ``kill``): only cancels pass until
    ``reset``."""
    UNKNOWN_ORDER = 6010
    """A cancel or modify names a client order id with no open order."""
    MALFORMED = 6011
    """The signal is not well formed: unknown kind, non-positive quantity or price, a
    value outside ``whistle.core.limits``, a duplicate client order id, an unknown symbol."""
    NO_REFERENCE_PRICE = 6012
    """A price collar is set but there is neither a mid nor a last trade to measure from."""


@unique
class OrderAction(IntEnum):
    """What an ``Order`` asks the gateway to do."""

    NEW = 1
    CANCEL = 2
    MODIFY = 3


@unique
class UpdateKind(IntEnum):
    """What happened to an order (``OrderUpdate.kind``)."""

    ACCEPTED = 1
    """The venue accepted the order (it rests or trades next)."""
    FILLED = 2
    """A fill: ``fill_price``, ``fill_qty``, ``liquidity``, ``fee``; ``leaves_qty`` after it."""
    CANCELLED = 3
    """The order (or its rest) left the book; ``reason`` is the ``CancelCause``."""
    REJECTED = 4
    """Refused: by risk (``reason`` a ``RiskReason``) or the venue (a core ``RejectReason``)."""
    EXPIRED = 5
    """A GTD or DAY order expired."""
    MODIFIED = 6
    """A modify took effect: ``price`` and ``leaves_qty`` are the order's new values."""


# -- record codecs -----------------------------------------------------------------------

_MARKET_TAG: Final = 1
_SIGNAL_TAG: Final = 2
_DECISION_TAG: Final = 3
_ORDER_TAG: Final = 4
_UPDATE_TAG: Final = 5

_TAG_NAMES: Final = {
    _MARKET_TAG: "MarketEvent",
    _SIGNAL_TAG: "SignalEvent",
    _DECISION_TAG: "RiskDecision",
    _ORDER_TAG: "Order",
    _UPDATE_TAG: "OrderUpdate",
}

_MARKET_KINDS: Final[dict[int, MarketKind]] = {int(m): m for m in MarketKind}
_SIGNAL_KINDS: Final[dict[int, SignalKind]] = {int(m): m for m in SignalKind}
_RISK_REASONS: Final[dict[int, RiskReason]] = {int(m): m for m in RiskReason}
_ACTIONS: Final[dict[int, OrderAction]] = {int(m): m for m in OrderAction}
_UPDATE_KINDS: Final[dict[int, UpdateKind]] = {int(m): m for m in UpdateKind}
_SIDES: Final[dict[int, Side]] = {int(m): m for m in Side}
# Fields that may also hold 0 ("none"): a trade of unknown aggressor, an update without a side,
# a fill without liquidity, a cancel signal without a time in force.
_SIDES_OR_0: Final[dict[int, int]] = {0: 0, **_SIDES}
_LIQUIDITY_OR_0: Final[dict[int, int]] = {0: 0, **{int(m): m for m in Liquidity}}
_TIFS_OR_0: Final[dict[int, int]] = {0: 0, **{int(m): m for m in TimeInForce}}

_INT_RANGES: Final = {
    "q": (-(1 << 63), (1 << 63) - 1, "a signed 64-bit int"),
    "Q": (0, (1 << 64) - 1, "an unsigned 64-bit int"),
    "I": (0, (1 << 32) - 1, "an unsigned 32-bit int"),
    "B": (0, 255, "an unsigned byte"),
}


def _field_error(
    cls_name: str, fields: tuple[tuple[str, str], ...], values: tuple[Any, ...]
) -> str:
    """Name the first field whose value does not fit its format (slow path: errors only)."""
    for (name, code), value in zip(fields, values, strict=True):
        if code == "L":  # a tuple of LEVELS signed 64-bit ints
            if not isinstance(value, tuple) or len(value) != LEVELS:
                return f"{cls_name}.{name} must be a tuple of {LEVELS} ints, was {value!r}"
            for i, v in enumerate(value):
                if not isinstance(v, int):
                    return f"{cls_name}.{name}[{i}] must be an int, was {v!r}"
                lo, hi, _ = _INT_RANGES["q"]
                if not lo <= v <= hi:
                    return f"{cls_name}.{name}[{i}] must fit a signed 64-bit int, was {v}"
            continue
        lo, hi, what = _INT_RANGES[code]
        if not isinstance(value, int):
            return f"{cls_name}.{name} must be an int ({what}), was {value!r}"
        if not lo <= value <= hi:
            return f"{cls_name}.{name} must fit {what} ({lo}..{hi}), was {value}"
    return f"{cls_name}: a field does not fit its record"


def _pack_failed(
    cls_name: str,
    fields: tuple[tuple[str, str], ...],
    values: tuple[Any, ...],
    size: int,
    buf: Any,
    offset: int,
    error: Exception,
) -> MessageFormatError:
    try:
        view = memoryview(buf)
    except TypeError:
        return MessageFormatError(f"{cls_name} record: a writable bytes-like buffer is required")
    if view.readonly:
        return MessageFormatError(f"{cls_name} record: the buffer is read-only")
    start = offset + view.nbytes if offset < 0 else offset  # struct counts < 0 from the end
    room = view.nbytes - start
    if start < 0 or room < size:
        return MessageFormatError(
            f"{cls_name} record needs {size} bytes at offset {offset}, the buffer has"
            f" {max(room, 0) if start >= 0 else 0} there"
        )
    # struct writes field by field: the bytes before the bad field are already in the buffer.
    # Clear the type code so that the half-written record can never be read as a valid one.
    try:
        flat = view if view.format == "B" else view.cast("B")
        flat[start] = 0
    except (TypeError, ValueError):  # a view that cannot be cast to bytes: nothing was written
        pass
    message = _field_error(cls_name, fields, values)
    if message.endswith("does not fit its record"):
        message = f"{message} ({error})"
    return MessageFormatError(message)


def _short(cls_name: str, size: int, buf: Any, offset: int) -> MessageFormatError:
    try:
        have = memoryview(buf).nbytes - offset
    except TypeError:
        return MessageFormatError(f"{cls_name} record: a bytes-like buffer is required")
    return MessageFormatError(
        f"{cls_name} record needs {size} bytes at offset {offset}, the buffer has"
        f" {max(have, 0)} there"
    )


def _bad_tag(cls_name: str, tag: int, offset: int) -> MessageFormatError:
    other = _TAG_NAMES.get(tag)
    seen = f"a {other} record" if other else f"type code {tag}"
    return MessageFormatError(f"expected a {cls_name} record at offset {offset}, found {seen}")


def _bad_enum(cls_name: str, name: str, value: int, allowed: dict[int, Any]) -> MessageFormatError:
    return MessageFormatError(f"{cls_name}.{name} must be one of {sorted(allowed)}, was {value!r}")


# -- MarketEvent -------------------------------------------------------------------------

_MARKET_FIELDS: Final = (
    ("kind", "B"),
    ("symbol_id", "I"),
    ("ts_ns", "q"),
    ("recv_ts_ns", "q"),
    ("seq", "Q"),
    ("price", "q"),
    ("qty", "q"),
    ("side", "B"),
    ("n_bid", "B"),
    ("n_ask", "B"),
    ("bid_px", "L"),
    ("bid_qty", "L"),
    ("ask_px", "L"),
    ("ask_qty", "L"),
)
_MARKET: Final = struct.Struct(f"<BBIqqQqqBBB{LEVELS * 4}q")
_L0: Final = 11  # index of bid_px[0] in the unpacked tuple
_L1: Final = _L0 + LEVELS
_L2: Final = _L1 + LEVELS
_L3: Final = _L2 + LEVELS
_L4: Final = _L3 + LEVELS


@final
class MarketEvent(msgspec.Struct, frozen=True, gc=False):
    """One market-data event for one symbol.

    ``BOOK`` and ``BBO`` events carry the book: ``n_bid`` / ``n_ask`` levels in use (at most
    ``LEVELS``), best first, in ``bid_px`` / ``bid_qty`` / ``ask_px`` / ``ask_qty`` (each a
    tuple of exactly ``LEVELS`` ints; unused levels 0). ``TRADE`` events carry ``price``,
    ``qty`` and ``side`` (the aggressor's ``Side`` value, or 0 when the feed does not say).
    ``ts_ns`` is the exchange's time, ``recv_ts_ns`` when the stage received it (latency is
    measured from it), ``seq`` the feed's sequence number.
    """

    SIZE: ClassVar[int] = _MARKET.size

    kind: MarketKind
    symbol_id: int
    ts_ns: int
    recv_ts_ns: int = 0
    seq: int = 0
    price: int = 0
    qty: int = 0
    side: int = 0
    n_bid: int = 0
    n_ask: int = 0
    bid_px: tuple[int, ...] = ZERO_LEVELS
    bid_qty: tuple[int, ...] = ZERO_LEVELS
    ask_px: tuple[int, ...] = ZERO_LEVELS
    ask_qty: tuple[int, ...] = ZERO_LEVELS

    def pack_into(self, buf: Any, offset: int = 0) -> None:
        """Write this event's record (``SIZE`` bytes) into ``buf`` at ``offset``."""
        try:
            if (
                self.kind not in _MARKET_KINDS
                or self.side not in _SIDES_OR_0
                or not 0 <= self.n_bid <= LEVELS
                or not 0 <= self.n_ask <= LEVELS
            ):
                raise self._enum_error()
            _MARKET.pack_into(
                buf,
                offset,
                _MARKET_TAG,
                self.kind,
                self.symbol_id,
                self.ts_ns,
                self.recv_ts_ns,
                self.seq,
                self.price,
                self.qty,
                self.side,
                self.n_bid,
                self.n_ask,
                *self.bid_px,
                *self.bid_qty,
                *self.ask_px,
                *self.ask_qty,
            )
        except (struct.error, TypeError, OverflowError) as error:
            raise _pack_failed(
                "MarketEvent", _MARKET_FIELDS, self._values(), _MARKET.size, buf, offset, error
            ) from None

    @classmethod
    def unpack_from(cls, buf: Any, offset: int = 0) -> Self:
        """Read one ``MarketEvent`` record from ``buf`` at ``offset``."""
        try:
            r = _MARKET.unpack_from(buf, offset)
        except (struct.error, TypeError):
            raise _short("MarketEvent", _MARKET.size, buf, offset) from None
        if r[0] != _MARKET_TAG:
            raise _bad_tag("MarketEvent", r[0], offset)
        kind = _MARKET_KINDS.get(r[1])
        side = _SIDES_OR_0.get(r[8])
        if kind is None:
            raise _bad_enum("MarketEvent", "kind", r[1], _MARKET_KINDS)
        if side is None:
            raise _bad_enum("MarketEvent", "side", r[8], _SIDES_OR_0)
        if r[9] > LEVELS or r[10] > LEVELS:
            raise MessageFormatError(
                f"MarketEvent.n_bid/n_ask must be 0..{LEVELS}, were {r[9]}/{r[10]}"
            )
        return cls(
            kind,
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            side,
            r[9],
            r[10],
            r[_L0:_L1],
            r[_L1:_L2],
            r[_L2:_L3],
            r[_L3:_L4],
        )

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name, _ in _MARKET_FIELDS)

    def _enum_error(self) -> MessageFormatError:
        if self.kind not in _MARKET_KINDS:
            return _bad_enum("MarketEvent", "kind", self.kind, _MARKET_KINDS)
        if self.side not in _SIDES_OR_0:
            return _bad_enum("MarketEvent", "side", self.side, _SIDES_OR_0)
        return MessageFormatError(
            f"MarketEvent.n_bid/n_ask must be 0..{LEVELS}, were {self.n_bid!r}/{self.n_ask!r}"
        )


# -- SignalEvent -------------------------------------------------------------------------

_SIGNAL_FIELDS: Final = (
    ("kind", "B"),
    ("strategy_id", "I"),
    ("symbol_id", "I"),
    ("client_order_id", "Q"),
    ("price", "q"),
    ("qty", "q"),
    ("tif", "B"),
    ("post_only", "B"),
    ("ts_ns", "q"),
)
_SIGNAL_FMT: Final = "BIIQqqBBq"
_SIGNAL: Final = struct.Struct("<B" + _SIGNAL_FMT)


@final
class SignalEvent(msgspec.Struct, frozen=True, gc=False):
    """What a strategy asks for: a new buy or sell, a cancel or a modify of one of its orders.

    A ``SignalEvent`` is not checked when it is built: the risk stage refuses a bad one with
    ``RiskReason.MALFORMED``. Its record carries any value that fits its field (a negative
    quantity crosses a ring and is refused by risk), but ``kind`` must be a ``SignalKind``
    and ``tif`` a ``TimeInForce`` value or 0 to be packed. ``ts_ns`` is when the strategy
    decided (the clock its context gives it).
    """

    SIZE: ClassVar[int] = _SIGNAL.size

    kind: SignalKind
    strategy_id: int
    symbol_id: int
    client_order_id: int
    price: int = 0
    qty: int = 0
    tif: int = TimeInForce.DAY
    post_only: bool = False
    ts_ns: int = 0

    def pack_into(self, buf: Any, offset: int = 0) -> None:
        """Write this signal's record (``SIZE`` bytes) into ``buf`` at ``offset``."""
        try:
            if self.kind not in _SIGNAL_KINDS or self.tif not in _TIFS_OR_0:
                raise self._enum_error()
            _SIGNAL.pack_into(
                buf,
                offset,
                _SIGNAL_TAG,
                self.kind,
                self.strategy_id,
                self.symbol_id,
                self.client_order_id,
                self.price,
                self.qty,
                self.tif,
                1 if self.post_only else 0,
                self.ts_ns,
            )
        except (struct.error, TypeError, OverflowError) as error:
            raise _pack_failed(
                "SignalEvent", _SIGNAL_FIELDS, self._values(), _SIGNAL.size, buf, offset, error
            ) from None

    @classmethod
    def unpack_from(cls, buf: Any, offset: int = 0) -> Self:
        """Read one ``SignalEvent`` record from ``buf`` at ``offset``."""
        try:
            r = _SIGNAL.unpack_from(buf, offset)
        except (struct.error, TypeError):
            raise _short("SignalEvent", _SIGNAL.size, buf, offset) from None
        if r[0] != _SIGNAL_TAG:
            raise _bad_tag("SignalEvent", r[0], offset)
        kind = _SIGNAL_KINDS.get(r[1])
        tif = _TIFS_OR_0.get(r[7])
        if kind is None or tif is None or r[8] > 1:
            return cls._from_fields(r, 1)  # raises, naming the field
        return cls(kind, r[2], r[3], r[4], r[5], r[6], tif, r[8] == 1, r[9])

    @classmethod
    def _from_fields(cls, r: tuple[Any, ...], i: int) -> Self:
        kind = _SIGNAL_KINDS.get(r[i])
        tif = _TIFS_OR_0.get(r[i + 6])
        if kind is None:
            raise _bad_enum("SignalEvent", "kind", r[i], _SIGNAL_KINDS)
        if tif is None:
            raise _bad_enum("SignalEvent", "tif", r[i + 6], _TIFS_OR_0)
        if r[i + 7] > 1:
            raise MessageFormatError(f"SignalEvent.post_only must be 0 or 1, was {r[i + 7]}")
        return cls(
            kind, r[i + 1], r[i + 2], r[i + 3], r[i + 4], r[i + 5], tif, r[i + 7] == 1, r[i + 8]
        )

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name, _ in _SIGNAL_FIELDS)

    def _enum_error(self) -> MessageFormatError:
        if self.kind not in _SIGNAL_KINDS:
            return _bad_enum("SignalEvent", "kind", self.kind, _SIGNAL_KINDS)
        return _bad_enum("SignalEvent", "tif", self.tif, _TIFS_OR_0)


# -- RiskDecision ------------------------------------------------------------------------

_DECISION_FIELDS: Final = (
    ("approved", "B"),
    ("reason", "I"),
    ("ts_ns", "q"),
    *(("signal." + name, code) for name, code in _SIGNAL_FIELDS),
)
_DECISION: Final = struct.Struct("<BBIq" + _SIGNAL_FMT)


@final
class RiskDecision(msgspec.Struct, frozen=True, gc=False):
    """The risk stage's verdict on one signal: approved (``reason`` ``NONE``) or refused.

    ``ts_ns`` is the time the check ran at (the ``now_ns`` given to ``RiskEngine.check``).
    A refusal is a value, never an exception.
    """

    SIZE: ClassVar[int] = _DECISION.size

    signal: SignalEvent
    approved: bool
    reason: RiskReason
    ts_ns: int

    def pack_into(self, buf: Any, offset: int = 0) -> None:
        """Write this decision's record (``SIZE`` bytes) into ``buf`` at ``offset``."""
        s = self.signal
        try:
            if (
                type(s) is not SignalEvent
                or s.kind not in _SIGNAL_KINDS
                or s.tif not in _TIFS_OR_0
                or self.reason not in _RISK_REASONS
            ):
                raise self._enum_error()
            _DECISION.pack_into(
                buf,
                offset,
                _DECISION_TAG,
                1 if self.approved else 0,
                self.reason,
                self.ts_ns,
                s.kind,
                s.strategy_id,
                s.symbol_id,
                s.client_order_id,
                s.price,
                s.qty,
                s.tif,
                1 if s.post_only else 0,
                s.ts_ns,
            )
        except (struct.error, TypeError, OverflowError) as error:
            values = (self.approved, self.reason, self.ts_ns, *s._values())
            raise _pack_failed(
                "RiskDecision", _DECISION_FIELDS, values, _DECISION.size, buf, offset, error
            ) from None

    @classmethod
    def unpack_from(cls, buf: Any, offset: int = 0) -> Self:
        """Read one ``RiskDecision`` record from ``buf`` at ``offset``."""
        try:
            r = _DECISION.unpack_from(buf, offset)
        except (struct.error, TypeError):
            raise _short("RiskDecision", _DECISION.size, buf, offset) from None
        if r[0] != _DECISION_TAG:
            raise _bad_tag("RiskDecision", r[0], offset)
        reason = _RISK_REASONS.get(r[2])
        if reason is None:
            raise _bad_enum("RiskDecision", "reason", r[2], _RISK_REASONS)
        if r[1] > 1:
            raise MessageFormatError(f"RiskDecision.approved must be 0 or 1, was {r[1]}")
        return cls(SignalEvent._from_fields(r, 4), r[1] == 1, reason, r[3])

    def _enum_error(self) -> MessageFormatError:
        s = self.signal
        if type(s) is not SignalEvent:
            return MessageFormatError(f"RiskDecision.signal must be a SignalEvent, was {s!r}")
        if self.reason not in _RISK_REASONS:
            return _bad_enum("RiskDecision", "reason", self.reason, _RISK_REASONS)
        return s._enum_error()


# -- Order -------------------------------------------------------------------------------

_ORDER_FIELDS: Final = (
    ("action", "B"),
    ("client_order_id", "Q"),
    ("account", "Q"),
    ("symbol_id", "I"),
    ("side", "B"),
    ("price", "q"),
    ("qty", "q"),
    ("tif", "B"),
    ("post_only", "B"),
    ("ts_ns", "q"),
)
_ORDER: Final = struct.Struct("<BBQQIBqqBBq")


@final
class Order(msgspec.Struct, frozen=True, gc=False):
    """What the gateway is asked to do: enter, cancel or modify one order of ``account``.

    ``NEW``: every field. ``CANCEL``: ``client_order_id``, ``account``, ``symbol_id`` and the
    order's ``side`` (price and qty 0). ``MODIFY``: the new ``price`` and remaining ``qty``,
    each ``0`` for unchanged. ``ts_ns`` is when risk approved it.
    """

    SIZE: ClassVar[int] = _ORDER.size

    action: OrderAction
    client_order_id: int
    account: int
    symbol_id: int
    side: Side
    price: int = 0
    qty: int = 0
    tif: int = TimeInForce.DAY
    post_only: bool = False
    ts_ns: int = 0

    def pack_into(self, buf: Any, offset: int = 0) -> None:
        """Write this order's record (``SIZE`` bytes) into ``buf`` at ``offset``."""
        try:
            if self.action not in _ACTIONS or self.side not in _SIDES or self.tif not in _TIFS_OR_0:
                raise self._enum_error()
            _ORDER.pack_into(
                buf,
                offset,
                _ORDER_TAG,
                self.action,
                self.client_order_id,
                self.account,
                self.symbol_id,
                self.side,
                self.price,
                self.qty,
                self.tif,
                1 if self.post_only else 0,
                self.ts_ns,
            )
        except (struct.error, TypeError, OverflowError) as error:
            raise _pack_failed(
                "Order", _ORDER_FIELDS, self._values(), _ORDER.size, buf, offset, error
            ) from None

    @classmethod
    def unpack_from(cls, buf: Any, offset: int = 0) -> Self:
        """Read one ``Order`` record from ``buf`` at ``offset``."""
        try:
            r = _ORDER.unpack_from(buf, offset)
        except (struct.error, TypeError):
            raise _short("Order", _ORDER.size, buf, offset) from None
        if r[0] != _ORDER_TAG:
            raise _bad_tag("Order", r[0], offset)
        action = _ACTIONS.get(r[1])
        side = _SIDES.get(r[5])
        tif = _TIFS_OR_0.get(r[8])
        if action is None:
            raise _bad_enum("Order", "action", r[1], _ACTIONS)
        if side is None:
            raise _bad_enum("Order", "side", r[5], _SIDES)
        if tif is None:
            raise _bad_enum("Order", "tif", r[8], _TIFS_OR_0)
        if r[9] > 1:
            raise MessageFormatError(f"Order.post_only must be 0 or 1, was {r[9]}")
        return cls(action, r[2], r[3], r[4], side, r[6], r[7], tif, r[9] == 1, r[10])

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name, _ in _ORDER_FIELDS)

    def _enum_error(self) -> MessageFormatError:
        if self.action not in _ACTIONS:
            return _bad_enum("Order", "action", self.action, _ACTIONS)
        if self.side not in _SIDES:
            return _bad_enum("Order", "side", self.side, _SIDES)
        return _bad_enum("Order", "tif", self.tif, _TIFS_OR_0)


# -- OrderUpdate -------------------------------------------------------------------------

_UPDATE_FIELDS: Final = (
    ("kind", "B"),
    ("client_order_id", "Q"),
    ("symbol_id", "I"),
    ("side", "B"),
    ("price", "q"),
    ("qty", "q"),
    ("leaves_qty", "q"),
    ("fill_price", "q"),
    ("fill_qty", "q"),
    ("liquidity", "B"),
    ("fee", "q"),
    ("reason", "I"),
    ("ts_ns", "q"),
    ("venue_order_id", "Q"),
)
_UPDATE: Final = struct.Struct("<BBQIBqqqqqBqIqQ")


@final
class OrderUpdate(msgspec.Struct, frozen=True, gc=False):
    """What happened to one order, reported back to the strategy (and to risk).

    ``price`` / ``qty`` are the order's limit price and original quantity (after a
    ``MODIFIED``: its new price and remaining quantity), ``leaves_qty`` what is left open.
    A ``FILLED`` update carries ``fill_price``, ``fill_qty``, ``liquidity`` (a core
    ``Liquidity`` value, or 0) and ``fee`` (tick-lots; negative is a rebate). ``reason`` is a
    code: a ``RiskReason`` (rejected by risk), a core ``RejectReason`` (rejected by the venue)
    or a ``CancelCause`` (cancelled or expired); 0 when there is none. ``side`` is a ``Side``
    value, or 0 when the gateway does not know it (a reject of an unknown order).

    ``text`` is a short human-readable explanation for logs and reports. It is NOT part of
    the fixed record: a record carries only the ``reason`` code, and ``unpack_from`` gives
    ``text == ""`` (so an update equals its round trip only when its text is empty).
    """

    SIZE: ClassVar[int] = _UPDATE.size

    kind: UpdateKind
    client_order_id: int
    symbol_id: int
    side: int = 0
    price: int = 0
    qty: int = 0
    leaves_qty: int = 0
    fill_price: int = 0
    fill_qty: int = 0
    liquidity: int = 0
    fee: int = 0
    reason: int = 0
    text: str = ""
    ts_ns: int = 0
    venue_order_id: int = 0

    def pack_into(self, buf: Any, offset: int = 0) -> None:
        """Write this update's record (``SIZE`` bytes, without ``text``) into ``buf``."""
        try:
            if (
                self.kind not in _UPDATE_KINDS
                or self.side not in _SIDES_OR_0
                or self.liquidity not in _LIQUIDITY_OR_0
            ):
                raise self._enum_error()
            _UPDATE.pack_into(
                buf,
                offset,
                _UPDATE_TAG,
                self.kind,
                self.client_order_id,
                self.symbol_id,
                self.side,
                self.price,
                self.qty,
                self.leaves_qty,
                self.fill_price,
                self.fill_qty,
                self.liquidity,
                self.fee,
                self.reason,
                self.ts_ns,
                self.venue_order_id,
            )
        except (struct.error, TypeError, OverflowError) as error:
            raise _pack_failed(
                "OrderUpdate", _UPDATE_FIELDS, self._values(), _UPDATE.size, buf, offset, error
            ) from None

    @classmethod
    def unpack_from(cls, buf: Any, offset: int = 0) -> Self:
        """Read one ``OrderUpdate`` record from ``buf`` at ``offset`` (``text`` is ``""``)."""
        try:
            r = _UPDATE.unpack_from(buf, offset)
        except (struct.error, TypeError):
            raise _short("OrderUpdate", _UPDATE.size, buf, offset) from None
        if r[0] != _UPDATE_TAG:
            raise _bad_tag("OrderUpdate", r[0], offset)
        kind = _UPDATE_KINDS.get(r[1])
        side = _SIDES_OR_0.get(r[4])
        liquidity = _LIQUIDITY_OR_0.get(r[10])
        if kind is None:
            raise _bad_enum("OrderUpdate", "kind", r[1], _UPDATE_KINDS)
        if side is None:
            raise _bad_enum("OrderUpdate", "side", r[4], _SIDES_OR_0)
        if liquidity is None:
            raise _bad_enum("OrderUpdate", "liquidity", r[10], _LIQUIDITY_OR_0)
        return cls(
            kind,
            r[2],
            r[3],
            side,
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            liquidity,
            r[11],
            r[12],
            "",
            r[13],
            r[14],
        )

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name, _ in _UPDATE_FIELDS)

    def _enum_error(self) -> MessageFormatError:
        if self.kind not in _UPDATE_KINDS:
            return _bad_enum("OrderUpdate", "kind", self.kind, _UPDATE_KINDS)
        if self.side not in _SIDES_OR_0:
            return _bad_enum("OrderUpdate", "side", self.side, _SIDES_OR_0)
        return _bad_enum("OrderUpdate", "liquidity", self.liquidity, _LIQUIDITY_OR_0)
