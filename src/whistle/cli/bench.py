"""``whistle bench``: matching, venue, activation, ring and journal benchmarks."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console

from whistle.bench.matching import DEFAULT_ORDERS, DEFAULT_REPEAT, run_matching_bench
from whistle.bench.mixes import MIX_NAMES
from whistle.cli.hostopts import host_options, venue_options

__all__ = ["bench"]


def _emit_json(result: dict[str, Any]) -> None:
    click.echo(json.dumps(result, sort_keys=False))


@click.group()
def bench() -> None:
    """Measure the engine, the venue, activation, the IPC ring and the journal."""


@bench.command("matching")
@click.option(
    "--mix",
    type=click.Choice(MIX_NAMES),
    default="exchange-core",
    show_default=True,
    help="exchange-core: 9% GTC, 3% IOC, 6% cancel, 82% move. plain: 55% GTC, 35% cancel, 10% IOC.",
)
@click.option(
    "--orders",
    type=click.IntRange(min=1),
    default=DEFAULT_ORDERS,
    show_default=True,
    help="Timed commands.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Generator seed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--latency/--no-latency",
    default=True,
    show_default=True,
    help="Also time every command (a second run) for latency percentiles.",
)
@click.option(
    "--compare-bare/--no-compare-bare",
    default=True,
    show_default=True,
    help="Also run the bare dict-and-heap matcher on the same commands.",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=DEFAULT_REPEAT,
    show_default=True,
    help="Throughput runs (fresh book each); the best one is reported.",
)
def matching(
    mix: str,
    orders: int,
    seed: int,
    as_json: bool,
    latency: bool,
    compare_bare: bool,
    repeat: int,
) -> None:
    """Engine throughput and per-command latency on a seeded command mix."""
    result = run_matching_bench(
        mix, orders, seed, latency=latency, compare_bare=compare_bare, repeat=repeat
    )
    if as_json:
        _emit_json(result)
        return
    from whistle.bench.report import matching_tables

    Console().print(matching_tables(result))


@bench.command("ring")
@click.option("--records", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option(
    "--payload-size",
    type=click.IntRange(0, 1 << 16),
    default=64,
    show_default=True,
    help="Bytes per record (at most 64 KiB: half the bench ring is the record limit).",
)
@click.option("--batch", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def ring(records: int, payload_size: int, batch: int, as_json: bool) -> None:
    """Shared-memory SPSC ring throughput and round-trip latency between two processes."""
    from whistle.bench.ring import run_ring_bench

    result = run_ring_bench(records, payload_size=payload_size, batch=batch)
    if as_json:
        _emit_json(result)
        return
    from whistle.bench.report import key_value_table

    Console().print(key_value_table("whistle bench ring", result))


@bench.command("journal")
@click.option("--records", type=click.IntRange(min=1), default=200_000, show_default=True)
@click.option(
    "--payload-size",
    type=click.IntRange(0, 1 << 20),
    default=64,
    show_default=True,
    help="Bytes per record (at most 1 MiB).",
)
@click.option(
    "--replay-commands",
    type=click.IntRange(min=0),
    default=200_000,
    show_default=True,
    help="Journal this many exchange-core commands, then time replay and recovery (0: skip).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def journal(records: int, payload_size: int, replay_commands: int, as_json: bool) -> None:
    """Journal append and read rates (per record, batched, with fsync policies)."""
    from whistle.bench.journal import run_journal_bench

    result: dict[str, Any] = dict(run_journal_bench(records, payload_size=payload_size))
    if replay_commands:
        from whistle.bench.recovery import run_recovery_bench

        result.update(run_recovery_bench(replay_commands))
    if as_json:
        _emit_json(result)
        return
    from whistle.bench.report import key_value_table

    Console().print(key_value_table("whistle bench journal", result))


@bench.command("venue")
@click.option("--symbols", type=click.IntRange(min=1), default=8, show_default=True)
@click.option(
    "--hosts",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="0: engines in this process; N: N engine-host processes.",
)
@click.option("--orders", type=click.IntRange(min=1), default=200_000, show_default=True)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Offer commands at this constant rate (per second) and report latency from each"
    " command's intended send time; without it, run at full speed.",
)
@click.option("--batch", type=click.IntRange(min=1), default=1_000, show_default=True)
@click.option("--mix", type=click.Choice(MIX_NAMES), default="plain", show_default=True)
@click.option(
    "--placement",
    type=click.Choice(["hash", "round-robin", "least-loaded"]),
    default="hash",
    show_default=True,
)
@click.option("--seed", type=int, default=1, show_default=True)
@host_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def venue(
    symbols: int,
    hosts: int,
    orders: int,
    rate: float | None,
    batch: int,
    mix: str,
    placement: str,
    seed: int,
    wait: str,
    queue_depth: int,
    heartbeat_s: float,
    dead_after_s: float,
    as_json: bool,
) -> None:
    """End to end: router -> coordinator -> hosts -> collected events."""
    from whistle.bench.report import key_value_table
    from whistle.bench.venue import run_venue_bench

    result = run_venue_bench(
        symbols=symbols,
        hosts=hosts,
        orders=orders,
        rate=rate,
        batch=batch,
        mix=mix,
        seed=seed,
        placement=placement,
        **venue_options(wait, queue_depth, heartbeat_s, dead_after_s),
    )
    if as_json:
        _emit_json(result)
        return
    Console().print(key_value_table("whistle bench venue", result))


@bench.command("activation")
@click.option("--symbols", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option(
    "--hosts",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="In-process hosts to place on (0: one per CPU).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def activation(symbols: int, hosts: int, as_json: bool) -> None:
    """Cold ensure_active latency and memory per active symbol."""
    from whistle.bench.activation import run_activation_bench
    from whistle.bench.report import key_value_table

    result = run_activation_bench(symbols, hosts)
    if as_json:
        _emit_json(result)
        return
    Console().print(key_value_table("whistle bench activation", result))


@bench.command("feed")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["itch", "lobster", "dbn"]),
    default="itch",
    show_default=True,
)
@click.option(
    "--messages",
    type=click.IntRange(min=1),
    default=500_000,
    show_default=True,
    help="Messages of the seeded synthetic stream (one liquid stock).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Time this file instead of the synthetic stream.",
)
@click.option(
    "--sample/--no-sample",
    default=True,
    show_default=True,
    help="Also time the shared sample file of the format (../shared/data), when present.",
)
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def feed(
    fmt: str,
    messages: int,
    seed: int,
    path: str | None,
    sample: bool,
    repeat: int,
    as_json: bool,
) -> None:
    """Market-data decode, decode + book, decode + book + MBP-10 rates vs a bare loop."""
    from whistle.bench.feed import run_feed_bench
    from whistle.bench.report import key_value_table

    result = run_feed_bench(fmt, messages, seed=seed, path=path, repeat=repeat, sample=sample)
    if as_json:
        _emit_json(result)
        return
    Console().print(key_value_table(f"whistle bench feed --format {fmt}", result))


@bench.command("metrics")
@click.option("--events", type=click.IntRange(min=1_000), default=50_000, show_default=True)
@click.option("--rounds", type=click.IntRange(min=1), default=21, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def metrics(events: int, rounds: int, as_json: bool) -> None:
    """Metrics cost: a stage loop with metrics on vs off (same run), per-call and publish costs."""
    from whistle.bench.metrics import run_metrics_bench
    from whistle.bench.report import key_value_table

    result = run_metrics_bench(events, rounds)
    if as_json:
        _emit_json(result)
        return
    Console().print(key_value_table("whistle bench metrics", result))


@bench.command("backtest")
@click.option(
    "--events",
    type=click.IntRange(min=1_000),
    default=500_000,
    show_default=True,
    help="Messages of the seeded synthetic ITCH stream (one liquid stock).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True)
@click.option(
    "--latency-ns",
    type=click.IntRange(min=0),
    default=10_000,
    show_default=True,
    help="Every latency of the backtest runs (feed, entry, modify, cancel, ack).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def backtest(events: int, seed: int, repeat: int, latency_ns: int, as_json: bool) -> None:
    """Backtest events/s (no-op strategy, market maker) against decode + book, same run."""
    from whistle.bench.backtest import run_backtest_bench
    from whistle.bench.report import key_value_table

    result = run_backtest_bench(events, seed=seed, repeat=repeat, latency_ns=latency_ns)
    if as_json:
        _emit_json(result)
        return
    Console().print(key_value_table("whistle bench backtest", result))


@bench.command("pipeline")
@click.option("--messages", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option(
    "--rate",
    type=click.IntRange(min=0),
    default=2_000,
    show_default=True,
    help="Offered rate in process, events/s (0: as fast as possible).",
)
@click.option("--process-messages", type=click.IntRange(min=1), default=3_000, show_default=True)
@click.option(
    "--process-rate",
    type=click.IntRange(min=0),
    default=500,
    show_default=True,
    help="Offered rate across processes, events/s.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--processes/--no-processes", default=True, show_default=True)
@click.option("--wait", default="yield", show_default=True, help="WaitStrategy spec of stages.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def pipeline(
    messages: int,
    rate: int,
    process_messages: int,
    process_rate: int,
    seed: int,
    repeat: int,
    processes: bool,
    wait: str,
    as_json: bool,
) -> None:
    """Tick-to-order and per-stage latency at a fixed rate, in process and across processes."""
    from whistle.bench.pipeline import run_pipeline_bench
    from whistle.bench.report import key_value_table

    result = run_pipeline_bench(
        messages,
        rate=rate,
        process_messages=process_messages,
        process_rate=process_rate,
        seed=seed,
        repeat=repeat,
        processes=processes,
        wait=wait,
    )
    if as_json:
        _emit_json(result)
        return
    Console().print(key_value_table("whistle bench pipeline", result))


@bench.command("orchestrator")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--pg",
    "pg_url",
    default=None,
    metavar="URL",
    help="PostgreSQL server for the PostgreSQL figures (a fresh database is created on it and"
    " dropped); default $WHISTLE_TEST_PG_URL or postgresql://postgres@127.0.0.1:5432/test.",
)
@click.option("--no-pg", is_flag=True, help="SQLite only.")
@click.option("--adds", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--symbols", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--orders", type=click.IntRange(min=4), default=2000, show_default=True)
def orchestrator_cmd(
    as_json: bool, pg_url: str | None, no_pg: bool, adds: int, symbols: int, orders: int
) -> None:
    """Orchestrator: add_trading_pair p50/p99, recovery of N symbols, engines, snapshots."""
    from whistle.bench.orchestrator import DEFAULT_PG_URL, run_orchestrator_bench

    console = Console(stderr=True)
    result = run_orchestrator_bench(
        pg_url=None if no_pg else (pg_url or DEFAULT_PG_URL),
        adds=adds,
        symbols=symbols,
        orders=orders,
        progress=lambda msg: console.print(f"[dim]{msg}...[/dim]"),
    )
    if as_json:
        _emit_json(result)
    else:
        Console().print_json(data=result)
