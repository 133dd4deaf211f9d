"""``whistle demo``: seeded multi-symbol order flow through an in-process venue."""

from __future__ import annotations

import time

import click
from rich.console import Console
from rich.live import Live

from whistle.cli.hostopts import host_options, venue_options
from whistle.demo.flow import DEFAULT_ORDERS, DEFAULT_SYMBOLS, UNIVERSE, DemoFlow
from whistle.demo.view import host_line, live_table, summary_table, throughput_line

__all__ = ["demo"]

_CHUNK = 2_000
"""Commands between two looks at the clock (and the display)."""
_REFRESH_S = 0.25


@click.command()
@click.option(
    "--symbols",
    type=click.IntRange(1, len(UNIVERSE)),
    default=DEFAULT_SYMBOLS,
    show_default=True,
    help="How many symbols to trade.",
)
@click.option(
    "--orders",
    type=click.IntRange(min=1),
    default=None,
    help=f"Commands to send [default: {DEFAULT_ORDERS:,}, or unlimited with --duration].",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Order flow seed.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many wall-clock seconds (the summary then depends on speed).",
)
@click.option(
    "--hosts",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="0: engines in this process; N: N engine-host processes (one per CPU).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Journal everything to this (new) directory: replay it with `whistle replay DIR`.",
)
@click.option("--live/--no-live", default=True, show_default=True, help="Live progress table.")
@host_options
def demo(
    symbols: int,
    orders: int | None,
    seed: int,
    duration: float | None,
    hosts: int,
    data_dir: str | None,
    live: bool,
    wait: str,
    queue_depth: int,
    heartbeat_s: float,
    dead_after_s: float,
) -> None:
    """Run synthetic order flow on several symbols and show what the venue did."""
    if orders is None and duration is None:
        orders = DEFAULT_ORDERS
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 132))
        live = False
    try:
        options = venue_options(wait, queue_depth, heartbeat_s, dead_after_s)
        flow = DemoFlow(symbols, seed, hosts=hosts, data_dir=data_dir, venue_options=options)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        _drive(flow, orders, duration, live, console)
    finally:
        flow.close()


def _drive(
    flow: DemoFlow, orders: int | None, duration: float | None, live: bool, console: Console
) -> None:
    start = time.perf_counter()

    def more() -> int:
        if duration is not None and time.perf_counter() - start >= duration:
            return 0
        if orders is None:
            return _CHUNK
        return min(_CHUNK, orders - flow.commands)

    if live:
        last = 0.0
        with Live(
            live_table(flow, 0.0, orders), console=console, auto_refresh=False, transient=True
        ) as display:
            while (n := more()) > 0:
                flow.run(n)
                now = time.perf_counter()
                if now - last >= _REFRESH_S:
                    last = now
                    display.update(live_table(flow, now - start, orders), refresh=True)
    else:
        while (n := more()) > 0:
            flow.run(n)
    elapsed = time.perf_counter() - start
    console.print(summary_table(flow))
    console.print(host_line(flow))
    console.print(throughput_line(flow, elapsed))
