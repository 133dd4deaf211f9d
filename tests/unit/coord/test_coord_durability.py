"""Write-ahead journal of a venue: recovery paths, refusals, replay checks."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from whistle import NewOrder, OrderAccepted, Venue
from whistle.cli.main import main
from whistle.coord.durability.datadir import DataDirError, VenueJournal, iter_records, scan
from whistle.coord.durability.records import Checkpoint, Defined, Sequenced, Stopped, Ticked
from whistle.coord.durability.replay import replay
from whistle.core import Instrument

A = Instrument(symbol="A", symbol_id=31, tick_size="1")
B = Instrument(symbol="B", symbol_id=32, tick_size="1")


def order(oid: int, sid: int = 31, side: int = 1, price: int = 100, tif: int = 1, **kw):
    return NewOrder(sid, oid, 1, side, 1, tif, price, 5, **kw)


def trade(venue: Venue, n: int) -> None:
    for i in range(1, n + 1):
        venue.send(order(i, side=1 + i % 2, price=100 + i % 3))
        venue.send(order(i, sid=32, price=90 + i % 5))


def fresh(path, **kw) -> Venue:
    venue = Venue(data_dir=path, **kw)
    venue.add_instrument(A)
    venue.add_instrument(B)
    return venue


def test_records_are_written_in_order_and_the_stop_is_clean(tmp_path):
    with fresh(tmp_path / "d", checkpoint_every=4) as venue:
        trade(venue, 5)
    kinds = [type(r).__name__ for r in iter_records(tmp_path / "d")]
    assert kinds[:4] == ["Defined", "Defined", "Sequenced", "Ticked"]
    assert "Checkpoint" in kinds
    assert kinds[-1] == "Stopped"
    found = scan(tmp_path / "d")
    # 10 sends (a tick each) and the draining tick of stop()
    assert (found.commands, found.ticks, found.stopped is not None) == (10, 11, True)


def test_reopening_recovers_and_continues_the_sequences(tmp_path):
    with fresh(tmp_path / "d", checkpoint_every=3) as venue:
        trade(venue, 6)
        hashes = venue.state_hashes()
        last_seq = venue.status("A").event_seq
        last_enq = venue.enq_seq
    with Venue(data_dir=tmp_path / "d") as again:
        assert again.recovery is not None
        assert again.recovery.clean_stop
        assert again.state_hashes() == hashes
        events = again.send(order(100))
        assert isinstance(events[0], OrderAccepted)
        assert (events[0].seq, events[0].enq_seq) == (last_seq + 1, last_enq + 1)
    assert replay(tmp_path / "d").ok


def test_a_crash_before_any_checkpoint_replays_everything(tmp_path):
    venue = fresh(tmp_path / "d", checkpoint_every=0)
    trade(venue, 4)
    venue.enqueue(order(50))  # acknowledged, never ticked
    hashes_before = venue.state_hashes()
    assert venue._journal is not None
    venue._journal.close()  # the process "dies": no checkpoint, no Stopped record
    venue._journal = None
    venue.stop()
    with Venue(data_dir=tmp_path / "d") as again:
        assert again.recovery is not None
        report = again.recovery
        assert (report.restored, report.commands, report.clean_stop) == (0, 9, False)
        assert again.state_hashes() == hashes_before  # order 50 still queued
        events = again.tick()
        assert [e.order_id for e in events if isinstance(e, OrderAccepted)] == [50]


def test_fsync_every_and_interval_work(tmp_path):
    for policy in ("every", "interval"):
        with fresh(tmp_path / policy, fsync=policy) as venue:
            trade(venue, 2)
        assert replay(tmp_path / policy).ok


def test_a_relative_data_dir_survives_a_chdir(tmp_path, monkeypatch):
    # The path is made absolute when the venue opens it: after a chdir, segment rolls and
    # snapshots still go to the directory the venue was opened on.
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    venue = Venue(data_dir="vd", segment_size=16384, checkpoint_every=50)
    venue.add_instrument("X", tick_size="1", lot_size="1")
    monkeypatch.chdir(second)
    for i in range(600):
        venue.submit("X", "buy" if i % 2 else "sell", qty_lots=1, price_ticks=100 + i % 5)
    hashes = venue.state_hashes()
    venue.stop()
    assert not any(second.iterdir())
    assert len(scan(first / "vd").checkpoints) > 1
    report = replay(first / "vd")
    assert report.ok, report.mismatches
    assert report.state_hashes == hashes


def test_a_data_dir_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("not a directory")
    with pytest.raises(DataDirError, match="is a file, not a directory"):
        Venue(data_dir=target)


def test_a_missing_snapshot_falls_back_and_says_so(tmp_path):
    with fresh(tmp_path / "d", checkpoint_every=2) as venue:
        trade(venue, 3)
        hashes = venue.state_hashes()
    shutil.rmtree(tmp_path / "d" / "snapshots" / "31")
    with Venue(data_dir=tmp_path / "d") as again:
        assert again.state_hashes() == hashes
        report = again.recovery
        assert report is not None
        assert report.checkpoint_enq_seq is None  # every kept checkpoint names symbol 31
        assert any("31" in f and "is missing" in f for f in report.fallbacks), report.fallbacks
        assert report.fallbacks[-1].startswith("no checkpoint usable")


def test_a_stop_whose_hashes_do_not_match_is_refused(tmp_path):
    data = tmp_path / "d"
    journal = VenueJournal(data)
    journal.defined(A, 0)
    journal.sequenced(1, order(1), 0)
    journal.ticked(1, 0)
    journal.stopped(1, {31: "0" * 32}, 0)
    journal.close()
    with pytest.raises(
        DataDirError, match=r"differ from the ones recorded at stop for symbols \[31\]"
    ):
        Venue(data_dir=data)
    report = replay(data)
    assert not report.ok
    assert report.mismatches[0].symbol == "A"
    result = CliRunner().invoke(main, ["replay", str(data)])
    assert result.exit_code == 1
    assert "MISMATCH" in result.output


def test_replay_cli_reports_a_good_journal(tmp_path):
    with fresh(tmp_path / "d", checkpoint_every=2) as venue:
        trade(venue, 3)
    result = CliRunner().invoke(main, ["replay", str(tmp_path / "d"), "--json"])
    assert result.exit_code == 0, result.output
    assert '"ok": true' in result.output


def test_replay_of_something_that_is_not_a_data_dir_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["replay", str(tmp_path)])
    assert result.exit_code == 65  # README "Errors": bad input or damaged data
    assert "is not a whistle data directory" in result.output


def test_journal_record_types_round_trip():
    from whistle.coord.durability.records import RecordCodec

    codec = RecordCodec()
    for record in (
        Defined(A),
        Sequenced(3, order(1)),
        Ticked(2, 5),
        Checkpoint(3, 2, 5, {31: 3}),
        Stopped(3, {31: "ab"}),
    ):
        assert codec.decode_record(codec.encode(record)) == record
