"""msgspec round trips of every command and event, and the pinned enum values."""

from __future__ import annotations

import msgspec
import pytest

from whistle.core import (
    COMMAND_TYPES,
    EVENT_TYPES,
    BestBidOfferChanged,
    BookLevelChanged,
    CancelCause,
    CancelOrder,
    CancelReplace,
    Command,
    DuplicateClientOrder,
    EndSession,
    EngineFaulted,
    Event,
    HaltTrading,
    Liquidity,
    MassCancel,
    ModifyOrder,
    NewOrder,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderReplaced,
    OrderType,
    ResumeTrading,
    Side,
    StopTriggered,
    StpMode,
    TimeInForce,
    TradeOccurred,
    TradingState,
    TradingStatusChanged,
)

COMMANDS = [
    NewOrder(7, 11, 3, 2, 4, 4, 1050, 25, 1000, 0, False, 2, 5_000, 0),
    NewOrder(7, 12, 3, 1, 1, 5, 990, 30, display_qty_lots=5, post_only=True),
    NewOrder(7, 13, 3, 1, 2, 2, 0, 30, protection_price_ticks=1_200),
    NewOrder(7, 14, 3, 1, 1, 1, 990, 30, client_order_id=(1 << 63) - 1),
    CancelOrder(7, 11, 3),
    CancelOrder(7, 11),
    ModifyOrder(7, 11, 1000, 20, 3),
    ModifyOrder(7, 11, qty_lots=5),
    CancelReplace(7, 11, 12, 1010, 40, 3),
    CancelReplace(7, 11, 12, 1010, 40),
    MassCancel(7, 3),
    MassCancel(7),
    HaltTrading(7),
    ResumeTrading(7),
    EndSession(7),
]

EVENTS = [
    OrderAccepted(7, 1, 2, 3, 11, 4, 1, 1, 1, 100, 10, 0, 5),
    OrderRejected(7, 2, 2, 3, 11, 4, 3005),
    OrderFilled(7, 3, 2, 3, 11, 4, 1, 1, 100, 3, 7, 9),
    TradeOccurred(7, 4, 2, 3, 9, 100, 3, 2, 11, 12),
    OrderCancelled(7, 5, 2, 3, 11, 4, 3, 2, 5),
    OrderExpired(7, 6, 0, 3, 11, 4, 7),
    OrderModified(7, 7, 2, 3, 11, 4, 101, 6, True),
    OrderReplaced(7, 8, 2, 3, 11, 12, 4, 101, 6),
    StopTriggered(7, 9, 2, 3, 11, 4, 95, 94),
    BookLevelChanged(7, 10, 2, 3, 1, 100, 0, 0),
    BestBidOfferChanged(7, 11, 2, 3, 100, 5, 101, 6),
    TradingStatusChanged(7, 12, 2, 3, 2),
    EngineFaulted(7, 13, 2, 3, "RuntimeError: boom ✓"),
    DuplicateClientOrder(7, 0, 0, 3, 11, 4, 99, 2, 1, 0),
]


def test_samples_cover_every_type():
    assert {type(c) for c in COMMANDS} == set(COMMAND_TYPES)
    assert {type(e) for e in EVENTS} == set(EVENT_TYPES)


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: type(c).__name__)
@pytest.mark.parametrize("codec", [msgspec.msgpack, msgspec.json])
def test_command_round_trip(cmd, codec):
    data = codec.encode(cmd)
    assert codec.decode(data, type=Command) == cmd
    assert codec.decode(data, type=type(cmd)) == cmd


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("codec", [msgspec.msgpack, msgspec.json])
def test_event_round_trip(event, codec):
    data = codec.encode(event)
    decoded = codec.decode(data, type=Event)
    assert decoded == event
    assert type(decoded) is type(event)


def test_wire_form_is_a_tagged_array():
    assert msgspec.json.encode(CancelOrder(7, 11, 3)) == b"[2,7,11,3]"
    assert msgspec.json.encode(HaltTrading(7)) == b"[6,7]"
    assert msgspec.json.encode(TradingStatusChanged(7, 12, 2, 3, 2)) == b"[12,7,12,2,3,2]"


def test_tags_are_unique_and_stable():
    command_tags = [msgspec.inspect.type_info(t).tag for t in COMMAND_TYPES]
    event_tags = [msgspec.inspect.type_info(t).tag for t in EVENT_TYPES]
    assert command_tags == [1, 2, 3, 4, 5, 6, 7, 8]
    assert event_tags == list(range(1, 15))


def test_order_expired_carries_the_expired_cause():
    assert OrderExpired(7, 1, 0, 0, 11, 4, 7).cause == CancelCause.EXPIRED


def test_unknown_tag_is_refused():
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b"[99,7]", type=Command)


def test_enum_values_match_the_contract():
    assert [int(m) for m in Side] == [1, 2]
    assert Side.BUY.opposite is Side.SELL
    assert Side.SELL.opposite is Side.BUY
    assert {m.name: int(m) for m in OrderType} == {
        "LIMIT": 1,
        "MARKET": 2,
        "STOP": 3,
        "STOP_LIMIT": 4,
    }
    assert {m.name: int(m) for m in TimeInForce} == {
        "GTC": 1,
        "IOC": 2,
        "FOK": 3,
        "GTD": 4,
        "DAY": 5,
    }
    assert {m.name: int(m) for m in StpMode} == {
        "NONE": 0,
        "CANCEL_NEWEST": 1,
        "CANCEL_OLDEST": 2,
        "CANCEL_BOTH": 3,
        "DECREMENT_AND_CANCEL": 4,
    }
    assert {m.name: int(m) for m in CancelCause} == {
        "USER": 1,
        "IOC_REMAINDER": 2,
        "SELF_TRADE": 3,
        "EXPIRED": 4,
        "MASS_CANCEL": 5,
    }
    assert {m.name: int(m) for m in Liquidity} == {"MAKER": 1, "TAKER": 2}
    assert {m.name: int(m) for m in TradingState} == {"ACTIVE": 1, "HALTED": 2, "FAULTED": 3}
