"""``MarketSimulator``: seeded background flow so that strategies on an in-process venue
have someone to trade with (the demo and the tests; a real venue needs none).

Each ``step`` visits a few symbols round robin; for each it moves a random-walk mid by
at most one tick, keeps a handful of resting orders of ``SIM_ACCOUNT`` on both sides
around it, and now and then sends a marketable IOC order that takes liquidity (the
strategies' quotes included). Everything is a pure function of the seed and the order
of calls.
"""

from __future__ import annotations

import random
from collections import deque
from typing import TYPE_CHECKING, Final, final

from whistle.core.enums import Side, TimeInForce
from whistle.core.events import OrderAccepted

if TYPE_CHECKING:
    from whistle.orchestrator.exchange import ExchangeLink

__all__ = ["SIM_ACCOUNT", "MarketSimulator"]

SIM_ACCOUNT: Final = 9_000_000
_RESTING: Final = 6


@final
class MarketSimulator:
    """Seeded liquidity and takers on every symbol the link serves (see the module docstring)."""

    def __init__(
        self,
        link: ExchangeLink,
        seed: int = 1,
        *,
        mid: int = 10_000,
        spread: int = 4,
        take_every: int = 3,
        symbols_per_step: int = 8,
    ) -> None:
        self.link = link
        self._rng = random.Random(seed)  # noqa: S311 (reproducible flow, not secrets)
        self._start_mid = mid
        self._spread = spread
        self._take_every = take_every
        self._per_step = symbols_per_step
        self._mids: dict[int, int] = {}
        self._resting: dict[int, deque[int]] = {}
        self._turn = 0
        self.steps = 0
        self.orders = 0

    def step(self, symbol_ids: list[int]) -> None:
        """Trade on up to ``symbols_per_step`` of ``symbol_ids`` (round robin)."""
        if not symbol_ids:
            return
        rng = self._rng
        link = self.link
        with link.lock:
            for _ in range(min(self._per_step, len(symbol_ids))):
                sid = symbol_ids[self._turn % len(symbol_ids)]
                self._turn += 1
                mid = self._mids.get(sid, self._start_mid) + rng.choice((-1, 0, 0, 1))
                mid = max(mid, self._spread + 2)
                self._mids[sid] = mid
                resting = self._resting.setdefault(sid, deque())
                side = Side.BUY if rng.random() < 0.5 else Side.SELL
                offset = self._spread // 2 + rng.randrange(0, 3)
                price = mid - offset if side == Side.BUY else mid + offset
                events = link.venue.submit(
                    sid,
                    side,
                    qty_lots=rng.randrange(1, 6),
                    price_ticks=price,
                    tif=TimeInForce.GTC,
                    account=SIM_ACCOUNT,
                )
                self.orders += 1
                for event in events:
                    if type(event) is OrderAccepted:
                        resting.append(event.order_id)
                link.deliver(events)
                while len(resting) > _RESTING:
                    link.deliver(link.venue.cancel(sid, resting.popleft(), account=SIM_ACCOUNT))
                if self.steps % self._take_every == 0:
                    taker = Side.SELL if rng.random() < 0.5 else Side.BUY
                    far = mid - 10 * self._spread if taker == Side.SELL else mid + 10 * self._spread
                    link.deliver(
                        link.venue.submit(
                            sid,
                            taker,
                            qty_lots=rng.randrange(1, 4),
                            price_ticks=max(far, 1),
                            tif=TimeInForce.IOC,
                            account=SIM_ACCOUNT,
                        )
                    )
                    self.orders += 1
            self.steps += 1
