"""Property tests: every trading message survives its fixed record exactly, at any offset,
including the extremes of every field; a value outside its field is refused, never cut."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from property.strategies import PROFILE
from whistle.core.enums import Liquidity, Side, TimeInForce
from whistle.trading.messages import (
    LEVELS,
    MarketEvent,
    MarketKind,
    MessageFormatError,
    Order,
    OrderAction,
    OrderUpdate,
    RiskDecision,
    RiskReason,
    SignalEvent,
    SignalKind,
    UpdateKind,
)

I64 = st.integers(-(2**63), 2**63 - 1)
U64 = st.integers(0, 2**64 - 1)
U32 = st.integers(0, 2**32 - 1)
# Extremes first: hypothesis shrinks towards them anyway, this makes sure they appear.
i64 = st.one_of(st.sampled_from([-(2**63), -1, 0, 1, 2**63 - 1]), I64)
u64 = st.one_of(st.sampled_from([0, 1, 2**64 - 1]), U64)
u32 = st.one_of(st.sampled_from([0, 1, 2**32 - 1]), U32)
levels = st.tuples(*[i64] * LEVELS)
sides_or_0 = st.sampled_from([0, Side.BUY, Side.SELL])
tifs_or_0 = st.sampled_from([0, *TimeInForce])

market_events = st.builds(
    MarketEvent,
    kind=st.sampled_from(MarketKind),
    symbol_id=u32,
    ts_ns=i64,
    recv_ts_ns=i64,
    seq=u64,
    price=i64,
    qty=i64,
    side=sides_or_0,
    n_bid=st.integers(0, LEVELS),
    n_ask=st.integers(0, LEVELS),
    bid_px=levels,
    bid_qty=levels,
    ask_px=levels,
    ask_qty=levels,
)
signals = st.builds(
    SignalEvent,
    kind=st.sampled_from(SignalKind),
    strategy_id=u32,
    symbol_id=u32,
    client_order_id=u64,
    price=i64,
    qty=i64,
    tif=tifs_or_0,
    post_only=st.booleans(),
    ts_ns=i64,
)
decisions = st.builds(
    RiskDecision,
    signal=signals,
    approved=st.booleans(),
    reason=st.sampled_from(RiskReason),
    ts_ns=i64,
)
orders = st.builds(
    Order,
    action=st.sampled_from(OrderAction),
    client_order_id=u64,
    account=u64,
    symbol_id=u32,
    side=st.sampled_from(Side),
    price=i64,
    qty=i64,
    tif=tifs_or_0,
    post_only=st.booleans(),
    ts_ns=i64,
)
updates = st.builds(
    OrderUpdate,
    kind=st.sampled_from(UpdateKind),
    client_order_id=u64,
    symbol_id=u32,
    side=sides_or_0,
    price=i64,
    qty=i64,
    leaves_qty=i64,
    fill_price=i64,
    fill_qty=i64,
    liquidity=st.sampled_from([0, *Liquidity]),
    fee=i64,
    reason=u32,
    text=st.just(""),
    ts_ns=i64,
    venue_order_id=u64,
)
any_message = st.one_of(market_events, signals, decisions, orders, updates)
# Half the profile's examples: a MarketEvent draws 47 ints; the long profile still scales it.
HALF = settings(PROFILE, max_examples=max(PROFILE.max_examples // 2, 10))


@HALF
@given(any_message, st.integers(0, 64), st.binary(min_size=0, max_size=64))
def test_round_trip_at_any_offset(message, offset, junk):
    cls = type(message)
    buf = bytearray(junk.ljust(offset, b"\xa5")[:offset] + b"\xee" * (cls.SIZE + 8))
    message.pack_into(buf, offset)
    back = cls.unpack_from(buf, offset)
    assert back == message
    # The record is exactly SIZE bytes: nothing before offset or after SIZE is touched.
    assert buf[offset + cls.SIZE :] == b"\xee" * 8
    # It also reads back from an immutable copy and a memoryview.
    assert cls.unpack_from(bytes(buf), offset) == message
    assert cls.unpack_from(memoryview(buf), offset) == message
    # Enum fields come back as members of their enum, flags as bools.
    for name in ("kind", "action", "reason"):
        if name in cls.__struct_fields__ and cls is not OrderUpdate:
            assert type(getattr(back, name)) is type(getattr(message, name))
    if isinstance(back, RiskDecision):
        assert type(back.signal.kind) is SignalKind
        assert back.approved is message.approved


@HALF
@given(
    signals,
    st.sampled_from(["strategy_id", "symbol_id", "client_order_id", "price", "qty", "ts_ns"]),
    st.one_of(
        st.integers(2**64, 2**70),
        st.integers(-(2**70), -(2**63) - 1),
    ),
)
def test_out_of_range_values_are_refused_naming_the_field(signal, field, value):
    bad = signal.__class__(
        **{**{f: getattr(signal, f) for f in signal.__struct_fields__}, field: value}
    )
    buf = bytearray(b"\x5a" * SignalEvent.SIZE)
    with pytest.raises(MessageFormatError, match=rf"SignalEvent\.{field} must fit"):
        bad.pack_into(buf)
    # struct may have written the fields before the bad one, but never a readable record.
    assert buf[0] == 0
    with pytest.raises(MessageFormatError, match="found type code 0"):
        SignalEvent.unpack_from(buf)


def test_sizes_are_the_struct_sizes():
    assert struct.calcsize(f"<BBIqqQqqBBB{4 * LEVELS}q") == MarketEvent.SIZE
    assert SignalEvent.SIZE == 44
    assert RiskDecision.SIZE == 14 + 43
    assert Order.SIZE == 49
    assert OrderUpdate.SIZE == 84
