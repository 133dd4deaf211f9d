"""A load process for crash tests: a durable venue fed a seeded stream, acks recorded.

Run as::

    python -m whistle.tools.crashload --data-dir DIR --seed S [--start K] --count N \
        [--symbols M] [--ack-file PATH] [--checkpoint-every C] [--fsync none] \
        [--hosts H] [--segment-size BYTES] [--retry-refused]

It opens ``Venue(data_dir=DIR)`` (recovering DIR if it exists), defines the instruments
``CRASH1``..``CRASHM`` (``symbol_id`` 1..M) that are not defined yet, and sends stream
commands ``K .. K+N-1`` with ``enqueue``, ticking every ``TICK_EVERY`` commands and moving
the virtual clock forward every ``ADVANCE_EVERY`` commands. When it is done it ticks once
more and calls ``venue.stop()`` (a checkpoint and a ``Stopped`` record).

The stream is a pure function of ``(seed, symbols, index)``: stream command ``i`` is
command ``i // M`` of the ``plain`` mix (``whistle.bench.mixes``, prefill first) of symbol
``i % M + 1``, generated with seed ``seed * 1000 + symbol_id``. A mix is prefix-stable (a
longer one starts with the shorter one), so any process regenerates the same commands.

Index and ``enq_seq``: this process is the venue's only client and the router never
refuses its commands (the in-process host queue holds far more than the ``TICK_EVERY``
commands queued between ticks), so stream command ``i`` is sequenced with
``enq_seq == i + 1``; the process checks it and exits with status 3 if not. A restarted
process reads the journal's last ``enq_seq`` E from ``venue.recovery`` and continues at
stream index E: the commands 0..E-1 are journaled already (acknowledged or not: a kill
between the journal append and the acknowledgement leaves one journaled command that
was never acknowledged). ``--start K`` with ``K > E`` would leave a gap and is refused
(status 2); with ``K <= E`` the first ``E - K`` commands are skipped.

Acknowledgements: after each ``enqueue`` returns, ``enq_seq`` is written as one line to
the ``--ack-file`` (opened for appending, line-buffered, flushed): a line in that file
means the command was acknowledged before the process died. A SIGKILL never splits a
small ``write`` to a regular file, so the file holds whole lines only.

Progress lines on stdout (flushed): ``opening``, ``ready next=E`` after recovery and
``done enq_seq=E`` after the clean stop.

Options for the fault runs (``tests/integration/test_crash_recovery.py``):

- ``--hosts H`` runs the engines on H host processes (``Venue(hosts=H)``);
- ``--segment-size BYTES`` creates a new data directory's two journals with segments of
  that size (a queue keeps the size it was created with), so a small file system holds
  many of them;
- ``--retry-refused``: a command or tick the venue refuses (an exception, e.g. a full
  disk, or an unsequenced reject) is not acknowledged; the process prints
  ``refused index=I: <error>`` and retries the same stream command every
  ``RETRY_SLEEP_S`` seconds until it is sequenced. A refused command must take no
  ``enq_seq``, so the stream keeps ``enq_seq == index + 1`` (status 3 otherwise).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

import msgspec

from whistle.bench.mixes import generate_mix
from whistle.coord.durability.records import COMMANDS_DIR, EVENTS_DIR
from whistle.coord.venue.facade import Venue
from whistle.core.events import OrderRejected
from whistle.core.instrument import Instrument
from whistle.journal import FsyncPolicy
from whistle.journal.config import ensure_queue_dir

if TYPE_CHECKING:
    from collections.abc import Sequence

    from whistle.core.commands import Command

__all__ = [
    "ADVANCE_EVERY",
    "MIX",
    "RETRY_SLEEP_S",
    "SYMBOL_PREFIX",
    "TICK_EVERY",
    "CrashLoadError",
    "SequenceMismatch",
    "crash_instruments",
    "crash_stream",
    "main",
    "now_at",
    "run_load",
]

MIX: Final = "plain"
"""The ``whistle.bench.mixes`` mix each symbol's commands are drawn from."""
SYMBOL_PREFIX: Final = "CRASH"
TICK_EVERY: Final = 50
"""A tick after every stream command ``i`` with ``(i + 1) % TICK_EVERY == 0``."""
ADVANCE_EVERY: Final = 200
"""The clock reads ``now_at(i)``: one virtual millisecond per ``ADVANCE_EVERY`` commands."""
_MS: Final = 1_000_000
_PREFILL: Final = 1_000
"""Prefill length of the ``plain`` mix (its first commands build the book)."""
RETRY_SLEEP_S: Final = 0.02
"""With ``--retry-refused``: the pause before a refused command or tick is tried again."""


class CrashLoadError(Exception):
    """The data directory does not fit the requested stream (exit status 2)."""


class SequenceMismatch(CrashLoadError):
    """A command was refused or got an unexpected ``enq_seq`` (exit status 3)."""


def crash_instruments(symbols: int) -> list[Instrument]:
    """Return the stream's instruments: ``CRASH1``..``CRASH<symbols>``, ids 1..symbols."""
    if symbols < 1:
        raise ValueError(f"symbols must be >= 1, was {symbols}")
    return [
        Instrument(symbol=f"{SYMBOL_PREFIX}{sid}", symbol_id=sid, tick_size="0.01", lot_size="1")
        for sid in range(1, symbols + 1)
    ]


def crash_stream(seed: int, symbols: int, end: int) -> list[Command]:
    """Return stream commands ``0 .. end-1`` for ``seed`` over ``symbols`` symbols."""
    instruments = crash_instruments(symbols)
    if end <= 0:
        return []
    per_symbol = -(-end // symbols)  # ceil: symbol 1 gets the most
    lanes: list[list[Command]] = []
    for instrument in instruments:
        sid = instrument.symbol_id
        mix = generate_mix(MIX, max(1, per_symbol - _PREFILL), seed * 1000 + sid)
        lane = mix.prefill + mix.commands
        lanes.append([msgspec.structs.replace(c, symbol_id=sid) for c in lane[:per_symbol]])
    return [lanes[i % symbols][i // symbols] for i in range(end)]


def now_at(index: int) -> int:
    """Return the virtual time (ns) of the tick after stream command ``index``."""
    return ((index + 1) // ADVANCE_EVERY) * _MS


def _say(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()


def run_load(
    data_dir: str,
    *,
    seed: int,
    start: int,
    count: int,
    symbols: int = 4,
    ack_file: str | None = None,
    checkpoint_every: int = 500,
    fsync: FsyncPolicy = FsyncPolicy.NONE,
    out: TextIO | None = None,
    hosts: int = 0,
    segment_size: int | None = None,
    retry_refused: bool = False,
) -> int:
    """Send stream commands ``start .. start+count-1`` (resuming); return the last enq_seq."""
    if start < 0 or count < 0:
        raise ValueError(f"start and count must be >= 0, were {start} and {count}")
    progress = out if out is not None else sys.stdout
    end = start + count
    stream = crash_stream(seed, symbols, end)  # before opening: a kill soon after hits recovery
    if segment_size is not None:
        for name in (COMMANDS_DIR, EVENTS_DIR):
            ensure_queue_dir(str(Path(data_dir) / name), segment_size)
    _say(progress, "opening")
    venue = Venue(data_dir=data_dir, checkpoint_every=checkpoint_every, fsync=fsync, hosts=hosts)
    try:
        journaled = venue.recovery.enq_seq if venue.recovery is not None else 0
        if journaled < start:
            raise CrashLoadError(
                f"the journal holds {journaled} commands: starting at stream index {start}"
                " would leave a gap"
            )
        expected = crash_instruments(symbols)
        for instrument in expected:
            if venue.is_registered(instrument.symbol_id):
                if venue.instrument(instrument.symbol_id) != instrument:
                    raise CrashLoadError(
                        f"{data_dir} defines symbol_id {instrument.symbol_id} differently"
                    )
            else:
                venue.add_instrument(instrument)
        if len(venue.symbols) != symbols:
            raise CrashLoadError(f"{data_dir} defines {venue.symbols}, not {symbols} symbols")
        _say(progress, f"ready next={journaled}")
        acks = open(ack_file, "a", buffering=1) if ack_file is not None else None  # noqa: SIM115
        try:
            for index in range(journaled, end):
                result = _send(venue, stream[index], index, progress, retry_refused)
                if isinstance(result, OrderRejected) or result != index + 1:
                    raise SequenceMismatch(
                        f"stream index {index}: expected enq_seq {index + 1}, got {result!r}"
                        f" ({venue.last_reject_detail})"
                    )
                if acks is not None:
                    acks.write(f"{result}\n")
                    acks.flush()
                if (index + 1) % TICK_EVERY == 0:
                    _tick(venue, max(venue.now_ns, now_at(index)), index, progress, retry_refused)
        finally:
            if acks is not None:
                acks.close()
        _tick(venue, max(venue.now_ns, now_at(end - 1)), end, progress, retry_refused)
    except BaseException:
        # Stop the hosts; the journal stays as a crash leaves it (no Stopped record).
        for host in venue.hosts:
            host.stop()
        raise
    venue.stop()
    _say(progress, f"done enq_seq={venue.enq_seq}")
    return venue.enq_seq


def _send(
    venue: Venue, command: Command, index: int, progress: TextIO, retry: bool
) -> int | OrderRejected:
    # One stream command; with ``retry`` a refusal is reported and the command sent again.
    while True:
        try:
            result = venue.enqueue(command)
        except Exception as exc:
            if not retry:
                raise
            _say(progress, f"refused index={index}: {type(exc).__name__}: {exc}")
        else:
            if not (retry and isinstance(result, OrderRejected)):
                return result
            _say(progress, f"refused index={index}: {venue.last_reject_detail}")
        time.sleep(RETRY_SLEEP_S)


def _tick(venue: Venue, now_ns: int, index: int, progress: TextIO, retry: bool) -> None:
    # A tick that raised is retried at the same time: with nothing new queued a second tick
    # changes no book, so the stream's books do not depend on how often it was retried.
    while True:
        try:
            venue.tick(now_ns)
        except Exception as exc:
            if not retry:
                raise
            _say(progress, f"refused tick index={index}: {type(exc).__name__}: {exc}")
            time.sleep(RETRY_SLEEP_S)
        else:
            return


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the load; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m whistle.tools.crashload",
        description="Drive a durable venue with a seeded stream, recording every ack.",
    )
    parser.add_argument("--data-dir", required=True, help="venue data directory")
    parser.add_argument("--seed", type=int, required=True, help="stream seed")
    parser.add_argument("--start", type=int, default=0, help="first stream index (default 0)")
    parser.add_argument("--count", type=int, required=True, help="number of stream commands")
    parser.add_argument("--symbols", type=int, default=4, help="number of symbols (default 4)")
    parser.add_argument("--ack-file", default=None, help="append one enq_seq line per ack")
    parser.add_argument("--checkpoint-every", type=int, default=500, help="default 500")
    parser.add_argument(
        "--fsync", choices=[p.value for p in FsyncPolicy], default=FsyncPolicy.NONE.value
    )
    parser.add_argument("--hosts", type=int, default=0, help="engine host processes (default 0)")
    parser.add_argument(
        "--segment-size", type=int, default=None, help="journal segment size of a new directory"
    )
    parser.add_argument(
        "--retry-refused", action="store_true", help="retry refused commands and ticks"
    )
    args = parser.parse_args(argv)
    try:
        run_load(
            args.data_dir,
            seed=args.seed,
            start=args.start,
            count=args.count,
            symbols=args.symbols,
            ack_file=args.ack_file,
            checkpoint_every=args.checkpoint_every,
            fsync=FsyncPolicy(args.fsync),
            hosts=args.hosts,
            segment_size=args.segment_size,
            retry_refused=args.retry_refused,
        )
    except CrashLoadError as exc:
        print(f"crashload: {exc}", file=sys.stderr)
        return 3 if isinstance(exc, SequenceMismatch) else 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
