"""A per-callback time budget: a strategy callback that runs too long is interrupted.

How it works (no thread, no per-callback system call): ``CallbackBudget.arm()`` installs a
``SIGALRM`` handler and a periodic interval timer (``setitimer(ITIMER_REAL)``, every
``period_s``). The strategy stage stores the monotonic time at which a callback starts in
``started_ns`` (one attribute store) and 0 when it returns. On each timer tick the handler
(which Python runs in the main thread, between two bytecodes of whatever is running, and
which also interrupts a blocking ``sleep``) checks ``started_ns``: if a callback has run
longer than ``budget_ns`` it raises ``CallbackTimeout`` inside that callback. The stage
catches it like any exception of the strategy: the strategy is stopped with the cause
("on_book ran over its 50 ms budget"), its open orders are cancelled, the other strategies
go on.

``CallbackTimeout`` derives from ``BaseException`` so that a strategy's ``except
Exception`` cannot swallow it. A strategy that catches ``BaseException`` in its loop, or
that is stuck inside one C call that never returns to the interpreter, cannot be
interrupted this way: the handler raises again at every tick, and in the process runtime
the strategy stage stops sending heartbeats, so the supervisor declares the stage dead,
SIGKILLs it and the risk stage cancels every open order (``whistle.trading.pipeline.
processes``). In process nothing can stop such a callback: use the process runtime for
untrusted strategies.

Only the main thread of a process can own the timer (a ``ValueError`` otherwise);
``disarm()`` restores the previous handler and stops the timer.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["CallbackBudget", "CallbackTimeout"]


class CallbackTimeout(BaseException):
    """A strategy callback ran longer than its budget (raised inside the callback)."""


@final
class CallbackBudget:
    """Interrupt a callback that has run longer than ``budget_ns`` (see the module doc)."""

    __slots__ = ("_armed", "_previous", "budget_ns", "overruns", "period_s", "started_ns")

    def __init__(self, budget_ns: int, period_s: float | None = None) -> None:
        if type(budget_ns) is not int or budget_ns <= 0:
            raise ValueError(f"budget_ns must be a positive int, was {budget_ns!r}")
        self.budget_ns = budget_ns
        self.period_s = period_s if period_s is not None else max(budget_ns / 4e9, 0.001)
        if not self.period_s > 0:
            raise ValueError(f"period_s must be positive, was {period_s!r}")
        self.started_ns = 0
        """Monotonic ns at which the running callback started; 0 while none runs."""
        self.overruns = 0
        """Callbacks interrupted so far."""
        self._armed = False
        self._previous: Any = None

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        started = self.started_ns
        if started and time.monotonic_ns() - started > self.budget_ns:
            self.overruns += 1
            raise CallbackTimeout(f"ran over its budget of {self.budget_ns / 1e6:g} ms")

    def arm(self) -> None:
        """Install the SIGALRM handler and start the periodic timer (main thread only)."""
        if self._armed:
            return
        if threading.current_thread() is not threading.main_thread():
            raise ValueError("a callback budget needs the main thread (it uses SIGALRM)")
        self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.period_s, self.period_s)
        self._armed = True

    def disarm(self) -> None:
        """Stop the timer and restore the previous SIGALRM handler. Idempotent."""
        if not self._armed:
            return
        signal.setitimer(signal.ITIMER_REAL, 0.0, 0.0)
        signal.signal(signal.SIGALRM, self._previous)
        self._armed = False
        self.started_ns = 0
