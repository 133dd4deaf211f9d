"""FixedRateSchedule: exact intended times; wait_until never waits when late."""

from __future__ import annotations

import pytest

from whistle.metrics import FixedRateSchedule, wait_until


def test_intended_times_are_exact_and_do_not_drift():
    schedule = FixedRateSchedule(3, 1_000)
    assert [schedule.at(i) for i in range(4)] == [1_000, 333_334_333, 666_667_666, 1_000_001_000]
    # 10**12 events later the error is still below one ns (no accumulated rounding)
    assert schedule.at(3 * 10**12) == 1_000 + 10**21
    big = FixedRateSchedule(1_000_000, 0)
    assert big.interval_ns == 1_000
    assert big.at(10**9) == 10**12
    it = iter(schedule)
    assert [next(it) for _ in range(3)] == [schedule.at(i) for i in range(3)]


@pytest.mark.parametrize("rate", [1, 3, 7, 1_000, 999_983, 3_000_000_000])
def test_due_counts_the_sends_whose_time_has_come(rate: int):
    schedule = FixedRateSchedule(rate, 500)
    for now in [*range(0, 2_000, 37), 500 + 10**9 - 1, 500 + 10**9, 500 + 10**9 + 1, 10**10]:
        due = schedule.due(now)
        # the definition: events 0 .. due-1 are due (at <= now), event `due` is not yet
        assert schedule.at(due) > now, (rate, now)
        assert due == 0 or schedule.at(due - 1) <= now, (rate, now)


@pytest.mark.parametrize(
    ("rate", "start", "error"),
    [(0, 0, ValueError), (-5, 0, ValueError), (1.5, 0, ValueError), (10, 1.0, TypeError)],
)
def test_bad_schedules(rate: object, start: object, error: type[Exception]):
    with pytest.raises(error):
        FixedRateSchedule(rate, start)  # type: ignore[arg-type]


def test_wait_until_returns_at_once_when_late_and_waits_when_early():
    calls = []

    def late_clock() -> int:
        calls.append(1)
        return 5_000

    assert wait_until(1_000, late_clock) == 5_000
    assert len(calls) == 1
    ticks = iter(range(0, 10_000, 100))
    assert wait_until(950, lambda: next(ticks), spin_ns=10**9) == 1_000
