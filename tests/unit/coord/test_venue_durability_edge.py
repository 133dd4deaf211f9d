"""The Venue edge: strict types, automatic order ids, and nothing undecodable journaled."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from whistle import OrderAccepted, OrderRejected, RejectReason, Venue
from whistle.coord.durability.datadir import VenueJournal, iter_records
from whistle.coord.durability.records import Checkpoint, Defined
from whistle.coord.durability.replay import replay
from whistle.core import Instrument
from whistle.core.errors import InstrumentError

if TYPE_CHECKING:
    from pathlib import Path


def venue_with_a(path: Path | None = None, **kw: Any) -> Venue:
    venue = Venue(data_dir=path, **kw)
    venue.add_instrument("A", symbol_id=7)
    return venue


def only_reject(events: list[Any]) -> OrderRejected:
    assert len(events) == 1, events
    event = events[0]
    assert isinstance(event, OrderRejected)
    assert (event.seq, event.enq_seq) == (0, 0)
    return event


# -- automatic order ids ------------------------------------------------------------------


def test_automatic_ids_survive_a_crash_and_a_clean_restart(tmp_path: Path) -> None:
    # Issue finding 7: they restarted at 1 (DUPLICATE_ORDER_ID or reused ids).
    data = tmp_path / "d"
    venue = venue_with_a(data, checkpoint_every=0)
    for _ in range(3):
        venue.submit("A", "buy", "1", "1.00")
    assert venue._journal is not None
    venue._journal.close()  # crash: no checkpoint, ids come from the commands
    venue._journal = None
    venue.stop()
    with Venue(data_dir=data, checkpoint_every=2) as again:
        assert again.next_order_id("A") == 4
        events = again.submit("A", "buy", "1", "1.00")
        assert isinstance(events[0], OrderAccepted)
        assert events[0].order_id == 4
        again.submit("A", "buy", "1", "1.00", order_id=40)
        again.tick()
    # A clean stop checkpoints: the ids are in the Checkpoint record, the tail is empty.
    last = [r for r in iter_records(data) if isinstance(r, Checkpoint)][-1]
    assert last.next_order_ids == {7: 41}
    with Venue(data_dir=data) as third:
        assert third.next_order_id("A") == 41


def test_a_refused_order_id_never_advances_the_automatic_ids() -> None:
    # Issue finding 7: submit(order_id=2**63) poisoned every later automatic id, 1.5 made
    # them floats, "3" raised TypeError.
    venue = venue_with_a()
    for bad, reason in (
        (2**63, RejectReason.VALUE_OUT_OF_RANGE),
        (0, RejectReason.VALUE_OUT_OF_RANGE),
        (1.5, RejectReason.MALFORMED_COMMAND),
        ("3", RejectReason.MALFORMED_COMMAND),
        (True, RejectReason.MALFORMED_COMMAND),
        (Decimal("NaN"), RejectReason.MALFORMED_COMMAND),
    ):
        reject = only_reject(venue.submit("A", "buy", "1", "1.00", order_id=bad))
        assert reject.reason == reason, bad
        assert reject.order_id == 0  # a bad id is never echoed
        assert venue.next_order_id("A") == 1
        assert venue.last_reject_detail is not None
        assert "order_id" in venue.last_reject_detail
    events = venue.submit("A", "buy", "1", "1.00")
    assert type(events[0].order_id) is int
    assert events[0].order_id == 1
    assert venue.next_order_id("A") == 2


def test_only_accepted_commands_claim_ids_and_replace_uses_them_too() -> None:
    venue = venue_with_a()
    refused = only_reject(venue.submit("A", "sideways", "1", "1.00"))
    assert refused.reason == RejectReason.INVALID_SIDE
    assert venue.next_order_id("A") == 1
    venue.submit("A", "buy", "1", "1.00")  # id 1
    events = venue.replace("A", 1, price="1.01", qty="1")  # new id 2
    assert any(getattr(e, "new_order_id", None) == 2 for e in events)
    assert venue.next_order_id("A") == 3
    bad_id: Any = 1.0
    only_reject(venue.replace("A", 2, new_order_id=bad_id, price="1.02", qty="1"))
    assert venue.next_order_id("A") == 3
    # A command the engine rejects was still sequenced and journaled: its id is used.
    venue.replace("A", 2, price="1.02")  # no qty: QTY_NOT_POSITIVE from the engine
    assert venue.next_order_id("A") == 4


# -- strict types --------------------------------------------------------------------------


def test_bools_and_floats_are_not_enums_or_symbols() -> None:
    # Issue finding 8: side=True, tif=1.0 and symbol 7.0 were accepted.
    venue = venue_with_a()
    assert only_reject(venue.submit("A", True, "1", "1.00")).reason == RejectReason.INVALID_SIDE
    reject = only_reject(venue.submit("A", "buy", "1", "1.00", tif=1.0))  # type: ignore[arg-type]
    assert reject.reason == RejectReason.INVALID_TIF
    reject = only_reject(venue.submit(7.0, "buy", "1", "1.00"))  # type: ignore[arg-type]
    assert reject.reason == RejectReason.UNKNOWN_SYMBOL
    assert venue.last_reject_detail == "symbol must be a str name or an int id, was 7.0"
    assert only_reject(venue.cancel(True, 1)).reason == RejectReason.UNKNOWN_SYMBOL  # type: ignore[arg-type]
    assert venue.enq_seq == 0
    assert isinstance(venue.submit(7, 1, "1", "1.00")[0], OrderAccepted)  # ints are fine


def test_mass_cancel_with_a_negative_account_is_refused() -> None:
    # Issue finding 8: mass_cancel(account=-1) silently did nothing.
    venue = venue_with_a()
    venue.add_instrument("B", symbol_id=8)
    reject = only_reject(venue.mass_cancel("A", account=-1))
    assert reject.reason == RejectReason.VALUE_OUT_OF_RANGE
    assert "account" in (venue.last_reject_detail or "")
    everywhere = venue.mass_cancel(account=-1)
    assert [(e.symbol_id, e.reason) for e in everywhere if isinstance(e, OrderRejected)] == [
        (7, RejectReason.VALUE_OUT_OF_RANGE),
        (8, RejectReason.VALUE_OUT_OF_RANGE),
    ]
    assert venue.enq_seq == 0


@pytest.mark.parametrize("symbol", [123, True, 1.0, b"X", None])
def test_a_symbol_that_is_not_a_string_is_a_type_error(symbol: object) -> None:
    # Issue finding 8: add_instrument(123) raised AttributeError.
    with Venue() as venue, pytest.raises(TypeError, match="symbol must be a str or an Instrument"):
        venue.add_instrument(symbol)  # type: ignore[arg-type]


@pytest.mark.parametrize("symbol_id", [True, 1.0, 1.5, "1", Decimal("NaN")])
def test_a_symbol_id_that_is_not_an_int_is_refused_and_never_journaled(
    tmp_path: Path, symbol_id: object
) -> None:
    # Issue finding 6: add_instrument("A", symbol_id=True) was journaled and bricked the
    # directory (ValidationError: Expected int, got bool).
    data = tmp_path / "d"
    with Venue(data_dir=data) as venue:
        with pytest.raises(TypeError, match="symbol_id must be an int"):
            venue.add_instrument("A", symbol_id=symbol_id)  # type: ignore[arg-type]
        assert venue.symbols == []
        venue.add_instrument("B", symbol_id=2)
    with Venue(data_dir=data) as again:  # the directory opens
        assert again.symbols == ["B"]
    assert replay(data).ok


def test_the_journal_never_appends_a_definition_it_cannot_read_back(tmp_path: Path) -> None:
    # Whatever slips past the edge, the Defined record is decoded back before it is written.
    journal = VenueJournal(tmp_path / "d")
    bad = Instrument(symbol="A", symbol_id=5, tick_size="1")
    msgspec.structs.force_setattr(bad, "symbol_id", True)
    with pytest.raises(ValueError, match="cannot be journaled"):
        journal.defined(bad, 0)
    assert journal.is_new  # nothing was appended
    journal.close()


def test_a_venue_refuses_an_undecodable_instrument_without_registering_it(tmp_path: Path) -> None:
    bad = Instrument(symbol="A", symbol_id=5, tick_size="1")
    msgspec.structs.force_setattr(bad, "symbol_id", 5.0)
    data = tmp_path / "d"
    with Venue(data_dir=data) as venue:
        with pytest.raises(InstrumentError, match="cannot be journaled"):
            venue.add_instrument(bad)
        assert venue.symbols == []
    assert [r for r in iter_records(data) if isinstance(r, Defined)] == []
