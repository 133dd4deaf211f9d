"""Hypothesis strategies: random instruments and command streams for one symbol.

Prices live in a narrow range around 100 ticks so orders cross often; a few accounts make
self-trade prevention fire; ids are tracked so cancels, modifies and replaces mostly name
orders that exist. A small share of values is invalid on purpose, to reach every reject.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from whistle.core.commands import (
    CancelOrder,
    CancelReplace,
    Command,
    EndSession,
    HaltTrading,
    MassCancel,
    ModifyOrder,
    NewOrder,
    ResumeTrading,
)
from whistle.core.instrument import Instrument

__all__ = ["PROFILE", "Step", "Stream", "instruments", "streams"]

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
_PROFILES = {
    "default": settings(max_examples=200, **_COMMON),
    "quick": settings(max_examples=25, **_COMMON),
    "debug": settings(max_examples=3000, phases=[Phase.explicit, Phase.generate], **_COMMON),
    "long": settings(max_examples=5000, **_COMMON),
}
PROFILE = _PROFILES[os.environ.get("WHISTLE_HYPOTHESIS_PROFILE", "default")]
# WHISTLE_HYPOTHESIS_PROFILE=long (or quick, or debug: no shrinking) changes the settings.

SYMBOL = "TEST"
TIME_STEP = 1_000
ACCOUNTS = (1, 2, 3)
LIMIT, MARKET, STOP, STOP_LIMIT = 1, 2, 3, 4
GTC, IOC, FOK, GTD, DAY = 1, 2, 3, 4, 5
ALLOWED_TIF = {
    LIMIT: (GTC, IOC, FOK, GTD, DAY),
    MARKET: (IOC, FOK),
    STOP: (GTC, GTD, DAY),
    STOP_LIMIT: (GTC, GTD, DAY, IOC),
}


@dataclass(frozen=True)
class Step:
    """One command of a stream, processed at ``now_ns`` with router number ``enq_seq``."""

    enq_seq: int
    now_ns: int
    command: Command


@dataclass(frozen=True)
class Stream:
    instrument: Instrument
    steps: list[Step]

    def __repr__(self) -> str:  # readable falsifying examples
        lines = [f"Stream({self.instrument!r}, ["]
        lines += [f"    {s!r}," for s in self.steps]
        lines.append("])")
        return "\n".join(lines)


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    bps = draw(st.sampled_from([0, 0, 0, 300, 500, 1000, 1000]))
    ref = draw(st.sampled_from([0, 100, 100, 99]))
    min_qty = draw(st.sampled_from([1, 1, 1, 2]))
    max_qty = draw(st.sampled_from([1_000_000_000, 1_000_000_000, 1_000_000_000, 30, 12]))
    return Instrument(
        symbol=SYMBOL,
        min_qty_lots=min_qty,
        max_qty_lots=max_qty,
        price_band_bps=bps,
        reference_price_ticks=ref,
    )


def _rare(draw: st.DrawFn, percent: int) -> bool:
    return draw(st.integers(0, 99)) >= 100 - percent


def _price(draw: st.DrawFn) -> int:
    return draw(st.integers(93, 107))


@st.composite
def _new_order(
    draw: st.DrawFn, symbol_id: int, order_id: int, now: int, known: list[int]
) -> NewOrder:
    order_type = draw(st.sampled_from([LIMIT] * 10 + [MARKET] * 3 + [STOP] * 3 + [STOP_LIMIT] * 3))
    if _rare(draw, 3):
        order_type = draw(st.sampled_from([0, 5, 9]))
    allowed = ALLOWED_TIF.get(order_type, (GTC,))
    tif = draw(st.sampled_from(allowed))
    if _rare(draw, 4):
        tif = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6]))
    side = draw(st.sampled_from([1, 2]))
    if _rare(draw, 2):
        side = draw(st.sampled_from([0, 3]))
    qty = draw(st.integers(1, 15))
    if _rare(draw, 3):
        qty = draw(st.sampled_from([0, -1, 40, 2_000_000_000]))
    priced = order_type in (LIMIT, STOP_LIMIT)
    price = _price(draw) if priced else 0
    if _rare(draw, 2):
        price = draw(st.sampled_from([0, -5, 100, 1 << 60, (1 << 60) - 1]))
    stopped = order_type in (STOP, STOP_LIMIT)
    stop_price = draw(st.integers(95, 105)) if stopped else 0
    if _rare(draw, 2):
        stop_price = draw(st.sampled_from([0, -3, 100]))
    can_rest = order_type == LIMIT and tif in (GTC, GTD, DAY)
    display = 0
    if can_rest and _rare(draw, 35):
        display = draw(st.integers(1, max(1, min(qty, 4))))
    if _rare(draw, 2):
        display = draw(st.sampled_from([-1, 3, 100]))
    post_only = can_rest and _rare(draw, 15)
    if _rare(draw, 2):
        post_only = True
    stp = draw(st.sampled_from([0, 0, 0, 0, 1, 2, 3, 4]))
    if _rare(draw, 2):
        stp = draw(st.sampled_from([5, -1]))
    expire = 0
    if tif == GTD:
        expire = now + draw(st.integers(1, 6)) * TIME_STEP - draw(st.sampled_from([0, 0, 0, 1]))
        if _rare(draw, 4):
            expire = draw(st.sampled_from([0, -1, now]))
    elif _rare(draw, 2):
        expire = now + TIME_STEP
    protection = 0
    if order_type in (MARKET, STOP) and _rare(draw, 35):
        protection = _price(draw)
    if _rare(draw, 2):
        protection = draw(st.sampled_from([-1, 100]))
    if known and _rare(draw, 3):
        order_id = draw(st.sampled_from(known[-6:]))
    account = draw(st.sampled_from(ACCOUNTS))
    if _rare(draw, 1):
        # Values just outside whistle.core.limits: VALUE_OUT_OF_RANGE.
        order_id = draw(st.sampled_from([0, -1, 1 << 63]))
    if _rare(draw, 1):
        account = draw(st.sampled_from([-1, 1 << 63]))
    sym = symbol_id
    if _rare(draw, 1):
        sym = symbol_id + 1
    return NewOrder(
        symbol_id=sym,
        order_id=order_id,
        account=account,
        side=side,
        order_type=order_type,
        tif=tif,
        price_ticks=price,
        qty_lots=qty,
        stop_price_ticks=stop_price,
        display_qty_lots=display,
        post_only=post_only,
        stp=stp,
        expire_ts_ns=expire,
        protection_price_ticks=protection,
    )


def _target(draw: st.DrawFn, live: list[int], known: list[int]) -> int:
    if live and not _rare(draw, 15):
        return draw(st.sampled_from(live))
    if not known or _rare(draw, 50):
        return 999_999
    return draw(st.sampled_from(known[-10:]))


def _account_for(draw: st.DrawFn, order_id: int, owners: dict[int, int]) -> int | None:
    choice = draw(st.integers(0, 9))
    if choice < 5:
        return None
    if choice < 9 and order_id in owners:
        return owners[order_id]
    return draw(st.sampled_from(ACCOUNTS))


@st.composite
def streams(draw: st.DrawFn, max_len: int = 70) -> Stream:
    """A random stream of commands for one instrument, with a non-decreasing clock.

    A ``ReferenceMatcher`` runs alongside only to know which ids are live, so that most
    cancels, modifies and replaces name a live order (and halts stay short).
    """
    from reference_matcher import ReferenceMatcher  # tests/ is on sys.path under pytest

    instrument = draw(instruments())
    sid = instrument.symbol_id
    shadow = ReferenceMatcher(instrument)
    n = draw(st.integers(1, max_len))
    now = TIME_STEP
    next_id = 1
    known: list[int] = []
    owners: dict[int, int] = {}
    steps: list[Step] = []
    for i in range(n):
        if _rare(draw, 30):
            now += draw(st.integers(1, 3)) * TIME_STEP
        live = [o.order_id for o in shadow.orders]
        resting = [o.order_id for o in shadow.orders if not o.parked]
        halted = shadow.state == 2
        kind = draw(st.integers(0, 99))
        cmd: Command
        if halted and _rare(draw, 40):
            cmd = ResumeTrading(sid)
        elif kind < 55:
            cmd = draw(_new_order(sid, next_id, now, known))
            if cmd.order_id == next_id:
                next_id += 1
                known.append(cmd.order_id)
                owners[cmd.order_id] = cmd.account
        elif kind < 67:
            oid = _target(draw, live, known)
            cmd = CancelOrder(sid, oid, _account_for(draw, oid, owners))
        elif kind < 82:
            oid = _target(draw, resting if _rare(draw, 85) else live, known)
            price = draw(st.sampled_from([0, 0, -1])) if _rare(draw, 40) else _price(draw)
            qty = draw(st.sampled_from([0, 0, -1])) if _rare(draw, 40) else draw(st.integers(1, 15))
            cmd = ModifyOrder(sid, oid, price, qty, _account_for(draw, oid, owners))
        elif kind < 92:
            oid = _target(draw, resting if _rare(draw, 85) else live, known)
            if _rare(draw, 8) and known:
                new_id = draw(st.sampled_from([*known[-4:], oid]))
            else:
                new_id = next_id
                next_id += 1
                known.append(new_id)
                if oid in owners:
                    owners[new_id] = owners[oid]
            price = _price(draw) if not _rare(draw, 4) else draw(st.sampled_from([0, -1]))
            qty = draw(st.integers(1, 15)) if not _rare(draw, 4) else draw(st.sampled_from([0, 50]))
            cmd = CancelReplace(sid, oid, new_id, price, qty, _account_for(draw, oid, owners))
        elif kind < 94:
            cmd = MassCancel(sid, draw(st.sampled_from([None, *ACCOUNTS])))
        elif kind < 96:
            cmd = HaltTrading(sid)
        elif kind < 97:
            cmd = ResumeTrading(sid)
        else:
            cmd = EndSession(sid)
        steps.append(Step(enq_seq=i + 1, now_ns=now, command=cmd))
        shadow.process(i + 1, cmd, now)
    return Stream(instrument, steps)
