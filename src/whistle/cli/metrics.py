"""``whistle metrics NAME_OR_DIR``: read a running pipeline's shared-memory metrics block.

The pipeline publishes per-stage latency into a :class:`whistle.metrics.MetricsBlock`; this
command attaches to it from another process (the pipeline does no I/O for it) and prints a
table refreshed every ``--interval`` seconds until Ctrl-C, or once (``--once``), or one JSON
object (``--json``, implies ``--once``); ``--prometheus PORT`` also serves the block to
Prometheus from this process while the live table runs (the seed's monitor process).
NAME_OR_DIR is a block name (``whistle-<pid>-...``, ``/dev/shm/<name>``) or a run directory
holding a ``metrics.block`` file naming it.
A missing block is one error line and exit status 74; a block that is not a metrics block, 65.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from whistle.metrics import MetricsBlock, resolve_block_name, start_prometheus

if TYPE_CHECKING:
    from whistle.metrics import Snapshot

__all__ = ["format_ns", "metrics", "metrics_table"]

_SHM = Path("/dev/shm")  # noqa: S108 - the POSIX shm mount point


def format_ns(ns: int) -> str:
    """A duration for people: ``850 ns``, ``12.3 us``, ``4.56 ms``, ``1.23 s``."""
    if ns < 1_000:
        return f"{ns} ns"
    for unit, scale in (("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)):
        value = ns / scale
        if value < 999.5 or unit == "s":
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def metrics_table(
    name: str,
    snapshot: Snapshot,
    previous: tuple[float, Snapshot] | None = None,
    now_s: float = 0.0,
    note: str = "",
) -> Table:
    """The rich table of one snapshot; ``previous`` (time, snapshot) gives the rate column."""
    title = f"whistle metrics {name}" + (f" ({note})" if note else "")
    table = Table(title=title)
    for column in ("stage", "count", "rate/s", "p50", "p99", "p99.9", "p99.99", "max"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    table.add_column("errors", justify="right")
    table.add_column("clamped", justify="right")
    now_ns = time.perf_counter_ns()
    table.add_column("age", justify="right")
    for stage in snapshot:
        row = stage.percentiles()
        rate = "-"
        if previous is not None and now_s > previous[0]:
            before = previous[1][stage.name].count
            rate = f"{(stage.count - before) / (now_s - previous[0]):,.0f}"
        age = format_ns(max(0, now_ns - stage.published_ns)) if stage.published_ns else "never"
        timed = [row[k] for k in ("p50", "p99", "p999", "p9999", "max")]
        table.add_row(
            stage.name,
            f"{stage.count:,}",
            rate,
            *(format_ns(v) if row["count"] else "-" for v in timed),
            f"{stage.errors:,}",
            f"{stage.clamped:,}",
            age,
        )
    return table


def _as_json(name: str, block: MetricsBlock, snapshot: Snapshot) -> dict[str, Any]:
    layout = block.layout
    return {
        "block": name,
        "creator_pid": block.creator_pid,
        "layout": {
            "lowest_ns": layout.lowest_ns,
            "highest_ns": layout.highest_ns,
            "significant_figures": layout.significant_figures,
        },
        "stages": snapshot.as_dict(),
    }


@click.command("metrics")
@click.argument("name_or_dir")
@click.option("--once", is_flag=True, help="Print the table once and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object and exit.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes of the live table.",
)
@click.option(
    "--prometheus",
    "prometheus_port",
    type=click.IntRange(0, 65535),
    default=None,
    help="While the live table runs, also serve the block to Prometheus on this port"
    " (0: any free port; the URL is printed on stderr).",
)
@click.option(
    "--addr",
    default="127.0.0.1",
    show_default=True,
    help="Address the Prometheus endpoint listens on.",
)
def metrics(
    name_or_dir: str,
    once: bool,
    as_json: bool,
    interval: float,
    prometheus_port: int | None,
    addr: str,
) -> None:
    """Show per-stage latency (p50 ... p99.99, max, rate) of a running pipeline.

    NAME_OR_DIR is the shared-memory block name or the pipeline's run directory.
    Refreshes until Ctrl-C unless --once or --json; --prometheus also exports the block
    (whistle_stage_latency_seconds and counters) from this process, not the pipeline's.
    """
    try:
        name = resolve_block_name(name_or_dir)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME_OR_DIR") from None
    if prometheus_port is not None and (once or as_json):
        raise click.UsageError("--prometheus serves while the live table runs: drop --once/--json")
    if not (once or as_json):
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the live table ends
            _watch(name, interval, prometheus_port, addr)
        return
    with MetricsBlock.attach(name) as block:
        snapshot = block.snapshot()
        if as_json:
            click.echo(json.dumps(_as_json(name, block, snapshot), sort_keys=True))
        else:
            _console().print(metrics_table(name, snapshot))


def _console() -> Console:
    console = Console()
    if not console.is_terminal:  # a pipe or a test: do not squeeze 11 columns into 80
        console = Console(width=140)
    return console


def _watch(name: str, interval: float, prometheus_port: int | None, addr: str) -> None:
    with MetricsBlock.attach(name) as block, contextlib.ExitStack() as stack:
        if prometheus_port is not None:
            exporter = stack.enter_context(start_prometheus(prometheus_port, block, addr=addr))
            click.echo(f"serving Prometheus on {exporter.url}", err=True)
            sys.stderr.flush()
        previous = (time.monotonic(), block.snapshot())
        table = metrics_table(name, previous[1])
        with Live(table, console=_console(), auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                now_s = time.monotonic()
                current = block.snapshot()
                gone = not (_SHM / name).exists()
                note = "the pipeline has ended: its block was removed" if gone else ""
                live.update(metrics_table(name, current, previous, now_s, note), refresh=True)
                if gone:
                    return
                previous = (now_s, current)
