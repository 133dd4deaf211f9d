"""The summary as labelled rows: one list for the terminal table and the HTML page.

Money is shown in money (``tick_value`` per tick-lot) with the exact tick-lots beside it;
latencies in the largest unit that keeps them readable (ns, us, ms, s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from whistle.trading.report.stats import Summary

__all__ = ["format_ns", "print_summary", "summary_rows", "summary_table"]


def format_ns(ns: int | None) -> str:
    """Return ``ns`` as a short duration (``"-"`` for None): 850 ns, 12.5 us, 3.0 ms, 1.250 s."""
    if ns is None:
        return "-"
    if abs(ns) < 1_000:
        return f"{ns} ns"
    for unit, size in (("us", 1_000), ("ms", 1_000_000)):
        if abs(ns) < size * 1_000:
            return f"{ns / size:,.1f} {unit}"
    return f"{ns / 1_000_000_000:,.3f} s"


def _money(summary: Summary, tick_lots: int) -> str:
    # tick-lots x tick value keeps the tick value's exponent: 30 x 0.01 shows as 0.30
    return f"{summary.money(tick_lots):,f}  ({tick_lots:,} tick-lots)"


def _ratio(value: float) -> str:
    return f"{value:.4f}"


def summary_rows(summary: Summary) -> list[tuple[str, str]]:
    """Return (label, value) rows of ``summary``, in reading order."""
    rejects = ", ".join(f"{k} {v:,}" for k, v in summary.rejects.items()) or "-"
    return [
        ("PnL total (after fees)", _money(summary, summary.total_tl)),
        ("PnL realised", _money(summary, summary.realised_tl)),
        ("PnL unrealised", _money(summary, summary.unrealised_tl)),
        ("fees", _money(summary, summary.fees_tl)),
        ("max drawdown", _money(summary, summary.max_drawdown_tl)),
        ("traded volume (lots)", f"{summary.volume_lots:,}"),
        (
            "fills (maker / taker)",
            f"{summary.fills:,} ({summary.maker_fills:,} / {summary.taker_fills:,})",
        ),
        ("orders", f"{summary.orders:,}"),
        ("modifies", f"{summary.modifies:,}"),
        ("cancels", f"{summary.cancels:,}"),
        ("cancel ratio (cancels / orders)", _ratio(summary.cancel_ratio)),
        ("fill ratio (fills / orders)", _ratio(summary.fill_ratio)),
        ("rejects", f"{summary.rejects_total:,} ({rejects})" if summary.rejects_total else "0"),
        ("position at the end (lots)", f"{summary.final_position:,}"),
        ("max position (lots, absolute)", f"{summary.max_position:,}"),
        ("order-to-fill p50", format_ns(summary.order_to_fill_p50_ns)),
        ("order-to-fill p99", format_ns(summary.order_to_fill_p99_ns)),
        ("market events", f"{summary.events:,}"),
        ("wall time", f"{summary.seconds:.3f} s"),
        ("events / s", f"{summary.events_per_sec:,.0f}"),
        ("fills digest (sha256)", summary.fills_digest[:16]),
    ]


def summary_table(summary: Summary, title: str = "backtest summary") -> Table:
    """Return the summary as a two-column rich ``Table``."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in summary_rows(summary):
        table.add_row(label, value)
    return table


def print_summary(summary: Summary, console: Console, title: str = "backtest summary") -> None:
    """Print the summary table on ``console``."""
    console.print(summary_table(summary, title))
