"""The pipeline, wired in ONE place: the four stages and how a round flows through them.

The stages (each built by the function of its number, in ``STAGE_BUILDERS``; the in-process
runtime builds all four here, each stage process of the process runtime builds its own)::

    1. market data   feed events (MboEvent) or MarketEvents -> MarketByOrderBook per symbol
                     -> MarketEvent (BOOK / BBO / TRADE / STATUS / DISCONNECT / END)
    2. strategy      MarketEvent -> strategies (one Context each) -> SignalEvent;
                     OrderUpdate -> Context.apply_update + on_order_update -> SignalEvent
    3. risk          SignalEvent -> RiskEngine.check -> RiskDecision: approved -> Order,
                     refused -> a REJECTED OrderUpdate back to the strategy
    4. gateway       Order -> Gateway.send (a VenueGateway on a whistle Venue) -> OrderUpdate
                     back to risk (RiskEngine.on_update) and to the strategy

Rounds (what makes the in-process and the process runtimes decide the same). For each
market event: (a) stage 2 runs the strategies' callbacks and collects their signals;
(b) stage 3 sees the event (``on_market``: reference prices, the kill switch); (c) if the
event produced signals, or is a ``DISCONNECT`` / ``STATUS`` / ``END`` (risk may act on
it), a *round* runs: risk checks every signal of the round at the signal's time and
refuses some (their REJECTED updates first), the approved orders (kill-switch cancels
ahead of them) go to the gateway in order, the gateway polls once at the event's time, risk
applies the gateway's updates, and the strategies get all the round's updates (rejects,
then the gateway's). The signals those ``on_order_update`` callbacks emit form the next
round of the same event; the event is done when a round emits nothing (after 100 rounds
the strategies still answering are stopped as a feedback loop, ``break_loop``). Only then does the
next market event reach the strategies. Across processes the strategy stage therefore
waits for a round's updates before it goes on (the round's *marker* comes back), which
costs a round trip per event that trades but keeps every decision identical.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from whistle.trading.config import load_strategy
from whistle.trading.context import Context
from whistle.trading.messages import MarketKind
from whistle.trading.pipeline.budget import CallbackBudget
from whistle.trading.pipeline.market_data import MarketDataStage
from whistle.trading.pipeline.order_stages import GatewayStage, RiskStage
from whistle.trading.pipeline.strategy_stage import StrategySlot, StrategyStage
from whistle.trading.risk import RiskConfig, RiskEngine
from whistle.trading.strategy import subscriptions

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from whistle.trading.pipeline.config import PipelineConfig
    from whistle.trading.pipeline.order_stages import GatewayLike, RiskEngineLike

__all__ = [
    "BARRIER_KINDS",
    "STAGE_BUILDERS",
    "build_gateway",
    "build_market_data",
    "build_risk",
    "build_strategy",
    "resolve",
    "risk_engine",
]

BARRIER_KINDS: Final = frozenset({MarketKind.DISCONNECT, MarketKind.STATUS, MarketKind.END})
"""Market events that run a round even without signals (risk may act on them)."""


def resolve(spec: str) -> Any:
    """Import ``"module:attribute"`` and return the attribute (``ValueError`` if missing)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected 'module:attribute', was {spec!r}")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"{module_name} has no attribute {attr!r} (from {spec!r})") from None


# 1. market data --------------------------------------------------------------------------
def build_market_data(config: PipelineConfig) -> MarketDataStage:
    """Stage 1: a book per symbol, building only the event kinds some strategy wants.

    BBO events are always built (when no strategy wants BOOK, which carries the top too):
    every strategy's ``ctx.book`` is kept current from them, so a trade-, timer- or
    update-only strategy (or any ``on_stop``) reads the live top of book, as in the
    backtest. They cost a BBO-only or BOOK-only pipeline nothing it did not already pay.
    """
    wanted: set[str] = set()
    for spec in config.strategies:
        wanted |= subscriptions(resolve(spec.strategy))
    return MarketDataStage(
        config.symbols.values(),
        want_book="book" in wanted,
        want_bbo=True,
        want_trade="trade" in wanted,
    )


# 2. strategy -----------------------------------------------------------------------------
def build_strategy(config: PipelineConfig) -> StrategyStage:
    """Stage 2: each strategy spec loaded and given its own ``Context``, in spec order."""
    slots = []
    for spec, strategy_id in zip(config.strategies, config.strategy_ids(), strict=True):
        strategy = load_strategy(spec.strategy, dict(spec.config))
        sid = config.symbols[spec.symbol]
        ctx = Context(spec.symbol, sid, config.account, strategy_id)
        slots.append(StrategySlot(strategy, ctx, strategy_id, sid))
    budget = CallbackBudget(config.callback_budget_ns) if config.callback_budget_ns else None
    return StrategyStage(slots, budget)


# 3. risk ---------------------------------------------------------------------------------
def build_risk(config: PipelineConfig) -> RiskStage:
    """Stage 3: one ``RiskEngine`` (the configured factory) for the pipeline's account."""
    factory: Callable[..., RiskEngineLike] = resolve(config.risk_engine)
    engine = factory(config.risk, config.symbol_names())
    return RiskStage(engine, config.account, record=config.record)


def risk_engine(risk: Mapping[str, Any], symbols: Mapping[int, str]) -> RiskEngineLike:
    """Return ``whistle.trading.risk.RiskEngine`` with ``risk`` as its ``RiskConfig``.

    ``RiskConfig.from_dict`` converts it (TOML / JSON keys of ``per_account`` may be decimal
    strings) and raises ``RiskConfigError`` naming the key.
    """
    engine: RiskEngineLike = RiskEngine(RiskConfig.from_dict(risk, source="pipeline risk"), symbols)
    return engine


# 4. gateway ------------------------------------------------------------------------------
def build_gateway(config: PipelineConfig) -> GatewayStage:
    """Stage 4: the configured gateway factory, called with the symbols and the account."""
    factory: Callable[..., GatewayLike] = resolve(config.gateway)
    gateway = factory(config.symbol_names(), config.account, **config.gateway_options)
    return GatewayStage(gateway, record=config.record)


STAGE_BUILDERS: Final[tuple[Callable[[PipelineConfig], Any], ...]] = (
    build_market_data,
    build_strategy,
    build_risk,
    build_gateway,
)
"""The builders of stages 1-4, in pipeline order (index 0 is stage 1)."""
