"""Wire <-> core conversion: decimals, every event kind both ways, requests to commands."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whistle.api import convert
from whistle.api.v1 import order_entry_pb2, types_pb2
from whistle.core.commands import CancelReplace, MassCancel, NewOrder
from whistle.core.enums import OrderType, TimeInForce
from whistle.core.events import (
    EVENT_TYPES,
    BestBidOfferChanged,
    BookLevelChanged,
    DuplicateClientOrder,
    EngineFaulted,
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
from whistle.core.fixed import from_units
from whistle.core.instrument import Instrument
from whistle.core.reasons import RejectReason

pb = order_entry_pb2
AAPL = Instrument(symbol="AAPL", tick_size="0.01", lot_size="1")
BIG = Instrument(symbol="BIG", tick_size="0.05", lot_size="100")
BY = {AAPL.symbol: AAPL, AAPL.symbol_id: AAPL, BIG.symbol: BIG, BIG.symbol_id: BIG}


def lookup(symbol: str | int) -> Instrument | None:
    return BY.get(symbol)


@given(
    step=st.sampled_from(["0.01", "1", "0.0001", "100", "0.05", "0.25", "10", "0.5", "3"]),
    units=st.integers(-(1 << 62), 1 << 62),
)
def test_the_fast_decimal_formatter_is_from_units(step: str, units: int) -> None:
    assert convert.decimal_formatter(step)(units) == from_units(units, Decimal(step))


SAMPLES = [
    OrderAccepted(1, 1, 1, 5, 9, 7, 1, 1, 1, 18725, 3, 0, 0),
    OrderRejected(1, 0, 0, 5, 9, 7, 1002),
    OrderRejected(1, 2, 3, 5, 9, 7, 1004, 40),
    OrderFilled(1, 3, 1, 5, 9, 7, 2, 2, 18725, 3, 0, 11),
    TradeOccurred(1, 4, 1, 5, 11, 18725, 3, 2, 8, 9),
    OrderCancelled(1, 5, 1, 5, 9, 7, 1, 3, 0),
    OrderExpired(1, 6, 0, 5, 9, 7, 3),
    OrderModified(1, 7, 1, 5, 9, 7, 18700, 2, True),
    OrderReplaced(1, 8, 1, 5, 9, 10, 7, 18700, 2),
    StopTriggered(1, 9, 1, 5, 9, 7, 18000, 17990),
    BookLevelChanged(1, 10, 1, 5, 1, 18725, 3, 1),
    BestBidOfferChanged(1, 11, 1, 5, 18725, 3, 0, 0),
    TradingStatusChanged(1, 12, 1, 5, 2),
    EngineFaulted(1, 13, 1, 5, "boom"),
    DuplicateClientOrder(1, 0, 0, 5, 9, 7, 44, 1, 2, 3005),
]


def test_every_event_kind_round_trips() -> None:
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES)
    for event in SAMPLES:
        message = convert.event_to_proto(event, AAPL)
        again = types_pb2.Event.FromString(message.SerializeToString())
        assert convert.event_from_proto(again) == event


def test_events_carry_decimals_and_reject_words() -> None:
    message = convert.event_to_proto(SAMPLES[0], AAPL)
    assert message.order_accepted.price == "187.25"
    assert message.order_accepted.qty == "3"
    edge = convert.event_to_proto(SAMPLES[1], AAPL, "price: must be a multiple of 0.01")
    assert edge.order_rejected.detail == "price: must be a multiple of 0.01"
    engine = convert.event_to_proto(SAMPLES[2], AAPL)
    assert engine.order_rejected.detail  # the detail code's words
    plain = convert.event_to_proto(OrderRejected(1, 2, 3, 5, 9, 7, 3001), None)
    assert plain.order_rejected.detail == RejectReason.UNKNOWN_ORDER_ID.description
    with pytest.raises(ValueError, match="without a kind"):
        convert.event_from_proto(types_pb2.Event())


def test_for_trader_hides_others_and_masks_account_mismatch() -> None:
    events = [
        OrderFilled(1, 3, 1, 5, 9, 7, 2, 2, 100, 3, 0, 11),
        OrderFilled(1, 4, 1, 5, 10, 8, 1, 1, 100, 3, 0, 11),
        TradeOccurred(1, 5, 1, 5, 11, 100, 3, 2, 8, 9),
        OrderRejected(1, 6, 2, 5, 10, 8, int(RejectReason.ACCOUNT_MISMATCH)),
    ]
    shown = convert.for_trader(events, 8)
    assert [type(e) for e in shown] == [OrderFilled, TradeOccurred, OrderRejected]
    assert shown[0].account == 8  # type: ignore[union-attr]
    assert shown[2].reason == RejectReason.UNKNOWN_ORDER_ID  # type: ignore[union-attr]
    assert convert.visible(events[2], 7)
    assert not convert.visible(events[1], 7)


def test_submit_requests_become_new_orders() -> None:
    order = convert.submit_command(
        pb.SubmitOrderRequest(symbol="BIG", side=1, qty="300", price="10.05"), lookup, 7
    )
    assert isinstance(order, NewOrder)
    assert (order.symbol_id, order.order_id, order.account, order.qty_lots, order.price_ticks) == (
        BIG.symbol_id,
        0,
        7,
        3,
        201,
    )
    assert (order.order_type, order.tif) == (OrderType.LIMIT, TimeInForce.GTC)
    market = convert.submit_command(
        pb.SubmitOrderRequest(symbol_id=AAPL.symbol_id, side=2, qty_lots=5), lookup, None
    )
    assert isinstance(market, NewOrder)
    assert (market.order_type, market.tif, market.account) == (OrderType.MARKET, TimeInForce.IOC, 0)
    cases = {
        RejectReason.INVALID_QTY_PRECISION: pb.SubmitOrderRequest(
            symbol="BIG", side=1, qty="150", price="1"
        ),
        RejectReason.INVALID_PRICE_PRECISION: pb.SubmitOrderRequest(
            symbol="BIG", side=1, qty="100", price="1.01"
        ),
        RejectReason.MALFORMED_COMMAND: pb.SubmitOrderRequest(
            symbol="BIG", side=1, qty="1e2", price="1"
        ),
        RejectReason.UNKNOWN_SYMBOL: pb.SubmitOrderRequest(
            symbol="NOPE", side=1, qty="1", price="1"
        ),
    }
    for reason, request in cases.items():
        refusal = convert.submit_command(request, lookup, 7)
        assert isinstance(refusal, convert.Refusal)
        assert refusal.reject is not None
        assert refusal.reject.reason == reason
        assert refusal.reject.seq == 0
        assert refusal.reject.account == 7
    unknown_id = convert.submit_command(
        pb.SubmitOrderRequest(symbol_id=5, side=1, qty="1", price="1"), lookup, 7
    )
    assert isinstance(unknown_id, convert.Refusal)
    assert unknown_id.reject is not None
    assert unknown_id.reject.symbol_id == 5
    ints_unknown = convert.submit_command(
        pb.SubmitOrderRequest(symbol_id=5, side=1, qty_lots=1, price_ticks=1), lookup, 7
    )
    assert isinstance(ints_unknown, NewOrder)  # the venue answers UNKNOWN_SYMBOL itself
    denied = convert.submit_command(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", account=8), lookup, 7
    )
    assert isinstance(denied, convert.Refusal)
    assert denied.api_error == types_pb2.API_ERROR_PERMISSION_DENIED
    chosen = convert.submit_command(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", order_id=4), lookup, 7
    )
    assert isinstance(chosen, convert.Refusal)
    assert chosen.api_error == types_pb2.API_ERROR_PERMISSION_DENIED
    admin = convert.submit_command(
        pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", order_id=4, account=9), lookup, None
    )
    assert isinstance(admin, NewOrder)
    assert (admin.order_id, admin.account) == (4, 9)


def test_other_requests() -> None:
    trader_cancel = convert.cancel_command(
        pb.CancelOrderRequest(symbol="AAPL", order_id=3), lookup, 7
    )
    assert trader_cancel.account == 7  # type: ignore[union-attr]
    admin_cancel = convert.cancel_command(
        pb.CancelOrderRequest(symbol="AAPL", order_id=3), lookup, None
    )
    assert admin_cancel.account is None  # type: ignore[union-attr]
    replace = convert.cancel_replace_command(
        pb.CancelReplaceRequest(
            symbol="AAPL", order_id=3, price="1.5", qty_lots=2, client_order_id=5
        ),
        lookup,
        7,
    )
    assert isinstance(replace, CancelReplace)
    assert (
        replace.new_order_id,
        replace.price_ticks,
        replace.qty_lots,
        replace.account,
        replace.client_order_id,
    ) == (0, 150, 2, 7, 5)
    mass = convert.mass_cancel_command(pb.MassCancelRequest(), lookup, 7)
    assert mass == MassCancel(0, 7)
    empty = convert.command_of(pb.OrderCommand(request_id=1), lookup, 7)
    assert isinstance(empty, convert.Refusal)
    assert empty.api_error == types_pb2.API_ERROR_INVALID_ARGUMENT
    modify = convert.modify_command(pb.ModifyOrderRequest(symbol="AAPL", order_id=3), lookup, 7)
    assert (modify.price_ticks, modify.qty_lots) == (0, 0)  # type: ignore[union-attr]
    no_symbol = convert.cancel_command(pb.CancelOrderRequest(order_id=3), lookup, 7)
    assert isinstance(no_symbol, convert.Refusal)
    assert no_symbol.reject is not None
    assert no_symbol.reject.reason == RejectReason.MALFORMED_COMMAND


def test_instruments_round_trip() -> None:
    for instrument in (
        AAPL,
        BIG,
        Instrument(
            symbol="X",
            tick_size="0.5",
            min_qty_lots=2,
            max_qty_lots=9,
            price_band_bps=250,
            reference_price_ticks=10,
        ),
    ):
        assert convert.instrument_from_proto(convert.instrument_to_proto(instrument)) == instrument


def test_a_trader_sees_only_its_own_order_id_in_trade_prints() -> None:
    events = [
        OrderFilled(1, 3, 1, 5, 9, 7, 1, 2, 100, 3, 0, 11),  # maker: account 7, order 9
        OrderFilled(1, 4, 1, 5, 10, 8, 2, 1, 100, 3, 0, 11),  # taker: account 8, order 10
        TradeOccurred(1, 5, 1, 5, 11, 100, 3, 2, 9, 10),
    ]
    (fill, trade) = convert.for_trader(events, 8)
    assert fill.order_id == 10  # type: ignore[union-attr]
    assert (trade.maker_order_id, trade.taker_order_id) == (0, 10)  # type: ignore[union-attr]
    (_, maker_view) = convert.for_trader(events, 7)
    assert (maker_view.maker_order_id, maker_view.taker_order_id) == (9, 0)  # type: ignore[union-attr]
    (nobody,) = convert.for_trader(events, 5)
    assert (nobody.maker_order_id, nobody.taker_order_id) == (0, 0)  # type: ignore[union-attr]


def test_market_data_records_become_updates() -> None:
    from whistle.api.marketdata import Bbo, Level, PriceLevel, Snapshot, Status, Trade
    from whistle.api.v1 import market_data_pb2

    sid = AAPL.symbol_id
    records = [
        Snapshot(sid, 5, 9, 3, 2, (PriceLevel(18725, 3, 1),), (), 18725, 3, 0, 0, 18700),
        Level(sid, 6, 9, 1, 18725, 0, 0),
        Bbo(sid, 7, 9, 0, 0, 18800, 2),
        Trade(sid, 8, 9, 11, 18800, 2, 1),
        Status(sid, 9, 9, 1),
    ]
    batch = market_data_pb2.MarketDataBatch.FromString(convert.md_batch_bytes(records, AAPL))
    assert batch.updates == convert.md_updates_to_proto(records, AAPL)
    snap, level, bbo, trade, status = batch.updates
    assert [u.md_seq for u in batch.updates] == [5, 6, 7, 8, 9]
    assert {u.symbol for u in batch.updates} == {"AAPL"}
    assert snap.snapshot.cause == market_data_pb2.SNAPSHOT_CAUSE_CONFLATED
    assert [(lv.price, lv.qty, lv.order_count) for lv in snap.snapshot.bids] == [("187.25", "3", 1)]
    assert (snap.snapshot.bid.price, snap.snapshot.ask.price, snap.snapshot.last_trade_price) == (
        "187.25",
        "0",
        "187",
    )
    assert (level.level.side, level.level.level.price, level.level.level.qty_lots) == (
        1,
        "187.25",
        0,
    )
    assert (bbo.bbo.ask.price, bbo.bbo.ask.qty) == ("188", "2")
    assert (trade.trade.trade_id, trade.trade.price, trade.trade.aggressor_side) == (11, "188", 1)
    assert status.status.state == types_pb2.TRADING_STATE_ACTIVE
    # concatenated chunk encodings are one batch
    two = convert.md_batch_bytes(records[:2], AAPL) + convert.md_batch_bytes(records[2:], AAPL)
    assert market_data_pb2.MarketDataBatch.FromString(two) == batch


def test_a_repeat_of_a_refused_replace_of_another_accounts_order_says_no_order() -> None:
    repeat = DuplicateClientOrder(1, 0, 0, 5, 9, 8, 44, 3, 2, int(RejectReason.ACCOUNT_MISMATCH))
    (shown,) = convert.for_trader([repeat], 8)
    assert shown.reason == RejectReason.UNKNOWN_ORDER_ID  # type: ignore[union-attr]
