"""Exceptions of the trading layer's strategy side. Expected outcomes are values, not these.

Hierarchy::

    WhistleError (whistle.core)
    └── TradingError                 base of the strategy / context / gateway exceptions
        ├── StrategyConfigError      load_strategy: a bad spec, file, key or value (ValueError)
        ├── StrategyError            a strategy callback raised: .callback, .cause
        ├── OrderStateError          an OrderUpdate that the order's state cannot take
        └── GatewayError             a gateway cannot do what it was asked (venue stopped)

When each is raised:

- ``StrategyConfigError``: only by ``whistle.trading.config.load_strategy`` (and a
  ``Strategy`` constructor given a config of the wrong type), before anything trades. The
  message names the spec, the file and the key (``key`` holds the key's path, e.g.
  ``"qty_lots"``, or ``None`` when the problem is not one key).
- ``StrategyError``: by runtimes (backtest, pipeline, orchestrator) that call a strategy's
  callback and catch what it raised; ``callback`` is the callback's name (``"on_book"``) and
  ``cause`` the original exception (also ``__cause__``):
  ``raise StrategyError("on_book", exc, "MarketMaker") from exc``.
- ``OrderStateError``: by ``Context.apply_update`` when an update contradicts the order's
  state table (a second ACCEPTED, a fill after the order was done): the gateway or the
  runtime broke its contract, which is a bug to surface, not to hide.
- ``GatewayError``: by a gateway whose venue refuses to work at all (stopped, journal
  unavailable). An order the venue refuses is a REJECTED ``OrderUpdate``, never this.

A bad *action* of a strategy (a quantity or price that is not positive, an unknown client
order id) is not an exception: see ``whistle.trading.context`` (a REJECTED update with
``RiskReason.MALFORMED`` from risk, or ``False`` from ``cancel`` / ``modify``). A value of
the wrong type (a float price, a bool quantity) is a ``TypeError`` raised at the call.
"""

from __future__ import annotations

from whistle.core.errors import WhistleError

__all__ = [
    "GatewayError",
    "OrderStateError",
    "StrategyConfigError",
    "StrategyError",
    "TradingError",
]


class TradingError(WhistleError):
    """Base class of the trading layer's exceptions."""


class StrategyConfigError(TradingError, ValueError):
    """A strategy cannot be loaded or configured; the message names spec, file and key."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        """The offending key's path (``"risk.max_position"``), or None."""
        self.source = source
        """The config file (or ``"<dict>"``) the problem is in, or None."""


class StrategyError(TradingError):
    """A strategy callback raised. ``callback`` names it, ``cause`` is what it raised."""

    def __init__(self, callback: str, cause: BaseException, strategy: str = "") -> None:
        where = f"{strategy}.{callback}" if strategy else callback
        super().__init__(f"strategy callback {where} raised {type(cause).__name__}: {cause}")
        self.callback = callback
        self.cause = cause
        self.strategy = strategy
        self.__cause__ = cause


class OrderStateError(TradingError):
    """An ``OrderUpdate`` that the order's state table does not allow."""


class GatewayError(TradingError):
    """A gateway cannot reach or use its venue at all (not an order's rejection)."""
