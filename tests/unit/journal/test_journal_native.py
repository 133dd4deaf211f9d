"""The C loops of ``whistle.journal._native`` against the pure-Python paths they replace.

The compiled install (what CI runs) appends and reads through ``_native``; the pure one
through the Python loops. These tests run both on the same input in one process (the pure
path by setting the module hooks to None) and demand the same bytes on disk, the same
records read back, and the same errors. Without the extension (pure install) they skip:
there is nothing to compare.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from journal_helpers import seg_path, small_config

import whistle.journal.readonly as readonly_mod
import whistle.journal.writer as writer_mod
from whistle.journal import CorruptRecord, Queue, ReadOnlyReader
from whistle.journal.segment import COMMIT_MARK, HEADER_SIZE, record_size

if TYPE_CHECKING:
    from pathlib import Path

native = pytest.importorskip("whistle.journal._native")


def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_mod, "_store_items", None)
    monkeypatch.setattr(readonly_mod, "_scan_records", None)


def _items(count: int, seed: int) -> list[tuple[int, bytes]]:
    rnd = __import__("random").Random(seed)
    return [
        (rnd.randrange(2**32), os.urandom(rnd.choice((0, 1, 3, 7, 8, 64, 200))))
        for _ in range(count)
    ]


def _write(qdir: Path, batches: list[Any], ts: int) -> list[range | int]:
    """Append each batch (a list: ``append_many``; a pair: ``append``); their seqs."""
    with Queue.open_publisher(qdir, small_config(prealloc=False)) as w:
        return [
            w.append_many(b, ts_ns=ts) if isinstance(b, list) else w.append(*b, ts_ns=ts)
            for b in batches
        ]


def _record_bytes(qdir: Path) -> list[bytes]:
    out = []
    for name in sorted(os.listdir(qdir)):
        if name.endswith(".wseg"):
            out.append((qdir / name).read_bytes()[HEADER_SIZE:])
    return out


def test_crc32_is_zlibs() -> None:
    for n in (0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4097):
        data = os.urandom(n)
        assert native.crc32(data) == zlib.crc32(data)
    assert native.crc32(bytearray(b"whistle")) == zlib.crc32(b"whistle")


def test_native_and_pure_append_write_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Mixed lengths and type ids, single appends between batches, and enough to roll the
    # 4 KiB segments several times (a roll happens inside a batch: the C loop stops, the
    # record loop rolls, the C loop goes on).
    batches: list[Any] = [_items(40, 1), (7, b"single"), _items(3, 2), _items(90, 3), (0, b"")]
    ts = 1_733_000_000_123_456_789
    fast = _write(tmp_path / "fast", batches, ts)
    _pure(monkeypatch)
    slow = _write(tmp_path / "slow", batches, ts)
    assert fast == slow
    assert len(_record_bytes(tmp_path / "fast")) >= 3  # rolled twice
    assert _record_bytes(tmp_path / "fast") == _record_bytes(tmp_path / "slow")
    with ReadOnlyReader(tmp_path / "slow") as r:
        got = [(rec.type_id, rec.payload) for rec in r.read_batch(1000)]
    flat = [it for b in batches for it in (b if isinstance(b, list) else [b])]
    assert got == flat


@pytest.mark.parametrize(
    "bad",
    [
        [1, b"list, not a tuple"],
        (-1, b"negative type id"),
        (2**32, b"type id past u32"),
        (1, memoryview(b"a memoryview")),
        (1, "a str"),
        (1, b"three", 3),
    ],
)
def test_an_item_the_c_loop_refuses_gets_the_record_loops_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: Any
) -> None:
    items: list[Any] = [*_items(5, 4), bad, *_items(5, 5)]
    outcome = []
    for name in ("fast", "slow"):
        if name == "slow":
            _pure(monkeypatch)
        with Queue.open_publisher(tmp_path / name, small_config(prealloc=False)) as w:
            try:
                result: Any = w.append_many(items, ts_ns=5)
            except Exception as exc:
                result = (type(exc), str(exc))
            outcome.append((result, w.next_seq, w.write_offset))
    assert outcome[0] == outcome[1]
    assert _record_bytes(tmp_path / "fast") == _record_bytes(tmp_path / "slow")


def test_bad_timestamp_raises_the_same_without_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("fast", "slow"):
        if name == "slow":
            _pure(monkeypatch)
        with Queue.open_publisher(tmp_path / name, small_config(prealloc=False)) as w:
            with pytest.raises(ValueError, match="bad record field"):
                w.append_many(_items(10, 6), ts_ns=-1)
            with pytest.raises(ValueError, match="bad record field"):
                w.append(1, b"x", ts_ns=2**64)
            assert w.next_seq == 0
            assert w.write_offset == HEADER_SIZE


def test_native_and_pure_read_the_same_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = _items(300, 7)
    with Queue.open_publisher(tmp_path / "q", small_config(prealloc=False)) as w:
        w.append_many(items, ts_ns=9)
    reads = []
    for pure in (False, True):
        if pure:
            _pure(monkeypatch)
        with ReadOnlyReader(tmp_path / "q") as r:
            records = [r.read_batch(17) for _ in range(3)]
            payloads = r.read_payloads(10_000)
            reads.append((records, payloads, r.next_seq))
    assert reads[0] == reads[1]
    assert reads[0][2] == 300


def test_torn_tail_and_mid_segment_damage_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qdir = tmp_path / "q"
    with Queue.open_publisher(qdir, small_config(prealloc=False)) as w:
        w.append_many([(1, b"p" * 40)] * 10, ts_ns=1)
    size = record_size(40)
    path = seg_path(qdir, 0)
    data = bytearray(path.read_bytes())
    # A torn tail: the last record's commit marker never made it.
    mark_at = HEADER_SIZE + 9 * size + ((24 + 40 + 3) & ~3) + 4
    data[mark_at : mark_at + 4] = bytes(4)
    path.write_bytes(bytes(data))
    tails = []
    for pure in (False, True):
        if pure:
            _pure(monkeypatch)
        with ReadOnlyReader(qdir) as r:
            tails.append((len(r.read_payloads(100)), r.next_seq))
    assert tails == [(9, 9), (9, 9)]
    # A flipped payload bit in record 3 with valid records after it: damage, both ways.
    monkeypatch.undo()
    data[HEADER_SIZE + 3 * size + 30] ^= 1
    path.write_bytes(bytes(data))
    errors = []
    for pure in (False, True):
        if pure:
            _pure(monkeypatch)
        with ReadOnlyReader(qdir) as r:
            assert len(r.read_payloads(100)) == 3
            with pytest.raises(CorruptRecord) as info:
                r.read_payloads(100)
            errors.append(str(info.value))
    assert errors[0] == errors[1]


# -- hostile inputs: the C loops against the Python loops on random bytes -----------------

_HDR = struct.Struct("<IIQQ")
_U32 = struct.Struct("<I")


def _scan_reference(
    buf: bytes | bytearray, off: int, limit: int, expect: int, skip: int, max_n: int
) -> tuple[list[bytes], int, int]:
    """ReadOnlyReader's pure fast loop (payload form), as a function."""
    out: list[bytes] = []
    mv = memoryview(buf)
    while len(out) < max_n and off + 24 + 8 <= limit:
        n, _t, seq, _ts = _HDR.unpack_from(buf, off)
        trailer = off + ((24 + n + 3) & ~3)
        if trailer + 8 > limit:
            break
        crc, mark = struct.unpack_from("<II", buf, trailer)
        if mark != COMMIT_MARK or seq != expect or zlib.crc32(mv[off : off + 24 + n]) != crc:
            break
        if seq >= skip:
            out.append(bytes(buf[off + 24 : off + 24 + n]))
        off += (trailer + 8 - off + 7) & ~7
        expect = seq + 1
    return out, off, expect


def _valid_records(payloads: list[bytes], seq: int) -> bytearray:
    buf = bytearray(8 + sum(record_size(len(p)) for p in payloads))
    count, end, _ = native.store_items(buf, 8, len(buf), [(3, p) for p in payloads], 0, seq, 77, 0)
    assert (count, end) == (len(payloads), len(buf))
    return buf


@settings(max_examples=300, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=40), max_size=6),
    edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4),
    length_edit=st.one_of(
        st.none(),
        st.tuples(st.integers(0, 5), st.sampled_from([0, 1, 7, 2**31, 2**32 - 1, 2**32 - 24])),
    ),
    cut=st.integers(0, 64),
    skip=st.integers(0, 12),
    max_n=st.integers(0, 8),
)
def test_scan_matches_the_python_loop_on_damaged_bytes(
    payloads: list[bytes],
    edits: list[tuple[int, int]],
    length_edit: tuple[int, int] | None,
    cut: int,
    skip: int,
    max_n: int,
) -> None:
    buf = _valid_records(payloads, 10)
    for pos, value in edits:
        if pos < len(buf):
            buf[pos] = value
    if length_edit is not None:  # a hostile length field at some record start
        at = 8 + 8 * length_edit[0]
        if at + 4 <= len(buf):
            _U32.pack_into(buf, at, length_edit[1])
    limit = max(0, len(buf) - cut)
    got: list[Any] = []
    off, expect = native.scan_records(buf, 8, limit, 10, 10 + skip, max_n, got, None, 0)
    assert (got, off, expect) == _scan_reference(buf, 8, limit, 10, 10 + skip, max_n)


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 70), max_size=8),
    room=st.integers(0, 900),
    start=st.integers(0, 9),
)
def test_store_never_writes_past_its_limit(lengths: list[int], room: int, start: int) -> None:
    buf = bytearray(1024)
    guard = bytes(range(256)) * 4
    buf[:] = guard
    limit = 8 + room if 8 + room <= len(buf) else len(buf)
    buf[8:limit] = bytes(limit - 8)
    items = [(i, bytes([i]) * n) for i, n in enumerate(lengths)]
    count, end, last = native.store_items(buf, 8, limit, items, start, 1, 2, -1)
    # What fits, in order, from ``start``; nothing outside [8, end) touched.
    expect_end, expect_count = 8, 0
    for _, payload in items[start:]:
        size = record_size(len(payload))
        if expect_end + size > limit:
            break
        expect_end += size
        expect_count += 1
    assert (count, end) == (expect_count, expect_end)
    assert buf[:8] == guard[:8]
    assert buf[limit:] == guard[limit:]
    assert bytes(buf[end:limit]) == bytes(limit - end)
    assert last == (-1 if count == 0 else end - record_size(len(items[start + count - 1][1])))
    got: list[Any] = []
    native.scan_records(buf, 8, limit, 1, 0, 100, got, None, 0)
    assert got == [p for _, p in items[start : start + count]]


def test_bad_offsets_and_limits_are_refused() -> None:
    buf = bytearray(64)
    for off, limit in ((-8, 64), (4, 64), (8, 65), (16, 8)):
        with pytest.raises(ValueError, match="outside the buffer"):
            native.store_items(buf, off, limit, [], 0, 0, 0, 0)
    for off, limit in ((-8, 64), (4, 64), (8, 65)):
        with pytest.raises(ValueError, match="outside the buffer"):
            native.scan_records(buf, off, limit, 0, 0, 1, [], None, 0)
    with pytest.raises(BufferError):
        native.store_items(b"read-only bytes", 0, 8, [], 0, 0, 0, 0)
