"""Idempotent order entry: one command per (account, client_order_id), whatever happens.

Each test attacks one promise of ``whistle.coord.durability.client_orders``: a repeat changes
nothing and answers with the original outcome, a different command under a used key is
refused, refusals before sequencing use no key, the table is bounded and let go only at a
session end, and it is the same after recovery, replay, and on every path (embedded fast
path, ``send_many``, ``enqueue``, host processes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from whistle import Venue
from whistle.coord.durability.datadir import SnapshotDamaged, snapshot_path
from whistle.coord.durability.records import (
    CLIENT_ORDERS_SNAPSHOT_ID,
    COMMANDS_DIR,
    EVENTS_DIR,
    Checkpoint,
    ClientOrderTableFile,
    RecordCodec,
    decode_client_order_table,
)
from whistle.coord.durability.replay import replay
from whistle.core.commands import CancelReplace, NewOrder, command_error
from whistle.core.enums import ClientOrderOutcome
from whistle.core.events import (
    DuplicateClientOrder,
    Event,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
)
from whistle.core.limits import MAX_CLIENT_ORDER_ID
from whistle.core.reasons import RejectReason
from whistle.journal import ReadOnlyReader

if TYPE_CHECKING:
    from pathlib import Path

DUP = RejectReason.DUPLICATE_CLIENT_ORDER_ID
FULL = RejectReason.CLIENT_ORDER_IDS_FULL


def make(data_dir: Path | None = None, **kw: Any) -> Venue:
    venue = Venue(data_dir=data_dir, **kw)
    venue.add_instrument("AAA", tick_size="1", lot_size="1")
    venue.add_instrument("BBB", tick_size="1", lot_size="1")
    return venue


def buy(venue: Venue, coid: int, *, account: int = 1, qty: int = 10, price: int = 100, **kw: Any):
    return venue.submit(
        kw.pop("symbol", "AAA"),
        kw.pop("side", "buy"),
        qty_lots=qty,
        price_ticks=price,
        account=account,
        client_order_id=coid,
        **kw,
    )


def journal_bytes(data: Path) -> tuple[list[bytes], list[bytes]]:
    out = []
    for sub in (COMMANDS_DIR, EVENTS_DIR):
        with ReadOnlyReader(data / sub) as reader:
            out.append([r.payload for r in reader])
    return out[0], out[1]


def sequenced_new_orders(data: Path) -> list[NewOrder]:
    codec = RecordCodec()
    out = []
    with ReadOnlyReader(data / COMMANDS_DIR) as reader:
        for r in reader:
            record = codec.decode_record(r.payload)
            command = getattr(record, "command", None)
            if isinstance(command, NewOrder):
                out.append(command)
    return out


# ---------------------------------------------------------------------------- answers


def test_a_repeat_returns_the_original_outcome_and_changes_nothing(tmp_path: Path) -> None:
    venue = make(tmp_path / "d")
    first = buy(venue, 7)
    assert isinstance(first[0], OrderAccepted)
    before = (venue.enq_seq, venue.clock.tick_number, venue.state_hashes())
    journals = journal_bytes(tmp_path / "d")
    seen: list[Event] = []
    venue.subscribe(seen.append)
    again = buy(venue, 7)
    marker = again[0]
    assert isinstance(marker, DuplicateClientOrder)
    assert (marker.seq, marker.enq_seq, marker.order_id, marker.account) == (0, 0, 1, 1)
    assert (marker.client_order_id, marker.original_enq_seq) == (7, 1)
    assert marker.outcome == ClientOrderOutcome.ACCEPTED
    assert marker.reason == 0
    assert again[1:] == [first[0]]  # its own order's events as first produced, no market data
    assert seen == [marker]  # subscribers get the notice only: the rest was published once
    assert (venue.enq_seq, venue.clock.tick_number, venue.state_hashes()) == before
    assert journal_bytes(tmp_path / "d") == journals  # nothing journaled, not even a tick
    assert venue.next_order_id("AAA") == 2  # no automatic id used up
    venue.stop()


def test_a_repeat_never_shows_another_accounts_fills() -> None:
    venue = make()
    buy(venue, 1, account=1, qty=5)
    first = buy(venue, 1, account=2, side="sell", qty=5)  # same coid, other account: new
    assert any(isinstance(e, OrderFilled) and e.account == 1 for e in first)
    again = buy(venue, 1, account=2, side="sell", qty=5)
    assert isinstance(again[0], DuplicateClientOrder)
    own = again[1:]
    assert [type(e).__name__ for e in own] == ["OrderAccepted", "OrderFilled"]
    assert all(getattr(e, "account", None) == 2 for e in own)
    venue.stop()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"qty": 11}, "qty_lots"),
        ({"price": 101}, "price_ticks"),
        ({"side": "sell"}, "side"),
        ({"symbol": "BBB"}, "symbol_id"),
        ({"order_id": 50}, "order_id"),
        ({"tif": "IOC"}, "tif"),
        ({"post_only": True}, "post_only"),
    ],
)
def test_a_different_command_under_a_used_key_is_refused(change: dict[str, Any], field: str):
    venue = make()
    buy(venue, 9)
    before = (venue.enq_seq, venue.state_hashes(), venue.client_orders_hash())
    events = buy(venue, 9, **change)
    assert len(events) == 1
    reject = events[0]
    assert isinstance(reject, OrderRejected)
    assert (reject.reason, reject.seq, reject.enq_seq, reject.account) == (DUP, 0, 0, 1)
    assert field in (venue.last_reject_detail or "")
    assert "order 1" in (venue.last_reject_detail or "")
    assert (venue.enq_seq, venue.state_hashes(), venue.client_orders_hash()) == before
    venue.stop()


def test_keys_are_per_account() -> None:
    venue = make()
    a = buy(venue, 3, account=1)
    b = buy(venue, 3, account=2)
    assert isinstance(a[0], OrderAccepted)
    assert isinstance(b[0], OrderAccepted)
    assert venue.client_orders == 2
    venue.stop()


def test_an_engine_reject_uses_the_key_and_is_the_outcome() -> None:
    venue = make()
    venue.halt("AAA")
    first = buy(venue, 4)
    assert isinstance(first[0], OrderRejected)
    assert first[0].seq > 0
    venue.resume("AAA")
    again = buy(venue, 4)  # the reject is the outcome: not entered now that trading resumed
    marker = again[0]
    assert isinstance(marker, DuplicateClientOrder)
    assert marker.outcome == ClientOrderOutcome.REJECTED
    assert marker.reason == RejectReason.TRADING_HALTED
    assert again[1:] == first
    assert venue.l3("AAA") == []
    venue.stop()


def test_refusals_before_sequencing_leave_the_key_free() -> None:
    venue = make(queue_depth=1)
    sid = venue.instrument("AAA").symbol_id
    off_grid = venue.submit("AAA", "buy", "10", "100.5", account=1, client_order_id=5)
    assert off_grid[0].reason == RejectReason.INVALID_PRICE_PRECISION  # type: ignore[union-attr]
    unknown = venue.submit("ZZZ", "buy", qty_lots=1, price_ticks=1, account=1, client_order_id=5)
    assert unknown[0].reason == RejectReason.UNKNOWN_SYMBOL  # type: ignore[union-attr]
    bad = venue.send(NewOrder(sid, 1, 1, 1, 1, 1, 100, 0.5, client_order_id=5))  # type: ignore[arg-type]
    assert bad[0].reason == RejectReason.MALFORMED_COMMAND  # type: ignore[union-attr]
    venue.enqueue(NewOrder(sid, 1, 0, 1, 1, 1, 90, 1))  # fills the one slot
    full = venue.enqueue(NewOrder(sid, 2, 1, 1, 1, 1, 100, 10, client_order_id=5))
    assert isinstance(full, OrderRejected)
    assert full.reason == RejectReason.QUEUE_FULL
    assert venue.client_orders == 0
    assert venue.enq_seq == 1
    venue.tick()
    ok = buy(venue, 5)
    assert isinstance(ok[0], OrderAccepted)
    assert venue.client_order(1, 5) is not None
    venue.stop()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, RejectReason.MALFORMED_COMMAND),
        (1.0, RejectReason.MALFORMED_COMMAND),
        ("1", RejectReason.MALFORMED_COMMAND),
        (None, RejectReason.MALFORMED_COMMAND),
        (-1, RejectReason.VALUE_OUT_OF_RANGE),
        (MAX_CLIENT_ORDER_ID + 1, RejectReason.VALUE_OUT_OF_RANGE),
    ],
)
def test_a_bad_client_order_id_is_refused_at_the_edge(value: object, reason: RejectReason):
    venue = make()
    sid = venue.instrument("AAA").symbol_id
    command = NewOrder(sid, 1, 1, 1, 1, 1, 100, 10, client_order_id=value)  # type: ignore[arg-type]
    problem = command_error(command)
    assert problem is not None
    assert problem[0] == reason
    assert "client_order_id" in problem[1]
    events = venue.send(command)
    assert isinstance(events[0], OrderRejected)
    assert events[0].reason == reason
    assert venue.enq_seq == 0
    assert venue.client_orders == 0
    assert venue.enqueue(command) == events[0]
    venue.stop()


def test_the_largest_client_order_id_is_taken() -> None:
    venue = make()
    assert isinstance(buy(venue, MAX_CLIENT_ORDER_ID)[0], OrderAccepted)
    assert isinstance(buy(venue, MAX_CLIENT_ORDER_ID)[0], DuplicateClientOrder)
    venue.stop()


def test_a_cancel_replace_with_a_client_order_id_needs_an_account() -> None:
    venue = make()
    buy(venue, 0)
    sid = venue.instrument("AAA").symbol_id
    problem = command_error(CancelReplace(sid, 1, 2, 101, 5, None, 8))
    assert problem is not None
    assert problem[0] == RejectReason.MALFORMED_COMMAND
    assert "account" in problem[1]
    events = venue.replace("AAA", 1, price_ticks=101, qty_lots=5, client_order_id=8)
    assert events[0].reason == RejectReason.MALFORMED_COMMAND  # type: ignore[union-attr]
    venue.stop()


def test_a_cancel_replace_is_idempotent_by_its_client_order_id() -> None:
    venue = make()
    buy(venue, 0)
    first = venue.replace("AAA", 1, price_ticks=101, qty_lots=5, account=1, client_order_id=8)
    replaced = [e for e in first if isinstance(e, OrderReplaced)]
    assert replaced
    assert replaced[0].new_order_id == 2
    again = venue.replace("AAA", 1, price_ticks=101, qty_lots=5, account=1, client_order_id=8)
    marker = again[0]
    assert isinstance(marker, DuplicateClientOrder)
    assert (marker.order_id, marker.outcome) == (2, ClientOrderOutcome.ACCEPTED)
    assert replaced[0] in again[1:]
    assert venue.next_order_id("AAA") == 3
    other = buy(venue, 8, price=99)  # a NewOrder under the replace's key
    assert other[0].reason == DUP  # type: ignore[union-attr]
    assert "CancelReplace" in (venue.last_reject_detail or "")
    venue.stop()


def test_enqueue_of_a_repeat_returns_the_original_enq_seq_and_pending_until_its_tick():
    venue = make()
    sid = venue.instrument("AAA").symbol_id
    command = NewOrder(sid, 1, 1, 1, 1, 1, 100, 10, client_order_id=6)
    assert venue.enqueue(command) == 1
    assert venue.enqueue(command) == 1
    assert venue.enq_seq == 1
    pending = venue.send(command)
    assert isinstance(pending[0], DuplicateClientOrder)
    assert len(pending) == 1
    assert pending[0].outcome == ClientOrderOutcome.PENDING
    assert venue.l3("AAA") == []  # a repeat runs no tick either
    ran = venue.tick()
    info = venue.client_order(1, 6)
    assert info is not None
    assert info.outcome is ClientOrderOutcome.ACCEPTED
    assert info.events == (ran[0],)
    changed = NewOrder(sid, 1, 1, 1, 1, 1, 100, 11, client_order_id=6)
    refused = venue.enqueue(changed)
    assert isinstance(refused, OrderRejected)
    assert refused.reason == DUP
    venue.stop()


# ---------------------------------------------------------------------------- retention


def test_a_session_end_lets_go_of_that_symbols_keys_only() -> None:
    venue = make()
    buy(venue, 1)
    buy(venue, 2, symbol="BBB")
    venue.end_session("AAA")
    assert venue.client_order(1, 1) is None
    assert venue.client_order(1, 2) is not None
    again = buy(venue, 1, tif="GTC")  # a new trading session: the id is a new order
    assert isinstance(again[0], OrderAccepted)
    assert again[0].order_id == 2
    assert isinstance(buy(venue, 2, symbol="BBB")[0], DuplicateClientOrder)
    venue.stop()


def test_the_clocks_session_end_lets_go_too() -> None:
    venue = make(session_end_ns=1_000)
    buy(venue, 1, tif="DAY")
    venue.advance(1_000)
    assert venue.client_orders == 0
    venue.stop()


def test_a_full_table_refuses_new_keys_and_never_forgets() -> None:
    venue = make(max_client_orders=2)
    buy(venue, 1)
    buy(venue, 2)
    refused = buy(venue, 3)
    assert refused[0].reason == FULL
    assert refused[0].seq == 0
    assert venue.enq_seq == 2
    assert isinstance(buy(venue, 1)[0], DuplicateClientOrder)  # held keys still answer
    assert isinstance(buy(venue, 0, price=99)[0], OrderAccepted)  # no id: never affected
    venue.end_session("AAA")
    assert isinstance(buy(venue, 3)[0], OrderAccepted)
    venue.stop()


def test_max_client_orders_zero_refuses_every_client_order_id() -> None:
    venue = make(max_client_orders=0)
    assert buy(venue, 1)[0].reason == FULL  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="max_client_orders"):
        Venue(max_client_orders=-1)
    with pytest.raises(TypeError, match="max_client_orders"):
        Venue(max_client_orders=True)  # type: ignore[arg-type]
    venue.stop()


# ---------------------------------------------------------------------------- durability


def test_recovery_and_replay_rebuild_the_same_table(tmp_path: Path) -> None:
    data = tmp_path / "d"
    venue = make(data, checkpoint_every=4)
    for i in range(1, 13):
        buy(venue, i, price=95 + i % 7, side="buy" if i % 2 else "sell", qty=i)
    venue.halt("BBB")
    buy(venue, 100, symbol="BBB")  # an engine reject, kept
    sid = venue.instrument("AAA").symbol_id
    venue.enqueue(NewOrder(sid, 77, 1, 1, 1, 1, 90, 1, client_order_id=200))  # not ticked
    want = venue.client_orders_hash()
    count = venue.client_orders
    # A crash: the process ends without stop() (nothing more is written).
    venue._journal._commands.close()  # type: ignore[union-attr]
    venue._journal._events.close()  # type: ignore[union-attr]
    again = Venue(data_dir=data)
    assert again.recovery is not None
    assert again.recovery.checkpoint_enq_seq
    assert again.recovery.pending == [again.enq_seq]
    assert (again.client_orders, again.client_orders_hash()) == (count, want)
    assert again.recovery.client_orders == count
    pending = again.send(NewOrder(sid, 77, 1, 1, 1, 1, 90, 1, client_order_id=200))
    assert pending[0].outcome == ClientOrderOutcome.PENDING  # type: ignore[union-attr]
    again.tick()
    info = again.client_order(1, 200)
    assert info is not None
    assert info.outcome is ClientOrderOutcome.ACCEPTED
    rejected = again.client_order(1, 100)
    assert rejected is not None
    assert rejected.reason == RejectReason.TRADING_HALTED
    final = again.client_orders_hash()
    again.stop()
    report = replay(data)
    assert report.ok, report
    assert (report.client_orders, report.client_orders_hash) == (count, final)
    with Venue(data_dir=data) as third:
        assert third.client_orders_hash() == final
        assert isinstance(buy(third, 5, price=95 + 5 % 7, qty=5)[0], DuplicateClientOrder)


def test_a_damaged_table_file_falls_back_to_an_earlier_checkpoint(tmp_path: Path) -> None:
    data = tmp_path / "d"
    venue = make(data, checkpoint_every=0)
    buy(venue, 1)
    venue.checkpoint()
    buy(venue, 2, price=99)
    venue.checkpoint()
    want = venue.client_orders_hash()
    venue.stop()
    latest = max((data / "snapshots" / str(CLIENT_ORDERS_SNAPSHOT_ID)).iterdir())
    raw = bytearray(latest.read_bytes())
    raw[-1] ^= 0xFF
    latest.write_bytes(bytes(raw))
    report = replay(data)
    assert report.snapshot_problems
    assert not report.ok
    with Venue(data_dir=data) as again:
        assert again.recovery is not None
        assert again.recovery.fallbacks
        assert str(latest) in again.recovery.fallbacks[0]
        assert again.client_orders_hash() == want
        assert isinstance(buy(again, 2, price=99)[0], DuplicateClientOrder)


def test_a_table_file_of_another_version_is_refused_by_name(tmp_path: Path) -> None:
    table = ClientOrderTableFile(1, [])
    data = msgspec.msgpack.encode(table)
    assert decode_client_order_table(data) == table
    newer = msgspec.msgpack.encode(ClientOrderTableFile(2, []))
    with pytest.raises(ValueError, match="version 2"):
        decode_client_order_table(newer)
    with pytest.raises(ValueError, match="not a client-order table"):
        decode_client_order_table(b"\x01\x02")
    # In a data directory: the checkpoint naming it is passed over, with the version named.
    root = tmp_path / "d"
    venue = make(root, checkpoint_every=0)
    buy(venue, 1)
    venue.checkpoint()
    want = venue.client_orders_hash()
    venue.stop()
    path = snapshot_path(root, CLIENT_ORDERS_SNAPSHOT_ID, 1)
    assert path.exists()
    from whistle.coord.durability.datadir import scan, snapshot_crc, verified_client_orders
    from whistle.coord.durability.records import table_hash

    found = scan(root)
    record = found.client_order_records[1]
    bumped = bytearray(path.read_bytes())
    assert bumped[1] == 1  # [version, entries]: the version is the second byte
    bumped[1] = 2
    path.write_bytes(bytes(bumped))
    # A record that agrees with the bytes (a file another whistle wrote): the version is named.
    agreeing = msgspec.structs.replace(
        record,
        size=len(bumped),
        crc32=snapshot_crc(bytes(bumped)),
        table_hash=table_hash(bytes(bumped)),
    )
    with pytest.raises(SnapshotDamaged, match="version 2"):
        verified_client_orders(root, {1: agreeing}, 1)
    with pytest.raises(SnapshotDamaged, match="CRC"):  # the real record: the bytes changed
        verified_client_orders(root, {1: record}, 1)
    with Venue(data_dir=root) as again:  # falls back to the start: the table is rebuilt
        assert again.client_orders_hash() == want


def test_an_old_checkpoint_without_the_table_field_decodes_as_an_empty_table() -> None:
    codec = RecordCodec()
    old = msgspec.msgpack.encode([6, 3, 2, 1000, {1: 3}, {1: 4}])  # before client_orders
    record = codec.decode_record(old)
    assert isinstance(record, Checkpoint)
    assert record.client_orders == -1
    older_order = msgspec.msgpack.encode([1, 1, 1, 0, 1, 1, 1, 100, 10, 0, 0, False, 0, 0, 0])
    command = msgspec.msgpack.decode(older_order, type=NewOrder)
    assert command.client_order_id == 0


# ---------------------------------------------------------------------------- every path


def coid_commands(sids: list[int]) -> list[NewOrder]:
    out = []
    for i in range(60):
        sid = sids[i % 2]
        coid = i % 23 + 1  # repeats: exact when the fields agree, else refused
        side = 1 + (coid % 2)
        out.append(
            NewOrder(
                sid, 1000 + coid, coid % 3, side, 1, 1, 100 + coid % 5, 3, client_order_id=coid
            )
        )
        if i % 5 == 0:
            out.append(NewOrder(sid, 5000 + i, 9, 2 - i % 2, 1, 1, 100, 2))  # no coid
    return out


@pytest.mark.parametrize("hosts", [1, 2])
def test_host_processes_send_many_and_enqueue_agree_with_the_embedded_path(hosts: int):
    runs = []
    for how in ("send", "send_many", "enqueue", "hosts"):
        venue = make(hosts=hosts if how == "hosts" else 0)
        sids = [venue.instrument(s).symbol_id for s in ("AAA", "BBB")]
        commands = coid_commands(sids)
        if how == "send_many":
            events = venue.send_many(commands)
        elif how == "enqueue":
            events = []
            for command in commands:
                before = venue.enq_seq
                result = venue.enqueue(command)
                if isinstance(result, OrderRejected):
                    events.append(result)
                elif result > before:  # new: its tick; a repeat names the original
                    events += venue.tick()
        else:
            events = [e for c in commands for e in venue.send(c)]
        runs.append(
            (how, [e for e in events if not isinstance(e, DuplicateClientOrder)],
             venue.client_orders_hash(), venue.state_hashes(), venue.enq_seq)
        )  # fmt: skip
        venue.stop()
    _, events0, table0, hashes0, seq0 = runs[0]
    assert any(isinstance(e, OrderRejected) and e.reason == DUP for e in events0)
    for how, events, table, hashes, seq in runs[1:]:
        assert (table, hashes, seq) == (table0, hashes0, seq0), how
        if how != "enqueue":  # enqueue answers a repeat with an enq_seq, not events
            assert events == events0, how


def test_a_table_entry_whose_command_never_ran_is_let_go() -> None:
    from whistle.coord.durability.client_orders import ClientOrderTable

    kept = ClientOrderTable()  # with a journal: the command is rebuilt and runs later
    kept.add(1, NewOrder(1, 5, 2, 1, 1, 1, 100, 1, client_order_id=9))
    kept.capture([])
    assert kept.order_id_of(2, 9) == 5
    table = ClientOrderTable(release_unrun=True)
    command = NewOrder(1, 5, 2, 1, 1, 1, 100, 1, client_order_id=9)
    table.add(1, command)
    table.capture([])  # its tick ran and it produced nothing: it never reached its engine
    assert len(table) == 0
    assert table.order_id_of(2, 9) is None
    table.add(2, command)
    table.capture([OrderAccepted(1, 1, 2, 0, 5, 2, 1, 1, 1, 100, 1, 0, 0)])
    assert table.order_id_of(2, 9) == 5


@pytest.mark.parametrize("journaled", [False, True])
def test_a_host_killed_before_the_tick(tmp_path: Path, journaled: bool) -> None:
    import os
    import signal

    venue = make(tmp_path / "d" if journaled else None, hosts=2)
    sid = venue.instrument("AAA").symbol_id
    command = NewOrder(sid, 1, 1, 1, 1, 1, 100, 10, client_order_id=3)
    assert venue.enqueue(command) == 1
    pid = venue.coordinator.host_of(sid).pid  # type: ignore[attr-defined]
    os.kill(pid, signal.SIGKILL)
    events = venue.tick()
    if journaled:
        # Rebuilt from the journal on a live host: the order ran; a retry is a repeat.
        info = venue.client_order(1, 3)
        assert info is not None
        assert info.outcome is ClientOrderOutcome.ACCEPTED
        assert isinstance(venue.send(command)[0], DuplicateClientOrder)
    else:
        # Lost with the host (no journal to rebuild it from): the key is free again, and
        # a retry is refused like any command for the faulted symbol, using no key.
        assert any(type(e).__name__ == "EngineFaulted" for e in events)
        assert venue.client_order(1, 3) is None
        retry = venue.send(command)
        assert retry[0].reason == RejectReason.ENGINE_FAULTED  # type: ignore[union-attr]
        assert venue.client_order(1, 3) is None
    venue.stop()
