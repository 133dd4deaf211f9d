"""Reject reasons: documented, stable wire codes in the documented ranges."""

from __future__ import annotations

import pytest

from whistle.core import RejectReason

STATE = {
    "TRADING_HALTED",
    "ENGINE_FAULTED",
    "SYMBOL_NOT_ACTIVE",
    "QUEUE_FULL",
    "CLIENT_ORDER_IDS_FULL",
}
MATCHING = {
    "UNKNOWN_ORDER_ID",
    "ACCOUNT_MISMATCH",
    "MODIFY_NO_CHANGE",
    "POST_ONLY_WOULD_TAKE",
    "FOK_UNFILLABLE",
    "NO_LIQUIDITY",
    "ORDER_NOT_MODIFIABLE",
}

# The codes are a wire format (journal, clients): pin every one of them.
PINNED = {
    "UNKNOWN_SYMBOL": 1001,
    "INVALID_PRICE_PRECISION": 1002,
    "INVALID_QTY_PRECISION": 1003,
    "QTY_NOT_POSITIVE": 1004,
    "QTY_BELOW_MIN": 1005,
    "QTY_ABOVE_MAX": 1006,
    "PRICE_NOT_POSITIVE": 1007,
    "PRICE_NOT_ALLOWED": 1008,
    "PRICE_OUTSIDE_BAND": 1009,
    "INVALID_SIDE": 1010,
    "INVALID_ORDER_TYPE": 1011,
    "INVALID_TIF": 1012,
    "MISSING_STOP_PRICE": 1013,
    "STOP_PRICE_NOT_ALLOWED": 1014,
    "INVALID_POST_ONLY": 1015,
    "INVALID_DISPLAY_QTY": 1016,
    "INVALID_PROTECTION_PRICE": 1017,
    "GTD_MISSING_EXPIRY": 1018,
    "GTD_EXPIRED": 1019,
    "EXPIRY_NOT_ALLOWED": 1020,
    "INVALID_STP_MODE": 1021,
    "DUPLICATE_ORDER_ID": 1022,
    "MALFORMED_COMMAND": 1023,
    "VALUE_OUT_OF_RANGE": 1024,
    "DUPLICATE_CLIENT_ORDER_ID": 1025,
    "TRADING_HALTED": 2001,
    "ENGINE_FAULTED": 2002,
    "SYMBOL_NOT_ACTIVE": 2003,
    "QUEUE_FULL": 2004,
    "CLIENT_ORDER_IDS_FULL": 2005,
    "UNKNOWN_ORDER_ID": 3001,
    "ACCOUNT_MISMATCH": 3002,
    "MODIFY_NO_CHANGE": 3003,
    "POST_ONLY_WOULD_TAKE": 3004,
    "FOK_UNFILLABLE": 3005,
    "NO_LIQUIDITY": 3006,
    "ORDER_NOT_MODIFIABLE": 3007,
}


def test_codes_are_pinned():
    assert {m.name: int(m) for m in RejectReason} == PINNED


@pytest.mark.parametrize("member", list(RejectReason), ids=lambda m: m.name)
def test_every_member_is_described(member):
    assert isinstance(member.description, str)
    assert len(member.description) > 10
    assert member.description.endswith(".")
    assert member.description[0].isupper()


@pytest.mark.parametrize("member", list(RejectReason), ids=lambda m: m.name)
def test_codes_are_in_the_documented_range(member):
    if member.name in STATE:
        assert 2001 <= member <= 2999
    elif member.name in MATCHING:
        assert 3001 <= member <= 3999
    else:
        assert 1001 <= member <= 1999


def test_lookup_by_code_and_int_behaviour():
    assert RejectReason(3005) is RejectReason.FOK_UNFILLABLE
    assert RejectReason.FOK_UNFILLABLE == 3005
    assert RejectReason.FOK_UNFILLABLE.value == 3005
    with pytest.raises(ValueError):
        RejectReason(9999)


def test_descriptions_are_distinct():
    descriptions = [m.description for m in RejectReason]
    assert len(set(descriptions)) == len(descriptions)
