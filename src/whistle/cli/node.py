"""``whistle node run``: a venue node of a cluster (``whistle.cluster.node.VenueNode``).

It joins the control plane (PostgreSQL, ``--db``), takes the leases of the shards
assigned to it (``--shards`` asks for those shards when nobody has them), rebuilds each
from its snapshot plus the JetStream tail, and sequences it until SIGTERM / SIGINT, when
it stores last snapshots, releases its leases and leaves. One line per shard event on
stdout (``shard N: serving ...``), so a supervisor can wait for "serving".
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import click

__all__ = ["node"]


@click.group()
def node() -> None:
    """Run a venue node of a cluster (NATS JetStream + a PostgreSQL control plane)."""


def _shards(text: str | None) -> list[int]:
    if not text:
        return []
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            out.extend(range(int(lo), int(hi) + 1) if sep else [int(part)])
        except ValueError:
            raise click.BadParameter(
                f"shards are ints or ranges, e.g. 0,2,4-7; was {text!r}"
            ) from None
    return out


@node.command("run")
@click.option(
    "--nats", "nats_url", required=True, metavar="URL", help="NATS server(s), comma separated."
)
@click.option(
    "--db", "db_url", required=True, metavar="URL", help="Control plane: postgresql://..."
)
@click.option("--shards", default=None, help="Shards to take when unassigned, e.g. 0,1,4-7.")
@click.option("--node", "name", default=None, help="Node name (default: host-pid).")
@click.option("--prefix", default="whistle", show_default=True, help="Stream and subject prefix.")
@click.option(
    "--schema", default="whistle_cluster", show_default=True, help="Control plane schema."
)
@click.option(
    "--shard-count",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Shards of a new control plane (an existing cluster keeps its own).",
)
@click.option(
    "--replicas",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="Replicas of the streams this node creates.",
)
@click.option(
    "--lease-s",
    type=click.FloatRange(min=0.5),
    default=3.0,
    show_default=True,
    help="Lease length of a new control plane (an existing cluster keeps its own).",
)
@click.option(
    "--max-batch",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="Commands per log message at most.",
)
@click.option(
    "--snapshot-every",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="Snapshot a shard after this many commands.",
)
@click.option(
    "--event-stream/--no-event-stream",
    default=False,
    show_default=True,
    help="Keep events in a deduplicating JetStream stream too.",
)
def run(
    nats_url: str,
    db_url: str,
    shards: str | None,
    name: str | None,
    prefix: str,
    schema: str,
    shard_count: int,
    replicas: int,
    lease_s: float,
    max_batch: int,
    snapshot_every: int,
    event_stream: bool,
) -> None:
    """Serve the shards this node holds until SIGTERM / SIGINT."""
    from whistle.cluster.control import ControlError, ControlPlane
    from whistle.cluster.node import VenueNode

    wanted = _shards(shards)
    try:
        # The cluster's own shard count and timings (whistle cluster up created it).
        plane = ControlPlane.attach(db_url, schema=schema)
    except ControlError:
        plane = ControlPlane(
            db_url,
            schema=schema,
            shards=shard_count,
            lease_s=lease_s,
            safety_s=lease_s / 4,
            node_timeout_s=lease_s,
        )
        plane.create()
    node_name = name or f"{socket.gethostname()}-{os.getpid()}"

    def say(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    venue = VenueNode(
        nats_url,
        plane,
        node=node_name,
        prefix=prefix,
        shards=wanted,
        replicas=replicas,
        max_batch=max_batch,
        snapshot_every=snapshot_every,
        event_stream=event_stream,
        log=say,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await venue.start()
        say(f"node {node_name}: up (nats {nats_url}, prefix {prefix})")
        await stop.wait()
        say(f"node {node_name}: stopping")
        await venue.stop()

    try:
        asyncio.run(main())
    finally:
        plane.close()
    say(f"node {node_name}: stopped")
