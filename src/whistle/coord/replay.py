"""``replay``: rebuild every book of a data directory from its command journal alone.

No snapshot is used: every engine starts empty and re-matches every journaled command
at its journaled tick. Each ``Snapshotted`` record is a check (the rebuilt engine must
hash as the snapshot did at that point of the journal), and so is a ``Stopped`` record
(every symbol's hash at the clean stop). ``whistle replay DIR`` prints the report and
exits non-zero when any check fails.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, final

import msgspec

from whistle.coord.durability import iter_records
from whistle.coord.records import Defined, Sequenced, Snapshotted, Stopped, Ticked
from whistle.engine.whistle import Whistle

if TYPE_CHECKING:
    import os

__all__ = ["HashMismatch", "ReplayReport", "replay"]


@final
class HashMismatch(msgspec.Struct, frozen=True):
    """A check that failed: where, which symbol, what was recorded, what replay got."""

    where: str
    symbol: str
    symbol_id: int
    recorded: str
    replayed: str


@final
class ReplayReport(msgspec.Struct, kw_only=True):
    """What a replay rebuilt and checked."""

    symbols: int
    commands: int
    ticks: int
    events: int
    seconds: float
    commands_per_sec: float
    checks: int
    mismatches: list[HashMismatch]
    clean_stop: bool
    state_hashes: dict[str, str]
    event_seqs: dict[str, int]

    @property
    def ok(self) -> bool:
        """Return whether every recorded hash matched."""
        return not self.mismatches


def replay(data_dir: str | os.PathLike[str]) -> ReplayReport:
    """Re-match the whole journal of ``data_dir``; check every recorded state hash."""
    engines: dict[int, Whistle] = {}
    names: dict[int, str] = {}
    mismatches: list[HashMismatch] = []
    commands = ticks = events = checks = 0
    last_was_stop = False
    start = time.perf_counter()
    for record in iter_records(data_dir):
        last_was_stop = False
        if isinstance(record, Sequenced):
            engines[record.command.symbol_id].enqueue(record.enq_seq, record.command)
            commands += 1
        elif isinstance(record, Ticked):
            now = record.now_ns
            for symbol_id in sorted(engines):
                events += len(engines[symbol_id].tick(now))
            ticks += 1
        elif isinstance(record, Defined):
            instrument = record.instrument
            engines[instrument.symbol_id] = Whistle(instrument)
            names[instrument.symbol_id] = instrument.symbol
        elif isinstance(record, Snapshotted):
            checks += 1
            got = engines[record.symbol_id].state_hash()
            if got != record.state_hash:
                mismatches.append(
                    HashMismatch(
                        where=f"snapshot at enq_seq {record.enq_seq}",
                        symbol=names[record.symbol_id],
                        symbol_id=record.symbol_id,
                        recorded=record.state_hash,
                        replayed=got,
                    )
                )
        elif isinstance(record, Stopped):
            last_was_stop = True
            for symbol_id, recorded in sorted(record.state_hashes.items()):
                checks += 1
                got = engines[symbol_id].state_hash()
                if got != recorded:
                    mismatches.append(
                        HashMismatch(
                            where=f"stop at enq_seq {record.enq_seq}",
                            symbol=names[symbol_id],
                            symbol_id=symbol_id,
                            recorded=recorded,
                            replayed=got,
                        )
                    )
    seconds = time.perf_counter() - start
    return ReplayReport(
        symbols=len(engines),
        commands=commands,
        ticks=ticks,
        events=events,
        seconds=round(seconds, 6),
        commands_per_sec=round(commands / seconds, 1) if seconds > 0 else 0.0,
        checks=checks,
        mismatches=mismatches,
        clean_stop=last_was_stop,
        state_hashes={names[s]: engines[s].state_hash() for s in sorted(engines)},
        event_seqs={names[s]: engines[s].book.seq for s in sorted(engines)},
    )
