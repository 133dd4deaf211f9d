"""Is a table-driven codec for whistle.trading.messages free on the ring path? (H9, session 4)

Compares, per call and in thread CPU time (``time.thread_time_ns``, best of ``REPEATS``), the
hand-written ``pack_into`` / ``unpack_from`` of each record with the best table-driven
version found (one ``_Codec`` per record: ``operator.attrgetter`` over the field names, enum
checks and decodes from a table, the record's special fields -- booleans, levels, the
``text`` that is not in the record -- as table entries too), and both with the ring they
cross (``SpscRing.try_push`` + ``try_pop`` of the packed bytes, same thread).

    .venv/bin/python tests/bench/message_codec.py [iterations]

Not a test (tests/bench is outside the default run); the figures it printed are in the
docstring of whistle.trading.messages.
"""

from __future__ import annotations

import itertools
import operator
import statistics
import sys
import time
from typing import Any

from whistle.core.enums import Liquidity, Side, TimeInForce
from whistle.ipc import SpscRing
from whistle.trading import messages as m
from whistle.trading.messages import (
    LEVELS,
    MarketEvent,
    MarketKind,
    MessageFormatError,
    Order,
    OrderAction,
    OrderUpdate,
    SignalEvent,
    SignalKind,
    UpdateKind,
)

REPEATS = 7


class _Codec:
    """A table-driven record codec (the alternative being measured)."""

    def __init__(
        self,
        cls: type[Any],
        tag: int,
        st: Any,
        names: tuple[str, ...],
        enums: dict[str, dict[int, Any]],
        bools: tuple[str, ...] = (),
        levels: int = 0,
        insert: tuple[tuple[int, Any], ...] = (),
    ) -> None:
        self.cls = cls
        self.tag = tag
        self.st = st
        self.get = operator.attrgetter(*names)
        self.checks = tuple((names.index(n), table) for n, table in enums.items())
        self.bools = tuple(names.index(n) for n in bools)
        self.levels = levels  # number of trailing LEVELS-long tuples
        self.flat = len(names) - levels
        self.insert = insert  # (position, value) of constructor arguments not in the record

    def pack(self, msg: Any, buf: Any, offset: int = 0) -> None:
        v = self.get(msg)
        for i, table in self.checks:
            if v[i] not in table:
                raise MessageFormatError(f"field {i} not in its enum")
        if self.levels:
            self.st.pack_into(
                buf,
                offset,
                self.tag,
                *v[: self.flat],
                *itertools.chain.from_iterable(v[self.flat :]),
            )
        else:
            self.st.pack_into(buf, offset, self.tag, *v)  # bools pack as 0 / 1

    def unpack(self, buf: Any, offset: int = 0) -> Any:
        r = self.st.unpack_from(buf, offset)
        if r[0] != self.tag:
            raise MessageFormatError("wrong type code")
        args = list(r[1 : 1 + self.flat])
        for i, table in self.checks:
            value = table.get(args[i])
            if value is None:
                raise MessageFormatError(f"field {i} not in its enum")
            args[i] = value
        for i in self.bools:
            if args[i] > 1:
                raise MessageFormatError(f"field {i} must be 0 or 1")
            args[i] = args[i] == 1
        if self.levels:
            start = 1 + self.flat
            for k in range(self.levels):
                args.append(r[start + k * LEVELS : start + (k + 1) * LEVELS])
        for position, value in self.insert:
            args.insert(position, value)
        return self.cls(*args)


def names_of(fields: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    return tuple(name for name, _ in fields)


CODECS = {
    "MarketEvent": _Codec(
        MarketEvent,
        1,
        m._MARKET,
        names_of(m._MARKET_FIELDS),
        {"kind": m._MARKET_KINDS, "side": m._SIDES_OR_0},
        levels=4,
    ),
    "SignalEvent": _Codec(
        SignalEvent,
        2,
        m._SIGNAL,
        names_of(m._SIGNAL_FIELDS),
        {"kind": m._SIGNAL_KINDS, "tif": m._TIFS_OR_0},
        bools=("post_only",),
    ),
    "Order": _Codec(
        Order,
        4,
        m._ORDER,
        names_of(m._ORDER_FIELDS),
        {"action": m._ACTIONS, "side": m._SIDES, "tif": m._TIFS_OR_0},
        bools=("post_only",),
    ),
    "OrderUpdate": _Codec(
        OrderUpdate,
        5,
        m._UPDATE,
        names_of(m._UPDATE_FIELDS),
        {"kind": m._UPDATE_KINDS, "side": m._SIDES_OR_0, "liquidity": m._LIQUIDITY_OR_0},
        insert=((12, ""),),
    ),
}

SAMPLES = {
    "MarketEvent": MarketEvent(
        MarketKind.BOOK,
        7,
        1_000,
        1_001,
        42,
        n_bid=10,
        n_ask=10,
        bid_px=tuple(range(100, 90, -1)),
        bid_qty=tuple(range(1, 11)),
        ask_px=tuple(range(101, 111)),
        ask_qty=tuple(range(11, 21)),
    ),
    "SignalEvent": SignalEvent(
        SignalKind.BUY, 3, 7, 99, 10_000, 5, TimeInForce.DAY, True, 123_456_789
    ),
    "Order": Order(
        OrderAction.NEW, 99, 1, 7, Side.BUY, 10_000, 5, TimeInForce.DAY, True, 123_456_789
    ),
    "OrderUpdate": OrderUpdate(
        UpdateKind.FILLED,
        99,
        7,
        Side.BUY,
        10_000,
        5,
        2,
        10_000,
        3,
        Liquidity.MAKER,
        -3,
        0,
        "",
        123_456_789,
        555,
    ),
}


def per_call_ns(fn: Any, n: int) -> float:
    best = []
    for _ in range(REPEATS):
        t = time.thread_time_ns()
        fn(n)
        best.append((time.thread_time_ns() - t) / n)
    return min(best), statistics.median(best)


def main(n: int) -> None:
    ring = SpscRing.create(None, 1 << 16)
    try:
        print(f"{'record':12} {'op':7} {'hand ns':>8} {'table ns':>9} {'delta':>6}  (min / median)")
        for name, msg in SAMPLES.items():
            codec = CODECS[name]
            cls = type(msg)
            buf = bytearray(cls.SIZE)
            msg.pack_into(buf)
            raw = bytes(buf)
            assert codec.unpack(raw) == cls.unpack_from(raw) == msg
            codec.pack(msg, buf)
            assert bytes(buf) == raw

            def hand_pack(k: int, msg: Any = msg, buf: bytearray = buf) -> None:
                pack = msg.pack_into
                for _ in range(k):
                    pack(buf)

            def table_pack(k: int, msg: Any = msg, buf: bytearray = buf, c: Any = codec) -> None:
                pack = c.pack
                for _ in range(k):
                    pack(msg, buf)

            def hand_unpack(k: int, raw: bytes = raw, cls: Any = cls) -> None:
                unpack = cls.unpack_from
                for _ in range(k):
                    unpack(raw)

            def table_unpack(k: int, raw: bytes = raw, c: Any = codec) -> None:
                unpack = c.unpack
                for _ in range(k):
                    unpack(raw)

            def ring_trip(k: int, raw: bytes = raw) -> None:
                push, pop = ring.try_push, ring.try_pop
                for _ in range(k):
                    push(raw)
                    pop()

            for op, hand, table in (
                ("pack", hand_pack, table_pack),
                ("unpack", hand_unpack, table_unpack),
            ):
                h, hm = per_call_ns(hand, n)
                t, tm = per_call_ns(table, n)
                print(f"{name:12} {op:7} {h:6.0f}/{hm:<4.0f} {t:6.0f}/{tm:<4.0f} {t - h:+5.0f}")
            r, rm = per_call_ns(ring_trip, n)
            print(f"{name:12} {'ring':7} {r:6.0f}/{rm:<4.0f}  (try_push + try_pop)")
    finally:
        ring.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
