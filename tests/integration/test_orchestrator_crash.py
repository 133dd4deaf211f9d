"""SIGKILL the orchestrator during adds, removes and durable order bursts; check the rest.

Each cycle starts a child orchestrator (spawned: a fresh interpreter) on the same data
directory and database. The child runs a plan: add a durable ``Burst`` pair and a simple
``MarketMaker`` pair, remove the previous cycle's simple pair, then trade. The parent
kills it with SIGKILL after a seeded random delay (anywhere in that plan), then starts a
verifying child, which recovers (DBOS finishes what the kill interrupted), lets the
actors drain, stops cleanly and reports. After each restart:

1. the registry is exactly the adds whose workflow completed minus the removes whose
   workflow completed, and no workflow is left pending;
2. every durable order (a completed ``{symbol}-order-{coid}`` workflow) is in the
   venue's command journal exactly once, and no client order id is there twice;
3. every pair's position equals the sum of its fills in the venue's event journal.

Short run (default): one kill per database. Full run (>= 20 kills per database)::

    WHISTLE_ORCH_KILLS=20 .venv/bin/python -m pytest tests/integration/test_orchestrator_crash.py -q

``WHISTLE_ORCH_SEED`` changes the seed (default 11).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_orchestrator_support import BACKENDS, database

KILLS = int(os.environ.get("WHISTLE_ORCH_KILLS", "1"))
SEED = int(os.environ.get("WHISTLE_ORCH_SEED", "11"))
HERE = Path(__file__).resolve().parent
BURST = "whistle.orchestrator.testing:Burst"
MM = "whistle.trading.examples:MarketMaker"


# ---------------------------------------------------------------------- the child


def child_main(data_dir: str, db: str, mode: str, cycle: int) -> None:
    """Run in a fresh interpreter: ``run`` (the plan, then trade until killed) or ``verify``."""
    from whistle.orchestrator import Orchestrator, UnknownSymbol

    # The verifying child runs no background flow, so its actors' inboxes drain.
    flow = cycle + 1 if mode == "run" else None
    orch = Orchestrator(data_dir, db=db or None, simulate=flow, pump_interval_s=0.002)
    orch.start()
    print("READY", flush=True)
    if mode == "run":
        plan: list[tuple[str, str]] = [
            ("add", f"D{cycle}"),
            ("add", f"S{cycle}"),
            ("remove", f"S{cycle - 1}"),
            ("add", f"E{cycle}"),
        ]
        for op, symbol in plan:
            print(f"BEGIN {op} {symbol}", flush=True)
            if op == "add":
                if symbol.startswith("S"):
                    orch.add_trading_pair(symbol, MM, {"qty_lots": 1})
                else:
                    orch.add_trading_pair(
                        symbol, BURST, {"orders": 60, "per_book": 3}, engine="durable"
                    )
            else:
                with contextlib.suppress(UnknownSymbol):
                    orch.remove_trading_pair(symbol)
            print(f"DONE {op} {symbol}", flush=True)
        while True:
            time.sleep(1)
    # verify: let every actor handle what waits, stop cleanly, report
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(m.inbox_depth() == 0 for m in orch.managers.values()):
            break
        time.sleep(0.01)
    orch._stopping.set()  # no more flow; then the clean stop drains the actors
    time.sleep(0.1)
    orch.stop()
    report: dict[str, Any] = {
        "registry": {r.symbol: r.status for r in orch.registry.rows()},
        "positions": {
            s: [slot.positions.snapshot().position, slot.positions.snapshot().fills]
            for s, slot in orch._slots.items()
        },
        "symbol_ids": {s: orch.link.venue.instrument(s).symbol_id for s in orch.link.venue.symbols},
        "accounts": {r.symbol: r.strategy_config["account"] for r in orch.registry.rows()},
    }
    print("RESULT " + json.dumps(report), flush=True)


def _spawn(data_dir: Path, db: str | None, mode: str, cycle: int) -> subprocess.Popen[str]:
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r});"
        "import test_orchestrator_crash as t;"
        f"t.child_main({str(data_dir)!r}, {db or ''!r}, {mode!r}, {cycle})"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_line(proc: subprocess.Popen[str], prefix: str, timeout_s: float = 60.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"child ended before {prefix!r}: {lines} / {err}")
        lines.append(line.strip())
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"no {prefix!r} line within {timeout_s} s: {lines}")


# ---------------------------------------------------------------------- the witnesses


def _workflows(url: str) -> list[Any]:
    from dbos import DBOSClient

    from whistle.orchestrator.database import APP_NAME

    client = DBOSClient(system_database_url=url, application_name=APP_NAME)
    try:
        return list(client.list_workflows(load_input=False, load_output=False))
    finally:
        client.destroy()


def _journal_coids(venue_dir: Path) -> Counter[tuple[int, int]]:
    from whistle.coord.durability.datadir import iter_records
    from whistle.coord.durability.records import Sequenced
    from whistle.core.commands import NewOrder

    seen: Counter[tuple[int, int]] = Counter()
    for record in iter_records(venue_dir):
        if isinstance(record, Sequenced) and isinstance(record.command, NewOrder):
            command = record.command
            if command.client_order_id:
                seen[(command.account, command.client_order_id)] += 1
    return seen


def _journal_positions(venue_dir: Path) -> Counter[tuple[int, int]]:
    from whistle.coord.durability.playback import Playback
    from whistle.core.events import OrderFilled

    pos: Counter[tuple[int, int]] = Counter()
    for event in Playback(venue_dir):
        if isinstance(event, OrderFilled):
            pos[(event.account, event.symbol_id)] += (
                event.qty_lots if event.side == 1 else -event.qty_lots
            )
    return pos


def _check(data_dir: Path, url: str, report: dict[str, Any], confirmed: set[str]) -> int:
    flows = _workflows(url)
    by_id = {w.workflow_id: w for w in flows}
    unfinished = [w.workflow_id for w in flows if w.status not in ("SUCCESS", "ERROR")]
    assert unfinished == [], f"workflows left unfinished after recovery: {unfinished}"
    errors = [(w.workflow_id, w.error) for w in flows if w.status == "ERROR"]
    assert errors == [], f"workflows that failed: {errors}"
    # 1. the registry: completed adds minus completed removes
    added = {i.split("-add-")[0] for i in by_id if "-add-" in i}
    removed = {i.split("-remove-")[0] for i in by_id if "-remove-" in i}
    live = {s for s, status in report["registry"].items() if status in ("ACTIVE", "PAUSED")}
    assert live == added - removed, (live, added, removed)
    assert {s for s in confirmed if not s.startswith("-")} - removed <= live
    # 2. every durable order exactly once at the venue
    coids = _journal_coids(data_dir / "venue")
    twice = {k: n for k, n in coids.items() if n != 1}
    assert twice == {}, f"client order ids sequenced more than once: {twice}"
    placed = [i for i in by_id if "-order-" in i]
    for wid in placed:
        coid = int(wid.rsplit("-order-", 1)[1])
        assert coids[(1, coid)] == 1, f"{wid}: {coids[(1, coid)]} times in the venue journal"
    # 3. positions == the sum of fills in the venue's own journal
    fills = _journal_positions(data_dir / "venue")
    for symbol, (position, _n) in report["positions"].items():
        sid = report["symbol_ids"][symbol]
        account = report["accounts"][symbol]
        assert position == fills[(account, sid)], (symbol, position, fills[(account, sid)])
    return len(placed)


def _kill_cycles(data_dir: Path, db: str | None, kills: int, seed: int) -> None:
    from whistle.orchestrator.database import resolve_url

    url = resolve_url(data_dir, db)
    rng = random.Random(seed)
    confirmed: set[str] = set()
    placed = 0
    for cycle in range(kills):
        proc = _spawn(data_dir, db, "run", cycle)
        try:
            _wait_line(proc, "READY", timeout_s=300)
            time.sleep(rng.uniform(0.0, 1.6))
        finally:
            proc.send_signal(signal.SIGKILL)
            out, _err = proc.communicate(timeout=30)
        for line in out.splitlines():
            if line.startswith("DONE add"):
                confirmed.add(line.split()[2])
            elif line.startswith("DONE remove"):
                confirmed.discard(line.split()[2])
        verify = _spawn(data_dir, db, "verify", cycle)
        try:
            lines = _wait_line(verify, "RESULT", timeout_s=300)
        finally:
            verify.kill()
            verify.communicate(timeout=60)
        report = json.loads(lines[-1][len("RESULT ") :])
        placed = _check(data_dir, url, report, confirmed)
    assert placed > 0, "no durable order was placed: the burst never ran"


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_during_adds_removes_and_durable_bursts(backend: str, tmp_path: Path) -> None:
    with database(backend) as db:
        _kill_cycles(tmp_path / "orch", db, KILLS, SEED + BACKENDS.index(backend))
