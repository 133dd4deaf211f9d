"""Deterministic fan-in merge of several queues."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from journal_helpers import small_config

from whistle.journal import FanInReader, Queue

if TYPE_CHECKING:
    from pathlib import Path


def _make(path: Path, stamps: list[int], tag: bytes) -> None:
    with Queue.open_publisher(path, small_config()) as w:
        for i, ts in enumerate(stamps):
            w.append(1, tag + bytes([i]), ts_ns=ts)


def test_merge_order_ts_then_index_then_seq(tmp_path: Path) -> None:
    _make(tmp_path / "a", [5, 10, 10, 30], b"a")
    _make(tmp_path / "b", [1, 10, 20], b"b")
    _make(tmp_path / "c", [10, 40], b"c")
    readers = [Queue.open_subscriber(tmp_path / n, "m") for n in "abc"]
    with FanInReader(readers) as fan:
        merged = list(fan)
    keys = [(m.record.ts_ns, m.queue_index, m.record.seq) for m in merged]
    assert keys == sorted(keys)
    assert [m.record.payload for m in merged] == [
        b"b\x00",
        b"a\x00",
        b"a\x01",
        b"a\x02",
        b"b\x01",
        b"c\x00",
        b"b\x02",
        b"a\x03",
        b"c\x01",
    ]


def test_strict_waits_for_live_empty_queue(tmp_path: Path) -> None:
    _make(tmp_path / "a", [5, 6], b"a")
    live = Queue.open_publisher(tmp_path / "b", small_config())
    try:
        readers = [Queue.open_subscriber(tmp_path / n, "m") for n in "ab"]
        fan = FanInReader(readers)
        loose = FanInReader(
            [Queue.open_subscriber(tmp_path / n, "loose") for n in "ab"], strict=False
        )
        assert fan.next() is None  # b is live and empty: an earlier record may still come
        first = loose.next()
        assert first is not None
        assert first.record.ts_ns == 5
        live.append(1, b"b0", ts_ns=1)
        got = fan.read_batch(10)
        # b is empty and live again, so a's record (ts 5) must still wait
        assert [(m.queue_index, m.record.ts_ns) for m in got] == [(1, 1)]
        live.close()  # no live writer: b can produce nothing more
        assert [m.record.ts_ns for m in fan] == [5, 6]
        fan.close()
        loose.close()
    finally:
        live.close()


def test_commit_keeps_lookahead_records(tmp_path: Path) -> None:
    _make(tmp_path / "a", [1, 3, 5], b"a")
    _make(tmp_path / "b", [2, 4, 6], b"b")
    with FanInReader([Queue.open_subscriber(tmp_path / n, "m") for n in "ab"]) as fan:
        got = fan.read_batch(3)  # a1 b2 a3; b4 is buffered as look-ahead
        assert [m.record.ts_ns for m in got] == [1, 2, 3]
        fan.commit()
    with FanInReader([Queue.open_subscriber(tmp_path / n, "m") for n in "ab"]) as fan:
        assert [m.record.ts_ns for m in fan] == [4, 5, 6]


def test_needs_a_reader() -> None:
    with pytest.raises(ValueError):
        FanInReader([])
