"""``QueueReader``: a ``ReadOnlyReader`` with a durable named cursor (a subscriber).

``commit()`` persists the position in the reader's cursor file; a reader reopened under
the same name resumes there, and retention keeps every segment a cursor still needs.
Reading itself (visibility, torn tails, corruption) is ``ReadOnlyReader``'s.
"""

from __future__ import annotations

import os
from typing import final

from .cursor import CursorPosition, CursorStore
from .discovery import DisconnectReason, WriterStatus, probe_writer
from .readonly import ReadOnlyReader, Record
from .segment import STATE_SEALED

__all__ = ["QueueReader", "Record"]


@final
class QueueReader(ReadOnlyReader):
    """Reader of one queue with a durable cursor; use :meth:`Queue.open_subscriber`."""

    def __init__(self, path: str | os.PathLike[str], reader_name: str) -> None:
        # Set before the base opens anything: its error path calls our close().
        self._cursor: CursorStore | None = None
        super().__init__(path)  # checks the queue, opens the oldest segment
        self.name = reader_name
        try:
            self._cursor = CursorStore(self.path, reader_name)
        except BaseException:
            super().close()
            raise
        try:
            pos = self._cursor.load()
            if pos is None:
                self.commit()  # a durable cursor protects our segments from retention
            elif not self._open_at(pos.segment_id, pos.offset, pos.next_seq):
                self.seek(pos.next_seq)
        except BaseException:
            self.close()
            raise

    @property
    def position(self) -> CursorPosition:
        """Return the position the next ``commit`` would persist."""
        seg_id = self._seg.segment_id if self._seg is not None else 0
        return CursorPosition(self._next_seq, seg_id, self._off)

    def commit(self, *, sync: bool = True) -> None:
        """Persist the current position as this reader's durable cursor."""
        self._check_open()
        assert self._cursor is not None
        self._cursor.store(self.position, sync=sync)

    # -- writer liveness --------------------------------------------------------------
    def writer_status(self, ttl_ns: int, now_ns: int | None = None) -> WriterStatus:
        """Return the writer's lock and heartbeat state."""
        return probe_writer(self.path, ttl_ns, now_ns)

    def _segment_missing(self) -> bool:
        seg = self._seg
        if seg is None:
            return False
        try:
            st = os.stat(seg.path)
        except FileNotFoundError:
            return True
        if st.st_ino != os.fstat(seg.fd).st_ino:
            return True
        if seg.state == STATE_SEALED and seg.seal_info()[0] <= self._off:
            return not os.path.exists(self._seg_path(seg.segment_id + 1))
        return False

    def detect_disconnect(self, ttl_ns: int, now_ns: int | None = None) -> DisconnectReason | None:
        """Why this reader can no longer expect new records, or None if all is well."""
        if self._segment_missing():
            return DisconnectReason.SEGMENT_MISSING
        return self.writer_status(ttl_ns, now_ns).reason

    def close(self) -> None:
        """Close files and maps (does not commit). Idempotent."""
        if self._closed:
            return
        super().close()
        if self._cursor is not None:
            self._cursor.close()
