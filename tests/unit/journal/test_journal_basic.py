"""Round trips, rolling, seeking, waiting."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest
from journal_helpers import SMALL, seg_path, small_config

from whistle.journal import (
    JournalClosedError,
    MissingSegment,
    Queue,
    QueueWriter,
    Record,
    RecordTooLarge,
    SequenceUnavailable,
)
from whistle.journal.segment import (
    HEADER_SIZE,
    STATE_ACTIVE,
    STATE_SEALED,
    Segment,
    record_size,
    scan_segment,
)

if TYPE_CHECKING:
    from pathlib import Path


def test_append_and_read_back(writer: QueueWriter, qdir: Path) -> None:
    assert writer.append(7, b"hello", ts_ns=123) == 0
    assert writer.append(8, b"", ts_ns=124) == 1
    assert writer.append_many([(9, b"a"), (10, bytearray(b"bb"))], ts_ns=5) == range(2, 4)
    with Queue.open_subscriber(qdir, "r") as reader:
        recs = list(reader)
    assert recs[0] == Record(0, 123, 7, b"hello", 0, HEADER_SIZE)
    assert [(r.seq, r.type_id, r.payload, r.ts_ns) for r in recs[1:]] == [
        (1, 8, b"", 124),
        (2, 9, b"a", 5),
        (3, 10, b"bb", 5),
    ]
    assert all(r.offset % 8 == 0 for r in recs)


def test_record_sizes_are_8_byte_aligned() -> None:
    for n in range(50):
        size = record_size(n)
        assert size % 8 == 0
        assert size >= 24 + n + 8


def test_default_timestamp_is_wall_clock(writer: QueueWriter, qdir: Path) -> None:
    writer.append(1, b"x")
    with Queue.open_subscriber(qdir, "r") as reader:
        rec = reader.next()
    assert rec is not None
    assert rec.ts_ns > 1_600_000_000 * 10**9


def test_rolls_and_seals_segments(qdir: Path) -> None:
    payloads = [bytes([i % 256]) * (i % 200) for i in range(300)]
    with Queue.open_publisher(qdir, small_config(prealloc=False)) as w:
        for i, p in enumerate(payloads[:150]):
            assert w.append(i % 5, p) == i
        w.append_many([(i % 5, p) for i, p in enumerate(payloads[150:], 150)])
        head = w.head_segment_id
    assert head >= 5
    segs = Queue.segments(qdir)
    assert [s.segment_id for s in segs] == list(range(head + 1))
    assert all(s.state == STATE_SEALED for s in segs[:-1])
    assert segs[-1].state == STATE_ACTIVE
    assert all(s.size_bytes == SMALL for s in segs)
    with Queue.open_subscriber(qdir, "r") as reader:
        recs = reader.read_batch(10_000)
    assert [r.payload for r in recs] == payloads
    assert [r.seq for r in recs] == list(range(300))
    assert len({r.segment_id for r in recs}) == head + 1


def test_record_too_large(writer: QueueWriter) -> None:
    with pytest.raises(RecordTooLarge) as info:
        writer.append(1, bytes(SMALL))
    assert isinstance(info.value, ValueError)
    assert writer.append(1, b"ok") == 0


def test_bad_type_id_is_value_error(writer: QueueWriter) -> None:
    with pytest.raises(ValueError):
        writer.append(-1, b"x")
    with pytest.raises(ValueError):
        writer.append_many([(1, b"x"), (2**40, b"y")])
    assert writer.next_seq == 1  # the valid first item of the batch stayed


def test_closed_writer_and_reader(qdir: Path) -> None:
    w = Queue.open_publisher(qdir, small_config())
    r = Queue.open_subscriber(qdir, "r")
    w.close()
    w.close()
    r.close()
    with pytest.raises(JournalClosedError):
        w.append(1, b"x")
    with pytest.raises(JournalClosedError):
        w.append_many([(1, b"x")])
    with pytest.raises(JournalClosedError):
        r.next()
    with pytest.raises(JournalClosedError):
        r.commit()


def test_reopen_continues_sequence(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config()) as w:
        w.append_many([(1, b"x" * 100)] * 100)
    with Queue.open_publisher(qdir, small_config()) as w:
        assert w.next_seq == 100
        assert w.append(1, b"y") == 100
    with Queue.open_subscriber(qdir, "r") as r:
        assert [x.seq for x in r] == list(range(101))


def test_sealed_last_segment_without_successor_is_damage(qdir: Path) -> None:
    # A roll publishes and activates the next segment before it seals the old one, so a
    # sealed last segment means its successor was deleted (this used to be "recovered"
    # by silently starting a new segment).
    with Queue.open_publisher(qdir, small_config(prealloc=False)) as w:
        w.append_many([(1, b"x" * 100)] * 60)
        head = w.head_segment_id
    seg = Segment(str(seg_path(qdir, head)), writable=True)
    res = scan_segment(seg, seg.base_seq)
    assert res.next_seq == 60
    seg.seal(res.end_offset, 60, 1, res.last_offset)
    seg.close()
    with pytest.raises(MissingSegment, match=f"segment {head + 1} is missing") as info:
        Queue.open_publisher(qdir, small_config())
    assert info.value.first_seq == 60
    assert "seqs 60.. unreadable" in str(info.value)
    assert not seg_path(qdir, head + 1).exists()
    with pytest.raises(MissingSegment):
        Queue.open_subscriber(qdir, "r")


def test_seek(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config()) as w:
        w.append_many([(1, i.to_bytes(4, "little") * 20) for i in range(200)])
        with Queue.open_subscriber(qdir, "r") as r:
            for target in (0, 1, 57, 150, 199):
                r.seek(target)
                rec = r.next()
                assert rec is not None
                assert rec.seq == target
            r.seek(250)  # beyond the tail: skip until it exists
            assert r.next() is None
            w.append_many([(2, b"q")] * 60)
            rec = r.next()
            assert rec is not None
            assert rec.seq == 250


def test_seek_before_retained_raises(qdir: Path) -> None:
    from whistle.journal import RetentionPolicy

    cfg = small_config(retention=RetentionPolicy(keep_segments=1), retention_interval_ms=10**6)
    with Queue.open_publisher(qdir, cfg) as w:
        w.append_many([(1, b"x" * 100)] * 200)
        assert w.run_retention()
        with Queue.open_subscriber(qdir, "late") as r, pytest.raises(SequenceUnavailable):
            r.seek(0)


def test_wait_next_times_out_and_wakes(writer: QueueWriter, qdir: Path) -> None:
    with Queue.open_subscriber(qdir, "r") as reader:
        assert reader.wait_next(0.01) is None
        assert reader.wait_next(0) is None
        started = threading.Event()

        def produce() -> None:
            started.wait()
            writer.append(3, b"late")

        t = threading.Thread(target=produce)
        t.start()
        started.set()
        rec = reader.wait_next(30.0)
        t.join()
    assert rec is not None
    assert rec.payload == b"late"


def test_reader_on_fresh_queue_then_writer_rolls(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config()) as w, Queue.open_subscriber(qdir, "r") as r:
        got: list[int] = []
        for i in range(500):
            w.append(1, bytes(i % 90))
            if i % 7 == 0:
                got.extend(x.seq for x in r.read_batch(3))
        got.extend(x.seq for x in r)
    assert got == list(range(500))


def test_read_payloads_is_read_batch_without_records(qdir: Path) -> None:
    from whistle.journal import CorruptRecord, ReadOnlyReader

    payloads = [bytes([i % 256]) * (i % 150) for i in range(500)]
    with Queue.open_publisher(qdir, small_config(prealloc=False)) as w:
        w.append_many([(1, p) for p in payloads])
    with ReadOnlyReader(qdir) as r:
        got: list[bytes] = []
        while chunk := r.read_payloads(77):
            got.extend(chunk)
            assert r.next_seq == len(got)
    assert got == payloads
    with ReadOnlyReader(qdir) as r:
        r.seek(123)
        assert r.read_payloads(3) == payloads[123:126]
    with ReadOnlyReader(qdir) as r:
        tenth = r.read_batch(11)[10]
    assert tenth.segment_id == 0
    with open(seg_path(qdir, 0), "r+b") as fh:  # damage record 10 (a sealed segment)
        fh.seek(tenth.offset + 26)
        fh.write(b"\xff")
    with ReadOnlyReader(qdir) as r:
        assert len(r.read_payloads(1000)) == 10  # the records before the damage ...
        with pytest.raises(CorruptRecord):
            r.read_payloads(1000)  # ... then the damage, as read_batch says it
