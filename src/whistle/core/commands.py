"""Commands: what a user asks an engine to do. Imperative names; immutable.

Prices are ints in ticks and quantities ints in lots (``0`` means "absent" for optional
prices, since valid prices are positive). Commands carry no sequence number: the router
stamps each accepted command with a global ``enq_seq`` and hands the pair to the engine.

Structs are ``array_like`` with integer tags so the journal can encode them compactly
with one msgspec encoder.
"""

from __future__ import annotations

from typing import final

import msgspec

from whistle.core.enums import StpMode

__all__ = [
    "COMMAND_TYPES",
    "CancelOrder",
    "CancelReplace",
    "Command",
    "EndSession",
    "HaltTrading",
    "MassCancel",
    "ModifyOrder",
    "NewOrder",
    "ResumeTrading",
    "command_type_error",
]


class _Command(msgspec.Struct, frozen=True, gc=False, array_like=True, tag_field="k"):
    symbol_id: int


@final
class NewOrder(_Command, frozen=True, gc=False, array_like=True, tag=1):
    """Enter a new order.

    ``price_ticks`` is the limit (0 for MARKET and STOP); ``stop_price_ticks`` the trigger
    of STOP / STOP_LIMIT; ``display_qty_lots`` > 0 makes an iceberg showing that slice;
    ``protection_price_ticks`` bounds how far a MARKET or STOP order may trade;
    ``expire_ts_ns`` is the GTD expiry on the simulation clock.
    """

    order_id: int
    account: int
    side: int
    order_type: int
    tif: int
    price_ticks: int
    qty_lots: int
    stop_price_ticks: int = 0
    display_qty_lots: int = 0
    post_only: bool = False
    stp: int = StpMode.NONE
    expire_ts_ns: int = 0
    protection_price_ticks: int = 0


@final
class CancelOrder(_Command, frozen=True, gc=False, array_like=True, tag=2):
    """Cancel a live order. ``account``, when given, must own the order."""

    order_id: int
    account: int | None = None


@final
class ModifyOrder(_Command, frozen=True, gc=False, array_like=True, tag=3):
    """Change a resting order's price and/or remaining quantity (``0`` = unchanged).

    A quantity decrease at the same price keeps time priority; a price change or a
    quantity increase loses it (the order goes to the back, and may trade on arrival).
    """

    order_id: int
    price_ticks: int = 0
    qty_lots: int = 0
    account: int | None = None


@final
class CancelReplace(_Command, frozen=True, gc=False, array_like=True, tag=4):
    """Atomically replace a resting order by a new one with a new id, price and quantity.

    The replacement keeps the original's side, type, time in force and flags, and always
    takes a new time priority. If the replacement is refused, the original is untouched.
    """

    order_id: int
    new_order_id: int
    price_ticks: int
    qty_lots: int
    account: int | None = None


@final
class MassCancel(_Command, frozen=True, gc=False, array_like=True, tag=5):
    """Cancel every live order of ``account``, or of the whole symbol when it is ``None``."""

    account: int | None = None


@final
class HaltTrading(_Command, frozen=True, gc=False, array_like=True, tag=6):
    """Halt the symbol: new orders, modifies and replaces are rejected; cancels still work."""


@final
class ResumeTrading(_Command, frozen=True, gc=False, array_like=True, tag=7):
    """Resume a halted symbol."""


@final
class EndSession(_Command, frozen=True, gc=False, array_like=True, tag=8):
    """Announce the end of the trading session: every DAY order expires."""


Command = (
    NewOrder
    | CancelOrder
    | ModifyOrder
    | CancelReplace
    | MassCancel
    | HaltTrading
    | ResumeTrading
    | EndSession
)

COMMAND_TYPES: tuple[type[Command], ...] = (
    NewOrder,
    CancelOrder,
    ModifyOrder,
    CancelReplace,
    MassCancel,
    HaltTrading,
    ResumeTrading,
    EndSession,
)


def _field_checks(cls: type[msgspec.Struct]) -> tuple[tuple[str, bool, bool], ...]:
    # (name, is_bool, may_be_none) for every field of a command type.
    checks = []
    for field in msgspec.structs.fields(cls):
        kind = field.type
        checks.append((field.name, kind is bool, kind == (int | None)))
    return tuple(checks)


_CHECKS: dict[type, tuple[tuple[str, bool, bool], ...]] = {
    cls: _field_checks(cls) for cls in COMMAND_TYPES
}


def command_type_error(command: object) -> str | None:
    """Return why ``command`` is not a well-typed command, or None if it is.

    msgspec validates types when it decodes, not when Python code builds a Struct; the
    engine trusts field types, so every entry that takes Python-built commands checks
    them here first: ints must be ints (not bools, floats or strings), flags bools.
    """
    checks = _CHECKS.get(type(command))
    if checks is None:
        names = ", ".join(c.__name__ for c in COMMAND_TYPES)
        return f"expected one of {names}, was {type(command).__name__}"
    for name, is_bool, may_be_none in checks:
        value = getattr(command, name)
        kind = type(value)
        if kind is int:  # the common case, first (measured: cheaper than isinstance)
            if is_bool:
                return f"{name} must be a bool, was {value!r}"
            continue
        if is_bool:
            if kind is not bool:
                return f"{name} must be a bool, was {value!r}"
        elif value is None:
            if not may_be_none:
                return f"{name} must be an int, was None"
        elif not isinstance(value, int) or kind is bool:
            return f"{name} must be an int, was {value!r}"
    return None
