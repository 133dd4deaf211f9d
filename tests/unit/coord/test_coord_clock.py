"""SimulationClock: virtual and real time, tick numbering, the session end."""

from __future__ import annotations

import pytest

from whistle.coord.runtime.clock import ClockMode, SimulationClock


def test_virtual_time_moves_only_when_told():
    clock = SimulationClock(start_ns=100)
    assert clock.now() == 100
    tick = clock.advance(50)
    assert (tick.number, tick.now_ns, tick.session_ended) == (1, 150, False)
    assert clock.now() == 150
    tick = clock.advance_to(1_000)
    assert (tick.number, tick.now_ns) == (2, 1_000)
    assert clock.tick().number == 3
    assert clock.now() == 1_000


def test_time_never_goes_backwards():
    clock = SimulationClock(start_ns=10)
    with pytest.raises(ValueError, match="backwards: now is 10, was 9"):
        clock.advance_to(9)
    with pytest.raises(ValueError, match="delta_ns must be >= 0, was -1"):
        clock.advance(-1)


def test_recorded_timestamps_drive_the_clock():
    clock = SimulationClock()
    stamps = [5, 5, 17, 40]
    assert [clock.advance_to(ts).now_ns for ts in stamps] == stamps
    assert clock.tick_number == 4


def test_session_end_is_announced_once_by_the_tick_that_reaches_it():
    clock = SimulationClock(session_end_ns=100)
    assert not clock.advance_to(99).session_ended
    assert clock.advance_to(100).session_ended
    assert not clock.advance_to(200).session_ended
    clock.start_session(300)
    assert clock.advance_to(500).session_ended


def test_invalid_sessions_are_refused():
    with pytest.raises(ValueError, match="session_end_ns must be after start_ns 10"):
        SimulationClock(start_ns=10, session_end_ns=10)
    clock = SimulationClock(start_ns=50)
    with pytest.raises(ValueError, match="session end must be after now"):
        clock.start_session(50)


def test_real_clock_reads_its_source_relative_to_the_start():
    readings = iter([1_000, 1_000, 1_250, 1_900])
    clock = SimulationClock(mode=ClockMode.REAL, start_ns=7, source=lambda: next(readings))
    assert clock.now() == 7  # origin read at construction: 1_000 - 7
    assert clock.tick().now_ns == 257
    assert clock.now() == 907
    with pytest.raises(ValueError, match="virtual clock"):
        clock.advance_to(2_000)


def test_real_clock_never_goes_backwards_even_if_the_source_does():
    readings = iter([100, 500, 300])
    clock = SimulationClock(mode=ClockMode.REAL, source=lambda: next(readings))
    assert clock.tick().now_ns == 400
    assert clock.tick().now_ns == 400
