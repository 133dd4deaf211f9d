"""VenueGateway and VenueExchange against real whistle venues (embedded and with a host)."""

from __future__ import annotations

import pytest

from whistle.coord.durability.datadir import JournalUnavailable
from whistle.coord.venue.facade import Venue
from whistle.core.enums import CancelCause, Liquidity, Side, TimeInForce, TradingState
from whistle.core.reasons import RejectReason
from whistle.trading.context import Context, OrderState
from whistle.trading.errors import GatewayError
from whistle.trading.examples import MarketMaker
from whistle.trading.gateway import Exchange, Gateway, VenueExchange, VenueGateway, fee_of
from whistle.trading.messages import (
    MarketEvent,
    MarketKind,
    Order,
    OrderAction,
    OrderUpdate,
    SignalKind,
    UpdateKind,
)
from whistle.trading.strategy import BookView

NEW, CANCEL, MODIFY = OrderAction.NEW, OrderAction.CANCEL, OrderAction.MODIFY
BUY, SELL = Side.BUY, Side.SELL
DAY, IOC = TimeInForce.DAY, TimeInForce.IOC
ME, OTHER = 1, 2


@pytest.fixture
def venue():
    v = Venue()
    v.add_instrument("BOB", max_qty="1000")
    v.add_instrument("ALICE")
    yield v
    if not v._stopped:
        v.stop()


def sid(v, name="BOB"):
    return v.instrument(name).symbol_id


def new(v, coid, side, price, qty, tif=DAY, post_only=False, account=ME, symbol="BOB"):
    return Order(NEW, coid, account, sid(v, symbol), side, price, qty, tif, post_only)


def kinds(updates):
    return [u.kind for u in updates]


# -- fees ------------------------------------------------------------------------------


def test_fee_is_ppm_of_notional_rounded_half_even():
    assert fee_of(100, 10, 300) == 0  # 0.3
    assert fee_of(100, 50, 100) == 0  # 0.5 -> 0 (even)
    assert fee_of(100, 150, 100) == 2  # 1.5 -> 2
    assert fee_of(100, 250, 100) == 2  # 2.5 -> 2
    assert fee_of(1000, 1000, 250) == 250
    assert fee_of(100, 150, -100) == -2  # a rebate: -1.5 -> -2
    assert fee_of(100, 250, -100) == -2  # -2.5 -> -2
    assert fee_of(100, 10, 0) == 0


# -- VenueGateway ----------------------------------------------------------------------


def test_a_resting_order_filled_by_another_account_arrives_via_poll(venue):
    g = VenueGateway(venue, ME, ["BOB"], maker_ppm=-100, taker_ppm=300)
    assert isinstance(g, Gateway)
    (ack,) = g.send(new(venue, 11, BUY, 10_000, 50))
    assert (ack.kind, ack.client_order_id, ack.price, ack.qty, ack.leaves_qty) == (
        UpdateKind.ACCEPTED,
        11,
        10_000,
        50,
        50,
    )
    oid = ack.venue_order_id
    assert g.venue_order_id(sid(venue), 11) == oid
    assert g.client_order_id(sid(venue), oid) == 11
    assert g.poll(0) == []
    venue.submit("BOB", "sell", qty_lots=30, price_ticks=9_990, account=OTHER)
    (fill,) = g.poll(0)
    assert fill == OrderUpdate(
        UpdateKind.FILLED,
        11,
        sid(venue),
        BUY,
        10_000,
        50,
        20,
        10_000,
        30,
        Liquidity.MAKER,
        -30,  # -100 ppm of 300,000 tick-lots
        0,
        "",
        0,
        oid,
    )
    assert g.poll(0) == []
    venue.submit("BOB", "sell", qty_lots=20, price_ticks=10_000, account=OTHER)
    (last,) = g.poll(0)
    assert (last.kind, last.fill_qty, last.leaves_qty) == (UpdateKind.FILLED, 20, 0)
    assert g.live_orders == 0
    assert g.venue_order_id(sid(venue), 11) is None


def test_an_aggressive_order_fills_synchronously_as_taker(venue):
    g = VenueGateway(venue, ME, ["BOB"], taker_ppm=1000)
    venue.submit("BOB", "sell", qty_lots=3, price_ticks=101, account=OTHER)
    venue.submit("BOB", "sell", qty_lots=4, price_ticks=102, account=OTHER)
    out = g.send(new(venue, 1, BUY, 102, 10, IOC))
    assert kinds(out) == [
        UpdateKind.ACCEPTED,
        UpdateKind.FILLED,
        UpdateKind.FILLED,
        UpdateKind.CANCELLED,
    ]
    assert [(u.fill_price, u.fill_qty, u.leaves_qty, u.liquidity) for u in out[1:3]] == [
        (101, 3, 7, Liquidity.TAKER),
        (102, 4, 3, Liquidity.TAKER),
    ]
    assert [u.fee for u in out[1:3]] == [0, 0]  # 0.303 and 0.408 tick-lots round to 0
    assert (out[3].reason, out[3].text, out[3].leaves_qty) == (
        CancelCause.IOC_REMAINDER,
        "IOC_REMAINDER",
        0,
    )
    assert g.live_orders == 0


@pytest.mark.parametrize(
    ("order_args", "reason"),
    [
        ((BUY, 0, 5), RejectReason.PRICE_NOT_POSITIVE),
        ((BUY, 100, 0), RejectReason.QTY_NOT_POSITIVE),
        ((BUY, 100, 5000), RejectReason.QTY_ABOVE_MAX),
        ((BUY, 100, 5, TimeInForce.GTD), RejectReason.GTD_MISSING_EXPIRY),
        ((BUY, 200, 5, DAY, True), RejectReason.POST_ONLY_WOULD_TAKE),
        ((BUY, 100, 5, IOC, True), RejectReason.INVALID_POST_ONLY),
        ((BUY, 100, 1 << 62), RejectReason.VALUE_OUT_OF_RANGE),
    ],
)
def test_venue_rejects_map_to_rejected_updates_with_reason_and_text(venue, order_args, reason):
    venue.submit("BOB", "sell", qty_lots=1, price_ticks=150, account=OTHER)
    g = VenueGateway(venue, ME, ["BOB"])
    (rej,) = g.send(new(venue, 5, *order_args))
    assert rej.kind is UpdateKind.REJECTED
    assert rej.reason == reason
    assert rej.text.startswith(f"{reason.name}: ")
    assert rej.client_order_id == 5
    assert g.live_orders == 0
    # The client order id is free again after a refusal.
    assert kinds(g.send(new(venue, 5, BUY, 100, 1))) == [UpdateKind.ACCEPTED]


def test_an_edge_refusal_carries_the_venues_detail(venue):
    g = VenueGateway(venue, ME, ["BOB"])
    (rej,) = g.send(new(venue, 5, BUY, 100, 1 << 62))
    assert rej.reason == RejectReason.VALUE_OUT_OF_RANGE
    assert "qty" in rej.text
    assert len(rej.text) <= 160


def test_a_halted_symbol_rejects_and_cancels_still_work(venue):
    g = VenueGateway(venue, ME, ["BOB"])
    g.send(new(venue, 1, BUY, 100, 5))
    venue.halt("BOB")
    (rej,) = g.send(new(venue, 2, BUY, 100, 5))
    assert rej.reason == RejectReason.TRADING_HALTED
    (rej,) = g.send(Order(MODIFY, 1, ME, sid(venue), BUY, 99, 0))
    assert (rej.kind, rej.reason, rej.leaves_qty) == (
        UpdateKind.REJECTED,
        RejectReason.TRADING_HALTED,
        5,
    )
    assert g.live_orders == 1  # a refused modify leaves the order live
    assert kinds(g.send(Order(CANCEL, 1, ME, sid(venue), BUY))) == [UpdateKind.CANCELLED]


def test_gateway_refusals_are_updates_not_exceptions(venue):
    g = VenueGateway(venue, ME, ["BOB"])
    s = sid(venue)
    (rej,) = g.send(Order(CANCEL, 99, ME, s, BUY))
    assert (rej.kind, rej.reason, rej.client_order_id) == (
        UpdateKind.REJECTED,
        RejectReason.UNKNOWN_ORDER_ID,
        99,
    )
    assert "no live order with client order id 99" in rej.text
    (rej,) = g.send(Order(MODIFY, 99, ME, s, BUY, 100, 1))
    assert rej.reason == RejectReason.UNKNOWN_ORDER_ID
    g.send(new(venue, 1, BUY, 100, 5))
    (rej,) = g.send(new(venue, 1, BUY, 100, 5))
    assert rej.reason == RejectReason.DUPLICATE_ORDER_ID
    (rej,) = g.send(new(venue, 2, BUY, 100, 5, account=OTHER))
    assert rej.reason == RejectReason.ACCOUNT_MISMATCH
    (rej,) = g.send(new(venue, 3, BUY, 100, 5, symbol="ALICE"))
    assert rej.reason == RejectReason.UNKNOWN_SYMBOL
    (rej,) = g.send(Order(NEW, 4, ME, 424242, BUY, 100, 5))
    assert rej.reason == RejectReason.UNKNOWN_SYMBOL
    (rej,) = g.send(Order(9, 4, ME, s, BUY, 100, 5))  # type: ignore[arg-type]
    assert rej.reason == RejectReason.MALFORMED_COMMAND
    with pytest.raises(TypeError, match="takes an Order"):
        g.send("buy 5")  # type: ignore[arg-type]
    assert g.live_orders == 1
    # A cancel after the order is done is refused the same way.
    g.send(Order(CANCEL, 1, ME, s, BUY))
    (rej,) = g.send(Order(CANCEL, 1, ME, s, BUY))
    assert rej.reason == RejectReason.UNKNOWN_ORDER_ID


def test_modify_and_its_refusal(venue):
    g = VenueGateway(venue, ME, ["BOB"])
    s = sid(venue)
    g.send(new(venue, 1, BUY, 100, 5))
    (mod,) = g.send(Order(MODIFY, 1, ME, s, BUY, 99, 3))
    assert (mod.kind, mod.price, mod.qty, mod.leaves_qty) == (UpdateKind.MODIFIED, 99, 3, 3)
    (rej,) = g.send(Order(MODIFY, 1, ME, s, BUY, 99, 3))
    assert (rej.kind, rej.reason) == (UpdateKind.REJECTED, RejectReason.MODIFY_NO_CHANGE)
    # A modify that crosses trades at once.
    venue.submit("BOB", "sell", qty_lots=2, price_ticks=101, account=OTHER)
    g.poll(0)
    out = g.send(Order(MODIFY, 1, ME, s, BUY, 101, 0))
    assert kinds(out) == [UpdateKind.MODIFIED, UpdateKind.FILLED]
    assert (out[1].fill_price, out[1].fill_qty, out[1].leaves_qty) == (101, 2, 1)


def test_day_orders_expire_through_poll_when_the_gateway_drives_the_clock():
    v = Venue(session_end_ns=1_000)
    v.add_instrument("BOB")
    try:
        g = VenueGateway(v, ME, ["BOB"], drive_clock=True)
        g.send(new(v, 1, BUY, 100, 5))
        assert g.poll(500) == []
        (exp,) = g.poll(2_000)
        assert (exp.kind, exp.reason, exp.client_order_id, exp.leaves_qty) == (
            UpdateKind.EXPIRED,
            CancelCause.EXPIRED,
            1,
            0,
        )
        assert exp.ts_ns == 2_000
        assert g.poll(1_500) == []  # a time behind the venue's clock does not tick
        assert g.live_orders == 0
    finally:
        v.stop()


def test_other_traffic_is_ignored_and_foreign_orders_of_the_account_counted(venue):
    g = VenueGateway(venue, ME, ["BOB"])
    venue.submit("ALICE", "buy", qty_lots=1, price_ticks=100, account=ME)  # not its symbol
    venue.submit("BOB", "buy", qty_lots=1, price_ticks=100, account=OTHER)
    venue.submit("BOB", "buy", qty_lots=1, price_ticks=100, account=ME)  # not entered by it
    assert g.poll(0) == []
    assert g.unmatched_events == 1


def test_same_client_order_id_on_two_symbols_maps_separately(venue):
    g = VenueGateway(venue, ME, ["BOB", sid(venue, "ALICE")])
    assert g.symbol_ids == {sid(venue), sid(venue, "ALICE")}
    a = g.send(new(venue, 1, BUY, 100, 5))[0].venue_order_id
    b = g.send(new(venue, 1, SELL, 200, 5, symbol="ALICE"))[0].venue_order_id
    assert g.venue_order_id(sid(venue), 1) == a
    assert g.venue_order_id(sid(venue, "ALICE"), 1) == b
    (c,) = g.send(Order(CANCEL, 1, ME, sid(venue, "ALICE"), SELL))
    assert (c.kind, c.symbol_id) == (UpdateKind.CANCELLED, sid(venue, "ALICE"))
    assert g.live_orders == 1


def test_constructor_close_and_a_stopped_venue(venue):
    with pytest.raises(ValueError, match="not defined"):
        VenueGateway(venue, ME, ["NOPE"])
    with pytest.raises(ValueError, match="at least one symbol"):
        VenueGateway(venue, ME, [])
    with pytest.raises(TypeError, match="account"):
        VenueGateway(venue, "1", ["BOB"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="account"):
        VenueGateway(venue, -1, ["BOB"])
    g = VenueGateway(venue, ME, ["BOB"])
    g.send(new(venue, 1, BUY, 100, 5))
    venue.submit("BOB", "sell", qty_lots=1, price_ticks=100, account=OTHER)
    g.close()
    assert g.poll(0) == []
    with pytest.raises(GatewayError, match="closed"):
        g.send(new(venue, 2, BUY, 100, 5))
    g2 = VenueGateway(venue, ME, ["BOB"])
    venue.stop()
    with pytest.raises(GatewayError, match="cannot take orders"):
        g2.send(new(venue, 3, BUY, 100, 5))
    assert g2.live_orders == 0


def test_a_journaled_but_unticked_order_keeps_its_mapping(venue, monkeypatch):
    g = VenueGateway(venue, ME, ["BOB"])
    real = venue.submit

    def submit_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise JournalUnavailable("disk full", path="x", fatal=False, accepted_enq_seq=7)

    monkeypatch.setattr(venue, "submit", submit_then_fail)
    with pytest.raises(GatewayError, match=r"journaled .* runs at the venue's next tick"):
        g.send(new(venue, 1, BUY, 100, 5))
    (ack,) = g.poll(0)  # the order's events are still its own
    assert (ack.kind, ack.client_order_id) == (UpdateKind.ACCEPTED, 1)

    def fail(*args, **kwargs):
        raise JournalUnavailable("disk full", path="x", fatal=False)

    monkeypatch.setattr(venue, "submit", fail)
    with pytest.raises(GatewayError, match="cannot take orders: disk full"):
        g.send(new(venue, 2, BUY, 100, 5))
    assert g.venue_order_id(sid(venue), 2) is None


def test_updates_keep_a_context_true(venue):
    g = VenueGateway(venue, ME, ["BOB"])
    ctx = Context("BOB", sid(venue), account=ME)
    coid = ctx.buy(5, 100)
    (signal,) = ctx.drain_signals()
    for u in g.send(
        Order(NEW, coid, ME, signal.symbol_id, BUY, signal.price, signal.qty, signal.tif)
    ):
        ctx.apply_update(u)
    assert ctx.open_orders[coid].state is OrderState.OPEN
    venue.submit("BOB", "sell", qty_lots=2, price_ticks=100, account=OTHER)
    for u in g.poll(0):
        ctx.apply_update(u)
    assert ctx.open_orders[coid].state is OrderState.PARTIALLY_FILLED
    assert ctx.position == 2
    ctx.cancel(coid)
    ctx.drain_signals()
    for u in g.send(Order(CANCEL, coid, ME, sid(venue), BUY)):
        ctx.apply_update(u)
    assert not ctx.open_orders


def test_gateway_on_a_journaled_venue(tmp_path):
    with Venue(data_dir=tmp_path / "venue") as v:
        v.add_instrument("BOB")
        g = VenueGateway(v, ME, ["BOB"], taker_ppm=1000)
        assert kinds(g.send(new(v, 1, SELL, 100, 5))) == [UpdateKind.ACCEPTED]
        v.submit("BOB", "buy", qty_lots=5, price_ticks=100, account=OTHER)
        (fill,) = g.poll(0)
        assert (fill.kind, fill.fill_qty, fill.leaves_qty, fill.liquidity) == (
            UpdateKind.FILLED,
            5,
            0,
            Liquidity.MAKER,
        )
        (rej,) = g.send(new(v, 2, SELL, 100, 0))
        assert rej.reason == RejectReason.QTY_NOT_POSITIVE


def test_gateway_with_a_host_process():
    with Venue(hosts=1) as v:
        v.add_instrument("BOB")
        g = VenueGateway(v, ME, ["BOB"])
        assert kinds(g.send(new(v, 1, BUY, 100, 5))) == [UpdateKind.ACCEPTED]
        v.submit("BOB", "sell", qty_lots=3, price_ticks=100, account=OTHER)
        (fill,) = g.poll(0)
        assert (fill.kind, fill.fill_qty, fill.leaves_qty) == (UpdateKind.FILLED, 3, 2)
        (rej,) = g.send(Order(CANCEL, 7, ME, sid(v), BUY))
        assert rej.reason == RejectReason.UNKNOWN_ORDER_ID
        assert kinds(g.send(Order(CANCEL, 1, ME, sid(v), BUY))) == [UpdateKind.CANCELLED]


# -- VenueExchange ---------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.items: list[MarketEvent | OrderUpdate] = []

    def market(self, event):
        self.items.append(event)

    def update(self, update):
        self.items.append(update)


def top(event):
    return (event.bid_px[0], event.bid_qty[0], event.ask_px[0], event.ask_qty[0])


def test_exchange_delivers_book_trades_and_updates_in_venue_order(venue):
    venue.submit("BOB", "buy", qty_lots=4, price_ticks=99, account=OTHER)  # before subscribing
    x = VenueExchange(venue, ME, taker_ppm=10_000)
    assert isinstance(x, Exchange)
    rec = Recorder()
    x.subscribe(sid(venue), rec.market, rec.update)
    (ack,) = x.send(new(venue, 1, SELL, 101, 5))
    assert ack.kind is UpdateKind.ACCEPTED
    assert rec.items == []  # market data waits for pump
    assert x.pump(0) == 1
    (book,) = rec.items
    assert (book.kind, book.n_bid, book.n_ask, top(book)) == (
        MarketKind.BOOK,
        1,
        1,
        (99, 4, 101, 5),
    )
    rec.items.clear()
    venue.submit("BOB", "buy", qty_lots=2, price_ticks=101, account=OTHER)
    assert x.pump(0) == 3
    fill, trade, book = rec.items
    assert (fill.kind, fill.fill_qty, fill.leaves_qty, fill.liquidity) == (
        UpdateKind.FILLED,
        2,
        3,
        Liquidity.MAKER,
    )
    assert (trade.kind, trade.price, trade.qty, trade.side) == (MarketKind.TRADE, 101, 2, BUY)
    assert top(book) == (99, 4, 101, 3)
    assert x.pump(0) == 0


def test_exchange_books_carry_the_top_ten_levels_rebuilt_from_level_events(venue):
    x = VenueExchange(venue, ME)
    rec = Recorder()
    x.subscribe(sid(venue), rec.market, rec.update)
    for i in range(12):
        venue.submit("BOB", "buy", qty_lots=i + 1, price_ticks=100 - i, account=OTHER)
    x.pump(0)
    last = rec.items[-1]
    assert last.n_bid == 10
    assert last.bid_px == tuple(100 - i for i in range(10))
    assert last.bid_qty == tuple(range(1, 11))
    assert (last.n_ask, last.ask_px) == (0, (0,) * 10)
    # Levels below the top ten are kept: when the best two go, the 11th and 12th show.
    venue.submit("BOB", "sell", qty_lots=3, price_ticks=99, account=OTHER)
    x.pump(0)
    assert rec.items[-1].bid_px == tuple(100 - i for i in range(2, 12))
    # A book loaded at subscribe time matches the venue's depth.
    y = VenueExchange(venue, OTHER)
    rec2 = Recorder()
    y.subscribe(sid(venue), rec2.market, rec2.update)
    venue.submit("BOB", "sell", qty_lots=1, price_ticks=500, account=ME)
    y.pump(0)
    depth = venue.depth("BOB", 10)
    assert rec2.items[-1].bid_px == tuple(level.price_ticks for level in depth.bids)
    assert rec2.items[-1].ask_px[0] == 500


def test_exchange_status_unsubscribe_undelivered_and_raising_callbacks(venue):
    x = VenueExchange(venue, ME)
    rec = Recorder()
    x.subscribe(sid(venue), rec.market, rec.update)
    venue.halt("BOB")
    x.pump(0)
    (status,) = rec.items
    assert (status.kind, status.qty) == (MarketKind.STATUS, TradingState.HALTED)
    venue.resume("BOB")
    # Updates of symbols nobody subscribed to are dropped and counted.
    x.send(new(venue, 1, BUY, 100, 5, symbol="ALICE"))
    venue.submit("ALICE", "sell", qty_lots=1, price_ticks=100, account=OTHER)
    x.pump(0)
    assert x.undelivered == 1
    # A callback that raises stops the pump; the rest waits.
    boom = {"left": 1}

    def angry(event):
        if boom["left"]:
            boom["left"] -= 1
            raise RuntimeError("strategy bug")
        rec.market(event)

    x.subscribe(sid(venue), angry, rec.update)
    rec.items.clear()
    venue.submit("BOB", "buy", qty_lots=1, price_ticks=90, account=OTHER)
    venue.submit("BOB", "buy", qty_lots=1, price_ticks=91, account=OTHER)
    with pytest.raises(RuntimeError, match="strategy bug"):
        x.pump(0)
    assert x.pump(0) == 1
    assert top(rec.items[-1])[:2] == (91, 1)
    x.unsubscribe(sid(venue))
    venue.submit("BOB", "buy", qty_lots=1, price_ticks=92, account=OTHER)
    assert x.pump(0) == 0
    with pytest.raises(ValueError, match="not defined"):
        x.subscribe(424242, rec.market, rec.update)
    x.close()
    assert x.pump(0) == 0
    with pytest.raises(GatewayError, match="closed"):
        x.send(new(venue, 2, BUY, 100, 5))


class SyncHarness:
    """A MarketMaker on a VenueExchange, every order update answered inside ``send``.

    Market data arrives only at ``pump`` (or, with ``venue_book=False``, only what the test
    hands to ``on_market``), so after a synchronous ack the strategy's book is older than its
    orders, as when a venue's private order feed outruns its market data.
    ``sent_per_stimulus`` counts the orders sent after each BBO change the strategy was
    shown and after each fill (what moves its targets); more than ``limit`` on one fails
    with an assertion instead of a RecursionError, and so do more than ``max_stimuli``
    stimuli in one ``settle`` (the maker chasing its own quotes through the book).
    """

    def __init__(self, venue, config, *, venue_book=True, limit=50, max_stimuli=400):
        self.s = s = sid(venue)
        self.x = VenueExchange(venue, ME)
        self.mm = MarketMaker(config)
        self.ctx = Context("BOB", s, account=ME)
        self.view = BookView(s)
        self.ctx.book = self.view
        self.mm.on_start(self.ctx)
        self.venue_book = venue_book
        self.limit = limit
        self.max_stimuli = max_stimuli
        self.budget = max_stimuli
        self.sent_per_stimulus: list[int] = []
        self.x.subscribe(s, self.venue_market, self.on_update)

    def stimulus(self):
        self.budget -= 1
        assert self.budget >= 0, (
            f"{self.max_stimuli} BBO changes and fills in one settle: the maker chases itself"
        )
        self.sent_per_stimulus.append(0)

    def send_signals(self):
        s = self.s
        for sig in self.ctx.drain_signals():
            self.sent_per_stimulus[-1] += 1
            assert self.sent_per_stimulus[-1] <= self.limit, (
                f"{self.limit} orders sent on one stimulus: the strategy loops"
            )
            if sig.kind in (SignalKind.BUY, SignalKind.SELL):
                side = BUY if sig.kind is SignalKind.BUY else SELL
                order = Order(
                    NEW, sig.client_order_id, ME, s, side, sig.price, sig.qty, sig.tif,
                    sig.post_only,
                )  # fmt: skip
            elif sig.kind is SignalKind.CANCEL:
                order = Order(CANCEL, sig.client_order_id, ME, s, BUY)
            else:
                order = Order(MODIFY, sig.client_order_id, ME, s, BUY, sig.price, sig.qty)
            for u in self.x.send(order):
                self.on_update(u)

    def on_update(self, u):
        if u.kind is UpdateKind.FILLED or not self.sent_per_stimulus:
            self.stimulus()
        self.ctx.apply_update(u)
        self.mm.on_order_update(self.ctx, u)
        self.send_signals()

    def venue_market(self, event):
        if self.venue_book:
            self.on_market(event)

    def on_market(self, event):
        if event.kind in (MarketKind.BOOK, MarketKind.BBO):
            before = self.view.top()
            self.view.load_event(event)
            if self.view.top() != before:
                self.stimulus()
                self.mm.on_bbo(self.ctx, self.view)
                self.send_signals()

    def settle(self, rounds=20):
        """Pump until nothing is waiting."""
        self.budget = self.max_stimuli
        for _ in range(rounds):
            if self.x.pump(0) == 0:
                return
        raise AssertionError(f"still busy after {rounds} pumps: the maker chases itself")

    def quotes(self):
        return sorted((o.side, o.price, o.leaves_qty) for o in self.ctx.open_orders.values())

    def check_quotes(self, config):
        """At most one quote a side, never a bid at or above its own ask, inventory kept."""
        bids = [o.price for o in self.ctx.open_orders.values() if o.side is BUY]
        asks = [o.price for o in self.ctx.open_orders.values() if o.side is SELL]
        assert len(bids) <= 1, bids
        assert len(asks) <= 1, asks
        assert not (bids and asks and bids[0] >= asks[0]), (bids, asks)
        assert abs(self.ctx.position) <= config["max_inventory_lots"]


def test_a_market_maker_trades_through_the_exchange(venue):
    """Strategy -> context -> (no risk) -> exchange -> updates -> context, end to end.

    Once a bug: after its bid filled, each ack of the new bid re-derived the market from a
    book still showing the filled bid at 104 (its own, so left out, while the new bid rested
    there; the market's once it did not): 102 <-> 104 for ever, inside ``send``.
    """
    h = SyncHarness(venue, {"qty_lots": 2, "half_spread_ticks": 1, "skew_ticks": 0})
    venue.submit("BOB", "buy", qty_lots=10, price_ticks=100, account=OTHER)
    venue.submit("BOB", "sell", qty_lots=10, price_ticks=110, account=OTHER)
    h.settle()
    assert h.quotes() == [(BUY, 104, 2), (SELL, 106, 2)]
    # Someone sells into the bid: the maker is long 2 and requotes, once.
    venue.submit("BOB", "sell", qty_lots=2, price_ticks=104, account=OTHER)
    h.settle()
    assert h.ctx.position == 2
    assert h.ctx.ledger.realised == 0
    assert all(o.state is OrderState.OPEN for o in h.ctx.open_orders.values())
    assert h.quotes() == [(BUY, 104, 2), (SELL, 106, 2)]  # skew 0: the same quotes
    assert max(h.sent_per_stimulus) <= 2


MM_ORDERS_PER_STIMULUS = 4
"""Two quotes, each moved at most twice (once held short of its own opposite quote)."""


def random_config(rng):
    return {
        "qty_lots": rng.randint(1, 3),
        "half_spread_ticks": rng.randint(0, 2),
        "skew_ticks": rng.randint(0, 2),
        "max_inventory_lots": rng.randint(2, 8),
        "post_only": rng.random() < 0.75,
    }


def other_ioc(venue, rng, mid, reach):
    """Another account's IOC of 1-3 lots, ``reach`` ticks through ``mid`` (a random side)."""
    side = rng.choice(("buy", "sell"))
    price = mid + reach if side == "buy" else mid - reach
    venue.submit(
        "BOB", side, qty_lots=rng.randint(1, 3), price_ticks=price, account=OTHER, tif="ioc"
    )


def bbo_event(bid, bid_qty, ask, ask_qty):
    pad = (0,) * 9
    return MarketEvent(
        MarketKind.BBO,
        1,
        0,
        n_bid=1 if bid else 0,
        n_ask=1 if ask else 0,
        bid_px=(bid, *pad),
        bid_qty=(bid_qty, *pad),
        ask_px=(ask, *pad),
        ask_qty=(ask_qty, *pad),
    )


@pytest.mark.parametrize("seed", range(12))
def test_a_market_maker_sends_a_bounded_number_of_orders_per_bbo_change(venue, seed):
    """Seeded random BBO sequences (jumps, one side empty, the maker's own current or past
    quotes shown at the touch as a book behind its orders would) through the synchronous
    harness, with another account's IOCs filling the maker on the venue: after every BBO
    change and every fill the maker sends at most MM_ORDERS_PER_STIMULUS orders, however
    its acks come back; it never holds two quotes a side nor crosses itself."""
    import random

    rng = random.Random(seed)
    config = random_config(rng)
    h = SyncHarness(venue, config, venue_book=False)
    past: list[tuple[int, int, int]] = []  # (side, price, qty) of the maker's quotes seen
    mid = 1_000
    for _ in range(250):
        for o in h.ctx.open_orders.values():
            past.append((o.side, o.price, o.leaves_qty))
        del past[:-8]
        roll = rng.random()
        if roll < 0.15:  # another account hits a quote: fills arrive at the next pump
            other_ioc(venue, rng, mid, 20)
            h.settle()
            continue
        mid = max(30, mid + rng.choice((-8, -2, -1, 0, 0, 1, 2, 8)))
        half = rng.randint(1, 4)
        bid, bid_qty = mid - half, rng.randint(1, 6)
        ask, ask_qty = mid + half, rng.randint(1, 6)
        if roll < 0.4 and past:  # a touch that is (or was) the maker's own quote
            side, price, qty = rng.choice(past)
            if side is BUY and price < ask:
                bid, bid_qty = price, qty
            elif side is SELL and price > bid:
                ask, ask_qty = price, qty
        elif roll < 0.45:
            bid = bid_qty = 0
        h.budget = h.max_stimuli
        h.on_market(bbo_event(bid, bid_qty, ask, ask_qty))
        h.settle()
        assert max(h.sent_per_stimulus, default=0) <= MM_ORDERS_PER_STIMULUS, (
            config,
            h.sent_per_stimulus,
        )
        h.check_quotes(config)
    assert len(h.sent_per_stimulus) > 150
    assert h.ctx.ledger.fills > 0  # the IOCs reached the maker
    assert sum(h.sent_per_stimulus) > len(h.sent_per_stimulus)  # it did requote


@pytest.mark.xfail(
    strict=True,
    reason="known open bug: with the venue's own book (the maker's quotes in it) delivered"
    " after its synchronous acks, the maker can chase its own past quotes from one BBO"
    " change to the next (each change bounded, their chain endless), e.g. an ask flipping"
    " 1019 <-> 1020 beside another account's 1019 x 1: from price levels alone a book one"
    " step behind cannot be told from a current one. Needs the venue event sequence on"
    ' OrderUpdate (which placement a book shows); NOTES.md: "H9: MarketMaker".',
)
@pytest.mark.parametrize("seed", [1, 3])
def test_a_market_maker_goes_quiet_on_the_venues_own_book(venue, seed):
    """Another account's quotes, cancels and IOCs on the venue; the maker sees the venue's
    book (its own quotes in it) after its acks: it must go quiet after each step."""
    import random

    rng = random.Random(seed)
    config = random_config(rng)
    h = SyncHarness(venue, config)
    mid = 1_000
    for _ in range(120):
        mid = max(20, mid + rng.randint(-3, 3))
        roll = rng.random()
        if roll < 0.5:
            side = rng.choice(("buy", "sell"))
            offset = rng.randint(1, 6)
            price = mid - offset if side == "buy" else mid + offset
            venue.submit("BOB", side, qty_lots=rng.randint(1, 5), price_ticks=price, account=OTHER)
        elif roll < 0.8:
            others = [o for o in venue.l3("BOB") if o.account == OTHER]
            if others:
                venue.cancel("BOB", rng.choice(others).order_id, account=OTHER)
        else:
            other_ioc(venue, rng, mid, 8)
        h.settle()
        assert max(h.sent_per_stimulus, default=0) <= MM_ORDERS_PER_STIMULUS
        h.check_quotes(config)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_context_fed_by_the_gateway_agrees_with_the_venue_step_by_step(venue, seed):
    """Seeded random strategy actions and other accounts' flow: after every step the
    context's open orders, prices and leaves are the venue's resting orders of the account,
    and its position is the sum of the account's fills on the venue."""
    import random

    rng = random.Random(seed)
    s = sid(venue)
    g = VenueGateway(venue, ME, ["BOB"], maker_ppm=-50, taker_ppm=200)
    ctx = Context("BOB", s, account=ME)
    fills: list[int] = []
    venue.subscribe(
        lambda e: (
            fills.append(e.qty_lots if e.side == BUY else -e.qty_lots)
            if type(e).__name__ == "OrderFilled" and e.account == ME
            else None
        )
    )

    seen: set[UpdateKind] = set()

    def deliver(updates):
        for u in updates:
            seen.add(u.kind)
            ctx.apply_update(u)

    def send(sig):
        if sig.kind in (SignalKind.BUY, SignalKind.SELL):
            side = BUY if sig.kind is SignalKind.BUY else SELL
            return g.send(Order(NEW, sig.client_order_id, ME, s, side, sig.price, sig.qty, sig.tif))
        action = CANCEL if sig.kind is SignalKind.CANCEL else MODIFY
        return g.send(Order(action, sig.client_order_id, ME, s, BUY, sig.price, sig.qty))

    for _ in range(150):
        roll = rng.random()
        live = list(ctx.open_orders)
        if roll < 0.35:
            side = rng.choice((BUY, SELL))
            qty = rng.randint(0, 5)  # 0: the venue refuses it (QTY_NOT_POSITIVE)
            ctx.submit(side, qty, rng.randint(95, 105), rng.choice((DAY, IOC)))
        elif roll < 0.5 and live:
            ctx.cancel(rng.choice(live))
        elif roll < 0.65 and live:
            ctx.modify(rng.choice(live), qty=rng.randint(0, 4), price=rng.randint(95, 105))
        elif roll < 0.7:
            ctx.cancel(rng.randint(1, 400))  # mostly not open: False, nothing sent
        else:
            venue.submit(
                "BOB",
                rng.choice(("buy", "sell")),
                qty_lots=rng.randint(1, 6),
                price_ticks=rng.randint(95, 105),
                account=OTHER,
                tif=rng.choice(("gtc", "ioc")),
            )
        for sig in ctx.drain_signals():
            deliver(g.poll(0))
            deliver(send(sig))
        deliver(g.poll(0))
        resting = {o.order_id: o for o in venue.l3("BOB") if o.account == ME}
        assert g.live_orders == len(resting) == len(ctx.open_orders)
        for coid, order in ctx.open_orders.items():
            venue_order = resting[g.venue_order_id(s, coid)]
            assert (order.price, order.leaves_qty) == (
                venue_order.price_ticks,
                venue_order.qty_lots,
            )
            assert order.side == venue_order.side
            assert not order.pending  # every request was answered
        assert ctx.position == sum(fills)
    assert ctx.ledger.fills == len(fills) > 0
    assert seen == set(UpdateKind) - {UpdateKind.EXPIRED}  # every kind the run can produce
