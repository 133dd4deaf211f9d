"""``SimulationClock``: the venue's notion of time.

Two modes behind one interface:

- **virtual** (the default, deterministic): time moves only when the caller says so,
  by a delta (``advance``) or to a timestamp (``advance_to``, e.g. recorded market-data
  timestamps during a replay). Two runs with the same calls see the same times.
- **real**: ``now()`` reads a monotonic clock (injectable, so tests can drive it) relative
  to the clock's start, so a live venue expires GTD orders in wall time.

Every delivered tick gets a number (``tick``); the coordinator uses tick numbers for
activation (``ReadyAtTick``) and idleness. A session end (``session_end_ns``) is announced
once, by the tick that reaches it: the venue then sequences an ``EndSession`` command to
every symbol, so DAY expiry is journaled and replayed like any other command.

Time never passes ``whistle.core.limits.MAX_TS_NS`` (2**63 - 1 ns, inside what the journal
can store): a tick past it is refused with ``ValueError`` before anything changes. A venue
with a journal asks ``prepare`` for the next tick, journals it, and only then ``commit``s
it, so a tick that could not be journaled leaves the clock where it was.
"""

from __future__ import annotations

import time
from enum import Enum
from typing import TYPE_CHECKING, final

from whistle.core.limits import MAX_TS_NS
from whistle.core.validate import show

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ClockMode", "SimulationClock", "Tick"]


class ClockMode(Enum):
    """Where time comes from."""

    VIRTUAL = "virtual"
    REAL = "real"


@final
class Tick:
    """One delivered tick: its number, its time, and whether it ended the session."""

    __slots__ = ("now_ns", "number", "session_ended")

    def __init__(self, number: int, now_ns: int, session_ended: bool) -> None:
        self.number = number
        self.now_ns = now_ns
        self.session_ended = session_ended

    def __repr__(self) -> str:
        return (
            f"Tick(number={self.number}, now_ns={self.now_ns}, session_ended={self.session_ended})"
        )


@final
class SimulationClock:
    """Virtual or real time for a venue, with tick numbering and a session end."""

    def __init__(
        self,
        *,
        mode: ClockMode = ClockMode.VIRTUAL,
        start_ns: int = 0,
        session_end_ns: int | None = None,
        source: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if type(start_ns) is not int:
            raise TypeError(f"start_ns must be an int (ns), was {show(start_ns)}")
        if not 0 <= start_ns <= MAX_TS_NS:
            raise ValueError(f"start_ns must be in 0..{MAX_TS_NS}, was {start_ns}")
        if session_end_ns is not None and type(session_end_ns) is not int:
            raise TypeError(
                f"session_end_ns must be an int (ns) or None, was {show(session_end_ns)}"
            )
        if session_end_ns is not None and session_end_ns <= start_ns:
            raise ValueError(
                f"session_end_ns must be after start_ns {start_ns}, was {session_end_ns}"
            )
        self.mode = mode
        self._now = start_ns
        self._source = source
        self._origin = source() - start_ns if mode is ClockMode.REAL else 0
        self.session_end_ns = session_end_ns
        self.session_ended = False
        self.tick_number = 0

    def now(self) -> int:
        """Return the current time in ns (virtual: the last advanced-to time)."""
        if self.mode is ClockMode.REAL:
            return max(self._now, self._source() - self._origin)
        return self._now

    def advance(self, delta_ns: int) -> Tick:
        """Move virtual time forward by ``delta_ns`` and deliver a tick."""
        if type(delta_ns) is not int:
            raise TypeError(f"delta_ns must be an int (ns), was {show(delta_ns)}")
        if delta_ns < 0:
            raise ValueError(f"delta_ns must be >= 0, was {delta_ns}")
        return self.advance_to(self._now + delta_ns)

    def advance_to(self, now_ns: int) -> Tick:
        """Move virtual time to ``now_ns`` (never backwards) and deliver a tick."""
        tick = self.prepare(now_ns)
        self.commit(tick)
        return tick

    def tick(self) -> Tick:
        """Deliver a tick at the current time (real mode: read the source first)."""
        tick = self.prepare()
        self.commit(tick)
        return tick

    def prepare(self, now_ns: int | None = None) -> Tick:
        """Return the tick ``advance_to(now_ns)`` (``tick()`` when None) would deliver.

        Nothing changes until ``commit``; ``ValueError`` if the time goes backwards, passes
        ``MAX_TS_NS`` or is given to a real clock.
        """
        if now_ns is None:
            now = self.now()
        else:
            if self.mode is ClockMode.REAL:
                raise ValueError("advance_to drives a virtual clock; a real clock reads its source")
            if type(now_ns) is not int:  # a bool or float would be journaled as one
                raise TypeError(f"now_ns must be an int (ns), was {show(now_ns)}")
            if now_ns < self._now:
                raise ValueError(f"time must not go backwards: now is {self._now}, was {now_ns}")
            now = now_ns
        if now > MAX_TS_NS:
            raise ValueError(f"time must be at most {MAX_TS_NS} ns (MAX_TS_NS), was {now}")
        end = self.session_end_ns
        ended = end is not None and not self.session_ended and now >= end
        return Tick(self.tick_number + 1, now, ended)

    def commit(self, tick: Tick) -> None:
        """Make ``tick`` (the one ``prepare`` returned) the current one."""
        if tick.number != self.tick_number + 1 or tick.now_ns < self._now:
            raise ValueError(
                f"commit expects the prepared tick {self.tick_number + 1} at or after"
                f" {self._now}, was {tick!r}"
            )
        self._now = tick.now_ns
        self.tick_number = tick.number
        if tick.session_ended:
            self.session_ended = True

    def restore(self, now_ns: int, tick_number: int) -> None:
        """Put a virtual clock back where a journal says it was (recovery only)."""
        if now_ns > MAX_TS_NS:
            raise ValueError(f"time must be at most {MAX_TS_NS} ns (MAX_TS_NS), was {now_ns}")
        if now_ns < self._now or tick_number < self.tick_number:
            raise ValueError(
                f"restore must not go backwards: now {self._now} / tick {self.tick_number},"
                f" was {now_ns} / {tick_number}"
            )
        self._now = now_ns
        self.tick_number = tick_number
        end = self.session_end_ns
        if end is not None and now_ns >= end:
            self.session_ended = True

    def start_session(self, session_end_ns: int) -> None:
        """Open a new session ending at ``session_end_ns`` (after the current time)."""
        if type(session_end_ns) is not int:
            raise TypeError(f"session_end_ns must be an int (ns), was {show(session_end_ns)}")
        if session_end_ns <= self._now:
            raise ValueError(f"session end must be after now ({self._now}), was {session_end_ns}")
        self.session_end_ns = session_end_ns
        self.session_ended = False
