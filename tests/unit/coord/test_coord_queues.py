"""QueueAllocator (pooling, reuse, cleanup of /dev/shm) and BoundedQueue."""

from __future__ import annotations

import os

import pytest

from whistle.coord.hosts.queues import BoundedQueue, QueueAllocator
from whistle.ipc import SpscRing, list_blocks


@pytest.fixture
def prefix() -> str:
    # A prefix of our own, so other tests' rings (run in parallel) never disturb the checks.
    return f"wcq{os.getpid()}x-"


def test_capacity_and_arguments_are_validated(prefix: str):
    for bad in (0, 63, 100, 1000, True, 2.0):
        with pytest.raises(ValueError, match="power of two"):
            QueueAllocator(bad, prefix)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prefix"):
        QueueAllocator(1024, "a/b")
    with pytest.raises(ValueError, match="max_pooled"):
        QueueAllocator(1024, prefix, max_pooled=-1)
    assert list_blocks(prefix) == []


def test_acquire_gives_an_attached_handle_the_other_end_can_open(prefix: str):
    with QueueAllocator(1024, prefix) as alloc:
        ring = alloc.acquire("sym")
        assert not ring.owner
        assert ring.capacity == 1024
        assert ring.name.startswith(f"{prefix}{os.getpid()}-sym-")
        with SpscRing.attach(ring.name) as consumer:
            assert ring.try_push(b"hello")
            assert consumer.try_pop() == b"hello"
        assert list_blocks(prefix) == [ring.name]
        assert alloc.release(ring)
    assert list_blocks(prefix) == []


def test_empty_rings_are_pooled_and_reused_in_fifo_order(prefix: str):
    with QueueAllocator(256, prefix) as alloc:
        a, b = alloc.acquire(), alloc.acquire()
        name_a, name_b = a.name, b.name
        # Move the indices (and wrap) before releasing: reuse must not need a reset.
        with SpscRing.attach(name_a) as peer:
            for i in range(50):
                assert a.try_push(bytes([i]) * 40)
                assert peer.try_pop() == bytes([i]) * 40
        assert alloc.release(a)
        assert alloc.release(b)
        again = alloc.acquire()
        assert again.name == name_a
        # Either role works on the recycled ring: this handle consumes, a new one produces.
        with SpscRing.attach(name_a) as producer:
            assert producer.try_push(b"x" * 90)
            assert again.try_pop() == b"x" * 90
            assert again.try_pop() is None
        assert alloc.acquire().name == name_b
        stats = alloc.stats()
        assert (stats.created, stats.reused, stats.live, stats.pooled) == (2, 2, 2, 0)
        assert "created=2" in repr(stats)
    assert list_blocks(prefix) == []


def test_non_empty_or_closed_rings_are_not_pooled(prefix: str):
    with QueueAllocator(256, prefix) as alloc:
        dirty = alloc.acquire()
        assert dirty.try_push(b"left behind")
        assert not alloc.release(dirty)
        closed = alloc.acquire()
        closed.mark_closed()
        assert not alloc.release(closed)
        assert alloc.stats().discarded == 2
        assert list_blocks(prefix) == []
        fresh = alloc.acquire()
        assert fresh.readable_bytes == 0
        assert alloc.stats().created == 3


def test_pool_is_bounded(prefix: str):
    with QueueAllocator(128, prefix, max_pooled=1) as alloc:
        a, b = alloc.acquire(), alloc.acquire()
        assert alloc.release(a)
        assert not alloc.release(b)
        assert len(list_blocks(prefix)) == 1


def test_release_of_a_foreign_or_released_ring_is_refused(prefix: str):
    with QueueAllocator(128, prefix) as alloc:
        ring = alloc.acquire()
        alloc.release(ring)
        with pytest.raises(ValueError, match="not acquired"):
            alloc.release(ring)
        with (
            SpscRing.create(f"{prefix}{os.getpid()}-foreign", 128) as foreign,
            pytest.raises(ValueError, match="not acquired"),
        ):
            alloc.release(foreign)


def test_close_all_unlinks_everything_in_use_and_pooled(prefix: str):
    alloc = QueueAllocator(4096, prefix)
    held = [alloc.acquire() for _ in range(5)]
    alloc.release(held.pop())
    assert len(alloc.names()) == 5
    assert len(list_blocks(prefix)) == 5
    alloc.close_all()
    assert alloc.closed
    assert list_blocks(prefix) == []
    assert alloc.names() == []
    alloc.close_all()  # idempotent
    # Handles still held keep working on their mapping even though the names are gone.
    assert held[0].try_push(b"still mapped")
    for ring in held:
        ring.close()
    with pytest.raises(RuntimeError, match="closed"):
        alloc.acquire()


def test_bounded_queue_refuses_when_full():
    q: BoundedQueue[int] = BoundedQueue(2)
    assert q.try_put(1)
    assert q.try_put(2)
    assert q.full
    assert not q.try_put(3)
    assert len(q) == 2
    assert q.try_get() == 1
    assert q.try_put(4)
    assert q.drain() == [2, 4]
    assert q.try_get() is None
    assert not q.full
    with pytest.raises(ValueError, match="maxlen"):
        BoundedQueue(0)
