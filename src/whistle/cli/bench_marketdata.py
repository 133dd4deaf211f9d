"""``whistle bench marketdata``: the market-data hub's fan-out, without the network."""

from __future__ import annotations

import json

import click
from rich.console import Console

from whistle.bench.mixes import MIX_NAMES

__all__ = ["marketdata_cmd"]


@click.command("marketdata")
@click.option("--subscribers", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--symbols", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--orders", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Commands per tick (one on_events call per tick).",
)
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Levels per side each subscriber asks for (0: every level).",
)
@click.option("--mix", type=click.Choice(MIX_NAMES), default="plain", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--encode",
    type=click.Choice(["proto", "json", "none"]),
    default="proto",
    show_default=True,
    help="Serialize each chunk once (shared cache) as the gRPC server (proto) or web view does.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def marketdata_cmd(
    subscribers: int,
    symbols: int,
    orders: int,
    batch: int,
    depth: int,
    mix: str,
    seed: int,
    encode: str,
    as_json: bool,
) -> None:
    """Market-data hub: records delivered to N readers per CPU second, ns per event."""
    from whistle.bench.marketdata import run_marketdata_bench

    result = run_marketdata_bench(
        subscribers=subscribers,
        symbols=symbols,
        orders=orders,
        batch=batch,
        depth=depth,
        mix=mix,
        seed=seed,
        encode=encode,
    )
    if as_json:
        click.echo(json.dumps(result, sort_keys=False))
    else:
        Console().print_json(data=result)
