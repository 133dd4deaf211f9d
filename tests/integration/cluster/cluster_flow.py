"""A seeded order flow for the cluster tests: several symbols, every common command.

Order ids are explicit (the same stream can be fed to a ``Venue``); prices stay in a
narrow band so orders cross, rest, get modified, replaced and cancelled.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from whistle.core.commands import (
    CancelOrder,
    CancelReplace,
    Command,
    HaltTrading,
    ModifyOrder,
    NewOrder,
    ResumeTrading,
)
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from whistle.core.events import Event

BUY, SELL = 1, 2
LIMIT, MARKET = 1, 2
GTC, IOC = 1, 2


def instruments(n: int, first_id: int = 101) -> list[Instrument]:
    """Return ``n`` instruments with ids ``first_id``, ``first_id + 1``, ..."""
    return [Instrument(symbol=f"SYM{i}", symbol_id=first_id + i) for i in range(n)]


def flow(symbol_ids: list[int], n: int, seed: int) -> list[Command]:
    """Return ``n`` commands over ``symbol_ids``, seeded."""
    rng = random.Random(seed)
    next_id = dict.fromkeys(symbol_ids, 1)
    live: dict[int, list[int]] = {s: [] for s in symbol_ids}
    halted: set[int] = set()
    out: list[Command] = []
    for _ in range(n):
        sid = rng.choice(symbol_ids)
        roll = rng.random()
        ids = live[sid]
        if sid in halted and roll < 0.5:
            out.append(ResumeTrading(sid))
            halted.discard(sid)
            continue
        if roll < 0.55 or not ids:
            oid = next_id[sid]
            next_id[sid] = oid + 1
            market = rng.random() < 0.05
            out.append(
                NewOrder(
                    sid,
                    oid,
                    rng.randint(1, 4),
                    rng.choice((BUY, SELL)),
                    MARKET if market else LIMIT,
                    IOC if market or rng.random() < 0.1 else GTC,
                    0 if market else rng.randint(95, 105),
                    rng.randint(1, 20),
                )
            )
            ids.append(oid)
        elif roll < 0.75:
            out.append(CancelOrder(sid, ids.pop(rng.randrange(len(ids)))))
        elif roll < 0.88:
            out.append(ModifyOrder(sid, rng.choice(ids), rng.randint(95, 105), rng.randint(1, 20)))
        elif roll < 0.98:
            old = ids.pop(rng.randrange(len(ids)))
            new = next_id[sid]
            next_id[sid] = new + 1
            out.append(CancelReplace(sid, old, new, rng.randint(95, 105), rng.randint(1, 20)))
            ids.append(new)
        else:
            out.append(HaltTrading(sid))
            halted.add(sid)
    return out


def per_symbol(events: list[Event]) -> dict[int, list[Event]]:
    """Group engine events (seq > 0) by symbol, in order."""
    out: dict[int, list[Event]] = {}
    for e in events:
        if e.seq:
            out.setdefault(e.symbol_id, []).append(e)
    return out
