"""A data directory used the wrong way: twice at once, on read-only media, missing parts.

Each is an operator mistake rather than damage; the rule is the same: a typed error that
names the directory (and nothing written), or a whole recovery.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from faults.conftest import SEED
from faults.harness import (
    REFUSALS,
    Fault,
    Load,
    Tally,
    abandon,
    attempt,
    copy_built,
    open_venue,
    run_cli,
    run_replay,
    tree_digest,
)
from faults.test_disk_full import _mount_tmpfs
from whistle.coord.durability.records import COMMANDS_DIR, EVENTS_DIR, SNAPSHOTS_DIR
from whistle.tools.smallfs import unmount

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from faults.harness import Built

BASE = Load(seed=SEED, commands=1_500)

_SECOND = """
import sys
from whistle.coord.venue.facade import Venue
try:
    Venue(data_dir=sys.argv[1])
except Exception as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
sys.exit(0)
"""


def test_a_second_venue_on_a_live_directory_is_refused(
    bases: Callable[[Load], Built], scratch
) -> None:
    # One writer per directory: a second Venue (another process, and this one) must be
    # refused with a typed error naming the directory, and must not disturb the first.
    built = scratch(bases(BASE))
    first = open_venue(built.data_dir, built.load)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _SECOND, str(built.data_dir)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 3, f"a second process opened a live directory: {proc}"
        assert str(built.data_dir) in proc.stdout, proc.stdout
        assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
        with pytest.raises(REFUSALS) as refused:
            open_venue(built.data_dir, built.load)
        assert str(built.data_dir) in str(refused.value)
        assert isinstance(first.enqueue(built.acked[0][1]), int)  # the first goes on
        first.tick()
    finally:
        first.stop()
    rep = run_replay(built.data_dir)
    assert rep.ok, rep.detail


@pytest.fixture
def read_only(tmp_path: Path):
    mount = tmp_path / "ro"
    _mount_tmpfs(mount, "64m")
    try:
        yield mount
    finally:
        unmount(mount)


def test_a_directory_on_read_only_media(bases: Callable[[Load], Built], read_only: Path) -> None:
    # Replay needs no write: it must work on read-only media and agree with a writable
    # copy; a Venue cannot open there and must say why (naming the directory).
    base = bases(BASE)
    built = copy_built(base, read_only / "venue")
    empty = read_only / "empty"
    empty.mkdir()
    proc = subprocess.run(
        ["mount", "-o", "remount,ro", str(read_only)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"remount read-only refused: {proc.stderr}")
    before = tree_digest(built.data_dir)
    rep = run_replay(built.data_dir)
    assert rep.ok, f"replay on read-only media: {rep.detail}"
    assert run_cli(built.data_dir)[0] == 0
    problems: list[str] = []
    for target in (built.data_dir, empty / "new"):
        try:
            venue = open_venue(target, built.load)
        except REFUSALS as exc:
            if str(target) not in str(exc):
                problems.append(f"{exc!r} does not name {target}")
        except Exception as exc:
            problems.append(f"Venue({target}) raised {type(exc).__name__}: {exc}")
        else:
            abandon(venue)
            problems.append(f"Venue({target}) opened on read-only media")
    assert not problems, problems
    assert tree_digest(built.data_dir) == before


def test_missing_snapshot_and_event_directories(bases: Callable[[Load], Built], scratch) -> None:
    # DIR/snapshots gone: every checkpoint is unusable, the journal is whole (fall back to
    # empty books and the whole journal). DIR/events gone: rebuilt or refused, not silent.
    # DIR/commands gone: refused.
    base = bases(BASE)
    tally = Tally("a whole directory of snapshots or events removed")
    for name in (SNAPSHOTS_DIR, EVENTS_DIR, COMMANDS_DIR):
        built = scratch(base)
        shutil.rmtree(built.data_dir / name)
        # Without DIR/commands the acknowledged commands are gone: a venue must not start
        # fresh beside the events and snapshots of the lost history.
        fault = Fault(
            f"{name}/ removed", SEED, [built.data_dir / name], must_refuse=name == COMMANDS_DIR
        )
        attempt(tally, built, fault)
    # A symbol's snapshot directory replaced by a file: its checkpoints are unusable, and
    # later ones cannot be written there; the journal is whole.
    built = scratch(base)
    target = built.data_dir / SNAPSHOTS_DIR / "1"
    shutil.rmtree(target)
    target.write_bytes(b"not a directory")
    attempt(tally, built, Fault("snapshots/1 is a file", SEED, [target]))
    # A journal file replaced by a symlink loop.
    built = scratch(base)
    target = built.data_dir / EVENTS_DIR / "queue.manifest"
    target.unlink()
    target.symlink_to(target)
    attempt(tally, built, Fault("events/queue.manifest is a symlink loop", SEED, [target]))
    tally.check()
