"""The lifecycle transition table: every allowed transition works, every other is refused."""

from __future__ import annotations

import itertools

import pytest

from whistle.coord.errors import CoordError, HostError, InvalidTransition
from whistle.coord.runtime.lifecycle import (
    TRANSITIONS,
    SymbolFaulted,
    SymbolState,
    Trigger,
    allowed,
    next_state,
)

S = SymbolState
T = Trigger

EXPECTED = {
    (S.UNREGISTERED, T.REGISTER): S.REGISTERED,
    (S.REGISTERED, T.ACTIVATE): S.ACTIVE,
    (S.ACTIVE, T.START_EVICTION): S.EVICTING,
    (S.EVICTING, T.FINISH_EVICTION): S.EVICTED,
    (S.EVICTED, T.REACTIVATE): S.ACTIVE,
    (S.ACTIVE, T.FAULT): S.EVICTED,
    (S.EVICTING, T.FAULT): S.EVICTED,
}

ALL = list(itertools.product(SymbolState, Trigger))


def test_table_is_pinned():
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("state", "trigger"), ALL, ids=lambda v: v.name)
def test_every_pair(state: SymbolState, trigger: Trigger):
    if (state, trigger) in EXPECTED:
        assert next_state(state, trigger) is EXPECTED[state, trigger]
        assert trigger in allowed(state)
    else:
        with pytest.raises(InvalidTransition) as info:
            next_state(state, trigger)
        message = str(info.value)
        assert state.name in message
        assert trigger.name in message
        assert trigger not in allowed(state)


def test_invalid_transition_is_a_coord_error_and_lists_the_allowed_triggers():
    with pytest.raises(CoordError, match=r"allowed there: FAULT, START_EVICTION"):
        next_state(S.ACTIVE, T.ACTIVATE)
    with pytest.raises(InvalidTransition, match=r"allowed there: REGISTER\)"):
        next_state(S.UNREGISTERED, T.FAULT)


def test_reactivation_goes_straight_to_active():
    assert next_state(S.EVICTED, T.REACTIVATE) is S.ACTIVE
    assert (S.EVICTED, T.ACTIVATE) not in TRANSITIONS


def test_every_state_but_unregistered_is_reachable_and_unregistered_is_never_reentered():
    targets = set(TRANSITIONS.values())
    assert targets == {S.REGISTERED, S.ACTIVE, S.EVICTING, S.EVICTED}


def test_symbol_faulted_is_a_host_error_with_its_cause():
    exc = SymbolFaulted("x is faulted", "host 1 died")
    assert isinstance(exc, HostError)
    assert exc.cause == "host 1 died"
