"""Intended send times at a fixed offered rate: the basis of coordinated-omission-free latency.

Coordinated omission: a load generator that waits for the system before sending the next
event sends *less* while the system stalls, so the stall shows up as one slow sample instead
of as every event that should have been sent meanwhile. The fix (Gil Tene's): decide every
send time in advance from the offered rate, send event ``i`` at ``schedule.at(i)`` or as soon as
possible after it if behind (never skip, never wait for a reply), stamp the event with that
*intended* time, and measure latency at each stage as ``now - intended`` with
:meth:`LatencyRecorder.record_from_intended`. A stall then delays every event queued behind it,
and the percentiles show it.

Times are ints in ns on ``time.perf_counter_ns`` (the same monotonic clock in every process on
Linux); send times are computed exactly, ``start_ns + i * 10**9 // rate_per_s``, so they never
drift however long the run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final, final

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["FixedRateSchedule", "wait_until"]

_SPIN_NS: Final = 200_000  # below this distance to the deadline, spin instead of sleeping


def wait_until(
    deadline_ns: int,
    clock: Callable[[], int] = time.perf_counter_ns,
    *,
    spin_ns: int = _SPIN_NS,
) -> int:
    """Wait until ``clock() >= deadline_ns`` (sleep while far, spin when close); return clock().

    Returns at once when the deadline has already passed (a late sender must not wait more).
    """
    now = clock()
    while now < deadline_ns:
        left = deadline_ns - now
        if left > spin_ns:
            time.sleep((left - spin_ns) / 1e9)
        now = clock()
    return now


@final
class FixedRateSchedule:
    """The intended send time of every event of a fixed-rate stream: ``at(i)``."""

    __slots__ = ("rate_per_s", "start_ns")

    def __init__(self, rate_per_s: int, start_ns: int) -> None:
        if type(rate_per_s) is not int or rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be a positive int, was {rate_per_s!r}")
        if type(start_ns) is not int:
            raise TypeError(f"start_ns must be an int, was {type(start_ns).__name__}")
        self.rate_per_s = rate_per_s
        self.start_ns = start_ns

    def __repr__(self) -> str:
        return f"FixedRateSchedule(rate_per_s={self.rate_per_s}, start_ns={self.start_ns})"

    @property
    def interval_ns(self) -> int:
        """Nominal gap between sends, rounded down (``at`` itself is exact)."""
        return 1_000_000_000 // self.rate_per_s

    def at(self, i: int) -> int:
        """Intended send time of event ``i`` (0-based)."""
        return self.start_ns + i * 1_000_000_000 // self.rate_per_s

    def due(self, now_ns: int) -> int:
        """How many events should have been sent by ``now_ns`` (events 0 .. due-1)."""
        if now_ns < self.start_ns:
            return 0
        # at(i) <= now  <=>  i * 10**9 < (now - start + 1) * rate
        return -(-(now_ns - self.start_ns + 1) * self.rate_per_s // 1_000_000_000)

    def __iter__(self) -> Iterator[int]:
        """The intended times at(0), at(1), ... (endless)."""
        i = 0
        start, rate = self.start_ns, self.rate_per_s
        while True:
            yield start + i * 1_000_000_000 // rate
            i += 1
