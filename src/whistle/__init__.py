"""whistle: a deterministic multi-market matching engine, in Python.

Layers (imports only go downward; see ARCHITECTURE.md):

1. ``whistle.core``      domain model: instruments, commands, events, reject reasons
2. ``whistle.book``      L3 order book and matching
3. ``whistle.engine``    ``Whistle``: one symbol's engine
4. ``whistle.ipc``, ``whistle.journal``   shared-memory rings, persistent queue
5. ``whistle.coord``     the venue runtime (``Venue``)
6. ``whistle.feed``      market data in: ITCH 5.0, LOBSTER, Databento MBO; MBP-10 rows
7. ``whistle.scenario``  JSON Lines scenarios
-  ``whistle.bench``     benchmarks;  top: ``whistle.cli``

This module re-exports the public names a user needs in a notebook or a test.
"""

from whistle.book.mbo import MarketByOrderBook
from whistle.coord.venue.facade import Venue
from whistle.core.commands import (
    CancelOrder,
    CancelReplace,
    Command,
    EndSession,
    HaltTrading,
    MassCancel,
    ModifyOrder,
    NewOrder,
    ResumeTrading,
)
from whistle.core.enums import (
    CancelCause,
    Liquidity,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
    TradingState,
)
from whistle.core.errors import (
    ConversionError,
    InstrumentError,
    PrecisionError,
    ValueFormatError,
    WhistleError,
)
from whistle.core.events import (
    BestBidOfferChanged,
    BookLevelChanged,
    EngineFaulted,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderReplaced,
    StopTriggered,
    TradeOccurred,
    TradingStatusChanged,
)
from whistle.core.instrument import Instrument, stable_symbol_id
from whistle.core.reasons import RejectReason
from whistle.engine import (
    DepthLevel,
    DepthSnapshot,
    EngineSnapshot,
    EngineStatus,
    L3Order,
    Whistle,
)

__version__ = "0.1.0"

__all__ = [
    "BestBidOfferChanged",
    "BookLevelChanged",
    "CancelCause",
    "CancelOrder",
    "CancelReplace",
    "Command",
    "ConversionError",
    "DepthLevel",
    "DepthSnapshot",
    "EndSession",
    "EngineFaulted",
    "EngineSnapshot",
    "EngineStatus",
    "Event",
    "HaltTrading",
    "Instrument",
    "InstrumentError",
    "L3Order",
    "Liquidity",
    "MarketByOrderBook",
    "MassCancel",
    "ModifyOrder",
    "NewOrder",
    "OrderAccepted",
    "OrderCancelled",
    "OrderExpired",
    "OrderFilled",
    "OrderModified",
    "OrderRejected",
    "OrderReplaced",
    "OrderType",
    "PrecisionError",
    "RejectReason",
    "ResumeTrading",
    "Side",
    "StopTriggered",
    "StpMode",
    "TimeInForce",
    "TradeOccurred",
    "TradingState",
    "TradingStatusChanged",
    "ValueFormatError",
    "Venue",
    "Whistle",
    "WhistleError",
    "__version__",
    "stable_symbol_id",
]
