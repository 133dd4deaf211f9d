"""Backtest results built by hand (the report reads results through attributes only).

``worked_example()`` is the run whose figures the report tests compute by hand:

    t     event                          cash     pos  fees  mark  equity
    1000  sample, mid 100                   0       0     0   100       0
    2000  BUY 10 @ 99 maker, fee 1       -990      10     1   100       9
    3000  sample, mid 97                 -990      10     1    97     -21
    4000  SELL 10 @ 98 taker, fee 2       -10       0     3    98     -13
    5000  SELL 5 @ 100 maker, fee 1       490      -5     4    98     -19 (not sampled)
    6000  sample, mid 101                 490      -5     4   101     -19

realised -10 (bought 99, sold 98, 10 lots), fees 4, total -19, unrealised -5 (short 5 from
100, marked at 101), max drawdown 30 (peak 9 at t=2000, trough -21 at t=3000).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from whistle.core.enums import Liquidity, Side
from whistle.trading.messages import RiskReason


@dataclass(frozen=True)
class Fill:
    ts_ns: int
    client_order_id: int
    side: Side
    price: int
    qty: int
    liquidity: Liquidity
    fee: int


@dataclass(frozen=True)
class Sample:
    ts_ns: int
    mid_x2: int
    best_bid: int
    best_ask: int
    position: int
    equity_tl: int
    fees: int


@dataclass(frozen=True)
class Ledger:
    position: int = 0
    realised: int = 0
    fees: int = 0
    volume: int = 0
    max_abs_position: int = 0


@dataclass(frozen=True)
class Result:
    events: int = 0
    seconds: float = 0.0
    fills: list[Fill] = field(default_factory=list)
    orders: int = 0
    modifies: int = 0
    cancels: int = 0
    rejects: dict[Any, int] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    timeline: list[Sample] = field(default_factory=list)
    order_to_fill_ns: list[int] = field(default_factory=list)
    price_decimals: int = 2
    tick_value: Any = 0.01


def sample(ts: int, mid: int, pos: int, equity: int, fees: int) -> Sample:
    return Sample(ts, 2 * mid, mid - 1, mid + 1, pos, equity, fees)


def worked_example() -> Result:
    fills = [
        Fill(2000, 1, Side.BUY, 99, 10, Liquidity.MAKER, 1),
        Fill(4000, 2, Side.SELL, 98, 10, Liquidity.TAKER, 2),
        Fill(5000, 3, Side.SELL, 100, 5, Liquidity.MAKER, 1),
    ]
    timeline = [
        sample(1000, 100, 0, 0, 0),
        sample(2000, 100, 10, 9, 1),
        sample(3000, 97, 10, -21, 1),
        sample(4000, 98, 0, -13, 3),
        sample(6000, 101, -5, -19, 4),
    ]
    return Result(
        events=100,
        seconds=0.5,
        fills=fills,
        orders=5,
        modifies=1,
        cancels=2,
        rejects={RiskReason.MAX_POSITION: 2, RiskReason.ORDER_RATE: 0},
        ledger=Ledger(position=-5, realised=-10, fees=4, volume=25, max_abs_position=10),
        timeline=timeline,
        order_to_fill_ns=[500, 100, 300],
        price_decimals=2,
        tick_value=0.01,
    )


def long_run(n: int = 20_000) -> Result:
    """A long timeline (chart reduction) with a fill every 100 samples, buys and sells."""
    timeline = []
    fills = []
    pos = 0
    for i in range(n):
        mid = 1000 + (i * 7919 % 41) - 20
        if i % 100 == 50:
            side = Side.BUY if (i // 100) % 2 == 0 else Side.SELL
            price = mid - 1 if side is Side.BUY else mid + 1
            fills.append(Fill(i * 1_000_000, i, side, price, 1, Liquidity.MAKER, 0))
            pos += 1 if side is Side.BUY else -1
        timeline.append(sample(i * 1_000_000, mid, pos, (i % 997) - 400, 0))
    timeline[12_345] = sample(12_345 * 1_000_000, 1000, pos, -5_000, 0)  # a deep spike
    return Result(
        events=n,
        seconds=1.0,
        fills=fills,
        orders=len(fills),
        ledger=Ledger(position=pos, max_abs_position=1),
        timeline=timeline,
        order_to_fill_ns=[1_000] * len(fills),
    )
