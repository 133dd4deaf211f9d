"""Disk full at every write site, injected and real; then a crash and a reopen.

A child process (``harness.child_main``) runs the load with ENOSPC injected at one write
site (``harness.DiskFull``) or on a real 2 MiB tmpfs. The command or tick that hits the
full disk must be refused with a typed error naming the data directory (not
acknowledged), earlier acknowledged commands kept, the live venue equal to the
reference of what was acknowledged; then the space is freed, the load goes on, and the
child dies with ``os._exit`` (no stop). Reopening the directory must give outcome (a).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from faults.conftest import SEED
from faults.diskfull import CHILD, DiskFull, decode_built
from faults.harness import (
    SEGMENT_SIZE,
    TOTALS,
    Fault,
    FaultFailure,
    Load,
    Tally,
    fault_count,
    judge,
    open_venue,
    segments,
    used_extent,
)
from whistle.tools.smallfs import mount_tmpfs, unmount

if TYPE_CHECKING:
    from faults.harness import Built
    from whistle.coord.venue.facade import Venue

TESTS_DIR = str(Path(__file__).resolve().parents[1])
SITES = (
    "commands-append",
    "commands-tick",
    "commands-checkpoint",
    "events-append",
    "snapshot-write",
    "snapshot-replace",
    "prealloc",
    "manifest-eio",
    "snapshot-fsync-eio",
)
WAIT_S = 300


def run_child(
    data_dir: Path, load: Load, *, site: str = "none", after: int = 0, ballast: Path | None = None
) -> tuple[Built, dict[str, Any]]:
    out = data_dir.parent / f"{data_dir.name}.result"
    spec = {
        "load": {
            "seed": load.seed,
            "commands": load.commands,
            "symbols": load.symbols,
            "checkpoint_every": load.checkpoint_every,
            "segment_size": load.segment_size,
            "hosts": load.hosts,
            "tick_every": load.tick_every,
            "fsync": load.fsync,
        },
        "data_dir": str(data_dir),
        "site": site,
        "after": after,
        "ballast": None if ballast is None else str(ballast),
        "out": str(out),
    }
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, TESTS_DIR, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    if proc.returncode != 0 or not out.exists():
        raise FaultFailure(
            f"disk full at {site} (seed {load.seed}, after {after}): the load process exited"
            f" {proc.returncode}\n{proc.stderr[-3000:]}"
        )
    return decode_built(load, data_dir, out.read_bytes())


def check_run(built: Built, notes: dict[str, Any], fault: Fault, site: str) -> str:
    """Check what the child saw, then judge the crashed directory (outcome (a) only)."""
    where = str(fault)
    refusals = notes["refusals"]
    if site == "prealloc":
        if not notes["background_failures"]:
            raise FaultFailure(f"{where}: no background preallocation was attempted")
        if refusals or notes["after_free"]:
            raise FaultFailure(
                f"{where}: a background preallocation failure was visible: {refusals}"
            )
    else:
        for entry in refusals + notes["after_free"]:
            if not entry["typed"] or (
                entry["type"] != "OrderRejected" and str(built.data_dir) not in entry["message"]
            ):
                raise FaultFailure(
                    f"{where}: refusal at stream index {entry['index']} ({entry['call']}) is"
                    f" {entry['type']}: {entry['message']!r}; expected a JournalError or"
                    " DataDirError naming the data directory"
                )
    for entry in notes["checkpoint_errors"]:
        if str(built.data_dir) not in entry["message"]:
            raise FaultFailure(
                f"{where}: the failed checkpoint at stream index {entry['index']} is recorded"
                f" as {entry['message']!r}, which names no file"
            )
    if notes["checkpoint_errors"] and notes["last_checkpoint_error"]:
        raise FaultFailure(
            f"{where}: checkpoints still fail after the space came back:"
            f" {notes['last_checkpoint_error']}"
        )
    if notes["live"] != built.hashes:
        raise FaultFailure(
            f"{where}: after the refusal the live venue differs from a run of the acknowledged"
            " commands (a refused command was executed, or an acknowledged one lost)"
        )
    outcome = judge(built, fault)
    if outcome != "a":
        raise FaultFailure(f"{where}: the directory did not reopen after space was freed")
    return outcome


def _one(tmp_path: Path, site: str, seed: int) -> tuple[bool, str | None]:
    rng = random.Random(f"{seed}-{site}")
    checkpoint_every = 50 if site in ("commands-checkpoint", "snapshot-write") else 300
    load = Load(
        seed=seed,
        commands=1_500,
        checkpoint_every=checkpoint_every,
        segment_size=4096 if site.startswith("commands") else SEGMENT_SIZE,
        # Ticks often enough that a roll lands on a Ticked record (commands-tick).
        tick_every=5 if site == "commands-tick" else 50,
    )
    after = rng.randrange(100, 900)
    data_dir = tmp_path / f"{site}-{seed}"
    fault = Fault(f"disk full at {site}", seed, [], None, f"armed after {after} commands")
    try:
        built, notes = run_child(data_dir, load, site=site, after=after)
        if not notes["fired"] and site != "prealloc":
            return False, None
        calls = sorted({e["call"] for e in notes["refusals"]})
        print(
            f"{fault}: refused {len(notes['refusals'])} ({calls}), probe {notes['probe']},"
            f" checkpoint errors {len(notes['checkpoint_errors'])}"
        )
        check_run(built, notes, fault, site)
    except FaultFailure as exc:
        TOTALS["failed"] += 1
        return True, str(exc)
    except Exception as exc:
        TOTALS["failed"] += 1
        return True, f"{fault}: {type(exc).__name__} while judging: {exc}"
    TOTALS["a"] += 1
    return True, None


@pytest.mark.parametrize("site", SITES)
def test_disk_full_at_every_write_site(tmp_path: Path, site: str) -> None:
    runs = fault_count(1, 0.02)
    fired = 0
    failures: list[str] = []
    for n in range(runs * 3):  # a seed whose flow never reaches the site is replaced
        if fired >= runs:
            break
        reached, problem = _one(tmp_path, site, SEED + n)
        fired += reached
        if problem is not None:
            failures.append(problem)
    print(f"disk full at {site}: {fired} runs, {len(failures)} failed", flush=True)
    assert fired >= runs, f"the flow reached {site} in only {fired} of {runs * 3} seeds"
    if failures:
        raise FaultFailure("\n".join(failures[:6]))


# ---------------------------------------------------------------------------- real tmpfs


def _mount_tmpfs(path: Path, size: str) -> None:
    why = mount_tmpfs(path, size)
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (CI runs as root and must be able to mount a tmpfs)")
        pytest.skip(why)


@pytest.fixture
def small_fs(tmp_path: Path):
    mount = tmp_path / "small"
    _mount_tmpfs(mount, "2m")
    try:
        yield mount
    finally:
        unmount(mount)


def test_a_real_full_file_system(small_fs: Path) -> None:
    # A 2 MiB tmpfs, mostly taken by a ballast file: the load fills the rest, hits ENOSPC
    # wherever it falls (a segment roll, a snapshot), frees the ballast and goes on.
    failures: list[str] = []
    runs = fault_count(2, 0.02)
    rng = random.Random(f"{SEED}-tmpfs")
    for n in range(runs):
        for leftover in list(small_fs.iterdir()):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        ballast = small_fs / "ballast"
        room = rng.randrange(96, 400) * 1024
        stat = os.statvfs(small_fs)
        with open(ballast, "wb") as handle:
            handle.write(b"\1" * max(0, stat.f_bavail * stat.f_frsize - room))
        load = Load(seed=SEED + n, commands=3_000, checkpoint_every=300)
        data_dir = small_fs / f"venue-{n}"
        fault = Fault("real ENOSPC (2 MiB tmpfs)", SEED + n, [], None, f"{room} bytes free")
        try:
            built, notes = run_child(data_dir, load, ballast=ballast)
            if not notes["fired"]:
                failures.append(f"{fault}: the load never filled the file system")
                continue
            check_run(built, notes, fault, "tmpfs")
        except FaultFailure as exc:
            TOTALS["failed"] += 1
            failures.append(str(exc))
        else:
            TOTALS["a"] += 1
    if failures:
        raise FaultFailure("\n".join(failures))


def test_disk_full_while_a_crashed_venue_reopens(bases, scratch) -> None:
    # Recovery writes too (a torn tail cut, lost events re-recorded, the next segment):
    # with every segment creation failing, reopening must recover whole or refuse with
    # nothing written; once the space is back, the same directory must recover whole.
    tally = Tally("disk full while reopening")
    for load in (Load(seed=SEED, commands=2_000), Load(seed=SEED, commands=1_200)):
        base = bases(load)
        built = scratch(base)
        for queue in ("commands", "events"):
            for path in segments(built.data_dir, queue):
                if used_extent(path) == 0:
                    path.unlink()  # no preallocated segment: a roll must create one now
        full = DiskFull(built.data_dir, "recovery", 0, armed=True)

        def opener(data_dir: Path, load: Load, full: DiskFull = full) -> Venue:
            with full.installed():
                return open_venue(data_dir, load)

        fault = Fault("disk full while reopening", load.seed, [built.data_dir], None)
        try:
            outcome = judge(built, fault, opener=opener)
            tally.record(outcome)
            if outcome == "b":
                full.free()
                tally.record(judge(built, Fault("reopened with space", load.seed, [])))
        except FaultFailure as exc:
            tally.fail(str(exc))
    tally.check()
