"""``SymbolManager``: one symbol's actor (its strategy, context, positions and engine).

**Thread, not asyncio (measured and reasoned; figures in ``whistle bench orchestrator``).**
Strategy callbacks are plain synchronous Python. On one asyncio loop a callback that
hangs (a loop, a blocking call) stalls every symbol; an actor per thread keeps the
others running: CPython switches threads every 5 ms even under a busy loop, and a
blocking call releases the GIL. The cost is a wake-up per batch (``threading.Event``),
a few microseconds, paid only when the inbox was empty.

**Inbox.** Two deques, appended to by the exchange thread without a lock (a deque's
append and popleft are atomic): market data in a ring of ``inbox_capacity`` (when the
actor falls behind, the oldest market event is dropped: the book in a later event
supersedes it; drops are counted in ``market_dropped``) and order updates, which are
never dropped (their number is bounded by the actor's own open orders). Each round the
actor handles the updates waiting, then one market event.

**Failure.** An exception in a callback ends the actor (``state`` CRASHED, ``error``
names the callback); a callback that runs longer than the supervisor's hang timeout is
HUNG: its thread is abandoned (``abandon()``: it can never send again) and a new actor
takes over. Both are restarted with backoff by the ``Supervisor``, which gives up after
``max_restarts`` and marks the symbol FAILED with the cause.

**Client order ids** are venue-wide per account (the venue's idempotency key), so each
actor life gets its own range: ``coid_base(pair_id, epoch) + 1, + 2, ...`` where
``pair_id`` is the registry's number of the pair and the epoch its count of the pair's
actor starts. Layout within 63 bits: pair_id 17 bits (131,071 pairs) | epoch 22 bits
(lives 0..4,194,303) | 24 bits (16,777,215 orders per life). The epoch is NEVER taken
modulo anything (R2 finding 5: a wrapped epoch reused an earlier life's ids, which the
venue refuses or, worse, answers with the old order's outcome): ``coid_base`` refuses an
epoch past ``MAX_EPOCH`` and the orchestrator marks such a pair FAILED ("client order id
space exhausted") instead of starting it. (The pair field moved from bit 40 to bit 46
with this change; the life and epoch fields did not move, so ids of a data directory
from before it cannot collide with new ones unless it had 64 or more pairs.)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Final, Protocol, final

from whistle.core.enums import Side
from whistle.trading.context import Context
from whistle.trading.messages import (
    MarketEvent,
    MarketKind,
    Order,
    OrderAction,
    OrderUpdate,
    RiskDecision,
    SignalEvent,
    SignalKind,
    UpdateKind,
)
from whistle.trading.strategy import Strategy, subscriptions

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.orchestrator.engines import Engine
    from whistle.orchestrator.position import PositionManager
    from whistle.trading.accounting import Ledger

__all__ = [
    "COID_EPOCH_BITS",
    "COID_LIFE_BITS",
    "CRASHED",
    "HUNG",
    "MAX_EPOCH",
    "RUNNING",
    "STARTING",
    "STOPPED",
    "Risk",
    "SymbolManager",
    "coid_base",
]

COID_LIFE_BITS: Final = 24  # orders per actor life: 16,777,215
COID_EPOCH_BITS: Final = 22  # actor lives per pair; past MAX_EPOCH a pair is refused
MAX_EPOCH: Final = (1 << COID_EPOCH_BITS) - 1
_PAIR_SHIFT: Final = COID_LIFE_BITS + COID_EPOCH_BITS
_MAX_PAIR_ID: Final = (1 << (63 - _PAIR_SHIFT)) - 1

STARTING: Final = "STARTING"
RUNNING: Final = "RUNNING"
STOPPED: Final = "STOPPED"
CRASHED: Final = "CRASHED"
HUNG: Final = "HUNG"

_IDLE_WAIT_S: Final = 1.0  # an idle actor sleeps: posts and stop() wake it
_SIGNAL_ACTION: Final = {
    SignalKind.BUY: OrderAction.NEW,
    SignalKind.SELL: OrderAction.NEW,
    SignalKind.CANCEL: OrderAction.CANCEL,
    SignalKind.MODIFY: OrderAction.MODIFY,
}


class Risk(Protocol):
    """The part of ``whistle.trading.risk.RiskEngine`` an actor uses."""

    def check(self, signal: SignalEvent, account: int, now_ns: int) -> RiskDecision:
        """Approve or refuse ``signal``."""
        ...

    def on_update(self, update: OrderUpdate) -> list[Order]:
        """Learn an order's outcome; return cancels to send (the kill switch tripped)."""
        ...

    def on_market(self, event: MarketEvent) -> list[Order]:
        """Learn the market; return cancels to send (the kill switch tripped)."""
        ...


class AbandonedError(Exception):
    """Raised in an abandoned actor's thread when it tries to act again."""


def coid_base(pair_id: int, epoch: int) -> int:
    """First client order id (exclusive) of actor life ``epoch`` of registry pair ``pair_id``."""
    if not 1 <= pair_id <= _MAX_PAIR_ID:
        raise ValueError(f"pair_id must be in 1..{_MAX_PAIR_ID}, was {pair_id}")
    if not 0 <= epoch <= MAX_EPOCH:
        raise ValueError(
            f"client order id space exhausted: actor life (epoch) {epoch} of pair {pair_id}"
            f" is past the last one, {MAX_EPOCH}; a life's ids are never reused"
        )
    return (pair_id << _PAIR_SHIFT) | (epoch << COID_LIFE_BITS)


@final
class SymbolManager:
    """One symbol's actor (see the module docstring)."""

    def __init__(
        self,
        symbol: str,
        symbol_id: int,
        pair_id: int,
        account: int,
        epoch: int,
        strategy: Strategy,
        engine: Engine,
        positions: PositionManager,
        *,
        ledger: Ledger | None = None,
        risk: Risk | None = None,
        inbox_capacity: int = 4096,
        paused: bool = False,
        restarts: int = 0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if inbox_capacity < 1:
            raise ValueError(f"inbox_capacity must be >= 1, was {inbox_capacity}")
        self.symbol = symbol
        self.symbol_id = symbol_id
        self.account = account
        self.epoch = epoch
        self.strategy = strategy
        self.engine = engine
        self.positions = positions
        self.risk = risk
        self.restarts = restarts
        self.paused = paused
        self._clock = clock
        base = coid_base(pair_id, epoch)
        self._coid_limit = base + (1 << COID_LIFE_BITS) - 1
        self.ctx = Context(
            symbol, symbol_id, account, order_id_base=base, ledger=ledger, now_ns=clock()
        )
        self._subs = subscriptions(strategy)
        self._market: deque[MarketEvent] = deque(maxlen=inbox_capacity)
        self._updates: deque[OrderUpdate] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._quiet = False
        self._abandoned = False
        self.inbox_capacity = inbox_capacity
        self.state = STARTING
        self.error: str | None = None
        self.busy_since_ns = 0
        """When the running callback started (0: none runs)."""
        self.busy_callback = ""
        self.market_in = 0
        self.market_dropped = 0
        self.market_handled = 0
        self.updates_handled = 0
        self.latency_ns_sum = 0
        self.latency_ns_max = 0
        self._thread = threading.Thread(
            target=self._run, name=f"whistle-actor-{symbol}-{epoch}", daemon=True
        )

    # ------------------------------------------------------------------ the inbox (exchange thread)

    def post_market(self, event: MarketEvent) -> None:
        """Queue one market event (never blocks; the oldest is dropped when full)."""
        market = self._market
        if len(market) == self.inbox_capacity:
            self.market_dropped += 1
        market.append(event)
        self.market_in += 1
        self._wake.set()

    def post_update(self, update: OrderUpdate) -> None:
        """Queue one order update (never blocks, never dropped)."""
        self._updates.append(update)
        self._wake.set()

    def inbox_depth(self) -> int:
        """Events waiting in the inbox."""
        return len(self._market) + len(self._updates)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the actor's thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Ask the actor to finish (``on_stop`` runs) and wait up to ``timeout_s``."""
        self._stop = True
        self._wake.set()
        if (
            timeout_s > 0
            and self._thread.is_alive()
            and threading.current_thread() is not self._thread
        ):
            self._thread.join(timeout_s)

    def abandon(self) -> None:
        """Give up on a hung actor: it never sends or handles anything again."""
        self._abandoned = True
        self._stop = True
        self._wake.set()

    @property
    def alive(self) -> bool:
        """Whether the actor's thread runs (and is not abandoned)."""
        return self._thread.is_alive() and not self._abandoned

    def join(self, timeout_s: float) -> None:
        """Wait for the thread to end."""
        self._thread.join(timeout_s)

    # ------------------------------------------------------------------ the loop (actor thread)

    def _run(self) -> None:
        callback = "on_start"
        try:
            self.state = RUNNING
            if not self.paused:
                self._call("on_start", self.strategy.on_start)
            wait = self._wake.wait
            clear = self._wake.clear
            while not self._stop:
                next_timer = self.ctx.next_timer_ns()
                timeout = _IDLE_WAIT_S
                if next_timer is not None and not self.paused:
                    timeout = max(0.0, min(timeout, (next_timer - self._clock()) / 1e9))
                wait(timeout)
                clear()
                callback = "inbox"
                self._drain()
                if not self.paused and self.ctx.next_timer_ns() is not None:
                    callback = "on_timer"
                    now = self._clock()
                    for tag in self.ctx.due_timers(now):
                        self.ctx.now_ns = now
                        self._call("on_timer", self.strategy.on_timer, tag)
            if not self._abandoned:
                # Stopping: the book no longer matters; the order updates are booked
                # (positions, context) without asking the strategy for more orders.
                self._market.clear()
                self._quiet = True
                self._book_updates()
                if not self.paused:
                    callback = "on_stop"
                    self._call("on_stop", self.strategy.on_stop)
                self._book_updates()
                self.state = STOPPED
        except AbandonedError:
            self.state = HUNG
        except BaseException as exc:  # any failure of the strategy or engine ends this life
            if self._abandoned:
                self.state = HUNG
            else:
                where = self.busy_callback or callback
                self.error = f"{where}: {type(exc).__name__}: {exc}"
                self.state = CRASHED
        finally:
            self.busy_since_ns = 0

    def _book_updates(self) -> None:
        updates = self._updates
        while updates:
            self._apply(updates.popleft())

    def _call(self, name: str, func: Callable[..., None], *args: object) -> None:
        ctx = self.ctx
        self.busy_callback = name
        self.busy_since_ns = self._clock()
        func(ctx, *args)
        self.busy_since_ns = 0
        self.busy_callback = ""
        if self._abandoned:
            raise AbandonedError
        signals = ctx.drain_signals()
        if signals:
            self._act(signals)

    def _drain(self) -> None:
        updates = self._updates
        market = self._market
        clock = self._clock
        while updates or market:
            # The updates waiting now, then one market event: updates that handling makes
            # (a refusal answered by a new order) wait a round, so a strategy retrying on
            # a stale book always sees the newer book first.
            for _ in range(len(updates)):
                self._apply(updates.popleft())
            if self._stop:
                return  # the stop path drains the updates; the book no longer matters
            if market:
                event = market.popleft()
                now = clock()
                lat = now - event.recv_ts_ns
                self.latency_ns_sum += lat
                if lat > self.latency_ns_max:
                    self.latency_ns_max = lat
                self.market_handled += 1
                self._on_market(event, now)

    def _on_market(self, event: MarketEvent, now: int) -> None:
        if self.risk is not None:
            self._kill_orders(self.risk.on_market(event))
        if self.paused:
            return
        ctx = self.ctx
        ctx.now_ns = now
        subs = self._subs
        kind = event.kind
        if kind == MarketKind.BOOK or kind == MarketKind.BBO:
            book = ctx.book
            before = book.top()
            book.load_event(event)
            if "book" in subs and kind == MarketKind.BOOK:
                self._call("on_book", self.strategy.on_book, book)
            if "bbo" in subs and book.top() != before:
                self._call("on_bbo", self.strategy.on_bbo, book)
        elif kind == MarketKind.TRADE and "trade" in subs:
            self._call("on_trade", self.strategy.on_trade, event)

    def _apply(self, update: OrderUpdate) -> None:
        """Book one update: positions, risk, the context, then the strategy."""
        self.updates_handled += 1
        pm = self.positions
        kind = update.kind
        coid = update.client_order_id
        if kind == UpdateKind.FILLED:
            pm.fill(update.side, update.fill_price, update.fill_qty, update.fee, coid)
        elif kind == UpdateKind.CANCELLED or kind == UpdateKind.EXPIRED:
            pm.closed(coid, update.leaves_qty if kind == UpdateKind.CANCELLED else 0)
        elif kind == UpdateKind.REJECTED and update.leaves_qty == 0:
            pm.closed(coid, rejected=True)
        if self.risk is not None:
            self._kill_orders(self.risk.on_update(update))
        ctx = self.ctx
        ctx.now_ns = self._clock()
        ctx.apply_update(update)
        if not self.paused and not self._quiet and "order_update" in self._subs:
            self._call("on_order_update", self.strategy.on_order_update, update)

    def _kill_orders(self, orders: list[Order]) -> None:
        # Cancels the risk engine asks for (its kill switch tripped): sent as they are.
        for order in orders:
            self.positions.cancel_sent()
            self.engine.send(order)

    def _act(self, signals: list[SignalEvent]) -> None:
        ctx = self.ctx
        for signal in signals:
            if self._abandoned:
                raise AbandonedError
            coid = signal.client_order_id
            if coid > self._coid_limit:
                raise RuntimeError(
                    f"actor life {self.epoch} used all {1 << COID_LIFE_BITS} client order ids;"
                    " it restarts with the next epoch"
                )
            now = ctx.now_ns
            if self.risk is not None:
                decision = self.risk.check(signal, self.account, now)
                if not decision.approved:
                    # Queued like the venue's answers (handled after this callback).
                    self._updates.append(
                        OrderUpdate(
                            UpdateKind.REJECTED,
                            coid,
                            self.symbol_id,
                            side=_side_of(signal, ctx),
                            price=signal.price,
                            qty=signal.qty,
                            reason=decision.reason,
                            text="refused by risk",
                            ts_ns=now,
                        )
                    )
                    continue
            action = _SIGNAL_ACTION[signal.kind]
            side = _side_of(signal, ctx)
            order = Order(
                action,
                coid,
                self.account,
                self.symbol_id,
                Side(side) if side else Side.BUY,
                signal.price,
                signal.qty,
                signal.tif,
                signal.post_only,
                now,
            )
            if action == OrderAction.NEW:
                self.positions.opened(coid, side, signal.price, signal.qty)
            else:
                self.positions.cancel_sent()
            # The order's updates (the immediate ones too) arrive through the inbox, in
            # venue order; handling them here, inside the callback that decided, would
            # recurse and could put an ack after a fill another thread delivered.
            self.engine.send(order)


def _side_of(signal: SignalEvent, ctx: Context) -> int:
    kind = signal.kind
    if kind == SignalKind.BUY:
        return int(Side.BUY)
    if kind == SignalKind.SELL:
        return int(Side.SELL)
    order = ctx.open_orders.get(signal.client_order_id)
    return int(order.side) if order is not None else 0
