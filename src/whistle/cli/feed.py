"""``whistle feed``: replay market-data files into books, count them, record and play them.

``replay`` decodes a file (ITCH 5.0, LOBSTER, Databento DBN or CSV), builds one
order-level book per instrument and writes MBP-N rows (``whistle.feed.mbp``); ``stats``
only counts; ``record`` writes the decoded events to a journal and ``play`` reads such a
recording back, as fast as possible or at the recorded pace. Bad input is a
``FeedError`` naming the file and the byte offset or line; the top ``whistle`` group
prints it as one line and exits 65.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import click
from rich.console import Console
from rich.table import Table

import whistle.feed
from whistle.core.mbo import NO_PRICE
from whistle.feed.mbp import (
    DEFAULT_DEPTH,
    CsvRowWriter,
    JsonlRowWriter,
    MbpBuilder,
    format_price,
    open_row_writer,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from whistle.book.mbo import MarketByOrderBook
    from whistle.core.mbo import MboEvent
    from whistle.feed import FeedReader, FeedStats

__all__ = ["feed"]

FORMAT_NAMES: Final = ("itch", "lobster", "dbn", "dbn-csv")
_PROGRESS_EVERY: Final = 1 << 14  # events between two progress refreshes


def _format_option(fn: Any) -> Any:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMAT_NAMES),
        required=True,
        help="itch: NASDAQ TotalView-ITCH 5.0; lobster: LOBSTER message file; dbn: Databento"
        " MBO DBN (plain, zstd, gzip); dbn-csv: Databento's MBO CSV export.",
    )(fn)


def _common_options(fn: Any) -> Any:
    fn = click.option(
        "--symbol",
        "symbols",
        multiple=True,
        help="Keep only this symbol (repeat for more); default: every symbol.",
    )(fn)
    fn = click.option(
        "--orderbook",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="LOBSTER: the orderbook file (seeds the pre-open book); default: the sibling"
        " file *_orderbook_* of the message file when it exists.",
    )(fn)
    fn = click.option(
        "--policy",
        type=click.Choice(["strict", "lenient"]),
        default="strict",
        show_default=True,
        help="Decoder: strict raises at the first bad message; lenient counts and goes on.",
    )(fn)
    return _format_option(fn)


def _warn_missing(symbols: tuple[str, ...], stats: FeedStats, path: Path, err: Console) -> None:
    """Say which --symbol names the file never mentioned (a typo yields empty output)."""
    missing = [s for s in symbols if s not in stats.symbols]
    if missing:
        err.print(
            f"[yellow]warning:[/yellow] {path}: no symbol {', '.join(missing)} in the file"
            " (`whistle feed stats FILE --format ...` lists its symbols)"
        )


def lobster_sibling(path: Path) -> Path | None:
    """Return the orderbook file beside a LOBSTER message file, if there is one."""
    name = path.name
    if "_message_" not in name:
        return None
    other = path.with_name(name.replace("_message_", "_orderbook_"))
    return other if other.is_file() else None


def open_reader(
    path: Path, fmt: str, symbols: tuple[str, ...], orderbook: Path | None, policy: str
) -> FeedReader:
    """Open ``path`` with the decoder of ``fmt`` (a LOBSTER orderbook file inferred)."""
    options: dict[str, Any] = {"policy": policy}
    if fmt == "lobster":
        book_file = orderbook if orderbook is not None else lobster_sibling(path)
        if book_file is not None:
            options["orderbook"] = book_file
    elif orderbook is not None:
        raise click.BadParameter("only LOBSTER has an orderbook file", param_hint="--orderbook")
    return whistle.feed.open(path, fmt, list(symbols) or None, **options)


# -- progress ---------------------------------------------------------------------------
def _read_position(path: str) -> int | None:
    """Bytes of ``path`` this process has read so far (Linux: /proc/self/fdinfo)."""
    try:
        target = os.path.realpath(path)
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") != target:
                    continue
                with open(f"/proc/self/fdinfo/{fd}") as info:
                    for line in info:
                        if line.startswith("pos:"):
                            return int(line.split()[1])
            except OSError:
                continue
    except OSError:
        return None
    return None


def _with_progress(events: Iterable[MboEvent], path: str, console: Console) -> Iterator[MboEvent]:
    """Yield ``events``, showing messages, messages/s and an ETA (by bytes read) on a TTY."""
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    size = os.path.getsize(path)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[messages]:>12,} msgs  {task.fields[rate]:>10,.0f} msgs/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    start = time.perf_counter()
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(os.path.basename(path), total=size or 1, messages=0, rate=0.0)
        n = 0
        for e in events:
            n += 1
            if not n % _PROGRESS_EVERY:
                pos = _read_position(path)
                rate = n / max(time.perf_counter() - start, 1e-9)
                progress.update(task, completed=pos or 0, messages=n, rate=rate)
            yield e
        progress.update(task, completed=size or 1, messages=n)


# -- summary ----------------------------------------------------------------------------
def _price(ticks: int, decimals: int) -> str:
    return "-" if ticks == NO_PRICE else format_price(ticks, decimals)


def _vwap(book: MarketByOrderBook, decimals: int) -> str:
    if not book.volume:
        return "-"
    value = Decimal(book.notional) / Decimal(book.volume) / (Decimal(10) ** decimals)
    return f"{value:.{decimals}f}"


def _summary(
    stats: FeedStats,
    books: dict[int, tuple[str, int, MarketByOrderBook]],
    rows: int,
    seconds: float,
) -> list[Table | str]:
    types = Table(title="messages by type")
    types.add_column("type")
    types.add_column("count", justify="right")
    for code, count in sorted(stats.by_type.items()):
        types.add_row(code, f"{count:,}")
    types.add_row("all", f"{stats.messages:,}")
    notes: list[str] = []
    rate = stats.messages / max(seconds, 1e-9)
    counts_table = Table(title=f"messages per symbol ({rate:,.0f} msgs/s)")
    count_names = ("adds", "cancels", "deletes", "modifies", "executions", "trades")
    books_table = Table(title=f"books at the end ({rows:,} MBP rows)")
    book_names = ("volume", "VWAP", "best bid", "best ask", "live orders", "anomalies")
    for table, names in ((counts_table, count_names), (books_table, book_names)):
        table.add_column("symbol")
        for name in names:
            table.add_column(name, justify="right")
    by_symbol = {symbol: (decimals, book) for symbol, decimals, book in books.values()}
    for symbol in sorted(set(stats.symbols) | set(by_symbol)):
        counts = stats.symbols[symbol].as_dict() if symbol in stats.symbols else {}
        counts_table.add_row(symbol, *(f"{counts.get(k, 0):,}" for k in count_names))
        if symbol not in by_symbol:
            continue
        decimals, book = by_symbol[symbol]
        books_table.add_row(
            symbol,
            f"{book.volume:,}",
            _vwap(book, decimals),
            _price(book.best_bid, decimals),
            _price(book.best_ask, decimals),
            f"{len(book):,}",
            f"{book.anomaly_count:,}",
        )
        if book.anomalies:
            kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(book.anomalies.items()))
            first = book.anomaly_log[0] if book.anomaly_log else None
            where = f" (first: message {first[0]}: {first[2]})" if first else ""
            notes.append(f"{symbol} anomalies: {kinds}{where}")
    return [types, counts_table, books_table, *notes]


# -- MBP row output ---------------------------------------------------------------------
def _row_kind(out: Path | None) -> str | None:
    """``csv`` / ``jsonl`` from ``--out``'s suffix ('-': CSV on stdout); None: no output."""
    if out is None:
        return None
    if str(out) == "-":
        return "csv"
    suffix = out.suffix.lower()
    if suffix in (".csv", ".jsonl"):
        return suffix[1:]
    raise click.BadParameter(
        f"expected a .csv or .jsonl file name, was {out.name!r}", param_hint="--out"
    )


@contextlib.contextmanager
def _row_writer(
    out: Path | None, kind: str | None, depth: int, builder: MbpBuilder
) -> Iterator[CsvRowWriter | JsonlRowWriter | None]:
    """The writer of ``--out`` (None when there is none); flushed and closed at the end."""
    if out is None or kind is None:
        yield None
        return
    to_stdout = str(out) == "-"
    sink: IO[str] = sys.stdout if to_stdout else open(out, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        writer = open_row_writer(sink, kind, depth, builder.decimals())
        yield writer
        writer.close()
    finally:
        if not to_stdout:
            sink.close()


def _push_all(events: Iterable[MboEvent], builder: MbpBuilder, writer: Any) -> None:
    push = builder.push
    if writer is None:
        for e in events:
            push(e)
        return
    write = writer.write
    for e in events:
        row = push(e)
        if row is not None:
            write(row)


# -- commands ---------------------------------------------------------------------------
@click.group()
def feed() -> None:
    """Market data in: replay, count, record and play order-level files."""


@feed.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_common_options
@click.option(
    "--depth",
    type=click.IntRange(1, 100),
    default=DEFAULT_DEPTH,
    show_default=True,
    help="Levels per side in each MBP row.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the MBP rows here: FILE.csv or FILE.jsonl ('-' prints CSV to stdout).",
)
@click.option(
    "--every-event/--on-last",
    "every_event",
    default=False,
    show_default=True,
    help="A row after every event that changes the top levels, or only at the last event"
    " of a source message (Databento F_LAST; ITCH and LOBSTER events are all last).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when stderr is a terminal).",
)
def replay(
    file: Path,
    fmt: str,
    symbols: tuple[str, ...],
    orderbook: Path | None,
    policy: str,
    depth: int,
    out: Path | None,
    every_event: bool,
    progress: bool | None,
) -> None:
    """Build the book of every instrument of FILE and write MBP-N rows.

    The rows (schema: ``whistle.feed.mbp``, Databento's MBP-10 column names) go to
    ``--out``; a summary table per symbol (messages by type, adds / cancels /
    executions, traded volume, VWAP, final best bid / ask, anomalies) closes the run.
    """
    kind = _row_kind(out)
    reader = open_reader(file, fmt, symbols, orderbook, policy)
    err = Console(stderr=True)
    show = err.is_terminal if progress is None else progress
    events: Iterable[MboEvent] = reader
    if show:
        events = _with_progress(reader, str(file), err)
    builder = MbpBuilder(depth, on_last=not every_event)
    start = time.perf_counter()
    to_stdout = out is not None and str(out) == "-"
    with _row_writer(out, kind, depth, builder) as writer:
        _push_all(events, builder, writer)
    seconds = time.perf_counter() - start
    console = err if to_stdout else Console()
    for table in _summary(reader.stats, builder.books(), builder.rows, seconds):
        console.print(table)
    for warning in reader.stats.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    _warn_missing(symbols, reader.stats, file, err)
    if out is not None and not to_stdout:
        console.print(f"{builder.rows:,} MBP-{depth} rows written to {out}")


@feed.command("stats")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_common_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def stats(
    file: Path,
    fmt: str,
    symbols: tuple[str, ...],
    orderbook: Path | None,
    policy: str,
    as_json: bool,
) -> None:
    """Count FILE's messages by type and per symbol, building no book (fast).

    ``--json`` prints ``{"messages": N, "by_type": {code: N}, "symbols": {symbol:
    {"adds", "executions", "trades", "cancels", "deletes", "modifies"}}, "warnings",
    "anomalies"}``.
    """
    reader = open_reader(file, fmt, symbols, orderbook, policy)
    scan = getattr(reader, "scan", None)
    if scan is not None:
        counts: FeedStats = scan()
    else:
        for _ in reader:
            pass
        counts = reader.stats
    result = counts.as_dict()
    _warn_missing(symbols, counts, file, Console(stderr=True))
    if as_json:
        click.echo(json.dumps(result))
        return
    console = Console()
    console.print(f"[bold]{file}[/bold] ({fmt})")
    table = Table(title="messages by type")
    table.add_column("type")
    table.add_column("count", justify="right")
    for code, count in sorted(counts.by_type.items()):
        table.add_row(code, f"{count:,}")
    table.add_row("all", f"{counts.messages:,}")
    console.print(table)
    per = Table(title="per symbol")
    names = ("adds", "executions", "trades", "cancels", "deletes", "modifies")
    per.add_column("symbol")
    for name in names:
        per.add_column(name, justify="right")
    for symbol, sym in sorted(counts.symbols.items()):
        values = sym.as_dict()
        per.add_row(symbol, *(f"{values[n]:,}" for n in names))
    console.print(per)
    for warning in counts.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


@feed.command("record")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_common_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A new directory: the recording (a whistle journal queue).",
)
def record(
    file: Path,
    fmt: str,
    symbols: tuple[str, ...],
    orderbook: Path | None,
    policy: str,
    out: Path,
) -> None:
    """Decode FILE and write its events to a recording at --out (see ``feed play``)."""
    from whistle.feed.errors import FeedError
    from whistle.feed.record import RecordingHeader, record_events

    reader = open_reader(file, fmt, symbols, orderbook, policy)
    header = RecordingHeader(str(file), fmt, list(symbols) or None)
    start = time.perf_counter()
    try:
        n = record_events(
            reader, out, header, counts=lambda: (reader.stats.messages, reader.stats.by_type)
        )
    except FeedError as exc:
        # record_events removed its partial output: say so (same class, same fields)
        raise type(exc)(
            f"{exc} (nothing was recorded to {out})",
            path=exc.path,
            offset=exc.offset,
            line=exc.line,
        ) from None
    seconds = time.perf_counter() - start
    Console().print(
        f"{n:,} events of {reader.stats.messages:,} messages recorded to {out} in {seconds:.2f} s"
    )


@feed.command("play")
@click.argument("recording", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Pace at this multiple of the recorded speed (1 = as recorded); default: as fast"
    " as possible.",
)
@click.option("--symbol", "symbols", multiple=True, help="Keep only this symbol (repeatable).")
@click.option("--depth", type=click.IntRange(1, 100), default=DEFAULT_DEPTH, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the MBP rows of the played events (FILE.csv or FILE.jsonl).",
)
def play(
    recording: Path, speed: float | None, symbols: tuple[str, ...], depth: int, out: Path | None
) -> None:
    """Play a recording back on a virtual SimulationClock and summarize the books."""
    from whistle.coord.runtime.clock import SimulationClock
    from whistle.feed.record import FeedPlayback

    playback = FeedPlayback(recording, speed=speed, symbols=list(symbols) or None)
    builder = MbpBuilder(depth)
    clock = SimulationClock()
    kind = _row_kind(out)
    counted: list[int] = [0, 0]  # events, clock steps

    def played() -> Iterator[MboEvent]:
        for step in playback.drive(clock):
            counted[1] += 1
            counted[0] += len(step.events)
            yield from step.events

    start = time.perf_counter()
    with _row_writer(out, kind, depth, builder) as writer:
        _push_all(played(), builder, writer)
    events, steps = counted
    seconds = time.perf_counter() - start
    console = Console()
    per = Table(title=f"whistle feed play {recording.name}")
    for name in ("symbol", "volume", "best bid", "best ask", "live orders", "anomalies"):
        per.add_column(name, justify="left" if name == "symbol" else "right")
    for symbol, decimals, book in sorted(builder.books().values(), key=lambda x: x[0]):
        per.add_row(
            symbol,
            f"{book.volume:,}",
            _price(book.best_bid, decimals),
            _price(book.best_ask, decimals),
            f"{len(book):,}",
            f"{book.anomaly_count:,}",
        )
    console.print(per)
    state = "complete" if playback.complete else "INCOMPLETE (no closing record)"
    console.print(
        f"{events:,} events in {steps:,} clock steps, {seconds:.2f} s; recording {state};"
        f" source {playback.header.source} ({playback.header.format})"
    )
