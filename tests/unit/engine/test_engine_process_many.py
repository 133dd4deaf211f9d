"""``Whistle.process_many``: one call per batch, the same events as ``process`` per command."""

from __future__ import annotations

import pytest
from engine_kit import GTD, Harness, buy, cancel, modify, sell

from whistle.bench.mixes import generate_mix
from whistle.engine import Whistle


@pytest.mark.parametrize("mix_name", ["exchange-core", "plain"])
def test_batches_give_the_events_of_single_commands(mix_name):
    mix = generate_mix(mix_name, 3_000, seed=3)
    one, many = Whistle(mix.instrument), Whistle(mix.instrument)
    pairs = list(enumerate([*mix.prefill, *mix.commands], 1))
    want = []
    for enq, command in pairs:
        want.extend(one.process(enq, command, 0))
    got = []
    for start in range(0, len(pairs), 97):  # uneven batches
        got.extend(many.process_many(pairs[start : start + 97], 0))
    assert got == want
    assert many.state_hash() == one.state_hash()
    many.validate_internal_state()


def test_batch_runs_due_expiries_first_and_keeps_enq_seq_rules():
    h = Harness()
    h.setup(buy(1, 100, 5, tif=GTD, expire_ts_ns=2_000))
    eng = h.eng
    events = eng.process_many([(10, sell(2, 101, 1)), (11, modify(2, price=102))], 2_000)
    assert [type(e).__name__ for e in events][:3] == [
        "OrderExpired",
        "BookLevelChanged",
        "BestBidOfferChanged",
    ]
    assert events[0].enq_seq == 0
    assert {e.enq_seq for e in events[3:]} == {10, 11}
    assert eng.process_many([], 2_000) == []
    with pytest.raises(ValueError, match="last processed 12, was 12"):
        eng.process_many([(12, cancel(2)), (12, cancel(2))], 2_000)
    # The command before the bad pair ran; its events wait for drain().
    assert next(type(e).__name__ for e in eng.drain()) == "OrderCancelled"


def test_batch_after_enqueue_goes_through_the_queue():
    h = Harness()
    eng = h.eng
    eng.enqueue(1, buy(1, 100, 5))
    events = eng.process_many([(2, sell(2, 100, 2))], 1_000)
    assert [e.enq_seq for e in events if type(e).__name__ == "OrderAccepted"] == [1, 2]
    assert eng.pending == 0
