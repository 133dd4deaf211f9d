"""Read-only views of an engine: status, L2 depth, L3 orders."""

from __future__ import annotations

from typing import final

import msgspec

from whistle.core.enums import TradingState

__all__ = ["DepthLevel", "DepthSnapshot", "EngineStatus", "L3Order", "OrderInfo"]


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
    bid_orders: int = 0
    """Resting buy orders (``resting_orders`` = ``bid_orders + ask_orders``)."""
    ask_orders: int = 0
    """Resting sell orders."""


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


@final
class OrderInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One live order as ``Whistle.order(order_id)`` reports it. Prices in ticks, lots.

    ``leaves_qty_lots`` is what the order has left (``displayed + hidden``);
    ``original_qty_lots`` what it was accepted (or replaced) with; ``filled_qty_lots`` what
    has traded, so ``original - filled - leaves`` is what left without trading (modify
    decreases, self-trade decrements). ``queue_position`` is 1 for the front of its level
    (0 for a parked stop, which is in no level); ``queue_ahead_lots`` the displayed
    quantity in front of it. ``entry_ts_ns`` is the time of the tick that accepted it.
    """

    order_id: int
    account: int
    side: int
    order_type: int
    tif: int
    price_ticks: int
    stop_price_ticks: int
    leaves_qty_lots: int
    displayed_qty_lots: int
    hidden_qty_lots: int
    filled_qty_lots: int
    original_qty_lots: int
    queue_position: int
    queue_ahead_lots: int
    entry_ts_ns: int
    expire_ts_ns: int
    parked: bool
