"""What crosses the rings: markers, the source codec, the control words; the budget alone."""

from __future__ import annotations

import itertools
import signal
import threading
import time

import pytest

from whistle.bench.pipeline import synthetic_events
from whistle.core.events import BestBidOfferChanged
from whistle.trading.messages import MarketEvent, MarketKind
from whistle.trading.pipeline import CallbackBudget, CallbackTimeout, Pacer
from whistle.trading.pipeline.control import STATE_RUNNING, ControlBlock
from whistle.trading.pipeline.records import MARKER_END, MARKER_ROUND, MARKER_TAG, Marker
from whistle.trading.pipeline.stage_main import decode_source, encode_source


def test_a_marker_round_trips_and_is_told_apart_by_its_first_byte() -> None:
    m = Marker(MARKER_ROUND, 7, 123, -5)
    raw = m.pack()
    assert raw[0] == MARKER_TAG
    assert Marker.unpack(raw) == m
    assert Marker.unpack(Marker(MARKER_END, 0, 0, 0).pack()).kind == MARKER_END
    with pytest.raises(ValueError, match="marker record"):
        Marker.unpack(raw[:-1])
    with pytest.raises(ValueError, match="marker kind"):
        Marker.unpack(bytes([MARKER_TAG, 9]) + raw[2:])


def test_the_source_codec_keeps_feed_events_and_market_events_in_order() -> None:
    venue = BestBidOfferChanged(1, 3, 3, 50, 100, 5, 102, 1)
    items = [*synthetic_events(50), venue, MarketEvent(MarketKind.DISCONNECT, 1, 99)]
    assert decode_source(encode_source(items)) == items
    with pytest.raises(TypeError, match="MboEvent, whistle venue Event or MarketEvent"):
        encode_source([object()])  # type: ignore[list-item]


def test_the_control_block_is_shared_and_unlinked_by_its_owner() -> None:
    owner = ControlBlock.create()
    try:
        other = ControlBlock.attach(owner.name)
        other.words[ControlBlock.word(2, 1)] = STATE_RUNNING
        other.words[ControlBlock.word(2, 0)] = 42
        assert owner.state(2) == STATE_RUNNING
        assert owner.heartbeat(2) == 42
        other.close()
        other.close()  # idempotent
    finally:
        owner.close()
    with pytest.raises(FileNotFoundError):
        ControlBlock.attach(owner.name)


def spin_forever() -> None:
    while True:
        pass


def test_the_budget_interrupts_only_a_callback_over_it() -> None:
    budget = CallbackBudget(20_000_000, period_s=0.005)
    previous = signal.getsignal(signal.SIGALRM)
    budget.arm()
    try:
        time.sleep(0.05)  # no callback running: nothing is raised
        budget.started_ns = time.monotonic_ns()
        with pytest.raises(CallbackTimeout, match="budget of 20 ms"):
            spin_forever()
        assert budget.overruns == 1
    finally:
        budget.disarm()
    assert signal.getsignal(signal.SIGALRM) is previous
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_the_budget_needs_the_main_thread_and_a_positive_budget() -> None:
    with pytest.raises(ValueError, match="positive int"):
        CallbackBudget(0)
    errors: list[BaseException] = []

    def arm() -> None:
        try:
            CallbackBudget(1_000_000).arm()
        except ValueError as exc:
            errors.append(exc)

    t = threading.Thread(target=arm)
    t.start()
    t.join()
    assert errors
    assert "main thread" in str(errors[0])


def test_the_pacer_gives_intended_times_at_its_rate() -> None:
    pacer = Pacer(10_000, start_ns=time.monotonic_ns())
    times = [pacer.next() for _ in range(5)]
    assert [b - a for a, b in itertools.pairwise(times)] == [100_000] * 4
    assert time.monotonic_ns() >= times[-1]
    with pytest.raises(ValueError, match="rate must be an int"):
        Pacer(-1)
