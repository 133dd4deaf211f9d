"""PNG charts of a backtest: equity, position, mid price with fills, spread captured.

matplotlib is imported inside the functions (it costs ~0.3 s), so importing
``whistle.trading.report`` stays cheap. No pyplot and no global backend switch: each chart
is a ``Figure`` drawn on its own Agg canvas, so a user's notebook backend is untouched.

Output is deterministic for the same result: fixed size and dpi, a fixed style dict, the
bundled DejaVu font, and no ``Software`` / date metadata in the PNG. Times on the x axis are
the events' clock (``ts_ns``) shown as time of day, ``ts mod 24 h`` (ITCH and LOBSTER count
from midnight; Databento's epoch times show as UTC).

Floats appear only here (display); every value is computed exactly first, in ticks,
lots and tick-lots, and converted at the end.
"""

from __future__ import annotations

import bisect
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

    from whistle.trading.report.stats import FillLike, ResultLike, SampleLike

__all__ = [
    "CHART_FILES",
    "fill_marks",
    "render_charts",
    "spread_captured_x2",
]

CHART_FILES: Final = ("equity.png", "position.png", "mid_fills.png", "spread_captured.png")
"""The files ``render_charts`` writes, in this order."""

_SIZE: Final = (10.0, 4.0)  # inches
_DPI: Final = 100
_MAX_POINTS: Final = 4_000  # a longer line is reduced to per-bucket min and max
_DAY_NS: Final = 86_400 * 1_000_000_000
_STYLE: Final[dict[RcKeyType, Any]] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": _DPI,
    "path.simplify": True,
}
_BUY: Final = 1  # whistle.core.enums.Side.BUY


def spread_captured_x2(fill: FillLike, mid_x2: int) -> int:
    """Return twice the edge of ``fill`` against the mid, in ticks (positive = captured).

    A buy below the mid or a sell above it captured spread: ``mid_x2 - 2 * price`` for a
    buy, ``2 * price - mid_x2`` for a sell. Doubled so that a half-tick mid stays exact.
    """
    twice = 2 * fill.price
    return mid_x2 - twice if int(fill.side) == _BUY else twice - mid_x2


def fill_marks(
    fills: Sequence[FillLike], timeline: Sequence[SampleLike]
) -> list[tuple[FillLike, int]]:
    """Pair each fill with the book's mid (x2) when it happened (0: a side was empty).

    The backtest's ``Fill`` carries ``mid_x2`` (the mid at the fill moment); a fill without
    it takes the mid of the last timeline sample at or before it (0 before the first).
    A fill with mid 0 is left out of the spread chart.
    """
    times: list[int] | None = None
    marks: list[tuple[FillLike, int]] = []
    for f in fills:
        mid_x2 = getattr(f, "mid_x2", None)
        if not isinstance(mid_x2, int):
            if times is None:
                times = [s.ts_ns for s in timeline]
            i = bisect.bisect_right(times, f.ts_ns) - 1
            mid_x2 = timeline[i].mid_x2 if i >= 0 else 0
        marks.append((f, mid_x2))
    return marks


def _reduce(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    # Keep the shape of a long line (drawdowns included): the min and the max of each
    # bucket, in time order, plus the last point.
    n = len(xs)
    if n <= _MAX_POINTS:
        return xs, ys
    buckets = _MAX_POINTS // 2
    out_x: list[float] = []
    out_y: list[float] = []
    for b in range(buckets):
        lo = b * n // buckets
        hi = max(lo + 1, (b + 1) * n // buckets)
        seg = range(lo, hi)
        i_min = min(seg, key=ys.__getitem__)
        i_max = max(seg, key=ys.__getitem__)
        for i in sorted({i_min, i_max}):
            out_x.append(xs[i])
            out_y.append(ys[i])
    if out_x[-1] != xs[-1]:
        out_x.append(xs[-1])
        out_y.append(ys[-1])
    return out_x, out_y


def _hours(ts_ns: int) -> float:
    return (ts_ns % _DAY_NS) / 3.6e12


def _clock_axis(ax: Axes) -> None:
    from matplotlib.ticker import FuncFormatter

    def label(value: float, _pos: int) -> str:
        seconds = round(value * 3600)
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

    ax.xaxis.set_major_formatter(FuncFormatter(label))
    ax.set_xlabel("time of day (ts mod 24 h)")


def _figure() -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=_SIZE, dpi=_DPI)
    # fixed margins: constrained layout costs ~0.1 s a chart and moves with the labels
    fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.14)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png", dpi=_DPI, metadata={"Software": None})
    tmp.replace(path)
    return path


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, alpha=0.6)


def _equity(result: ResultLike, scale: Decimal, money: bool, path: Path) -> Path:
    fig = _figure()
    ax = fig.add_subplot()
    timeline = result.timeline
    unit = "money" if money else "tick-lots"
    ax.set_title(f"equity (marked to mid, after fees), {unit}")
    if timeline:
        xs = [_hours(s.ts_ns) for s in timeline]
        ys = [float(s.equity_tl * scale) for s in timeline]
        peak = 0.0
        peaks = []
        for y in ys:
            peak = max(peak, y)
            peaks.append(peak)
        rx, ry = _reduce(xs, ys)
        px, pk = _reduce(xs, peaks)
        ax.plot(px, pk, color="0.6", linewidth=0.8, linestyle="--", label="running peak")
        ax.plot(rx, ry, color="tab:blue", linewidth=1.0, label="equity")
        ax.legend(loc="upper left")
        _clock_axis(ax)
    else:
        _empty(ax, "no timeline (no events)")
    ax.set_ylabel(unit)
    return _save(fig, path)


def _position(result: ResultLike, path: Path) -> Path:
    fig = _figure()
    ax = fig.add_subplot()
    ax.set_title("position (lots)")
    timeline = result.timeline
    if timeline:
        xs = [_hours(s.ts_ns) for s in timeline]
        ys = [float(s.position) for s in timeline]
        rx, ry = _reduce(xs, ys)
        ax.step(rx, ry, where="post", color="tab:purple", linewidth=1.0)
        ax.axhline(0.0, color="0.5", linewidth=0.6)
        _clock_axis(ax)
    else:
        _empty(ax, "no timeline (no events)")
    ax.set_ylabel("lots")
    return _save(fig, path)


def _mid_fills(result: ResultLike, price_scale: Decimal, path: Path) -> Path:
    fig = _figure()
    ax = fig.add_subplot()
    ax.set_title("mid price and the strategy's fills")
    timeline = [s for s in result.timeline if s.mid_x2]
    if timeline:
        xs = [_hours(s.ts_ns) for s in timeline]
        ys = [float(Decimal(s.mid_x2) / 2 * price_scale) for s in timeline]
        rx, ry = _reduce(xs, ys)
        ax.plot(rx, ry, color="0.3", linewidth=0.8, label="mid")
        _clock_axis(ax)
    fills = result.fills
    for side, marker, color, name in ((1, "^", "tab:green", "buy"), (2, "v", "tab:red", "sell")):
        chosen = [f for f in fills if int(f.side) == side]
        if chosen:
            ax.scatter(
                [_hours(f.ts_ns) for f in chosen],
                [float(f.price * price_scale) for f in chosen],
                marker=marker,
                color=color,
                s=18,
                label=f"{name} fill ({len(chosen):,})",
                zorder=3,
            )
    if timeline or fills:
        ax.legend(loc="upper left")
    if not timeline and not fills:
        _empty(ax, "no mid price and no fills")
    ax.set_ylabel("price")
    return _save(fig, path)


def _spread(result: ResultLike, price_scale: Decimal, path: Path) -> Path:
    fig = _figure()
    ax = fig.add_subplot()
    marks = [(f, m) for f, m in fill_marks(result.fills, result.timeline) if m]
    if marks:
        edges = [spread_captured_x2(f, m) for f, m in marks]
        total_x2 = sum(e * f.qty for e, (f, _) in zip(edges, marks, strict=True))
        ys = [float(Decimal(e) / 2 * price_scale) for e in edges]
        colors = ["tab:green" if e >= 0 else "tab:red" for e in edges]
        ax.scatter(range(1, len(ys) + 1), ys, c=colors, s=10)
        ax.axhline(0.0, color="0.5", linewidth=0.6)
        qty = sum(f.qty for f, _ in marks)
        avg = Decimal(total_x2) / 2 / qty * price_scale if qty else Decimal(0)
        ax.set_title(f"spread captured per fill (fill price vs mid), qty-weighted mean {avg:.4g}")
        ax.set_xlabel("fill number")
    else:
        ax.set_title("spread captured per fill (fill price vs mid)")
        _empty(ax, "no fills with a mid price")
    ax.set_ylabel("price units (+ captured)")
    return _save(fig, path)


def render_charts(
    result: ResultLike, directory: Path, *, money_per_tick_lot: Decimal | None = None
) -> list[Path]:
    """Write the four charts (``CHART_FILES``) into ``directory`` and return their paths.

    ``money_per_tick_lot`` scales the equity chart to money (default: tick-lots); prices
    are shown with the result's ``price_decimals``.
    """
    import matplotlib as mpl

    price_scale = Decimal(1).scaleb(-result.price_decimals)
    scale = money_per_tick_lot if money_per_tick_lot is not None else Decimal(1)
    equity, position, mid, spread = (directory / name for name in CHART_FILES)
    with mpl.rc_context(_STYLE):
        return [
            _equity(result, scale, money_per_tick_lot is not None, equity),
            _position(result, position),
            _mid_fills(result, price_scale, mid),
            _spread(result, price_scale, spread),
        ]
