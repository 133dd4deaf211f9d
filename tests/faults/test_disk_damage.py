"""Damage to a crashed data directory: bit flips, truncation, lost / moved / copied files.

Every test builds (once per session) a journaled venue under load, copies its crashed
directory, injects one fault into the copy and lets ``harness.judge`` decide: (a) whole
recovery equal to the uninterrupted run, or (b) a refusal naming file and offset with
nothing written. Seeds derive from ``conftest.SEED``; a failure names its seed and fault.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faults.conftest import SEED
from faults.harness import (
    LONG,
    Built,
    Fault,
    FaultFailure,
    Load,
    Tally,
    attempt,
    build,
    copy_built,
    fault_count,
    finish,
    flip_bit,
    judge,
    pick_offset,
    record_offsets,
    run_cli,
    run_replay,
    segments,
    snapshot_files,
    tree_digest,
    truncate,
    used_extent,
)
from whistle.cli.main import main as cli_main
from whistle.coord.durability.datadir import iter_records
from whistle.coord.durability.records import COMMANDS_DIR, EVENTS_DIR, Ticked
from whistle.core.commands import Command, NewOrder
from whistle.tools.crashload import crash_stream

if TYPE_CHECKING:
    from collections.abc import Callable


QUEUES = (COMMANDS_DIR, EVENTS_DIR)
BASE = Load(seed=SEED, commands=2_000)


def _all_segments(data_dir: Path) -> list[Path]:
    return [p for q in QUEUES for p in segments(data_dir, q)]


def _used_segments(data_dir: Path) -> list[Path]:
    return [p for p in _all_segments(data_dir) if used_extent(p) > 0]


def _latest_snapshots(data_dir: Path) -> list[Path]:
    by_symbol: dict[str, list[Path]] = {}
    for path in snapshot_files(data_dir):
        by_symbol.setdefault(path.parent.name, []).append(path)
    return [paths[-1] for paths in by_symbol.values()]


def _rel(built: Built, path: Path) -> Path:
    return built.data_dir / path.relative_to(path.parents[1])


# ---------------------------------------------------------------------------- bit flips


def test_a_bit_flip_in_every_segment(bases: Callable[[Load], Built], scratch) -> None:
    # One flip at a random offset (mostly inside the records) in every segment of both
    # journals, and more rounds over all of them in the long run.
    rounds = max(1, fault_count(1, 0.25) // 25) if LONG else 1
    tally = Tally("bit flip in every segment")
    rng = random.Random(f"{SEED}-flip-every")
    for round_ in range(rounds):
        # A new flow every round in the long run: other books, other segment boundaries.
        base = bases(BASE if round_ == 0 else Load(seed=SEED + 200 + round_, commands=2_000))
        names = [p.relative_to(base.data_dir) for p in _all_segments(base.data_dir)]
        for name in names:
            built = scratch(base)
            path = built.data_dir / name
            offset = pick_offset(rng, path)
            bit = rng.randrange(8)
            flip_bit(path, offset, bit)
            fault = Fault("bit flip", SEED, [path], offset, f"bit {bit} (round {round_})")
            attempt(tally, built, fault)
    tally.check()


def test_bit_flips_in_snapshot_files(bases: Callable[[Load], Built], scratch) -> None:
    base = bases(BASE)
    names = [p.relative_to(base.data_dir) for p in snapshot_files(base.data_dir)]
    rng = random.Random(f"{SEED}-flip-snap")
    tally = Tally("bit flip in a snapshot")
    for _ in range(fault_count(8, 0.08)):
        built = scratch(base)
        path = built.data_dir / rng.choice(names)
        offset = rng.randrange(path.stat().st_size)
        flip_bit(path, offset, rng.randrange(8))
        attempt(tally, built, Fault("snapshot bit flip", SEED, [path], offset))
    tally.check()


@pytest.fixture(scope="module")
def hypothesis_base(bases: Callable[[Load], Built]) -> Callable[[], Built]:
    # A function, not the Built itself: Hypothesis prints its arguments field by field.
    built = bases(Load(seed=SEED + 1, commands=1_200))
    return lambda: built


@settings(
    max_examples=fault_count(12, 0.1),
    deadline=None,
    database=None,
    derandomize=not LONG,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    index=st.integers(0, 1 << 16),
    raw=st.integers(0, 1 << 31),
    in_records=st.booleans(),
    bit=st.integers(0, 7),
)
def test_hypothesis_bit_flip_anywhere(
    hypothesis_base: Callable[[], Built],
    tmp_path_factory,
    index: int,
    raw: int,
    in_records: bool,
    bit: int,
) -> None:
    base = hypothesis_base()
    files = _all_segments(base.data_dir) + snapshot_files(base.data_dir)
    source = files[index % len(files)]
    size = source.stat().st_size
    used = max(129, used_extent(source)) if source.suffix == ".wseg" else size
    offset = raw % (min(used, size) if in_records else size)
    built = copy_built(base, tmp_path_factory.mktemp("hyp") / "fault")
    path = built.data_dir / source.relative_to(base.data_dir)
    flip_bit(path, offset, bit)
    tally = Tally("hypothesis bit flip")
    attempt(tally, built, Fault("bit flip", SEED + 1, [path], offset, f"bit {bit}"))
    shutil.rmtree(built.data_dir)
    tally.check(quiet=True)


LAST_RECORD_FLOWS = {
    # BASE ends 200 commands after its last checkpoint; the second flow checkpoints at its
    # final tick, so recovery has no journal tail to re-run lost last events from.
    "tail-after-checkpoint": BASE,
    "checkpoint-at-the-end": Load(SEED, commands=1_200),
}


@pytest.mark.parametrize("queue", QUEUES)
@pytest.mark.parametrize("flow", sorted(LAST_RECORD_FLOWS))
def test_a_bit_flip_in_the_last_record_of_each_segment(
    bases: Callable[[Load], Built], scratch, flow: str, queue: str
) -> None:
    # The last record of the head segment is where a torn write would be; one with its
    # commit marker and a bad CRC is damage (committed, then changed), not a torn tail.
    # The last record of a sealed segment is the first example (1,648 lost).
    rng = random.Random(f"{SEED}-last-record-{flow}-{queue}")
    tally = Tally(f"bit flip in the last record of a segment ({flow}, {queue})")
    base = bases(LAST_RECORD_FLOWS[flow])
    used = [p for p in segments(base.data_dir, queue) if used_extent(p) > 0]
    for source in (used[0], used[len(used) // 2], used[-1]):
        last = record_offsets(source)[-1]
        built = scratch(base)
        path = built.data_dir / source.relative_to(base.data_dir)
        offset = last + 24 + rng.randrange(8)  # inside the payload
        flip_bit(path, offset, rng.randrange(8))
        kind = "head" if source == used[-1] else "sealed"
        fault = Fault(f"bit flip in the last record ({kind})", SEED, [path], offset)
        attempt(tally, built, fault)
    tally.check()


@pytest.mark.parametrize("fsync", ["interval", "every"])
def test_damage_under_every_fsync_policy(bases: Callable[[Load], Built], scratch, fsync) -> None:
    # The policy changes when pages reach the disk, not what recovery accepts: the same
    # damage gets the same verdict whatever the venue synced.
    base = bases(Load(seed=SEED + 3, commands=1_200, fsync=fsync))
    rng = random.Random(f"{SEED}-{fsync}")
    tally = Tally(f"damage with fsync={fsync}")
    for queue in QUEUES:
        used = [p for p in segments(base.data_dir, queue) if used_extent(p) > 0]
        for source in (rng.choice(used[:-1]), used[-1]):
            built = scratch(base)
            path = built.data_dir / source.relative_to(base.data_dir)
            offset = rng.choice(record_offsets(path)) + 24
            flip_bit(path, offset, rng.randrange(8))
            attempt(tally, built, Fault(f"bit flip (fsync={fsync})", SEED + 3, [path], offset))
        built = scratch(base)
        path = built.data_dir / used[-1].relative_to(base.data_dir)
        cut = used_extent(path) // 2
        truncate(path, cut)
        attempt(tally, built, Fault(f"head truncation (fsync={fsync})", SEED + 3, [path], cut))
    tally.check()


# ---------------------------------------------------------------------------- truncation


def test_truncation_at_random_offsets(bases: Callable[[Load], Built], scratch) -> None:
    base = bases(BASE)
    names = [p.relative_to(base.data_dir) for p in _all_segments(base.data_dir)]
    names += [p.relative_to(base.data_dir) for p in snapshot_files(base.data_dir)]
    rng = random.Random(f"{SEED}-truncate")
    tally = Tally("truncation")
    for _ in range(fault_count(10, 0.12)):
        built = scratch(base)
        path = built.data_dir / rng.choice(names)
        size = path.stat().st_size
        used = used_extent(path) if path.suffix == ".wseg" else size
        cut = rng.randrange(0, max(1, min(size, used + 64)))
        truncate(path, cut)
        attempt(tally, built, Fault("truncation", SEED, [path], cut, f"from {size} bytes"))
    tally.check()


def test_the_head_segment_truncated_to_its_header_or_midpoint(
    bases: Callable[[Load], Built], scratch
) -> None:
    # The examples: the head segment cut to 128 bytes, or to its midpoint.
    base = bases(BASE)
    tally = Tally("head segment truncated")
    for queue in QUEUES:
        head = [p for p in segments(base.data_dir, queue) if used_extent(p) > 0][-1]
        for cut in (128, used_extent(head) // 2):
            built = scratch(base)
            path = built.data_dir / head.relative_to(base.data_dir)
            truncate(path, cut)
            attempt(tally, built, Fault("head truncation", SEED, [path], cut))
    tally.check()


# ---------------------------------------------------------------------------- files lost, moved


def _segment_faults(base: Built, rng: random.Random) -> list[tuple[str, Callable[[Path], Fault]]]:
    out: list[tuple[str, Callable[[Path], Fault]]] = []
    for queue in QUEUES:
        used = [p for p in segments(base.data_dir, queue) if used_extent(p) > 0]
        fresh = [p for p in segments(base.data_dir, queue) if used_extent(p) == 0]
        names = [p.name for p in used]
        if len(names) < 4:
            continue
        mid = rng.randrange(1, len(names) - 1)

        def delete(d: Path, q: str = queue, n: str = names[mid]) -> Fault:
            (d / q / n).unlink()
            return Fault("deleted segment", SEED, [d / q / n])

        def delete_first(d: Path, q: str = queue, n: str = names[0]) -> Fault:
            (d / q / n).unlink()
            return Fault("deleted first segment", SEED, [d / q / n])

        def delete_head(d: Path, q: str = queue, n: str = names[-1]) -> Fault:
            (d / q / n).unlink()
            return Fault("deleted head segment", SEED, [d / q / n])

        def swap(d: Path, q: str = queue, a: str = names[mid - 1], b: str = names[mid]) -> Fault:
            pa, pb = d / q / a, d / q / b
            tmp = pa.with_suffix(".swap")
            pa.rename(tmp)
            pb.rename(pa)
            tmp.rename(pb)
            return Fault("swapped segments", SEED, [pa, pb])

        def duplicate(
            d: Path, q: str = queue, a: str = names[mid - 1], b: str = names[mid]
        ) -> Fault:
            shutil.copyfile(d / q / a, d / q / b)
            return Fault("duplicated segment", SEED, [d / q / b], None, f"(copy of {a})")

        def reorder(d: Path, q: str = queue, a: str = names[mid], b: str = names[-1]) -> Fault:
            # The head moved to a middle slot and the middle one to the head slot.
            pa, pb = d / q / a, d / q / b
            tmp = pa.with_suffix(".swap")
            pa.rename(tmp)
            pb.rename(pa)
            tmp.rename(pb)
            return Fault("reordered segments", SEED, [pa, pb])

        out += [
            (f"{queue}: delete middle", delete),
            (f"{queue}: delete first", delete_first),
            (f"{queue}: delete head", delete_head),
            (f"{queue}: swap", swap),
            (f"{queue}: duplicate", duplicate),
            (f"{queue}: reorder", reorder),
        ]
        if fresh:

            def delete_fresh(d: Path, q: str = queue, n: str = fresh[0].name) -> Fault:
                (d / q / n).unlink()
                return Fault("deleted preallocated segment", SEED, [d / q / n])

            out.append((f"{queue}: delete preallocated", delete_fresh))
    return out


def test_deleted_reordered_duplicated_and_swapped_segments(
    bases: Callable[[Load], Built], scratch
) -> None:
    tally = Tally("segments deleted / reordered / duplicated / swapped")
    rounds = max(1, fault_count(1, 0.1) // 14)
    for round_ in range(rounds):
        base = bases(BASE if round_ == 0 else Load(seed=SEED + 100 + round_, commands=1_500))
        rng = random.Random(f"{SEED}-files-{round_}")
        for _label, inject in _segment_faults(base, rng):
            built = scratch(base)
            attempt(tally, built, inject(built.data_dir))
    tally.check()


def test_the_only_segment_deleted(bases: Callable[[Load], Built], scratch) -> None:
    # 60 commands fit in one commands segment: deleting it must not start a fresh venue.
    base = bases(Load(seed=SEED, commands=60, checkpoint_every=1_000, segment_size=64 * 1024))
    tally = Tally("the only data segment deleted")
    for queue in QUEUES:
        used = [p for p in segments(base.data_dir, queue) if used_extent(p) > 0]
        assert len(used) == 1, f"{queue}: {len(used)} used segments"
        built = scratch(base)
        path = built.data_dir / queue / used[0].name
        path.unlink()
        fault = Fault("the only segment deleted", SEED, [path], must_refuse=queue == COMMANDS_DIR)
        attempt(tally, built, fault)
    tally.check()


# ---------------------------------------------------------------------------- snapshots


def test_stale_empty_truncated_and_missing_snapshots(
    bases: Callable[[Load], Built], scratch
) -> None:
    base = bases(BASE)
    latest = _latest_snapshots(base.data_dir)
    rng = random.Random(f"{SEED}-snap")
    tally = Tally("stale / 0-byte / truncated / missing snapshot")
    for _ in range(fault_count(2, 0.04)):
        target = rng.choice(latest)
        older = [p for p in snapshot_files(base.data_dir) if p.parent == target.parent]
        for kind in ("stale", "empty", "truncated", "missing"):
            built = scratch(base)
            path = built.data_dir / target.relative_to(base.data_dir)
            offset: int | None = None
            if kind == "stale" and len(older) > 1:
                source = built.data_dir / rng.choice(older[:-1]).relative_to(base.data_dir)
                shutil.copyfile(source, path)
            elif kind == "empty":
                truncate(path, 0)
                offset = 0
            elif kind == "truncated":
                offset = rng.randrange(1, path.stat().st_size)
                truncate(path, offset)
            else:
                path.unlink()
            attempt(tally, built, Fault(f"{kind} snapshot", SEED, [path], offset))
    tally.check()


def test_damage_to_a_venue_that_ran_on_host_processes(
    bases: Callable[[Load], Built], scratch
) -> None:
    # The engines ran on two host processes; the journal they leave is the same kind of
    # directory, reopened (and judged) with two host processes again.
    base = bases(Load(seed=SEED + 7, commands=1_200, hosts=2))
    rng = random.Random(f"{SEED}-hosts")
    tally = Tally("damage after a run on host processes")
    commands = [p for p in segments(base.data_dir, COMMANDS_DIR) if used_extent(p) > 0]
    events = [p for p in segments(base.data_dir, EVENTS_DIR) if used_extent(p) > 0]
    for source in (commands[len(commands) // 2], events[-1]):
        built = scratch(base)
        path = built.data_dir / source.relative_to(base.data_dir)
        offset = rng.randrange(128, used_extent(path))
        flip_bit(path, offset, rng.randrange(8))
        attempt(tally, built, Fault("bit flip (hosts=2)", SEED + 7, [path], offset))
    built = scratch(base)
    path = _latest_snapshots(built.data_dir)[0]
    truncate(path, 0)
    attempt(tally, built, Fault("empty snapshot (hosts=2)", SEED + 7, [path], 0))
    tally.check()


def test_damage_to_the_journal_metadata_files(bases: Callable[[Load], Built], scratch) -> None:
    # queue.meta holds the segment size (a flip must be refused, naming it); the lock and
    # heartbeat files are liveness hints a crash may leave in any state.
    base = bases(BASE)
    rng = random.Random(f"{SEED}-meta")
    tally = Tally("journal metadata damaged")
    for queue in QUEUES:
        built = scratch(base)
        meta = built.data_dir / queue / "queue.meta"
        offset = rng.randrange(36)
        flip_bit(meta, offset, rng.randrange(8))
        attempt(tally, built, Fault("queue.meta bit flip", SEED, [meta], offset))
        built = scratch(base)
        heartbeat = built.data_dir / queue / "writer.heartbeat"
        heartbeat.write_bytes(bytes(rng.randrange(256) for _ in range(32)))
        attempt(tally, built, Fault("garbage heartbeat", SEED, [heartbeat]))
        built = scratch(base)
        lock = built.data_dir / queue / "writer.lock"
        lock.unlink()
        attempt(tally, built, Fault("deleted writer.lock", SEED, [lock]))
    tally.check()


# ---------------------------------------------------------------------------- repair


def test_a_refused_directory_is_repaired_by_the_explicit_command(
    bases: Callable[[Load], Built], scratch
) -> None:
    # After a refusal, `whistle journal repair DIR --at-damage` prints what it would drop
    # (changing nothing), `--yes` cuts there, and the directory then recovers whole up to
    # the last kept acknowledged command: exactly the acknowledged prefix, nothing else.
    base = bases(BASE)
    rng = random.Random(f"{SEED}-repair")
    tally = Tally("repair after a refusal")
    sealed = [p for p in segments(base.data_dir, COMMANDS_DIR) if used_extent(p) > 0][:-1]
    for _ in range(fault_count(3, 0.03)):
        built = scratch(base)
        source = rng.choice(sealed)
        path = built.data_dir / source.relative_to(base.data_dir)
        offset = rng.choice(record_offsets(path)) + 24
        flip_bit(path, offset, rng.randrange(8))
        fault = Fault("bit flip, then repair", SEED, [path], offset)
        try:
            if judge(built, fault) != "b":
                tally.fail(f"{fault}: a damaged sealed commands segment was not refused")
                continue
            tally.record("b")
            tally.record(_repair_and_judge(built, fault))
        except FaultFailure as exc:
            tally.fail(str(exc))
    tally.check()


def _repair_and_judge(built: Built, fault: Fault) -> str:
    before = tree_digest(built.data_dir)
    plan = CliRunner().invoke(cli_main, ["journal", "repair", str(built.data_dir), "--at-damage"])
    if plan.exit_code != 0 or tree_digest(built.data_dir) != before:
        raise FaultFailure(f"{fault}: repair's dry run exit {plan.exit_code} or it wrote")
    kept = re.search(r"last kept acknowledged command is enq_seq (\d+)", plan.output)
    if kept is None:
        raise FaultFailure(f"{fault}: repair does not say which command is the last kept")
    keep = int(kept.group(1))
    dropped = re.search(
        r"drops (\d+) readable acknowledged command\(s\): enq_seq (\d+)\.\.(\d+)", plan.output
    )
    unreadable = re.search(r"and (\d+) unreadable record", plan.output)
    if dropped is None or int(dropped.group(3)) != built.last_enq_seq:
        raise FaultFailure(f"{fault}: repair does not list the dropped acknowledged commands")
    gap = int(dropped.group(2)) - keep - 1
    if gap > (int(unreadable.group(1)) if unreadable else 0):
        raise FaultFailure(f"{fault}: repair hides {gap} dropped commands")
    done = CliRunner().invoke(
        cli_main, ["journal", "repair", str(built.data_dir), "--at-damage", "--yes"]
    )
    if done.exit_code != 0:
        raise FaultFailure(f"{fault}: repair --yes exit {done.exit_code}: {done.output[-300:]}")
    ticks = sum(1 for r in iter_records(built.data_dir) if isinstance(r, Ticked))
    cut = Built(built.load, built.data_dir, built.acked[:keep], built.ticks[:ticks])
    finish(cut)
    return judge(cut, Fault("after repair", fault.seed, fault.files))


@settings(
    max_examples=fault_count(10, 0.05),
    deadline=None,
    database=None,
    derandomize=not LONG,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    operation=st.sampled_from(["delete", "swap", "copy-over", "truncate", "zero-page"]),
    queue=st.sampled_from(QUEUES),
    first=st.integers(0, 1 << 16),
    second=st.integers(0, 1 << 16),
    raw=st.integers(0, 1 << 31),
)
def test_hypothesis_segment_file_operations(
    hypothesis_base: Callable[[], Built],
    tmp_path_factory,
    operation: str,
    queue: str,
    first: int,
    second: int,
    raw: int,
) -> None:
    # Any one file-level accident to any segment (or pair): deleted, swapped with another,
    # copied over another, cut at any size, or a 4 KiB page zeroed (a lost write-back).
    base = hypothesis_base()
    names = [p.name for p in segments(base.data_dir, queue)]
    a, b = names[first % len(names)], names[second % len(names)]
    built = copy_built(base, tmp_path_factory.mktemp("hyp-files") / "fault")
    pa, pb = built.data_dir / queue / a, built.data_dir / queue / b
    offset: int | None = None
    files = [pa]
    if operation == "delete":
        pa.unlink()
    elif operation == "swap" and a != b:
        tmp = pa.with_suffix(".swap")
        pa.rename(tmp)
        pb.rename(pa)
        tmp.rename(pb)
        files = [pa, pb]
    elif operation == "copy-over" and a != b:
        shutil.copyfile(pa, pb)
        files = [pb]
    elif operation == "truncate":
        offset = raw % pa.stat().st_size
        truncate(pa, offset)
    elif operation == "zero-page":
        size = pa.stat().st_size
        offset = (raw % size) & ~4095
        with open(pa, "r+b") as handle:
            handle.seek(offset)
            handle.write(bytes(min(4096, size - offset)))
    else:
        shutil.rmtree(built.data_dir)
        return  # swapping or copying a segment with itself is no fault
    tally = Tally("hypothesis segment file operation")
    attempt(tally, built, Fault(f"{operation} {a} {b}", SEED + 1, files, offset))
    shutil.rmtree(built.data_dir)
    tally.check(quiet=True)


def test_the_whistle_replay_process_exits_as_the_in_process_cli(
    bases: Callable[[Load], Built], scratch
) -> None:
    # The oracle runs the CLI in-process (click's runner); here the installed `whistle`
    # entry point runs as a process on a whole, a refused and a damaged-snapshot directory.
    whistle = Path(sys.executable).parent / "whistle"
    assert whistle.exists(), f"no whistle entry point next to {sys.executable}"
    base = bases(BASE)
    sealed = next(p for p in segments(base.data_dir, COMMANDS_DIR) if used_extent(p) > 0)
    cases: list[tuple[str, Callable[[Path], None]]] = [
        ("whole", lambda d: None),
        ("sealed record flipped", lambda d: flip_bit(d / COMMANDS_DIR / sealed.name, 200, 3)),
        ("empty snapshot", lambda d: truncate(_latest_snapshots(d)[0], 0)),
    ]
    for label, inject in cases:
        built = scratch(base)
        inject(built.data_dir)
        proc = subprocess.run(
            [str(whistle), "replay", str(built.data_dir)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        code, _ = run_cli(built.data_dir)
        assert proc.returncode == code, (
            f"{label}: whistle replay exits {proc.returncode}, CLI {code}"
        )
        assert "Traceback" not in proc.stderr, f"{label}: {proc.stderr[-2000:]}"
        assert (code == 0) == (label == "whole"), f"{label}: exit {code}"


def test_a_well_formed_segment_of_another_history_is_caught_by_replay(
    bases: Callable[[Load], Built], scratch, tmp_path: Path
) -> None:
    # A misdirected write: a segment of a second venue whose stream differs in one price
    # (same record layout, valid CRCs, the right ids and seqs) replaces ours. Recovery
    # reads only the last checkpoint and the tail, so it cannot see history before it;
    # `whistle replay`, which re-matches everything and checks every recorded hash, must.
    base = bases(BASE)
    stream = crash_stream(BASE.seed, BASE.symbols, BASE.commands)
    index = next(i for i in range(600, BASE.commands) if isinstance(stream[i], NewOrder))

    def edit(commands: list[Command]) -> None:
        order = commands[index]
        assert isinstance(order, NewOrder)
        commands[index] = msgspec.structs.replace(order, price_ticks=order.price_ticks + 1)

    other = build(tmp_path / "other", BASE, edit)
    changed = [
        p.name
        for p in segments(base.data_dir, COMMANDS_DIR)
        if record_offsets(p) == record_offsets(other.data_dir / COMMANDS_DIR / p.name)
        and p.read_bytes()[128:] != (other.data_dir / COMMANDS_DIR / p.name).read_bytes()[128:]
    ]
    assert changed, "the second history has no segment of the same layout"
    for name in changed[:3]:
        built = scratch(base)
        shutil.copyfile(other.data_dir / COMMANDS_DIR / name, built.data_dir / COMMANDS_DIR / name)
        rep = run_replay(built.data_dir)
        code, _ = run_cli(built.data_dir)
        assert not rep.ok, f"replay accepts {name} of another history"
        assert code != 0, f"whistle replay exits 0 with {name} of another history"


SEAL_FIELDS = {"state": 44, "base_seq": 48, "end_offset": 57, "next_seq": 64, "sealed_ns": 72}
"""Bytes of a segment header's mutable part (not covered by its CRC), by field."""


_SEAL_CASES = [
    pytest.param(queue, field, id=f"{queue}-{field}")
    for queue in QUEUES
    for field in sorted(SEAL_FIELDS)
]


@pytest.mark.parametrize(("queue", "field"), _SEAL_CASES)
def test_a_bit_flip_in_the_seal_fields_of_a_sealed_segment(
    bases: Callable[[Load], Built], scratch, queue: str, field: str
) -> None:
    # The seal (state, base_seq, end_offset, next_seq) is published after the records and
    # is not under the header CRC: a flip there must still be refused (or be harmless) and
    # be named at the header, not at some record the wrong seal points to.
    base = bases(BASE)
    tally = Tally(f"seal field {field} of {queue}")
    built = scratch(base)
    path = segments(built.data_dir, queue)[0]
    offset = SEAL_FIELDS[field]
    flip_bit(path, offset, 0)
    attempt(tally, built, Fault(f"seal {field} bit flip", SEED, [path], offset))
    tally.check()
