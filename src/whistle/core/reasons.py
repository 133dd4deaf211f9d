"""Reject reasons: every way a command can be refused, numbered by subsystem.

Ranges (as in exchange-core's result codes):

- ``1xxx`` edge and validation: the command itself is malformed for this instrument;
- ``2xxx`` state: the command is well formed but the symbol cannot take it now;
- ``3xxx`` matching: the command is refused given the current book.

A rejection never changes a book. It is an ``OrderRejected`` event, never an exception.
"""

from __future__ import annotations

from enum import IntEnum, unique

__all__ = ["RejectReason"]


@unique
class RejectReason(IntEnum):
    """Why a command was refused. Carried by ``OrderRejected.reason``.

    Each member's value is its numeric code; ``member.description`` is its documented meaning.
    """

    description: str

    def __new__(cls, code: int, description: str) -> RejectReason:
        member = int.__new__(cls, code)
        member._value_ = code
        member.description = description
        return member

    @classmethod
    def of(cls, code: int) -> RejectReason:
        """Return the member with numeric ``code`` (``ValueError`` if there is none)."""
        return cls(code)  # type: ignore[call-arg]  # by-value lookup; __new__ is for members

    # -- 1xxx: edge and validation ---------------------------------------------------
    UNKNOWN_SYMBOL = (
        1001,
        "No instrument is defined for the command's symbol (rejected before sequencing).",
    )
    INVALID_PRICE_PRECISION = (
        1002,
        "A decimal price is not a whole multiple of the tick size (rejected at entry).",
    )
    INVALID_QTY_PRECISION = (
        1003,
        "A decimal quantity is not a whole multiple of the lot size (rejected at entry).",
    )
    QTY_NOT_POSITIVE = (1004, "The quantity is zero or negative.")
    QTY_BELOW_MIN = (1005, "The quantity is below the instrument's minimum.")
    QTY_ABOVE_MAX = (1006, "The quantity is above the instrument's maximum.")
    PRICE_NOT_POSITIVE = (1007, "A limit or stop-limit order without a positive limit price.")
    PRICE_NOT_ALLOWED = (1008, "A market or stop order that carries a limit price.")
    PRICE_OUTSIDE_BAND = (1009, "The limit price is outside the band around the reference price.")
    INVALID_SIDE = (1010, "The side is neither BUY nor SELL.")
    INVALID_ORDER_TYPE = (1011, "The order type is not one of ``OrderType``.")
    INVALID_TIF = (1012, "The time in force is unknown or not allowed for this order type.")
    MISSING_STOP_PRICE = (1013, "A stop or stop-limit order without a positive stop price.")
    STOP_PRICE_NOT_ALLOWED = (1014, "A limit or market order that carries a stop price.")
    INVALID_POST_ONLY = (1015, "Post-only on an order that cannot rest (market, stop, IOC or FOK).")
    INVALID_DISPLAY_QTY = (
        1016,
        "Iceberg display quantity negative, larger than the "
        "order, or on an order that cannot rest.",
    )
    INVALID_PROTECTION_PRICE = (
        1017,
        "A protection price on an order type that takes none, or a negative one.",
    )
    GTD_MISSING_EXPIRY = (1018, "A GTD order without an expiry time.")
    GTD_EXPIRED = (1019, "A GTD order whose expiry time is not after the current simulation time.")
    EXPIRY_NOT_ALLOWED = (1020, "An expiry time on an order that is not GTD.")
    INVALID_STP_MODE = (1021, "The self-trade prevention mode is not one of ``StpMode``.")
    DUPLICATE_ORDER_ID = (1022, "The order id is already used by a live order of this symbol.")
    MALFORMED_COMMAND = (
        1023,
        "A command that could not be decoded at the edge (bad field, wrong type: a bool or "
        "float where an int goes, a decimal that is not ASCII digits with one point).",
    )
    VALUE_OUT_OF_RANGE = (
        1024,
        "An order id, account, symbol id, price, quantity or time is outside its "
        "documented range (whistle.core.limits); refused before sequencing at the venue.",
    )
    DUPLICATE_CLIENT_ORDER_ID = (
        1025,
        "The account already used this client_order_id for a different order (another "
        "symbol, side, price, quantity, order id...); refused before sequencing, the "
        "original is untouched.",
    )

    # -- 2xxx: state -------------------------------------------------------------------
    TRADING_HALTED = (2001, "The symbol is halted: only cancels are accepted.")
    ENGINE_FAULTED = (
        2002,
        "The symbol's engine faulted: every command is rejected until it is restored.",
    )
    SYMBOL_NOT_ACTIVE = (2003, "The symbol is being retired or was retired.")
    QUEUE_FULL = (2004, "The symbol's inbound queue is full (backpressure).")
    CLIENT_ORDER_IDS_FULL = (
        2005,
        "The venue remembers max_client_orders client order ids until their symbols' "
        "sessions end: a new one is refused before sequencing (orders without one are not).",
    )

    # -- 3xxx: matching ------------------------------------------------------------------
    UNKNOWN_ORDER_ID = (3001, "No live order has this id.")
    ACCOUNT_MISMATCH = (3002, "The command names an account that does not own the order.")
    MODIFY_NO_CHANGE = (3003, "A modify that changes neither price nor quantity.")
    POST_ONLY_WOULD_TAKE = (3004, "A post-only order (or its modification) would trade on arrival.")
    FOK_UNFILLABLE = (3005, "A fill-or-kill order cannot trade its whole quantity at once.")
    NO_LIQUIDITY = (
        3006,
        "A market order finds nothing to trade with (within its protection price or band).",
    )
    ORDER_NOT_MODIFIABLE = (
        3007,
        "Modify or replace of a parked stop order (cancel it and enter a new one).",
    )
