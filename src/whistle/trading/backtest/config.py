"""``BacktestConfig``: what one backtest run needs, as a frozen, validated struct.

Every field has its unit in its name or docstring; ``check()`` refuses a value that cannot
run, naming the field (``BacktestConfigError``). ``from_dict`` builds one from TOML / JSON
data with unknown keys refused.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from whistle.trading.backtest.errors import BacktestConfigError
from whistle.trading.backtest.fees import FeeConfig
from whistle.trading.backtest.latency import LatencyConfig

__all__ = ["L2_QUEUE_MODELS", "QUEUE_MODELS", "BacktestConfig"]

QUEUE_MODELS: Final = ("fifo", "risk_averse", "power", "log")
"""``fifo``: exact queue position on L3 / MBO data; the others: L2 queue models."""
L2_QUEUE_MODELS: Final = ("risk_averse", "power", "log")


class BacktestConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One backtest: the data, the symbol, the exchange models, risk and sampling."""

    data: str
    """The market-data file (plain or gzip; DBN also zstd)."""
    symbol: str
    """The symbol to trade (the feed is filtered to it)."""
    format: str = "itch"
    """A format ``whistle.feed.open`` takes (itch, lobster, dbn, dbn-csv), or ``mbp``: MBP-N
    rows as ``whistle feed replay`` writes them (``mbp_source``; L2 queue models only)."""
    account: int = 1
    queue_model: str = "fifo"
    """``fifo`` (L3), ``risk_averse``, ``power`` or ``log`` (L2: queue ahead as one number)."""
    queue_power: float = 2.0
    """The exponent of the ``power`` model (> 0)."""
    seed: int = 0
    """Seeds the probabilistic queue models (``random.Random(seed)``)."""
    interactive: bool = False
    """Match the recorded orders and the strategy's in a whistle engine (market impact)."""
    latency: LatencyConfig = msgspec.field(default_factory=LatencyConfig)
    fees: FeeConfig = msgspec.field(default_factory=FeeConfig)
    risk: Any = None
    """A ``whistle.trading.risk.RiskConfig`` or its dict form (None: every limit off)."""
    sample_every_ns: int = 1_000_000_000
    """Timeline sampling period in exchange ns (> 0); a final sample is always taken."""
    max_events: int = 0
    """Stop after this many events of the symbol (0: the whole file)."""
    feed_options: dict[str, Any] = msgspec.field(default_factory=dict)
    """Extra options for ``whistle.feed.open`` (LOBSTER ``orderbook=``; ``policy=``), and
    ``book_policy``: the recorded book's ``lenient`` (default: anomalies counted in
    ``BacktestResult.book_anomalies``) or ``strict`` (the first one fails the run)."""
    strategy_id: int = 1
    """The strategy's id in its signals; its client order ids are ``strategy_id << 32`` + n."""

    def check(self) -> None:
        """Raise ``BacktestConfigError`` naming the first field that cannot run."""
        if self.queue_model not in QUEUE_MODELS:
            raise BacktestConfigError(
                f"queue_model must be one of {', '.join(QUEUE_MODELS)}, was {self.queue_model!r}"
            )
        if self.interactive and self.queue_model != "fifo":
            raise BacktestConfigError(
                "interactive mode matches recorded orders in an engine: it needs queue_model"
                f" 'fifo' (L3 data), was {self.queue_model!r}"
            )
        if self.format == "mbp" and (self.queue_model == "fifo" or self.interactive):
            raise BacktestConfigError(
                "format 'mbp' (MBP-N rows) has no order ids: use an L2 queue_model"
                f" ({', '.join(L2_QUEUE_MODELS)}), not {self.queue_model!r}"
                + (" in interactive mode" if self.interactive else "")
            )
        policy = self.feed_options.get("book_policy", "lenient")
        if policy not in ("lenient", "strict"):
            raise BacktestConfigError(
                f"feed_options.book_policy must be 'lenient' or 'strict', was {policy!r}"
            )
        if type(self.queue_power) not in (int, float) or not 0 < self.queue_power <= 100:
            raise BacktestConfigError(f"queue_power must be in (0, 100], was {self.queue_power!r}")
        for name in ("account", "seed", "sample_every_ns", "max_events", "strategy_id"):
            value = getattr(self, name)
            if type(value) is not int:
                raise BacktestConfigError(f"{name} must be an int, was {value!r}")
        if not 0 <= self.account < 1 << 63:
            raise BacktestConfigError(f"account must be in 0..2**63-1, was {self.account}")
        if self.sample_every_ns <= 0:
            raise BacktestConfigError(
                f"sample_every_ns must be positive (ns), was {self.sample_every_ns}"
            )
        if self.max_events < 0:
            raise BacktestConfigError(f"max_events must be >= 0, was {self.max_events}")
        if not 0 <= self.strategy_id < 1 << 31:
            raise BacktestConfigError(f"strategy_id must be in 0..2**31-1, was {self.strategy_id}")
        if not self.symbol:
            raise BacktestConfigError("symbol must not be empty")
        self.latency.check()
        for name in ("maker_ppm", "taker_ppm"):
            value = getattr(self.fees, name)
            if type(value) is not int or not -1_000_000 <= value <= 1_000_000:
                raise BacktestConfigError(
                    f"fees.{name} must be an int in -1000000..1000000 ppm, was {value!r}"
                )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BacktestConfig:
        """Build a config from plain data (TOML / JSON); unknown keys are refused."""
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise BacktestConfigError(f"backtest config: {exc}") from None
