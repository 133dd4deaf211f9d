"""Shared harness for the adversarial backtest tests: run_backtest over a scripted list of
``whistle.core.mbo`` events (``whistle.feed.open`` replaced by a reader of that list), and a
strategy that acts at given strategy-clock times from timers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import whistle.feed
from whistle.core.mbo import (
    FLAG_LAST,
    NO_PRICE,
    MboAdd,
    MboCancel,
    MboDelete,
    MboEvent,
    MboExecute,
    MboInstrument,
    MboModify,
    MboTrade,
)
from whistle.trading.backtest import BacktestConfig, BacktestResult, run_backtest
from whistle.trading.context import Context
from whistle.trading.strategy import Strategy

if TYPE_CHECKING:
    import pytest

    from whistle.trading.messages import OrderUpdate

SYM = "ADV"
BUY, SELL = 1, 2


class Tape:
    """Builds an MBO event list; every event at an explicit exchange ns."""

    def __init__(self) -> None:
        self.events: list[MboEvent] = [MboInstrument(1, 0, 0, 0, FLAG_LAST, SYM, 4)]
        self.seq = 0

    def _h(self, ts: int) -> tuple[int, int, int, int, int]:
        self.seq += 1
        return (1, ts, 0, self.seq, FLAG_LAST)

    def add(self, ts: int, oid: int, side: int, price: int, qty: int) -> Tape:
        self.events.append(MboAdd(*self._h(ts), oid, side, price, qty))
        return self

    def execute(self, ts: int, oid: int, qty: int, price: int = NO_PRICE) -> Tape:
        self.events.append(MboExecute(*self._h(ts), oid, qty, 0, price, True, 0))
        return self

    def cancel(self, ts: int, oid: int, qty: int) -> Tape:
        self.events.append(MboCancel(*self._h(ts), oid, qty, 0, NO_PRICE))
        return self

    def delete(self, ts: int, oid: int) -> Tape:
        self.events.append(MboDelete(*self._h(ts), oid, 0, NO_PRICE))
        return self

    def modify(self, ts: int, oid: int, price: int, qty: int, prio: int, new_id: int = 0) -> Tape:
        nid = new_id or oid
        self.events.append(MboModify(*self._h(ts), oid, nid, 0, price, qty, prio))
        return self

    def trade(self, ts: int, side: int, price: int, qty: int, kind: int) -> Tape:
        self.events.append(MboTrade(*self._h(ts), 0, side, price, qty, kind, True, 0))
        return self


class _Stats:
    messages = 0


class _Reader:
    def __init__(self, events: list[MboEvent]) -> None:
        self.events = events
        self.stats = _Stats()

    def __iter__(self) -> Iterator[MboEvent]:
        return iter(self.events)


Action = Callable[[Context], None]


class Script(Strategy):
    """Runs ``actions[t](ctx)`` at strategy-clock time t (timers); records every update."""

    def __init__(self, actions: dict[int, Action] | None = None) -> None:
        super().__init__()
        self.actions = dict(actions or {})
        self.updates: list[OrderUpdate] = []
        self.coids: list[int] = []

    def on_start(self, ctx: Context) -> None:
        for i, at in enumerate(sorted(self.actions)):
            ctx.set_timer(at, i)
        self.order = sorted(self.actions)

    def on_timer(self, ctx: Context, tag: int) -> None:
        self.actions[self.order[tag]](ctx)

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        self.updates.append(update)


def run(
    monkeypatch: pytest.MonkeyPatch, tape: Tape, strategy: Strategy, **kw: Any
) -> BacktestResult:
    events = tape.events
    monkeypatch.setattr(whistle.feed, "open", lambda *a, **k: _Reader(events))
    cfg = BacktestConfig(data="<tape>", symbol=SYM, format="itch", **kw)
    return run_backtest(cfg, strategy)


def fills(result: BacktestResult) -> list[tuple[int, int, int, int]]:
    """(exchange ts, price, qty, liquidity) of every fill."""
    return [(f.ts_ns, f.price, f.qty, f.liquidity) for f in result.fills]
