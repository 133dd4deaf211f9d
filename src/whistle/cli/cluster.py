"""``whistle cluster``: a whole cluster on this machine (``whistle.cluster.local``).

``up`` starts a 3-server NATS JetStream cluster on loopback, creates the control plane's
schema on PostgreSQL, places the shards and starts the venue nodes (``whistle node run``)
as processes that outlive the command; ``status`` shows processes, nodes, shards and
leases; ``kill`` SIGKILLs a node or a NATS server (what a crash does), ``start`` starts
a killed node again, ``move`` moves a shard; ``down`` stops everything and removes what
``up`` made (processes, ports, the directory with the JetStream stores, the schema).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from whistle.cluster.local import LocalCluster

__all__ = ["cluster"]

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_ENV = "WHISTLE_CLUSTER_DB"


def _local(path: Path | None) -> LocalCluster:
    from whistle.cluster.local import LocalCluster

    return LocalCluster(path)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


_DIR = click.option(
    "--dir",
    "path",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The cluster's directory (state file, logs, JetStream stores); default"
    " $WHISTLE_CLUSTER_DIR, else <tmp>/whistle-cluster-<uid>.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


@click.group()
def cluster() -> None:
    """A local cluster: NATS JetStream servers, the control plane, venue nodes."""


@cluster.command()
@click.option("--nodes", type=click.IntRange(0, 32), default=3, show_default=True)
@click.option(
    "--nats-servers", type=click.IntRange(1, 9), default=3, show_default=True, help="NATS servers."
)
@click.option(
    "--replicas",
    type=click.IntRange(1, 9),
    default=None,
    help="JetStream replicas of each stream (default min(3, servers)).",
)
@click.option("--shards", type=click.IntRange(1, 1024), default=8, show_default=True)
@click.option(
    "--db",
    default=None,
    metavar="URL",
    help=f"PostgreSQL for the control plane (default ${DB_ENV}, else {DEFAULT_DB}).",
)
@click.option("--schema", default="whistle_cluster", show_default=True)
@click.option("--prefix", default="whistle", show_default=True, help="Subject/stream prefix.")
@click.option("--lease-s", type=click.FloatRange(0.5, 600), default=3.0, show_default=True)
@click.option("--safety-s", type=click.FloatRange(0.05, 60), default=0.75, show_default=True)
@click.option("--node-timeout-s", type=click.FloatRange(0.2, 600), default=3.0, show_default=True)
@click.option(
    "--node-arg", "node_args", multiple=True, help="An extra argument for every whistle node run."
)
@_DIR
@_JSON
def up(
    nodes: int,
    nats_servers: int,
    replicas: int | None,
    shards: int,
    db: str | None,
    schema: str,
    prefix: str,
    lease_s: float,
    safety_s: float,
    node_timeout_s: float,
    node_args: tuple[str, ...],
    path: Path | None,
    as_json: bool,
) -> None:
    """Start NATS, the control plane and NODES venue nodes; return when all are ready."""
    from whistle.cluster.control import ControlError
    from whistle.cluster.local import LocalClusterError

    local = _local(path)
    try:
        state = local.up(
            nodes=nodes,
            nats_servers=nats_servers,
            replicas=replicas,
            shards=shards,
            db=db or os.environ.get(DB_ENV) or DEFAULT_DB,
            schema=schema,
            prefix=prefix,
            lease_s=lease_s,
            safety_s=safety_s,
            node_timeout_s=node_timeout_s,
            node_args=node_args,
        )
    except (LocalClusterError, ControlError) as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(state.dump(), nl=False)
        return
    click.echo(f"cluster up in {state.dir}")
    click.echo(f"  nats:  {','.join(state.nats_urls)} (replicas {state.replicas})")
    click.echo(f"  db:    {state.db} schema {state.schema}, {state.shards} shards")
    click.echo(f"  nodes: {', '.join(n.name for n in state.nodes) or '(none)'}")
    click.echo(f"  down:  whistle cluster down --dir {state.dir}")


@cluster.command()
@_DIR
@_JSON
def down(path: Path | None, as_json: bool) -> None:
    """Stop every process of the cluster and remove what up made."""
    from whistle.cluster.local import LocalClusterError

    try:
        done = _local(path).down()
    except LocalClusterError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps({"done": done}))
        return
    for line in done:
        click.echo(line)


@cluster.command()
@_DIR
@_JSON
def status(path: Path | None, as_json: bool) -> None:
    """Processes, NATS servers, nodes, shards and leases of the running cluster."""
    from whistle.cluster.control import ControlError
    from whistle.cluster.local import LocalClusterError

    try:
        report = _status(_local(path))
    except (LocalClusterError, ControlError) as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    console = Console()
    processes = Table(title="processes")
    for column in ("name", "pid", "alive", "log"):
        processes.add_column(column)
    for p in report["processes"]:
        processes.add_row(p["name"], str(p["pid"]), _yes(p["alive"]), p["log"])
    console.print(processes)
    nodes = Table(title="members")
    for column in ("node", "up", "heartbeat age s", "shards held"):
        nodes.add_column(column)
    for n in report["members"]:
        held = ",".join(str(s) for s in n["held"]) or "-"
        nodes.add_row(n["node"], _yes(n["up"]), f"{n['age_s']:.1f}", held)
    console.print(nodes)
    shards = Table(title="shards")
    for column in ("shard", "assigned", "gen", "holder", "token", "lease s left", "revoked"):
        shards.add_column(column)
    for s in report["shards"]:
        left = s["remaining_s"]
        shards.add_row(
            str(s["shard"]),
            s["assigned"] or "-",
            str(s["generation"]),
            s["holder"] or "-",
            str(s["token"]),
            f"{left:.1f}" if left > 0 else "expired",
            _yes(s["revoked"]),
        )
    console.print(shards)
    if report["moves"]:
        moves = Table(title="moves")
        for column in ("workflow", "from", "to", "reason", "outcome", "seconds"):
            moves.add_column(column)
        for m in report["moves"]:
            seconds = "-" if m["seconds"] is None else f"{m['seconds']:.2f}"
            moves.add_row(
                m["workflow_id"],
                m["from_node"] or "-",
                m["to_node"],
                m["reason"],
                m["outcome"] or "running",
                seconds,
            )
        console.print(moves)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _status(local: LocalCluster) -> dict[str, Any]:
    from whistle.cluster.local import process_alive

    state = local.state()
    processes = [
        {"name": p.name, "pid": p.pid, "alive": process_alive(p), "log": p.log}
        for p in local.processes()
    ]
    with local.plane() as plane:
        leases = plane.leases()
        members = [
            {
                "node": n.node,
                "up": n.up,
                "age_s": n.age_s,
                "held": [i.shard for i in leases if i.holder == n.node and i.remaining_s > 0],
            }
            for n in plane.nodes()
        ]
        shards = [
            {
                "shard": i.shard,
                "assigned": i.assigned,
                "generation": i.generation,
                "holder": i.holder,
                "token": i.token,
                "remaining_s": i.remaining_s,
                "revoked": i.revoked,
            }
            for i in leases
        ]
        moves = plane.moves()
    return {
        "dir": state.dir,
        "nats": state.nats_urls,
        "db": state.db,
        "schema": state.schema,
        "prefix": state.prefix,
        "processes": processes,
        "members": members,
        "shards": shards,
        "moves": moves,
    }


@cluster.command()
@click.argument("name")
@_DIR
def kill(name: str, path: Path | None) -> None:
    """SIGKILL node NAME (n1, n2, ...) or NATS server NAME (as status lists it)."""
    from whistle.cluster.local import LocalClusterError

    try:
        record = _local(path).kill(name)
    except LocalClusterError as exc:
        raise _fail(exc) from None
    click.echo(f"killed {name} (pid {record.pid})")


@cluster.command()
@click.argument("name")
@click.option("--node-arg", "node_args", multiple=True, help="An extra argument for the node.")
@_DIR
def start(name: str, node_args: tuple[str, ...], path: Path | None) -> None:
    """Start node NAME again (after kill), or a new node NAME, or NATS server NAME again."""
    from whistle.cluster.local import LocalClusterError

    try:
        local = _local(path)
        if any(s["name"] == name for s in local.state().nats):
            record = local.restart_nats(name)
        else:
            record = local.start_node(name, node_args)
    except LocalClusterError as exc:
        raise _fail(exc) from None
    click.echo(f"started {name} (pid {record.pid})")


@cluster.command()
@click.argument("shard", type=click.IntRange(0))
@click.argument("node")
@click.option("--timeout-s", type=click.FloatRange(1, 600), default=60.0, show_default=True)
@_DIR
def move(shard: int, node: str, timeout_s: float, path: Path | None) -> None:
    """Move SHARD to NODE and wait until NODE holds its lease (the nodes run the move)."""
    from whistle.cluster.control import ControlError
    from whistle.cluster.local import LocalClusterError

    try:
        with _local(path).plane() as plane:
            result = plane.request_move(shard, node, timeout_s=timeout_s)
    except (LocalClusterError, ControlError) as exc:
        raise _fail(exc) from None
    click.echo(
        f"shard {result.shard}: {result.from_node or '-'} -> {result.to_node}: {result.outcome}"
        f" (token {result.token})"
    )


@cluster.command()
@click.option("--timeout-s", type=click.FloatRange(1, 600), default=60.0, show_default=True)
@_DIR
def rebalance(timeout_s: float, path: Path | None) -> None:
    """Even out the shards over the up nodes (after a killed node came back empty)."""
    from whistle.cluster.control import ControlError
    from whistle.cluster.local import LocalClusterError

    try:
        with _local(path).plane() as plane:
            plan = plane.plan_rebalance()
            if not plan:
                click.echo("balanced: nothing to move")
            for shard, node in plan:
                result = plane.request_move(shard, node, timeout_s=timeout_s)
                click.echo(
                    f"shard {shard}: {result.from_node or '-'} -> {node}: {result.outcome}"
                    f" (token {result.token})"
                )
    except (LocalClusterError, ControlError) as exc:
        raise _fail(exc) from None
