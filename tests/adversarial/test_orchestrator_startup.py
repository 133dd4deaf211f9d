"""R2: the orchestrator's start-up against a database another process is using.

`whistle orchestrator run` and a CLI command (`add`, `list` ...) on a fresh data directory
open the same SQLite file at the same moment (the README's first commands). Neither may
die of the other: SQLite's busy timeout exists for that.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import TYPE_CHECKING

import sqlalchemy as sa

from whistle.orchestrator.database import sqlite_engine

if TYPE_CHECKING:
    from pathlib import Path


def test_run_survives_a_concurrent_cli_on_a_fresh_sqlite_db(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.sqlite"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # The other process (a CLI client creating the DBOS schema) holds the write lock
    # for a moment, well inside the 30 s busy timeout the engine sets.
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE other_process (x INTEGER)")
    connected = threading.Event()
    done = threading.Event()

    def on_connect(_dbapi_conn: object, _record: object) -> None:
        connected.set()

    def release() -> None:
        # Hold the lock until the engine has connected, then up to 5 s more (deadlines;
        # the bug fails within ~0.2 s of the connect, a busy-timeout wait passes).
        connected.wait(120)
        done.wait(5.0)
        other.execute("COMMIT")

    sa.event.listen(sa.Engine, "connect", on_connect)
    thread = threading.Thread(target=release)
    thread.start()
    try:
        engine = sqlite_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        engine.dispose()
    finally:
        sa.event.remove(sa.Engine, "connect", on_connect)
        connected.set()
        done.set()
        thread.join()
        other.close()
    assert mode == "wal"


def test_a_cli_client_survives_another_process_creating_the_dbos_schema(tmp_path: Path) -> None:
    from tests.integration.test_orchestrator_support import fresh_postgres

    from whistle.orchestrator.control import ControlClient

    with fresh_postgres() as url:
        admin = sa.create_engine(
            sa.make_url(url).set(drivername="postgresql+psycopg"), poolclass=sa.NullPool
        )
        other = admin.connect()
        # Another process (the orchestrator's `run`) is creating the schema right now:
        # its CREATE SCHEMA is in, not yet committed, so the client's check sees nothing.
        txn = other.begin()
        other.exec_driver_sql('CREATE SCHEMA "dbos"')
        done = threading.Event()
        database = sa.make_url(url).database

        def commit_when_blocked() -> None:
            # Commit once the client waits on a lock in this database (its CREATE SCHEMA
            # behind ours), or after a 60 s deadline, or when the client has finished.
            deadline = time.monotonic() + 60
            with admin.connect() as watch:
                while not done.is_set() and time.monotonic() < deadline:
                    waiting = watch.execute(
                        sa.text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = :db"
                            " AND wait_event_type = 'Lock'"
                        ),
                        {"db": database},
                    ).scalar()
                    if waiting:
                        break
                    done.wait(0.02)
            txn.commit()

        thread = threading.Thread(target=commit_when_blocked)
        thread.start()
        try:
            client = ControlClient(tmp_path, url)
            try:
                assert client.rows() == []
            finally:
                client.close()
        finally:
            done.set()
            thread.join()
            other.close()
            admin.dispose()
