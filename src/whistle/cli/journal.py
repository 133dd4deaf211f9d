"""``whistle journal``: inspect, tail, verify and repair a venue's journals.

``inspect``, ``tail`` and ``verify`` read through :class:`~whistle.journal.ReadOnlyReader`
/ :func:`~whistle.journal.verify`: they never create a reader cursor or any other file,
so running them against a live venue cannot hold back retention.  They report damage
(one line per finding: file, offset, unreadable sequence range) instead of a traceback.

``repair`` is the only command that changes a journal: it cuts it after a sequence
number (``--truncate-after SEQ``) or before the first damage (``--at-damage``), printing
exactly which records -- for a data directory, which acknowledged commands by
``enq_seq`` -- it drops; it does nothing without ``--yes``.  For a data directory, SEQ
is a sequence number of ``DIR/commands``; ``DIR/events`` is cut after the last event
whose ``enq_seq`` is at most the last kept command's, and snapshot files anchored after
it are dropped.  Nothing is deleted: dropped segment and snapshot files are moved into
``DIR/damaged-<UTC timestamp>/`` (``commands/``, ``events/``, ``snapshots/<symbol>/``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import typing
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import click
import msgspec
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from whistle.coord.durability.playback import load_instruments
from whistle.coord.durability.records import (
    COMMANDS_DIR,
    EVENT_TYPE_ID,
    EVENTS_DIR,
    SNAPSHOTS_DIR,
    Defined,
    JournalRecord,
    RecordCodec,
    Sequenced,
    Snapshotted,
    Ticked,
)
from whistle.coord.durability.replay import event_cut
from whistle.core.enums import OrderType, Side, StpMode, TimeInForce
from whistle.core.errors import WhistleError
from whistle.core.fixed import from_units
from whistle.engine.whistle import Whistle
from whistle.journal import (
    CorruptCursor,
    JournalError,
    JournalFormatError,
    Queue,
    ReadOnlyReader,
    RepairError,
    RepairReport,
    WriterLockedError,
    damaged_dir_name,
    last_good_seq,
    readable_after,
    readable_prefix,
    truncate_after,
    verify,
)
from whistle.journal.config import read_meta
from whistle.journal.segment import STATE_ACTIVE, STATE_SEALED, record_size, segment_name
from whistle.journal.verify import survey
from whistle.scenario.render import render_event

if TYPE_CHECKING:
    from enum import IntEnum

    from whistle.core.instrument import Instrument
    from whistle.journal.reader import Record

__all__ = ["journal"]

TYPE_NAMES: Final[dict[int, str]] = {
    **{
        int(cls.__struct_config__.tag): cls.__name__
        for cls in typing.get_args(JournalRecord)
        if isinstance(cls.__struct_config__.tag, int)
    },
    EVENT_TYPE_ID: "Event",
}
"""Record type names by queue ``type_id`` (the record tags of ``whistle.coord.records``)."""
_STATE_NAMES: Final = {STATE_ACTIVE: "active", STATE_SEALED: "sealed"}
_COMMAND_ENUMS: Final[dict[str, type[IntEnum]]] = {
    "side": Side,
    "order_type": OrderType,
    "tif": TimeInForce,
    "stp": StpMode,
}
_WALL_CLOCK_NS: Final = 10**17  # ~1973: smaller timestamps are simulation time, not wall time
_SNAP_SUFFIX: Final = ".snap"


def _type_name(type_id: int) -> str:
    return TYPE_NAMES.get(type_id, f"type {type_id}")


class _DataError(click.ClickException):
    exit_code = 65  # whistle's EX_DATAERR: damaged data


class _Locked(click.ClickException):
    exit_code = 75  # whistle's EX_TEMPFAIL: a writer holds the directory


def _fail(message: str, code: int = 1) -> click.ClickException:
    if code == 65:
        return _DataError(message)
    if code == 75:
        return _Locked(message)
    return click.ClickException(message)


def _resolve(path: str) -> tuple[bool, dict[str, str]]:
    """``(is_data_dir, {queue name: queue path})`` of ``path``; a clear error otherwise."""
    if not os.path.exists(path):
        raise _fail(f"{path}: no such file or directory")
    if not os.path.isdir(path):
        raise _fail(f"{path}: not a directory (expected a venue data directory or a queue)")
    try:
        queues = {
            name: sub
            for name in (COMMANDS_DIR, EVENTS_DIR)
            if os.path.isdir(sub := os.path.join(path, name)) and read_meta(sub) is not None
        }
        if queues:
            return True, queues
        if read_meta(path) is not None:
            return False, {os.path.basename(os.path.normpath(path)) or path: path}
    except JournalError as exc:
        raise _fail(f"{exc.path or path}: not a journal: {exc.reason}") from exc
    raise _fail(
        f"{path}: not a journal (no queue.meta, and no {COMMANDS_DIR}/ or {EVENTS_DIR}/ queue)"
    )


def _instruments_for(path: str, is_data_dir: bool) -> dict[int, Instrument]:
    """Instruments of a data dir, or of the data dir a lone queue belongs to."""
    if is_data_dir:
        return load_instruments(path)
    parent = os.path.dirname(os.path.normpath(path))
    return load_instruments(parent) if parent else {}


# -- inspect ---------------------------------------------------------------------------
def _writer(qpath: str, ttl_ns: int) -> dict[str, Any]:
    st = Queue.writer_status(qpath, ttl_ns)
    if st.alive:
        state = "live"
    elif st.lock_held:
        state = "stale heartbeat"
    else:
        state = "none"
    return {
        "state": state,
        "pid": st.pid,
        "heartbeat_age_ms": None if st.heartbeat_age_ns is None else st.heartbeat_age_ns // 10**6,
        "closed_cleanly": st.closed,
    }


def _writer_text(w: dict[str, Any]) -> str:
    if w["state"] == "none":
        if w["pid"] is None:
            return "none"
        how = "closed cleanly" if w["closed_cleanly"] else "exited without closing"
        return f"none (last writer pid {w['pid']} {how})"
    return f"{w['state']} (pid {w['pid']}, heartbeat {w['heartbeat_age_ms']} ms ago)"


def _survey(qpath: str, ttl_ns: int) -> dict[str, Any]:
    """Everything ``inspect`` reports about one queue (one read-only pass).

    Damage does not stop it: what can be read is reported, with one ``damage`` line per
    finding (the same verdict as ``verify``).
    """
    per_seg: dict[int, list[int]] = {}  # segment id -> [records, first, last, used bytes]
    by_type: dict[int, int] = {}
    layout = survey(qpath, scan_head=True)
    damage = [f"{type(d).__name__}: {d}" for d in layout.damage]
    try:
        with ReadOnlyReader(qpath, _layout=layout) as reader:
            while batch := reader.read_batch(1024):
                for rec in batch:
                    by_type[rec.type_id] = by_type.get(rec.type_id, 0) + 1
                    end = rec.offset + record_size(len(rec.payload))
                    got = per_seg.get(rec.segment_id)
                    if got is None:
                        per_seg[rec.segment_id] = [1, rec.seq, rec.seq, end]
                    else:
                        got[0] += 1
                        got[2] = rec.seq
                        got[3] = end
    except JournalFormatError as exc:
        line = f"{type(exc).__name__}: {exc}"
        if line not in damage:
            damage.append(line)
    segments = []
    for summary in Queue.segments(qpath):
        count, first, last, used = per_seg.get(summary.segment_id, [0, None, None, None])
        segments.append(
            {
                "id": summary.segment_id,
                "file": segment_name(summary.segment_id),
                "size_bytes": summary.size_bytes,
                "used_bytes": used,
                "state": _STATE_NAMES.get(summary.state, "preallocated"),
                "first_seq": first,
                "last_seq": last,
                "records": count,
            }
        )
    try:
        cursors = {
            name: {"next_seq": pos.next_seq, "segment_id": pos.segment_id, "offset": pos.offset}
            for name, pos in sorted(Queue.cursors(qpath).items())
        }
    except CorruptCursor as exc:
        cursors = {}
        damage.append(f"{type(exc).__name__}: {exc}")
    return {
        "path": qpath,
        "segments": segments,
        "records": sum(by_type.values()),
        "by_type": {_type_name(t): n for t, n in sorted(by_type.items())},
        "writer": _writer(qpath, ttl_ns),
        "cursors": cursors,
        "damage": damage,
    }


def _snapshots(path: str, names: dict[int, str]) -> list[dict[str, Any]]:
    root = os.path.join(path, SNAPSHOTS_DIR)
    try:
        entries = sorted(os.listdir(root))
    except (FileNotFoundError, NotADirectoryError):
        return []
    out: list[dict[str, Any]] = []
    for entry in entries:
        sdir = os.path.join(root, entry)
        if not entry.isdigit() or not os.path.isdir(sdir):
            continue
        seqs = sorted(
            int(f[: -len(_SNAP_SUFFIX)])
            for f in os.listdir(sdir)
            if f.endswith(_SNAP_SUFFIX) and f[: -len(_SNAP_SUFFIX)].isdigit()
        )
        if seqs:
            sid = int(entry)
            out.append(
                {
                    "symbol_id": sid,
                    "symbol": names.get(sid),
                    "count": len(seqs),
                    "latest_enq_seq": seqs[-1],
                }
            )
    return sorted(out, key=lambda s: s["symbol_id"])


def _report(path: str, ttl_ns: int) -> dict[str, Any]:
    is_data_dir, queues = _resolve(path)
    try:
        report: dict[str, Any] = {
            "path": path,
            "kind": "data_dir" if is_data_dir else "queue",
            "queues": {name: _survey(q, ttl_ns) for name, q in queues.items()},
        }
        if is_data_dir:
            try:
                instruments = load_instruments(path)
            except JournalFormatError:
                instruments = {}  # the damage is in the commands queue's report
            report["instruments"] = [
                {
                    "symbol_id": i.symbol_id,
                    "symbol": i.symbol,
                    "tick_size": i.tick_size,
                    "lot_size": i.lot_size,
                }
                for i in sorted(instruments.values(), key=lambda i: i.symbol_id)
            ]
            names = {sid: i.symbol for sid, i in instruments.items()}
            report["snapshots"] = _snapshots(path, names)
    except JournalError as exc:
        raise _fail(f"{path}: {exc}") from exc
    return report


def _opt(value: object) -> str:
    return "-" if value is None else str(value)


def _print_report(report: dict[str, Any]) -> None:
    console = Console()
    console.print(f"[bold]{report['path']}[/bold] ({report['kind'].replace('_', ' ')})")
    for name, q in report["queues"].items():
        table = Table(title=f"queue {name}: {q['records']:,} records", title_justify="left")
        for col in ("segment", "file", "state", "first seq", "last seq", "records", "bytes"):
            right = col in ("segment", "first seq", "last seq", "records")
            table.add_column(col, justify="right" if right else "left")
        for s in q["segments"]:
            used = "-" if s["used_bytes"] is None else f"{s['used_bytes']:,}"
            table.add_row(
                str(s["id"]),
                s["file"],
                s["state"],
                _opt(s["first_seq"]),
                _opt(s["last_seq"]),
                f"{s['records']:,}",
                f"{used} / {s['size_bytes']:,}",
            )
        console.print(table)
        types = ", ".join(f"{t} {n:,}" for t, n in q["by_type"].items()) or "-"
        console.print(f"  records by type: {types}")
        console.print(f"  writer: {_writer_text(q['writer'])}")
        cursors = ", ".join(f"{c} (next seq {pos['next_seq']})" for c, pos in q["cursors"].items())
        console.print(f"  cursors: {cursors or 'none'}")
        for line in q["damage"]:
            console.print(f"  [bold red]DAMAGE[/bold red] {escape(line)}", highlight=False)
    if report["kind"] == "data_dir":
        table = Table(title="instruments", title_justify="left")
        for col in ("symbol id", "symbol", "tick size", "lot size", "snapshots", "latest enq_seq"):
            table.add_column(col)
        snaps = {s["symbol_id"]: s for s in report["snapshots"]}
        seen = set()
        for inst in report["instruments"]:
            snap = snaps.get(inst["symbol_id"])
            seen.add(inst["symbol_id"])
            table.add_row(
                str(inst["symbol_id"]),
                inst["symbol"],
                inst["tick_size"],
                inst["lot_size"],
                str(snap["count"]) if snap else "0",
                str(snap["latest_enq_seq"]) if snap else "-",
            )
        for sid, snap in snaps.items():
            if sid not in seen:  # a snapshot of a symbol no Defined record names
                table.add_row(
                    str(sid), "?", "-", "-", str(snap["count"]), str(snap["latest_enq_seq"])
                )
        console.print(table)


# -- tail ------------------------------------------------------------------------------
def _units(value: int, step: str | None) -> int | str:
    return value if step is None else from_units(value, Decimal(step))


def _render_command(command: msgspec.Struct, instrument: Instrument | None) -> dict[str, Any]:
    """A command as a dict: decimal prices/quantities when the instrument is known."""
    out: dict[str, Any] = {
        "command": type(command).__name__,
        "symbol": None if instrument is None else instrument.symbol,
    }
    tick = None if instrument is None else instrument.tick_size
    lot = None if instrument is None else instrument.lot_size
    for name in command.__struct_fields__:
        value = getattr(command, name)
        if name.endswith("_ticks") and isinstance(value, int):
            out[name[: -len("_ticks")]] = _units(value, tick)
        elif name.endswith("_lots") and isinstance(value, int):
            out[name[: -len("_lots")]] = _units(value, lot)
        elif name in _COMMAND_ENUMS and isinstance(value, int):
            try:
                out[name] = _COMMAND_ENUMS[name](value).name
            except ValueError:
                out[name] = value
        else:
            out[name] = value
    return out


class _Decoder:
    """Decode records of either queue into JSON-ready dicts."""

    def __init__(self, instruments: dict[int, Instrument], reload_from: str | None) -> None:
        self.codec = RecordCodec()
        self.instruments = instruments
        self._reload_from = reload_from
        self._missed: set[int] = set()

    def _instrument(self, symbol_id: int) -> Instrument | None:
        inst = self.instruments.get(symbol_id)
        if inst is None and self._reload_from is not None and symbol_id not in self._missed:
            # Defined after we started (e.g. while following): look once more.
            self.instruments.update(load_instruments(self._reload_from))
            self._missed.add(symbol_id)
            inst = self.instruments.get(symbol_id)
        return inst

    def decode(self, rec: Record) -> dict[str, Any]:
        try:
            if rec.type_id == EVENT_TYPE_ID:
                event = self.codec.decode_event(rec.payload)
                return render_event(event, self._instrument(event.symbol_id))
            item = self.codec.decode_record(rec.payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return {"error": f"cannot decode: {exc}", "payload_hex": rec.payload[:32].hex()}
        if isinstance(item, Defined):
            self.instruments.setdefault(item.instrument.symbol_id, item.instrument)
            return {"instrument": msgspec.to_builtins(item.instrument)}
        if isinstance(item, Sequenced):
            cmd = item.command
            return {
                "enq_seq": item.enq_seq,
                "command": _render_command(cmd, self._instrument(cmd.symbol_id)),
            }
        return {name: msgspec.to_builtins(getattr(item, name)) for name in item.__struct_fields__}


def _timestamp(ts_ns: int) -> str:
    if ts_ns < _WALL_CLOCK_NS:
        return str(ts_ns)
    secs, ns = divmod(ts_ns, 10**9)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


def _line(rec: Record, decoder: _Decoder, as_json: bool) -> str:
    body = decoder.decode(rec)
    kind = _type_name(rec.type_id)
    if as_json:
        obj = {"seq": rec.seq, "ts_ns": rec.ts_ns, "type": kind, "record": body}
        return json.dumps(obj, separators=(",", ":"))
    if rec.type_id == EVENT_TYPE_ID and "event" in body:
        kind = str(body["event"])
    text = json.dumps(body, separators=(",", ":"))
    return f"{rec.seq:>8}  {_timestamp(rec.ts_ns)}  {kind:<20} {text}"


def _follow(
    reader: ReadOnlyReader, decoder: _Decoder, as_json: bool, max_seconds: float | None
) -> None:
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    while True:
        wait = 0.25
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                return
        rec = reader.wait_next(wait)
        while rec is not None:
            click.echo(_line(rec, decoder, as_json))
            rec = reader.next()


# -- commands --------------------------------------------------------------------------
@click.group()
def journal() -> None:
    """Inspect and tail a venue's journals (read-only: no reader cursor is created)."""


@journal.command("inspect")
@click.argument("path", metavar="DIR", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--ttl-ms",
    type=click.IntRange(min=1),
    default=2_000,
    show_default=True,
    help="A writer heartbeat older than this is stale.",
)
def inspect(path: str, as_json: bool, ttl_ms: int) -> None:
    """Show the queues, writer, cursors, instruments and snapshots of DIR.

    DIR is a venue data directory (holding commands/ and events/) or one queue directory.
    """
    report = _report(path, ttl_ms * 10**6)
    if as_json:
        click.echo(json.dumps(report, separators=(",", ":")))
    else:
        _print_report(report)
    if any(q["damage"] for q in report["queues"].values()):
        sys.exit(1)  # damaged: see the DAMAGE lines (whistle journal verify / repair)


@journal.command("tail")
@click.argument("path", metavar="DIR", type=click.Path(file_okay=True, dir_okay=True))
@click.option(
    "--queue",
    "queue_name",
    type=click.Choice([COMMANDS_DIR, EVENTS_DIR]),
    default=EVENTS_DIR,
    show_default=True,
    help="Which queue of a data directory (ignored when DIR is one queue).",
)
@click.option(
    "-n",
    "--lines",
    "count",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="How many of the last records to print.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing records as they arrive.")
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop following after this many seconds.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
def tail(
    path: str,
    queue_name: str,
    count: int,
    follow: bool,
    max_seconds: float | None,
    as_json: bool,
) -> None:
    """Print the last records of a queue of DIR, decoded, one per line.

    Prices and quantities are decimal when the instrument is defined in DIR's command
    journal. With --follow, keeps printing new records until Ctrl-C (or --max-seconds).
    """
    is_data_dir, queues = _resolve(path)
    qpath = queues.get(queue_name) if is_data_dir else next(iter(queues.values()))
    if qpath is None:
        raise _fail(f"{path}: has no {queue_name}/ queue")
    try:
        home = path if is_data_dir else os.path.dirname(os.path.normpath(path))
        decoder = _Decoder(_instruments_for(path, is_data_dir), home or None)
        # Ctrl-C (SIGINT) ends the command quietly, with status 0.
        with ReadOnlyReader(qpath) as reader, contextlib.suppress(KeyboardInterrupt):
            reader.seek_last(count)
            while batch := reader.read_batch(256):
                click.echo("\n".join(_line(rec, decoder, as_json) for rec in batch))
            if follow:
                _follow(reader, decoder, as_json, max_seconds)
    except JournalError as exc:
        raise _fail(f"{qpath}: {exc}") from exc


# -- verify ----------------------------------------------------------------------------
@journal.command("verify")
@click.argument("path", metavar="DIR", type=click.Path(file_okay=True, dir_okay=True))
@click.option(
    "--shallow",
    is_flag=True,
    help="Only the checks every open does (headers, manifest, seals, head), not every record.",
)
def verify_cmd(path: str, shallow: bool) -> None:
    """Check every queue of DIR without changing anything.

    Prints one line per queue when it is whole and one line per finding when it is not
    (file, byte offset, the sequence numbers that cannot be read). Exit status 0 when
    everything is whole, 1 when anything is damaged.
    """
    _is_data_dir, queues = _resolve(path)
    damaged = False
    for name, qpath in queues.items():
        try:
            report = verify(qpath, deep=not shallow)
        except JournalError as exc:
            click.echo(f"DAMAGE {name}: {type(exc).__name__}: {exc}")
            damaged = True
            continue
        try:
            Queue.cursors(qpath)
        except CorruptCursor as exc:
            report.damage.append(exc)
        if not report.whole:
            damaged = True
            for line in report.findings():
                click.echo(f"DAMAGE {name}: {line}")
            continue
        used = [s for s in report.segments if s.base_seq is not None]
        last = None if report.next_seq is None else report.next_seq - 1
        span = (
            "no records"
            if last is None or last < (report.first_seq or 0)
            else (f"seqs {report.first_seq}..{last}")
        )
        count = "" if report.records is None else f"{report.records:,} records, "
        click.echo(f"OK {name}: {count}{span}, {len(used)} segment(s) [{qpath}]")
        if report.torn_tail is not None:
            file, offset = report.torn_tail
            click.echo(
                f"note {name}: torn tail after the last record [{file} @ offset {offset}]: "
                "a crashed append; the next writer cuts it"
            )
    if damaged:
        click.echo(
            f"{path}: damaged. Nothing was changed. To cut the journal at the damage: "
            f"whistle journal repair {path} --at-damage"
        )
        sys.exit(1)


# -- repair ----------------------------------------------------------------------------
_SHOW: Final = 20


def _command_label(codec: RecordCodec, payload: bytes) -> tuple[str, int | None]:
    """``(description, enq_seq or None)`` of a command-journal record."""
    try:
        item = codec.decode_record(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return f"undecodable record ({exc})", None
    if isinstance(item, Sequenced):
        return f"enq_seq {item.enq_seq} {type(item.command).__name__}", item.enq_seq
    return type(item).__name__, None


class _Prefix:
    """What the command journal's seqs ``..through`` hold: the last acknowledged
    ``enq_seq``, the snapshots their ``Snapshotted`` records name, the commands after
    the last kept ``Ticked`` record (``pending``: recovery runs them at the next tick,
    not at their original time) and -- replayed with the engines, exactly as ``whistle
    replay`` does -- the last event seq each symbol produces (``None`` when the journal
    no longer starts at seq 0).  Read with :func:`readable_prefix`, so it works on the
    damaged journals repair is for."""

    def __init__(self, qpath: str, through: int, codec: RecordCodec) -> None:
        self.last_enq = 0
        self.snapshots: set[tuple[int, int]] = set()
        self.pending: list[int] = []  # enq_seqs after the last kept Ticked record
        self.pending_from: int | None = None  # journal seq of the first of them
        engines: dict[int, Whistle] | None = {}
        first = True
        for rec_seq, _type_id, payload in readable_prefix(qpath, through):
            if first and rec_seq != 0:
                engines = None  # retention dropped the start: cannot replay from scratch
            first = False
            item = codec.decode_record(payload)
            if isinstance(item, Sequenced):
                if not self.pending:
                    self.pending_from = rec_seq
                self.pending.append(item.enq_seq)
            elif isinstance(item, Ticked):
                self.pending, self.pending_from = [], None
            self._take(item, engines)
        self.produced = None if engines is None else {s: e.book.seq for s, e in engines.items()}

    def _take(self, item: JournalRecord, engines: dict[int, Whistle] | None) -> None:
        if isinstance(item, Sequenced):
            self.last_enq = item.enq_seq
            if engines is not None:
                engines[item.command.symbol_id].enqueue(item.enq_seq, item.command)
        elif isinstance(item, Snapshotted):
            self.snapshots.add((item.symbol_id, item.enq_seq))
        elif engines is not None and isinstance(item, Ticked):
            for symbol_id in sorted(engines):
                engines[symbol_id].tick(item.now_ns)
        elif engines is not None and isinstance(item, Defined):
            engines[item.instrument.symbol_id] = Whistle(item.instrument)


def _events_cut(qpath: str, prefix: _Prefix, codec: RecordCodec) -> int:
    """Last events seq to keep: before the first event the kept commands do not produce
    (by replay; without one, the first with ``enq_seq`` after the last kept command),
    and never past the first damage of the event journal."""
    keep = -1
    produced = prefix.produced
    for rec_seq, _type_id, payload in readable_prefix(qpath, last_good_seq(qpath)):
        try:
            event = codec.decode_event(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return keep
        if produced is not None:
            if event.seq > produced.get(event.symbol_id, 0):
                return keep
        elif event.enq_seq > prefix.last_enq:
            return keep
        keep = rec_seq
    return keep


def _ranges(values: list[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1..3, 7, 9..10"`` (every value, compactly)."""
    parts: list[str] = []
    start = prev = values[0]
    for v in [*values[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}..{prev}")
        if v is not None:
            start = prev = v
    return ", ".join(parts)


def _print_plan(name: str, report: RepairReport) -> None:
    click.echo(f"{name}: {report.describe()}")
    for file in report.files_set_aside:
        click.echo(f"  set aside {file} -> {report.set_aside_dir}/")


def _repair_queue(
    qpath: str, seq: int | None, yes: bool, name: str, dest: str | None = None
) -> RepairReport:
    keep = last_good_seq(qpath) if seq is None else seq
    return truncate_after(qpath, keep, dry_run=not yes, set_aside=dest)


@journal.command("repair")
@click.argument("path", metavar="DIR", type=click.Path(file_okay=True, dir_okay=True))
@click.option(
    "--truncate-after",
    "seq",
    type=click.IntRange(min=-1),
    default=None,
    help="Keep records up to this sequence number (of DIR/commands for a data directory).",
)
@click.option("--at-damage", is_flag=True, help="Keep everything before the first damage.")
@click.option(
    "--cut-pending",
    is_flag=True,
    help="Data directory: also drop the kept commands whose Ticked record is dropped "
    "(otherwise they are kept and run at the venue's next tick, not at their original time).",
)
@click.option("--yes", is_flag=True, help="Do it (without --yes: print the plan only).")
def repair(path: str, seq: int | None, at_damage: bool, cut_pending: bool, yes: bool) -> None:
    """Cut the journal(s) of DIR, printing exactly what is dropped first.

    The only command that may cut a damaged journal (recovery never does). Without
    --yes nothing is changed. Refuses while a writer (a running venue) holds DIR.
    Dropped segment files are moved into DIR/damaged-<UTC timestamp>/ (never deleted),
    with a copy of the kept segment as it was before its tail was zeroed.

    For a data directory, commands kept after the last kept Ticked record (their tick
    was dropped) are listed: the venue runs them at its next tick, at a later time than
    they first ran; --cut-pending drops them too, so every kept command keeps its time.
    """
    if (seq is None) == (not at_damage):
        raise click.UsageError("give exactly one of --truncate-after SEQ and --at-damage")
    is_data_dir, queues = _resolve(path)
    if cut_pending and not is_data_dir:
        raise click.UsageError("--cut-pending needs a data directory (DIR/commands)")
    try:
        if not is_data_dir:
            name, qpath = next(iter(queues.items()))
            dest = os.path.join(qpath, damaged_dir_name())
            plan = _repair_queue(qpath, seq, False, name, dest)
            _print_plan(name, plan)
            if yes:
                _print_plan(name, _repair_queue(qpath, plan.kept_through, True, name, dest))
            else:
                click.echo("dry run: nothing changed (add --yes to do it)")
            return
        _repair_data_dir(path, queues, seq, yes, cut_pending)
    except WriterLockedError as exc:
        raise _fail(f"{path}: {exc.reason}; stop the venue first", 75) from exc
    except RepairError as exc:
        raise _fail(f"{path}: cannot repair: {exc}", 65) from exc


def _repair_data_dir(
    path: str, queues: dict[str, str], seq: int | None, yes: bool, cut_pending: bool
) -> None:
    codec = RecordCodec()
    cmds = queues.get(COMMANDS_DIR)
    if cmds is None:
        raise _fail(f"{path}: has no {COMMANDS_DIR}/ queue to repair", 65)
    dest = os.path.join(path, damaged_dir_name())
    keep = last_good_seq(cmds) if seq is None else seq
    plan = truncate_after(cmds, keep, dry_run=True)  # refuses an impossible cut first
    prefix = _Prefix(cmds, keep, codec)
    if cut_pending and prefix.pending_from is not None:
        keep = prefix.pending_from - 1
        plan = truncate_after(cmds, keep, dry_run=True)
        prefix = _Prefix(cmds, keep, codec)
    plan = plan._replace(set_aside_dir=os.path.join(dest, COMMANDS_DIR))
    max_enq = prefix.last_enq
    click.echo(
        f"{COMMANDS_DIR}: keep seqs through {keep} (the last kept acknowledged command is "
        f"enq_seq {max_enq})"
    )
    if prefix.pending:
        click.echo(
            f"  keeps {len(prefix.pending)} command(s) whose Ticked record is dropped: "
            f"enq_seq {_ranges(prefix.pending)} will run at the venue's next tick, not at "
            "their original time (add --cut-pending to drop them too)"
        )
    _print_plan(COMMANDS_DIR, plan)
    acked = [
        (rs, *_command_label(codec, payload)) for rs, _t, payload in readable_after(cmds, keep)
    ]
    enqs = [e for _s, _l, e in acked if e is not None]
    if enqs:
        click.echo(f"  drops {len(enqs)} readable acknowledged command(s): enq_seq {_ranges(enqs)}")
    for rec_seq, label, _enq in acked[:_SHOW]:
        click.echo(f"    seq {rec_seq}: {label}")
    if len(acked) > _SHOW:
        click.echo(f"    ... and {len(acked) - _SHOW} more record(s)")
    unreadable = (plan.dropped_count or 0) - plan.dropped_readable
    if plan.dropped_count is None:
        after = max([max_enq, *enqs])
        click.echo(
            "  and an unknown number of unreadable records (unknown end: the damaged file's "
            f"contents cannot be counted); any acknowledged command after enq_seq {after} "
            "is among them"
        )
    elif unreadable > 0:
        click.echo(f"  and {unreadable} unreadable record(s)")
    ev_plan = None
    events = queues.get(EVENTS_DIR)
    if events is not None:
        ev_keep = min(_events_cut(events, prefix, codec), last_good_seq(events))
        ev_plan = truncate_after(
            events, ev_keep, dry_run=True, set_aside=os.path.join(dest, EVENTS_DIR)
        )
        _print_plan(EVENTS_DIR, ev_plan)
    snaps = _snapshots_dropped(path, prefix)
    for snap in snaps:
        click.echo(
            f"{SNAPSHOTS_DIR}: set aside {snap} -> {_snap_aside(dest, snap)} "
            "(its Snapshotted record is dropped)"
        )
    if not yes:
        click.echo("dry run: nothing changed (add --yes to do it)")
        return
    truncate_after(cmds, keep, set_aside=os.path.join(dest, COMMANDS_DIR))
    if events is not None and ev_plan is not None:
        ev_keep = ev_plan.kept_through
        try:  # the venue's own rule, on the cut command journal (the same replay)
            exact = event_cut(path)
        except (JournalError, WhistleError):
            exact = ev_keep  # DIR/events itself is damaged: the planned cut bounds it
        if exact is not None and exact != ev_keep:
            click.echo(f"{EVENTS_DIR}: keeping seqs through {exact} (replay of the cut commands)")
            ev_keep = exact
        truncate_after(events, ev_keep, set_aside=os.path.join(dest, EVENTS_DIR))
    for snap in snaps:
        target = _snap_aside(dest, snap)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.rename(snap, target)
    click.echo(f"{path}: repaired; whistle journal verify {path} to check")


def _snap_aside(dest: str, snap: str) -> str:
    """Where a dropped snapshot file goes: ``dest/snapshots/<symbol>/<file>``."""
    sym_dir, name = os.path.split(snap)
    return os.path.join(dest, SNAPSHOTS_DIR, os.path.basename(sym_dir), name)


def _snapshots_dropped(path: str, prefix: _Prefix) -> list[str]:
    """Snapshot files no kept ``Snapshotted`` record names, anchored after the last kept
    command (older unnamed ones are left alone: retention's business)."""
    root = os.path.join(path, SNAPSHOTS_DIR)
    out: list[str] = []
    try:
        entries = sorted(os.listdir(root))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for entry in entries:
        sdir = os.path.join(root, entry)
        if not entry.isdigit() or not os.path.isdir(sdir):
            continue
        for f in sorted(os.listdir(sdir)):
            stem = f[: -len(_SNAP_SUFFIX)]
            if not (f.endswith(_SNAP_SUFFIX) and stem.isdigit()):
                continue
            anchor = int(stem)
            if (int(entry), anchor) not in prefix.snapshots and anchor > prefix.last_enq:
                out.append(os.path.join(sdir, f))
    return out
