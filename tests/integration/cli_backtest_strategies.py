"""Hostile strategies for the ``whistle backtest`` tests (loaded as ``module:Class``)."""

from __future__ import annotations

from typing import Any

from whistle.trading.strategy import Strategy


class Raises(Strategy):
    """Raises on the first book event: the run must not report figures."""

    def on_book(self, ctx: Any, book: Any) -> None:
        raise RuntimeError("boom in on_book")


class Interrupted(Strategy):
    """Stands for Ctrl-C in the middle of a run (KeyboardInterrupt from a callback)."""

    def on_book(self, ctx: Any, book: Any) -> None:
        raise KeyboardInterrupt


class NotAStrategy:
    """A class that is not a Strategy subclass."""
