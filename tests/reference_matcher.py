"""A deliberately simple second implementation of the matching rules (the test oracle).

Written from ``docs/matching-rules.md`` only, never from ``whistle.book`` or the engine
internals: property tests require it and ``whistle.engine.Whistle`` to emit identical events
for random command streams, so a bug in the optimized engine shows up as a disagreement.

Everything here favours obviousness over speed: every live order (resting or parked stop)
is one entry of a plain list, the best level is found with ``min``/``max`` each time, time
priority is a global counter, and the market-data diff compares two full L2 maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
from whistle.core.enums import (
    CancelCause,
    Liquidity,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
    TradingState,
)
from whistle.core.events import (
    BestBidOfferChanged,
    BookLevelChanged,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderReplaced,
    StopTriggered,
    TradeOccurred,
    TradingStatusChanged,
)
from whistle.core.limits import MAX_ACCOUNT, MAX_ORDER_ID, MAX_PRICE_TICKS, MAX_TS_NS
from whistle.core.reasons import RejectReason as R
from whistle.engine.status import L3Order

if TYPE_CHECKING:
    from whistle.core.instrument import Instrument

__all__ = ["RefOrder", "ReferenceMatcher"]

BUY, SELL = int(Side.BUY), int(Side.SELL)
LIMIT, MARKET, STOP, STOP_LIMIT = (int(t) for t in OrderType)
GTC, IOC, FOK, GTD, DAY = (int(t) for t in TimeInForce)

_ALLOWED_TIF = {
    LIMIT: {GTC, IOC, FOK, GTD, DAY},
    MARKET: {IOC, FOK},
    STOP: {GTC, GTD, DAY},
    STOP_LIMIT: {GTC, GTD, DAY, IOC},
}


class _Rejected(Exception):
    def __init__(self, reason: R, order_id: int = 0, account: int = 0) -> None:
        super().__init__(reason.name)
        self.reason = reason
        self.order_id = order_id
        self.account = account


@dataclass
class RefOrder:
    order_id: int
    account: int
    side: int
    order_type: int
    tif: int
    price: int
    qty: int  # displayed quantity when resting; the whole quantity when parked
    hidden: int
    stop_price: int
    display: int
    post_only: bool
    stp: int
    expire_ts: int
    protection: int
    arrival: int
    prio: int = 0
    parked: bool = False

    @property
    def leaves(self) -> int:
        return self.qty + self.hidden


class ReferenceMatcher:
    """One symbol's matching rules, the slow and obvious way."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.symbol_id = instrument.symbol_id
        self.state = int(TradingState.ACTIVE)
        self.orders: list[RefOrder] = []  # every live order: resting and parked stops
        self.seq = 0
        self.trade_id = 0
        self.arrival = 0
        self.prio = 0
        self.last_price = 0
        self.band_ref = instrument.reference_price_ticks
        self.published_bbo = (0, 0, 0, 0)
        self.now = 0
        self.events: list[Event] = []
        self._enq = 0

    # ------------------------------------------------------------------ helpers
    def _emit(self, cls: type[Any], **fields: Any) -> None:
        self.seq += 1
        self.events.append(
            cls(symbol_id=self.symbol_id, seq=self.seq, enq_seq=self._enq, ts_ns=self.now, **fields)
        )

    def _find(self, order_id: int) -> RefOrder | None:
        for o in self.orders:
            if o.order_id == order_id:
                return o
        return None

    def _resting(self, side: int) -> list[RefOrder]:
        return [o for o in self.orders if not o.parked and o.side == side]

    def _best_price(self, side: int) -> int | None:
        prices = [o.price for o in self._resting(side)]
        if not prices:
            return None
        return max(prices) if side == BUY else min(prices)

    def _level(self, side: int, price: int) -> list[RefOrder]:
        return sorted((o for o in self._resting(side) if o.price == price), key=lambda o: o.prio)

    def _next_prio(self) -> int:
        self.prio += 1
        return self.prio

    def band(self) -> tuple[int, int] | None:
        bps = self.instrument.price_band_bps
        ref = self.band_ref
        if bps <= 0 or ref <= 0:
            return None
        lo = -((-ref * (10000 - bps)) // 10000)
        hi = (ref * (10000 + bps)) // 10000
        return lo, hi

    def _band_update(self) -> None:
        self.band_ref = self.last_price

    def _outside_band(self, price: int) -> bool:
        band = self.band()
        return band is not None and not band[0] <= price <= band[1]

    def _market_limit(self, side: int, protection: int) -> int | None:
        if protection:
            return protection
        band = self.band()
        if band is None:
            return None
        return band[1] if side == BUY else band[0]

    @staticmethod
    def _crosses(taker_side: int, limit: int | None, opp_price: int) -> bool:
        if limit is None:
            return True
        return opp_price <= limit if taker_side == BUY else opp_price >= limit

    def _opp_best_crossing(self, side: int, limit: int | None) -> int | None:
        opp = SELL if side == BUY else BUY
        best = self._best_price(opp)
        if best is None or not self._crosses(side, limit, best):
            return None
        return best

    def l2(self) -> dict[tuple[int, int], tuple[int, int]]:
        out: dict[tuple[int, int], tuple[int, int]] = {}
        for o in self.orders:
            if o.parked:
                continue
            qty, count = out.get((o.side, o.price), (0, 0))
            out[(o.side, o.price)] = (qty + o.qty, count + 1)
        return out

    def top(self) -> tuple[int, int, int, int]:
        l2 = self.l2()
        bid = self._best_price(BUY)
        ask = self._best_price(SELL)
        bid_qty = l2[(BUY, bid)][0] if bid is not None else 0
        ask_qty = l2[(SELL, ask)][0] if ask is not None else 0
        return (bid or 0, bid_qty, ask or 0, ask_qty)

    def _market_data(self, before: dict[tuple[int, int], tuple[int, int]]) -> None:
        after = self.l2()
        changed = [k for k in set(before) | set(after) if before.get(k) != after.get(k)]
        bids = sorted((k for k in changed if k[0] == BUY), key=lambda k: -k[1])
        asks = sorted((k for k in changed if k[0] == SELL), key=lambda k: k[1])
        for side, price in bids + asks:
            qty, count = after.get((side, price), (0, 0))
            self._emit(
                BookLevelChanged, side=side, price_ticks=price, qty_lots=qty, order_count=count
            )
        top = self.top()
        if top != self.published_bbo:
            self.published_bbo = top
            self._emit(
                BestBidOfferChanged,
                bid_price_ticks=top[0],
                bid_qty_lots=top[1],
                ask_price_ticks=top[2],
                ask_qty_lots=top[3],
            )

    def _cancelled(self, o: RefOrder, cause: int, qty: int, leaves: int) -> None:
        self._emit(
            OrderCancelled,
            order_id=o.order_id,
            account=o.account,
            cause=cause,
            cancelled_qty_lots=qty,
            leaves_qty_lots=leaves,
        )

    def _rest(self, o: RefOrder, leftover: int) -> None:
        o.qty = min(o.display, leftover) if o.display > 0 else leftover
        o.hidden = leftover - o.qty
        o.prio = self._next_prio()
        o.parked = False
        self.orders.append(o)

    # ------------------------------------------------------------------ public API
    def process(self, enq_seq: int, command: Any, now_ns: int) -> list[Event]:
        self.events = []
        self.now = now_ns
        self._expire_gtd()
        self._enq = enq_seq
        before = self.l2()
        try:
            changed = self._apply(command)
        except _Rejected as rej:
            self._emit(
                OrderRejected, order_id=rej.order_id, account=rej.account, reason=int(rej.reason)
            )
        else:
            if changed:
                self._market_data(before)
        return self.events

    def l3(self) -> list[L3Order]:
        out = []
        for side in (BUY, SELL):
            resting = self._resting(side)
            if side == BUY:
                resting.sort(key=lambda o: (-o.price, o.prio))
            else:
                resting.sort(key=lambda o: (o.price, o.prio))
            out.extend(
                L3Order(o.order_id, o.account, o.side, o.price, o.qty, o.hidden) for o in resting
            )
        return out

    def parked_stops(self) -> list[RefOrder]:
        return [o for o in self.orders if o.parked]

    def status(self) -> dict[str, int]:
        bid_px, bid_qty, ask_px, ask_qty = self.top()
        return {
            "state": self.state,
            "resting_orders": sum(1 for o in self.orders if not o.parked),
            "parked_stops": sum(1 for o in self.orders if o.parked),
            "best_bid_ticks": bid_px,
            "best_bid_qty_lots": bid_qty,
            "best_ask_ticks": ask_px,
            "best_ask_qty_lots": ask_qty,
            "last_trade_ticks": self.last_price,
            "trades": self.trade_id,
            "event_seq": self.seq,
            "now_ns": self.now,
        }

    # ------------------------------------------------------------------ clock
    def _expire_gtd(self) -> None:
        due = [o for o in self.orders if o.tif == GTD and o.expire_ts <= self.now]
        if not due:
            return
        self._enq = 0
        before = self.l2()
        for o in sorted(due, key=lambda o: (o.expire_ts, o.arrival)):
            self.orders.remove(o)
            self._emit(
                OrderExpired, order_id=o.order_id, account=o.account, cancelled_qty_lots=o.leaves
            )
        self._market_data(before)

    # ------------------------------------------------------------------ commands
    def _apply(self, c: Any) -> bool:
        """Run one command; return whether market data should be computed."""
        if c.symbol_id != self.symbol_id:
            raise _Rejected(R.UNKNOWN_SYMBOL, *self._ids(c))
        if self.state == TradingState.FAULTED:
            raise _Rejected(R.ENGINE_FAULTED, *self._ids(c))
        if isinstance(c, NewOrder):
            self._new_order(c)
        elif isinstance(c, CancelOrder):
            self._cancel(c)
        elif isinstance(c, ModifyOrder):
            self._modify(c)
        elif isinstance(c, CancelReplace):
            self._replace(c)
        elif isinstance(c, MassCancel):
            self._mass_cancel(c)
        elif isinstance(c, HaltTrading):
            if self.state == TradingState.ACTIVE:
                self.state = int(TradingState.HALTED)
                self._emit(TradingStatusChanged, state=self.state)
        elif isinstance(c, ResumeTrading):
            if self.state == TradingState.HALTED:
                self.state = int(TradingState.ACTIVE)
                self._emit(TradingStatusChanged, state=self.state)
        elif isinstance(c, EndSession):
            day = sorted((o for o in self.orders if o.tif == DAY), key=lambda o: o.arrival)
            for o in day:
                self.orders.remove(o)
                self._emit(
                    OrderExpired,
                    order_id=o.order_id,
                    account=o.account,
                    cancelled_qty_lots=o.leaves,
                )
        else:  # pragma: no cover - the strategies only build known commands
            raise TypeError(f"unknown command {c!r}")
        return True

    @staticmethod
    def _ids(c: Any) -> tuple[int, int]:
        order_id = getattr(c, "order_id", 0)
        account = getattr(c, "account", 0)
        return order_id, account or 0

    # -- NewOrder --------------------------------------------------------------------
    def _new_order(self, c: NewOrder) -> None:
        def rej(reason: R) -> _Rejected:
            return _Rejected(reason, c.order_id, c.account)

        if self.state == TradingState.HALTED:
            raise rej(R.TRADING_HALTED)
        id_ok = 1 <= c.order_id <= MAX_ORDER_ID
        account_ok = 0 <= c.account <= MAX_ACCOUNT
        if (
            not id_ok
            or not account_ok
            or max(c.price_ticks, c.stop_price_ticks, c.protection_price_ticks) > MAX_PRICE_TICKS
            or c.expire_ts_ns > MAX_TS_NS
        ):
            raise _Rejected(
                R.VALUE_OUT_OF_RANGE,
                c.order_id if id_ok else 0,
                c.account if account_ok else 0,
            )
        if self._find(c.order_id) is not None:
            raise rej(R.DUPLICATE_ORDER_ID)
        if c.side not in (BUY, SELL):
            raise rej(R.INVALID_SIDE)
        if c.order_type not in _ALLOWED_TIF:
            raise rej(R.INVALID_ORDER_TYPE)
        if c.tif not in (GTC, IOC, FOK, GTD, DAY):
            raise rej(R.INVALID_TIF)
        if c.tif not in _ALLOWED_TIF[c.order_type]:
            raise rej(R.INVALID_TIF)
        ins = self.instrument
        if c.qty_lots <= 0:
            raise rej(R.QTY_NOT_POSITIVE)
        if c.qty_lots < ins.min_qty_lots:
            raise rej(R.QTY_BELOW_MIN)
        if c.qty_lots > ins.max_qty_lots:
            raise rej(R.QTY_ABOVE_MAX)
        if c.order_type in (LIMIT, STOP_LIMIT):
            if c.price_ticks <= 0:
                raise rej(R.PRICE_NOT_POSITIVE)
        elif c.price_ticks != 0:
            raise rej(R.PRICE_NOT_ALLOWED)
        if c.order_type in (STOP, STOP_LIMIT):
            if c.stop_price_ticks <= 0:
                raise rej(R.MISSING_STOP_PRICE)
        elif c.stop_price_ticks != 0:
            raise rej(R.STOP_PRICE_NOT_ALLOWED)
        if c.stp not in tuple(int(m) for m in StpMode):
            raise rej(R.INVALID_STP_MODE)
        can_rest = c.order_type == LIMIT and c.tif in (GTC, GTD, DAY)
        if c.post_only and not can_rest:
            raise rej(R.INVALID_POST_ONLY)
        d = c.display_qty_lots
        if d != 0 and (d < 0 or d > c.qty_lots or not can_rest):
            raise rej(R.INVALID_DISPLAY_QTY)
        p = c.protection_price_ticks
        if p != 0 and (p < 0 or c.order_type not in (MARKET, STOP)):
            raise rej(R.INVALID_PROTECTION_PRICE)
        if c.tif == GTD:
            if c.expire_ts_ns <= 0:
                raise rej(R.GTD_MISSING_EXPIRY)
            if c.expire_ts_ns <= self.now:
                raise rej(R.GTD_EXPIRED)
        elif c.expire_ts_ns != 0:
            raise rej(R.EXPIRY_NOT_ALLOWED)
        if c.order_type in (LIMIT, STOP_LIMIT) and self._outside_band(c.price_ticks):
            raise rej(R.PRICE_OUTSIDE_BAND)
        limit: int | None = None
        if c.order_type in (LIMIT, MARKET):
            if c.order_type == LIMIT:
                limit = c.price_ticks
            else:
                limit = self._market_limit(c.side, p)
            crossing = self._opp_best_crossing(c.side, limit)
            if c.order_type == LIMIT and c.post_only and crossing is not None:
                raise rej(R.POST_ONLY_WOULD_TAKE)
            if c.order_type == MARKET and crossing is None:
                raise rej(R.NO_LIQUIDITY)
            if c.tif == FOK and not self._fok_fillable(c, limit):
                raise rej(R.FOK_UNFILLABLE)

        self.arrival += 1
        o = RefOrder(
            order_id=c.order_id,
            account=c.account,
            side=c.side,
            order_type=c.order_type,
            tif=c.tif,
            price=c.price_ticks,
            qty=c.qty_lots,
            hidden=0,
            stop_price=c.stop_price_ticks,
            display=d,
            post_only=bool(c.post_only),
            stp=c.stp,
            expire_ts=c.expire_ts_ns,
            protection=p,
            arrival=self.arrival,
        )
        self._emit(
            OrderAccepted,
            order_id=o.order_id,
            account=o.account,
            side=o.side,
            order_type=o.order_type,
            tif=o.tif,
            price_ticks=o.price,
            qty_lots=o.qty,
            stop_price_ticks=o.stop_price,
            display_qty_lots=o.display,
        )
        if o.order_type in (STOP, STOP_LIMIT):
            o.parked = True
            self.orders.append(o)
            self._run_stops()
            return
        traded = self._take_and_finish(o, c.qty_lots, limit)
        if traded:
            self._band_update()
            self._run_stops()

    def _fok_fillable(self, c: NewOrder, limit: int | None) -> bool:
        opp = SELL if c.side == BUY else BUY
        prices = sorted({o.price for o in self._resting(opp)}, reverse=(opp == BUY))
        total = 0
        for price in prices:
            if not self._crosses(c.side, limit, price):
                break
            for m in self._level(opp, price):
                if c.stp != StpMode.NONE and m.account == c.account:
                    if c.stp == StpMode.CANCEL_OLDEST:
                        continue
                    return False
                total += m.leaves
                if total >= c.qty_lots:
                    return True
        return total >= c.qty_lots

    def _take_and_finish(self, o: RefOrder, qty: int, limit: int | None) -> bool:
        """Match ``o`` as a taker, then cancel or rest its leftover; return whether it traded."""
        rem, traded = self._match(o, qty, limit)
        if rem > 0:
            cannot_rest = o.order_type in (MARKET, STOP) or o.tif in (IOC, FOK)
            if cannot_rest:
                self._cancelled(o, CancelCause.IOC_REMAINDER, rem, 0)
            else:
                self._rest(o, rem)
        return traded

    # -- matching ----------------------------------------------------------------------
    def _match(self, t: RefOrder, rem: int, limit: int | None) -> tuple[int, bool]:
        opp = SELL if t.side == BUY else BUY
        traded = False
        while rem > 0:
            best = self._opp_best_crossing(t.side, limit)
            if best is None:
                break
            m = self._level(opp, best)[0]
            if t.stp != StpMode.NONE and m.account == t.account:
                mode = t.stp
                if mode == StpMode.CANCEL_OLDEST:
                    self.orders.remove(m)
                    self._cancelled(m, CancelCause.SELF_TRADE, m.leaves, 0)
                    continue
                if mode == StpMode.CANCEL_NEWEST:
                    self._cancelled(t, CancelCause.SELF_TRADE, rem, 0)
                    rem = 0
                    break
                if mode == StpMode.CANCEL_BOTH:
                    self.orders.remove(m)
                    self._cancelled(m, CancelCause.SELF_TRADE, m.leaves, 0)
                    self._cancelled(t, CancelCause.SELF_TRADE, rem, 0)
                    rem = 0
                    break
                # DECREMENT_AND_CANCEL
                d = min(rem, m.leaves)
                rem -= d
                from_hidden = min(d, m.hidden)
                m.hidden -= from_hidden
                m.qty -= d - from_hidden
                if m.leaves == 0:
                    self.orders.remove(m)
                self._cancelled(m, CancelCause.SELF_TRADE, d, m.leaves)
                self._cancelled(t, CancelCause.SELF_TRADE, d, rem)
                if rem == 0:
                    break
                continue
            q = min(rem, m.qty)
            price = m.price
            self.trade_id += 1
            m.qty -= q
            rem -= q
            traded = True
            self.last_price = price
            self._emit(
                OrderFilled,
                order_id=m.order_id,
                account=m.account,
                side=m.side,
                liquidity=int(Liquidity.MAKER),
                price_ticks=price,
                qty_lots=q,
                leaves_qty_lots=m.leaves,
                trade_id=self.trade_id,
            )
            self._emit(
                OrderFilled,
                order_id=t.order_id,
                account=t.account,
                side=t.side,
                liquidity=int(Liquidity.TAKER),
                price_ticks=price,
                qty_lots=q,
                leaves_qty_lots=rem,
                trade_id=self.trade_id,
            )
            self._emit(
                TradeOccurred,
                trade_id=self.trade_id,
                price_ticks=price,
                qty_lots=q,
                aggressor_side=t.side,
                maker_order_id=m.order_id,
                taker_order_id=t.order_id,
            )
            if m.qty == 0:
                if m.hidden > 0:
                    m.qty = min(m.display, m.hidden)
                    m.hidden -= m.qty
                    m.prio = self._next_prio()
                else:
                    self.orders.remove(m)
        return rem, traded

    # -- stops -------------------------------------------------------------------------
    def _reached(self, exclude: set[int]) -> list[RefOrder]:
        last = self.last_price
        if last <= 0:
            return []
        parked = [o for o in self.orders if o.parked and o.order_id not in exclude]
        buys = sorted(
            (o for o in parked if o.side == BUY and last >= o.stop_price),
            key=lambda o: (o.stop_price, o.arrival),
        )
        sells = sorted(
            (o for o in parked if o.side == SELL and last <= o.stop_price),
            key=lambda o: (-o.stop_price, o.arrival),
        )
        return buys + sells

    def _run_stops(self) -> None:
        queue: list[tuple[RefOrder, int]] = []

        def collect() -> None:
            for o in self._reached(set()):
                self.orders.remove(o)
                o.parked = False
                queue.append((o, self.last_price))

        collect()
        i = 0
        while i < len(queue):
            o, last = queue[i]
            i += 1
            self._emit(
                StopTriggered,
                order_id=o.order_id,
                account=o.account,
                stop_price_ticks=o.stop_price,
                last_price_ticks=last,
            )
            if o.order_type == STOP:
                limit = self._market_limit(o.side, o.protection)
            else:
                limit = o.price
            traded = self._take_and_finish(o, o.leaves, limit)
            if traded:
                self._band_update()
                collect()

    # -- cancel / modify / replace -----------------------------------------------------
    def _owned(self, order_id: int, account: int | None, report_id: int | None = None) -> RefOrder:
        o = self._find(order_id)
        if o is None:
            raise _Rejected(R.UNKNOWN_ORDER_ID, order_id, account or 0)
        if account is not None and account != o.account:
            raise _Rejected(R.ACCOUNT_MISMATCH, order_id, account)
        return o

    def _cancel(self, c: CancelOrder) -> None:
        o = self._owned(c.order_id, c.account)
        self.orders.remove(o)
        self._cancelled(o, CancelCause.USER, o.leaves, 0)

    def _post_only_crosses(self, o: RefOrder, price: int) -> bool:
        return o.post_only and self._opp_best_crossing(o.side, price) is not None

    def _modify(self, c: ModifyOrder) -> None:
        def rej(reason: R) -> _Rejected:
            return _Rejected(reason, c.order_id, c.account or 0)

        if self.state == TradingState.HALTED:
            raise rej(R.TRADING_HALTED)
        o = self._owned(c.order_id, c.account)

        if c.price_ticks > MAX_PRICE_TICKS:
            raise rej(R.VALUE_OUT_OF_RANGE)
        if o.parked:
            raise rej(R.ORDER_NOT_MODIFIABLE)
        if c.price_ticks < 0:
            raise rej(R.PRICE_NOT_POSITIVE)
        if c.qty_lots < 0:
            raise rej(R.QTY_NOT_POSITIVE)
        new_price = c.price_ticks or o.price
        old_leaves = o.leaves
        new_leaves = c.qty_lots or old_leaves
        if new_price == o.price and new_leaves == old_leaves:
            raise rej(R.MODIFY_NO_CHANGE)
        if c.qty_lots:
            if new_leaves < self.instrument.min_qty_lots:
                raise rej(R.QTY_BELOW_MIN)
            if new_leaves > self.instrument.max_qty_lots:
                raise rej(R.QTY_ABOVE_MAX)
        if new_price != o.price and self._outside_band(new_price):
            raise rej(R.PRICE_OUTSIDE_BAND)
        if self._post_only_crosses(o, new_price):
            raise rej(R.POST_ONLY_WOULD_TAKE)

        same_price = new_price == o.price
        self._emit(
            OrderModified,
            order_id=o.order_id,
            account=o.account,
            price_ticks=new_price,
            qty_lots=new_leaves,
            priority_kept=same_price and new_leaves < old_leaves,
        )
        if same_price and new_leaves < old_leaves:
            o.qty = min(o.qty, new_leaves)
            o.hidden = new_leaves - o.qty
        elif same_price:
            self.orders.remove(o)
            self._rest(o, new_leaves)
        else:
            self.orders.remove(o)
            o.price = new_price
            rem, traded = self._match(o, new_leaves, new_price)
            if rem > 0:
                self._rest(o, rem)
            if traded:
                self._band_update()
                self._run_stops()

    def _replace(self, c: CancelReplace) -> None:
        def rej(reason: R) -> _Rejected:
            return _Rejected(reason, c.order_id, c.account or 0)

        if self.state == TradingState.HALTED:
            raise rej(R.TRADING_HALTED)
        o = self._owned(c.order_id, c.account)

        if not 1 <= c.new_order_id <= MAX_ORDER_ID or c.price_ticks > MAX_PRICE_TICKS:
            raise rej(R.VALUE_OUT_OF_RANGE)
        if o.parked:
            raise rej(R.ORDER_NOT_MODIFIABLE)
        if self._find(c.new_order_id) is not None:
            raise _Rejected(R.DUPLICATE_ORDER_ID, c.new_order_id, c.account or 0)
        if c.qty_lots <= 0:
            raise rej(R.QTY_NOT_POSITIVE)
        if c.qty_lots < self.instrument.min_qty_lots:
            raise rej(R.QTY_BELOW_MIN)
        if c.qty_lots > self.instrument.max_qty_lots:
            raise rej(R.QTY_ABOVE_MAX)
        if c.price_ticks <= 0:
            raise rej(R.PRICE_NOT_POSITIVE)
        if c.price_ticks != o.price and self._outside_band(c.price_ticks):
            raise rej(R.PRICE_OUTSIDE_BAND)
        if self._post_only_crosses(o, c.price_ticks):
            raise rej(R.POST_ONLY_WOULD_TAKE)

        self.orders.remove(o)
        self._emit(
            OrderReplaced,
            order_id=o.order_id,
            new_order_id=c.new_order_id,
            account=o.account,
            price_ticks=c.price_ticks,
            qty_lots=c.qty_lots,
        )
        self.arrival += 1
        n = RefOrder(
            order_id=c.new_order_id,
            account=o.account,
            side=o.side,
            order_type=o.order_type,
            tif=o.tif,
            price=c.price_ticks,
            qty=c.qty_lots,
            hidden=0,
            stop_price=o.stop_price,
            display=o.display,
            post_only=o.post_only,
            stp=o.stp,
            expire_ts=o.expire_ts,
            protection=o.protection,
            arrival=self.arrival,
        )
        rem, traded = self._match(n, c.qty_lots, c.price_ticks)
        if rem > 0:
            self._rest(n, rem)
        if traded:
            self._band_update()
            self._run_stops()

    def _mass_cancel(self, c: MassCancel) -> None:
        victims = sorted(
            (o for o in self.orders if c.account is None or o.account == c.account),
            key=lambda o: o.arrival,
        )
        for o in victims:
            self.orders.remove(o)
            self._cancelled(o, CancelCause.MASS_CANCEL, o.leaves, 0)
