"""Property test: any sequence of ring operations behaves like a bounded FIFO deque."""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from whistle.ipc import SpscRing

CAPACITIES = [64, 128, 256, 1024]

payloads = st.binary(min_size=0, max_size=500)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("push"), payloads),
        st.tuples(st.just("push_many"), st.lists(payloads, max_size=12)),
        st.tuples(
            st.just("push_same"),
            st.tuples(st.integers(0, 12), st.binary(min_size=0, max_size=120)),
        ),
        st.tuples(st.just("pop"), st.none()),
        st.tuples(st.just("pop_many"), st.integers(0, 20)),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(capacity=st.sampled_from(CAPACITIES), ops=operations)
def test_ring_matches_deque_model(capacity: int, ops: list[tuple[str, object]]) -> None:
    with SpscRing.create(None, capacity) as ring:
        model: deque[bytes] = deque()
        limit = ring.max_record_size
        for op, arg in ops:
            if op == "push":
                assert isinstance(arg, bytes)
                data = arg[:limit]
                accepted = ring.try_push(data)
                if not model:
                    assert accepted, "an empty ring must accept any record up to the maximum"
                if accepted:
                    model.append(data)
            elif op in ("push_many", "push_same"):
                if op == "push_many":
                    assert isinstance(arg, list)
                    items = [item[:limit] for item in arg]
                else:
                    assert isinstance(arg, tuple)
                    count, item = arg
                    items = [item[:limit]] * count
                was_empty = not model
                pushed = ring.push_many(items)
                assert 0 <= pushed <= len(items)
                if was_empty and items:
                    assert pushed >= 1
                model.extend(items[:pushed])
                if pushed < len(items):
                    assert not ring.try_push(items[pushed])
            elif op == "pop":
                assert ring.try_pop() == (model.popleft() if model else None)
            else:
                assert isinstance(arg, int)
                expected = [model.popleft() for _ in range(min(arg, len(model)))]
                assert ring.pop_many(arg) == expected
            assert (ring.readable_bytes == 0) == (not model)
        assert ring.pop_many(10**6) == list(model)
        assert ring.try_pop() is None
