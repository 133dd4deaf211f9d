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
        (CENTS, "0.01", 1),
        (CENTS, ".5", 50),
        (CENTS, "5.", 500),
        (CENTS, 7, 700),
        (CENTS, Decimal("3.5"), 350),
        (CENTS, "-1.5", -150),
        (CENTS, "0", 0),
        (HUNDREDS, "1.25", 5),
        (HUNDREDS, "100", 400),
        (MICRO, "0.0001", 1),
        (MICRO, Decimal("1E+2"), 1_000_000),
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
    kind = type(value).__name__
    assert str(info.value) == (
        f"price must be a decimal string, an int or a Decimal, was {kind} {value!r}"
    )


@pytest.mark.parametrize("text", [Decimal("NaN"), Decimal("-Infinity"), Decimal("sNaN")])
def test_non_finite_decimals_are_refused(text):
    with pytest.raises(ValueFormatError) as info:
        CENTS.qty_to_lots(text)
    assert str(info.value) == f"qty must be finite, was {text!r}"


NOT_DECIMAL = [
    "abc",
    "",
    "1,5",
    "0x10",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "sNaN",
    "10_0",  # Python's int() and Decimal() accept underscores
    "1_000.5",
    "\u0661\u0662",  # Arabic-Indic digits: Decimal() reads them as 12
    "\uff11\uff10",  # full-width digits: Decimal() reads them as 10
    "\u00a010",  # a leading no-break space: str.strip() removes it
    " 0.01 ",
    "1 ",
    "\t1",
    "1\n",
    "1e3",
    "1E+2",
    "+1",
    "--1",
    "1.2.3",
    ".",
    "-",
    "-.",
    "\u0031\u20e3",  # 1 with a combining keycap
]


@pytest.mark.parametrize("text", NOT_DECIMAL)
def test_non_decimals_are_refused(text):
    with pytest.raises(ValueFormatError) as info:
        CENTS.price_to_ticks(text)
    assert str(info.value) == (
        f"price must be a decimal number (ASCII digits, one optional point), was {text!r}"
    )


def test_an_overlong_decimal_is_not_parsed_and_is_cut():
    text = "1" * 100_000_000  # 100 MB
    with pytest.raises(ValueFormatError) as info:
        CENTS.price_to_ticks(text)
    message = str(info.value)
    assert message.startswith("price must be a decimal string of at most 64 characters, was '111")
    assert message.endswith("... (100,000,000 chars)")
    assert len(message) < 200


def test_the_longest_decimal_is_accepted():
    text = "1" * 19 + "." + "0" * 44
    assert len(text) == 64
    assert parse_decimal(text) == Decimal("1" * 19)
    with pytest.raises(ValueFormatError):
        parse_decimal(text + "0")


@pytest.mark.parametrize("value", [None, [1], b"1", object()])
def test_other_types_are_refused(value):
    with pytest.raises(ValueFormatError, match="must be a decimal string, an int or a Decimal"):
        parse_decimal(value, "price")


def test_huge_ints_and_decimals_are_refused_with_a_short_message():
    with pytest.raises(ValueFormatError) as info:
        parse_decimal(10**5000, "qty")
    assert str(info.value) == "qty is too large, was an int of 16,610 bits"
    with pytest.raises(ValueFormatError, match="too many digits"):
        parse_decimal(Decimal("1" * 100), "qty")
    with pytest.raises(ValueFormatError, match="too many digits"):
        parse_decimal(Decimal("1E+100000"), "qty")


def test_negative_values_parse_and_reach_the_engine_checks():
    # A sign is a value the engine refuses with a documented reason, not a format error.
    assert CENTS.price_to_ticks("-1.50") == -150
    assert CENTS.qty_to_lots("-3") == -3


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
    assert parse_decimal("2.50") == Decimal("2.50")
    assert to_units("3", Decimal("0.5"), "size") == 6
    with pytest.raises(PrecisionError, match=r"^size must be a multiple of 0\.5, was 0\.3$"):
        to_units("0.3", Decimal("0.5"), "size")
    assert from_units(7, Decimal("0.5")) == "3.5"
