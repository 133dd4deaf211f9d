"""Layer 10: scale-out on NATS JetStream (command log, venue nodes, front end) with the
control plane on DBOS / PostgreSQL.

May import ``whistle.core``, ``whistle.book``, ``whistle.engine``, ``whistle.coord`` (its
package top only), ``whistle.api`` and lower layers; nothing above.
"""

from whistle.cluster.log import (
    DEFAULT_PREFIX,
    Batch,
    ClusterNames,
    CommandLog,
    Define,
    EventBatch,
    EventLog,
    LogError,
    SequencerConflict,
)

__all__ = [
    "DEFAULT_PREFIX",
    "Batch",
    "ClusterNames",
    "CommandLog",
    "Define",
    "EventBatch",
    "EventLog",
    "LogError",
    "SequencerConflict",
]
