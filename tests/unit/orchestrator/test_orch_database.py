"""Database URL resolution, a database that does not answer, retries, the fork rule."""

from __future__ import annotations

import os
import socket
import sqlite3
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from whistle.orchestrator.database import (
    DB_ENV,
    SQLITE_NAME,
    check_database,
    check_not_forked,
    guard_fork,
    resolve_url,
    retry,
    sqlite_engine,
)
from whistle.orchestrator.errors import DatabaseUnavailable, ForkedProcessError

if TYPE_CHECKING:
    from pathlib import Path


def test_sqlite_in_the_data_directory_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    assert resolve_url(tmp_path) == f"sqlite:///{tmp_path.absolute() / SQLITE_NAME}"


def test_flag_beats_environment_beats_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DB_ENV, "postgresql://u@h/env")
    assert resolve_url(tmp_path) == "postgresql://u@h/env"
    assert resolve_url(tmp_path, "postgresql://u@h/flag") == "postgresql://u@h/flag"


@pytest.mark.parametrize("url", ["mysql://x/y", "not a url", "sqlite://"])
def test_other_urls_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(DatabaseUnavailable):
        resolve_url(tmp_path, url)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_is_a_clear_error_not_a_hang() -> None:
    port = _closed_port()
    with pytest.raises(DatabaseUnavailable, match=f"127.0.0.1:{port}|port {port}|cannot reach"):
        check_database(f"postgresql://postgres:secret@127.0.0.1:{port}/x")


def test_the_password_never_reaches_the_message() -> None:
    port = _closed_port()
    with pytest.raises(DatabaseUnavailable) as info:
        check_database(f"postgresql://postgres:hunter2@127.0.0.1:{port}/x")
    assert "hunter2" not in str(info.value)


def test_a_sqlite_file_in_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        check_database(f"sqlite:///{tmp_path}/no/such/dir/db.sqlite")


def _lost() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_retry_backs_off_then_succeeds() -> None:
    waits: list[float] = []
    calls = iter([_lost(), _lost(), "ok"])

    def op() -> str:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    assert retry(op, what="reading", sleep=waits.append, first_wait_s=0.1) == "ok"
    assert len(waits) == 2
    assert waits[1] > waits[0] * 1.0  # exponential (jitter keeps it within [w/2, w])


def test_retry_gives_up_with_what_it_was_doing() -> None:
    def op() -> None:
        raise _lost()

    with pytest.raises(DatabaseUnavailable, match=r"reading the registry: .*3 attempts"):
        retry(op, what="reading the registry", attempts=3, sleep=lambda _s: None)


def test_other_errors_are_not_retried() -> None:
    calls = []

    def op() -> None:
        calls.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        retry(op, what="x", sleep=lambda _s: None)
    assert calls == [1]


def test_a_schema_creation_race_is_retried_only_when_asked() -> None:
    def race() -> IntegrityError:
        return IntegrityError(
            'CREATE SCHEMA "dbos"',
            None,
            Exception("duplicate key ... Key (nspname)=(dbos) already exists."),
        )

    calls: list[int] = []

    def op() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise race()
        return "ok"

    assert retry(op, what="migrating", sleep=lambda _s: None, schema_race=True) == "ok"
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(IntegrityError):  # not a schema step: a real constraint violation
        retry(op, what="writing", sleep=lambda _s: None)
    assert calls == [1]

    def other() -> None:
        raise IntegrityError("INSERT", None, Exception("violates foreign key constraint"))

    with pytest.raises(IntegrityError):
        retry(other, what="migrating", sleep=lambda _s: None, schema_race=True)


def test_wal_switch_blocked_past_its_deadline_is_a_clear_error(tmp_path: Path) -> None:
    # Another process holds the fresh file's write lock and never lets go: the WAL switch
    # backs off (fake sleep, no wall time) and gives up naming the file, not a raw
    # OperationalError.
    path = tmp_path / "orchestrator.sqlite"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE other_process (x INTEGER)")
    waits: list[float] = []
    try:
        with pytest.raises(DatabaseUnavailable, match="could not switch to WAL") as info:
            sqlite_engine(f"sqlite:///{path}", deadline_s=0.0, sleep=waits.append)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert str(path) in str(info.value)
    engine = sqlite_engine(f"sqlite:///{path}")  # the lock is gone: WAL now
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
    engine = sqlite_engine(f"sqlite:///{path}", deadline_s=0.0)  # already WAL: no switch
    engine.dispose()


def test_a_process_forked_after_dbos_refuses_to_use_it() -> None:
    guard_fork()
    check_not_forked()  # the parent is fine
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: it must refuse
        try:
            check_not_forked()
            os.write(write, b"used")
        except ForkedProcessError:
            os.write(write, b"refused")
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"refused"
    os.close(read)


def test_an_orchestrator_on_an_unreachable_database_fails_at_once_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    from whistle.orchestrator import Orchestrator

    port = _closed_port()
    orch = Orchestrator(tmp_path / "orch", db=f"postgresql://postgres@127.0.0.1:{port}/x")
    with pytest.raises(DatabaseUnavailable, match="cannot reach"):
        orch.start()
    assert not (tmp_path / "orch" / "venue").exists()  # nothing opened, nothing written
    # the lock was released: another start may try again
    again = Orchestrator(tmp_path / "orch", db=f"postgresql://postgres@127.0.0.1:{port}/x")
    with pytest.raises(DatabaseUnavailable):
        again.start()
