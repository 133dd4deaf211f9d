"""The backtest exchange: the strategy's orders against a recorded order-level book.

``BacktestExchange`` holds the strategy's simulated orders and watches the recorded book
(a ``MarketByOrderBook`` that the runner feeds). The runner calls, for every recorded
event, ``observe(e)`` *before* ``book.apply(e)`` (the book still shows the state the event
acts on) and ``settle()`` after it; ``new_order`` / ``cancel`` / ``modify`` when a
strategy's order arrives at the exchange (after its latency). Everything the exchange does
becomes an ``OrderUpdate`` in ``out`` (stamped with the exchange time), which the runner
drains and delivers after the ack latency.

The non-interactive assumption: the record is never changed by the strategy. A recorded
order the strategy's aggressive order traded with stays in the recorded book (and in the
strategy's view of it); what was taken from it is *hidden*: counted in ``consumed`` and
never traded again by the strategy, until the record itself removes the order. Market
impact is not modelled here (see ``whistle.trading.backtest.interactive``).

Rules shared by every queue model (``FifoExchange`` for L3 data, ``L2Exchange``):

- a new order that crosses the recorded book takes liquidity at arrival: the opposite
  levels best first, each level's recorded orders in queue order, at their prices
  (taker); IOC / FOK remainders are cancelled (``CancelCause.IOC_REMAINDER``), a FOK that
  cannot fill whole and a post-only that would take are rejected (core ``RejectReason``);
  the rest rests at the back of its price level;
- a resting order is filled (maker, at its own price) by recorded aggressive flow that
  reaches it: executions on its side at its price once nothing is ahead of it, executions
  or trades at a price worse for it (a trade through), and recorded orders of the other
  side that arrive at or through its price (a crossing add or modify: its quantity is the
  flow, and what filled the strategy is hidden from it afterwards);
- cancel and modify: a modify that keeps the price and does not raise the quantity keeps
  the queue position; any other modify is a cancel and a new arrival at the back (which may
  take liquidity); a modify or cancel of an order that is not open is rejected
  (``UNKNOWN_ORDER_ID``); a modify changing nothing is ``MODIFY_NO_CHANGE``;
- a crossed or locked recorded book (best bid >= best ask: stale or inconsistent data,
  R1 finding 6): an aggressive order never takes recorded liquidity through the opposite
  recorded best: a buy takes only asks at or above the best recorded bid, a sell only
  bids at or below the best recorded ask (the recorded orders a real venue would already
  have matched with each other are not there for the strategy). A locked book changes
  nothing (every ask is >= the bid); a crossed one leaves only its overlap edge. Each
  strategy order that arrives (new, or a price-changing modify) reaching the opposite
  recorded best while the book is crossed or locked is counted in
  ``crossed_book_orders`` (``BacktestResult.crossed_book_orders``);
- a recorded trading halt (the book's last status ``STATUS_HALT`` or ``STATUS_PAUSE``,
  until ``STATUS_RESUME`` / ``STATUS_OPEN``): new orders and modifies that are not a
  same-price reduction are REJECTED with core ``RejectReason.TRADING_HALTED`` (cancels and
  reductions go through, as on a real venue), and no recorded event fills a resting
  strategy order (a record should carry no flow during a halt; if it does, it fills
  nothing; the queue bookkeeping still counts it);
- the exchange never matches the strategy with itself (risk's ``SELF_CROSS`` check keeps
  such orders out), supports GTC / DAY / IOC / FOK (GTD needs an expiry that a signal does
  not carry: rejected ``GTD_MISSING_EXPIRY``) and leaves open orders open at the end.

``FifoExchange`` (queue model ``"fifo"``, L3 / MBO data) keeps exact queue position: an
order arriving at a level is behind exactly the recorded orders resting there (their
quantities, less what the strategy has taken from them); a recorded execution, cancel or
delete of one of those advances it by exactly that quantity; priority-losing modifies of
orders ahead move them behind it, priority-keeping decreases advance it by the decrease;
orders arriving later are behind it and never delay it. An execution of a recorded order
*behind* it means the aggressor would have met it first: it fills (after what is still
counted ahead, in FIFO order). Several strategy orders at one level queue in arrival
order: each is behind the recorded orders ahead of it and the strategy's earlier orders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, final

from whistle.core.enums import CancelCause, Liquidity, TimeInForce
from whistle.core.mbo import (
    NO_PRICE,
    PRIORITY_KEEP,
    PRIORITY_KEEP_ON_DECREASE,
    STATUS_HALT,
    STATUS_PAUSE,
    TRADE_HIDDEN,
    MboAdd,
    MboCancel,
    MboClear,
    MboDelete,
    MboExecute,
    MboModify,
    MboTrade,
)
from whistle.core.reasons import RejectReason
from whistle.trading.messages import OrderUpdate, UpdateKind

if TYPE_CHECKING:
    from whistle.book.mbo import MarketByOrderBook, MboLevel
    from whistle.core.mbo import MboEvent
    from whistle.trading.backtest.fees import FeeModel

__all__ = ["BacktestExchange", "FifoExchange", "SimOrder"]

BUY: Final = 1
SELL: Final = 2
_MAKER: Final = int(Liquidity.MAKER)
_TAKER: Final = int(Liquidity.TAKER)
_IOC: Final = int(TimeInForce.IOC)
_FOK: Final = int(TimeInForce.FOK)
_GTD: Final = int(TimeInForce.GTD)
_TIFS: Final = frozenset(int(t) for t in TimeInForce)
_ACCEPTED: Final = UpdateKind.ACCEPTED
_FILLED: Final = UpdateKind.FILLED
_CANCELLED: Final = UpdateKind.CANCELLED
_REJECTED: Final = UpdateKind.REJECTED
_MODIFIED: Final = UpdateKind.MODIFIED
_C_USER: Final = int(CancelCause.USER)
_C_IOC: Final = int(CancelCause.IOC_REMAINDER)

_ADD: Final = MboAdd
_CANCEL: Final = MboCancel
_DELETE: Final = MboDelete
_EXECUTE: Final = MboExecute
_MODIFY: Final = MboModify
_TRADE: Final = MboTrade
_CLEAR: Final = MboClear
_HALTED: Final = frozenset((STATUS_HALT, STATUS_PAUSE))


@final
class SimOrder:
    """One of the strategy's orders inside the exchange.

    ``ahead`` is, for the FIFO model, the recorded orders counted ahead of it that are not
    ahead of an earlier strategy order at the same level ({recorded id: qty}, queue order);
    ``ahead_qty`` their total. The L2 models use ``ahead_qty`` alone.
    """

    __slots__ = (
        "ahead",
        "ahead_qty",
        "client_order_id",
        "entered_ns",
        "filled",
        "leaves",
        "post_only",
        "price",
        "qty",
        "side",
        "tif",
        "venue_order_id",
    )

    def __init__(
        self,
        client_order_id: int,
        side: int,
        price: int,
        qty: int,
        tif: int,
        post_only: bool,
        venue_order_id: int,
        entered_ns: int,
    ) -> None:
        self.client_order_id = client_order_id
        self.side = side
        self.price = price
        self.qty = qty
        self.leaves = qty
        self.filled = 0
        self.tif = tif
        self.post_only = post_only
        self.venue_order_id = venue_order_id
        self.entered_ns = entered_ns
        self.ahead: dict[int, int] = {}
        self.ahead_qty = 0


@final
class _Level:
    """The strategy's orders resting at one price (arrival order) and what they know."""

    __slots__ = ("known", "orders", "price", "seen", "side")

    def __init__(self, side: int, price: int) -> None:
        self.side = side
        self.price = price
        self.orders: list[SimOrder] = []
        self.known: set[int] = set()
        """FIFO: recorded ids already placed ahead of one of this level's orders."""
        self.seen = 0
        """L2: the recorded level quantity last seen."""


class BacktestExchange:
    """What every queue model shares: order entry, taking, resting bookkeeping, updates."""

    model_name = "base"
    needs_settle = False
    """True for models whose ``settle`` must run after every applied event."""

    def __init__(self, book: MarketByOrderBook, symbol_id: int, fees: FeeModel) -> None:
        self.book = book
        self.symbol_id = symbol_id
        self.fees = fees
        self.out: list[OrderUpdate] = []
        """Updates produced since the runner last drained them (exchange-time stamped)."""
        self.orders: dict[int, SimOrder] = {}
        """Open orders by client order id (resting ones)."""
        self.bid_levels: dict[int, _Level] = {}
        self.ask_levels: dict[int, _Level] = {}
        self.best_bid = 0
        """The strategy's best resting bid price (0: none)."""
        self.best_ask = 0
        """The strategy's best resting ask price (0: none)."""
        self.active = False
        """True while ``observe`` / ``settle`` have anything to do (resting or hidden
        orders): the runner skips both calls otherwise."""
        self.now = 0
        self._next_venue_id = 0
        self.fill_count = 0
        self.maker_fills = 0
        self.taker_fills = 0
        self.crossed_book_orders = 0
        """Strategy orders that arrived, aggressive, while the recorded book was crossed or
        locked (see the module docstring)."""

    def halted(self) -> bool:
        """Return True while the record says trading is halted (the book's last status is
        ``STATUS_HALT`` or ``STATUS_PAUSE``, until a ``STATUS_RESUME`` / ``STATUS_OPEN``)."""
        return self.book.status in _HALTED

    # ------------------------------------------------------------------ updates

    def _update(
        self,
        kind: UpdateKind,
        o: SimOrder,
        reason: int = 0,
        text: str = "",
        fill_price: int = 0,
        fill_qty: int = 0,
        liquidity: int = 0,
        fee: int = 0,
    ) -> None:
        self.out.append(
            OrderUpdate(
                kind,
                o.client_order_id,
                self.symbol_id,
                o.side,
                o.price,
                o.qty,
                o.leaves,
                fill_price,
                fill_qty,
                liquidity,
                fee,
                reason,
                text,
                self.now,
                o.venue_order_id,
            )
        )

    def _reject(
        self, coid: int, side: int, price: int, qty: int, reason: RejectReason, text: str
    ) -> None:
        self.out.append(
            OrderUpdate(
                _REJECTED,
                coid,
                self.symbol_id,
                side if side in (BUY, SELL) else 0,
                price,
                qty,
                0,
                0,
                0,
                0,
                0,
                int(reason),
                text,
                self.now,
                0,
            )
        )

    def _fill(self, o: SimOrder, price: int, qty: int, liquidity: int) -> None:
        o.leaves -= qty
        o.filled += qty
        fees = self.fees
        fee = fees.maker(price, qty) if liquidity == _MAKER else fees.taker(price, qty)
        self.fill_count += 1
        if liquidity == _MAKER:
            self.maker_fills += 1
        else:
            self.taker_fills += 1
        self._update(_FILLED, o, 0, "", price, qty, liquidity, fee)
        if o.leaves == 0 and o.client_order_id in self.orders:
            self._unrest(o)

    # ------------------------------------------------------------------ order entry

    def new_order(
        self, coid: int, side: int, price: int, qty: int, tif: int, post_only: bool, now: int
    ) -> None:
        """A new order arrives at exchange time ``now``: reject, take, rest (see module doc)."""
        self.now = now
        problem = self._entry_problem(coid, side, price, qty, tif, post_only)
        if problem is not None:
            self._reject(coid, side, price, qty, problem[0], problem[1])
            return
        self._next_venue_id += 1
        o = SimOrder(coid, side, price, qty, tif, post_only, self._next_venue_id, now)
        self._update(_ACCEPTED, o)
        self._enter(o)

    def _entry_problem(
        self, coid: int, side: int, price: int, qty: int, tif: int, post_only: bool
    ) -> tuple[RejectReason, str] | None:
        if coid in self.orders:
            return RejectReason.DUPLICATE_ORDER_ID, f"client order id {coid} is already open"
        if side not in (BUY, SELL):
            return RejectReason.INVALID_SIDE, f"side must be 1 (buy) or 2 (sell), was {side}"
        if qty <= 0:
            return RejectReason.QTY_NOT_POSITIVE, f"qty must be positive, was {qty}"
        if price <= 0 or price == NO_PRICE:
            return RejectReason.PRICE_NOT_POSITIVE, f"price must be positive, was {price}"
        if tif not in _TIFS:
            return RejectReason.INVALID_TIF, f"unknown time in force {tif}"
        if tif == _GTD:
            return RejectReason.GTD_MISSING_EXPIRY, "GTD needs an expiry time; signals carry none"
        if self.halted():
            return RejectReason.TRADING_HALTED, "trading is halted: only cancels are accepted"
        if post_only and tif in (_IOC, _FOK):
            return RejectReason.INVALID_POST_ONLY, "post-only on an IOC or FOK order"
        avail = self.available(side, price, qty)
        if avail and post_only:
            return RejectReason.POST_ONLY_WOULD_TAKE, "post-only order would take liquidity"
        if tif == _FOK and avail < qty:
            return RejectReason.FOK_UNFILLABLE, f"FOK for {qty}, only {avail} available"
        return None

    def _enter(self, o: SimOrder) -> None:
        # Take what crosses, then rest or cancel the remainder.
        book = self.book
        bk = book.bids.best
        ak = book.asks.best
        if -bk >= ak and (o.price >= ak if o.side == BUY else -o.price >= bk):
            self.crossed_book_orders += 1  # both sides exist (empty: bk = ak = INF_KEY)
        if self.available(o.side, o.price, 1):
            self.take(o)
        if o.leaves:
            if o.tif == _IOC or o.tif == _FOK:
                left = o.leaves
                o.leaves = 0
                self._update(_CANCELLED, o, _C_IOC, f"IOC remainder {left}")
            else:
                self._rest(o)

    def cancel(self, coid: int, now: int) -> None:
        """A cancel arrives at exchange time ``now``."""
        self.now = now
        o = self.orders.get(coid)
        if o is None:
            self._reject(
                coid, 0, 0, 0, RejectReason.UNKNOWN_ORDER_ID, f"no open order {coid} to cancel"
            )
            return
        self._unrest(o)
        left = o.leaves
        o.leaves = 0
        self._update(_CANCELLED, o, _C_USER, f"cancelled {left}")

    def modify(self, coid: int, price: int, qty: int, now: int) -> None:
        """A modify arrives at ``now``: ``price`` / ``qty`` (new remaining) 0 = unchanged."""
        self.now = now
        o = self.orders.get(coid)
        if o is None:
            self._reject(
                coid,
                0,
                price,
                qty,
                RejectReason.UNKNOWN_ORDER_ID,
                f"no open order {coid} to modify",
            )
            return
        new_price = price if price > 0 else o.price
        new_qty = qty if qty > 0 else o.leaves
        if price < 0 or qty < 0:
            self._reject(
                coid, o.side, price, qty, RejectReason.VALUE_OUT_OF_RANGE, "negative price or qty"
            )
            return
        if new_price == o.price and new_qty == o.leaves:
            self._reject(
                coid, o.side, price, qty, RejectReason.MODIFY_NO_CHANGE, "modify changes nothing"
            )
            return
        if new_price == o.price and new_qty < o.leaves:  # a reduction: allowed when halted
            o.qty -= o.leaves - new_qty  # keeps its place; qty stays filled + leaves
            o.leaves = new_qty
            self._update(_MODIFIED, o)
            return
        if self.halted():
            self._reject(
                coid,
                o.side,
                price,
                qty,
                RejectReason.TRADING_HALTED,
                "trading is halted: only cancels and reductions are accepted",
            )
            return
        if o.post_only and self.available(o.side, new_price, 1):
            self._reject(
                coid,
                o.side,
                price,
                qty,
                RejectReason.POST_ONLY_WOULD_TAKE,
                "post-only modify would take liquidity",
            )
            return
        self._unrest(o)
        o.price = new_price
        o.qty = o.filled + new_qty
        o.leaves = new_qty
        self._update(_MODIFIED, o)
        self._enter(o)

    # ------------------------------------------------------------------ resting

    def _rest(self, o: SimOrder) -> None:
        levels = self.bid_levels if o.side == BUY else self.ask_levels
        lv = levels.get(o.price)
        if lv is None:
            lv = levels[o.price] = _Level(o.side, o.price)
        self.orders[o.client_order_id] = o
        self.place(o, lv)
        lv.orders.append(o)
        self._refresh_best(o.side)
        self.active = True

    def _unrest(self, o: SimOrder) -> None:
        # Take a resting order out (filled, cancelled or moving): its level keeps its place.
        del self.orders[o.client_order_id]
        levels = self.bid_levels if o.side == BUY else self.ask_levels
        lv = levels[o.price]
        self.displace(o, lv)
        lv.orders.remove(o)
        if not lv.orders:
            del levels[o.price]
            self._refresh_best(o.side)
        self.active = bool(self.orders) or self.hidden()

    def _refresh_best(self, side: int) -> None:
        if side == BUY:
            self.best_bid = max(self.bid_levels) if self.bid_levels else 0
        else:
            self.best_ask = min(self.ask_levels) if self.ask_levels else 0

    def queue_position(self, coid: int) -> tuple[int, int] | None:
        """Return (qty ahead counted, leaves) of the open order ``coid``, or None.

        FIFO: the recorded quantity ahead of it (its own ``ahead`` and that of the strategy's
        earlier orders at the level) plus those earlier orders' leaves."""
        o = self.orders.get(coid)
        if o is None:
            return None
        levels = self.bid_levels if o.side == BUY else self.ask_levels
        ahead = 0
        for other in levels[o.price].orders:
            ahead += other.ahead_qty
            if other is o:
                break
            ahead += other.leaves
        return ahead, o.leaves

    # ------------------------------------------------------------------ per model

    def available(self, side: int, price: int, limit: int) -> int:
        """Return the recorded quantity (up to ``limit``) a ``side`` order at ``price``
        could take now."""
        raise NotImplementedError

    def take(self, o: SimOrder) -> None:
        """Fill ``o`` against the recorded book as far as it crosses (taker)."""
        raise NotImplementedError

    def place(self, o: SimOrder, lv: _Level) -> None:
        """Set the queue position of ``o``, joining the back of ``lv``."""
        raise NotImplementedError

    def displace(self, o: SimOrder, lv: _Level) -> None:
        """``o`` leaves ``lv`` (still in ``lv.orders``): hand on what it tracked."""
        raise NotImplementedError

    def hidden(self) -> bool:
        """Return True while recorded liquidity is hidden (taken by the strategy)."""
        raise NotImplementedError

    def observe(self, e: MboEvent) -> None:
        """Account for recorded event ``e`` before the book applies it."""
        raise NotImplementedError

    def settle(self) -> None:
        """Account for the book's change after the event ``observe`` saw was applied."""


def _book_level(book: MarketByOrderBook, side: int, price: int) -> MboLevel | None:
    return book.bids.levels.get(-price) if side == BUY else book.asks.levels.get(price)


@final
class FifoExchange(BacktestExchange):
    """Exact FIFO queue position on L3 / MBO data (see the module docstring)."""

    model_name = "fifo"

    def __init__(self, book: MarketByOrderBook, symbol_id: int, fees: FeeModel) -> None:
        super().__init__(book, symbol_id, fees)
        self.watch: dict[int, SimOrder] = {}
        """Recorded order id -> the strategy order it is counted ahead of."""
        self.consumed: dict[int, int] = {}
        """Recorded order id -> quantity the strategy took from it (hidden from its fills)."""

    def hidden(self) -> bool:
        """Return True while some recorded order has quantity hidden by the strategy."""
        return bool(self.consumed)

    # ------------------------------------------------------------------ taking

    def available(self, side: int, price: int, limit: int) -> int:
        """Return the recorded quantity (up to ``limit``) crossing a ``side`` order at
        ``price``, less what the strategy already took."""
        if side == BUY:
            opp = self.book.asks
            lim_key = price
            lo = -self.book.bids.best  # crossed book: no ask below the best bid
        else:
            opp = self.book.bids
            lim_key = -price
            lo = -self.book.asks.best  # crossed book: no bid above the best ask
        if opp.best > lim_key or lo > lim_key:
            return 0
        consumed = self.consumed
        got = 0
        levels = opp.levels
        for key in sorted(k for k in levels if lo <= k <= lim_key):
            for rid, q in levels[key].queue.items():
                got += q - consumed.get(rid, 0)
                if got >= limit:
                    return limit
        return got

    def take(self, o: SimOrder) -> None:
        """Take crossing recorded liquidity in price-time order (taker fills)."""
        if o.side == BUY:
            opp = self.book.asks
            lim_key = o.price
            lo = -self.book.bids.best
        else:
            opp = self.book.bids
            lim_key = -o.price
            lo = -self.book.asks.best
        consumed = self.consumed
        levels = opp.levels
        for key in sorted(k for k in levels if lo <= k <= lim_key):
            level = levels[key]
            for rid, q in level.queue.items():
                c = consumed.get(rid, 0)
                a = q - c
                if a <= 0:
                    continue
                t = a if a < o.leaves else o.leaves
                consumed[rid] = c + t
                self._fill(o, level.price, t, _TAKER)
                if not o.leaves:
                    self.active = True
                    return
        self.active = True

    # ------------------------------------------------------------------ queue position

    def place(self, o: SimOrder, lv: _Level) -> None:
        """Count ahead of ``o`` every recorded order at its level not already ahead of an
        earlier strategy order there."""
        blv = _book_level(self.book, o.side, o.price)
        if blv is None:
            return
        known = lv.known
        consumed = self.consumed
        watch = self.watch
        ahead = o.ahead
        total = 0
        for rid, q in blv.queue.items():
            if rid in known:
                continue
            known.add(rid)
            c = q - consumed.get(rid, 0) if consumed else q
            if c > 0:
                ahead[rid] = c
                watch[rid] = o
                total += c
        o.ahead_qty = total

    def displace(self, o: SimOrder, lv: _Level) -> None:
        """Hand ``o``'s recorded orders ahead to the next strategy order at the level."""
        orders = lv.orders
        i = orders.index(o)
        watch = self.watch
        if i + 1 < len(orders):
            nxt = orders[i + 1]
            if o.ahead:
                nxt.ahead = {**o.ahead, **nxt.ahead}
                nxt.ahead_qty += o.ahead_qty
                for rid in o.ahead:
                    watch[rid] = nxt
        else:
            for rid in o.ahead:
                del watch[rid]
        o.ahead = {}
        o.ahead_qty = 0

    def _shrink(self, rid: int, after: int) -> None:
        # Recorded order ``rid`` (watched) has ``after`` left: what is counted ahead for it
        # can only go down to that (what was eaten virtually stays eaten).
        o = self.watch[rid]
        c = o.ahead[rid]
        if after >= c:
            return
        if after <= 0:
            del o.ahead[rid]
            del self.watch[rid]
            o.ahead_qty -= c
        else:
            o.ahead[rid] = after
            o.ahead_qty -= c - after

    def _unhide(self, rid: int, after: int) -> None:
        consumed = self.consumed
        c = consumed[rid]
        if after <= 0:
            del consumed[rid]
            if not self.orders and not consumed:
                self.active = False
        elif after < c:
            consumed[rid] = after

    def _eat(self, o: SimOrder, rem: int) -> int:
        # Flow of ``rem`` meets what is counted ahead of ``o`` first (FIFO); return the rest.
        ahead = o.ahead
        watch = self.watch
        for rid in list(ahead):
            c = ahead[rid]
            if c <= rem:
                rem -= c
                del ahead[rid]
                del watch[rid]
                o.ahead_qty -= c
                if rem == 0:
                    return 0
            else:
                ahead[rid] = c - rem
                o.ahead_qty -= rem
                return 0
        return rem

    def _flow(self, side: int, px: int, qty: int, rid: int, inclusive: bool) -> int:
        """Aggressive flow of ``qty`` reached price ``px`` on ``side`` (the strategy's
        resting side): fill the strategy's orders it would have met first, best price
        first, FIFO within a level (at ``px``, only those ahead of recorded order ``rid``
        when it is watched there). Return the quantity filled: 0 while halted."""
        if self.halted():
            return 0
        if side == BUY:
            levels = self.bid_levels
            prices = sorted((p for p in levels if p > px or (inclusive and p == px)), reverse=True)
        else:
            levels = self.ask_levels
            prices = sorted(p for p in levels if p < px or (inclusive and p == px))
        rem = qty
        for p in prices:
            lv = levels[p]
            stop = self.watch.get(rid) if rid and p == px else None
            for o in list(lv.orders):
                if o is stop:
                    break
                if o.ahead_qty:
                    rem = self._eat(o, rem)
                    if rem <= 0:
                        break
                t = rem if rem < o.leaves else o.leaves
                rem -= t
                self._fill(o, p, t, _MAKER)
                if rem <= 0:
                    break
            if rem <= 0:
                break
        return qty - rem

    def _cross(self, side: int, price: int, qty: int, rid: int) -> None:
        # A recorded order of ``side`` now rests at ``price`` with ``qty``: if it crosses the
        # strategy's resting orders of the other side, it fills them and that part is hidden.
        if side == SELL:
            if not self.best_bid or price > self.best_bid:
                return
            filled = self._flow(BUY, price, qty, 0, True)
        else:
            if not self.best_ask or price < self.best_ask:
                return
            filled = self._flow(SELL, price, qty, 0, True)
        if filled:
            self.consumed[rid] = self.consumed.get(rid, 0) + filled
            self.active = True

    # ------------------------------------------------------------------ recorded events

    def _resolve(self, oid: int, side: int, price: int) -> tuple[int, MboLevel | None]:
        # The recorded order an event acts on: itself, or the synthetic seed order the book
        # will use for an id it does not know (LOBSTER books seeded from a depth snapshot).
        book = self.book
        lvl = book.where.get(oid)
        if lvl is not None:
            return oid, lvl
        if not book.synthetic or price == NO_PRICE or side not in (BUY, SELL):
            return 0, None
        level = _book_level(book, side, price)
        if level is None:
            return 0, None
        for rid in level.queue:
            if rid in book.synthetic:
                return rid, level
        return 0, None

    def observe(self, e: MboEvent) -> None:
        """Account for recorded event ``e`` before the book applies it (module docstring)."""
        t = type(e)
        self.now = e.ts_ns
        if t is _ADD:
            a: Any = e
            side = a.side
            # Most adds cross nothing: test that before any call.
            if side == SELL:
                if self.best_bid and a.price <= self.best_bid and a.qty > 0:
                    self._cross(side, a.price, a.qty, a.order_id)
            elif side == BUY and self.best_ask and a.price >= self.best_ask and a.qty > 0:
                self._cross(side, a.price, a.qty, a.order_id)
        elif t is _CANCEL or t is _DELETE:
            c: Any = e
            oid = c.order_id
            if oid not in self.watch and oid not in self.consumed and not self.book.synthetic:
                return  # neither ahead of the strategy nor taken by it: nothing to count
            rid, lvl = self._resolve(oid, c.side, c.price)
            if lvl is None or (t is _DELETE and rid != c.order_id):
                return
            after = 0 if t is _DELETE else lvl.queue[rid] - c.qty
            if rid in self.watch:
                self._shrink(rid, after)
            if rid in self.consumed:
                self._unhide(rid, after)
        elif t is _EXECUTE:
            self._on_execute(e)  # type: ignore[arg-type]
        elif t is _MODIFY:
            self._on_modify(e)  # type: ignore[arg-type]
        elif t is _TRADE:
            tr: Any = e
            if tr.kind != TRADE_HIDDEN or not self.orders:
                return
            p = tr.price
            if self.best_bid and p <= self.best_bid:
                self._flow(BUY, p, tr.qty, 0, tr.side == BUY)
            if self.best_ask and p >= self.best_ask:
                self._flow(SELL, p, tr.qty, 0, tr.side == SELL)
        elif t is _CLEAR:
            for o in self.orders.values():
                o.ahead = {}
                o.ahead_qty = 0
            for lv in (*self.bid_levels.values(), *self.ask_levels.values()):
                lv.known = set()
            self.watch = {}
            self.consumed = {}
            self.active = bool(self.orders)

    def _on_execute(self, e: MboExecute) -> None:
        rid, lvl = self._resolve(e.order_id, e.side, e.price)
        if lvl is None:
            return
        q = e.qty
        after = lvl.queue[rid] - q
        side = lvl.side
        px = e.price if e.price != NO_PRICE else lvl.price
        if side == BUY:
            if self.best_bid and self.best_bid >= px:
                self._flow(BUY, px, q, rid, True)
        elif self.best_ask and self.best_ask <= px:
            self._flow(SELL, px, q, rid, True)
        if rid in self.watch:
            self._shrink(rid, after)
        if rid in self.consumed:
            self._unhide(rid, after)

    def _on_modify(self, e: MboModify) -> None:
        oid = e.order_id
        lvl = self.book.where.get(oid)
        if lvl is None:
            if self.orders and e.side in (BUY, SELL):
                self._cross(e.side, e.price, e.qty, e.new_order_id)  # the book adds it
            return
        new_id = e.new_order_id
        price = e.price if e.price != NO_PRICE else lvl.price
        rem = lvl.queue[oid]
        prio = e.priority
        keep = price == lvl.price and (
            prio == PRIORITY_KEEP or (prio == PRIORITY_KEEP_ON_DECREASE and e.qty <= rem)
        )
        watch = self.watch
        if oid in watch:
            o = watch[oid]
            if keep:
                if new_id != oid:
                    o.ahead = {(new_id if k == oid else k): v for k, v in o.ahead.items()}
                    del watch[oid]
                    watch[new_id] = o
                if e.qty > rem:  # PRIORITY_KEEP with an increase: more is ahead
                    o.ahead[new_id] += e.qty - rem
                    o.ahead_qty += e.qty - rem
                else:
                    self._shrink(new_id, e.qty)
            else:
                c = o.ahead.pop(oid)
                del watch[oid]
                o.ahead_qty -= c
        ours = self.bid_levels if lvl.side == BUY else self.ask_levels
        mine = ours.get(lvl.price)
        if mine is not None and oid in mine.known:
            mine.known.discard(oid)
            if keep and new_id != oid:
                mine.known.add(new_id)  # renamed in place: still ahead of later arrivals
            # else it goes behind them: a later arrival counts it ahead again
        consumed = self.consumed
        if oid in consumed:
            c = consumed.pop(oid)
            left = min(c, e.qty)
            if left > 0:
                consumed[new_id] = left
            if not self.orders and not consumed:
                self.active = False
        if not keep and self.orders and e.qty > 0:
            hidden = consumed.get(new_id, 0)
            if e.qty > hidden:
                self._cross(lvl.side, price, e.qty - hidden, new_id)
