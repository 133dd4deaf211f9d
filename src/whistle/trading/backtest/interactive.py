"""Interactive mode: the recorded orders and the strategy's orders match together in a whistle
matching engine (``whistle.engine.Whistle``), so the strategy has market impact.

``InteractiveExchange`` replaces the queue-model exchanges in the runner (same calls: the
runner's latencies, risk, timeline and result are unchanged). Each recorded event becomes
engine commands, in order:

- ``MboAdd``: a GTC limit order of the *record* account (recorded ids are mapped to engine
  ids); it may trade on arrival with the strategy's resting orders (it crossed them);
- ``MboCancel``: the engine order shrinks by that quantity (a priority-keeping modify),
  or is cancelled when nothing would be left; ``MboDelete``: cancelled;
- ``MboModify``: a priority-keeping decrease as the source says, else a cancel and a new
  order at the back (with the source's new id);
- ``MboExecute``: the unseen aggressor is replayed as an IOC order of the *aggressor*
  account at the execution price for the executed quantity: it meets whatever the engine
  has first at that price or better, so a strategy order ahead of the recorded one (or at
  a better price) is filled first. An execution of a recorded order that no longer exists
  in the engine (the strategy traded with it, or took its place) is skipped and counted;
- ``MboClear``: every recorded order is cancelled; hidden trades (``MboTrade``), status and
  other events send nothing (the engine has no hidden orders of the record).

While the record says trading is halted (book status ``STATUS_HALT`` / ``STATUS_PAUSE``)
the strategy's new orders are REJECTED (``TRADING_HALTED``) like in the other models;
recorded flow during a halt is still replayed here (a record should have none).

Divergence (``Divergence``): recorded executions reproduced exactly (the IOC filled the
recorded order for the whole recorded quantity), skipped (and their quantity), and the
strategy's fills, which the record does not have. The strategy still *sees* the recorded
book (its market data is the record's feed, without its own orders); what trades is the
engine's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, final

from whistle.core.commands import CancelOrder, ModifyOrder, NewOrder
from whistle.core.enums import OrderType, TimeInForce
from whistle.core.events import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
)
from whistle.core.instrument import Instrument
from whistle.core.mbo import (
    NO_PRICE,
    PRIORITY_KEEP,
    PRIORITY_KEEP_ON_DECREASE,
    STATUS_HALT,
    STATUS_PAUSE,
    MboAdd,
    MboCancel,
    MboClear,
    MboDelete,
    MboExecute,
    MboModify,
)
from whistle.engine.whistle import Whistle
from whistle.trading.backtest.result import Divergence
from whistle.trading.messages import OrderUpdate, UpdateKind

if TYPE_CHECKING:
    from whistle.book.mbo import MarketByOrderBook
    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.core.mbo import MboEvent
    from whistle.trading.backtest.fees import FeeModel

__all__ = ["AGGRESSOR_ACCOUNT", "RECORD_ACCOUNT", "InteractiveExchange"]

RECORD_ACCOUNT: Final = 1 << 40
"""The engine account of the recorded resting orders."""
AGGRESSOR_ACCOUNT: Final = (1 << 40) + 1
"""The engine account of the replayed aggressors of recorded executions."""
_LIMIT: Final = int(OrderType.LIMIT)
_GTC: Final = int(TimeInForce.GTC)
_IOC: Final = int(TimeInForce.IOC)


@final
class _Strat:
    """A strategy order in the engine: what an ``OrderUpdate`` needs to say about it."""

    __slots__ = ("coid", "leaves", "price", "qty", "side")

    def __init__(self, coid: int, side: int, price: int, qty: int) -> None:
        self.coid = coid
        self.side = side
        self.price = price
        self.qty = qty
        self.leaves = qty


@final
class InteractiveExchange:
    """The strategy and the record in one engine (module docstring)."""

    model_name = "interactive"
    needs_settle = False

    def __init__(
        self, book: MarketByOrderBook, symbol_id: int, fees: FeeModel, symbol: str, account: int
    ) -> None:
        self.book = book
        self.symbol_id = symbol_id
        self.fees = fees
        self.account = account
        self.engine = Whistle(Instrument(symbol=symbol, symbol_id=symbol_id))
        self.out: list[OrderUpdate] = []
        self.orders: dict[int, _Strat] = {}
        """The strategy's open orders by client order id."""
        self.active = True  # every recorded event goes to the engine
        self.now = 0
        self._enq = 0
        self._next_id = 0
        self._rec: dict[int, int] = {}  # recorded order id -> engine order id
        self._strat_by_engine: dict[int, _Strat] = {}
        self._engine_by_coid: dict[int, int] = {}
        self.recorded_executions = 0
        self.reproduced_executions = 0
        self.skipped_executions = 0
        self.skipped_qty = 0
        self.extra_fills = 0
        self.extra_fill_qty = 0
        self.recorded_adds = 0
        self.refused_commands = 0
        """Recorded commands the engine refused (e.g. a price outside its limits)."""

    # ------------------------------------------------------------------ engine plumbing

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _run(self, command: Command) -> list[Event]:
        self._enq += 1
        events = self.engine.process(self._enq, command, self.now)
        self._translate(events)
        return events

    def _translate(self, events: list[Event]) -> None:
        # Engine events about the strategy's orders -> OrderUpdates.
        strat = self._strat_by_engine
        for ev in events:
            t = type(ev)
            x: Any = ev
            if t is OrderFilled:
                s = strat.get(x.order_id)
                if s is None:
                    continue
                s.leaves = x.leaves_qty_lots
                price = x.price_ticks
                qty = x.qty_lots
                liq = x.liquidity
                fee = self.fees.maker(price, qty) if liq == 1 else self.fees.taker(price, qty)
                self.extra_fills += 1
                self.extra_fill_qty += qty
                self._emit(UpdateKind.FILLED, s, fill_price=price, fill_qty=qty, liq=liq, fee=fee)
                if not s.leaves:
                    self._done(x.order_id, s)
            elif t is OrderAccepted:
                s = strat.get(x.order_id)
                if s is not None:
                    self._emit(UpdateKind.ACCEPTED, s)
            elif t is OrderCancelled or t is OrderExpired:
                s = strat.get(x.order_id)
                if s is None:
                    continue
                s.leaves = 0
                kind = UpdateKind.CANCELLED if t is OrderCancelled else UpdateKind.EXPIRED
                self._emit(kind, s, reason=int(x.cause))
                self._done(x.order_id, s)
            elif t is OrderModified:
                s = strat.get(x.order_id)
                if s is not None:
                    s.price = x.price_ticks
                    s.qty += x.qty_lots - s.leaves
                    s.leaves = x.qty_lots
                    self._emit(UpdateKind.MODIFIED, s)
            elif t is OrderRejected:
                s = strat.get(x.order_id)
                if s is not None:
                    self._emit(UpdateKind.REJECTED, s, reason=int(x.reason))
                    if s.coid not in self.orders:  # a refused new order
                        self._done(x.order_id, s)
                elif x.account == RECORD_ACCOUNT:
                    self.refused_commands += 1

    def _emit(
        self,
        kind: UpdateKind,
        s: _Strat,
        *,
        reason: int = 0,
        fill_price: int = 0,
        fill_qty: int = 0,
        liq: int = 0,
        fee: int = 0,
    ) -> None:
        self.out.append(
            OrderUpdate(
                kind,
                s.coid,
                self.symbol_id,
                s.side,
                s.price,
                s.qty,
                s.leaves,
                fill_price,
                fill_qty,
                liq,
                fee,
                reason,
                "",
                self.now,
                self._engine_by_coid.get(s.coid, 0),
            )
        )

    def _done(self, engine_id: int, s: _Strat) -> None:
        self._strat_by_engine.pop(engine_id, None)
        self._engine_by_coid.pop(s.coid, None)
        self.orders.pop(s.coid, None)

    def _leaves(self, engine_id: int) -> int:
        o = self.engine.book.orders.get(engine_id)
        return o.qty + o.hidden if o is not None else 0

    # ------------------------------------------------------------------ strategy orders

    def new_order(
        self, coid: int, side: int, price: int, qty: int, tif: int, post_only: bool, now: int
    ) -> None:
        """A strategy order arrives at ``now``: it enters the engine."""
        self._advance(now)
        if coid in self.orders:
            from whistle.core.reasons import RejectReason

            s = _Strat(coid, side, price, qty)
            s.leaves = 0
            self._emit(UpdateKind.REJECTED, s, reason=int(RejectReason.DUPLICATE_ORDER_ID))
            return
        if self.book.status in (STATUS_HALT, STATUS_PAUSE):
            from whistle.core.reasons import RejectReason

            s = _Strat(coid, side, price, qty)
            s.leaves = 0
            self._emit(UpdateKind.REJECTED, s, reason=int(RejectReason.TRADING_HALTED))
            return
        eid = self._id()
        s = _Strat(coid, side, price, qty)
        self._strat_by_engine[eid] = s
        self._engine_by_coid[coid] = eid
        command = NewOrder(
            self.symbol_id, eid, self.account, side, _LIMIT, tif, price, qty, post_only=post_only
        )
        self._enq += 1
        events = self.engine.process(self._enq, command, self.now)
        rested = any(type(ev) is OrderAccepted for ev in events)
        if rested:
            self.orders[coid] = s  # before the fills: a full fill removes it again
        self._translate(events)

    def cancel(self, coid: int, now: int) -> None:
        """A strategy cancel arrives at ``now``."""
        self._advance(now)
        eid = self._engine_by_coid.get(coid)
        if eid is None:
            self._reject_unknown(coid)
            return
        self._run(CancelOrder(self.symbol_id, eid, self.account))

    def modify(self, coid: int, price: int, qty: int, now: int) -> None:
        """A strategy modify arrives at ``now`` (engine rules: a decrease keeps priority)."""
        self._advance(now)
        eid = self._engine_by_coid.get(coid)
        if eid is None:
            self._reject_unknown(coid)
            return
        self._run(ModifyOrder(self.symbol_id, eid, price, qty, self.account))

    def _reject_unknown(self, coid: int) -> None:
        from whistle.core.reasons import RejectReason

        s = _Strat(coid, 0, 0, 0)
        s.leaves = 0
        self._emit(UpdateKind.REJECTED, s, reason=int(RejectReason.UNKNOWN_ORDER_ID))

    def _advance(self, now: int) -> None:
        if now > self.now:
            self.now = now

    # ------------------------------------------------------------------ recorded events

    def observe(self, e: MboEvent) -> None:
        """Turn recorded event ``e`` into engine commands (module docstring)."""
        self._advance(e.ts_ns)
        t = type(e)
        x: Any = e
        sid = self.symbol_id
        rec = self._rec
        if t is MboAdd:
            self.recorded_adds += 1
            if x.side not in (1, 2) or x.qty <= 0 or x.price == NO_PRICE:
                return
            eid = self._id()
            rec[x.order_id] = eid
            self._run(NewOrder(sid, eid, RECORD_ACCOUNT, x.side, _LIMIT, _GTC, x.price, x.qty))
        elif t is MboCancel or t is MboDelete:
            eid = rec.get(x.order_id, 0)
            left = self._leaves(eid) if eid else 0
            if not left:
                rec.pop(x.order_id, None)
                return
            if t is MboCancel and x.qty < left:
                self._run(ModifyOrder(sid, eid, 0, left - x.qty, RECORD_ACCOUNT))
            else:
                del rec[x.order_id]
                self._run(CancelOrder(sid, eid, RECORD_ACCOUNT))
        elif t is MboModify:
            self._on_modify(x)
        elif t is MboExecute:
            self._on_execute(x)
        elif t is MboClear:
            for eid in rec.values():
                if self._leaves(eid):
                    self._run(CancelOrder(sid, eid, RECORD_ACCOUNT))
            rec.clear()

    def _on_modify(self, x: MboModify) -> None:
        sid = self.symbol_id
        eid = self._rec.pop(x.order_id, 0)
        o = self.engine.book.orders.get(eid) if eid else None
        if o is None:
            return
        price = x.price if x.price != NO_PRICE else o.price
        left = o.qty + o.hidden
        keep = price == o.price and (
            x.priority == PRIORITY_KEEP
            or (x.priority == PRIORITY_KEEP_ON_DECREASE and x.qty <= left)
        )
        if keep and x.qty <= left:
            self._rec[x.new_order_id] = eid
            if x.qty < left:
                self._run(ModifyOrder(sid, eid, 0, x.qty, RECORD_ACCOUNT))
            return
        side = o.side
        self._run(CancelOrder(sid, eid, RECORD_ACCOUNT))
        if x.qty > 0:
            nid = self._id()
            self._rec[x.new_order_id] = nid
            self._run(NewOrder(sid, nid, RECORD_ACCOUNT, side, _LIMIT, _GTC, price, x.qty))

    def _on_execute(self, x: MboExecute) -> None:
        self.recorded_executions += 1
        eid = self._rec.get(x.order_id, 0)
        o = self.engine.book.orders.get(eid) if eid else None
        if o is None:
            self.skipped_executions += 1
            self.skipped_qty += x.qty
            self._rec.pop(x.order_id, None)
            return
        price = x.price if x.price != NO_PRICE else o.price
        aggressor = 3 - o.side
        events = self._run(
            NewOrder(
                self.symbol_id, self._id(), AGGRESSOR_ACCOUNT, aggressor, _LIMIT, _IOC, price, x.qty
            )
        )
        got = sum(ev.qty_lots for ev in events if type(ev) is OrderFilled and ev.order_id == eid)
        if got == x.qty:
            self.reproduced_executions += 1
        else:
            self.skipped_executions += 1
            self.skipped_qty += x.qty - got
        if not self._leaves(eid):
            self._rec.pop(x.order_id, None)

    def settle(self) -> None:
        """Nothing to do after the recorded book applied the event."""

    def divergence(self) -> Divergence:
        """Return how far the engine moved from the record so far."""
        return Divergence(
            self.recorded_executions,
            self.reproduced_executions,
            self.skipped_executions,
            self.skipped_qty,
            self.extra_fills,
            self.extra_fill_qty,
            self.recorded_adds,
        )
