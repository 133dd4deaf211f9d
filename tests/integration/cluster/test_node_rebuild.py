"""A shard sequencer on a real JetStream: rebuild, fencing, a second sequencer.

- rebuilding a shard from its snapshot plus the stream's tail, or from the stream alone,
  gives engines with the original state hashes, the same next ids, and (re-published)
  exactly the original events;
- a damaged snapshot is refused by name and the shard is rebuilt from the stream;
- a sequencer whose lease is not valid appends nothing and acknowledges nothing; one
  whose lease ends between append and acknowledgement acknowledges and publishes nothing;
- a second sequencer of the same shard is refused by the log and stops, the first goes on;
- a new owner publishes exactly the events the events stream is missing (the dead owner's
  unpublished tail): per symbol seq 1..N, no gap, no duplicate, rebuilt twice;
- the node's clock ticks (empty batches in the log) expire GTD orders with no order flow,
  and a rebuild replays them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from cluster_flow import flow, instruments, per_symbol
from nats_support import Clock, connect, purge, require_nats, run, unique_prefix

from whistle.cluster.log import Batch, ClusterNames, CommandLog, EventLog, decode_events
from whistle.cluster.node import NOT_OWNER, OK, UNAVAILABLE, ShardSequencer
from whistle.core.commands import NewOrder
from whistle.core.events import OrderAccepted, OrderExpired

if TYPE_CHECKING:
    from collections.abc import Iterator

    from whistle.core.commands import Command
    from whistle.core.events import Event

SHARD = 2


@pytest.fixture(autouse=True)
def _nats() -> None:
    require_nats()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


async def _drive(seq: ShardSequencer, commands: list[Command], chunk: int = 7) -> list[Event]:
    # Several requests in flight at once, as front ends send them.
    replies = await asyncio.gather(
        *(seq.execute(commands[i : i + chunk]) for i in range(0, len(commands), chunk))
    )
    out: list[Event] = []
    for reply in replies:
        assert reply.status == OK, reply.detail
        for events in reply.events:
            out.extend(events)
    return out


async def _collect_events(nc: object, names: ClusterNames, sink: list[Event]) -> object:
    async def on_msg(msg: object) -> None:
        sink.extend(decode_events(msg.data).events)  # type: ignore[attr-defined]

    return await nc.subscribe(names.evt_wildcard(), cb=on_msg)  # type: ignore[attr-defined]


def _by_symbol_seq(events: list[Event]) -> dict[int, list[Event]]:
    grouped = per_symbol(events)
    return {k: sorted(v, key=lambda e: e.seq) for k, v in grouped.items()}


@pytest.mark.parametrize("with_snapshot", [True, False])
def test_rebuild_equals_the_original(prefix: str, with_snapshot: bool) -> None:
    names = ClusterNames(prefix)
    insts = instruments(3)
    commands = flow([i.symbol_id for i in insts], 600, seed=11)

    async def go() -> None:
        nc = await connect()
        try:
            published: list[Event] = []
            sub = await _collect_events(nc, names, published)
            first = ShardSequencer(
                nc, names, SHARD, 1, fence=lambda: True, clock=Clock(), max_batch=16
            )
            await first.open()
            for inst in insts:
                assert (await first.define(inst)).status == OK
            acked = await _drive(first, commands[:300])
            if with_snapshot:
                assert await first.snapshot() > 0
            acked += await _drive(first, commands[300:])
            hashes = first.state_hashes()
            next_ids = {k: s.next_oid for k, s in first.symbols.items()}
            await first.close(snapshot=False)
            await nc.flush()
            await asyncio.sleep(0.2)
            await sub.unsubscribe()  # type: ignore[attr-defined]
            # Every acknowledged event was published, in order, per symbol.
            assert _by_symbol_seq(published) == _by_symbol_seq(acked)

            replayed: list[Event] = []
            sub = await _collect_events(nc, names, replayed)
            second = ShardSequencer(nc, names, SHARD, 2, fence=lambda: True, clock=Clock())
            report = await second.open(publish_events=True)
            assert report["fallbacks"] == []
            assert (report["snapshot"] is not None) is with_snapshot
            assert second.state_hashes() == hashes
            assert {k: s.next_oid for k, s in second.symbols.items()} == next_ids
            await nc.flush()
            await asyncio.sleep(0.2)
            await sub.unsubscribe()  # type: ignore[attr-defined]
            original = _by_symbol_seq(acked)
            if with_snapshot:
                # Only the tail after the snapshot is replayed: its events are the
                # original's last ones.
                for sid, events in _by_symbol_seq(replayed).items():
                    assert events == original[sid][-len(events) :]
            else:
                assert _by_symbol_seq(replayed) == original
            # The rebuilt shard goes on where the first stopped.
            await second.close(snapshot=False)
            third = ShardSequencer(nc, names, SHARD, 3, fence=lambda: True, clock=Clock())
            await third.open()
            assert third.state_hashes() == hashes
            await _drive(third, [NewOrder(insts[0].symbol_id, 0, 1, 1, 1, 1, 50, 1)])
            assert third.symbols[insts[0].symbol_id].next_oid == next_ids[insts[0].symbol_id] + 1
            await third.close(snapshot=False)
        finally:
            await nc.close()

    run(go())


def test_damaged_snapshot_falls_back_to_the_stream(prefix: str) -> None:
    names = ClusterNames(prefix)
    insts = instruments(2)
    commands = flow([i.symbol_id for i in insts], 200, seed=5)

    async def go() -> None:
        nc = await connect()
        try:
            first = ShardSequencer(nc, names, SHARD, 1, fence=lambda: True, clock=Clock())
            await first.open()
            for inst in insts:
                await first.define(inst)
            await _drive(first, commands)
            await first.snapshot()
            hashes = first.state_hashes()
            await first.close(snapshot=False)
            store = await nc.jetstream().object_store(names.snap_bucket(SHARD))
            await store.put("latest", b"\x92\x01garbage")
            second = ShardSequencer(nc, names, SHARD, 2, fence=lambda: True, clock=Clock())
            report = await second.open()
            assert len(report["fallbacks"]) == 1  # type: ignore[arg-type]
            assert "refused" in report["fallbacks"][0]  # type: ignore[index]
            assert report["snapshot"] is None
            assert second.state_hashes() == hashes
            await second.close(snapshot=False)
        finally:
            await nc.close()

    run(go())


def test_no_valid_lease_no_append_no_ack(prefix: str) -> None:
    names = ClusterNames(prefix)
    (inst,) = instruments(1)
    sid = inst.symbol_id

    async def go() -> None:
        nc = await connect()
        try:
            valid = [True]
            seq = ShardSequencer(nc, names, SHARD, 1, fence=lambda: valid[0], clock=Clock())
            await seq.open()
            await seq.define(inst)
            log = CommandLog(nc.jetstream(), names, SHARD)
            before = await log.last_seq()
            valid[0] = False
            reply = await seq.execute([NewOrder(sid, 1, 1, 1, 1, 1, 100, 1)])
            assert reply.status == NOT_OWNER
            assert reply.events == []
            assert await log.last_seq() == before
            await seq.close(snapshot=False)

            # The lease ends between the request and the append: refused, nothing logged,
            # and the request is answered (not left waiting).
            once = [0]

            def fence_once() -> bool:
                once[0] += 1
                return once[0] <= 2  # the take-over at open and execute's check

            seq1 = ShardSequencer(nc, names, SHARD, 5, fence=fence_once, clock=Clock())
            await seq1.open()
            assert seq1.rebuild_report["fenced"] == 1  # the take-over is logged
            before = await log.last_seq()
            reply = await asyncio.wait_for(
                seq1.execute([NewOrder(sid, 1, 1, 1, 1, 1, 100, 1)]), timeout=10
            )
            assert reply.status == NOT_OWNER
            assert await log.last_seq() == before
            await seq1.close(snapshot=False)

            # The lease ends while the append is in flight: the command is in the log
            # (a rebuild applies it) but nothing is acknowledged or published.
            calls = [0]

            def fence() -> bool:
                calls[0] += 1
                return calls[0] <= 3  # the take-over, execute's check, the pre-append check

            published: list[Event] = []
            sub = await _collect_events(nc, names, published)
            seq2 = ShardSequencer(nc, names, SHARD, 2, fence=fence, clock=Clock())
            await seq2.open()
            before = await log.last_seq()
            reply = await seq2.execute([NewOrder(sid, 2, 1, 1, 1, 1, 100, 1)])
            assert reply.status == UNAVAILABLE
            assert "not acknowledged" in reply.detail
            assert reply.events == [[]]
            assert seq2.stopped is not None
            assert (await seq2.execute([NewOrder(sid, 3, 1, 1, 1, 1, 100, 1)])).status == NOT_OWNER
            await nc.flush()
            await asyncio.sleep(0.1)
            await sub.unsubscribe()  # type: ignore[attr-defined]
            assert published == []
            assert await log.last_seq() == before + 1
            await seq2.close(snapshot=False)
        finally:
            await nc.close()

    run(go())


def test_second_sequencer_fences_the_first(prefix: str) -> None:
    names = ClusterNames(prefix)
    (inst,) = instruments(1)
    sid = inst.symbol_id

    async def go() -> None:
        a_nc = await connect()
        b_nc = await connect()
        try:
            a = ShardSequencer(a_nc, names, SHARD, 1, fence=lambda: True, clock=Clock())
            await a.open()
            await a.define(inst)
            assert (await a.execute([NewOrder(sid, 1, 1, 1, 1, 1, 100, 5)])).status == OK
            b = ShardSequencer(b_nc, names, SHARD, 2, fence=lambda: True, clock=Clock())
            await b.open()  # rebuilds order 1, then fences the symbol
            refused = await a.execute([NewOrder(sid, 2, 2, 2, 1, 1, 100, 5)])
            assert refused.status == NOT_OWNER  # refused by the log: nothing stored
            assert "another sequencer" in refused.detail
            assert a.stopped is not None
            again = await b.execute([NewOrder(sid, 3, 1, 1, 1, 1, 101, 5)])
            assert again.status == OK
            assert b.stopped is None
            hashes = b.state_hashes()
            await a.close(snapshot=False)
            await b.close(snapshot=False)
            c = ShardSequencer(a_nc, names, SHARD, 3, fence=lambda: True, clock=Clock())
            await c.open()
            assert c.state_hashes() == hashes  # A's late command is nowhere
            engine = c.symbols[sid].engine
            assert [i for i in (1, 2, 3) if engine.order(i) is not None] == [1, 3]
            await c.close(snapshot=False)
        finally:
            await a_nc.close()
            await b_nc.close()

    run(go())


def test_new_owner_fills_the_events_stream_without_gaps_or_duplicates(prefix: str) -> None:
    names = ClusterNames(prefix)
    insts = instruments(2)
    commands = flow([i.symbol_id for i in insts], 240, seed=21)

    async def go() -> None:
        nc = await connect()
        try:
            js = nc.jetstream()
            events = EventLog(nc, names)
            await events.ensure_stream(js)
            first = ShardSequencer(
                nc, names, SHARD, 1, fence=lambda: True, clock=Clock(), event_stream=True
            )
            await first.open()
            for inst in insts:
                await first.define(inst)
            acked = await _drive(first, commands[:160])
            await first.snapshot()
            # The owner's last batches are logged and applied but their events never leave
            # (it dies between the append and the publish).
            lost: list[tuple[int, list[Event]]] = []

            async def vanish(symbol_id: int, evs: list[Event]) -> None:
                lost.append((symbol_id, evs))

            first.events.publish = vanish  # type: ignore[method-assign]
            acked += await _drive(first, commands[160:])
            assert lost
            await first.close(snapshot=False)
            await nc.flush()

            second = ShardSequencer(
                nc, names, SHARD, 2, fence=lambda: True, clock=Clock(), event_stream=True
            )
            await second.open(publish_events=True)
            await nc.flush()
            # Twice: the second rebuild finds everything already there and adds nothing.
            third = ShardSequencer(
                nc, names, SHARD, 3, fence=lambda: True, clock=Clock(), event_stream=True
            )
            await third.open(publish_events=True)
            await nc.flush()
            await asyncio.sleep(0.2)
            stored: list[Event] = []
            info = await js.stream_info(names.evt_stream())
            for seq in range(1, int(info.state.last_seq) + 1):
                msg = await js.get_msg(names.evt_stream(), seq)
                stored.extend(decode_events(msg.data or b"").events)
            grouped = per_symbol(stored)
            for sid, evs in grouped.items():
                assert [e.seq for e in evs] == list(range(1, len(evs) + 1)), sid
            assert grouped == per_symbol(acked)
            await second.close(snapshot=False)
            await third.close(snapshot=False)
        finally:
            await nc.close()

    run(go())


def test_clock_ticks_expire_gtd_orders_without_order_flow(prefix: str) -> None:
    names = ClusterNames(prefix)
    (inst,) = instruments(1)
    sid = inst.symbol_id
    clock = Clock()

    async def go() -> None:
        nc = await connect()
        try:
            published: list[Event] = []
            sub = await _collect_events(nc, names, published)
            seq = ShardSequencer(nc, names, SHARD, 1, fence=lambda: True, clock=clock)
            await seq.open()
            await seq.define(inst)
            gtd = NewOrder(sid, 1, 1, 1, 1, 4, 100, 5, expire_ts_ns=clock.now + 2_500_000)
            (events,) = (await seq.execute([gtd])).events
            assert type(events[0]) is OrderAccepted
            assert seq.want_ticks() == 0  # not due yet: no tick, nothing logged
            ticks = 0
            for _ in range(200):
                if not seq.symbols[sid].engine.live_gtd:
                    break
                ticks += seq.want_ticks()  # due: an idle symbol gets a clock-only batch
                await asyncio.sleep(0.02)
            assert ticks >= 1
            await nc.flush()
            await asyncio.sleep(0.1)
            await sub.unsubscribe()  # type: ignore[attr-defined]
            expired = [e for e in published if type(e) is OrderExpired]
            assert [e.order_id for e in expired] == [1]
            assert expired[0].enq_seq == 0  # the clock caused it
            assert seq.want_ticks() == 0  # nothing left to expire
            hashes = seq.state_hashes()
            await seq.close(snapshot=False)
            rebuilt = ShardSequencer(nc, names, SHARD, 2, fence=lambda: True)
            await rebuilt.open()
            assert rebuilt.state_hashes() == hashes
            assert rebuilt.symbols[sid].engine.live_gtd == 0
            await rebuilt.close(snapshot=False)
        finally:
            await nc.close()

    run(go())


def test_a_request_partly_logged_is_never_answered_send_again(prefix: str) -> None:
    names = ClusterNames(prefix)
    a_inst, b_inst = instruments(2)
    a, b = a_inst.symbol_id, b_inst.symbol_id

    async def go() -> None:
        nc = await connect()
        try:
            seq = ShardSequencer(nc, names, SHARD, 1, fence=lambda: True, clock=Clock())
            await seq.open()
            await seq.define(a_inst)
            await seq.define(b_inst)
            # Someone else writes B's subject: B's next append is refused, A's is stored.
            log = CommandLog(nc.jetstream(), names, SHARD)
            head = await log.last_subject_seq(b)
            await log.append(
                b, Batch(1, 5, [NewOrder(b, 9, 1, 1, 1, 1, 100, 1)]), expected_last=head, token=77
            )
            # A's append is slow: B's refusal (which stops the shard) comes first, while
            # A's record is still on its way.
            real_append = seq.log.append

            async def slow_for_a(symbol_id: int, *args: Any, **kw: Any) -> tuple[int, bool]:
                if symbol_id == a:
                    await asyncio.sleep(0.3)
                return await real_append(symbol_id, *args, **kw)

            seq.log.append = slow_for_a  # type: ignore[method-assign]
            reply = await seq.execute(
                [NewOrder(a, 1, 1, 1, 1, 1, 100, 1), NewOrder(b, 1, 1, 1, 1, 1, 100, 1)]
            )
            assert seq.stopped is not None
            # Not NOT_OWNER ("send it all again": A would be entered twice).
            assert reply.status == UNAVAILABLE
            assert reply.events[0]
            assert type(reply.events[0][0]) is OrderAccepted
            assert reply.events[1] == []
            await seq.close(snapshot=False)
        finally:
            await nc.close()

    run(go())
