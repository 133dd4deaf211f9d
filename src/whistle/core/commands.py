"""Commands: what a user asks an engine to do. Imperative names; immutable.

Prices are ints in ticks and quantities ints in lots (``0`` means "absent" for optional
prices, since valid prices are positive). Commands carry no sequence number: the router
stamps each accepted command with a global ``enq_seq`` and hands the pair to the engine.

Structs are ``array_like`` with integer tags so the journal can encode them compactly
with one msgspec encoder.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final, final

import msgspec
from msgspec.structs import astuple

from whistle.core.enums import OrderType, Side, StpMode, TimeInForce
from whistle.core.limits import (
    MAX_ACCOUNT,
    MAX_CLIENT_ORDER_ID,
    MAX_ORDER_ID,
    MAX_PRICE_TICKS,
    MAX_QTY_LOTS,
    MAX_SYMBOL_ID,
    MAX_TS_NS,
    MIN_ACCOUNT,
    MIN_ORDER_ID,
    MIN_SYMBOL_ID,
)
from whistle.core.reasons import RejectReason
from whistle.core.validate import bool_field_error, int_field_error, is_int, show

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
    "command_error",
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
    ``expire_ts_ns`` is the GTD expiry on the simulation clock. ``client_order_id`` (0:
    none) makes the entry idempotent for its account: the venue takes one command per
    (account, client_order_id) and answers a repeat with the original outcome
    (``whistle.coord.client_orders``); the engine ignores it.
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
    client_order_id: int = 0


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
    ``client_order_id`` (0: none) is the replacement's, idempotent like a ``NewOrder``'s;
    it needs ``account`` (the key is (account, client_order_id)).
    """

    order_id: int
    new_order_id: int
    price_ticks: int
    qty_lots: int
    account: int | None = None
    client_order_id: int = 0


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


# Field checks, one table per command type: (name, kind, lo, hi, members, reason).
# kind: _INT an int in lo..hi; _OPT the same or None; _BOOL a bool; _ENUM an int that is a
# member's value (members). A wrong type is MALFORMED_COMMAND; an int outside lo..hi is
# VALUE_OUT_OF_RANGE; an int that is no member is the enum's own reason (INVALID_SIDE...).
_INT: Final = 0
_OPT: Final = 1
_BOOL: Final = 2
_ENUM: Final = 3

_Check = tuple[str, int, int, int, frozenset[int], RejectReason]
_NONE: frozenset[int] = frozenset()
_R = RejectReason.VALUE_OUT_OF_RANGE

_RANGES: dict[str, tuple[int, int, int]] = {
    # name: (kind, lo, hi)
    "symbol_id": (_INT, MIN_SYMBOL_ID, MAX_SYMBOL_ID),
    "order_id": (_INT, MIN_ORDER_ID, MAX_ORDER_ID),
    "new_order_id": (_INT, MIN_ORDER_ID, MAX_ORDER_ID),
    "price_ticks": (_INT, -MAX_PRICE_TICKS, MAX_PRICE_TICKS),
    "stop_price_ticks": (_INT, -MAX_PRICE_TICKS, MAX_PRICE_TICKS),
    "protection_price_ticks": (_INT, -MAX_PRICE_TICKS, MAX_PRICE_TICKS),
    "qty_lots": (_INT, -MAX_QTY_LOTS, MAX_QTY_LOTS),
    "display_qty_lots": (_INT, -MAX_QTY_LOTS, MAX_QTY_LOTS),
    "expire_ts_ns": (_INT, 0, MAX_TS_NS),  # a time on the simulation clock
    "client_order_id": (_INT, 0, MAX_CLIENT_ORDER_ID),  # 0: none
}
_ENUMS: dict[str, tuple[type[IntEnum], RejectReason]] = {
    "side": (Side, RejectReason.INVALID_SIDE),
    "order_type": (OrderType, RejectReason.INVALID_ORDER_TYPE),
    "tif": (TimeInForce, RejectReason.INVALID_TIF),
    "stp": (StpMode, RejectReason.INVALID_STP_MODE),
}


def _field_checks(cls: type[msgspec.Struct]) -> tuple[_Check, ...]:
    checks: list[_Check] = []
    for field in msgspec.structs.fields(cls):
        name = field.name
        if name in _ENUMS:
            kind, reason = _ENUMS[name]
            members = frozenset(int(m) for m in kind)
            checks.append((name, _ENUM, 0, 0, members, reason))
        elif field.type is bool:
            checks.append((name, _BOOL, 0, 0, _NONE, RejectReason.MALFORMED_COMMAND))
        elif name == "account":
            optional = field.type == (int | None)
            checks.append((name, _OPT if optional else _INT, MIN_ACCOUNT, MAX_ACCOUNT, _NONE, _R))
        else:
            kind_code, lo, hi = _RANGES[name]  # KeyError here: a new field needs a range
            checks.append((name, kind_code, lo, hi, _NONE, _R))
    return tuple(checks)


_CHECKS: dict[type, tuple[_Check, ...]] = {cls: _field_checks(cls) for cls in COMMAND_TYPES}
_MALFORMED = RejectReason.MALFORMED_COMMAND


def command_error(command: object) -> tuple[RejectReason, str] | None:
    """Return why ``command`` may not be sequenced, as (reason, message), or None.

    msgspec validates types when it decodes, not when Python code builds a Struct, and the
    engine trusts field types, so every entry that takes Python-built commands checks them
    here before sequencing: nothing refused here could be journaled and decoded again.

    - a field of the wrong type (a bool or float in an int field, an int in a flag, a
      string anywhere, ``None`` where the field is not optional): ``MALFORMED_COMMAND``;
    - an int outside its range in ``whistle.core.limits`` (ids >= 1, accounts >= 0, the
      symbol id an unsigned 32-bit int, times (GTD expiry) 0..``MAX_TS_NS``, prices and
      quantities bounded by their maxima in magnitude): ``VALUE_OUT_OF_RANGE``;
    - ``side``, ``order_type``, ``tif`` or ``stp`` an int that is no member of its enum:
      ``INVALID_SIDE``, ``INVALID_ORDER_TYPE``, ``INVALID_TIF``, ``INVALID_STP_MODE``;
    - a ``CancelReplace`` with a ``client_order_id`` but no ``account`` (the id is scoped
      by account): ``MALFORMED_COMMAND``.

    Messages name the field, the expected range and the value seen (cut to ~80 chars).
    """
    if isinstance(command, NewOrder):
        if _new_order_ok(command):
            return None
    elif isinstance(command, CancelOrder) and _cancel_ok(command):
        return None
    checks = _CHECKS.get(type(command))
    problem = _walk(command, checks)
    if (
        problem is None
        and type(command) is CancelReplace
        and command.client_order_id
        and command.account is None
    ):
        return _MALFORMED, (
            f"client_order_id {command.client_order_id} needs an account (it is unique per"
            " account), was account None"
        )
    return problem


def _walk(command: object, checks: tuple[_Check, ...] | None) -> tuple[RejectReason, str] | None:
    if checks is None:
        names = ", ".join(c.__name__ for c in COMMAND_TYPES)
        return _MALFORMED, f"expected one of {names}, was {type(command).__name__}"
    for value, (name, kind, lo, hi, members, reason) in zip(
        astuple(command),  # type: ignore[arg-type]  # a command type, checked above
        checks,
        strict=True,
    ):
        vtype = type(value)
        if vtype is int:  # the common case first (measured: cheaper than isinstance)
            if kind == _ENUM:
                if value in members:
                    continue
                names = ", ".join(f"{m.name}={int(m)}" for m in _ENUMS[name][0])
                return reason, f"{name} must be one of {names}, was {show(value)}"
            if kind != _BOOL and lo <= value <= hi:
                continue
        elif kind == _BOOL:
            if vtype is bool:
                continue
        elif kind == _ENUM:
            # A member of the field's own enum is an int subclass; bools and other enums
            # are refused as malformed.
            if isinstance(value, IntEnum) and not isinstance(value, bool):
                enum_kind = _ENUMS[name][0]
                if vtype is enum_kind:
                    continue
            return _MALFORMED, f"{name} must be an int member value, was {show(value)}"
        elif kind == _OPT and value is None:
            continue
        if kind == _BOOL:
            return _MALFORMED, bool_field_error(name, value) or name
        problem = int_field_error(name, value, lo, hi, optional=kind == _OPT)
        if problem is None:
            continue  # an int subclass (an IntEnum member) in range: encoded as an int
        return (reason if is_int(value) else _MALFORMED), problem
    return None


_SIDES: Final = frozenset(int(m) for m in Side)
_TYPES: Final = frozenset(int(m) for m in OrderType)
_TIFS: Final = frozenset(int(m) for m in TimeInForce)
_STPS: Final = frozenset(int(m) for m in StpMode)


def _new_order_ok(c: NewOrder) -> bool:
    # The hot path (every submit): plain ints in range, the venue's own shape. Anything
    # else (enum members, a bad value) takes the table walk, which also builds the message.
    # tests/unit/core/test_core_commands_check.py proves both paths agree.
    sid, oid, acct, side, ot, tif, price, qty, stop, disp, post, stp, exp, prot, coid = astuple(c)
    return (
        type(sid) is int
        and type(oid) is int
        and type(acct) is int
        and type(side) is int
        and type(ot) is int
        and type(tif) is int
        and type(price) is int
        and type(qty) is int
        and type(stop) is int
        and type(disp) is int
        and type(post) is bool
        and (type(stp) is int or type(stp) is StpMode)  # the field's default is a member
        and type(exp) is int
        and type(prot) is int
        and type(coid) is int
        and MIN_SYMBOL_ID <= sid <= MAX_SYMBOL_ID
        and MIN_ORDER_ID <= oid <= MAX_ORDER_ID
        and MIN_ACCOUNT <= acct <= MAX_ACCOUNT
        and side in _SIDES
        and ot in _TYPES
        and tif in _TIFS
        and stp in _STPS
        and -MAX_PRICE_TICKS <= price <= MAX_PRICE_TICKS
        and -MAX_PRICE_TICKS <= stop <= MAX_PRICE_TICKS
        and -MAX_PRICE_TICKS <= prot <= MAX_PRICE_TICKS
        and -MAX_QTY_LOTS <= qty <= MAX_QTY_LOTS
        and -MAX_QTY_LOTS <= disp <= MAX_QTY_LOTS
        and 0 <= exp <= MAX_TS_NS
        and 0 <= coid <= MAX_CLIENT_ORDER_ID
    )


def _cancel_ok(c: CancelOrder) -> bool:
    # The second most common command; same rule as _new_order_ok.
    sid, oid, acct = astuple(c)
    return (
        type(sid) is int
        and type(oid) is int
        and MIN_SYMBOL_ID <= sid <= MAX_SYMBOL_ID
        and MIN_ORDER_ID <= oid <= MAX_ORDER_ID
        and (acct is None or (type(acct) is int and MIN_ACCOUNT <= acct <= MAX_ACCOUNT))
    )


def command_type_error(command: object) -> str | None:
    """Return why ``command`` may not be sequenced, or None (``command_error``'s message)."""
    problem = command_error(command)
    return None if problem is None else problem[1]
