"""The cluster's control plane on PostgreSQL: shard map, leases with fencing, membership, moves.

One row per shard holds both its *assignment* (the node that should sequence it, and a
generation counted up by every reassignment) and its *lease* (the holder, a fencing token,
an expiry in database time, a revoked flag). Every change is one conditional ``UPDATE`` of
that row, so two contenders race on PostgreSQL's row lock and exactly one wins.

Lease rules (why a node that lost its lease can never act as the shard's sequencer):

=====================  ==================================================================
``acquire``            only when the shard is unassigned (it is then assigned to the node)
                       or assigned to the node, and no unexpired lease exists (``now()`` of
                       the database, never the node's clock); the token becomes the
                       previous token + 1, so tokens grow strictly per shard
``renew``              only by the holder with the same token, before the expiry, when not
                       revoked; otherwise the lease is LOST (``None``)
``release``            ends the holder's lease at once (the holder has stopped first)
``revoke`` (a move)    renewals are refused from then on; a revoked lease still blocks
                       every ``acquire`` until it expires or is released
``valid``              no I/O: the node's own monotonic clock against ``deadline``, which is
                       the clock read *before* the request was sent + ``lease_s`` -
                       ``safety_s``, so it ends before the database expiry in real time as
                       long as the two clocks drift apart by less than ``safety_s`` over one
                       lease
=====================  ==================================================================

A node checks ``valid(lease)`` before every acknowledgement and every event it publishes;
the JetStream log's expected-last-subject-sequence refuses a second sequencer on top.

**Moves** are a DBOS workflow (``move_shard``, id ``shard-<s>-move-<generation>``, from the
business key, so any number of supervisors asking to move the same assignment start one
workflow): reassign (step; refused if the generation changed) -> revoke the old lease (step)
-> wait until the new node holds a lease (step: it can only acquire once the old lease has
ended) -> record the outcome (step). ``supervise`` (run by every node's ``ShardKeeper``)
marks nodes whose heartbeat is older than ``node_timeout_s`` (database time) down, starts
the moves of their shards to the least loaded live node, and re-enqueues the pending move
workflows of down executors (a node's DBOS executor id is its node name), so a move that
was running on a killed node is finished by a survivor.

Every table lives in the configurable schema ``schema`` and DBOS's own tables in
``<schema>_dbos``, so tests and clusters are isolated from each other.

Why one long module: the lease rules, the move workflow's steps and the keeper that
drives them are one protocol whose safety argument crosses all three (a step's
conditional ``UPDATE`` is what makes ``acquire`` wait for a revoked lease; the keeper's
release is what lets a move end early); reading them side by side is the point.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import re
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeAlias, final

import psycopg
from dbos import DBOS, DBOSClient, DBOSConfig, EnqueueOptions, SetWorkflowID
from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = [
    "DEFAULT_SCHEMA",
    "MOVE_QUEUE",
    "MOVE_WORKFLOW",
    "ControlError",
    "ControlPlane",
    "ControlUnavailable",
    "Lease",
    "LeaseInfo",
    "MoveResult",
    "NodeInfo",
    "ShardKeeper",
    "ShardMap",
    "normalize_url",
    "shard_for",
]

DEFAULT_SCHEMA: Final = "whistle_cluster"
APP_NAME: Final = "whistle-cluster"
# Pinned: DBOS recovers a pending workflow only under the version that started it (see
# whistle.orchestrator.database); change it only with a note on the workflow's shape.
APP_VERSION: Final = "whistle-cluster-1"
MOVE_WORKFLOW: Final = "whistle.cluster.move_shard"
MOVE_QUEUE: Final = "whistle_cluster_moves"
"""Every launched plane runs moves enqueued here (``request_move``, from outside DBOS)."""
CONNECT_TIMEOUT_S: Final = 3
STATEMENT_TIMEOUT_MS: Final = 5000
POOL_SIZE: Final = 4
_Query: TypeAlias = "sql.SQL | sql.Composed"
_SCHEMA_RE: Final = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


class ControlError(Exception):
    """A control-plane request that cannot be done (bad argument, wrong state)."""


class ControlUnavailable(ControlError):
    """The database did not answer; the caller keeps what it holds until its deadline."""


@final
@dataclass(frozen=True, slots=True)
class Lease:
    """A shard lease as its holder sees it; ``deadline`` is on the holder's own clock."""

    shard: int
    node: str
    token: int
    deadline: float


@final
@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """A shard's row as the database sees it (``remaining_s`` <= 0: no live lease)."""

    shard: int
    assigned: str | None
    generation: int
    holder: str | None
    token: int
    remaining_s: float
    revoked: bool


@final
@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A member: ``age_s`` is the time since its last heartbeat (database time)."""

    node: str
    address: str
    up: bool
    age_s: float


@final
@dataclass(frozen=True, slots=True)
class MoveResult:
    """How a move workflow ended: ``taken`` (``to_node`` holds lease ``token``), ``stale``
    (the assignment changed before it began) or ``unclaimed`` (``to_node`` did not take the
    shard in time; the supervisor moves it again if ``to_node`` is down)."""

    workflow_id: str
    shard: int
    from_node: str | None
    to_node: str
    outcome: str
    token: int


def shard_for(symbol: str, shards: int, overrides: Mapping[str, int] | None = None) -> int:
    """The shard of ``symbol``: its override, else crc32 of its UTF-8 bytes mod ``shards``."""
    if overrides:
        pinned = overrides.get(symbol)
        if pinned is not None:
            return pinned
    return zlib.crc32(symbol.encode("utf-8")) % shards


@final
@dataclass(frozen=True, slots=True)
class ShardMap:
    """A snapshot of the symbol -> shard map (pure: cache it where routing is hot)."""

    shards: int
    overrides: Mapping[str, int] = field(default_factory=dict)

    def shard_of(self, symbol: str) -> int:
        """The shard ``symbol``'s commands go to."""
        return shard_for(symbol, self.shards, self.overrides)


def normalize_url(url: str) -> str:
    """``url`` as libpq takes it (a SQLAlchemy ``postgresql+psycopg://`` prefix dropped)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith(("postgresql", "postgres")):
        raise ControlError(f"the control plane needs a postgresql://... URL, was {url!r}")
    return "postgresql://" + rest


# The DBOS process-wide state: DBOS is one instance per process, so one launched plane.
_planes: dict[str, ControlPlane] = {}
_launched: list[ControlPlane] = []
_launch_lock = threading.Lock()


@final
class ControlPlane:
    """Shard map, leases, membership and shard moves of one cluster (one schema)."""

    def __init__(
        self,
        url: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        shards: int = 16,
        lease_s: float = 3.0,
        safety_s: float = 0.75,
        node_timeout_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not _SCHEMA_RE.match(schema):
            raise ControlError(f"schema must match {_SCHEMA_RE.pattern}, was {schema!r}")
        if shards < 1:
            raise ControlError(f"shards must be >= 1, was {shards}")
        if not 0 < safety_s < lease_s:
            raise ControlError(f"safety_s must be in (0, lease_s={lease_s:g}), was {safety_s:g}")
        if node_timeout_s <= 0:
            raise ControlError(f"node_timeout_s must be > 0, was {node_timeout_s:g}")
        self.url = normalize_url(url)
        self.schema = schema
        self.dbos_schema = f"{schema}_dbos"
        self.shards = shards
        self.lease_s = lease_s
        self.safety_s = safety_s
        self.node_timeout_s = node_timeout_s
        self.join_grace_s = max(30.0, 10 * node_timeout_s)
        """How long a shard assigned to a node that never joined waits before it moves."""
        self.clock = clock
        self._idle: list[psycopg.Connection[Any]] = []
        self._open = 0
        self._pool_cv = threading.Condition()
        # shard -> highest token this process knows has ended (refused renew, release).
        self._ended: dict[int, int] = {}
        self._ended_lock = threading.Lock()
        self._closed = False
        self._stopping = threading.Event()
        self._steps = 0  # move-workflow steps running in this process (shutdown waits)
        self._steps_lock = threading.Lock()
        self.executor_id: str | None = None
        s = sql.Identifier(schema)
        self._t_shards = sql.SQL("{}.shards").format(s)
        self._t_nodes = sql.SQL("{}.nodes").format(s)
        self._t_overrides = sql.SQL("{}.overrides").format(s)
        self._t_config = sql.SQL("{}.config").format(s)
        self._t_moves = sql.SQL("{}.moves").format(s)

    # ------------------------------------------------------------------ connections

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            )
        except psycopg.OperationalError as exc:
            raise ControlUnavailable(f"cannot reach the control database: {_line(exc)}") from None

    @contextlib.contextmanager
    def _checkout(self) -> Iterator[psycopg.Connection[Any]]:
        # A small pool (at most POOL_SIZE connections per plane: the server's connection
        # limit is shared): a call that hangs on a dead link holds one, the rest go on.
        with self._pool_cv:
            deadline = time.monotonic() + CONNECT_TIMEOUT_S * 2
            while not self._idle and self._open >= POOL_SIZE:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ControlUnavailable(
                        f"all {POOL_SIZE} control-database connections are busy"
                    )
                self._pool_cv.wait(left)
            if self._closed:
                raise ControlError("the control plane is closed")
            conn = self._idle.pop() if self._idle else None
            self._open += conn is None
        try:
            if conn is None:
                conn = self._connect()
            yield conn
        except psycopg.OperationalError as exc:
            # A broken or timed-out connection: drop it so the next call reconnects.
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            conn = None
            raise ControlUnavailable(f"the control database did not answer: {_line(exc)}") from None
        finally:
            with self._pool_cv:
                if conn is None or conn.closed or self._closed:
                    self._open -= 1
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            conn.close()
                else:
                    self._idle.append(conn)
                self._pool_cv.notify()

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._checkout() as conn, conn.cursor() as cur:
            yield cur

    def _one(self, query: _Query, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        with self._cursor() as cur:
            cur.execute(query, params)
            row: tuple[Any, ...] | None = cur.fetchone() if cur.description else None
            return row

    def _all(self, query: _Query, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall())

    def close(self) -> None:
        """Close the pooled connections (one in use is closed when it comes back)."""
        with self._pool_cv:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._pool_cv.notify_all()
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()

    # ------------------------------------------------------------------ schema

    def create(self) -> None:
        """Create the schema, tables and shard rows (idempotent; safe when racing)."""
        s = sql.Identifier(self.schema)
        statements = [
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, value text NOT NULL)"
            ).format(self._t_config),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (node text PRIMARY KEY,"
                " address text NOT NULL DEFAULT '', up boolean NOT NULL,"
                " joined_at timestamptz NOT NULL, last_seen timestamptz NOT NULL)"
            ).format(self._t_nodes),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (shard integer PRIMARY KEY,"
                " assigned text, generation bigint NOT NULL DEFAULT 0,"
                " holder text, token bigint NOT NULL DEFAULT 0,"
                " expires_at timestamptz NOT NULL DEFAULT '-infinity',"
                " revoked boolean NOT NULL DEFAULT false, renewed_at timestamptz,"
                " assigned_at timestamptz)"
            ).format(self._t_shards),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (symbol text PRIMARY KEY, shard integer NOT NULL)"
            ).format(self._t_overrides),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (workflow_id text PRIMARY KEY, shard integer"
                " NOT NULL, from_node text, to_node text NOT NULL, reason text NOT NULL,"
                " started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz,"
                " outcome text, token bigint)"
            ).format(self._t_moves),
        ]
        with self._checkout() as conn, conn.transaction(), conn.cursor() as cur:
            # CREATE ... IF NOT EXISTS races on the catalog's unique index: serialize.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
            for statement in statements:
                cur.execute(statement)
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} (key, value) VALUES ('shards', %s), ('lease_s', %s),"
                    " ('safety_s', %s), ('node_timeout_s', %s) ON CONFLICT DO NOTHING"
                ).format(self._t_config),
                (
                    str(self.shards),
                    repr(self.lease_s),
                    repr(self.safety_s),
                    repr(self.node_timeout_s),
                ),
            )
            cur.execute(sql.SQL("SELECT value FROM {} WHERE key = 'shards'").format(self._t_config))
            row = cur.fetchone()
            stored = int(row[0]) if row else self.shards
            if stored != self.shards:
                raise ControlError(
                    f"schema {self.schema!r} was created with {stored} shards,"
                    f" this plane has {self.shards}"
                )
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} (shard) SELECT g FROM generate_series(0, %s) AS g"
                    " ON CONFLICT DO NOTHING"
                ).format(self._t_shards),
                (self.shards - 1,),
            )

    def exists(self) -> bool:
        """Whether the schema exists (a cluster was created in it)."""
        row = self._one(
            sql.SQL("SELECT 1 FROM pg_namespace WHERE nspname = %(s)s"), {"s": self.schema}
        )
        return row is not None

    @classmethod
    def attach(
        cls,
        url: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        clock: Callable[[], float] = time.monotonic,
    ) -> ControlPlane:
        """A plane on an existing cluster: the shard count and timings it was created with.

        What a node or the CLI uses, so every member agrees with ``whistle cluster up``.
        A schema with no cluster in it raises ``ControlError``.
        """
        probe = cls(url, schema=schema)
        try:
            rows = probe._all(sql.SQL("SELECT key, value FROM {}").format(probe._t_config), {})
        except psycopg.errors.UndefinedTable:
            raise ControlError(
                f"no cluster in schema {schema!r} of {url}: run whistle cluster up"
            ) from None
        finally:
            probe.close()
        config = {str(k): str(v) for k, v in rows}
        return cls(
            url,
            schema=schema,
            shards=int(config["shards"]),
            lease_s=float(config.get("lease_s", 3.0)),
            safety_s=float(config.get("safety_s", 0.75)),
            node_timeout_s=float(config.get("node_timeout_s", 3.0)),
            clock=clock,
        )

    def drop(self) -> None:
        """Drop the schema and DBOS's schema with everything in them."""
        for name in (self.schema, self.dbos_schema):
            self._one(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)), {})

    # ------------------------------------------------------------------ shard map

    def shard_map(self) -> ShardMap:
        """The current map (the shard count and every override)."""
        rows = self._all(sql.SQL("SELECT symbol, shard FROM {}").format(self._t_overrides), {})
        return ShardMap(self.shards, {str(symbol): int(shard) for symbol, shard in rows})

    def shard_of(self, symbol: str) -> int:
        """The shard of ``symbol`` (reads its override from the database)."""
        row = self._one(
            sql.SQL("SELECT shard FROM {} WHERE symbol = %(s)s").format(self._t_overrides),
            {"s": symbol},
        )
        return int(row[0]) if row else shard_for(symbol, self.shards)

    def set_override(self, symbol: str, shard: int | None) -> None:
        """Pin ``symbol`` to ``shard`` (``None``: back to the hash).

        Pin a symbol before its first command: its commands so far stay in the old shard's
        stream, and the map does not migrate them.
        """
        if shard is None:
            self._one(
                sql.SQL("DELETE FROM {} WHERE symbol = %(s)s").format(self._t_overrides),
                {"s": symbol},
            )
            return
        self._check_shard(shard)
        self._one(
            sql.SQL(
                "INSERT INTO {} (symbol, shard) VALUES (%(s)s, %(n)s)"
                " ON CONFLICT (symbol) DO UPDATE SET shard = EXCLUDED.shard"
            ).format(self._t_overrides),
            {"s": symbol, "n": shard},
        )

    def _check_shard(self, shard: int) -> None:
        if not 0 <= shard < self.shards:
            raise ControlError(f"shard must be in [0, {self.shards}), was {shard}")

    # ------------------------------------------------------------------ membership

    def join(self, node: str, address: str = "") -> None:
        """Register ``node`` as up (again) with a fresh heartbeat."""
        _check_node(node)
        self._one(
            sql.SQL(
                "INSERT INTO {} (node, address, up, joined_at, last_seen)"
                " VALUES (%(n)s, %(a)s, true, now(), now())"
                " ON CONFLICT (node) DO UPDATE SET address = EXCLUDED.address, up = true,"
                " joined_at = now(), last_seen = now()"
            ).format(self._t_nodes),
            {"n": node, "a": address},
        )

    def heartbeat(self, node: str) -> list[int]:
        """Refresh ``node``'s heartbeat; return the shards assigned to it.

        A node that was marked down (its heartbeat was late) is up again, but the shards
        moved away meanwhile stay where they went. An unknown node raises ``ControlError``.
        """
        row = self._one(
            sql.SQL(
                "UPDATE {} SET last_seen = now(), up = true WHERE node = %(n)s RETURNING node"
            ).format(self._t_nodes),
            {"n": node},
        )
        if row is None:
            raise ControlError(f"node {node!r} has not joined; call join() first")
        return self.assignments(node)

    def leave(self, node: str) -> None:
        """Mark ``node`` down at once (a graceful stop: its shards move to others)."""
        self._one(
            sql.SQL("UPDATE {} SET up = false WHERE node = %(n)s").format(self._t_nodes),
            {"n": node},
        )

    def nodes(self) -> list[NodeInfo]:
        """Every member, by name."""
        rows = self._all(
            sql.SQL(
                "SELECT node, address, up, EXTRACT(EPOCH FROM now() - last_seen)"
                " FROM {} ORDER BY node"
            ).format(self._t_nodes),
            {},
        )
        return [NodeInfo(str(n), str(a), bool(u), float(age)) for n, a, u, age in rows]

    def assign(self, shard: int, node: str) -> None:
        """Place an *unassigned* shard on ``node`` (initial placement; else use ``move``)."""
        self._check_shard(shard)
        _check_node(node)
        row = self._one(
            sql.SQL(
                "UPDATE {} SET assigned = %(n)s, assigned_at = now() WHERE shard = %(s)s"
                " AND (assigned IS NULL OR assigned = %(n)s) RETURNING shard"
            ).format(self._t_shards),
            {"n": node, "s": shard},
        )
        if row is None:
            owner = self.lease_info(shard).assigned
            raise ControlError(
                f"shard {shard} is assigned to {owner!r}; move it with move({shard}, {node!r})"
            )

    def assignments(self, node: str) -> list[int]:
        """The shards assigned to ``node``, ascending."""
        rows = self._all(
            sql.SQL("SELECT shard FROM {} WHERE assigned = %(n)s ORDER BY shard").format(
                self._t_shards
            ),
            {"n": node},
        )
        return [int(r[0]) for r in rows]

    # ------------------------------------------------------------------ leases

    def acquire(self, shard: int, node: str) -> Lease | None:
        """Take ``shard``'s lease for ``node`` (rules in the module docstring), or ``None``."""
        self._check_shard(shard)
        _check_node(node)
        sent = self.clock()
        row = self._one(
            sql.SQL(
                "UPDATE {shards} SET assigned_at = CASE WHEN assigned IS NULL THEN now()"
                " ELSE assigned_at END, assigned = %(n)s, holder = %(n)s, token = token + 1,"
                " expires_at = now() + make_interval(secs => %(l)s), revoked = false,"
                " renewed_at = now()"
                " WHERE shard = %(s)s AND (assigned IS NULL OR assigned = %(n)s)"
                " AND expires_at <= now()"
                " AND EXISTS (SELECT 1 FROM {nodes} WHERE node = %(n)s AND up)"
                " RETURNING token"
            ).format(shards=self._t_shards, nodes=self._t_nodes),
            {"n": node, "s": shard, "l": self.lease_s},
        )
        if row is None:
            return None
        return Lease(shard, node, int(row[0]), sent + self.lease_s - self.safety_s)

    def renew(self, lease: Lease) -> Lease | None:
        """Extend ``lease`` (same token), or ``None`` when it is lost: stop acting at once."""
        sent = self.clock()
        row = self._one(
            sql.SQL(
                "UPDATE {} SET expires_at = now() + make_interval(secs => %(l)s),"
                " renewed_at = now()"
                " WHERE shard = %(s)s AND holder = %(n)s AND token = %(t)s"
                " AND expires_at > now() AND NOT revoked RETURNING token"
            ).format(self._t_shards),
            {"n": lease.node, "s": lease.shard, "t": lease.token, "l": self.lease_s},
        )
        if row is None:
            self._mark_ended(lease)
            return None
        return Lease(lease.shard, lease.node, lease.token, sent + self.lease_s - self.safety_s)

    def release(self, lease: Lease) -> None:
        """End ``lease`` now (call it only after the holder stopped acting on the shard)."""
        self._mark_ended(lease)
        self._one(
            sql.SQL(
                "UPDATE {} SET holder = NULL, expires_at = now(), revoked = false"
                " WHERE shard = %(s)s AND holder = %(n)s AND token = %(t)s"
            ).format(self._t_shards),
            {"n": lease.node, "s": lease.shard, "t": lease.token},
        )

    def valid(self, lease: Lease) -> bool:
        """Whether ``lease``'s holder may still act (no I/O; see the module docstring)."""
        if self.clock() >= lease.deadline:
            return False
        return lease.token > self._ended.get(lease.shard, 0)

    def _mark_ended(self, lease: Lease) -> None:
        with self._ended_lock:
            if lease.token > self._ended.get(lease.shard, 0):
                self._ended[lease.shard] = lease.token

    def lease_info(self, shard: int) -> LeaseInfo:
        """``shard``'s row as the database sees it now."""
        self._check_shard(shard)
        rows = self._lease_rows(sql.SQL("WHERE shard = %(s)s"), {"s": shard})
        return rows[0]

    def owner(self, shard: int) -> LeaseInfo | None:
        """``shard``'s live lease (holder, token, time left), or ``None`` when nobody holds it."""
        info = self.lease_info(shard)
        if info.holder is None or info.remaining_s <= 0:
            return None
        return info

    def leases(self) -> list[LeaseInfo]:
        """Every shard's row, by shard."""
        return self._lease_rows(sql.SQL(""), {})

    def _lease_rows(self, where: sql.Composable, params: Mapping[str, Any]) -> list[LeaseInfo]:
        rows = self._all(
            sql.SQL(
                "SELECT shard, assigned, generation, holder, token,"
                " CASE WHEN isfinite(expires_at) THEN EXTRACT(EPOCH FROM expires_at - now())"
                " ELSE -1e9 END, revoked"
                " FROM {} {} ORDER BY shard"
            ).format(self._t_shards, where),
            params,
        )
        return [
            LeaseInfo(int(s), a, int(g), h, int(t), float(r), bool(v))
            for s, a, g, h, t, r, v in rows
        ]

    # ------------------------------------------------------------------ workflows

    def launch(self, executor_id: str) -> None:
        """Start DBOS in this process (system schema ``<schema>_dbos``) to run moves.

        One launched plane per process (DBOS is one instance per process); the executor id
        is the node name, so ``supervise`` can hand a dead node's moves to a survivor.
        """
        _check_node(executor_id)
        with _launch_lock:
            if _launched:
                raise ControlError(
                    f"DBOS already runs in this process for schema {_launched[0].schema!r}"
                )
            config: DBOSConfig = {
                "name": APP_NAME,
                "system_database_url": self.url,
                "application_version": APP_VERSION,
                "executor_id": executor_id,
                "dbos_system_schema": self.dbos_schema,
                "sys_db_pool_size": 4,
                "log_level": "WARNING",
                "notification_listener_polling_interval_sec": 0.1,
            }
            _migrate(self.url, self.dbos_schema)
            self._stopping.clear()
            DBOS(config=config)
            _planes[self.schema] = self
            _launched.append(self)
            try:
                DBOS.launch()
                DBOS.register_queue(MOVE_QUEUE, worker_concurrency=4, polling_interval_sec=0.2)
            except BaseException:
                self._forget()
                with contextlib.suppress(Exception):
                    DBOS.destroy(destroy_registry=False)
                raise
        self.executor_id = executor_id

    @property
    def launched(self) -> bool:
        """Whether this plane runs DBOS in this process."""
        return self in _launched

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop DBOS in this process; a move still waiting stays PENDING, to be recovered.

        A running wait step sees the stop and leaves its workflow unrecorded (it raises
        ``_Interrupted``, which DBOS does not record, and so does every later step), so
        this waits until no workflow runs in this process (at most ``timeout_s``) and no
        workflow thread writes to a destroyed DBOS.
        """
        with _launch_lock:
            if self not in _launched:
                return
            self._stopping.set()
            end = time.monotonic() + timeout_s
            while (self._steps or _active_workflows()) and time.monotonic() < end:
                time.sleep(0.01)
            self._forget()
            DBOS.destroy(destroy_registry=False, workflow_completion_timeout_sec=0)
            self.executor_id = None

    @contextlib.contextmanager
    def _step(self) -> Iterator[None]:
        with self._steps_lock:
            if self._stopping.is_set():
                raise _Interrupted
            self._steps += 1
        try:
            yield
        finally:
            with self._steps_lock:
                self._steps -= 1

    def _forget(self) -> None:
        _planes.pop(self.schema, None)
        if self in _launched:
            _launched.remove(self)

    def _need_launched(self) -> None:
        if not self.launched:
            raise ControlError("moves need DBOS in this process: call launch(executor_id) first")

    def move(self, shard: int, to_node: str, *, reason: str = "request") -> str:
        """Start moving ``shard`` to ``to_node`` (a live member); return the workflow id."""
        self._need_launched()
        self._check_shard(shard)
        up = {n.node for n in self.nodes() if n.up}
        if to_node not in up:
            raise ControlError(f"cannot move shard {shard} to {to_node!r}: it is not an up member")
        return self._start_move(shard, self.lease_info(shard).generation, to_node, reason)

    def plan_rebalance(self) -> list[tuple[int, str]]:
        """Moves (shard, to_node) that even out the shards over the up members.

        Takes from the most loaded member and gives to the least loaded until they
        differ by at most one (ties by name, the highest shard first), so the plan is
        the same wherever it is computed. Shards of members that are down are left to
        ``supervise``.
        """
        live = sorted(n.node for n in self.nodes() if n.up)
        if not live:
            return []
        owned: dict[str, list[int]] = {n: [] for n in live}
        for info in self.leases():
            if info.assigned in owned:
                owned[info.assigned].append(info.shard)
        plan: list[tuple[int, str]] = []
        while True:
            most = max(live, key=lambda n: (len(owned[n]), n))
            least = min(live, key=lambda n: (len(owned[n]), n))
            if len(owned[most]) - len(owned[least]) <= 1:
                return plan
            shard = max(owned[most])
            owned[most].remove(shard)
            owned[least].append(shard)
            plan.append((shard, least))

    def request_move(
        self, shard: int, to_node: str, *, timeout_s: float = 60.0, reason: str = "request"
    ) -> MoveResult:
        """Move ``shard`` from outside the cluster (no DBOS here): enqueue the workflow on
        ``MOVE_QUEUE``, which the launched planes (the nodes) run, and wait for it."""
        self._check_shard(shard)
        up = {n.node for n in self.nodes() if n.up}
        if to_node not in up:
            raise ControlError(f"cannot move shard {shard} to {to_node!r}: it is not an up member")
        generation = self.lease_info(shard).generation
        workflow_id = f"shard-{shard}-move-{generation}"
        client = DBOSClient(
            system_database_url=self.url,
            dbos_system_schema=self.dbos_schema,
            application_name=APP_NAME,
        )
        try:
            options: EnqueueOptions = {
                "workflow_name": MOVE_WORKFLOW,
                "queue_name": MOVE_QUEUE,
                "workflow_id": workflow_id,
                "app_version": APP_VERSION,
            }
            client.enqueue(
                options, self.schema, shard, generation, to_node, reason, self.lease_s * 4 + 10
            )
            deadline = time.monotonic() + timeout_s
            while True:
                [status] = client.list_workflows(workflow_ids=[workflow_id])
                if status.status == "SUCCESS":
                    return MoveResult(**client.retrieve_workflow(workflow_id).get_result())
                if status.status not in ("PENDING", "ENQUEUED"):
                    raise ControlError(f"move {workflow_id} ended {status.status}: {status.error}")
                if time.monotonic() >= deadline:
                    raise ControlError(
                        f"move {workflow_id} not done within {timeout_s:g} s ({status.status});"
                        " the nodes go on with it"
                    )
                time.sleep(0.1)
        finally:
            client.destroy()

    def _start_move(self, shard: int, generation: int, to_node: str, reason: str) -> str:
        workflow_id = f"shard-{shard}-move-{generation}"
        with SetWorkflowID(workflow_id):
            DBOS.start_workflow(
                move_shard, self.schema, shard, generation, to_node, reason, self.lease_s * 4 + 10
            )
        return workflow_id

    def wait_move(self, workflow_id: str, timeout_s: float = 60.0) -> MoveResult:
        """Wait for a move workflow's result (``ControlError`` when it is not done in time)."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = DBOS.get_workflow_status(workflow_id)
            if status is None:
                raise ControlError(f"no move workflow {workflow_id!r}")
            if status.status == "SUCCESS":
                result: dict[str, Any] = DBOS.retrieve_workflow(workflow_id).get_result()
                return MoveResult(**result)
            if status.status not in ("PENDING", "ENQUEUED"):
                raise ControlError(f"move {workflow_id} ended {status.status}: {status.error}")
            if time.monotonic() >= deadline:
                raise ControlError(f"move {workflow_id} not done within {timeout_s:g} s")
            time.sleep(0.05)

    def supervise(self) -> list[str]:
        """Mark late nodes down, move their shards, adopt their moves; return started ids."""
        self._need_launched()
        self._all(
            sql.SQL(
                "UPDATE {} SET up = false WHERE up"
                " AND last_seen < now() - make_interval(secs => %(t)s) RETURNING node"
            ).format(self._t_nodes),
            {"t": self.node_timeout_s},
        )
        nodes = self.nodes()
        live = sorted(n.node for n in nodes if n.up)
        down = sorted(n.node for n in nodes if not n.up)
        down = [n for n in down if n != self.executor_id]
        if down:
            pending = DBOS.list_workflows(
                status="PENDING", name=MOVE_WORKFLOW, executor_id=down, load_input=False
            )
            for workflow in pending:
                DBOS.resume_workflow(workflow.workflow_id)
        if not live:
            return []
        rows = self.leases()
        load = dict.fromkeys(live, 0)
        for info in rows:
            if info.assigned in load:
                load[info.assigned] += 1
        # Shards of a member that is down, or of a node that never joined within the
        # grace (cluster up assigns shards before the nodes have started).
        orphans = self._all(
            sql.SQL(
                "SELECT s.shard, s.generation, s.assigned FROM {shards} s"
                " LEFT JOIN {nodes} n ON n.node = s.assigned WHERE s.assigned IS NOT NULL"
                " AND (NOT n.up OR (n.node IS NULL"
                " AND s.assigned_at < now() - make_interval(secs => %(g)s)))"
                " ORDER BY s.shard"
            ).format(shards=self._t_shards, nodes=self._t_nodes),
            {"g": self.join_grace_s},
        )
        started = []
        for shard, generation, assigned in orphans:
            target = min(live, key=lambda n: (load[n], n))
            load[target] += 1
            started.append(
                self._start_move(int(shard), int(generation), target, f"node {assigned} is down")
            )
        return started

    # ------------------------------------------------------------------ workflow steps

    def _move_begin(
        self, workflow_id: str, shard: int, generation: int, to_node: str, reason: str
    ) -> str | None:
        with self._checkout() as conn, conn.transaction(), conn.cursor() as cur:
            # A step re-run after a crash that committed it finds its own row: done.
            cur.execute(
                sql.SQL("SELECT from_node FROM {} WHERE workflow_id = %(w)s").format(self._t_moves),
                {"w": workflow_id},
            )
            done = cur.fetchone()
            if done is not None:
                return str(done[0]) if done[0] is not None else ""
            cur.execute(
                sql.SQL(
                    "SELECT assigned FROM {} WHERE shard = %(s)s AND generation = %(g)s FOR UPDATE"
                ).format(self._t_shards),
                {"s": shard, "g": generation},
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                sql.SQL(
                    "UPDATE {} SET assigned = %(n)s, generation = generation + 1,"
                    " assigned_at = now()"
                    " WHERE shard = %(s)s"
                ).format(self._t_shards),
                {"s": shard, "n": to_node},
            )
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} (workflow_id, shard, from_node, to_node, reason)"
                    " VALUES (%(w)s, %(s)s, %(f)s, %(n)s, %(r)s) ON CONFLICT DO NOTHING"
                ).format(self._t_moves),
                {"w": workflow_id, "s": shard, "f": row[0], "n": to_node, "r": reason},
            )
            return str(row[0]) if row[0] is not None else ""

    def _move_revoke(self, shard: int, to_node: str) -> int:
        row = self._one(
            sql.SQL(
                "UPDATE {} SET revoked = true WHERE shard = %(s)s AND holder IS NOT NULL"
                " AND holder <> %(n)s AND expires_at > now() RETURNING token"
            ).format(self._t_shards),
            {"s": shard, "n": to_node},
        )
        return int(row[0]) if row else 0

    def _move_wait(self, shard: int, to_node: str, timeout_s: float) -> tuple[str, int]:
        deadline = time.monotonic() + timeout_s
        while True:
            info = self.lease_info(shard)
            if info.assigned != to_node:
                return "superseded", 0
            if info.holder == to_node and info.remaining_s > 0 and not info.revoked:
                return "taken", info.token
            if time.monotonic() >= deadline:
                return "unclaimed", 0
            if self._stopping.wait(0.05):
                raise _Interrupted

    def _move_finish(self, workflow_id: str, outcome: str, token: int) -> None:
        self._one(
            sql.SQL(
                "UPDATE {} SET finished_at = now(), outcome = %(o)s, token = %(t)s"
                " WHERE workflow_id = %(w)s"
            ).format(self._t_moves),
            {"w": workflow_id, "o": outcome, "t": token},
        )

    def moves(self) -> list[dict[str, Any]]:
        """Every move (id, shard, from, to, reason, outcome, token, seconds), oldest first."""
        rows = self._all(
            sql.SQL(
                "SELECT workflow_id, shard, from_node, to_node, reason, outcome, token,"
                " EXTRACT(EPOCH FROM finished_at - started_at) FROM {} ORDER BY started_at"
            ).format(self._t_moves),
            {},
        )
        keys = ("workflow_id", "shard", "from_node", "to_node", "reason", "outcome", "token")
        out = []
        for row in rows:
            record = dict(zip(keys, row[:7], strict=True))
            record["seconds"] = None if row[7] is None else float(row[7])
            out.append(record)
        return out


@final
class ShardKeeper:
    """A node's membership: heartbeat, take assigned shards, renew, supervise.

    Three threads, so that nothing slow delays a heartbeat (a late heartbeat makes the
    others move this node's shards away, and on a loaded machine that cascades):

    - the keeper, every ``interval_s``: heartbeat (which returns the node's assigned
      shards), drop the leases that are lost (renew refused, deadline passed, or the
      shard assigned away), renew the others, acquire the assigned shards not held;
      only these short database calls run here;
    - the callbacks, in order: ``on_acquired(lease)``, ``on_lost(shard)``. ``on_lost``
      must return only once the node has stopped acknowledging the shard, because the
      keeper then releases the lease so a move finishes without waiting for the expiry;
      ``lease(shard)`` is already ``None`` before ``on_lost`` runs;
    - the supervisor, every ``interval_s``: ``plane.supervise()`` when ``supervise`` and
      the plane is launched (DBOS calls, moves).

    A database that does not answer costs nothing but time: held leases stay until their
    deadline (then ``on_lost``).
    """

    def __init__(
        self,
        plane: ControlPlane,
        node: str,
        *,
        address: str = "",
        interval_s: float | None = None,
        on_acquired: Callable[[Lease], None] | None = None,
        on_lost: Callable[[int], None] | None = None,
        supervise: bool = True,
    ) -> None:
        _check_node(node)
        self.plane = plane
        self.node = node
        self.address = address
        self.interval_s = plane.lease_s / 4 if interval_s is None else interval_s
        if not 0 < self.interval_s < plane.lease_s - plane.safety_s:
            raise ControlError(
                f"interval_s must be in (0, lease_s - safety_s ="
                f" {plane.lease_s - plane.safety_s:g}), was {self.interval_s:g}"
            )
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.supervise = supervise
        self.errors = 0
        self.last_error: str | None = None
        self._held: dict[int, Lease] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._calls: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._calling = False

    def lease(self, shard: int) -> Lease | None:
        """The current lease of ``shard`` (check ``plane.valid`` on it before acting)."""
        return self._held.get(shard)

    def held(self) -> dict[int, Lease]:
        """Shard -> lease for every shard this node holds now."""
        return dict(self._held)

    def start(self) -> None:
        """Join, take the first leases at once, then keep going on the threads."""
        self.plane.join(self.node, self.address)
        self._start_thread("calls", self._run_calls)
        self._calling = True
        self.tick()
        self._start_thread("keeper", self._run)
        self._start_thread("supervisor", self._run_supervisor)

    def _start_thread(self, what: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"whistle-{what}-{self.node}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, *, release: bool = True, timeout_s: float = 10.0) -> None:
        """Stop the threads (callbacks queued so far still run); with ``release``, release
        every lease and leave the cluster."""
        self._stop.set()
        self._calls.put(None)
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = []
        self._calling = False
        if not release:
            return
        held, self._held = self._held, {}
        with contextlib.suppress(ControlError):
            for lease in held.values():
                self.plane.release(lease)
            self.plane.leave(self.node)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.tick()

    def _run_supervisor(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.supervise and self.plane.launched:
                self._guard(self.plane.supervise)

    def _run_calls(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            self._guard(call)

    def _post(self, call: Callable[[], None]) -> None:
        if self._calling:
            self._calls.put(call)
        else:
            self._guard(call)

    def _guard(self, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as exc:  # the keeper must outlive any one failure
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {_line(exc)}"

    def tick(self) -> None:
        """One keeper round (see the class docstring); errors are counted, never raised."""
        self._guard(self._tick)

    def _tick(self) -> None:
        plane = self.plane
        assigned: set[int] | None
        try:
            assigned = set(plane.heartbeat(self.node))
        except ControlUnavailable:
            assigned = None
        for shard, lease in sorted(self._held.items()):
            renewed: Lease | None = lease
            if not plane.valid(lease) or (assigned is not None and shard not in assigned):
                renewed = None
            else:
                try:
                    renewed = plane.renew(lease)
                except ControlUnavailable:
                    continue  # keep it until its deadline
            if renewed is not None:
                self._held[shard] = renewed
                continue
            del self._held[shard]
            plane._mark_ended(lease)
            self._post(functools.partial(self._lost, shard, lease))
        if assigned is None:
            return
        for shard in sorted(assigned - self._held.keys()):
            acquired = plane.acquire(shard, self.node)
            if acquired is not None:
                self._held[shard] = acquired
                if self.on_acquired is not None:
                    self._post(functools.partial(self.on_acquired, acquired))

    def _lost(self, shard: int, lease: Lease) -> None:
        if self.on_lost is not None:
            self.on_lost(shard)
        with contextlib.suppress(ControlUnavailable):
            self.plane.release(lease)


class _Interrupted(BaseException):
    """Raised in a move step when DBOS stops in this process: not an ``Exception``, so DBOS
    records neither the step nor the workflow, which stays PENDING for recovery."""


def _check_node(node: str) -> None:
    if not node or len(node) > 100 or not node.isprintable():
        raise ControlError(f"a node name is 1-100 printable characters, was {node!r}")


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _migrate(url: str, dbos_schema: str) -> None:
    # DBOS's schema creation races between processes launching at once (see
    # whistle.orchestrator.database.retry): serialize it with an advisory lock.
    # Polled with pg_try_advisory_lock, never waited for in a statement: DBOS's migration
    # runs CREATE INDEX CONCURRENTLY, which waits for every open transaction, and a
    # blocked pg_advisory_lock() is one: the two would wait for each other forever.
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        deadline = time.monotonic() + 120.0
        while True:
            row = conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", (dbos_schema,)
            ).fetchone()
            if row is not None and row[0]:
                break
            if time.monotonic() >= deadline:
                raise ControlUnavailable(f"another process kept migrating {dbos_schema} for 120 s")
            time.sleep(0.05)
        try:
            DBOS.migrate(url, schema=dbos_schema)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (dbos_schema,))


def _active_workflows() -> int:
    # DBOS's own count of workflows executing in this process (what DBOS.destroy's
    # completion wait reads); it covers the final status write, which a step counter
    # cannot. Private in DBOS 3 (pinned < 4 in pyproject): absent means none known.
    from dbos import _dbos as dbos_module

    instance = getattr(dbos_module, "_dbos_global_instance", None)
    active = getattr(instance, "_active_workflows_set", None)
    return len(active.activeList()) if active is not None else 0


def _plane(schema: str) -> ControlPlane:
    plane = _planes.get(schema)
    if plane is None:
        raise ControlError(f"no control plane for schema {schema!r} is launched in this process")
    return plane


# ---------------------------------------------------------------------- the move workflow


@DBOS.step(name="whistle.cluster.move_begin")
def _step_begin(
    schema: str, workflow_id: str, shard: int, generation: int, to_node: str, reason: str
) -> str | None:
    plane = _plane(schema)
    with plane._step():
        return plane._move_begin(workflow_id, shard, generation, to_node, reason)


@DBOS.step(name="whistle.cluster.move_revoke")
def _step_revoke(schema: str, shard: int, to_node: str) -> int:
    plane = _plane(schema)
    with plane._step():
        return plane._move_revoke(shard, to_node)


@DBOS.step(name="whistle.cluster.move_wait")
def _step_wait(schema: str, shard: int, to_node: str, timeout_s: float) -> tuple[str, int]:
    plane = _plane(schema)
    with plane._step():
        return plane._move_wait(shard, to_node, timeout_s)


@DBOS.step(name="whistle.cluster.move_finish")
def _step_finish(schema: str, workflow_id: str, outcome: str, token: int) -> None:
    plane = _plane(schema)
    with plane._step():
        plane._move_finish(workflow_id, outcome, token)


@DBOS.workflow(name=MOVE_WORKFLOW)
def move_shard(
    schema: str, shard: int, generation: int, to_node: str, reason: str, timeout_s: float
) -> dict[str, Any]:
    """Move ``shard`` (at assignment ``generation``) to ``to_node``; see the module docstring."""
    workflow_id = DBOS.workflow_id or f"shard-{shard}-move-{generation}"
    from_node = _step_begin(schema, workflow_id, shard, generation, to_node, reason)
    if from_node is None:
        return _move_result(workflow_id, shard, None, to_node, "stale", 0)
    _step_revoke(schema, shard, to_node)
    outcome, token = _step_wait(schema, shard, to_node, timeout_s)
    _step_finish(schema, workflow_id, outcome, token)
    return _move_result(workflow_id, shard, from_node or None, to_node, outcome, token)


def _move_result(
    workflow_id: str, shard: int, from_node: str | None, to_node: str, outcome: str, token: int
) -> dict[str, Any]:
    return {
        "workflow_id": workflow_id,
        "shard": shard,
        "from_node": from_node,
        "to_node": to_node,
        "outcome": outcome,
        "token": token,
    }
