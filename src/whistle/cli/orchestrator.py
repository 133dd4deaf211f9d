"""``whistle orchestrator``: run the multi-symbol orchestrator and change its registry.

``run`` is the long-running process (a live table); ``add``/``remove``/``pause``/
``resume`` enqueue a DBOS workflow that the running orchestrator applies at once, or a
stopped one at its next start (``whistle.orchestrator.control``); ``list`` reads the
registry and the queued commands. Every command takes ``--data-dir`` and ``--db``.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.orchestrator import Orchestrator
    from whistle.orchestrator.control import ControlClient

__all__ = ["orchestrator"]

_DEFAULT_DIR = "whistle-orchestrator"


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--db",
        default=None,
        metavar="URL",
        help="Database URL: postgresql://... or sqlite:///PATH (default $WHISTLE_DB, else"
        " SQLite in the data directory).",
    )(func)
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(_DEFAULT_DIR),
        show_default=True,
        help="The orchestrator's directory (venue journal, lock, SQLite database).",
    )(func)


def _client(data_dir: Path, db: str | None) -> ControlClient:
    from whistle.orchestrator.control import ControlClient
    from whistle.orchestrator.database import resolve_url

    data_dir.mkdir(parents=True, exist_ok=True)
    return ControlClient(data_dir, resolve_url(data_dir, db))


def _say(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, sort_keys=True, default=str))
        return
    outcome = result.get("outcome", "?")
    row = result.get("row") or {}
    where = f" ({row.get('status')})" if row else ""
    if outcome == "queued":
        click.echo(
            f"queued {result['workflow_id']}: the orchestrator is not running; it applies"
            " the command when it starts"
        )
    else:
        click.echo(f"{outcome}{where}")


@click.group()
def orchestrator() -> None:
    """Run trading pairs as durable actors on DBOS (registry, supervisor, exactly-once orders)."""


@orchestrator.command("run")
@_common
@click.option(
    "--simulate/--no-simulate",
    default=True,
    show_default=True,
    help="Feed the in-process venue with seeded background flow (someone to trade with).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the flow.")
@click.option(
    "--refresh", type=float, default=0.5, show_default=True, help="Table refresh (seconds)."
)
@click.option(
    "--duration",
    type=float,
    default=None,
    help="Stop after this many seconds (default: until Ctrl-C or SIGTERM).",
)
@click.option("--venue", type=click.Choice(["inprocess"]), default="inprocess", show_default=True)
@click.option(
    "--remote",
    default=None,
    metavar="HOST:PORT",
    help="Trade on a `whistle serve` process instead of the in-process venue (an admin key:"
    " every pair trades its own account).",
)
@click.option("--api-key", envvar="WHISTLE_API_KEY", default=None, help="With --remote.")
@click.option("--tls", is_flag=True, help="With --remote: connect with TLS.")
def run_cmd(
    data_dir: Path,
    db: str | None,
    simulate: bool,
    seed: int,
    refresh: float,
    duration: float | None,
    venue: str,
    remote: str | None,
    api_key: str | None,
    tls: bool,
) -> None:
    """Start the orchestrator: recover, trade every ACTIVE pair, show a live table."""
    from whistle.orchestrator import Orchestrator

    link_factory = None
    if remote is not None:
        from whistle.api.client import Client
        from whistle.api.remote import RemoteLink
        from whistle.orchestrator.simulator import SIM_ACCOUNT

        def link_factory(_venue_dir: Path) -> RemoteLink:
            client = Client(remote, api_key=api_key, tls=tls)
            return RemoteLink(client, owns_client=True, ignore_accounts=frozenset((SIM_ACCOUNT,)))

    orch = Orchestrator(
        data_dir, db=db, simulate=seed if simulate else None, link_factory=link_factory
    )
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console = Console()
    orch.start()
    try:
        where = f"venue {remote}" if remote is not None else "in-process venue"
        console.print(
            f"orchestrator on {data_dir} (boot {orch.boot}, {where}); Ctrl-C stops it",
            highlight=False,
        )
        deadline = None if duration is None else time.monotonic() + duration
        with Live(_table(orch), console=console, refresh_per_second=4) as live:
            while not stop.wait(refresh):
                live.update(_table(orch))
                if deadline is not None and time.monotonic() > deadline:
                    break
    except KeyboardInterrupt:
        pass
    finally:
        orch.stop()
        signal.signal(signal.SIGTERM, previous)
    console.print()
    for st in orch.status():
        console.print(
            f"{st.symbol} {st.status} position {st.position} pnl {st.pnl} orders {st.orders}",
            highlight=False,
        )


def _table(orch: Orchestrator) -> Table:
    table = Table(title="whistle orchestrator")
    for name in (
        "symbol",
        "status",
        "actor",
        "engine",
        "position",
        "PnL (tick-lots)",
        "orders",
        "fills",
        "open",
        "inbox",
        "restarts",
    ):
        table.add_column(name, justify="left" if name in ("symbol", "status") else "right")
    for st in orch.status():
        table.add_row(
            st.symbol,
            st.status if not st.cause else f"{st.status}: {st.cause[:40]}",
            st.actor,
            st.engine,
            str(st.position),
            str(st.pnl),
            str(st.orders),
            str(st.fills),
            str(st.open_orders),
            str(st.inbox_depth),
            str(st.restarts),
        )
    return table


@orchestrator.command("add")
@click.argument("symbol")
@click.option("--strategy", required=True, metavar="MODULE:CLASS", help="The strategy class.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Strategy parameters (TOML or JSON).",
)
@click.option(
    "--risk",
    "risk_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Risk limits (TOML or JSON: RiskLimits fields).",
)
@click.option("--engine", type=click.Choice(["simple", "durable"]), default="simple")
@click.option("--account", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--wait", "wait_s", type=float, default=30.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_common
def add_cmd(
    symbol: str,
    strategy: str,
    config_file: Path | None,
    risk_file: Path | None,
    engine: str,
    account: int,
    wait_s: float,
    as_json: bool,
    data_dir: Path,
    db: str | None,
) -> None:
    """Add a trading pair (validated here, before anything is written)."""
    from whistle.orchestrator.config import validate_pair

    config = validate_pair(symbol, strategy, config_file, risk_file, engine=engine, account=account)
    client = _client(data_dir, db)
    try:
        _say(client.add(config, wait_s), as_json)
    finally:
        client.close()


def _simple(name: str, doc: str) -> None:
    @orchestrator.command(name, help=doc)
    @click.argument("symbol")
    @click.option("--wait", "wait_s", type=float, default=30.0, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @_common
    def command(symbol: str, wait_s: float, as_json: bool, data_dir: Path, db: str | None) -> None:
        client = _client(data_dir, db)
        try:
            _say(getattr(client, name)(symbol, wait_s), as_json)
        finally:
            client.close()


_simple("remove", "Remove a trading pair: its actor stops, its open orders are cancelled.")
_simple("pause", "Pause a trading pair: it stops deciding, its open orders are cancelled.")
_simple("resume", "Resume a PAUSED or FAILED trading pair with a fresh actor.")


@orchestrator.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of objects.")
@_common
def list_cmd(as_json: bool, data_dir: Path, db: str | None) -> None:
    """List the registry (and commands still queued for a stopped orchestrator)."""
    client = _client(data_dir, db)
    try:
        items = client.listing()
        running = client.running
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(items, sort_keys=True))
        return
    table = Table(title=f"registry ({'running' if running else 'stopped'})")
    for name in ("symbol", "status", "strategy", "engine", "account", "version"):
        table.add_column(name)
    for item in items:
        table.add_row(
            *(
                str(item.get(k, ""))
                for k in ("symbol", "status", "strategy", "engine", "account", "version")
            )
        )
    Console().print(table)
