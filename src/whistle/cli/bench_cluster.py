"""``whistle bench cluster``: acknowledged commands/s through JetStream (1 and 3 replicas,
batched and not), the node path, ack latency at a fixed offered rate, failover time."""

from __future__ import annotations

import json

import click

__all__ = ["cluster"]

# Mirrors whistle.bench.cluster.DEFAULTS (not imported here: it loads nats-py, and every
# ``whistle`` command would pay for it); tests/integration/cluster/test_node_bench.py
# checks they agree.
DEFAULTS = {
    "seconds": 2.0,
    "symbols": 16,
    "batch": 512,
    "clients": 64,
    "chunk": 64,
    "offered_per_sec": 1_000,
    "r3": True,
}


@click.command("cluster")
@click.option(
    "--nats", "url", default="nats://127.0.0.1:4222", show_default=True, help="JetStream server."
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.1),
    default=DEFAULTS["seconds"],
    show_default=True,
    help="Length of each timed run.",
)
@click.option(
    "--symbols",
    type=click.IntRange(min=1),
    default=DEFAULTS["symbols"],
    show_default=True,
    help="Symbol subjects in the shard (one append in flight each).",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=DEFAULTS["batch"],
    show_default=True,
    help="Commands per message in the batched runs.",
)
@click.option(
    "--clients",
    type=click.IntRange(min=1),
    default=DEFAULTS["clients"],
    show_default=True,
    help="Concurrent requesters in the node runs.",
)
@click.option(
    "--chunk",
    type=click.IntRange(min=2),
    default=DEFAULTS["chunk"],
    show_default=True,
    help="Commands per request in the node runs.",
)
@click.option(
    "--rate",
    "offered_per_sec",
    type=click.IntRange(min=1),
    default=DEFAULTS["offered_per_sec"],
    show_default=True,
    help="Offered single-command requests/s for the latency run.",
)
@click.option(
    "--r3/--no-r3",
    default=DEFAULTS["r3"],
    show_default=True,
    help="Also start a local 3-server JetStream cluster and measure 3 replicas.",
)
@click.option(
    "--db",
    default=None,
    metavar="URL",
    help="PostgreSQL for the failover run (a fresh schema, dropped after); none: no failover.",
)
@click.option(
    "--failover-rounds",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Kill rounds of the failover run (the slowest is reported).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def cluster(
    url: str,
    seconds: float,
    symbols: int,
    batch: int,
    clients: int,
    chunk: int,
    offered_per_sec: int,
    r3: bool,
    db: str | None,
    failover_rounds: int,
    as_json: bool,
) -> None:
    """Measure acknowledged commands/s and ack latency through NATS JetStream."""
    from whistle.bench.cluster import run_cluster_bench

    result = run_cluster_bench(
        url,
        seconds=seconds,
        symbols=symbols,
        batch=batch,
        clients=clients,
        chunk=chunk,
        offered_per_sec=offered_per_sec,
        r3=r3,
        db=db,
        failover_rounds=failover_rounds,
    )
    if as_json:
        click.echo(json.dumps(result))
        return
    lat = result["ack_latency_ns"]
    click.echo(f"log, 1 replica, {batch}/message: {result['acked_per_sec']:,} acked commands/s")
    click.echo(
        f"log, 1 replica, 1/message:   {result['acked_per_sec_unbatched']:,} acked commands/s"
    )
    if result["acked_per_sec_r3"] is not None:
        click.echo(
            f"log, 3 replicas, {batch}/message: {result['acked_per_sec_r3']:,} acked commands/s"
        )
        click.echo(
            f"log, 3 replicas, 1/message:   {result['acked_per_sec_r3_unbatched']:,}"
            " acked commands/s"
        )
    click.echo(
        f"node (validate, append, apply, events): {result['node_acked_per_sec']:,}/s"
        f" ({result['node_commands_per_cpu_second']:,} per CPU-second)"
    )
    click.echo(f"node through NATS request/reply: {result['request_acked_per_sec']:,}/s")
    click.echo(f"rebuild from the stream: {result['rebuild_per_sec']:,} commands/s")
    click.echo(
        f"ack latency at {offered_per_sec:,}/s offered: p50 {lat['p50'] / 1e6:.2f} ms,"
        f" p99 {lat['p99'] / 1e6:.2f} ms"
    )
    click.echo(f"failover: {result['failover_seconds']}")
