"""Example strategies: a market maker, an imbalance taker and a no-op baseline.

They are small on purpose (the README shows one) and tested signal by signal in
tests/unit/trading/test_examples.py. Load them by spec:
``whistle.trading.examples:MarketMaker``, ``...:ImbalanceTaker``, ``...:Noop``.

All arithmetic is in ints: prices in ticks, quantities in lots, times in ns, shares of
the top-of-book quantity in whole percent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Final, final

import msgspec

from whistle.core.enums import Side, TimeInForce
from whistle.trading.context import OrderState
from whistle.trading.messages import UpdateKind
from whistle.trading.strategy import BookView, Strategy

if TYPE_CHECKING:
    from whistle.trading.context import Context
    from whistle.trading.messages import OrderUpdate

__all__ = [
    "EXIT_TIMER",
    "ImbalanceTaker",
    "ImbalanceTakerConfig",
    "MarketMaker",
    "MarketMakerConfig",
    "Noop",
]

Lots = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]

EXIT_TIMER: Final = 1
"""The tag of ``ImbalanceTaker``'s holding-time timer."""


def _trunc_div(a: int, b: int) -> int:
    # Integer division rounding toward zero, so a long and a short skew alike.
    q = abs(a) // b
    return q if a >= 0 else -q


@final
class Noop(Strategy):
    """Subscribes to every book change and does nothing: the benchmark baseline."""

    def on_book(self, ctx: Context, book: BookView) -> None:
        """Do nothing (subscribing is the point)."""
        return


class MarketMakerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``MarketMaker`` settings (units in the names)."""

    qty_lots: Lots = 1
    """Size of each quote."""
    half_spread_ticks: NonNegative = 1
    """Distance of each quote from the (skewed) mid."""
    skew_ticks: NonNegative = 1
    """How far both quotes move against the inventory, in ticks per ``qty_lots`` held
    (rounded toward zero): long -> lower quotes (sell more readily), short -> higher."""
    max_inventory_lots: NonNegative = 10
    """Never quote a size that, filled, would take the position past this (either sign)."""
    post_only: bool = True
    """Send quotes post-only (they never take liquidity; they are clamped inside the touch)."""


@final
class MarketMaker(Strategy):
    """Quote one bid and one ask around the mid, skewed by inventory; requote on BBO change.

    On every BBO change and every update of its own orders it computes the target quotes:
    center = mid - skew (in half ticks, exact), bid = floor(center) - half spread, ask =
    ceil(center) + half spread, each clamped so that a post-only quote never crosses the
    touch, with sizes cut so that a full fill keeps ``|position| <= max_inventory_lots``.
    A side with no target is cancelled; a quote in flight (not yet accepted, or with a
    cancel / modify unanswered) is left alone until its answer arrives; a resting quote at
    another price is modified (price, and size if it differs); one at the right price but
    too large for the inventory room is cut; a refused quote is replaced at the next BBO
    change (not at once, which could loop). With an empty side of the book it cancels
    everything. It cancels all its quotes at the end. Its own quotes at the touch are left
    out of the mid (``market``), so on a live venue it does not quote around itself, and
    a quote never reaches its own opposite order (risk would refuse a self-cross): when
    the mid jumps, the far quote moves first and the near one follows.

    The market without its own quotes is read once per BBO change (``on_bbo``) and an
    update of its own orders requotes against that reading (``requote`` says why).
    """

    Config = MarketMakerConfig
    config: MarketMakerConfig

    def __init__(self, config: MarketMakerConfig | dict[str, object] | None = None) -> None:
        super().__init__(config)
        self.bid_id = 0
        """Client order id of the current bid quote (0: none)."""
        self.ask_id = 0
        """Client order id of the current ask quote (0: none)."""
        self._sent: dict[int, int] = {}
        # coid -> the price last asked for (a modify in flight has not changed order.price)
        self._market: BookView | None = None
        # The market without the maker's quotes, read at the last BBO change (see requote).

    def on_start(self, ctx: Context) -> None:
        """Start with no quotes."""
        self.bid_id = self.ask_id = 0
        self._sent = {}
        self._market = None

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        """Read the market without the maker's own quotes, then requote against it."""
        market = self.market(ctx, book)
        # A copy: runtimes refresh ``book`` in place, and targets read the top only.
        self._market = BookView(
            market.symbol_id,
            market.ts_ns,
            market.best_bid,
            market.bid_qty,
            market.best_ask,
            market.ask_qty,
        )
        self.requote(ctx, book)

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        """Requote after a change to a quote (a fill moves the skew); not after a refusal.

        A refused quote is replaced at the next BBO change: requoting at once against the
        same book would be refused again, for ever.
        """
        if update.kind != UpdateKind.REJECTED:
            self.requote(ctx, ctx.book)

    def on_stop(self, ctx: Context) -> None:
        """Cancel every quote."""
        ctx.cancel_all()

    def targets(self, position: int, book: BookView) -> tuple[int, int, int, int]:
        """Return (bid price, bid qty, ask price, ask qty); 0 and 0: no quote on that side."""
        cfg = self.config
        best_bid = book.best_bid
        best_ask = book.best_ask
        if not best_bid or not best_ask:
            return (0, 0, 0, 0)
        center_x2 = best_bid + best_ask - 2 * _trunc_div(position * cfg.skew_ticks, cfg.qty_lots)
        bid_px = center_x2 // 2 - cfg.half_spread_ticks
        ask_px = -(-center_x2 // 2) + cfg.half_spread_ticks
        if cfg.post_only:
            bid_px = min(bid_px, best_ask - 1)
            ask_px = max(ask_px, best_bid + 1)
        if bid_px >= ask_px:
            ask_px = bid_px + 1
        bid_qty = min(cfg.qty_lots, cfg.max_inventory_lots - position)
        ask_qty = min(cfg.qty_lots, cfg.max_inventory_lots + position)
        if bid_px < 1 or bid_qty <= 0:
            bid_px = bid_qty = 0
        if ask_qty <= 0:
            ask_px = ask_qty = 0
        return (bid_px, bid_qty, ask_px, ask_qty)

    def market(self, ctx: Context, book: BookView) -> BookView:
        """Return the book without this maker's own quotes at the touch.

        On a live venue the book holds the maker's quotes; quoting around them would chase
        its own tail. A touch level that is no more than the maker's order at that price
        is replaced by the next level (``depth(2)``); otherwise ``book`` itself is returned.
        """
        bid, bid_qty, ask, ask_qty = book.best_bid, book.bid_qty, book.best_ask, book.ask_qty
        own_bid = own_ask = False
        for order in ctx.open_orders.values():
            if order.side is Side.BUY:
                if bid and order.price == bid and order.leaves_qty >= bid_qty:
                    own_bid = True
            elif ask and order.price == ask and order.leaves_qty >= ask_qty:
                own_ask = True
        if not own_bid and not own_ask:
            return book
        bids, asks = book.depth(2)
        if own_bid:
            bid, bid_qty = bids[1] if len(bids) > 1 else (0, 0)
        if own_ask:
            ask, ask_qty = asks[1] if len(asks) > 1 else (0, 0)
        return BookView(book.symbol_id, book.ts_ns, bid, bid_qty, ask, ask_qty)

    def requote(self, ctx: Context, book: BookView) -> None:
        """Move the quotes to their targets (see the class docstring).

        The targets come from the market read at the last BBO change (``on_bbo``), not from
        ``market(ctx, book)`` afresh: an update of the maker's own order changes its open
        orders but not ``book``, which may show the venue as it was before (order updates
        often arrive ahead of the market data that shows them), its own old quote included.
        Re-deriving "the book without my quotes" from that book and the new orders made the
        targets depend on where the quote had just come to rest: a bid moved onto the stale
        level took it for its own and stepped back, a bid moved off it took it for the
        market's and stepped up, for ever (102 <-> 104 through a synchronous exchange).
        Read once per BBO change, the targets between two changes depend on that market and
        the position only, so an acknowledged quote is at its target or one step short of
        it (held back by its own opposite quote): at most four orders per BBO change or fill.
        """
        market = self._market
        if market is None:  # no BBO change seen yet (a runtime may call with updates first)
            market = self.market(ctx, book)
        bid_px, bid_qty, ask_px, ask_qty = self.targets(ctx.position, market)
        if self.config.post_only:
            # Clamped inside the whole book's touch too, own quotes included (a post-only
            # bid at the maker's own ask would be refused).
            if bid_qty and book.best_ask and bid_px >= book.best_ask:
                bid_px = book.best_ask - 1  # >= 1: the market's bid is below it
            if ask_qty and book.best_bid and ask_px <= book.best_bid:
                ask_px = book.best_bid + 1
        # Never at or through its own opposite order, at the price it rests at or the one a
        # modify in flight asked for: risk refuses a self-cross (SELF_CROSS). When the mid
        # jumps, the far quote moves first and the near one follows at its next requote.
        sent = self._sent
        ask_floor = bid_ceiling = 0
        for coid, order in ctx.open_orders.items():
            asked = sent.get(coid, order.price)
            if order.side is Side.SELL:
                low = min(order.price, asked)
                if not ask_floor or low < ask_floor:
                    ask_floor = low
            else:
                bid_ceiling = max(bid_ceiling, order.price, asked)
        if bid_qty and ask_floor and bid_px >= ask_floor:
            bid_px = ask_floor - 1
            if bid_px < 1:
                bid_px = bid_qty = 0
        if ask_qty and bid_ceiling and ask_px <= bid_ceiling:
            ask_px = bid_ceiling + 1
        if len(sent) > 4:  # forget the orders that are done (at most a few are live)
            self._sent = {c: p for c, p in sent.items() if c in ctx.open_orders}
        self.bid_id = self._quote(ctx, Side.BUY, self.bid_id, bid_px, bid_qty)
        self.ask_id = self._quote(ctx, Side.SELL, self.ask_id, ask_px, ask_qty)

    def _quote(self, ctx: Context, side: Side, coid: int, price: int, qty: int) -> int:
        order = ctx.open_orders.get(coid) if coid else None
        if qty <= 0:
            if order is not None:
                ctx.cancel(coid)  # False when a cancel is already on its way: fine
                return coid
            return 0
        if order is None:
            coid = ctx.submit(side, qty, price, TimeInForce.DAY, self.config.post_only)
            self._sent[coid] = price
            return coid
        if order.state is OrderState.PENDING_NEW or order.pending:
            return coid  # in flight: requote when its answer arrives
        if order.price != price:
            ctx.modify(coid, qty=qty if qty != order.leaves_qty else None, price=price)
            self._sent[coid] = price
        elif qty < order.leaves_qty:
            ctx.modify(coid, qty=qty)
        return coid


class ImbalanceTakerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``ImbalanceTaker`` settings."""

    qty_lots: Lots = 1
    """Size of each entry."""
    threshold_pct: Annotated[int, msgspec.Meta(ge=51, le=100)] = 70
    """Enter long when the best bid holds at least this share of the top-of-book quantity
    (bid + ask), short when the best ask does."""
    exit_pct: Percent = 60
    """Exit a long when the best ask holds at least this share (a reversal); a short when
    the best bid does."""
    hold_ns: NonNegative = 1_000_000_000
    """Exit after holding this long (0: no time exit)."""
    max_position_lots: Lots = 1
    """Never enter past this absolute position."""


@final
class ImbalanceTaker(Strategy):
    """Take liquidity when top-of-book quantity is lopsided; exit on reversal or on time.

    On each BBO change with both sides present and no order in flight: with a position,
    exit it whole (an IOC at the opposite touch) when the book turned against it
    (``exit_pct``) or the holding time is up; otherwise enter (an IOC for ``qty_lots`` at
    the opposite touch, capped by ``max_position_lots``) when one side holds
    ``threshold_pct`` of the top-of-book quantity. The holding clock starts at the fill
    that opens a position; a timer (``EXIT_TIMER``) makes the time exit happen even when
    the book is quiet.
    """

    Config = ImbalanceTakerConfig
    config: ImbalanceTakerConfig

    def __init__(self, config: ImbalanceTakerConfig | dict[str, object] | None = None) -> None:
        super().__init__(config)
        self.entry_ns = -1
        """When the current position was opened (-1: flat)."""

    def on_start(self, ctx: Context) -> None:
        """Start flat."""
        self.entry_ns = -1

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        """Exit or enter on the new top of book."""
        if ctx.open_orders or not book.best_bid or not book.best_ask:
            return
        if not self._exit_if_due(ctx, book):
            self._enter_if_lopsided(ctx, book)

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        """Start or stop the holding clock as the position opens or closes."""
        position = ctx.position
        if position == 0:
            if self.entry_ns >= 0:
                self.entry_ns = -1
                ctx.cancel_timers(EXIT_TIMER)
        elif self.entry_ns < 0:
            self.entry_ns = ctx.now_ns
            if self.config.hold_ns:
                ctx.after(self.config.hold_ns, EXIT_TIMER)

    def on_timer(self, ctx: Context, tag: int) -> None:
        """The holding time is up: exit if still positioned and nothing is in flight."""
        book = ctx.book
        if tag == EXIT_TIMER and not ctx.open_orders and book.best_bid and book.best_ask:
            self._exit_if_due(ctx, book)

    def _exit_if_due(self, ctx: Context, book: BookView) -> bool:
        position = ctx.position
        if position == 0:
            return False
        cfg = self.config
        total = book.bid_qty + book.ask_qty
        timed_out = (
            cfg.hold_ns > 0 and self.entry_ns >= 0 and ctx.now_ns - self.entry_ns >= cfg.hold_ns
        )
        if position > 0:
            if timed_out or book.ask_qty * 100 >= cfg.exit_pct * total:
                ctx.sell(position, book.best_bid, TimeInForce.IOC)
                return True
        elif timed_out or book.bid_qty * 100 >= cfg.exit_pct * total:
            ctx.buy(-position, book.best_ask, TimeInForce.IOC)
            return True
        return False

    def _enter_if_lopsided(self, ctx: Context, book: BookView) -> None:
        cfg = self.config
        position = ctx.position
        total = book.bid_qty + book.ask_qty
        if book.bid_qty * 100 >= cfg.threshold_pct * total:
            qty = min(cfg.qty_lots, cfg.max_position_lots - position)
            if qty > 0:
                ctx.buy(qty, book.best_ask, TimeInForce.IOC)
        elif book.ask_qty * 100 >= cfg.threshold_pct * total:
            qty = min(cfg.qty_lots, cfg.max_position_lots + position)
            if qty > 0:
                ctx.sell(qty, book.best_bid, TimeInForce.IOC)
