"""``write_report(result, directory)``: a folder with ``index.html`` and the PNG charts.

The page is self-contained: the summary table, the run parameters and the four charts
(embedded as ``data:`` URIs, also written beside it as PNG files), inline CSS, no script
and no external asset, so it opens from a mail attachment or an artifact store.
``fills.csv`` beside it lists every fill (equal files = identical fills). Every
text is HTML-escaped (a strategy name or a path cannot inject markup).

The directory is created when missing (with its parents); a path that exists and is not
a directory is refused with ``ReportError`` before anything is written. Files are written
to a temporary name and renamed, so a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Final

from whistle.core.errors import WhistleError
from whistle.trading.report.stats import summarize
from whistle.trading.report.table import summary_rows

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from whistle.trading.report.stats import FillLike, ResultLike, Summary

__all__ = [
    "FILLS_CSV",
    "INDEX",
    "ReportError",
    "fills_csv",
    "prepare_directory",
    "render_html",
    "write_report",
]

INDEX: Final = "index.html"
FILLS_CSV: Final = "fills.csv"
FILL_COLUMNS: Final = (
    "ts_ns",
    "client_order_id",
    "side",
    "price",
    "qty",
    "liquidity",
    "fee",
    "mid_x2",
)

_CSS: Final = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1040px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }
td.v { text-align: right; font-variant-numeric: tabular-nums; font-family: monospace; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.2em; }
.note { color: #666; font-size: 0.9em; }
"""

_CAPTIONS: Final = {
    "equity.png": "Equity curve (marked to mid, after fees) and its running peak",
    "position.png": "Position",
    "mid_fills.png": "Mid price with the strategy's fills (buys up, sells down)",
    "spread_captured.png": "Spread captured per fill (fill price against the mid at fill time)",
}


class ReportError(WhistleError):
    """Raised when the report directory cannot be used (it exists and is not a directory)."""


def prepare_directory(directory: Path) -> Path:
    """Create ``directory`` (and parents) unless it exists; refuse a non-directory."""
    if directory.exists() and not directory.is_dir():
        raise ReportError(
            f"the report directory {str(directory)!r} exists and is not a directory;"
            " name a directory (it is created when missing)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _write_atomic(path: Path, data: bytes) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def fills_csv(fills: Iterable[FillLike]) -> bytes:
    """Return the fills as CSV (``FILL_COLUMNS``; side 1 buy / 2 sell, liquidity 1 maker /
    2 taker, ``mid_x2`` empty when the fill does not carry it): byte-equal for equal fills."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FILL_COLUMNS)
    for f in fills:
        mid_x2 = getattr(f, "mid_x2", None)
        writer.writerow(
            (
                f.ts_ns,
                f.client_order_id,
                int(f.side),
                f.price,
                f.qty,
                int(f.liquidity),
                f.fee,
                "" if mid_x2 is None else mid_x2,
            )
        )
    return out.getvalue().encode("utf-8")


def _rows(rows: list[tuple[str, str]]) -> str:
    return "\n".join(
        f"<tr><th>{html.escape(k)}</th><td class=v>{html.escape(v)}</td></tr>" for k, v in rows
    )


def render_html(
    summary: Summary,
    charts: Mapping[str, bytes],
    parameters: Mapping[str, object] | None = None,
    title: str = "whistle backtest",
) -> str:
    """Return the page: the summary, ``parameters`` and each chart's PNG bytes inlined."""
    params = [(str(k), str(v)) for k, v in (parameters or {}).items()]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Summary</h2>",
        f"<table>{_rows(summary_rows(summary))}</table>",
        '<p class="note">Money is tick-lots (price ticks x lots) times the tick value'
        f" {html.escape(str(summary.tick_value))}; the exact tick-lots are in brackets."
        f" Fills digest: <code>{html.escape(summary.fills_digest)}</code></p>",
        "<h2>Run parameters</h2>",
        f"<table>{_rows(params)}</table>" if params else "<p>(none given)</p>",
        "<h2>Charts</h2>",
    ]
    for name, png in charts.items():
        caption = html.escape(_CAPTIONS.get(name, name))
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h3>{caption}</h3>")
        parts.append(f'<img alt="{caption}" src="data:image/png;base64,{data}">')
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(
    result: ResultLike,
    directory: Path | str,
    *,
    parameters: Mapping[str, object] | None = None,
    title: str = "whistle backtest",
) -> list[Path]:
    """Write ``index.html``, the PNG charts and ``fills.csv`` of ``result`` into ``directory``.

    Return the paths written: ``index.html``, the charts (``CHART_FILES``), ``fills.csv``.
    ``parameters`` (the run's data file, strategy, latency, ...) are listed on the page as
    given.
    """
    from whistle.trading.report.charts import render_charts

    target = prepare_directory(Path(directory))
    summary = summarize(result)
    pngs = render_charts(result, target, money_per_tick_lot=summary.tick_value)
    page = render_html(summary, {p.name: p.read_bytes() for p in pngs}, parameters, title)
    index = _write_atomic(target / INDEX, page.encode("utf-8"))
    fills = _write_atomic(target / FILLS_CSV, fills_csv(result.fills))
    return [index, *pngs, fills]
