"""whistle.core.validate: strict ints, bools and enums, and bounded echoes of bad values."""

from __future__ import annotations

from enum import IntEnum

import pytest

from whistle.core.enums import OrderType, Side, StpMode, TimeInForce
from whistle.core.validate import (
    MAX_ECHO,
    bool_field_error,
    cut,
    enum_error,
    enum_member,
    int_field_error,
    is_int,
    show,
)


class Other(IntEnum):
    ONE = 1


@pytest.mark.parametrize(
    ("kind", "value", "member"),
    [
        (Side, Side.BUY, Side.BUY),
        (Side, 1, Side.BUY),
        (Side, 2, Side.SELL),
        (Side, "buy", Side.BUY),
        (Side, "BUY", Side.BUY),
        (Side, "Sell", Side.SELL),
        (OrderType, "stop_limit", OrderType.STOP_LIMIT),
        (TimeInForce, "gtd", TimeInForce.GTD),
        (StpMode, 0, StpMode.NONE),
        (StpMode, "none", StpMode.NONE),
        (StpMode, "DECREMENT_AND_CANCEL", StpMode.DECREMENT_AND_CANCEL),
    ],
)
def test_enum_member_accepts_members_exact_ints_and_names(kind, value, member):
    assert enum_member(kind, value) is member


@pytest.mark.parametrize(
    "value",
    [
        True,  # a bool is not an int
        False,
        1.0,  # a float is not an int
        2.0,
        "1",  # a digit string is not a name
        " buy",  # no whitespace
        "buy ",
        "buy\n",
        "\u00a0buy",
        "\uff42\uff55\uff59",  # full-width letters
        "b\u0075y\u0307",  # a combining mark
        "BUY_",
        "",
        "x" * 10_000_000,
        3,
        0,
        -1,
        2**64,
        None,
        b"buy",
        [1],
        Other.ONE,  # a member of another enum, even with a valid value
        TimeInForce.GTC,
        "\u0131",  # a dotless i
    ],
)
def test_enum_member_refuses_everything_else(value):
    assert enum_member(Side, value) is None


def test_a_dotless_i_does_not_upper_case_into_a_name():
    # "l\u0131m\u0131t".upper() == "LIMIT": only ASCII strings are looked up.
    assert "l\u0131m\u0131t".upper() == "LIMIT"
    assert enum_member(OrderType, "l\u0131m\u0131t") is None
    assert enum_member(OrderType, "limit") is OrderType.LIMIT


def test_enum_member_does_not_fold_unicode_case_into_a_name():
    # "ß".upper() == "SS" and "ﬁ".upper() == "FI": only ASCII names are matched.
    class Words(IntEnum):
        SS = 1
        FI = 2

    assert enum_member(Words, "ß") is None
    assert enum_member(Words, "\ufb01") is None
    assert enum_member(Words, "ss") is Words.SS


def test_enum_error_names_the_members_and_the_value_cut():
    assert enum_error(Side, "up") == "Side must be one of BUY, SELL, was 'up'"
    assert enum_error(Side, True) == "Side must be one of BUY, SELL, was True"
    long = enum_error(Side, "u" * 1_000_000)
    assert long.endswith("... (1,000,000 chars)")
    assert len(long) < 200


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, None),
        (1, None),
        (10, None),
        (Side.BUY, None),  # an int subclass that is not bool is an int
        (0, "order_id must be an int in 1..10, was 0"),
        (11, "order_id must be an int in 1..10, was 11"),
        (True, "order_id must be an int in 1..10, was a bool (True)"),
        (1.0, "order_id must be an int in 1..10, was a float (1.0)"),
        (1.5, "order_id must be an int in 1..10, was a float (1.5)"),
        ("3", "order_id must be an int in 1..10, was a str ('3')"),
        (None, "order_id must be an int in 1..10, was None"),
        (2**64, "order_id must be an int in 1..10, was 18446744073709551616"),
        (2**300, "order_id must be an int in 1..10, was an int of 301 bits"),
        (-(2**300), "order_id must be an int in 1..10, was an int of 301 bits"),
    ],
)
def test_int_field_error(value, message):
    assert int_field_error("order_id", value, 1, 10) == message


def test_int_field_error_optional():
    assert int_field_error("account", None, 0, 5, optional=True) is None
    assert int_field_error("account", False, 0, 5, optional=True) == (
        "account must be an int in 0..5 or None, was a bool (False)"
    )
    assert int_field_error("account", -1, 0, 5, optional=True) == (
        "account must be an int in 0..5, was -1"
    )


def test_bool_field_error():
    assert bool_field_error("post_only", True) is None
    assert bool_field_error("post_only", False) is None
    assert bool_field_error("post_only", 1) == (
        "post_only must be a bool (True or False), was an int (1)"
    )
    assert bool_field_error("post_only", "yes") == (
        "post_only must be a bool (True or False), was a str ('yes')"
    )


def test_is_int():
    assert is_int(0)
    assert is_int(Side.BUY)
    assert not is_int(True)
    assert not is_int(1.0)
    assert not is_int("1")


def test_show_and_cut_bound_what_is_echoed():
    assert show("abc") == "'abc'"
    assert show(b"abc") == "b'abc'"
    big = show("x" * 100_000_000)
    assert big == repr("x" * MAX_ECHO) + "... (100,000,000 chars)"
    assert show(b"y" * 1000).endswith("... (1,000 bytes)")
    assert show(10**5000) == "an int of 16,610 bits"
    assert show(Side.BUY) == repr(Side.BUY)
    assert len(show(list(range(10_000)))) < 120
    assert cut("short") == "short"
    assert cut("z" * 81) == "z" * 80 + "... (81 chars)"


def test_show_survives_a_hostile_repr():
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert show(Hostile()) == "<Hostile object>"
