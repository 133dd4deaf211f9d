"""Layer 5: the venue runtime.

``Venue`` (the API) on top of ``OrderRouter`` (sequencing), ``SymbolCoordinator``
(lifecycle, placement), engine hosts (``InProcessHost``, ``ProcessHost``) and
``SimulationClock``; ``OrderbookManagerService`` is the seed-003 facade.

May import ``whistle.core``, ``whistle.book``, ``whistle.engine``, ``whistle.ipc`` and
``whistle.journal``.
"""

from whistle.coord.clock import ClockMode, SimulationClock, Tick
from whistle.coord.coordinator import CoordStats, ReadyAtTick, SymbolCoordinator
from whistle.coord.errors import (
    CoordError,
    HostDead,
    HostError,
    HostStateError,
    HostTimeout,
    InvalidTransition,
    SymbolEvicted,
    SymbolNotRegistered,
)
from whistle.coord.host import EngineHost
from whistle.coord.host_local import InProcessHost, UnknownEngine
from whistle.coord.host_process import ProcessHost
from whistle.coord.lifecycle import TRANSITIONS, SymbolFaulted, SymbolState, Trigger, next_state
from whistle.coord.placement import (
    HashBasedPolicy,
    HostLoad,
    LeastLoadedPolicy,
    PlacementPolicy,
    RoundRobinPolicy,
)
from whistle.coord.queues import BoundedQueue, QueueAllocator
from whistle.coord.registry import DuplicateSymbol, SymbolEntry, SymbolRegistry
from whistle.coord.router import Backpressure, OrderRouter
from whistle.coord.service import (
    ChannelSendError,
    CloseOrderbookError,
    InstrumentNotRegistered,
    OrderbookError,
    OrderbookHalted,
    OrderbookManagerError,
    OrderbookManagerService,
    Timeout,
)
from whistle.coord.venue import PLACEMENTS, Venue

__all__ = [
    "PLACEMENTS",
    "TRANSITIONS",
    "Backpressure",
    "BoundedQueue",
    "ChannelSendError",
    "ClockMode",
    "CloseOrderbookError",
    "CoordError",
    "CoordStats",
    "DuplicateSymbol",
    "EngineHost",
    "HashBasedPolicy",
    "HostDead",
    "HostError",
    "HostLoad",
    "HostStateError",
    "HostTimeout",
    "InProcessHost",
    "InstrumentNotRegistered",
    "InvalidTransition",
    "LeastLoadedPolicy",
    "OrderRouter",
    "OrderbookError",
    "OrderbookHalted",
    "OrderbookManagerError",
    "OrderbookManagerService",
    "PlacementPolicy",
    "ProcessHost",
    "QueueAllocator",
    "ReadyAtTick",
    "RoundRobinPolicy",
    "SimulationClock",
    "SymbolCoordinator",
    "SymbolEntry",
    "SymbolEvicted",
    "SymbolFaulted",
    "SymbolNotRegistered",
    "SymbolRegistry",
    "SymbolState",
    "Tick",
    "Timeout",
    "Trigger",
    "UnknownEngine",
    "Venue",
    "next_state",
]
