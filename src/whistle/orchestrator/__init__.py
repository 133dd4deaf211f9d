# Layer rule: whistle.orchestrator is layer 8. It may import whistle.trading and every layer
# below it (core .. coord, feed, metrics) and DBOS; never whistle.api, whistle.cluster,
# whistle.bench, whistle.demo, whistle.tools or whistle.cli.
"""The durable multi-symbol orchestrator (seed 001) on DBOS.

A ``symbol_registry`` of trading pairs changed only by DBOS workflows
(``add_trading_pair``, ``remove_trading_pair``, ``pause``, ``resume``,
``start_orchestrator``), one ``SymbolManager`` actor per pair (its ``PositionManager``,
strategy and execution engine, simple or durable) on one shared ``VenueLink``, and a
supervisor that restarts a failed actor with backoff and marks it FAILED when it gives up.
"""

from whistle.orchestrator.actor import SymbolManager, coid_base
from whistle.orchestrator.config import PairConfig, validate_pair
from whistle.orchestrator.database import APP_VERSION, DB_ENV, resolve_url, spawn_context
from whistle.orchestrator.engines import DurableEngine, SimpleEngine
from whistle.orchestrator.errors import (
    DatabaseUnavailable,
    ForkedProcessError,
    OrchestratorError,
    SymbolConfigError,
    SymbolConflict,
    UnknownSymbol,
)
from whistle.orchestrator.exchange import VenueLink
from whistle.orchestrator.position import OpenSlot, PositionManager, PositionSnapshot
from whistle.orchestrator.registry import Registry, RegistryRow
from whistle.orchestrator.service import Orchestrator, OrchestratorLocked, SymbolStatus
from whistle.orchestrator.simulator import MarketSimulator

__all__ = [
    "APP_VERSION",
    "DB_ENV",
    "DatabaseUnavailable",
    "DurableEngine",
    "ForkedProcessError",
    "MarketSimulator",
    "OpenSlot",
    "Orchestrator",
    "OrchestratorError",
    "OrchestratorLocked",
    "PairConfig",
    "PositionManager",
    "PositionSnapshot",
    "Registry",
    "RegistryRow",
    "SimpleEngine",
    "SymbolConfigError",
    "SymbolConflict",
    "SymbolManager",
    "SymbolStatus",
    "UnknownSymbol",
    "VenueLink",
    "coid_base",
    "resolve_url",
    "spawn_context",
    "validate_pair",
]
