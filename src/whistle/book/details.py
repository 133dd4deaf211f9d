"""Reject detail codes: which check refused a command, finer than its ``RejectReason``.

``OrderRejected.detail_code`` carries one of these ints (0 when the reason says it all).
An int keeps the reject path as cheap as the rest of the hot path and the event compact in
journals; ``detail_text(code)`` gives the words. The table below is part of the engine's
contract (codes are never renumbered); the reference matcher checks reasons, and the
property test checks each code against its reason (``DETAIL_REASON``).

| code | reason | meaning |
|---|---|---|
| 0 | any | no further detail |
| 1-7 | VALUE_OUT_OF_RANGE | the field: order id, account, price, stop, protection, expiry, new id |
| 10, 11 | PRICE_OUTSIDE_BAND | below the band's low edge / above its high edge |
| 12, 13 | DUPLICATE_ORDER_ID | the id is a resting order / a parked stop |
| 20-23 | INVALID_TIF | unknown tif / not allowed for MARKET / STOP / STOP_LIMIT |
| 30-32 | INVALID_DISPLAY_QTY | negative / larger than the quantity / the order cannot rest |
| 33, 34 | INVALID_PROTECTION_PRICE | negative / on a type other than MARKET and STOP |
| 40, 41 | QTY_NOT_POSITIVE | quantity zero / negative |
| 50, 51 | NO_LIQUIDITY | the opposite side is empty / no opposite level within the limit |
"""

from __future__ import annotations

from typing import Final

from whistle.core.reasons import RejectReason as R

__all__ = ["DETAIL_REASON", "DETAIL_TEXT", "detail_text"]

D_NONE: Final = 0
D_RANGE_ORDER_ID: Final = 1
D_RANGE_ACCOUNT: Final = 2
D_RANGE_PRICE: Final = 3
D_RANGE_STOP_PRICE: Final = 4
D_RANGE_PROTECTION: Final = 5
D_RANGE_EXPIRY: Final = 6
D_RANGE_NEW_ORDER_ID: Final = 7
D_BAND_BELOW: Final = 10
D_BAND_ABOVE: Final = 11
D_DUPLICATE_RESTING: Final = 12
D_DUPLICATE_PARKED: Final = 13
D_TIF_UNKNOWN: Final = 20
D_TIF_MARKET: Final = 21
D_TIF_STOP: Final = 22
D_TIF_STOP_LIMIT: Final = 23
D_DISPLAY_NEGATIVE: Final = 30
D_DISPLAY_ABOVE_QTY: Final = 31
D_DISPLAY_CANNOT_REST: Final = 32
D_PROTECTION_NEGATIVE: Final = 33
D_PROTECTION_TYPE: Final = 34
D_QTY_ZERO: Final = 40
D_QTY_NEGATIVE: Final = 41
D_NO_LIQUIDITY_EMPTY: Final = 50
D_NO_LIQUIDITY_LIMIT: Final = 51

DETAIL_TEXT: Final[dict[int, str]] = {
    D_NONE: "",
    D_RANGE_ORDER_ID: "order id must be in 1..2**63-1",
    D_RANGE_ACCOUNT: "account must be in 0..2**63-1",
    D_RANGE_PRICE: "price must be at most 2**60-1 ticks",
    D_RANGE_STOP_PRICE: "stop price must be at most 2**60-1 ticks",
    D_RANGE_PROTECTION: "protection price must be at most 2**60-1 ticks",
    D_RANGE_EXPIRY: "expiry must be at most 2**63-1 ns",
    D_RANGE_NEW_ORDER_ID: "new order id must be in 1..2**63-1",
    D_BAND_BELOW: "price below the band's low edge",
    D_BAND_ABOVE: "price above the band's high edge",
    D_DUPLICATE_RESTING: "the id is a resting order",
    D_DUPLICATE_PARKED: "the id is a parked stop order",
    D_TIF_UNKNOWN: "time in force must be 1..5 (GTC, IOC, FOK, GTD, DAY)",
    D_TIF_MARKET: "a MARKET order must be IOC or FOK",
    D_TIF_STOP: "a STOP order must be GTC, GTD or DAY",
    D_TIF_STOP_LIMIT: "a STOP_LIMIT order must be GTC, GTD, DAY or IOC",
    D_DISPLAY_NEGATIVE: "display quantity is negative",
    D_DISPLAY_ABOVE_QTY: "display quantity is larger than the order quantity",
    D_DISPLAY_CANNOT_REST: "display quantity on an order that cannot rest",
    D_PROTECTION_NEGATIVE: "protection price is negative",
    D_PROTECTION_TYPE: "protection price is only for MARKET and STOP orders",
    D_QTY_ZERO: "quantity is zero",
    D_QTY_NEGATIVE: "quantity is negative",
    D_NO_LIQUIDITY_EMPTY: "the opposite side of the book is empty",
    D_NO_LIQUIDITY_LIMIT: "no opposite level within the protection price or band",
}

DETAIL_REASON: Final[dict[int, int]] = {
    **dict.fromkeys(range(1, 8), int(R.VALUE_OUT_OF_RANGE)),
    D_BAND_BELOW: int(R.PRICE_OUTSIDE_BAND),
    D_BAND_ABOVE: int(R.PRICE_OUTSIDE_BAND),
    D_DUPLICATE_RESTING: int(R.DUPLICATE_ORDER_ID),
    D_DUPLICATE_PARKED: int(R.DUPLICATE_ORDER_ID),
    **dict.fromkeys(range(20, 24), int(R.INVALID_TIF)),
    **dict.fromkeys(range(30, 33), int(R.INVALID_DISPLAY_QTY)),
    D_PROTECTION_NEGATIVE: int(R.INVALID_PROTECTION_PRICE),
    D_PROTECTION_TYPE: int(R.INVALID_PROTECTION_PRICE),
    D_QTY_ZERO: int(R.QTY_NOT_POSITIVE),
    D_QTY_NEGATIVE: int(R.QTY_NOT_POSITIVE),
    D_NO_LIQUIDITY_EMPTY: int(R.NO_LIQUIDITY),
    D_NO_LIQUIDITY_LIMIT: int(R.NO_LIQUIDITY),
}
"""The one ``RejectReason`` each non-zero detail code goes with."""


def detail_text(code: int) -> str:
    """Return the words for reject detail ``code`` ("" for 0, "detail N" if unknown)."""
    text = DETAIL_TEXT.get(code)
    return f"detail {code}" if text is None else text
