"""Seeded command mixes for the matching benchmark, generated before anything is timed.

A mix is a list of prebuilt command objects (``NewOrder``, ``CancelOrder``, ``ModifyOrder``)
for one symbol, plus a *prefill* list that builds the initial book and is replayed untimed.
Generation drives a real ``Whistle`` over the commands as it draws them and reads its
events, so every cancel and move targets an order that is live at that point. The engine
is deterministic, so a fresh engine replaying ``prefill + commands`` sees exactly the same
book: what was live during generation is live during the timed run.

Mixes:

- ``exchange-core``: exchange-core's throughput test. 9% GTC limit, 3% IOC, 6% cancel and
  82% move (``ModifyOrder`` to a new price, same quantity) of a resting order, about 1,000
  resting orders over about 750 price levels, and about 6% of commands trading.
- ``plain``: 55% GTC limit near the touch, 35% cancel, 10% marketable IOC.

The generation run also measures what the timed run will see (events, trading commands,
rejects, the book at the end): it is the same sequence on the same deterministic engine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from whistle.core.commands import CancelOrder, ModifyOrder, NewOrder
from whistle.core.enums import OrderType, Side, TimeInForce
from whistle.core.events import (
    BestBidOfferChanged,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    TradeOccurred,
)
from whistle.core.instrument import Instrument
from whistle.engine.whistle import Whistle

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.core.commands import Command
    from whistle.core.events import Event

__all__ = [
    "KIND_CANCEL",
    "KIND_GTC",
    "KIND_IOC",
    "KIND_MOVE",
    "KIND_NAMES",
    "MIX_NAMES",
    "CommandMix",
    "LiveOrders",
    "bench_instrument",
    "generate_mix",
]

KIND_GTC: Final = 0
KIND_IOC: Final = 1
KIND_CANCEL: Final = 2
KIND_MOVE: Final = 3
KIND_NAMES: Final = ("gtc", "ioc", "cancel", "move")
"""Command kinds, indexed by the ``KIND_*`` codes (``CommandMix.kinds`` holds the codes)."""

MIX_NAMES: Final = ("exchange-core", "plain")

_BUY: Final = int(Side.BUY)
_SELL: Final = int(Side.SELL)
_LIMIT: Final = int(OrderType.LIMIT)
_GTC: Final = int(TimeInForce.GTC)
_IOC: Final = int(TimeInForce.IOC)

_START_PRICE: Final = 100_000
"""Initial mid in ticks; far enough from 0 that a random walk never reaches it."""


def bench_instrument() -> Instrument:
    """Return the benchmark's instrument: no band, no quantity limits that bind."""
    return Instrument(symbol="BENCH", symbol_id=1, tick_size="0.01", lot_size="1")


@dataclass(frozen=True, slots=True)
class CommandMix:
    """A generated mix: ``prefill`` builds the book (untimed), ``commands`` are timed.

    ``kinds[i]`` is the ``KIND_*`` code of ``commands[i]``. The counters describe what the
    engine did with ``commands`` (after the prefill) during generation, which is what any
    fresh engine replaying the same lists does.
    """

    name: str
    seed: int
    instrument: Instrument
    prefill: list[Command]
    commands: list[Command]
    kinds: bytes
    events: int
    trades: int
    trading_commands: int
    rejects: int
    resting_start: int
    resting_end: int
    levels_end: int

    def kind_counts(self) -> dict[str, int]:
        """Return how many commands of each kind the timed list holds, by kind name."""
        kinds = self.kinds
        return {name: kinds.count(code) for code, name in enumerate(KIND_NAMES)}


class LiveOrders:
    """The resting orders of one book, followed from its events.

    Keeps an indexable list of live ids (uniform random choice and O(1) removal), each id's
    side and price, and the best bid and ask. Fed every event of every command.
    """

    __slots__ = ("ask", "bid", "ids", "pos", "price", "side")

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.pos: dict[int, int] = {}
        self.side: dict[int, int] = {}
        self.price: dict[int, int] = {}
        self.bid = 0
        self.ask = 0

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self.pos

    def _add(self, order_id: int, side: int, price: int) -> None:
        self.pos[order_id] = len(self.ids)
        self.ids.append(order_id)
        self.side[order_id] = side
        self.price[order_id] = price

    def _remove(self, order_id: int) -> None:
        index = self.pos.pop(order_id, None)
        if index is None:
            return
        ids = self.ids
        last = ids.pop()
        if last != order_id:
            ids[index] = last
            self.pos[last] = index
        del self.side[order_id]
        del self.price[order_id]

    def apply(self, events: list[Event]) -> tuple[bool, bool]:
        """Follow one command's events; return (it traded, it was rejected)."""
        traded = False
        rejected = False
        for ev in events:
            e: Any = ev  # dispatch on the exact type; no isinstance per event
            t = type(e)
            if t is OrderFilled:
                if e.leaves_qty_lots == 0:
                    self._remove(e.order_id)
            elif t is TradeOccurred:
                traded = True
            elif t is OrderModified:
                self.price[e.order_id] = e.price_ticks
            elif t is OrderAccepted:
                self._add(e.order_id, e.side, e.price_ticks)
            elif t is OrderCancelled:
                if e.leaves_qty_lots == 0:
                    self._remove(e.order_id)
            elif t is BestBidOfferChanged:
                self.bid = e.bid_price_ticks
                self.ask = e.ask_price_ticks
            elif t is OrderRejected:
                rejected = True
        return traded, rejected

    def pick(self, rng: random.Random) -> int:
        """Return a uniformly chosen live order id (there must be one)."""
        ids = self.ids
        return ids[int(rng.random() * len(ids))]


class _Generator:
    """Shared state of a mix generation: the engine, the live book and the output lists."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 (reproducible data, not secrets)
        self.instrument = bench_instrument()
        self.sid = self.instrument.symbol_id
        self.engine = Whistle(self.instrument)
        self.live = LiveOrders()
        self.enq = 0
        self.next_id = 1
        self.prefill: list[Command] = []
        self.commands: list[Command] = []
        self.kinds = bytearray()
        self.events = 0
        self.trades = 0
        self.trading = 0
        self.rejects = 0
        self.mid = _START_PRICE

    # -- prices ---------------------------------------------------------------------

    def touch(self) -> tuple[int, int]:
        """Return (best bid, best ask), filling an empty side from the last known mid."""
        bid = self.live.bid
        ask = self.live.ask
        if bid and ask:
            self.mid = (bid + ask) // 2
        elif bid:
            self.mid = bid + 1
        elif ask:
            self.mid = ask - 1
        return (bid or self.mid - 1, ask or self.mid + 1)

    def passive(self, side: int, depth: int) -> int:
        """Return a price ``depth`` ticks behind the touch of ``side`` (0: join/improve)."""
        bid, ask = self.touch()
        if side == _BUY:
            return max(1, min(bid + 1, ask - 1) - depth)
        return max(2, max(ask - 1, bid + 1) + depth)

    def aggressive(self, side: int, through: int) -> int:
        """Return a price crossing the opposite touch by ``through`` ticks."""
        bid, ask = self.touch()
        if side == _BUY:
            return ask + through
        return max(1, bid - through)

    # -- emitting -------------------------------------------------------------------

    def _run(self, cmd: Command) -> list[Event]:
        self.enq += 1
        return self.engine.process(self.enq, cmd, 0)

    def emit(self, kind: int, cmd: Command) -> None:
        """Append a timed command and run it on the generation engine."""
        events = self._run(cmd)
        self.commands.append(cmd)
        self.kinds.append(kind)
        self.events += len(events)
        traded, rejected = self.live.apply(events)
        if traded:
            self.trading += 1
            self.trades += sum(type(e) is TradeOccurred for e in events)
        if rejected:
            self.rejects += 1

    def emit_prefill(self, cmd: Command) -> None:
        """Append an untimed book-building command and run it."""
        self.prefill.append(cmd)
        self.live.apply(self._run(cmd))

    def new_order(self, side: int, tif: int, price: int, qty: int) -> NewOrder:
        oid = self.next_id
        self.next_id += 1
        return NewOrder(self.sid, oid, 1, side, _LIMIT, tif, price, qty)

    def move(self, order_id: int, price: int) -> ModifyOrder:
        if price == self.live.price[order_id]:
            price += -1 if self.live.side[order_id] == _BUY else 1
            price = max(price, 1)
            if price == self.live.price[order_id]:
                price += 1
        return ModifyOrder(self.sid, order_id, price, 0)

    def cancel(self, order_id: int) -> CancelOrder:
        return CancelOrder(self.sid, order_id)

    def finish(self, resting_start: int) -> CommandMix:
        depth = self.engine.depth(1_000_000_000)
        return CommandMix(
            name=self.name,
            seed=self.seed,
            instrument=self.instrument,
            prefill=self.prefill,
            commands=self.commands,
            kinds=bytes(self.kinds),
            events=self.events,
            trades=self.trades,
            trading_commands=self.trading,
            rejects=self.rejects,
            resting_start=resting_start,
            resting_end=len(self.live),
            levels_end=len(depth.bids) + len(depth.asks),
        )


# exchange-core shape: ~1,000 resting orders spread over ~750 price levels.
_EC_TARGET_ORDERS: Final = 1_000
_EC_SPREAD_TICKS: Final = 850
"""Passive orders sit uniformly 0..N ticks behind the touch (~750 distinct levels)."""
_EC_CROSS: Final = 0.034
"""Probability that a GTC or a move is placed through the opposite touch (it trades)."""
_EC_IOC: Final = 0.03
_EC_CANCEL: Final = 0.06
_EC_GTC: Final = 0.09
"""The rest (82%) are moves. At these shares a stable book is a knife edge (every
crossing GTC or move removes about one order, and GTC minus cancel adds only 3 per 100),
so, as exchange-core's generator does, the GTC share leans a little on the book size:
below the target more GTCs and fewer moves, above it the other way round."""


def _qty(rng: random.Random) -> int:
    return 1 + int(rng.random() * 100)


def _exchange_core(n: int, seed: int) -> CommandMix:
    g = _Generator("exchange-core", seed)
    rng = g.rng
    rand = rng.random
    width = _EC_SPREAD_TICKS
    for _ in range(_EC_TARGET_ORDERS):
        side = _BUY if rand() < 0.5 else _SELL
        g.emit_prefill(g.new_order(side, _GTC, g.passive(side, int(rand() * width)), _qty(rng)))
    resting_start = len(g.live)
    live = g.live
    target = _EC_TARGET_ORDERS
    for _ in range(n):
        x = rand()
        size = len(live)
        gtc = _EC_GTC * max(0.5, min(1.5, 1.0 + 2.0 * (target - size) / target))
        if x < _EC_IOC:
            # Small IOCs at the touch: they trade (3% of commands) but rarely empty a level.
            side = _BUY if rand() < 0.5 else _SELL
            qty = 1 + int(rand() * 10)
            g.emit(KIND_IOC, g.new_order(side, _IOC, g.aggressive(side, 0), qty))
        elif size == 0 or x >= 1.0 - gtc:
            side = _BUY if rand() < 0.5 else _SELL
            if rand() < _EC_CROSS:
                price = g.aggressive(side, 0)
            else:
                price = g.passive(side, int(rand() * width))
            g.emit(KIND_GTC, g.new_order(side, _GTC, price, _qty(rng)))
        elif x < _EC_IOC + _EC_CANCEL:
            g.emit(KIND_CANCEL, g.cancel(live.pick(rng)))
        else:
            oid = live.pick(rng)
            side = live.side[oid]
            if rand() < _EC_CROSS:
                price = g.aggressive(side, 0)
            else:
                price = g.passive(side, int(rand() * width))
            g.emit(KIND_MOVE, g.move(oid, price))
    return g.finish(resting_start)


_PLAIN_TARGET: Final = 1_000
_PLAIN_NEAR: Final = 20
_PLAIN_GTC: Final = 0.55
_PLAIN_CANCEL: Final = 0.35
"""The rest (10%) are marketable IOCs, sized by the book: GTC minus cancel adds 20 orders
per 100 commands, so the 10 IOCs must take about 2 resting orders each to hold the book
near its target size."""


def _plain(n: int, seed: int) -> CommandMix:
    g = _Generator("plain", seed)
    rng = g.rng
    rand = rng.random
    target = _PLAIN_TARGET
    for _ in range(target):
        side = _BUY if rand() < 0.5 else _SELL
        price = g.passive(side, int(rand() * _PLAIN_NEAR))
        g.emit_prefill(g.new_order(side, _GTC, price, _qty(rng)))
    resting_start = len(g.live)
    live = g.live
    for _ in range(n):
        x = rand()
        side = _BUY if rand() < 0.5 else _SELL
        if x < _PLAIN_GTC or not live:
            price = g.passive(side, int(rand() * _PLAIN_NEAR))
            g.emit(KIND_GTC, g.new_order(side, _GTC, price, _qty(rng)))
        elif x < _PLAIN_GTC + _PLAIN_CANCEL:
            g.emit(KIND_CANCEL, g.cancel(live.pick(rng)))
        else:
            scale = max(0.25, min(8.0, (len(live) / target) ** 2))
            qty = max(1, int(2 * _qty(rng) * scale))
            g.emit(KIND_IOC, g.new_order(side, _IOC, g.aggressive(side, 5), qty))
    return g.finish(resting_start)


_GENERATORS: Final[dict[str, Callable[[int, int], CommandMix]]] = {
    "exchange-core": _exchange_core,
    "plain": _plain,
}


def generate_mix(name: str, n: int, seed: int = 1) -> CommandMix:
    """Return the mix ``name`` with ``n`` timed commands drawn from ``random.Random(seed)``."""
    if n <= 0:
        raise ValueError(f"n must be positive, was {n}")
    try:
        generate = _GENERATORS[name]
    except KeyError:
        raise ValueError(f"unknown mix {name!r}; choose one of {', '.join(MIX_NAMES)}") from None
    return generate(n, seed)
