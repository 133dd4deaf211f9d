"""Fixed-point conversion between decimal strings (the edges) and integer units (the core).

Prices are ints in ticks, quantities ints in lots. Conversion is exact: a value that is not
a whole multiple of the step is refused with ``PrecisionError``, never rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from whistle.core.errors import PrecisionError, ValueFormatError

__all__ = ["from_units", "parse_decimal", "to_units"]


def parse_decimal(text: str | int | Decimal, what: str = "value") -> Decimal:
    """Parse ``text`` as a finite decimal; floats are refused to keep the path exact."""
    if isinstance(text, (bool, float)):
        raise ValueFormatError(f"{what} must be a decimal string or int, was {text!r}")
    if isinstance(text, Decimal):
        value = text
    else:
        try:
            value = Decimal(str(text).strip())
        except InvalidOperation:
            raise ValueFormatError(f"{what} must be a decimal number, was {text!r}") from None
    if not value.is_finite():
        raise ValueFormatError(f"{what} must be finite, was {text!r}")
    return value


def to_units(text: str | int | Decimal, step: Decimal, what: str = "value") -> int:
    """Return ``text / step`` as an int, or raise ``PrecisionError`` if it is not whole."""
    value = parse_decimal(text, what)
    try:
        units, remainder = divmod(value, step)
    except InvalidOperation:
        # The quotient has more digits than the decimal context holds: far outside any
        # range an order can use (whistle.core.limits), so it is a format error.
        raise ValueFormatError(f"{what} is too large for a step of {step}, was {value}") from None
    if remainder != 0:
        raise PrecisionError(f"{what} must be a multiple of {step}, was {value}")
    return int(units)


def from_units(units: int, step: Decimal) -> str:
    """Return the decimal string for ``units * step`` (no exponent, no trailing noise)."""
    value = units * step
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
