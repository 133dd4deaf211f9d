"""Queue allocation: shared-memory SPSC rings with pooling, and an in-process bounded queue.

``QueueAllocator`` owns every ring it creates (``SpscRing.create``): it alone unlinks them,
in :meth:`QueueAllocator.close_all` (or on leaving its ``with`` block), so nothing is left
in ``/dev/shm``. Users never get the owning handle: :meth:`QueueAllocator.acquire` returns
a freshly *attached* handle, and the other end attaches by ``ring.name`` in its process.

Reuse without a reset. ``SpscRing`` has no reset: its read and write indices are
monotonic byte counters in the shared header, and every handle caches them (a producer
trusts its own write index, a consumer its own read index). Rewriting the header under a
handle would corrupt it, so we do not. We do not need to: a ring whose header says
``write == read`` is empty and as good as new (positions are ``index & (capacity - 1)``),
and a handle attached afterwards loads the current indices from the header, so it is
consistent whichever role it plays. Hence :meth:`QueueAllocator.release` pools a ring only
when it is empty and its producer did not ``mark_closed`` it (that flag cannot be
cleared); any other ring is unlinked at once. The caller must release only once both ends
have stopped using the ring (e.g. after the host confirmed ``EngineRemoved``): a stale
handle in another process would still see the recycled ring.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final, Generic, Self, TypeVar, final

from whistle.ipc import SpscRing, make_name
from whistle.ipc.ring import MAX_CAPACITY, MIN_CAPACITY

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["DEFAULT_MAX_POOLED", "AllocatorStats", "BoundedQueue", "QueueAllocator"]

DEFAULT_MAX_POOLED: Final = 64

T = TypeVar("T")


def _check_power_of_two(name: str, value: int, low: int, high: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
        or value & (value - 1)
    ):
        raise ValueError(f"{name} must be a power of two between {low} and {high}, seen {value!r}")


@final
class AllocatorStats:
    """Counters of a ``QueueAllocator``."""

    __slots__ = ("created", "discarded", "live", "pooled", "reused")

    def __init__(self, created: int, reused: int, discarded: int, live: int, pooled: int):
        self.created = created
        self.reused = reused
        self.discarded = discarded
        self.live = live
        self.pooled = pooled

    def __repr__(self) -> str:
        return (
            f"AllocatorStats(created={self.created}, reused={self.reused},"
            f" discarded={self.discarded}, live={self.live}, pooled={self.pooled})"
        )


@final
class QueueAllocator:
    """Creates, pools and finally unlinks SPSC rings of one capacity."""

    def __init__(
        self,
        capacity_bytes: int,
        prefix: str = "whistle-",
        *,
        max_pooled: int = DEFAULT_MAX_POOLED,
    ) -> None:
        _check_power_of_two("capacity_bytes", capacity_bytes, MIN_CAPACITY, MAX_CAPACITY)
        if not prefix or "/" in prefix:
            raise ValueError(f"prefix must be a non-empty name without '/', seen {prefix!r}")
        if max_pooled < 0:
            raise ValueError(f"max_pooled must be >= 0, seen {max_pooled}")
        self.capacity_bytes = capacity_bytes
        self.prefix = prefix
        self.max_pooled = max_pooled
        # name -> owning handle, for every ring not yet unlinked (in use or pooled).
        self._owned: dict[str, SpscRing] = {}
        self._in_use: set[str] = set()
        # FIFO: the oldest released ring is handed out first, a deterministic order.
        self._pool: deque[str] = deque()
        self._created = 0
        self._reused = 0
        self._discarded = 0
        self._closed = False

    # ------------------------------------------------------------------ allocation

    def acquire(self, tag: str = "") -> SpscRing:
        """Return an attached handle to an empty ring (pooled if one is free, else new).

        ``tag`` goes into the name of a new ring (``<prefix><pid>-<tag>-<hex>``).
        """
        if self._closed:
            raise RuntimeError("QueueAllocator is closed")
        if self._pool:
            name = self._pool.popleft()
            self._reused += 1
        else:
            ring = SpscRing.create(make_name(tag, prefix=self.prefix), self.capacity_bytes)
            name = ring.name
            self._owned[name] = ring
            self._created += 1
        self._in_use.add(name)
        try:
            return SpscRing.attach(name)
        except BaseException:
            self._in_use.discard(name)
            self._discard(name)
            raise

    def release(self, ring: SpscRing) -> bool:
        """Close ``ring`` (a handle from :meth:`acquire`); pool or unlink its block.

        Returns True if the ring went back to the pool (empty, not marked closed, pool not
        full), False if it was unlinked.
        """
        name = ring.name
        if name not in self._in_use:
            raise ValueError(f"ring {name!r} was not acquired from this allocator or is released")
        self._in_use.discard(name)
        ring.close()
        owner = self._owned[name]
        reusable = (
            not self._closed
            and len(self._pool) < self.max_pooled
            and owner.readable_bytes == 0
            and not owner.producer_closed
        )
        if reusable:
            self._pool.append(name)
            return True
        self._discard(name)
        return False

    def _discard(self, name: str) -> None:
        owner = self._owned.pop(name, None)
        if owner is not None:
            owner.close()  # the owning handle unlinks the block
            self._discarded += 1

    # ------------------------------------------------------------------ lifetime

    def close_all(self) -> None:
        """Unlink every ring this allocator created, in use or pooled.  Idempotent.

        Handles still attached keep their mapping (POSIX keeps it valid after unlink), but
        the names are gone from ``/dev/shm``.
        """
        self._closed = True
        self._pool.clear()
        self._in_use.clear()
        for name in sorted(self._owned):
            self._discard(name)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close_all` has run."""
        return self._closed

    def names(self) -> list[str]:
        """Return the names of every ring not yet unlinked (sorted)."""
        return sorted(self._owned)

    def stats(self) -> AllocatorStats:
        """Return the allocator's counters."""
        return AllocatorStats(
            self._created, self._reused, self._discarded, len(self._in_use), len(self._pool)
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_all()


@final
class BoundedQueue(Generic[T]):
    """An in-process FIFO with a hard bound: ``try_put`` refuses instead of dropping.

    (``deque(maxlen=...)`` is not used as the bound because it silently drops the oldest
    item when full.)
    """

    __slots__ = ("_items", "maxlen")

    def __init__(self, maxlen: int) -> None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
            raise ValueError(f"maxlen must be a positive int, seen {maxlen!r}")
        self.maxlen = maxlen
        self._items: deque[T] = deque()

    def try_put(self, item: T) -> bool:
        """Append ``item``; return False (nothing queued) if the queue is full."""
        items = self._items
        if len(items) >= self.maxlen:
            return False
        items.append(item)
        return True

    def try_get(self) -> T | None:
        """Remove and return the oldest item, or None if empty."""
        items = self._items
        return items.popleft() if items else None

    def drain(self) -> list[T]:
        """Remove and return every item, oldest first."""
        out = list(self._items)
        self._items.clear()
        return out

    def __len__(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        """Whether ``try_put`` would refuse now."""
        return len(self._items) >= self.maxlen
