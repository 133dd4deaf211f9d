"""A fixed offered rate without coordinated omission: every event has an intended send time.

At ``rate`` events per second event ``i`` is *intended* for ``start + i * 1e9 / rate``
(monotonic ns). The market-data stage waits until that time (spinning for the last
``spin_ns``, sleeping before; see ``_default_spin_ns``), and latency is measured from the
intended time, not from when the event was actually read: if the pipeline falls behind,
the events that queue up behind a slow one carry their waiting time in their latency,
instead of the slow moment being recorded once (coordinated omission). ``rate == 0``
means "as fast as possible": the origin is then the time the event was read.
"""

from __future__ import annotations

import os
import time
from typing import final

__all__ = ["Pacer"]

_SPIN_NS = 2_000_000  # a normal task's sleep may wake late by the timer slack and a time slice
_SPIN_NS_REALTIME = 50_000  # a real-time task's sleep wakes on time (no timer slack)


def _default_spin_ns() -> int:
    """Spin the last 2 ms of a wait; 50 us under a real-time policy (``chrt -f``).

    A real-time task that spun most of every period would also run into the kernel's
    real-time throttling (``sched_rt_runtime_us``: 95% of each second), which stalls it
    for 50 ms every second.
    """
    policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else 0
    realtime = policy in (getattr(os, "SCHED_FIFO", -1), getattr(os, "SCHED_RR", -1))
    return _SPIN_NS_REALTIME if realtime else _SPIN_NS


@final
class Pacer:
    """Intended send times at ``rate`` events/s from ``start_ns`` (see the module doc)."""

    __slots__ = ("_i", "period_ns", "rate", "spin_ns", "start_ns")

    def __init__(self, rate: int, start_ns: int | None = None, spin_ns: int | None = None) -> None:
        if type(rate) is not int or rate < 0:
            raise ValueError(f"rate must be an int >= 0 (events per second), was {rate!r}")
        self.rate = rate
        self.period_ns = 1_000_000_000 / rate if rate else 0.0
        self.start_ns = time.monotonic_ns() if start_ns is None else start_ns
        self.spin_ns = _default_spin_ns() if spin_ns is None else spin_ns
        self._i = 0

    def next(self) -> int:
        """Wait for the next event's intended time and return it (now, if unpaced)."""
        if not self.rate:
            return time.monotonic_ns()
        intended = self.start_ns + int(self._i * self.period_ns)
        self._i += 1
        monotonic_ns = time.monotonic_ns
        now = monotonic_ns()
        if intended - now > self.spin_ns:
            time.sleep((intended - now - self.spin_ns) / 1e9)
        while monotonic_ns() < intended:
            pass
        return intended
