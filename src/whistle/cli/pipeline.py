"""``whistle pipeline run``: a strategy in the live pipeline against a whistle venue.

The market data comes from a recorded order-level file (``whistle.feed.open``: ITCH 5.0,
LOBSTER, Databento MBO); the orders go to a fresh in-process whistle ``Venue`` through a
``VenueGateway`` (the pipeline's default gateway). ``--processes`` runs each stage in its
own pinned process; ``--metrics-block`` publishes live latency histograms that ``whistle
metrics NAME`` prints while the run goes on.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

import click
from rich.console import Console


@click.group("pipeline")
def pipeline() -> None:
    """The live trading pipeline: market data -> strategy -> risk -> gateway."""


def _read_feed(
    path: str, fmt: str, symbols: list[str], max_events: int
) -> tuple[list[Any], dict[str, int]]:
    """Return the feed's events of ``symbols`` (at most ``max_events``) and their ids."""
    import whistle.feed
    from whistle.core.mbo import MboInstrument

    events: list[Any] = []
    ids: dict[str, int] = {}
    feed = iter(whistle.feed.open(path, format=fmt, symbols=symbols))
    try:
        for event in feed:
            if type(event) is MboInstrument:
                ids[event.symbol] = event.instrument_id
                continue
            events.append(event)
            if max_events and len(events) >= max_events:
                break
    finally:
        # Stopping early must not leave the file open (a compiled decoder's generator is
        # not closed the moment the loop drops it).
        close = getattr(feed, "close", None)
        if close is not None:
            close()
    missing = [s for s in symbols if s not in ids]
    if missing:
        raise click.UsageError(f"{path} defines no instrument {missing[0]!r} (--symbol)")
    return events, ids


def _remote_gateway(
    remote: str | None, api_key: str | None, define: bool, tick_size: str
) -> dict[str, Any]:
    # PipelineConfig fields that send the orders to a remote server (none: the default).
    if remote is None:
        if define:
            raise click.BadParameter("--define needs --remote", param_hint="--define")
        return {}
    return {
        "gateway": "whistle.api.remote:remote_gateway",
        "gateway_options": {
            "target": remote,
            "api_key": api_key,
            "define": define,
            "tick_size": tick_size,
        },
    }


@pipeline.command("run")
@click.option("--data", "path", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["itch", "lobster", "dbn"]),
    default="itch",
    show_default=True,
)
@click.option("--symbol", "symbols", multiple=True, required=True, help="Repeat for several.")
@click.option("--strategy", required=True, help="module:Class, run on every --symbol.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False))
@click.option("--risk", "risk_path", type=click.Path(exists=True, dir_okay=False), help="TOML.")
@click.option("--processes", is_flag=True, help="One pinned process per stage.")
@click.option("--rate", type=click.IntRange(min=0), default=0, help="Events/s (0: as fast).")
@click.option("--max-events", type=click.IntRange(min=0), default=0, help="0: the whole file.")
@click.option("--budget-ms", type=click.IntRange(min=0), default=0, help="Per-callback budget.")
@click.option("--metrics", is_flag=True, help="Record per-stage latency.")
@click.option("--metrics-block", is_flag=True, help="Publish it live (implies --processes).")
@click.option(
    "--remote",
    default=None,
    metavar="HOST:PORT",
    help="Send the orders to a `whistle serve` process (whistle.api.remote.remote_gateway).",
)
@click.option("--api-key", envvar="WHISTLE_API_KEY", default=None, help="With --remote.")
@click.option(
    "--define",
    is_flag=True,
    help="With --remote: add the symbols the server lacks (an admin key), with the feed's ids.",
)
@click.option(
    "--account",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="The orders' account (a trader key's own with --remote).",
)
@click.option("--tick-size", default="0.0001", show_default=True, help="With --define.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def run(
    path: str,
    fmt: str,
    symbols: tuple[str, ...],
    strategy: str,
    config_path: str | None,
    risk_path: str | None,
    processes: bool,
    rate: int,
    max_events: int,
    budget_ms: int,
    metrics: bool,
    metrics_block: bool,
    remote: str | None,
    api_key: str | None,
    define: bool,
    account: int,
    tick_size: str,
    as_json: bool,
) -> None:
    """Run STRATEGY on recorded market data against a whistle venue (or a remote one)."""
    from whistle.bench.report import key_value_table
    from whistle.metrics.block import MetricsBlock, make_block_name
    from whistle.trading.config import read_config
    from whistle.trading.pipeline import (
        STAGES,
        PipelineConfig,
        StrategySpec,
        run_inprocess,
        run_processes,
    )

    strategy_config, _source = read_config(config_path)
    risk: dict[str, Any] = {}
    if risk_path is not None:
        with open(risk_path, "rb") as f:
            risk = tomllib.load(f)
    events, ids = _read_feed(path, fmt, list(symbols), max_events)
    config = PipelineConfig(
        symbols=ids,
        strategies=[StrategySpec(strategy, s, config=strategy_config) for s in symbols],
        risk=risk,
        callback_budget_ns=budget_ms * 1_000_000,
        record=False,
        account=account,
        **_remote_gateway(remote, api_key, define, tick_size),
    )
    config.check()
    if metrics_block:
        with MetricsBlock.create(make_block_name("pipeline"), STAGES) as block:
            click.echo(f"metrics block: {block.name} (whistle metrics {block.name})", err=True)
            result = run_processes(config, events, rate=rate, metrics_block=block.name)
    elif processes:
        result = run_processes(config, events, rate=rate, metrics=metrics)
    else:
        result = run_inprocess(config, events, rate=rate, metrics=metrics)
    out = result.as_dict()
    seconds = result.active_seconds or result.seconds
    out["events_per_sec"] = round(result.feed_events / seconds, 1) if seconds else 0.0
    if as_json:
        click.echo(json.dumps(out, sort_keys=True))
        return
    flat = {k: v for k, v in out.items() if k not in ("latency_ns", "failures")}
    Console().print(key_value_table(f"whistle pipeline run {strategy}", flat))
    for failure in result.failures:
        click.echo(f"stopped: strategy {failure['strategy_id']}: {failure['cause']}", err=True)
    for stage, row in result.latency_ns.items():
        click.echo(
            f"{stage:>14}: p50 {row['p50'] / 1e3:.1f} us  p99 {row['p99'] / 1e3:.1f} us"
            f"  p99.99 {row['p9999'] / 1e3:.1f} us  (n={row['count']})"
        )
