"""Strategies and feeds shared by the pipeline tests (in process and across processes).

The in-process tests (tests/unit/trading/pipeline) and the process runtime's parity tests
(tests/integration/test_pipeline_processes.py) drive the same kinds of hostile strategies;
they live here once. A stage process imports a strategy by its ``module:Class`` name, so
this module must be importable by name: each test module puts ``tests/`` on ``sys.path``
before it runs a pipeline (the supervisor hands its ``sys.path`` on to the stages).

Each hostile strategy counts the BBO changes that have both sides, opens its quotes on the
first (a bid ``bid_qty`` x (best bid - ``bid_below``), and an ask 1 x (best ask +
``ask_above``) if ``ask_above``), and misbehaves on the ``at``-th in its own way.
"""

from __future__ import annotations

import abc
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from whistle.bench.pipeline import synthetic_events
from whistle.trading.pipeline import StrategySpec
from whistle.trading.strategy import Strategy

if TYPE_CHECKING:
    from whistle.core.mbo import MboEvent
    from whistle.trading.context import Context
    from whistle.trading.strategy import BookView

TESTS = str(Path(__file__).resolve().parent)
"""The folder to put on ``sys.path`` so that stage processes import this module."""

CHASER = "whistle.bench.pipeline:QuoteChaser"
MM = "whistle.trading.examples:MarketMaker"
SYMBOLS = {"A": 1, "B": 2}


def spec(cls: type[Strategy] | str, symbol: str = "A", **kw: Any) -> StrategySpec:
    """A ``StrategySpec`` for a class (by its ``module:Class`` name) or a spec string."""
    name = cls if isinstance(cls, str) else f"{cls.__module__}:{cls.__qualname__}"
    return StrategySpec(name, symbol, **kw)


def two_symbols(n: int = 600, seeds: tuple[int, int] = (1, 2)) -> list[MboEvent]:
    """Two interleaved synthetic symbols (instrument ids 1 and 2), ``n`` events each."""
    a = synthetic_events(n, seed=seeds[0], instrument_id=1)
    b = synthetic_events(n, seed=seeds[1], instrument_id=2)
    out: list[MboEvent] = []
    for x, y in zip(a, b, strict=True):
        out += (x, y)
    return out


class CountdownConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """When a hostile strategy misbehaves and what it quotes first (see the module doc)."""

    at: int = 10
    bid_qty: int = 1
    bid_below: int = 300
    ask_above: int = 0
    """0: no opening ask."""
    last_bid_below: int = 0
    """On the ``at``-th change, first buy 1 x (best bid - this); 0: nothing."""
    message: str = "strategy bug"
    """``RaiseAt``'s error text."""


class Countdown(Strategy, abc.ABC):
    """Quote on the first two-sided BBO change, call ``misbehave`` on the ``at``-th."""

    Config = CountdownConfig
    config: CountdownConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.n = 0

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        if not (book.best_bid and book.best_ask):
            return
        cfg = self.config
        self.n += 1
        if self.n == 1:
            ctx.buy(cfg.bid_qty, book.best_bid - cfg.bid_below)
            if cfg.ask_above:
                ctx.sell(1, book.best_ask + cfg.ask_above)
        if self.n == cfg.at:
            if cfg.last_bid_below:
                ctx.buy(1, book.best_bid - cfg.last_bid_below)  # sent before it misbehaves
            self.misbehave()

    @abc.abstractmethod
    def misbehave(self) -> None:
        """Misbehave (each subclass in its own way)."""


class RaiseAt(Countdown):
    """Raises ``RuntimeError(message)``."""

    def misbehave(self) -> None:
        raise RuntimeError(self.config.message)


class ExitAt(Countdown):
    """Calls ``sys.exit(2)`` (raises ``SystemExit``)."""

    def misbehave(self) -> None:
        raise SystemExit(2)


class SpinAt(Countdown):
    """Spins in bytecode until its callback budget interrupts it."""

    def misbehave(self) -> None:
        while True:
            pass


class UnstoppableAt(Countdown):
    """Blocks SIGALRM (the budget's timer) and spins for ever: only a kill stops it."""

    def misbehave(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        while True:
            pass
