"""Entry points: :class:`Queue` opens writers and readers and inspects queues."""

from __future__ import annotations

import os
from typing import NamedTuple, final

from .config import QueueConfig, read_meta
from .cursor import CursorPosition, list_cursors
from .discovery import WriterStatus, probe_writer
from .reader import QueueReader
from .segment import list_segment_ids, read_header, segment_name
from .writer import QueueWriter

__all__ = ["Queue", "SegmentSummary"]


class SegmentSummary(NamedTuple):
    segment_id: int
    state: int  # 0 FRESH, 1 ACTIVE, 2 SEALED
    base_seq: int
    size_bytes: int


@final
class Queue:
    """Namespace of factory and inspection functions for a queue directory."""

    __slots__ = ()

    @staticmethod
    def open_publisher(
        path: str | os.PathLike[str], config: QueueConfig | None = None
    ) -> QueueWriter:
        """Open (creating if needed) the queue at ``path`` for appending.

        Raises :class:`~whistle.journal.errors.WriterLockedError` if another writer is
        live, :class:`~whistle.journal.errors.NotAJournalError` if ``path`` holds
        foreign files, and recovers (cuts) a torn tail left by a crashed writer.
        """
        return QueueWriter(path, config)

    @staticmethod
    def open_subscriber(path: str | os.PathLike[str], reader_name: str) -> QueueReader:
        """Open a reader that resumes from the durable cursor ``reader_name``.

        A new name starts at the oldest retained record and immediately persists its
        cursor, so retention will not delete records it has not read yet.
        """
        return QueueReader(path, reader_name)

    @staticmethod
    def exists(path: str | os.PathLike[str]) -> bool:
        return read_meta(os.fspath(path)) is not None

    @staticmethod
    def segments(path: str | os.PathLike[str]) -> list[SegmentSummary]:
        qdir = os.fspath(path)
        out: list[SegmentSummary] = []
        for seg_id in list_segment_ids(qdir):
            try:
                hdr = read_header(os.path.join(qdir, segment_name(seg_id)), allow_short=True)
            except FileNotFoundError:
                continue
            out.append(SegmentSummary(seg_id, hdr.state, hdr.base_seq, hdr.size))
        return out

    @staticmethod
    def cursors(path: str | os.PathLike[str]) -> dict[str, CursorPosition]:
        return list_cursors(os.fspath(path))

    @staticmethod
    def writer_status(path: str | os.PathLike[str], ttl_ns: int) -> WriterStatus:
        return probe_writer(path, ttl_ns)
