"""The strategy's context: its clock, book, position, open orders, timers and actions.

One ``Context`` per strategy per symbol; the runtime owns it:

1. before a callback it sets ``ctx.now_ns`` (and refreshes ``ctx.book``);
2. it calls the callback; the strategy acts (``buy`` / ``sell`` / ``submit`` / ``cancel`` /
   ``modify`` / ``cancel_all`` / ``set_timer`` / ``after`` / ``log``);
3. it takes the ``SignalEvent`` s those actions produced with ``drain_signals()`` (in the
   order they were made) and sends them to risk;
4. each ``OrderUpdate`` of the strategy's orders goes to ``apply_update(update)`` first
   (open orders, ledger), then to ``on_order_update``;
5. ``due_timers(now_ns)`` pops the timers that are due, in (time, set order) order;
   ``next_timer_ns()`` says when the next one is.

Client order ids are deterministic: ``order_id_base + 1``, ``+ 2``, ... in the order the
strategy submits, where ``order_id_base`` defaults to ``strategy_id << 32`` (strategy 0: 1,
2, 3 ...). They are unique per context; a runtime that gives one strategy several symbols
(several contexts) on one account must give each context its own ``strategy_id`` or
``order_id_base``, since risk and the gateway key orders by (account, client order id).

Bad actions (documented here, tested in tests/unit/trading/test_context.py):

- a quantity or price that is an int but not positive, or above ``whistle.core.limits``
  (``qty <= 0``, ``price <= 0``): the signal is sent as given and the risk stage refuses it
  with ``RiskReason.MALFORMED``; the strategy gets a REJECTED ``OrderUpdate`` (the order is
  in ``open_orders`` as PENDING_NEW until then). That is what risk checks anyway, and a
  strategy learns of it the way it learns of every refusal;
- a value of the wrong type (a float, bool or str quantity or price, a ``post_only`` that
  is not a bool, a ``side`` that is not a ``Side``, a ``tif`` that is not a
  ``TimeInForce``): ``TypeError`` at the call, nothing sent (a bug in the strategy: the
  runtime stops it with a ``StrategyError``); an int too large for the signed 64-bit
  record is a ``ValueError``;
- ``cancel`` / ``modify`` of a client order id that is not open (unknown, already done, or
  with a cancel already sent): ``False``, nothing sent;
- ``modify`` with neither a new quantity nor a new price (``None`` or 0 both mean
  "unchanged", as in ``whistle.core.ModifyOrder``): ``False``, nothing sent; a negative one is
  sent and refused by risk (MALFORMED).

Order states are a transition table (``TRANSITIONS``), keyed by (state, trigger) where the
trigger is the update's kind, a FILLED update split into PARTIAL (leaves > 0) and FILL
(leaves 0), a CANCELLED update with leaves > 0 (a reduction) into REDUCED, and a REJECTED
update into REFUSED when the order has a cancel or modify unanswered (``pending``) and
REJECTED when it has none. A REFUSED answers the *newest* pending request, and the order
stays as it was: every request gets exactly one answer (risk refuses it, or the gateway
answers it, a cancel or modify of an order that is gone included), but a refusal by risk
may overtake the gateway's answers to earlier requests in a multi-process pipeline, so
only when nothing else is pending can a REJECTED of a PENDING_NEW order be the new
order's own refusal. (Newest, not oldest: a cancel is always the last request, and taking
a modify's refusal for the cancel's costs at most a second cancel, while the other way
round would leave a cancel marked pending for good.) An update the table does not allow
raises ``OrderStateError``; an update for a client order id that is not open is ignored
by ``open_orders`` (counted in ``unmatched_updates``) but its fill still goes to the
ledger: money is money.

A refusal saying the order is not known downstream (``RiskReason.UNKNOWN_ORDER``, the
venue's ``RejectReason.UNKNOWN_ORDER_ID``) is the trigger UNKNOWN and ends the order, pending
or not: a PENDING_NEW order whose new request never reached risk or the venue (a runtime
that dropped it, a refusal that was lost) is REJECTED, a live one the venue no longer knows
is CANCELLED. A fill of it that comes later still reaches the ledger.
"""

from __future__ import annotations

import heapq
from collections import deque
from enum import IntEnum, unique
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, final

import msgspec

from whistle.core.enums import Side, TimeInForce
from whistle.core.reasons import RejectReason
from whistle.trading.accounting import Ledger
from whistle.trading.errors import OrderStateError
from whistle.trading.messages import RiskReason, SignalEvent, SignalKind, UpdateKind
from whistle.trading.strategy import BookView

if TYPE_CHECKING:
    from collections.abc import Mapping

    from whistle.trading.messages import OrderUpdate

__all__ = [
    "TRANSITIONS",
    "Context",
    "OpenOrder",
    "OrderState",
    "PnL",
    "Trigger",
]

_I64_MAX: Final = (1 << 63) - 1
_I64_MIN: Final = -(1 << 63)
_MAX_LOG: Final = 1000


@unique
class OrderState(IntEnum):
    """Where one of the strategy's orders is in its life."""

    PENDING_NEW = 1
    """Sent; neither accepted nor refused yet."""
    OPEN = 2
    """Accepted and resting, nothing filled."""
    PARTIALLY_FILLED = 3
    """Accepted, partly filled, the rest open."""
    FILLED = 4
    """Done: filled completely."""
    CANCELLED = 5
    """Done: cancelled (by the strategy, risk's kill switch, IOC remainder, self-trade)."""
    REJECTED = 6
    """Done: refused by risk or the venue."""
    EXPIRED = 7
    """Done: a GTD or DAY order expired."""


@unique
class Trigger(IntEnum):
    """What an ``OrderUpdate`` does to an order: its kind, with fills and cancels split."""

    ACCEPTED = 1
    PARTIAL = 2
    """A FILLED update that leaves quantity open."""
    FILL = 3
    """A FILLED update that leaves nothing."""
    CANCELLED = 4
    REDUCED = 5
    """A CANCELLED update that leaves quantity open (part of the order was taken away)."""
    REJECTED = 6
    """A REJECTED update while no cancel or modify is pending: the order's own refusal."""
    EXPIRED = 7
    MODIFIED = 8
    REFUSED = 9
    """A REJECTED update while a cancel or modify is pending: that request was refused."""
    UNKNOWN = 10
    """A REJECTED update saying the order is unknown downstream: it is gone."""


_P = OrderState.PENDING_NEW
_O = OrderState.OPEN
_F = OrderState.PARTIALLY_FILLED

TRANSITIONS: Final[Mapping[tuple[OrderState, Trigger], OrderState]] = {
    (_P, Trigger.ACCEPTED): _O,
    (_P, Trigger.PARTIAL): _F,  # a venue that reports a fill before (or without) the ack
    (_P, Trigger.FILL): OrderState.FILLED,
    (_P, Trigger.CANCELLED): OrderState.CANCELLED,
    (_P, Trigger.REDUCED): _O,
    (_P, Trigger.REJECTED): OrderState.REJECTED,
    (_P, Trigger.REFUSED): _P,
    (_P, Trigger.UNKNOWN): OrderState.REJECTED,
    (_P, Trigger.EXPIRED): OrderState.EXPIRED,
    (_O, Trigger.PARTIAL): _F,
    (_O, Trigger.FILL): OrderState.FILLED,
    (_O, Trigger.CANCELLED): OrderState.CANCELLED,
    (_O, Trigger.REDUCED): _O,
    (_O, Trigger.REFUSED): _O,  # a cancel or modify was refused: the order stays
    (_O, Trigger.REJECTED): _O,  # a request the context did not make (a kill-switch cancel)
    (_O, Trigger.UNKNOWN): OrderState.CANCELLED,
    (_O, Trigger.EXPIRED): OrderState.EXPIRED,
    (_O, Trigger.MODIFIED): _O,
    (_F, Trigger.PARTIAL): _F,
    (_F, Trigger.FILL): OrderState.FILLED,
    (_F, Trigger.CANCELLED): OrderState.CANCELLED,
    (_F, Trigger.REDUCED): _F,
    (_F, Trigger.REFUSED): _F,
    (_F, Trigger.REJECTED): _F,
    (_F, Trigger.UNKNOWN): OrderState.CANCELLED,
    (_F, Trigger.EXPIRED): OrderState.EXPIRED,
    (_F, Trigger.MODIFIED): _F,
}
"""(state, trigger) -> next state. Anything missing is an ``OrderStateError``."""

_DONE: Final = frozenset(
    {OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED}
)
_SIMPLE: Final = {
    UpdateKind.ACCEPTED: Trigger.ACCEPTED,
    UpdateKind.EXPIRED: Trigger.EXPIRED,
    UpdateKind.MODIFIED: Trigger.MODIFIED,
}
_TIFS: Final = {int(m): m for m in TimeInForce}
# "No such order" from risk (6010) or the venue (3001): the codes do not overlap elsewhere.
_UNKNOWN_ORDER: Final = frozenset(
    {int(RiskReason.UNKNOWN_ORDER), int(RejectReason.UNKNOWN_ORDER_ID)}
)


@final
class OpenOrder:
    """One of the strategy's live orders, as the context knows it (read it, do not set it).

    ``qty`` is the order's quantity (after a modify: filled + the new remaining quantity),
    ``leaves_qty`` what is still open, ``filled_qty`` what has traded. ``pending_cancel``
    says a cancel was sent and not answered; ``pending_modifies`` counts modifies sent and
    not answered (``pending`` lists both kinds, oldest first).
    """

    __slots__ = (
        "client_order_id",
        "filled_qty",
        "leaves_qty",
        "pending",
        "post_only",
        "price",
        "qty",
        "side",
        "state",
        "tif",
        "ts_ns",
    )

    def __init__(
        self,
        client_order_id: int,
        side: Side,
        price: int,
        qty: int,
        tif: TimeInForce,
        post_only: bool,
        ts_ns: int,
    ) -> None:
        self.client_order_id = client_order_id
        self.side = side
        self.price = price
        self.qty = qty
        self.leaves_qty = qty
        self.filled_qty = 0
        self.state = OrderState.PENDING_NEW
        self.tif = tif
        self.post_only = post_only
        self.ts_ns = ts_ns
        """When the strategy submitted it."""
        self.pending: list[SignalKind] = []
        """Cancels and modifies sent and not yet answered, oldest first."""

    @property
    def pending_cancel(self) -> bool:
        """Return whether a cancel was sent and not answered."""
        return SignalKind.CANCEL in self.pending

    @property
    def pending_modifies(self) -> int:
        """Return how many modifies were sent and not answered."""
        return self.pending.count(SignalKind.MODIFY)

    def __repr__(self) -> str:
        return (
            f"OpenOrder(coid={self.client_order_id}, {self.side.name} {self.leaves_qty}/"
            f"{self.qty} @ {self.price}, {self.state.name})"
        )


class PnL(msgspec.Struct, frozen=True, gc=False):
    """Profit and loss in tick-lots: ``total = realised + unrealised - fees``."""

    realised: int
    unrealised: int
    fees: int
    total: int


def _int_arg(name: str, value: object) -> int:
    # An int that fits the 64-bit records; a bool or a float is not an int.
    if type(value) is not int:
        if isinstance(value, int) and not isinstance(value, bool):
            value = int(value)
        else:
            raise TypeError(f"{name} must be an int, was {type(value).__name__} ({value!r})")
    if not _I64_MIN <= value <= _I64_MAX:
        raise ValueError(
            f"{name} must fit a signed 64-bit int, was an int of {value.bit_length()} bits"
        )
    return value


@final
class Context:
    """A strategy's view of and handle on one symbol (see the module docstring)."""

    def __init__(
        self,
        symbol: str,
        symbol_id: int,
        account: int = 0,
        strategy_id: int = 0,
        *,
        order_id_base: int | None = None,
        ledger: Ledger | None = None,
        now_ns: int = 0,
    ) -> None:
        for name, value, high in (
            ("symbol_id", symbol_id, (1 << 32) - 1),
            ("account", account, _I64_MAX),
            ("strategy_id", strategy_id, (1 << 31) - 1),
        ):
            if type(value) is not int:
                raise TypeError(f"{name} must be an int, was {type(value).__name__}")
            if not 0 <= value <= high:
                raise ValueError(f"{name} must be in 0..{high}, was {value}")
        base = strategy_id << 32 if order_id_base is None else order_id_base
        if type(base) is not int or not 0 <= base < _I64_MAX:
            raise ValueError(f"order_id_base must be an int in 0..{_I64_MAX - 1}, was {base!r}")
        self.symbol = symbol
        self.symbol_id = symbol_id
        self.account = account
        self.strategy_id = strategy_id
        self.now_ns = now_ns
        """The current time (ns), set by the runtime before every callback."""
        self.book = BookView(symbol_id, now_ns)
        """The symbol's book as of the last market event (the runtime refreshes it)."""
        self.ledger = ledger if ledger is not None else Ledger(symbol_id)
        self._orders: dict[int, OpenOrder] = {}
        self._orders_view: Mapping[int, OpenOrder] = MappingProxyType(self._orders)
        self._signals: list[SignalEvent] = []
        self._timers: list[tuple[int, int, int]] = []
        self._timer_seq = 0
        self._next_id = base
        self.logs: deque[tuple[int, str]] = deque(maxlen=_MAX_LOG)
        """The last ``log`` messages as (now_ns, text); the runtime may print or drop them."""
        self.unmatched_updates = 0
        """Updates for client order ids that were not open (ignored by ``open_orders``)."""

    # ------------------------------------------------------------------ reading

    @property
    def position(self) -> int:
        """Return the signed position in lots (long > 0)."""
        return self.ledger.position

    @property
    def open_orders(self) -> Mapping[int, OpenOrder]:
        """Return the live orders by client order id (a read-only view, in submission order)."""
        return self._orders_view

    def pnl(self, mark: int | None = None) -> PnL:
        """Return realised, unrealised (marked at ``mark``), fees and total PnL in tick-lots.

        With no ``mark``: the mid when both sides have a price (exact: the mean of the
        marks at bid and ask, rounded down), else the side that has one, else 0 unrealised.
        """
        ledger = self.ledger
        if mark is not None:
            unrealised = ledger.unrealised(_int_arg("mark", mark))
        else:
            bid = self.book.best_bid
            ask = self.book.best_ask
            if bid and ask:
                unrealised = (ledger.unrealised(bid) + ledger.unrealised(ask)) // 2
            elif bid or ask:
                unrealised = ledger.unrealised(bid or ask)
            else:
                unrealised = 0
        realised = ledger.realised
        fees = ledger.fees
        return PnL(realised, unrealised, fees, realised + unrealised - fees)

    # ------------------------------------------------------------------ actions

    def buy(
        self, qty: int, price: int, tif: TimeInForce = TimeInForce.DAY, post_only: bool = False
    ) -> int:
        """Send a buy limit order; return its client order id."""
        return self.submit(Side.BUY, qty, price, tif, post_only)

    def sell(
        self, qty: int, price: int, tif: TimeInForce = TimeInForce.DAY, post_only: bool = False
    ) -> int:
        """Send a sell limit order; return its client order id."""
        return self.submit(Side.SELL, qty, price, tif, post_only)

    def submit(
        self,
        side: Side,
        qty: int,
        price: int,
        tif: TimeInForce = TimeInForce.DAY,
        post_only: bool = False,
    ) -> int:
        """Send a limit order (``side`` BUY or SELL); return its client order id."""
        if type(side) is not Side:
            if type(side) is int and side in (1, 2):
                side = Side(side)
            else:
                raise TypeError(f"side must be a Side, was {side!r}")
        if type(qty) is not int or not _I64_MIN <= qty <= _I64_MAX:
            qty = _int_arg("qty", qty)
        if type(price) is not int or not _I64_MIN <= price <= _I64_MAX:
            price = _int_arg("price", price)
        tif_m = _TIFS.get(tif) if type(tif) is TimeInForce or type(tif) is int else None
        if tif_m is None:
            raise TypeError(f"tif must be a TimeInForce, was {tif!r}")
        if post_only is not True and post_only is not False:
            raise TypeError(f"post_only must be a bool, was {post_only!r}")
        coid = self._next_id + 1
        self._next_id = coid
        now = self.now_ns
        self._orders[coid] = OpenOrder(coid, side, price, qty, tif_m, post_only, now)
        self._signals.append(
            SignalEvent(
                SignalKind.BUY if side is Side.BUY else SignalKind.SELL,
                self.strategy_id,
                self.symbol_id,
                coid,
                price,
                qty,
                tif_m,
                post_only,
                now,
            )
        )
        return coid

    def cancel(self, client_order_id: int) -> bool:
        """Ask to cancel an open order; ``False`` (nothing sent) if it is not open or a
        cancel is already pending."""
        if type(client_order_id) is not int:
            raise TypeError(f"client_order_id must be an int, was {client_order_id!r}")
        order = self._orders.get(client_order_id)
        if order is None or order.pending_cancel:
            return False
        order.pending.append(SignalKind.CANCEL)
        self._signals.append(
            SignalEvent(
                SignalKind.CANCEL,
                self.strategy_id,
                self.symbol_id,
                client_order_id,
                0,
                0,
                0,
                False,
                self.now_ns,
            )
        )
        return True

    def modify(
        self, client_order_id: int, qty: int | None = None, price: int | None = None
    ) -> bool:
        """Ask to change an open order's remaining quantity and/or price.

        ``qty`` is the new *remaining* quantity (as in ``whistle.core.ModifyOrder``); ``None``
        or 0 leaves a field unchanged. ``False`` (nothing sent) when the order is not open,
        a cancel is pending, or nothing would change.
        """
        if type(client_order_id) is not int:
            raise TypeError(f"client_order_id must be an int, was {client_order_id!r}")
        new_qty = 0 if qty is None else _int_arg("qty", qty)
        new_price = 0 if price is None else _int_arg("price", price)
        order = self._orders.get(client_order_id)
        if order is None or order.pending_cancel:
            return False
        if (new_qty == 0 or new_qty == order.leaves_qty) and (
            new_price == 0 or new_price == order.price
        ):
            return False
        order.pending.append(SignalKind.MODIFY)
        self._signals.append(
            SignalEvent(
                SignalKind.MODIFY,
                self.strategy_id,
                self.symbol_id,
                client_order_id,
                new_price,
                new_qty,
                0,
                False,
                self.now_ns,
            )
        )
        return True

    def cancel_all(self) -> int:
        """Ask to cancel every open order; return how many cancels were sent."""
        sent = 0
        for coid in list(self._orders):
            if self.cancel(coid):
                sent += 1
        return sent

    def set_timer(self, at_ns: int, tag: int = 0) -> None:
        """Call ``on_timer(ctx, tag)`` once the clock reaches ``at_ns`` (a past time: next)."""
        at_ns = _int_arg("at_ns", at_ns)
        tag = _int_arg("tag", tag)
        self._timer_seq += 1
        heapq.heappush(self._timers, (at_ns, self._timer_seq, tag))

    def after(self, delta_ns: int, tag: int = 0) -> None:
        """Call ``on_timer(ctx, tag)`` ``delta_ns`` from now (``delta_ns`` >= 0)."""
        delta_ns = _int_arg("delta_ns", delta_ns)
        if delta_ns < 0:
            raise ValueError(f"delta_ns must be >= 0, was {delta_ns}")
        self.set_timer(min(self.now_ns + delta_ns, _I64_MAX), tag)

    def cancel_timers(self, tag: int) -> int:
        """Drop every pending timer with ``tag``; return how many were dropped."""
        kept = [t for t in self._timers if t[2] != tag]
        dropped = len(self._timers) - len(kept)
        if dropped:
            heapq.heapify(kept)
            self._timers = kept
        return dropped

    def log(self, msg: str) -> None:
        """Keep a message (with ``now_ns``) in ``logs``; no I/O on the strategy's path."""
        self.logs.append((self.now_ns, str(msg)))

    # ------------------------------------------------------------------ runtime side

    def drain_signals(self) -> list[SignalEvent]:
        """Return the signals made since the last call, in order, and forget them."""
        signals = self._signals
        if not signals:
            return []
        self._signals = []
        return signals

    def next_timer_ns(self) -> int | None:
        """Return when the next timer is due, or None when none is set."""
        timers = self._timers
        return timers[0][0] if timers else None

    def due_timers(self, now_ns: int) -> list[int]:
        """Pop the timers due at ``now_ns`` (at_ns <= now_ns) and return their tags in
        (at_ns, set order) order. Timers set while handling them wait for the next call."""
        timers = self._timers
        if not timers or timers[0][0] > now_ns:
            return []
        tags: list[int] = []
        pop = heapq.heappop
        while timers and timers[0][0] <= now_ns:
            tags.append(pop(timers)[2])
        return tags

    def apply_update(self, update: OrderUpdate) -> OpenOrder | None:
        """Apply one of the strategy's order updates to ``open_orders`` and the ledger.

        Return the order it applied to (its new state in ``state``; a done order has left
        ``open_orders``), or None when the client order id was not open. Raises
        ``OrderStateError`` for an update its order's state cannot take.
        """
        kind = update.kind
        coid = update.client_order_id
        order = self._orders.get(coid)
        if kind == UpdateKind.FILLED:
            side = update.side or (order.side if order is not None else 0)
            if side not in (1, 2):
                raise OrderStateError(
                    f"FILLED update for client order id {coid} has no side and matches no"
                    " open order"
                )
            self.ledger.fill(Side(side), update.fill_price, update.fill_qty, update.fee)
        if order is None:
            self.unmatched_updates += 1
            return None
        if kind == UpdateKind.FILLED:
            trigger = Trigger.PARTIAL if update.leaves_qty > 0 else Trigger.FILL
        elif kind == UpdateKind.CANCELLED:
            trigger = Trigger.REDUCED if update.leaves_qty > 0 else Trigger.CANCELLED
        elif kind == UpdateKind.REJECTED:
            if update.reason in _UNKNOWN_ORDER:
                trigger = Trigger.UNKNOWN
            else:
                trigger = Trigger.REFUSED if order.pending else Trigger.REJECTED
        else:
            trigger = _SIMPLE[kind]
        state = TRANSITIONS.get((order.state, trigger))
        if state is None:
            raise OrderStateError(
                f"client order id {coid}: a {UpdateKind(kind).name} update"
                f" ({trigger.name}) cannot follow state {order.state.name}"
            )
        if trigger is Trigger.PARTIAL or trigger is Trigger.FILL:
            order.filled_qty += update.fill_qty
            order.leaves_qty = update.leaves_qty
        elif trigger is Trigger.REDUCED:
            order.leaves_qty = update.leaves_qty
            order.qty = order.filled_qty + update.leaves_qty
        elif trigger is Trigger.MODIFIED:
            if update.price:
                order.price = update.price
            order.leaves_qty = update.leaves_qty
            order.qty = order.filled_qty + update.leaves_qty
            pending = order.pending
            if SignalKind.MODIFY in pending:
                pending.remove(SignalKind.MODIFY)  # the oldest modify took effect
        elif trigger is Trigger.REFUSED:
            order.pending.pop()  # the newest request (module docstring); a cancel may be resent
        elif trigger is Trigger.UNKNOWN:
            order.pending.clear()
        elif trigger is Trigger.ACCEPTED:
            order.leaves_qty = update.leaves_qty or order.leaves_qty
        order.state = state
        if state in _DONE:
            order.leaves_qty = 0
            del self._orders[coid]
        return order
