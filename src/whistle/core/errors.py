"""Exceptions of the core layer. Expected outcomes are events, not exceptions.

Hierarchy::

    WhistleError                   base of every whistle exception
    ├── InstrumentError            an instrument definition is invalid (also a ValueError)
    └── ConversionError            a decimal string does not fit an instrument's grid
        ├── PrecisionError         not a whole multiple of the tick or lot size
        └── ValueFormatError       not a decimal number at all

These are raised by edge helpers (decimal parsing, instrument construction). The engine
itself never raises on bad input: it emits ``OrderRejected``.
"""

from __future__ import annotations

__all__ = [
    "ConversionError",
    "InstrumentError",
    "PrecisionError",
    "ValueFormatError",
    "WhistleError",
]


class WhistleError(Exception):
    """Base class of every whistle exception."""


class InstrumentError(WhistleError, ValueError):
    """Raised when an instrument definition is inconsistent."""


class ConversionError(WhistleError, ValueError):
    """Raised when a decimal string cannot be converted to instrument units."""


class PrecisionError(ConversionError):
    """Raised when a value is not a whole multiple of the tick or lot size."""


class ValueFormatError(ConversionError):
    """Raised when a value is not a finite decimal number."""
