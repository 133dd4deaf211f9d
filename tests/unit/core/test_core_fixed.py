"""Decimal <-> integer unit conversion: exact, never rounded, floats and non-finite refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whistle.core import ConversionError, Instrument, PrecisionError, ValueFormatError
from whistle.core.fixed import from_units, parse_decimal, to_units

CENTS = Instrument(symbol="C", tick_size="0.01", lot_size="1")
HUNDREDS = Instrument(symbol="H", tick_size="0.25", lot_size="100")
MICRO = Instrument(symbol="M", tick_size="0.0001", lot_size="0.001")


@pytest.mark.parametrize(
    ("inst", "price", "ticks"),
    [
        (CENTS, "101.25", 10125),
        (CENTS, "101.2500", 10125),
        (CENTS, " 0.01 ", 1),
        (CENTS, 7, 700),
        (CENTS, Decimal("3.5"), 350),
        (CENTS, "-1.5", -150),
        (CENTS, "0", 0),
        (HUNDREDS, "1.25", 5),
        (HUNDREDS, "100", 400),
        (MICRO, "0.0001", 1),
        (MICRO, "1E+2", 1_000_000),
    ],
)
def test_price_to_ticks(inst, price, ticks):
    assert inst.price_to_ticks(price) == ticks


@pytest.mark.parametrize(
    ("inst", "qty", "lots"),
    [(CENTS, "12", 12), (HUNDREDS, "300", 3), (HUNDREDS, 1_000, 10), (MICRO, "1.234", 1234)],
)
def test_qty_to_lots(inst, qty, lots):
    assert inst.qty_to_lots(qty) == lots


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: HUNDREDS.qty_to_lots("150"), "qty must be a multiple of 100, was 150"),
        (lambda: HUNDREDS.qty_to_lots(50), "qty must be a multiple of 100, was 50"),
        (lambda: CENTS.price_to_ticks("1.005"), "price must be a multiple of 0.01, was 1.005"),
        (lambda: HUNDREDS.price_to_ticks("1.3"), "price must be a multiple of 0.25, was 1.3"),
        (lambda: CENTS.qty_to_lots("0.5"), "qty must be a multiple of 1, was 0.5"),
    ],
)
def test_off_grid_raises_precision_error(call, message):
    with pytest.raises(PrecisionError) as info:
        call()
    assert str(info.value) == message
    assert isinstance(info.value, ConversionError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [1.5, 100.0, float("nan"), True])
def test_floats_and_bools_are_refused(value):
    with pytest.raises(ValueFormatError) as info:
        CENTS.price_to_ticks(value)
    assert str(info.value) == f"price must be a decimal string or int, was {value!r}"


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-Infinity", "sNaN", Decimal("NaN")])
def test_non_finite_values_are_refused(text):
    with pytest.raises(ValueFormatError) as info:
        CENTS.qty_to_lots(text)
    assert str(info.value) == f"qty must be finite, was {text!r}"


@pytest.mark.parametrize("text", ["abc", "", "1,5", "0x10"])
def test_non_numbers_are_refused(text):
    with pytest.raises(ValueFormatError) as info:
        CENTS.price_to_ticks(text)
    assert str(info.value) == f"price must be a decimal number, was {text!r}"


@pytest.mark.parametrize(
    ("inst", "ticks", "text"),
    [
        (CENTS, 10125, "101.25"),
        (CENTS, 10100, "101"),
        (CENTS, 10110, "101.1"),
        (CENTS, 0, "0"),
        (CENTS, -5, "-0.05"),
        (HUNDREDS, 5, "1.25"),
        (MICRO, 1, "0.0001"),
    ],
)
def test_ticks_to_price_has_no_trailing_noise(inst, ticks, text):
    assert inst.ticks_to_price(ticks) == text
    assert inst.price_to_ticks(text) == ticks


def test_lots_to_qty():
    assert HUNDREDS.lots_to_qty(3) == "300"
    assert MICRO.lots_to_qty(1234) == "1.234"
    assert CENTS.lots_to_qty(0) == "0"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_round_trip_ticks_and_lots(units):
    for inst in (CENTS, HUNDREDS, MICRO):
        assert inst.price_to_ticks(inst.ticks_to_price(units)) == units
        assert inst.qty_to_lots(inst.lots_to_qty(units)) == units


def test_module_helpers_name_the_value():
    assert parse_decimal(" 2.50 ") == Decimal("2.50")
    assert to_units("3", Decimal("0.5"), "size") == 6
    with pytest.raises(PrecisionError, match=r"^size must be a multiple of 0\.5, was 0\.3$"):
        to_units("0.3", Decimal("0.5"), "size")
    assert from_units(7, Decimal("0.5")) == "3.5"
