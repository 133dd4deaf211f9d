"""Rich tables of a demo run: the live per-symbol view and the closing summary."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from whistle.demo.flow import DemoFlow

__all__ = ["host_line", "live_table", "summary_table", "throughput_line"]


def _grouped(decimal_text: object) -> str:
    """Return a decimal string with thousands separators (``66225000`` -> ``66,225,000``)."""
    return f"{Decimal(str(decimal_text)):,}"


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"


def live_table(flow: DemoFlow, elapsed: float, target: int | None) -> Table:
    """Return the progress table: per-symbol activity and the overall command rate."""
    done = f"{flow.commands:,}" + (f" / {target:,}" if target else "")
    table = Table(
        title=f"whistle demo: {len(flow.books)} symbols, seed {flow.seed}",
        caption=(
            f"commands {done}   {_rate(flow.commands, elapsed)}   events {flow.events:,}"
            f"   virtual time {flow.now_ns / 1e9:.3f} s   wall {elapsed:.1f} s\n" + host_line(flow)
        ),
    )
    for name in ("symbol", "orders", "trades", "volume", "last", "bid", "ask"):
        table.add_column(name, justify="left" if name == "symbol" else "right")
    for row in flow.summary():
        table.add_row(
            str(row["symbol"]),
            f"{row['orders']:,}",
            f"{row['trades']:,}",
            _grouped(row["volume"]),
            str(row["last"]),
            str(row["bid"]),
            str(row["ask"]),
        )
    return table


def host_line(flow: DemoFlow) -> str:
    """Return the per-host load: symbols placed and commands routed to each host."""
    kind = "in-process host" if flow.venue.host_processes == 0 else "host process"
    parts = [
        f"{kind} {host_id}: {symbols} symbols, {commands:,} commands"
        for host_id, symbols, commands in flow.host_loads()
    ]
    return "   ".join(parts)


def summary_table(flow: DemoFlow) -> Table:
    """Return the closing per-symbol summary (deterministic for a seed: no timings)."""
    table = Table(
        title=f"whistle demo summary: {flow.commands:,} commands, seed {flow.seed}",
        caption=f"events {flow.events:,}   virtual time {flow.now_ns / 1e9:.3f} s",
    )
    columns = (
        "symbol",
        "orders",
        "cancels",
        "modifies",
        "trades",
        "volume",
        "last",
        "bid",
        "ask",
        "stops",
        "expired",
        "rejects",
    )
    for name in columns:
        table.add_column(name, justify="left" if name == "symbol" else "right")
    totals = dict.fromkeys(("orders", "cancels", "modifies", "trades"), 0)
    for row in flow.summary():
        for key in totals:
            totals[key] += int(row[key])
        table.add_row(
            str(row["symbol"]),
            f"{row['orders']:,}",
            f"{row['cancels']:,}",
            f"{row['modifies']:,}",
            f"{row['trades']:,}",
            _grouped(row["volume"]),
            str(row["last"]),
            str(row["bid"]),
            str(row["ask"]),
            f"{row['stops_triggered']:,}",
            f"{row['expired']:,}",
            f"{row['rejects']:,}",
        )
    table.add_section()
    table.add_row(
        "total",
        *(f"{totals[k]:,}" for k in ("orders", "cancels", "modifies", "trades")),
        *([""] * 7),
    )
    return table


def throughput_line(flow: DemoFlow, elapsed: float) -> str:
    """Return the one line with wall-clock figures (the only part that varies by run)."""
    # The loop also generates the synthetic flow and drives the display, so this is the
    # demo's rate, not the engine's: `whistle bench matching` measures the engine alone.
    return (
        f"throughput: {flow.commands:,} commands in {elapsed:.2f} s ="
        f" {_rate(flow.commands, elapsed)} ({_rate(flow.events, elapsed)} events),"
        " flow generation included (engine alone: whistle bench matching)"
    )
