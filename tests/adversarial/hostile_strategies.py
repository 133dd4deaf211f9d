"""Hostile strategies for the R1 adversarial tests (importable as module:Class)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from whistle.core.enums import TimeInForce
from whistle.trading.strategy import BookView, Strategy

if TYPE_CHECKING:
    from whistle.trading.context import Context


class ExitOnBbo(Strategy):
    """Quotes once, then raises SystemExit(0) on its fifth BBO change."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.n = 0

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        self.n += 1
        if self.n == 1 and book.best_bid:
            ctx.buy(1, book.best_bid - 1)
        if self.n == 5:
            raise SystemExit(0)


class Quoter(Strategy):
    """Keeps one bid one tick under the best bid."""

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        if not ctx.open_orders and book.best_bid > 1:
            ctx.buy(1, book.best_bid - 1)


class SpinOnStart(Strategy):
    """Never returns from on_start."""

    def on_start(self, ctx: Context) -> None:
        while True:
            pass

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        pass


class SpinOnStop(Quoter):
    """Quotes, then never returns from on_stop."""

    def on_stop(self, ctx: Context) -> None:
        while True:
            pass


class SpinInUpdate(Quoter):
    """Quotes, then never returns from its first order update."""

    def on_order_update(self, ctx: Context, update: object) -> None:
        while True:
            pass


class Unprintable(Exception):
    """An exception whose str() and repr() raise."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class RaiseUnprintable(Quoter):
    """Quotes, then raises an exception that cannot be printed."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.n = 0

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        super().on_bbo(ctx, book)
        self.n += 1
        if self.n == 5:
            raise Unprintable


class TimerTrader(Strategy):
    """On each trade arms a timer 1 ms later; on the timer takes 1 lot at the touch (IOC),
    alternating sides, and cancels whatever it still has open."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.n = 0

    def on_trade(self, ctx: Context, trade: object) -> None:
        ctx.after(1_000_000, self.n)

    def on_timer(self, ctx: Context, tag: int) -> None:
        self.n += 1
        ctx.cancel_all()
        book = ctx.book
        if self.n % 2 and book.best_ask:
            ctx.buy(1, book.best_ask, tif=TimeInForce.IOC)
        elif book.best_bid:
            ctx.sell(1, book.best_bid, tif=TimeInForce.IOC)
        if book.best_bid > 1:
            ctx.buy(1, book.best_bid - 1)


class TradeOnlyBidder(Strategy):
    """Subscribes to trades only; on the first trade that finds a book, bids under it."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.sent = False

    def on_trade(self, ctx: Context, trade: object) -> None:
        if not self.sent and ctx.book.best_bid > 1:
            self.sent = True
            ctx.buy(1, ctx.book.best_bid - 1)
