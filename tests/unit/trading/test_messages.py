"""Unit tests of the trading messages' fixed records: layout, refusals, malformed buffers."""

from __future__ import annotations

from itertools import permutations

import msgspec
import pytest

from whistle.core.enums import Liquidity, Side, TimeInForce
from whistle.trading.messages import (
    LEVELS,
    ZERO_LEVELS,
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

BOOK = MarketEvent(
    MarketKind.BOOK,
    symbol_id=7,
    ts_ns=1_000,
    recv_ts_ns=1_500,
    seq=42,
    n_bid=2,
    n_ask=1,
    bid_px=(100, 99, *([0] * 8)),
    bid_qty=(5, 6, *([0] * 8)),
    ask_px=(101, *([0] * 9)),
    ask_qty=(3, *([0] * 9)),
)
TRADE = MarketEvent(MarketKind.TRADE, 7, 2_000, price=101, qty=3, side=Side.BUY)
SIGNAL = SignalEvent(SignalKind.BUY, 3, 7, 11, price=100, qty=5, tif=TimeInForce.GTC, ts_ns=9)
DECISION = RiskDecision(SIGNAL, approved=False, reason=RiskReason.PRICE_COLLAR, ts_ns=10)
ORDER = Order(OrderAction.NEW, 11, 4, 7, Side.SELL, 100, 5, TimeInForce.IOC, True, 12)
UPDATE = OrderUpdate(
    UpdateKind.FILLED,
    11,
    7,
    side=Side.SELL,
    price=100,
    qty=5,
    leaves_qty=2,
    fill_price=100,
    fill_qty=3,
    liquidity=Liquidity.MAKER,
    fee=-4,
    ts_ns=13,
    venue_order_id=99,
)
SAMPLES = [BOOK, TRADE, SIGNAL, DECISION, ORDER, UPDATE]
CLASSES = [MarketEvent, SignalEvent, RiskDecision, Order, OrderUpdate]
TYPE_CODES = {MarketEvent: 1, SignalEvent: 2, RiskDecision: 3, Order: 4, OrderUpdate: 5}


def _packed(message) -> bytearray:
    buf = bytearray(type(message).SIZE)
    message.pack_into(buf)
    return buf


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message):
    assert type(message).unpack_from(_packed(message)) == message


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_messages_are_frozen_untracked_structs(cls):
    assert issubclass(cls, msgspec.Struct)
    assert cls.__struct_config__.frozen
    assert not cls.__struct_config__.gc
    sample = next(m for m in SAMPLES if type(m) is cls)
    with pytest.raises(AttributeError):
        sample.ts_ns = 0  # type: ignore[misc]


def test_record_starts_with_its_type_code_and_is_little_endian():
    for message in SAMPLES:
        buf = _packed(message)
        assert buf[0] == TYPE_CODES[type(message)]
    buf = _packed(SIGNAL)
    # kind, strategy_id (u32), symbol_id (u32), client_order_id (u64), price (i64) ...
    assert buf[1] == SignalKind.BUY
    assert buf[2:6] == (3).to_bytes(4, "little")
    assert buf[6:10] == (7).to_bytes(4, "little")
    assert buf[10:18] == (11).to_bytes(8, "little")
    assert buf[18:26] == (100).to_bytes(8, "little", signed=True)


def test_sizes_are_pinned():
    # Changing a layout changes every ring and recording that holds these records.
    assert MarketEvent.SIZE == 1 + 1 + 4 + 8 * 5 + 3 + 8 * 4 * LEVELS == 369
    assert SignalEvent.SIZE == 44
    assert RiskDecision.SIZE == 57
    assert Order.SIZE == 49
    assert OrderUpdate.SIZE == 84


@pytest.mark.parametrize(
    ("writer", "reader"),
    list(permutations(CLASSES, 2)),
    ids=lambda c: c.__name__,
)
def test_a_record_of_one_type_is_refused_as_another(writer, reader):
    sample = next(m for m in SAMPLES if type(m) is writer)
    buf = _packed(sample).ljust(max(writer.SIZE, reader.SIZE), b"\0")
    with pytest.raises(
        MessageFormatError, match=f"expected a {reader.__name__} record at offset 0"
    ):
        reader.unpack_from(buf)
    with pytest.raises(MessageFormatError, match=f"found a {writer.__name__} record"):
        reader.unpack_from(buf)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_unknown_type_code_is_refused(message):
    buf = _packed(message)
    buf[0] = 77
    with pytest.raises(MessageFormatError, match="found type code 77"):
        type(message).unpack_from(buf)


@pytest.mark.parametrize(
    ("message", "index", "field"),
    [
        (BOOK, 1, "MarketEvent.kind"),
        (TRADE, 1 + 1 + 4 + 8 * 5, "MarketEvent.side"),
        (SIGNAL, 1, "SignalEvent.kind"),
        (SIGNAL, 1 + 1 + 4 + 4 + 8 * 3, "SignalEvent.tif"),
        (DECISION, 2, "RiskDecision.reason"),
        (DECISION, 14, "SignalEvent.kind"),
        (ORDER, 1, "Order.action"),
        (ORDER, 1 + 1 + 8 + 8 + 4, "Order.side"),
        (UPDATE, 1, "OrderUpdate.kind"),
        (UPDATE, 1 + 1 + 8 + 4, "OrderUpdate.side"),
        (UPDATE, 1 + 1 + 8 + 4 + 1 + 8 * 5, "OrderUpdate.liquidity"),
    ],
)
def test_wrong_enum_code_in_a_record_is_refused(message, index, field):
    buf = _packed(message)
    buf[index] = 200
    with pytest.raises(MessageFormatError, match=rf"{field} must be one of .* was \d+"):
        type(message).unpack_from(buf)


def test_bad_flags_and_level_counts_in_a_record_are_refused():
    buf = _packed(SIGNAL)
    buf[1 + 1 + 4 + 4 + 8 * 3 + 1] = 2  # post_only
    with pytest.raises(MessageFormatError, match="post_only must be 0 or 1, was 2"):
        SignalEvent.unpack_from(buf)
    buf = _packed(DECISION)
    buf[1] = 3  # approved
    with pytest.raises(MessageFormatError, match="approved must be 0 or 1, was 3"):
        RiskDecision.unpack_from(buf)
    buf = _packed(ORDER)
    buf[-9] = 5  # post_only
    with pytest.raises(MessageFormatError, match=r"Order.post_only must be 0 or 1, was 5"):
        Order.unpack_from(buf)
    buf = _packed(BOOK)
    buf[1 + 1 + 4 + 8 * 5 + 1] = LEVELS + 1  # n_bid
    with pytest.raises(MessageFormatError, match=r"n_bid/n_ask must be 0\.\.10, were 11/1"):
        MarketEvent.unpack_from(buf)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_short_buffer_and_bad_offsets(message):
    cls = type(message)
    buf = _packed(message)
    for size in range(cls.SIZE):  # every truncation, not only one byte short
        with pytest.raises(MessageFormatError, match=f"needs {cls.SIZE} bytes at offset 0"):
            cls.unpack_from(buf[:size])
        with pytest.raises(MessageFormatError, match=f"needs {cls.SIZE} bytes at offset 0"):
            message.pack_into(bytearray(size))
    with pytest.raises(
        MessageFormatError,
        match=f"needs {cls.SIZE} bytes at offset 0, the buffer has {cls.SIZE - 1}",
    ):
        cls.unpack_from(buf[:-1])
    with pytest.raises(MessageFormatError, match="the buffer has 0 there"):
        cls.unpack_from(b"")
    with pytest.raises(MessageFormatError, match=f"needs {cls.SIZE} bytes at offset 5"):
        cls.unpack_from(buf, 5)
    with pytest.raises(MessageFormatError, match=f"needs {cls.SIZE} bytes at offset 3"):
        message.pack_into(bytearray(cls.SIZE + 2), 3)
    with pytest.raises(MessageFormatError, match="bytes-like buffer is required"):
        cls.unpack_from("not bytes")
    with pytest.raises(MessageFormatError, match="read-only"):
        message.pack_into(bytes(cls.SIZE))
    with pytest.raises(MessageFormatError, match="writable bytes-like buffer"):
        message.pack_into([0] * cls.SIZE)


def test_packing_into_a_short_buffer_writes_nothing():
    buf = bytearray(b"\x11" * (SignalEvent.SIZE - 1))
    with pytest.raises(MessageFormatError):
        SIGNAL.pack_into(buf)
    assert buf == b"\x11" * (SignalEvent.SIZE - 1)


@pytest.mark.parametrize(
    ("message", "field", "value", "expected"),
    [
        (
            SIGNAL,
            "qty",
            2**63,
            r"SignalEvent.qty must fit a signed 64-bit int .* was 9223372036854775808",
        ),
        (SIGNAL, "price", -(2**63) - 1, r"SignalEvent.price must fit a signed 64-bit int"),
        (
            SIGNAL,
            "client_order_id",
            -1,
            r"SignalEvent.client_order_id must fit an unsigned 64-bit int",
        ),
        (SIGNAL, "strategy_id", 2**32, r"SignalEvent.strategy_id must fit an unsigned 32-bit int"),
        (SIGNAL, "price", 100.5, r"SignalEvent.price must be an int .* was 100.5"),
        (SIGNAL, "qty", "5", r"SignalEvent.qty must be an int .* was '5'"),
        (SIGNAL, "kind", 9, r"SignalEvent.kind must be one of \[1, 2, 3, 4\], was 9"),
        (SIGNAL, "tif", 6, r"SignalEvent.tif must be one of \[0, 1, 2, 3, 4, 5\], was 6"),
        (BOOK, "bid_px", (1, 2), r"MarketEvent.bid_px must be a tuple of 10 ints, was \(1, 2\)"),
        (BOOK, "ask_qty", (*ZERO_LEVELS[:9], 2**63), r"MarketEvent.ask_qty\[9\] must fit a signed"),
        (BOOK, "bid_qty", (*ZERO_LEVELS[:9], 1.0), r"MarketEvent.bid_qty\[9\] must be an int"),
        (BOOK, "n_bid", 11, r"MarketEvent.n_bid/n_ask must be 0..10, were 11/1"),
        (BOOK, "n_ask", None, r"MarketEvent.n_ask must be an int"),
        (BOOK, "kind", 0, r"MarketEvent.kind must be one of"),
        (TRADE, "side", 3, r"MarketEvent.side must be one of \[0, 1, 2\], was 3"),
        (TRADE, "seq", -1, r"MarketEvent.seq must fit an unsigned 64-bit int"),
        (TRADE, "symbol_id", 2**32, r"MarketEvent.symbol_id must fit an unsigned 32-bit int"),
        (DECISION, "reason", 1, r"RiskDecision.reason must be one of"),
        (DECISION, "ts_ns", 2**63, r"RiskDecision.ts_ns must fit a signed 64-bit int"),
        (DECISION, "signal", None, r"RiskDecision.signal must be a SignalEvent, was None"),
        (ORDER, "side", 0, r"Order.side must be one of \[1, 2\], was 0"),
        (ORDER, "action", 4, r"Order.action must be one of \[1, 2, 3\], was 4"),
        (ORDER, "account", 2**64, r"Order.account must fit an unsigned 64-bit int"),
        (ORDER, "tif", 9, r"Order.tif must be one of"),
        (UPDATE, "kind", 7, r"OrderUpdate.kind must be one of \[1, 2, 3, 4, 5, 6\], was 7"),
        (UPDATE, "liquidity", 3, r"OrderUpdate.liquidity must be one of \[0, 1, 2\], was 3"),
        (UPDATE, "side", -1, r"OrderUpdate.side must be one of"),
        (UPDATE, "fee", 2**63, r"OrderUpdate.fee must fit a signed 64-bit int"),
        (UPDATE, "reason", -1, r"OrderUpdate.reason must fit an unsigned 32-bit int"),
        (UPDATE, "venue_order_id", 2**64, r"OrderUpdate.venue_order_id must fit"),
    ],
)
def test_values_that_do_not_fit_are_refused_naming_the_field(message, field, value, expected):
    bad = msgspec.structs.replace(message, **{field: value})
    buf = bytearray(b"\x33" * type(message).SIZE)
    with pytest.raises(MessageFormatError, match=expected):
        bad.pack_into(buf)
    assert issubclass(MessageFormatError, ValueError)


def test_decision_names_the_bad_signal_field():
    bad = msgspec.structs.replace(DECISION, signal=msgspec.structs.replace(SIGNAL, qty=2**64))
    with pytest.raises(
        MessageFormatError, match=r"RiskDecision\.signal\.qty must fit a signed 64-bit"
    ):
        bad.pack_into(bytearray(RiskDecision.SIZE))
    bad = msgspec.structs.replace(DECISION, signal=msgspec.structs.replace(SIGNAL, kind=0))
    with pytest.raises(MessageFormatError, match=r"SignalEvent\.kind must be one of"):
        bad.pack_into(bytearray(RiskDecision.SIZE))


def test_update_text_is_not_in_the_record():
    with_text = msgspec.structs.replace(UPDATE, kind=UpdateKind.REJECTED, reason=6011, text="qty 0")
    back = OrderUpdate.unpack_from(_packed(with_text))
    assert back.text == ""
    assert back.reason == 6011
    assert msgspec.structs.replace(back, text="qty 0") == with_text


def test_truthy_flags_pack_as_one():
    # A strategy may pass 1 for True: it must not be packed as 0 (silently dropping the flag).
    signal = msgspec.structs.replace(SIGNAL, post_only=1)
    assert SignalEvent.unpack_from(_packed(signal)).post_only is True
    decision = msgspec.structs.replace(DECISION, approved=1)
    assert RiskDecision.unpack_from(_packed(decision)).approved is True


def test_unpacked_enums_are_members():
    assert type(MarketEvent.unpack_from(_packed(TRADE)).side) is Side
    assert MarketEvent.unpack_from(_packed(BOOK)).side == 0
    assert type(RiskDecision.unpack_from(_packed(DECISION)).reason) is RiskReason
    order = Order.unpack_from(_packed(ORDER))
    assert (type(order.action), type(order.side), type(order.tif)) == (
        OrderAction,
        Side,
        TimeInForce,
    )
    update = OrderUpdate.unpack_from(_packed(UPDATE))
    assert (type(update.kind), type(update.liquidity)) == (UpdateKind, Liquidity)


def test_records_pack_back_to_back_in_one_buffer():
    buf = bytearray(sum(type(m).SIZE for m in SAMPLES))
    offset = 0
    for message in SAMPLES:
        message.pack_into(buf, offset)
        offset += type(message).SIZE
    offset = 0
    for message in SAMPLES:
        assert type(message).unpack_from(buf, offset) == message
        offset += type(message).SIZE


def test_risk_reasons_are_numbered_in_the_risk_range_and_documented():
    assert RiskReason.NONE == 0
    codes = [int(r) for r in RiskReason if r is not RiskReason.NONE]
    assert codes == list(range(6001, 6001 + len(codes)))
    assert [r.name for r in RiskReason][1:] == [
        "MAX_POSITION",
        "MAX_ORDER_QTY",
        "MAX_ORDER_NOTIONAL",
        "MAX_OPEN_NOTIONAL",
        "ORDER_RATE",
        "MAX_OPEN_ORDERS",
        "PRICE_COLLAR",
        "SELF_CROSS",
        "KILL_SWITCH",
        "UNKNOWN_ORDER",
        "MALFORMED",
        "NO_REFERENCE_PRICE",
    ]


def test_spec_enum_values():
    assert [(m.name, int(m)) for m in MarketKind] == [
        ("BOOK", 1),
        ("BBO", 2),
        ("TRADE", 3),
        ("STATUS", 4),
        ("DISCONNECT", 5),
        ("END", 6),
    ]
    assert [int(m) for m in SignalKind] == [1, 2, 3, 4]
    assert [int(m) for m in OrderAction] == [1, 2, 3]
    assert [(m.name, int(m)) for m in UpdateKind] == [
        ("ACCEPTED", 1),
        ("FILLED", 2),
        ("CANCELLED", 3),
        ("REJECTED", 4),
        ("EXPIRED", 5),
        ("MODIFIED", 6),
    ]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_offsets_past_the_end_and_negative_offsets(message):
    cls = type(message)
    with pytest.raises(
        MessageFormatError, match=f"needs {cls.SIZE} bytes at offset 1000, the buffer has 0"
    ):
        message.pack_into(bytearray(cls.SIZE), 1_000)
    with pytest.raises(MessageFormatError, match=f"needs {cls.SIZE} bytes at offset 1000"):
        cls.unpack_from(bytearray(cls.SIZE), 1_000)
    # Negative offsets count from the end, as in struct: the last SIZE bytes of the buffer.
    buf = bytearray(cls.SIZE + 5)
    message.pack_into(buf, -cls.SIZE)
    assert cls.unpack_from(buf, 5) == message
    assert cls.unpack_from(buf, -cls.SIZE) == message


def test_a_bad_field_at_a_negative_offset_leaves_no_readable_record():
    buf = bytearray(SignalEvent.SIZE + 3)
    SIGNAL.pack_into(buf, 3)
    bad = msgspec.structs.replace(SIGNAL, ts_ns=2**63)
    with pytest.raises(MessageFormatError, match=r"SignalEvent\.ts_ns must fit"):
        bad.pack_into(buf, -SignalEvent.SIZE)
    with pytest.raises(MessageFormatError, match="found type code 0"):
        SignalEvent.unpack_from(buf, 3)


def test_packing_into_other_buffer_types():
    import array
    import mmap

    words = array.array("q", [0] * 8)  # a memoryview of format "q": cleared through a byte cast
    SIGNAL.pack_into(words)
    assert SignalEvent.unpack_from(words) == SIGNAL
    with pytest.raises(MessageFormatError, match="qty must fit"):
        msgspec.structs.replace(SIGNAL, qty=2**64).pack_into(words)
    assert bytes(words)[0] == 0
    with mmap.mmap(-1, 4096) as block:
        ORDER.pack_into(block, 100)
        assert Order.unpack_from(block, 100) == ORDER
