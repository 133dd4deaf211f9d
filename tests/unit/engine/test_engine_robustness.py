"""Bad objects and corrupt snapshots: refused clearly, nothing else lost."""

from __future__ import annotations

import msgspec
import pytest

from whistle.core import Instrument, NewOrder, OrderRejected, RejectReason
from whistle.engine import Whistle

INST = Instrument(symbol="ROBUST", symbol_id=7)


def test_a_non_command_in_a_tick_is_rejected_and_the_rest_still_runs():
    engine = Whistle(INST)
    engine.enqueue(1, NewOrder(7, 1, 1, 1, 1, 1, 100, 5))
    engine.enqueue(2, "not a command")  # type: ignore[arg-type]
    engine.enqueue(3, NewOrder(7, 2, 1, 2, 1, 1, 101, 5))
    events = engine.tick(0)
    rejected = [e for e in events if isinstance(e, OrderRejected)]
    assert [(e.enq_seq, e.reason) for e in rejected] == [(2, RejectReason.MALFORMED_COMMAND)]
    assert [o.order_id for o in engine.l3()] == [1, 2]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_restore_refuses_a_snapshot_whose_book_does_not_match_its_hash():
    engine = Whistle(INST)
    engine.process(1, NewOrder(7, 1, 1, 1, 1, 1, 100, 5), 0)
    snap = engine.snapshot()
    order = snap.orders[0]
    tampered = msgspec.structs.replace(
        snap, orders=[msgspec.structs.replace(order, qty=order.qty + 1)]
    )
    with pytest.raises(ValueError, match="'ROBUST' at enq_seq 1 is corrupt: state hash must be"):
        Whistle.restore(tampered)
    assert Whistle.restore(snap).state_hash() == engine.state_hash()
