"""Hostile strategies for the ``whistle backtest`` tests (loaded as ``module:Class``)."""

from __future__ import annotations

from typing import Any

from whistle.trading.strategy import EmptyConfig, Strategy


class Raises(Strategy):
    """Raises on the first book event: the run must not report figures."""

    def on_book(self, ctx: Any, book: Any) -> None:
        raise RuntimeError("boom in on_book")


class Interrupted(Strategy):
    """Stands for Ctrl-C in the middle of a run (KeyboardInterrupt from a callback)."""

    def on_book(self, ctx: Any, book: Any) -> None:
        raise KeyboardInterrupt


class NotAStrategy:
    """A class that is not a Strategy subclass."""


# -- the README's strategy, verbatim (tests/integration/test_cli_backtest.py runs it) -----
class QuoterConfig(EmptyConfig):  # a frozen msgspec Struct: unknown keys are refused
    qty_lots: int = 1
    offset_ticks: int = 1  # how far behind the best bid / ask to quote
    max_position_lots: int = 5


class Quoter(Strategy):
    """Quote behind the best bid and ask; no new quote on a side at the position limit."""

    Config = QuoterConfig

    def on_start(self, ctx):
        self.ids = {"bid": 0, "ask": 0}

    def on_bbo(self, ctx, book):  # called only when the best bid or ask changed
        off, lim, pos = self.config.offset_ticks, self.config.max_position_lots, ctx.position
        if 0 < book.best_bid < book.best_ask:  # skip an empty, locked or crossed book
            self.quote(ctx, "bid", book.best_bid - off, pos < lim, ctx.buy)
            self.quote(ctx, "ask", book.best_ask + off, -pos < lim, ctx.sell)

    def quote(self, ctx, side, price, allowed, send):
        order = ctx.open_orders.get(self.ids[side])
        if order is None:
            self.ids[side] = send(self.config.qty_lots, price, post_only=True) if allowed else 0
        elif order.price != price:
            ctx.modify(order.client_order_id, price=price)
