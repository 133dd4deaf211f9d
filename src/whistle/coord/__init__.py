"""Layer 5: the venue runtime.

Sub-packages, lowest first (a module imports only its own sub-package or lower ones;
``tests/unit/coord/test_coord_structure.py`` checks it):

- ``errors``: the exceptions of every part (a module, below all sub-packages);
- ``hosts``: engine hosts (``EngineHost``, ``InProcessHost``, ``ProcessHost``, the host
  process's loop and its wire format, ring allocation);
- ``runtime``: ``OrderRouter`` (sequencing), ``SymbolCoordinator`` (lifecycle, placement,
  registry), ``SimulationClock``;
- ``durability``: journal records, the data directory's journals and snapshots, recovery,
  the client-order table, replay and playback;
- ``venue``: ``Venue`` (the API) and ``OrderbookManagerService`` (the seed-003 facade).

Code outside ``whistle.coord`` imports the names exported here (``from whistle.coord
import Venue``), not the sub-modules.

May import ``whistle.core``, ``whistle.book``, ``whistle.engine``, ``whistle.ipc`` and
``whistle.journal``.
"""

from whistle.coord.durability.client_orders import ClientOrderInfo
from whistle.coord.durability.datadir import DataDirError, JournalUnavailable
from whistle.coord.durability.playback import Playback
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
from whistle.coord.hosts.base import EngineHost
from whistle.coord.hosts.local import InProcessHost, UnknownEngine
from whistle.coord.hosts.process import ProcessHost
from whistle.coord.hosts.queues import BoundedQueue, QueueAllocator
from whistle.coord.runtime.clock import ClockMode, SimulationClock, Tick
from whistle.coord.runtime.coordinator import CoordStats, ReadyAtTick, SymbolCoordinator
from whistle.coord.runtime.lifecycle import (
    TRANSITIONS,
    SymbolFaulted,
    SymbolState,
    Trigger,
    next_state,
)
from whistle.coord.runtime.placement import (
    HashBasedPolicy,
    HostLoad,
    LeastLoadedPolicy,
    PlacementPolicy,
    RoundRobinPolicy,
)
from whistle.coord.runtime.registry import DuplicateSymbol, SymbolEntry, SymbolRegistry
from whistle.coord.runtime.router import Backpressure, OrderRouter
from whistle.coord.venue.facade import PLACEMENTS, DurabilityStatus, RecoveryReport, Venue
from whistle.coord.venue.service import (
    ChannelSendError,
    CloseOrderbookError,
    InstrumentNotRegistered,
    OrderbookError,
    OrderbookHalted,
    OrderbookManagerError,
    OrderbookManagerService,
    Timeout,
)

__all__ = [
    "PLACEMENTS",
    "TRANSITIONS",
    "Backpressure",
    "BoundedQueue",
    "ChannelSendError",
    "ClientOrderInfo",
    "ClockMode",
    "CloseOrderbookError",
    "CoordError",
    "CoordStats",
    "DataDirError",
    "DuplicateSymbol",
    "DurabilityStatus",
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
    "JournalUnavailable",
    "LeastLoadedPolicy",
    "OrderRouter",
    "OrderbookError",
    "OrderbookHalted",
    "OrderbookManagerError",
    "OrderbookManagerService",
    "PlacementPolicy",
    "Playback",
    "ProcessHost",
    "QueueAllocator",
    "ReadyAtTick",
    "RecoveryReport",
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
