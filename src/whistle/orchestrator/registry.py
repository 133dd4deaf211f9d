"""The ``symbol_registry`` table: which trading pairs exist, and in what state.

Columns (the seed's, then the orchestrator's own):

=================  ==============  ==================================================
symbol             VARCHAR(50) PK  e.g. ``BTCUSDT``
exchange           VARCHAR(50)     the exchange the pair trades on (``inprocess``)
strategy_config    JSON / JSONB    ``{"class": "module:Class", "params": {...},
                                   "engine": "simple"|"durable", "account": N}``
risk_config        JSON / JSONB    ``RiskLimits`` fields (0 = off)
status             VARCHAR(20)     ACTIVE, PAUSED, REMOVING, REMOVED, FAILED
pair_id            INTEGER         1, 2, ... in order of first add (never reused): the
                                   prefix of the pair's client order ids
cause              TEXT            why the symbol is FAILED ('' otherwise)
generation         INTEGER         how many times the symbol was added (the ``n`` of
                                   the ``{symbol}-add-{n}`` workflow id)
epoch              INTEGER         how many times its actor started (client order ids
                                   are prefixed by it, so no life reuses another's)
version            INTEGER         +1 on every write (optimistic readers compare it)
created_at         TIMESTAMP TZ    first insert
updated_at         TIMESTAMP TZ    last write
=================  ==============  ==================================================

Every write happens inside a DBOS datasource transaction (``Registry.tx``), so a write
made by a workflow step is recorded atomically with the step's checkpoint and is never
repeated by a replay. Reads outside workflows (``list``, ``get``) are plain queries.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from whistle.orchestrator.database import printable, retry
from whistle.orchestrator.errors import SymbolConflict, UnknownSymbol

if TYPE_CHECKING:
    from collections.abc import Callable

    from dbos import SQLAlchemyDatasource

__all__ = [
    "ACTIVE",
    "FAILED",
    "LIVE_STATUSES",
    "PAUSED",
    "REMOVED",
    "REMOVING",
    "STATUSES",
    "Registry",
    "RegistryRow",
    "symbol_registry",
]

ACTIVE: Final = "ACTIVE"
PAUSED: Final = "PAUSED"
REMOVING: Final = "REMOVING"
REMOVED: Final = "REMOVED"
FAILED: Final = "FAILED"
STATUSES: Final = (ACTIVE, PAUSED, REMOVING, REMOVED, FAILED)
# Statuses whose symbol is registered (an add of it is a duplicate).
LIVE_STATUSES: Final = frozenset((ACTIVE, PAUSED, FAILED))

T = TypeVar("T")

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
metadata = sa.MetaData()
symbol_registry = sa.Table(
    "symbol_registry",
    metadata,
    sa.Column("symbol", sa.String(50), primary_key=True),
    sa.Column("exchange", sa.String(50), nullable=False),
    sa.Column("strategy_config", _JSON, nullable=False),
    sa.Column("risk_config", _JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("pair_id", sa.Integer, nullable=False, unique=True),
    sa.Column("cause", sa.Text, nullable=False, default=""),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False, default=0),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
# One row: how many times an orchestrator started (the n of orchestrator-start-{n}).
orchestrator_boot = sa.Table(
    "orchestrator_boot",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("boots", sa.Integer, nullable=False),
)


class RegistryRow(msgspec.Struct, frozen=True, kw_only=True):
    """One row of ``symbol_registry``."""

    symbol: str
    exchange: str
    strategy_config: dict[str, Any]
    risk_config: dict[str, Any]
    status: str
    pair_id: int
    cause: str
    generation: int
    epoch: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form (timestamps as ISO 8601 strings)."""
        out = msgspec.structs.asdict(self)
        out["created_at"] = self.created_at.isoformat()
        out["updated_at"] = self.updated_at.isoformat()
        return out

    def same_config(self, exchange: str, strategy: dict[str, Any], risk: dict[str, Any]) -> bool:
        """Whether this row holds exactly that configuration."""
        return (
            self.exchange == exchange
            and self.strategy_config == strategy
            and self.risk_config == risk
        )


def _row(r: Any) -> RegistryRow:
    return RegistryRow(
        symbol=r.symbol,
        exchange=r.exchange,
        strategy_config=dict(r.strategy_config),
        risk_config=dict(r.risk_config),
        status=r.status,
        pair_id=r.pair_id,
        cause=r.cause,
        generation=r.generation,
        epoch=r.epoch,
        version=r.version,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Registry:
    """The registry table of one database, written through one DBOS datasource."""

    def __init__(self, url: str, datasource: SQLAlchemyDatasource) -> None:
        """Use ``datasource`` (created on ``url``); create the tables if missing."""
        self.url = url
        self.datasource = datasource
        self.engine: sa.Engine = datasource.engine
        retry(
            lambda: metadata.create_all(self.engine),
            what=f"creating the registry tables in {printable(url)}",
            schema_race=True,
        )

    # ------------------------------------------------------------------ transactions

    def tx(self, name: str, func: Callable[..., T], *args: Any) -> T:
        """Run ``func(session, *args)`` as a DBOS datasource transaction named ``name``.

        Inside a workflow it is a step: its result is checkpointed in the same database
        transaction, and a replay returns the checkpoint instead of running it again.
        """
        ds = self.datasource

        def body(*a: Any) -> T:
            return func(ds.sql_session(), *a)

        return ds.run_tx_step({"name": name}, body, *args)

    # ------------------------------------------------------------------ reads

    def get(self, symbol: str) -> RegistryRow | None:
        """The row of ``symbol`` (any status), or None."""

        def read() -> RegistryRow | None:
            with self.engine.connect() as conn:
                r = conn.execute(
                    sa.select(symbol_registry).where(symbol_registry.c.symbol == symbol)
                ).first()
            return None if r is None else _row(r)

        return retry(read, what=f"reading {symbol!r} from the registry")

    def rows(self, statuses: frozenset[str] | None = None) -> list[RegistryRow]:
        """Every row (of ``statuses`` only, when given), by symbol."""

        def read() -> list[RegistryRow]:
            query = sa.select(symbol_registry).order_by(symbol_registry.c.symbol)
            if statuses is not None:
                query = query.where(symbol_registry.c.status.in_(sorted(statuses)))
            with self.engine.connect() as conn:
                return [_row(r) for r in conn.execute(query)]

        return retry(read, what="reading the registry")


# ---------------------------------------------------------------------- transaction bodies
# Each runs inside Registry.tx with the datasource's session; they raise to roll back.


def _select(session: Any, symbol: str) -> RegistryRow | None:
    r = session.execute(
        sa.select(symbol_registry).where(symbol_registry.c.symbol == symbol)
    ).first()
    return None if r is None else _row(r)


def tx_add(
    session: Any,
    symbol: str,
    generation: int,
    exchange: str,
    strategy: dict[str, Any],
    risk: dict[str, Any],
) -> tuple[str, RegistryRow]:
    """Insert ``symbol`` as ACTIVE generation ``generation``; ("added" | "exists", row).

    A symbol registered with this very configuration is "exists" (the idempotent no-op);
    with another configuration it is a ``SymbolConflict``. A REMOVED symbol is added again
    with the next generation.
    """
    now = _now()
    row = _select(session, symbol)
    if row is not None and row.status not in (REMOVED,):
        if row.status == REMOVING:
            raise SymbolConflict(f"{symbol} is being removed; add it again once it is REMOVED")
        if row.same_config(exchange, strategy, risk):
            return "exists", row
        raise SymbolConflict(
            f"{symbol} is already registered ({row.status}, generation {row.generation}) with"
            " another configuration; remove it first or use the same configuration"
        )
    t = symbol_registry
    values = {
        "exchange": exchange,
        "strategy_config": strategy,
        "risk_config": risk,
        "status": ACTIVE,
        "cause": "",
        "generation": generation,
        "updated_at": now,
    }
    if row is None:
        top = session.execute(sa.select(sa.func.max(t.c.pair_id))).scalar()
        session.execute(
            sa.insert(t).values(
                symbol=symbol,
                pair_id=(top or 0) + 1,
                epoch=0,
                version=1,
                created_at=now,
                **values,
            )
        )
    else:
        session.execute(
            sa.update(t).where(t.c.symbol == symbol).values(version=row.version + 1, **values)
        )
    added = _select(session, symbol)
    assert added is not None
    return "added", added


def tx_set_status(
    session: Any, symbol: str, status: str, allowed: tuple[str, ...], cause: str = ""
) -> RegistryRow:
    """Set ``symbol``'s status (from one of ``allowed``); ``UnknownSymbol`` if absent.

    Setting the status it already has is a no-op that returns the row (a replayed or
    repeated pause finds its work done).
    """
    row = _select(session, symbol)
    if row is None or (row.status == REMOVED and status != REMOVED):
        raise UnknownSymbol(f"{symbol} is not in the registry")
    if row.status == status and row.cause == cause:
        return row
    if row.status not in allowed:
        raise SymbolConflict(
            f"{symbol} is {row.status}: cannot make it {status} (only from {', '.join(allowed)})"
        )
    t = symbol_registry
    session.execute(
        sa.update(t)
        .where(t.c.symbol == symbol)
        .values(status=status, cause=cause, version=row.version + 1, updated_at=_now())
    )
    changed = _select(session, symbol)
    assert changed is not None
    return changed


def tx_next_epoch(session: Any, symbol: str) -> int:
    """Count one more start of ``symbol``'s actor; return the new epoch."""
    row = _select(session, symbol)
    if row is None:
        raise UnknownSymbol(f"{symbol} is not in the registry")
    t = symbol_registry
    session.execute(
        sa.update(t)
        .where(t.c.symbol == symbol)
        .values(epoch=row.epoch + 1, version=row.version + 1, updated_at=_now())
    )
    return row.epoch + 1


def tx_next_epochs(session: Any, symbols: list[str]) -> dict[str, int]:
    """``tx_next_epoch`` for each of ``symbols``, in one transaction."""
    return {symbol: tx_next_epoch(session, symbol) for symbol in symbols}


def tx_next_boot(session: Any) -> int:
    """Count one more orchestrator start; return its number (1, 2, ...)."""
    t = orchestrator_boot
    r = session.execute(sa.select(t.c.boots).where(t.c.id == 1)).first()
    if r is None:
        session.execute(sa.insert(t).values(id=1, boots=1))
        return 1
    session.execute(sa.update(t).where(t.c.id == 1).values(boots=r.boots + 1))
    return int(r.boots) + 1


def tx_read(session: Any, statuses: tuple[str, ...]) -> list[RegistryRow]:
    """The rows of ``statuses``, by symbol (a transaction, so a workflow records it)."""
    t = symbol_registry
    query = sa.select(t).where(t.c.status.in_(statuses)).order_by(t.c.symbol)
    return [_row(r) for r in session.execute(query)]
