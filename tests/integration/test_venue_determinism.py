"""One command stream, per-symbol events identical in-process and on 1 or 2 host processes.

This is the venue's determinism contract (DESIGN.md): whatever the number of host
processes and whatever the placement policy, every symbol sees the same events.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from whistle import CancelOrder, ModifyOrder, NewOrder, Venue
from whistle.core import Instrument

SYMBOLS = [Instrument(symbol=f"S{i}", symbol_id=100 + i, tick_size="1") for i in range(6)]


def _stream(seed: int, n: int) -> list[tuple[int, object]]:
    # (time step, command): limit orders around 1000, cancels and moves of live ids, some
    # GTD orders so the clock matters too.
    rnd = random.Random(seed)
    live: dict[int, list[int]] = defaultdict(list)
    next_id = 1
    out: list[tuple[int, object]] = []
    for _ in range(n):
        inst = rnd.choice(SYMBOLS)
        sid = inst.symbol_id
        roll = rnd.random()
        if roll < 0.6 or not live[sid]:
            side = rnd.choice((1, 2))
            price = 1000 + rnd.randint(-5, 5)
            tif, expire = (4, (len(out) // 50 + 2) * 1_000) if rnd.random() < 0.1 else (1, 0)
            cmd: object = NewOrder(
                sid,
                next_id,
                rnd.randint(1, 4),
                side,
                1,
                tif,
                price,
                rnd.randint(1, 9),
                expire_ts_ns=expire,
            )
            live[sid].append(next_id)
            next_id += 1
        elif roll < 0.8:
            cmd = CancelOrder(sid, live[sid].pop(rnd.randrange(len(live[sid]))))
        else:
            cmd = ModifyOrder(sid, rnd.choice(live[sid]), 1000 + rnd.randint(-5, 5), 0)
        out.append((len(out) // 50, cmd))
    return out


def _run(hosts: int, placement: str, stream: list[tuple[int, object]]) -> dict[int, list]:
    per_symbol: dict[int, list] = defaultdict(list)
    with Venue(hosts=hosts, placement=placement) as venue:
        for inst in SYMBOLS:
            venue.add_instrument(inst)
        venue.subscribe(lambda e: per_symbol[e.symbol_id].append(e))
        step = 0
        for t, cmd in stream:
            if t != step:  # a tick closes each step of 50 commands
                venue.tick(step * 1_000)
                step = t
            assert isinstance(venue.enqueue(cmd), int)  # type: ignore[arg-type]
        venue.tick(step * 1_000)
        venue.advance(10_000_000)  # expire what is left
        hashes = venue.state_hashes()
    per_symbol[-1] = [hashes]
    return dict(per_symbol)


@pytest.mark.parametrize(
    ("hosts", "placement"),
    [(1, "hash"), (2, "hash"), (2, "round-robin"), (2, "least-loaded")],
)
def test_per_symbol_events_match_the_embedded_venue(hosts, placement):
    stream = _stream(seed=hosts * 10 + len(placement), n=1_500)
    expected = _run(0, "hash", stream)
    assert sum(len(v) for v in expected.values()) > 3_000
    got = _run(hosts, placement, stream)
    assert got.keys() == expected.keys()
    for sid in expected:
        assert got[sid] == expected[sid], f"symbol {sid} differs with {hosts} hosts, {placement}"
