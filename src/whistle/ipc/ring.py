"""Single-producer single-consumer (SPSC) byte ring in POSIX shared memory.

Block layout (all integers little-endian u64, accessed through a ``memoryview.cast("Q")``)::

    offset   0  cache line 0 (read-mostly metadata, written once by the creator)
                 word 0 magic  b"WHSTLRNG"     word 1 layout version
                 word 2 capacity (bytes)       word 3 header size (= data offset)
                 word 4 creator pid
    offset  64  cache line 1 (written only by the producer)
                 word 8 write index            word 9 closed flag (producer has finished)
    offset 128  cache line 2 (written only by the consumer)
                 word 16 read index
    offset 192  data: ``capacity`` bytes, capacity a power of two

The indices are monotonically increasing byte counters (they never wrap in practice: 2**64
bytes); the position in the data area is ``index & (capacity - 1)``.  ``write - read`` is the
number of bytes in use.  Producer and consumer indices live on separate 64-byte cache lines so
the two cores do not false-share.

A record is an 8-byte length word followed by the payload, padded to a multiple of 8 bytes, so
every length word is 8-byte aligned and can be read and written through the ``"Q"`` view.

Wraparound: a record never straddles the end of the data area.  If it does not fit in the
bytes left before the end, the producer writes a SKIP marker (length word ``2**64 - 1``) there and
places the record at offset 0.  We chose this over split copies because it is the faster option
in CPython: every push and pop is exactly one slice copy with no per-record "does it wrap?"
arithmetic beyond one comparison, and the consumer can slice a record out with a single
``memoryview`` slice.  The price is wasted tail space (< one record), which is why a record is
limited to ``capacity // 2`` bytes including its header: that guarantees a record always fits
into an empty ring wherever the write position is.

Memory ordering: CPython exposes no atomics or fences.  We rely on (1) every index store being an
aligned 8-byte store — ``memoryview.cast("Q")`` item assignment compiles to a single 8-byte
``memcpy``, i.e. one ``mov``, which is single-copy atomic on x86-64 and AArch64 — and (2) the
x86-64 (TSO) memory model, under which stores become visible in program order and loads are not
reordered with other loads.  The producer writes the payload and length word first and only then
stores the new write index, so a consumer that observes the index also observes the bytes; the
consumer copies a record out before storing the new read index, so the producer never overwrites
bytes still being read.  The stores are issued from separate, non-inlined C calls of the
interpreter, so the C compiler cannot reorder them either.  On weakly ordered CPUs (ARM, POWER)
this is NOT sufficient in theory (there is no release/acquire barrier); whistle targets x86-64.
"""

from __future__ import annotations

import os
import struct
import time
import weakref
from typing import TYPE_CHECKING, Final, Self, final

from whistle.ipc.errors import RingClosed, RingCorrupted, RingEmpty, RingFull
from whistle.ipc.shm import make_name, open_block, unlink_block
from whistle.ipc.wait import WaitStrategy

if TYPE_CHECKING:
    from collections.abc import Sequence
    from multiprocessing.shared_memory import SharedMemory
    from types import TracebackType

__all__ = [
    "HEADER_SIZE",
    "LAYOUT_VERSION",
    "MAGIC",
    "MIN_CAPACITY",
    "BytesLike",
    "SpscRing",
]

#: A payload: bytes, bytearray or a memoryview with 1-byte items.
BytesLike = bytes | bytearray | memoryview

MAGIC: Final = int.from_bytes(b"WHSTLRNG", "little")
LAYOUT_VERSION: Final = 1
HEADER_SIZE: Final = 192
MIN_CAPACITY: Final = 64
MAX_CAPACITY: Final = 1 << 40

# Word indices in the header "Q" view.
_W_MAGIC: Final = 0
_W_VERSION: Final = 1
_W_CAPACITY: Final = 2
_W_HEADER: Final = 3
_W_PID: Final = 4
_W_WRITE: Final = 8
_W_CLOSED: Final = 9
_W_READ: Final = 16

_REC_HDR: Final = 8
_SKIP: Final = (1 << 64) - 1
_ALIGN: Final = -8  # mask that rounds down to a multiple of 8


def _check_capacity(capacity: int) -> None:
    if (
        isinstance(capacity, bool)
        or not isinstance(capacity, int)
        or capacity < MIN_CAPACITY
        or capacity > MAX_CAPACITY
        or capacity & (capacity - 1)
    ):
        raise ValueError(
            f"ring capacity must be a power of two between {MIN_CAPACITY} and {MAX_CAPACITY} "
            f"bytes; expected a power of two, seen {capacity!r}"
        )


_RUN_CHUNK: Final = 512
_RUN_STRUCTS: dict[tuple[int, int], struct.Struct] = {}


def _run_struct(n: int, size: int, count: int) -> struct.Struct:
    """A Struct that unpacks ``count`` consecutive ``n``-byte records (of ``size`` bytes each)."""
    key = (n, count)
    st = _RUN_STRUCTS.get(key)
    if st is None:
        pad = size - 8 - n
        one = f"8x{n}s{pad}x" if pad else f"8x{n}s"
        st = struct.Struct("<" + one * count)
        if len(_RUN_STRUCTS) >= 256:
            _RUN_STRUCTS.clear()
        _RUN_STRUCTS[key] = st
    return st


def _dispose(block: SharedMemory, views: tuple[memoryview, ...], unlink: list[bool]) -> None:
    """Finaliser of a ring handle: release the views, unmap, and unlink if still owed."""
    for view in views:
        view.release()
    block.close()
    if unlink[0]:
        unlink[0] = False
        unlink_block(block)


@final
class SpscRing:
    """A bounded single-producer single-consumer ring of variable-length byte records.

    Exactly one process (thread) may push and exactly one may pop.  Make one with
    :meth:`create` (the owner: its :meth:`close` unlinks the block) and open the other end
    with :meth:`attach` in the other process.  Non-blocking calls: :meth:`try_push`,
    :meth:`push_many`, :meth:`try_pop`, :meth:`pop_many`; blocking calls with a timeout:
    :meth:`push`, :meth:`pop`, which idle according to a :class:`WaitStrategy`.
    """

    __slots__ = (
        "__weakref__",
        "_block",
        "_cap",
        "_data",
        "_dq",
        "_finalizer",
        "_hdrs",
        "_hq",
        "_mask",
        "_max_payload",
        "_max_size",
        "_name",
        "_owner",
        "_rpos",
        "_rseen",
        "_seps",
        "_unlink_pending",
        "_wait",
        "_wpos",
        "_wseen",
    )

    def __init__(
        self, block: SharedMemory, *, owner: bool, wait: WaitStrategy | None = None
    ) -> None:
        """Wrap an already opened block; use :meth:`create` or :meth:`attach` instead."""
        buf = block.buf
        if buf is None:
            raise ValueError(f"shared memory block {block.name!r} is already closed")
        self._block = block
        self._name = block.name
        self._owner = owner
        self._wait = wait if wait is not None else WaitStrategy()
        if len(buf) < HEADER_SIZE:
            raise RingCorrupted(
                f"shared memory block {self._name!r} is not a whistle ring: "
                f"{len(buf)} bytes is smaller than the {HEADER_SIZE}-byte header"
            )
        hq = buf[:HEADER_SIZE].cast("Q")
        try:
            cap = self._validate(hq, len(buf))
        except RingCorrupted:
            hq.release()
            raise
        self._hq = hq
        self._cap = cap
        self._mask = cap - 1
        self._max_size = cap // 2
        self._max_payload = cap // 2 - _REC_HDR
        self._data = buf[HEADER_SIZE : HEADER_SIZE + cap]
        self._dq = self._data.cast("Q")
        w = hq[_W_WRITE]
        r = hq[_W_READ]
        self._wpos = w  # producer: its own write index (authoritative)
        self._rseen = r  # producer: last read index it loaded from the consumer's line
        self._rpos = r  # consumer: its own read index (authoritative)
        self._wseen = w  # consumer: last write index it loaded from the producer's line
        self._seps: dict[int, bytes] = {}  # producer: payload size -> padding + next header
        self._hdrs: tuple[int, bytes] | None = None  # consumer: repeated header, fast path
        # The owner unlinks the name on close(), on garbage collection or at interpreter exit.
        self._unlink_pending = [owner]
        self._finalizer = weakref.finalize(
            self, _dispose, block, (self._dq, self._data, hq), self._unlink_pending
        )

    def _validate(self, hq: memoryview, size: int) -> int:
        name = self._name
        magic = hq[_W_MAGIC]
        if magic != MAGIC:
            raise RingCorrupted(
                f"shared memory block {name!r} is not a whistle ring: magic "
                f"{magic.to_bytes(8, 'little')!r}, expected {MAGIC.to_bytes(8, 'little')!r}"
            )
        version = hq[_W_VERSION]
        if version != LAYOUT_VERSION:
            raise RingCorrupted(
                f"whistle ring {name!r} has layout version {version}, "
                f"this code expects version {LAYOUT_VERSION}"
            )
        header = hq[_W_HEADER]
        if header != HEADER_SIZE:
            raise RingCorrupted(
                f"whistle ring {name!r} has header size {header}, expected {HEADER_SIZE}"
            )
        cap = int(hq[_W_CAPACITY])
        if cap < MIN_CAPACITY or cap & (cap - 1) or HEADER_SIZE + cap > size:
            raise RingCorrupted(
                f"whistle ring {name!r} claims capacity {cap}, which is not a power of two "
                f"fitting its {size}-byte block"
            )
        w = hq[_W_WRITE]
        r = hq[_W_READ]
        if not 0 <= w - r <= cap:
            raise RingCorrupted(
                f"whistle ring {name!r} has inconsistent indices write={w} read={r}"
            )
        return cap

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(
        cls, name: str | None, capacity: int, *, wait: WaitStrategy | None = None
    ) -> SpscRing:
        """Create a new ring (this handle owns it and unlinks it on :meth:`close`).

        ``name=None`` picks a fresh ``whistle-<pid>-<hex>`` name (see :attr:`name`).
        ``capacity`` is the data area in bytes and must be a power of two >= 64.
        """
        _check_capacity(capacity)
        if name is None:
            name = make_name()
        block = open_block(name, create=True, size=HEADER_SIZE + capacity)
        try:
            buf = block.buf
            if buf is None:  # pragma: no cover - a freshly opened block always has a buffer
                raise RingCorrupted(f"shared memory block {name!r} has no buffer")
            hq = buf[:HEADER_SIZE].cast("Q")
            hq[_W_VERSION] = LAYOUT_VERSION
            hq[_W_CAPACITY] = capacity
            hq[_W_HEADER] = HEADER_SIZE
            hq[_W_PID] = os.getpid()
            hq[_W_WRITE] = 0
            hq[_W_CLOSED] = 0
            hq[_W_READ] = 0
            hq[_W_MAGIC] = MAGIC  # last: an early attacher sees "not a ring", never half a one
            hq.release()
            return cls(block, owner=True, wait=wait)
        except BaseException:
            block.close()
            unlink_block(block)
            raise

    @classmethod
    def attach(cls, name: str, *, wait: WaitStrategy | None = None) -> SpscRing:
        """Open the other end of an existing ring (raises FileNotFoundError if none)."""
        block = open_block(name, create=False)
        try:
            return cls(block, owner=False, wait=wait)
        except BaseException:
            block.close()
            raise

    # ------------------------------------------------------------------ properties

    @property
    def name(self) -> str:
        """The shared memory block name, to pass to :meth:`attach` in another process."""
        return self._name

    @property
    def capacity(self) -> int:
        """Size of the data area in bytes."""
        return self._cap

    @property
    def max_record_size(self) -> int:
        """The largest payload accepted, in bytes (``capacity // 2 - 8``)."""
        return self._max_payload

    @property
    def owner(self) -> bool:
        """Whether this handle created the block (and unlinks it on close)."""
        return self._owner

    @property
    def creator_pid(self) -> int:
        """Pid of the process that created the block."""
        return int(self._hq[_W_PID])

    @property
    def readable_bytes(self) -> int:
        """Bytes currently in the ring (record headers and padding included)."""
        hq = self._hq
        return int(hq[_W_WRITE] - hq[_W_READ])

    @property
    def producer_closed(self) -> bool:
        """Whether the producer has called :meth:`mark_closed` (records may remain)."""
        return bool(self._hq[_W_CLOSED])

    @property
    def closed(self) -> bool:
        """Whether this handle has been closed."""
        return not self._finalizer.alive

    def mark_closed(self) -> None:
        """Producer: announce that no more records will be pushed."""
        self._hq[_W_CLOSED] = 1

    def _too_large(self, n: int) -> ValueError:
        return ValueError(
            f"record of {n} bytes is too large for ring {self._name!r}: expected at most "
            f"{self._max_payload} bytes (capacity {self._cap} // 2 minus the 8-byte header), "
            f"seen {n}"
        )

    def _corrupted(self, n: int, pos: int) -> RingCorrupted:
        return RingCorrupted(
            f"whistle ring {self._name!r} holds an invalid record length {n} at offset {pos}"
        )

    # ------------------------------------------------------------------ producer

    def try_push(self, data: BytesLike) -> bool:
        """Append one record; False (nothing written) if it does not fit right now."""
        n = len(data)
        size = (n + 15) & -8
        if size > self._max_size:
            raise self._too_large(n)
        w = self._wpos
        cap = self._cap
        pos = w & self._mask
        tail = cap - pos
        need = size if size <= tail else size + tail
        if w + need - self._rseen > cap:
            r = self._rseen = self._hq[_W_READ]
            if w + need - r > cap:
                return False
        if size > tail:
            self._dq[pos >> 3] = _SKIP
            pos = 0
        self._dq[pos >> 3] = n
        start = pos + 8
        self._data[start : start + n] = data
        w += need
        self._wpos = w
        self._hq[_W_WRITE] = w  # publish: after the payload (see module docstring)
        return True

    def push(self, data: BytesLike, timeout: float | None = None) -> None:
        """Append one record, waiting for room; raise :class:`RingFull` after ``timeout`` s."""
        if self.try_push(data):
            return
        try_push = self.try_push
        idle = self._wait.idle
        deadline = None if timeout is None else time.monotonic() + timeout
        attempt = 0
        while True:
            idle(attempt)
            attempt += 1
            if try_push(data):
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise RingFull(
                    f"ring {self._name!r} stayed full for {timeout} s "
                    f"(record of {len(data)} bytes, capacity {self._cap})"
                )

    def push_many(self, items: Sequence[BytesLike]) -> int:
        """Append as many of ``items`` (in order) as fit now; publish once; return the count.

        Stops at the first item that does not fit.  An item larger than
        :attr:`max_record_size` raises ``ValueError`` when it is the first one, otherwise the
        batch stops before it (so the next call raises).
        """
        k = len(items)
        if k == 0:
            return 0
        n = len(items[0])
        if list(map(len, items)).count(n) != k:
            return self._push_varied(items)
        # Fast path, all records of one size: each contiguous run is one C-level bytes.join and
        # one slice copy, instead of a Python-level iteration per record.
        size = (n + 15) & -8
        if size > self._max_size:
            raise self._too_large(n)
        cap = self._cap
        w = self._wpos
        r = self._rseen = self._hq[_W_READ]
        free = cap - (w - r)
        pos = w & self._mask
        tail = cap - pos
        k1 = (tail if tail < free else free) // size
        if k1 >= k:
            self._write_run(pos, items, n, size, k)
            w += k * size
        else:
            k2 = (free - tail) // size if free > tail else 0
            if k2 > k - k1:
                k2 = k - k1
            if k1:
                self._write_run(pos, items[:k1], n, size, k1)
            if k2:
                if k1 * size != tail:
                    self._dq[(pos + k1 * size) >> 3] = _SKIP
                self._write_run(0, items[k1 : k1 + k2], n, size, k2)
                w += tail + k2 * size
            elif k1:
                w += k1 * size
            else:
                return 0
            k = k1 + k2
        self._wpos = w
        self._hq[_W_WRITE] = w  # one publish for the whole batch, after every byte
        return k

    def _write_run(
        self, pos: int, items: Sequence[BytesLike], n: int, size: int, count: int
    ) -> None:
        """Write ``count`` records of ``n`` bytes at ``pos`` (the run is known to fit)."""
        sep = self._seps.get(n)
        if sep is None:
            # Between two payloads: the padding of the first, then the header of the next.
            sep = bytes(size - 8 - n) + n.to_bytes(8, "little")
            if len(self._seps) >= 64:
                self._seps.clear()
            self._seps[n] = sep
        self._dq[pos >> 3] = n
        # The last record's padding is not written: its contents are never read.
        self._data[pos + 8 : pos + count * size - (size - 8 - n)] = sep.join(items)

    def _push_varied(self, items: Sequence[BytesLike]) -> int:
        """push_many for records of differing sizes: one Python iteration per record."""
        cap = self._cap
        w = self._wpos
        r = self._rseen = self._hq[_W_READ]
        pos0 = pos = w & self._mask
        budget_end = pos0 + cap - (w - r)  # first position we may not write (unwrapped)
        lim = budget_end if budget_end < cap else cap
        max_size = self._max_size
        dq = self._dq
        data = self._data
        wrapped = False
        count = 0
        for item in items:
            n = len(item)
            size = (n + 15) & -8
            nxt = pos + size
            if nxt > lim:
                if size > max_size:
                    if count == 0:
                        raise self._too_large(n)
                    break
                if wrapped or lim != cap:
                    break  # full
                lim = budget_end - cap
                if size > lim:
                    break  # would not fit after the wrap either
                if pos != cap:
                    dq[pos >> 3] = _SKIP
                wrapped = True
                pos = 0
                nxt = size
            elif size > max_size:
                if count == 0:
                    raise self._too_large(n)
                break
            dq[pos >> 3] = n
            data[pos + 8 : pos + 8 + n] = item
            pos = nxt
            count += 1
        if count:
            w += (cap - pos0 + pos) if wrapped else (pos - pos0)
            self._wpos = w
            self._hq[_W_WRITE] = w  # one publish for the whole batch
        return count

    # ------------------------------------------------------------------ consumer

    def try_pop(self) -> bytes | None:
        """Remove and return the oldest record, or None if the ring is empty."""
        r = self._rpos
        w = self._wseen
        if r == w:
            w = self._wseen = self._hq[_W_WRITE]
            if r == w:
                return None
        pos = r & self._mask
        n = self._dq[pos >> 3]
        if n == _SKIP:
            r += self._cap - pos
            pos = 0
            if r == w:  # a lone skip marker; our producers never publish one, but be lenient
                self._rpos = r
                self._hq[_W_READ] = r
                return None
            n = self._dq[0]
        if n > self._max_payload:
            raise self._corrupted(n, pos)
        start = pos + 8
        out = self._data[start : start + n].tobytes()
        r += (n + 15) & -8
        self._rpos = r
        self._hq[_W_READ] = r  # release the space only after the copy
        return out

    def pop(self, timeout: float | None = None) -> bytes:
        """Remove and return the oldest record, waiting up to ``timeout`` seconds.

        Raises :class:`RingEmpty` on timeout and :class:`RingClosed` once the producer has
        called :meth:`mark_closed` and every record has been consumed.
        """
        out = self.try_pop()
        if out is not None:
            return out
        try_pop = self.try_pop
        idle = self._wait.idle
        hq = self._hq
        deadline = None if timeout is None else time.monotonic() + timeout
        attempt = 0
        while True:
            if hq[_W_CLOSED]:
                # The closed flag is stored after the last publish: re-check once.
                out = try_pop()
                if out is not None:
                    return out
                raise RingClosed(f"ring {self._name!r} is closed by its producer and drained")
            idle(attempt)
            attempt += 1
            out = try_pop()
            if out is not None:
                return out
            if deadline is not None and time.monotonic() >= deadline:
                raise RingEmpty(f"ring {self._name!r} stayed empty for {timeout} s")

    def pop_many(self, max_n: int) -> list[bytes]:
        """Remove and return up to ``max_n`` records, fewer only if the ring runs empty.

        The read index is published once, after every record has been copied out.
        """
        r = self._rpos
        w = self._wseen = self._hq[_W_WRITE]
        out: list[bytes] = []
        if r == w or max_n <= 0:
            return out
        cap = self._cap
        mask = self._mask
        dq = self._dq
        data = self._data
        while True:
            pos = r & mask
            n = dq[pos >> 3]
            if n == _SKIP:
                r += cap - pos
                if r == w:
                    break
                pos = 0
                n = dq[0]
            if n > self._max_payload:
                raise self._corrupted(n, pos)
            size = (n + 15) & -8
            seg = cap - pos
            if w - r < seg:
                seg = w - r
            k = seg // size
            if k == 0:
                raise self._corrupted(n, pos)
            if k > max_n:
                k = max_n
            step = size >> 3
            first = pos >> 3
            if k > 1 and dq[first : first + k * step : step].tobytes() != self._headers(n, k):
                r = self._pop_varied(out, r, w, max_n)
                break
            # Fast path: k records of one size lie contiguously at pos; precompiled Structs
            # slice them out in C (one bytes object each, no per-record bytecode).
            r += k * size
            max_n -= k
            while k:
                c = k if k <= _RUN_CHUNK else _RUN_CHUNK
                c = 1 << (c.bit_length() - 1)  # power-of-two chunks bound the Struct cache
                out += _run_struct(n, size, c).unpack_from(data, pos)
                pos += c * size
                k -= c
            if r == w or max_n == 0:
                break
        self._rpos = r
        self._hq[_W_READ] = r  # release the space only after the copies
        return out

    def _headers(self, n: int, k: int) -> bytes:
        """``k`` copies of the 8-byte header of an ``n``-byte record."""
        hdrs = self._hdrs
        if hdrs is None or hdrs[0] != n or len(hdrs[1]) < 8 * k:
            hdrs = self._hdrs = (n, n.to_bytes(8, "little") * max(k, 64))
        return hdrs[1] if len(hdrs[1]) == 8 * k else hdrs[1][: 8 * k]

    def _pop_varied(self, out: list[bytes], r: int, w: int, max_n: int) -> int:
        """Pop records of differing sizes into ``out``, one Python iteration per record.

        Returns the new read index; the caller publishes it.
        """
        append = out.append
        mask = self._mask
        dq = self._dq
        data = self._data
        max_payload = self._max_payload
        for _ in range(max_n):
            if r == w:
                break
            pos = r & mask
            n = dq[pos >> 3]
            if n > max_payload:
                if n != _SKIP:
                    raise self._corrupted(n, pos)
                r += self._cap - pos
                if r == w:
                    break
                pos = 0
                n = dq[0]
                if n > max_payload:
                    raise self._corrupted(n, 0)
            start = pos + 8
            append(data[start : start + n].tobytes())
            r += (n + 15) & -8
        return r

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Release this handle's mapping; the owner also unlinks the block.  Idempotent.

        Also runs automatically when the handle is garbage collected or the interpreter exits.
        """
        self._finalizer()

    def unlink(self) -> None:
        """Remove the block's name now (from either end); existing mappings stay valid."""
        self._unlink_pending[0] = False
        unlink_block(self._block)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.readable_bytes} bytes used"
        role = "owner" if self._owner else "attached"
        return f"SpscRing({self._name!r}, capacity={self._cap}, {role}, {state})"
