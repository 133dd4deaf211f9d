"""``run_backtest``: one strategy on one symbol of a recorded order-level file.

The wiring, top to bottom (one place, as exchange-core's pipeline builder):

1. ``whistle.feed.open`` decodes the file into ``whistle.core.mbo`` events (the symbol only);
2. for each event, in exchange time order: first everything due before it (the strategy's
   orders arriving at the exchange after their latency; updates reaching the strategy after
   the ack latency; the strategy's timers), then
3. ``exchange.observe(e)`` (queue bookkeeping on the book as the event finds it), then
   ``MarketByOrderBook.apply(e)``, then ``exchange.settle()``;
4. the strategy sees the event at its exchange time plus the feed latency, through its
   ``Context`` (``ctx.book`` reloaded from the live book): ``on_book`` when the book changed,
   ``on_bbo`` when the top of book (price or qty) changed, ``on_trade`` on a trade; only the
   callbacks the strategy overrides are called (``subscriptions``), so a strategy that does
   not subscribe to a kind pays nothing for it;
5. its signals go through the ``RiskEngine`` (a refusal comes back at once as a REJECTED
   update) and, approved, travel to the exchange (entry / modify / cancel latency);
6. the exchange's updates come back after the ack latency: risk, then ``ctx.apply_update``,
   then ``on_order_update``;
7. at the end: what is still in flight is delivered, ``on_stop`` runs, its orders are
   delivered too, and a final timeline sample is taken.

Clocks. Everything runs on the data's exchange clock. The strategy's clock (``ctx.now_ns``)
is the time it sees a thing: an event's time plus the feed latency, an update's exchange
time plus the ack latency. When the ack latency is below the feed latency, an update is
delivered as soon as the run has reached its exchange time (the book the strategy reads
then is the one at that time). An order and a recorded event at the same exchange ns: the
recorded event first (the conservative choice). Ties among the strategy's own items keep
the order they were made in.

Determinism: no wall clock, no unseeded randomness, no iteration over unordered sets on
the path; the same data, strategy, config and seed give the same fills (tested byte for
byte). A run that cannot finish raises ``BacktestError`` and returns nothing.
"""

from __future__ import annotations

import heapq
import time
from typing import TYPE_CHECKING, Any, Final

import msgspec

import whistle.feed
from whistle.book.mbo import (
    CHANGED_BBO,
    CHANGED_BOOK,
    CHANGED_TRADE,
    MarketByOrderBook,
    MboAnomalyError,
)
from whistle.core.instrument import stable_symbol_id
from whistle.core.mbo import NO_PRICE, MboExecute, MboInstrument
from whistle.core.reasons import RejectReason
from whistle.feed.errors import FeedError
from whistle.trading.backtest.errors import BacktestConfigError, BacktestError
from whistle.trading.backtest.exchange import BacktestExchange, FifoExchange
from whistle.trading.backtest.fees import FeeModel
from whistle.trading.backtest.interactive import InteractiveExchange
from whistle.trading.backtest.latency import latency_model
from whistle.trading.backtest.queue import L2Exchange, queue_model
from whistle.trading.backtest.result import BacktestResult, Fill, Sample
from whistle.trading.context import Context
from whistle.trading.errors import OrderStateError, StrategyError
from whistle.trading.messages import (
    LEVELS,
    MarketEvent,
    MarketKind,
    OrderUpdate,
    RiskReason,
    SignalKind,
    UpdateKind,
)
from whistle.trading.risk import RiskConfig, RiskConfigError, RiskEngine
from whistle.trading.strategy import subscriptions

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from whistle.core.mbo import MboEvent
    from whistle.trading.backtest.config import BacktestConfig
    from whistle.trading.backtest.latency import LatencyModel
    from whistle.trading.messages import Order, SignalEvent
    from whistle.trading.strategy import Strategy

__all__ = ["PROGRESS_EVERY", "make_exchange", "run_backtest"]

PROGRESS_EVERY: Final = 1 << 16
"""``progress`` is called every this many events (and once at the end)."""
_END_LIMIT: Final = 1_000_000
"""Items the end of a run may still process before the strategy is called a livelock."""

# heap item kinds
_NEW: Final = 0
_CANCEL: Final = 1
_MODIFY: Final = 2
_DELIVER: Final = 3

_BUY_SIGNAL: Final = int(SignalKind.BUY)
_SELL_SIGNAL: Final = int(SignalKind.SELL)
_CANCEL_SIGNAL: Final = int(SignalKind.CANCEL)
_FILLED: Final = UpdateKind.FILLED
_REJECTED: Final = UpdateKind.REJECTED
_TAIL: Final = (0,) * (LEVELS - 1)
_REJECT_NAMES: Final = {int(r): r.name for r in RejectReason}
_ZERO: Final = (0,) * LEVELS


def make_exchange(
    config: BacktestConfig, book: MarketByOrderBook, symbol_id: int
) -> BacktestExchange | InteractiveExchange:
    """Build the exchange the config names (the one place the models are chosen):
    interactive -> ``InteractiveExchange``; ``fifo`` -> ``FifoExchange``; an L2 model ->
    ``L2Exchange`` with ``queue.queue_model(...)``."""
    fees = FeeModel.from_config(config.fees, config.symbol)
    if config.interactive:
        return InteractiveExchange(book, symbol_id, fees, config.symbol, config.account)
    model = config.queue_model
    if model == "fifo":
        return FifoExchange(book, symbol_id, fees)
    return L2Exchange(book, symbol_id, fees, queue_model(model, config.queue_power, config.seed))


def _strategy_error(callback: str, exc: BaseException, name: str) -> StrategyError:
    # StrategyError prints its cause: one whose __str__ raises must still end the run as a
    # BacktestError, not escape as whatever its __str__ raised.
    try:
        return StrategyError(callback, exc, name)
    except Exception:
        error = StrategyError(callback, RuntimeError(f"<unprintable {type(exc).__name__}>"), name)
        error.cause = exc
        error.__cause__ = exc
        return error


def _failed(what: str, exc: BaseException) -> BacktestError:
    # The cause is set by hand as well: compiled (mypyc), ``raise ... from`` may not set it.
    try:
        text = str(exc)
    except Exception:
        text = f"<unprintable {type(exc).__name__}>"
    error = BacktestError(f"{what}: {text}")
    error.__cause__ = exc
    return error


def _risk_config(value: Any) -> RiskConfig:
    if value is None:
        return RiskConfig()
    if isinstance(value, RiskConfig):
        return value
    if isinstance(value, dict):
        try:
            return RiskConfig.from_dict(value, source="backtest config risk")
        except RiskConfigError as exc:
            raise BacktestConfigError(str(exc)) from None
    raise BacktestConfigError(f"risk must be a RiskConfig or a table, was {type(value).__name__}")


class _Run:
    """One run's state; ``run`` is the per-event loop, the rest the rare paths."""

    def __init__(self, config: BacktestConfig, strategy: Strategy) -> None:
        config.check()
        self.config = config
        self.strategy = strategy
        self.name = strategy.name
        self.latency: LatencyModel = latency_model(config.latency)
        self.symbol_id = stable_symbol_id(config.symbol)
        self.book = MarketByOrderBook(policy=str(config.feed_options.get("book_policy", "lenient")))
        self.exchange = make_exchange(config, self.book, self.symbol_id)
        self.risk = RiskEngine(_risk_config(config.risk), {self.symbol_id: config.symbol})
        self.account = config.account
        self.ctx = Context(config.symbol, self.symbol_id, config.account, config.strategy_id)
        subs = subscriptions(strategy)
        self.sub_book = "book" in subs
        self.sub_bbo = "bbo" in subs
        self.sub_trade = "trade" in subs
        self.sub_update = "order_update" in subs
        self.sub_timer = "timer" in subs
        self.heap: list[tuple[int, int, int, Any, int]] = []
        """(key: exchange time, seq, kind, payload, strategy time) of what is in flight."""
        self.seq = 0
        self.local = 0
        """The strategy's clock: never goes back."""
        self.now = 0
        """The exchange clock: the time of the last event or item processed."""
        self.fills: list[Fill] = []
        self.order_to_fill: list[int] = []
        self.sent: dict[int, int] = {}
        self.arrivals: dict[int, int] = {}
        """Client order id -> exchange arrival time of its last request."""
        self.orders = 0
        self.modifies = 0
        self.cancels = 0
        self.rejects: dict[str, int] = {}
        self.timeline: list[Sample] = []
        self.mark = 0
        self.price_decimals = 4
        self.risk_top = (-1, -1, -1, -1)
        self.risk_trade = 0
        self.first_ts = 0
        self.last_ts = 0

    # ------------------------------------------------------------------ strategy calls

    def _call(self, callback: str, *args: Any) -> None:
        # SystemExit too: a strategy must not end the run quietly (exit 0, no numbers).
        try:
            getattr(self.strategy, callback)(self.ctx, *args)
        except (Exception, SystemExit) as exc:
            raise _strategy_error(callback, exc, self.name) from exc
        self._signals()

    def _signals(self) -> None:
        signals = self.ctx.drain_signals()
        if signals:
            self._route(signals)

    def _route(self, signals: list[SignalEvent]) -> None:
        # Risk, then the exchange after the latency of the action (a refusal comes back now).
        risk = self.risk
        latency = self.latency
        local = self.local + latency.risk(self.local)  # when the check is done
        self._sync_risk_market()
        for s in signals:
            d = risk.check(s, self.account, self.local)
            kind = int(s.kind)
            if not d.approved:
                reason = RiskReason(d.reason)
                self.rejects[reason.name] = self.rejects.get(reason.name, 0) + 1
                side = 1 if kind == _BUY_SIGNAL else 2 if kind == _SELL_SIGNAL else 0
                if not side:
                    open_order = self.ctx.open_orders.get(s.client_order_id)
                    side = int(open_order.side) if open_order is not None else 0
                update = OrderUpdate(
                    _REJECTED,
                    s.client_order_id,
                    self.symbol_id,
                    side,
                    s.price,
                    s.qty,
                    reason=int(reason),
                    text=reason.name,
                    ts_ns=local,
                )
                self._push(self._key(local), _DELIVER, update, local)
                continue
            coid = s.client_order_id
            if kind in (_BUY_SIGNAL, _SELL_SIGNAL):
                self.orders += 1
                self.sent[coid] = self.local
                payload: Any = (
                    coid,
                    1 if kind == _BUY_SIGNAL else 2,
                    s.price,
                    s.qty,
                    int(s.tif),
                    s.post_only,
                )
                self._send(coid, local + latency.entry(local), _NEW, payload, local)
            elif kind == _CANCEL_SIGNAL:
                self.cancels += 1
                self._send(coid, local + latency.cancel(local), _CANCEL, coid, local)
            else:
                self.modifies += 1
                self._send(
                    coid, local + latency.modify(local), _MODIFY, (coid, s.price, s.qty), local
                )

    def _send_cancels(self, orders: list[Order]) -> None:
        # The kill switch's cancels (risk already approved them: they bypass the check).
        local = self.local
        for order in orders:
            self.cancels += 1
            coid = order.client_order_id
            self._send(coid, local + self.latency.cancel(local), _CANCEL, coid, local)

    def _send(self, coid: int, arrive: int, kind: int, payload: Any, local: int) -> None:
        # One order's requests reach the exchange in the order they were sent: a cancel or
        # modify with a shorter latency than its order's entry waits for it (FIFO per order).
        last = self.arrivals.get(coid, 0)
        if arrive < last:
            arrive = last
        self.arrivals[coid] = arrive
        self._push(arrive, kind, payload, local)

    def _sync_risk_market(self) -> None:
        # Risk sees the recorded book (never the strategy's view, which it could overwrite),
        # lazily: only when a signal is to be checked.
        book = self.book
        bk = book.bids.best
        ak = book.asks.best
        bid = -bk if book.bids.levels else 0
        ask = ak if book.asks.levels else 0
        bid_qty = book.bids.levels[bk].qty if bid else 0
        ask_qty = book.asks.levels[ak].qty if ask else 0
        top = (bid, bid_qty, ask, ask_qty)
        if top != self.risk_top:
            self.risk_top = top
            n_bid = 1 if bid else 0
            n_ask = 1 if ask else 0
            self.risk.on_market(
                MarketEvent(
                    MarketKind.BBO,
                    self.symbol_id,
                    self.now,
                    n_bid=n_bid,
                    n_ask=n_ask,
                    bid_px=(bid, *_TAIL) if n_bid else _ZERO,
                    bid_qty=(bid_qty, *_TAIL) if n_bid else _ZERO,
                    ask_px=(ask, *_TAIL) if n_ask else _ZERO,
                    ask_qty=(ask_qty, *_TAIL) if n_ask else _ZERO,
                )
            )
        last = book.last_trade_price
        if last != NO_PRICE and last != self.risk_trade:
            self.risk_trade = last
            self.risk.on_market(
                MarketEvent(MarketKind.TRADE, self.symbol_id, self.now, price=last, qty=1)
            )

    # ------------------------------------------------------------------ in flight

    def _key(self, local: int) -> int:
        # The exchange time at which the strategy's clock reads ``local`` (what it sees then).
        key = local - self.latency.feed(local)
        return key if key > self.now else self.now

    def _push(self, key: int, kind: int, payload: Any, local: int) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (key, self.seq, kind, payload, local))

    def _pump(self, ts: int) -> None:
        """Process what is due strictly before exchange time ``ts`` (items and timers)."""
        heap = self.heap
        ctx = self.ctx
        feed = self.latency.feed
        budget = _END_LIMIT
        while True:
            budget -= 1
            if budget < 0:
                raise BacktestError(
                    f"the strategy does not let time pass: more than {_END_LIMIT} orders,"
                    f" updates and timers due before exchange time {ts}"
                )
            key = heap[0][0] if heap else ts
            if self.sub_timer:
                at = ctx.next_timer_ns()
                if at is not None:
                    tkey = at - feed(at)
                    if tkey < ts and tkey < key:
                        self._timers(at, tkey)
                        continue
            if key >= ts:
                return
            self._item(heapq.heappop(heap))

    def _timers(self, at: int, key: int) -> None:
        if key > self.now:
            self.now = key
        ctx = self.ctx
        if at > self.local:
            self.local = at
        ctx.now_ns = self.local
        ctx.book.load_book(self.book, self.now)
        for tag in ctx.due_timers(at):
            self._call("on_timer", tag)

    def _item(self, item: tuple[int, int, int, Any, int]) -> None:
        key, _seq, kind, payload, local = item
        if key > self.now:
            self.now = key
        if kind == _DELIVER:
            self._deliver(payload, local)
            return
        ex = self.exchange
        if kind == _NEW:
            coid, side, price, qty, tif, post_only = payload
            ex.new_order(coid, side, price, qty, tif, post_only, key)
        elif kind == _CANCEL:
            ex.cancel(payload, key)
        else:
            coid, price, qty = payload
            ex.modify(coid, price, qty, key)
        self._collect()

    def _collect(self) -> None:
        """Record the exchange's updates and send them back after the ack latency."""
        ex = self.exchange
        out = ex.out
        ex.out = []
        book = self.book
        bk = book.bids.best
        ak = book.asks.best
        mid_x2 = ak - bk if book.bids.levels and book.asks.levels else 0
        ack = self.latency.ack
        for u in out:
            t = u.ts_ns
            if u.kind == _FILLED:
                self.fills.append(
                    Fill(
                        t,
                        u.client_order_id,
                        u.side,
                        u.fill_price,
                        u.fill_qty,
                        u.liquidity,
                        u.fee,
                        mid_x2,
                    )
                )
                self.order_to_fill.append(t - self.sent.get(u.client_order_id, t))
            elif u.kind == _REJECTED:
                name = _REJECT_NAMES.get(u.reason, str(u.reason))
                self.rejects[name] = self.rejects.get(name, 0) + 1
            local = t + ack(t)
            self._push(self._key(local), _DELIVER, u, local)

    def _deliver(self, update: OrderUpdate, local: int) -> None:
        if local > self.local:
            self.local = local
        ctx = self.ctx
        ctx.now_ns = self.local
        ctx.book.load_book(self.book, self.now)  # the book as it is when the update is heard
        cancels = self.risk.on_update(update)
        try:
            ctx.apply_update(update)
        except OrderStateError as exc:
            raise BacktestError(
                f"the exchange sent an update the order cannot take: {exc}"
            ) from exc
        if self.sub_update:
            self._call("on_order_update", update)
        if cancels:
            self._send_cancels(cancels)

    # ------------------------------------------------------------------ timeline

    def _sample(self, ts: int) -> None:
        book = self.book
        bb = book.best_bid
        ba = book.best_ask
        if bb != NO_PRICE and ba != NO_PRICE:
            mid_x2 = bb + ba
            self.mark = mid_x2 // 2
        else:
            mid_x2 = 0
            if book.last_trade_price != NO_PRICE:
                self.mark = book.last_trade_price
        ledger = self.ctx.ledger
        equity = ledger.total(self.mark)
        self.timeline.append(
            Sample(
                ts,
                mid_x2,
                bb if bb != NO_PRICE else 0,
                ba if ba != NO_PRICE else 0,
                ledger.position,
                equity,
                ledger.fees,
            )
        )

    # ------------------------------------------------------------------ the loop

    def run(self, progress: Callable[[int, int], None] | None) -> BacktestResult:
        config = self.config
        try:
            reader: Any
            if config.format == "mbp":
                from whistle.trading.backtest.mbp_source import MbpRowReader

                reader = MbpRowReader(config.data, config.symbol)
            else:
                reader = whistle.feed.open(
                    config.data,
                    config.format,
                    [config.symbol],
                    **{k: v for k, v in config.feed_options.items() if k != "book_policy"},
                )
        except (FeedError, TypeError, OSError) as exc:
            raise _failed("cannot open the market data", exc) from exc
        t0 = time.perf_counter()
        events = iter(reader)
        try:
            n = self._loop(reader, events, progress)
            self._finish()
        except StrategyError as exc:
            raise _failed("the strategy failed, the run has no result", exc) from exc
        except FeedError as exc:
            raise _failed("the market data failed, the run has no result", exc) from exc
        except MboAnomalyError as exc:
            raise _failed("the recorded book is inconsistent (strict policy)", exc) from exc
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()  # a run stopped early must not leave the file open
        seconds = time.perf_counter() - t0
        if progress is not None:
            progress(n, n)
        return self._result(n, seconds)

    def _loop(
        self,
        reader: whistle.feed.FeedReader,
        events: Iterator[MboEvent],
        progress: Callable[[int, int], None] | None,
    ) -> int:
        # The per-event path: locals only; a strategy that does not subscribe to a kind
        # costs one int test per event for it.
        book = self.book
        apply = book.apply
        ex = self.exchange
        observe = ex.observe
        settle = ex.settle
        needs_settle = ex.needs_settle
        heap = self.heap
        pump = self._pump
        collect = self._collect
        ctx = self.ctx
        view = ctx.book
        load = view.load_book
        strategy = self.strategy
        drain = ctx.drain_signals
        route = self._route
        on_book = strategy.on_book
        on_bbo = strategy.on_bbo
        sub_book = self.sub_book
        sub_bbo = self.sub_bbo
        sub_trade = self.sub_trade
        sub_timer = self.sub_timer
        sub_any = sub_book or sub_bbo or sub_trade
        latency = self.latency
        feed_const = latency.feed_ns if latency.constant else -1  # type: ignore[attr-defined]
        feed = latency.feed
        every = self.config.sample_every_ns
        next_sample = 0
        max_events = self.config.max_events
        name = self.name
        instrument_t = MboInstrument
        top = (0, 0, 0, 0)
        n = 0
        started = False
        named = False  # every decoder names an instrument before its first event
        symbol = self.config.symbol
        for e in events:
            if type(e) is instrument_t:
                if e.symbol == symbol:
                    self.price_decimals = e.price_decimals
                    named = True
                continue
            ts = e.ts_ns
            if not started:
                started = True
                self.first_ts = ts
                next_sample = ts
                self._start(ts)
            if (heap and heap[0][0] < ts) or sub_timer:
                pump(ts)  # self.now stays the last processed time: items set it as they run
            n += 1
            if ex.active:
                self.now = ts
                observe(e)
                bits = apply(e)
                if needs_settle:
                    settle()
                if ex.out:
                    collect()
            else:
                bits = apply(e)
            if heap and heap[0][0] <= ts:
                self.now = ts
                pump(ts + 1)  # what is due at this very ns: after the recorded event
            if bits and sub_any:
                local = ts + (feed_const if feed_const >= 0 else feed(ts))
                if local > self.local:
                    self.local = local
                ctx.now_ns = self.local
                # The view holds the top of book only (depth() reads the live book): it
                # can differ from the book's only after a CHANGED_BBO event.
                if bits & CHANGED_BBO:
                    load(book, ts)
                else:
                    view.ts_ns = ts
                if sub_book and bits & CHANGED_BOOK:
                    try:
                        on_book(ctx, view)
                    except (
                        Exception,
                        SystemExit,
                    ) as exc:  # a strategy must not end the run quietly
                        raise _strategy_error("on_book", exc, name) from exc
                    signals = drain()
                    if signals:
                        self.now = ts
                        route(signals)
                if sub_bbo and bits & CHANGED_BBO:
                    now_top = (view.best_bid, view.bid_qty, view.best_ask, view.ask_qty)
                    if now_top != top:
                        top = now_top
                        try:
                            on_bbo(ctx, view)
                        except (
                            Exception,
                            SystemExit,
                        ) as exc:  # a strategy must not end the run quietly
                            raise _strategy_error("on_bbo", exc, name) from exc
                        signals = drain()
                        if signals:
                            self.now = ts
                            route(signals)
                if sub_trade and bits & CHANGED_TRADE:
                    self.now = ts
                    self._trade(e, ts)
            if ts >= next_sample:
                self._sample(ts)
                next_sample = ts - ts % every + every
            if n == max_events:
                break
            if progress is not None and not n & (PROGRESS_EVERY - 1):
                progress(reader.stats.messages, 0)
        self.now = self.last_ts = max(self.now, ts if started else 0)
        if not started or not named:
            raise BacktestError(
                f"{self.config.data}: no events for symbol {symbol!r} in the data"
                f" ({self.config.format}); nothing to backtest"
            )
        return n

    def _start(self, ts: int) -> None:
        local = ts + self.latency.feed(ts)
        self.local = local
        self.now = ts
        self.ctx.now_ns = local
        self.ctx.book.load_book(self.book, ts)
        self._call("on_start")

    def _trade(self, e: MboEvent, ts: int) -> None:
        book = self.book
        side = 0
        if type(e) is MboExecute:
            # The resting order's side is the event's (or unknown): the aggressor is the other.
            resting = e.side
            side = 3 - resting if resting in (1, 2) else 0
        else:
            hidden = getattr(e, "side", 0)
            side = 3 - hidden if hidden in (1, 2) else 0
        trade = MarketEvent(
            MarketKind.TRADE,
            self.symbol_id,
            ts,
            seq=e.sequence,
            price=book.last_trade_price,
            qty=book.last_trade_qty,
            side=side,
        )
        self._call("on_trade", trade)

    def _finish(self) -> None:
        # Deliver what is in flight, stop the strategy, deliver its last orders.
        heap = self.heap
        budget = _END_LIMIT
        for phase in (0, 1):
            if phase == 1:
                self.ctx.now_ns = self.local
                self._call("on_stop")
            while heap:
                budget -= 1
                if budget < 0:
                    raise BacktestError(
                        f"the strategy does not settle at the end of the data: more than"
                        f" {_END_LIMIT} orders and updates in flight after the last event"
                    )
                self._item(heapq.heappop(heap))
        self._sample(max(self.now, self.last_ts))

    def _result(self, n: int, seconds: float) -> BacktestResult:
        decimals = self.price_decimals
        ex = self.exchange
        return BacktestResult(
            symbol=self.config.symbol,
            strategy=self.name,
            queue_model=self.config.queue_model,
            events=n,
            seconds=seconds,
            fills=self.fills,
            orders=self.orders,
            modifies=self.modifies,
            cancels=self.cancels,
            rejects=dict(sorted(self.rejects.items())),
            ledger=self.ctx.ledger.snapshot(),
            timeline=self.timeline,
            order_to_fill_ns=self.order_to_fill,
            price_decimals=decimals,
            tick_value=10.0**-decimals,
            divergence=ex.divergence() if isinstance(ex, InteractiveExchange) else None,
            first_ts_ns=self.first_ts,
            last_ts_ns=self.last_ts,
            open_orders=len(self.exchange.orders),
            book_anomalies=dict(sorted(self.book.anomalies.items())),
            crossed_book_orders=ex.crossed_book_orders if isinstance(ex, BacktestExchange) else 0,
        )


def run_backtest(
    config: BacktestConfig,
    strategy: Strategy,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Run ``strategy`` on ``config.symbol`` of ``config.data``; return the finished result.

    ``progress(messages_read, 0)`` is called every ``PROGRESS_EVERY`` events (the messages
    the decoder has read so far, every symbol; the total is not known in advance: 0), and
    ``progress(events, events)`` once at the end. Raises ``BacktestError`` (and returns
    nothing) when the config cannot run, the strategy raises, or the data fails.
    """
    if not isinstance(config, msgspec.Struct):
        raise BacktestConfigError(f"config must be a BacktestConfig, was {type(config).__name__}")
    return _Run(config, strategy).run(progress)
