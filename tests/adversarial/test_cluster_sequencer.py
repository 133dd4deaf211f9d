"""Adversarial probes of a shard sequencer on a real JetStream (R2, issue 13).

Findings (each test below failed on the code it was found on; all are fixed now):

- finding 1: shards do not check symbol placement: one symbol id (or one symbol name)
  is defined in two shards, so two sequencers sequence "the same symbol";
- finding 2: a caller-chosen order id of MAX_ORDER_ID locks every automatic-id order of
  the symbol out for good (the cluster twin of R1's finding 4, fixed only in LocalBackend);
- finding 3: the log never checks the fencing token: a sequencer opened with an older
  token appends after a newer one took over, and the new owner is the one that stops
  (fixed: a new owner writes ``Fenced`` after every symbol's last record at open, so the
  older one's next append is refused by JetStream);
- finding 5: a request under max_payload whose reply is over it is logged and applied,
  and its reply is dropped without a word (``msg.respond`` raises, suppressed): the
  caller hears nothing, the front end reports every command's outcome unknown;
- finding 6: a client_order_id repeat queued behind its symbol's EndSession is answered
  from the ended session (DuplicateClientOrder, not sequenced); the venue sequences it as
  a command of the new session: the same command stream gives other events (fixed: a
  key's session is counted when its command is queued).

Probes that hold: hostile bytes / oversized payloads / unknown symbols / out-of-range ints
on ``<prefix>.req.<shard>`` get a documented reject, nothing logged, the shard serves on;
a fenced sequencer appends nothing; a sequencer opened later fences the first and the
subject is never interleaved; a rebuild (snapshot + tail) after halts and clock-driven
GTD expiries equals the live state hashes.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "cluster"))

from nats_support import Clock, connect, purge, require_nats, run, unique_prefix

from whistle.cluster.log import ClusterNames, CommandLog
from whistle.cluster.sequencer import ShardSequencer, serve_shard
from whistle.cluster.wire import (
    BAD_REQUEST,
    NOT_OWNER,
    OK,
    Execute,
    decode_reply,
    encode_request,
)
from whistle.coord import Venue
from whistle.core.commands import (
    MAX_ORDER_ID,
    CancelOrder,
    EndSession,
    HaltTrading,
    NewOrder,
    ResumeTrading,
)
from whistle.core.events import OrderAccepted, OrderExpired, OrderRejected
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from collections.abc import Iterator

    from nats.aio.client import Client

SID = 5


@pytest.fixture(autouse=True)
def _nats() -> None:
    require_nats()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


def _buy(oid: int, price: int = 100, **kw: int) -> NewOrder:
    return NewOrder(SID, oid, 1, 1, 1, 1, price, 1, **kw)


async def _open(nc: Client, names: ClusterNames, shard: int, token: int) -> ShardSequencer:
    seq = ShardSequencer(nc, names, shard, token, fence=lambda: True, clock=Clock())
    await seq.open()
    return seq


# ------------------------------------------------------------------ findings


def test_one_symbol_id_is_never_defined_in_two_shards(prefix: str) -> None:
    names = ClusterNames(prefix)

    async def go() -> tuple[int, int]:
        nc = await connect()
        try:
            a = await _open(nc, names, 0, 1)
            b = await _open(nc, names, 1, 1)
            try:
                assert (await a.define(Instrument(symbol="AAA", symbol_id=SID))).status == OK
                # Another shard, the same id (a second front end racing, or a raw request).
                same_id = await b.define(Instrument(symbol="CCC", symbol_id=SID))
                # Another shard, the same name under another id.
                same_name = await b.define(Instrument(symbol="AAA", symbol_id=SID + 1))
                return same_id.status, same_name.status
            finally:
                await a.close(snapshot=False)
                await b.close(snapshot=False)
        finally:
            await nc.close()

    assert run(go()) == (BAD_REQUEST, BAD_REQUEST)


def test_a_caller_chosen_top_order_id_never_locks_automatic_ids_out(prefix: str) -> None:
    names = ClusterNames(prefix)

    async def go() -> list[object]:
        nc = await connect()
        try:
            seq = await _open(nc, names, 0, 1)
            try:
                await seq.define(Instrument(symbol="AAA", symbol_id=SID))
                (top,) = (await seq.execute([_buy(MAX_ORDER_ID)])).events
                assert type(top[0]) is OrderAccepted
                (auto,) = (await seq.execute([_buy(0, price=99)])).events
                return auto
            finally:
                await seq.close(snapshot=False)
        finally:
            await nc.close()

    auto = run(go())
    # Today: OrderRejected order_id=2**63 reason 1024, and so for every later automatic id.
    assert type(auto[0]) is OrderAccepted, auto


def test_an_older_token_cannot_append_after_a_newer_owner_opened(prefix: str) -> None:
    # Finding 3 (fixed by the take-over fence): the older owner's append used to be
    # stored and acknowledged, and the legitimate owner's next one refused.
    names = ClusterNames(prefix)

    async def go() -> tuple[int, int, str | None, int, str | None, int]:
        nc = await connect()
        try:
            first = await _open(nc, names, 0, 1)
            await first.define(Instrument(symbol="AAA", symbol_id=SID))
            assert (await first.execute([_buy(1)])).status == OK
            # The old holder stalls believing its lease (its fence is its own view);
            # token 2 takes over and rebuilds from the log.
            newer = await _open(nc, names, 0, 2)
            assert newer.rebuild_report["fenced"] == 1
            log_before = await newer.log.last_seq()
            stale = await first.execute([_buy(2)])
            log_after = await newer.log.last_seq()
            fresh = await newer.execute([_buy(3)])
            first_stopped, newer_stopped = first.stopped, newer.stopped
            await first.close(snapshot=False)
            await newer.close(snapshot=False)
            # a third owner rebuilds both orders of the log, and not the refused one
            third = await _open(nc, names, 0, 3)
            try:
                engine = third.symbols[SID].engine
                orders = [i for i in (1, 2, 3) if engine.order(i) is not None]
            finally:
                await third.close(snapshot=False)
            assert orders == [1, 3]
            return (
                log_after - log_before,
                stale.status,
                first_stopped,
                fresh.status,
                newer_stopped,
                third.rebuild_report["fenced"],
            )
        finally:
            await nc.close()

    stored, stale_status, first_stopped, fresh_status, newer_stopped, fenced = run(go())
    assert stored == 0  # nothing of the older owner's reached the log
    assert stale_status == NOT_OWNER  # and it acknowledged nothing
    assert first_stopped is not None
    assert "refused" in first_stopped
    assert (fresh_status, newer_stopped, fenced) == (OK, None, 1)


# ------------------------------------------------------------------ probes that hold


def test_hostile_requests_are_rejected_unlogged_and_the_shard_serves_on(prefix: str) -> None:
    names = ClusterNames(prefix)

    async def go() -> None:
        nc = await connect()
        try:
            seq = await _open(nc, names, 0, 1)
            other = await _open(nc, names, 1, 1)  # shard 1 holds symbol 6
            sub = await serve_shard(seq)
            try:
                await seq.define(Instrument(symbol="AAA", symbol_id=SID))
                await other.define(Instrument(symbol="BBB", symbol_id=SID + 1))
                other_before = await other.log.last_seq()
                log = CommandLog(nc.jetstream(), names, 0)
                before = await log.last_seq()
                subject = names.req_subject(0)
                garbage = [b"", b"\xff\x00garbage", b"\x93\x01\x02\x03" * 1000, b"\xc1" * 64]
                for payload in garbage:
                    reply = decode_reply((await nc.request(subject, payload, timeout=10)).data)
                    assert reply.status == BAD_REQUEST
                with pytest.raises(Exception, match="maximum payload"):
                    await nc.request(subject, b"x" * (nc.max_payload + 1), timeout=10)
                hostile = [
                    NewOrder(999, 1, 1, 1, 1, 1, 100, 1),  # unknown symbol
                    NewOrder(SID + 1, 1, 1, 1, 1, 1, 100, 1),  # another shard's symbol
                    NewOrder(SID, -1, 1, 1, 1, 1, 100, 1),  # order id out of range
                    NewOrder(SID, 2**64 - 1, 1, 1, 1, 1, 100, 1),
                    NewOrder(SID, 1, -7, 1, 1, 1, 100, 1),  # account
                    NewOrder(SID, 1, 1, 9, 1, 1, 100, 1),  # side
                    NewOrder(SID, 1, 1, 1, 1, 1, 2**63 - 1, 1),  # price
                    NewOrder(SID, 1, 1, 1, 1, 1, 100, 2**63),  # qty
                    CancelOrder(SID, 0),
                ]
                data = encode_request(Execute(hostile))
                reply = decode_reply((await nc.request(subject, data, timeout=10)).data)
                assert reply.status == OK
                assert len(reply.events) == len(hostile)
                for events in reply.events:
                    assert [type(e) for e in events] == [OrderRejected]
                    assert events[0].seq == 0  # an edge reject, never sequenced
                assert await log.last_seq() == before  # nothing logged
                assert await other.log.last_seq() == other_before
                ok = encode_request(Execute([_buy(1)]))
                reply = decode_reply((await nc.request(subject, ok, timeout=10)).data)
                assert reply.status == OK
                assert type(reply.events[0][0]) is OrderAccepted
            finally:
                await sub.unsubscribe()
                await seq.close(snapshot=False)
                await other.close(snapshot=False)
        finally:
            await nc.close()

    run(go())


def test_a_fenced_sequencer_appends_nothing(prefix: str) -> None:
    names = ClusterNames(prefix)

    async def go() -> None:
        nc = await connect()
        try:
            valid = [True]
            seq = ShardSequencer(nc, names, 0, 1, fence=lambda: valid[0], clock=Clock())
            await seq.open()
            await seq.define(Instrument(symbol="AAA", symbol_id=SID))
            before = await seq.log.last_seq()
            valid[0] = False  # the lease expired
            reply = await seq.execute([_buy(1)])
            assert reply.status != OK
            assert reply.events == [] or all(not e for e in reply.events)
            assert await seq.log.last_seq() == before
            assert seq.want_ticks() == 0
            await seq.close(snapshot=False)
        finally:
            await nc.close()

    run(go())


def test_a_sequencer_opened_later_fences_the_first_never_interleaved(prefix: str) -> None:
    names = ClusterNames(prefix)

    async def go() -> None:
        nc = await connect()
        try:
            first = await _open(nc, names, 0, 1)
            await first.define(Instrument(symbol="AAA", symbol_id=SID))
            late = await _open(nc, names, 0, 2)  # fences AAA after the Define
            refused = await first.execute([_buy(1)])
            assert refused.status == NOT_OWNER  # nothing of it logged: a front end may resend
            assert first.stopped is not None
            assert (await late.execute([_buy(2)])).status == OK
            assert (await late.execute([_buy(3)])).status == OK
            assert late.stopped is None
            records = [rec async for _, _, rec in late.log.read()]
            ids = [c.order_id for rec in records for c in getattr(rec, "commands", [])]
            assert ids == [2, 3]
            assert [type(r).__name__ for r in records[:2]] == ["Define", "Fenced"]
            await first.close(snapshot=False)
            await late.close(snapshot=False)
        finally:
            await nc.close()

    run(go())


def test_rebuild_after_halts_and_gtd_expiries_equals_the_live_state(prefix: str) -> None:
    names = ClusterNames(prefix)

    async def go() -> None:
        nc = await connect()
        try:
            clock = Clock()
            seq = ShardSequencer(nc, names, 0, 1, fence=lambda: True, clock=clock, max_batch=4)
            await seq.open()
            await seq.define(Instrument(symbol="AAA", symbol_id=SID))
            await seq.execute(
                [NewOrder(SID, 1, 1, 1, 1, 4, 100, 5, expire_ts_ns=clock.now + 1_500_000)]
            )
            assert seq.symbols[SID].engine.order(1) is not None
            (flow,) = (await seq.execute([NewOrder(SID, 2, 2, 2, 1, 1, 101, 5)])).events
            assert type(flow[0]) is OrderAccepted
            assert seq.symbols[SID].engine.order(1) is None  # expired by the batch's clock
            assert await seq.snapshot() > 0
            await seq.execute([HaltTrading(SID)])
            halted = await seq.execute([NewOrder(SID, 3, 2, 2, 1, 1, 99, 2)])
            await seq.execute([ResumeTrading(SID)])
            gtd = NewOrder(SID, 4, 1, 1, 1, 4, 98, 5, expire_ts_ns=clock.now + 2_000_000)
            await seq.execute([gtd, NewOrder(SID, 5, 2, 2, 1, 1, 100, 1)])
            for _ in range(200):
                if not seq.symbols[SID].engine.live_gtd:
                    break
                seq.want_ticks()
                await asyncio.sleep(0.02)
            assert seq.symbols[SID].engine.live_gtd == 0
            assert halted.status == OK
            hashes = seq.state_hashes()
            await seq.close(snapshot=False)
            rebuilt = await _open(nc, names, 0, 2)
            assert rebuilt.rebuild_report["snapshot"] is not None
            assert rebuilt.state_hashes() == hashes
            await rebuilt.close(snapshot=False)
            scratch = await _open(nc, names, 0, 3)  # the log alone: the same state
            assert scratch.state_hashes() == hashes
            await scratch.close(snapshot=False)
        finally:
            await nc.close()

    run(go())


def test_gtd_expiry_events_come_from_the_clock(prefix: str) -> None:
    names = ClusterNames(prefix)

    async def go() -> list[int]:
        nc = await connect()
        try:
            clock = Clock()
            seq = ShardSequencer(nc, names, 0, 1, fence=lambda: True, clock=clock)
            await seq.open()
            await seq.define(Instrument(symbol="AAA", symbol_id=SID))
            got: list[int] = []

            async def on_msg(msg: object) -> None:
                from whistle.cluster.log import decode_events

                for e in decode_events(msg.data).events:  # type: ignore[attr-defined]
                    if type(e) is OrderExpired:
                        got.append(e.order_id)

            sub = await nc.subscribe(names.evt_wildcard(), cb=on_msg)
            gtd = NewOrder(SID, 7, 1, 1, 1, 4, 100, 5, expire_ts_ns=clock.now + 2_500_000)
            (accepted,) = (await seq.execute([gtd])).events
            assert type(accepted[0]) is OrderAccepted
            for _ in range(200):
                if got:
                    break
                seq.want_ticks()
                await asyncio.sleep(0.02)
            await sub.unsubscribe()
            await seq.close(snapshot=False)
            return got
        finally:
            await nc.close()

    assert run(go()) == [7]


def test_a_request_whose_reply_is_too_big_is_answered_or_not_applied(prefix: str) -> None:
    names = ClusterNames(prefix)

    async def go() -> tuple[bool, int, int]:
        nc = await connect()
        try:
            seq = ShardSequencer(nc, names, 0, 1, fence=lambda: True)  # time_ns stamps
            await seq.open()
            sub = await serve_shard(seq)
            try:
                await seq.define(Instrument(symbol="AAA", symbol_id=SID))
                # 50,000 cancels of unknown orders: a 350 KB request, each answered by an
                # engine reject: a 1.35 MB reply (NATS max_payload: 1 MiB).
                commands = [CancelOrder(SID, 100 + i) for i in range(50_000)]
                data = encode_request(Execute(commands))
                assert len(data) < nc.max_payload
                inbox = nc.new_inbox()
                replies = await nc.subscribe(inbox, max_msgs=1)
                await nc.publish(names.req_subject(0), data, reply=inbox)
                for _ in range(3000):
                    if seq.acked >= len(commands):
                        break
                    await asyncio.sleep(0.01)
                try:
                    await replies.next_msg(timeout=3.0)
                    answered = True
                except TimeoutError:
                    answered = False
                await replies.unsubscribe()
                return answered, seq.acked, len(commands)
            finally:
                await sub.unsubscribe()
                await seq.close(snapshot=False)
        finally:
            await nc.close()

    answered, applied, sent = run(go())
    # Today: every command is logged and applied (applied == sent) and no answer comes:
    # the front end reports "outcome unknown" for 50,000 acknowledged-in-the-log commands.
    assert answered or applied == 0, (answered, applied, sent)


def test_a_client_order_id_repeat_after_end_session_is_what_the_venue_does(prefix: str) -> None:
    # Finding 6 (fixed: a key's session is counted at queue time, not at apply time).
    names = ClusterNames(prefix)
    inst = Instrument(symbol="AAA", symbol_id=SID)
    order = _buy(1, client_order_id=77)
    venue = Venue()
    try:
        venue.add_instrument(inst)
        venue.send(order)
        expected = [
            (type(e).__name__, e.enq_seq) for e in venue.send_many([EndSession(SID), order])
        ]
    finally:
        venue.stop()

    async def go() -> list[tuple[str, int]]:
        nc = await connect()
        try:
            seq = await _open(nc, names, 0, 1)
            try:
                await seq.define(inst)
                await seq.execute([order])
                _, again = (await seq.execute([EndSession(SID), order])).events
                return [(type(e).__name__, e.enq_seq) for e in again]
            finally:
                await seq.close(snapshot=False)
        finally:
            await nc.close()

    # The venue: [("OrderRejected", 3)] (a new session's command: order id 1 is live);
    # the cluster used to answer [("DuplicateClientOrder", 0), ("OrderAccepted", 1)].
    assert expected == [("OrderRejected", 3)]
    assert run(go()) == expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_client_order_ids_across_sessions_match_the_venue_under_group_commit(
    prefix: str, seed: int
) -> None:
    # Repeats, mismatched repeats and EndSessions in random order, sent to the shard as
    # overlapping requests (the later ones queue behind entries still in flight): every
    # command's events are the venue's for the same stream, and a rebuild agrees.
    import random

    rng = random.Random(seed)
    names = ClusterNames(prefix)
    inst = Instrument(symbol="AAA", symbol_id=SID)
    commands: list[NewOrder | EndSession] = []
    for oid in range(1, 61):
        if rng.random() < 0.12:
            commands.append(EndSession(SID))
        coid = rng.choice([0, 11, 12, 13])
        price = 100 + rng.choice([0, 0, 1])  # a mismatched repeat now and then
        commands.append(_buy(oid, price=price, client_order_id=coid))
    venue = Venue()
    try:
        venue.add_instrument(inst)
        expected = [[(type(e).__name__, e.enq_seq) for e in venue.send(c)] for c in commands]
        venue_hash = venue.state_hashes()["AAA"]
    finally:
        venue.stop()
    cuts = sorted(rng.sample(range(1, len(commands)), 8))
    chunks = [commands[a:b] for a, b in zip([0, *cuts], [*cuts, len(commands)], strict=True)]

    async def go() -> tuple[list[list[tuple[str, int]]], str, str]:
        nc = await connect()
        try:
            seq = await _open(nc, names, 0, 1)
            try:
                await seq.define(inst)
                replies = await asyncio.gather(*(seq.execute(list(c)) for c in chunks))
                assert all(r.status == OK for r in replies)
                got = [
                    [(type(e).__name__, e.enq_seq) for e in events]
                    for r in replies
                    for events in r.events
                ]
                live = seq.state_hashes()[SID]
            finally:
                await seq.close(snapshot=False)
            again = await _open(nc, names, 0, 2)
            try:
                rebuilt = again.state_hashes()[SID]
            finally:
                await again.close(snapshot=False)
            return got, live, rebuilt
        finally:
            await nc.close()

    got, live, rebuilt = run(go())
    assert got == expected
    assert live == rebuilt == venue_hash


def test_a_symbol_an_older_owner_defines_after_the_take_over_is_adopted(prefix: str) -> None:
    # The take-over fences the symbols the new owner knows. A symbol the older owner
    # defines afterwards is a fresh subject: its commands are stored and acknowledged.
    # They must not be lost: the new owner adopts the symbol (reads its records, fences
    # it) when asked to define it, and a rebuild from a snapshot that does not cover it
    # reads it from the stream (its subject is listed) instead of failing or dropping it.
    names = ClusterNames(prefix)
    aaa = Instrument(symbol="AAA", symbol_id=SID)
    bbb = Instrument(symbol="BBB", symbol_id=SID + 1)

    def bbb_buy(oid: int) -> NewOrder:
        return NewOrder(SID + 1, oid, 1, 1, 1, 1, 100, 1)

    async def go() -> None:
        nc = await connect()
        try:
            old = await _open(nc, names, 0, 1)
            await old.define(aaa)
            new = await _open(nc, names, 0, 2)
            assert (await old.define(bbb)).status == OK  # a fresh subject: not fenced
            assert (await old.execute([bbb_buy(1)])).status == OK  # acknowledged
            # the new owner does not know BBB yet: its orders are refused, nothing logged
            (unknown,) = (await new.execute([bbb_buy(7)])).events
            assert type(unknown[0]) is OrderRejected
            for oid in range(1, 6):  # its heads move past BBB's Define
                assert (await new.execute([_buy(oid)])).status == OK
            assert await new.snapshot() > 0  # a snapshot that does not cover BBB
            assert (await old.execute([bbb_buy(2)])).status == OK  # still unfenced
            # a rebuild from that snapshot finds BBB in the stream's subjects, below the
            # snapshot's heads, and reads it from its Define
            third = ShardSequencer(nc, names, 0, 3, fence=lambda: False, clock=Clock())
            await third.open()
            assert third.rebuild_report["snapshot"] is not None
            assert third.rebuild_report["fallbacks"] == []
            engine = third.symbols[SID + 1].engine
            assert [i for i in (1, 2) if engine.order(i) is not None] == [1, 2]
            await third.close(snapshot=False)
            # the new owner adopts BBB: both acknowledged orders, then a fence
            adopted = await new.define(bbb)
            assert (adopted.status, adopted.detail) == (OK, "exists")
            engine = new.symbols[SID + 1].engine
            assert [i for i in (1, 2) if engine.order(i) is not None] == [1, 2]
            refused = await old.execute([bbb_buy(3)])
            assert refused.status == NOT_OWNER
            assert (await new.execute([bbb_buy(4)])).status == OK
            hashes = new.state_hashes()
            await new.close(snapshot=False)
            await old.close(snapshot=False)
            last = await _open(nc, names, 0, 4)
            try:
                assert last.state_hashes() == hashes
            finally:
                await last.close(snapshot=False)
        finally:
            await nc.close()

    run(go())


def test_an_older_owner_never_adopts_a_symbol_a_newer_one_defined(prefix: str) -> None:
    names = ClusterNames(prefix)
    aaa = Instrument(symbol="AAA", symbol_id=SID)
    bbb = Instrument(symbol="BBB", symbol_id=SID + 1)

    async def go() -> tuple[int, str | None, int, str | None]:
        nc = await connect()
        try:
            old = await _open(nc, names, 0, 5)
            await old.define(aaa)
            new = await _open(nc, names, 0, 6)
            assert (await new.define(bbb)).status == OK
            # the older owner sees BBB's subject written under token 6: it stops, and
            # fences nothing (the newer owner goes on)
            refused = await old.define(bbb)
            old_stopped = old.stopped
            fresh = await new.execute([NewOrder(SID + 1, 1, 1, 1, 1, 1, 100, 1)])
            new_stopped = new.stopped
            await old.close(snapshot=False)
            await new.close(snapshot=False)
            return refused.status, old_stopped, fresh.status, new_stopped
        finally:
            await nc.close()

    refused, old_stopped, fresh, new_stopped = run(go())
    assert refused == NOT_OWNER
    assert old_stopped is not None
    assert "newer" in old_stopped
    assert (fresh, new_stopped) == (OK, None)
