"""Property tests: crash recovery keeps exactly the whole records; cursors resume;
random damage anywhere is either harmless or named, never silent loss."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whistle.journal import Queue, QueueConfig
from whistle.journal.segment import COMMIT_MARK

SEG = 4096
CFG = QueueConfig(segment_size=SEG, prealloc=False)

payloads = st.binary(min_size=0, max_size=300)
batch = st.lists(st.tuples(st.integers(0, 2**32 - 1), payloads), min_size=0, max_size=25)
damage = st.one_of(
    st.none(),
    st.tuples(st.just("zero_tail"), st.integers(0, 400)),
    st.tuples(st.just("garble"), st.integers(0, 400), st.binary(min_size=1, max_size=64)),
)
step = st.tuples(batch, st.booleans(), damage, st.integers(0, 30))


def _seg(qdir: Path, seg_id: int) -> Path:
    return qdir / f"{seg_id:016x}.wseg"


def _apply_damage(
    qdir: Path, model: list[tuple[int, bytes]], last: tuple[int, int, int] | None, dmg: object
) -> None:
    """Damage the head segment at or after the start of the last record.

    ``last`` is (segment_id, offset, payload_len) of the last record.  Drops that record
    from ``model`` when the damage changed any of its meaningful bytes (header, payload,
    CRC, commit marker; not the zero padding after the marker).
    """
    if dmg is None or last is None:
        return
    kind, delta = dmg[0], dmg[1]  # type: ignore[index]
    seg_id, off, n = last
    path = _seg(qdir, seg_id)
    end = off + ((24 + n + 3) & ~3) + 8
    point = min(off + delta, SEG)
    data = path.read_bytes()
    if kind == "zero_tail":
        # What a crash leaves: the file is full size (fallocate), the tail never written.
        # (A *short* file is damage, not a torn tail: see test_random_damage_...)
        with open(path, "r+b") as fh:
            fh.seek(point)
            fh.write(bytes(SEG - point))
        touched = point < end
    else:
        junk = dmg[2][: SEG - point]  # type: ignore[index]
        new = bytearray(data)
        new[point : point + len(junk)] = junk
        touched = new[off:end] != data[off:end]
        # A torn write never leaves a commit marker behind: the marker is the last field
        # stored, so a torn record lacks it, and nothing after it was ever written. (A
        # committed record whose bytes changed is damage: test_random_damage_... and
        # tests/unit/journal/test_journal_damage.py.) Scrub every aligned marker the junk
        # left at or after the torn record.
        start = off if touched else end
        mark = COMMIT_MARK.to_bytes(4, "little")
        pos = new.find(mark, start)
        while pos >= 0:
            if pos % 4 == 0:
                new[pos : pos + 4] = bytes(4)
            pos = new.find(mark, pos + 1)
        with open(path, "r+b") as fh:
            fh.write(new)
    if touched:
        model.pop()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=st.lists(step, min_size=1, max_size=6))
def test_reopen_after_torn_tails_keeps_exactly_whole_records(
    steps: list[tuple[list[tuple[int, bytes]], bool, object, int]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        qdir = Path(tmp) / "q"
        model: list[tuple[int, bytes]] = []
        committed = 0  # next seq the named cursor resumes from
        for items, use_many, dmg, read_n in steps:
            with Queue.open_publisher(qdir, CFG) as w:
                assert w.next_seq == len(model)
                if use_many:
                    w.append_many(items)
                else:
                    for t, p in items:
                        w.append(t, p)
            model.extend(items)
            # the named reader resumes where it left off, never reading the last record
            with Queue.open_subscriber(qdir, "p") as r:
                limit = max(0, min(read_n, len(model) - 1 - committed))
                got = r.read_batch(limit)
                assert [x.seq for x in got] == list(range(committed, committed + limit))
                assert [(x.type_id, x.payload) for x in got] == model[committed : committed + limit]
                committed += limit
                r.commit()
            with Queue.open_subscriber(qdir, "scan") as r:
                recs = list(r)
                last = (
                    (recs[-1].segment_id, recs[-1].offset, len(recs[-1].payload)) if recs else None
                )
            os.unlink(qdir / "readers" / "scan.cursor")
            if len(model) - 1 >= committed:
                _apply_damage(qdir, model, last, dmg)
        with Queue.open_publisher(qdir, CFG) as w:  # final recovery
            assert w.next_seq == len(model)
        with Queue.open_subscriber(qdir, "all") as r:
            recs = list(r)
        assert [x.seq for x in recs] == list(range(len(model)))
        assert [(x.type_id, x.payload) for x in recs] == model
        with Queue.open_subscriber(qdir, "p") as r:
            assert [x.seq for x in r] == list(range(committed, len(model)))


# -- random damage anywhere ------------------------------------------------------------
_DMG = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, SEG - 1), st.integers(0, 7)),
    st.tuples(
        st.just("zero"), st.integers(0, 10**6), st.integers(0, SEG - 1), st.integers(1, 4096)
    ),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.integers(0, SEG - 1)),
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.just("swap"), st.integers(0, 10**6)),
    st.tuples(st.just("copy_over_next"), st.integers(0, 10**6)),
    st.tuples(st.just("manifest_flip"), st.integers(0, 79), st.integers(0, 7)),
)
_SESSIONS = st.lists(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 260)), min_size=0, max_size=40),
    min_size=1,
    max_size=5,
)


def _snapshot(qdir: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for root, _dirs, names in os.walk(qdir):
        for name in names:  # every file: a refused open writes no byte, not even the lock
            p = os.path.join(root, name)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, qdir)] = fh.read()
    return out


def _damage(qdir: Path, dmg: tuple[object, ...], ids: list[int]) -> tuple[int, int, int] | None:
    """Apply ``dmg``; return (segment_id, start, end) of changed record bytes, if any."""
    kind = dmg[0]
    if kind == "manifest_flip":
        _, pos, bit = dmg
        path = qdir / "queue.manifest"
        raw = bytearray(path.read_bytes())
        raw[int(pos)] ^= 1 << int(bit)  # type: ignore[call-overload]
        path.write_bytes(bytes(raw))
        return None
    seg_id = ids[int(dmg[1]) % len(ids)]  # type: ignore[call-overload]
    path = _seg(qdir, seg_id)
    if kind == "flip":
        _, _, pos, bit = dmg
        raw = bytearray(path.read_bytes())
        raw[int(pos)] ^= 1 << int(bit)  # type: ignore[call-overload]
        path.write_bytes(bytes(raw))
        return seg_id, int(pos), int(pos) + 1  # type: ignore[call-overload]
    if kind == "zero":
        _, _, pos, n = dmg
        start = int(pos)  # type: ignore[call-overload]
        stop = min(SEG, start + int(n))  # type: ignore[call-overload]
        with open(path, "r+b") as fh:
            fh.seek(start)
            fh.write(bytes(stop - start))
        return seg_id, start, stop
    if kind == "truncate":
        os.truncate(path, int(dmg[2]))  # type: ignore[call-overload]
        return seg_id, int(dmg[2]), SEG  # type: ignore[call-overload]
    if kind == "delete":
        os.unlink(path)
        return seg_id, 0, SEG
    other = _seg(qdir, seg_id + 1)
    if not other.exists():
        os.unlink(path)  # nothing to swap with / copy over: a deletion
        return seg_id, 0, SEG
    if kind == "swap":
        tmp = path.with_suffix(".x")
        os.rename(path, tmp)
        os.rename(other, path)
        os.rename(tmp, other)
    else:
        other.write_bytes(path.read_bytes())
    return seg_id, 0, SEG


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(sessions=_SESSIONS, dmg=_DMG)
def test_random_damage_is_named_or_harmless_never_silent(
    sessions: list[list[tuple[int, int]]], dmg: tuple[object, ...]
) -> None:
    from whistle.journal import (
        JournalError,
        ReadOnlyReader,
        last_good_seq,
        truncate_after,
        verify,
    )

    with tempfile.TemporaryDirectory() as tmp:
        qdir = Path(tmp) / "q"
        model: list[tuple[int, bytes]] = []
        for items in sessions:  # random appends, rolls (small segments) and reopens
            with Queue.open_publisher(qdir, CFG) as w:
                for t, n in items:
                    w.append(t, bytes([t]) * n)
            model.extend((t, bytes([t]) * n) for t, n in items)
        with ReadOnlyReader(qdir) as r:
            where = [(x.segment_id, x.offset, x.offset + 24 + len(x.payload) + 8) for x in r]
        assert len(where) == len(model)
        ids = sorted({s.segment_id for s in Queue.segments(qdir)})
        hit = _damage(qdir, dmg, ids)
        before = _snapshot(qdir)
        error: JournalError | None = None
        got: list[tuple[int, bytes]] = []
        try:
            with ReadOnlyReader(qdir) as r:
                got = [(x.type_id, x.payload) for x in r]
        except JournalError as exc:
            error = exc
        if error is not None:
            # Outcome 2: an error naming the damage; nothing was changed.
            assert error.path is not None
            assert error.path in str(error)
            assert _snapshot(qdir) == before
            werr: JournalError | None = None
            try:
                Queue.open_publisher(qdir, CFG).close()
            except JournalError as exc:
                werr = exc
            if werr is not None:
                assert werr.path is not None
                assert _snapshot(qdir) == before
            # The explicit repair cuts at the first damage and leaves a whole queue
            # holding exactly the records before it.
            keep = last_good_seq(qdir)
            report = truncate_after(qdir, keep)
            assert report.kept_through == keep
            assert verify(qdir).whole, verify(qdir).findings()
            with ReadOnlyReader(qdir) as r:
                kept = [(x.type_id, x.payload) for x in r]
            assert kept == model[: keep + 1]
            with Queue.open_publisher(qdir, CFG) as w:
                assert w.next_seq == keep + 1
            return
        # Outcome 1: every committed record read back in order -- except records at the
        # very tail of the head segment whose own bytes were damaged (indistinguishable
        # from a torn write, which is what a crash leaves there).
        assert got == model[: len(got)]
        missing = where[len(got) :]
        head = max(w[0] for w in where) if where else None
        for seg_id, start, end in missing:
            assert hit is not None
            assert seg_id == head == hit[0]
            assert start < hit[2]
            assert hit[1] < end
        with Queue.open_publisher(qdir, CFG) as w:
            assert w.next_seq == len(got)
        with ReadOnlyReader(qdir) as r:
            assert [(x.type_id, x.payload) for x in r] == got
