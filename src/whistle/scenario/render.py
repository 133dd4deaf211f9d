"""Render events and query results as JSON-ready dicts (one output line each).

Rules (``docs/scenario-format.md``): ``"event"`` is the event class name and comes first,
then ``"symbol"`` (the instrument's name), then every field of the event in its declared
order, where

- a field ending in ``_ticks`` is a price: rendered as a decimal string of the symbol's
  tick grid under the name without the suffix (``price_ticks`` -> ``price``);
- a field ending in ``_lots`` is a quantity: a decimal string of the lot grid, suffix
  dropped (``leaves_qty_lots`` -> ``leaves_qty``);
- ``side``, ``aggressor_side``, ``order_type``, ``tif``, ``reason``, ``cause``,
  ``liquidity`` and ``state`` are rendered by enum member name (an out-of-range value stays
  an integer);
- everything else is kept as is.

An edge reject (``OrderRejected`` with ``seq == 0``) gets a final ``"detail"`` when the
venue gave one; an engine reject gets the words of its ``detail_code`` as ``"detail"`` when
the code is not 0 (the code itself is not rendered). Dicts keep insertion order, so the
output is byte-for-byte deterministic.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import msgspec

from whistle.book.details import detail_text
from whistle.core.enums import (
    CancelCause,
    Liquidity,
    OrderType,
    Side,
    TimeInForce,
    TradingState,
)
from whistle.core.events import OrderRejected
from whistle.core.fixed import from_units
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from enum import IntEnum

    from whistle.core.events import Event
    from whistle.core.instrument import Instrument
    from whistle.engine.status import DepthSnapshot, EngineStatus

__all__ = [
    "encode_line",
    "render_depth",
    "render_error",
    "render_event",
    "render_status",
]

_ENUM_FIELDS: dict[str, type[IntEnum]] = {
    "side": Side,
    "aggressor_side": Side,
    "order_type": OrderType,
    "tif": TimeInForce,
    "reason": RejectReason,
    "cause": CancelCause,
    "liquidity": Liquidity,
    "state": TradingState,
}
_NAMES: dict[type[IntEnum], dict[int, str]] = {
    cls: {int(m): m.name for m in cls} for cls in set(_ENUM_FIELDS.values())
}

_SKIPPED = frozenset({"symbol", "detail_code"})
_RAW, _PRICE, _QTY, _ENUM = 0, 1, 2, 3
_Plan = tuple[tuple[str, str, int, dict[int, str] | None], ...]
_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    """Return (output key, attribute, kind, enum names) for each field of ``cls``."""
    plan = _PLANS.get(cls)
    if plan is None:
        items: list[tuple[str, str, int, dict[int, str] | None]] = []
        fields: tuple[str, ...] = cls.__struct_fields__  # type: ignore[attr-defined]
        for name in fields:
            if name in _SKIPPED:
                continue  # "symbol" is rendered up front, "detail_code" as "detail" words
            if name.endswith("_ticks"):
                items.append((name[: -len("_ticks")], name, _PRICE, None))
            elif name.endswith("_lots"):
                items.append((name[: -len("_lots")], name, _QTY, None))
            elif name in _ENUM_FIELDS:
                items.append((name, name, _ENUM, _NAMES[_ENUM_FIELDS[name]]))
            else:
                items.append((name, name, _RAW, None))
        plan = _PLANS[cls] = tuple(items)
    return plan


@lru_cache(maxsize=1 << 16)
def _units(units: int, step: str) -> str:
    # Prices and quantities repeat a lot; the Decimal arithmetic is the costly part.
    return from_units(units, Decimal(step))


def _fill(out: dict[str, Any], obj: object, instrument: Instrument | None) -> dict[str, Any]:
    for key, attr, kind, names in _plan(type(obj)):
        value = getattr(obj, attr)
        if kind == _RAW:
            out[key] = value
        elif kind == _ENUM:
            assert names is not None
            out[key] = names.get(int(value), value)
        elif instrument is None:
            out[key] = value  # no grid known (unknown symbol): keep the integer units
        elif kind == _PRICE:
            out[key] = _units(value, instrument.tick_size)
        else:
            out[key] = _units(value, instrument.lot_size)
    return out


def render_event(
    event: Event,
    instrument: Instrument | None,
    *,
    symbol: str | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """Return the output dict of one event.

    ``symbol`` defaults to ``instrument.symbol``; pass it for an edge reject of an unknown
    symbol (no instrument). ``detail`` is added to an edge reject (``seq == 0``) only; an
    engine reject with a non-zero ``detail_code`` gets its words (``whistle.book.details``)
    as ``"detail"`` instead of the code.
    """
    if symbol is None:
        symbol = instrument.symbol if instrument is not None else None
    out = _fill({"event": type(event).__name__, "symbol": symbol}, event, instrument)
    if isinstance(event, OrderRejected):
        if event.seq == 0:
            if detail is not None:
                out["detail"] = detail
        elif event.detail_code:
            out["detail"] = detail_text(event.detail_code)
    return out


def render_depth(snapshot: DepthSnapshot, instrument: Instrument) -> dict[str, Any]:
    """Return the ``Depth`` output dict: best levels, each ``price``, ``qty``, ``order_count``."""
    out = _fill({"event": "Depth", "symbol": instrument.symbol}, snapshot, None)
    out["bids"] = [_fill({}, level, instrument) for level in snapshot.bids]
    out["asks"] = [_fill({}, level, instrument) for level in snapshot.asks]
    return out


def render_status(status: EngineStatus, instrument: Instrument) -> dict[str, Any]:
    """Return the ``Status`` output dict (prices and quantities as decimal strings)."""
    return _fill({"event": "Status", "symbol": status.symbol}, status, instrument)


def render_error(line: int, message: str) -> dict[str, Any]:
    """Return the ``ScenarioError`` output dict of a line that could not be run."""
    return {"event": "ScenarioError", "line": line, "error": message}


_encode = msgspec.json.Encoder().encode


def encode_line(obj: dict[str, Any]) -> bytes:
    """Return ``obj`` as one compact JSON line (with the newline), keys in dict order."""
    return _encode(obj) + b"\n"
