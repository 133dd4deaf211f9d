"""Idempotent order entry on a shard: (symbol, account, client_order_id) is taken once.

- a repeat (also one without an order id, also one sent while the original is still in
  flight) changes nothing, logs nothing and answers [DuplicateClientOrder, *the
  original's events]; a different command under the key is refused (seq 0);
- the table survives a rebuild from the snapshot and from the log alone;
- EndSession lets the symbol's keys go.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import msgspec
import pytest
from cluster_flow import instruments
from nats_support import connect, purge, require_nats, run, unique_prefix

from whistle.cluster.log import ClusterNames, CommandLog
from whistle.cluster.node import OK, ClientOrderAnswer, Query, ShardSequencer
from whistle.core.commands import EndSession, NewOrder
from whistle.core.enums import ClientOrderOutcome
from whistle.core.events import DuplicateClientOrder, OrderAccepted, OrderRejected
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from collections.abc import Iterator

SHARD = 1


@pytest.fixture(autouse=True)
def _nats() -> None:
    require_nats()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


def test_client_order_ids_are_taken_once(prefix: str) -> None:
    names = ClusterNames(prefix)
    (inst,) = instruments(1)
    sid = inst.symbol_id
    order = NewOrder(sid, 0, 4, 1, 1, 1, 100, 3, client_order_id=55)

    async def go() -> None:
        nc = await connect()
        try:
            log = CommandLog(nc.jetstream(), names, SHARD)
            seq = ShardSequencer(nc, names, SHARD, 1, fence=lambda: True)
            await seq.open()
            await seq.define(inst)
            # The original and a repeat sent together: one is entered, one answered.
            first, again = await asyncio.gather(seq.execute([order]), seq.execute([order]))
            assert first.status == again.status == OK
            (accepted, *_) = first.events[0]
            assert type(accepted) is OrderAccepted
            dup, *original = again.events[0]
            assert type(dup) is DuplicateClientOrder
            assert dup.order_id == accepted.order_id
            assert dup.original_enq_seq == accepted.enq_seq
            assert dup.outcome == ClientOrderOutcome.ACCEPTED
            assert dup.seq == dup.enq_seq == 0
            assert original == [e for e in first.events[0] if getattr(e, "order_id", 0)]
            records = await log.last_seq()
            # The explicit id of the original is the same command too; another price is not.
            same = msgspec.structs.replace(order, order_id=accepted.order_id)
            (repeat,) = (await seq.execute([same])).events
            assert type(repeat[0]) is DuplicateClientOrder
            other = msgspec.structs.replace(order, price_ticks=101)
            (refused,) = (await seq.execute([other])).events
            assert type(refused[0]) is OrderRejected
            assert refused[0].reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID
            assert refused[0].seq == 0
            assert await log.last_seq() == records  # nothing logged for any of them
            answer = msgspec.msgpack.decode(
                seq.query(Query("client_order", account=4, client_order_id=55)).value,
                type=ClientOrderAnswer | None,
            )
            assert answer is not None
            assert (answer.symbol_id, answer.enq_seq) == (sid, accepted.enq_seq)
            await seq.snapshot()
            await seq.close(snapshot=False)

            # From the snapshot, and from the log alone, the key is still taken.
            for drop_snapshot in (False, True):
                if drop_snapshot:
                    await nc.jetstream().delete_object_store(names.snap_bucket(SHARD))
                again_seq = ShardSequencer(nc, names, SHARD, 2, fence=lambda: True)
                report = await again_seq.open()
                assert (report["snapshot"] is None) is drop_snapshot
                (events,) = (await again_seq.execute([order])).events
                assert type(events[0]) is DuplicateClientOrder
                assert events[0].order_id == accepted.order_id
                await again_seq.close(snapshot=False)

            # EndSession lets the key go: the same client order id enters a new order.
            last = ShardSequencer(nc, names, SHARD, 3, fence=lambda: True)
            await last.open()
            assert (await last.execute([EndSession(sid)])).status == OK
            (fresh,) = (await last.execute([order])).events
            assert type(fresh[0]) is OrderAccepted
            assert fresh[0].order_id != accepted.order_id
            await last.close(snapshot=False)
        finally:
            await nc.close()

    run(go())
