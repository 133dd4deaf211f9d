"""L2 queue-position models: the queue ahead of an order is one number, not a list of orders.

For data where only level quantities are trusted (or on purpose, to compare with an L3
run), ``L2Exchange`` keeps for each strategy order ``ahead_qty``: the level's quantity
when it arrived (less what the strategy had taken from that level). Then, per recorded
event at its level:

- a trade (a recorded execution) at its price of ``q``: the queue ahead shrinks by ``q``;
  what passes beyond it fills the order (maker) — in every model;
- a trade at a price worse for it (a trade through): it fills;
- a decrease of the level that is not a trade (cancels): the model decides how much of it
  was ahead (``QueueModel.decrease``); in every model the queue ahead can never exceed the
  level's quantity afterwards (a physical bound, not an advance);
- an increase: behind the order (new orders join the back).

Models (``queue_model``):

- ``risk_averse``: a decrease never advances the order (only trades do);
- ``power`` (``queue_power`` = n) and ``log``: a decrease of ``chg`` lots with ``front``
  ahead and ``back`` behind: what cannot have come from behind (``chg - back``) is ahead;
  the rest was ahead with probability ``f(front) / (f(front) + f(back))``, ``f(x) = x**n``
  or ``log(1 + x)``: one draw of ``random.Random(seed)`` per decrease, so a run is
  deterministic for a seed. (hftbacktest's probabilistic models apply the same split as an
  expected value; here the queue stays in whole lots.) The probability is a float: it is
  used only to draw, never stored on the order path.

Taking liquidity and hiding what was taken work per level here (``consumed`` by price).
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any, Final, final

from whistle.core.enums import Liquidity
from whistle.core.mbo import (
    NO_PRICE,
    TRADE_HIDDEN,
    MboAdd,
    MboClear,
    MboExecute,
    MboModify,
    MboTrade,
)
from whistle.trading.backtest.errors import BacktestConfigError
from whistle.trading.backtest.exchange import BacktestExchange, _book_level, _Level

if TYPE_CHECKING:
    from whistle.book.mbo import MarketByOrderBook
    from whistle.core.mbo import MboEvent
    from whistle.trading.backtest.exchange import SimOrder
    from whistle.trading.backtest.fees import FeeModel

__all__ = ["L2Exchange", "LogQueue", "PowerQueue", "QueueModel", "RiskAverseQueue", "queue_model"]

BUY: Final = 1
SELL: Final = 2
_MAKER: Final = int(Liquidity.MAKER)
_TAKER: Final = int(Liquidity.TAKER)


class QueueModel:
    """How much of a (non-trade) level decrease was ahead of an order."""

    name = "base"

    def decrease(self, front: int, back: int, chg: int) -> int:
        """Return the queue ahead after ``chg`` lots left a level with ``front`` ahead of
        the order and ``back`` behind it."""
        raise NotImplementedError


@final
class RiskAverseQueue(QueueModel):
    """Only trades advance an order: a decrease is always taken to be behind it."""

    name = "risk_averse"

    def decrease(self, front: int, back: int, chg: int) -> int:
        """Return ``front`` less only what cannot have come from behind."""
        forced = chg - back
        return front - forced if forced > 0 else front


class _ProbQueue(QueueModel):
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 -- a seeded model, not secrets

    def weight(self, x: int) -> float:
        raise NotImplementedError

    def decrease(self, front: int, back: int, chg: int) -> int:
        """Return the queue ahead after a decrease (module docstring: one seeded draw)."""
        forced = chg - back
        if forced > 0:
            front -= forced
            chg -= forced
        if front <= 0:
            return 0
        wf = self.weight(front)
        wb = self.weight(back)
        if self.rng.random() * (wf + wb) < wf:
            front -= chg if chg < front else front
        return front


@final
class PowerQueue(_ProbQueue):
    """The decrease was ahead with probability ``front**n / (front**n + back**n)``."""

    name = "power"

    def __init__(self, power: float, seed: int) -> None:
        super().__init__(seed)
        self.power = float(power)

    def weight(self, x: int) -> float:
        """Return ``x ** n``."""
        return math.pow(x, self.power)


@final
class LogQueue(_ProbQueue):
    """The decrease was ahead with probability ``log1p(front) / (log1p(front) + log1p(back))``."""

    name = "log"

    def weight(self, x: int) -> float:
        """Return ``log(1 + x)``."""
        return math.log1p(x)


def queue_model(name: str, power: float = 2.0, seed: int = 0) -> QueueModel:
    """Return the L2 model called ``name`` (``risk_averse``, ``power``, ``log``)."""
    if name == "risk_averse":
        return RiskAverseQueue()
    if name == "power":
        return PowerQueue(power, seed)
    if name == "log":
        return LogQueue(seed)
    raise BacktestConfigError(f"unknown L2 queue model {name!r}: risk_averse, power or log")


@final
class L2Exchange(BacktestExchange):
    """The strategy's orders against level quantities with an L2 queue model."""

    needs_settle = True

    def __init__(
        self, book: MarketByOrderBook, symbol_id: int, fees: FeeModel, model: QueueModel
    ) -> None:
        super().__init__(book, symbol_id, fees)
        self.model = model
        self.model_name = model.name
        self.consumed: dict[int, int] = {}
        """Level key (bids: -price, asks: price) -> quantity the strategy took from it."""
        self._traded_side = 0
        self._traded_price = 0
        self._traded_qty = 0

    def hidden(self) -> bool:
        """Return True while some recorded level has quantity hidden by the strategy."""
        return bool(self.consumed)

    # ------------------------------------------------------------------ taking

    def _crossing(self, side: int, price: int) -> tuple[Any, list[int]]:
        # A crossed recorded book: nothing through the opposite recorded best (exchange.py).
        if side == BUY:
            opp = self.book.asks
            lim = price
            lo = -self.book.bids.best
        else:
            opp = self.book.bids
            lim = -price
            lo = -self.book.asks.best
        if opp.best > lim or lo > lim:
            return opp, []
        return opp, sorted(k for k in opp.levels if lo <= k <= lim)

    def available(self, side: int, price: int, limit: int) -> int:
        """Return the crossing recorded quantity (up to ``limit``) not taken already."""
        opp, keys = self._crossing(side, price)
        got = 0
        for key in keys:
            got += opp.levels[key].qty - self.consumed.get(key, 0)
            if got >= limit:
                return limit
        return got

    def take(self, o: SimOrder) -> None:
        """Take crossing level quantity, best level first (taker fills)."""
        opp, keys = self._crossing(o.side, o.price)
        consumed = self.consumed
        for key in keys:
            level = opp.levels[key]
            c = consumed.get(key, 0)
            a = level.qty - c
            if a <= 0:
                continue
            t = a if a < o.leaves else o.leaves
            consumed[key] = c + t
            self._fill(o, level.price, t, _TAKER)
            if not o.leaves:
                break
        self.active = True

    # ------------------------------------------------------------------ queue position

    def place(self, o: SimOrder, lv: _Level) -> None:
        """Queue ahead = the level's quantity now, less what the strategy took from it."""
        blv = _book_level(self.book, o.side, o.price)
        qty = blv.qty if blv is not None else 0
        key = -o.price if o.side == BUY else o.price
        o.ahead_qty = max(0, qty - self.consumed.get(key, 0))
        lv.seen = qty

    def displace(self, o: SimOrder, lv: _Level) -> None:
        """Nothing to hand on: each order's queue is its own number."""

    def _flow(self, side: int, px: int, qty: int, inclusive: bool) -> int:
        # Flow of ``qty`` reached ``px`` on ``side``: strictly better strategy prices fill
        # at once; at ``px`` (inclusive) the queue ahead comes first.
        if self.halted():
            return 0  # no fills while the record says trading is halted
        if side == BUY:
            levels = self.bid_levels
            prices = sorted((p for p in levels if p > px or (inclusive and p == px)), reverse=True)
        else:
            levels = self.ask_levels
            prices = sorted(p for p in levels if p < px or (inclusive and p == px))
        rem = qty
        for p in prices:
            lv = levels[p]
            at = p == px
            for o in list(lv.orders):
                if at and o.ahead_qty:
                    if o.ahead_qty >= rem:
                        o.ahead_qty -= rem
                        continue  # the others behind it see the same trade
                    over = rem - o.ahead_qty
                    o.ahead_qty = 0
                else:
                    o.ahead_qty = 0
                    over = rem
                t = over if over < o.leaves else o.leaves
                if t > 0:
                    rem -= t
                    self._fill(o, p, t, _MAKER)
                if rem <= 0:
                    return qty
        return qty - rem

    def observe(self, e: MboEvent) -> None:
        """Trades and crossing orders, on the book as the event finds it."""
        t = type(e)
        self.now = e.ts_ns
        self._traded_qty = 0
        if t is MboClear:
            self.clear()
            return
        if not self.orders:
            return
        if t is MboExecute:
            x: Any = e
            lvl = self.book.where.get(x.order_id)
            if lvl is None:
                return
            px = x.price if x.price != NO_PRICE else lvl.price
            side = lvl.side
            self._traded_side = side
            self._traded_price = lvl.price
            self._traded_qty = x.qty
            if side == BUY and self.best_bid and self.best_bid >= px:
                self._flow(BUY, px, x.qty, True)
            elif side == SELL and self.best_ask and self.best_ask <= px:
                self._flow(SELL, px, x.qty, True)
        elif t is MboTrade:
            tr: Any = e
            if tr.kind != TRADE_HIDDEN:
                return
            if self.best_bid and tr.price <= self.best_bid:
                self._flow(BUY, tr.price, tr.qty, tr.side == BUY)
            if self.best_ask and tr.price >= self.best_ask:
                self._flow(SELL, tr.price, tr.qty, tr.side == SELL)
        elif t is MboAdd or t is MboModify:
            a: Any = e
            side = a.side
            if t is MboModify:
                lvl = self.book.where.get(a.order_id)
                if lvl is not None:
                    side = lvl.side
                    if a.price == lvl.price or a.price == NO_PRICE:
                        return
            if side not in (BUY, SELL) or a.qty <= 0 or a.price == NO_PRICE:
                return
            if side == SELL and self.best_bid and a.price <= self.best_bid:
                filled = self._flow(BUY, a.price, a.qty, True)
                key = a.price
            elif side == BUY and self.best_ask and a.price >= self.best_ask:
                filled = self._flow(SELL, a.price, a.qty, True)
                key = -a.price
            else:
                return
            if filled:
                self.consumed[key] = self.consumed.get(key, 0) + filled

    def settle(self) -> None:
        """Level changes at the strategy's prices: the model moves the queue ahead."""
        consumed = self.consumed
        for side, price, qty, _count in self.book.deltas():
            key = -price if side == BUY else price
            c = consumed.get(key)
            if c is not None and qty < c:
                if qty:
                    consumed[key] = qty
                else:
                    del consumed[key]
            lv = (self.bid_levels if side == BUY else self.ask_levels).get(price)
            if lv is None:
                continue
            prev = lv.seen
            lv.seen = qty
            traded = (
                self._traded_qty if self._traded_side == side and self._traded_price == price else 0
            )
            chg = prev - qty - traded
            model = self.model
            for o in lv.orders:
                front = o.ahead_qty
                if chg > 0 and front:
                    back = prev - traded - front
                    front = model.decrease(front, back if back > 0 else 0, chg)
                o.ahead_qty = front if front < qty else qty
        if not self.orders and not consumed:
            self.active = False

    def clear(self) -> None:
        """The recorded book was cleared: nothing is ahead, nothing hidden."""
        for o in self.orders.values():
            o.ahead_qty = 0
        for lv in (*self.bid_levels.values(), *self.ask_levels.values()):
            lv.seen = 0
        self.consumed = {}
