"""``whistle bench orchestrator``: registry latency, recovery, engines, snapshots, inboxes.

Measured (each on a fresh data directory; PostgreSQL on a fresh database created on the
server given and dropped after):

- ``add_trading_pair`` latency p50/p99 (validation, the workflow, the registry
  transaction, the actor's start) on SQLite and on PostgreSQL;
- recovery: ``start()`` of an orchestrator whose registry holds N ACTIVE pairs (every
  pair's actor started, its epoch counted in a transaction), SQLite and PostgreSQL;
- orders/s through ``SimpleEngine`` and ``DurableEngine`` (one DBOS workflow + step per
  order) on the in-process venue with a data directory, and their ratio;
- ``PositionManager.snapshot()`` latency while a writer thread and reader threads
  contend for its lock;
- isolation: the fill rate and inbox latency of 10 market makers, then again while an
  eleventh actor hangs inside ``on_book``;
- actor inbox latency (post to handled) of a thread actor, against the same hand-off
  to an asyncio loop (``call_soon_threadsafe``): the thread-or-asyncio measurement.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from whistle.core.enums import Side, TimeInForce
from whistle.orchestrator import Orchestrator
from whistle.orchestrator.actor import SymbolManager
from whistle.orchestrator.config import validate_pair
from whistle.orchestrator.engines import DurableEngine, SimpleEngine
from whistle.orchestrator.position import PositionManager
from whistle.orchestrator.registry import tx_add
from whistle.trading.examples import Noop
from whistle.trading.messages import MarketEvent, MarketKind, Order, OrderAction, OrderUpdate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["DEFAULT_PG_URL", "run_orchestrator_bench"]

DEFAULT_PG_URL = os.environ.get("WHISTLE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOOP = "whistle.trading.examples:Noop"


def _pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e3  # ns -> us


def _summary(ns: list[int]) -> dict[str, float]:
    return {
        "p50_us": round(_pct(ns, 0.50), 1),
        "p99_us": round(_pct(ns, 0.99), 1),
        "max_us": round(max(ns) / 1e3, 1),
    }


@contextmanager
def _database(backend: str, pg_url: str) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
        return
    url = sa.make_url(pg_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"whistle_bench_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _add_latency(root: Path, db: str | None, adds: int) -> dict[str, float]:
    orch = Orchestrator(root, db=db)
    orch.start()
    try:
        ns: list[int] = []
        for i in range(adds):
            t0 = time.perf_counter_ns()
            orch.add_trading_pair(f"A{i:05d}", NOOP)
            ns.append(time.perf_counter_ns() - t0)
    finally:
        orch.stop()
    return {"adds": adds, **_summary(ns)}


def _recovery(root: Path, db: str | None, symbols: int) -> dict[str, float]:
    orch = Orchestrator(root, db=db)
    orch.start()
    try:
        configs = [validate_pair(f"R{i:05d}", NOOP) for i in range(symbols)]

        def insert_all(session: Any) -> int:
            for c in configs:
                tx_add(session, c.symbol, 1, c.exchange, c.strategy_config, c.risk_config)
            return len(configs)

        orch.registry.tx("bench.insert", insert_all)
    finally:
        orch.stop()
    again = Orchestrator(root, db=db)
    t0 = time.perf_counter()
    again.start()
    seconds = time.perf_counter() - t0
    started = len(again.managers)
    again.stop()
    return {"symbols": symbols, "actors_started": started, "seconds": round(seconds, 3)}


def _engines(root: Path, db: str | None, orders: int) -> dict[str, float]:
    orch = Orchestrator(root, db=db)
    orch.start()
    try:
        link = orch.link
        sid = link.ensure_instrument("ENG")
        out: dict[str, float] = {}
        coid = 1 << 50
        for name, engine in (
            ("simple", SimpleEngine(link.send)),
            ("durable", DurableEngine("ENG")),
        ):
            n = orders if name == "simple" else max(1, orders // 4)
            t0 = time.perf_counter()
            for i in range(n):
                coid += 1
                engine.send(
                    Order(
                        OrderAction.NEW,
                        coid,
                        1,
                        sid,
                        Side.BUY,
                        1000 + i % 50,
                        1,
                        TimeInForce.GTC,
                    )
                )
            out[f"{name}_orders_per_s"] = round(n / (time.perf_counter() - t0), 1)
        out["durable_over_simple"] = round(
            out["durable_orders_per_s"] / out["simple_orders_per_s"], 4
        )
    finally:
        orch.stop()
    return out


def _snapshots(readers: int, samples: int) -> dict[str, float]:
    pm = PositionManager("SNAP")
    stop = threading.Event()

    def writer() -> None:
        coid = 0
        while not stop.is_set():
            coid += 1
            pm.opened(coid, Side.BUY, 100, 2)
            pm.fill(Side.BUY, 100, 2, 0, coid)

    def reader() -> None:
        while not stop.is_set():
            pm.snapshot()

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(readers)
    ]
    for t in threads:
        t.start()
    ns: list[int] = []
    try:
        for _ in range(samples):
            t0 = time.perf_counter_ns()
            pm.snapshot()
            ns.append(time.perf_counter_ns() - t0)
    finally:
        stop.set()
        for t in threads:
            t.join()
    return {"reader_threads": readers, "samples": samples, **_summary(ns)}


def _isolation(root: Path, seconds: float, symbols: int = 10) -> dict[str, Any]:
    # Fill rate and inbox latency of N market makers, then again while one more actor
    # hangs inside on_book (hang detection off for the window, so it stays hung).
    orch = Orchestrator(root, simulate=5, hang_timeout_s=3600.0)
    orch.start()
    names = [f"I{i:02d}" for i in range(symbols)]
    try:
        for name in names:
            orch.add_trading_pair(name, "whistle.trading.examples:MarketMaker", {"qty_lots": 1})
        time.sleep(1.0)

        def window() -> dict[str, float]:
            managers = [orch.managers[n] for n in names]
            fills0 = sum(orch.snapshot(n).fills for n in names)
            lat0 = sum(m.latency_ns_sum for m in managers)
            handled0 = sum(m.market_handled for m in managers)
            time.sleep(seconds)
            fills = sum(orch.snapshot(n).fills for n in names) - fills0
            handled = sum(m.market_handled for m in managers) - handled0
            lat = sum(m.latency_ns_sum for m in managers) - lat0
            return {
                "fills_per_s": round(fills / seconds, 1),
                "market_events_per_s": round(handled / seconds, 1),
                "mean_inbox_latency_us": round(lat / max(handled, 1) / 1e3, 1),
            }

        before = window()
        orch.add_trading_pair(
            "HANG", "whistle.orchestrator.testing:Hanger", {"after": 1, "seconds": 3600.0}
        )
        hung = orch.managers["HANG"]
        deadline = time.monotonic() + 30
        while not hung.busy_since_ns and time.monotonic() < deadline:
            time.sleep(0.01)
        during = window()
    finally:
        orch.stop()
    return {"symbols": symbols, "window_s": seconds, "before": before, "one_actor_hung": during}


class _Nothing:
    name = "nothing"

    def send(self, order: Order) -> list[OrderUpdate]:
        return []


def _inbox(events: int) -> dict[str, Any]:
    m = SymbolManager("INBOX", 1, 1, 1, 1, Noop(), _Nothing(), PositionManager("INBOX"))
    m.start()
    lv = (0,) * 10
    thread_ns: list[int] = []
    try:
        for _ in range(events):
            before = m.market_handled
            now = time.time_ns()
            m.post_market(
                MarketEvent(MarketKind.BOOK, 1, now, now, 0, 0, 0, 0, 0, 0, lv, lv, lv, lv)
            )
            while m.market_handled == before:
                time.sleep(0)
            thread_ns.append(time.time_ns() - now)
    finally:
        m.stop()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    got = threading.Event()

    def serve() -> None:
        ready.set()
        loop.run_forever()

    runner = threading.Thread(target=serve)
    runner.start()
    ready.wait()
    asyncio_ns: list[int] = []
    for _ in range(events):
        got.clear()
        t0 = time.time_ns()
        loop.call_soon_threadsafe(got.set)
        got.wait()
        asyncio_ns.append(time.time_ns() - t0)
    loop.call_soon_threadsafe(loop.stop)
    runner.join()
    loop.close()
    return {"events": events, "thread": _summary(thread_ns), "asyncio": _summary(asyncio_ns)}


def run_orchestrator_bench(
    *,
    pg_url: str | None = DEFAULT_PG_URL,
    adds: int = 100,
    symbols: int = 1000,
    orders: int = 2000,
    readers: int = 4,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every measurement (PostgreSQL ones only when ``pg_url`` is given)."""
    say = progress or (lambda _msg: None)
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "databases": ["sqlite"] + (["postgresql"] if pg_url else []),
    }
    backends = ["sqlite"] + (["postgres"] if pg_url else [])
    with tempfile.TemporaryDirectory(prefix="whistle-bench-orch-") as tmp:
        root = Path(tmp)
        for backend in backends:
            say(f"add_trading_pair on {backend}")
            with _database(backend, pg_url or "") as db:
                result[f"add_{backend}"] = _add_latency(root / f"add-{backend}", db, adds)
            say(f"recovery of {symbols} symbols on {backend}")
            with _database(backend, pg_url or "") as db:
                result[f"recovery_{backend}"] = _recovery(root / f"rec-{backend}", db, symbols)
            say(f"engines on {backend}")
            with _database(backend, pg_url or "") as db:
                result[f"engines_{backend}"] = _engines(root / f"eng-{backend}", db, orders)
        say("isolation (a hung actor)")
        result["isolation"] = _isolation(root / "isolation", 3.0)
    say("snapshots")
    result["snapshot"] = _snapshots(readers, 20_000)
    say("inbox")
    result["inbox"] = _inbox(2000)
    return result
