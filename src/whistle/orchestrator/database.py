"""Where the orchestrator's DBOS database is, and the rules for using it.

The system database (DBOS's workflow and step records) and the ``symbol_registry`` table
live in one database: SQLite at ``DATA_DIR/orchestrator.sqlite`` by default (no server),
PostgreSQL when a URL is given (``--db postgresql://...`` or ``WHISTLE_DB``).

**Application version.** DBOS recovers a pending workflow only under the application
version that started it, and by default it derives that version from a hash of the
workflow code, so any code change would strand the workflows a crash left pending. The
version is pinned to ``APP_VERSION``; change it only together with a migration note (a
workflow whose steps changed shape must not be replayed by new code).

**SQLite durability.** The SQLite file runs in WAL mode with ``synchronous=NORMAL``
(``sqlite_engine``): a committed transaction survives a crash of the process (what the
SIGKILL tests attack) without an fsync per commit, but the last commits may be lost if
the machine loses power. PostgreSQL keeps the server's own setting (``synchronous_commit``
on by default): use it where power loss matters.

**Spawn, never fork.** DBOS owns threads and database connections; a process forked
after DBOS is initialised inherits locked mutexes and shared sockets. Workers are started
with the ``spawn`` start method (``spawn_context()``); ``guard_fork()`` (called when the
orchestrator initialises DBOS) marks a child forked afterwards, and every orchestrator
entry point then raises ``ForkedProcessError`` in it instead of touching DBOS.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import random
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from whistle.orchestrator.errors import DatabaseUnavailable, ForkedProcessError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "APP_NAME",
    "APP_VERSION",
    "DB_ENV",
    "SQLITE_NAME",
    "check_database",
    "check_not_forked",
    "guard_fork",
    "is_postgres",
    "printable",
    "resolve_url",
    "retry",
    "spawn_context",
    "sqlite_engine",
]

APP_NAME = "whistle-orchestrator"
APP_VERSION = "whistle-orchestrator-1"
DB_ENV = "WHISTLE_DB"
SQLITE_NAME = "orchestrator.sqlite"
CONNECT_TIMEOUT_S = 5

T = TypeVar("T")

_forked = False
_guard_installed = False
_guard_lock = threading.Lock()


def resolve_url(data_dir: str | os.PathLike[str], db: str | None = None) -> str:
    """Return the database URL: ``db``, else ``$WHISTLE_DB``, else SQLite in ``data_dir``.

    Only ``sqlite:///PATH`` and ``postgresql://...`` (any ``postgresql+driver``) URLs are
    accepted; anything else is a ``DatabaseUnavailable`` naming what was given.
    """
    url = db if db else os.environ.get(DB_ENV) or None
    if url is None:
        path = Path(data_dir).absolute() / SQLITE_NAME
        return f"sqlite:///{path}"
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseUnavailable(
            f"database URL must be sqlite:///PATH or postgresql://..., was {url!r}"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseUnavailable(
            f"database URL must be sqlite:///PATH or postgresql://..., was {printable(url)!r}"
        )
    if backend == "sqlite" and not parsed.database:
        raise DatabaseUnavailable("a SQLite database URL needs a file: sqlite:///PATH")
    return url


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return sa.make_url(url).get_backend_name() == "postgresql"


def printable(url: str) -> str:
    """``url`` with its password hidden."""
    return sa.make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # DBOS's own SQLite settings (serialized writers, a long busy timeout, foreign keys),
    # plus WAL with synchronous=NORMAL (see the module docstring).
    dbapi_conn.isolation_level = "IMMEDIATE"
    dbapi_conn.execute("PRAGMA busy_timeout=30000")
    dbapi_conn.execute("PRAGMA foreign_keys=ON")
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")


SQLITE_WAL_DEADLINE_S = 30.0


def sqlite_engine(
    url: str,
    *,
    deadline_s: float = SQLITE_WAL_DEADLINE_S,
    sleep: Callable[[float], None] = time.sleep,
) -> sa.Engine:
    """A SQLite engine for DBOS and the registry (WAL, synchronous=NORMAL).

    Switching a file to WAL needs the file's exclusive lock, and SQLite answers
    "database is locked" AT ONCE (no busy-timeout wait) while another process holds a
    write lock, e.g. a CLI command creating the schema in a fresh data directory while
    ``run`` starts. So the mode is read first (a file already in WAL, the common case,
    needs no lock: WAL is persistent) and the switch is retried with exponential backoff
    until ``deadline_s`` (the busy timeout); past it the error is ``DatabaseUnavailable``.
    """
    engine = sa.create_engine(url)
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    end = time.monotonic() + deadline_s
    wait = 0.01
    while True:
        try:
            with engine.connect() as conn:
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                if str(mode).lower() != "wal":
                    mode = conn.exec_driver_sql("PRAGMA journal_mode=WAL").scalar()
            if str(mode).lower() == "wal":
                return engine
            # SQLite kept the old mode without an error: another connection is using it.
            detail = f"journal_mode stayed {mode!r}"
        except OperationalError as exc:
            detail = _first_line(exc)
        if time.monotonic() >= end:
            engine.dispose()
            raise DatabaseUnavailable(
                f"{printable(url)}: could not switch to WAL within {deadline_s:g} s: {detail}"
            )
        sleep(wait * (0.5 + random.random() / 2))  # noqa: S311 - backoff jitter, not crypto
        wait = min(wait * 2, 0.5)


def _engine_url(url: str) -> sa.URL:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def check_database(url: str, *, create: bool = True) -> None:
    """Connect once (at most ``CONNECT_TIMEOUT_S``); raise ``DatabaseUnavailable`` if not.

    For SQLite the parent directory must exist (it is the data directory). For
    PostgreSQL, ``create`` creates the database when the server answers but the
    database does not exist yet (DBOS would do the same at launch); a server that does
    not answer is an error at once, never a hang.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        parent = Path(parsed.database or "").absolute().parent
        if not parent.is_dir():
            raise DatabaseUnavailable(f"{printable(url)}: directory {parent} does not exist")
        return
    engine = sa.create_engine(
        _engine_url(url), connect_args={"connect_timeout": CONNECT_TIMEOUT_S}, poolclass=sa.NullPool
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return
    except OperationalError as exc:
        missing = "does not exist" in str(exc.orig)
        if not (missing and create):
            raise DatabaseUnavailable(
                f"cannot reach the orchestrator database {printable(url)}: {_first_line(exc)}"
            ) from None
    finally:
        engine.dispose()
    _create_database(parsed)


def _create_database(parsed: sa.URL) -> None:
    admin = sa.create_engine(
        _engine_url(parsed.set(database="postgres").render_as_string(hide_password=False)),
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        isolation_level="AUTOCOMMIT",
        poolclass=sa.NullPool,
    )
    name = parsed.database or ""
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if exists is None:
                quoted = admin.dialect.identifier_preparer.quote(name)
                conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
    except DBAPIError as exc:
        raise DatabaseUnavailable(
            f"cannot create the orchestrator database {name!r}: {_first_line(exc)}"
        ) from None
    finally:
        admin.dispose()


def _first_line(exc: DBAPIError) -> str:
    text = str(exc.orig).strip()
    return text.splitlines()[0] if text else type(exc.orig).__name__


def retry(
    operation: Callable[[], T],
    *,
    what: str,
    attempts: int = 8,
    first_wait_s: float = 0.05,
    max_wait_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    schema_race: bool = False,
) -> T:
    """Run ``operation``, retrying a lost database connection with exponential backoff.

    With ``schema_race`` (for schema creation: DBOS's migrations, ``create_all``) an
    "already exists" error (``IntegrityError`` / ``ProgrammingError``: another process
    created the same schema or table between the check and the CREATE, which DBOS does
    without a common lock) is retried too; the next attempt sees the object and skips it.

    Only connection-level failures (``OperationalError``, which SQLAlchemy raises for a
    refused, dropped or timed-out connection, and a locked SQLite file) are retried; any
    other error propagates at once. After ``attempts`` failures the last one becomes a
    ``DatabaseUnavailable`` naming ``what`` was being done. Each attempt is one database
    transaction, so a failed attempt has written nothing.
    """
    wait = first_wait_s
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except OperationalError as exc:
            if attempt == attempts:
                raise DatabaseUnavailable(
                    f"{what}: the database did not answer after {attempts} attempts:"
                    f" {_first_line(exc)}"
                ) from exc
        except (IntegrityError, ProgrammingError) as exc:
            if not (schema_race and "already exists" in str(exc)) or attempt == attempts:
                raise
        # Full jitter keeps many actors from retrying in lock step.
        sleep(wait * (0.5 + random.random() / 2))  # noqa: S311 - backoff jitter, not crypto
        wait = min(wait * 2, max_wait_s)
    raise AssertionError("unreachable: the loop returns or raises")


def _mark_forked() -> None:
    global _forked  # one flag per process, set by the at-fork hook
    _forked = True


def guard_fork() -> None:
    """Install (once) the hook that marks a child forked after DBOS was initialised."""
    global _guard_installed  # installed once per process
    with _guard_lock:
        if not _guard_installed:
            os.register_at_fork(after_in_child=_mark_forked)
            _guard_installed = True


def check_not_forked() -> None:
    """Raise ``ForkedProcessError`` in a process forked after DBOS was initialised."""
    if _forked:
        raise ForkedProcessError(
            f"process {os.getpid()} was forked after DBOS was initialised in its parent;"
            " start orchestrator workers with multiprocessing's spawn start method"
            " (whistle.orchestrator.database.spawn_context())"
        )


def spawn_context() -> multiprocessing.context.SpawnContext:
    """The multiprocessing context every orchestrator worker process must use."""
    return multiprocessing.get_context("spawn")
