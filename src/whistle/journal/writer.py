"""The queue writer (publisher): recovery on open, the append hot path, rolling.

Hot path: each record is encoded by two precompiled :class:`struct.Struct` objects
cached per payload length -- ``pack`` builds ``header+payload`` as one bytes object,
``zlib.crc32`` checksums it, and one ``pack_into`` stores ``header+payload, crc,
commit-marker`` straight into the mmap (the marker is the last field stored).
:meth:`QueueWriter.append_many` runs that loop with every attribute bound to a local
and one timestamp per batch; it is the fast path.

Only one thread may call the append methods; the sidecar threads never touch the
write position except under ``_io_lock`` (roll, interval msync, close).
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any, Self, final

from .config import TMP_PREFIX, FsyncPolicy, QueueConfig, ensure_queue_dir
from .errors import JournalClosedError, JournalFormatError, RecordTooLarge, wrap_os_error
from .liveness import HeartbeatFile, WriterLock
from .segment import (
    COMMIT_MARK,
    HEADER_SIZE,
    REC_HDR_SIZE,
    STATE_FRESH,
    STATE_SEALED,
    Segment,
    create_segment,
    list_segment_ids,
    read_header,
    record_size,
    scan_segment,
    segment_name,
    warm_segment,
)
from .workers import PeriodicWorker, PreallocWorker, apply_retention

__all__ = ["QueueWriter"]

_Encoder = tuple[Callable[..., bytes], Callable[..., None], int]
_MAX_CACHED_ENCODERS = 4096


def _make_encoder(n: int) -> _Encoder:
    body = REC_HDR_SIZE + n
    pad = ((body + 3) & ~3) - body
    pack = struct.Struct(f"<IIQQ{n}s").pack
    store = struct.Struct(f"<{body}s{pad}xII").pack_into
    return pack, store, record_size(n)


@final
class QueueWriter:
    """Single writer of a queue directory; use :meth:`Queue.open_publisher`."""

    def __init__(self, path: str | os.PathLike[str], config: QueueConfig | None = None) -> None:
        self.path = os.fspath(path)
        self.config = cfg = config or QueueConfig()
        self._meta = ensure_queue_dir(self.path, cfg.segment_size)
        self._seg_size = self._meta.segment_size
        self._lock = WriterLock(self.path)
        self._closed = True
        self._io_lock = threading.Lock()
        self._enc: dict[int, _Encoder] = {}
        self._every = cfg.fsync is FsyncPolicy.EVERY
        self._workers: list[PeriodicWorker] = []
        self._prealloc: PreallocWorker | None = None
        try:
            _remove_stale_temporaries(self.path)
            self._seg = self._recover()
            self._hb = HeartbeatFile(self.path)
            self._hb.beat()
        except BaseException:
            self._lock.release()
            raise
        warm_segment(self._seg.path, self._off)
        self._mm = self._seg.mm
        self._limit = self._seg.size
        self._synced = self._off
        self._closed = False
        self._start_workers()

    # -- open / recovery --------------------------------------------------------------
    def _seg_path(self, seg_id: int) -> str:
        return os.path.join(self.path, segment_name(seg_id))

    def _recover(self) -> Segment:
        ids = list_segment_ids(self.path)
        infos = {i: read_header(self._seg_path(i), allow_short=True) for i in ids}
        used = [i for i in ids if infos[i].state != STATE_FRESH]
        if not used:
            head_id = ids[0] if ids else 0
            seg = self._open_segment(head_id, create=True)
            seg.activate(0)
            self._off, self._seq = HEADER_SIZE, 0
            return seg
        head_id = used[-1]
        for seg_id in used[:-1]:  # lost seal (e.g. power loss): recover and seal
            if infos[seg_id].state != STATE_SEALED:
                old = self._open_segment(seg_id)
                try:
                    res = scan_segment(old, old.base_seq)
                    old.zero_from(res.end_offset)
                    old.seal(res.end_offset, res.next_seq or old.base_seq, time.time_ns())
                    old.flush()
                finally:
                    old.close()
        head = self._open_segment(head_id)
        try:
            if head.state == STATE_SEALED:
                _end, next_seq, _ts = head.seal_info()
                nxt = self._open_segment(head_id + 1, create=True)
                if nxt.state != STATE_FRESH:
                    nxt.close()
                    raise JournalFormatError("segment after sealed head is in use", path=nxt.path)
                nxt.activate(next_seq)
                self._off, self._seq = HEADER_SIZE, next_seq
                head.close()
                return nxt
            res = scan_segment(head, head.base_seq)
            head.zero_from(res.end_offset)  # cut off a torn / garbled tail
        except BaseException:
            head.close()
            raise
        self._off = res.end_offset
        self._seq = head.base_seq if res.next_seq is None else res.next_seq
        return head

    def _open_segment(self, seg_id: int, *, create: bool = False) -> Segment:
        path = self._seg_path(seg_id)
        if create:
            create_segment(self.path, seg_id, self._seg_size, time.time_ns())
        try:
            return Segment(path, writable=True, repair_size=True)
        except OSError as exc:
            raise wrap_os_error(exc, "opening a segment", path) from exc

    def _start_workers(self) -> None:
        cfg = self.config
        hb = PeriodicWorker("journal-heartbeat", cfg.heartbeat_interval_ms / 1e3, self._hb.beat)
        self._workers.append(hb)
        if cfg.fsync is FsyncPolicy.INTERVAL:
            self._workers.append(
                PeriodicWorker("journal-fsync", cfg.fsync_interval_ms / 1e3, self._interval_sync)
            )
        if cfg.retention is not None:
            self._workers.append(
                PeriodicWorker(
                    "journal-retention", cfg.retention_interval_ms / 1e3, self.run_retention
                )
            )
        if cfg.prealloc:
            self._prealloc = PreallocWorker(self.path, self._seg_size)
            self._prealloc.start()
            self._prealloc.request(self._seg.segment_id + 1)
        for w in self._workers:
            w.start()

    # -- introspection ----------------------------------------------------------------
    @property
    def next_seq(self) -> int:
        return self._seq

    @property
    def head_segment_id(self) -> int:
        return self._seg.segment_id

    @property
    def write_offset(self) -> int:
        return self._off

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def worker_errors(self) -> list[BaseException]:
        errs: list[BaseException] = [w.error for w in self._workers if w.error is not None]
        if self._prealloc is not None and self._prealloc.error is not None:
            errs.append(self._prealloc.error)
        return errs

    def worker_runs(self, name: str) -> int:
        """How many times the sidecar worker ``journal-<name>`` has run."""
        return sum(w.runs for w in self._workers if w.name == f"journal-{name}")

    # -- hot path ---------------------------------------------------------------------
    def _encoder(self, n: int) -> _Encoder:
        enc = self._enc.get(n)
        if enc is None:
            if len(self._enc) >= _MAX_CACHED_ENCODERS:
                self._enc.clear()
            enc = self._enc[n] = _make_encoder(n)
        return enc

    def append(self, type_id: int, payload: bytes | bytearray, ts_ns: int | None = None) -> int:
        """Append one record; return its sequence number."""
        if self._closed:
            raise JournalClosedError("writer is closed", path=self.path)
        n = len(payload)
        pack, store, size = self._enc.get(n) or self._encoder(n)
        off = self._off
        if off + size > self._limit:
            self._roll(size)
            off = self._off
        seq = self._seq
        try:
            rec = pack(n, type_id, seq, time.time_ns() if ts_ns is None else ts_ns, payload)
        except struct.error as exc:
            raise ValueError(f"bad record field: {exc}") from None
        store(self._mm, off, rec, zlib.crc32(rec), COMMIT_MARK)
        self._off = off + size
        self._seq = seq + 1
        if self._every:
            self._sync_range(off)
        return seq

    def append_many(
        self, items: Iterable[tuple[int, bytes | bytearray]], ts_ns: int | None = None
    ) -> range:
        """Append ``(type_id, payload)`` pairs with one timestamp; return their seqs.

        Not atomic: if an item is invalid, the items before it stay appended.
        """
        if self._closed:
            raise JournalClosedError("writer is closed", path=self.path)
        ts = time.time_ns() if ts_ns is None else ts_ns
        mm, off, limit, seq = self._mm, self._off, self._limit, self._seq
        first_seq, first_off = seq, off
        crc32, mark, enc_get, encoder = zlib.crc32, COMMIT_MARK, self._enc.get, self._encoder
        pack, store, size = encoder(0)
        last_n = 0
        try:
            for type_id, payload in items:
                n = len(payload)
                if n != last_n:
                    pack, store, size = enc_get(n) or encoder(n)
                    last_n = n
                if off + size > limit:
                    self._off, self._seq = off, seq
                    if self._every:
                        self._sync_range(first_off)
                    self._roll(size)
                    mm, off, limit = self._mm, self._off, self._limit
                    first_off = off
                rec = pack(n, type_id, seq, ts, payload)
                store(mm, off, rec, crc32(rec), mark)
                off += size
                seq += 1
        except struct.error as exc:
            raise ValueError(f"bad record field at seq {seq}: {exc}") from None
        finally:
            self._off, self._seq = off, seq
        if self._every:
            self._sync_range(first_off)
        return range(first_seq, seq)

    # -- rolling & syncing ------------------------------------------------------------
    def _roll(self, need: int) -> None:
        if HEADER_SIZE + need > self._seg_size:
            raise RecordTooLarge(
                f"record of {need} bytes cannot fit a {self._seg_size}-byte segment",
                path=self.path,
            )
        old = self._seg
        new_id = old.segment_id + 1
        new = self._open_segment(new_id, create=True)  # JournalFull here: nothing changed
        if new.state != STATE_FRESH:
            new.close()
            raise JournalFormatError("next segment is already in use", path=new.path)
        new.activate(self._seq)
        with self._io_lock:
            old.seal(self._off, self._seq, time.time_ns())
            if self.config.fsync is not FsyncPolicy.NONE:
                old.flush(0, HEADER_SIZE)  # the seal
                old.flush(self._synced, self._off)
            old.close()
            self._seg, self._mm, self._limit = new, new.mm, new.size
            self._off = self._synced = HEADER_SIZE
        if self._prealloc is not None:
            self._prealloc.request(new_id + 1)

    def _sync_range(self, start: int) -> None:
        self._seg.flush(min(start, self._synced), self._off)
        self._synced = self._off

    def _interval_sync(self) -> None:
        with self._io_lock:
            if self._closed or self._off <= self._synced:
                return
            off = self._off
            self._seg.datasync()  # releases the GIL, unlike msync via mmap.flush
            self._synced = off

    def sync(self) -> None:
        """Force everything appended so far to stable storage (msync MS_SYNC)."""
        if self._closed:
            raise JournalClosedError("writer is closed", path=self.path)
        with self._io_lock:
            self._seg.flush(0, HEADER_SIZE)
            self._seg.flush(self._synced, self._off)
            self._synced = self._off

    def flush(self) -> None:
        """Alias of :meth:`sync` (msync is the only flush an mmap'd file needs)."""
        self.sync()

    def run_retention(self, now_ns: int | None = None) -> list[int]:
        """Apply the retention policy now; return deleted segment ids."""
        policy = self.config.retention
        if policy is None or self._closed:
            return []
        return apply_retention(self.path, self._seg.segment_id, policy, now_ns)

    # -- shutdown ---------------------------------------------------------------------
    def close(self) -> None:
        """Stop the sidecars, sync (unless fsync NONE), release the lock. Idempotent."""
        if self._closed:
            return
        for w in self._workers:
            w.stop()
        if self._prealloc is not None:
            self._prealloc.stop()
        with self._io_lock:
            self._closed = True
            try:
                if self.config.fsync is not FsyncPolicy.NONE:
                    self._seg.flush(0, self._off)
                self._hb.beat(closed=True)
            finally:
                self._seg.close()
                self._hb.close()
                self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _remove_stale_temporaries(path: str) -> None:
    # A crash between preparing a segment and publishing it by rename leaves a full-size
    # ".tmp-*" file. Only the writer creates them, and we hold the writer lock, so every
    # one present now is an orphan: reclaim the disk space.
    for name in os.listdir(path):
        if name.startswith(TMP_PREFIX):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(path, name))
