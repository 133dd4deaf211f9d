"""The numbers of a finished backtest: ``summarize(result) -> Summary``.

Everything a trader reads first is computed here, exactly, from what the backtest
recorded (``BacktestResult``: fills, counts, the ledger, the equity timeline):

- money is in **tick-lots** (price ticks x quantity lots, ints), as everywhere in
  ``whistle.trading``; ``money(tick_lots)`` converts one figure for display with the
  result's ``tick_value`` (money per tick-lot) and never feeds back into a computation;
- **max drawdown** is the largest fall of the equity timeline below its running peak,
  the peak starting at 0 (the equity before the first event), in tick-lots;
- **order-to-fill** percentiles use the nearest-rank rule on the exact sorted sample
  (``p`` is the smallest value with at least ``p`` % of the sample at or below it), so a
  hand computation gives the same int; ``None`` when nothing filled;
- ratios of empty counts are 0.0 (a run without orders has a cancel ratio of 0), so an
  empty run summarizes without a division by zero.

``summarize`` reads the result through the small protocols below (attributes only), so it
works on the backtest's own result and on one a test builds by hand.
"""

from __future__ import annotations

import hashlib
import struct
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Protocol, final

import msgspec

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "FillLike",
    "LedgerLike",
    "ResultLike",
    "SampleLike",
    "Summary",
    "drawdown",
    "fills_digest",
    "percentile",
    "summarize",
]

_MAKER: Final = 1  # whistle.core.enums.Liquidity.MAKER
_TAKER: Final = 2  # whistle.core.enums.Liquidity.TAKER
_FILL_RECORD: Final = struct.Struct("<qqbqqbq")  # ts, coid, side, price, qty, liquidity, fee


class FillLike(Protocol):
    """One fill of the strategy's orders (``whistle.trading.backtest.Fill``)."""

    @property
    def ts_ns(self) -> int: ...
    @property
    def client_order_id(self) -> int: ...
    @property
    def side(self) -> int: ...
    @property
    def price(self) -> int: ...
    @property
    def qty(self) -> int: ...
    @property
    def liquidity(self) -> int: ...
    @property
    def fee(self) -> int: ...


class SampleLike(Protocol):
    """One point of the timeline (``whistle.trading.backtest.Sample``)."""

    @property
    def ts_ns(self) -> int: ...
    @property
    def mid_x2(self) -> int: ...
    @property
    def best_bid(self) -> int: ...
    @property
    def best_ask(self) -> int: ...
    @property
    def position(self) -> int: ...
    @property
    def equity_tl(self) -> int: ...
    @property
    def fees(self) -> int: ...


class LedgerLike(Protocol):
    """The final ledger (``whistle.trading.accounting.LedgerSnapshot``)."""

    @property
    def position(self) -> int: ...
    @property
    def realised(self) -> int: ...
    @property
    def fees(self) -> int: ...
    @property
    def volume(self) -> int: ...
    @property
    def max_abs_position(self) -> int: ...


class ResultLike(Protocol):
    """What ``summarize`` reads of a ``BacktestResult``."""

    @property
    def events(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def fills(self) -> Sequence[FillLike]: ...
    @property
    def orders(self) -> int: ...
    @property
    def modifies(self) -> int: ...
    @property
    def cancels(self) -> int: ...
    @property
    def rejects(self) -> Mapping[Any, int]: ...
    @property
    def ledger(self) -> LedgerLike: ...
    @property
    def timeline(self) -> Sequence[SampleLike]: ...
    @property
    def order_to_fill_ns(self) -> Sequence[int]: ...
    @property
    def price_decimals(self) -> int: ...
    @property
    def tick_value(self) -> Any: ...


@final
class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """The figures of one backtest (tick-lots, lots, ns and counts: all ints but rates)."""

    events: int
    seconds: float
    events_per_sec: float
    realised_tl: int
    """Realised PnL, before fees (the ledger's average-cost rule)."""
    unrealised_tl: int
    """The open position marked at the final mark (total - realised + fees)."""
    fees_tl: int
    """Fees paid (a rebate is negative)."""
    total_tl: int
    """The final equity: realised + unrealised - fees (the last timeline point)."""
    volume_lots: int
    notional_tl: int
    fills: int
    maker_fills: int
    taker_fills: int
    orders: int
    modifies: int
    cancels: int
    cancel_ratio: float
    """Cancels per order sent (0.0 without orders)."""
    fill_ratio: float
    """Fills per order sent (0.0 without orders)."""
    rejects: dict[str, int]
    rejects_total: int
    final_position: int
    max_position: int
    """The largest absolute position held (lots)."""
    max_drawdown_tl: int
    order_to_fill_p50_ns: int | None
    order_to_fill_p99_ns: int | None
    order_to_fill_count: int
    price_decimals: int
    tick_value: Decimal
    fills_digest: str
    """SHA-256 of the fills in order: equal digests mean identical fills."""

    def money(self, tick_lots: int) -> Decimal:
        """Return ``tick_lots`` in money (``tick_value`` per tick-lot), for display only."""
        return Decimal(tick_lots) * self.tick_value

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict: the fields, ``pnl`` (tick-lots) and ``pnl_money``."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        out["tick_value"] = str(self.tick_value)
        pnl = {
            "realised": self.realised_tl,
            "unrealised": self.unrealised_tl,
            "fees": self.fees_tl,
            "total": self.total_tl,
        }
        out["pnl"] = pnl
        out["pnl_money"] = {k: str(self.money(v)) for k, v in pnl.items()}
        out["max_drawdown_money"] = str(self.money(self.max_drawdown_tl))
        return out


def percentile(sorted_values: Sequence[int], pct: int) -> int | None:
    """Return the nearest-rank ``pct`` percentile of an ascending sample (None if empty).

    The value at rank ``ceil(pct * n / 100)`` (1-based, at least 1): the smallest value with
    at least ``pct`` % of the sample at or below it.
    """
    if not 0 < pct <= 100:
        raise ValueError(f"percentile must be in (0, 100], was {pct}")
    n = len(sorted_values)
    if not n:
        return None
    rank = max(1, -(-pct * n // 100))
    return sorted_values[rank - 1]


def drawdown(equity: Iterable[int], start: int = 0) -> int:
    """Return the largest fall of ``equity`` below its running peak (peak starts at ``start``)."""
    peak = start
    worst = 0
    for value in equity:
        if value > peak:
            peak = value
        elif peak - value > worst:
            worst = peak - value
    return worst


def fills_digest(fills: Iterable[FillLike]) -> str:
    """Return the SHA-256 (hex) of the fills' fields in order (determinism check)."""
    digest = hashlib.sha256()
    pack = _FILL_RECORD.pack
    for f in fills:
        digest.update(
            pack(
                f.ts_ns,
                f.client_order_id,
                int(f.side),
                f.price,
                f.qty,
                int(f.liquidity),
                f.fee,
            )
        )
    return digest.hexdigest()


def _reason_name(key: object) -> str:
    name = getattr(key, "name", None)
    return name if isinstance(name, str) else str(key)


def _tick_value(value: Any) -> Decimal:
    # A float tick value (0.0001) is shown as its shortest repr, not as its binary expansion.
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def summarize(result: ResultLike) -> Summary:
    """Compute the ``Summary`` of a finished backtest (exact ints; see the module doc)."""
    fills = result.fills
    maker = taker = volume = notional = 0
    for f in fills:
        liquidity = int(f.liquidity)
        if liquidity == _MAKER:
            maker += 1
        elif liquidity == _TAKER:
            taker += 1
        volume += f.qty
        notional += f.price * f.qty
    ledger = result.ledger
    timeline = result.timeline
    realised = ledger.realised
    fees = ledger.fees
    total = timeline[-1].equity_tl if timeline else realised - fees
    latencies = sorted(result.order_to_fill_ns)
    orders = result.orders
    rejects = {_reason_name(k): v for k, v in result.rejects.items() if v}
    seconds = float(result.seconds)
    return Summary(
        events=result.events,
        seconds=seconds,
        events_per_sec=result.events / seconds if seconds > 0 else 0.0,
        realised_tl=realised,
        unrealised_tl=total - realised + fees,
        fees_tl=fees,
        total_tl=total,
        volume_lots=volume,
        notional_tl=notional,
        fills=len(fills),
        maker_fills=maker,
        taker_fills=taker,
        orders=orders,
        modifies=result.modifies,
        cancels=result.cancels,
        cancel_ratio=result.cancels / orders if orders else 0.0,
        fill_ratio=len(fills) / orders if orders else 0.0,
        rejects=dict(sorted(rejects.items())),
        rejects_total=sum(rejects.values()),
        final_position=ledger.position,
        max_position=max(ledger.max_abs_position, *(abs(s.position) for s in timeline), 0),
        max_drawdown_tl=drawdown(s.equity_tl for s in timeline),
        order_to_fill_p50_ns=percentile(latencies, 50),
        order_to_fill_p99_ns=percentile(latencies, 99),
        order_to_fill_count=len(latencies),
        price_decimals=result.price_decimals,
        tick_value=_tick_value(result.tick_value),
        fills_digest=fills_digest(fills),
    )
