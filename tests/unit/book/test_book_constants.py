"""The book's literal ``Final`` ints (inlined by mypyc) must equal the public enums."""

from __future__ import annotations

from pathlib import Path

import whistle.book.book as book
from whistle.core import CancelCause, Liquidity, OrderType, RejectReason, Side, StpMode, TimeInForce

PAIRS = {
    "BUY": Side.BUY,
    "SELL": Side.SELL,
    "LIMIT": OrderType.LIMIT,
    "MARKET": OrderType.MARKET,
    "STOP": OrderType.STOP,
    "STOP_LIMIT": OrderType.STOP_LIMIT,
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
    "GTD": TimeInForce.GTD,
    "DAY": TimeInForce.DAY,
    "STP_NONE": StpMode.NONE,
    "STP_NEWEST": StpMode.CANCEL_NEWEST,
    "STP_OLDEST": StpMode.CANCEL_OLDEST,
    "STP_BOTH": StpMode.CANCEL_BOTH,
    "STP_DECREMENT": StpMode.DECREMENT_AND_CANCEL,
    "C_USER": CancelCause.USER,
    "C_IOC": CancelCause.IOC_REMAINDER,
    "C_SELF": CancelCause.SELF_TRADE,
    "C_MASS": CancelCause.MASS_CANCEL,
    "MAKER": Liquidity.MAKER,
    "TAKER": Liquidity.TAKER,
}


def test_enum_constants_match():
    for name, member in PAIRS.items():
        assert getattr(book, name) == int(member), name


def test_reject_constants_match_their_comment():
    # Each R_* line reads `R_X: Final = <code>  # <RejectReason member>`.
    source = (Path(__file__).resolve().parents[3] / "src/whistle/book/book.py").read_text()
    names = [n for n in dir(book) if n.startswith("R_")]
    assert len(names) >= 20
    codes = {int(r) for r in RejectReason}
    for name in names:
        assert getattr(book, name) in codes, name
    checked = 0
    for line in source.splitlines():
        if line.startswith("R_") and ": Final = " in line:
            value = int(line.split("= ")[1].split()[0])
            member = line.split("# ")[1].strip()
            assert int(RejectReason[member]) == value, line
            checked += 1
    assert checked == len(names)


def test_inlined_limits_match_core():
    from whistle.core import limits

    assert book.MAX_PRICE == limits.MAX_PRICE_TICKS
    assert book.MAX_ID == limits.MAX_ORDER_ID == limits.MAX_ACCOUNT == limits.MAX_TS_NS
    # Internal sentinels must stay out of the price range on both sides.
    assert book.INF_KEY > book._UNLIMITED > limits.MAX_PRICE_TICKS


def test_fast_path_command_field_order_is_pinned():
    # OrderBook.new_order_fields / modify_fields / cancel_fields read commands by position
    # (msgspec.structs.astuple): a reordered or inserted field must fail here first.
    from whistle.core.commands import CancelOrder, ModifyOrder, NewOrder

    assert NewOrder.__struct_fields__ == (
        "symbol_id",
        "order_id",
        "account",
        "side",
        "order_type",
        "tif",
        "price_ticks",
        "qty_lots",
        "stop_price_ticks",
        "display_qty_lots",
        "post_only",
        "stp",
        "expire_ts_ns",
        "protection_price_ticks",
        "client_order_id",  # read by the venue only (the book reads f[0..13])
    )
    assert ModifyOrder.__struct_fields__ == (
        "symbol_id",
        "order_id",
        "price_ticks",
        "qty_lots",
        "account",
    )
    assert CancelOrder.__struct_fields__ == ("symbol_id", "order_id", "account")
