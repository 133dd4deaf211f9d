"""Layer 10: scale-out on NATS JetStream (command log, venue nodes, front end) with the
control plane on DBOS / PostgreSQL (``whistle.cluster.control``).

May import ``whistle.core``, ``whistle.book``, ``whistle.engine``, ``whistle.coord`` (its
package top only), ``whistle.api`` and lower layers; nothing above. The control plane
(DBOS, psycopg) is imported only by the modules that need it, so the log and the front
end load without it.
"""

from whistle.cluster.frontend import ClusterBackend, ClusterClient
from whistle.cluster.log import (
    DEFAULT_PREFIX,
    Batch,
    ClusterNames,
    CommandLog,
    Define,
    EventBatch,
    EventLog,
    Fenced,
    LogError,
    SequencerConflict,
)
from whistle.cluster.node import VenueNode
from whistle.cluster.sequencer import ShardSequencer, ShardSnapshot, serve_shard
from whistle.cluster.wire import AddInstrument, Execute, Query, Reply

__all__ = [
    "DEFAULT_PREFIX",
    "AddInstrument",
    "Batch",
    "ClusterBackend",
    "ClusterClient",
    "ClusterNames",
    "CommandLog",
    "Define",
    "EventBatch",
    "EventLog",
    "Execute",
    "Fenced",
    "LogError",
    "Query",
    "Reply",
    "SequencerConflict",
    "ShardSequencer",
    "ShardSnapshot",
    "VenueNode",
    "serve_shard",
]
