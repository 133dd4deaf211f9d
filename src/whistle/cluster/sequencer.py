"""One shard's single sequencer and its engines (``ShardSequencer``), on one asyncio loop.

``open`` rebuilds the shard's engines from its latest snapshot (JetStream object store
``<PREFIX>_SNAP_<shard>``: every restore checks the engine's state hash) plus the command
stream's tail after it. A request's commands are validated at the edge
(``whistle.core.commands.command_error``; a refusal is an ``OrderRejected`` with seq 0,
never logged), given automatic order ids when their id is 0, checked against the
client-order table, and queued per symbol; each symbol has at most one append in flight:
what arrives meanwhile is the next batch (group commit). A batch is stamped once
(``ts_ns`` from the node's clock, never backwards per symbol; ``enq_seq`` counts the
symbol's commands), appended with both guards (``whistle.cluster.log``), applied to the
symbol's engine on the publish acknowledgement (one ``process_many``), its events
published on ``<prefix>.evt.<symbol_id>``, and only then acknowledged (``serve_shard``
sends a reply of any size: one message, or ``PART`` messages past NATS's ``max_payload``,
see ``whistle.cluster.wire``). ``fence()`` (the lease's validity, no I/O) is checked
before every append, every acknowledgement and every event publish, and that view can
be wrong (a paused process, a clock, a partition not noticed yet), so ``open`` also
seals the log itself: a ``Fenced`` record after each symbol's last record, which makes
JetStream refuse any later append of an older owner (its records before the seal are
read after it; the symbols come from the stream's subject list as well as the snapshot;
a symbol an older owner defines after the take-over, a fresh subject, is adopted by
``define``). A
``SequencerConflict`` (someone else wrote a subject) or an append that stays
unacknowledged stops the shard (``on_stop``). Every ``snapshot_every`` applied
commands (and at a clean close) the shard is snapshotted.

Determinism: a symbol's events and state are a pure function of its records in the log
(the timestamps are in the records), so a rebuild, or another node, produces identical
events and state hashes.

(~870 lines, past the house size: the edge, the ids, the client-order table, group
commit, fencing, answer accounting, snapshots and the rebuild all read and write the same
per-symbol state, and each rule is easiest to check next to the others it races with.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Final, final

import msgspec
import nats.errors
import nats.js.errors
from nats.js import api

from whistle.cluster.log import (
    Batch,
    ClusterNames,
    CommandLog,
    Define,
    EventLog,
    Fenced,
    LogError,
    SequencerConflict,
    SymbolRegistry,
)
from whistle.cluster.wire import (
    BAD_REQUEST,
    NOT_OWNER,
    OK,
    QUERIES,
    UNAVAILABLE,
    AddInstrument,
    ClientOrderAnswer,
    Execute,
    Query,
    Reply,
    Request,
    decode_request,
    reply_messages,
)
from whistle.core.commands import (
    CancelOrder,
    CancelReplace,
    Command,
    EndSession,
    NewOrder,
    command_error,
)
from whistle.core.enums import ClientOrderOutcome
from whistle.core.events import (
    DuplicateClientOrder,
    Event,
    OrderAccepted,
    OrderRejected,
    OrderReplaced,
)
from whistle.core.limits import MAX_ORDER_ID, MIN_ORDER_ID
from whistle.core.reasons import RejectReason
from whistle.engine import EngineSnapshot, Whistle

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription
    from nats.js import JetStreamContext

    from whistle.core.instrument import Instrument

__all__ = [
    "SNAPSHOT_VERSION",
    "SavedClientOrder",
    "ShardSequencer",
    "ShardSnapshot",
    "SymbolState",
    "serve_shard",
]

SNAPSHOT_VERSION: Final = 1
_LOG: Final = logging.getLogger(__name__)
_ENC: Final = msgspec.msgpack.Encoder()
_SNAPSHOT_NAME: Final = "latest"
_NO_EVENTS: Final[list[Event]] = []
_REJECT_UNKNOWN: Final = int(RejectReason.UNKNOWN_SYMBOL)
_REJECT_DUPLICATE_COID: Final = int(RejectReason.DUPLICATE_CLIENT_ORDER_ID)


# ------------------------------------------------------------------ snapshots


@final
class SavedClientOrder(msgspec.Struct, frozen=True, array_like=True):
    """One applied (account, client_order_id) of a symbol: its command and its events."""

    enq_seq: int
    command: NewOrder | CancelReplace
    events: list[Event]


@final
class SymbolState(msgspec.Struct, frozen=True, array_like=True):
    """One symbol in a shard snapshot: its engine after the record at stream ``head``."""

    head: int
    next_enq_seq: int
    last_ts_ns: int
    next_order_id: int
    engine: EngineSnapshot
    client_orders: list[SavedClientOrder] = msgspec.field(default_factory=list)


@final
class ShardSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Every symbol of a shard, each as of its own last applied record."""

    version: int
    shard: int
    token: int
    symbols: list[SymbolState]

    @property
    def read_from(self) -> int:
        """Return the first stream sequence a rebuild must read after this snapshot."""
        return min((s.head for s in self.symbols), default=0) + 1


_SNAP: Final = msgspec.msgpack.Decoder(ShardSnapshot)


_CONFLICT: Final = -2
"""``_append``: refused at the first try, nothing stored, the shard not stopped."""


class _UnknownSymbol(LogError):
    """A record of a symbol whose Define the rebuild has not read."""

    def __init__(self, message: str, symbol_id: int) -> None:
        super().__init__(message)
        self.symbol_id = symbol_id


# ------------------------------------------------------------------ the sequencer


class _Call:
    """One Execute request waiting for its commands' acknowledgements."""

    __slots__ = ("detail", "events", "future", "left", "logged", "status")

    def __init__(self, n: int, future: asyncio.Future[None]) -> None:
        # One shared empty list until a command's events are known: entries are only ever
        # replaced (by a slice of its batch's events, a reject, an answer), never appended to.
        self.events: list[list[Event]] = [_NO_EVENTS] * n
        self.left = n
        self.future = future
        self.status = OK
        self.detail = ""
        self.logged = False  # one of its commands is in the log

    def done(self, count: int) -> None:
        self.left -= count
        if self.left <= 0 and not self.future.done():
            self.future.set_result(None)

    def fail(self, status: int, detail: str) -> None:
        """One of its commands was not applied (``status``): it counts as answered; the
        call ends when every command is answered, so a command of another symbol still
        in flight keeps its outcome."""
        if self.status == OK:
            self.status, self.detail = status, detail
        self.done(1)

    def reply(self) -> Reply:
        status = self.status
        # NOT_OWNER tells the front end to send the whole request again: only true when
        # none of its commands was logged (those that were keep their events).
        if status == NOT_OWNER and self.logged:
            status = UNAVAILABLE
        return Reply(status, self.detail, self.events)


class _ClientOrder:
    """The first command a shard took for (symbol, account, client_order_id)."""

    __slots__ = ("command", "enq_seq", "events", "outcome", "reason", "session", "waiters")

    def __init__(self, command: NewOrder | CancelReplace, session: int = 0) -> None:
        self.command = command
        self.session = session  # the symbol's EndSessions queued before it (live only)
        self.enq_seq = 0  # 0: queued, not applied yet
        self.events: list[Event] = []
        self.outcome = int(ClientOrderOutcome.PENDING)
        self.reason = 0
        self.waiters: list[tuple[_Call, int]] = []

    def order_id(self) -> int:
        c = self.command
        return c.order_id if isinstance(c, NewOrder) else c.new_order_id

    def answer(self) -> list[Event]:
        c = self.command
        return [
            DuplicateClientOrder(
                c.symbol_id,
                0,
                0,
                0,
                self.order_id(),
                c.account or 0,
                c.client_order_id,
                self.enq_seq,
                self.outcome,
                self.reason,
            ),
            *self.events,
        ]

    def applied(self, enq_seq: int, events: list[Event]) -> None:
        self.enq_seq = enq_seq
        c = self.command
        ids = {c.order_id, c.new_order_id} if isinstance(c, CancelReplace) else {c.order_id}
        mine = [e for e in events if getattr(e, "order_id", None) in ids]
        self.events = mine
        for e in mine:
            kind = type(e)
            if kind is OrderAccepted or kind is OrderReplaced:
                self.outcome = int(ClientOrderOutcome.ACCEPTED)
            elif isinstance(e, OrderRejected):
                self.outcome = int(ClientOrderOutcome.REJECTED)
                self.reason = e.reason
        waiters, self.waiters = self.waiters, []
        for call, i in waiters:
            call.events[i] = self.answer()
            call.done(1)


class _Symbol:
    """A symbol's sequencing state and engine."""

    __slots__ = (
        "busy",
        "client_orders",
        "engine",
        "head",
        "last_ts",
        "next_enq",
        "next_oid",
        "queue",
        "sessions",
        "spare",
        "superseded",
        "tick",
    )

    def __init__(self, engine: Whistle, head: int) -> None:
        self.engine = engine
        self.head = head  # stream sequence of the last record applied (and its subject's head)
        self.next_enq = 1
        self.last_ts = 0
        self.next_oid = 1
        self.spare = MIN_ORDER_ID  # where the search for a free id starts (see _free_id)
        self.queue: list[tuple[Command, _Call, int]] = []
        self.busy = False
        self.tick = False  # an empty batch is wanted (advance the clock: GTD expiry)
        self.client_orders: dict[tuple[int, int], _ClientOrder] = {}
        # EndSessions queued so far (live); an entry of an earlier session is superseded
        # by a repeat queued after the EndSession (the venue's rule: a new session's
        # command), and kept here, by its command's id, until its own command is applied.
        self.sessions = 0
        self.superseded: dict[int, _ClientOrder] = {}


@final
class ShardSequencer:
    """The sequencer and engines of one shard, on one asyncio loop."""

    def __init__(
        self,
        nc: Client,
        names: ClusterNames,
        shard: int,
        token: int,
        *,
        fence: Callable[[], bool],
        replicas: int = 1,
        max_batch: int = 1024,
        snapshot_every: int = 50_000,
        clock: Callable[[], int] = time.time_ns,
        retries: int = 8,
        append_timeout_s: float = 1.0,
        on_stop: Callable[[int, str], None] | None = None,
        event_stream: bool = False,
        placement: Callable[[str], Awaitable[int | None]] | None = None,
    ) -> None:
        if type(max_batch) is not int or max_batch < 1:
            raise ValueError(f"max_batch must be an int >= 1, was {max_batch!r}")
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.names = names
        self.shard = shard
        self.token = token
        self.fence = fence
        # A short wait per try and several tries (the same message id each time: stored
        # once): a stream leader's death costs about one election, not a long timeout.
        self.log = CommandLog(self.js, names, shard, replicas=replicas, timeout_s=append_timeout_s)
        self.replicas = replicas
        self.events = EventLog(nc, names, stream=event_stream)
        self.max_batch = max_batch
        self.snapshot_every = snapshot_every
        self.clock = clock
        self.retries = retries
        self.on_stop = on_stop
        self.symbols: dict[int, _Symbol] = {}
        self.stopped: str | None = None
        self.rebuild_report: dict[str, object] = {}
        self._since_snapshot = 0
        self._snapshotting: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._defining: set[int] = set()
        self._publish_events = False  # open's: a rebuild publishes what the stream lacks
        self.acked = 0
        self.batches = 0
        self.placement = placement
        self.registry = SymbolRegistry(self.js, names, replicas=replicas)
        """The shard map's ``shard_of`` (None: unreadable now): ``define`` refuses a symbol
        the map puts in another shard. None: no check (a sequencer outside a cluster)."""
        self.replies_failed = 0
        """Replies that could not be sent (the connection failed under them); each is
        logged. A reply is never too big: ``reply_messages`` splits it."""

    # -------------------------------------------------------------- rebuild

    async def open(self, *, publish_events: bool = False) -> dict[str, object]:
        """Create the stream if needed and rebuild every engine: the latest snapshot
        (hashes checked), the symbols the snapshot does not know of (each read from its
        subject's first record), then the stream's tail. ``publish_events``: publish the
        tail's events the events stream does not hold yet (a new owner filling in what a
        dead one may not have published). Then, under a valid lease, take every symbol
        over (``Fenced``: an older owner's later appends are refused by the log). Return
        a report (snapshot, records, fenced, fallbacks)."""
        await self.log.ensure()
        fallbacks: list[str] = []
        snap, restored = await self._load_snapshot(fallbacks)
        start = 1
        if snap is not None:
            for state, engine in zip(snap.symbols, restored, strict=True):
                known = _Symbol(engine, state.head)
                known.next_enq = state.next_enq_seq
                known.last_ts = state.last_ts_ns
                known.next_oid = state.next_order_id
                for saved in state.client_orders:
                    entry = _ClientOrder(saved.command)
                    entry.applied(saved.enq_seq, saved.events)
                    key = (saved.command.account or 0, saved.command.client_order_id)
                    known.client_orders[key] = entry
                self.symbols[engine.symbol_id] = known
            start = snap.read_from
        # What the events stream already holds per symbol: a new owner publishes only the
        # events after it (the dead owner may have published some, or none, of its last).
        published: dict[int, int] = {}
        self._publish_events = publish_events
        records = replayed = 0
        if snap is not None:
            # A symbol defined by an older owner after the snapshot's owner took over
            # (which did not know it) may lie wholly below the snapshot's heads, where
            # the tail read does not reach: the stream's subject list names it.
            records, replayed = await self._read_unread(publish_events, published)
        try:
            more = await self._read_tail(start, publish_events, published)
        except _UnknownSymbol as exc:
            if snap is None:
                raise
            # Defined below the snapshot's heads after the subject list was read: replay
            # the whole stream.
            fallbacks.append(
                f"snapshot of shard {self.shard} does not cover symbol {exc.symbol_id}"
                " (defined below its heads): full replay"
            )
            snap = None
            self.symbols = {}
            more = await self._read_tail(1, publish_events, published)
        records += more[0]
        replayed += more[1]
        fenced = 0
        if self.fence():  # a rebuild without a lease (a check, a reader) writes nothing
            more, fenced = await self._take_over(publish_events, published)
            records += more[0]
            replayed += more[1]
        self.rebuild_report = {
            "snapshot": None if snap is None else snap.read_from - 1,
            "records": records,
            "commands": replayed,
            "symbols": len(self.symbols),
            "fallbacks": fallbacks,
            "fenced": fenced,
        }
        return self.rebuild_report

    async def _read_tail(
        self,
        start: int,
        publish_events: bool,
        published: dict[int, int],
        only: int | None = None,
    ) -> tuple[int, int]:
        # Apply the stream from ``start`` on (``only``: that symbol's records alone);
        # return (records read, commands replayed).
        records = 0
        replayed = 0
        async for seq, symbol_id, record in self.log.read(start):
            if only is not None and symbol_id != only:
                continue
            records += 1
            sym = self.symbols.get(symbol_id)
            if type(record) is Define:
                if sym is None:
                    self.symbols[symbol_id] = _Symbol(Whistle(record.instrument), seq)
                elif seq > sym.head:
                    sym.head = seq
                continue
            if sym is None:
                raise _UnknownSymbol(
                    f"stream {self.log.stream} sequence {seq}: a record for symbol"
                    f" {symbol_id} before its Define record",
                    symbol_id,
                )
            if seq <= sym.head:
                continue  # already in the snapshot (or read before a take-over retry)
            if type(record) is Fenced:
                sym.head = seq  # an owner took over here: nothing to apply
                continue
            assert type(record) is Batch
            events = self._apply(sym, record, seq)
            replayed += len(record.commands)
            if publish_events and events:
                if symbol_id not in published:
                    published[symbol_id] = await self.events.last_published(self.js, symbol_id)
                fresh = [e for e in events if e.seq > published[symbol_id]]
                if fresh:
                    await self.events.publish(symbol_id, fresh)
        return records, replayed

    async def _read_unread(
        self, publish_events: bool, published: dict[int, int]
    ) -> tuple[int, int]:
        # Read every symbol the stream has a subject for and this sequencer does not
        # know, each from its subject's first record (a Define).
        records = replayed = 0
        for sid in await self.log.subject_ids():
            if sid in self.symbols:
                continue
            first = await self.log.first_subject_seq(sid)
            r, c = await self._read_tail(first, publish_events, published, only=sid)
            records += r
            replayed += c
        return records, replayed

    async def _take_over(
        self, publish_events: bool, published: dict[int, int]
    ) -> tuple[tuple[int, int], int]:
        # Seal every symbol's subject, then read up to the seals. The seal is a
        # ``Fenced`` record appended after the subject's last record *now* (not after the
        # last one this rebuild read): from then on an older owner that still believes
        # its lease (a pause, a clock, a partition it has not noticed) is refused by
        # JetStream itself on its next append, so it acknowledges nothing more (R2
        # finding 3). What it appended before the seal is read and applied after, so an
        # owner that keeps appending cannot keep this one from opening. A symbol that
        # appears meanwhile (an older owner's Define, after what open read: the read
        # after the seals starts below it) is sealed in the next round.
        # Return ((records, commands) read, symbols sealed).
        more = [0, 0]
        sealed: dict[int, int] = {}
        for _ in range(self.retries + 1):
            todo = [sid for sid in self.symbols if sid not in sealed]
            if not todo:
                return (more[0], more[1]), len(sealed)
            seals = await asyncio.gather(*(self._seal(sid) for sid in todo))
            sealed.update(zip(todo, seals, strict=True))
            start = min(self.symbols[sid].head for sid in todo) + 1
            r, c = await self._read_tail(start, publish_events, published)
            more[0] += r
            more[1] += c
            for sid in todo:
                if self.symbols[sid].head != sealed[sid]:
                    raise LogError(
                        f"shard {self.shard}: symbol {sid} read up to stream sequence"
                        f" {self.symbols[sid].head}, not to its seal at {sealed[sid]}"
                    )
        raise LogError(
            f"shard {self.shard}: symbols kept appearing under the take-over of token"
            f" {self.token} (another owner still defines them)"
        )

    async def _seal(self, sid: int) -> int:
        # Append ``Fenced`` after the subject's last record; return its stream sequence.
        # A refusal (someone appended in between) reads the last record again; a missing
        # acknowledgement is retried with the same message id (stored once), so a stream
        # whose leader is being elected costs one election, not a failed open.
        record = Fenced(self.token)
        last = await self.log.last_subject_seq(sid)
        conflicts = unanswered = 0
        while True:
            try:
                seq, _ = await self.log.append(sid, record, expected_last=last, token=self.token)
                return seq
            except SequencerConflict:
                conflicts += 1
                if conflicts > 10 * (self.retries + 1):
                    raise
                last = await self.log.last_subject_seq(sid)
            except LogError:
                unanswered += 1
                if unanswered > self.retries:
                    raise
                await asyncio.sleep(min(0.05 * unanswered, 0.25))

    async def _load_snapshot(
        self, fallbacks: list[str]
    ) -> tuple[ShardSnapshot | None, list[Whistle]]:
        try:
            store = await self.js.object_store(self.names.snap_bucket(self.shard))
            result = await store.get(_SNAPSHOT_NAME)
        except nats.js.errors.NotFoundError:
            return None, []
        data = result.data or b""
        try:
            snap = _SNAP.decode(data)
            if snap.version != SNAPSHOT_VERSION or snap.shard != self.shard:
                raise ValueError(f"version {snap.version}, shard {snap.shard}")
            # Whistle.restore checks each engine's state hash and its book's invariants.
            engines = [Whistle.restore(state.engine) for state in snap.symbols]
        except (msgspec.MsgspecError, ValueError, AssertionError) as exc:
            fallbacks.append(f"snapshot of shard {self.shard} refused ({exc}): full replay")
            return None, []
        return snap, engines

    def _apply(self, sym: _Symbol, record: Batch, seq: int) -> list[Event]:
        first = record.first_enq_seq
        if first != sym.next_enq:
            raise LogError(
                f"stream {self.log.stream} sequence {seq}: symbol {sym.engine.symbol_id}"
                f" batch starts at enq_seq {first}, expected {sym.next_enq}"
            )
        commands = record.commands
        events = sym.engine.process_many(
            [(first + i, c) for i, c in enumerate(commands)], record.ts_ns
        )
        sym.head = seq
        sym.next_enq = first + len(commands)
        sym.last_ts = record.ts_ns
        table = sym.client_orders
        for k, c in enumerate(commands):
            kind = type(c)
            if kind is NewOrder or kind is CancelReplace:
                _note_order_id(sym, c)
                coid = c.client_order_id  # type: ignore[union-attr]
                if coid:
                    key = (c.account or 0, coid)  # type: ignore[union-attr]
                    entry = table.get(key)
                    if entry is None:  # a rebuild (live, execute made it when queued)
                        entry = table[key] = _ClientOrder(c)  # type: ignore[arg-type]
                    elif entry.command is not c:  # superseded by a later session's repeat
                        entry = sym.superseded.pop(id(c), None) or _ClientOrder(c)  # type: ignore[arg-type]
                    enq = first + k
                    entry.applied(enq, [e for e in events if e.enq_seq == enq])
            elif kind is EndSession:
                # A symbol's keys live for its trading session (the venue's rule).
                for key in [k2 for k2, e in table.items() if e.enq_seq]:
                    del table[key]
        return events

    # -------------------------------------------------------------- requests

    async def handle(self, request: Request) -> Reply:
        """Answer one request (what the NATS handler and in-process callers use)."""
        if self.stopped is not None:
            return Reply(NOT_OWNER, self.stopped)
        if type(request) is Execute:
            return await self.execute(request.commands)
        if type(request) is AddInstrument:
            return await self.define(request.instrument)
        if type(request) is Query:
            return self.query(request)
        return Reply(BAD_REQUEST, f"unknown request {type(request).__name__}")

    async def execute(self, commands: list[Command]) -> Reply:
        """Sequence ``commands``; return each one's events once all are acknowledged."""
        if self.stopped is not None or not self.fence():
            return Reply(NOT_OWNER, self.stopped or f"shard {self.shard}: lease not valid")
        loop = asyncio.get_running_loop()
        call = _Call(len(commands), loop.create_future())
        queued = 0
        symbols = self.symbols
        for i, command in enumerate(commands):
            sym = symbols.get(getattr(command, "symbol_id", -1))
            if sym is None:
                call.events[i] = [_reject(command, _REJECT_UNKNOWN)]
                continue
            kind = type(command)
            if kind is CancelOrder or (
                kind is NewOrder
                and command.order_id  # type: ignore[union-attr]
                and not command.client_order_id  # type: ignore[union-attr]
            ):
                # The common case, without the general path's lookups (same rules).
                problem = command_error(command)
                if problem is not None:
                    call.events[i] = [_reject(command, int(problem[0]))]
                    continue
                if kind is NewOrder and command.order_id >= sym.next_oid:  # type: ignore[union-attr]
                    sym.next_oid = command.order_id + 1  # type: ignore[union-attr]
                sym.queue.append((command, call, i))
                queued += 1
                if not sym.busy:
                    self._kick(sym)
                continue
            asked = command
            command = _with_ids(sym, command)
            problem = command_error(command)
            if problem is not None:
                call.events[i] = [_reject(command, int(problem[0]))]
                continue
            coid = getattr(command, "client_order_id", 0)
            if coid:
                key = (command.account or 0, coid)  # type: ignore[union-attr]
                entry = sym.client_orders.get(key)
                if entry is not None and entry.session != sym.sessions:
                    # An EndSession is queued between the two: that session's keys end
                    # with it, so this is a new session's command (sequenced). An entry
                    # still on its way is kept aside until its command is applied.
                    if not entry.enq_seq:
                        sym.superseded[id(entry.command)] = entry
                    entry = None
                if entry is not None:
                    if not _same_order(entry.command, asked):
                        # The venue's reject names the command's own order id (a
                        # CancelReplace's new one: whistle.coord.durability.client_orders).
                        own = command.new_order_id if kind is CancelReplace else command.order_id  # type: ignore[union-attr]
                        call.events[i] = [_reject(command, _REJECT_DUPLICATE_COID, own)]
                    elif entry.enq_seq:
                        call.events[i] = entry.answer()
                    else:  # the original is still on its way: answer once it is applied
                        entry.waiters.append((call, i))
                        queued += 1
                    continue
                sym.client_orders[key] = _ClientOrder(command, sym.sessions)  # type: ignore[arg-type]
            elif kind is EndSession:
                sym.sessions += 1
            _note_order_id(sym, command)  # an id is used up only by a command that is queued
            sym.queue.append((command, call, i))
            queued += 1
            if not sym.busy:
                self._kick(sym)
        call.done(len(commands) - queued)
        if queued:
            await call.future
        return call.reply()

    def _kick(self, sym: _Symbol) -> None:
        sym.busy = True
        task = asyncio.get_running_loop().create_task(self._flush(sym))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, sym: _Symbol) -> None:
        sid = sym.engine.symbol_id
        try:
            while (sym.queue or sym.tick) and self.stopped is None:
                await self.events.room(sid)  # events not stored yet: at most so many
                items = sym.queue[: self.max_batch]
                del sym.queue[: len(items)]
                sym.tick = False
                if not self.fence():
                    self._stop(f"shard {self.shard}: lease of token {self.token} ended")
                    for _, call, _ in items:  # taken from the queue: nothing was logged
                        call.fail(NOT_OWNER, self.stopped or "")
                    break
                ts = self.clock()
                if ts < sym.last_ts:
                    ts = sym.last_ts
                # Ids are final only at sequencing (a command queued behind another that
                # took the next automatic id gets the one after).
                commands = [c for c, _, _ in items]
                record = Batch(sym.next_enq, ts, commands)
                seq = await self._append(sid, sym, record)
                if seq <= 0:
                    # -1: refused by the log (nothing stored: the front end may retry);
                    # 0: no acknowledgement (it may be stored: the outcome is unknown).
                    status = NOT_OWNER if seq < 0 else UNAVAILABLE
                    for _, call, _ in items:
                        call.fail(status, self.stopped or "append failed")
                    break
                for _, call, _ in items:
                    call.logged = True
                events = self._apply(sym, record, seq)
                self.batches += 1
                # Acknowledge and publish only under a valid lease (the fencing rule).
                if not self.fence():
                    self._stop(
                        f"shard {self.shard}: lease of token {self.token} ended after an"
                        " append: its commands are logged but not acknowledged"
                    )
                    for _, call, _ in items:
                        call.fail(UNAVAILABLE, self.stopped or "")
                    break
                if events:
                    await self.events.publish(sid, events)
                self._deliver(items, record.first_enq_seq, events)
                self.acked += len(items)
                self._since_snapshot += len(items)
                if self._since_snapshot >= self.snapshot_every and self._snapshotting is None:
                    self._since_snapshot = 0
                    self._snapshotting = asyncio.get_running_loop().create_task(
                        self._snapshot_task()
                    )
        finally:
            sym.busy = False
            if self.stopped is not None:
                for _, call, _ in sym.queue:
                    call.fail(NOT_OWNER, self.stopped)
                sym.queue.clear()

    async def _append(
        self, sid: int, sym: _Symbol, record: Batch | Define, *, conflict_stops: bool = True
    ) -> int:
        # The stream sequence; -1 when the log refused the record (not stored); 0 when no
        # acknowledgement came (stored or not: unknown). Both stop the shard, except a
        # first-try refusal with ``conflict_stops=False``: ``_CONFLICT``, nothing stored.
        for attempt in range(self.retries + 1):
            try:
                seq, _ = await self.log.append(
                    sid, record, expected_last=sym.head, token=self.token
                )
                return seq
            except SequencerConflict as exc:
                if attempt == 0 and not conflict_stops:
                    return _CONFLICT
                self._stop(str(exc))
                # A refused retry: its first try was not stored either (that one would
                # have been the duplicate answer), unless the dedup window passed.
                return -1 if attempt == 0 else 0
            except LogError as exc:
                # The same message id and guard on every try: JetStream stores it once.
                if attempt == self.retries or not self.fence():
                    self._stop(f"shard {self.shard}: {exc}")
                    return 0
                await asyncio.sleep(min(0.05 * (attempt + 1), 0.25))
        return 0

    @staticmethod
    def _deliver(items: list[tuple[Command, _Call, int]], first: int, events: list[Event]) -> None:
        # A batch's events: the clock's first (GTD expiry, enq_seq 0), then each command's
        # in enq_seq order; each command gets its slice.
        j = 0
        m = len(events)
        while j < m and events[j].enq_seq == 0:
            j += 1
        enq = first
        last: _Call | None = None
        count = 0
        for _, call, i in items:
            start = j
            while j < m and events[j].enq_seq == enq:
                j += 1
            if j > start:
                call.events[i] = events[start:j]
            enq += 1
            if call is not last:
                if last is not None:
                    last.done(count)
                last, count = call, 0
            count += 1
        if last is not None:
            last.done(count)

    async def define(self, instrument: Instrument) -> Reply:
        """Define ``instrument`` in this shard (idempotent for an equal definition).

        Refused ``BAD_REQUEST`` when ``placement`` puts its symbol in another shard, or
        when the cluster's ``SymbolRegistry`` has its id or name as another instrument or
        in another shard; ``UNAVAILABLE`` when the map or the registry cannot be read
        (nothing logged in any of these cases)."""
        if self.stopped is not None or not self.fence():
            return Reply(NOT_OWNER, self.stopped or f"shard {self.shard}: lease not valid")
        sid = instrument.symbol_id
        sym = self.symbols.get(sid)
        if sym is not None:
            if sym.engine.instrument == instrument:
                return Reply(OK, "exists")
            return Reply(BAD_REQUEST, f"symbol id {sid} is already {sym.engine.instrument!r}")
        if sid in self._defining:
            return Reply(UNAVAILABLE, f"symbol id {sid} is being defined")
        self._defining.add(sid)
        try:
            if self.placement is not None:
                # The front ends route by the same map: a symbol defined elsewhere would
                # get a second sequencer (R2 finding 1).
                home = await self.placement(instrument.symbol)
                if home is None:
                    return Reply(UNAVAILABLE, "the shard map cannot be read now")
                if home != self.shard:
                    return Reply(
                        BAD_REQUEST,
                        f"symbol {instrument.symbol!r} is in shard {home} by the shard map,"
                        f" not {self.shard}",
                    )
            # One id is one name in one shard, cluster-wide (claimed before the Define).
            try:
                taken = await self.registry.claim(instrument, self.shard)
            except nats.errors.Error as exc:
                return Reply(UNAVAILABLE, f"the symbol registry did not answer: {exc!r}")
            if taken is not None:
                return Reply(BAD_REQUEST, taken)
            last, token = await self.log.last_subject_token(sid)
            if last:
                # The log holds records of a symbol this sequencer does not know.
                return await self._adopt(instrument, token)
            probe = _Symbol(Whistle(instrument), last)
            seq = await self._append(sid, probe, Define(instrument), conflict_stops=False)
            if seq == _CONFLICT:
                # Another sequencer defined it first (an older owner, racing this one):
                # adopt it, or stop if that one is newer.
                _, token = await self.log.last_subject_token(sid)
                return await self._adopt(instrument, token)
            if seq <= 0:
                status = NOT_OWNER if seq < 0 else UNAVAILABLE
                return Reply(status, self.stopped or "append failed")
            probe.head = seq
            if not self.fence():
                self._stop(f"shard {self.shard}: lease ended after a Define")
                return Reply(UNAVAILABLE, self.stopped or "")
            self.symbols[sid] = probe
            # Tell every front end (one that did not ask learns the symbol at once).
            with contextlib.suppress(nats.errors.Error):
                await self.nc.publish(self.names.def_subject(), _ENC.encode(instrument))
            return Reply(OK, "defined")
        finally:
            self._defining.discard(sid)

    async def _adopt(self, instrument: Instrument, token: int) -> Reply:
        # The symbol's subject has records this sequencer never read. Written under a
        # newer lease: this one is the older owner, and stops. Under an older one: that
        # owner defined the symbol after this one's take-over fenced the symbols it knew.
        # Its records are acknowledged commands: read them from the subject's first
        # record, apply them, and fence the subject like the others.
        sid = instrument.symbol_id
        if token > self.token:
            self._stop(
                f"shard {self.shard}: symbol {sid} is written under token {token}, newer"
                f" than this sequencer's {self.token}"
            )
            return Reply(NOT_OWNER, self.stopped or "")
        publish = self._publish_events
        try:
            first = await self.log.first_subject_seq(sid)
            head = await self._seal(sid)
            await self._read_tail(first, publish, {}, only=sid)
            sym = self.symbols.get(sid)
            if sym is None:
                raise LogError(f"symbol {sid}: its subject does not start with a Define record")
            if sym.head != head:
                raise LogError(f"symbol {sid}: read up to {sym.head}, not to its seal at {head}")
        except (LogError, nats.errors.Error) as exc:
            self._stop(f"shard {self.shard}: cannot take symbol {sid} over: {exc}")
            return Reply(UNAVAILABLE, self.stopped or "")
        if sym.engine.instrument != instrument:
            return Reply(BAD_REQUEST, f"symbol id {sid} is already {sym.engine.instrument!r}")
        with contextlib.suppress(nats.errors.Error):
            await self.nc.publish(self.names.def_subject(), _ENC.encode(instrument))
        return Reply(OK, "exists")

    def query(self, q: Query) -> Reply:
        """Answer a read of the engines (``QUERIES``)."""
        if q.what == "instruments":
            return Reply(
                OK, value=_ENC.encode([s.engine.instrument for s in self.symbols.values()])
            )
        if q.what == "client_order":
            return Reply(OK, value=_ENC.encode(self._client_order(q.account, q.client_order_id)))
        if q.what == "state_hashes":
            return Reply(
                OK, value=_ENC.encode({k: s.engine.state_hash() for k, s in self.symbols.items()})
            )
        sym = self.symbols.get(q.symbol_id)
        if sym is None:
            return Reply(BAD_REQUEST, f"unknown symbol id {q.symbol_id} in shard {self.shard}")
        engine = sym.engine
        if q.what == "status":
            return Reply(OK, value=_ENC.encode(engine.status()))
        if q.what == "depth":
            return Reply(OK, value=_ENC.encode(engine.depth(q.levels if q.levels > 0 else None)))
        if q.what == "snapshot":
            return Reply(OK, value=_ENC.encode(engine.snapshot()))
        if q.what == "book":
            return Reply(OK, value=_ENC.encode((engine.status(), engine.l3(), engine.state_hash())))
        if q.what == "order":
            return Reply(OK, value=_ENC.encode(engine.order(q.order_id)))
        return Reply(BAD_REQUEST, f"query must be one of {', '.join(QUERIES)}, was {q.what!r}")

    def _client_order(self, account: int, client_order_id: int) -> ClientOrderAnswer | None:
        for sid, sym in self.symbols.items():
            entry = sym.client_orders.get((account, client_order_id))
            if entry is not None:
                return ClientOrderAnswer(
                    sid,
                    entry.order_id(),
                    account,
                    client_order_id,
                    entry.enq_seq,
                    entry.outcome,
                    entry.reason,
                    entry.events,
                )
        return None

    def want_ticks(self) -> int:
        """Queue an empty batch for every idle symbol with a GTD order due by now (the
        clock expires it with no order flow); return how many."""
        n = 0
        now = self.clock()
        for sym in self.symbols.values():
            engine = sym.engine
            # The engine's GTD heap: (expiry, arrival, order id), earliest first (entries
            # of orders gone since may linger: at worst one tick too many).
            heap = engine.book.gtd_heap
            due = engine.live_gtd and heap and heap[0][0] <= now
            if due and not sym.queue and self.stopped is None:
                sym.tick = True
                n += 1
                if not sym.busy:
                    self._kick(sym)
        return n

    # -------------------------------------------------------------- snapshots

    async def _snapshot_task(self) -> None:
        try:
            await self.snapshot()
        except (LogError, nats.errors.Error, OSError):
            pass  # the next round retries; the log alone is enough to rebuild
        finally:
            self._snapshotting = None

    def capture(self) -> ShardSnapshot:
        """Return the shard's state now (each symbol as of its last applied record)."""
        symbols = [
            SymbolState(
                s.head,
                s.next_enq,
                s.last_ts,
                s.next_oid,
                s.engine.snapshot(),
                [
                    SavedClientOrder(e.enq_seq, e.command, e.events)
                    for e in s.client_orders.values()
                    if e.enq_seq and e.enq_seq <= s.engine.last_enq_seq
                ],
            )
            for s in self.symbols.values()
        ]
        return ShardSnapshot(
            version=SNAPSHOT_VERSION, shard=self.shard, token=self.token, symbols=symbols
        )

    async def snapshot(self) -> int:
        """Store the shard's snapshot in the object store; return its size in bytes.

        Skipped (0) while a symbol is being defined: its Define record may already be in
        the stream below every head, where a rebuild from this snapshot would not read.
        """
        if self._defining:
            return 0
        snap = self.capture()
        # A rebuild from this snapshot re-publishes only later events: the events it
        # covers must be in the events stream first (a no-op without the stream).
        marks = {s.engine.instrument.symbol_id: s.engine.seq for s in snap.symbols}
        if not await self.events.stored_through(marks, timeout_s=30.0):
            return 0
        data = _ENC.encode(snap)
        bucket = self.names.snap_bucket(self.shard)
        try:
            store = await self.js.object_store(bucket)
        except nats.js.errors.NotFoundError:
            store = await self.js.create_object_store(
                bucket, config=api.ObjectStoreConfig(replicas=self.replicas)
            )
        await store.put(_SNAPSHOT_NAME, data)
        return len(data)

    # -------------------------------------------------------------- stop

    def _stop(self, why: str) -> None:
        if self.stopped is None:
            self.stopped = why
            for sym in self.symbols.values():
                for _, call, _ in sym.queue:
                    call.fail(NOT_OWNER, why)
                sym.queue.clear()
                # Repeats waiting for an original still in flight: it will not be applied
                # here (its append's caller gets the outcome-unknown answer).
                for entry in [*sym.client_orders.values(), *sym.superseded.values()]:
                    waiters, entry.waiters = entry.waiters, []
                    for call, _ in waiters:
                        call.fail(UNAVAILABLE, why)
            if self.on_stop is not None:
                self.on_stop(self.shard, why)

    async def close(self, *, snapshot: bool = True) -> None:
        """Stop sequencing (pending commands answer NOT_OWNER), wait for appends in
        flight, and store a last snapshot when the lease is still valid."""
        if self.stopped is None:
            self._stop(f"shard {self.shard}: closed")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._snapshotting is not None:
            with contextlib.suppress(Exception):
                await self._snapshotting
        if snapshot and self.fence():
            with contextlib.suppress(LogError, nats.errors.Error, OSError):
                await self.events.drained(timeout_s=10.0)
                await self.snapshot()
        await self.events.close()

    def state_hashes(self) -> dict[int, str]:
        """Return each symbol's engine state hash."""
        return {k: s.engine.state_hash() for k, s in self.symbols.items()}


def _note_order_id(sym: _Symbol, command: Command) -> None:
    kind = type(command)
    if kind is NewOrder:
        used = command.order_id  # type: ignore[union-attr]
    elif kind is CancelReplace:
        used = command.new_order_id  # type: ignore[union-attr]
    else:
        return
    if used >= sym.next_oid:
        sym.next_oid = used + 1


def _with_ids(sym: _Symbol, command: Command) -> Command:
    # Order id 0 asks for the symbol's next automatic id (the venue's rule: one past the
    # highest id used). It is taken when the command is queued: commands queued behind it
    # are in the same order in the log, so the ids are those a rebuild sees.
    kind = type(command)
    if kind is NewOrder and command.order_id == 0:  # type: ignore[union-attr]
        return msgspec.structs.replace(command, order_id=_free_id(sym))
    if kind is CancelReplace and command.new_order_id == 0:  # type: ignore[union-attr]
        return msgspec.structs.replace(command, new_order_id=_free_id(sym))
    return command


def _free_id(sym: _Symbol) -> int:
    # The venue front end's rule (whistle.api.backend.LocalBackend._next_id): one past the
    # highest id used while that is a valid id. Once a caller chose an id near
    # MAX_ORDER_ID the counter runs past the top; rather than refuse every automatic order
    # from then on, take the lowest id no live order of the symbol holds (an id of an
    # order long gone may come back). ``spare`` moves on past each id handed out, so two
    # queued before either is applied never collide; it is not in snapshots (a rebuild
    # has nothing queued: the search starts again at the bottom). The ids are in the
    # logged commands, so a rebuild replays exactly the ids handed out.
    if sym.next_oid <= MAX_ORDER_ID:
        return sym.next_oid
    candidate = sym.spare
    engine = sym.engine
    while engine.order(candidate) is not None:
        candidate += 1
    sym.spare = candidate + 1
    return candidate


def _same_order(original: Command, asked: Command) -> bool:
    # A repeat without an order id (0: "assign one") stands for the original's id.
    kind = type(asked)
    if kind is not type(original):
        return False
    if kind is NewOrder and asked.order_id == 0:  # type: ignore[union-attr]
        asked = msgspec.structs.replace(asked, order_id=original.order_id)  # type: ignore[union-attr]
    elif kind is CancelReplace and asked.new_order_id == 0:  # type: ignore[union-attr]
        asked = msgspec.structs.replace(asked, new_order_id=original.new_order_id)  # type: ignore[union-attr]
    return asked == original


def _reject(command: object, reason: int, order_id: int | None = None) -> OrderRejected:
    account = getattr(command, "account", 0)
    if order_id is None:
        order_id = getattr(command, "order_id", 0)
    return OrderRejected(
        getattr(command, "symbol_id", 0) if type(getattr(command, "symbol_id", 0)) is int else 0,
        0,
        0,
        0,
        order_id if type(order_id) is int else 0,
        account if type(account) is int else 0,
        reason,
    )


async def serve_shard(seq: ShardSequencer, *, queue: str = "sequencer") -> Subscription:
    """Answer ``seq``'s shard requests on its request subject (one queue group)."""

    async def answer(msg: Msg) -> None:
        try:
            request = decode_request(msg.data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            reply = Reply(BAD_REQUEST, f"undecodable request: {exc}")
        else:
            reply = await seq.handle(request)
        if not msg.reply:
            return
        try:
            for data in reply_messages(reply, seq.nc.max_payload):
                await seq.nc.publish(msg.reply, data)
        except nats.errors.Error as exc:
            seq.replies_failed += 1
            _LOG.warning(
                "shard %d: reply (status %d) to %s not sent: %r",
                seq.shard,
                reply.status,
                msg.reply,
                exc,
            )

    async def on_request(msg: Msg) -> None:
        # nats-py runs a subscription's callbacks one after another: answer each request
        # in its own task, so requests arriving during an append join the next batch.
        task = asyncio.get_running_loop().create_task(answer(msg))
        seq._tasks.add(task)  # closed with the sequencer
        task.add_done_callback(seq._tasks.discard)

    return await seq.nc.subscribe(seq.names.req_subject(seq.shard), queue=queue, cb=on_request)
