"""The orchestrator on real DBOS, SQLite and PostgreSQL: registry workflows, actors, faults."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from test_orchestrator_support import BACKENDS, database

from whistle.orchestrator import (
    Orchestrator,
    OrchestratorLocked,
    SymbolConflict,
    UnknownSymbol,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

MM = "whistle.trading.examples:MarketMaker"
BURST = "whistle.orchestrator.testing:Burst"


def wait_for(cond: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    """Poll ``cond`` until true (a deadline, not a timed assertion)."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture(params=BACKENDS)
def orch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Orchestrator]:
    with database(request.param) as url:
        o = Orchestrator(tmp_path / "orch", db=url, simulate=7, backoff_s=0.02, hang_timeout_s=0.5)
        o.start()
        try:
            yield o
        finally:
            o.stop()


def registry_rows(o: Orchestrator) -> dict[str, str]:
    return {r.symbol: r.status for r in o.registry.rows()}


def test_add_remove_pause_resume_and_their_errors(orch: Orchestrator) -> None:
    first = orch.add_trading_pair("AAA", MM, {"qty_lots": 1})
    assert first["outcome"] == "added"
    # A duplicate with the same configuration is the documented no-op ...
    assert orch.add_trading_pair("AAA", MM, {"qty_lots": 1})["outcome"] == "exists"
    # ... with another configuration a conflict, before anything is written.
    with pytest.raises(SymbolConflict, match="another configuration"):
        orch.add_trading_pair("AAA", MM, {"qty_lots": 2})
    assert orch.registry.get("AAA").version == 2  # insert + the actor's epoch
    wait_for(lambda: "AAA" in orch.managers, "the AAA actor")

    assert orch.pause("AAA")["row"]["status"] == "PAUSED"
    assert orch.managers["AAA"].paused
    assert orch.resume("AAA")["row"]["status"] == "ACTIVE"
    wait_for(lambda: not orch.managers["AAA"].paused, "a fresh AAA life")

    removed = orch.remove_trading_pair("AAA")
    assert removed["row"]["status"] == "REMOVED"
    assert "AAA" not in orch.managers
    assert orch.link.open_orders(1, orch.link.venue.instrument("AAA").symbol_id) == []
    with pytest.raises(UnknownSymbol):
        orch.remove_trading_pair("AAA")
    with pytest.raises(UnknownSymbol):
        orch.remove_trading_pair("NEVER")
    with pytest.raises(UnknownSymbol):
        orch.pause("NEVER")
    # A removed symbol comes back as the next generation.
    again = orch.add_trading_pair("AAA", MM, {"qty_lots": 2})
    assert again["outcome"] == "added"
    assert again["row"]["generation"] == 2


@pytest.mark.parametrize("orch", ["sqlite"], indirect=True)
def test_fifty_symbols_trade_concurrently(orch: Orchestrator) -> None:
    symbols = [f"S{i:02d}" for i in range(50)]
    for i, symbol in enumerate(symbols):
        engine = "durable" if i % 10 == 0 else "simple"
        orch.add_trading_pair(symbol, MM, {"qty_lots": 1}, engine=engine)
    assert len(orch.managers) == 50
    wait_for(
        lambda: all(orch.snapshot(s).fills > 0 for s in symbols),
        "a fill on every one of 50 symbols",
        timeout_s=60.0,
    )
    for symbol in symbols:
        snap = orch.snapshot(symbol)
        assert snap.consistent()
        assert orch.managers[symbol].state == "RUNNING"


@pytest.mark.parametrize("orch", ["sqlite"], indirect=True)
def test_a_raising_actor_is_restarted_then_failed_with_its_cause(orch: Orchestrator) -> None:
    orch.add_trading_pair("GOOD", MM, {"qty_lots": 1})
    orch.add_trading_pair("BAD", "whistle.orchestrator.testing:Raiser", {"after": 1})
    wait_for(lambda: orch.registry.get("BAD").status == "FAILED", "BAD to be FAILED")
    row = orch.registry.get("BAD")
    assert "gave up after 3 restarts" in row.cause
    assert "the strategy broke on purpose" in row.cause
    assert "BAD" not in orch.managers
    assert orch.registry.get("GOOD").status == "ACTIVE"
    assert orch.managers["GOOD"].state == "RUNNING"
    # resume gives a FAILED symbol a fresh start
    assert orch.resume("BAD")["row"]["status"] == "ACTIVE"


@pytest.mark.parametrize("orch", ["sqlite"], indirect=True)
def test_a_hanging_actor_does_not_stop_the_others(orch: Orchestrator) -> None:
    others = [f"O{i}" for i in range(5)]
    for symbol in others:
        orch.add_trading_pair(symbol, MM, {"qty_lots": 1})
    wait_for(lambda: all(orch.snapshot(s).fills > 0 for s in others), "fills before the hang")
    orch.add_trading_pair(
        "HANG", "whistle.orchestrator.testing:Hanger", {"after": 1, "seconds": 2.0}
    )
    wait_for(lambda: orch.managers.get("HANG") is not None, "the hanging actor")
    hung = orch.managers["HANG"]
    wait_for(lambda: hung.busy_since_ns != 0, "the actor to hang")
    before = {s: (orch.snapshot(s).fills, orch.managers[s].market_handled) for s in others}
    # While HANG sleeps inside on_book, every other actor keeps handling and filling.
    wait_for(
        lambda: all(
            orch.snapshot(s).fills > before[s][0] and orch.managers[s].market_handled > before[s][1]
            for s in others
        ),
        "the others to keep trading during the hang",
    )
    for s in others:
        assert orch.managers[s].market_dropped == 0
    # The supervisor abandons the hung life and starts a new one.
    wait_for(lambda: hung.state == "HUNG", "the hang to be detected")
    wait_for(
        lambda: orch.managers.get("HANG") is not None and orch.managers["HANG"] is not hung,
        "a new HANG life",
    )


@pytest.mark.parametrize("orch", ["sqlite"], indirect=True)
def test_one_orchestrator_per_data_directory(orch: Orchestrator) -> None:
    other = Orchestrator(orch.data_dir, db=None)
    with pytest.raises(OrchestratorLocked):
        other.start()


def test_positions_come_back_after_a_restart(tmp_path: Path) -> None:
    o = Orchestrator(tmp_path / "orch", simulate=3)
    o.start()
    try:
        o.add_trading_pair("AAA", MM, {"qty_lots": 1})
        o.add_trading_pair("BBB", BURST, {"orders": 40}, engine="durable")
        wait_for(lambda: o.snapshot("AAA").fills > 3 and o.snapshot("BBB").fills > 3, "fills")
    finally:
        o.stop()
    before = {s: o.snapshot(s).position for s in ("AAA", "BBB")}
    fills = {s: o.snapshot(s).fills for s in ("AAA", "BBB")}
    o2 = Orchestrator(tmp_path / "orch")
    o2.start()
    try:
        assert set(o2.managers) == {"AAA", "BBB"}
        for s in ("AAA", "BBB"):
            assert o2.snapshot(s).position == before[s]
            assert o2.snapshot(s).fills == fills[s]
    finally:
        o2.stop()


@pytest.mark.parametrize("orch", ["postgres"], indirect=True)
def test_the_database_dropping_every_connection_is_ridden_out(orch: Orchestrator) -> None:
    orch.add_trading_pair("BEFORE", MM, {"qty_lots": 1}, engine="durable")
    name = sa.make_url(orch.url).database
    admin = sa.create_engine(
        sa.make_url(orch.url).set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.NullPool,
    )
    try:
        with admin.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            ).scalar()
    finally:
        admin.dispose()
    assert killed
    # Every pooled connection is dead: the next registry write and durable orders reconnect.
    assert orch.add_trading_pair("AFTER", MM, {"qty_lots": 1})["outcome"] == "added"
    before = orch.snapshot("BEFORE").orders_sent
    wait_for(lambda: orch.snapshot("BEFORE").orders_sent > before + 2, "durable orders again")
    assert orch.registry.get("BEFORE").status == "ACTIVE"


def test_a_pair_past_its_last_actor_life_is_failed_not_wrapped(tmp_path: Path) -> None:
    # R2 finding 5: a life's client order ids must never come back. A pair whose next
    # life would be past MAX_EPOCH is refused (FAILED with the cause), never started
    # with ids that wrap onto an earlier life's.
    from whistle.orchestrator.actor import MAX_EPOCH

    o = Orchestrator(tmp_path / "orch", simulate=3)
    o.start()
    try:
        o.add_trading_pair("AAA", MM, {"qty_lots": 1})
        o.add_trading_pair("BBB", MM, {"qty_lots": 1})
    finally:
        o.stop()
    engine = sa.create_engine(o.url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE symbol_registry SET epoch = :e WHERE symbol = 'AAA'"),
            {"e": MAX_EPOCH},
        )
    engine.dispose()
    o2 = Orchestrator(tmp_path / "orch")
    o2.start()
    try:
        wait_for(lambda: o2.registry.get("AAA").status == "FAILED", "AAA to be FAILED")
        assert "client order id space exhausted" in o2.registry.get("AAA").cause
        assert "AAA" not in o2.managers
        assert o2.managers["BBB"].state == "RUNNING"
    finally:
        o2.stop()
