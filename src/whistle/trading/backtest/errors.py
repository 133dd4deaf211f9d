"""Exceptions of the backtest. Expected outcomes (a rejected order, a risk denial) are
``OrderUpdate`` values, never these.

Hierarchy::

    WhistleError (whistle.core)
    └── TradingError (whistle.trading.errors)
        └── BacktestError            a run that cannot finish: no result is returned
            ├── BacktestConfigError  a config that cannot run (unknown queue model, bad
            │                        units, a symbol the data does not have) (ValueError)
            └── LatencyFileError     a recorded latency CSV that is missing or malformed:
                                     names the file and the line (ValueError)

When each is raised: only by ``run_backtest`` and the objects it builds, before or during a
run. A strategy callback that raises, a feed that errors (``whistle.feed.FeedError``) or
ends inside a message (``TruncatedFileError``) is re-raised as a ``BacktestError`` whose
``__cause__`` is the original exception; the run's numbers are discarded.
"""

from __future__ import annotations

from whistle.trading.errors import TradingError

__all__ = ["BacktestConfigError", "BacktestError", "LatencyFileError"]


class BacktestError(TradingError):
    """A backtest run that cannot finish; no result is returned."""


class BacktestConfigError(BacktestError, ValueError):
    """A backtest configuration that cannot run; the message names the field."""


class LatencyFileError(BacktestError, ValueError):
    """A recorded latency file that cannot be used; the message names the file and line."""

    def __init__(self, path: str, line: int, detail: str) -> None:
        where = f"{path}: line {line}" if line else path
        super().__init__(f"{where}: {detail}")
        self.path = path
        self.line = line
