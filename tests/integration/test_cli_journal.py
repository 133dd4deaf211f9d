"""``whistle journal inspect`` and ``whistle journal tail`` on small recorded data dirs."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from whistle.cli.journal import journal
from whistle.coord.durability.records import (
    COMMANDS_DIR,
    EVENT_TYPE_ID,
    EVENTS_DIR,
    SNAPSHOTS_DIR,
    Defined,
    RecordCodec,
    Sequenced,
    Ticked,
)
from whistle.core.commands import NewOrder
from whistle.core.enums import OrderType, Side, TimeInForce
from whistle.core.events import BookLevelChanged, TradeOccurred
from whistle.core.instrument import Instrument
from whistle.journal import Queue, QueueConfig, ReadOnlyReader

if TYPE_CHECKING:
    from pathlib import Path

    from click.testing import Result


SMALL = QueueConfig(segment_size=4096)
AAA = Instrument(symbol="AAA", symbol_id=1, tick_size="0.01", lot_size="1")
BBB = Instrument(symbol="BBB", symbol_id=2, tick_size="0.5", lot_size="0.1")
SEC = 1_000_000_000
CODEC = RecordCodec()


def level(symbol_id: int, seq: int, ts_ns: int, price: int) -> BookLevelChanged:
    return BookLevelChanged(symbol_id, seq, seq, ts_ns, int(Side.BUY), price, 10, 1)


def build(data_dir: Path, n_events: int = 120) -> None:
    """Two instruments, one order, ticks, ``n_events`` events and two snapshots of AAA."""
    with Queue.open_publisher(data_dir / COMMANDS_DIR, SMALL) as cmds:
        for inst in (AAA, BBB):
            cmds.append(1, CODEC.encode(Defined(inst)), ts_ns=0)
        order = NewOrder(
            1, 7, 42, int(Side.SELL), int(OrderType.LIMIT), int(TimeInForce.GTC), 10_050, 3
        )
        cmds.append(2, CODEC.encode(Sequenced(1, order)), ts_ns=0)
        for tick in range(1, 4):
            cmds.append(3, CODEC.encode(Ticked(tick, tick * SEC)), ts_ns=tick * SEC)
    with Queue.open_publisher(data_dir / EVENTS_DIR, SMALL) as evq:
        for i in range(n_events - 1):
            sid = 1 + i % 2
            event = level(sid, i + 1, (i + 1) * SEC, 10_050 if sid == 1 else 201)
            evq.append(EVENT_TYPE_ID, CODEC.encode(event), ts_ns=event.ts_ns)
        trade = TradeOccurred(1, 99, 9, n_events * SEC, 5, 10_025, 3, int(Side.BUY), 11, 12)
        evq.append(EVENT_TYPE_ID, CODEC.encode(trade), ts_ns=trade.ts_ns)
    for enq in (3, 17):
        snap = data_dir / SNAPSHOTS_DIR / "1" / f"{enq:020d}.snap"
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.write_bytes(b"snapshot")


@pytest.fixture
def venue(tmp_path: Path) -> Path:
    build(tmp_path / "venue")
    return tmp_path / "venue"


def run(*args: str) -> Result:
    return CliRunner().invoke(journal, list(args), env={"COLUMNS": "200"})


def assert_no_reader_files(data_dir: Path) -> None:
    for name in (COMMANDS_DIR, EVENTS_DIR):
        assert Queue.cursors(data_dir / name) == {}
        readers = data_dir / name / "readers"
        assert not readers.exists() or os.listdir(readers) == []


# -- inspect ---------------------------------------------------------------------------
def test_inspect_text(venue: Path) -> None:
    result = run("inspect", str(venue))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{venue} (data dir)" in out
    assert "queue commands: 6 records" in out
    assert "queue events: 120 records" in out
    assert "records by type: Defined 2, Sequenced 1, Ticked 3" in out
    assert "records by type: Event 120" in out
    assert "sealed" in out  # 120 events do not fit one 4 KiB segment
    assert "0000000000000000.wseg" in out
    assert "writer: none (last writer pid" in out
    assert "closed cleanly" in out
    assert "cursors: none" in out
    assert "AAA" in out
    assert "0.01" in out
    assert "BBB" in out
    assert "│ 17 " in out  # latest snapshot of AAA
    assert_no_reader_files(venue)


def test_inspect_json(venue: Path) -> None:
    reader = Queue.open_subscriber(venue / EVENTS_DIR, "strategy")
    reader.read_batch(5)
    reader.commit()
    reader.close()
    result = run("inspect", str(venue), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["kind"] == "data_dir"
    cmds, evs = report["queues"]["commands"], report["queues"]["events"]
    assert cmds["records"] == 6
    assert cmds["by_type"] == {"Defined": 2, "Sequenced": 1, "Ticked": 3}
    assert evs["by_type"] == {"Event": 120}
    assert list(evs["cursors"]) == ["strategy"]
    assert evs["cursors"]["strategy"]["next_seq"] == 5
    assert evs["cursors"]["strategy"]["segment_id"] == 0
    used = [s for s in evs["segments"] if s["records"]]
    assert len(used) > 1
    assert sum(s["records"] for s in used) == 120
    assert used[0]["first_seq"] == 0
    assert used[-1]["last_seq"] == 119
    assert [s["state"] for s in used[:-1]] == ["sealed"] * (len(used) - 1)
    assert used[-1]["state"] == "active"
    for a, b in itertools.pairwise(used):
        assert b["first_seq"] == a["last_seq"] + 1
    assert evs["writer"]["state"] == "none"
    assert evs["writer"]["closed_cleanly"] is True
    assert report["instruments"] == [
        {"symbol_id": 1, "symbol": "AAA", "tick_size": "0.01", "lot_size": "1"},
        {"symbol_id": 2, "symbol": "BBB", "tick_size": "0.5", "lot_size": "0.1"},
    ]
    assert report["snapshots"] == [
        {"symbol_id": 1, "symbol": "AAA", "count": 2, "latest_enq_seq": 17}
    ]
    assert set(Queue.cursors(venue / EVENTS_DIR)) == {"strategy"}  # only the user's


def test_inspect_live_writer_and_single_queue(venue: Path) -> None:
    with Queue.open_publisher(venue / EVENTS_DIR, SMALL):
        result = run("inspect", str(venue / EVENTS_DIR), "--json")
        text = run("inspect", str(venue / EVENTS_DIR))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["kind"] == "queue"
    assert list(report["queues"]) == ["events"]
    assert report["queues"]["events"]["writer"]["state"] == "live"
    assert report["queues"]["events"]["writer"]["pid"] == os.getpid()
    assert "instruments" not in report
    assert text.exit_code == 0, text.output
    assert f"writer: live (pid {os.getpid()}" in text.stdout


def test_inspect_errors_name_the_path(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    for target, expected in [
        (tmp_path, "not a journal"),
        (tmp_path / "notes.txt", "not a directory"),
        (tmp_path / "missing", "no such file or directory"),
    ]:
        result = run("inspect", str(target))
        assert result.exit_code == 1
        assert isinstance(result.exception, SystemExit)
        assert f"Error: {target}: {expected}" in result.stderr
        assert "Traceback" not in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("tail", str(empty))
    assert result.exit_code == 1
    assert f"Error: {empty}: not a journal (no queue.meta" in result.stderr


def test_inspect_a_corrupt_queue_meta(venue: Path) -> None:
    (venue / EVENTS_DIR / "queue.meta").write_bytes(b"garbage")
    result = run("inspect", str(venue / EVENTS_DIR))
    assert result.exit_code == 1
    assert "not a journal" in result.stderr
    assert "queue.meta" in result.stderr


# -- tail ------------------------------------------------------------------------------
def test_tail_last_n_events_with_decimals(venue: Path) -> None:
    result = run("tail", str(venue))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 20
    assert lines[0].split()[0] == "100"
    last = lines[-1]
    assert last.split()[:3] == ["119", str(120 * SEC), "TradeOccurred"]
    assert '"symbol":"AAA"' in last
    assert '"price":"100.25"' in last
    assert '"aggressor_side":"BUY"' in last
    result = run("tail", str(venue), "-n", "3")
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["117", "118", "119"]
    assert '"symbol":"BBB","symbol_id":2' in result.stdout
    assert '"price":"100.5","qty":"1"' in result.stdout  # 201 ticks of 0.5, 10 lots of 0.1
    assert_no_reader_files(venue)


def test_tail_json_and_commands(venue: Path) -> None:
    result = run("tail", str(venue), "--queue", "commands", "-n", "4", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["seq"], r["type"]) for r in rows] == [
        (2, "Sequenced"),
        (3, "Ticked"),
        (4, "Ticked"),
        (5, "Ticked"),
    ]
    command = rows[0]["record"]["command"]
    assert command["command"] == "NewOrder"
    assert command["symbol"] == "AAA"
    assert (command["side"], command["order_type"], command["tif"]) == ("SELL", "LIMIT", "GTC")
    assert (command["price"], command["qty"]) == ("100.5", "3")
    assert rows[1]["record"] == {"number": 1, "now_ns": SEC}
    assert rows[3]["ts_ns"] == 3 * SEC
    events = run("tail", str(venue / EVENTS_DIR), "-n", "1", "--json")
    (row,) = [json.loads(line) for line in events.stdout.splitlines()]
    assert row["type"] == "Event"
    assert row["record"]["event"] == "TradeOccurred"
    assert row["record"]["price"] == "100.25"  # instruments found next to the lone queue


def test_tail_without_instruments_keeps_units(tmp_path: Path) -> None:
    qdir = tmp_path / "copy"
    with Queue.open_publisher(qdir, SMALL) as writer:
        writer.append(EVENT_TYPE_ID, CODEC.encode(level(1, 1, SEC, 10_050)), ts_ns=SEC)
        writer.append(9, b"\xc1not msgpack", ts_ns=SEC)
    result = run("tail", str(qdir), "--json")
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["record"]["symbol"] is None
    assert first["record"]["price"] == 10_050
    assert second["type"] == "type 9"
    assert "cannot decode" in second["record"]["error"]


def test_tail_follow_prints_new_records(venue: Path) -> None:
    writer = Queue.open_publisher(venue / EVENTS_DIR, SMALL)

    def later() -> None:
        time.sleep(0.3)
        for i in range(3):
            event = level(2, 100 + i, (40 + i) * SEC, 300 + i)
            writer.append(EVENT_TYPE_ID, CODEC.encode(event), ts_ns=event.ts_ns)

    thread = threading.Thread(target=later)
    thread.start()
    try:
        started = time.monotonic()
        result = run("tail", str(venue), "-n", "1", "--follow", "--max-seconds", "1.5")
        elapsed = time.monotonic() - started
    finally:
        thread.join()
        writer.close()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["119", "120", "121", "122"]
    assert '"price":"151"' in lines[3]  # 302 ticks of 0.5
    assert 1.4 <= elapsed < 10
    assert_no_reader_files(venue)


def test_tail_follow_ends_cleanly_on_ctrl_c(venue: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: ReadOnlyReader, timeout: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ReadOnlyReader, "wait_next", interrupted)
    result = run("tail", str(venue), "-n", "1", "--follow")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1


def test_tail_follow_sigint_in_a_subprocess(venue: Path) -> None:
    code = "from whistle.cli.journal import journal; journal()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "tail", str(venue), "-n", "1", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the tail is running
        assert first.split()[:3] == ["119", str(120 * SEC), "TradeOccurred"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert out == ""
    assert_no_reader_files(venue)


# -- verify / repair ---------------------------------------------------------------------
def build_long(data_dir: Path, commands: int = 200) -> None:
    """``commands`` acknowledged commands (enq_seq 1..n) over several segments, one event
    per command, snapshots anchored at enq_seq 50 and 150."""
    with Queue.open_publisher(data_dir / COMMANDS_DIR, SMALL) as cmds:
        cmds.append(1, CODEC.encode(Defined(AAA)), ts_ns=0)
        for enq in range(1, commands + 1):
            order = NewOrder(
                1, enq, 42, int(Side.SELL), int(OrderType.LIMIT), int(TimeInForce.GTC), 100, 1
            )
            cmds.append(2, CODEC.encode(Sequenced(enq, order)), ts_ns=enq)
    with Queue.open_publisher(data_dir / EVENTS_DIR, SMALL) as evq:
        for enq in range(1, commands + 1):
            event = BookLevelChanged(1, enq, enq, enq * SEC, int(Side.SELL), 100, enq, 1)
            evq.append(EVENT_TYPE_ID, CODEC.encode(event), ts_ns=event.ts_ns)
    for enq in (50, 150):
        snap = data_dir / SNAPSHOTS_DIR / "1" / f"{enq:020d}.snap"
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.write_bytes(b"snapshot")


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name not in {"writer.lock", "writer.heartbeat"}
    }


def _flip_record(qdir: Path, seq: int) -> None:
    with ReadOnlyReader(qdir) as r:
        rec = next(x for x in r if x.seq == seq)
    path = qdir / f"{rec.segment_id:016x}.wseg"
    with open(path, "r+b") as fh:
        fh.seek(rec.offset + 26)
        b = fh.read(1)
        fh.seek(rec.offset + 26)
        fh.write(bytes([b[0] ^ 0x40]))


def test_verify_whole_data_dir(tmp_path: Path) -> None:
    build_long(tmp_path / "d")
    result = run("verify", str(tmp_path / "d"))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("OK commands: 201 records, seqs 0..200, ")
    assert lines[1].startswith("OK events: 200 records, seqs 0..199, ")


def test_verify_names_each_damage_and_changes_nothing(tmp_path: Path) -> None:
    d = tmp_path / "d"
    build_long(d)
    os.unlink(d / EVENTS_DIR / f"{0:016x}.wseg")
    _flip_record(d / COMMANDS_DIR, 120)
    before = _files(d)
    result = run("verify", str(d))
    assert result.exit_code == 1
    damage = [line for line in result.output.splitlines() if line.startswith("DAMAGE")]
    assert len(damage) == 2
    assert "DAMAGE commands: CorruptRecord" in damage[0]
    assert "seqs 120..120 unreadable" in damage[0] or "seqs 120.." in damage[0]
    assert "DAMAGE events: MissingSegment: segment 0 is missing" in damage[1]
    assert "seqs 0.." in damage[1]
    assert "--at-damage" in result.output
    assert _files(d) == before


def test_inspect_reports_damage_instead_of_a_traceback(tmp_path: Path) -> None:
    d = tmp_path / "d"
    build_long(d)
    os.unlink(d / COMMANDS_DIR / f"{0:016x}.wseg")
    result = run("inspect", str(d))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "DAMAGE MissingSegment: segment 0 is missing" in " ".join(result.output.split())


def _venue_dir(d: Path, commands: int = 300) -> None:
    """A real venue's data directory: small segments, ticks, checkpoints (snapshots)."""
    from whistle.coord.venue.facade import Venue

    v = Venue(data_dir=d, segment_size=8192, checkpoint_every=100)
    try:
        v.add_instrument("AAA", symbol_id=1)
        for i in range(commands):
            v.submit("AAA", "sell" if i % 2 else "buy", "1", f"{100 + i % 7}.00")
            if i % 10 == 9:
                v.tick()
        v.tick()
    finally:
        v.stop()


def test_repair_at_damage_names_the_dropped_commands(tmp_path: Path) -> None:
    from whistle.coord.durability.replay import replay
    from whistle.coord.venue.facade import Venue

    d = tmp_path / "d"
    _venue_dir(d)
    with ReadOnlyReader(d / COMMANDS_DIR) as r:
        seqs = [
            (x.seq, CODEC.decode_record(x.payload)) for x in r if x.type_id == 2
        ]  # Sequenced records
    victim = next(seq for seq, item in seqs if getattr(item, "enq_seq", 0) == 150)
    _flip_record(d / COMMANDS_DIR, victim)
    assert run("verify", str(d)).exit_code == 1
    before = _files(d)
    dry = run("repair", str(d), "--at-damage")
    assert dry.exit_code == 0, dry.output
    out = dry.output
    assert "(the last kept acknowledged command is enq_seq 149)" in out
    assert "drops 150 readable acknowledged command(s): enq_seq 151..300" in out
    assert "and 1 unreadable record(s)" in out
    assert "dry run: nothing changed" in out
    assert _files(d) == before
    done = run("repair", str(d), "--at-damage", "--yes")
    assert done.exit_code == 0, done.output
    assert run("verify", str(d)).exit_code == 0
    report = replay(d)
    assert report.ok, (report.event_problems, report.snapshot_problems, report.event_gaps)
    v = Venue(data_dir=d)  # recovers whole: the acknowledged prefix, nothing else
    try:
        assert v.enq_seq == 149
    finally:
        v.stop()


def test_repair_truncate_after_on_one_queue_and_refusals(tmp_path: Path) -> None:
    d = tmp_path / "d"
    build_long(d)
    q = d / EVENTS_DIR
    usage = run("repair", str(q))
    assert usage.exit_code == 2
    with Queue.open_publisher(q, SMALL):
        locked = run("repair", str(q), "--truncate-after", "10", "--yes")
    assert locked.exit_code == 75
    assert "live writer" in locked.output
    too_far = run("repair", str(q), "--truncate-after", "500")
    assert too_far.exit_code == 65
    assert "cannot repair" in too_far.output
    done = run("repair", str(q), "--truncate-after", "10", "--yes")
    assert done.exit_code == 0, done.output
    assert "drops seqs 11..199 (189 records, 189 of them still readable)" in done.output
    with ReadOnlyReader(q) as r:
        assert [x.seq for x in r] == list(range(11))


def _wseg(qdir: Path, seg_id: int) -> Path:
    return qdir / f"{seg_id:016x}.wseg"


def _swap_files(a: Path, b: Path) -> None:
    tmp = a.with_name("swap.tmp")
    os.rename(a, tmp)
    os.rename(b, a)
    os.rename(tmp, b)


def _flip_at(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))


def _head_id(qdir: Path) -> int:
    with ReadOnlyReader(qdir) as r:
        return max(x.segment_id for x in r)


# Damage to whole segment files that verify names; each used to make repair exit 65.
_SEGMENT_DAMAGE = {
    "sealed_header_crc": lambda q, h: _flip_at(_wseg(q, 1), 10),
    "sealed_truncated": lambda q, h: os.truncate(_wseg(q, 1), 4096),
    "head_truncated_mid": lambda q, h: os.truncate(_wseg(q, h), 5000),
    "head_truncated_128": lambda q, h: os.truncate(_wseg(q, h), 128),
    "head_truncated_0": lambda q, h: os.truncate(_wseg(q, h), 0),
    "sealed_swapped": lambda q, h: _swap_files(_wseg(q, 1), _wseg(q, 2)),
    "old_copy_over_head": lambda q, h: _wseg(q, h).write_bytes(_wseg(q, h - 1).read_bytes()),
    "stray_extra_segment": lambda q, h: _wseg(q, h + 4).write_bytes(_wseg(q, 1).read_bytes()),
}


@pytest.mark.parametrize("kind", sorted(_SEGMENT_DAMAGE))
def test_repair_at_damage_of_a_data_dir_for_every_segment_damage(tmp_path: Path, kind: str) -> None:
    from whistle.coord.venue.facade import Venue

    d = tmp_path / "d"
    _venue_dir(d)
    cmds = d / COMMANDS_DIR
    head = _head_id(cmds)
    assert head >= 3
    _SEGMENT_DAMAGE[kind](cmds, head)
    verified = run("verify", str(d))
    assert verified.exit_code == 1
    assert "--at-damage" in verified.output
    before = _files(d)
    dry = run("repair", str(d), "--at-damage")
    assert dry.exit_code == 0, dry.output
    assert _files(d) == before
    kept = int(dry.output.split("last kept acknowledged command is enq_seq ")[1].split(")")[0])
    assert "set aside" in dry.output
    if kind.startswith("head_truncated_"):
        assert "(unknown end)" in dry.output
    done = run("repair", str(d), "--at-damage", "--yes")
    assert done.exit_code == 0, done.output
    assert run("verify", str(d)).exit_code == 0, run("verify", str(d)).output
    aside = [p for p in d.iterdir() if p.name.startswith("damaged-")]
    assert len(aside) == 1
    moved = sorted(p.name for p in (aside[0] / COMMANDS_DIR).iterdir())
    assert moved
    for name in moved:  # nothing deleted: set aside byte for byte as the damage left it
        assert (aside[0] / COMMANDS_DIR / name).read_bytes() == before[f"{COMMANDS_DIR}/{name}"]

    # The set-aside directory is named by the second the repair runs, so the dry run and the
    # real one may name different ones: read the paths the real run printed, and require the
    # dry run to have announced the same snapshots.
    def snapshot_moves(output: str) -> list[list[str]]:
        return [ln.split()[3:6:2] for ln in output.splitlines() if ln.startswith("snapshots:")]

    snaps = snapshot_moves(done.output)
    assert [src for src, _dst in snapshot_moves(dry.output)] == [src for src, _dst in snaps]
    for src, dst in snaps:  # dropped snapshots are set aside too, not deleted
        assert not os.path.exists(src)
        with open(dst, "rb") as fh:
            assert fh.read() == before[os.path.relpath(src, d)]
    v = Venue(data_dir=d)  # opens for writing and continues after the kept prefix
    try:
        assert v.enq_seq == kept
        v.submit("AAA", "buy", "1", "100.00")
        v.tick()
        assert v.enq_seq == kept + 1
    finally:
        v.stop()
    assert run("verify", str(d)).exit_code == 0


def _sequenced_before_a_tick(d: Path) -> tuple[int, int]:
    """(journal seq, enq_seq) of a Sequenced record whose next record is its Ticked."""
    with ReadOnlyReader(d / COMMANDS_DIR) as r:
        items = [(x.seq, CODEC.decode_record(x.payload)) for x in r]
    for (seq, item), (_s, nxt) in itertools.pairwise(items):
        if isinstance(item, Sequenced) and isinstance(nxt, Ticked) and item.enq_seq > 100:
            return seq, item.enq_seq
    raise AssertionError("no Sequenced record followed by a Ticked one")


def test_repair_names_kept_commands_whose_tick_is_dropped(tmp_path: Path) -> None:
    from whistle.coord.venue.facade import Venue

    d = tmp_path / "d"
    _venue_dir(d)
    seq, enq = _sequenced_before_a_tick(d)
    dry = run("repair", str(d), "--truncate-after", str(seq))
    assert dry.exit_code == 0, dry.output
    assert f"(the last kept acknowledged command is enq_seq {enq})" in dry.output
    assert (
        f"keeps 1 command(s) whose Ticked record is dropped: enq_seq {enq} will run at "
        "the venue's next tick, not at their original time" in dry.output
    )
    assert "--cut-pending" in dry.output
    keep = tmp_path / "keep"
    os.rename(d, keep)
    d2 = tmp_path / "d"
    _venue_dir(d2)  # the same directory again, for the --cut-pending run
    cut = run("repair", str(d2), "--truncate-after", str(seq), "--cut-pending")
    assert cut.exit_code == 0, cut.output
    assert f"(the last kept acknowledged command is enq_seq {enq - 1})" in cut.output
    assert "whose Ticked record is dropped" not in cut.output
    assert f"enq_seq {enq}" in cut.output  # listed among the dropped commands
    assert (
        run("repair", str(d2), "--truncate-after", str(seq), "--cut-pending", "--yes").exit_code
        == 0
    )
    assert run("repair", str(keep), "--truncate-after", str(seq), "--yes").exit_code == 0
    v = Venue(data_dir=keep)
    try:
        assert v.enq_seq == enq
        assert v.recovery is not None
        assert v.recovery.pending == [enq]
    finally:
        v.stop()
    v = Venue(data_dir=d2)
    try:
        assert v.enq_seq == enq - 1
        assert v.recovery is not None
        assert v.recovery.pending == []
    finally:
        v.stop()
    one_queue = run("repair", str(d2 / EVENTS_DIR), "--at-damage", "--cut-pending")
    assert one_queue.exit_code == 2


def test_repair_truncate_after_a_seq_before_the_damage(tmp_path: Path) -> None:
    d = tmp_path / "d"
    _venue_dir(d)
    cmds = d / COMMANDS_DIR
    with ReadOnlyReader(cmds) as r:
        seq = next(x.seq for x in r if x.segment_id == 1) + 3
    _flip_at(_wseg(cmds, 2), 10)  # a sealed segment's header CRC
    too_far = run("repair", str(d), "--truncate-after", str(seq + 100_000))
    assert too_far.exit_code == 65
    done = run("repair", str(d), "--truncate-after", str(seq), "--yes")
    assert done.exit_code == 0, done.output
    assert f"keep seqs through {seq}, drops seqs {seq + 1}.." in done.output
    assert run("verify", str(d)).exit_code == 0
    with ReadOnlyReader(cmds) as r:
        assert [x.seq for x in r] == list(range(seq + 1))
