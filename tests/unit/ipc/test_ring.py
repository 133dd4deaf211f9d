"""Unit tests of the shared-memory SPSC ring (single process, both ends)."""

from __future__ import annotations

import ast
import os
import secrets
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import whistle.ipc as ipc
import whistle.ipc.errors as ipc_errors
import whistle.ipc.ring as ipc_ring
import whistle.ipc.shm as ipc_shm
import whistle.ipc.wait as ipc_wait
from whistle.ipc import (
    IpcError,
    RingClosed,
    RingCorrupted,
    RingEmpty,
    RingFull,
    RingTimeout,
    SpscRing,
    WaitStrategy,
    cleanup_stale,
    list_blocks,
    make_name,
)
from whistle.ipc.ring import HEADER_SIZE, LAYOUT_VERSION, MAGIC
from whistle.ipc.shm import creator_pid, open_block, pid_alive, unlink_block

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import ModuleType

OUR_BLOCKS = f"whistle-{os.getpid()}-"
FAST_WAIT = WaitStrategy(spin=10, yields=2, min_sleep=1e-6, max_sleep=1e-4)


@pytest.fixture(autouse=True)
def _no_leaked_blocks() -> Iterator[None]:
    before = set(list_blocks(OUR_BLOCKS))
    yield
    assert set(list_blocks(OUR_BLOCKS)) <= before, "test left shared memory behind"


@pytest.fixture
def make_ring() -> Iterator[Callable[[int], SpscRing]]:
    rings: list[SpscRing] = []

    def factory(capacity: int) -> SpscRing:
        ring = SpscRing.create(None, capacity, wait=FAST_WAIT)
        rings.append(ring)
        return ring

    yield factory
    for ring in rings:
        ring.close()


def payload(seq: int, n: int) -> bytes:
    return bytes((seq * 31 + i) & 0xFF for i in range(n))


def record_size(n: int) -> int:
    return 8 + (n + 7) // 8 * 8


# --------------------------------------------------------------------------- layer and API


@pytest.mark.parametrize("module", [ipc, ipc_errors, ipc_ring, ipc_shm, ipc_wait])
def test_public_api_is_sorted_and_complete(module: ModuleType) -> None:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    def key(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert module.__all__ == sorted(module.__all__, key=key)
    for name in module.__all__:
        assert hasattr(module, name)


def test_error_hierarchy() -> None:
    for cls in (RingTimeout, RingClosed, RingCorrupted):
        assert issubclass(cls, IpcError)
    for cls in (RingFull, RingEmpty):
        assert issubclass(cls, RingTimeout)
        assert issubclass(cls, TimeoutError)


def test_layer_imports_only_stdlib_and_msgspec() -> None:
    """whistle.ipc's own imports are the standard library, msgspec, whistle.ipc and
    whistle.shm (the stdlib-only shared-memory primitives it shares with whistle.metrics)."""
    allowed = set(sys.stdlib_module_names) | {"msgspec"}
    package_dir = Path(ipc.__file__).parent
    sources = sorted(package_dir.glob("*.py"))
    assert sources
    for source in sources:
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{source.name}: use absolute imports"
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "whistle":
                    assert name.startswith(("whistle.ipc", "whistle.shm")), (
                        f"{source.name} imports {name}"
                    )
                else:
                    assert top in allowed, f"{source.name} imports {name}"


def test_importing_the_layer_loads_nothing_outside_it() -> None:
    code = (
        "import sys, whistle\n"
        "before = set(sys.modules)\n"
        "import whistle.ipc\n"
        "new = set(sys.modules) - before\n"
        "bad = {m for m in new if m.split('.')[0] not in sys.stdlib_module_names}\n"
        "bad -= {m for m in new if m.startswith(('whistle.ipc', 'whistle.shm', 'msgspec'))}\n"
        "bad.discard('__mp_main__')  # multiprocessing's alias of __main__\n"
        "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
    assert result.stderr == ""


# --------------------------------------------------------------------------- construction


@pytest.mark.parametrize("capacity", [0, 1, 32, 63, 100, 1000, 3 * 1024, -64, 1 << 41])
def test_bad_capacity_is_rejected(capacity: int) -> None:
    with pytest.raises(ValueError, match=rf"expected a power of two, seen {capacity}"):
        SpscRing.create(None, capacity)


def test_bool_capacity_is_rejected() -> None:
    with pytest.raises(ValueError, match="power of two"):
        SpscRing.create(None, True)


def test_create_names_block_with_pid_and_close_unlinks() -> None:
    with SpscRing.create(None, 64) as ring:
        assert ring.name.startswith(OUR_BLOCKS)
        assert creator_pid(ring.name) == os.getpid()
        assert ring.creator_pid == os.getpid()
        assert ring.name in list_blocks(OUR_BLOCKS)
        assert ring.owner
        assert ring.capacity == 64
        assert ring.max_record_size == 24
        assert "owner" in repr(ring)
    assert ring.closed
    assert "closed" in repr(ring)
    assert ring.name not in list_blocks(OUR_BLOCKS)
    ring.close()  # idempotent


def test_explicit_name_and_duplicate_create() -> None:
    name = make_name("explicit")
    with SpscRing.create(name, 128) as ring:
        assert ring.name == name
        with pytest.raises(FileExistsError):
            SpscRing.create(name, 128)


def test_attached_end_sees_data_and_does_not_unlink() -> None:
    with SpscRing.create(None, 256) as owner:
        with SpscRing.attach(owner.name) as other:
            assert not other.owner
            assert other.capacity == 256
            assert owner.try_push(b"hello")
            assert other.try_pop() == b"hello"
            assert other.try_push(b"back")
            assert owner.try_pop() == b"back"
        assert owner.name in list_blocks(OUR_BLOCKS)


def test_explicit_unlink_keeps_mapping_usable() -> None:
    with SpscRing.create(None, 256) as ring:
        ring.unlink()
        assert ring.name not in list_blocks(OUR_BLOCKS)
        assert ring.try_push(b"still mapped")
        assert ring.try_pop() == b"still mapped"


def test_attach_missing_block() -> None:
    with pytest.raises(FileNotFoundError):
        SpscRing.attach(make_name("missing"))


def test_attach_foreign_block_is_a_clear_error() -> None:
    name = make_name("foreign")
    block = open_block(name, create=True, size=4096)
    try:
        assert block.buf is not None
        block.buf[:8] = b"NOTARING"
        with pytest.raises(RingCorrupted, match="not a whistle ring: magic b'NOTARING'"):
            SpscRing.attach(name)
    finally:
        block.close()
        unlink_block(block)


def test_attach_too_small_block() -> None:
    name = make_name("tiny")
    block = open_block(name, create=True, size=64)
    try:
        with pytest.raises(RingCorrupted, match="smaller than the 192-byte header"):
            SpscRing.attach(name)
    finally:
        block.close()
        unlink_block(block)


def test_attach_wrong_version_and_capacity() -> None:
    with SpscRing.create(None, 256) as ring:
        block = open_block(ring.name, create=False)
        assert block.buf is not None
        words = block.buf[:HEADER_SIZE].cast("Q")
        try:
            assert words[0] == MAGIC
            words[1] = LAYOUT_VERSION + 1
            with pytest.raises(RingCorrupted, match="layout version 2"):
                SpscRing.attach(ring.name)
            words[1] = LAYOUT_VERSION
            words[2] = 1 << 20  # larger than the block
            with pytest.raises(RingCorrupted, match="capacity"):
                SpscRing.attach(ring.name)
            words[2] = 256
            words[16] = 10**6  # read index beyond write index
            with pytest.raises(RingCorrupted, match="inconsistent indices"):
                SpscRing.attach(ring.name)
            words[16] = 0
            SpscRing.attach(ring.name).close()
        finally:
            words.release()
            block.close()


def test_corrupted_record_length_is_detected() -> None:
    with SpscRing.create(None, 256) as ring:
        assert ring.try_push(b"abc")
        block = open_block(ring.name, create=False)
        assert block.buf is not None
        data = block.buf[HEADER_SIZE:].cast("Q")
        try:
            data[0] = 1 << 40
            with pytest.raises(RingCorrupted, match="invalid record length"):
                ring.try_pop()
            with pytest.raises(RingCorrupted, match="invalid record length"):
                ring.pop_many(4)
        finally:
            data.release()
            block.close()


# --------------------------------------------------------------------------- push / pop


def test_empty_ring() -> None:
    with SpscRing.create(None, 64, wait=FAST_WAIT) as ring:
        assert ring.try_pop() is None
        assert ring.pop_many(10) == []
        assert ring.readable_bytes == 0
        with pytest.raises(RingEmpty, match="stayed empty"):
            ring.pop(timeout=0.001)


def test_full_ring() -> None:
    with SpscRing.create(None, 256, wait=FAST_WAIT) as ring:
        pushed = 0
        while ring.try_push(payload(pushed, 24)):
            pushed += 1
        assert pushed == 256 // record_size(24)
        assert ring.readable_bytes == 256
        with pytest.raises(RingFull, match="stayed full"):
            ring.push(b"x", timeout=0.001)
        assert ring.push_many([b"x"]) == 0
        assert ring.try_pop() == payload(0, 24)
        ring.push(b"y", timeout=0.001)
        assert [ring.try_pop() for _ in range(pushed)] == [
            *(payload(i, 24) for i in range(1, pushed)),
            b"y",
        ]


def test_zero_length_records() -> None:
    with SpscRing.create(None, 64) as ring:
        for _ in range(3):
            assert [ring.try_push(b"") for _ in range(9)] == [True] * 8 + [False]
            assert ring.pop_many(100) == [b""] * 8


def test_bytes_like_payloads() -> None:
    with SpscRing.create(None, 1024) as ring:
        assert ring.try_push(bytearray(b"array"))
        assert ring.try_push(memoryview(b"--view--")[2:6])
        assert ring.push_many([memoryview(b"m1"), bytearray(b"a2"), b"b3"]) == 3
        assert ring.pop_many(10) == [b"array", b"view", b"m1", b"a2", b"b3"]


def test_record_too_large() -> None:
    with SpscRing.create(None, 256) as ring:
        assert ring.max_record_size == 120
        assert ring.try_push(bytes(120))
        assert ring.try_pop() == bytes(120)
        with pytest.raises(ValueError, match=r"expected at most 120 bytes .* seen 121"):
            ring.try_push(bytes(121))
        with pytest.raises(ValueError, match="seen 121"):
            ring.push(bytes(121), timeout=0)
        with pytest.raises(ValueError, match="seen 500"):
            ring.push_many([bytes(500)] * 3)
        with pytest.raises(ValueError, match="seen 500"):
            ring.push_many([bytes(500), b"ok"])
        # A too-large item after good ones ends the batch; the next call raises.
        items = [b"ok", bytes(500), b"never"]
        assert ring.push_many(items) == 1
        with pytest.raises(ValueError, match="seen 500"):
            ring.push_many(items[1:])
        assert ring.pop_many(10) == [b"ok"]


@pytest.mark.parametrize("capacity", [64, 128, 256, 1024])
def test_wraparound_every_size(capacity: int) -> None:
    """Every payload size, ring kept 0..2 records deep, indices wrapping many times."""
    with SpscRing.create(None, capacity) as ring:
        for n in range(ring.max_record_size + 1):
            for lag in range(3):
                expected: deque[bytes] = deque()
                for seq in range(3 * capacity // record_size(n) + 3):
                    data = payload(seq, n)
                    while not ring.try_push(data):
                        assert expected, "a push into an empty ring must succeed"
                        assert ring.try_pop() == expected.popleft()
                    expected.append(data)
                    while len(expected) > lag:
                        assert ring.try_pop() == expected.popleft()
                while expected:
                    assert ring.try_pop() == expected.popleft()
                assert ring.try_pop() is None
                assert ring.readable_bytes == 0


def test_record_exactly_hitting_the_end_needs_no_skip() -> None:
    with SpscRing.create(None, 256) as ring:
        # 24-byte payloads take 32 bytes: eight fill the ring exactly to the end.
        assert ring.push_many([payload(i, 24) for i in range(8)]) == 8
        assert ring.readable_bytes == 256
        assert ring.try_pop() == payload(0, 24)
        # The next record starts at offset 0 of the next lap, without a skip marker.
        assert ring.try_push(payload(8, 24))
        assert ring.readable_bytes == 256
        assert ring.pop_many(100) == [payload(i, 24) for i in range(1, 9)]


def test_record_not_fitting_the_tail_skips_to_start() -> None:
    with SpscRing.create(None, 256) as ring:
        big = payload(1, 88)  # 96 bytes
        assert ring.try_push(big)
        assert ring.try_push(big)
        assert ring.pop_many(2) == [big, big]
        # Write position is 192: 64 bytes left before the end, so the record wraps.
        assert ring.try_push(big)
        assert ring.readable_bytes == 64 + 96
        assert ring.try_pop() == big
        assert ring.readable_bytes == 0


def test_skip_needs_room_for_tail_and_record() -> None:
    with SpscRing.create(None, 256) as ring:
        rec = payload(2, 88)  # 96 bytes
        assert ring.push_many([rec, rec]) == 2
        assert ring.try_pop() == rec
        # used 96 (192..), free 160 = 64 tail + 96 -> fits exactly after a skip.
        assert ring.try_push(rec)
        assert ring.readable_bytes == 256
        assert not ring.try_push(b"")
        assert ring.pop_many(5) == [rec, rec]


@pytest.mark.parametrize(
    ("capacity", "n"),
    [
        (capacity, n)
        for capacity in (64, 256, 4096)
        for n in (0, 1, 8, 13, 16, 24, 56)
        if record_size(n) <= capacity // 2
    ],
)
def test_batches_of_one_size_wrap(capacity: int, n: int) -> None:
    with SpscRing.create(None, capacity) as ring:
        seq = 0
        popped = 0
        for batch in range(1, 40):
            items = [payload(seq + i, n) for i in range(batch)]
            pushed = ring.push_many(items)
            # push_many stops only where a single push would fail too.
            assert pushed == batch or not ring.try_push(items[pushed])
            seq += pushed
            out = ring.pop_many(batch // 2 + 1)
            assert out == [payload(popped + i, n) for i in range(len(out))]
            popped += len(out)
        out = ring.pop_many(10**6)
        assert out == [payload(popped + i, n) for i in range(len(out))]
        assert popped + len(out) == seq


def test_batches_of_mixed_sizes_wrap() -> None:
    with SpscRing.create(None, 512) as ring:
        seq = 0
        popped = 0
        for batch in range(1, 60):
            items = [payload(seq + i, (seq + i) * 7 % 90) for i in range(batch)]
            seq += ring.push_many(items)
            out = ring.pop_many(batch)
            assert out == [payload(popped + i, (popped + i) * 7 % 90) for i in range(len(out))]
            popped += len(out)
        assert popped + len(ring.pop_many(1000)) == seq


def test_push_many_stops_when_full_and_resumes() -> None:
    with SpscRing.create(None, 256) as ring:
        items = [payload(i, 24) for i in range(20)]
        assert ring.push_many(items) == 8
        assert ring.push_many(items[8:]) == 0
        assert ring.pop_many(3) == items[:3]
        assert ring.push_many(items[8:]) == 3
        assert ring.pop_many(100) == items[3:11]
        assert ring.push_many([]) == 0
        assert ring.pop_many(0) == []


def test_pop_many_returns_fewer_only_when_empty() -> None:
    with SpscRing.create(None, 1024) as ring:
        for round_ in range(50):
            items = [payload(round_, 40)] * 9 + [payload(round_, 3)] * 4
            assert ring.push_many(items) == len(items)
            assert ring.pop_many(5) == items[:5]
            assert ring.pop_many(100) == items[5:]


# --------------------------------------------------------------------------- closed flag


def test_closed_flag_drains_then_raises() -> None:
    with (
        SpscRing.create(None, 256, wait=FAST_WAIT) as producer,
        SpscRing.attach(producer.name, wait=FAST_WAIT) as consumer,
    ):
        producer.push(b"one")
        producer.push(b"two", timeout=1.0)
        assert not consumer.producer_closed
        producer.mark_closed()
        assert consumer.producer_closed
        assert consumer.pop() == b"one"
        assert consumer.pop(timeout=10.0) == b"two"
        with pytest.raises(RingClosed, match="closed by its producer"):
            consumer.pop()
        assert consumer.try_pop() is None


def test_pop_waits_for_a_record() -> None:
    with SpscRing.create(None, 256, wait=FAST_WAIT) as ring:
        ring.try_push(b"ready")
        assert ring.pop(timeout=None) == b"ready"


# --------------------------------------------------------------------------- wait strategy


def test_wait_strategy() -> None:
    wait = WaitStrategy(spin=2, yields=2, min_sleep=1e-6, max_sleep=2e-6)
    for attempt in range(80):
        wait.idle(attempt)
    assert (wait.spin, wait.yields, wait.min_sleep, wait.max_sleep) == (2, 2, 1e-6, 2e-6)
    assert "spin=2" in repr(wait)
    assert WaitStrategy.busy().spin > 10**9
    with pytest.raises(ValueError, match="spin and yields"):
        WaitStrategy(spin=-1)
    with pytest.raises(ValueError, match="min_sleep"):
        WaitStrategy(min_sleep=1.0, max_sleep=0.5)


# --------------------------------------------------------------------------- hygiene


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)
    return proc.pid


def test_names_and_pid_parsing() -> None:
    name = make_name("tag", prefix="whistle-x-")
    assert name.startswith(f"whistle-x-{os.getpid()}-tag-")
    assert creator_pid(name, "whistle-x-") == os.getpid()
    assert creator_pid("whistle-12-abc") == 12
    assert creator_pid("whistle-abc-12") is None
    assert creator_pid("whistle-12") is None
    assert creator_pid("whistle-0-x") is None
    assert creator_pid("other-12-x") is None
    assert pid_alive(os.getpid())
    with pytest.raises(ValueError, match="cannot contain"):
        make_name("a/b")


def test_cleanup_stale_removes_only_dead_creators() -> None:
    prefix = f"whistle-t{secrets.token_hex(3)}-"
    dead = _dead_pid()
    names = {
        "dead": f"{prefix}{dead}-abc",
        "alive": f"{prefix}{os.getpid()}-abc",
        "nopid": f"{prefix}xyz-abc",
    }
    blocks = [open_block(name, create=True, size=64) for name in names.values()]
    for block in blocks:
        block.close()
    try:
        assert list_blocks(prefix) == sorted(names.values())
        assert cleanup_stale(prefix) == [names["dead"]]
        assert list_blocks(prefix) == sorted([names["alive"], names["nopid"]])
        assert cleanup_stale(prefix) == []
    finally:
        for block in blocks:
            unlink_block(block)
    assert list_blocks(prefix) == []
