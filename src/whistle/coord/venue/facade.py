"""``Venue``: many symbols, one sequencer, one clock, engines in-process or on hosts.

This is the Python API a notebook or a test uses::

    venue = Venue()                                        # embedded: one process
    venue.add_instrument("AAPL", tick_size="0.01", lot_size="1")
    venue.submit("AAPL", "buy", "100", "187.25")          # decimal strings ...
    venue.submit("AAPL", Side.SELL, qty_lots=50, price_ticks=18725)  # ... or ints
    venue.advance(1_000_000)                               # 1 ms of simulated time
    venue.depth("AAPL", 5)

    with Venue(hosts=2) as venue:                          # engines on 2 host processes
        ...

The path of a command (the write path rule; ``whistle.coord.runtime.router`` numbers the steps):

0. the edge converts decimal strings to ticks and lots and validates the command
   completely (``whistle.core.commands.command_error``: every field's type, every int in
   its ``whistle.core.limits`` range, enum fields members), so nothing that could not be
   journaled and decoded again is ever sequenced;
1-4. the ``OrderRouter`` checks the symbol, asks the ``SymbolCoordinator`` to activate it
   (placing it on a host on first use), checks the host has room, and stamps the next
   ``enq_seq``;
5. with a data directory the command is journaled (``Sequenced``) *before any host sees
   it*; if that fails (``JournalUnavailable``) nothing is sequenced, the ``enq_seq`` is
   not consumed, no host is touched, and the venue either stays usable (a full disk:
   retry once space is freed) or stops, refusing every later call with the reason;
6. the host gets it (this cannot fail: step 3 found room); the return is the
   acknowledgement, so *acknowledged means journaled*.

At the next tick (journaled as ``Ticked`` before it runs; a tick that cannot be journaled
does not run and the clock stays) every host ticks its engines and the events come back,
merged in ``symbol_id`` order, so the stream is the same with 0, 1 or N host processes.
Events are then recorded; a recording failure never fails the tick (they wait, in order,
see ``durability()``), nor does a failed checkpoint (``last_checkpoint_error``).

Input refused before sequencing (unknown symbol, a price off the tick grid, a float in
an int field, a value out of range, a full queue) is an ``OrderRejected`` with
``seq == 0`` and ``enq_seq == 0``; ``last_reject_detail`` says why in words. Automatic
order ids (``submit``/``replace`` without one) continue after the largest id of any
journaled command, across restarts; a refused command never uses one up.

Two ways to drive it: ``send``/``submit``/... sequence the command and tick at the current
time, returning the events; ``enqueue`` only sequences, and ``tick``/``advance`` process
everything queued (the tick-bounded mode, and the fast one with host processes).

An embedded venue (one in-process host, no data directory) answers ``submit``, ``cancel``,
``modify``, ``send`` and ``send_many`` through its fast lane (``whistle.coord.venue.lane``,
compiled): the same edge checks and the same events, with the router, host, coordinator
and clock counters settled before any other method (``_settled``) or reader looks.

Order entry is idempotent per account by ``client_order_id`` (``whistle.coord.
client_orders``): a ``NewOrder``/``CancelReplace`` whose (account, client_order_id) was
already taken is checked after the edge and before the router; an equal command changes
nothing (no ``enq_seq``, no journal record, no tick) and is answered with
``[DuplicateClientOrder, *the original's events about its order]`` (``enqueue``: the
original's ``enq_seq``), a different one is refused (``DUPLICATE_CLIENT_ORDER_ID``).
"""

from __future__ import annotations

import functools
import operator
import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, Final, ParamSpec, TypeVar, final

import msgspec
from msgspec.structs import astuple

from whistle.coord.durability.client_orders import (
    DEFAULT_MAX_CLIENT_ORDERS,
    ClientOrderInfo,
    ClientOrderTable,
)
from whistle.coord.durability.datadir import (
    DEFAULT_MAX_UNWRITTEN_EVENTS,
    DEFAULT_SEGMENT_SIZE,
    CheckpointChoice,
    CheckpointError,
    DataDirError,
    EventGap,
    JournalScan,
    JournalUnavailable,
    SnapshotDamaged,
    VenueJournal,
    check_data_dir,
    choose_checkpoint,
    events_after,
    iter_records,
    read_event_seqs,
    scan,
    snapshot_path,
)
from whistle.coord.durability.records import (
    CLIENT_ORDERS_SNAPSHOT_ID,
    COMMANDS_DIR,
    EVENTS_DIR,
    SNAPSHOTS_DIR,
    Defined,
    Sequenced,
    Stopped,
    Ticked,
)
from whistle.coord.errors import CoordError, HostError, HostStateError
from whistle.coord.hosts.local import InProcessHost
from whistle.coord.runtime.clock import ClockMode, SimulationClock, Tick
from whistle.coord.runtime.coordinator import SymbolCoordinator
from whistle.coord.runtime.lifecycle import SymbolState
from whistle.coord.runtime.placement import (
    HashBasedPolicy,
    LeastLoadedPolicy,
    PlacementPolicy,
    RoundRobinPolicy,
)
from whistle.coord.runtime.router import Backpressure, DispatchError, OrderRouter
from whistle.coord.venue.lane import Lane, member_table
from whistle.core.commands import (
    CancelOrder,
    CancelReplace,
    EndSession,
    HaltTrading,
    MassCancel,
    ModifyOrder,
    NewOrder,
    ResumeTrading,
    command_error,
)
from whistle.core.enums import OrderType, Side, StpMode, TimeInForce
from whistle.core.errors import ConversionError, InstrumentError, PrecisionError, WhistleError
from whistle.core.events import DuplicateClientOrder, EngineFaulted, OrderRejected
from whistle.core.fixed import parse_decimal
from whistle.core.instrument import Instrument
from whistle.core.limits import (
    MAX_ACCOUNT,
    MAX_ORDER_ID,
    MAX_PRICE_TICKS,
    MAX_QTY_LOTS,
    MAX_SYMBOL_ID,
    MAX_TS_NS,
    MIN_ACCOUNT,
    MIN_ORDER_ID,
    MIN_SYMBOL_ID,
)
from whistle.core.reasons import RejectReason
from whistle.core.validate import enum_error, enum_member, show
from whistle.engine import detail_text
from whistle.engine.snapshot import decode_snapshot
from whistle.engine.whistle import Whistle
from whistle.ipc import WaitStrategy
from whistle.journal import FsyncPolicy, JournalError, QueueConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from whistle.coord.durability.records import JournalRecord
    from whistle.coord.hosts.base import EngineHost
    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.engine.status import DepthSnapshot, EngineStatus, L3Order, OrderInfo

__all__ = ["PLACEMENTS", "DurabilityStatus", "EdgeReject", "RecoveryReport", "Venue"]

Number = str | int | Decimal

PLACEMENTS: dict[str, Callable[[], PlacementPolicy]] = {
    "hash": HashBasedPolicy,
    "round-robin": RoundRobinPolicy,
    "least-loaded": LeastLoadedPolicy,
}


class EdgeReject(Exception):
    """Raised inside the venue when input is refused before sequencing."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


E = TypeVar("E", Side, OrderType, TimeInForce, StpMode)


def _enum(kind: type[E], value: E | str | int, reason: RejectReason) -> E:
    # A member, its exact int value or its NAME; never a bool or a float (side=True).
    member = enum_member(kind, value)
    if member is None:
        raise EdgeReject(reason, enum_error(kind, value))
    return member


def _int_or_zero(value: object) -> int:
    # What a reject echoes from a malformed command: only well-typed, in-range ints.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ORDER_ID:
        return value
    return 0


_STOP_DRAIN_TICKS: Final = 64  # stop() ticks at most this often to drain the queues
_SIDE_OF: Final = member_table(Side)
_TYPE_OF: Final = member_table(OrderType)
_TIF_OF: Final = member_table(TimeInForce)
_STP_OF: Final = member_table(StpMode)
_FAST_KINDS: Final = frozenset({NewOrder, CancelOrder, ModifyOrder, CancelReplace})
_LIMIT: Final = int(OrderType.LIMIT)
_MARKET: Final = int(OrderType.MARKET)
_GTC: Final = int(TimeInForce.GTC)
_IOC: Final = int(TimeInForce.IOC)


def _fast_member(table: dict[object, int], kind: type, value: object) -> int | None:
    # A member's int for the common spellings, None for anything else (then _enum decides).
    vtype = type(value)
    if vtype is str or vtype is int or vtype is kind:
        return table.get(value)
    return None


def _edge_ok(command: Command) -> bool:
    # The edge's verdict (command_error is None) for the commands send() takes fast. A
    # ModifyOrder of exact in-range ints is accepted inline (command_error walks its field
    # table for it; the ranges are command_error's, test_venue_fastpath proves they agree);
    # anything else gets command_error itself.
    if type(command) is ModifyOrder:
        sid, oid, price, qty, acct = astuple(command)
        if (
            type(sid) is int
            and type(oid) is int
            and type(price) is int
            and type(qty) is int
            and MIN_SYMBOL_ID <= sid <= MAX_SYMBOL_ID
            and MIN_ORDER_ID <= oid <= MAX_ORDER_ID
            and -MAX_PRICE_TICKS <= price <= MAX_PRICE_TICKS
            and -MAX_QTY_LOTS <= qty <= MAX_QTY_LOTS
            and (acct is None or (type(acct) is int and MIN_ACCOUNT <= acct <= MAX_ACCOUNT))
        ):
            return True
    return command_error(command) is None


def _make_hosts(
    count: int,
    queue_depth: int,
    heartbeat_s: float,
    dead_after_s: float,
    wait: str | WaitStrategy = "sleep",
) -> list[EngineHost]:
    if not 0 < heartbeat_s < dead_after_s:
        raise ValueError(
            f"need 0 < host_heartbeat_s < host_dead_after_s, were {heartbeat_s} and {dead_after_s}"
        )
    strategy = WaitStrategy.parse(wait) if isinstance(wait, str) else wait
    if count == 0:
        return [InProcessHost(0, queue_depth=queue_depth)]
    # Imported here: the embedded venue never needs multiprocessing.
    from whistle.coord.hosts.process import ProcessHost

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    hosts: list[EngineHost] = []
    try:
        for host_id in range(count):
            cpu = cpus[host_id % len(cpus)] if cpus else None
            hosts.append(
                ProcessHost(
                    host_id,
                    cpu=cpu,
                    queue_depth=queue_depth,
                    heartbeat_interval_s=heartbeat_s,
                    dead_after_s=dead_after_s,
                    wait=strategy,
                )
            )
    except BaseException:
        for host in hosts:
            host.stop()
        raise
    return hosts


def _existing(data_dir: str | os.PathLike[str], keep: int) -> JournalScan | None:
    # An existing journal's records (strictly read), or None for a new data directory.
    root = Path(data_dir)
    path = root / COMMANDS_DIR
    if not path.is_dir() or not any(path.iterdir()):
        # No command journal. A new directory, unless something else says a venue ran
        # here: starting fresh would silently drop every acknowledged command.
        left = [
            str(p)
            for p in (root / EVENTS_DIR, root / SNAPSHOTS_DIR)
            if p.is_dir() and any(f.is_file() for f in p.rglob("*") if f.suffix != ".meta")
        ]
        if left:
            raise DataDirError(
                f"{path} is missing or empty but {' and '.join(left)} hold a venue's files:"
                " the command journal is gone (restore it; a new venue needs an empty"
                " directory)"
            )
        return None
    found = scan(data_dir, keep)
    return found if found.records else None


def _cut(snapshots: dict[int, int], client_orders: int) -> dict[int, int]:
    # The snapshot files one checkpoint names, by folder: each symbol's, and the
    # client-order table's (folder 0) when it names one.
    cut = dict(snapshots)
    if client_orders >= 0:
        cut[CLIENT_ORDERS_SNAPSHOT_ID] = client_orders
    return cut


def _check_options(options: dict[str, object]) -> None:
    # Every Venue argument, types and ranges (bool is not an int), before anything is
    # started or touches the disk: a refused constructor leaves nothing behind.
    def need_int(name: str, low: int, high: int | None = None) -> None:
        value = options[name]
        if type(value) is not int:
            raise TypeError(f"{name} must be an int, was {show(value)}")
        if value < low or (high is not None and value > high):
            wanted = f">= {low}" if high is None else f"in {low}..{high}"
            raise ValueError(f"{name} must be {wanted}, was {value}")

    def need_seconds(name: str) -> None:
        value = options[name]
        if type(value) not in (int, float):
            raise TypeError(f"{name} must be a number of seconds, was {show(value)}")
        if not 0 < value < float("inf"):  # type: ignore[operator]  # int or float
            raise ValueError(f"{name} must be > 0 and finite, was {value}")

    need_int("hosts", 0)
    need_int("start_ns", 0, MAX_TS_NS)
    if options["session_end_ns"] is not None:
        need_int("session_end_ns", 0, MAX_TS_NS)
    need_int("queue_depth", 1)
    need_seconds("wait_timeout_s")
    need_seconds("host_heartbeat_s")
    need_seconds("host_dead_after_s")
    need_int("checkpoint_every", 0)
    need_int("keep_checkpoints", 1)
    need_int("max_unwritten_events", 0)
    need_int("segment_size", 1)
    need_int("max_client_orders", 0)
    placement = options["placement"]
    if not isinstance(placement, (str, PlacementPolicy)):
        raise TypeError(f"placement must be a str or PlacementPolicy, was {show(placement)}")
    backpressure = options["backpressure"]
    if backpressure is not None and not isinstance(backpressure, Backpressure):
        raise TypeError(f"backpressure must be a Backpressure or None, was {show(backpressure)}")
    wait = options["wait"]
    if not isinstance(wait, (str, WaitStrategy)):
        raise TypeError(f"wait must be a str or WaitStrategy, was {show(wait)}")
    if type(options["prealloc"]) is not bool:
        raise TypeError(f"prealloc must be a bool, was {show(options['prealloc'])}")
    fsync = options["fsync"]
    if not isinstance(fsync, (str, FsyncPolicy)):
        raise TypeError(f"fsync must be a str or FsyncPolicy, was {show(fsync)}")
    FsyncPolicy(fsync)  # ValueError for an unknown policy name
    QueueConfig(segment_size=options["segment_size"])  # type: ignore[arg-type]  # an int, checked
    if options["data_dir"] is not None:
        check_data_dir(options["data_dir"])


P = ParamSpec("P")
R = TypeVar("R")


def _settled(method: Callable[Concatenate[Venue, P], R]) -> Callable[Concatenate[Venue, P], R]:
    # Every Venue method but the lane's own calls first writes what the fast lane ran to
    # the router, host, coordinator and clock (lane.py: the lane keeps only counters
    # between its calls), so no method sees state the lane has not settled.
    @functools.wraps(method)
    def settled(self: Venue, /, *args: P.args, **kwargs: P.kwargs) -> R:
        lane = self._lane
        if lane is not None and lane.open_sid >= 0:
            lane.settle()
        return method(self, *args, **kwargs)

    return settled


@final
class RecoveryReport:
    """What a venue found and did when it opened an existing data directory."""

    __slots__ = (
        "checkpoint_enq_seq",
        "clean_stop",
        "client_orders",
        "commands",
        "enq_seq",
        "event_gaps",
        "events_recorded",
        "fallbacks",
        "pending",
        "restored",
        "ticks",
    )

    def __init__(self) -> None:
        self.restored = 0
        """Symbols restored from the checkpoint's snapshots."""
        self.checkpoint_enq_seq: int | None = None
        """The ``enq_seq`` of the checkpoint restored from (None: replayed from the start)."""
        self.fallbacks: list[str] = []
        """Why each later checkpoint was not used (a damaged snapshot: file and cause)."""
        self.event_gaps: list[EventGap] = []
        """Event seqs ``DIR/events`` lacks in the middle of a symbol's stream (an old
        directory's damage: an append-only journal cannot take them in place; heal it
        with ``whistle replay DIR --rebuild-events`` while no venue has it open)."""
        self.commands = 0
        """Commands replayed after the checkpoint."""
        self.ticks = 0
        """Ticks replayed after the checkpoint."""
        self.events_recorded = 0
        """Events the crash had kept out of the event journal, recorded now."""
        self.clean_stop = False
        """Whether the journal ended with a clean stop (whose hashes were checked)."""
        self.enq_seq = 0
        """The last ``enq_seq`` in the journal: new commands continue after it."""
        self.client_orders = 0
        """The (account, client_order_id) keys the recovered venue remembers (from the
        checkpoint's table and the journal tail)."""
        self.pending: list[int] = []
        """The ``enq_seq`` of each command journaled (acknowledged) after the last
        journaled tick: the crash came between its ``Sequenced`` and the next ``Ticked``
        record. Recovery does *not* run them (the journal holds no time for their tick,
        and inventing one would make the book differ from any replay of the journal); they
        are queued again, in order, and run at the venue's next tick, at that tick's time.
        A client that retries one gets ``DUPLICATE_ORDER_ID``: it is already in (with a
        ``client_order_id``, a ``DuplicateClientOrder`` whose outcome is PENDING)."""

    def __repr__(self) -> str:
        return (
            f"RecoveryReport(restored={self.restored}, commands={self.commands},"
            f" ticks={self.ticks}, events_recorded={self.events_recorded},"
            f" clean_stop={self.clean_stop}, enq_seq={self.enq_seq},"
            f" checkpoint_enq_seq={self.checkpoint_enq_seq}, fallbacks={self.fallbacks},"
            f" event_gaps={self.event_gaps}, pending={self.pending},"
            f" client_orders={self.client_orders})"
        )


@final
class DurabilityStatus(msgspec.Struct, frozen=True, kw_only=True):
    """How a venue's journals are doing (``Venue.durability()``)."""

    journaled: bool
    """Whether the venue has a data directory."""
    stopped_reason: str | None
    """Why the venue refuses every call (a journal that can no longer be written)."""
    last_checkpoint_error: str | None
    """Why the last checkpoint failed (None once one succeeds); it is retried each tick."""
    event_error: str | None
    """Why events could not be recorded (None once every event is written)."""
    unwritten_events: int
    """Events waiting to be written to the event journal, in order, before any later one."""
    since_checkpoint: int
    """Commands journaled since the last checkpoint."""


@final
class Venue:
    """Many symbols, one sequencer, one virtual clock; engines in-process or on hosts.

    Acknowledged means journaled: after a crash, a reopened venue holds every command it
    acknowledged. A command acknowledged but not yet ticked when the process died (its
    ``Sequenced`` record is journaled, no ``Ticked`` record follows) is queued again and
    runs at the next tick, like any command waiting for its tick; ``recovery.pending``
    names those ``enq_seq``s, so a client can tell them from lost ones.
    """

    def __init__(
        self,
        *,
        hosts: int = 0,
        placement: str | PlacementPolicy = "hash",
        start_ns: int = 0,
        session_end_ns: int | None = None,
        queue_depth: int = 1 << 16,
        backpressure: Backpressure | None = None,
        wait_timeout_s: float = 1.0,
        data_dir: str | os.PathLike[str] | None = None,
        fsync: FsyncPolicy | str = FsyncPolicy.NONE,
        checkpoint_every: int = 10_000,
        keep_checkpoints: int = 2,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        prealloc: bool = True,
        max_unwritten_events: int = DEFAULT_MAX_UNWRITTEN_EVENTS,
        host_heartbeat_s: float = 0.05,
        host_dead_after_s: float = 5.0,
        wait: str | WaitStrategy = "sleep",
        max_client_orders: int = DEFAULT_MAX_CLIENT_ORDERS,
    ) -> None:
        """Create a venue.

        ``hosts=0`` runs every engine in this process (deterministic, fastest for tests,
        backtests and the demo); ``hosts=N`` starts N engine-host processes, pinned one per
        CPU where the OS allows. ``placement`` is ``"hash"`` (stable), ``"round-robin"``,
        ``"least-loaded"`` or a ``PlacementPolicy``. A full host queue is refused with
        ``QUEUE_FULL`` (in-process default) or waited on up to ``wait_timeout_s``
        (``Backpressure.WAIT``, the default with host processes, which drain in parallel).

        With ``data_dir`` every command is journaled before it is acknowledged, events are
        recorded, and engines are checkpointed every ``checkpoint_every`` commands; an
        existing ``data_dir`` is recovered first (latest checkpoint + journal tail, state
        hashes checked); ``checkpoint_every=0`` never checkpoints automatically. ``data_dir``
        must be a new or empty directory or one a venue wrote (anything else in it is
        refused, naming what was found, and ``''`` is refused); every argument is checked,
        types and ranges (a bool is not an int), before anything starts or touches the
        disk, so a refused constructor creates nothing. ``fsync`` is ``"none"``,
        ``"interval"`` or ``"every"`` (see ``whistle.coord.durability.datadir``). The snapshots
        of the last ``keep_checkpoints`` checkpoints are kept (at least 1; 2 lets recovery
        fall back past a damaged latest one), older ones deleted. New journals use
        ``segment_size``-byte segment files (4 MiB by default; an existing journal keeps its
        own), the next one prepared in the background when ``prealloc``. At most
        ``max_unwritten_events`` events wait for an event journal that cannot be written;
        past that the venue stops.

        Host processes send a heartbeat every ``host_heartbeat_s``; one whose newest
        heartbeat is older than ``host_dead_after_s`` (which must exceed the longest tick)
        is declared dead and killed. Its symbols are then rebuilt from the journal on a
        live host when there is a ``data_dir``, and otherwise faulted (``EngineFaulted``
        with the cause, then ``ENGINE_FAULTED`` rejects). A process that exits is noticed at
        the next tick whatever the timeout. ``queue_depth`` bounds the commands one symbol
        may have waiting for the next tick, in process and on hosts alike. ``wait`` is how
        the hosts and the venue idle while they wait for each other: ``"sleep"`` (frugal),
        ``"yield"`` (low latency on a shared machine), ``"spin"`` (a core per waiting
        side), optionally with thresholds (``"yield,yields=10000"``; see
        ``whistle.ipc.WaitStrategy``) or a ``WaitStrategy``.

        ``max_client_orders`` bounds the (account, client_order_id) pairs remembered for
        idempotent order entry until their symbols' sessions end (``client_order``); a new
        one past it is refused with ``CLIENT_ORDER_IDS_FULL`` (0: every client order id is
        refused; orders without one are never affected).
        """
        self._lane: Lane | None = None  # the embedded fast lane (bound at the end)
        _check_options(locals())
        if isinstance(placement, str):
            if placement not in PLACEMENTS:
                raise ValueError(
                    f"placement must be one of {', '.join(PLACEMENTS)}, was {placement!r}"
                )
            policy = PLACEMENTS[placement]()
        else:
            policy = placement
        self._clock = SimulationClock(start_ns=start_ns, session_end_ns=session_end_ns)
        self._hosts = _make_hosts(hosts, queue_depth, host_heartbeat_s, host_dead_after_s, wait)
        self.host_processes = hosts
        # The embedded fast path (send/submit/... without a data directory, one in-process
        # host): see _embedded. Symbol names and ids resolved once (instruments are never
        # removed).
        first = self._hosts[0]
        self._fast_host: InProcessHost | None = (
            first if data_dir is None and isinstance(first, InProcessHost) else None
        )
        self._fast_symbols: dict[str | int, Instrument] = {}
        self._coordinator = SymbolCoordinator(self._hosts, policy)
        if backpressure is None:
            backpressure = Backpressure.WAIT if hosts else Backpressure.REJECT
        self._router = OrderRouter(
            self._coordinator, backpressure=backpressure, wait_timeout_s=wait_timeout_s
        )
        self._router.now_ns = start_ns
        self._instruments: dict[int, Instrument] = {}
        self._by_symbol: dict[str, Instrument] = {}
        self._next_order_id: dict[int, int] = {}
        self._subscribers: list[tuple[Callable[[Event], None], frozenset[int] | None]] = []
        self._stopped = False
        self._refusal: str | None = None
        self._session_ended_sent: set[int] = set()
        self.last_reject_detail: str | None = None
        self.last_checkpoint_error: str | None = None
        """Why the last automatic checkpoint failed (None once one succeeds)."""
        if keep_checkpoints < 1:
            raise ValueError(f"keep_checkpoints must be >= 1, was {keep_checkpoints}")
        self.checkpoint_every = checkpoint_every
        self.keep_checkpoints = keep_checkpoints
        self._journal: VenueJournal | None = None
        self._dirty: set[int] = set()
        self._since_checkpoint = 0
        self._unticked = 0
        self._snapshots: dict[int, int] = {}
        self._kept_cuts: list[dict[int, int]] = []
        self._client_orders = ClientOrderTable(max_client_orders, release_unrun=data_dir is None)
        self._client_orders_anchor = -1  # the table file the last checkpoint named
        self._client_orders_saved = 0  # the table's ``changes`` when it was last saved
        self.recovery: RecoveryReport | None = None
        if data_dir is not None:
            sync_policy = FsyncPolicy(fsync) if isinstance(fsync, str) else fsync
            try:
                # Recover first, reading and never writing: a directory recovery refuses is
                # left byte for byte as it was. Only then the writers open, and the events
                # the crash kept out of DIR/events are recorded.
                found = _existing(data_dir, keep_checkpoints)
                rederived: list[tuple[list[Event], int]] = []
                if found is not None:
                    recorded = read_event_seqs(data_dir)
                    choice = choose_checkpoint(data_dir, found, recorded[0])
                    self.recovery = self._recover(
                        Path(data_dir), found, choice, *recorded, rederived
                    )
                self._journal = VenueJournal(
                    data_dir,
                    fsync=sync_policy,
                    segment_size=segment_size,
                    prealloc=prealloc,
                    max_unwritten_events=max_unwritten_events,
                )
                if found is None and not self._journal.is_new:
                    raise DataDirError(
                        f"{data_dir}: the journal writer found records its reader did not"
                    )
                for events, now in rederived:
                    self._journal.events(events, now)
                self._router.journal = self._journal.sequenced
            except BaseException:
                if self._journal is not None:
                    self._journal.close()
                for host in self._hosts:
                    host.stop()
                raise
        if self._fast_host is not None:
            # Embedded: the lane's compiled calls stand in for these methods on this
            # instance (lane.py); the class methods are the general path they fall back on.
            lane = Lane(self)
            self._lane = lane
            vars(self).update(
                submit=lane.submit,
                cancel=lane.cancel,
                modify=lane.modify,
                send=lane.send,
                send_many=lane.send_many,
            )

    # ------------------------------------------------------------------ the fast lane

    def _lane_state(self, symbol_id: int) -> tuple[Whistle, int, int, int] | None:
        # May the lane open on symbol_id? The state _embedded needs (the tick send() would
        # run holds only the lane's command), and while the lane is open only lane calls
        # run, so it holds: (engine, router.enq_seq, clock time, next automatic id) or None.
        host = self._fast_host
        coordinator = self._coordinator
        clock = self._clock
        if (
            host is None
            or self._subscribers
            or self._refusal is not None
            or symbol_id not in coordinator._ready  # ACTIVE and not faulted
            or host._busy
            or host._stopped
            or clock.mode is not ClockMode.VIRTUAL
            or coordinator._dead
        ):
            return None
        slot = host._slots.get(symbol_id)
        now = clock._now
        end = clock.session_end_ns
        enq_seq = self._router.enq_seq
        if (
            slot is None
            or slot.pending
            or slot.last_seq > enq_seq
            or now < host._now_ns
            or now < host._floor_ns
            or (end is not None and not clock.session_ended and now >= end)
        ):
            return None
        timed = host._timed
        if timed:
            slots = host._slots
            for other in timed:
                heap = slots[other].engine.book.gtd_heap
                if other != symbol_id and heap and heap[0][0] <= now:
                    return None  # its expiry belongs in the next tick
        self.last_reject_detail = None  # as every accepted call of the fast API
        return slot.engine, enq_seq, now, self._next_order_id.get(symbol_id, 1)

    def _lane_commit(
        self, symbol_id: int, engine: Whistle, enq_seq: int, done: int, next_id: int
    ) -> None:
        # The lane ran `done` commands of symbol_id, each its own tick at the clock's time,
        # as enq_seqs up to enq_seq: the state changes of `done` _embedded calls (router,
        # host slot and counters, one touch per command at the tick before its own, the
        # clock's tick numbers, the next automatic id, the GTD index).
        host = self._fast_host
        assert host is not None
        clock = self._clock
        coordinator = self._coordinator
        router = self._router
        now = clock._now
        router.enq_seq = enq_seq
        host._slots[symbol_id].last_seq = enq_seq
        host._commands += done
        number = clock.tick_number + done
        coordinator.update_tick(number - 1)
        coordinator.touch(symbol_id)
        coordinator._commands_on[host.host_id] += done - 1
        clock.tick_number = number
        coordinator.update_tick(number)
        self._unticked = 0
        router.now_ns = now
        host._now_ns = now
        host._ticks += done
        host._next_tick_id += done
        if next_id > self._next_order_id.get(symbol_id, 1):
            self._next_order_id[symbol_id] = next_id
        if engine.book.gtd_heap:
            host._timed.add(symbol_id)
        else:
            host._timed.discard(symbol_id)

    @property
    @_settled
    def router(self) -> OrderRouter:
        """Return the venue's ``OrderRouter`` (the sequencer)."""
        return self._router

    @property
    @_settled
    def clock(self) -> SimulationClock:
        """Return the venue's ``SimulationClock``."""
        return self._clock

    @property
    @_settled
    def coordinator(self) -> SymbolCoordinator:
        """Return the venue's ``SymbolCoordinator`` (symbols, lifecycle, placement)."""
        return self._coordinator

    def __enter__(self) -> Venue:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._stopped:
            self.stop()

    @_settled
    def stop(self) -> None:
        """Drain, checkpoint and stop every host; a second call raises.

        With a data directory, commands still queued are processed first (ticks at the
        current time, until none is left: a subscriber may enqueue while they run, at most
        64 ticks), then a checkpoint and a ``Stopped`` record with every
        state hash are journaled. Whatever fails on the way (raised after), the journal is
        closed, every host stopped and the venue stopped; without the ``Stopped`` record
        the next open recovers as after a crash, every acknowledged command included.
        """
        if self._stopped:
            raise HostStateError("the venue is already stopped")
        failed: WhistleError | None = None
        errors: list[str] = []
        try:
            failed = self._stop_journal()
        finally:
            self._stopped = True
            self._refusal = "the venue is stopped"
            for host in self._hosts:
                try:
                    host.stop()
                except HostError as exc:
                    errors.append(f"host {host.host_id}: {exc}")
        if errors:
            raise CoordError("stopping the venue: " + "; ".join(errors)) from failed
        if failed is not None:
            raise failed

    def _stop_journal(self) -> WhistleError | None:
        # Drain, checkpoint, journal the clean stop, close: what failed, or None.
        journal = self._journal
        if journal is None:
            return None
        failed: WhistleError | None = None
        try:
            if self._refusal is None:
                # Graceful drain: acknowledged commands still queued run now (at the
                # current time, journaled like any tick), so the checkpoint and the
                # hashes of the clean stop describe every acknowledged command.
                self._drain()
                self._checkpoint_quietly()
                journal.stopped(self.enq_seq, self._healthy_hashes(), self.now_ns)
        except (DataDirError, CoordError) as exc:
            # Not a clean stop: the next open recovers from the journal as after a crash.
            failed = exc
        finally:
            try:
                journal.close()
            except (JournalError, OSError) as exc:
                failed = failed or DataDirError(f"closing the journal: {exc}")
        return failed

    def _drain(self) -> None:
        # One tick, then more while subscribers enqueued during the last one (a strategy
        # cancelling on a fill), bounded: a subscriber enqueuing on every tick never ends.
        self.tick()
        ticks = 1
        while self._unticked:
            if ticks >= _STOP_DRAIN_TICKS:
                raise CoordError(
                    f"stopping the venue: {self._unticked} commands still wait for a tick"
                    f" after {ticks} drain ticks (a subscriber enqueues at every tick?);"
                    " they are journaled and run when the data_dir is reopened (no"
                    " checkpoint, no clean-stop record)"
                )
            self.tick()
            ticks += 1

    @property
    @_settled
    def now_ns(self) -> int:
        """Return the venue's current (simulation) time."""
        return self._clock.now()

    @property
    @_settled
    def enq_seq(self) -> int:
        """Return the last ``enq_seq`` the router stamped."""
        return self._router.enq_seq

    @property
    @_settled
    def hosts(self) -> list[EngineHost]:
        """Return the engine hosts (one in-process host when ``hosts=0``)."""
        return list(self._hosts)

    # ------------------------------------------------------------------ instruments

    @_settled
    def add_instrument(
        self,
        symbol: str | Instrument,
        *,
        tick_size: str = "0.01",
        lot_size: str = "1",
        min_qty: Number | None = None,
        max_qty: Number | None = None,
        price_band_pct: Number | None = None,
        reference_price: Number | None = None,
        symbol_id: int = 0,
    ) -> Instrument:
        """Define a symbol (its engine starts on first use); return the ``Instrument``.

        ``min_qty``/``max_qty``/``reference_price`` are decimals on the instrument's grid;
        ``price_band_pct`` is the band half-width in percent (e.g. ``"10"``, ``"2.5"``).
        With an ``Instrument`` the keyword arguments must be left out. A symbol that is
        not a ``str`` or an ``Instrument``, or a ``symbol_id`` that is not an int (a bool
        or a float is not), is a ``TypeError``; a bad value is an ``InstrumentError``.
        The definition is journaled (and read back) before it is registered: nothing that
        could not be decoded again is ever journaled.
        """
        if self._refusal is not None:
            raise HostStateError(self._refusal)
        if not isinstance(symbol, (str, Instrument)):
            raise TypeError(f"symbol must be a str or an Instrument, was {show(symbol)}")
        if type(symbol_id) is not int:
            raise TypeError(f"symbol_id must be an int, was {show(symbol_id)}")
        if isinstance(symbol, Instrument):
            given = (min_qty, max_qty, price_band_pct, reference_price)
            if (
                any(v is not None for v in given)
                or symbol_id
                or (tick_size, lot_size)
                != (
                    "0.01",
                    "1",
                )
            ):
                raise InstrumentError("pass either an Instrument or keyword fields, not both")
            instrument = symbol
        else:
            instrument = self._build_instrument(
                symbol,
                tick_size,
                lot_size,
                min_qty,
                max_qty,
                price_band_pct,
                reference_price,
                symbol_id,
            )
        if instrument.symbol in self._by_symbol:
            raise InstrumentError(f"symbol {instrument.symbol!r} is already defined")
        if instrument.symbol_id in self._instruments:
            other = self._instruments[instrument.symbol_id].symbol
            raise InstrumentError(
                f"symbol_id {instrument.symbol_id} of {instrument.symbol!r} is already used"
                f" by {other!r}"
            )
        journal = self._journal
        if journal is not None:
            try:
                journal.defined(instrument, self.now_ns)
            except JournalUnavailable as exc:
                if exc.fatal:
                    self._halt(f"the venue stopped: {exc}")
                raise
            except ValueError as exc:
                raise InstrumentError(str(exc)) from None
        self._register(instrument)
        return instrument

    def _register(self, instrument: Instrument) -> None:
        self._coordinator.register(instrument)
        self._instruments[instrument.symbol_id] = instrument
        self._by_symbol[instrument.symbol] = instrument
        self._next_order_id[instrument.symbol_id] = 1

    @staticmethod
    def _build_instrument(
        symbol: str,
        tick_size: str,
        lot_size: str,
        min_qty: Number | None,
        max_qty: Number | None,
        price_band_pct: Number | None,
        reference_price: Number | None,
        symbol_id: int,
    ) -> Instrument:
        probe = Instrument(symbol=symbol, tick_size=tick_size, lot_size=lot_size)
        band_bps = 0
        if price_band_pct is not None:
            pct = parse_decimal(price_band_pct, "price_band_pct")
            bps = pct * 100
            if bps != bps.to_integral_value():
                raise InstrumentError(
                    f"price_band_pct must have at most 2 decimals, was {price_band_pct}"
                )
            band_bps = int(bps)
        return Instrument(
            symbol=symbol,
            symbol_id=symbol_id,
            tick_size=tick_size,
            lot_size=lot_size,
            min_qty_lots=probe.qty_to_lots(min_qty) if min_qty is not None else 1,
            max_qty_lots=probe.qty_to_lots(max_qty) if max_qty is not None else 1_000_000_000,
            price_band_bps=band_bps,
            reference_price_ticks=(
                probe.price_to_ticks(reference_price) if reference_price is not None else 0
            ),
        )

    @property
    def symbols(self) -> list[str]:
        """Return the defined symbols in ``symbol_id`` order."""
        return [self._instruments[k].symbol for k in sorted(self._instruments)]

    def is_registered(self, symbol: str | int) -> bool:
        """Return whether a symbol name or id is defined."""
        return self._resolve(symbol) is not None

    def instrument(self, symbol: str | int) -> Instrument:
        """Return the instrument of a symbol name or id (``KeyError`` if undefined)."""
        instrument = self._resolve(symbol)
        if instrument is None:
            raise KeyError(f"unknown symbol {symbol!r}")
        return instrument

    def _resolve(self, symbol: str | int) -> Instrument | None:
        # A name or an int id; a bool or a float (True, 7.0) names nothing.
        kind = type(symbol)
        if kind is str:
            return self._by_symbol.get(symbol)  # type: ignore[arg-type]  # checked: a str
        if kind is int:
            return self._instruments.get(symbol)  # type: ignore[arg-type]  # checked: an int
        return None

    # ------------------------------------------------------------------ events

    @_settled
    def subscribe(
        self, callback: Callable[[Event], None], symbols: Iterable[str | int] | None = None
    ) -> None:
        """Call ``callback`` with every event (of ``symbols`` only, when given).

        Callbacks run in the venue's thread, in subscription order; an exception in one
        propagates to the caller of the method that published the events.
        """
        ids = None if symbols is None else frozenset(self.instrument(s).symbol_id for s in symbols)
        self._subscribers.append((callback, ids))

    def _publish(self, events: list[Event]) -> list[Event]:
        if self._subscribers and events:
            for callback, ids in self._subscribers:
                for event in events:
                    if ids is None or event.symbol_id in ids:
                        callback(event)
        return events

    # ------------------------------------------------------------------ sequencing

    def _route(self, command: Command) -> int | OrderRejected:
        # Write path step 0, the edge: every field's type and range (whistle.core.limits),
        # so nothing that could not be journaled and decoded again reaches the router.
        problem = command_error(command)
        if problem is not None:
            self.last_reject_detail = problem[1]
            return self._edge_reject(command, problem[0])
        if self._refusal is not None:
            raise HostStateError(self._refusal)
        return self._sequence(command)

    def _sequence(self, command: Command) -> int | OrderRejected:
        # The router checks, stamps, journals (router.journal) and only then dispatches;
        # the return is the acknowledgement. Nothing runs before the next tick, and the
        # tick is journaled before it runs.
        try:
            result = self._router.route(command)
        except JournalUnavailable as exc:
            if exc.fatal:
                self._halt(f"the venue stopped: {exc}")
            raise
        except DispatchError as exc:
            self._halt(f"the venue stopped: {exc}")
            raise
        if isinstance(result, OrderRejected):
            self.last_reject_detail = RejectReason.of(result.reason).description
            return result
        # Automatic ids continue after every accepted (journaled) id, never a refused one.
        kind = type(command)
        if kind is NewOrder:
            used = command.order_id  # type: ignore[union-attr]  # checked: a NewOrder
            next_ids = self._next_order_id
            if used >= next_ids.get(command.symbol_id, 1):
                next_ids[command.symbol_id] = used + 1
            if command.client_order_id:  # type: ignore[union-attr]  # checked: a NewOrder
                self._client_orders.add(result, command)  # type: ignore[arg-type]  # a NewOrder
        elif kind is CancelReplace:
            self._note_order_id(command)
            if command.client_order_id:  # type: ignore[union-attr]  # a CancelReplace
                self._client_orders.add(result, command)  # type: ignore[arg-type]  # checked
        elif kind is EndSession:
            self._client_orders.end_session(command.symbol_id)
        if self._journal is not None:
            self._dirty.add(command.symbol_id)
            self._since_checkpoint += 1
            self._unticked += 1
        return result

    def _note_order_id(self, command: Command) -> None:
        if isinstance(command, NewOrder):
            used = command.order_id
        elif isinstance(command, CancelReplace):
            used = command.new_order_id
        else:
            return
        next_ids = self._next_order_id
        if used >= next_ids.get(command.symbol_id, 1):
            next_ids[command.symbol_id] = used + 1

    def _halt(self, reason: str) -> None:
        # The journal can no longer be written (or a host broke its promise): refuse every
        # later command and tick with the reason, instead of running unjournaled.
        if self._refusal is None:
            self._refusal = reason

    @_settled
    def send(self, command: Command) -> list[Event]:
        """Sequence ``command`` and tick now; return the events of this tick.

        Commands queued earlier with ``enqueue`` are processed in the same tick (in
        ``enq_seq`` order), and their events are returned too. If the command is
        journaled but the tick cannot be, the ``JournalUnavailable`` says so and carries
        the command's ``accepted_enq_seq``: it is acknowledged and runs at the next tick
        (sending it again would enter it twice).
        """
        kind = type(command)
        if (kind is NewOrder or kind is CancelReplace) and command.client_order_id:  # type: ignore[union-attr]  # checked
            return self._send_client_order(command)  # type: ignore[arg-type]  # checked
        if self._fast_host is not None and kind in _FAST_KINDS and _edge_ok(command):
            events = self._embedded(command)
            if events is not None:
                return events
        result = self._route(command)
        if isinstance(result, OrderRejected):
            return self._publish([result])
        return self._tick_after(command, result)

    def _client_order_gate(
        self, command: NewOrder | CancelReplace
    ) -> list[Event] | OrderRejected | None:
        # Before a command with a client order id is sequenced: the edge (a refusal uses
        # no id), then its key: a repeat's answer ([DuplicateClientOrder, *events]), a
        # reject (a different command under the key, or a full table), or None: new, go on.
        problem = command_error(command)
        if problem is not None:
            self.last_reject_detail = problem[1]
            return self._edge_reject(command, problem[0])
        if self._refusal is not None:
            raise HostStateError(self._refusal)
        table = self._client_orders
        answer = table.repeat(command, self.now_ns)
        if answer is not None:
            events, detail = answer
            self.last_reject_detail = detail
            first = events[0]
            return first if isinstance(first, OrderRejected) else events
        if table.full:
            self.last_reject_detail = (
                f"the venue remembers max_client_orders={table.capacity} client order ids"
                " until their symbols' sessions end; refused (not sequenced)"
            )
            return self._edge_reject(command, RejectReason.CLIENT_ORDER_IDS_FULL)
        return None

    def _send_client_order(self, command: NewOrder | CancelReplace) -> list[Event]:
        # send() of a command with a client order id: the gate, then the usual paths (the
        # key is remembered when the command is sequenced, and its events when it ran).
        gate = self._client_order_gate(command)
        if isinstance(gate, OrderRejected):
            return self._publish([gate])
        if gate is not None:
            self._publish(gate[:1])  # the repeat's original events were published once
            return gate
        self.last_reject_detail = None
        if self._fast_host is not None:
            events = self._embedded(command)
            if events is not None:
                return events
        result = self._sequence(command)
        if isinstance(result, OrderRejected):
            return self._publish([result])
        return self._tick_after(command, result)

    def _tick_after(self, command: Command, result: int) -> list[Event]:
        # send()'s tick after its command was sequenced as enq_seq ``result``.
        try:
            return self.tick()
        except JournalUnavailable as exc:
            raise JournalUnavailable(
                f"{type(command).__name__} was accepted as enq_seq {result} (journaled; it"
                f" runs at the next tick), but the tick was not: {exc}",
                path=exc.path,
                fatal=exc.fatal,
                accepted_enq_seq=result,
            ) from exc

    @_settled
    def send_many(self, commands: Iterable[Command]) -> list[Event]:
        """``send`` every command in order; return all their events, in order.

        Exactly ``for c in commands: events += send(c)``: each command is checked at the
        edge, sequenced and ticked on its own (a refused one is an unsequenced reject among
        the events, and the rest go on), with the same events, ``enq_seq``s, journal
        records and subscriber calls as sending them one by one; only faster. An exception
        (a stopped venue, a journal that cannot be written) propagates from the command
        that raised it; the commands before it were sent.

        ``commands`` is read whole (``list(commands)``) before the first is sent, with or
        without subscribers: a generator that raises part way sends nothing, and one that
        reads venue state sees it as it was before the call (``next_order_id`` claims no
        id, so a generator calling it gets the same id each time: number the orders itself).
        """
        out: list[Event] = []
        send = self.send
        items = list(commands)
        if self._fast_host is None or self._subscribers:
            for command in items:
                out += send(command)
            return out
        i = 0
        n = len(items)
        while i < n:
            out += send(items[i])
            i = self._embedded_run(items, i + 1, out)
        return out

    def _embedded_run(self, items: list[Command], i: int, out: list[Event]) -> int:
        # After a send, the following commands of the same symbol that _embedded would take,
        # each processed at once (its own tick) with the counters of their ticks committed
        # together at the end: no subscriber can look in between (none is subscribed), and
        # nothing else runs. The state after is that of send() one by one (the test in
        # test_venue_fastpath compares it). Returns the index of the first one not taken.
        host = self._fast_host
        if i >= len(items) or host is None or self._subscribers or self._refusal is not None:
            return i
        clock = self._clock
        coordinator = self._coordinator
        router = self._router
        now = clock._now
        end = clock.session_end_ns
        symbol_id = items[i - 1].symbol_id
        slot = host._slots.get(symbol_id)
        if (
            slot is None
            or host._busy
            or host._stopped
            or clock.mode is not ClockMode.VIRTUAL
            or (end is not None and not clock.session_ended and now >= end)
            or coordinator._dead
            or symbol_id not in coordinator._ready
            or slot.last_seq != router.enq_seq  # the previous send ran here, fast or not
            or now < host._now_ns
            or now < host._floor_ns
        ):
            return i
        timed = host._timed
        slots = host._slots
        for other in timed:
            heap = slots[other].engine.book.gtd_heap
            if other != symbol_id and heap and heap[0][0] <= now:
                return i  # its expiry belongs in the next tick
        engine = slot.engine
        process = engine.process
        next_ids = self._next_order_id
        enq_seq = first = router.enq_seq
        n = len(items)
        try:
            while i < n:
                command = items[i]
                kind = type(command)
                if (
                    not (kind is ModifyOrder or kind is NewOrder or kind is CancelOrder)
                    or command.symbol_id != symbol_id
                    or (kind is NewOrder and command.client_order_id)  # type: ignore[union-attr]  # a NewOrder
                    or not _edge_ok(command)
                ):
                    break  # a client order id goes through send(), which checks its key
                enq_seq += 1
                out += process(enq_seq, command, now)
                if kind is NewOrder:
                    used = command.order_id  # type: ignore[union-attr]  # checked: a NewOrder
                    if used >= next_ids.get(symbol_id, 1):
                        next_ids[symbol_id] = used + 1
                i += 1
        finally:
            done = enq_seq - first
            if done:
                # router.route + tick, done times: the enq_seqs, the host's counters, one
                # touch per command at the tick before its own, the clock's tick numbers.
                router.enq_seq = enq_seq
                slot.last_seq = enq_seq
                host._commands += done
                number = clock.tick_number + done
                coordinator.update_tick(number - 1)
                coordinator.touch(symbol_id)
                coordinator._commands_on[host.host_id] += done - 1
                clock.tick_number = number
                coordinator.update_tick(number)
                self._unticked = 0
                router.now_ns = now
                host._now_ns = now
                host._ticks += done
                host._next_tick_id += done
                if engine.book.gtd_heap:
                    timed.add(symbol_id)
                else:
                    timed.discard(symbol_id)
        return i

    def _embedded(self, command: Command) -> list[Event] | None:
        # send(command) for a command the edge accepted, when the venue is embedded (one
        # in-process host, no data directory) and the tick send would run holds exactly
        # this command: the symbol is ACTIVE and not faulted, nothing else is queued or due
        # on the host, the clock is virtual and no session end is due. Then this makes the
        # very state changes of router.route + tick (enq_seq, the coordinator's activity
        # and tick, the host's counters, the clock) and one Whistle.process call, whose
        # events are by contract those of enqueue + tick. None (nothing changed): not that
        # case, send takes the general path. It reads the coordinator's, host's and
        # clock's private state (one package); tests/unit/coord/test_venue_fastpath.py
        # compares events, that state and journals of both paths.
        host = self._fast_host
        symbol_id = command.symbol_id
        coordinator = self._coordinator
        clock = self._clock
        if (
            host is None
            or self._refusal is not None
            or symbol_id not in coordinator._ready  # ACTIVE and not faulted
            or host._busy
            or host._stopped
            or clock.mode is not ClockMode.VIRTUAL
        ):
            return None
        slot = host._slots.get(symbol_id)
        now = clock._now
        end = clock.session_end_ns
        router = self._router
        enq_seq = router.enq_seq + 1
        if (
            slot is None
            or slot.pending >= host.queue_depth
            or enq_seq <= slot.last_seq
            or now < host._now_ns
            or now < host._floor_ns
            or (end is not None and not clock.session_ended and now >= end)
            or coordinator._dead
        ):
            return None
        timed = host._timed
        if timed:
            slots = host._slots
            for other in timed:
                heap = slots[other].engine.book.gtd_heap
                if other != symbol_id and heap and heap[0][0] <= now:
                    return None  # its expiry belongs in this tick
        # router.route (no journal): stamp, dispatch, touch at the current tick.
        router.enq_seq = enq_seq
        slot.last_seq = enq_seq
        host._commands += 1
        coordinator.touch(symbol_id)
        coid = 0
        if type(command) is NewOrder:
            used = command.order_id
            next_ids = self._next_order_id
            if used >= next_ids.get(symbol_id, 1):
                next_ids[symbol_id] = used + 1
            coid = command.client_order_id
        elif type(command) is CancelReplace:
            self._note_order_id(command)
            coid = command.client_order_id
        if coid:
            # Sequenced: the key is taken (the caller's gate found it new).
            self._client_orders.add(enq_seq, command)  # type: ignore[arg-type]  # checked
        # tick(): the clock, then the host's tick of this one engine.
        number = clock.tick_number + 1
        clock.commit(Tick(number, now, False))
        self._unticked = 0
        router.now_ns = now
        coordinator.update_tick(number)
        host._now_ns = now
        host._ticks += 1
        host._next_tick_id += 1
        engine = slot.engine
        events = engine.process(enq_seq, command, now)
        if coid:
            self._client_orders.capture(events)
        if engine.book.gtd_heap:
            timed.add(symbol_id)
        else:
            timed.discard(symbol_id)
        if self._subscribers:
            self._publish(events)
        return events

    @_settled
    def enqueue(self, command: Command) -> int | OrderRejected:
        """Sequence ``command`` for the next tick; return its ``enq_seq`` (or the reject).

        A repeat of a client order id already taken with an equal command returns the
        original's ``enq_seq`` (nothing new is sequenced: it is <= ``enq_seq`` as it was
        before the call); ``client_order`` tells its outcome.
        """
        kind = type(command)
        if (kind is NewOrder or kind is CancelReplace) and command.client_order_id:  # type: ignore[union-attr]  # checked
            gate = self._client_order_gate(command)  # type: ignore[arg-type]  # checked
            if isinstance(gate, OrderRejected):
                self._publish([gate])
                return gate
            if gate is not None:
                self._publish(gate[:1])
                marker = gate[0]
                assert isinstance(marker, DuplicateClientOrder)
                return marker.original_enq_seq
        result = self._route(command)
        if isinstance(result, OrderRejected):
            self._publish([result])
        return result

    @_settled
    def tick(self, now_ns: int | None = None) -> list[Event]:
        """Move the clock to ``now_ns`` (default: stay) and tick every engine.

        With a data directory the tick is journaled before it runs; if its ``Ticked``
        record cannot be written (``JournalUnavailable``) the tick does not run and the
        clock stays. A time past ``MAX_TS_NS`` or backwards is a ``ValueError``, before
        anything is written.
        """
        if self._refusal is not None:
            raise HostStateError(self._refusal)
        clock = self._clock
        tick = clock.prepare(now_ns)
        if tick.session_ended:
            ended = self._session_ended_sent
            complete = True
            for symbol_id in sorted(self._instruments):
                if (
                    symbol_id not in ended
                    and self._coordinator.registry.state_of(symbol_id) is SymbolState.ACTIVE
                ):
                    if isinstance(self._sequence(EndSession(symbol_id)), OrderRejected):
                        complete = False  # its queue is full: this tick drains it
                    else:
                        ended.add(symbol_id)
            if not complete:
                # The session ends at the next tick for the symbols that could not take
                # their EndSession now (journaled like any command, so replay agrees).
                tick = Tick(tick.number, tick.now_ns, False)
        journal = self._journal
        if journal is not None:
            try:
                journal.ticked(tick.number, tick.now_ns)
            except JournalUnavailable as exc:
                if exc.fatal:
                    self._halt(f"the venue stopped: {exc}")
                raise
        clock.commit(tick)
        if tick.session_ended:
            self._session_ended_sent.clear()
        self._unticked = 0
        self._router.now_ns = tick.now_ns
        self._coordinator.update_tick(tick.number)
        client_orders = self._client_orders
        if journal is None:
            events = self._run_tick(tick.now_ns)
            if client_orders.pending:
                client_orders.capture(events)
            return self._publish(events)
        events = self._run_tick(tick.now_ns)
        if client_orders.pending:
            client_orders.capture(events)
        if not journal.events(events, tick.now_ns):
            # More events than the journal may keep waiting: the recording would have a
            # gap, so the venue goes no further (a restart re-derives them).
            self._halt(f"the venue stopped: {journal.event_error}")
        dirty = self._dirty
        for event in events:
            dirty.add(event.symbol_id)
        if (
            self.checkpoint_every
            and self._since_checkpoint >= self.checkpoint_every
            and self._refusal is None
        ):
            self._checkpoint_quietly()
        return self._publish(events)

    @_settled
    def advance(self, delta_ns: int) -> list[Event]:
        """Advance the clock by ``delta_ns`` and tick every engine."""
        if type(delta_ns) is not int:
            raise TypeError(f"delta_ns must be an int (ns), was {show(delta_ns)}")
        if delta_ns < 0:
            raise ValueError(f"delta_ns must be >= 0, was {delta_ns}")
        return self.tick(self.now_ns + delta_ns)

    def _run_tick(self, now_ns: int) -> list[Event]:
        # All hosts tick in parallel; their event lists (each in symbol_id order) are
        # merged in symbol_id order, the same order one in-process host produces.
        dead = self._coordinator.dead_hosts()
        live = [h for h in self._hosts if h.host_id not in dead and h.symbols]
        if len(live) == 1:
            return self._collect(live[0], live[0].begin_tick(now_ns), now_ns)
        started = [(h, h.begin_tick(now_ns)) for h in live]
        events: list[Event] = []
        for h, tick_id in started:
            events += self._collect(h, tick_id, now_ns)
        # Stable sort of the concatenated sorted runs (hosts' symbols are disjoint): the
        # order of a merge, with the key read in C (heapq.merge cost ~0.45 us per event).
        events.sort(key=operator.attrgetter("symbol_id"))
        return events

    def _collect(self, host: EngineHost, tick_id: int, now_ns: int) -> list[Event]:
        try:
            return host.end_tick(tick_id)
        except HostError as exc:
            # A dead host: its symbols are faulted with the cause, the rest keep trading.
            # With a journal they are rebuilt and placed on a live host at once.
            cause = host.failure() or str(exc)
            lost = self._coordinator.mark_host_dead(host.host_id, cause)
            if self._journal is not None and self._coordinator.loads():
                return self._restore_lost(sorted(lost))
            return [
                EngineFaulted(sid, 0, 0, now_ns, f"host {host.host_id} failed: {cause}")
                for sid in sorted(lost)
            ]

    def _restore_lost(self, lost: list[int]) -> list[Event]:
        # Rebuild each lost engine exactly as recovery would (checkpoint snapshot, then the
        # journal tail, which holds the tick that was running: ticks are journaled before
        # they run), return the events the dead host never delivered, and let the next
        # activation place the engine on a live host.
        journal = self._journal
        assert journal is not None
        found = scan(journal.data_dir, self.keep_checkpoints)
        # Events already recorded, or waiting in memory to be: never delivered twice.
        journaled = read_event_seqs(journal.data_dir)[0]
        journaled.update(journal.unwritten_event_seqs())
        # The same checkpoint choice as recovery (a damaged latest snapshot falls back).
        choice = choose_checkpoint(journal.data_dir, found, journaled)
        wanted = set(lost)
        engines: dict[int, Whistle] = {}
        for symbol_id in lost:
            data = choice.snapshots.get(symbol_id)
            if data is not None:
                engines[symbol_id] = Whistle.restore(decode_snapshot(data))
            else:
                engines[symbol_id] = Whistle(self._instruments[symbol_id])
        tail: Iterable[JournalRecord] = (
            iter_records(journal.data_dir)
            if choice.index < 0 and found.trimmed
            else found.tail_after(choice.index)
        )
        replayed: list[Event] = []
        for record in tail:
            if isinstance(record, Sequenced):
                symbol_id = record.command.symbol_id
                engine = engines.get(symbol_id)
                if engine is not None and record.enq_seq > engine.last_enq_seq:
                    engine.enqueue(record.enq_seq, record.command)
            elif isinstance(record, Ticked):
                for symbol_id in lost:
                    replayed.extend(engines[symbol_id].tick(record.now_ns))
        for symbol_id in lost:
            self._coordinator.clear_fault(symbol_id, engines[symbol_id].snapshot().encode())
            self._coordinator.ensure_active(symbol_id)
            self._dirty.add(symbol_id)
        return [e for e in events_after(replayed, journaled) if e.symbol_id in wanted]

    # ------------------------------------------------------------------ durability

    @_settled
    def checkpoint(self) -> None:
        """Snapshot every symbol changed since the last checkpoint and journal the cut.

        Between ticks only (``CoordError`` while commands wait for the next tick: they
        would fall between the snapshots and the cut). A failure raises
        ``CheckpointError`` or ``JournalUnavailable`` naming the file; the venue goes on
        (nothing acknowledged depends on a checkpoint) and the next one retries.
        """
        journal = self._journal
        if journal is None:
            raise CoordError("checkpoint needs a venue with a data_dir")
        if self._refusal is not None:
            raise HostStateError(self._refusal)
        if self._unticked:
            raise CoordError(
                f"checkpoint between ticks only: {self._unticked} commands wait for the next"
                " tick (tick first)"
            )
        try:
            self._write_checkpoint(journal)
        except (CheckpointError, JournalUnavailable, HostError) as exc:
            # HostError: a host died before it gave its snapshot (the next tick handles it).
            self.last_checkpoint_error = str(exc)
            if isinstance(exc, JournalUnavailable) and exc.fatal:
                self._halt(f"the venue stopped: {exc}")
            raise
        self.last_checkpoint_error = None

    def _checkpoint_quietly(self) -> None:
        # A checkpoint only shortens recovery: its failure must never fail the command or
        # tick that triggered it. It is recorded (durability()) and retried next tick.
        # CoordError too (HostError, or commands enqueued since the tick by a subscriber).
        try:
            self.checkpoint()
        except (CheckpointError, JournalUnavailable, CoordError) as exc:
            self.last_checkpoint_error = str(exc)

    def _write_checkpoint(self, journal: VenueJournal) -> None:
        if not journal.flush_events():
            # Events still waiting must be recorded before a cut: recovery re-derives only
            # the events of the commands after the cut.
            raise CheckpointError(f"not checkpointing while {journal.event_error}")
        coordinator = self._coordinator
        registry = coordinator.registry
        now = self.now_ns
        done: list[int] = []
        for symbol_id in sorted(self._dirty):
            if coordinator.is_faulted(symbol_id):
                continue
            state = registry.state_of(symbol_id)
            if state is SymbolState.ACTIVE:
                data = coordinator.host_of(symbol_id).snapshot(symbol_id)
            elif state is SymbolState.EVICTED and registry.get(symbol_id).snapshot:
                data = registry.get(symbol_id).snapshot
            else:
                done.append(symbol_id)
                continue
            snap = decode_snapshot(data)
            journal.snapshot(symbol_id, snap.last_enq_seq, snap.seq, snap.state_hash, data, now)
            self._snapshots[symbol_id] = snap.last_enq_seq
            done.append(symbol_id)
        table = self._client_orders
        if table.changes != self._client_orders_saved:
            # The client-order table moved since the last cut: saved whole (file, then its
            # ClientOrdersSaved record), or named as empty (-1).
            if len(table):
                journal.client_orders(self.enq_seq, len(table), table.encode(), now)
                self._client_orders_anchor = self.enq_seq
            else:
                self._client_orders_anchor = -1
        journal.checkpoint(
            self.enq_seq,
            self._clock.tick_number,
            now,
            self._snapshots,
            self._next_order_id,
            self._client_orders_anchor,
        )
        self._client_orders_saved = table.changes
        self._dirty.difference_update(done)
        self._since_checkpoint = 0
        # Retention: keep the snapshots of the last keep_checkpoints cuts (recovery may fall
        # back to any of them), delete the rest (the client-order tables are folder 0's).
        cuts = self._kept_cuts
        cuts.append(_cut(self._snapshots, self._client_orders_anchor))
        del cuts[: -self.keep_checkpoints]
        journal.prune_snapshots({item for cut in cuts for item in cut.items()})

    @_settled
    def durability(self) -> DurabilityStatus:
        """Return how the journals are doing: failures waiting for a retry, and why."""
        journal = self._journal
        return DurabilityStatus(
            journaled=journal is not None,
            stopped_reason=self._refusal if not self._stopped else None,
            last_checkpoint_error=self.last_checkpoint_error,
            event_error=journal.event_error if journal is not None else None,
            unwritten_events=journal.unwritten_events if journal is not None else 0,
            since_checkpoint=self._since_checkpoint,
        )

    def _healthy_hashes(self) -> dict[int, str]:
        out: dict[int, str] = {}
        for symbol_id in sorted(self._instruments):
            if not self._coordinator.is_faulted(symbol_id):
                out[symbol_id] = self.engine_view(symbol_id).state_hash()
        return out

    def _healthy_hashes_of(self, symbols: set[int]) -> dict[int, str]:
        # The state hash of each of ``symbols`` that is not faulted (what stop() records).
        return {
            symbol_id: self.engine_view(symbol_id).state_hash()
            for symbol_id in sorted(symbols)
            if not self._coordinator.is_faulted(symbol_id)
        }

    def _recover(
        self,
        data_dir: Path,
        found: JournalScan,
        choice: CheckpointChoice,
        journaled: dict[int, int],
        gaps: list[EventGap],
        rederived: list[tuple[list[Event], int]],
    ) -> RecoveryReport:
        # The chosen checkpoint's verified snapshots, then every record after it, in order.
        for instrument in found.instruments:
            self._register(instrument)
        coordinator = self._coordinator
        registry = coordinator.registry
        report = RecoveryReport()
        report.fallbacks = list(choice.fallbacks)
        self._kept_cuts = [_cut(c.snapshots, c.client_orders) for c in found.checkpoints]
        produced: dict[int, int] = {}  # the last event seq each symbol's engine issued
        tail: Iterable[JournalRecord]
        if choice.index >= 0:
            checkpoint = found.checkpoints[choice.index]
            for symbol_id, enq_seq in sorted(checkpoint.snapshots.items()):
                registry.get(symbol_id).snapshot = choice.snapshots[symbol_id]
                try:
                    coordinator.ensure_active(symbol_id)  # restores, checking the state hash
                except (ValueError, HostError) as exc:
                    path = snapshot_path(data_dir, symbol_id, enq_seq)
                    raise SnapshotDamaged(f"cannot be restored: {exc}", path=path) from exc
                self._snapshots[symbol_id] = enq_seq
                produced[symbol_id] = found.snapshot_records[(symbol_id, enq_seq)].event_seq
                report.restored += 1
            self._router.enq_seq = checkpoint.enq_seq
            self._clock.restore(checkpoint.now_ns, checkpoint.tick_number)
            self._router.now_ns = checkpoint.now_ns
            coordinator.update_tick(checkpoint.tick_number)
            for symbol_id, next_id in checkpoint.next_order_ids.items():
                if next_id > self._next_order_id.get(symbol_id, 1):
                    self._next_order_id[symbol_id] = next_id
            if choice.client_orders is not None:
                self._client_orders.load(choice.client_orders)
            self._client_orders_anchor = checkpoint.client_orders
            report.checkpoint_enq_seq = checkpoint.enq_seq
            tail = found.tail_after(choice.index)
        else:
            # No usable checkpoint: every engine from empty, every record from the start.
            tail = iter_records(data_dir) if found.trimmed else found.tail_after(-1)
        # The symbols defined so far at each point of the tail: a Stopped record holds the
        # hashes of those only (an instrument added in a later session is not in it).
        defined = {i.symbol_id for i in found.instruments}
        if isinstance(tail, list):
            defined.difference_update(
                r.instrument.symbol_id for r in tail if isinstance(r, Defined)
            )
        else:
            defined.clear()  # the whole journal from its first record
        report.event_gaps = gaps
        pending: list[int] = []  # sequenced after the last journaled tick
        for record in tail:
            if isinstance(record, Sequenced):
                command = record.command
                symbol_id = command.symbol_id
                coordinator.ensure_active(symbol_id)
                if not coordinator.host_of(symbol_id).submit(record.enq_seq, command):
                    raise DataDirError(f"replaying enq_seq {record.enq_seq}: host queue full")
                self._router.enq_seq = record.enq_seq
                self._note_order_id(command)
                self._client_orders.on_sequenced(record.enq_seq, command)
                self._dirty.add(symbol_id)
                report.commands += 1
                pending.append(record.enq_seq)
            elif isinstance(record, Ticked):
                self._clock.restore(record.now_ns, record.number)
                self._router.now_ns = record.now_ns
                coordinator.update_tick(record.number)
                events = self._run_tick(record.now_ns)
                self._client_orders.capture(events)
                # seq-0 events (host-death notices) are not part of any symbol's stream:
                # never re-recorded, so a recovery cannot duplicate them.
                missing = events_after(events, journaled)
                if missing:
                    rederived.append((missing, record.now_ns))  # recorded once writers open
                report.events_recorded += len(missing)
                for event in events:
                    self._dirty.add(event.symbol_id)
                    if event.seq:
                        produced[event.symbol_id] = event.seq
                report.ticks += 1
                pending = []
            elif isinstance(record, Defined):
                defined.add(record.instrument.symbol_id)
            elif isinstance(record, Stopped):
                hashes = self._healthy_hashes_of(defined)
                if hashes != record.state_hashes:
                    differ = sorted(
                        sid
                        for sid in set(hashes) | set(record.state_hashes)
                        if hashes.get(sid) != record.state_hashes.get(sid)
                    )
                    raise DataDirError(
                        f"recovered state hashes differ from the ones recorded at stop for"
                        f" symbols {differ}"
                    )
        ahead = [
            f"symbol {symbol_id}: DIR/events holds event seq {seq}, the commands produce"
            f" {produced.get(symbol_id, 0)}"
            for symbol_id, seq in sorted(journaled.items())
            if seq > produced.get(symbol_id, 0)
        ]
        if ahead:
            # Continuing would issue those seqs a second time (a repaired command journal
            # with the event journal left longer, or events of another directory).
            raise DataDirError(
                f"{data_dir / EVENTS_DIR} is ahead of the command journal ({'; '.join(ahead)}):"
                " if a repair cut the command journal, cut the event journal to it"
                f" (`whistle journal repair {data_dir} --at-damage`); otherwise the command"
                " journal may have lost its tail (an older copy?): restore it, the events"
                " hold acknowledged work"
            )
        report.clean_stop = found.stopped is not None
        report.enq_seq = self._router.enq_seq
        self._since_checkpoint = report.commands
        report.pending = pending
        self._unticked = len(pending)
        self._client_orders_saved = -1  # the next checkpoint saves the recovered table
        report.client_orders = len(self._client_orders)
        return report

    @_settled
    def release_idle(self, idle_ticks: int) -> list[int]:
        """Retire every symbol idle for ``idle_ticks`` ticks (kept as a snapshot).

        A symbol holding live GTD orders is kept however idle: eviction is not journaled,
        and an evicted book would not expire them while replay does.
        """
        return self._coordinator.release_idle(idle_ticks)

    def _edge_reject(
        self,
        command: Command | None,
        reason: RejectReason,
        *,
        symbol_id: int = 0,
        order_id: int = 0,
        account: int = 0,
    ) -> OrderRejected:
        if command is not None:
            symbol_id = getattr(command, "symbol_id", 0)
            order_id = getattr(command, "order_id", 0)
            account = getattr(command, "account", 0)
        # Echo only well-typed, in-range ints: the reject itself must be recordable.
        return OrderRejected(
            _int_or_zero(symbol_id),
            0,
            0,
            self.now_ns,
            _int_or_zero(order_id),
            _int_or_zero(account),
            int(reason),
        )

    # ------------------------------------------------------------------ convenience API

    def _guard(
        self, symbol: str | int, order_id: int, account: int, build: Callable[[Instrument], Command]
    ) -> list[Event]:
        # Build a command at the edge; anything refused there becomes an unsequenced reject.
        instrument = self._resolve(symbol)
        if instrument is None:
            self.last_reject_detail = (
                f"unknown symbol {show(symbol)}"
                if type(symbol) in (str, int)
                else f"symbol must be a str name or an int id, was {show(symbol)}"
            )
            return self._publish(
                [
                    self._edge_reject(
                        None, RejectReason.UNKNOWN_SYMBOL, order_id=order_id, account=account
                    )
                ]
            )
        self._fast_symbols[symbol] = instrument  # the next call resolves it in one lookup
        try:
            command = build(instrument)
        except EdgeReject as exc:
            self.last_reject_detail = str(exc)
            reject = self._edge_reject(
                None, exc.reason, symbol_id=instrument.symbol_id, order_id=order_id, account=account
            )
            return self._publish([reject])
        self.last_reject_detail = None
        return self.send(command)

    @staticmethod
    def _units(convert: Callable[[Number], int], value: Number, what: str) -> int:
        try:
            return convert(value)
        except PrecisionError as exc:
            reason = (
                RejectReason.INVALID_PRICE_PRECISION
                if "price" in what
                else RejectReason.INVALID_QTY_PRECISION
            )
            raise EdgeReject(reason, f"{what}: {exc}") from None
        except ConversionError as exc:
            raise EdgeReject(RejectReason.MALFORMED_COMMAND, f"{what}: {exc}") from None

    @_settled
    def next_order_id(self, symbol: str | int) -> int:
        """Return the next unused automatic order id of ``symbol``."""
        return self._next_order_id[self.instrument(symbol).symbol_id]

    def _auto_id(self, symbol: str | int, order_id: int | None) -> int:
        # The id a submit/replace uses: the caller's, or the symbol's next automatic one.
        # Nothing is claimed here: an id is used up only when its command is journaled
        # (_sequence), so a refused command never advances the counter.
        if order_id is not None:
            return order_id
        known = self._resolve(symbol)
        return self._next_order_id[known.symbol_id] if known is not None else 0

    @_settled
    def submit(
        self,
        symbol: str | int,
        side: Side | str | int,
        qty: Number | None = None,
        price: Number | None = None,
        *,
        order_type: OrderType | str | int | None = None,
        tif: TimeInForce | str | int | None = None,
        order_id: int | None = None,
        account: int = 0,
        stop_price: Number | None = None,
        display_qty: Number | None = None,
        post_only: bool = False,
        stp: StpMode | str | int = StpMode.NONE,
        expire_ts_ns: int = 0,
        protection_price: Number | None = None,
        qty_lots: int | None = None,
        price_ticks: int | None = None,
        stop_price_ticks: int | None = None,
        display_qty_lots: int | None = None,
        protection_price_ticks: int | None = None,
        client_order_id: int = 0,
    ) -> list[Event]:
        """Enter a new order; return its events.

        Decimal ``qty``/``price``/... or integer ``qty_lots``/``price_ticks``/...; with no
        ``order_type`` it is LIMIT when a price is given and MARKET otherwise; with no ``tif``
        it is GTC (IOC for market). ``order_id`` defaults to the symbol's next free id.

        ``client_order_id`` (0: none) makes the entry idempotent for ``account``: a repeat
        of an order entry already taken returns ``[DuplicateClientOrder, *its events]``
        and changes nothing; without ``order_id`` a repeat reuses the original's, so a
        plain resubmission matches (``whistle.coord.durability.client_orders``).
        """
        if client_order_id and order_id is None:
            order_id = self._client_order_id_of(account, client_order_id)
        # Fast path: a known symbol, integer units and enum values spelt the common ways
        # build the very NewOrder the general path below builds (send() validates it
        # completely); anything else goes the general way.
        known = (
            self._fast_symbols.get(symbol) if type(symbol) is str or type(symbol) is int else None
        )
        if (
            known is not None
            and qty is None
            and price is None
            and stop_price is None
            and display_qty is None
            and protection_price is None
        ):
            side_i = _fast_member(_SIDE_OF, Side, side)
            if order_type is None:
                type_i: int | None = _LIMIT if price_ticks is not None else _MARKET
            else:
                type_i = _fast_member(_TYPE_OF, OrderType, order_type)
            if tif is None:
                tif_i: int | None = _IOC if type_i == _MARKET else _GTC
            else:
                tif_i = _fast_member(_TIF_OF, TimeInForce, tif)
            stp_i = 0 if stp is StpMode.NONE else _fast_member(_STP_OF, StpMode, stp)
            if (
                side_i is not None
                and type_i is not None
                and tif_i is not None
                and stp_i is not None
            ):
                sid = known.symbol_id
                self.last_reject_detail = None
                return self.send(
                    NewOrder(
                        sid,
                        self._next_order_id[sid] if order_id is None else order_id,
                        account,
                        side_i,
                        type_i,
                        tif_i,
                        0 if price_ticks is None else price_ticks,
                        0 if qty_lots is None else qty_lots,
                        0 if stop_price_ticks is None else stop_price_ticks,
                        0 if display_qty_lots is None else display_qty_lots,
                        post_only,
                        stp_i,
                        expire_ts_ns,
                        0 if protection_price_ticks is None else protection_price_ticks,
                        client_order_id,
                    )
                )
        oid = self._auto_id(symbol, order_id)

        def build(inst: Instrument) -> Command:
            side_v = _enum(Side, side, RejectReason.INVALID_SIDE)
            has_price = price is not None or price_ticks is not None
            if order_type is None:
                type_v = OrderType.LIMIT if has_price else OrderType.MARKET
            else:
                type_v = _enum(OrderType, order_type, RejectReason.INVALID_ORDER_TYPE)
            if tif is None:
                tif_v = TimeInForce.IOC if type_v is OrderType.MARKET else TimeInForce.GTC
            else:
                tif_v = _enum(TimeInForce, tif, RejectReason.INVALID_TIF)
            stp_v = _enum(StpMode, stp, RejectReason.INVALID_STP_MODE)
            return NewOrder(
                inst.symbol_id,
                oid,
                account,
                int(side_v),
                int(type_v),
                int(tif_v),
                self._pick(inst.price_to_ticks, price, price_ticks, "price"),
                self._pick(inst.qty_to_lots, qty, qty_lots, "qty"),
                self._pick(inst.price_to_ticks, stop_price, stop_price_ticks, "stop_price"),
                self._pick(inst.qty_to_lots, display_qty, display_qty_lots, "display_qty"),
                post_only,
                int(stp_v),
                expire_ts_ns,
                self._pick(
                    inst.price_to_ticks,
                    protection_price,
                    protection_price_ticks,
                    "protection_price",
                ),
                client_order_id,
            )

        return self._guard(symbol, oid, account, build)

    def _client_order_id_of(self, account: object, client_order_id: object) -> int | None:
        # The order id a repeat of (account, client_order_id) reuses (None: not held, or
        # ill-typed: the edge refuses those).
        if type(account) is int and type(client_order_id) is int:
            return self._client_orders.order_id_of(account, client_order_id)
        return None

    @_settled
    def client_order(self, account: int, client_order_id: int) -> ClientOrderInfo | None:
        """Return what the venue remembers of (account, client_order_id), or None.

        The command taken with it (symbol, venue order id, ``enq_seq``), its outcome
        (PENDING until its tick ran, ACCEPTED or REJECTED with the engine's reason) and its
        events about its order as first produced. None: never taken, refused before
        sequencing (it can be used), or let go when its symbol's session ended.
        """
        return self._client_orders.info(account, client_order_id)

    @property
    @_settled
    def client_orders(self) -> int:
        """Return how many (account, client_order_id) the venue remembers."""
        return len(self._client_orders)

    @_settled
    def client_orders_hash(self) -> str:
        """Return a digest of the client-order table (equal after recovery and replay)."""
        return self._client_orders.state_hash()

    def _pick(
        self, convert: Callable[[Number], int], value: Number | None, units: int | None, what: str
    ) -> int:
        if value is not None and units is not None:
            raise EdgeReject(
                RejectReason.MALFORMED_COMMAND, f"give {what} or its integer form, not both"
            )
        if units is not None:
            return units
        if value is None:
            return 0
        return self._units(convert, value, what)

    @_settled
    def cancel(
        self, symbol: str | int, order_id: int, *, account: int | None = None
    ) -> list[Event]:
        """Cancel a live order."""
        known = (
            self._fast_symbols.get(symbol) if type(symbol) is str or type(symbol) is int else None
        )
        if known is not None:  # the general path's command, without its closure
            self.last_reject_detail = None
            return self.send(CancelOrder(known.symbol_id, order_id, account))
        return self._guard(
            symbol, order_id, account or 0, lambda e: CancelOrder(e.symbol_id, order_id, account)
        )

    @_settled
    def modify(
        self,
        symbol: str | int,
        order_id: int,
        *,
        price: Number | None = None,
        qty: Number | None = None,
        price_ticks: int | None = None,
        qty_lots: int | None = None,
        account: int | None = None,
    ) -> list[Event]:
        """Change a resting order's price and/or remaining quantity (omitted: unchanged)."""
        known = (
            self._fast_symbols.get(symbol) if type(symbol) is str or type(symbol) is int else None
        )
        if known is not None and price is None and qty is None:  # integer units: no edge work
            self.last_reject_detail = None
            return self.send(
                ModifyOrder(
                    known.symbol_id,
                    order_id,
                    0 if price_ticks is None else price_ticks,
                    0 if qty_lots is None else qty_lots,
                    account,
                )
            )

        def build(inst: Instrument) -> Command:
            return ModifyOrder(
                inst.symbol_id,
                order_id,
                self._pick(inst.price_to_ticks, price, price_ticks, "price"),
                self._pick(inst.qty_to_lots, qty, qty_lots, "qty"),
                account,
            )

        return self._guard(symbol, order_id, account or 0, build)

    @_settled
    def replace(
        self,
        symbol: str | int,
        order_id: int,
        new_order_id: int | None = None,
        *,
        price: Number | None = None,
        qty: Number | None = None,
        price_ticks: int | None = None,
        qty_lots: int | None = None,
        account: int | None = None,
        client_order_id: int = 0,
    ) -> list[Event]:
        """Replace a resting order by a new one (new id defaults to the next free id).

        ``client_order_id`` (0: none; needs ``account``) is the replacement's, idempotent
        like ``submit``'s: without ``new_order_id`` a repeat reuses the original's.
        """
        if client_order_id and new_order_id is None:
            new_order_id = self._client_order_id_of(account, client_order_id)
        new_id = self._auto_id(symbol, new_order_id)
        known = (
            self._fast_symbols.get(symbol) if type(symbol) is str or type(symbol) is int else None
        )
        if known is not None and price is None and qty is None:  # integer units: no edge work
            self.last_reject_detail = None
            return self.send(
                CancelReplace(
                    known.symbol_id,
                    order_id,
                    new_id,
                    0 if price_ticks is None else price_ticks,
                    0 if qty_lots is None else qty_lots,
                    account,
                    client_order_id,
                )
            )

        def build(inst: Instrument) -> Command:
            return CancelReplace(
                inst.symbol_id,
                order_id,
                new_id,
                self._pick(inst.price_to_ticks, price, price_ticks, "price"),
                self._pick(inst.qty_to_lots, qty, qty_lots, "qty"),
                account,
                client_order_id,
            )

        return self._guard(symbol, order_id, account or 0, build)

    @_settled
    def mass_cancel(
        self, symbol: str | int | None = None, *, account: int | None = None
    ) -> list[Event]:
        """Cancel every live order of ``account`` (or all) on one symbol or on every symbol."""
        if symbol is not None:
            return self._guard(symbol, 0, account or 0, lambda e: MassCancel(e.symbol_id, account))
        return self._route_all([MassCancel(key, account) for key in sorted(self._instruments)])

    def _route_all(self, commands: list[Command]) -> list[Event]:
        # One command per symbol, then one tick; refusals (account=-1, a full queue) are
        # returned and published first, never dropped. When every one was refused nothing
        # was sequenced, and nothing is journaled (not even a tick).
        refused: list[Event] = []
        for command in commands:
            result = self._route(command)
            if isinstance(result, OrderRejected):
                refused.append(result)
        if refused:
            self._publish(refused)
            if len(refused) == len(commands):
                return refused
        return refused + self.tick()

    @_settled
    def halt(self, symbol: str | int) -> list[Event]:
        """Halt a symbol: new orders, modifies and replaces are rejected."""
        return self._guard(symbol, 0, 0, lambda e: HaltTrading(e.symbol_id))

    @_settled
    def resume(self, symbol: str | int) -> list[Event]:
        """Resume a halted symbol."""
        return self._guard(symbol, 0, 0, lambda e: ResumeTrading(e.symbol_id))

    @_settled
    def end_session(self, symbol: str | int | None = None) -> list[Event]:
        """End the trading session (every DAY order expires) on one symbol or all."""
        if symbol is not None:
            return self._guard(symbol, 0, 0, lambda e: EndSession(e.symbol_id))
        return self._route_all([EndSession(key) for key in sorted(self._instruments)])

    # ------------------------------------------------------------------ views

    @_settled
    def engine_view(self, symbol: str | int) -> Whistle:
        """Return the symbol's engine (in-process) or a copy rebuilt from a snapshot."""
        instrument = self.instrument(symbol)
        sid = instrument.symbol_id
        if self._coordinator.registry.state_of(sid) is not SymbolState.ACTIVE:
            # Never traded, or retired: a fresh engine, or the one in the kept snapshot.
            entry = self._coordinator.registry.get(sid)
            if entry.snapshot:
                return Whistle.restore(decode_snapshot(entry.snapshot))
            return Whistle(instrument)
        host = self._coordinator.host_of(sid)
        if isinstance(host, InProcessHost):
            return host.engine(sid)
        return Whistle.restore(decode_snapshot(host.snapshot(sid)))

    @_settled
    def depth(self, symbol: str | int, levels: int | None = 10) -> DepthSnapshot:
        """Return the L2 depth of ``symbol``: the best ``levels`` per side, None for all."""
        return self.engine_view(symbol).depth(levels)

    @_settled
    def status(self, symbol: str | int) -> EngineStatus:
        """Return the status of ``symbol``'s engine (``bid_orders``/``ask_orders`` per side)."""
        return self.engine_view(symbol).status()

    @_settled
    def order(self, symbol: str | int, order_id: int) -> OrderInfo | None:
        """Return one live order of ``symbol`` (resting or a parked stop), or None.

        Price, side, leaves/displayed/hidden, filled and original quantity, queue position
        (1 = front of its level, 0 = parked stop) and the quantity ahead, entry and expiry
        time (``whistle.engine.OrderInfo``). None for an id that is not live (never
        entered, filled, cancelled, expired). On a process host it is read from a snapshot
        of the engine, taken between ticks.
        """
        if type(order_id) is not int:
            raise TypeError(f"order_id must be an int, was {show(order_id)}")
        return self.engine_view(symbol).order(order_id)

    @staticmethod
    def reject_text(event: OrderRejected) -> str:
        """Return why ``event`` was refused, in words: its reason, then the engine's detail.

        Engine rejects carry ``detail_code`` (``whistle.engine.detail_text``); a reject
        refused at the edge (``seq == 0``) has its detail in ``last_reject_detail`` right
        after the call that made it.
        """
        text = RejectReason.of(event.reason).description
        if event.detail_code:
            return f"{text}: {detail_text(event.detail_code)}"
        return text

    @_settled
    def l3(self, symbol: str | int) -> list[L3Order]:
        """Return ``symbol``'s resting orders in priority order."""
        return self.engine_view(symbol).l3()

    @_settled
    def state_hashes(self) -> dict[str, str]:
        """Return every symbol's state hash, by symbol name."""
        return {
            self._instruments[k].symbol: self.engine_view(k).state_hash()
            for k in sorted(self._instruments)
        }

    # The general path of the calls the fast lane stands in for (lane.py falls back on
    # these; on an embedded venue ``venue.submit`` is the lane's).
    _general_submit = submit
    _general_cancel = cancel
    _general_modify = modify
    _general_send = send
    _general_send_many = send_many
