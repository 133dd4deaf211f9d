"""OrderRouter refusals and the OrderbookManagerService facade, on the embedded venue."""

from __future__ import annotations

import pytest

from whistle import (
    CancelOrder,
    NewOrder,
    OrderAccepted,
    OrderRejected,
    RejectReason,
    TradingStatusChanged,
    Venue,
)
from whistle.coord.errors import HostStateError
from whistle.coord.venue.service import (
    ChannelSendError,
    CloseOrderbookError,
    InstrumentNotRegistered,
    OrderbookError,
    OrderbookHalted,
    OrderbookManagerError,
    OrderbookManagerService,
    OrderbookSnapshotPublished,
    OrderbookStatusPublished,
)
from whistle.core import Instrument

A = Instrument(symbol="A", symbol_id=11, tick_size="1")
B = Instrument(symbol="B", symbol_id=12, tick_size="1")


def order(oid: int, sid: int = 11, price: int = 100) -> NewOrder:
    return NewOrder(sid, oid, 1, 1, 1, 1, price, 5)


def venue(**kwargs) -> Venue:
    v = Venue(**kwargs)
    v.add_instrument(A)
    v.add_instrument(B)
    return v


# -- router ------------------------------------------------------------------------------


def test_accepted_commands_get_gapless_enq_seqs_and_refusals_none():
    v = venue()
    assert v.enqueue(order(1)) == 1
    refused = v.enqueue(order(2, sid=99))
    assert isinstance(refused, OrderRejected)
    assert (refused.seq, refused.enq_seq, refused.reason) == (0, 0, RejectReason.UNKNOWN_SYMBOL)
    assert v.enqueue(order(3)) == 2
    assert v.router.refused == 1


def test_a_full_queue_is_refused_and_loses_nothing_accepted():
    v = venue(queue_depth=2)
    assert [v.enqueue(order(i)) for i in (1, 2)] == [1, 2]
    full = v.enqueue(order(3))
    assert isinstance(full, OrderRejected)
    assert full.reason == RejectReason.QUEUE_FULL
    assert v.last_reject_detail == RejectReason.QUEUE_FULL.description
    events = v.tick()
    assert [e.order_id for e in events if isinstance(e, OrderAccepted)] == [1, 2]
    assert v.enqueue(order(3)) == 3  # the queue drained at the tick


def test_a_symbol_being_retired_is_refused():
    v = venue()
    v.send(order(1))
    v.coordinator.start_eviction(A.symbol_id)
    refused = v.send(order(2))
    assert [(e.seq, e.reason) for e in refused] == [(0, RejectReason.SYMBOL_NOT_ACTIVE)]


def test_a_retired_symbol_comes_back_warm_on_its_next_order():
    v = venue()
    v.send(order(1))
    before = v.state_hashes()["A"]
    assert v.release_idle(0) == [A.symbol_id]
    assert v.state_hashes()["A"] == before  # read from the kept snapshot
    events = v.send(order(2, price=99))
    assert isinstance(events[0], OrderAccepted)
    assert [o.order_id for o in v.l3("A")] == [1, 2]


def test_a_faulted_symbol_is_refused_and_others_trade():
    v = venue()
    v.send(order(1))
    v.coordinator.mark_faulted(A.symbol_id, "test")
    assert v.send(order(2))[0].reason == RejectReason.ENGINE_FAULTED
    assert isinstance(v.send(order(3, sid=12))[0], OrderAccepted)


def test_a_stopped_venue_refuses_to_work_and_to_stop_again():
    v = venue()
    v.stop()
    with pytest.raises(HostStateError, match="stopped"):
        v.send(order(1))
    with pytest.raises(HostStateError, match="already stopped"):
        v.stop()


# -- service ---------------------------------------------------------------------------


def service() -> tuple[OrderbookManagerService, list]:
    svc = OrderbookManagerService(venue())
    seen: list = []
    svc.subscribe(seen.append)
    svc.start()
    return svc, seen


def test_add_and_cancel_reach_the_book_and_the_stream():
    svc, seen = service()
    svc.add_order(order(1))
    svc.cancel_order(A.symbol_id, 1)
    kinds = [type(e).__name__ for e in seen]
    assert kinds[0] == "OrderAccepted"
    assert "OrderCancelled" in kinds


def test_unknown_instrument_is_refused():
    svc, _ = service()
    with pytest.raises(InstrumentNotRegistered, match="instrument 99 is not registered"):
        svc.add_order(order(1, sid=99))
    with pytest.raises(InstrumentNotRegistered):
        svc.cancel_order(99, 1)
    with pytest.raises(InstrumentNotRegistered):
        svc.publish_orderbook_status(99)


def test_halted_books_refuse_orders_until_resumed():
    svc, seen = service()
    svc.halt_orderbooks([A.symbol_id])
    assert any(isinstance(e, TradingStatusChanged) and e.state == 2 for e in seen)
    with pytest.raises(OrderbookHalted, match="order book 11 is halted"):
        svc.add_order(order(1))
    svc.add_order(order(2, sid=12))  # the other book trades
    svc.cancel_order(A.symbol_id, 7)  # cancels are delivered while halted
    svc.resume_orderbooks([A.symbol_id])
    svc.add_order(order(3))
    assert any(isinstance(e, OrderAccepted) and e.order_id == 3 for e in seen)


def test_a_full_channel_is_a_channel_send_error():
    svc = OrderbookManagerService(venue(queue_depth=1))
    svc.start()
    svc.venue.enqueue(order(1))  # fills the one slot until the next tick
    with pytest.raises(ChannelSendError, match="QUEUE_FULL"):
        svc.add_order(order(2))


def test_a_command_that_cannot_be_journaled_is_a_channel_send_error(tmp_path, monkeypatch):
    from whistle.journal import JournalFull

    svc = OrderbookManagerService(venue(data_dir=tmp_path / "d"))
    svc.start()
    journal = svc.venue._journal
    assert journal is not None

    def full(*args, **kwargs):
        raise JournalFull("journal is full", path=journal._commands.path)

    monkeypatch.setattr(journal._commands, "append", full)
    with pytest.raises(ChannelSendError, match="nothing was written"):
        svc.add_order(order(1))
    monkeypatch.undo()
    svc.add_order(order(1))  # usable again once space is freed
    svc.stop()


def test_a_faulted_book_is_an_orderbook_error():
    svc, _ = service()
    svc.add_order(order(1))
    svc.venue.coordinator.mark_faulted(A.symbol_id, "test")
    with pytest.raises(OrderbookError, match="ENGINE_FAULTED"):
        svc.add_order(order(2))


def test_status_and_snapshot_are_published_filtered_by_symbol():
    svc, everything = service()
    only_b: list = []
    svc.subscribe(only_b.append, symbol_ids=[B.symbol_id])
    svc.add_order(order(1))
    svc.add_order(order(2, sid=12, price=90))
    svc.publish_orderbook_status(A.symbol_id)
    svc.publish_orderbook_snapshot(B.symbol_id)
    status = [e for e in everything if isinstance(e, OrderbookStatusPublished)]
    assert status[0].status.resting_orders == 1
    assert status[0].symbol_id == A.symbol_id
    snaps = [e for e in only_b if isinstance(e, OrderbookSnapshotPublished)]
    assert snaps[0].depth.bids[0].price_ticks == 90
    assert all(e.symbol_id == B.symbol_id for e in only_b)


def test_lifecycle_errors():
    svc = OrderbookManagerService(venue())
    with pytest.raises(OrderbookManagerError, match="call start"):
        svc.add_order(order(1))
    with pytest.raises(CloseOrderbookError, match="never started"):
        svc.stop()
    svc.start()
    with pytest.raises(OrderbookManagerError, match="already running"):
        svc.start()
    svc.stop()
    with pytest.raises(CloseOrderbookError, match="already stopped"):
        svc.stop()
    with pytest.raises(OrderbookManagerError, match="stopped"):
        svc.start()


def test_cancel_of_an_unknown_order_is_delivered_and_rejected_on_the_stream():
    svc, seen = service()
    svc.cancel_order(A.symbol_id, 404)
    assert [(type(e).__name__, e.reason) for e in seen] == [("OrderRejected", 3001)]
    assert CancelOrder(A.symbol_id, 404).order_id == 404


def test_the_session_end_of_the_clock_expires_day_orders_through_the_sequencer():
    v = Venue(session_end_ns=1_000)
    v.add_instrument(A)
    v.add_instrument(B)
    day = NewOrder(11, 1, 1, 1, 1, 5, 100, 5)  # DAY
    gtc = NewOrder(11, 2, 1, 1, 1, 1, 99, 5)
    v.send(day)
    v.send(gtc)
    seq_before = v.enq_seq
    assert not [e for e in v.advance(999) if type(e).__name__ == "OrderExpired"]
    expired = [e for e in v.advance(1) if type(e).__name__ == "OrderExpired"]
    assert [(e.order_id, e.enq_seq) for e in expired] == [(1, seq_before + 1)]
    assert v.enq_seq == seq_before + 1  # one EndSession, for the one active symbol
    assert [o.order_id for o in v.l3("A")] == [2]
