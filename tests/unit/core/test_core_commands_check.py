"""command_error: every field of every command typed, ranged and (for enums) a member.

The refusal table is kept one row per line, hence the long lines.
Whatever it accepts can be journaled and decoded back to the same command; whatever it
refuses says which field, what was expected and what was seen.
"""

# ruff: noqa: E501
from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from whistle.core import commands as cmd_module
from whistle.core.commands import (
    COMMAND_TYPES,
    CancelOrder,
    CancelReplace,
    EndSession,
    HaltTrading,
    MassCancel,
    ModifyOrder,
    NewOrder,
    ResumeTrading,
    command_error,
    command_type_error,
)
from whistle.core.enums import OrderType, Side, StpMode, TimeInForce
from whistle.core.limits import (
    MAX_ACCOUNT,
    MAX_ORDER_ID,
    MAX_PRICE_TICKS,
    MAX_QTY_LOTS,
    MAX_SYMBOL_ID,
    MAX_TS_NS,
)
from whistle.core.reasons import RejectReason as R

GOOD = NewOrder(1, 5, 0, Side.BUY, OrderType.LIMIT, TimeInForce.GTC, 100, 5)
P = msgspec.msgpack.Encoder()
D = msgspec.msgpack.Decoder(
    NewOrder
    | CancelOrder
    | ModifyOrder
    | CancelReplace
    | MassCancel
    | HaltTrading
    | ResumeTrading
    | EndSession
)


def new(**changes: object) -> NewOrder:
    return msgspec.structs.replace(GOOD, **changes)


def test_good_commands_pass():
    for command in (
        GOOD,
        NewOrder(1, 5, 0, 1, 1, 1, 100, 5),
        new(stp=StpMode.CANCEL_BOTH, post_only=True),
        CancelOrder(1, 7),
        CancelOrder(1, 7, 3),
        ModifyOrder(1, 7, 0, 3),
        CancelReplace(1, 7, 8, 100, 5, None),
        MassCancel(1),
        MassCancel(1, 0),
        HaltTrading(1),
        ResumeTrading(1),
        EndSession(MAX_SYMBOL_ID),
    ):
        assert command_error(command) is None, command
        assert command_type_error(command) is None


@pytest.mark.parametrize(
    ("command", "reason", "message"),
    [
        (new(order_id=True), R.MALFORMED_COMMAND, "order_id must be an int in 1..{MAX_ORDER_ID}, was a bool (True)"),
        (new(order_id=1.5), R.MALFORMED_COMMAND, "order_id must be an int in 1..{MAX_ORDER_ID}, was a float (1.5)"),
        (new(order_id="3"), R.MALFORMED_COMMAND, "order_id must be an int in 1..{MAX_ORDER_ID}, was a str ('3')"),
        (new(order_id=None), R.MALFORMED_COMMAND, "order_id must be an int in 1..{MAX_ORDER_ID}, was None"),
        (new(order_id=0), R.VALUE_OUT_OF_RANGE, "order_id must be an int in 1..{MAX_ORDER_ID}, was 0"),
        (new(order_id=2**63), R.VALUE_OUT_OF_RANGE, "order_id must be an int in 1..{MAX_ORDER_ID}, was 9223372036854775808"),
        (new(symbol_id=0), R.VALUE_OUT_OF_RANGE, "symbol_id must be an int in 1..4294967295, was 0"),
        (new(symbol_id=True), R.MALFORMED_COMMAND, "symbol_id must be an int in 1..4294967295, was a bool (True)"),
        (new(symbol_id=7.0), R.MALFORMED_COMMAND, "symbol_id must be an int in 1..4294967295, was a float (7.0)"),
        (new(account=-1), R.VALUE_OUT_OF_RANGE, "account must be an int in 0..{MAX_ACCOUNT}, was -1"),
        (new(account=False), R.MALFORMED_COMMAND, "account must be an int in 0..{MAX_ACCOUNT}, was a bool (False)"),
        (new(side=True), R.MALFORMED_COMMAND, "side must be an int member value, was True"),
        (new(side=3), R.INVALID_SIDE, "side must be one of BUY=1, SELL=2, was 3"),
        (new(side="buy"), R.MALFORMED_COMMAND, "side must be an int member value, was 'buy'"),
        (new(order_type=OrderType.LIMIT.value + 10), R.INVALID_ORDER_TYPE, "order_type must be one of LIMIT=1, MARKET=2, STOP=3, STOP_LIMIT=4, was 11"),
        (new(tif=1.0), R.MALFORMED_COMMAND, "tif must be an int member value, was 1.0"),
        (new(tif=Side.BUY), R.MALFORMED_COMMAND, "tif must be an int member value, was <Side.BUY: 1>"),
        (new(tif=0), R.INVALID_TIF, "tif must be one of GTC=1, IOC=2, FOK=3, GTD=4, DAY=5, was 0"),
        (new(stp=5), R.INVALID_STP_MODE, "stp must be one of NONE=0, CANCEL_NEWEST=1, CANCEL_OLDEST=2, CANCEL_BOTH=3, DECREMENT_AND_CANCEL=4, was 5"),
        (new(post_only=1), R.MALFORMED_COMMAND, "post_only must be a bool (True or False), was an int (1)"),
        (new(price_ticks=MAX_PRICE_TICKS + 1), R.VALUE_OUT_OF_RANGE, "price_ticks must be an int in -{MAX_PRICE_TICKS}..{MAX_PRICE_TICKS}, was 1152921504606846976"),
        (new(price_ticks=-(2**64)), R.VALUE_OUT_OF_RANGE, "price_ticks must be an int in -{MAX_PRICE_TICKS}..{MAX_PRICE_TICKS}, was -18446744073709551616"),
        (new(qty_lots=2.0), R.MALFORMED_COMMAND, "qty_lots must be an int in -{MAX_QTY_LOTS}..{MAX_QTY_LOTS}, was a float (2.0)"),
        (new(qty_lots=MAX_QTY_LOTS + 1), R.VALUE_OUT_OF_RANGE, "qty_lots must be an int in -{MAX_QTY_LOTS}..{MAX_QTY_LOTS}, was 4611686018427387904"),
        (new(expire_ts_ns=2**64), R.VALUE_OUT_OF_RANGE, "expire_ts_ns must be an int in 0..{MAX_TS_NS}, was 18446744073709551616"),
        (new(expire_ts_ns=-1), R.VALUE_OUT_OF_RANGE, "expire_ts_ns must be an int in 0..{MAX_TS_NS}, was -1"),
        (new(display_qty_lots=10**5000), R.VALUE_OUT_OF_RANGE, "display_qty_lots must be an int in -{MAX_QTY_LOTS}..{MAX_QTY_LOTS}, was an int of 16,610 bits"),
        (CancelOrder(1, 2**64), R.VALUE_OUT_OF_RANGE, "order_id must be an int in 1..{MAX_ORDER_ID}, was 18446744073709551616"),
        (CancelOrder(1, 5, True), R.MALFORMED_COMMAND, "account must be an int in 0..{MAX_ACCOUNT} or None, was a bool (True)"),
        (ModifyOrder(1, 5, 1.0), R.MALFORMED_COMMAND, "price_ticks must be an int in -{MAX_PRICE_TICKS}..{MAX_PRICE_TICKS}, was a float (1.0)"),
        (CancelReplace(1, 5, 2**63, 1, 1), R.VALUE_OUT_OF_RANGE, "new_order_id must be an int in 1..{MAX_ORDER_ID}, was 9223372036854775808"),
        (MassCancel(1, -1), R.VALUE_OUT_OF_RANGE, "account must be an int in 0..{MAX_ACCOUNT}, was -1"),
        (MassCancel(1, 1.0), R.MALFORMED_COMMAND, "account must be an int in 0..{MAX_ACCOUNT} or None, was a float (1.0)"),
        (HaltTrading(2**32), R.VALUE_OUT_OF_RANGE, "symbol_id must be an int in 1..4294967295, was 4294967296"),
        (EndSession("A"), R.MALFORMED_COMMAND, "symbol_id must be an int in 1..4294967295, was a str ('A')"),
    ],
)  # fmt: skip
def test_refusals_name_the_field_the_rule_and_the_value(command, reason, message):
    message = message.format(
        MAX_ORDER_ID=MAX_ORDER_ID,
        MAX_ACCOUNT=MAX_ACCOUNT,
        MAX_PRICE_TICKS=MAX_PRICE_TICKS,
        MAX_QTY_LOTS=MAX_QTY_LOTS,
        MAX_TS_NS=MAX_TS_NS,
    )
    assert command_error(command) == (reason, message)
    assert command_type_error(command) == message


def test_a_non_command_is_malformed():
    reason, message = command_error("not a command")  # type: ignore[misc]
    assert reason is R.MALFORMED_COMMAND
    assert message.startswith("expected one of NewOrder, CancelOrder")


def test_every_field_of_every_command_has_a_check():
    for cls in COMMAND_TYPES:
        names = [c[0] for c in cmd_module._CHECKS[cls]]
        assert names == [f.name for f in msgspec.structs.fields(cls)]


# -- whatever is accepted round-trips through the journal's encoding ----------------------

ANY = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 3, 4, 5, -1, 2**63 - 1, 2**63, 2**64, -(2**63), MAX_PRICE_TICKS]),
    st.booleans(),
    st.floats(allow_nan=False),
    st.none(),
    st.sampled_from(["1", "", "buy"]),
    st.sampled_from(list(Side) + list(OrderType) + list(TimeInForce) + list(StpMode)),
)


@st.composite
def commands(draw: st.DrawFn) -> object:
    cls = draw(st.sampled_from(COMMAND_TYPES))
    fields = msgspec.structs.fields(cls)
    values = [draw(ANY) for _ in fields]
    return cls(*values)


@given(commands())
def test_accepted_commands_encode_and_decode_to_themselves(command):
    problem = command_error(command)
    if problem is None:
        decoded = D.decode(P.encode(command))
        assert decoded == command
        assert msgspec.to_builtins(decoded) == msgspec.to_builtins(command)
    else:
        reason, message = problem
        assert reason in (
            R.MALFORMED_COMMAND,
            R.VALUE_OUT_OF_RANGE,
            R.INVALID_SIDE,
            R.INVALID_ORDER_TYPE,
            R.INVALID_TIF,
            R.INVALID_STP_MODE,
        )
        assert len(message) < 200


@given(commands())
def test_the_fast_paths_agree_with_the_table(command):
    fast = {NewOrder: "_new_order_ok", CancelOrder: "_cancel_ok"}.get(type(command))
    if fast is not None and getattr(cmd_module, fast)(command):
        saved = getattr(cmd_module, fast)
        try:
            setattr(cmd_module, fast, lambda c: False)  # force the table walk
            assert command_error(command) is None
        finally:
            setattr(cmd_module, fast, saved)
