"""MetricsBlock in one process: round trip, hostile blocks, claims, a stuck seqlock, cleanup."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path

import pytest

from whistle.metrics import (
    MAGIC,
    NAME_FILE,
    BlockFormatError,
    BlockNotFound,
    LatencyRecorder,
    MetricsBlock,
    SnapshotBusy,
    StageClaimed,
    make_block_name,
    resolve_block_name,
    write_name_file,
)

SHM = Path("/dev/shm")
STAGES = ("md", "strategy", "risk", "gateway")


def _leftovers(name: str) -> bool:
    return (SHM / name).exists()


@pytest.fixture
def block():
    created = MetricsBlock.create(make_block_name("test"), STAGES, highest_ns=10**9)
    yield created
    created.close()
    assert not _leftovers(created.name)


def test_publish_then_attach_and_read(block: MetricsBlock):
    recorder = block.recorder()
    publisher = block.publisher(recorder)
    for value in (100, 200, 300, 10**10):
        recorder.record(2, value)
    recorder.record_from_intended(3, 1_000, 6_000)
    recorder.count_error(1)
    publisher.publish(now_ns=123)
    with MetricsBlock.attach(block.name) as reader:
        assert reader.stages == STAGES
        assert reader.layout == block.layout
        assert not reader.owner
        assert reader.creator_pid == os.getpid()
        snap = reader.snapshot()
        assert snap.names == STAGES
        assert snap["risk"].count == 4
        assert snap["risk"].clamped == 1
        assert snap["risk"].consistent
        assert snap["risk"].published_ns == 123
        assert snap["gateway"].last_ns == 6_000
        assert snap["strategy"].errors == 1
        assert snap.percentiles("risk") == recorder.percentiles("risk")
        assert snap.as_dict()["risk"]["count"] == 4
        assert reader.writer_pid("risk") == os.getpid()
    assert _leftovers(block.name)  # an attacher never unlinks


def test_attach_by_shm_path_and_run_directory(block: MetricsBlock, tmp_path: Path):
    with MetricsBlock.attach(f"/dev/shm/{block.name}") as reader:
        assert reader.name == block.name
    path = write_name_file(tmp_path, block.name)
    assert path.name == NAME_FILE
    assert resolve_block_name(str(tmp_path)) == block.name
    with MetricsBlock.attach(str(tmp_path)) as reader:
        assert reader.stages == STAGES
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BlockNotFound, match="not a run directory"):
        MetricsBlock.attach(str(empty))


def test_publish_if_due_and_partial_publishers(block: MetricsBlock):
    recorder = block.recorder()
    publisher = block.publisher(recorder, stages=["risk"], interval_ns=1_000)
    recorder.record(2, 50)
    recorder.record(0, 50)  # md is not this publisher's stage
    assert publisher.publish_if_due(10_000)
    recorder.record(2, 60)
    assert not publisher.publish_if_due(10_500)
    assert block.read_stage("risk").count == 1
    assert publisher.publish_if_due(11_000)
    assert block.read_stage("risk").count == 2
    assert block.read_stage("md").count == 0
    publisher.close()
    assert block.writer_pid("risk") == 0


def test_unknown_stages_are_named(block: MetricsBlock):
    with pytest.raises(KeyError, match="has no stage 'zz'"):
        block.read_stage("zz")
    with pytest.raises(IndexError, match=r"0\.\.3, was 4"):
        block.read_stage(4)
    with pytest.raises(KeyError, match="has no stage 'zz'"):
        block.writer_pid("zz")


def test_publisher_refusals(block: MetricsBlock):
    with pytest.raises(ValueError, match="storage='array'"):
        block.publisher(LatencyRecorder(STAGES))
    with pytest.raises(ValueError, match="layout"):
        block.publisher(LatencyRecorder(STAGES, storage="array"))
    with pytest.raises(ValueError, match="no stage 'zz'"):
        block.publisher(LatencyRecorder(["zz"], highest_ns=10**9, storage="array"))
    with pytest.raises(ValueError, match="interval_ns"):
        block.publisher(block.recorder(), interval_ns=-1)


def test_a_stage_claimed_by_a_live_process_is_refused_a_dead_one_taken_over(block: MetricsBlock):
    line = block._line_slot(STAGES.index("risk"))
    block._q[line + 2] = os.getppid()  # a live process that is not us
    with pytest.raises(StageClaimed, match="'risk' is published by pid"):
        block.publisher(block.recorder(), stages=["risk"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    block._q[line + 2] = dead.pid
    publisher = block.publisher(block.recorder(), stages=["risk"])
    assert block.writer_pid("risk") == os.getpid()
    publisher.close()


def test_a_publisher_killed_mid_copy_gives_snapshot_busy_until_republished(block: MetricsBlock):
    recorder = block.recorder()
    publisher = block.publisher(recorder)
    recorder.record(1, 5)
    publisher.publish()
    line = block._line_slot(1)
    block._q[line] += 1  # odd: what a publisher killed inside its copy leaves
    with pytest.raises(SnapshotBusy, match="'strategy' stayed mid-publish"):
        block.snapshot(timeout_s=0.05)
    assert block.read_stage("md").count == 0  # other stages still read
    publisher.publish()  # steps over the odd value
    assert block.read_stage("strategy").count == 1
    assert block._q[line] % 2 == 0


def test_attach_missing_block():
    with pytest.raises(BlockNotFound, match="no metrics block named 'whistle-0-nothing-here'"):
        MetricsBlock.attach("whistle-0-nothing-here")


@pytest.mark.parametrize("bad", ["", "a/b", "x" * 251])
def test_bad_names(bad: str):
    with pytest.raises(ValueError, match="block name"):
        MetricsBlock.attach(bad)


def _raw_block(size: int) -> SharedMemory:
    return SharedMemory(make_block_name("raw"), create=True, size=size)


def test_wrong_magic_version_and_sizes_are_clear_errors(block: MetricsBlock):
    good = bytes(block._buf)
    raw = _raw_block(len(good))
    try:
        raw.buf[:] = b"NOTMAGIC" + good[8:]
        with pytest.raises(BlockFormatError, match="not a whistle metrics block"):
            MetricsBlock.attach(raw.name)
        raw.buf[:] = good
        struct.pack_into("<I", raw.buf, 8, 99)
        with pytest.raises(BlockFormatError, match="version 99, this whistle reads version 1"):
            MetricsBlock.attach(raw.name)
        raw.buf[:] = good
        struct.pack_into("<I", raw.buf, 40, 5)  # counts_len
        with pytest.raises(BlockFormatError, match="disagree"):
            MetricsBlock.attach(raw.name)
        raw.buf[:] = good
        struct.pack_into("<I", raw.buf, 20, 9)  # significant figures
        with pytest.raises(BlockFormatError, match="invalid layout"):
            MetricsBlock.attach(raw.name)
        raw.buf[:] = good
        struct.pack_into("<I", raw.buf, 16, 0)  # n_stages
        with pytest.raises(BlockFormatError, match="0 stages"):
            MetricsBlock.attach(raw.name)
        raw.buf[:] = good
        raw.buf[64:66] = b"\xff\xfe"
        with pytest.raises(BlockFormatError, match="not UTF-8"):
            MetricsBlock.attach(raw.name)
    finally:
        raw.close()
        raw.unlink()
    short = _raw_block(len(good) - 8)
    try:
        short.buf[: len(good) - 8] = good[: len(good) - 8]
        with pytest.raises(BlockFormatError, match="the header needs"):
            MetricsBlock.attach(short.name)
    finally:
        short.close()
        short.unlink()
    tiny = _raw_block(16)
    try:
        tiny.buf[:8] = MAGIC
        with pytest.raises(BlockFormatError, match="too small"):
            MetricsBlock.attach(tiny.name)
    finally:
        tiny.close()
        tiny.unlink()


def test_create_refuses_a_taken_name(block: MetricsBlock):
    with pytest.raises(FileExistsError):
        MetricsBlock.create(block.name, STAGES)
    assert _leftovers(block.name)  # the failed create did not unlink the real one


def test_close_is_idempotent_and_closed_blocks_refuse_use():
    created = MetricsBlock.create(make_block_name("test"), ["a"])
    publisher = created.publisher(created.recorder())
    created.close()
    created.close()
    assert created.closed
    assert not _leftovers(created.name)
    with pytest.raises(ValueError, match="closed"):
        publisher.publish()
    with pytest.raises(ValueError, match="closed"):
        created.snapshot()
    publisher.close()  # nothing to do on a closed block
    assert not created.unlink()


def test_owner_that_exits_without_close_leaves_nothing():
    code = (
        "from whistle.metrics import MetricsBlock, make_block_name\n"
        "b = MetricsBlock.create(make_block_name('exit'), ['a'])\n"
        "print(b.name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    name = done.stdout.strip()
    assert name.startswith("whistle-")
    assert not _leftovers(name)
    assert done.stderr == ""  # no resource-tracker warning either


class _SeqMovesOnce:
    """A view of the block's int64 words where the seq word moves once, mid-read."""

    def __init__(self, words: memoryview, seq_slot: int, on_move) -> None:
        self.words = words
        self.seq_slot = seq_slot
        self.on_move = on_move
        self.seq_reads = 0

    def __getitem__(self, index: int) -> int:
        value = self.words[index]
        if index == self.seq_slot:
            self.seq_reads += 1
            if self.seq_reads == 2:  # the check after the first copy: a publish happened
                self.on_move()
                value = self.words[index]
        return value

    def __setitem__(self, index: int, value: int) -> None:
        self.words[index] = value


def test_a_publish_during_the_copy_makes_the_reader_retry(block: MetricsBlock):
    recorder = block.recorder()
    publisher = block.publisher(recorder)
    recorder.record(0, 10)
    publisher.publish()

    def publish_again() -> None:
        recorder.record(0, 20)
        publisher.publish()

    real = block._q
    fake = _SeqMovesOnce(real, block._line_slot(0), publish_again)
    block._q = fake  # type: ignore[assignment]
    try:
        stage = block.read_stage("md")
    finally:
        block._q = real
    assert fake.seq_reads >= 3  # read, moved, re-read
    assert stage.count == 2  # the copy taken before the move was thrown away
    assert stage.consistent


@pytest.mark.parametrize("role", ["attach", "create"])
def test_a_block_dropped_without_close_in_a_cycle_exits_silently(block: MetricsBlock, role: str):
    # A stage process that fails keeps its block alive in a traceback / cycle until exit:
    # the SharedMemory finaliser must not print "BufferError: cannot close exported pointers".
    code = (
        "import sys\n"
        "from whistle.metrics import MetricsBlock, make_block_name\n"
        + (
            "b = MetricsBlock.attach(sys.argv[1])\n"
            if role == "attach"
            else "b = MetricsBlock.create(make_block_name('cycle'), ['a'])\nprint(b.name)\n"
        )
        + "cycle = [b]\ncycle.append(cycle)\ndel b\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, block.name],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stderr == ""
    if role == "create":
        assert not _leftovers(done.stdout.strip())
