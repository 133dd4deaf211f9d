"""Stage 2, strategies: ``MarketEvent``s and ``OrderUpdate``s in, ``SignalEvent``s out.

One ``StrategyStage`` hosts several strategies (a *slot* each: a strategy, its ``Context``
for one symbol, and the callbacks it subscribes to). A market event goes to the slots of
its symbol, in slot order; an update goes to the slot that owns the order (known from the
signals the slot emitted). After every callback the stage takes the slot's signals
(``ctx.drain_signals()``), so the output order is deterministic: slot order, then callback
order.

Isolation. A callback that raises anything but ``KeyboardInterrupt`` (an ``Exception``, a
``SystemExit`` from a ``sys.exit()``, a ``CallbackTimeout`` when it runs over its
``CallbackBudget``) stops *that* slot:
what it had done before raising is kept, its open orders are cancelled at once (cancel
signals, through risk like any other), the cause is recorded in ``failures``
(``StrategyError`` text: "strategy callback Hostile.on_book raised ValueError: ...", built
defensively: an exception whose ``__str__`` raises is shown by ``repr`` or its type) and the
slot gets no more callbacks; its context still applies updates so that its orders are
accounted for. The other slots go on.

Timers: before a market event's callbacks, each slot subscribed to ``"timer"`` gets
``on_timer`` for the timers due at the event's time. At the end (``stop``) every running
slot gets ``on_stop`` and then all open orders of every slot are cancelled, so a clean
shutdown leaves nothing resting; after ``on_stop`` a strategy gets no more callbacks (the
updates of those cancels are applied to its context only).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final, final

from whistle.trading.errors import StrategyError
from whistle.trading.messages import MarketKind, SignalEvent
from whistle.trading.strategy import BookView, subscriptions

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from whistle.trading.context import Context
    from whistle.trading.messages import MarketEvent, OrderUpdate
    from whistle.trading.pipeline.budget import CallbackBudget
    from whistle.trading.strategy import Strategy

__all__ = ["SlotFailure", "StrategySlot", "StrategyStage"]

_BOOK: Final = MarketKind.BOOK
_BBO: Final = MarketKind.BBO
_TRADE: Final = MarketKind.TRADE


def _cause_text(callback: str, exc: BaseException, strategy: str) -> str:
    """Return the ``StrategyError`` text for ``exc``, even if ``exc`` cannot be printed.

    A hostile exception's ``__str__`` (or ``__repr__``) may itself raise: the text then
    falls back to ``repr`` and at last to the type's name, so the slot is still stopped.
    """
    try:
        return str(StrategyError(callback, exc, strategy))
    except KeyboardInterrupt:
        raise
    except BaseException:  # whatever the hostile __str__ raised: try repr, then the type
        try:
            text = repr(exc)
        except KeyboardInterrupt:
            raise
        except BaseException:
            text = f"<unprintable {type(exc).__name__}>"
    where = f"{strategy}.{callback}" if strategy else callback
    return f"strategy callback {where} raised {type(exc).__name__}: {text}"


@final
class SlotFailure:
    """Why a slot was stopped: its strategy id, symbol, callback and the cause (text)."""

    __slots__ = ("callback", "cause", "strategy", "strategy_id", "symbol_id")

    def __init__(
        self, strategy_id: int, strategy: str, symbol_id: int, callback: str, cause: str
    ) -> None:
        self.strategy_id = strategy_id
        self.strategy = strategy
        self.symbol_id = symbol_id
        self.callback = callback
        self.cause = cause

    def as_dict(self) -> dict[str, Any]:
        """Return the failure as a JSON-safe dict."""
        return {
            "strategy_id": self.strategy_id,
            "strategy": self.strategy,
            "symbol_id": self.symbol_id,
            "callback": self.callback,
            "cause": self.cause,
        }

    def __repr__(self) -> str:
        return f"SlotFailure({self.strategy_id}, {self.cause!r})"


@final
class StrategySlot:
    """One strategy on one symbol: the strategy, its context and its subscriptions."""

    __slots__ = (
        "ctx",
        "name",
        "on_bbo",
        "on_book",
        "on_timer",
        "on_trade",
        "on_update",
        "running",
        "strategy",
        "strategy_id",
        "symbol_id",
        "view",
    )

    def __init__(self, strategy: Strategy, ctx: Context, strategy_id: int, symbol_id: int) -> None:
        subs = subscriptions(strategy)
        self.strategy = strategy
        self.ctx = ctx
        self.strategy_id = strategy_id
        self.symbol_id = symbol_id
        self.name = strategy.name
        self.view = BookView(symbol_id)
        ctx.book = self.view  # one view per context, reloaded in place by every event
        self.on_book = strategy.on_book if "book" in subs else None
        self.on_bbo = strategy.on_bbo if "bbo" in subs else None
        self.on_trade = strategy.on_trade if "trade" in subs else None
        self.on_update = strategy.on_order_update if "order_update" in subs else None
        self.on_timer = strategy.on_timer if "timer" in subs else None
        self.running = True


@final
class StrategyStage:
    """The strategy stage: several isolated strategies (see the module docstring)."""

    __slots__ = (
        "_budget",
        "_by_symbol",
        "_call",
        "_owner",
        "_tops",
        "failures",
        "slots",
    )

    def __init__(self, slots: Sequence[StrategySlot], budget: CallbackBudget | None = None) -> None:
        self.slots = list(slots)
        ids = [s.strategy_id for s in self.slots]
        if len(set(ids)) != len(ids):
            raise ValueError(f"strategy ids must be unique, were {ids}")
        self._by_symbol: dict[int, list[StrategySlot]] = {}
        for slot in self.slots:
            self._by_symbol.setdefault(slot.symbol_id, []).append(slot)
        self._owner: dict[tuple[int, int], StrategySlot] = {}
        self._tops: dict[int, tuple[int, int, int, int]] = {}
        self.failures: list[SlotFailure] = []
        self._budget = budget
        # The loop is chosen once: with a budget every callback stamps its start time.
        self._call: Callable[[StrategySlot, str, Callable[..., None], Any, list[SignalEvent]], None]
        self._call = self._call_budgeted if budget is not None else self._call_plain

    @property
    def budget(self) -> CallbackBudget | None:
        """Return the per-callback budget (None: callbacks are not timed)."""
        return self._budget

    # ------------------------------------------------------------------ callbacks

    def _call_plain(
        self,
        slot: StrategySlot,
        name: str,
        fn: Callable[..., None],
        arg: Any,
        out: list[SignalEvent],
    ) -> None:
        try:
            if arg is None:
                fn(slot.ctx)
            else:
                fn(slot.ctx, arg)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit, CallbackTimeout...: stop this slot only
            self._fail(slot, name, exc, out)
            return
        self._take(slot, out)

    def _call_budgeted(
        self,
        slot: StrategySlot,
        name: str,
        fn: Callable[..., None],
        arg: Any,
        out: list[SignalEvent],
    ) -> None:
        budget = self._budget
        assert budget is not None
        try:
            budget.started_ns = time.monotonic_ns()
            if arg is None:
                fn(slot.ctx)
            else:
                fn(slot.ctx, arg)
            budget.started_ns = 0
        except KeyboardInterrupt:
            budget.started_ns = 0
            raise
        except BaseException as exc:  # SystemExit, CallbackTimeout...: stop this slot only
            budget.started_ns = 0
            self._fail(slot, name, exc, out)
            return
        self._take(slot, out)

    def _take(self, slot: StrategySlot, out: list[SignalEvent]) -> None:
        signals = slot.ctx.drain_signals()
        if signals:
            owner = self._owner
            for s in signals:
                owner[s.symbol_id, s.client_order_id] = slot
            out += signals

    def _fail(
        self, slot: StrategySlot, callback: str, exc: BaseException, out: list[SignalEvent]
    ) -> None:
        """Stop ``slot``: keep what it did, cancel its open orders, record the cause."""
        slot.running = False
        cause = _cause_text(callback, exc, slot.name)
        self.failures.append(
            SlotFailure(slot.strategy_id, slot.name, slot.symbol_id, callback, cause)
        )
        self._take(slot, out)
        try:
            slot.ctx.cancel_all()
        finally:
            self._take(slot, out)

    # ------------------------------------------------------------------ events

    def start(self, now_ns: int) -> list[SignalEvent]:
        """Call ``on_start`` of every slot; return the signals."""
        out: list[SignalEvent] = []
        for slot in self.slots:
            slot.ctx.now_ns = now_ns
            self._call(slot, "on_start", slot.strategy.on_start, None, out)
        return out

    def on_market(self, ev: MarketEvent) -> list[SignalEvent]:
        """Deliver one market event to the slots of its symbol; return their signals."""
        out: list[SignalEvent] = []
        slots = self._by_symbol.get(ev.symbol_id)
        if slots is None:
            return out
        kind = ev.kind
        ts = ev.ts_ns
        call = self._call
        if kind is _BOOK or kind is _BBO:
            if ev.n_bid:
                top = (ev.bid_px[0], ev.bid_qty[0], ev.ask_px[0], ev.ask_qty[0])
            else:
                top = (0, 0, ev.ask_px[0], ev.ask_qty[0])
            if not ev.n_ask:
                top = (top[0], top[1], 0, 0)
            tops = self._tops
            changed = tops.get(ev.symbol_id) != top
            if changed:
                tops[ev.symbol_id] = top
            book = kind is _BOOK
            for slot in slots:
                if not slot.running:
                    continue
                if slot.on_timer is not None:
                    self._timers(slot, ts, out)
                    if not slot.running:
                        continue
                slot.ctx.now_ns = ts
                view = slot.view
                view.load_event(ev)
                if book and slot.on_book is not None:
                    call(slot, "on_book", slot.on_book, view, out)
                if changed and slot.on_bbo is not None and slot.running:
                    call(slot, "on_bbo", slot.on_bbo, view, out)
            return out
        trade = kind is _TRADE
        for slot in slots:
            if not slot.running:
                continue
            if slot.on_timer is not None:
                self._timers(slot, ts, out)
                if not slot.running:
                    continue
            slot.ctx.now_ns = ts
            if trade and slot.on_trade is not None:
                call(slot, "on_trade", slot.on_trade, ev, out)
        return out

    def _timers(self, slot: StrategySlot, ts: int, out: list[SignalEvent]) -> None:
        """Run the slot's timers due up to ``ts``, each at its own time."""
        ctx = slot.ctx
        fn = slot.on_timer
        assert fn is not None
        t = ctx.next_timer_ns()
        while t is not None and t <= ts:
            ctx.now_ns = t
            for tag in ctx.due_timers(t):
                self._call(slot, "on_timer", fn, tag, out)
                if not slot.running:
                    return
            t = ctx.next_timer_ns()

    def on_updates(self, updates: Sequence[OrderUpdate]) -> list[SignalEvent]:
        """Apply updates to their slots' contexts, call ``on_order_update``; return signals."""
        out: list[SignalEvent] = []
        owner = self._owner
        call = self._call
        for u in updates:
            slot = owner.get((u.symbol_id, u.client_order_id))
            if slot is None:
                continue  # not an order of ours (a venue report for another account)
            ctx = slot.ctx
            if u.ts_ns > ctx.now_ns:
                ctx.now_ns = u.ts_ns
            ctx.apply_update(u)
            if slot.running and slot.on_update is not None:
                call(slot, "on_order_update", slot.on_update, u, out)
        return out

    def break_loop(self, signals: Sequence[SignalEvent], rounds: int) -> list[SignalEvent]:
        """Stop the slots that emitted ``signals`` in an event's ``rounds``-th round.

        A strategy that answers every update of its own orders with new signals (a refusal
        answered with the same order, again and again) would never let the event end. The
        runtimes call this when an event reaches its round limit: every slot that emitted in
        that round is stopped like a strategy that raised, the round's ``signals`` are NOT
        sent (that breaks the loop), and the cancels of the slots' open orders are returned
        instead (an order whose new-order signal was dropped is refused ``UNKNOWN_ORDER``
        by risk, which ends it in the context).
        """
        out: list[SignalEvent] = []
        by_id = {slot.strategy_id: slot for slot in self.slots}
        for strategy_id in sorted({s.strategy_id for s in signals}):
            slot = by_id.get(strategy_id)
            if slot is None or not slot.running:
                continue
            loop = RuntimeError(
                f"it answered its own order updates with new signals for {rounds} rounds "
                "of one market event (a feedback loop)"
            )
            self._fail(slot, "on_order_update", loop, out)
        return out

    def stop(self, now_ns: int) -> list[SignalEvent]:
        """Call ``on_stop`` of every running slot, then cancel every open order."""
        out: list[SignalEvent] = []
        for slot in self.slots:
            slot.ctx.now_ns = max(slot.ctx.now_ns, now_ns)
            if slot.running:
                self._call(slot, "on_stop", slot.strategy.on_stop, None, out)
                slot.running = False  # stopped: its last updates are applied, not called back
        for slot in self.slots:
            slot.ctx.cancel_all()
            self._take(slot, out)
        return out

    def open_orders(self) -> int:
        """Return the open orders of every slot (0 after a clean stop)."""
        return sum(len(slot.ctx.open_orders) for slot in self.slots)
