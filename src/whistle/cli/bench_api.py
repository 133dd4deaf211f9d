"""``whistle bench api``: the network API under load on loopback (``whistle.bench.api``)."""

from __future__ import annotations

import json

import click

from whistle.bench.api import DEFAULTS, PHASES

__all__ = ["api_cmd"]


@click.command("api")
@click.option(
    "--unary-orders",
    type=click.IntRange(min=1),
    default=DEFAULTS["unary_orders"],
    show_default=True,
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=DEFAULTS["concurrency"],
    show_default=True,
    help="Unary calls in flight.",
)
@click.option(
    "--stream-orders",
    type=click.IntRange(min=1),
    default=DEFAULTS["stream_orders"],
    show_default=True,
)
@click.option(
    "--window",
    type=click.IntRange(min=1),
    default=DEFAULTS["window"],
    show_default=True,
    help="Unanswered commands on the OrderEntry stream at most.",
)
@click.option(
    "--md-cycles",
    type=click.IntRange(min=1),
    default=DEFAULTS["md_cycles"],
    show_default=True,
    help="Rest-then-sweep cycles driving the market-data phases.",
)
@click.option(
    "--sweep",
    type=click.IntRange(min=1, max=1000),
    default=DEFAULTS["sweep"],
    show_default=True,
    help="Resting orders (price levels) per cycle.",
)
@click.option(
    "--subscribers",
    type=click.IntRange(min=1),
    default=DEFAULTS["subscribers"],
    show_default=True,
)
@click.option(
    "--rate",
    type=click.IntRange(min=1),
    default=DEFAULTS["rate"],
    show_default=True,
    help="Offered order rate of the latency phase (orders/s).",
)
@click.option(
    "--latency-orders",
    type=click.IntRange(min=1),
    default=DEFAULTS["latency_orders"],
    show_default=True,
)
@click.option(
    "--phases",
    default=",".join(PHASES),
    show_default=True,
    help="Which phases to run (comma-separated).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def api_cmd(
    unary_orders: int,
    concurrency: int,
    stream_orders: int,
    window: int,
    md_cycles: int,
    sweep: int,
    subscribers: int,
    rate: int,
    latency_orders: int,
    phases: str,
    as_json: bool,
) -> None:
    """Unary and streamed orders/s, market data to 1 and N subscribers, ack latency at a
    fixed rate: against a `whistle serve` subprocess on loopback (self-stopping)."""
    from whistle.bench.api import run_api_bench

    chosen = [p.strip() for p in phases.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(PHASES))
    if unknown or not chosen:
        raise click.BadParameter(
            f"phases are {', '.join(PHASES)}, was {phases!r}", param_hint="--phases"
        )
    result = run_api_bench(
        unary_orders=unary_orders,
        concurrency=concurrency,
        stream_orders=stream_orders,
        window=window,
        md_cycles=md_cycles,
        sweep=sweep,
        subscribers=subscribers,
        rate=rate,
        latency_orders=latency_orders,
        phases=chosen,
    )
    if as_json:
        click.echo(json.dumps(result))
        return
    from rich.console import Console

    from whistle.bench.report import key_value_table

    Console().print(key_value_table("whistle bench api", result))
