"""Fixed-point conversion between decimal strings (the edges) and integer units (the core).

Prices are ints in ticks, quantities ints in lots. Conversion is exact: a value that is not
a whole multiple of the step is refused with ``PrecisionError``, never rounded.

A decimal string is strict: ASCII digits with at most one point (``"10"``, ``"10.25"``,
``".5"``, ``"5."``), optionally preceded by one ``-``, at most ``MAX_DECIMAL_CHARS``
characters. Refused with ``ValueFormatError``: underscores (``"10_0"``), digits of other
scripts (Arabic-Indic, full-width), any whitespace (a leading no-break space too), exponents,
``NaN``/``inf``, a plus sign, and an over-long string (which is never parsed, and is cut in
the message). A minus is accepted because a negative price or quantity is a *value*
the engine refuses with a documented reason (``PRICE_NOT_POSITIVE``, ``QTY_NOT_POSITIVE``),
not a format error; definitions that must be positive (tick and lot sizes) check it.
A ``Decimal`` or an ``int`` (not a ``bool``) is taken as is; a ``float`` is refused.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from whistle.core.errors import PrecisionError, ValueFormatError
from whistle.core.limits import MAX_DECIMAL_CHARS
from whistle.core.validate import cut, show

__all__ = ["from_units", "parse_decimal", "to_units"]

_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_MAX_DIGITS = MAX_DECIMAL_CHARS  # a Decimal or int argument is bounded the same way


def parse_decimal(text: str | int | Decimal, what: str = "value") -> Decimal:
    """Parse ``text`` as a finite decimal (strict: see the module docstring).

    Raises ``ValueFormatError`` naming ``what``, the rule and the value seen (cut).
    """
    kind = type(text)
    if kind is str:
        assert isinstance(text, str)
        if len(text) > MAX_DECIMAL_CHARS:
            raise ValueFormatError(
                f"{what} must be a decimal string of at most {MAX_DECIMAL_CHARS} characters,"
                f" was {show(text)}"
            )
        if _DECIMAL.fullmatch(text) is None:
            raise ValueFormatError(
                f"{what} must be a decimal number (ASCII digits, one optional point),"
                f" was {show(text)}"
            )
        return Decimal(text)
    if isinstance(text, bool) or not isinstance(text, (int, Decimal)):
        raise ValueFormatError(
            f"{what} must be a decimal string, an int or a Decimal,"
            f" was {type(text).__name__} {show(text)}"
        )
    if isinstance(text, int):
        if text.bit_length() > 200:
            raise ValueFormatError(f"{what} is too large, was {show(text)}")
        return Decimal(int(text))
    if not text.is_finite():
        raise ValueFormatError(f"{what} must be finite, was {show(text)}")
    digits = len(text.as_tuple().digits)
    if digits > _MAX_DIGITS or abs(text.adjusted()) > _MAX_DIGITS:
        raise ValueFormatError(f"{what} has too many digits, was {show(text)}")
    return text


def to_units(text: str | int | Decimal, step: Decimal, what: str = "value") -> int:
    """Return ``text / step`` as an int, or raise ``PrecisionError`` if it is not whole."""
    value = parse_decimal(text, what)
    try:
        units, remainder = divmod(value, step)
    except InvalidOperation:
        # The quotient has more digits than the decimal context holds: far outside any
        # range an order can use (whistle.core.limits), so it is a format error.
        raise ValueFormatError(
            f"{what} is too large for a step of {step}, was {cut(str(value))}"
        ) from None
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
