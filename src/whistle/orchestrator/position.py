"""``PositionManager``: one symbol's position, open orders and counters, read by snapshot.

The actor's thread (and the exchange pump, for fills of resting orders) change it under
one short lock; monitoring takes ``snapshot()``, a consistent copy of every slot and
counter made under the same lock, and reads the copy without holding anything (the
seed's ``GetSnapshot``). A snapshot is consistent: ``position == bought - sold``,
``cash == sold_notional - bought_notional``, and the open slots are the orders open at
that instant (``tests/unit/orchestrator/test_position.py`` attacks it from many threads).

Money is in tick-lots (price ticks x lots, ints); ``pnl(mark)`` is cash + position x mark
- fees, i.e. realised plus unrealised, net of fees.
"""

from __future__ import annotations

import threading
from typing import final

import msgspec

from whistle.core.enums import Side

__all__ = ["OpenSlot", "PositionManager", "PositionSnapshot"]


class OpenSlot(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One open order of the symbol, as the snapshot saw it."""

    client_order_id: int
    side: int
    price: int
    qty: int
    leaves_qty: int


class PositionSnapshot(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """A consistent copy of a ``PositionManager`` (see the module docstring)."""

    symbol: str
    position: int
    bought: int
    sold: int
    bought_notional: int
    sold_notional: int
    cash: int
    fees: int
    fills: int
    orders_sent: int
    cancels_sent: int
    rejects: int
    last_price: int
    version: int
    slots: tuple[OpenSlot, ...]

    def pnl(self, mark: int | None = None) -> int:
        """Cash + position x mark - fees (tick-lots); ``mark`` defaults to the last fill price."""
        price = self.last_price if mark is None else mark
        return self.cash + self.position * price - self.fees

    def consistent(self) -> bool:
        """Whether the counters agree with each other (they always should)."""
        return (
            self.position == self.bought - self.sold
            and self.cash == self.sold_notional - self.bought_notional
            and self.version >= self.fills
        )


@final
class PositionManager:
    """Position, open orders and counters of one symbol, behind one short lock."""

    __slots__ = (
        "_bought",
        "_bought_notional",
        "_cancels",
        "_fees",
        "_fills",
        "_last_price",
        "_lock",
        "_orders",
        "_rejects",
        "_slots",
        "_sold",
        "_sold_notional",
        "_version",
        "symbol",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._lock = threading.Lock()
        self._bought = 0
        self._sold = 0
        self._bought_notional = 0
        self._sold_notional = 0
        self._fees = 0
        self._fills = 0
        self._orders = 0
        self._cancels = 0
        self._rejects = 0
        self._last_price = 0
        self._version = 0
        # client_order_id -> [side, price, qty, leaves]
        self._slots: dict[int, list[int]] = {}

    # ------------------------------------------------------------------ writers

    def fill(self, side: int, price: int, qty: int, fee: int, client_order_id: int = 0) -> None:
        """Count one fill of ``qty`` lots at ``price`` (and reduce the order's slot)."""
        with self._lock:
            if side == Side.BUY:
                self._bought += qty
                self._bought_notional += price * qty
            else:
                self._sold += qty
                self._sold_notional += price * qty
            self._fees += fee
            self._fills += 1
            self._last_price = price
            slot = self._slots.get(client_order_id)
            if slot is not None:
                slot[3] -= qty
                if slot[3] <= 0:
                    del self._slots[client_order_id]
            self._version += 1

    def opened(self, client_order_id: int, side: int, price: int, qty: int) -> None:
        """Count an order sent and open its slot."""
        with self._lock:
            self._orders += 1
            self._slots[client_order_id] = [side, price, qty, qty]
            self._version += 1

    def closed(self, client_order_id: int, leaves_qty: int = 0, *, rejected: bool = False) -> None:
        """An order left the book (cancelled, expired, rejected) or kept ``leaves_qty``."""
        with self._lock:
            if rejected:
                self._rejects += 1
            slot = self._slots.get(client_order_id)
            if slot is not None:
                if leaves_qty > 0:
                    slot[3] = leaves_qty
                else:
                    del self._slots[client_order_id]
            self._version += 1

    def cancel_sent(self) -> None:
        """Count a cancel request."""
        with self._lock:
            self._cancels += 1
            self._version += 1

    def restore(self, fills: list[tuple[int, int, int, int]]) -> None:
        """Start from ``fills`` (side, price, qty, fee) recovered from the venue."""
        for side, price, qty, fee in fills:
            self.fill(side, price, qty, fee)

    # ------------------------------------------------------------------ readers

    @property
    def position(self) -> int:
        """Signed position in lots."""
        with self._lock:
            return self._bought - self._sold

    def open_ids(self) -> list[int]:
        """Client order ids of the open slots."""
        with self._lock:
            return list(self._slots)

    def snapshot(self) -> PositionSnapshot:
        """A consistent copy, taken under the lock (ints and one tuple: microseconds)."""
        with self._lock:
            bought = self._bought
            sold = self._sold
            bn = self._bought_notional
            sn = self._sold_notional
            fees = self._fees
            fills = self._fills
            orders = self._orders
            cancels = self._cancels
            rejects = self._rejects
            last = self._last_price
            version = self._version
            slots = tuple(OpenSlot(c, s[0], s[1], s[2], s[3]) for c, s in self._slots.items())
        return PositionSnapshot(
            symbol=self.symbol,
            position=bought - sold,
            bought=bought,
            sold=sold,
            bought_notional=bn,
            sold_notional=sn,
            cash=sn - bn,
            fees=fees,
            fills=fills,
            orders_sent=orders,
            cancels_sent=cancels,
            rejects=rejects,
            last_price=last,
            version=version,
            slots=slots,
        )
