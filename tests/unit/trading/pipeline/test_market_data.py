"""Stage 1: feed events -> books -> the MarketEvents strategies subscribed to."""

from __future__ import annotations

from whistle.core.events import (
    BestBidOfferChanged,
    OrderAccepted,
    TradeOccurred,
    TradingStatusChanged,
)
from whistle.core.mbo import FLAG_LAST, MboAdd, MboDelete, MboExecute, MboStatus
from whistle.trading.messages import MarketEvent, MarketKind
from whistle.trading.pipeline.market_data import MarketDataStage

NO_PRICE = (1 << 63) - 1


def add(oid: int, side: int, price: int, qty: int, flags: int = FLAG_LAST, iid: int = 1) -> MboAdd:
    return MboAdd(iid, oid * 10, 0, oid, flags, oid, side, price, qty)


def test_bbo_event_carries_level_one_only_when_the_top_changes() -> None:
    md = MarketDataStage([1], want_book=False)
    (ev,) = md.on_event(add(1, 1, 100, 5), 7)
    assert ev.kind is MarketKind.BBO
    assert (ev.n_bid, ev.n_ask, ev.bid_px[0], ev.bid_qty[0], ev.recv_ts_ns) == (1, 0, 100, 5, 7)
    assert len(ev.bid_px) == 10
    assert ev.bid_px[1:] == (0,) * 9
    # A deeper level changes the book, not the BBO: no event for a BBO-only pipeline.
    assert md.on_event(add(2, 1, 99, 5), 8) == []
    (ev,) = md.on_event(add(3, 2, 101, 4), 9)
    assert (ev.n_bid, ev.n_ask, ev.ask_px[0], ev.ask_qty[0]) == (1, 1, 101, 4)
    MarketEvent.unpack_from(_packed(ev))  # every event the stage builds crosses a ring


def test_book_event_has_ten_levels_best_first() -> None:
    md = MarketDataStage([1])
    for i in range(12):
        md.on_event(add(i + 1, 1, 100 - i, 1 + i), 0)
    (ev,) = md.on_event(add(50, 2, 200, 3), 0)
    assert ev.kind is MarketKind.BOOK
    assert ev.n_bid == 10
    assert ev.bid_px == tuple(100 - i for i in range(10))
    assert ev.bid_qty == tuple(1 + i for i in range(10))
    assert (ev.n_ask, ev.ask_px[0], ev.ask_px[1]) == (1, 200, 0)


def test_partial_exchange_events_wait_for_flag_last() -> None:
    md = MarketDataStage([1], want_book=False)
    assert md.on_event(add(1, 1, 100, 5, flags=0), 0) == []
    (ev,) = md.on_event(add(2, 2, 102, 5), 0)
    assert (ev.bid_px[0], ev.ask_px[0]) == (100, 102)  # one event for the whole update


def test_execution_is_a_trade_with_the_aggressor_side_then_the_bbo() -> None:
    md = MarketDataStage([1], want_book=False)
    md.on_event(add(1, 1, 100, 5), 0)
    md.on_event(add(2, 2, 102, 5), 0)
    trade, bbo = md.on_event(MboExecute(1, 50, 0, 9, FLAG_LAST, 1, 2, 0, NO_PRICE, True, 0), 0)
    assert trade.kind is MarketKind.TRADE
    assert (trade.price, trade.qty, trade.side) == (100, 2, 2)  # a seller hit the bid
    assert bbo.kind is MarketKind.BBO
    assert bbo.bid_qty[0] == 3


def test_trades_are_built_only_when_someone_subscribes() -> None:
    md = MarketDataStage([1], want_book=False, want_trade=False)
    md.on_event(add(1, 1, 100, 5), 0)
    (bbo,) = md.on_event(MboExecute(1, 50, 0, 9, FLAG_LAST, 1, 2, 0, NO_PRICE, True, 0), 0)
    assert bbo.kind is MarketKind.BBO


def test_other_instruments_are_ignored_and_counted() -> None:
    md = MarketDataStage([1])
    assert md.on_event(add(1, 1, 100, 5, iid=7), 0) == []
    assert md.ignored == 1


def test_status_and_passthrough_events() -> None:
    md = MarketDataStage([1])
    (st,) = md.on_event(MboStatus(1, 5, 0, 1, FLAG_LAST, 1, "halt"), 3)
    assert (st.kind, st.qty, st.recv_ts_ns) == (MarketKind.STATUS, 1, 3)
    (dis,) = md.on_event(MarketEvent(MarketKind.DISCONNECT, 1, 99), 11)
    assert (dis.kind, dis.ts_ns, dis.recv_ts_ns) == (MarketKind.DISCONNECT, 99, 11)
    assert dis.seq > st.seq
    end = md.end(100, 12)
    assert (end.kind, end.seq) == (MarketKind.END, dis.seq + 1)


def test_a_delete_that_empties_the_bid_reports_an_empty_side() -> None:
    md = MarketDataStage([1], want_book=False)
    md.on_event(add(1, 1, 100, 5), 0)
    (ev,) = md.on_event(MboDelete(1, 20, 0, 2, FLAG_LAST, 1, 1, 100), 0)
    assert (ev.n_bid, ev.bid_px[0], ev.bid_qty[0]) == (0, 0, 0)


def _packed(ev: MarketEvent) -> bytearray:
    buf = bytearray(MarketEvent.SIZE)
    ev.pack_into(buf)
    return buf


def test_a_venues_own_market_data_becomes_market_events() -> None:
    md = MarketDataStage([1], want_book=False)
    (bbo,) = md.on_event(BestBidOfferChanged(1, 3, 3, 50, 100, 5, 102, 0), 9)
    assert (bbo.kind, bbo.symbol_id, bbo.ts_ns, bbo.recv_ts_ns) == (MarketKind.BBO, 1, 50, 9)
    assert (bbo.n_bid, bbo.bid_px[0], bbo.bid_qty[0], bbo.n_ask) == (1, 100, 5, 0)
    (trade,) = md.on_event(TradeOccurred(1, 4, 4, 60, 7, 101, 2, 1, 11, 12), 0)
    assert (trade.kind, trade.price, trade.qty, trade.side) == (MarketKind.TRADE, 101, 2, 1)
    (status,) = md.on_event(TradingStatusChanged(1, 5, 5, 70, 2), 0)
    assert (status.kind, status.qty) == (MarketKind.STATUS, 2)
    # order events and other symbols are not market data
    assert md.on_event(OrderAccepted(1, 6, 6, 80, 1, 1, 1, 1, 1, 100, 1, 0, 0), 0) == []
    assert md.on_event(BestBidOfferChanged(9, 7, 7, 90, 1, 1, 2, 1), 0) == []
    assert md.ignored == 2
