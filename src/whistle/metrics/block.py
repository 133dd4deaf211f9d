"""A shared-memory metrics block: pipeline processes publish into it, any process reads it.

Why publish instead of recording straight into shared memory: a reader copies a whole stage
(27,656 int64 = 216 KiB with the default layout, ~10-20 us) and a seqlock reader must see no
write during its copy; a stage recording every microsecond would starve it. So each stage
records into its own private ``array('q')`` (a :class:`LatencyRecorder` with
``storage="array"``, the cheapest safe form) and a :class:`Publisher` copies that array into the
block with one memcpy inside a seqlock write, from the recording thread, at a cadence the stage
chooses (``publish_if_due(now_ns)``, or ``publish()`` when idle). Publishing and recording are
memory writes only: no system call, no I/O, no lock.

Layout (little-endian; all offsets multiples of 64)::

    0    header (64 bytes): magic b"WHSTLMTR", version u32, header_size u32, n_stages u32,
         significant_figures u32, lowest_ns u64, highest_ns u64, counts_len u32,
         stage_stride u32, creator_pid u32, reserved u32, created_ns u64
    64   n_stages names, 48 bytes each (UTF-8, NUL padded)
    header_size + i * stage_stride: stage i
         line (64 bytes): seq, published_ns, writer_pid, publishes, 4 reserved (int64)
         body: 8 header slots (count, errors, clamped, last_ns, 4 reserved) + counts_len counts

Seqlock per stage: the publisher makes ``seq`` odd, copies, writes published_ns, makes it even
again; a reader copies between two reads of an equal, even ``seq`` or retries. This relies on
stores becoming visible in program order (x86-64 TSO; each store here is an aligned 8-byte
write or one memcpy issued by a separate interpreter step). A publisher killed mid-copy leaves
``seq`` odd: readers report :class:`SnapshotBusy` for that stage until a new publisher of it
publishes (it steps over the odd value).

Lifetime: the creator owns the block and unlinks it on ``close()`` (or at interpreter exit);
attachers never unlink. Blocks are opened and unlinked through ``whistle.shm``, which keeps
them out of ``multiprocessing``'s resource tracker (its docstring says why). Names from
:func:`make_block_name` carry the creator pid, so ``whistle.ipc.cleanup_stale()`` reclaims a
block whose creator was SIGKILLed.
"""

from __future__ import annotations

import contextlib
import os
import struct
import time
import weakref
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, Final, final

from whistle.metrics.errors import BlockFormatError, BlockNotFound, SnapshotBusy, StageClaimed
from whistle.metrics.layout import HdrLayout
from whistle.metrics.recorder import MAX_STAGE_NAME, LatencyRecorder, check_stages
from whistle.metrics.snapshot import COUNTS_OFFSET, Snapshot, StageSnapshot
from whistle.shm import SHM_DIR, make_name, open_block, pid_alive, unlink_block, unlink_name

if TYPE_CHECKING:
    from collections.abc import Sequence
    from multiprocessing.shared_memory import SharedMemory
    from types import TracebackType

__all__ = [
    "MAGIC",
    "NAME_FILE",
    "VERSION",
    "MetricsBlock",
    "Publisher",
    "make_block_name",
    "read_name_file",
    "resolve_block_name",
    "write_name_file",
]

MAGIC: Final = b"WHSTLMTR"
VERSION: Final = 1
NAME_FILE: Final = "metrics.block"
"""File in a run directory holding the block name (``whistle metrics DIR`` reads it)."""

_HEADER = struct.Struct("<8sIIIIQQIIIIQ")
assert _HEADER.size == 64
_NAME_BYTES: Final = MAX_STAGE_NAME + 1
_LINE_BYTES: Final = 64
_LINE_SLOTS: Final = _LINE_BYTES // 8
_SEQ, _PUBLISHED_NS, _WRITER_PID, _PUBLISHES = 0, 1, 2, 3  # int64 slots of a stage line
_MAX_STAGES: Final = 4096


def _align64(n: int) -> int:
    return (n + 63) & ~63


def make_block_name(tag: str = "metrics") -> str:
    """A fresh block name ``whistle-<pid>-<tag>-<8 hex>`` (the form cleanup_stale parses)."""
    if "/" in tag or not tag:
        raise ValueError(f"tag must be non-empty without '/', was {tag!r}")
    return make_name(tag)


def _check_name(name: str) -> str:
    if name.startswith(str(SHM_DIR) + "/"):
        name = name[len(str(SHM_DIR)) + 1 :]
    name = name.lstrip("/")
    if not name or "/" in name or "\0" in name or len(name.encode()) > 250:
        raise ValueError(f"a block name is 1..250 bytes without '/' or NUL, was {name!r}")
    return name


def write_name_file(directory: str | os.PathLike[str], name: str) -> Path:
    """Write ``directory/metrics.block`` naming the block (setup time, not the hot path)."""
    path = Path(directory) / NAME_FILE
    path.write_text(_check_name(name) + "\n")
    return path


def read_name_file(directory: str | os.PathLike[str]) -> str:
    """The block name written by :func:`write_name_file` (BlockNotFound if there is none)."""
    path = Path(directory) / NAME_FILE
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise BlockNotFound(
            f"{path} does not exist: {directory} is not a run directory with metrics on"
        ) from None
    return _check_name(text)


def resolve_block_name(name_or_dir: str) -> str:
    """A block name from a name, ``/dev/shm/NAME``, or a run directory holding metrics.block."""
    if os.path.isdir(name_or_dir) and not name_or_dir.startswith(str(SHM_DIR)):
        return read_name_file(name_or_dir)
    return _check_name(name_or_dir)


def _buffer(shm: SharedMemory) -> memoryview:
    buf = shm.buf
    if buf is None:  # only after close()
        raise ValueError(f"shared memory {shm.name} is closed")
    return buf


@final
class MetricsBlock:
    """Per-stage latency data in named shared memory; see the module docstring."""

    __slots__ = (
        "__weakref__",
        "_buf",
        "_closed",
        "_finalizer",
        "_q",
        "_shm",
        "created_ns",
        "creator_pid",
        "header_size",
        "layout",
        "name",
        "owner",
        "stage_stride",
        "stages",
    )

    stages: tuple[str, ...]
    layout: HdrLayout
    header_size: int
    stage_stride: int
    creator_pid: int
    created_ns: int

    def __init__(self, shm: SharedMemory, name: str, *, owner: bool) -> None:
        # Use create() or attach(); this validates the header of an opened block.
        self._shm = shm
        self.name = name
        self.owner = owner
        self._closed = False
        self._finalizer: weakref.finalize[[str], MetricsBlock] | None = None
        buf = _buffer(shm)
        try:
            self._read_header(buf)
        except BaseException:
            self._closed = True
            shm.close()
            raise
        self._buf = buf
        self._q = buf.cast("q")

    def _read_header(self, buf: memoryview) -> None:
        size = len(buf)
        name = self.name
        if size < _HEADER.size:
            raise BlockFormatError(f"{name}: {size} bytes is too small for a metrics block")
        (magic, version, header_size, n_stages, figures, lowest, highest, counts_len, stride,
         pid, _reserved, created_ns) = _HEADER.unpack_from(buf, 0)  # fmt: skip
        if magic != MAGIC:
            raise BlockFormatError(
                f"{name}: not a whistle metrics block (magic {bytes(magic)!r}, expected {MAGIC!r})"
            )
        if version != VERSION:
            raise BlockFormatError(
                f"{name}: metrics block version {version}, this whistle reads version {VERSION}"
            )
        if not 1 <= n_stages <= _MAX_STAGES:
            raise BlockFormatError(f"{name}: header says {n_stages} stages")
        try:
            layout = HdrLayout(lowest, highest, figures)
        except (TypeError, ValueError) as exc:
            raise BlockFormatError(f"{name}: header holds an invalid layout: {exc}") from None
        want_header = _align64(_HEADER.size + n_stages * _NAME_BYTES)
        want_stride = _LINE_BYTES + 8 * (COUNTS_OFFSET + layout.counts_len)
        if counts_len != layout.counts_len or stride != want_stride or header_size != want_header:
            raise BlockFormatError(
                f"{name}: header sizes disagree with its layout (counts_len {counts_len} vs"
                f" {layout.counts_len}, stride {stride} vs {want_stride}, header {header_size}"
                f" vs {want_header})"
            )
        if size < header_size + n_stages * stride:
            raise BlockFormatError(
                f"{name}: {size} bytes, the header needs {header_size + n_stages * stride}"
            )
        names = []
        for i in range(n_stages):
            start = _HEADER.size + i * _NAME_BYTES
            raw = bytes(buf[start : start + _NAME_BYTES]).rstrip(b"\0")
            try:
                names.append(raw.decode())
            except UnicodeDecodeError:
                raise BlockFormatError(f"{name}: stage name {i} is not UTF-8: {raw!r}") from None
        try:
            self.stages = check_stages(names)
        except ValueError as exc:
            raise BlockFormatError(f"{name}: bad stage names in the header: {exc}") from None
        self.layout = layout
        self.header_size = header_size
        self.stage_stride = stride
        self.creator_pid = pid
        self.created_ns = created_ns

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        stages: Sequence[str],
        lowest_ns: int = 1,
        highest_ns: int = 60 * 1_000_000_000,
        significant_figures: int = 3,
    ) -> MetricsBlock:
        """Create the block (exclusively) and own it: ``close()`` unlinks it.

        FileExistsError if the name is taken. Names from :func:`make_block_name` are unique.
        """
        name = _check_name(name)
        names = check_stages(stages)
        layout = HdrLayout(lowest_ns, highest_ns, significant_figures)
        header_size = _align64(_HEADER.size + len(names) * _NAME_BYTES)
        stride = _LINE_BYTES + 8 * (COUNTS_OFFSET + layout.counts_len)
        shm = open_block(name, create=True, size=header_size + len(names) * stride)
        try:
            buf = _buffer(shm)
            for i, stage in enumerate(names):
                raw = stage.encode()
                start = _HEADER.size + i * _NAME_BYTES
                buf[start : start + len(raw)] = raw
            # Magic last: a reader that attaches mid-create sees no magic, not a half header.
            _HEADER.pack_into(
                buf, 0, b"\0" * 8, VERSION, header_size, len(names), significant_figures,
                lowest_ns, highest_ns, layout.counts_len, stride, os.getpid(), 0,
                time.perf_counter_ns(),
            )  # fmt: skip
            buf[0:8] = MAGIC
            del buf
            block = cls(shm, name, owner=True)
        except BaseException:
            shm.close()
            unlink_name(name)
            raise
        block._finalizer = weakref.finalize(block, unlink_name, name)
        return block

    @classmethod
    def attach(cls, name_or_dir: str) -> MetricsBlock:
        """Attach to a block by name, ``/dev/shm/NAME`` or run directory; never unlinks it."""
        name = resolve_block_name(name_or_dir)
        try:
            shm = open_block(name, create=False)
        except FileNotFoundError:
            raise BlockNotFound(
                f"no metrics block named {name!r} in {SHM_DIR} (is the pipeline running"
                " with metrics on?)"
            ) from None
        return cls(shm, name, owner=False)

    # -- writing ---------------------------------------------------------------------------

    def recorder(self) -> LatencyRecorder:
        """A new recorder with this block's stages and layout, ready for :meth:`publisher`."""
        return LatencyRecorder.like(self.layout, self.stages, "array")

    def publisher(
        self,
        recorder: LatencyRecorder,
        stages: Sequence[str] | None = None,
        *,
        interval_ns: int = 100_000_000,
    ) -> Publisher:
        """A publisher copying ``recorder``'s ``stages`` (default: all of them) into this block.

        The recorder must use ``storage="array"`` and this block's layout; each stage is
        matched by name and claimed for this process (StageClaimed if another live process
        publishes it already; a dead one's claim is taken over). The claim guards against
        wiring mistakes (two processes configured for one stage); it is not a lock: two
        processes claiming the same stage at the same instant may both succeed.
        """
        self._check_open()
        if recorder.storage != "array":
            raise ValueError("publish needs a LatencyRecorder(storage='array'): block.recorder()")
        if recorder.layout != self.layout:
            raise ValueError(f"recorder layout {recorder.layout} is not the block's {self.layout}")
        names = recorder.stages if stages is None else check_stages(stages)
        pid = os.getpid()
        pairs: list[tuple[int, int]] = []
        for stage in names:
            if stage not in self.stages:
                raise ValueError(f"{self.name} has no stage {stage!r} (it has {list(self.stages)})")
            block_index = self.stages.index(stage)
            line = self._line_slot(block_index)
            holder = self._q[line + _WRITER_PID]
            if holder not in (0, pid) and pid_alive(holder):
                raise StageClaimed(f"{self.name}: stage {stage!r} is published by pid {holder}")
            pairs.append((recorder.stage_index(stage), block_index))
        for _, block_index in pairs:
            self._q[self._line_slot(block_index) + _WRITER_PID] = pid
        return Publisher(self, recorder, pairs, interval_ns)

    def _stage_index(self, stage: int | str) -> int:
        if isinstance(stage, str):
            if stage not in self.stages:
                raise KeyError(f"{self.name} has no stage {stage!r} (it has {list(self.stages)})")
            return self.stages.index(stage)
        if not 0 <= stage < len(self.stages):
            raise IndexError(f"stage index must be in 0..{len(self.stages) - 1}, was {stage}")
        return stage

    def _line_slot(self, stage: int) -> int:
        return (self.header_size + stage * self.stage_stride) // 8

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"metrics block {self.name} is closed")

    # -- reading ---------------------------------------------------------------------------

    def read_stage(self, stage: int | str, *, timeout_s: float = 1.0) -> StageSnapshot:
        """One stage, copied consistently (SnapshotBusy if no clean copy within timeout_s)."""
        self._check_open()
        index = self._stage_index(stage)
        q, buf = self._q, self._buf
        line = self._line_slot(index)
        start = (line + _LINE_SLOTS) * 8
        end = start + 8 * (COUNTS_OFFSET + self.layout.counts_len)
        deadline = 0
        attempt = 0
        while True:
            seq = q[line + _SEQ]
            if not seq & 1:
                body = array("q")
                body.frombytes(buf[start:end])
                published_ns = q[line + _PUBLISHED_NS]
                if q[line + _SEQ] == seq:
                    return StageSnapshot.from_slots(
                        self.stages[index], self.layout, body, published_ns
                    )
            attempt += 1
            if attempt >= 64:
                # Contended (or a publisher died mid-copy): yield the CPU, bounded by time.
                now = time.monotonic_ns()
                if not deadline:
                    deadline = now + int(timeout_s * 1e9)
                elif now >= deadline:
                    raise SnapshotBusy(
                        f"{self.name}: stage {self.stages[index]!r} stayed mid-publish for"
                        f" {timeout_s:g} s (seq {q[line + _SEQ]}): its publisher is stuck or"
                        " was killed while publishing"
                    )
                time.sleep(0)

    def snapshot(self, *, timeout_s: float = 1.0) -> Snapshot:
        """Every stage, each copied consistently (stages are read one after the other)."""
        return Snapshot(
            self.layout,
            tuple(self.read_stage(i, timeout_s=timeout_s) for i in range(len(self.stages))),
        )

    def writer_pid(self, stage: int | str) -> int:
        """The pid that claimed ``stage`` for publishing (0 if none)."""
        self._check_open()
        index = self._stage_index(stage)
        pid: int = self._q[self._line_slot(index) + _WRITER_PID]
        return pid

    # -- lifetime --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed

    def close(self) -> None:
        """Unmap the block; the owner also unlinks its name. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._q.release()
        self._buf.release()
        self._shm.close()
        if self.owner:
            self.unlink()

    def __del__(self) -> None:
        # Dropped without close(): release our views of the mapping first, or the
        # SharedMemory's own finaliser fails with "BufferError: cannot close exported
        # pointers exist" (printed at exit, e.g. by a stage process that failed). The owner's
        # name is unlinked by its weakref finaliser, not here.
        if getattr(self, "_closed", True):
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._q.release()
            self._shm.close()

    def unlink(self) -> bool:
        """Remove the block's name now (mappings stay valid); False if it was already gone."""
        if self._finalizer is not None:
            self._finalizer.detach()
        return unlink_block(self._shm)

    def __enter__(self) -> MetricsBlock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        role = "owner" if self.owner else "attached"
        return f"MetricsBlock({self.name!r}, stages={list(self.stages)}, {role})"


@final
class Publisher:
    """Copies a recorder's stages into a MetricsBlock; call it from the recording thread.

    ``publish()`` costs one memcpy per stage (216 KiB with the default layout, ~10-20 us).
    ``publish_if_due(now_ns)`` publishes when ``interval_ns`` has passed since the last
    publish and is otherwise one comparison: call it once per event or batch with the clock
    value the stage already has, and ``publish()`` once more when the stage stops.
    """

    __slots__ = ("_block", "_copies", "_next_ns", "interval_ns", "recorder")

    def __init__(
        self,
        block: MetricsBlock,
        recorder: LatencyRecorder,
        pairs: Sequence[tuple[int, int]],
        interval_ns: int,
    ) -> None:
        if type(interval_ns) is not int or interval_ns < 0:
            raise ValueError(f"interval_ns must be an int >= 0, was {interval_ns!r}")
        self._block = block
        self.recorder = recorder
        self.interval_ns = interval_ns
        self._next_ns = 0
        copies: list[tuple[int, int, int, memoryview]] = []
        for recorder_index, block_index in pairs:
            source = recorder.slots(recorder_index)
            if not isinstance(source, array):
                raise TypeError("publisher needs array storage")
            line = block._line_slot(block_index)
            start = (line + _LINE_SLOTS) * 8
            raw = memoryview(source).cast("B")
            copies.append((line, start, start + len(raw), raw))
        self._copies = tuple(copies)

    def publish(self, now_ns: int = 0) -> None:
        """Copy every owned stage into the block now (published_ns = now_ns or the clock)."""
        block = self._block
        if block._closed:
            raise ValueError(f"metrics block {block.name} is closed")
        q, buf = block._q, block._buf
        stamp = now_ns or time.perf_counter_ns()
        for line, start, end, raw in self._copies:
            seq = q[line]
            seq = seq + 2 if seq & 1 else seq + 1  # odd: writing (steps over a dead writer's)
            q[line] = seq
            buf[start:end] = raw
            q[line + _PUBLISHED_NS] = stamp
            q[line + _PUBLISHES] += 1
            q[line] = seq + 1
        self._next_ns = stamp + self.interval_ns

    def publish_if_due(self, now_ns: int) -> bool:
        """Publish if ``interval_ns`` has passed since the last publish; True if it did."""
        if now_ns < self._next_ns:
            return False
        self.publish(now_ns)
        return True

    def close(self) -> None:
        """Publish a last time and release this process's claim on the stages."""
        block = self._block
        if block._closed:
            return
        self.publish()
        pid = os.getpid()
        for line, _, _, _ in self._copies:
            if block._q[line + _WRITER_PID] == pid:
                block._q[line + _WRITER_PID] = 0
