"""What a backtest run returns: fills, counts, the ledger, a sampled timeline.

All money is in tick-lots (``price_ticks * qty_lots``), ints; ``tick_value`` converts a
tick-lot to currency for display only (``10 ** -price_decimals`` per share for ITCH /
LOBSTER prices). ``equity_tl`` in a sample is realised + unrealised - fees (net of fees),
marked at the floor of the mid (``mid_x2 // 2``), or at the last trade price when a side
of the book is empty (0 before any).
"""

from __future__ import annotations

from typing import Any, final

import msgspec

from whistle.trading.accounting import LedgerSnapshot

__all__ = ["BacktestResult", "Divergence", "Fill", "Sample"]


@final
class Fill(msgspec.Struct, frozen=True, gc=False):
    """One fill of the strategy: exchange time, order, side, price, qty, liquidity, fee;
    ``mid_x2`` is the recorded book's bid + ask at that moment (0: a side empty)."""

    ts_ns: int
    client_order_id: int
    side: int
    price: int
    qty: int
    liquidity: int
    fee: int
    mid_x2: int


@final
class Sample(msgspec.Struct, frozen=True, gc=False):
    """The timeline at one moment (every ``sample_every_ns``, and a final one)."""

    ts_ns: int
    mid_x2: int
    best_bid: int
    best_ask: int
    position: int
    equity_tl: int
    fees: int


@final
class Divergence(msgspec.Struct, frozen=True, gc=False):
    """Interactive mode: how far the engine's replay moved from the record.

    ``recorded_executions`` the record's executions; ``reproduced_executions`` those the
    engine carried out against the recorded order; ``skipped_executions`` /
    ``skipped_qty`` those it could not (the order had already traded with or been taken
    by the strategy); ``extra_fills`` / ``extra_fill_qty`` the strategy's fills (trades
    the record does not have); ``recorded_adds`` the recorded orders entered."""

    recorded_executions: int
    reproduced_executions: int
    skipped_executions: int
    skipped_qty: int
    extra_fills: int
    extra_fill_qty: int
    recorded_adds: int


@final
class BacktestResult(msgspec.Struct, frozen=True):
    """A finished run (a run that did not finish raises ``BacktestError`` instead)."""

    symbol: str
    strategy: str
    queue_model: str
    events: int
    """Recorded events of the symbol applied to the book."""
    seconds: float
    """Wall time of the run."""
    fills: list[Fill]
    orders: int
    """New orders sent to the exchange (after risk)."""
    modifies: int
    cancels: int
    rejects: dict[str, int]
    """Rejections by reason name (risk ``RiskReason`` or the exchange's ``RejectReason``)."""
    ledger: LedgerSnapshot
    timeline: list[Sample]
    order_to_fill_ns: list[int]
    """Per fill: its exchange time minus the strategy's time when it sent the order."""
    price_decimals: int
    tick_value: float
    divergence: Divergence | None
    first_ts_ns: int = 0
    last_ts_ns: int = 0
    open_orders: int = 0
    """Orders still open when the data ended (after ``on_stop``)."""
    book_anomalies: dict[str, int] = msgspec.field(default_factory=dict)
    crossed_book_orders: int = 0
    """Strategy orders that arrived aggressive while the recorded book was crossed or
    locked: they took nothing through the opposite recorded best (exchange.py docstring);
    a non-zero count means the data, not the strategy, shaped those fills."""

    @property
    def events_per_sec(self) -> float:
        """Return events per second of wall time."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def pnl(self) -> dict[str, int]:
        """Return realised, unrealised, fees and total (net) PnL in tick-lots at the end."""
        last = self.timeline[-1] if self.timeline else None
        total = last.equity_tl if last is not None else 0
        realised = self.ledger.realised
        fees = self.ledger.fees
        return {
            "realised": realised,
            "unrealised": total - realised + fees,
            "fees": fees,
            "total": total,
        }

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-safe summary: counts, PnL (tick-lots), rates; fills as a count."""
        maker = sum(1 for f in self.fills if f.liquidity == 1)
        return {
            "symbol": self.symbol,
            "strategy": self.strategy,
            "queue_model": self.queue_model,
            "events": self.events,
            "seconds": round(self.seconds, 6),
            "events_per_sec": round(self.events_per_sec),
            "fills": len(self.fills),
            "maker_fills": maker,
            "taker_fills": len(self.fills) - maker,
            "filled_qty": sum(f.qty for f in self.fills),
            "orders": self.orders,
            "modifies": self.modifies,
            "cancels": self.cancels,
            "rejects": dict(sorted(self.rejects.items())),
            "open_orders": self.open_orders,
            "position": self.ledger.position,
            "max_abs_position": self.ledger.max_abs_position,
            "volume": self.ledger.volume,
            "pnl": self.pnl(),
            "price_decimals": self.price_decimals,
            "tick_value": self.tick_value,
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
            "divergence": msgspec.to_builtins(self.divergence) if self.divergence else None,
            "book_anomalies": dict(sorted(self.book_anomalies.items())),
            "crossed_book_orders": self.crossed_book_orders,
        }
