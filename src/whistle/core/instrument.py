"""Instrument definitions: the static configuration of one symbol's market."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import final

import msgspec

from whistle.core.errors import InstrumentError
from whistle.core.fixed import from_units, parse_decimal, to_units
from whistle.core.limits import MAX_PRICE_TICKS, MAX_QTY_LOTS, MAX_SYMBOL_ID, MAX_SYMBOL_LEN
from whistle.core.validate import int_field_error, show

__all__ = ["Instrument", "stable_symbol_id"]

_SYMBOL_ID_MASK = 0x7FFFFFFF

# (field, lo, hi): the int fields of an Instrument; symbol_id 0 means "derive it".
_INT_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("symbol_id", 0, MAX_SYMBOL_ID),
    ("min_qty_lots", 1, MAX_QTY_LOTS),
    ("max_qty_lots", 1, MAX_QTY_LOTS),
    ("price_band_bps", 0, 9_999),
    ("reference_price_ticks", 0, MAX_PRICE_TICKS),
)


def stable_symbol_id(symbol: str) -> int:
    """Return a stable 31-bit id for ``symbol`` (CRC-32 of its UTF-8 bytes, never 0).

    Unlike ``hash(str)`` it is the same in every process, run and machine.
    """
    value = zlib.crc32(symbol.encode("utf-8")) & _SYMBOL_ID_MASK
    return value or 1


@final
class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """One tradable symbol and its grid.

    ``tick_size`` and ``lot_size`` are decimal strings; ``min_qty_lots`` and
    ``max_qty_lots`` are in lots; ``price_band_bps`` is the band half-width in basis points
    around the reference price (0 disables the band). The reference is the last trade price
    once there is one, else ``reference_price_ticks`` (0: no band until the first trade).
    """

    symbol: str
    symbol_id: int = 0
    tick_size: str = "0.01"
    lot_size: str = "1"
    min_qty_lots: int = 1
    max_qty_lots: int = 1_000_000_000
    price_band_bps: int = 0
    reference_price_ticks: int = 0

    def __post_init__(self) -> None:
        # Every field strictly typed and in range: an instrument is journaled as a
        # ``Defined`` record, and a value msgspec would refuse on decode (a bool or float
        # symbol_id) would make the whole data directory unreadable.
        symbol = self.symbol
        if (
            type(symbol) is not str
            or not 1 <= len(symbol) <= MAX_SYMBOL_LEN
            or not all("!" <= ch <= "~" for ch in symbol)
        ):
            raise InstrumentError(
                f"symbol must be 1..{MAX_SYMBOL_LEN} printable ASCII characters without"
                f" spaces, was {show(symbol)}"
            )
        for name, lo, hi in _INT_FIELDS:
            problem = int_field_error(name, getattr(self, name), lo, hi)
            if problem is not None:
                raise InstrumentError(problem)
        if self.symbol_id == 0:
            msgspec.structs.force_setattr(self, "symbol_id", stable_symbol_id(symbol))
        for name in ("tick_size", "lot_size"):
            text = getattr(self, name)
            if type(text) is not str:
                raise InstrumentError(f"{name} must be a decimal string, was {show(text)}")
            step = parse_decimal(text, name)
            if step <= 0:
                raise InstrumentError(f"{name} must be positive, was {step}")
        if not self.min_qty_lots <= self.max_qty_lots:
            raise InstrumentError(
                f"need 1 <= min_qty_lots <= max_qty_lots <= {MAX_QTY_LOTS}, was"
                f" {self.min_qty_lots} and {self.max_qty_lots}"
            )

    @property
    def tick(self) -> Decimal:
        """Return the tick size as a ``Decimal``."""
        return Decimal(self.tick_size)

    @property
    def lot(self) -> Decimal:
        """Return the lot size as a ``Decimal``."""
        return Decimal(self.lot_size)

    def price_to_ticks(self, price: str | int | Decimal) -> int:
        """Convert a decimal price to ticks; raise ``PrecisionError`` off the tick grid."""
        return to_units(price, self.tick, "price")

    def qty_to_lots(self, qty: str | int | Decimal) -> int:
        """Convert a decimal quantity to lots; raise ``PrecisionError`` off the lot grid."""
        return to_units(qty, self.lot, "qty")

    def ticks_to_price(self, ticks: int) -> str:
        """Return the decimal string of a price in ticks."""
        return from_units(ticks, self.tick)

    def lots_to_qty(self, lots: int) -> str:
        """Return the decimal string of a quantity in lots."""
        return from_units(lots, self.lot)
