"""LocalBackend: one tick per batch, events back to their commands, repeats after the tick."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from whistle.api.backend import Backend, LocalBackend
from whistle.coord import Venue
from whistle.core.commands import CancelOrder, MassCancel, NewOrder
from whistle.core.events import (
    DuplicateClientOrder,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
)
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from pathlib import Path


def venue() -> tuple[Venue, int, int]:
    v = Venue()
    a = v.add_instrument("AAPL").symbol_id
    b = v.add_instrument("MSFT").symbol_id
    return v, a, b


def test_a_batch_is_one_tick_and_each_command_gets_its_events() -> None:
    v, a, b = venue()
    backend = LocalBackend(v, clock=lambda: 1_000)
    assert isinstance(backend, Backend)
    heard: list[list[Event]] = []
    backend.add_listener(heard.append)
    commands = [
        NewOrder(a, 0, 7, 1, 1, 1, 100, 5, client_order_id=1),
        NewOrder(b, 0, 8, 2, 1, 1, 200, 5),
        NewOrder(a, 0, 7, 1, 1, 1, 100, 5, client_order_id=1),  # a repeat inside the batch
        NewOrder(999, 0, 7, 1, 1, 1, 100, 5),  # unknown symbol
        NewOrder(a, 0, 7, 1, 1, 1, 101, 5, client_order_id=1),  # a different order, same key
        CancelOrder(b, 1, 7),  # another account's order
        MassCancel(0, 8),
    ]
    ticks_before = v.clock.tick_number
    outcomes = asyncio.run(backend.execute(commands))
    assert v.clock.tick_number == ticks_before + 1
    first, second, repeat, unknown, different, cancel, mass = outcomes
    assert (first.enq_seq, first.order_id) == (1, 1)
    assert isinstance(first.events[0], OrderAccepted)
    assert all(e.enq_seq == 1 for e in first.events)
    assert (second.enq_seq, second.order_id) == (2, 1)
    assert repeat.enq_seq == 0
    assert isinstance(repeat.events[0], DuplicateClientOrder)
    assert repeat.events[0].outcome == 1  # ACCEPTED: answered after the tick
    assert repeat.order_id == 1
    assert isinstance(unknown.events[0], OrderRejected)
    assert unknown.events[0].reason == RejectReason.UNKNOWN_SYMBOL
    assert unknown.detail
    assert different.events[0].reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID  # type: ignore[union-attr]
    assert cancel.events[0].reason == RejectReason.ACCOUNT_MISMATCH  # type: ignore[union-attr]
    assert [type(e) for e in mass.events if type(e) is OrderCancelled] == [OrderCancelled]
    assert mass.order_id == 0
    assert len(heard) == 1
    assert sum(len(o.events) for o in outcomes if o.enq_seq) <= len(heard[0])
    assert v.now_ns == 1_000


def test_a_stopped_venue_refuses_and_close_is_idempotent() -> None:
    v, a, _ = venue()
    backend = LocalBackend(v)
    asyncio.run(backend.close())
    asyncio.run(backend.close())
    (outcome,) = asyncio.run(backend.execute([NewOrder(a, 0, 7, 1, 1, 1, 100, 5)]))
    assert outcome.error
    assert outcome.enq_seq == 0


def test_the_clock_never_goes_back() -> None:
    v, a, _ = venue()
    now = [5_000]
    backend = LocalBackend(v, clock=lambda: now[0])
    asyncio.run(backend.execute([NewOrder(a, 0, 7, 1, 1, 1, 100, 5)]))
    now[0] = 10
    asyncio.run(backend.advance())
    assert v.now_ns == 5_000
    asyncio.run(backend.close())


def test_a_tick_that_cannot_be_journaled_leaves_the_commands_acknowledged(tmp_path: Path) -> None:
    from whistle.coord import JournalUnavailable

    v = Venue(data_dir=tmp_path / "v")
    a = v.add_instrument("AAPL").symbol_id
    backend = LocalBackend(v, clock=lambda: 1)
    heard: list[Event] = []
    backend.add_listener(heard.extend)
    journal = v._journal
    assert journal is not None
    real = journal.ticked

    def full(*args: object) -> None:
        raise JournalUnavailable("disk full (test)", path=tmp_path, fatal=False)

    journal.ticked = full  # type: ignore[method-assign]
    (first,) = asyncio.run(backend.execute([NewOrder(a, 0, 7, 1, 1, 1, 100, 5)]))
    assert first.enq_seq == 1  # journaled: acknowledged
    assert first.events == []
    assert first.detail is not None
    assert "acknowledged" in first.detail
    journal.ticked = real  # type: ignore[method-assign]
    (second,) = asyncio.run(backend.execute([NewOrder(a, 0, 7, 1, 1, 1, 101, 5)]))
    assert second.enq_seq == 2
    assert isinstance(second.events[0], OrderAccepted)
    # the first one ran in that tick: its events went to the listeners
    assert [e.order_id for e in heard if isinstance(e, OrderAccepted)] == [1, 2]
    asyncio.run(backend.close())


def test_a_command_that_cannot_be_journaled_is_refused_unsequenced(tmp_path: Path) -> None:
    from whistle.coord import JournalUnavailable

    v = Venue(data_dir=tmp_path / "v")
    a = v.add_instrument("AAPL").symbol_id
    backend = LocalBackend(v, clock=lambda: 1)
    real = v.router.journal

    def full(*args: object) -> None:
        raise JournalUnavailable("disk full (test)", path=tmp_path, fatal=False)

    v.router.journal = full  # type: ignore[assignment]
    refused = asyncio.run(backend.execute([NewOrder(a, 0, 7, 1, 1, 1, 100, 5)] * 2))
    assert [o.enq_seq for o in refused] == [0, 0]
    assert all(o.error and "disk full" in o.error for o in refused)
    v.router.journal = real
    (ok,) = asyncio.run(backend.execute([NewOrder(a, 0, 7, 1, 1, 1, 100, 5)]))
    assert (ok.enq_seq, ok.order_id) == (1, 1)  # nothing was used up
    asyncio.run(backend.close())


def test_the_fill_history_is_bounded_and_says_when_it_is_not_whole() -> None:
    v, a, _ = venue()
    backend = LocalBackend(v, clock=lambda: 1, max_fills=3)
    for _ in range(2):
        asyncio.run(
            backend.execute(
                [NewOrder(a, 0, 7, 1, 1, 1, 100, 1), NewOrder(a, 0, 8, 2, 1, 1, 100, 1)]
            )
        )
    fills, complete = asyncio.run(backend.fills(None, None, 0))
    assert len(fills) == 3  # 4 fills made, the oldest let go
    assert not complete
    mine, _ = asyncio.run(backend.fills(8, a, 0))
    assert [f.account for f in mine] == [8, 8]
    later, _ = asyncio.run(backend.fills(None, None, 3))
    assert {f.enq_seq for f in later} == {4}
    asyncio.run(backend.close())


def test_automatic_ids_survive_a_caller_choosing_the_largest_id() -> None:
    from whistle.core.limits import MAX_ORDER_ID

    v, a, _ = venue()
    backend = LocalBackend(v, clock=lambda: 1)
    first = asyncio.run(backend.execute([NewOrder(a, 0, 7, 1, 1, 1, 100, 1)]))[0]
    assert first.order_id == 1
    top = asyncio.run(backend.execute([NewOrder(a, MAX_ORDER_ID, 9, 1, 1, 1, 100, 1)]))[0]
    assert isinstance(top.events[0], OrderAccepted)
    # the venue's counter is now past the top: automatic ids take the lowest free ones
    later = asyncio.run(
        backend.execute([NewOrder(a, 0, 7, 1, 1, 1, 101, 1), NewOrder(a, 0, 8, 1, 1, 1, 102, 1)])
    )
    assert [o.order_id for o in later] == [2, 3]  # 1 is live; two in one batch never collide
    assert all(isinstance(o.events[0], OrderAccepted) for o in later)
    asyncio.run(backend.close())


def test_open_orders_of_an_account_agree_with_the_books() -> None:
    import random

    from whistle.core.commands import CancelReplace, ModifyOrder

    v, a, b = venue()
    backend = LocalBackend(v, clock=lambda: 1)
    rng = random.Random(7)
    ids: list[tuple[int, int]] = []
    for _ in range(60):
        batch = []
        for _ in range(rng.randint(1, 8)):
            sid = rng.choice((a, b))
            acct = rng.choice((1, 2, 3))
            roll = rng.random()
            if roll < 0.55 or not ids:
                side = rng.choice((1, 2))
                tif = rng.choice((1, 1, 1, 2))  # mostly GTC, some IOC
                price = 100 + rng.randint(-3, 3)
                batch.append(NewOrder(sid, 0, acct, side, 1, tif, price, rng.randint(1, 4)))
            elif roll < 0.65:
                sid, oid = rng.choice(ids)
                batch.append(CancelOrder(sid, oid, None))
            elif roll < 0.75:
                sid, oid = rng.choice(ids)
                batch.append(ModifyOrder(sid, oid, 0, rng.randint(1, 3), None))
            elif roll < 0.85:
                sid, oid = rng.choice(ids)
                batch.append(CancelReplace(sid, oid, 0, 100 + rng.randint(-3, 3), 2, None))
            elif roll < 0.9:
                batch.append(MassCancel(sid, acct))
            else:
                batch.append(NewOrder(sid, 0, acct, rng.choice((1, 2)), 2, 2, 0, rng.randint(1, 6)))
        for outcome, command in zip(asyncio.run(backend.execute(batch)), batch, strict=True):
            if outcome.order_id and not isinstance(command, MassCancel):
                ids.append((command.symbol_id, outcome.order_id))
        for acct in (1, 2, 3):
            listed = [
                (sid, i.order_id, i.displayed_qty_lots)
                for sid, i in asyncio.run(backend.open_orders(acct))
            ]
            books = [
                (sid, o.order_id, o.qty_lots)
                for sid in sorted((a, b))
                for o in v.l3(sid)
                if o.account == acct
            ]
            assert listed == books, acct
    asyncio.run(backend.close())
