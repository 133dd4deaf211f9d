"""The feed benchmark: decode, decode + book, decode + book + MBP-10 rows, against a bare loop.

Procedure (``run_feed_bench``):

1. build the input before anything is timed: a seeded synthetic stream for one liquid
   stock (:func:`synthetic_ops`: adds, cancels, deletes and replaces near the touch,
   executions at the best level in FIFO order, a few hidden trades), written in the exact
   wire layout of the format (ITCH 5.0 with 2-byte length prefixes, LOBSTER message CSV,
   or DBN MBO records through ``databento-dbn``), or the given file;
2. time, interleaved, best of ``repeat`` runs each (``perf_counter_ns`` around the whole
   loop): the *bare* loop (frame every message and read its type byte, nothing else),
   *decode* (every normalized event built), *book* (decode + ``MarketByOrderBook.apply``),
   *mbp10* (decode + book + one MBP-10 row per book change);
3. report rates in messages per second of wall time and the ratios to the bare loop.
"""

from __future__ import annotations

import gc
import os
import random
import struct
import tempfile
import time
from typing import TYPE_CHECKING, Any, Final, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "DEFAULT_MESSAGES",
    "FORMATS",
    "SyntheticOp",
    "bare_dbn",
    "bare_itch",
    "bare_lobster",
    "bench_file",
    "dbn_bytes",
    "itch_bytes",
    "lobster_bytes",
    "run_feed_bench",
    "synthetic_ops",
]

DEFAULT_MESSAGES: Final = 500_000
FORMATS: Final = ("itch", "lobster", "dbn")

# Op kinds of the synthetic stream (format-neutral; each writer maps them to its messages).
OP_ADD: Final = 0
OP_CANCEL: Final = 1  # partial cancel
OP_DELETE: Final = 2
OP_REPLACE: Final = 3  # cancel-replace: new order ref, new price / qty, back of the queue
OP_EXECUTE: Final = 4  # a resting order executes (FIFO at the best level)
OP_TRADE: Final = 5  # a non-displayed (hidden) order traded; the visible book is unchanged

SYMBOL: Final = "WHSTL"
LOCATE: Final = 1
TICK: Final = 100  # one cent in ITCH's 4-decimal prices
START_PRICE: Final = 1_000_000  # $100.0000
SESSION_START_NS: Final = (9 * 3600 + 30 * 60) * 1_000_000_000
_MAX_LIVE: Final = 2_000


class SyntheticOp(NamedTuple):
    """One message of the synthetic stream; prices in 1/10,000 dollars, ``side`` b'B'/b'S'."""

    kind: int
    ts_ns: int
    ref: int
    side: bytes
    qty: int
    price: int
    new_ref: int


def synthetic_ops(messages: int, seed: int = 1) -> list[SyntheticOp]:
    """Return ``messages`` order-level messages for one liquid stock, seeded.

    The book keeps up to 2,000 live orders, most within ten ticks of the touch. The
    mix is about 44% adds, 30% deletes, 5% partial cancels, 10% replaces, 9% executions
    and 2% hidden trades. Executions always hit the oldest order of the best level, so
    the book never crosses and every message is valid against the book it builds.
    """
    rng = random.Random(seed)  # noqa: S311 -- a reproducible benchmark stream, not secrets
    rand = rng.random
    ops: list[SyntheticOp] = []
    append = ops.append
    # live orders: ref -> [side, price, qty]; FIFO per (side, price) level
    live: dict[int, list[Any]] = {}
    refs: list[int] = []  # live refs in a swap-remove list, for uniform random picks
    where: dict[int, int] = {}
    levels: dict[tuple[bytes, int], list[int]] = {}
    next_ref = 1
    ts = SESSION_START_NS
    mid = START_PRICE

    best_bid: int | None = None
    best_ask: int | None = None

    def rescan(side: bytes) -> int | None:
        prices = [p for (s, p) in levels if s == side]
        if not prices:
            return None
        return max(prices) if side == b"B" else min(prices)

    def drop(ref: int) -> None:
        nonlocal best_bid, best_ask
        side, price, _ = live.pop(ref)
        queue = levels[side, price]
        queue.remove(ref)
        if not queue:
            del levels[side, price]
            if side == b"B" and price == best_bid:
                best_bid = rescan(b"B")
            elif side == b"S" and price == best_ask:
                best_ask = rescan(b"S")
        i = where.pop(ref)
        last = refs.pop()
        if last != ref:
            refs[i] = last
            where[last] = i

    def place(ref: int, side: bytes, price: int, qty: int) -> None:
        nonlocal best_bid, best_ask
        live[ref] = [side, price, qty]
        levels.setdefault((side, price), []).append(ref)
        where[ref] = len(refs)
        refs.append(ref)
        if side == b"B":
            if best_bid is None or price > best_bid:
                best_bid = price
        elif best_ask is None or price < best_ask:
            best_ask = price

    def near_touch(side: bytes) -> int:
        k = 0
        while rand() < 0.55 and k < 30:
            k += 1
        if side == b"B":
            top = best_ask - TICK if best_ask is not None else mid - TICK
            return top - k * TICK
        top = best_bid + TICK if best_bid is not None else mid + TICK
        return top + k * TICK

    while len(ops) < messages:
        ts += 1 + int(rng.expovariate(1 / 20_000))
        r = rand()
        n_live = len(refs)
        if n_live > _MAX_LIVE and r < 0.44:
            r = 0.44 + r * (0.30 / 0.44)  # a full book: this add becomes a delete
        if n_live < 50 or r < 0.44:
            side = b"B" if rand() < 0.5 else b"S"
            price = near_touch(side)
            qty = 100 * (1 + int(rng.expovariate(1 / 2)))
            ref = next_ref
            next_ref += 1
            place(ref, side, price, qty)
            append(SyntheticOp(OP_ADD, ts, ref, side, qty, price, 0))
        elif r < 0.74:
            ref = refs[int(rand() * n_live)]
            side, price, qty = live[ref]
            drop(ref)
            append(SyntheticOp(OP_DELETE, ts, ref, side, qty, price, 0))
        elif r < 0.79:
            ref = refs[int(rand() * n_live)]
            order = live[ref]
            if order[2] <= 100:
                continue
            cut = 100 * (1 + int(rand() * (order[2] // 100 - 1)))
            cut = min(cut, order[2] - 100)
            order[2] -= cut
            append(SyntheticOp(OP_CANCEL, ts, ref, order[0], cut, order[1], 0))
        elif r < 0.89:
            ref = refs[int(rand() * n_live)]
            side = live[ref][0]
            drop(ref)
            price = near_touch(side)
            qty = 100 * (1 + int(rng.expovariate(1 / 2)))
            new_ref = next_ref
            next_ref += 1
            place(new_ref, side, price, qty)
            append(SyntheticOp(OP_REPLACE, ts, ref, side, qty, price, new_ref))
        elif r < 0.98:
            side = b"B" if rand() < 0.5 else b"S"
            top = best_bid if side == b"B" else best_ask
            if top is None:
                continue
            ref = levels[side, top][0]
            order = live[ref]
            qty = order[2] if rand() < 0.6 else min(order[2], 100 * (1 + int(rand() * 3)))
            if qty >= order[2]:
                qty = order[2]
                drop(ref)
            else:
                order[2] -= qty
            append(SyntheticOp(OP_EXECUTE, ts, ref, side, qty, top, 0))
        else:
            side = b"B" if rand() < 0.5 else b"S"
            hit = best_bid if side == b"B" else best_ask
            if hit is None:
                continue
            append(SyntheticOp(OP_TRADE, ts, 0, side, 100, hit, 0))
        if best_bid is not None and best_ask is not None:
            mid = (best_bid + best_ask) // 2 // TICK * TICK
    return ops


# -- ITCH 5.0 ---------------------------------------------------------------------------
_S = struct.Struct(">HcHH6sc")
_R = struct.Struct(">HcHH6s8sccIcc2scccccIc")
_H = struct.Struct(">HcHH6s8scc4s")
_A = struct.Struct(">HcHH6sQcI8sI")
_E = struct.Struct(">HcHH6sQIQ")
_X = struct.Struct(">HcHH6sQI")
_D = struct.Struct(">HcHH6sQ")
_U = struct.Struct(">HcHH6sQQII")
_P = struct.Struct(">HcHH6sQcI8sIQ")


def _ts6(ts_ns: int) -> bytes:
    return ts_ns.to_bytes(6, "big")


def itch_bytes(ops: list[SyntheticOp], *, symbol: str = SYMBOL) -> bytes:
    """Return ``ops`` as an ITCH 5.0 stream: every message with its 2-byte length prefix.

    The stream opens with system events O and S, a stock directory (R) and a trading
    action (H, trading) for ``symbol`` on locate 1, and closes with system events M, E, C.
    """
    stock = symbol.encode().ljust(8)
    first = ops[0].ts_ns if ops else SESSION_START_NS
    last = ops[-1].ts_ns if ops else SESSION_START_NS
    out: list[bytes] = [
        _S.pack(_S.size - 2, b"S", 0, 0, _ts6(first - 3_000), b"O"),
        _S.pack(_S.size - 2, b"S", 0, 0, _ts6(first - 2_000), b"S"),
        _R.pack(
            _R.size - 2,
            b"R",
            LOCATE,
            0,
            _ts6(first - 1_500),
            stock,
            b"Q",
            b"N",
            100,
            b"N",
            b"C",
            b"Z ",
            b"P",
            b"N",
            b"1",
            b"N",
            b"N",
            0,
            b"N",
        ),
        _H.pack(_H.size - 2, b"H", LOCATE, 0, _ts6(first - 1_000), stock, b"T", b" ", b"    "),
        _S.pack(_S.size - 2, b"S", 0, 0, _ts6(first - 500), b"Q"),
    ]
    append = out.append
    match = 0
    A_LEN, D_LEN, X_LEN = _A.size - 2, _D.size - 2, _X.size - 2
    U_LEN, E_LEN, P_LEN = _U.size - 2, _E.size - 2, _P.size - 2
    for kind, ts, ref, side, qty, price, new_ref in ops:
        t6 = _ts6(ts)
        if kind == OP_ADD:
            append(_A.pack(A_LEN, b"A", LOCATE, 0, t6, ref, side, qty, stock, price))
        elif kind == OP_DELETE:
            append(_D.pack(D_LEN, b"D", LOCATE, 0, t6, ref))
        elif kind == OP_CANCEL:
            append(_X.pack(X_LEN, b"X", LOCATE, 0, t6, ref, qty))
        elif kind == OP_REPLACE:
            append(_U.pack(U_LEN, b"U", LOCATE, 0, t6, ref, new_ref, qty, price))
        elif kind == OP_EXECUTE:
            match += 1
            append(_E.pack(E_LEN, b"E", LOCATE, 0, t6, ref, qty, match))
        else:
            match += 1
            append(_P.pack(P_LEN, b"P", LOCATE, 0, t6, 0, side, qty, stock, price, match))
    out += [
        _S.pack(_S.size - 2, b"S", 0, 0, _ts6(last + 1_000), b"M"),
        _S.pack(_S.size - 2, b"S", 0, 0, _ts6(last + 2_000), b"E"),
        _S.pack(_S.size - 2, b"S", 0, 0, _ts6(last + 3_000), b"C"),
    ]
    return b"".join(out)


# Fixed ITCH 5.0 message lengths (without the prefix), for framing files with zero prefixes.
ITCH_LENGTHS: Final = {
    b"S"[0]: 12, b"R"[0]: 39, b"H"[0]: 25, b"Y"[0]: 20, b"L"[0]: 26, b"V"[0]: 35,
    b"W"[0]: 12, b"K"[0]: 28, b"J"[0]: 35, b"h"[0]: 21, b"A"[0]: 36, b"F"[0]: 40,
    b"E"[0]: 31, b"C"[0]: 36, b"X"[0]: 23, b"D"[0]: 19, b"U"[0]: 35, b"P"[0]: 44,
    b"Q"[0]: 40, b"B"[0]: 19, b"I"[0]: 50, b"N"[0]: 20, b"O"[0]: 48,
}  # fmt: skip


def bare_itch(data: bytes) -> tuple[int, list[int]]:
    """Frame every message of an ITCH stream and read its type byte: the floor loop.

    A zero prefix (or one that disagrees with the type) falls back to the type's fixed
    length, as a real reader must. Return (messages, count per type byte).
    """
    counts = [0] * 256
    lengths = [0] * 256
    for code, length in ITCH_LENGTHS.items():
        lengths[code] = length
    n = len(data)
    off = 0
    messages = 0
    while off + 3 <= n:
        length = (data[off] << 8) | data[off + 1]
        code = data[off + 2]
        if length != lengths[code]:
            length = lengths[code]
            if not length:
                break
        counts[code] += 1
        messages += 1
        off += 2 + length
    return messages, counts


# -- LOBSTER and DBN renderings of the same stream ----------------------------------------
def lobster_bytes(ops: list[SyntheticOp]) -> bytes:
    """Return ``ops`` as a LOBSTER message file (no header; see ``whistle.feed.lobster``).

    A replace is a deletion of the old order then a submission of the new one (LOBSTER has
    no replace); a hidden trade is type 5 with order id 0.
    """
    live: dict[int, list[int]] = {}  # ref -> [price, qty]
    lines: list[str] = []
    append = lines.append
    for kind, ts, ref, side, qty, price, new_ref in ops:
        t = f"{ts // 1_000_000_000}.{ts % 1_000_000_000:09d}"
        d = 1 if side == b"B" else -1
        if kind == OP_ADD:
            live[ref] = [price, qty]
            append(f"{t},1,{ref},{qty},{price},{d}")
        elif kind == OP_CANCEL:
            live[ref][1] -= qty
            append(f"{t},2,{ref},{qty},{price},{d}")
        elif kind == OP_DELETE:
            old_price, left = live.pop(ref)
            append(f"{t},3,{ref},{left},{old_price},{d}")
        elif kind == OP_REPLACE:
            old_price, left = live.pop(ref)
            append(f"{t},3,{ref},{left},{old_price},{d}")
            live[new_ref] = [price, qty]
            append(f"{t},1,{new_ref},{qty},{price},{d}")
        elif kind == OP_EXECUTE:
            order = live[ref]
            order[1] -= qty
            if not order[1]:
                del live[ref]
            append(f"{t},4,{ref},{qty},{price},{d}")
        else:
            append(f"{t},5,0,{qty},{price},{d}")
    return ("\n".join(lines) + "\n").encode()


def dbn_bytes(ops: list[SyntheticOp], *, instrument_id: int = 1) -> bytes:
    """Return ``ops`` as a DBN MBO file, encoded by ``databento-dbn`` itself.

    As Databento normalizes ITCH: a replace is C (old) + A (new), an execution is T (the
    aggressor's side) + F (the resting order) + C, each event's last record ``F_LAST``;
    prices scaled from 4 to 9 decimals.
    """
    import databento_dbn as dbn

    meta = dbn.Metadata(  # the stubs type enum members as str
        dataset="XNAS.ITCH",
        start=0,
        stype_in=dbn.SType.RAW_SYMBOL,  # type: ignore[arg-type]
        stype_out=dbn.SType.INSTRUMENT_ID,  # type: ignore[arg-type]
        schema=dbn.Schema.MBO,  # type: ignore[arg-type]
        symbols=[SYMBOL],
        mappings=[],
    )
    add, cancel, trade, fill = dbn.Action.ADD, dbn.Action.CANCEL, dbn.Action.TRADE, dbn.Action.FILL
    bid, ask, last = dbn.Side.BID, dbn.Side.ASK, dbn.F_LAST
    msg = dbn.MBOMsg
    live: dict[int, int] = {}  # ref -> qty
    out: list[bytes] = [bytes(meta)]
    append = out.append
    for seq, (kind, ts, ref, side, qty, price, new_ref) in enumerate(ops, 1):
        px = price * 100_000
        s = bid if side == b"B" else ask

        def rec(
            action: Any, oid: int, p: int, q: int, sd: Any, flags: int, ts: int = ts, seq: int = seq
        ) -> bytes:
            return bytes(msg(2, instrument_id, ts, oid, p, q, action, sd, ts, flags, 0, 0, seq))

        if kind == OP_ADD:
            live[ref] = qty
            append(rec(add, ref, px, qty, s, last))
        elif kind == OP_CANCEL:
            live[ref] -= qty
            append(rec(cancel, ref, px, qty, s, last))
        elif kind == OP_DELETE:
            append(rec(cancel, ref, px, live.pop(ref), s, last))
        elif kind == OP_REPLACE:
            append(rec(cancel, ref, px, live.pop(ref), s, 0))
            live[new_ref] = qty
            append(rec(add, new_ref, px, qty, s, last))
        elif kind == OP_EXECUTE:
            live[ref] -= qty
            if not live[ref]:
                del live[ref]
            append(rec(trade, 0, px, qty, ask if s is bid else bid, 0))
            append(rec(fill, ref, px, qty, s, 0))
            append(rec(cancel, ref, px, qty, s, last))
        else:
            append(rec(trade, 0, px, qty, ask if s is bid else bid, last))
    return b"".join(out)


# -- bare loops: frame every message and read its type, nothing else ----------------------
def bare_lobster(path: str) -> int:
    """Split a LOBSTER message file into lines and read each line's type field."""
    counts = [0] * 256
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            counts[line[line.index(b",") + 1]] += 1
            n += 1
    return n


def bare_dbn(path: str) -> int:
    """Frame the records of a plain DBN file by their length byte and read each rtype."""
    counts = [0] * 256
    n = 0
    with open(path, "rb") as fh:
        data = fh.read()
    off = 8 + int.from_bytes(data[4:8], "little")
    end = len(data)
    while off < end:
        counts[data[off + 1]] += 1
        off += data[off] * 4
        n += 1
    return n


def _bare_interpreted(path: str, fmt: str) -> int:
    if fmt != "itch":
        return _bare(fmt)(path)
    with open(path, "rb") as fh:
        return bare_itch(fh.read())[0]


def _bare(fmt: str) -> Callable[[str], int]:
    if fmt == "itch":
        from whistle.feed.itch import frame_types

        return frame_types
    return bare_lobster if fmt == "lobster" else bare_dbn


# -- the timed loops ----------------------------------------------------------------------
def _decode_only(path: str, fmt: str) -> int:
    import whistle.feed

    reader = whistle.feed.open(path, fmt)
    for _ in reader:
        pass
    return reader.stats.messages


def _decode_book(path: str, fmt: str) -> int:
    import whistle.feed
    from whistle.book.mbo import MarketByOrderBook
    from whistle.core.mbo import MboInstrument

    reader = whistle.feed.open(path, fmt)
    books: dict[int, MarketByOrderBook] = {}
    current = -1
    apply = None
    for e in reader:
        iid = e.instrument_id
        if iid != current:
            if type(e) is MboInstrument:
                continue
            book = books.get(iid)
            if book is None:
                book = books[iid] = MarketByOrderBook(iid)
            apply = book.apply
            current = iid
        assert apply is not None
        apply(e)
    return reader.stats.messages


def _decode_book_mbp(path: str, fmt: str) -> int:
    import whistle.feed
    from whistle.feed.mbp import MbpBuilder

    reader = whistle.feed.open(path, fmt)
    push = MbpBuilder(10).push
    for e in reader:
        push(e)
    return reader.stats.messages


def _time(fn: Callable[[], int]) -> tuple[int, int, int]:
    """Return (wall ns, process CPU ns, result) of one call."""
    gc.collect()
    c0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    result = fn()
    t1 = time.perf_counter_ns()
    return t1 - t0, time.process_time_ns() - c0, result


def bench_file(path: str, fmt: str, repeat: int = 3) -> dict[str, Any]:
    """Time the bare loop, decode, decode + book, decode + book + MBP-10 on ``path``;
    best of ``repeat`` runs each, interleaved. Return the JSON-ready figures.

    ``*_per_sec`` are messages per second of wall time (the best run); on a shared
    machine the CPU time of the same run is the steadier figure, so ``cpu_per_sec`` gives
    the rates per second of process CPU time as well.
    """
    bare = _bare(fmt)
    loops: dict[str, Callable[[], int]] = {
        "bare": lambda: bare(path),
        # the same framing loop, always interpreted (this module is never compiled)
        "bare_interpreted": lambda: _bare_interpreted(path, fmt),
        "decode": lambda: _decode_only(path, fmt),
        "book": lambda: _decode_book(path, fmt),
        "mbp10": lambda: _decode_book_mbp(path, fmt),
    }
    best: dict[str, int] = {}
    cpu: dict[str, int] = {}
    counts: dict[str, int] = {}
    for fn in loops.values():  # warm-up: imports, caches
        fn()
    for _ in range(repeat):
        for name, fn in loops.items():
            ns, cpu_ns, n = _time(fn)
            counts[name] = n
            if name not in best or ns < best[name]:
                best[name] = ns
            if name not in cpu or cpu_ns < cpu[name]:
                cpu[name] = max(cpu_ns, 1)
    messages = counts["decode"]
    rate = {k: messages / (v / 1e9) for k, v in best.items()}
    cpu_rate = {k: messages / (v / 1e9) for k, v in cpu.items()}
    return {
        "format": fmt,
        "file": path,
        "bytes": os.path.getsize(path),
        "messages": messages,
        "bare_messages": counts["bare"],
        "seconds": round(best["book"] / 1e9, 6),
        "bare_per_sec": round(rate["bare"]),
        "decode_per_sec": round(rate["decode"]),
        "book_per_sec": round(rate["book"]),
        "mbp10_per_sec": round(rate["mbp10"]),
        "bare_interpreted_per_sec": round(rate["bare_interpreted"]),
        "book_vs_bare": round(rate["book"] / rate["bare"], 3),
        "book_vs_bare_interpreted": round(rate["book"] / rate["bare_interpreted"], 3),
        "decode_vs_bare": round(rate["decode"] / rate["bare"], 3),
        "seconds_by_loop": {k: round(v / 1e9, 6) for k, v in best.items()},
        "cpu_per_sec": {k: round(v) for k, v in cpu_rate.items()},
        "repeat": repeat,
    }


def _compiled() -> dict[str, bool]:
    import importlib

    names = ("whistle.book.mbo", "whistle.feed.itch", "whistle.feed.lobster", "whistle.feed.mbp")
    out: dict[str, bool] = {}
    for name in names:
        module = importlib.import_module(name)
        out[name] = not str(getattr(module, "__file__", "")).endswith(".py")
    return out


def default_sample(fmt: str) -> str | None:
    """Return the shared sample file of ``fmt`` (``shared/data`` beside the project root,
    found from this module's source tree or from the current directory), if present."""
    if fmt == "itch":
        rel = os.path.join("itch50-simulated", "ex20101224.TEST_ITCH_50")
    elif fmt == "lobster":
        rel = os.path.join(
            "lobster-aapl-2012-06-21-level10", "AAPL_2012-06-21_34200000_57600000_message_10.csv"
        )
    else:
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    roots = [os.path.abspath(os.path.join(here, *[".."] * 4)), os.getcwd()]  # src/whistle/bench
    for root in roots:
        for base in (os.path.dirname(root), root):
            path = os.path.join(base, "shared", "data", rel)
            if os.path.isfile(path):
                return path
    return None


def run_feed_bench(
    fmt: str,
    messages: int = DEFAULT_MESSAGES,
    *,
    seed: int = 1,
    path: str | None = None,
    repeat: int = 3,
    sample: bool = True,
) -> dict[str, Any]:
    """Run the feed benchmark (see the module docstring) and return a JSON-ready dict.

    The top-level figures are those of the synthetic stream of ``messages`` messages (or
    of ``path`` when given); ``sample`` adds the same figures for the shared sample file
    of the format (ITCH, LOBSTER) under ``"sample"`` when it is found.
    """
    from whistle.bench.matching import environment

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, was {fmt!r}")
    made: str | None = None
    try:
        if path is None:
            ops = synthetic_ops(messages, seed)
            if fmt == "itch":
                data = itch_bytes(ops)
            elif fmt == "lobster":
                data = lobster_bytes(ops)
            else:
                data = dbn_bytes(ops)
            del ops
            made = path = _write_temp(data, "." + fmt)
            del data
        result: dict[str, Any] = {
            "input": "synthetic" if made else "file",
            "seed": seed if made else None,
            **bench_file(path, fmt, repeat),
        }
        sample_path = default_sample(fmt) if sample and made else None
        if sample_path is not None:
            result["sample"] = bench_file(sample_path, fmt, repeat)
        result["compiled"] = _compiled()
        result.update(environment())
        return result
    finally:
        if made is not None:
            os.unlink(made)


def _write_temp(data: bytes, suffix: str) -> str:
    fd, name = tempfile.mkstemp(prefix="whistle-bench-feed-", suffix=suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return name
