"""Instrument definitions: validation messages, defaults, stable symbol ids."""

from __future__ import annotations

import binascii

import msgspec
import pytest

import whistle.core.instrument as instrument_module
from whistle.core import Instrument, InstrumentError, ValueFormatError, WhistleError
from whistle.core.instrument import stable_symbol_id


def test_defaults_and_derived_symbol_id():
    inst = Instrument(symbol="BTC-USD")
    assert inst.symbol_id == stable_symbol_id("BTC-USD") == 515687408
    assert inst.tick_size == "0.01"
    assert inst.lot_size == "1"
    assert (inst.min_qty_lots, inst.max_qty_lots) == (1, 1_000_000_000)
    assert (inst.price_band_bps, inst.reference_price_ticks) == (0, 0)


def test_explicit_symbol_id_is_kept():
    assert Instrument(symbol="BTC-USD", symbol_id=7).symbol_id == 7
    assert Instrument(symbol="BTC-USD", symbol_id=2**32 - 1).symbol_id == 2**32 - 1


SYM = "symbol must be 1..64 printable ASCII characters without spaces, was "
P62 = 4611686018427387903


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbol": ""}, SYM + "''"),
        ({"symbol": "A B"}, SYM + "'A B'"),
        ({"symbol": "A\nB"}, SYM + "'A\\nB'"),
        ({"symbol": "A\u00a0B"}, SYM + "'A\\xa0B'"),
        ({"symbol": "\u00c9TOILE"}, SYM + "'\u00c9TOILE'"),
        ({"symbol": "X" * 65}, SYM + repr("X" * 65)),
        ({"symbol": "X" * 10_000_000}, SYM + repr("X" * 80) + "... (10,000,000 chars)"),
        ({"symbol": 123}, SYM + "123"),
        ({"symbol": None}, SYM + "None"),
        ({"symbol": b"AAPL"}, SYM + "b'AAPL'"),
        ({"symbol_id": 2**32}, f"symbol_id must be an int in 0..4294967295, was {2**32}"),
        ({"symbol_id": -5}, "symbol_id must be an int in 0..4294967295, was -5"),
        ({"symbol_id": True}, "symbol_id must be an int in 0..4294967295, was a bool (True)"),
        ({"symbol_id": 1.0}, "symbol_id must be an int in 0..4294967295, was a float (1.0)"),
        ({"symbol_id": "7"}, "symbol_id must be an int in 0..4294967295, was a str ('7')"),
        (
            {"symbol_id": 2**5000},
            "symbol_id must be an int in 0..4294967295, was an int of 5,001 bits",
        ),
        ({"tick_size": "0"}, "tick_size must be positive, was 0"),
        ({"tick_size": "-0.01"}, "tick_size must be positive, was -0.01"),
        ({"tick_size": 1}, "tick_size must be a decimal string, was 1"),
        ({"lot_size": "0"}, "lot_size must be positive, was 0"),
        ({"min_qty_lots": 0}, f"min_qty_lots must be an int in 1..{P62}, was 0"),
        ({"min_qty_lots": True}, f"min_qty_lots must be an int in 1..{P62}, was a bool (True)"),
        ({"max_qty_lots": 2.0}, f"max_qty_lots must be an int in 1..{P62}, was a float (2.0)"),
        (
            {"min_qty_lots": 10, "max_qty_lots": 9},
            f"need 1 <= min_qty_lots <= max_qty_lots <= {P62}, was 10 and 9",
        ),
        ({"price_band_bps": 10_000}, "price_band_bps must be an int in 0..9999, was 10000"),
        ({"price_band_bps": -1}, "price_band_bps must be an int in 0..9999, was -1"),
        (
            {"reference_price_ticks": -1},
            "reference_price_ticks must be an int in 0..1152921504606846975, was -1",
        ),
    ],
)
def test_invalid_instrument_names_expected_and_seen(kwargs, message):
    kwargs = {"symbol": "BTC-USD", **kwargs}
    with pytest.raises(InstrumentError) as info:
        Instrument(**kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, WhistleError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"tick_size": "abc"},
            "tick_size must be a decimal number (ASCII digits, one optional point), was 'abc'",
        ),
        (
            {"lot_size": "inf"},
            "lot_size must be a decimal number (ASCII digits, one optional point), was 'inf'",
        ),
        (
            {"lot_size": "1e-2"},
            "lot_size must be a decimal number (ASCII digits, one optional point), was '1e-2'",
        ),
        (
            {"tick_size": "0_01"},
            "tick_size must be a decimal number (ASCII digits, one optional point), was '0_01'",
        ),
    ],
)
def test_unparseable_step_is_a_format_error(kwargs, message):
    with pytest.raises(ValueFormatError) as info:
        Instrument(symbol="BTC-USD", **kwargs)
    assert str(info.value) == message


def test_band_edges_are_valid():
    assert Instrument(symbol="X", price_band_bps=0).price_band_bps == 0
    assert Instrument(symbol="X", price_band_bps=9_999).price_band_bps == 9_999
    assert Instrument(symbol="X", min_qty_lots=5, max_qty_lots=5).max_qty_lots == 5


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [("BTC-USD", 515687408), ("ETH-USD", 751553647), ("TEST", 1860867000), ("é", 235179326)],
)
def test_stable_symbol_id_is_pinned(symbol, expected):
    # CRC-32 of the UTF-8 bytes, masked to 31 bits: the same in every process and run.
    assert stable_symbol_id(symbol) == expected
    assert expected == binascii.crc32(symbol.encode()) & 0x7FFFFFFF


def test_stable_symbol_id_is_never_zero(monkeypatch):
    monkeypatch.setattr(instrument_module.zlib, "crc32", lambda data: 0x80000000)
    assert stable_symbol_id("anything") == 1


def test_instrument_is_frozen_and_round_trips():
    inst = Instrument(symbol="BTC-USD", tick_size="0.5", lot_size="100", price_band_bps=250)
    with pytest.raises(AttributeError):
        inst.symbol = "X"  # type: ignore[misc]
    data = msgspec.msgpack.encode(inst)
    assert msgspec.msgpack.decode(data, type=Instrument) == inst


def test_instrument_errors_are_value_errors():
    with pytest.raises(ValueError, match="symbol must be"):
        Instrument(symbol=123)  # type: ignore[arg-type]


@pytest.mark.parametrize("symbol_id", [True, 1.0, 2**64])
def test_a_bad_symbol_id_is_refused_before_it_can_be_encoded(symbol_id):
    # Accepted and journaled, it would make the data directory unreadable: msgspec refuses
    # a bool or a float for an int field on decode, and 2**64 does not fit msgpack.
    with pytest.raises(InstrumentError, match="symbol_id must be an int"):
        Instrument(symbol="A", symbol_id=symbol_id)


def test_a_decoded_instrument_is_checked_too():
    bad = msgspec.msgpack.encode({"symbol": "A B", "symbol_id": 1})
    with pytest.raises(msgspec.ValidationError, match="symbol must be"):
        msgspec.msgpack.decode(bad, type=Instrument)


def test_longest_symbol_and_every_printable_ascii_character():
    assert Instrument(symbol="X" * 64).symbol == "X" * 64
    every = "".join(chr(c) for c in range(0x21, 0x7F))
    assert Instrument(symbol=every[:64]).symbol == every[:64]
    assert Instrument(symbol=every[64:]).symbol == every[64:]
