"""Replies of any size (R2 finding 5): a reply past NATS's max_payload is split into PART
messages by the node and read whole by the front end's ClusterClient; the parts are
checked (order, count), and a shard nobody serves is still "no responders"."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from nats_support import connect, purge, require_nats, run, unique_prefix

from whistle.cluster.control import ShardMap
from whistle.cluster.frontend import ClusterClient
from whistle.cluster.log import ClusterNames
from whistle.cluster.sequencer import ShardSequencer, serve_shard
from whistle.cluster.wire import (
    NOT_OWNER,
    OK,
    PART,
    Execute,
    Reply,
    ReplyParts,
    decode_reply,
    encode_reply,
    reply_messages,
)
from whistle.core.commands import CancelOrder
from whistle.core.events import OrderRejected
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from collections.abc import Iterator

SID = 3


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


def test_a_split_reply_reassembles_and_a_broken_one_is_refused() -> None:
    reply = Reply(OK, "x" * 5000, value=bytes(range(256)) * 40)
    messages = reply_messages(reply, 1000)
    assert len(messages) > 1
    assert all(len(m) <= 1000 for m in messages)
    assert all(decode_reply(m).status == PART for m in messages)
    parts = ReplyParts()
    got = [parts.add(m) for m in messages]
    assert got[:-1] == [None] * (len(messages) - 1)
    assert got[-1] == reply
    # A small reply is one plain message.
    assert reply_messages(Reply(OK), 1000) == [encode_reply(Reply(OK))]
    # Out of order, or a whole reply in the middle of a split one: an error, never a reply.
    with pytest.raises(ValueError, match="reply part"):
        ReplyParts().add(messages[1])
    broken = ReplyParts()
    broken.add(messages[0])
    with pytest.raises(ValueError, match="whole reply"):
        broken.add(encode_reply(Reply(OK)))


def test_a_reply_past_max_payload_reaches_the_front_end_whole(prefix: str) -> None:
    require_nats()
    names = ClusterNames(prefix)

    async def go() -> tuple[Reply, Reply, int, int]:
        nc = await connect()
        try:
            seq = ShardSequencer(nc, names, 0, 1, fence=lambda: True)
            await seq.open()
            sub = await serve_shard(seq)
            client = ClusterClient(nc, names, ShardMap(2), timeout_s=30.0, retry_s=0.2)
            try:
                await seq.define(Instrument(symbol="AAA", symbol_id=SID))
                commands = [CancelOrder(SID, 100 + i) for i in range(50_000)]
                # Started together on a fresh client (one reply inbox made for both).
                big, small = await asyncio.gather(
                    client.request(0, Execute(commands)), client.request(0, Execute(commands[:2]))
                )
                assert small.status == OK
                assert len(small.events) == 2
                nobody = await client.request(1, Execute(commands[:1]))
                return big, nobody, nc.max_payload, seq.replies_failed
            finally:
                await client.close()
                await sub.unsubscribe()
                await seq.close(snapshot=False)
        finally:
            await nc.close()

    big, nobody, max_payload, failed = run(go())
    assert big.status == OK, big.detail
    assert len(encode_reply(big)) > max_payload  # it did need splitting
    assert len(big.events) == 50_000
    assert all(len(e) == 1 and type(e[0]) is OrderRejected for e in big.events)
    assert [e[0].order_id for e in big.events] == [100 + i for i in range(50_000)]  # type: ignore[union-attr]
    assert failed == 0
    assert nobody.status == NOT_OWNER
