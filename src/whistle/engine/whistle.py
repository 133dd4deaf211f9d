"""``Whistle``: one symbol's matching engine.

The engine owns one ``OrderBook`` and adds what a venue needs around it: the trading
state (ACTIVE / HALTED / FAULTED), tick-bounded processing, fault isolation, snapshots
and a state hash.

Tick-bounded processing: ``enqueue(enq_seq, command)`` only queues; ``tick(now_ns)``
first expires GTD orders due at ``now_ns``, then processes the queued commands in
``enq_seq`` order, all stamped with ``now_ns``. ``process(enq_seq, command, now_ns)`` is
the direct in-process path and produces exactly the events that enqueue + tick would.

The output is a pure function of the instrument, the (enq_seq, command) sequence and the
tick times: the engine reads no clock and draws no random numbers.
"""

from __future__ import annotations

import hashlib
from bisect import insort
from typing import TYPE_CHECKING, Any, Final, final

import msgspec

from whistle.book.book import OrderBook
from whistle.core.commands import (
    CancelOrder,
    CancelReplace,
    EndSession,
    HaltTrading,
    MassCancel,
    ModifyOrder,
    NewOrder,
    ResumeTrading,
)
from whistle.core.enums import TradingState
from whistle.core.events import EngineFaulted, TradingStatusChanged
from whistle.core.reasons import RejectReason
from whistle.engine.snapshot import EngineSnapshot, capture, rebuild
from whistle.engine.status import DepthLevel, DepthSnapshot, EngineStatus, L3Order, OrderInfo

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.book.orders import Order
    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.core.instrument import Instrument

__all__ = ["Whistle"]

_ACTIVE = int(TradingState.ACTIVE)
_HALTED = int(TradingState.HALTED)
_FAULTED = int(TradingState.FAULTED)
_R_HALTED = int(RejectReason.TRADING_HALTED)
_R_FAULTED = int(RejectReason.ENGINE_FAULTED)
_R_UNKNOWN_SYMBOL = int(RejectReason.UNKNOWN_SYMBOL)
_R_MALFORMED = int(RejectReason.MALFORMED_COMMAND)
# Final module names are C statics under mypyc (a plain global is a dict lookup per use).
_NEW: Final = NewOrder
_CANCEL: Final = CancelOrder
_MODIFY: Final = ModifyOrder
_astuple: Final = msgspec.structs.astuple


@final
class Whistle:
    """The matching engine of one symbol."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.symbol_id = instrument.symbol_id
        self.book = OrderBook(instrument)
        self.state = _ACTIVE
        self.now_ns = 0
        self.last_enq_seq = 0
        self.fault: str | None = None
        self._drained_seq = 0  # book.seq when events were last handed out
        self._pending: list[tuple[int, Command]] = []

    # ------------------------------------------------------------------ input

    def enqueue(self, enq_seq: int, command: Command) -> None:
        """Queue ``command`` for the next tick; ``enq_seq`` must be new and increasing."""
        if enq_seq <= self.last_enq_seq:
            raise ValueError(
                f"enq_seq must be greater than the last processed {self.last_enq_seq},"
                f" was {enq_seq}"
            )
        pending = self._pending
        if not pending or enq_seq > pending[-1][0]:
            pending.append((enq_seq, command))
        else:
            if any(seq == enq_seq for seq, _ in pending):
                raise ValueError(f"enq_seq {enq_seq} is already queued")
            insort(pending, (enq_seq, command), key=lambda item: item[0])

    @property
    def pending(self) -> int:
        """Return how many commands wait for the next tick."""
        return len(self._pending)

    @property
    def live_gtd(self) -> int:
        """Return how many live GTD orders (resting or parked) this engine holds.

        Each one will expire at a future tick with no command, so the engine has
        time-driven work pending while this is non-zero.
        """
        return self.book.gtd_live

    def tick(self, now_ns: int) -> list[Event]:
        """Advance to ``now_ns``, expire due GTD orders, process queued commands."""
        self._advance(now_ns)
        pending = self._pending
        if pending:
            self._pending = []
            apply = self._apply
            for enq_seq, command in pending:
                apply(enq_seq, command)
        return self.drain()

    def process(self, enq_seq: int, command: Command, now_ns: int) -> list[Event]:
        """Process one command now (direct path); same events as enqueue + tick."""
        if self._pending:
            self.enqueue(enq_seq, command)
            return self.tick(now_ns)
        if enq_seq <= self.last_enq_seq:
            raise ValueError(
                f"enq_seq must be greater than the last processed {self.last_enq_seq},"
                f" was {enq_seq}"
            )
        if now_ns != self.now_ns:
            self._advance(now_ns)
        self._apply(enq_seq, command)
        book = self.book
        out = book.out
        book.out = []
        self._drained_seq = book.seq
        return out

    def process_many(self, commands: list[tuple[int, Command]], now_ns: int) -> list[Event]:
        """Process ``(enq_seq, command)`` pairs now, in order; return all their events.

        The same events, in the same order, as one ``process(enq_seq, command, now_ns)``
        per pair, with the whole loop in compiled code (one call from Python per batch).
        ``enq_seq`` must grow along the batch; a bad one raises before anything after it
        runs, with the events of the commands before it still returned by ``drain``.
        """
        if self._pending:
            for enq_seq, command in commands:
                self.enqueue(enq_seq, command)
            return self.tick(now_ns)
        if now_ns != self.now_ns:
            self._advance(now_ns)
        apply = self._apply
        for enq_seq, command in commands:
            if enq_seq <= self.last_enq_seq:
                raise ValueError(
                    f"enq_seq must be greater than the last processed {self.last_enq_seq},"
                    f" was {enq_seq}"
                )
            apply(enq_seq, command)
        return self.drain()

    def drain(self) -> list[Event]:
        """Return and forget the events emitted since the last drain."""
        book = self.book
        out = book.out
        book.out = []
        self._drained_seq = book.seq
        return out

    def _advance(self, now_ns: int) -> None:
        if now_ns < self.now_ns:
            raise ValueError(
                f"time must not go backwards: now is {self.now_ns}, was given {now_ns}"
            )
        self.now_ns = now_ns
        book = self.book
        # The book stamps events with ts_ns; it changes only here (boxed once per tick).
        book.ts_ns = now_ns
        heap = book.gtd_heap
        if heap and heap[0][0] <= now_ns and self.state != _FAULTED:
            book.enq_seq = 0
            self._guarded(book.expire_until, now_ns)

    def _guarded(self, fn: Callable[[int], None], arg: int) -> None:
        try:
            fn(arg)
        except Exception as exc:  # an engine bug must fault this symbol alone
            self._mark_faulted(exc)

    def _apply(self, enq_seq: int, command: Command) -> None:
        book = self.book
        book.enq_seq = enq_seq
        self.last_enq_seq = enq_seq
        kind = type(command)
        if self.state == _ACTIVE and (kind is _MODIFY or kind is _NEW or kind is _CANCEL):
            # Fast path for the three commands that make up nearly all order flow; the
            # book gets the command's fields in one tuple (see book._astuple).
            fields = _astuple(command)
            sid: int = fields[0]
            if sid == self.symbol_id:
                try:
                    if kind is _MODIFY:
                        book.modify_fields(command, fields)  # type: ignore[arg-type]
                    elif kind is _NEW:
                        book.new_order_fields(command, fields)  # type: ignore[arg-type]
                    else:
                        book.cancel_fields(fields)
                except Exception as exc:  # an engine bug must fault this symbol alone
                    self._mark_faulted(exc)
                return
        handler = _HANDLERS.get(kind)
        if handler is None:
            # Not a command at all: reject it, and never let it stop the rest of a tick.
            book.reject(
                getattr(command, "order_id", 0), getattr(command, "account", 0) or 0, _R_MALFORMED
            )
            return
        if command.symbol_id != self.symbol_id:
            book.reject(
                getattr(command, "order_id", 0),
                getattr(command, "account", 0) or 0,
                _R_UNKNOWN_SYMBOL,
            )
            return
        if self.state == _FAULTED:
            book.reject(
                getattr(command, "order_id", 0), getattr(command, "account", 0) or 0, _R_FAULTED
            )
            return
        try:
            handler(self, command)
        except Exception as exc:  # an engine bug must fault this symbol alone
            self._mark_faulted(exc)

    def _mark_faulted(self, exc: BaseException) -> None:
        book = self.book
        book.bids.clear_touched()
        book.asks.clear_touched()
        self.state = _FAULTED
        self.fault = f"{type(exc).__name__}: {exc}"
        # The failed command may have bumped book.seq without emitting, or kept it in a
        # local; number the fault after the last event really emitted, so the stream
        # stays gapless whatever state the counter was left in.
        book.seq = (book.out[-1].seq if book.out else self._drained_seq) + 1
        book.out.append(
            EngineFaulted(self.symbol_id, book.seq, book.enq_seq, book.ts_ns, self.fault)
        )

    # ------------------------------------------------------------------ handlers

    def _on_new_order(self, c: NewOrder) -> None:
        if self.state == _ACTIVE:
            self.book.new_order(c)
        else:
            self.book.reject(c.order_id, c.account, _R_HALTED)

    def _on_cancel(self, c: CancelOrder) -> None:
        self.book.cancel(c)

    def _on_modify(self, c: ModifyOrder) -> None:
        if self.state == _ACTIVE:
            self.book.modify(c)
        else:
            self.book.reject(c.order_id, c.account or 0, _R_HALTED)

    def _on_replace(self, c: CancelReplace) -> None:
        if self.state == _ACTIVE:
            self.book.replace(c)
        else:
            self.book.reject(c.order_id, c.account or 0, _R_HALTED)

    def _on_mass_cancel(self, c: MassCancel) -> None:
        self.book.mass_cancel(c)

    def _set_state(self, state: int) -> None:
        if self.state == state:
            return
        self.state = state
        book = self.book
        book.seq += 1
        book.out.append(
            TradingStatusChanged(self.symbol_id, book.seq, book.enq_seq, book.ts_ns, state)
        )

    def _on_halt(self, c: HaltTrading) -> None:
        self._set_state(_HALTED)

    def _on_resume(self, c: ResumeTrading) -> None:
        self._set_state(_ACTIVE)

    def _on_end_session(self, c: EndSession) -> None:
        self.book.end_session()

    # ------------------------------------------------------------------ views

    def status(self) -> EngineStatus:
        """Return the engine's state, order counts, top of book and last trade."""
        book = self.book
        bbo = book.bbo
        parked = len(book.buy_stops) + len(book.sell_stops)
        bid_orders = 0
        for level in book.bids.levels.values():
            bid_orders += level.count
        ask_orders = 0
        for level in book.asks.levels.values():
            ask_orders += level.count
        return EngineStatus(
            symbol=self.instrument.symbol,
            symbol_id=self.symbol_id,
            state=TradingState(self.state),
            resting_orders=len(book.orders) - parked,
            parked_stops=parked,
            best_bid_ticks=bbo[0],
            best_bid_qty_lots=bbo[1],
            best_ask_ticks=bbo[2],
            best_ask_qty_lots=bbo[3],
            last_trade_ticks=book.last_price,
            trades=book.trade_id,
            event_seq=book.seq,
            last_enq_seq=self.last_enq_seq,
            now_ns=self.now_ns,
            fault=self.fault,
            bid_orders=bid_orders,
            ask_orders=ask_orders,
        )

    def depth(self, levels: int | None = 10) -> DepthSnapshot:
        """Return the best ``levels`` price levels of each side (L2); ``None``: every level."""
        if levels is not None and levels <= 0:
            raise ValueError(f"levels must be positive, was {levels} (None: every level)")
        bids, asks = self.book.depth(levels)
        return DepthSnapshot(
            symbol_id=self.symbol_id,
            seq=self.book.seq,
            bids=[DepthLevel(p, q, n) for p, q, n in bids],
            asks=[DepthLevel(p, q, n) for p, q, n in asks],
        )

    def depth_all(self) -> DepthSnapshot:
        """Return every price level of each side (L2), best first."""
        return self.depth(None)

    def order(self, order_id: int) -> OrderInfo | None:
        """Return the live order ``order_id`` (resting or parked stop), or None."""
        o = self.book.orders.get(order_id)
        if o is None:
            return None
        position = 0
        ahead = 0
        level = o.level
        if level is not None:
            node = level.head
            position = 1
            while node is not None and node is not o:
                ahead += node.qty
                position += 1
                node = node.next
        return _order_info(o, position, ahead)

    def account_orders(self, account: int) -> list[OrderInfo]:
        """Return the live orders of ``account``, as ``order`` reports each one.

        Resting orders first, bids then asks, best price first and in time priority
        within a level, then the account's parked stops in arrival order. One walk over
        the live orders: no snapshot, no state hash, an ``OrderInfo`` only per match.
        """
        book = self.book
        out: list[OrderInfo] = []
        for side in (book.bids, book.asks):
            levels = side.levels
            for key in side.sorted_keys():
                node = levels[key].head
                position = 0
                ahead = 0
                while node is not None:
                    position += 1
                    if node.account == account:
                        out.append(_order_info(node, position, ahead))
                    ahead += node.qty
                    node = node.next
        parked: list[tuple[int, Order]] = [
            (o.arrival, o) for o in book.orders.values() if o.stop_pending and o.account == account
        ]
        parked.sort(key=_first)
        for _, o in parked:
            out.append(_order_info(o, 0, 0))
        return out

    def l3(self) -> list[L3Order]:
        """Return every resting order, bids best first then asks, each level in priority."""
        out: list[L3Order] = []
        for side in (1, 2):
            for _, orders in self.book.level_orders(side):
                out.extend(
                    L3Order(o.order_id, o.account, o.side, o.price, o.qty, o.hidden) for o in orders
                )
        return out

    def state_hash(self) -> str:
        """Return a digest of the book and trading state (equal states, equal hashes)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(self.book.state_hash().encode())
        h.update(self.state.to_bytes(1, "little"))
        return h.hexdigest()

    def validate_internal_state(self) -> None:
        """Raise ``AssertionError`` if any book invariant is broken."""
        self.book.validate_internal_state()

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> EngineSnapshot:
        """Capture the full state; valid only between ticks (nothing queued)."""
        if self._pending:
            raise RuntimeError(
                f"snapshot needs an idle engine, {len(self._pending)} commands are queued"
            )
        return capture(self)

    @classmethod
    def restore(cls, snap: EngineSnapshot) -> Whistle:
        """Return an engine in exactly the captured state."""
        engine = cls(snap.instrument)
        engine.state = snap.state
        engine.now_ns = snap.now_ns
        engine.book.ts_ns = snap.now_ns
        engine.last_enq_seq = snap.last_enq_seq
        engine._drained_seq = snap.seq
        engine.fault = snap.fault
        rebuild(engine.book, snap)
        digest = engine.state_hash()
        if digest != snap.state_hash:
            raise ValueError(
                f"snapshot of {snap.instrument.symbol!r} at enq_seq {snap.last_enq_seq} is"
                f" corrupt: state hash must be {snap.state_hash}, rebuilt book hashes to {digest}"
            )
        engine.validate_internal_state()
        return engine


def _first(item: tuple[int, Order]) -> int:
    return item[0]


def _order_info(o: Order, position: int, ahead: int) -> OrderInfo:
    # What ``Whistle.order`` reports for ``o``: ``position`` 1 = the front of its level
    # (0: a parked stop), ``ahead`` the displayed lots in front of it.
    return OrderInfo(
        order_id=o.order_id,
        account=o.account,
        side=o.side,
        order_type=o.order_type,
        tif=o.tif,
        price_ticks=o.price,
        stop_price_ticks=o.stop_price,
        leaves_qty_lots=o.qty + o.hidden,
        displayed_qty_lots=o.qty,
        hidden_qty_lots=o.hidden,
        filled_qty_lots=o.filled,
        original_qty_lots=o.orig_qty,
        queue_position=position,
        queue_ahead_lots=ahead,
        entry_ts_ns=o.entry_ts,
        expire_ts_ns=o.expire_ts,
        parked=o.stop_pending,
    )


# One table for every engine (bound methods per instance would make each engine a
# reference cycle for the garbage collector to chase).
_HANDLERS: Final[dict[type, Callable[[Whistle, Any], None]]] = {
    NewOrder: Whistle._on_new_order,
    CancelOrder: Whistle._on_cancel,
    ModifyOrder: Whistle._on_modify,
    CancelReplace: Whistle._on_replace,
    MassCancel: Whistle._on_mass_cancel,
    HaltTrading: Whistle._on_halt,
    ResumeTrading: Whistle._on_resume,
    EndSession: Whistle._on_end_session,
}
