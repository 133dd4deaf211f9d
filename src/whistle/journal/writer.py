"""The queue writer (publisher): recovery on open, the append hot path, rolling.

Hot path: with the optional C extension :mod:`._native` (built with the compiled
install), :meth:`QueueWriter.append_many` and :meth:`QueueWriter.append` hand the whole
batch to ``store_items``, one C loop that writes each record (header, payload, CRC, then
the commit marker with a release store) with no Python call per record. It stops before
an item it cannot take or a record that does not fit before the roll limit; the record
loop below takes that item (it rolls, or raises the exact error) and the C loop goes on.

Without the extension (``WHISTLE_PURE=1``, no compiler) the record loop does it all: each
record is encoded by two precompiled :class:`struct.Struct` objects cached per payload
length -- ``pack`` builds ``header+payload`` as one bytes object, ``zlib.crc32``
checksums it, and one ``pack_into`` stores ``header+payload, crc, commit-marker``
straight into the mmap (the marker is the last field stored). Both write the same bytes.

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

from .config import TMP_PREFIX, FsyncPolicy, QueueConfig, QueueMeta, ensure_queue_dir, write_meta
from .errors import JournalClosedError, JournalFormatError, RecordTooLarge, wrap_os_error
from .liveness import HeartbeatFile, WriterLock
from .manifest import ManifestFile, write_new_manifest
from .segment import (
    COMMIT_MARK,
    HEADER_SIZE,
    REC_HDR_SIZE,
    STATE_FRESH,
    STATE_SEALED,
    Segment,
    create_segment,
    record_size,
    segment_name,
    warm_segment,
)
from .verify import survey
from .workers import PeriodicWorker, PreallocWorker, apply_retention

__all__ = ["NATIVE", "QueueWriter"]

_StoreItems = Callable[..., tuple[int, int, int]]
_store_items: _StoreItems | None
try:
    from ._native import store_items as _store_items
except ImportError:  # pure-Python install: the record loop does everything
    _store_items = None

NATIVE = _store_items is not None
"""Whether this install appends and reads through the C loops of ``._native``."""

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
        self._sync_meta = cfg.fsync is not FsyncPolicy.NONE
        self._workers: list[PeriodicWorker] = []
        self._prealloc: PreallocWorker | None = None
        self._manifest: ManifestFile | None = None
        self._last = 0
        try:
            self._seg = self._recover()
            self._lock.write_pid()
            self._hb = HeartbeatFile(self.path)
            self._hb.beat()
        except BaseException:
            if self._manifest is not None:
                self._manifest.close()
            self._lock.release()
            raise
        warm_segment(self._seg.path, self._off)
        self._mm = self._seg.mm
        self._size = self._seg.size
        self._synced = self._off
        self._closed = False
        self._start_workers()
        self._set_limit()

    # -- open / recovery --------------------------------------------------------------
    def _seg_path(self, seg_id: int) -> str:
        return os.path.join(self.path, segment_name(seg_id))

    def _recover(self) -> Segment:
        """Verify the directory (:func:`~.verify.survey`: any damage raises before
        anything is changed), then finish what a crash interrupted: cut the torn tail of
        the head, seal segments whose seal was lost, finish an interrupted roll."""
        lay = survey(self.path, self._meta, scan_head=True)
        lay.raise_damage()
        # From here on the directory is whole: changes are the recovery's own.
        _remove_stale_temporaries(self.path)
        if not lay.manifest_stored:  # a queue made before the manifest: record it once
            write_new_manifest(self.path, lay.manifest)
            if not self._meta.requires_manifest:
                self._meta = QueueMeta(self._meta.segment_size, self._meta.created_ns, 1)
                write_meta(self.path, self._meta)
        self._manifest = man = ManifestFile(self.path)
        for seg_id in lay.leftovers:  # below the manifest's low: retention was interrupted
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._seg_path(seg_id))
        for seg_id, res in sorted(lay.unsealed.items()):  # lost seal: seal what is there
            old = self._open_segment(seg_id)
            try:
                old.zero_from(res.end_offset)
                old.seal(
                    res.end_offset, res.next_seq or old.base_seq, time.time_ns(), res.last_offset
                )
                old.flush()
            finally:
                old.close()
        head = lay.head
        if head is None:  # nothing in use yet: start the queue's first segment
            seg_id = man.current.low
            seg = self._open_segment(seg_id, create=True)
            if seg.state != STATE_FRESH:
                seg.close()
                raise JournalFormatError("first segment is already in use", path=seg.path)
            self._activate(seg, man.current.low_base)
            self._off, self._seq, self._last = HEADER_SIZE, man.current.low_base, 0
            return seg
        if head.state == STATE_SEALED:  # the successor's activation was lost: redo it
            assert head.next_seq is not None
            nxt = self._open_segment(head.segment_id + 1)
            self._activate(nxt, head.next_seq)
            self._off, self._seq, self._last = HEADER_SIZE, head.next_seq, 0
            return nxt
        scan = lay.head_scan
        assert scan is not None
        seg = self._open_segment(head.segment_id)
        seg.zero_from(scan.end_offset)  # cut off the torn tail (the only thing ever cut)
        self._off = scan.end_offset
        self._seq = seg.base_seq if scan.next_seq is None else scan.next_seq
        self._last = scan.last_offset
        return seg

    def _activate(self, seg: Segment, base_seq: int) -> None:
        """Record in the manifest that ``seg`` is activated, then activate it; with fsync
        interval/every both are durable before the caller goes on (e.g. seals)."""
        assert self._manifest is not None
        try:
            if self._manifest.current.activated <= seg.segment_id:
                self._manifest.store(activated=seg.segment_id + 1, sync=self._sync_meta)
            seg.activate(base_seq)
            if self._sync_meta:
                seg.flush(0, HEADER_SIZE)
        except BaseException:
            seg.close()
            raise

    def _open_segment(self, seg_id: int, *, create: bool = False) -> Segment:
        path = self._seg_path(seg_id)
        if create:
            create_segment(self.path, seg_id, self._seg_size, time.time_ns())
        try:
            return Segment(path, writable=True)
        except OSError as exc:
            raise wrap_os_error(exc, "opening a segment", path) from exc

    def _set_limit(self) -> None:
        """Where the hot path next calls :meth:`_roll`: at the preallocation mark of the
        head (once), then at its end.  No extra test on the append path."""
        size = self._size
        mark = HEADER_SIZE + int((size - HEADER_SIZE) * self.config.prealloc_threshold)
        if self._prealloc is not None and self._off < mark:
            self._limit = mark
            self._prealloc_due = True
        else:
            self._limit = size
            self._prealloc_due = False
            if self._prealloc is not None:
                self._prealloc.request(self._seg.segment_id + 1)

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
        store_items = _store_items
        if store_items is not None:
            seq = self._seq
            count, off, last = store_items(
                self._mm,
                self._off,
                self._limit,
                ((type_id, payload),),
                0,
                seq,
                time.time_ns() if ts_ns is None else ts_ns,
                self._last,
            )
            if count:
                first = self._off
                self._off, self._last, self._seq = off, last, seq + 1
                if self._every:
                    self._sync_range(first)
                return seq
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
        self._last = off
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
        if _store_items is not None and isinstance(items, list | tuple):
            return self._append_native(items, ts)
        return self._append_loop(items, ts)

    def _append_native(
        self, items: list[tuple[int, bytes | bytearray]] | tuple[Any, ...], ts: int
    ) -> range:
        """``append_many`` by the C loop; the record loop takes each item it stops at."""
        store_items = _store_items
        assert store_items is not None
        first_seq = self._seq
        first_off = self._off
        k = len(items)
        pos = 0
        while True:
            count, off, last = store_items(
                self._mm, self._off, self._limit, items, pos, self._seq, ts, self._last
            )
            self._off, self._last, self._seq = off, last, self._seq + count
            pos += count
            if pos >= k:
                break
            if self._every:  # what the C loop stored, before the loop rolls
                self._sync_range(first_off)
            self._append_loop(items[pos : pos + 1], ts)  # rolls, or raises the exact error
            pos += 1
            first_off = self._off
        if self._every:
            self._sync_range(first_off)
        return range(first_seq, self._seq)

    def _append_loop(self, items: Iterable[tuple[int, bytes | bytearray]], ts: int) -> range:
        """``append_many`` one record at a time in Python (the pure path and the C
        loop's fallback): rolls at the limit, raises on the first bad item."""
        mm, off, limit, seq = self._mm, self._off, self._limit, self._seq
        first_seq, first_off = seq, off
        crc32, mark, enc_get, encoder = zlib.crc32, COMMIT_MARK, self._enc.get, self._encoder
        pack, store, size = encoder(0)
        last_n = 0
        last = self._last
        try:
            for type_id, payload in items:
                n = len(payload)
                if n != last_n:
                    pack, store, size = enc_get(n) or encoder(n)
                    last_n = n
                if off + size > limit:
                    self._off, self._seq, self._last = off, seq, last
                    if self._every:
                        self._sync_range(first_off)
                    self._roll(size)
                    mm, off, limit, last = self._mm, self._off, self._limit, self._last
                    first_off = off
                rec = pack(n, type_id, seq, ts, payload)
                store(mm, off, rec, crc32(rec), mark)
                last = off
                off += size
                seq += 1
        except struct.error as exc:
            raise ValueError(f"bad record field at seq {seq}: {exc}") from None
        finally:
            self._off, self._seq, self._last = off, seq, last
        if self._every:
            self._sync_range(first_off)
        return range(first_seq, seq)

    # -- rolling & syncing ------------------------------------------------------------
    def _roll(self, need: int) -> None:
        if self._prealloc_due and self._off + need <= self._size:
            # Only the preallocation mark: ask for the next segment, go on to the end.
            self._prealloc_due = False
            self._limit = self._size
            if self._prealloc is not None:
                self._prealloc.request(self._seg.segment_id + 1)
            return
        if HEADER_SIZE + need > self._seg_size:
            raise RecordTooLarge(
                f"record of {need} bytes cannot fit a {self._seg_size}-byte segment",
                path=self.path,
            )
        old = self._seg
        new_id = old.segment_id + 1
        # Order (each step durable before the next with fsync interval/every): publish
        # the next segment file (JournalFull here: nothing changed), record it in the
        # manifest, activate it, and only then seal the old one. A crash at any step
        # leaves a state survey() accepts, and a sealed segment always has a successor.
        new = self._open_segment(new_id, create=True)
        if new.state != STATE_FRESH:
            new.close()
            raise JournalFormatError("next segment is already in use", path=new.path)
        self._activate(new, self._seq)
        with self._io_lock:
            old.seal(self._off, self._seq, time.time_ns(), self._last)
            if self._sync_meta:
                old.flush(self._synced, self._off)
                old.flush(0, HEADER_SIZE)  # the seal, after the records it covers
            old.close()
            self._seg, self._mm, self._size = new, new.mm, new.size
            self._off = self._synced = HEADER_SIZE
            self._last = 0
        self._set_limit()

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
        return apply_retention(self.path, self._seg.segment_id, policy, now_ns, self._manifest)

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
                if self._manifest is not None:
                    self._manifest.close()
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
