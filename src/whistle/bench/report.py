"""Rich tables for benchmark results (the dicts the ``run_*_bench`` functions return)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table

from whistle.bench.matching import PERCENTILES

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = ["format_ns", "key_value_table", "matching_tables"]


def format_ns(ns: float | None) -> str:
    """Return a latency in ns as a short human string (``850 ns``, ``3.61 us``, ``2.9 ms``)."""
    if ns is None:
        return "-"
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.2f} us"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.2f} ms"
    return f"{ns / 1_000_000_000:.2f} s"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def matching_tables(result: dict[str, Any]) -> RenderableType:
    """Return the summary and latency tables of a ``run_matching_bench`` result."""
    summary = Table(title=f"whistle bench matching: {result['mix']} (seed {result['seed']})")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    kinds = result["kinds"]
    ops = result["ops"]
    mix = ", ".join(f"{k} {100 * v / ops:.1f}%" for k, v in kinds.items() if v)
    book = result["book"]
    rows = [
        ("commands", f"{ops:,}"),
        ("mix", mix),
        (
            f"whistle commands/s (best of {result['repeat']})",
            _rate(result["ops_per_sec"]),
        ),
        ("elapsed (wall / cpu)", f"{result['seconds']:.3f} s / {result['cpu_seconds']:.3f} s"),
        ("events", f"{result['events']:,}"),
        ("events/command", f"{result['events_per_op']:.2f}"),
        ("trades", f"{result['trades']:,}"),
        ("trading commands", f"{100 * result['trade_fraction']:.2f}%"),
        ("rejects", f"{result['rejects']:,}"),
        (
            "book (resting start -> end, levels)",
            f"{book['resting_start']:,} -> {book['resting_end']:,}, {book['levels_end']:,}",
        ),
    ]
    if result.get("bare_ops_per_sec") is not None:
        rows += [
            (
                f"bare matcher commands/s (best of {result['repeat']})",
                _rate(result["bare_ops_per_sec"]),
            ),
            ("whistle / bare", f"{result['whistle_vs_bare']:.3f}"),
            ("bare trades match", "yes" if result["bare_trades_match"] else "NO"),
        ]
    python = result["python"]
    machine = result["machine"]
    rows += [
        ("python", f"{python['implementation']} {python['version']}"),
        ("machine", f"{machine['machine']}, {machine['cpus']} cpus, load {machine['load_avg_1m']}"),
    ]
    for name, value in rows:
        summary.add_row(name, value)
    parts: list[RenderableType] = [summary]

    if result.get("latency_ns") is not None:
        overhead = result.get("latency_clock_overhead_ns")
        latency = Table(
            title="latency per command (perf_counter_ns around process)",
            caption=f"each sample includes ~{overhead} ns of clock reads" if overhead else None,
        )
        latency.add_column("type")
        latency.add_column("count", justify="right")
        for key, _ in PERCENTILES:
            latency.add_column(key, justify="right")
        latency.add_column("max", justify="right")
        by_type: dict[str, dict[str, int]] = result["latency_ns_by_type"] or {}
        for name, stats in [*by_type.items(), ("all", result["latency_ns"])]:
            latency.add_row(
                name,
                f"{stats['count']:,}",
                *(format_ns(stats[key]) for key, _ in PERCENTILES),
                format_ns(stats["max"]),
            )
        parts.append(latency)
    return Group(*parts)


def key_value_table(title: str, result: dict[str, Any]) -> Table:
    """Return a two-column table of a flat (or one level nested) result dict."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                table.add_row(f"{key}.{sub}", _cell(inner))
        else:
            table.add_row(key, _cell(value))
    return table


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 1_000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
