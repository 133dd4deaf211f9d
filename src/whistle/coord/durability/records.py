"""What a venue writes to its journals, and how it is encoded.

A venue with a data directory keeps two persistent queues (``whistle.journal``):

``DIR/commands``  the write-ahead log. In order: ``Defined`` for every instrument,
                  ``Sequenced`` for every accepted command (with its ``enq_seq``),
                  ``Ticked`` for every tick (the tick is journaled *before* it runs),
                  ``Snapshotted`` after an engine snapshot was written (with the file's
                  size, CRC-32 and state hash, all checked before the snapshot is used),
                  ``ClientOrdersSaved`` after the client-order table was written (the
                  (account, client_order_id) a venue took:
                  ``whistle.coord.durability.client_orders``),
                  ``Checkpoint`` naming the snapshot each active symbol restores from,
                  the next automatic order id of each symbol and the client-order table, and
                  ``Stopped`` with every symbol's state hash at a clean stop.
``DIR/events``    every event the engines emitted, in the order the venue published
                  them: the market-data recording, and the output a restart must continue
                  without gaps or duplicates.
``DIR/snapshots`` ``<symbol_id>/<enq_seq:020d>.snap``: engine snapshots (msgpack), each
                  written to a temporary file, fsynced and renamed into place; only the
                  snapshots of the last ``keep_checkpoints`` checkpoints are kept.
                  ``0/<enq_seq:020d>.snap`` (symbol ids start at 1): client-order tables
                  (``ClientOrderTableFile``), written and kept the same way.

Record payloads are msgpack of the structs below (one encoder, integer tags); the queue's
record ``type_id`` repeats the tag so a person's tool can tell records apart without
decoding them. The ordering rule that makes recovery exact (the write path rule of
``whistle.coord.runtime.router``): a command is validated completely, then journaled, *then*
handed to its host, then acknowledged; nothing is executed before the next tick, and
every tick is journaled before it runs (a tick that cannot be journaled does not run).
A crash therefore loses only commands that were never acknowledged, and replaying
``Defined``/``Sequenced``/``Ticked`` in journal order reproduces every engine exactly.

Fields added later are trailing fields with defaults (records are msgpack arrays), so
records written before them still decode: a ``Snapshotted`` with ``size == 0`` predates
the size and CRC (only its hash is checked), a ``Checkpoint`` without ``next_order_ids``
leaves the ids to be recovered from the commands, one without ``client_orders`` (-1)
had an empty client-order table (older venues had no client order ids: a ``NewOrder``
or ``CancelReplace`` without the trailing field decodes with ``client_order_id == 0``). A
client-order table file carries a format ``version``: a file of another version is
refused by name (``SnapshotDamaged``), never guessed at.
"""

from __future__ import annotations

import hashlib
from typing import Final, final

import msgspec

from whistle.core.commands import CancelReplace, Command, NewOrder
from whistle.core.events import Event
from whistle.core.instrument import Instrument

__all__ = [
    "CLIENT_ORDERS_SNAPSHOT_ID",
    "CLIENT_ORDER_TABLE_VERSION",
    "COMMANDS_DIR",
    "EVENTS_DIR",
    "EVENT_TYPE_ID",
    "SNAPSHOTS_DIR",
    "Checkpoint",
    "ClientOrderTableFile",
    "ClientOrdersSaved",
    "Defined",
    "JournalRecord",
    "RecordCodec",
    "SavedClientOrder",
    "Sequenced",
    "Snapshotted",
    "Stopped",
    "Ticked",
    "decode_client_order_table",
    "table_hash",
]

COMMANDS_DIR: Final = "commands"
EVENTS_DIR: Final = "events"
SNAPSHOTS_DIR: Final = "snapshots"
EVENT_TYPE_ID: Final = 100
"""Queue ``type_id`` of an event record in ``DIR/events``."""
CLIENT_ORDERS_SNAPSHOT_ID: Final = 0
"""The ``DIR/snapshots`` folder of client-order tables (no symbol has id 0)."""
CLIENT_ORDER_TABLE_VERSION: Final = 1
"""The format of a ``ClientOrderTableFile`` this code writes and reads."""


class _Record(msgspec.Struct, frozen=True, array_like=True, tag_field="r"):
    pass


@final
class Defined(_Record, frozen=True, array_like=True, tag=1):
    """An instrument was defined (before any command for it)."""

    instrument: Instrument


@final
class Sequenced(_Record, frozen=True, gc=False, array_like=True, tag=2):
    """A command was accepted with ``enq_seq`` (journaled before it was acknowledged)."""

    enq_seq: int
    command: Command


@final
class Ticked(_Record, frozen=True, gc=False, array_like=True, tag=3):
    """The venue ticked every engine at ``now_ns`` (journaled before the tick ran)."""

    number: int
    now_ns: int


@final
class Snapshotted(_Record, frozen=True, gc=False, array_like=True, tag=4):
    """An engine snapshot anchored at ``enq_seq`` was written to ``DIR/snapshots``."""

    symbol_id: int
    enq_seq: int
    event_seq: int
    state_hash: str
    size: int = 0
    """The file's size in bytes (0: written before sizes were recorded)."""
    crc32: int = 0
    """``zlib.crc32`` of the file's bytes (meaningful when ``size`` is not 0)."""


@final
class Checkpoint(_Record, frozen=True, array_like=True, tag=6):
    """A consistent cut after tick ``tick_number``: restore each active symbol from the
    snapshot anchored at ``snapshots[symbol_id]`` (an ``enq_seq``), then replay every
    record after this one."""

    enq_seq: int
    tick_number: int
    now_ns: int
    snapshots: dict[int, int]
    next_order_ids: dict[int, int] = msgspec.field(default_factory=dict)
    """Each symbol's next automatic order id at the cut."""
    client_orders: int = -1
    """The ``enq_seq`` anchor of the client-order table file to restore (its
    ``ClientOrdersSaved`` record precedes this one); -1: the table was empty."""


@final
class ClientOrdersSaved(_Record, frozen=True, gc=False, array_like=True, tag=7):
    """The client-order table at ``enq_seq`` was written to ``DIR/snapshots/0``."""

    enq_seq: int
    entries: int
    table_hash: str
    """``whistle.coord.durability.client_orders.table_hash`` of the file's bytes."""
    size: int
    crc32: int


@final
class SavedClientOrder(msgspec.Struct, frozen=True, array_like=True):
    """One (account, client_order_id): the sequenced command, and its events."""

    enq_seq: int
    command: NewOrder | CancelReplace
    events: list[Event]


@final
class ClientOrderTableFile(msgspec.Struct, frozen=True, array_like=True):
    """A client-order table file (``DIR/snapshots/0/<enq_seq>.snap``), entries in
    ``enq_seq`` order."""

    version: int
    entries: list[SavedClientOrder]


@final
class Stopped(_Record, frozen=True, array_like=True, tag=5):
    """A clean stop: every symbol's state hash, and the last ``enq_seq``."""

    enq_seq: int
    state_hashes: dict[int, str]


def table_hash(data: bytes) -> str:
    """Return the digest ``ClientOrdersSaved.table_hash`` keeps of a table file's bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


_TABLE_HEAD: msgspec.msgpack.Decoder[tuple[int, msgspec.Raw]] = msgspec.msgpack.Decoder(
    tuple[int, msgspec.Raw]
)
_TABLE: msgspec.msgpack.Decoder[ClientOrderTableFile] = msgspec.msgpack.Decoder(
    ClientOrderTableFile
)


def decode_client_order_table(data: bytes) -> ClientOrderTableFile:
    """Decode a client-order table file; ``ValueError`` naming a version this code does
    not read (checked before the entries are decoded) or bytes that are no table."""
    try:
        version, _ = _TABLE_HEAD.decode(data)
    except msgspec.MsgspecError as exc:
        raise ValueError(f"not a client-order table: {exc}") from None
    if version != CLIENT_ORDER_TABLE_VERSION:
        raise ValueError(
            f"client-order table format version {version}; this whistle reads version"
            f" {CLIENT_ORDER_TABLE_VERSION} only (written by another whistle?)"
        )
    try:
        return _TABLE.decode(data)
    except msgspec.MsgspecError as exc:
        raise ValueError(f"client-order table cannot be decoded: {exc}") from None


JournalRecord = (
    Defined | Sequenced | Ticked | Snapshotted | Stopped | Checkpoint | ClientOrdersSaved
)


@final
class RecordCodec:
    """Encode and decode command-journal records and event records."""

    def __init__(self) -> None:
        self._encoder = msgspec.msgpack.Encoder()
        self._records: msgspec.msgpack.Decoder[JournalRecord] = msgspec.msgpack.Decoder(
            JournalRecord
        )
        self._event: msgspec.msgpack.Decoder[Event] = msgspec.msgpack.Decoder(Event)

    def encode(self, item: JournalRecord | Event) -> bytes:
        """Return ``item`` as msgpack bytes."""
        return self._encoder.encode(item)

    def decode_record(self, data: bytes | memoryview) -> JournalRecord:
        """Decode a record of ``DIR/commands``."""
        return self._records.decode(data)

    def decode_event(self, data: bytes | memoryview) -> Event:
        """Decode a record of ``DIR/events``."""
        return self._event.decode(data)

    @staticmethod
    def type_id(record: JournalRecord) -> int:
        """Return the queue ``type_id`` for ``record`` (its tag)."""
        return _TYPE_IDS[type(record)]


_TYPE_IDS: dict[type, int] = {
    Defined: 1,
    Sequenced: 2,
    Ticked: 3,
    Snapshotted: 4,
    Stopped: 5,
    Checkpoint: 6,
    ClientOrdersSaved: 7,
}
