"""A deliberately simple market-by-order book: the oracle of tests/property/test_mbo_props.py.

Orders live in one dict; queue order is a global arrival counter; depth and queues are
recomputed from scratch by sorting on every question. It implements the rules documented
in ``whistle.book.mbo`` (anomalies included) in the most direct way, sharing no code
with it.
"""

from __future__ import annotations

from whistle.core.mbo import (
    FLAG_LAST,
    NO_PRICE,
    PRIORITY_KEEP,
    PRIORITY_KEEP_ON_DECREASE,
    MboAdd,
    MboCancel,
    MboClear,
    MboDelete,
    MboEvent,
    MboExecute,
    MboModify,
)

__all__ = ["ReferenceMboBook"]


class ReferenceMboBook:
    """Orders as {id: [side, price, qty, arrival]}; everything else is derived."""

    def __init__(self) -> None:
        self.orders: dict[int, list[int]] = {}
        self.arrival = 0
        self.last_ts = 0
        self.crossed = False
        self.anomalies: dict[str, int] = {}

    def _count(self, kind: str) -> None:
        self.anomalies[kind] = self.anomalies.get(kind, 0) + 1

    def _put(self, oid: int, side: int, price: int, qty: int) -> None:
        self.arrival += 1
        self.orders[oid] = [side, price, qty, self.arrival]

    def _add(self, oid: int, side: int, price: int, qty: int) -> None:
        if qty <= 0 or side not in (1, 2) or price == NO_PRICE:
            self._count("bad_order")
            return
        if oid in self.orders:
            self._count("duplicate_order")
            del self.orders[oid]
        self._put(oid, side, price, qty)

    def _take(self, oid: int, qty: int) -> None:
        if oid not in self.orders:
            self._count("unknown_order")
            return
        left = self.orders[oid][2]
        if qty > left:
            self._count("negative_qty")
        if qty >= left:
            del self.orders[oid]
        else:
            self.orders[oid][2] = left - qty

    def apply(self, e: MboEvent) -> None:
        if e.ts_ns < self.last_ts:
            self._count("time_reversal")
        else:
            self.last_ts = e.ts_ns
        if isinstance(e, MboAdd):
            self._add(e.order_id, e.side, e.price, e.qty)
        elif isinstance(e, MboDelete):
            if self.orders.pop(e.order_id, None) is None:
                self._count("unknown_order")
        elif isinstance(e, (MboCancel, MboExecute)):
            self._take(e.order_id, e.qty)
        elif isinstance(e, MboModify):
            self._modify(e)
        elif isinstance(e, MboClear):
            self.orders = {}
        if e.flags & FLAG_LAST:
            bids = [o[1] for o in self.orders.values() if o[0] == 1]
            asks = [o[1] for o in self.orders.values() if o[0] == 2]
            now = bool(bids and asks and max(bids) >= min(asks))
            if now and not self.crossed:
                self._count("crossed_book")
            self.crossed = now

    def _modify(self, e: MboModify) -> None:
        old = self.orders.get(e.order_id)
        if old is None:
            self._count("unknown_order")
            if e.side in (1, 2):
                self._add(e.new_order_id, e.side, e.price, e.qty)
            return
        if e.qty <= 0:
            self._count("bad_order")
            del self.orders[e.order_id]
            return
        price = old[1] if e.price == NO_PRICE else e.price
        if e.new_order_id != e.order_id and e.new_order_id in self.orders:
            self._count("duplicate_order")
            del self.orders[e.new_order_id]
        keep = price == old[1] and (
            e.priority == PRIORITY_KEEP
            or (e.priority == PRIORITY_KEEP_ON_DECREASE and e.qty <= old[2])
        )
        del self.orders[e.order_id]
        if keep:
            self.orders[e.new_order_id] = [old[0], price, e.qty, old[3]]
        else:
            self._put(e.new_order_id, old[0], price, e.qty)

    def depth(self) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """Every level as (price, qty, count): bids high to low, asks low to high."""
        out: list[list[tuple[int, int, int]]] = []
        for side in (1, 2):
            levels: dict[int, list[int]] = {}
            for s, price, qty, _ in self.orders.values():
                if s == side:
                    level = levels.setdefault(price, [0, 0])
                    level[0] += qty
                    level[1] += 1
            prices = sorted(levels, reverse=side == 1)
            out.append([(p, levels[p][0], levels[p][1]) for p in prices])
        return out[0], out[1]

    def queues(self, side: int) -> list[tuple[int, list[int]]]:
        """(price, order ids in queue order) per level of ``side``, best first."""
        by_price: dict[int, list[tuple[int, int]]] = {}
        for oid, (s, price, _, arrival) in self.orders.items():
            if s == side:
                by_price.setdefault(price, []).append((arrival, oid))
        prices = sorted(by_price, reverse=side == 1)
        return [(p, [oid for _, oid in sorted(by_price[p])]) for p in prices]
