"""The shard command log on a real JetStream: both append guards, and the codec.

- a republished message id is stored once (JetStream dedup): applied once on read;
- ``Nats-Expected-Last-Subject-Sequence`` refuses a second sequencer of a symbol, so the
  subject never holds the two sequencers' records interleaved;
- every command type round-trips through the log byte for byte.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from nats_support import connect, purge, require_nats, run, unique_prefix

from whistle.cluster.log import (
    Batch,
    ClusterNames,
    CommandLog,
    Define,
    LogError,
    SequencerConflict,
    decode_record,
    encode_record,
)
from whistle.core.commands import (
    CancelOrder,
    CancelReplace,
    EndSession,
    HaltTrading,
    MassCancel,
    ModifyOrder,
    NewOrder,
    ResumeTrading,
)
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.usefixtures("nats_server")

SID = 7


@pytest.fixture
def nats_server() -> None:
    require_nats()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = unique_prefix()
    yield p
    run(purge(p))


def _order(oid: int, price: int = 100) -> NewOrder:
    return NewOrder(SID, oid, 1, 1, 1, 1, price, 10)


def test_republished_message_id_is_stored_once(prefix: str) -> None:
    async def go() -> list[tuple[int, int, object]]:
        nc = await connect()
        try:
            log = CommandLog(nc.jetstream(), ClusterNames(prefix), 3)
            await log.ensure()
            batch = Batch(1, 1_000, [_order(1), _order(2)])
            seq1, dup1 = await log.append(SID, batch, expected_last=0, token=5)
            # The retry of a sequencer that missed the acknowledgement: same id, same guard.
            seq2, dup2 = await log.append(SID, batch, expected_last=0, token=5)
            assert (seq1, dup1) == (1, False)
            assert (seq2, dup2) == (1, True)
            assert await log.last_seq() == 1
            return [item async for item in log.read()]
        finally:
            await nc.close()

    records = run(go())
    assert records == [(1, SID, Batch(1, 1_000, [_order(1), _order(2)]))]


def test_second_sequencer_is_refused_never_interleaved(prefix: str) -> None:
    async def go() -> None:
        a = await connect()
        b = await connect()
        try:
            names = ClusterNames(prefix)
            log_a = CommandLog(a.jetstream(), names, 0)
            log_b = CommandLog(b.jetstream(), names, 0)
            await log_a.ensure()
            await log_b.ensure()  # a second ensure keeps the stream
            seq, _ = await log_a.append(SID, Batch(1, 10, [_order(1)]), expected_last=0, token=1)
            # B believes the subject empty (it never saw A's record): refused.
            with pytest.raises(SequencerConflict) as info:
                await log_b.append(SID, Batch(1, 11, [_order(1, 99)]), expected_last=0, token=2)
            assert info.value.symbol_id == SID
            assert info.value.expected_last == 0
            # B learns the subject's head and takes over from there; A, still believing its
            # own record is the head, is now the one refused.
            head = await log_b.last_subject_seq(SID)
            assert head == seq
            b2 = Batch(2, 12, [_order(2)])
            seq_b, _ = await log_b.append(SID, b2, expected_last=head, token=2)
            with pytest.raises(SequencerConflict):
                await log_a.append(SID, Batch(2, 13, [_order(2, 98)]), expected_last=seq, token=1)
            # Another symbol's subject has its own head: A may still write there.
            b3 = Batch(1, 14, [_order(1)])
            other, _ = await log_a.append(SID + 1, b3, expected_last=0, token=1)
            records = [item async for item in log_a.read()]
            assert [(s, sym, r.first_enq_seq) for s, sym, r in records] == [  # type: ignore[union-attr]
                (seq, SID, 1),
                (seq_b, SID, 2),
                (other, SID + 1, 1),
            ]
            assert records[1][2] == Batch(2, 12, [_order(2)])
        finally:
            await a.close()
            await b.close()

    run(go())


def test_every_command_type_round_trips(prefix: str) -> None:
    commands = [
        _order(1),
        NewOrder(SID, 2, 3, 2, 2, 1, 0, 5, stop_price_ticks=90, client_order_id=77),
        CancelOrder(SID, 1, 1),
        CancelOrder(SID, 1),
        ModifyOrder(SID, 2, 101, 4, account=3),
        CancelReplace(SID, 2, 9, 102, 3, account=3, client_order_id=78),
        MassCancel(SID, 3),
        MassCancel(SID),
        HaltTrading(SID),
        ResumeTrading(SID),
        EndSession(SID),
    ]
    instrument = Instrument(symbol="A.B*>", symbol_id=SID, tick_size="0.05")

    async def go() -> list[object]:
        nc = await connect()
        try:
            log = CommandLog(nc.jetstream(), ClusterNames(prefix), 1)
            await log.ensure()
            s1, _ = await log.append(SID, Define(instrument), expected_last=0, token=1)
            await log.append(SID, Batch(1, 5, commands), expected_last=s1, token=1)
            return [record async for _, _, record in log.read()]
        finally:
            await nc.close()

    assert run(go()) == [Define(instrument), Batch(1, 5, commands)]
    for record in (Define(instrument), Batch(1, 5, commands), Batch(12, 6, [])):
        assert decode_record(encode_record(record)) == record


def test_garbage_bytes_are_a_log_error() -> None:
    with pytest.raises(LogError, match="not a command-log record"):
        decode_record(b"\x93\x01\x02")


def test_bad_prefix_and_shard_are_refused() -> None:
    for bad in ("", "Upper", "a.b", "a*", "1abc", "x" * 40):
        with pytest.raises(ValueError, match="prefix"):
            ClusterNames(bad)
    with pytest.raises(ValueError, match="shard"):
        CommandLog(None, ClusterNames(), -1)  # type: ignore[arg-type]
