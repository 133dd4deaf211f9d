"""``whistle backtest``: run a strategy on a recorded order-level file; figures and a report.

    whistle backtest --data FILE --format itch --symbol BOB \\
        --strategy whistle.trading.examples:MarketMaker [--config mm.toml] \\
        [--latency entry=50us,ack=20us,feed=10us] [--fees maker=-20ppm,taker=30ppm] \\
        [--queue-model fifo] [--seed 0] [--report DIR] [--json]

A progress bar runs on stderr (when it is a terminal, or with ``--progress``), then a
summary table is printed on stdout; ``--json`` prints one JSON object instead (stdout
then holds nothing else). ``--report DIR`` writes ``index.html``, four PNG charts and
``fills.csv`` there.

Option syntax is strict, and a bad value is a usage error (exit 2) naming the option:

- ``--latency KEY=DURATION,...``: keys ``feed``, ``entry``, ``modify``, ``cancel``,
  ``ack``, ``risk`` (those of ``LatencyConfig``, each at most once); a duration is a
  non-negative number with a unit ``ns``, ``us`` (or ``µs``), ``ms`` or ``s`` that comes
  to a whole number of ns (``1.5us``);
  ``--latency-file CSV`` reads recorded latencies (``whistle.trading.backtest.latency``);
- ``--fees maker=RATE,taker=RATE``: a rate in ``ppm`` or ``bps`` of notional (1 bps =
  100 ppm), negative for a rebate, a whole number of ppm (``-0.25bps``);
- ``--risk FILE``: a TOML or JSON ``RiskConfig`` (unknown keys refused).

A run that does not finish (the strategy raised, the feed is damaged or ends mid-message,
the config cannot run, Ctrl-C) prints no figures and exits non-zero: the top ``whistle``
group maps the error to one line (``whistle.cli.errors``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click
from rich.console import Console

from whistle.cli.feed import FORMAT_NAMES, _read_position

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from rich.progress import Progress

    from whistle.trading.backtest import BacktestConfig, BacktestResult
    from whistle.trading.report import Summary
    from whistle.trading.risk import RiskConfig

__all__ = [
    "FEE_KEYS",
    "FORMATS",
    "QUEUE_MODELS",
    "backtest",
    "latency_keys",
    "parse_duration_ns",
    "parse_fees",
    "parse_latency",
]

FEE_KEYS: Final = ("maker", "taker")
QUEUE_MODELS: Final = ("fifo", "risk_averse", "power", "log")
"""As ``whistle.trading.backtest.QUEUE_MODELS`` (a test keeps them equal; not imported here
so that ``whistle --help`` does not load the trading layer)."""
FORMATS: Final = (*FORMAT_NAMES, "mbp")
"""The order-level formats of ``whistle feed``, and ``mbp``: MBP-N rows (L2 models only)."""

_UNITS_NS: Final = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_FEE_UNITS_PPM: Final = {"ppm": 1, "bps": 100}
_NUMBER: Final = r"(?P<num>[0-9]+(?:\.[0-9]+)?)"
_DURATION_RE: Final = re.compile(_NUMBER + r"(?P<unit>ns|us|µs|ms|s)")
_RATE_RE: Final = re.compile(r"(?P<sign>[-+]?)" + _NUMBER + r"(?P<unit>ppm|bps)")
_MAX_NS: Final = 1 << 62
_MAX_PPM: Final = 1_000_000  # a fee of 100 % of notional: anything beyond is a typo


# -- option syntax ----------------------------------------------------------------------
def parse_duration_ns(text: str) -> int:
    """Return ``text`` (``50us``, ``1.5ms``, ``0ns``) in ns; ``ValueError`` says what is wrong."""
    m = _DURATION_RE.fullmatch(text.strip())
    if m is None:
        raise ValueError(
            f"expected a non-negative number with a unit ns, us, ms or s (like 50us), was {text!r}"
        )
    ns = Decimal(m["num"]) * _UNITS_NS[m["unit"]]
    if ns != ns.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number of ns")
    if ns >= _MAX_NS:
        raise ValueError(f"{text!r} is too long (at most 2**62 ns)")
    return int(ns)


def _pairs(text: str, keys: tuple[str, ...], what: str) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    items = text.split(",")
    if not text.strip():
        raise ValueError(f"expected KEY=VALUE[,KEY=VALUE...] with keys {', '.join(keys)}")
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key or not value.strip():
            raise ValueError(f"expected KEY=VALUE, was {item.strip()!r}")
        if key not in keys:
            raise ValueError(f"unknown {what} {key!r}; known: {', '.join(keys)}")
        if key in seen:
            raise ValueError(f"{what} {key!r} given twice")
        seen.add(key)
        yield key, value.strip()


def latency_keys() -> tuple[str, ...]:
    """Return the ``--latency`` keys: each ``LatencyConfig.<key>_ns`` (feed, entry, ...)."""
    from whistle.trading.backtest.latency import LATENCY_COLUMNS

    return tuple(name.removesuffix("_ns") for name in LATENCY_COLUMNS)


def parse_latency(text: str) -> dict[str, int]:
    """Return ``{"entry_ns": 50000, ...}`` from ``entry=50us,...`` (keys ``latency_keys()``)."""
    out: dict[str, int] = {}
    for key, value in _pairs(text, latency_keys(), "latency"):
        try:
            out[f"{key}_ns"] = parse_duration_ns(value)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return out


def parse_fees(text: str) -> dict[str, int]:
    """Return ``{"maker_ppm": -20, "taker_ppm": 30}`` from ``maker=-20ppm,taker=0.3bps``."""
    out: dict[str, int] = {}
    for key, value in _pairs(text, FEE_KEYS, "fee"):
        m = _RATE_RE.fullmatch(value)
        if m is None:
            raise ValueError(
                f"{key}: expected a rate with a unit ppm or bps (like -20ppm or 0.3bps), was"
                f" {value!r}"
            )
        try:
            ppm = Decimal(m["sign"] + m["num"]) * _FEE_UNITS_PPM[m["unit"]]
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            raise ValueError(f"{key}: not a number: {value!r}") from None
        if ppm != ppm.to_integral_value():
            raise ValueError(f"{key}: {value!r} is not a whole number of ppm")
        if abs(ppm) > _MAX_PPM:
            raise ValueError(f"{key}: {value!r} is more than 100 % of notional")
        out[f"{key}_ppm"] = int(ppm)
    return out


if TYPE_CHECKING:
    _ParamType = click.ParamType[Any]  # generic from click 8.2 on
else:
    _ParamType = click.ParamType


class _Parsed(_ParamType):
    """A click type from a parse function: its ``ValueError`` becomes a usage error."""

    def __init__(self, metavar: str, parse: Callable[[str], Any]) -> None:
        self.name = metavar
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self._parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _read_risk(path: Path) -> RiskConfig:
    import msgspec

    from whistle.trading.risk import RiskConfig

    data = path.read_bytes()
    try:
        if path.suffix.lower() == ".json":
            return msgspec.json.decode(data, type=RiskConfig)
        return msgspec.toml.decode(data, type=RiskConfig)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--risk") from None


# -- run --------------------------------------------------------------------------------
def _progress_bar(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[messages]:>12,} messages"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _run(
    config: BacktestConfig, strategy: Any, data: Path, console: Console | None
) -> BacktestResult:
    from whistle.trading.backtest import run_backtest

    if console is None:
        return run_backtest(config, strategy)
    size = max(os.path.getsize(data), 1)
    with _progress_bar(console) as bar:
        task = bar.add_task(data.name, total=size, messages=0)

        def progress(done: int, total: int) -> None:
            # The runner reports messages read and does not know their total in advance:
            # the bar shows the bytes of the data file read so far (the ETA follows).
            finished = total and done >= total
            where = size if finished else (_read_position(str(data)) or 0)
            bar.update(task, completed=where, messages=done)

        return run_backtest(config, strategy, progress=progress)


def _parameters(
    config: BacktestConfig, spec: str, strategy: Any, config_file: Path | None
) -> dict[str, object]:
    import msgspec

    return {
        "data": config.data,
        "format": config.format,
        "symbol": config.symbol,
        "strategy": spec,
        "strategy config file": str(config_file) if config_file else "(defaults)",
        "strategy config": msgspec.json.encode(strategy.config).decode(),
        "queue model": config.queue_model,
        "seed": config.seed,
        "interactive": config.interactive,
        "latency": msgspec.json.encode(config.latency).decode(),
        "fees": msgspec.json.encode(config.fees).decode(),
        "risk": msgspec.json.encode(config.risk).decode(),
        "sample every (ns)": config.sample_every_ns,
    }


def _print(summary: Summary, result: BacktestResult, written: list[Path]) -> None:
    from rich.table import Table

    from whistle.trading.report import print_summary

    console = Console()
    title = f"whistle backtest: {result.strategy} on {result.symbol} ({result.queue_model} queue)"
    print_summary(summary, console, title=title)
    if result.divergence is not None:
        table = Table(title="interactive mode: divergence from the record")
        table.add_column("figure")
        table.add_column("count", justify="right")
        for name in result.divergence.__struct_fields__:
            table.add_row(name.replace("_", " "), f"{getattr(result.divergence, name):,}")
        console.print(table)
    notes = [f"{result.open_orders:,} order(s) still open when the data ended"]
    if result.book_anomalies:
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(result.book_anomalies.items()))
        notes.append(f"anomalies in the recorded data: {kinds}")
    console.print("; ".join(notes), highlight=False)
    if written:
        console.print(
            f"report: {written[0]} ({len(written) - 1} more files in {written[0].parent})",
            highlight=False,
        )


@click.command("backtest")
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The recorded market-data file.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="itch (TotalView-ITCH 5.0), lobster, dbn (Databento MBO), dbn-csv: order-level;"
    " mbp: MBP-N rows as `whistle feed replay --out` writes them (L2 queue models only).",
)
@click.option("--symbol", required=True, help="The instrument to trade (one).")
@click.option(
    "--strategy", "spec", required=True, metavar="MODULE:CLASS", help="The Strategy class."
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The strategy's config, TOML or JSON (unknown keys are refused).",
)
@click.option(
    "--latency",
    type=_Parsed("KEY=DURATION,...", parse_latency),
    default=None,
    help="Constant latencies: feed, entry, modify, cancel, ack, risk, e.g."
    " entry=50us,ack=20us (units ns, us, ms, s; default: LatencyConfig's).",
)
@click.option(
    "--latency-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A recorded latency CSV (ts_ns + latency columns), interpolated; its columns"
    " override --latency.",
)
@click.option(
    "--queue-model",
    type=click.Choice(QUEUE_MODELS),
    default=None,
    help="fifo: exact queue position on order-level data; risk_averse, power, log: L2"
    " queue-position models.  [default: fifo; risk_averse for --format mbp]",
)
@click.option(
    "--queue-power",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="The exponent of the power / log queue models.",
)
@click.option(
    "--fees",
    type=_Parsed("maker=RATE,taker=RATE", parse_fees),
    metavar="maker=RATE,taker=RATE",
    default=None,
    help="Fee rates in ppm or bps of notional, negative = rebate, e.g."
    " maker=-20ppm,taker=0.3bps (default 0).",
)
@click.option(
    "--risk",
    "risk_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Risk limits: a RiskConfig as TOML or JSON (default: every limit off).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the probabilistic queue models (power, log).",
)
@click.option(
    "--interactive",
    is_flag=True,
    help="Match the strategy's orders and the recorded ones together in a whistle engine"
    " (market impact); the divergence from the record is reported.",
)
@click.option(
    "--sample-every",
    "sample_every_ns",
    type=_Parsed("DURATION", parse_duration_ns),
    default="1s",
    show_default=True,
    help="Timeline sampling interval (charts, drawdown), e.g. 100ms.",
)
@click.option(
    "--max-events",
    type=click.IntRange(min=0),
    default=0,
    help="Stop after this many market events (0: the whole file).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write index.html, the PNG charts and fills.csv into this directory (created).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal, and not with --json).",
)
def backtest(
    data: Path,
    fmt: str,
    symbol: str,
    spec: str,
    config_file: Path | None,
    latency: dict[str, int] | None,
    latency_file: Path | None,
    queue_model: str | None,
    queue_power: float,
    fees: dict[str, int] | None,
    risk_file: Path | None,
    seed: int,
    interactive: bool,
    sample_every_ns: int,
    max_events: int,
    report_dir: Path | None,
    as_json: bool,
    progress: bool | None,
) -> None:
    """Backtest a strategy on recorded market data; print the figures, write a report.

    \b
    The figures: PnL (realised, unrealised, fees, total) in money and tick-lots,
    traded volume, fills maker / taker, orders, modifies, cancels, cancel ratio,
    rejects by reason, max position, max drawdown, order-to-fill p50 / p99, events/s.
    --json prints one object instead: events, seconds, events_per_sec, fills (count),
    pnl {realised, unrealised, fees, total} in tick-lots, pnl_money, the other figures,
    and fills_digest (equal digests: identical fills).

    A run that does not finish prints no figures and exits non-zero.
    """
    from whistle.trading.backtest import BacktestConfig, FeeConfig, LatencyConfig
    from whistle.trading.config import load_strategy
    from whistle.trading.report import summarize, write_report
    from whistle.trading.report.html import prepare_directory

    if queue_model is None:
        queue_model = "risk_averse" if fmt == "mbp" else "fifo"
    if sample_every_ns <= 0:
        raise click.BadParameter("must be more than 0", param_hint="--sample-every")
    latency_config = LatencyConfig(
        **(latency or {}), file=str(latency_file) if latency_file is not None else None
    )
    extra: dict[str, Any] = {}
    if risk_file is not None:
        extra["risk"] = _read_risk(risk_file)
    config = BacktestConfig(
        data=str(data),
        symbol=symbol,
        format=fmt,
        queue_model=queue_model,
        queue_power=queue_power,
        seed=seed,
        interactive=interactive,
        latency=latency_config,
        fees=FeeConfig(
            maker_ppm=(fees or {}).get("maker_ppm", 0), taker_ppm=(fees or {}).get("taker_ppm", 0)
        ),
        sample_every_ns=sample_every_ns,
        max_events=max_events,
        **extra,
    )
    strategy = load_strategy(spec, config_file)
    created = report_dir is not None and not report_dir.exists()
    if report_dir is not None:
        prepare_directory(report_dir)  # refuse an unusable directory before the run
    err = Console(stderr=True)
    show = (err.is_terminal and not as_json) if progress is None else progress
    try:
        result = _run(config, strategy, data, err if show else None)
    except BaseException:
        if created and report_dir is not None:
            with contextlib.suppress(OSError):
                report_dir.rmdir()  # ours and still empty: leave nothing behind
        raise
    summary = summarize(result)
    written: list[Path] = []
    if report_dir is not None:
        params = _parameters(config, spec, strategy, config_file)
        title = f"whistle backtest: {result.strategy} on {symbol}"
        written = write_report(result, report_dir, parameters=params, title=title)
    if as_json:
        out = summary.as_dict()
        out.update(
            symbol=symbol,
            strategy=spec,
            data=str(data),
            format=fmt,
            queue_model=queue_model,
            seed=seed,
            interactive=interactive,
            open_orders=result.open_orders,
            first_ts_ns=result.first_ts_ns,
            last_ts_ns=result.last_ts_ns,
            book_anomalies=dict(sorted(result.book_anomalies.items())),
            crossed_book_orders=result.crossed_book_orders,
            divergence=None if result.divergence is None else _builtins(result.divergence),
            report=[str(p) for p in written],
        )
        click.echo(json.dumps(out))
        return
    _print(summary, result, written)


def _builtins(value: object) -> Any:
    import msgspec

    return msgspec.to_builtins(value)
