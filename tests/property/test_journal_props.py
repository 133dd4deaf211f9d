"""Property tests: crash recovery keeps exactly the whole records; cursors resume."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whistle.journal import Queue, QueueConfig

SEG = 4096
CFG = QueueConfig(segment_size=SEG, prealloc=False)

payloads = st.binary(min_size=0, max_size=300)
batch = st.lists(st.tuples(st.integers(0, 2**32 - 1), payloads), min_size=0, max_size=25)
damage = st.one_of(
    st.none(),
    st.tuples(st.just("truncate"), st.integers(0, 400)),
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
    if kind == "truncate":
        with open(path, "r+b") as fh:
            fh.truncate(point)
        touched = point < end
    else:
        junk = dmg[2][: SEG - point]  # type: ignore[index]
        with open(path, "r+b") as fh:
            fh.seek(point)
            fh.write(junk)
        new = bytearray(data)
        new[point : point + len(junk)] = junk
        touched = new[off:end] != data[off:end]
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
