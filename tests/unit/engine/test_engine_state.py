"""Trading state: halt, resume, and a faulted engine."""

from __future__ import annotations

from engine_kit import (
    ACTIVE,
    BUY,
    FAULTED,
    GTD,
    HALTED,
    MASS,
    T0,
    USER,
    Harness,
    brief,
    buy,
    cancel,
    end_session,
    failing_event,
    halt,
    mass_cancel,
    modify,
    replace,
    resume,
    sell,
)

from whistle.core import EngineFaulted, RejectReason, TradingState, TradingStatusChanged


def test_halt_and_resume_emit_status_changes_and_are_idempotent():
    h = Harness()
    events = h.send(halt())
    assert events == [TradingStatusChanged(h.eng.symbol_id, 1, 1, T0, HALTED)]
    assert h.eng.status().state is TradingState.HALTED
    assert h.b(halt()) == []
    assert h.b(resume()) == [("status", ACTIVE)]
    assert h.eng.status().state is TradingState.ACTIVE
    assert h.b(resume()) == []


def test_halted_rejects_new_modify_replace_but_allows_cancels():
    h = Harness()
    h.setup(buy(1, 100, 5), buy(2, 99, 5, acct=2), sell(3, 105, 5), halt())
    assert h.reject(buy(4, 100, 5)) == RejectReason.TRADING_HALTED
    assert h.reject(sell(4, 100, 5)) == RejectReason.TRADING_HALTED
    assert h.reject(modify(1, qty=2)) == RejectReason.TRADING_HALTED
    assert h.reject(replace(1, 11, 100, 2)) == RejectReason.TRADING_HALTED
    assert h.b(cancel(1)) == [
        ("cxl", 1, USER, 5, 0),
        ("lvl", BUY, 100, 0, 0),
        ("bbo", 99, 5, 105, 5),
    ]
    assert h.b(mass_cancel(2)) == [
        ("cxl", 2, MASS, 5, 0),
        ("lvl", BUY, 99, 0, 0),
        ("bbo", 0, 0, 105, 5),
    ]
    h.setup(resume())
    assert h.b(buy(4, 100, 5)) == [("acc", 4), ("lvl", BUY, 100, 5, 1), ("bbo", 100, 5, 105, 5)]


def test_session_end_and_gtd_expiry_still_run_while_halted():
    h = Harness()
    h.setup(buy(1, 100, 5, tif=5), buy(2, 99, 5, tif=GTD, expire_ts_ns=T0 + 10), halt())
    assert h.b(end_session()) == [("exp", 1, 5), ("lvl", BUY, 100, 0, 0), ("bbo", 99, 5, 0, 0)]
    assert brief(h.tick(T0 + 10)) == [("exp", 2, 5), ("lvl", BUY, 99, 0, 0), ("bbo", 0, 0, 0, 0)]


def faulted_engine():
    h = Harness()
    h.setup(buy(1, 100, 5), sell(2, 105, 5), buy(3, 99, 5, tif=GTD, expire_ts_ns=T0 + 10))

    with failing_event("OrderCancelled"):  # the cancel fails after removing the order
        events = h.send(cancel(1))
    return h, events


def test_engine_fault_is_reported_and_sticky():
    h, events = faulted_engine()
    assert events == [EngineFaulted(h.eng.symbol_id, 9, 4, T0, "RuntimeError: boom")]
    status = h.eng.status()
    assert status.state is TradingState.FAULTED
    assert status.fault == "RuntimeError: boom"
    assert h.eng.state == FAULTED
    for cmd in (
        buy(4, 100, 5),
        cancel(1),
        modify(1, qty=2),
        replace(1, 11, 100, 5),
        mass_cancel(),
        halt(),
        resume(),
        end_session(),
    ):
        assert h.reject(cmd) == RejectReason.ENGINE_FAULTED
    # The book stays as the fault left it (the cancel had removed order 1 already):
    # a faulted symbol is frozen until it is restored from a snapshot.
    assert h.l3() == [(3, 99, 5, 0), (2, 105, 5, 0)]


def test_faulted_engine_does_not_expire_gtd_orders():
    h, _ = faulted_engine()
    assert h.tick(T0 + 100) == []
    assert 3 in h.ids()


def test_fault_in_the_middle_of_a_command_keeps_earlier_events():
    h = Harness()
    h.setup(sell(1, 100, 5))

    with failing_event("BookLevelChanged", "md broke", ValueError):
        h.enq += 1
        events = h.eng.process(h.enq, buy(2, 100, 5), T0)
    kinds = [e[0] for e in brief(events)]
    assert kinds == ["acc", "fill", "fill", "trade", "fault"]
    assert [e.seq for e in events] == [4, 5, 6, 7, 8]
    assert h.eng.status().fault == "ValueError: md broke"


def test_symbol_mismatch_is_checked_before_the_fault():
    h, _ = faulted_engine()
    assert h.reject(buy(4, 100, 5, sid=h.eng.symbol_id + 1)) == RejectReason.UNKNOWN_SYMBOL
