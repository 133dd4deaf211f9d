"""Typed scenario operations: what one parsed line of a scenario asks for.

Values stay as the scenario wrote them (decimal strings, enum names): converting them to
ticks, lots and enum members is the venue's job, so bad values become edge rejects
(``OrderRejected`` with ``seq == 0``) exactly as for any other client of the venue.
Every op carries ``line``, its 1-based line number in the scenario.
"""

from __future__ import annotations

from typing import final

import msgspec

__all__ = [
    "AdvanceOp",
    "CancelOp",
    "Decimalish",
    "DefineOp",
    "DepthOp",
    "EndSessionOp",
    "HaltOp",
    "MassCancelOp",
    "ModifyOp",
    "NewOp",
    "Op",
    "ReplaceOp",
    "ResumeOp",
    "StatusOp",
]

Decimalish = str | int
"""A decimal value as a scenario gives it: a decimal string, or a JSON integer."""


class _Op(msgspec.Struct, frozen=True, kw_only=True):
    line: int


@final
class DefineOp(_Op, frozen=True, kw_only=True):
    """Define an instrument (``Venue.add_instrument``)."""

    symbol: str
    tick_size: Decimalish = "0.01"
    lot_size: Decimalish = "1"
    min_qty: Decimalish | None = None
    max_qty: Decimalish | None = None
    price_band_pct: Decimalish | None = None
    reference_price: Decimalish | None = None
    symbol_id: int = 0


@final
class NewOp(_Op, frozen=True, kw_only=True):
    """Enter a new order (``Venue.submit``). ``None`` means "the venue's default"."""

    symbol: str
    side: str
    qty: Decimalish
    price: Decimalish | None = None
    type: str | None = None
    tif: str | None = None
    id: int | None = None
    account: int = 0
    stop_price: Decimalish | None = None
    display_qty: Decimalish | None = None
    post_only: bool = False
    stp: str = "none"
    expire_at: int | None = None
    expire_in: int | None = None
    protection_price: Decimalish | None = None


@final
class CancelOp(_Op, frozen=True, kw_only=True):
    """Cancel a live order."""

    symbol: str
    id: int
    account: int | None = None


@final
class ModifyOp(_Op, frozen=True, kw_only=True):
    """Change a resting order's price and/or remaining quantity (omitted: unchanged)."""

    symbol: str
    id: int
    price: Decimalish | None = None
    qty: Decimalish | None = None
    account: int | None = None


@final
class ReplaceOp(_Op, frozen=True, kw_only=True):
    """Replace a resting order by a new one (``new_id`` defaults to the next free id)."""

    symbol: str
    id: int
    price: Decimalish
    qty: Decimalish
    new_id: int | None = None
    account: int | None = None


@final
class MassCancelOp(_Op, frozen=True, kw_only=True):
    """Cancel every live order (of ``account``) on ``symbol``, or on every symbol."""

    symbol: str | None = None
    account: int | None = None


@final
class HaltOp(_Op, frozen=True, kw_only=True):
    """Halt a symbol."""

    symbol: str


@final
class ResumeOp(_Op, frozen=True, kw_only=True):
    """Resume a halted symbol."""

    symbol: str


@final
class EndSessionOp(_Op, frozen=True, kw_only=True):
    """End the session (DAY orders expire) on ``symbol``, or on every symbol."""

    symbol: str | None = None


@final
class AdvanceOp(_Op, frozen=True, kw_only=True):
    """Move the simulation clock: ``by`` nanoseconds, or ``to`` an absolute time."""

    by: int | None = None
    to: int | None = None


@final
class DepthOp(_Op, frozen=True, kw_only=True):
    """Print the L2 depth of ``symbol`` (or of every symbol), ``levels`` per side."""

    symbol: str | None = None
    levels: int = 10


@final
class StatusOp(_Op, frozen=True, kw_only=True):
    """Print the engine status of ``symbol`` (or of every symbol)."""

    symbol: str | None = None


Op = (
    DefineOp
    | NewOp
    | CancelOp
    | ModifyOp
    | ReplaceOp
    | MassCancelOp
    | HaltOp
    | ResumeOp
    | EndSessionOp
    | AdvanceOp
    | DepthOp
    | StatusOp
)
