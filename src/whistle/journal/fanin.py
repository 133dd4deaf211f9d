"""Merge several queues into one deterministic stream.

:class:`FanInReader` keeps at most one look-ahead record per input reader and always
returns the smallest by the key ``(ts_ns, queue index, seq)``.  Queue index is the
position of the reader in the list given to the constructor, so ties on timestamp are
broken the same way on every run.

Determinism on *live* queues needs care: a queue that has nothing buffered yet may
later produce a record with a smaller timestamp than one already returned.  With
``strict=True`` (the default) the merge only emits when every input either has a
look-ahead record or has no live writer (its lock is not held: it can produce
nothing more), so the output order depends only on the data, not on timing.  With
``strict=False`` it emits from whatever is available now (lower latency, order may
depend on timing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Self, final

from .liveness import lock_held

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from .reader import QueueReader, Record

__all__ = ["FanInReader", "MergedRecord"]


class MergedRecord(NamedTuple):
    queue_index: int
    record: Record


@final
class FanInReader:
    """Deterministic k-way merge of :class:`QueueReader` objects."""

    __slots__ = ("_heads", "_readers", "_strict")

    def __init__(self, readers: Sequence[QueueReader], *, strict: bool = True) -> None:
        if not readers:
            raise ValueError("FanInReader needs at least one reader")
        self._readers = list(readers)
        self._heads: list[Record | None] = [None] * len(self._readers)
        self._strict = strict

    @property
    def readers(self) -> list[QueueReader]:
        return list(self._readers)

    def _fill(self) -> bool:
        """Load look-ahead records; True if the merge may emit now."""
        ready = True
        for i, reader in enumerate(self._readers):
            if self._heads[i] is None:
                self._heads[i] = reader.next()
                if self._heads[i] is None and self._strict and lock_held(reader.path):
                    ready = False  # a live writer may still produce an earlier record
        return ready

    def next(self) -> MergedRecord | None:
        """The next record in merge order, or None if none can be emitted now."""
        if not self._fill():
            return None
        best_i = -1
        best_key: tuple[int, int, int] | None = None
        for i, rec in enumerate(self._heads):
            if rec is None:
                continue
            key = (rec.ts_ns, i, rec.seq)
            if best_key is None or key < best_key:
                best_i, best_key = i, key
        if best_i < 0:
            return None
        rec = self._heads[best_i]
        assert rec is not None
        self._heads[best_i] = None
        return MergedRecord(best_i, rec)

    def read_batch(self, max_n: int) -> list[MergedRecord]:
        out: list[MergedRecord] = []
        while len(out) < max_n:
            got = self.next()
            if got is None:
                break
            out.append(got)
        return out

    def __iter__(self) -> Iterator[MergedRecord]:
        while True:
            got = self.next()
            if got is None:
                return
            yield got

    def commit(self, *, sync: bool = True) -> None:
        """Commit every input's cursor *excluding* buffered look-ahead records.

        A look-ahead record was read from its queue but not yet returned; each reader is
        re-positioned onto it before committing, so nothing is skipped after a restart.
        """
        for i, reader in enumerate(self._readers):
            head = self._heads[i]
            if head is not None:
                reader.seek(head.seq)
                self._heads[i] = None
            reader.commit(sync=sync)

    def close(self) -> None:
        for reader in self._readers:
            reader.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
