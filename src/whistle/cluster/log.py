"""The replicated command log of a shard, on NATS JetStream.

One stream per shard (``<PREFIX>_CMD_<shard>``) holds one subject per symbol
(``<prefix>.cmd.<shard>.<symbol_id>``: the id, because a symbol's text may hold ``.``,
``*`` or ``>``). A symbol's subject carries, in order:

``Define``   the instrument, before any command of the symbol;
``Batch``    commands the shard's sequencer accepted: ``first_enq_seq`` numbers the first
             (the rest follow one by one; ``enq_seq`` counts the symbol's commands), all
             stamped once with ``ts_ns`` at sequencing. An empty batch only advances the
             symbol's clock (GTD expiry with no order flow).
``Fenced``   a new owner (lease ``token``) took the symbol over after the record before it:
             written once per symbol when a sequencer opens, it moves the subject's last
             sequence, so an older owner that still believes its lease has every later
             append refused (no command, no event).

Records are msgpack of the tagged structs below (the commands are ``whistle.core``'s own
array-like structs, encoded exactly as the venue journals them). Every append carries

- ``Nats-Msg-Id`` = ``<symbol_id>:<expected last subject seq>:<fencing token>:<instance>``:
  the record that follows stream sequence X on the symbol's subject, from one
  ``CommandLog`` object (``instance``: random, one per sequencer). A sequencer that
  retries an append whose acknowledgement it missed gets JetStream's duplicate answer
  instead of a second copy (within the stream's duplicate window); two different records
  never share an id: not two of one sequencer (each follows another record: an id built
  from ``enq_seq`` would make two clock-only batches one), and not those of two
  sequencers of one lease (a node rebuilding a shard under the same token: without the
  instance, its predecessor's append landing late would be taken as its own);
- ``Nats-Expected-Last-Subject-Sequence`` = the stream sequence of the last record the
  sequencer knows on that subject: JetStream refuses the append when anyone else wrote
  there since, so two sequencers of one symbol can never interleave (``SequencerConflict``).

Symbol ids and names are claimed cluster-wide before a shard logs their ``Define``
(``SymbolRegistry``: create-only keys of the KV bucket ``<PREFIX>_SYMBOLS``), so one id
is one name in one shard for every shard.

A command counts as acknowledged only once its append's publish acknowledgement arrived
(the caller awaits ``append``). Events go out on ``<prefix>.evt.<symbol_id>`` as msgpack
lists (``EventBatch``); an optional events stream captures them, deduplicated by
``<symbol_id>:<first event seq>`` so a new owner re-publishing after a failover adds
nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections import deque
from typing import TYPE_CHECKING, Final, final

import msgspec
import nats.errors
import nats.js.errors
from nats.js import api

from whistle.core.commands import Command
from whistle.core.events import Event
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue

__all__ = [
    "DEFAULT_PREFIX",
    "WRONG_LAST_SEQUENCE",
    "Batch",
    "ClusterNames",
    "CommandLog",
    "Define",
    "EventBatch",
    "EventLog",
    "Fenced",
    "LogError",
    "LogRecord",
    "SequencerConflict",
    "SymbolRegistry",
    "decode_events",
    "decode_record",
    "encode_events",
    "encode_record",
    "msg_id",
    "msg_id_token",
]

DEFAULT_PREFIX: Final = "whistle"
WRONG_LAST_SEQUENCE: Final = 10071
"""JetStream's error code for a failed ``Nats-Expected-Last-Subject-Sequence``."""
_EXPECTED_LAST_SUBJECT_SEQ: Final = "Nats-Expected-Last-Subject-Sequence"
_MSG_ID: Final = "Nats-Msg-Id"
_PREFIX_RE: Final = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class LogError(Exception):
    """The command log could not do what was asked (I/O, a stream that is not there)."""


@final
class SequencerConflict(LogError):
    """JetStream refused an append: another sequencer wrote the symbol's subject."""

    def __init__(self, symbol_id: int, expected_last: int, detail: str) -> None:
        super().__init__(
            f"symbol {symbol_id}: refused, the subject's last record is no longer stream"
            f" sequence {expected_last} (another sequencer wrote it): {detail}"
        )
        self.symbol_id = symbol_id
        self.expected_last = expected_last


@final
class ClusterNames:
    """Every stream, subject and bucket name of one cluster (``prefix``: lower case)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        if type(prefix) is not str or _PREFIX_RE.fullmatch(prefix) is None:
            raise ValueError(
                f"prefix must be 1..32 of a-z 0-9 _ - starting with a letter, was {prefix!r}"
            )
        self.prefix = prefix
        self.upper = prefix.upper().replace("-", "_")

    def cmd_stream(self, shard: int) -> str:
        """Return the name of shard ``shard``'s command stream."""
        return f"{self.upper}_CMD_{shard}"

    def cmd_subject(self, shard: int, symbol_id: int) -> str:
        """Return the command subject of ``symbol_id`` in ``shard``."""
        return f"{self.prefix}.cmd.{shard}.{symbol_id}"

    def cmd_wildcard(self, shard: int) -> str:
        """Return the subject filter of every symbol of ``shard``."""
        return f"{self.prefix}.cmd.{shard}.*"

    def evt_subject(self, symbol_id: int) -> str:
        """Return the subject ``symbol_id``'s events are published on."""
        return f"{self.prefix}.evt.{symbol_id}"

    def evt_wildcard(self) -> str:
        """Return the subject filter of every symbol's events."""
        return f"{self.prefix}.evt.*"

    def evt_stream(self) -> str:
        """Return the name of the (optional) events stream."""
        return f"{self.upper}_EVT"

    def def_subject(self) -> str:
        """Return the subject a node announces each newly defined instrument on."""
        return f"{self.prefix}.def"

    def req_subject(self, shard: int) -> str:
        """Return the subject front ends send shard ``shard``'s requests to."""
        return f"{self.prefix}.req.{shard}"

    def snap_bucket(self, shard: int) -> str:
        """Return the object store bucket of shard ``shard``'s snapshots."""
        return f"{self.upper}_SNAP_{shard}"

    def symbols_bucket(self) -> str:
        """Return the key-value bucket of the cluster's symbol claims (``SymbolRegistry``)."""
        return f"{self.upper}_SYMBOLS"


class _Record(msgspec.Struct, frozen=True, array_like=True, tag_field="r"):
    pass


@final
class Define(_Record, frozen=True, array_like=True, tag=1):
    """The symbol's instrument (the first record on its subject)."""

    instrument: Instrument


@final
class Batch(_Record, frozen=True, gc=False, array_like=True, tag=2):
    """Commands ``first_enq_seq``, ``first_enq_seq + 1``, ... sequenced at ``ts_ns``."""

    first_enq_seq: int
    ts_ns: int
    commands: list[Command]


@final
class Fenced(_Record, frozen=True, array_like=True, tag=3):
    """The owner with lease ``token`` took the symbol over here (no command, no event)."""

    token: int


LogRecord = Define | Batch | Fenced


@final
class EventBatch(msgspec.Struct, frozen=True, array_like=True):
    """The events of one symbol's batch, as published on its events subject."""

    symbol_id: int
    events: list[Event]


_ENCODER: Final = msgspec.msgpack.Encoder()
_RECORD: Final = msgspec.msgpack.Decoder(LogRecord)
_EVENTS: Final = msgspec.msgpack.Decoder(EventBatch)


def encode_record(record: LogRecord) -> bytes:
    """Return ``record`` as msgpack bytes."""
    return _ENCODER.encode(record)


def decode_record(data: bytes) -> LogRecord:
    """Decode a command-log record; ``LogError`` naming what is wrong with the bytes."""
    try:
        return _RECORD.decode(data)
    except msgspec.MsgspecError as exc:
        raise LogError(f"not a command-log record ({len(data)} bytes): {exc}") from None


def encode_events(symbol_id: int, events: list[Event]) -> bytes:
    """Return one symbol's events as an ``EventBatch`` in msgpack."""
    return _ENCODER.encode(EventBatch(symbol_id, events))


def decode_events(data: bytes) -> EventBatch:
    """Decode a message of an events subject."""
    return _EVENTS.decode(data)


def msg_id(symbol_id: int, expected_last: int, token: int, instance: str) -> str:
    """Return the ``Nats-Msg-Id`` of a sequencer's append (see the module docstring)."""
    return f"{symbol_id}:{expected_last}:{token}:{instance}"


def msg_id_token(ident: str) -> int:
    """Return the lease token a ``Nats-Msg-Id`` names (0: not one of ``msg_id``'s)."""
    parts = ident.split(":")
    return int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else 0


@final
class CommandLog:
    """Shard ``shard``'s command stream: create, append with both guards, read back."""

    def __init__(
        self,
        js: JetStreamContext,
        names: ClusterNames,
        shard: int,
        *,
        replicas: int = 1,
        duplicate_window_s: float = 120.0,
        timeout_s: float = 5.0,
    ) -> None:
        if type(shard) is not int or shard < 0:
            raise ValueError(f"shard must be an int >= 0, was {shard!r}")
        if type(replicas) is not int or not 1 <= replicas <= 5:
            raise ValueError(f"replicas must be 1..5, was {replicas!r}")
        self.js = js
        self.names = names
        self.shard = shard
        self.replicas = replicas
        self.stream = names.cmd_stream(shard)
        self.duplicate_window_s = duplicate_window_s
        self.timeout_s = timeout_s
        self.instance = secrets.token_hex(6)
        """This object's part of every message id it appends (see the module docstring)."""

    async def ensure(self) -> None:
        """Create the stream if it is missing (an existing one is kept as it is)."""
        try:
            await self.js.stream_info(self.stream)
            return
        except nats.js.errors.NotFoundError:
            pass
        config = api.StreamConfig(
            name=self.stream,
            subjects=[self.names.cmd_wildcard(self.shard)],
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            num_replicas=self.replicas,
            duplicate_window=self.duplicate_window_s,
            discard=api.DiscardPolicy.NEW,
            allow_direct=True,
        )
        try:
            await self.js.add_stream(config)
        except nats.js.errors.BadRequestError as exc:
            # Two nodes creating the same stream at once: the other one won.
            if "already in use" not in str(exc.description):
                raise LogError(f"cannot create stream {self.stream}: {exc}") from exc

    async def delete(self) -> None:
        """Delete the stream (tests and ``cluster down``); a missing one is fine."""
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self.js.delete_stream(self.stream)

    def subject(self, symbol_id: int) -> str:
        """Return ``symbol_id``'s subject in this shard."""
        return self.names.cmd_subject(self.shard, symbol_id)

    async def last_subject_seq(self, symbol_id: int) -> int:
        """Return the stream sequence of the last record on ``symbol_id``'s subject (0: none)."""
        return (await self.last_subject_token(symbol_id))[0]

    async def first_subject_seq(self, symbol_id: int) -> int:
        """Return the stream sequence of the first record on ``symbol_id``'s subject (0: none)."""
        try:
            msg = await self.js.get_msg(
                self.stream, seq=1, subject=self.subject(symbol_id), next=True
            )
        except nats.js.errors.NotFoundError:
            return 0
        return int(msg.seq or 0)

    async def last_subject_token(self, symbol_id: int) -> tuple[int, int]:
        """Return (stream sequence, lease token) of the last record on ``symbol_id``'s
        subject, the token read from its ``Nats-Msg-Id``; (0, 0) when there is none."""
        try:
            msg = await self.js.get_last_msg(self.stream, self.subject(symbol_id))
        except nats.js.errors.NotFoundError:
            return 0, 0
        return int(msg.seq or 0), msg_id_token((msg.headers or {}).get(_MSG_ID, ""))

    async def subject_ids(self) -> list[int]:
        """Return the symbol ids of every subject the stream holds a record on."""
        info = await self.js.stream_info(
            self.stream, subjects_filter=self.names.cmd_wildcard(self.shard)
        )
        prefix_len = len(self.names.cmd_subject(self.shard, 0)) - 1
        return sorted(int(subject[prefix_len:]) for subject in (info.state.subjects or {}))

    async def append(
        self, symbol_id: int, record: LogRecord, *, expected_last: int, token: int
    ) -> tuple[int, bool]:
        """Append ``record`` to ``symbol_id``'s subject after stream sequence ``expected_last``.

        Return (stream sequence, duplicate): ``duplicate`` is True when JetStream already
        held the same message id (a retry whose first try was stored). Raise
        ``SequencerConflict`` when the subject moved on, ``LogError`` when JetStream gave no
        acknowledgement (the record may or may not be stored: retry with the same token).
        """
        headers = {
            _MSG_ID: msg_id(symbol_id, expected_last, token, self.instance),
            _EXPECTED_LAST_SUBJECT_SEQ: str(expected_last),
        }
        try:
            ack = await self.js.publish(
                self.subject(symbol_id),
                _ENCODER.encode(record),
                timeout=self.timeout_s,
                stream=self.stream,
                headers=headers,
            )
        except nats.js.errors.APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                raise SequencerConflict(symbol_id, expected_last, str(exc.description)) from None
            raise LogError(f"append to {self.subject(symbol_id)} refused: {exc}") from exc
        except (TimeoutError, nats.errors.Error) as exc:
            raise LogError(
                f"no acknowledgement for an append to {self.subject(symbol_id)}"
                f" within {self.timeout_s} s: {type(exc).__name__}"
            ) from exc
        return ack.seq, bool(ack.duplicate)

    async def last_seq(self) -> int:
        """Return the stream's last sequence (0: empty)."""
        info = await self.js.stream_info(self.stream)
        state = info.state
        return int(state.last_seq or 0)

    async def read(
        self, start_seq: int = 1, *, fetch: int = 512
    ) -> AsyncIterator[tuple[int, int, LogRecord]]:
        """Yield (stream sequence, symbol_id, record) from ``start_seq`` to the stream's
        last sequence at the time of the call, in stream order."""
        end = await self.last_seq()
        if end < start_seq:
            return
        # A reader's consumer lives for one read: one replica in memory, not a raft group
        # of the stream's replicas on disk (a rebuild retried through a stream leader's
        # election would otherwise pile up replicated consumers on the servers electing).
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=max(1, start_seq),
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=30.0,
            max_waiting=1,
            num_replicas=1,
            mem_storage=True,
        )
        sub = await self.js.pull_subscribe(
            self.names.cmd_wildcard(self.shard), stream=self.stream, config=config
        )
        prefix_len = len(self.names.cmd_subject(self.shard, 0)) - 1
        try:
            seq = 0
            while seq < end:
                try:
                    msgs = await sub.fetch(min(fetch, end - seq) or 1, timeout=self.timeout_s)
                except nats.errors.TimeoutError as exc:
                    raise LogError(
                        f"stream {self.stream} stopped delivering at sequence {seq}, before"
                        f" its last {end}"
                    ) from exc
                for msg in msgs:
                    seq = msg.metadata.sequence.stream
                    symbol_id = int(msg.subject[prefix_len:])
                    yield seq, symbol_id, decode_record(msg.data)
                    if seq >= end:
                        break
        finally:
            try:
                await sub.unsubscribe()
                await self.js.delete_consumer(self.stream, sub._consumer)
            except (nats.errors.Error, nats.js.errors.Error):
                pass  # the inactive threshold removes it


@final
class EventLog:
    """Publish per-symbol events; with ``stream``, keep them in the events stream gapless.

    Without the stream an event message is a core NATS publish (fire and forget: a front
    end drops seqs it already had and counts a jump as a gap). With it, each symbol's
    messages are published one after another with a JetStream acknowledgement, the next
    only once the previous is stored (retried with its message id until it is, so a
    NATS server's death or a stream leader change leaves no hole and no duplicate). That
    runs beside sequencing: a command's acknowledgement never waits for it, but a symbol
    whose unstored event messages pile up past ``max_pending`` waits (``room``).
    """

    def __init__(
        self,
        nc: Client,
        names: ClusterNames,
        *,
        stream: bool = False,
        max_pending: int = 10_000,
        timeout_s: float = 5.0,
    ) -> None:
        self.nc = nc
        self.names = names
        self.stream = stream
        self.max_pending = max_pending
        self.timeout_s = timeout_s
        self._queues: dict[int, deque[tuple[str, bytes, int]]] = {}
        self._stored: dict[int, int] = {}  # symbol -> last event seq stored (this process)
        self._writers: dict[int, asyncio.Task[None]] = {}
        self._js: JetStreamContext | None = nc.jetstream() if stream else None
        self.retries = 0
        self.stopped = False

    async def ensure_stream(self, js: JetStreamContext, *, replicas: int = 1) -> None:
        """Create the events stream over every symbol's events subject, if missing."""
        name = self.names.evt_stream()
        try:
            await js.stream_info(name)
            return
        except nats.js.errors.NotFoundError:
            pass
        try:
            await js.add_stream(
                api.StreamConfig(
                    name=name,
                    subjects=[self.names.evt_wildcard()],
                    storage=api.StorageType.FILE,
                    num_replicas=replicas,
                    duplicate_window=120.0,
                )
            )
        except nats.js.errors.BadRequestError as exc:
            if "already in use" not in str(exc.description):
                raise LogError(f"cannot create stream {name}: {exc}") from exc

    async def last_published(self, js: JetStreamContext, symbol_id: int) -> int:
        """Return the last event seq of ``symbol_id`` in the events stream (0: none)."""
        try:
            msg = await js.get_last_msg(self.names.evt_stream(), self.names.evt_subject(symbol_id))
        except nats.js.errors.NotFoundError:
            return 0
        events = decode_events(msg.data or b"").events
        return events[-1].seq if events else 0

    async def publish(self, symbol_id: int, events: list[Event]) -> None:
        """Publish ``events`` of one symbol (non-empty, in seq order) as one message."""
        ident = f"{symbol_id}:{events[0].seq}"
        data = encode_events(symbol_id, events)
        if not self.stream:
            await self.nc.publish(self.names.evt_subject(symbol_id), data, headers={_MSG_ID: ident})
            return
        queue = self._queues.get(symbol_id)
        if queue is None:
            queue = self._queues[symbol_id] = deque()
        queue.append((ident, data, events[-1].seq))
        if symbol_id not in self._writers:
            task = asyncio.get_running_loop().create_task(self._write(symbol_id, queue))
            self._writers[symbol_id] = task

    def pending(self) -> int:
        """Return how many event messages are not stored yet."""
        return sum(len(q) for q in self._queues.values())

    async def room(self, symbol_id: int) -> None:
        """Wait while ``symbol_id`` has ``max_pending`` event messages not stored."""
        queue = self._queues.get(symbol_id)
        while queue is not None and len(queue) >= self.max_pending and not self.stopped:
            await asyncio.sleep(0.01)

    async def drained(self, timeout_s: float | None = None) -> bool:
        """Wait until every event message is stored (True) or ``timeout_s`` passed."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.pending() and not self.stopped:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return not self.pending()

    async def stored_through(self, marks: dict[int, int], timeout_s: float) -> bool:
        """Wait until each symbol's events up to seq ``marks[symbol]`` are stored (True),
        or ``timeout_s`` passed (False). Without the stream: True at once."""
        if not self.stream:
            return True
        deadline = time.monotonic() + timeout_s
        while not self.stopped:
            if all(
                not self._queues.get(sid) or self._queues[sid][0][2] > seq
                for sid, seq in marks.items()
            ):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return False

    async def _write(self, symbol_id: int, queue: deque[tuple[str, bytes, int]]) -> None:
        js = self._js
        assert js is not None
        subject = self.names.evt_subject(symbol_id)
        stream = self.names.evt_stream()
        pause = 0.02
        try:
            while queue and not self.stopped:
                ident, data, last = queue[0]
                try:
                    await js.publish(
                        subject,
                        data,
                        timeout=self.timeout_s,
                        stream=stream,
                        headers={_MSG_ID: ident},
                    )
                except (TimeoutError, nats.errors.Error):
                    # Not stored, or stored without our hearing it: the same id again
                    # (JetStream answers a stored one as a duplicate).
                    self.retries += 1
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 1.0)
                    continue
                pause = 0.02
                queue.popleft()
                self._stored[symbol_id] = last
        finally:
            del self._writers[symbol_id]

    async def close(self) -> None:
        """Stop the writers (what is not stored stays unstored: a rebuild publishes it)."""
        self.stopped = True
        writers = list(self._writers.values())
        for task in writers:
            task.cancel()
        for task in writers:
            with contextlib.suppress(asyncio.CancelledError):
                await task


_CLAIM: Final = msgspec.msgpack.Decoder(tuple[int, int, str])


@final
class SymbolRegistry:
    """Cluster-wide claims of symbol ids and names: one id is one name in one shard.

    The JetStream key-value bucket ``<PREFIX>_SYMBOLS`` holds create-only keys
    ``id.<symbol_id>`` and ``name.<hex of the symbol's UTF-8>``, each valued
    ``(shard, symbol_id, symbol)`` (msgpack). ``claim`` creates both before a shard logs
    a ``Define``; JetStream's expected-last-sequence check on create makes two racing
    claims of one key one winner. A claim that meets an equal value is granted (a define
    sent again, or a rebuilt owner); a different one is refused. A claim whose second key
    is refused takes its first key back. Not covered: symbols defined before the bucket
    existed (their ids are not in it), and a claim granted whose ``Define`` append then
    failed (the key stays: that id can then be defined only as that name in that shard).
    """

    def __init__(self, js: JetStreamContext, names: ClusterNames, *, replicas: int = 1) -> None:
        self.js = js
        self.bucket = names.symbols_bucket()
        self.replicas = replicas
        self._kv: KeyValue | None = None

    async def _store(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self.js.key_value(self.bucket)
            except nats.js.errors.BucketNotFoundError:
                self._kv = await self.js.create_key_value(
                    bucket=self.bucket, history=1, replicas=self.replicas
                )
        return self._kv

    async def claim(self, instrument: Instrument, shard: int) -> str | None:
        """Claim ``instrument``'s id and name for ``shard``: None when granted, else why
        not (whose they are). Raises ``nats.errors.Error`` when NATS does not answer."""
        kv = await self._store()
        value = _ENCODER.encode((shard, instrument.symbol_id, instrument.symbol))
        made: list[tuple[str, int]] = []
        keys = (f"id.{instrument.symbol_id}", "name." + instrument.symbol.encode().hex())
        for key in keys:
            refused = await self._claim_key(kv, key, value, made)
            if refused is not None:
                for k, revision in made:  # give back what this claim took
                    with contextlib.suppress(nats.errors.Error):
                        await kv.delete(k, last=revision)
                return refused
        return None

    async def _claim_key(
        self, kv: KeyValue, key: str, value: bytes, made: list[tuple[str, int]]
    ) -> str | None:
        for _ in range(3):  # a key deleted under us (a refused claim giving it back)
            try:
                made.append((key, await kv.create(key, value)))
                return None
            except nats.js.errors.KeyWrongLastSequenceError:
                pass
            try:
                entry = await kv.get(key)
            except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
                continue
            if entry.value == value:
                return None
            held_shard, held_id, held_symbol = _CLAIM.decode(entry.value or b"")
            return f"symbol id {held_id} is {held_symbol!r} in shard {held_shard}"
        raise nats.errors.Error(f"symbol registry: key {key} keeps changing")
