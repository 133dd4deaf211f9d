"""Property tests of idempotent order entry against a reference model.

Random streams of submits (accounts, client order ids, symbols, fields; exact repeats,
altered repeats, explicit and venue-chosen order ids), session ends, clock moves and
cancels are driven through a venue and through a plain dict model of the rule:

- a key (account, client_order_id) not held: the command is sequenced (one more
  ``enq_seq``), unless the table is full (``CLIENT_ORDER_IDS_FULL``, nothing sequenced);
- a key held with the same command: ``[DuplicateClientOrder, *the events first
  returned about that order]``, nothing sequenced;
- a key held with another command: ``DUPLICATE_CLIENT_ORDER_ID``, nothing sequenced;
- a symbol's session end lets go of that symbol's keys.

A second property runs each stream on a journaled venue that is killed (its journal left
as a crash leaves it) and reopened at random points, and on one that is not: the answers
and the table (``client_orders_hash``) must be those of the in-memory venue, and
``whistle replay`` must rebuild the same table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whistle import Venue
from whistle.coord.durability.replay import replay
from whistle.core.events import DuplicateClientOrder, Event, OrderRejected
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from pathlib import Path

SYMBOLS = ("AAA", "BBB")
CAP = 6

submit_op = st.tuples(
    st.just("submit"),
    st.integers(1, 3),  # account
    st.integers(0, 5),  # client order id (0: none)
    st.sampled_from(SYMBOLS),
    st.sampled_from(["buy", "sell"]),
    st.integers(98, 102),  # price
    st.integers(1, 4),  # qty
    st.sampled_from(["GTC", "IOC", "DAY"]),
    st.one_of(st.none(), st.integers(1, 40)),  # explicit order id
)
ops = st.lists(
    st.one_of(
        submit_op,
        submit_op,
        submit_op,
        st.tuples(st.just("repeat"), st.integers(0, 10_000)),
        st.tuples(st.just("end"), st.sampled_from(SYMBOLS)),
        st.tuples(st.just("advance"), st.integers(0, 5)),
        st.tuples(st.just("cancel"), st.sampled_from(SYMBOLS), st.integers(1, 40)),
    ),
    max_size=60,
)


def make(data_dir: Path | None = None) -> Venue:
    venue = Venue(data_dir=data_dir, max_client_orders=CAP, checkpoint_every=7)
    for name in SYMBOLS:
        venue.add_instrument(name, tick_size="1", lot_size="1")
    return venue


def resolve(stream: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # "repeat" becomes a copy of an earlier submit (an exact resubmission).
    out: list[tuple[Any, ...]] = []
    submits: list[tuple[Any, ...]] = []
    for op in stream:
        if op[0] == "repeat":
            if submits:
                out.append(submits[op[1] % len(submits)])
            continue
        if op[0] == "submit":
            submits.append(op)
        out.append(op)
    return out


def run(venue: Venue, op: tuple[Any, ...]) -> list[Event]:
    kind = op[0]
    if kind == "submit":
        _, acct, coid, sym, side, price, qty, tif, oid = op
        return venue.submit(
            sym,
            side,
            qty_lots=qty,
            price_ticks=price,
            tif=tif,
            order_id=oid,
            account=acct,
            client_order_id=coid,
        )
    if kind == "end":
        return venue.end_session(op[1])
    if kind == "advance":
        return venue.advance(op[1])
    return venue.cancel(op[1], op[2])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_the_venue_follows_the_reference_model(stream: list[tuple[Any, ...]]) -> None:
    venue = make()
    # key -> (fields of the command taken, its enq_seq, its events as first returned)
    model: dict[tuple[int, int], tuple[tuple[Any, ...], int, list[Event]]] = {}
    for op in resolve(stream):
        before = venue.enq_seq
        if op[0] != "submit" or op[2] == 0:
            events = run(venue, op)
            if op[0] == "end":
                sid = venue.instrument(op[1]).symbol_id
                model = {k: v for k, v in model.items() if v[0][0] != sid}
            continue
        _, acct, coid, sym, side, price, qty, tif, oid = op
        sid = venue.instrument(sym).symbol_id
        key = (acct, coid)
        held = model.get(key)
        order_id = oid if oid is not None else (held[0][1] if held else venue.next_order_id(sym))
        fields = (sid, order_id, side, price, qty, tif)
        events = run(venue, op)
        if held is not None and held[0] == fields:
            marker = events[0]
            assert isinstance(marker, DuplicateClientOrder)
            assert (marker.order_id, marker.original_enq_seq) == (order_id, held[1])
            assert (marker.account, marker.client_order_id, marker.seq) == (acct, coid, 0)
            assert events[1:] == held[2]
            assert venue.enq_seq == before
        elif held is not None:
            assert len(events) == 1
            assert isinstance(events[0], OrderRejected)
            assert events[0].reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID
            assert venue.enq_seq == before
        elif len(model) >= CAP:
            assert len(events) == 1
            assert isinstance(events[0], OrderRejected)
            assert events[0].reason == RejectReason.CLIENT_ORDER_IDS_FULL
            assert venue.enq_seq == before
        else:
            assert venue.enq_seq == before + 1
            assert not any(isinstance(e, DuplicateClientOrder) for e in events)
            own = [
                e
                for e in events
                if e.enq_seq == venue.enq_seq and getattr(e, "order_id", None) == order_id
            ]
            assert own  # accepted or rejected by the engine: either way the outcome
            model[key] = (fields, venue.enq_seq, own)
        assert venue.client_orders == len(model)
    venue.stop()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.lists(st.integers(0, 60), max_size=3))
def test_crashes_and_reopens_change_no_answer(
    tmp_path_factory: Any, stream: list[tuple[Any, ...]], kills: list[int]
) -> None:
    data = tmp_path_factory.mktemp("idem")
    reference = make()
    venue = make(data)
    for index, op in enumerate(resolve(stream)):
        if index in kills:
            # A crash: the journal is left as it is, nothing more is written.
            venue.tick()  # so nothing acknowledged waits (a pending command runs later)
            venue._journal._commands.close()  # type: ignore[union-attr]
            venue._journal._events.close()  # type: ignore[union-attr]
            venue = Venue(data_dir=data, max_client_orders=CAP, checkpoint_every=7)
            assert venue.client_orders_hash() == reference.client_orders_hash()
            reference.tick()
        assert run(venue, op) == run(reference, op), op
    assert venue.client_orders_hash() == reference.client_orders_hash()
    want = reference.client_orders_hash()
    venue.stop()
    reference.stop()
    report = replay(data)
    assert report.ok
    assert report.client_orders_hash == want
