"""Venue arguments are checked before anything touches the disk; foreign directories are refused."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from whistle.coord.durability.datadir import DataDirError
from whistle.coord.venue.facade import Venue

if TYPE_CHECKING:
    from pathlib import Path


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"segment_size": 0}, ValueError),
        ({"segment_size": 100}, ValueError),
        ({"segment_size": 1.5}, TypeError),
        ({"segment_size": True}, TypeError),
        ({"checkpoint_every": -5}, ValueError),
        ({"checkpoint_every": 1.5}, TypeError),
        ({"checkpoint_every": True}, TypeError),
        ({"keep_checkpoints": 0}, ValueError),
        ({"prealloc": "yes"}, TypeError),
        ({"prealloc": 1}, TypeError),
        ({"fsync": "sometimes"}, ValueError),
        ({"fsync": 1}, TypeError),
        ({"max_unwritten_events": -1}, ValueError),
        ({"max_unwritten_events": 2.0}, TypeError),
        ({"queue_depth": 0}, ValueError),
        ({"queue_depth": True}, TypeError),
        ({"hosts": True}, TypeError),
        ({"hosts": -1}, ValueError),
        ({"start_ns": -1}, ValueError),
        ({"start_ns": 1.0}, TypeError),
        ({"session_end_ns": True}, TypeError),
        ({"wait_timeout_s": 0}, ValueError),
        ({"wait_timeout_s": "1"}, TypeError),
        ({"host_heartbeat_s": float("nan")}, ValueError),
        ({"host_dead_after_s": True}, TypeError),
        ({"placement": 3}, TypeError),
        ({"backpressure": "wait"}, TypeError),
        ({"wait": 5}, TypeError),
    ],
)
def test_a_bad_argument_is_refused_and_creates_nothing(
    tmp_path: Path, kw: dict[str, Any], error: type[Exception]
) -> None:
    data = tmp_path / "d"
    with pytest.raises(error):
        Venue(data_dir=data, **kw)
    assert not data.exists(), _tree(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(error):
        Venue(data_dir=empty, **kw)
    assert _tree(empty) == []


def test_an_empty_path_is_refused_and_the_current_directory_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="''"):
        Venue(data_dir="")
    with pytest.raises(TypeError):
        Venue(data_dir=b"d")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Venue(data_dir=7)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_a_directory_holding_other_files_is_refused_naming_them(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "readme.txt").write_text("mine")
    (junk / "photos").mkdir()
    with pytest.raises(DataDirError, match=r"'photos', 'readme.txt'"):
        Venue(data_dir=junk)
    assert _tree(junk) == ["photos", "readme.txt"]
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(DataDirError, match="not a directory"):
        Venue(data_dir=afile)
    assert afile.read_text() == "x"


def test_a_fresh_volume_and_hidden_files_are_not_foreign(tmp_path: Path) -> None:
    # A freshly mounted volume holds lost+found; desktops leave .DS_Store and the like.
    from whistle.coord.durability.replay import replay

    mount = tmp_path / "mnt"
    (mount / "lost+found").mkdir(parents=True)
    (mount / ".DS_Store").write_bytes(b"\0")
    (mount / ".hidden").mkdir()
    with Venue(data_dir=mount, checkpoint_every=2) as venue:
        venue.add_instrument("A", symbol_id=1)
        for i in range(5):
            venue.submit("A", "buy", qty_lots=1, price_ticks=100 + i)
        hashes = venue.state_hashes()
    with Venue(data_dir=mount) as venue:  # reopened: recovered, not refused
        assert venue.state_hashes() == hashes
    report = replay(mount)
    assert report.ok, report.mismatches
    assert {".DS_Store", ".hidden", "lost+found"} <= set(os.listdir(mount))
    (mount / "notes.txt").write_text("mine")  # a visible foreign file is still refused
    with pytest.raises(DataDirError, match=r"'notes.txt'"):
        Venue(data_dir=mount)


def test_a_venue_directory_and_an_empty_one_are_accepted(tmp_path: Path) -> None:
    empty = tmp_path / "e"
    empty.mkdir()
    with Venue(data_dir=empty, checkpoint_every=0) as venue:
        venue.add_instrument("A", symbol_id=1)
        venue.submit("A", "buy", "1", "10.00")
    # a rebuilt event journal kept aside is part of a data directory
    (empty / "events.before-rebuild-1").mkdir()
    with Venue(data_dir=empty) as venue:
        assert venue.recovery is not None
        assert venue.recovery.enq_seq == 1
