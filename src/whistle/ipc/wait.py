"""Idle strategy for a side of a ring that has nothing to do.

A waiting side first spins (cheapest wake-up, burns a core), then yields its time slice with
``time.sleep(0)``, then sleeps with exponential backoff up to ``max_sleep`` so that an idle
producer or consumer costs (almost) no CPU.
"""

from __future__ import annotations

import time
from typing import final

__all__ = ["WaitStrategy"]


@final
class WaitStrategy:
    """Spin ``spin`` times, yield ``yields`` times, then sleep ``min_sleep``..``max_sleep``.

    The strategy is stateless: the caller counts its unsuccessful attempts and passes the count
    to :meth:`idle`, resetting it to zero whenever it makes progress.  One instance can therefore
    be shared by any number of rings and threads.
    """

    __slots__ = ("_max_sleep", "_min_sleep", "_spin", "_yield_until")

    def __init__(
        self,
        spin: int = 200,
        yields: int = 20,
        min_sleep: float = 10e-6,
        max_sleep: float = 1e-3,
    ) -> None:
        if spin < 0 or yields < 0:
            raise ValueError(f"spin and yields must be >= 0, seen spin={spin}, yields={yields}")
        if not 0.0 < min_sleep <= max_sleep:
            raise ValueError(
                f"expected 0 < min_sleep <= max_sleep, seen min_sleep={min_sleep}, "
                f"max_sleep={max_sleep}"
            )
        self._spin = spin
        self._yield_until = spin + yields
        self._min_sleep = min_sleep
        self._max_sleep = max_sleep

    @classmethod
    def busy(cls) -> WaitStrategy:
        """A strategy that practically never sleeps: lowest latency, burns a whole core."""
        return cls(spin=1 << 62, yields=0)

    @property
    def spin(self) -> int:
        return self._spin

    @property
    def yields(self) -> int:
        return self._yield_until - self._spin

    @property
    def min_sleep(self) -> float:
        return self._min_sleep

    @property
    def max_sleep(self) -> float:
        return self._max_sleep

    def idle(self, attempt: int) -> None:
        """Wait once; ``attempt`` is the number of unsuccessful attempts so far (from 0)."""
        if attempt < self._spin:
            return
        if attempt < self._yield_until:
            time.sleep(0)
            return
        step = attempt - self._yield_until
        delay = self._min_sleep * (1 << step) if step < 32 else self._max_sleep
        time.sleep(delay if delay < self._max_sleep else self._max_sleep)

    def __repr__(self) -> str:
        return (
            f"WaitStrategy(spin={self._spin}, yields={self.yields}, "
            f"min_sleep={self._min_sleep}, max_sleep={self._max_sleep})"
        )
