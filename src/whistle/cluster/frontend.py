"""A stateless front end: ``whistle.api``'s ``Backend`` over a cluster of venue nodes.

``ClusterBackend`` holds no book. It maps a command's symbol to its shard with the
control plane's shard map (read once, refreshed when a symbol is added; symbols other
front ends define arrive on ``<prefix>.def``), sends each
shard's commands of a batch as one NATS request to ``<prefix>.req.<shard>`` (the shard's
owner answers), and hands the engines' events to its listeners from
``<prefix>.evt.*`` (every node's events, in each symbol's ``seq`` order).

Idempotent order entry: a ``NewOrder`` / ``CancelReplace`` with a ``client_order_id``
is remembered by its shard per (symbol, account, client_order_id) until the symbol's
``EndSession`` (the venue's table, scoped to a symbol: two shards cannot check one key
without talking to each other), in the shard's snapshots and rebuilt from its log; a
repeat is answered ``[DuplicateClientOrder, *the original's events]`` and changes nothing.
A client that got ``error`` (outcome unknown) sends the same command again and learns the
outcome without entering it twice.

Retries: a request nobody answers (no owner yet: a failover in progress) or that the
node answers ``NOT_OWNER`` (nothing was logged) is sent again until ``retry_s``. An
``Execute`` that timed out or came back ``UNAVAILABLE`` is *not* sent again: its commands
may be in the log, so the outcome carries ``error`` (the API says UNAVAILABLE) and the
client decides (a ``client_order_id`` lets it ask).

Replies of any size: requests go out on the client's own inbox (``ClusterClient.ask``),
so a reply a node split into ``PART`` messages (past NATS's ``max_payload``, see
``whistle.cluster.wire``) is read whole; a split reply that does not add up is an unknown
outcome, like a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any, Final, final

import msgspec
import nats
import nats.errors

from whistle.api.backend import (
    BackendUnavailable,
    BookView,
    ClientOrderView,
    HostView,
    Outcome,
    SymbolView,
    VenueStatus,
)
from whistle.cluster.log import ClusterNames, decode_events
from whistle.cluster.wire import (
    BAD_REQUEST,
    NOT_OWNER,
    OK,
    AddInstrument,
    ClientOrderAnswer,
    Execute,
    Query,
    Reply,
    ReplyParts,
    encode_request,
)
from whistle.core.commands import (
    CancelReplace,
    Command,
    HaltTrading,
    MassCancel,
    NewOrder,
    ResumeTrading,
)
from whistle.core.errors import InstrumentError
from whistle.core.events import Event, OrderAccepted, OrderRejected
from whistle.core.instrument import Instrument
from whistle.core.reasons import RejectReason
from whistle.engine.status import DepthSnapshot, EngineStatus, L3Order, OrderInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

    from whistle.cluster.control import ShardMap

__all__ = ["ClusterBackend", "ClusterClient"]

_UNKNOWN: Final = int(RejectReason.UNKNOWN_SYMBOL)
_INSTRUMENTS: Final = msgspec.msgpack.Decoder(list[Instrument])
_INSTRUMENT: Final = msgspec.msgpack.Decoder(Instrument)
_STATUS: Final = msgspec.msgpack.Decoder(EngineStatus)
_DEPTH: Final = msgspec.msgpack.Decoder(DepthSnapshot)
_BOOK: Final = msgspec.msgpack.Decoder(tuple[EngineStatus, list[L3Order], str])
_ORDER: Final = msgspec.msgpack.Decoder(OrderInfo | None)
_CLIENT_ORDER: Final = msgspec.msgpack.Decoder(ClientOrderAnswer | None)


@final
class ClusterClient:
    """Requests to shard owners over NATS, with the retry rule of the module docstring."""

    def __init__(
        self,
        nc: Client,
        names: ClusterNames,
        shard_map: ShardMap,
        *,
        timeout_s: float = 10.0,
        retry_s: float = 20.0,
    ) -> None:
        self.nc = nc
        self.names = names
        self.shard_map = shard_map
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.retries = 0
        self._inbox = ""
        self._inbox_sub: Subscription | None = None
        self._inbox_lock = asyncio.Lock()
        self._waiting: dict[str, asyncio.Queue[Msg]] = {}
        self._next_token = 0

    def shard_of(self, symbol: str) -> int:
        """Return the shard of ``symbol`` (the control plane's map)."""
        return self.shard_map.shard_of(symbol)

    async def ask(self, subject: str, payload: bytes, timeout: float) -> Reply:
        """Send one request and wait ``timeout`` for its whole reply (every ``PART`` of a
        split one, ``whistle.cluster.wire``). Raises ``nats.errors.NoRespondersError`` /
        ``nats.errors.TimeoutError`` like ``nc.request``."""
        if self._inbox_sub is None:
            async with self._inbox_lock:  # requests started together share one inbox
                if self._inbox_sub is None:
                    inbox = self.nc.new_inbox()
                    self._inbox_sub = await self.nc.subscribe(inbox + ".*", cb=self._on_reply)
                    self._inbox = inbox
        self._next_token += 1
        token = str(self._next_token)
        queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._waiting[token] = queue
        try:
            await self.nc.publish(subject, payload, reply=f"{self._inbox}.{token}")
            parts = ReplyParts()
            async with asyncio.timeout(timeout):
                while True:
                    msg = await queue.get()
                    if msg.headers and msg.headers.get("Status") == "503":
                        raise nats.errors.NoRespondersError
                    reply = parts.add(msg.data)
                    if reply is not None:
                        return reply
        except TimeoutError:
            raise nats.errors.TimeoutError from None
        finally:
            del self._waiting[token]

    async def _on_reply(self, msg: Msg) -> None:
        queue = self._waiting.get(msg.subject.rpartition(".")[2])
        if queue is not None:  # else: late, its request gave up
            queue.put_nowait(msg)

    async def close(self) -> None:
        """Drop the reply subscription (a second call does nothing)."""
        sub, self._inbox_sub = self._inbox_sub, None
        if sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def request(self, shard: int, request: Execute | AddInstrument | Query) -> Reply:
        """Send ``request`` to ``shard``'s owner; retry while no owner answers or it says
        NOT_OWNER (nothing logged), until ``retry_s``."""
        payload = encode_request(request)
        subject = self.names.req_subject(shard)
        deadline = time.monotonic() + self.retry_s
        pause = 0.02
        while True:
            try:
                reply = await self.ask(subject, payload, self.timeout_s)
            except nats.errors.NoRespondersError:
                reply = Reply(NOT_OWNER, f"shard {shard}: no node serves it now")
            except nats.errors.TimeoutError:
                if type(request) is Execute:
                    return Reply(
                        2, f"shard {shard}: no answer within {self.timeout_s} s (outcome unknown)"
                    )
                reply = Reply(NOT_OWNER, f"shard {shard}: no answer within {self.timeout_s} s")
            except ValueError as exc:  # a split reply that does not add up
                return Reply(2, f"shard {shard}: a broken reply ({exc}; outcome unknown)")
            if reply.status != NOT_OWNER or time.monotonic() + pause > deadline:
                return reply
            self.retries += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)


@final
class ClusterBackend:
    """``whistle.api.backend.Backend`` over a cluster (see the module docstring)."""

    def __init__(
        self,
        nc: Client,
        names: ClusterNames,
        shard_map: ShardMap,
        *,
        retry_s: float = 20.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.nc = nc
        self.names = names
        self.client = ClusterClient(nc, names, shard_map, retry_s=retry_s, timeout_s=timeout_s)
        self._by_id: dict[int, Instrument] = {}
        self._by_name: dict[str, Instrument] = {}
        self._listeners: list[Callable[[list[Event]], None]] = []
        self._sub: Subscription | None = None
        self._def_sub: Subscription | None = None
        self._last_seq: dict[int, int] = {}
        self.duplicates = 0
        """Events heard twice (a new owner's re-published tail), not passed on."""
        self.gaps = 0
        """Jumps in a symbol's event seq (events no node published: no events stream)."""
        self._closed = False
        self._refresh_map: Callable[[], ShardMap] | None = None

    @classmethod
    async def connect(
        cls,
        nats_url: str,
        db_url: str,
        *,
        prefix: str = "whistle",
        schema: str = "whistle_cluster",
        retry_s: float = 20.0,
        timeout_s: float = 10.0,
    ) -> ClusterBackend:
        """Connect to NATS and read the shard map from the control plane at ``db_url``.

        ``timeout_s``: how long a request waits for its node's answer (then its commands'
        outcome is unknown); ``retry_s``: how long a request nobody answers is retried."""
        from whistle.cluster.control import ControlPlane

        # The cluster's own shard count (a plane built with defaults would hash wrongly).
        plane = await asyncio.to_thread(ControlPlane.attach, db_url, schema=schema)

        def read_map() -> ShardMap:
            return plane.shard_map()

        try:
            shard_map = await asyncio.to_thread(read_map)
        except Exception:
            plane.close()
            raise
        nc = await nats.connect(
            nats_url.split(","),
            connect_timeout=5,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,  # the next server at once when one dies
        )
        backend = cls(nc, ClusterNames(prefix), shard_map, retry_s=retry_s, timeout_s=timeout_s)
        backend._refresh_map = read_map
        backend._plane_close = plane.close
        await backend.start()
        return backend

    _plane_close: Callable[[], None] | None = None

    async def start(self) -> None:
        """Subscribe to every symbol's events and learn the instruments of every shard."""
        self._sub = await self.nc.subscribe(self.names.evt_wildcard(), cb=self._on_events)
        self._def_sub = await self.nc.subscribe(self.names.def_subject(), cb=self._on_define)
        await self.refresh_instruments()

    async def refresh_instruments(self) -> None:
        """Ask every shard's owner for its instruments (shards without one are skipped)."""
        shards = range(self.client.shard_map.shards)
        replies = await asyncio.gather(
            *(self._query_quick(s, Query("instruments")) for s in shards)
        )
        for reply in replies:
            if reply is not None and reply.status == OK:
                for inst in _INSTRUMENTS.decode(reply.value):
                    self._remember(inst)

    async def _query_quick(self, shard: int, query: Query) -> Reply | None:
        try:
            return await self.client.ask(
                self.names.req_subject(shard), encode_request(query), timeout=2
            )
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, ValueError):
            return None

    def _remember(self, inst: Instrument) -> None:
        self._by_id[inst.symbol_id] = inst
        self._by_name[inst.symbol] = inst

    async def _on_define(self, msg: Msg) -> None:
        with contextlib.suppress(msgspec.MsgspecError):
            self._remember(_INSTRUMENT.decode(msg.data))

    async def _on_events(self, msg: Msg) -> None:
        batch = decode_events(msg.data)
        events = batch.events
        if not events:
            return
        # A new owner publishes its rebuilt tail again: pass each seq on once. A jump
        # past the next seq is a gap (events nobody published, with no events stream).
        last = self._last_seq.get(batch.symbol_id)
        if last is not None:
            if events[-1].seq <= last:
                self.duplicates += len(events)
                return
            if events[0].seq <= last:
                fresh = [e for e in events if e.seq > last]
                self.duplicates += len(events) - len(fresh)
                events = fresh
            elif events[0].seq > last + 1:
                self.gaps += 1
        self._last_seq[batch.symbol_id] = events[-1].seq
        self._emit(events)

    def _emit(self, events: list[Event]) -> None:
        for listener in list(self._listeners):
            listener(events)

    # -------------------------------------------------------------- Backend

    def _check_open(self) -> None:
        if self._closed:
            raise BackendUnavailable("the cluster front end is closed")

    async def execute(self, commands: Sequence[Command]) -> list[Outcome]:
        """Send each shard's commands as one request; one ``Outcome`` per command."""
        outcomes = [Outcome(_order_id(c)) for c in commands]
        if self._closed:
            for o in outcomes:
                o.error = "the cluster front end is closed"
            return outcomes
        groups: dict[int, list[tuple[int, int, Command]]] = {}  # shard -> (outcome, part, cmd)
        edge: list[Event] = []
        for i, command in enumerate(commands):
            targets: list[Command]
            if type(command) is MassCancel and command.symbol_id == 0:
                targets = [msgspec.structs.replace(command, symbol_id=s) for s in self._by_id]
            else:
                targets = [command]
            for command_part in targets:
                inst = await self._instrument_of(command_part.symbol_id)
                if inst is None:
                    reject = _reject(command_part)
                    outcomes[i].events.append(reject)
                    outcomes[i].detail = f"unknown symbol id {command_part.symbol_id}"
                    edge.append(reject)
                    continue
                group = groups.setdefault(self.client.shard_of(inst.symbol), [])
                group.append((i, len(group), command_part))
        shards = list(groups)
        replies = await asyncio.gather(
            *(self.client.request(s, Execute([c for _, _, c in groups[s]])) for s in shards)
        )
        for shard, reply in zip(shards, replies, strict=True):
            for k, (i, _, _) in enumerate(groups[shard]):
                out = outcomes[i]
                if reply.status != OK and not (k < len(reply.events) and reply.events[k]):
                    out.error = out.error or reply.detail or f"shard {shard}: status {reply.status}"
                    continue
                events = reply.events[k] if k < len(reply.events) else []
                out.events.extend(events)
                for e in events:
                    if e.enq_seq and not out.enq_seq:
                        out.enq_seq = e.enq_seq
                    if e.seq == 0:
                        edge.append(e)
                    if type(e) in (OrderAccepted, OrderRejected) and not out.order_id:
                        out.order_id = e.order_id  # type: ignore[union-attr]
        if edge:
            self._emit(edge)
        return outcomes

    async def _instrument_of(self, symbol_id: int) -> Instrument | None:
        inst = self._by_id.get(symbol_id)
        if inst is None:
            await self.refresh_instruments()
            inst = self._by_id.get(symbol_id)
        return inst

    def instruments(self) -> list[Instrument]:
        """Every known instrument, by ``symbol_id``."""
        return [self._by_id[k] for k in sorted(self._by_id)]

    def instrument(self, symbol: str | int) -> Instrument | None:
        """The instrument of a name or id, or None."""
        if isinstance(symbol, int):
            return self._by_id.get(symbol)
        return self._by_name.get(symbol)

    async def add_instrument(self, instrument: Instrument) -> Instrument:
        """Define ``instrument`` on its shard; ``InstrumentError`` on a clash."""
        self._check_open()
        if self._refresh_map is not None:
            self.client.shard_map = await asyncio.to_thread(self._refresh_map)
        known = self._by_name.get(instrument.symbol) or self._by_id.get(instrument.symbol_id)
        if known is not None and known != instrument:
            raise InstrumentError(f"{instrument.symbol!r} clashes with {known!r}")
        shard = self.client.shard_of(instrument.symbol)
        reply = await self.client.request(shard, AddInstrument(instrument))
        if reply.status == BAD_REQUEST:
            raise InstrumentError(reply.detail)
        if reply.status != OK:
            raise BackendUnavailable(f"shard {shard}: {reply.detail}")
        self._remember(instrument)
        return instrument

    async def _one(self, command: Command) -> list[Event]:
        (outcome,) = await self.execute([command])
        if outcome.error is not None:
            raise BackendUnavailable(outcome.error)
        return outcome.events

    async def halt(self, symbol_id: int) -> list[Event]:
        """Halt a symbol."""
        return await self._one(HaltTrading(symbol_id))

    async def resume(self, symbol_id: int) -> list[Event]:
        """Resume a symbol."""
        return await self._one(ResumeTrading(symbol_id))

    async def _query(self, symbol_id: int, query: Query) -> bytes:
        self._check_open()
        inst = await self._instrument_of(symbol_id)
        if inst is None:
            raise KeyError(f"unknown symbol id {symbol_id}")
        reply = await self.client.request(self.client.shard_of(inst.symbol), query)
        if reply.status == BAD_REQUEST:
            raise KeyError(reply.detail)
        if reply.status != OK:
            raise BackendUnavailable(reply.detail)
        return reply.value

    def _view(self, symbol_id: int, status: EngineStatus) -> SymbolView:
        inst = self._by_id[symbol_id]
        return SymbolView(
            status=status, host_id=self.client.shard_of(inst.symbol), lifecycle="ACTIVE"
        )

    async def status(self, symbol_ids: Sequence[int] | None = None) -> VenueStatus:
        """Every asked symbol's engine status; a host is a shard."""
        ids = sorted(self._by_id) if symbol_ids is None else list(symbol_ids)
        values = await asyncio.gather(*(self._query(s, Query("status", s)) for s in ids))
        views = [self._view(s, _STATUS.decode(v)) for s, v in zip(ids, values, strict=True)]
        hosts: dict[int, list[SymbolView]] = {}
        for view in views:
            hosts.setdefault(view.host_id, []).append(view)
        return VenueStatus(
            symbols=views,
            enq_seq=sum(v.status.last_enq_seq for v in views),
            now_ns=max((v.status.now_ns for v in views), default=0),
            hosts=[
                HostView(
                    host_id=h,
                    symbols=len(vs),
                    commands=sum(v.status.last_enq_seq for v in vs),
                )
                for h, vs in sorted(hosts.items())
            ],
            journaled=True,
            last_checkpoint_error=None,
            event_error=None,
            unwritten_events=0,
        )

    async def depth(self, symbol_id: int, levels: int | None) -> DepthSnapshot:
        """The symbol's L2 depth (None: every level)."""
        return _DEPTH.decode(await self._query(symbol_id, Query("depth", symbol_id, levels or 0)))

    async def snapshot(self, symbol_id: int) -> BookView:
        """The symbol's full book."""
        status, orders, state_hash = _BOOK.decode(
            await self._query(symbol_id, Query("book", symbol_id))
        )
        return BookView(symbol=self._view(symbol_id, status), orders=orders, state_hash=state_hash)

    async def order(self, symbol_id: int, order_id: int) -> OrderInfo | None:
        """One live order, or None."""
        return _ORDER.decode(
            await self._query(symbol_id, Query("order", symbol_id, order_id=order_id))
        )

    async def client_order(self, account: int, client_order_id: int) -> ClientOrderView | None:
        """What the shard that took (account, client_order_id) remembers, or None.

        Asked of every shard (the key names no symbol); a shard without an owner right
        now is retried like any request (``retry_s``)."""
        self._check_open()
        query = Query("client_order", account=account, client_order_id=client_order_id)
        replies = await asyncio.gather(
            *(self.client.request(s, query) for s in range(self.client.shard_map.shards))
        )
        for reply in replies:
            if reply.status != OK:
                raise BackendUnavailable(reply.detail)
            found = _CLIENT_ORDER.decode(reply.value)
            if found is not None:
                return ClientOrderView(
                    symbol_id=found.symbol_id,
                    order_id=found.order_id,
                    account=found.account,
                    client_order_id=found.client_order_id,
                    enq_seq=found.enq_seq,
                    outcome=found.outcome,
                    reason=found.reason,
                    events=tuple(found.events),
                )
        return None

    async def release_idle(self, idle_ticks: int) -> list[int]:
        """Nothing to release: a node keeps its shard's engines."""
        del idle_ticks
        return []

    async def advance(self) -> None:
        """Nothing to do: each node moves its own symbols' clocks (GTD expiry)."""

    def add_listener(self, listener: Callable[[list[Event]], None]) -> None:
        """Call ``listener`` with every batch of events from the nodes, and edge rejects."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[list[Event]], None]) -> None:
        """Stop calling ``listener``."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def close(self) -> None:
        """Unsubscribe and disconnect (a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        for sub in (self._sub, self._def_sub):
            if sub is not None:
                with contextlib.suppress(nats.errors.Error):
                    await sub.unsubscribe()
        await self.client.close()
        await self.nc.close()
        if self._plane_close is not None:
            self._plane_close()


def _order_id(command: Command) -> int:
    kind = type(command)
    if kind is NewOrder:
        return command.order_id  # type: ignore[union-attr]
    if kind is CancelReplace:
        return command.new_order_id  # type: ignore[union-attr]
    return 0


def _reject(command: Command) -> OrderRejected:
    account: Any = getattr(command, "account", 0)
    return OrderRejected(
        command.symbol_id,
        0,
        0,
        0,
        _order_id(command),
        account if type(account) is int else 0,
        _UNKNOWN,
    )
