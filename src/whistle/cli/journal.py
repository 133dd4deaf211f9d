"""``whistle journal``: inspect and tail a venue's journals (``whistle.coord.records``).

Both commands read through :class:`~whistle.journal.ReadOnlyReader`: they never
create a reader cursor or any other file, so running them against a live venue cannot
hold back retention.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import typing
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import click
import msgspec
from rich.console import Console
from rich.table import Table

from whistle.coord.playback import load_instruments
from whistle.coord.records import (
    COMMANDS_DIR,
    EVENT_TYPE_ID,
    EVENTS_DIR,
    SNAPSHOTS_DIR,
    Defined,
    JournalRecord,
    RecordCodec,
    Sequenced,
)
from whistle.core.enums import OrderType, Side, StpMode, TimeInForce
from whistle.core.fixed import from_units
from whistle.journal import JournalError, Queue, ReadOnlyReader
from whistle.journal.config import read_meta
from whistle.journal.segment import STATE_ACTIVE, STATE_SEALED, record_size, segment_name
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


def _fail(message: str) -> click.ClickException:
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
    """Everything ``inspect`` reports about one queue (one read-only pass)."""
    per_seg: dict[int, list[int]] = {}  # segment id -> [records, first, last, used bytes]
    by_type: dict[int, int] = {}
    with ReadOnlyReader(qpath) as reader:
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
    return {
        "path": qpath,
        "segments": segments,
        "records": sum(by_type.values()),
        "by_type": {_type_name(t): n for t, n in sorted(by_type.items())},
        "writer": _writer(qpath, ttl_ns),
        "cursors": {
            name: {"next_seq": pos.next_seq, "segment_id": pos.segment_id, "offset": pos.offset}
            for name, pos in sorted(Queue.cursors(qpath).items())
        },
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
            instruments = load_instruments(path)
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
