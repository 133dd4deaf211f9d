"""Events: what an engine reports. Past-tense names; immutable.

Every event starts with the same four fields:

- ``symbol_id``: the symbol whose engine emitted it;
- ``seq``: that engine's event sequence number, 1, 2, 3, ... without gaps
  (0 only for ``OrderRejected`` issued before sequencing, e.g. unknown symbol, and for
  ``DuplicateClientOrder``, the venue's answer to a repeated client order id);
- ``enq_seq``: the router's sequence number of the command that caused it
  (0 when the clock caused it: GTD expiry on ``tick``);
- ``ts_ns``: simulation time of the tick in which it happened.

Market-data events (``BookLevelChanged``, ``BestBidOfferChanged``) are emitted once per
command, after all order events of that command, as the net change of the book.
"""

from __future__ import annotations

from typing import final

import msgspec

__all__ = [
    "EVENT_TYPES",
    "BestBidOfferChanged",
    "BookLevelChanged",
    "DuplicateClientOrder",
    "EngineFaulted",
    "Event",
    "OrderAccepted",
    "OrderCancelled",
    "OrderExpired",
    "OrderFilled",
    "OrderModified",
    "OrderRejected",
    "OrderReplaced",
    "StopTriggered",
    "TradeOccurred",
    "TradingStatusChanged",
]


class _Event(msgspec.Struct, frozen=True, gc=False, array_like=True, tag_field="k"):
    symbol_id: int
    seq: int
    enq_seq: int
    ts_ns: int


@final
class OrderAccepted(_Event, frozen=True, gc=False, array_like=True, tag=1):
    """A new order passed validation (it may trade, rest or be parked next)."""

    order_id: int
    account: int
    side: int
    order_type: int
    tif: int
    price_ticks: int
    qty_lots: int
    stop_price_ticks: int
    display_qty_lots: int


@final
class OrderRejected(_Event, frozen=True, gc=False, array_like=True, tag=2):
    """A command was refused; the book is unchanged. ``reason`` is a ``RejectReason``.

    ``detail_code`` says which check refused it, finer than ``reason`` (0: nothing to add;
    table and words: ``whistle.book.details``). A trailing default, so journals written
    before it decode unchanged.
    """

    order_id: int
    account: int
    reason: int
    detail_code: int = 0


@final
class OrderFilled(_Event, frozen=True, gc=False, array_like=True, tag=3):
    """One side of a trade. ``leaves_qty_lots`` is what the order has left afterwards."""

    order_id: int
    account: int
    side: int
    liquidity: int
    price_ticks: int
    qty_lots: int
    leaves_qty_lots: int
    trade_id: int


@final
class TradeOccurred(_Event, frozen=True, gc=False, array_like=True, tag=4):
    """The public print of a trade (anonymous: order ids, no accounts)."""

    trade_id: int
    price_ticks: int
    qty_lots: int
    aggressor_side: int
    maker_order_id: int
    taker_order_id: int


@final
class OrderCancelled(_Event, frozen=True, gc=False, array_like=True, tag=5):
    """Quantity left an order without trading. ``leaves_qty_lots`` > 0 means a reduction."""

    order_id: int
    account: int
    cause: int
    cancelled_qty_lots: int
    leaves_qty_lots: int


@final
class OrderExpired(_Event, frozen=True, gc=False, array_like=True, tag=6):
    """A GTD or DAY order expired: the cancellation with cause ``EXPIRED``."""

    order_id: int
    account: int
    cancelled_qty_lots: int
    cause: int = 4  # CancelCause.EXPIRED, so consumers can treat removals alike


@final
class OrderModified(_Event, frozen=True, gc=False, array_like=True, tag=7):
    """A resting order's price or remaining quantity changed."""

    order_id: int
    account: int
    price_ticks: int
    qty_lots: int
    priority_kept: bool


@final
class OrderReplaced(_Event, frozen=True, gc=False, array_like=True, tag=8):
    """A resting order was replaced by a new one (new id, new time priority)."""

    order_id: int
    new_order_id: int
    account: int
    price_ticks: int
    qty_lots: int


@final
class StopTriggered(_Event, frozen=True, gc=False, array_like=True, tag=9):
    """A parked stop order's trigger was reached; it now enters the book."""

    order_id: int
    account: int
    stop_price_ticks: int
    last_price_ticks: int


@final
class BookLevelChanged(_Event, frozen=True, gc=False, array_like=True, tag=10):
    """The displayed quantity or order count at one price changed (0 and 0: level gone)."""

    side: int
    price_ticks: int
    qty_lots: int
    order_count: int


@final
class BestBidOfferChanged(_Event, frozen=True, gc=False, array_like=True, tag=11):
    """Top of book changed in price or size. An empty side has price and qty 0."""

    bid_price_ticks: int
    bid_qty_lots: int
    ask_price_ticks: int
    ask_qty_lots: int


@final
class TradingStatusChanged(_Event, frozen=True, gc=False, array_like=True, tag=12):
    """The symbol's ``TradingState`` changed (halt, resume)."""

    state: int


@final
class EngineFaulted(_Event, frozen=True, gc=False, array_like=True, tag=13):
    """The engine hit an internal error and is FAULTED; ``detail`` says what happened."""

    detail: str


@final
class DuplicateClientOrder(_Event, frozen=True, gc=False, array_like=True, tag=14):
    """A repeat of an order entry the venue already took for (account, client_order_id).

    Nothing was sequenced or journaled (``seq`` and ``enq_seq`` are 0, like an edge
    reject); the venue returns it first, then the original command's events about its
    order. ``order_id`` is the original's (a CancelReplace's: its ``new_order_id``),
    ``original_enq_seq`` the ``enq_seq`` it was sequenced with, ``outcome`` a
    ``ClientOrderOutcome`` (PENDING: its tick has not run yet) and ``reason`` the engine's
    ``RejectReason`` when it was REJECTED (else 0).
    """

    order_id: int
    account: int
    client_order_id: int
    original_enq_seq: int
    outcome: int
    reason: int


Event = (
    OrderAccepted
    | OrderRejected
    | OrderFilled
    | TradeOccurred
    | OrderCancelled
    | OrderExpired
    | OrderModified
    | OrderReplaced
    | StopTriggered
    | BookLevelChanged
    | BestBidOfferChanged
    | TradingStatusChanged
    | EngineFaulted
    | DuplicateClientOrder
)

EVENT_TYPES: tuple[type[Event], ...] = (
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    TradeOccurred,
    OrderCancelled,
    OrderExpired,
    OrderModified,
    OrderReplaced,
    StopTriggered,
    BookLevelChanged,
    BestBidOfferChanged,
    TradingStatusChanged,
    EngineFaulted,
    DuplicateClientOrder,
)
