"""PostgreSQL for the control-plane, local-cluster and failover tests (H6's helpers).

``WHISTLE_TEST_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/test) names the
server. When it does not answer the tests skip, unless ``WHISTLE_REQUIRE_POSTGRES=1``
(CI): then they fail. Every test takes a fresh schema name (``unique_schema``) and
drops it and its DBOS schema when it ends (``plane``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from whistle.cluster.control import ControlPlane

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PG_URL = os.environ.get("WHISTLE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("WHISTLE_REQUIRE_POSTGRES") == "1"


def postgres_problem() -> str | None:
    """None when the server answers, else why not."""
    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]
    return None


def require_postgres() -> None:
    """Skip (or fail under WHISTLE_REQUIRE_POSTGRES=1) when PostgreSQL is absent."""
    problem = postgres_problem()
    if problem is None:
        return
    if REQUIRE_PG:
        pytest.fail(f"WHISTLE_REQUIRE_POSTGRES=1 but PostgreSQL at {PG_URL}: {problem}")
    pytest.skip(f"PostgreSQL at {PG_URL} does not answer: {problem}")


def unique_schema() -> str:
    """A fresh schema name for one test."""
    return "t_" + secrets.token_hex(5)


def drop_schemas(schema: str) -> None:
    """Drop ``schema`` and ``<schema>_dbos``."""
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
        for name in (schema, f"{schema}_dbos"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def schemas_like(prefix: str) -> list[str]:
    """The schemas whose name starts with ``prefix``."""
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (prefix,)
        ).fetchall()
    return sorted(str(r[0]) for r in rows)


@contextlib.contextmanager
def plane_factory(
    schema: str | None = None, **options: Any
) -> Iterator[Callable[..., ControlPlane]]:
    """Make planes on one fresh schema (created); close them and drop the schema after."""
    require_postgres()
    name = schema or unique_schema()
    made: list[ControlPlane] = []

    def make(**more: Any) -> ControlPlane:
        plane = ControlPlane(PG_URL, schema=name, **{**options, **more})
        made.append(plane)
        plane.create()
        return plane

    try:
        yield make
    finally:
        for plane in made:
            plane.shutdown()
            plane.close()
        drop_schemas(name)


def wait_for(
    condition: Callable[[], Any], *, timeout_s: float = 30.0, what: str = "the condition"
) -> Any:
    """Poll ``condition`` until it returns something true; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(0.02)
