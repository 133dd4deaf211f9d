"""Databases for the orchestrator's tests: SQLite in the data directory, and PostgreSQL.

PostgreSQL: ``WHISTLE_TEST_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/test)
names a server; each test gets its own fresh database ``whistle_test_<random>``, dropped
afterwards. When the server does not answer the PostgreSQL tests skip, unless
``WHISTLE_REQUIRE_POSTGRES=1`` (set by .ci/run where a server runs): then they fail.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

if TYPE_CHECKING:
    from collections.abc import Iterator

PG_URL = os.environ.get("WHISTLE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("WHISTLE_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgres"]


def _admin() -> sa.Engine:
    url = sa.make_url(PG_URL).set(drivername="postgresql+psycopg")
    return sa.create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=sa.NullPool,
        connect_args={"connect_timeout": 3},
    )


def postgres_answers() -> str | None:
    """None when the server answers, else why not."""
    engine = _admin()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        return str(exc.orig).splitlines()[0]
    finally:
        engine.dispose()
    return None


@contextlib.contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new empty database on the test server (dropped after); skip or fail if none."""
    problem = postgres_answers()
    if problem is not None:
        if REQUIRE_PG:
            pytest.fail(
                f"WHISTLE_REQUIRE_POSTGRES=1 but PostgreSQL at {PG_URL} does not answer: {problem}"
            )
        pytest.skip(f"PostgreSQL at {PG_URL} does not answer: {problem}")
    name = f"whistle_test_{secrets.token_hex(6)}"
    engine = _admin()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@contextlib.contextmanager
def database(backend: str) -> Iterator[str | None]:
    """The ``db`` argument for an orchestrator on ``backend`` (None: SQLite in its directory)."""
    if backend == "sqlite":
        yield None
    else:
        with fresh_postgres() as url:
            yield url
