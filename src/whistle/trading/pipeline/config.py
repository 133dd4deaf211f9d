"""What a pipeline run is made of: symbols, strategies, risk limits, the gateway.

``PipelineConfig`` is a msgspec Struct (``forbid_unknown_fields``) so that the process
runtime can hand it to every stage process as bytes, and a TOML/JSON file can hold it.
Strategies are named ``"module:Class"`` (``whistle.trading.config.load_strategy``), the
risk engine by a factory ``"module:function"`` called as ``factory(risk, symbols)`` and the
gateway by one called as ``factory(symbols, account, **gateway_options)`` (``symbols``:
symbol id -> name) that returns a ``Gateway``.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

__all__ = [
    "DEFAULT_GATEWAY",
    "DEFAULT_RISK_ENGINE",
    "STAGES",
    "PipelineConfig",
    "StrategySpec",
]

DEFAULT_GATEWAY: Final = "whistle.trading.pipeline.venue:venue_gateway"
"""The default gateway: a ``VenueGateway`` on a fresh in-process whistle ``Venue``."""

DEFAULT_RISK_ENGINE: Final = "whistle.trading.pipeline.wiring:risk_engine"
"""The default risk engine: ``whistle.trading.risk.RiskEngine`` with ``risk`` as its
``RiskConfig``."""

STAGES: Final = ("market_data", "strategy", "risk", "gateway", "tick_to_order")
"""Latency histograms, by index: the time from an event's origin (its intended send time
at a fixed offered rate, else when the market-data stage read it) *into* each stage, and
into ``Gateway.send`` of the first order it caused (``tick_to_order``)."""


class StrategySpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One strategy on one symbol: ``"module:Class"``, its config (a dict) and its id."""

    strategy: str
    symbol: str
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    strategy_id: int = 0
    """0: the spec's 1-based position in ``PipelineConfig.strategies``."""


class PipelineConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A pipeline: symbols (name -> feed instrument id), strategies, risk and gateway."""

    symbols: dict[str, int]
    strategies: list[StrategySpec]
    account: int = 1
    risk: dict[str, Any] = msgspec.field(default_factory=dict)
    """The ``whistle.trading.risk.RiskConfig`` as a mapping (``default``, ``per_symbol``,
    ``per_account``); converted strictly by the risk engine factory."""
    risk_engine: str = DEFAULT_RISK_ENGINE
    """``"module:function"`` called as ``factory(risk, symbols)`` -> a ``RiskEngine``."""
    gateway: str = DEFAULT_GATEWAY
    gateway_options: dict[str, Any] = msgspec.field(default_factory=dict)
    callback_budget_ns: int = 0
    """Per-callback time budget of a strategy (0: none); see ``pipeline.budget``."""
    record: bool = True
    """Keep every signal, decision, order and update in the result (tests, small runs)."""

    def symbol_names(self) -> dict[int, str]:
        """Return symbol id -> name."""
        return {sid: name for name, sid in self.symbols.items()}

    def strategy_ids(self) -> list[int]:
        """Return each strategy's id (its own, or its 1-based position)."""
        return [spec.strategy_id or i for i, spec in enumerate(self.strategies, 1)]

    def check(self) -> None:
        """Raise ``ValueError`` naming the first inconsistency."""
        if not self.symbols:
            raise ValueError("a pipeline needs at least one symbol")
        if len(set(self.symbols.values())) != len(self.symbols):
            raise ValueError(f"symbol ids must be unique, were {self.symbols}")
        for name, sid in self.symbols.items():
            if type(sid) is not int or not 0 < sid < 1 << 32:
                raise ValueError(f"symbol {name!r}: id must be an int in 1..2**32-1, was {sid!r}")
        if not self.strategies:
            raise ValueError("a pipeline needs at least one strategy")
        for spec in self.strategies:
            if spec.symbol not in self.symbols:
                raise ValueError(
                    f"strategy {spec.strategy} trades {spec.symbol!r}, which is not one of the "
                    f"pipeline's symbols {sorted(self.symbols)}"
                )
        ids = self.strategy_ids()
        if len(set(ids)) != len(ids):
            raise ValueError(f"strategy ids must be unique, were {ids}")
        if self.callback_budget_ns < 0:
            raise ValueError(f"callback_budget_ns must be >= 0, was {self.callback_budget_ns}")
        for what, factory in (("gateway", self.gateway), ("risk_engine", self.risk_engine)):
            if ":" not in factory:
                raise ValueError(f"{what} must be 'module:function', was {factory!r}")
