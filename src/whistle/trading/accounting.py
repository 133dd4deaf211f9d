"""Exact integer accounting of one symbol's fills: position, cost basis, PnL, fees, volume.

Units: prices in ticks, quantities in lots, money in tick-lots (``price * qty``); every
figure is an int and none is ever rounded.

Method: FIFO lots. The open position is a queue of lots ``(price, qty)`` in the order they
were filled; a fill on the other side closes the oldest lots first, realising
``qty * (exit - entry)`` per lot for a long (``qty * (entry - exit)`` for a short), and what
is left of it after the position is flat opens a new position on the other side (a flip).
FIFO keeps the cost basis an integer (the sum of ``price * qty`` over the open lots); average
cost would need a rational cost on every partial reduce.

Cost basis: ``cost_basis`` is that sum (tick-lots, >= 0); the average entry price is
``avg_price_x = Fraction(cost_basis, abs(position))`` exactly (``Fraction(0)`` when flat).

Sign conventions: ``position`` is signed lots (long > 0). ``realised`` and ``unrealised``
exclude fees; ``fees`` is what was paid (negative for a net rebate); ``total(mark) =
realised + unrealised(mark) - fees``. The identity the tests hold it to:
``realised + unrealised(mark) == cash + position * mark``, where ``cash`` is the signed
cash flow of the fills (``+price*qty`` per sell, ``-price*qty`` per buy), fees apart.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from typing import Final, final

import msgspec

from whistle.core.enums import Side

__all__ = ["Ledger", "LedgerSnapshot"]

_BUY: Final = int(Side.BUY)
_SELL: Final = int(Side.SELL)


@final
class LedgerSnapshot(msgspec.Struct, frozen=True, gc=False):
    """A ledger's figures at one moment (JSON-safe: ints only)."""

    symbol_id: int
    position: int
    """Signed lots (long > 0)."""
    cost_basis: int
    """Sum of ``price * qty`` over the open FIFO lots, tick-lots (>= 0)."""
    realised: int
    """Realised PnL, tick-lots, fees excluded."""
    fees: int
    """Fees paid, tick-lots (negative: a net rebate)."""
    cash: int
    """Signed cash flow of the fills, tick-lots (sells +, buys -), fees excluded."""
    volume: int
    """Lots traded, both sides."""
    notional: int
    """Tick-lots traded, both sides (sum of ``price * qty``)."""
    buy_qty: int
    sell_qty: int
    fills: int
    """Number of fills."""
    max_abs_position: int
    """Largest ``abs(position)`` reached."""

    @property
    def avg_price_x(self) -> Fraction:
        """The average entry price of the open position, exact (``Fraction(0)`` when flat)."""
        if self.position == 0:
            return Fraction(0)
        return Fraction(self.cost_basis, abs(self.position))

    def unrealised(self, mark_price: int) -> int:
        """Return the open position's PnL at ``mark_price`` (tick-lots, fees excluded)."""
        if self.position >= 0:
            return self.position * mark_price - self.cost_basis
        return self.position * mark_price + self.cost_basis

    def total(self, mark_price: int) -> int:
        """Return realised + unrealised at ``mark_price`` - fees (tick-lots)."""
        return self.realised + self.unrealised(mark_price) - self.fees


@final
class Ledger:
    """Position and PnL of one symbol, from its fills, by FIFO lots (module docstring).

    ``fill`` refuses (``ValueError``) a side that is not a ``Side``, a price or fee that is
    not an int, and a quantity that is not a positive int: a ledger fed a bad fill would be
    wrong forever after, so a bad fill is a bug to surface, not a value to absorb.
    """

    __slots__ = (
        "_lots",
        "buy_qty",
        "cash",
        "cost_basis",
        "fees",
        "fills",
        "max_abs_position",
        "notional",
        "position",
        "realised",
        "sell_qty",
        "symbol_id",
        "volume",
    )

    def __init__(self, symbol_id: int = 0) -> None:
        self.symbol_id = symbol_id
        # Open lots, oldest first, each [price, qty > 0]; all on the side of ``position``.
        self._lots: deque[list[int]] = deque()
        self.position = 0
        self.cost_basis = 0
        self.realised = 0
        self.fees = 0
        self.cash = 0
        self.volume = 0
        self.notional = 0
        self.buy_qty = 0
        self.sell_qty = 0
        self.fills = 0
        self.max_abs_position = 0

    def fill(self, side: int, price: int, qty: int, fee: int = 0) -> int:
        """Book one fill; return the PnL it realised (tick-lots, fees excluded)."""
        if type(qty) is not int or qty <= 0:
            raise ValueError(f"fill qty must be a positive int (lots), was {qty!r}")
        if type(price) is not int:
            raise ValueError(f"fill price must be an int (ticks), was {price!r}")
        if type(fee) is not int:
            raise ValueError(f"fill fee must be an int (tick-lots), was {fee!r}")
        if side == _BUY:
            signed = qty
            self.buy_qty += qty
            self.cash -= price * qty
        elif side == _SELL:
            signed = -qty
            self.sell_qty += qty
            self.cash += price * qty
        else:
            raise ValueError(f"fill side must be Side.BUY (1) or Side.SELL (2), was {side!r}")
        self.fills += 1
        self.volume += qty
        self.notional += price * qty
        self.fees += fee

        position = self.position
        realised = 0
        if position == 0 or (position > 0) == (signed > 0):
            # Opening or adding: one more lot on the position's side.
            self._lots.append([price, qty])
            self.cost_basis += price * qty
        else:
            # Reducing: close the oldest lots first; a remainder flips the position.
            lots = self._lots
            long = position > 0
            left = qty
            cost = self.cost_basis
            while left and lots:
                lot = lots[0]
                lot_price, lot_qty = lot
                take = lot_qty if lot_qty <= left else left
                if long:
                    realised += take * (price - lot_price)
                else:
                    realised += take * (lot_price - price)
                cost -= take * lot_price
                left -= take
                if take == lot_qty:
                    lots.popleft()
                else:
                    lot[1] = lot_qty - take
            if left:
                lots.append([price, left])
                cost += price * left
            self.cost_basis = cost
            self.realised += realised
        position += signed
        self.position = position
        if abs(position) > self.max_abs_position:
            self.max_abs_position = abs(position)
        return realised

    @property
    def avg_price_x(self) -> Fraction:
        """The average entry price of the open position, exact (``Fraction(0)`` when flat)."""
        if self.position == 0:
            return Fraction(0)
        return Fraction(self.cost_basis, abs(self.position))

    @property
    def lots(self) -> tuple[tuple[int, int], ...]:
        """The open FIFO lots, oldest first, as ``(price, qty)`` (on the position's side)."""
        return tuple((p, q) for p, q in self._lots)

    def unrealised(self, mark_price: int) -> int:
        """Return the open position's PnL at ``mark_price`` (tick-lots, fees excluded)."""
        if self.position >= 0:
            return self.position * mark_price - self.cost_basis
        return self.position * mark_price + self.cost_basis

    def total(self, mark_price: int) -> int:
        """Return realised + unrealised at ``mark_price`` - fees (tick-lots)."""
        return self.realised + self.unrealised(mark_price) - self.fees

    def snapshot(self) -> LedgerSnapshot:
        """Return the figures now, frozen."""
        return LedgerSnapshot(
            symbol_id=self.symbol_id,
            position=self.position,
            cost_basis=self.cost_basis,
            realised=self.realised,
            fees=self.fees,
            cash=self.cash,
            volume=self.volume,
            notional=self.notional,
            buy_qty=self.buy_qty,
            sell_qty=self.sell_qty,
            fills=self.fills,
            max_abs_position=self.max_abs_position,
        )

    def __repr__(self) -> str:
        return (
            f"Ledger(symbol_id={self.symbol_id}, position={self.position},"
            f" cost_basis={self.cost_basis}, realised={self.realised}, fees={self.fees})"
        )
