"""Read-only views of an engine: status, L2 depth, L3 orders."""

from __future__ import annotations

from typing import final

import msgspec

from whistle.core.enums import TradingState

__all__ = ["DepthLevel", "DepthSnapshot", "EngineStatus", "L3Order"]


@final
class EngineStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What ``Whistle.status()`` reports. Prices in ticks, quantities in lots (0: none)."""

    symbol: str
    symbol_id: int
    state: TradingState
    resting_orders: int
    parked_stops: int
    best_bid_ticks: int
    best_bid_qty_lots: int
    best_ask_ticks: int
    best_ask_qty_lots: int
    last_trade_ticks: int
    trades: int
    event_seq: int
    last_enq_seq: int
    now_ns: int
    fault: str | None


@final
class DepthLevel(msgspec.Struct, frozen=True, array_like=True):
    """One L2 level: price, displayed quantity, order count."""

    price_ticks: int
    qty_lots: int
    order_count: int


@final
class DepthSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The best N levels per side, as of event ``seq``."""

    symbol_id: int
    seq: int
    bids: list[DepthLevel]
    asks: list[DepthLevel]


@final
class L3Order(msgspec.Struct, frozen=True, array_like=True):
    """One resting order as L3 shows it (``hidden_lots`` is the iceberg reserve)."""

    order_id: int
    account: int
    side: int
    price_ticks: int
    qty_lots: int
    hidden_lots: int
