"""The fault-injection harness: a journaled venue under load, one fault, a verdict.

``build`` drives a venue with a data directory through a seeded command flow (the
``whistle.tools.crashload`` stream: several symbols, ticks every ``TICK_EVERY`` commands,
checkpoints every few hundred commands, small journal segments so there are many of
them). It remembers every *acknowledged* command (``enq_seq`` and content) and every tick,
then leaves the directory as a crash leaves it (no ``Stopped`` record, page cache intact).

``reference`` re-runs exactly those acknowledged commands and ticks on fresh engines, with
no journal: the state hashes and the events an uninterrupted run has.

``judge`` is the oracle. After one fault was injected into a copy of the directory it
opens it three ways -- ``whistle.coord.replay.replay``, the ``whistle replay`` CLI (exit
code) and ``Venue(data_dir)`` -- and accepts exactly two outcomes:

(a) recovery succeeds: the command journal holds every acknowledged command once, in
    order, ``enq_seq`` gapless; every symbol's state hash equals the reference's; the
    event journal holds each symbol's events exactly once, equal to the reference's; the
    venue goes on (the next command gets the next ``enq_seq``) and stops cleanly;
(b) a clear refusal: a ``DataDirError`` / ``JournalError`` whose message names the damaged
    file and the offset, and not one byte of the directory changed.

All three must reach the same verdict. Anything else raises ``FaultFailure`` naming the
seed and the fault.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import re
import shutil
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner

from whistle.cli.main import main as cli_main
from whistle.coord.durability.datadir import DataDirError, iter_records
from whistle.coord.durability.records import (
    COMMANDS_DIR,
    EVENTS_DIR,
    SNAPSHOTS_DIR,
    RecordCodec,
    Sequenced,
)
from whistle.coord.durability.replay import replay
from whistle.coord.venue.facade import Venue
from whistle.core.commands import CancelReplace, Command, NewOrder
from whistle.core.events import OrderRejected
from whistle.engine.whistle import Whistle
from whistle.journal import JournalError, ReadOnlyReader
from whistle.journal.config import ensure_queue_dir
from whistle.tools.crashload import TICK_EVERY, crash_instruments, crash_stream, now_at

if TYPE_CHECKING:
    import random
    from collections.abc import Callable
    from pathlib import Path

    from whistle.core.events import Event

__all__ = [
    "REFUSALS",
    "SEGMENT_SIZE",
    "TOTALS",
    "Built",
    "Fault",
    "FaultFailure",
    "Load",
    "Tally",
    "abandon",
    "build",
    "fault_count",
    "judge",
    "record_offsets",
    "reference",
    "tree_digest",
]

SEGMENT_SIZE = 16 * 1024
"""Journal segment size of the fault runs: a few thousand commands fill dozens."""
REFUSALS: tuple[type[BaseException], ...] = (DataDirError, JournalError)
"""The only exception types a refused open may raise."""
LONG = int(os.environ.get("WHISTLE_FAULTS", "0"))
"""``WHISTLE_FAULTS=N`` selects the long run: about N injected faults in all."""


TOTALS: dict[str, int] = {"a": 0, "b": 0, "failed": 0}
"""Outcomes of every fault injected in this session (printed at the end of the run)."""


class FaultFailure(AssertionError):
    """An outcome outside (a) and (b): the report names the seed and the fault."""


def fault_count(short: int, share: float) -> int:
    """Return how many faults a class injects: ``short`` in CI, ``share`` of the long run."""
    if LONG:
        return max(short, round(LONG * share))
    return short


# ---------------------------------------------------------------------------- the load


@dataclass(frozen=True)
class Load:
    """What to build: a seeded flow over ``symbols`` symbols, journaled in small segments."""

    seed: int
    commands: int = 1_600
    symbols: int = 4
    checkpoint_every: int = 300
    segment_size: int = SEGMENT_SIZE
    hosts: int = 0
    tick_every: int = TICK_EVERY
    fsync: str = "none"


@dataclass(repr=False)
class Built:
    """A journaled directory left as a crash leaves it, and what was acknowledged."""

    load: Load
    data_dir: Path
    acked: list[tuple[int, Command]] = field(default_factory=list)
    ticks: list[tuple[int, int]] = field(default_factory=list)
    """``(after_acked, now_ns)``: a tick after the first ``after_acked`` acked commands."""
    hashes: dict[str, str] = field(default_factory=dict)
    events: dict[int, list[Event]] = field(default_factory=dict)

    @property
    def last_enq_seq(self) -> int:
        return self.acked[-1][0] if self.acked else 0

    def __repr__(self) -> str:
        return f"Built({self.load}, {self.data_dir}, {len(self.acked)} acked)"


def prepare(data_dir: Path, segment_size: int) -> None:
    """Create the two queues with ``segment_size`` segments (a queue keeps its size)."""
    for name in (COMMANDS_DIR, EVENTS_DIR):
        ensure_queue_dir(str(data_dir / name), segment_size)


def open_venue(data_dir: Path, load: Load) -> Venue:
    """Open ``Venue(data_dir)`` the way every run of ``load`` does."""
    kwargs: dict[str, Any] = {"checkpoint_every": load.checkpoint_every, "fsync": load.fsync}
    if load.hosts:
        kwargs["hosts"] = load.hosts
    if "segment_size" in inspect.signature(Venue).parameters:
        kwargs["segment_size"] = load.segment_size
    return Venue(data_dir=data_dir, **kwargs)


def abandon(venue: Venue) -> None:
    """Leave the venue as SIGKILL would (no tick, no checkpoint, no ``Stopped``).

    The page cache survives a process death, so closing the writers without writing a
    record is the same on disk; it releases the writer locks so this process can reopen.
    """
    journal = getattr(venue, "_journal", None)
    if journal is not None:
        for name in ("_commands", "_events"):
            writer = getattr(journal, name, None)
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
    for host in venue.hosts:
        with contextlib.suppress(Exception):
            host.stop()
    # The venue object must not be used again (its journal is closed).
    with contextlib.suppress(AttributeError):
        venue._stopped = True


def drive(
    venue: Venue,
    built: Built,
    stream: list[Command],
    start: int,
    end: int,
    on_refused: Callable[[int, str, BaseException | OrderRejected], None] | None = None,
) -> None:
    """Send ``stream[start:end]``, ticking as crashload does; record what was acknowledged.

    A refused command (an exception or an unsequenced reject) is not acknowledged; a tick
    that raised is retried at the same time (a tick with nothing new to run is a no-op on
    the books, so the reference holds it once).
    """
    for index in range(start, end):
        try:
            result: int | OrderRejected = venue.enqueue(stream[index])
        except Exception as exc:
            if on_refused is None:
                raise
            on_refused(index, "enqueue", exc)
        else:
            if isinstance(result, OrderRejected):
                if on_refused is None:
                    raise FaultFailure(f"stream index {index} refused: {venue.last_reject_detail}")
                on_refused(index, "enqueue", result)
            else:
                built.acked.append((result, stream[index]))
        if (index + 1) % built.load.tick_every == 0:
            tick(venue, built, max(venue.now_ns, now_at(index)), on_refused, index)


def tick(
    venue: Venue,
    built: Built,
    now_ns: int,
    on_refused: Callable[[int, str, BaseException | OrderRejected], None] | None = None,
    index: int = -1,
) -> None:
    """Tick at ``now_ns``; on a refusal report it and retry once (same time)."""
    try:
        venue.tick(now_ns)
    except Exception as exc:
        if on_refused is None:
            raise
        on_refused(index, "tick", exc)
        venue.tick(now_ns)
    built.ticks.append((len(built.acked), now_ns))


def build(data_dir: Path, load: Load, edit: Callable[[list[Command]], None] | None = None) -> Built:
    """Build ``load`` in ``data_dir`` and leave it crashed after a final tick.

    ``edit`` may change the stream first (a second history of the same shape).
    """
    prepare(data_dir, load.segment_size)
    built = Built(load, data_dir)
    stream = crash_stream(load.seed, load.symbols, load.commands)
    if edit is not None:
        edit(stream)
    venue = open_venue(data_dir, load)
    try:
        for instrument in crash_instruments(load.symbols):
            venue.add_instrument(instrument)
        drive(venue, built, stream, 0, load.commands)
        tick(venue, built, max(venue.now_ns, now_at(load.commands - 1)))
        live = venue.state_hashes()
    finally:
        abandon(venue)
    finish(built)
    if live != built.hashes:
        raise FaultFailure(f"seed {load.seed}: the live venue differs from the reference run")
    return built


def finish(built: Built) -> None:
    """Fill in the reference hashes and events of ``built``."""
    built.hashes, built.events = reference(built.load.symbols, built.acked, built.ticks)


def reference(
    symbols: int, acked: list[tuple[int, Command]], ticks: list[tuple[int, int]]
) -> tuple[dict[str, str], dict[int, list[Event]]]:
    """Re-run the acknowledged commands and ticks on fresh engines (no journal)."""
    engines = {i.symbol_id: Whistle(i) for i in crash_instruments(symbols)}
    events: dict[int, list[Event]] = {sid: [] for sid in engines}
    done = 0
    for after, now_ns in ticks:
        for enq_seq, command in acked[done:after]:
            engines[command.symbol_id].enqueue(enq_seq, command)
        done = after
        for sid in sorted(engines):
            events[sid].extend(e for e in engines[sid].tick(now_ns) if e.seq)
    for enq_seq, command in acked[done:]:
        engines[command.symbol_id].enqueue(enq_seq, command)
    hashes = {i.symbol: engines[i.symbol_id].state_hash() for i in crash_instruments(symbols)}
    return hashes, events


# ---------------------------------------------------------------------------- files


def tree_digest(root: Path) -> dict[str, str]:
    """Every file and directory under ``root``: its SHA-256 (files) or ``dir``."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = f"symlink {os.readlink(path)}"
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def segments(data_dir: Path, queue: str) -> list[Path]:
    """The segment files of ``DIR/<queue>``, by id."""
    return sorted((data_dir / queue).glob("*.wseg"))


_HDR = struct.Struct("<8sHHIQQQ")
_U32 = struct.Struct("<I")
_REC = struct.Struct("<IIQQ")


def record_offsets(path: Path) -> list[int]:
    """Return the offsets of the committed records of a segment, in order."""
    data = path.read_bytes()
    if len(data) < 128 or data[:8] != b"WHSTLSEG" or _U32.unpack_from(data, 44)[0] == 0:
        return []
    out: list[int] = []
    off = 128
    while off + 32 <= len(data):
        n = _REC.unpack_from(data, off)[0]
        tpos = off + ((24 + n + 3) & ~3)
        if n == 0 or tpos + 8 > len(data) or _U32.unpack_from(data, tpos + 4)[0] != 0xC3A57E19:
            break
        out.append(off)
        off = (tpos + 8 + 7) & ~7
    return out


def used_extent(path: Path) -> int:
    """Return the first byte after the last committed record of a segment (0: none)."""
    data = path.read_bytes()
    if len(data) < 128 or data[:8] != b"WHSTLSEG":
        return len(data)
    offsets = record_offsets(path)
    if not offsets:
        return 0 if _U32.unpack_from(data, 44)[0] == 0 else 128
    last = offsets[-1]
    n = _REC.unpack_from(data, last)[0]
    return (last + ((24 + n + 3) & ~3) + 8 + 7) & ~7


def snapshot_files(data_dir: Path) -> list[Path]:
    """Every snapshot file, by symbol and anchor."""
    return sorted((data_dir / SNAPSHOTS_DIR).glob("*/*.snap"))


# ---------------------------------------------------------------------------- faults


@dataclass
class Fault:
    """One injected fault: what was done, to which file, where."""

    kind: str
    seed: int
    files: list[Path]
    offset: int | None = None
    detail: str = ""
    must_refuse: bool = False
    """Recovery cannot be whole (acknowledged data is gone): outcome (b) is required."""

    def __str__(self) -> str:
        where = ", ".join(str(p) for p in self.files)
        at = f" at offset {self.offset}" if self.offset is not None else ""
        return f"{self.kind} (seed {self.seed}) {where}{at} {self.detail}".rstrip()


def flip_bit(path: Path, offset: int, bit: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ (1 << bit)]))


def truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(size)


def pick_offset(rng: random.Random, path: Path) -> int:
    """A random offset, mostly inside the segment's records, sometimes in its header."""
    size = path.stat().st_size
    used = used_extent(path) if path.suffix == ".wseg" else size
    roll = rng.random()
    if roll < 0.1 or used <= 128:
        return rng.randrange(0, min(128, size))
    if roll < 0.95 or used >= size:
        return rng.randrange(128, used)
    return rng.randrange(used, size)


# ---------------------------------------------------------------------------- the oracle


@dataclass
class Verdict:
    """What ``replay`` said: ok, damage it listed (``problems``), or a refusal (``error``)."""

    ok: bool
    error: BaseException | None = None
    detail: str = ""
    problems: list[str] = field(default_factory=list)
    snapshot_problems: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)


@dataclass
class Tally:
    """Outcomes over many faults; failures are collected, reported together."""

    name: str
    a: int = 0
    b: int = 0
    failures: list[str] = field(default_factory=list)

    def record(self, outcome: str) -> None:
        TOTALS[outcome] += 1
        if outcome == "a":
            self.a += 1
        else:
            self.b += 1

    def fail(self, problem: str) -> None:
        TOTALS["failed"] += 1
        self.failures.append(problem)

    @property
    def total(self) -> int:
        return self.a + self.b + len(self.failures)

    def check(self, *, quiet: bool = False) -> None:
        summary = f"{self.name}: {self.total} faults, {self.a} recovered, {self.b} refused"
        if not quiet:
            print(summary, flush=True)
        if self.failures:
            shown = "\n".join(self.failures[:15])
            more = len(self.failures) - 15
            tail = f"\n... and {more} more" if more > 0 else ""
            raise FaultFailure(f"{summary}, {len(self.failures)} FAILED:\n{shown}{tail}")


def run_replay(data_dir: Path) -> Verdict:
    """``whistle.coord.replay.replay``: ok, a report listing damage, or a refusal."""
    try:
        report = replay(data_dir)
    except REFUSALS as exc:
        return Verdict(False, exc, f"replay refused: {exc}")
    except Exception as exc:  # an unexpected type: reported, never accepted
        return Verdict(False, exc, f"replay raised {type(exc).__name__}: {exc}")
    problems = [
        f"{m.where}: {m.symbol} recorded {m.recorded}, replayed {m.replayed}"
        for m in report.mismatches
    ]
    snapshots = [str(p) for p in getattr(report, "snapshot_problems", [])]
    problems += snapshots
    problems += [str(p) for p in getattr(report, "event_gaps", [])]
    problems += [str(p) for p in getattr(report, "event_problems", [])]
    if not report.ok:
        detail = f"replay lists damage: {'; '.join(problems)[:400] or 'not ok'}"
        return Verdict(False, None, detail, problems, snapshots, report.state_hashes)
    return Verdict(True, None, "replay ok", hashes=report.state_hashes)


def run_cli(data_dir: Path) -> tuple[int, str]:
    """``whistle replay DIR`` in this process: its exit code and output."""
    result = CliRunner().invoke(cli_main, ["replay", str(data_dir), "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return -1, f"traceback {type(result.exception).__name__}: {result.exception}"
    return result.exit_code, result.output


_HEADER_SLACK = 128
"""A segment header is 128 bytes, queue.meta 64: its CRC field is at most this far on."""


def _mentions(message: str, fault: Fault) -> str | None:
    # The damaged file (its name, or a path ending in it) and, for damage at a position,
    # "offset N" with N where that damage is detected.
    if fault.files and not any(p.name in message for p in fault.files):
        return f"the message does not name {[p.name for p in fault.files]}"
    if fault.offset is not None:
        found = [int(m) for m in re.findall(r"offset (\d+)", message)]
        if not found:
            return "the message gives no 'offset N'"
        # A record is named by its start (at or before the damage); a checksummed header
        # or metadata block by its checksum field, which may follow the damaged byte.
        if not any(n <= fault.offset + _HEADER_SLACK for n in found):
            return f"the message gives offsets {found}, all after the damage at {fault.offset}"
    return None


def journal_events(data_dir: Path) -> dict[int, list[Event]]:
    """Every sequenced event (seq > 0) of DIR/events, per symbol, in journal order."""
    decode = RecordCodec().decode_event
    out: dict[int, list[Event]] = {}
    reader = ReadOnlyReader(data_dir / EVENTS_DIR)
    try:
        while batch := reader.read_batch(4096):
            for item in batch:
                event = decode(item.payload)
                if event.seq:
                    out.setdefault(event.symbol_id, []).append(event)
    finally:
        reader.close()
    return out


def _order_ids(command: Command) -> list[int]:
    if isinstance(command, NewOrder):
        return [command.order_id]
    if isinstance(command, CancelReplace):
        return [command.new_order_id]
    return []


def _check_recovered(venue: Venue, built: Built, unacked: int, faulted: list[Path]) -> str | None:
    # Outcome (a), checked in full; returns what is wrong, or None.
    data_dir = built.data_dir
    sequenced = [(r.enq_seq, r.command) for r in iter_records(data_dir) if isinstance(r, Sequenced)]
    seqs = [s for s, _ in sequenced]
    if seqs != list(range(1, len(seqs) + 1)):
        dups = len(seqs) - len(set(seqs))
        return f"journal enq_seqs not 1..{len(seqs)} ({dups} duplicates)"
    if sequenced[: len(built.acked)] != built.acked:
        lost = next(
            i for i, pair in enumerate(built.acked) if i >= len(sequenced) or pair != sequenced[i]
        )
        return (
            f"acknowledged commands lost: the journal holds {len(sequenced)} of"
            f" {len(built.acked)}, first difference at enq_seq {lost + 1}"
        )
    if len(sequenced) - len(built.acked) > unacked:
        return f"{len(sequenced) - len(built.acked)} journaled commands were never acknowledged"
    recovered = venue.recovery.enq_seq if venue.recovery is not None else 0
    if recovered != len(sequenced):
        return f"recovery reports enq_seq {recovered}, the journal holds {len(sequenced)}"
    hashes = venue.state_hashes()
    if hashes != built.hashes:
        differ = sorted(k for k in hashes if hashes[k] != built.hashes.get(k))
        return f"state hashes differ from the uninterrupted run for {differ}"
    events = journal_events(data_dir)
    for sid, expected in built.events.items():
        got = sorted(events.get(sid, []), key=lambda e: e.seq)
        if got != expected:
            gseqs = [e.seq for e in got]
            missing = sorted(set(range(1, len(expected) + 1)) - set(gseqs))
            dup = len(gseqs) - len(set(gseqs))
            return (
                f"event journal of symbol {sid}: {len(got)} events, reference"
                f" {len(expected)}; missing seqs {missing[:8]}, {dup} duplicates"
            )
    # Automatic order ids continue after every id the journal holds (never reused).
    highest: dict[int, int] = {}
    for _, command in sequenced:
        for oid in _order_ids(command):
            highest[command.symbol_id] = max(highest.get(command.symbol_id, 0), oid)
    for sid, top in highest.items():
        if venue.next_order_id(sid) <= top:
            return f"symbol {sid}: next automatic order id {venue.next_order_id(sid)} <= {top}"
    # It goes on: the next command gets the next enq_seq, and it stops cleanly.
    fresh = NewOrder(1, 10**12 + 1, 7, 1, 1, 1, 1, 1)
    got_seq = venue.enqueue(fresh)
    if got_seq != len(sequenced) + 1:
        return f"the next command got {got_seq!r}, expected enq_seq {len(sequenced) + 1}"
    venue.tick()
    venue.stop()
    after = replay(data_dir)
    # A snapshot the fault made unreadable stays so (the venue does not repair files):
    # replay may go on naming it, nothing else.
    broken = [str(f) for f in faulted]
    lingering = [p for p in after.snapshot_problems if not any(b in str(p) for b in broken)]
    clean = not (after.mismatches or after.event_gaps or after.event_problems or lingering)
    if not clean or not after.clean_stop:
        return (
            f"after the recovered venue stopped, replay: {after.mismatches},"
            f" clean stop {after.clean_stop}"
        )
    return None


def judge(
    built: Built,
    fault: Fault,
    *,
    unacked: int = 0,
    opener: Callable[[Path, Load], Venue] | None = None,
) -> str:
    """Open the faulted copy ``built.data_dir`` three ways; return ``"a"`` or ``"b"``.

    Raises ``FaultFailure`` for any other outcome. ``opener`` replaces ``open_venue``
    (e.g. to open under an injected fault).
    """
    data_dir = built.data_dir
    where = f"{fault}"
    before = tree_digest(data_dir)
    rep = run_replay(data_dir)
    if rep.error is not None and not isinstance(rep.error, REFUSALS):
        raise FaultFailure(f"{where}: {rep.detail}")
    if tree_digest(data_dir) != before:
        raise FaultFailure(f"{where}: replay wrote to the directory")
    code, output = run_cli(data_dir)
    if code < 0:
        raise FaultFailure(f"{where}: whistle replay: {output}")
    if (code == 0) != rep.ok:
        raise FaultFailure(
            f"{where}: whistle replay exits {code} but replay() says"
            f" {'ok' if rep.ok else rep.detail}"
        )
    if tree_digest(data_dir) != before:
        raise FaultFailure(f"{where}: whistle replay wrote to the directory")
    if rep.ok and rep.hashes != built.hashes:
        raise FaultFailure(
            f"{where}: replay says ok but its hashes differ from the uninterrupted run"
            " (acknowledged commands silently lost or changed)"
        )
    snapshots_hit = [p for p in fault.files if p.suffix == ".snap"]
    if (
        snapshots_hit
        and rep.snapshot_problems
        and not any(p.name in " ".join(rep.snapshot_problems) for p in snapshots_hit)
    ):
        raise FaultFailure(
            f"{where}: replay's snapshot problems do not name the file: {rep.detail}"
        )
    try:
        venue = (opener or open_venue)(data_dir, built.load)
    except Exception as exc:
        if not isinstance(exc, REFUSALS):
            raise FaultFailure(
                f"{where}: Venue raised {type(exc).__name__}: {exc} (not a DataDirError or"
                " JournalError)"
            ) from exc
        if tree_digest(data_dir) != before:
            changed = _changed(before, tree_digest(data_dir))
            raise FaultFailure(f"{where}: Venue refused ({exc}) but wrote {changed}") from exc
        if rep.ok:
            raise FaultFailure(f"{where}: Venue refused ({exc}) but replay says ok") from exc
        problem = _mentions(str(exc), fault)
        if problem is not None:
            raise FaultFailure(f"{where}: refusal {exc!r}: {problem}") from exc
        if rep.error is not None and _mentions(str(rep.error), fault) is not None:
            raise FaultFailure(
                f"{where}: replay's refusal {rep.error!r}: {_mentions(str(rep.error), fault)}"
            ) from exc
        return "b"
    try:
        # Same verdict: a directory replay cannot read is one Venue must refuse. Damage
        # replay lists but reads past (a bad snapshot) Venue may recover from, and says so.
        if rep.error is not None:
            raise FaultFailure(f"{where}: Venue recovered but {rep.detail}")
        if fault.must_refuse:
            raise FaultFailure(f"{where}: acknowledged data is gone but Venue recovered")
        fallbacks = getattr(venue.recovery, "fallbacks", None)
        if rep.snapshot_problems and not fallbacks:
            raise FaultFailure(
                f"{where}: Venue recovered without reporting a fallback, but {rep.detail}"
            )
        problem = _check_recovered(venue, built, unacked, fault.files)
    except BaseException:
        abandon(venue)
        raise
    if problem is not None:
        abandon(venue)
        raise FaultFailure(f"{where}: recovered, but {problem}")
    return "a"


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k))[:6]


def copy_built(built: Built, dst: Path) -> Built:
    """Return a copy of ``built`` whose directory is a fresh copy at ``dst``."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(built.data_dir, dst)
    return Built(built.load, dst, built.acked, built.ticks, built.hashes, built.events)


def attempt(tally: Tally, built: Built, fault: Fault, *, unacked: int = 0) -> None:
    """Judge one fault; a failure is recorded in ``tally`` (not raised)."""
    try:
        tally.record(judge(built, fault, unacked=unacked))
    except FaultFailure as exc:
        tally.fail(str(exc))
    except Exception as exc:  # the oracle's own reads blew up: still a finding
        tally.fail(f"{fault}: {type(exc).__name__} while judging: {exc}")
