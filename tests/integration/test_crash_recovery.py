"""Crash recovery under load: SIGKILL the venue process at seeded random points, restart it.

``whistle.tools.crashload`` runs a durable venue in a subprocess and appends every
acknowledged ``enq_seq`` to an ack file (one file per run). The loop below kills it with
SIGKILL ``WHISTLE_CRASH_KILLS`` times (default 5, for CI; the full run is 25, see
docs/crash-test.md), restarting it on the same data directory each time, then lets one
last run finish with a clean stop. After every kill and at the end it checks:

- the command journal holds ``enq_seq`` 1..E gapless, in order, each once, and each is the
  stream command of its index (so a restart resumed at the right index); every
  acknowledged ``enq_seq`` is among them, and at most one journaled command was not
  acknowledged (the kill fell between the journal append and the ack write);
- the events journaled before the crash are, per symbol, a gapless prefix 1..m;
- recovering the data directory (``Venue(data_dir=...)`` in this process) gives the same
  state hashes as a replay of the journal from empty books, and every recorded hash check
  of the replay passes (snapshots, and the ``Stopped`` record the recovered venue wrote);
- after recovery the event journal holds, per symbol, seqs exactly 1..M (no gap, no
  duplicate; seq-0 events ignored), M is the replayed engine's event count, and the events
  are the ones a re-run of the journal emits.

Half of the kills (seeded) check a sparse copy of the data directory, so the next run
recovers the crashed directory itself (and may be killed during that recovery); the
others check it in place, so the next run continues after a clean stop.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from whistle.coord.durability.datadir import iter_records
from whistle.coord.durability.records import (
    EVENTS_DIR,
    SNAPSHOTS_DIR,
    Checkpoint,
    Defined,
    RecordCodec,
    Sequenced,
    Snapshotted,
    Stopped,
    Ticked,
)
from whistle.coord.durability.replay import replay
from whistle.coord.venue.facade import Venue
from whistle.engine.whistle import Whistle
from whistle.journal import Queue
from whistle.tools.crashload import crash_instruments, crash_stream
from whistle.tools.smallfs import mount_tmpfs, unmount

if TYPE_CHECKING:
    from pathlib import Path

    from whistle.core.commands import Command
    from whistle.core.events import Event

KILLS = int(os.environ.get("WHISTLE_CRASH_KILLS", "5"))
HOST_KILLS = int(os.environ.get("WHISTLE_CRASH_HOST_KILLS", "2"))
"""Kills of the run with host processes (slower to start: two more processes per run)."""
SEED = int(os.environ.get("WHISTLE_CRASH_SEED", "20240611"))
SYMBOLS = 4
MAX_ACKS_PER_RUN = 2500
"""A kill comes after 1..MAX_ACKS_PER_RUN new acknowledgements (or early, see below)."""
EARLY_KILL = 0.2
"""Share of kills aimed at start-up: 0-0.4 s after the process opens the data directory,
i.e. during recovery or the first commands."""
TOTAL = KILLS * MAX_ACKS_PER_RUN + 3_000
"""Stream length: no run can finish before its kill."""
WAIT_S = 120.0
"""Deadline of any single wait (a generous bound for a loaded CI machine)."""
POLL_S = 0.002

pytestmark = pytest.mark.slow

_INSTRUMENTS = crash_instruments(SYMBOLS)
_NAMES = {i.symbol_id: i.symbol for i in _INSTRUMENTS}


# ---------------------------------------------------------------------------- helpers


def _sparse_copy(src: Path, dst: Path) -> None:
    # Journal segments are 64 MiB, mostly preallocated zeros: copy only the non-zero chunks.
    zeros = bytes(1 << 20)
    for path in sorted(src.rglob("*")):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as fin, open(target, "wb") as fout:
            while chunk := fin.read(len(zeros)):
                if chunk == zeros[: len(chunk)]:
                    fout.seek(len(chunk), os.SEEK_CUR)
                else:
                    fout.write(chunk)
            fout.truncate(path.stat().st_size)


def _read_acks(path: Path) -> list[int]:
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    assert lines[-1] == "", f"{path.name} ends with a partial line {lines[-1]!r}"
    return [int(line) for line in lines[:-1]]


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return handle.read().count(b"\n")
    except FileNotFoundError:
        return 0


def _journaled_events(data_dir: Path) -> dict[int, list[Event]]:
    """Every sequenced event (seq > 0) of DIR/events, per symbol, in journal order."""
    codec = RecordCodec()
    out: dict[int, list[Event]] = {}
    reader = Queue.open_subscriber(data_dir / EVENTS_DIR, "crash-test")
    try:
        reader.seek(0)
        while batch := reader.read_batch(4096):
            for item in batch:
                event = codec.decode_event(item.payload)
                if event.seq:
                    out.setdefault(event.symbol_id, []).append(event)
        reader.commit()
    finally:
        reader.close()
    return out


def _reference_events(data_dir: Path) -> dict[int, list[Event]]:
    """The sequenced events a re-run of the command journal from empty books emits."""
    engines: dict[int, Whistle] = {}
    out: dict[int, list[Event]] = {}
    for record in iter_records(data_dir):
        if isinstance(record, Defined):
            engines[record.instrument.symbol_id] = Whistle(record.instrument)
        elif isinstance(record, Sequenced):
            engines[record.command.symbol_id].enqueue(record.enq_seq, record.command)
        elif isinstance(record, Ticked):
            for sid in sorted(engines):
                for event in engines[sid].tick(record.now_ns):
                    if event.seq:
                        out.setdefault(sid, []).append(event)
    return out


def _kill_point(data_dir: Path) -> str:
    """Where the kill fell, read from the crashed journal's last record."""
    last = None
    named: set[tuple[str, str]] = set()
    for record in iter_records(data_dir):
        last = record
        if isinstance(record, Snapshotted):
            named.add((str(record.symbol_id), f"{record.enq_seq:020d}.snap"))
    files = {(p.parent.name, p.name) for p in (data_dir / SNAPSHOTS_DIR).glob("*/*")}
    if isinstance(last, Ticked | Snapshotted) and files - named:
        return "writing a checkpoint's snapshot"
    return {
        None: "before the first record",
        Defined: "defining instruments",
        Sequenced: "between commands",
        Ticked: "in a tick (or its events)",
        Snapshotted: "between a checkpoint's snapshots",
        Checkpoint: "after a checkpoint",
        Stopped: "at start-up (after a clean stop)",
    }[type(last) if last is not None else None]


def _seqs(events: list[Event]) -> list[int]:
    return [e.seq for e in events]


class Run:
    """One crashload process, its ack file and its output files."""

    def __init__(
        self,
        work: Path,
        data_dir: Path,
        number: int,
        extra: list[str] | None = None,
        count: int = TOTAL,
    ) -> None:
        self.count = count
        self.number = number
        self.acks = work / f"acks-{number:03d}.txt"
        self.stdout = work / f"run-{number:03d}.out"
        self.stderr = work / f"run-{number:03d}.err"
        cmd = [
            sys.executable,
            "-m",
            "whistle.tools.crashload",
            "--data-dir",
            str(data_dir),
            "--seed",
            str(SEED),
            "--start",
            "0",
            "--count",
            str(count),
            "--symbols",
            str(SYMBOLS),
            "--ack-file",
            str(self.acks),
            *(extra or []),
        ]
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err)

    def output(self) -> str:
        return f"stdout: {self.stdout.read_text()!r}\nstderr: {self.stderr.read_text()}"

    def wait_for_line(self, prefix: str) -> str:
        """Wait for a stdout line starting with ``prefix``; return it."""
        deadline = time.monotonic() + WAIT_S
        while True:
            for line in self.stdout.read_text().splitlines():
                if line.startswith(prefix):
                    return line
            self._alive()
            assert time.monotonic() < deadline, f"run {self.number}: no {prefix!r}\n{self.output()}"
            time.sleep(POLL_S)

    def _alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            pytest.fail(f"run {self.number} exited with {code} before its kill\n{self.output()}")

    def wait_for_output(self, text: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while text not in self.stdout.read_text():
            self._alive()
            assert time.monotonic() < deadline, f"run {self.number}: no {text!r}\n{self.output()}"
            time.sleep(POLL_S)

    def wait_for_acks(self, count: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while _count_lines(self.acks) < count:
            self._alive()
            assert time.monotonic() < deadline, f"run {self.number}: < {count} acks"
            time.sleep(POLL_S)

    def kill(self) -> None:
        self._alive()
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=WAIT_S) == -signal.SIGKILL

    def finish(self) -> None:
        code = self.proc.wait(timeout=WAIT_S * 5)
        assert code == 0, f"final run exited with {code}\n{self.output()}"
        assert f"done enq_seq={self.count}" in self.stdout.read_text()

    def reap(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------------------- checks


def check_journal(data_dir: Path, stream: list[Command], runs: list[Run], before: int) -> int:
    """Check the command journal and the acks of every run so far; return its last enq_seq.

    ``before`` is the last enq_seq the journal held when the latest run started.
    """
    sequenced = [r for r in iter_records(data_dir) if isinstance(r, Sequenced)]
    journaled = len(sequenced)
    assert [r.enq_seq for r in sequenced] == list(range(1, journaled + 1)), "enq_seq gap or dup"
    for record in sequenced:
        assert record.command == stream[record.enq_seq - 1], f"enq_seq {record.enq_seq}"
    acked = 0
    for run in runs:
        acks = _read_acks(run.acks)
        if acks:
            assert acks == list(range(acks[0], acks[0] + len(acks))), f"run {run.number} acks"
            acked = max(acked, acks[-1])
    latest = _read_acks(runs[-1].acks)
    if latest:
        assert latest[0] == before + 1, f"run {runs[-1].number} did not resume at {before + 1}"
    assert acked <= journaled, f"acknowledged enq_seq {acked} is not in the journal ({journaled})"
    assert journaled - max(acked, before) <= 1, "more than one journaled command was not acked"
    return journaled


def check_recovery(data_dir: Path, journaled: int, *, clean: bool | None = None) -> None:
    """Recover ``data_dir`` here and compare it with a replay from empty books."""
    crashed = _journaled_events(data_dir)
    for sid, events in crashed.items():
        assert _seqs(events) == list(range(1, len(events) + 1)), f"{_NAMES[sid]} events"
    reference = replay(data_dir)
    assert reference.ok, reference.mismatches
    if clean is not None:  # a crash may leave a clean stop: a kill before the first append
        assert reference.clean_stop is clean
    venue = Venue(data_dir=data_dir)
    try:
        recovered = venue.recovery.enq_seq if venue.recovery is not None else 0
        assert recovered == journaled
        hashes = venue.state_hashes()
    finally:
        venue.stop()
    assert hashes == reference.state_hashes
    after = replay(data_dir)  # checks the hashes the recovered venue recorded at its stop
    assert after.ok, after.mismatches
    assert after.clean_stop
    # The stop drained any acknowledged, unticked commands, so the books may have moved on
    # since `hashes`; after.ok proved the Stopped hashes equal a full replay, and the event
    # checks below compare the journal with that replay.
    for name, seq in reference.event_seqs.items():
        assert after.event_seqs[name] >= seq
    journal = _journaled_events(data_dir)
    expected = _reference_events(data_dir)
    for sid, name in _NAMES.items():
        count = after.event_seqs.get(name, 0)
        seqs = _seqs(journal.get(sid, []))
        assert seqs == list(range(1, count + 1)), f"{name}: event seqs not exactly 1..{count}"
        assert journal.get(sid, []) == expected.get(sid, []), f"{name}: events differ"
        assert len(crashed.get(sid, [])) <= count


# ---------------------------------------------------------------------------- tests

_KILLED_BEFORE_THE_TICK = """
import os, signal, sys
from whistle.coord.venue.facade import Venue
from whistle.core.commands import NewOrder
from whistle.core.instrument import Instrument

venue = Venue(data_dir=sys.argv[1])
venue.add_instrument(Instrument(symbol="A", symbol_id=1, tick_size="1"))
venue.enqueue(NewOrder(1, 1, 1, 1, 1, 1, 100, 5))
venue.tick()
assert venue.enqueue(NewOrder(1, 2, 1, 2, 1, 1, 101, 5)) == 2  # acknowledged, not ticked
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_venue_recovered_with_acknowledged_unticked_commands_stops_cleanly(tmp_path: Path):
    # The state most SIGKILLs leave: commands journaled after the last Ticked record.
    data_dir = tmp_path / "venue"
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_BEFORE_THE_TICK, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    venue = Venue(data_dir=data_dir)
    assert venue.recovery is not None
    assert venue.recovery.enq_seq == 2
    before = venue.state_hashes()
    # stop() drains: the acknowledged, never-ticked command runs (one journaled tick at the
    # current time), then the checkpoint and the Stopped record; it must not refuse.
    venue.stop()
    report = replay(data_dir)
    assert report.ok, report.mismatches
    assert report.clean_stop
    assert report.state_hashes != before  # the drained command changed the book
    with Venue(data_dir=data_dir) as again:  # and the stopped directory reopens
        assert again.recovery is not None
        assert again.recovery.enq_seq == 2
        assert again.recovery.clean_stop
        assert again.state_hashes() == report.state_hashes
        assert again.tick() == []  # nothing was left to run


def test_the_crash_stream_is_prefix_stable():
    assert crash_stream(SEED, SYMBOLS, 1_000) == crash_stream(SEED, SYMBOLS, 6_000)[:1_000]


def _kill_loop(tmp_path: Path, kills: int, extra: list[str], label: str) -> None:
    # Kill a crashload run `kills` times at seeded points, checking after every kill.
    rng = random.Random(SEED)
    total = kills * MAX_ACKS_PER_RUN + 3_000
    data_dir = tmp_path / "venue"
    scratch = tmp_path / "check"
    stream = crash_stream(SEED, SYMBOLS, total)
    runs: list[Run] = []
    journaled = 0
    acked = 0
    points: Counter[str] = Counter()
    started = time.monotonic()
    try:
        for number in range(kills):
            # Every draw up front: the sequence does not depend on what a kill hit.
            early = rng.random() < EARLY_KILL
            delay = rng.uniform(0.0, 0.4)
            target = rng.randint(1, MAX_ACKS_PER_RUN)
            on_copy = rng.random() < 0.5
            run = Run(tmp_path, data_dir, number, extra, total)
            runs.append(run)
            if early:
                run.wait_for_output("opening")
                time.sleep(delay)  # the kill point itself, not a wait for a condition
            else:
                run.wait_for_acks(target)
            run.kill()
            run_acks = _count_lines(run.acks)
            acked += run_acks
            if not (data_dir / "commands").is_dir():
                point = "before the data directory existed"
            else:
                point = _kill_point(data_dir)
            points[point] += 1
            print(
                f"kill {number}: {'early' if early else f'after {target} acks'}, {run_acks} acks,"
                f" {point}; checked {'on a copy' if on_copy else 'in place'}",
                flush=True,
            )
            if point == "before the data directory existed":
                continue
            before = journaled
            journaled = check_journal(data_dir, stream, runs, before)
            if on_copy:
                shutil.rmtree(scratch, ignore_errors=True)
                _sparse_copy(data_dir, scratch)
                check_recovery(scratch, journaled)
            else:
                check_recovery(data_dir, journaled)
        final = Run(tmp_path, data_dir, kills, extra, total)
        runs.append(final)
        final.finish()
        assert check_journal(data_dir, stream, runs, journaled) == total
        check_recovery(data_dir, total, clean=True)
    finally:
        for run in runs:
            run.reap()
    where = ", ".join(f"{n} {p}" for p, n in points.most_common())
    print(
        f"\ncrash test ({label}): seed {SEED}, {kills} kills ({where}), {acked} acks before the"
        f" kills, {total} commands, {time.monotonic() - started:.1f} s"
    )


def test_sigkill_under_load_loses_no_acknowledged_command(tmp_path: Path):
    _kill_loop(tmp_path, KILLS, [], "in-process engines")


def test_sigkill_with_host_processes_loses_no_acknowledged_command(tmp_path: Path):
    # The same kills with the engines on two host processes: the venue process dies, its
    # hosts notice their parent is gone and exit; the next run recovers in-process.
    _kill_loop(tmp_path, HOST_KILLS, ["--hosts", "2"], "2 host processes")


def _mount_tmpfs(path: Path, size: str) -> None:
    why = mount_tmpfs(path, size)
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (CI runs as root and must be able to mount a tmpfs)")
        pytest.skip(why)


def _fill(mount: Path, ballast: Path, room: int) -> None:
    # Leave about `room` bytes free on the file system.
    ballast.unlink(missing_ok=True)
    stat = os.statvfs(mount)
    with open(ballast, "wb") as handle:
        handle.write(b"\1" * max(0, stat.f_bavail * stat.f_frsize - room))


def test_sigkill_while_the_disk_is_full(tmp_path: Path):
    # The load runs on a 4 MiB tmpfs that a ballast file fills up: a segment roll or a
    # snapshot hits ENOSPC, the venue refuses the command or tick (crashload retries it),
    # and the process is killed inside that window (round 0) or after the space came back
    # (round 1). A refused command must take no enq_seq and no acknowledged one may be lost.
    mount = tmp_path / "small"
    _mount_tmpfs(mount, "4m")
    rng = random.Random(SEED)
    data_dir = mount / "venue"
    ballast = mount / "ballast"
    scratch = tmp_path / "check"
    total = 8_000
    stream = crash_stream(SEED, SYMBOLS, total)
    extra = ["--segment-size", "16384", "--retry-refused"]
    runs: list[Run] = []
    journaled = 0
    try:
        for number in range(2):
            _fill(mount, ballast, rng.randrange(150, 400) * 1024)
            run = Run(tmp_path, data_dir, number, extra, total)
            runs.append(run)
            refused = run.wait_for_line("refused")
            if number == 0:
                time.sleep(rng.uniform(0.0, 0.2))  # killed while the disk is still full
                run.kill()
                ballast.unlink()
            else:
                ballast.unlink()  # space is back: the run must go on, then it is killed
                run.wait_for_acks(_count_lines(run.acks) + 200)
                run.kill()
            print(f"disk-full kill {number}: {refused!r}, {_count_lines(run.acks)} acks")
            # Every refusal is a typed journal error that names the file it could not write.
            for line in run.stdout.read_text().splitlines():
                if line.startswith("refused"):
                    assert str(data_dir) in line, f"a refusal does not name the file: {line}"
            journaled = check_journal(data_dir, stream, runs, journaled)
            shutil.rmtree(scratch, ignore_errors=True)
            _sparse_copy(data_dir, scratch)
            check_recovery(scratch, journaled)
        final = Run(tmp_path, data_dir, 2, extra, total)
        runs.append(final)
        final.finish()
        assert check_journal(data_dir, stream, runs, journaled) == total
        shutil.rmtree(scratch, ignore_errors=True)
        _sparse_copy(data_dir, scratch)
        check_recovery(scratch, total, clean=True)
    finally:
        for run in runs:
            run.reap()
        unmount(mount)
