"""Strategies that attack the orchestrator: used by its tests, crash tests and benchmark.

They are ordinary ``Strategy`` classes (``whistle.orchestrator.testing:Burst`` ...), so a
spawned child process can load them by name like any other.

- ``Burst``: on every book change, send ``per_book`` 1-lot orders alternately at the best
  bid and best ask (they trade against the simulated flow or rest), at most ``orders``
  in one actor life: a burst of placements to kill in the middle of.
- ``Raiser``: raises in ``on_book`` after ``after`` book events (the supervisor's case).
- ``Hanger``: sleeps ``seconds`` in ``on_book`` once ``after`` book events were seen (a
  hung actor); other symbols must keep trading meanwhile.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar, final

import msgspec

from whistle.trading.strategy import Strategy

if TYPE_CHECKING:
    from collections.abc import Mapping

    from whistle.trading.context import Context
    from whistle.trading.strategy import BookView

__all__ = ["Burst", "BurstConfig", "Hanger", "HangerConfig", "Raiser", "RaiserConfig"]


class BurstConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``Burst`` settings."""

    orders: int = 200
    """Orders per actor life."""
    per_book: int = 2
    """Orders per book event."""


@final
class Burst(Strategy):
    """A burst of 1-lot orders at the touch (see the module docstring)."""

    Config: ClassVar[type[msgspec.Struct]] = BurstConfig

    def __init__(self, config: msgspec.Struct | Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        assert isinstance(cfg, BurstConfig)
        self._left = cfg.orders
        self._per_book = cfg.per_book
        self._buy = True

    def on_book(self, ctx: Context, book: BookView) -> None:
        """Send up to ``per_book`` orders."""
        for _ in range(min(self._per_book, self._left)):
            if self._buy and book.best_ask:
                ctx.buy(1, book.best_ask)
            elif book.best_bid:
                ctx.sell(1, book.best_bid)
            else:
                continue
            self._left -= 1
            self._buy = not self._buy


class RaiserConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``Raiser`` settings."""

    after: int = 1


@final
class Raiser(Strategy):
    """Raises ``RuntimeError`` in ``on_book`` after ``after`` book events."""

    Config: ClassVar[type[msgspec.Struct]] = RaiserConfig

    def __init__(self, config: msgspec.Struct | Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        assert isinstance(cfg, RaiserConfig)
        self._left = cfg.after

    def on_book(self, ctx: Context, book: BookView) -> None:
        """Count down, then raise."""
        self._left -= 1
        if self._left < 0:
            raise RuntimeError("the strategy broke on purpose")


class HangerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``Hanger`` settings."""

    after: int = 1
    seconds: float = 3600.0


@final
class Hanger(Strategy):
    """Sleeps ``seconds`` in ``on_book`` once, after ``after`` book events."""

    Config: ClassVar[type[msgspec.Struct]] = HangerConfig

    def __init__(self, config: msgspec.Struct | Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        assert isinstance(cfg, HangerConfig)
        self._left = cfg.after
        self._seconds = cfg.seconds

    def on_book(self, ctx: Context, book: BookView) -> None:
        """Count down, then hang."""
        self._left -= 1
        if self._left == -1:
            time.sleep(self._seconds)
