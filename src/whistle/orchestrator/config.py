"""A trading pair's configuration, validated completely before anything is written.

``validate_pair(symbol, strategy, params, risk, engine, account, exchange)`` imports the
strategy class and builds it with ``params`` (``whistle.trading.config.load_strategy``:
unknown class, unknown keys and wrong types are refused naming the key), converts
``risk`` to ``RiskLimits`` (unknown keys, wrong types, negative limits refused) and checks
the rest; it returns a ``PairConfig`` whose ``strategy_config`` / ``risk_config`` dicts are
what the registry stores. Nothing reaches the database or the venue before it returns.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

import msgspec

from whistle.orchestrator.errors import SymbolConfigError
from whistle.trading.config import load_strategy, read_config
from whistle.trading.errors import StrategyConfigError, StrategyError
from whistle.trading.risk import RiskLimits

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from whistle.trading.strategy import Strategy

__all__ = ["ENGINES", "EXCHANGES", "PairConfig", "build_strategy", "validate_pair"]

ENGINES: Final = ("simple", "durable")
EXCHANGES: Final = ("inprocess",)
_SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,49}")
_MAX_ACCOUNT: Final = (1 << 63) - 1


class PairConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A validated pair: what the registry row holds."""

    symbol: str
    exchange: str
    strategy_config: dict[str, Any]
    risk_config: dict[str, Any]

    @property
    def engine(self) -> str:
        """``simple`` or ``durable``."""
        return str(self.strategy_config["engine"])

    @property
    def account(self) -> int:
        """The venue account the pair trades on."""
        return int(self.strategy_config["account"])


def _risk(risk: str | Path | Mapping[str, Any] | None, symbol: str) -> dict[str, Any]:
    try:
        data, source = read_config(risk)
    except StrategyConfigError as exc:
        raise SymbolConfigError(f"{symbol}: risk config: {exc}") from None
    try:
        limits = msgspec.convert(data, RiskLimits)
    except msgspec.ValidationError as exc:
        raise SymbolConfigError(f"{symbol}: risk config {source}: {exc}") from None
    out: dict[str, Any] = msgspec.to_builtins(limits)
    for key, value in out.items():
        if type(value) is int and value < 0:
            raise SymbolConfigError(
                f"{symbol}: risk config: {key} must be >= 0 (0 = off), was {value}"
            )
    return out


def validate_pair(
    symbol: str,
    strategy: str,
    params: str | Path | Mapping[str, Any] | None = None,
    risk: str | Path | Mapping[str, Any] | None = None,
    *,
    engine: str = "simple",
    account: int = 1,
    exchange: str = "inprocess",
) -> PairConfig:
    """Check every part of a pair's configuration; raise ``SymbolConfigError`` naming the
    first problem (see the module docstring)."""
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        raise SymbolConfigError(
            "symbol must be 1-50 characters of letters, digits and ._:/- (starting with a"
            f" letter or digit), was {symbol!r}"
        )
    if engine not in ENGINES:
        raise SymbolConfigError(
            f"{symbol}: engine must be one of {', '.join(ENGINES)}, was {engine!r}"
        )
    if exchange not in EXCHANGES:
        raise SymbolConfigError(
            f"{symbol}: exchange must be one of {', '.join(EXCHANGES)}, was {exchange!r}"
        )
    if type(account) is not int or not 1 <= account <= _MAX_ACCOUNT:
        raise SymbolConfigError(f"{symbol}: account must be an int >= 1, was {account!r}")
    if not isinstance(strategy, str) or ":" not in strategy:
        raise SymbolConfigError(f"{symbol}: strategy must be 'module:Class', was {strategy!r}")
    try:
        data, _source = read_config(params)
        # the original ``params`` (the file's path when it is one), so a bad key is
        # reported naming the file, not "<dict>" (R2 finding 4)
        load_strategy(strategy, params)
    except (StrategyConfigError, StrategyError) as exc:
        raise SymbolConfigError(f"{symbol}: {exc}") from None
    return PairConfig(
        symbol=symbol,
        exchange=exchange,
        strategy_config={
            "class": strategy,
            "params": msgspec.to_builtins(data),
            "engine": engine,
            "account": account,
        },
        risk_config=_risk(risk, symbol),
    )


def build_strategy(strategy_config: Mapping[str, Any]) -> Strategy:
    """A fresh strategy instance from a registry row's ``strategy_config``."""
    return load_strategy(str(strategy_config["class"]), dict(strategy_config["params"]))
