"""SymbolRegistry: registration, look-ups, errors, counts, host index, ordering."""

from __future__ import annotations

import pytest
from coord_fakes import inst

from whistle.coord.errors import CoordError, InvalidTransition, SymbolNotRegistered
from whistle.coord.runtime.lifecycle import SymbolState, Trigger
from whistle.coord.runtime.registry import DuplicateSymbol, SymbolRegistry


def test_register_and_look_up():
    reg = SymbolRegistry()
    entry = reg.register(inst("AAPL", 7), tick=3)
    assert entry.state is SymbolState.REGISTERED
    assert entry.symbol_id == 7
    assert entry.symbol == "AAPL"
    assert entry.host_id is None
    assert entry.snapshot == b""
    assert entry.fault is None
    assert entry.last_activity_tick == 3
    assert entry.activated_at_tick is None
    assert reg.get(7) is entry
    assert reg.find(7) is entry
    assert reg.by_symbol("AAPL") is entry
    assert 7 in reg
    assert len(reg) == 1
    assert reg.state_of(7) is SymbolState.REGISTERED
    assert reg.state_of(8) is SymbolState.UNREGISTERED
    assert "AAPL" in repr(entry)


def test_duplicates_are_refused_with_clear_messages():
    reg = SymbolRegistry()
    reg.register(inst("AAPL", 7))
    with pytest.raises(
        DuplicateSymbol, match=r"symbol_id 7 of 'MSFT' is already registered for 'AAPL'"
    ):
        reg.register(inst("MSFT", 7))
    with pytest.raises(
        DuplicateSymbol, match=r"symbol 'AAPL' is already registered \(symbol_id 7\)"
    ):
        reg.register(inst("AAPL", 8))
    assert issubclass(DuplicateSymbol, CoordError)
    assert len(reg) == 1


def test_unknown_symbols():
    reg = SymbolRegistry()
    with pytest.raises(SymbolNotRegistered, match="symbol_id 5"):
        reg.get(5)
    with pytest.raises(SymbolNotRegistered, match="'ZZZ'"):
        reg.by_symbol("ZZZ")
    with pytest.raises(SymbolNotRegistered):
        reg.transition(5, Trigger.ACTIVATE)
    with pytest.raises(SymbolNotRegistered):
        reg.assign_host(5, 1)
    assert reg.find(5) is None


def test_transitions_keep_counts_and_refuse_invalid_ones():
    reg = SymbolRegistry()
    for i in (1, 2, 3):
        reg.register(inst(f"S{i}", i))
    assert reg.transition(1, Trigger.ACTIVATE) is SymbolState.ACTIVE
    assert reg.transition(1, Trigger.START_EVICTION) is SymbolState.EVICTING
    assert reg.transition(2, Trigger.ACTIVATE) is SymbolState.ACTIVE
    with pytest.raises(InvalidTransition, match="REGISTERED"):
        reg.transition(3, Trigger.FINISH_EVICTION)
    assert reg.get(3).state is SymbolState.REGISTERED  # unchanged
    counts = reg.counts()
    assert counts == {
        SymbolState.UNREGISTERED: 0,
        SymbolState.REGISTERED: 1,
        SymbolState.ACTIVE: 1,
        SymbolState.EVICTING: 1,
        SymbolState.EVICTED: 0,
    }
    assert reg.count(SymbolState.ACTIVE) == 1
    assert sum(counts.values()) == len(reg)


def test_host_index():
    reg = SymbolRegistry()
    for i in (30, 10, 20):
        reg.register(inst(f"S{i}", i))
    reg.assign_host(30, 1)
    reg.assign_host(10, 1)
    reg.assign_host(20, 2)
    assert [e.symbol_id for e in reg.on_host(1)] == [10, 30]
    assert [e.symbol_id for e in reg.on_host(2)] == [20]
    reg.assign_host(30, 2)
    assert [e.symbol_id for e in reg.on_host(2)] == [20, 30]
    reg.assign_host(10, None)
    reg.assign_host(10, None)  # idempotent
    assert reg.on_host(1) == []
    assert reg.get(10).host_id is None
    assert reg.on_host(99) == []


def test_iteration_is_in_symbol_id_order_whatever_the_registration_order():
    reg = SymbolRegistry()
    for i in (5, 3, 9, 1):
        reg.register(inst(f"S{i}", i))
    assert [e.symbol_id for e in reg] == [1, 3, 5, 9]
    reg.register(inst("S4", 4))
    assert [e.symbol_id for e in reg.entries()] == [1, 3, 4, 5, 9]


def test_move_applies_the_trigger_and_the_host_together():
    reg = SymbolRegistry()
    entry = reg.register(inst("A", 1))
    assert reg.move(entry, Trigger.ACTIVATE, 3) is SymbolState.ACTIVE
    assert entry.host_id == 3
    assert [e.symbol_id for e in reg.on_host(3)] == [1]
    with pytest.raises(InvalidTransition):
        reg.move(entry, Trigger.ACTIVATE, 4)
    assert entry.host_id == 3  # unchanged
    stranger = SymbolRegistry().register(inst("B", 2))
    with pytest.raises(SymbolNotRegistered, match="not registered here"):
        reg.move(stranger, Trigger.ACTIVATE, 1)
