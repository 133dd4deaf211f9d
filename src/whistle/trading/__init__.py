# Layer rule: whistle.trading is layer 7. It may import whistle.core, whistle.book,
# whistle.engine, whistle.ipc, whistle.journal, whistle.coord, whistle.feed and
# whistle.metrics; never whistle.orchestrator, whistle.api, whistle.cluster, whistle.scenario,
# DBOS or gRPC. It defines the gateway / exchange interfaces that those upper layers implement.
"""Trading: pipeline messages, strategies, risk controls, gateways, backtests.

The flow, one stage per step: market data (``MarketEvent``) -> strategy (``SignalEvent``)
-> risk (``RiskDecision``, ``RiskEngine``) -> gateway (``Order``), and ``OrderUpdate`` back.
Units everywhere: prices in ticks, quantities in lots, times in ns, money in tick-lots.
"""

from whistle.trading.accounting import Ledger, LedgerSnapshot
from whistle.trading.messages import (
    LEVELS,
    ZERO_LEVELS,
    MarketEvent,
    MarketKind,
    MessageFormatError,
    Order,
    OrderAction,
    OrderUpdate,
    RiskDecision,
    RiskReason,
    SignalEvent,
    SignalKind,
    UpdateKind,
)
from whistle.trading.risk import RiskConfig, RiskConfigError, RiskEngine, RiskLimits

# -- re-exports of the other trading modules (strategy, context, config, gateway, errors,
# examples, backtest, report, pipeline): each owner adds its import block below this line
# and its names to __all__ (kept sorted: CONSTANTS, then Classes, then functions).
# isort: split
from whistle.trading.config import load_strategy
from whistle.trading.context import Context, OpenOrder, OrderState, PnL
from whistle.trading.errors import (
    GatewayError,
    OrderStateError,
    StrategyConfigError,
    StrategyError,
    TradingError,
)
from whistle.trading.gateway import Exchange, Gateway, VenueExchange, VenueGateway
from whistle.trading.strategy import BookView, Strategy, subscriptions

__all__ = [
    "LEVELS",
    "ZERO_LEVELS",
    "BookView",
    "Context",
    "Exchange",
    "Gateway",
    "GatewayError",
    "Ledger",
    "LedgerSnapshot",
    "MarketEvent",
    "MarketKind",
    "MessageFormatError",
    "OpenOrder",
    "Order",
    "OrderAction",
    "OrderState",
    "OrderStateError",
    "OrderUpdate",
    "PnL",
    "RiskConfig",
    "RiskConfigError",
    "RiskDecision",
    "RiskEngine",
    "RiskLimits",
    "RiskReason",
    "SignalEvent",
    "SignalKind",
    "Strategy",
    "StrategyConfigError",
    "StrategyError",
    "TradingError",
    "UpdateKind",
    "VenueExchange",
    "VenueGateway",
    "load_strategy",
    "subscriptions",
]
