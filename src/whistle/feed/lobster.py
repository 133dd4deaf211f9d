"""LOBSTER: message file (+ optional orderbook file) into ``whistle.core.mbo`` events.

A LOBSTER message file has one event per line, no header:
``time,type,order_id,size,price,direction`` with ``time`` in seconds after midnight
(up to 9 decimals), ``price`` in dollars x 10,000 and ``direction`` 1 (buy) or -1 (sell).
The types and what they become:

====  ==========================================  ========================================
type  LOBSTER                                     event
====  ==========================================  ========================================
1     submission of a new limit order             ``MboAdd``
2     cancellation (partial deletion)             ``MboCancel(qty=size)``
3     deletion (total)                            ``MboCancel(qty=size)``: the whole rest,
                                                  so the order leaves the book (a cancel,
                                                  not a delete, so that an order placed
                                                  before the file starts is taken off the
                                                  synthetic seed order of its level)
4     execution of a visible order                ``MboExecute``; ``direction`` is the
                                                  *resting* order's side
5     execution of a hidden order                 ``MboTrade(TRADE_HIDDEN)``: no book change
6     cross trade (auction)                       ``MboTrade(TRADE_CROSS)``: no book change
7     trading halt (price -1 halt, 0 quoting,     ``MboStatus`` (HALT / QUOTE_ONLY /
      1 resume)                                   RESUME)
====  ==========================================  ========================================

The orderbook file (row i = the book after message i: per level ask price, ask size, bid
price, bid size; an empty level is +/-9999999999 with size 0) seeds the book: the orders
resting at the start are not in the message file, so the first row, less the effect of
the first message, becomes one synthetic order per level (``FLAG_SYNTHETIC``, ids -1,
-2, ...) yielded before the first message. Cancels and executions of ids the book never
saw then come off the synthetic order at their price. ``compare()`` replays both files
and reports the rows where the book and the orderbook file differ.

Events: ``instrument_id`` as given (default 0), ``ts_ns`` nanoseconds after midnight,
``sequence`` the line number, ``flags`` ``FLAG_LAST``. A line with the wrong number of
columns, a value that is not an integer, an unknown type or a direction other than
1 / -1 is a ``FeedFormatError`` naming the file and line (``policy="strict"``, the
default), or, under ``lenient``, a counted decoder anomaly (``stats.anomalies``, with the
file and line in ``stats.anomaly_log``) and the line is skipped.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final, final

from whistle.core.limits import MAX_ORDER_ID, MAX_PRICE_TICKS, MAX_QTY_LOTS
from whistle.core.mbo import (
    FLAG_LAST,
    FLAG_SNAPSHOT,
    FLAG_SYNTHETIC,
    SIDE_NONE,
    STATUS_HALT,
    STATUS_QUOTE_ONLY,
    STATUS_RESUME,
    TRADE_CROSS,
    TRADE_HIDDEN,
    MboAdd,
    MboCancel,
    MboEvent,
    MboExecute,
    MboInstrument,
    MboStatus,
    MboTrade,
)
from whistle.feed._common import (
    FeedStats,
    check_policy,
    open_binary,
    read_lines,
    wanted_symbols,
)
from whistle.feed.errors import FeedFormatError

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator

__all__ = [
    "LOBSTER_EMPTY_PRICE",
    "LOBSTER_PRICE_DECIMALS",
    "LobsterComparison",
    "LobsterDecoder",
    "compare",
    "orderbook_rows",
]

LOBSTER_PRICE_DECIMALS: Final = 4
LOBSTER_EMPTY_PRICE: Final = 9_999_999_999
"""The orderbook file's price of an empty level (negative on the bid side)."""
_HALT: Final = {-1: STATUS_HALT, 0: STATUS_QUOTE_ONLY, 1: STATUS_RESUME}

Levels = list[tuple[int, int]]


def _ts_ns(text: bytes) -> int:
    whole, _, frac = text.partition(b".")
    if len(frac) > 9 or not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"time {text.decode('ascii', 'replace')!r} is not seconds.nanoseconds")
    return int(whole) * 1_000_000_000 + int(frac.ljust(9, b"0") or b"0")


def orderbook_rows(path: str | os.PathLike[str]) -> Generator[tuple[Levels, Levels]]:
    """Yield each row of a LOBSTER orderbook file as (bids, asks): (price, size) per
    non-empty level, best first."""
    name = os.fspath(path)
    with open_binary(name) as f:
        for line_no, raw in read_lines(f, name):
            line = raw.strip()
            if not line:
                raise FeedFormatError(
                    f"{name}: line {line_no}: empty line; expected one row per message",
                    path=name,
                    line=line_no,
                )
            cols = line.split(b",")
            if len(cols) % 4:
                raise FeedFormatError(
                    f"{name}: line {line_no}: expected 4 columns per level (ask price, ask"
                    f" size, bid price, bid size), saw {len(cols)} columns",
                    path=name,
                    line=line_no,
                )
            try:
                v = [int(c) for c in cols]
            except ValueError as exc:
                raise FeedFormatError(
                    f"{name}: line {line_no}: not an integer: {exc}", path=name, line=line_no
                ) from None
            asks = [(v[i], v[i + 1]) for i in range(0, len(v), 4) if v[i + 1] > 0]
            bids = [(v[i + 2], v[i + 3]) for i in range(0, len(v), 4) if v[i + 3] > 0]
            yield bids, asks


def _symbol_from_name(path: str) -> str:
    # AAPL_2012-06-21_34200000_57600000_message_10.csv -> AAPL
    base = os.path.basename(path)
    return base.split("_", 1)[0] if "_message_" in base else ""


@final
class LobsterDecoder:
    """Streaming LOBSTER decoder (see the module docstring)."""

    format_name: Final = "lobster"

    def __init__(
        self,
        path: str | os.PathLike[str],
        orderbook: str | os.PathLike[str] | None = None,
        symbols: Iterable[str] | None = None,
        symbol: str | None = None,
        instrument_id: int = 0,
        policy: str = "strict",
    ) -> None:
        self.path = os.fspath(path)
        self.orderbook = os.fspath(orderbook) if orderbook is not None else None
        self.symbol = symbol if symbol is not None else _symbol_from_name(self.path)
        self.instrument_id = instrument_id
        self.strict = check_policy(policy)
        self.filter = wanted_symbols(symbols)
        self.stats = FeedStats()
        self.seed_orders = 0
        """Synthetic orders yielded from the orderbook file's first row."""

    def _bad(self, line_no: int, kind: str, message: str) -> None:
        where = f"{self.path}: line {line_no}: {message}"
        if self.strict:
            raise FeedFormatError(where, path=self.path, line=line_no)
        self.stats.anomaly(kind, where)

    def _parse(self, line_no: int, raw: bytes) -> tuple[int, int, int, int, int, int] | None:
        cols = raw.split(b",")
        if len(cols) != 6:
            self._bad(
                line_no,
                "bad_columns",
                "expected 6 columns (time, type, order id, size, price, direction),"
                f" saw {len(cols)}",
            )
            return None
        try:
            ts = _ts_ns(cols[0].strip())
            kind = int(cols[1])
            oid = int(cols[2])
            size = int(cols[3])
            price = int(cols[4])
            direction = int(cols[5])
        except ValueError as exc:
            self._bad(line_no, "bad_value", f"not a number: {exc}")
            return None
        if kind < 1 or kind > 7:
            self._bad(line_no, "unknown_type", f"unknown LOBSTER event type {kind}; expected 1-7")
            return None
        if direction != 1 and direction != -1:
            self._bad(line_no, "bad_direction", f"direction {direction}; expected 1 or -1")
            return None
        if kind != 7 and not (0 < size <= MAX_QTY_LOTS and 0 < price <= MAX_PRICE_TICKS):
            self._bad(
                line_no,
                "bad_value",
                f"size {size} / price {price} out of range; expected 1..{MAX_QTY_LOTS} shares"
                f" at 1..{MAX_PRICE_TICKS} (dollars x 10,000)",
            )
            return None
        if not -1 <= oid <= MAX_ORDER_ID or not 0 <= ts < 2 * 86_400 * 10**9:
            self._bad(line_no, "bad_value", f"order id {oid} or time {ts} ns out of range")
            return None
        return ts, kind, oid, size, price, direction

    def _seed(self, first: tuple[int, int, int, int, int, int] | None) -> list[MboEvent]:
        # The first orderbook row, less the first message's effect: the pre-open book.
        assert self.orderbook is not None
        rows = orderbook_rows(self.orderbook)
        try:
            bids, asks = next(rows)
        except StopIteration:
            raise FeedFormatError(
                f"{self.orderbook}: line 1: empty orderbook file", path=self.orderbook, line=1
            ) from None
        finally:
            rows.close()
        book = {1: dict(bids), -1: dict(asks)}
        ts = 0
        if first is not None:
            ts, kind, _oid, size, price, direction = first
            levels = book[direction]
            if kind == 1:
                left = levels.get(price, 0) - size
                if left > 0:
                    levels[price] = left
                else:
                    levels.pop(price, None)
            elif kind in (2, 3, 4):
                levels[price] = levels.get(price, 0) + size
        out: list[MboEvent] = []
        iid = self.instrument_id
        flags = FLAG_SYNTHETIC | FLAG_SNAPSHOT
        n = 0
        for direction, side in ((1, 1), (-1, 2)):
            for price, size in sorted(book[direction].items(), reverse=direction == 1):
                n += 1
                out.append(MboAdd(iid, ts, 0, 0, flags, -n, side, price, size))
        if out:
            last = out[-1]
            assert isinstance(last, MboAdd)
            out[-1] = MboAdd(
                iid, ts, 0, 0, flags | FLAG_LAST, last.order_id, last.side, last.price, last.qty
            )
        self.seed_orders = n
        return out

    def __iter__(self) -> Iterator[MboEvent]:
        if self.filter is not None and self.symbol not in self.filter:
            return
        iid = self.instrument_id
        counts = [0] * 8
        sym = self.stats.symbol(self.symbol)
        f = open_binary(self.path)
        try:
            first = True
            for line_no, raw in read_lines(f, self.path):
                line = raw.strip()
                if not line:
                    self._bad(line_no, "empty_line", "empty line; expected a message")
                    continue
                parsed = self._parse(line_no, line)
                if parsed is None:
                    continue
                ts, kind, oid, size, price, direction = parsed
                if first:
                    first = False
                    yield MboInstrument(
                        iid, ts, 0, 0, FLAG_LAST, self.symbol, LOBSTER_PRICE_DECIMALS
                    )
                    if self.orderbook is not None:
                        yield from self._seed(parsed)
                counts[kind] += 1
                self.stats.messages += 1
                side = 1 if direction == 1 else 2
                if kind == 1:
                    sym.adds += 1
                    yield MboAdd(iid, ts, 0, line_no, FLAG_LAST, oid, side, price, size)
                elif kind == 4:
                    sym.executions += 1
                    yield MboExecute(
                        iid, ts, 0, line_no, FLAG_LAST, oid, size, side, price, True, 0
                    )
                elif kind == 2 or kind == 3:
                    if kind == 2:
                        sym.cancels += 1
                    else:
                        sym.deletes += 1
                    yield MboCancel(iid, ts, 0, line_no, FLAG_LAST, oid, size, side, price)
                elif kind == 5 or kind == 6:
                    sym.trades += 1
                    yield MboTrade(
                        iid,
                        ts,
                        0,
                        line_no,
                        FLAG_LAST,
                        oid,
                        side if kind == 5 else SIDE_NONE,
                        price,
                        size,
                        TRADE_HIDDEN if kind == 5 else TRADE_CROSS,
                        True,
                        0,
                    )
                else:
                    status = _HALT.get(price)
                    if status is None:
                        self._bad(
                            line_no,
                            "bad_value",
                            f"trading halt indicator price {price}; expected -1, 0 or 1",
                        )
                        continue
                    yield MboStatus(iid, ts, 0, line_no, FLAG_LAST, status, str(price))
            if first and self.orderbook is not None:
                yield from self._seed(None)
        finally:
            f.close()
            self.stats.by_type = {str(k): counts[k] for k in range(1, 8) if counts[k]}


@final
class LobsterComparison:
    """The outcome of ``compare()``.

    A LOBSTER level-N message file only has the events inside the best N levels: a level
    deeper than N changes without messages, so when it comes into view (a level above it
    empties) the message stream cannot know its size. ``compare`` therefore checks each
    row against the book and then reconciles the book's visible levels with the row
    (``MarketByOrderBook.set_level``), so that every row is checked against a book that
    matched the previous one. ``equal`` rows match exactly; ``deeper`` rows differ only at
    prices that were not among the previous row's N levels (a level entering from below,
    explained); ``unexplained`` rows, (line, level, whistle's, LOBSTER's), differ
    elsewhere and should not exist. ``reconciled_levels`` counts the levels set.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.equal = 0
        self.deeper: list[tuple[int, int, str, str]] = []
        self.unexplained: list[tuple[int, int, str, str]] = []
        self.reconciled_levels = 0
        self.anomalies: dict[str, int] = {}
        self.synthetic_hits = 0


def compare(
    message_path: str | os.PathLike[str],
    orderbook_path: str | os.PathLike[str],
    levels: int = 10,
) -> LobsterComparison:
    """Replay the message file (seeded from the orderbook file) through a
    ``MarketByOrderBook`` and compare its best ``levels`` with every orderbook row."""
    from whistle.book.mbo import MarketByOrderBook  # a checking tool, not the decoder

    decoder = LobsterDecoder(message_path, orderbook=orderbook_path)
    book = MarketByOrderBook()
    rows = orderbook_rows(orderbook_path)
    result = LobsterComparison()
    prev: tuple[set[int], set[int]] | None = None
    try:
        for e in decoder:
            book.apply(e)
            if e.sequence == 0:
                continue  # the instrument and the seed orders are not messages
            try:
                want_bids, want_asks = next(rows)
            except StopIteration:
                raise FeedFormatError(
                    f"{os.fspath(orderbook_path)}: has fewer rows than the message file"
                    f" ({result.rows}); expected one row per message",
                    path=os.fspath(orderbook_path),
                    line=result.rows + 1,
                ) from None
            result.rows += 1
            bids, asks = book.depth(levels)
            wants = (want_bids[:levels], want_asks[:levels])
            first: tuple[int, str, str] | None = None
            explained = True
            for s, got_levels in ((0, bids), (1, asks)):
                got = [(p, q) for p, q, _ in got_levels]
                want = wants[s]
                if got == want:
                    continue
                name = "bid" if s == 0 else "ask"
                diff = _first_difference(got, want, name)
                if first is None or diff[0] < first[0]:
                    first = diff
                # Every price that differs must be new to the view (not in the last row).
                g = dict(got)
                w = dict(want)
                for price in set(g) | set(w):
                    if g.get(price) != w.get(price):
                        if prev is None or price in prev[s]:
                            explained = False
                        result.reconciled_levels += 1
                        book.set_level(1 if s == 0 else 2, price, w.get(price, 0))
            prev = ({p for p, _ in wants[0]}, {p for p, _ in wants[1]})
            if first is None:
                result.equal += 1
            elif explained:
                result.deeper.append((e.sequence, *first))
            else:
                result.unexplained.append((e.sequence, *first))
    finally:
        rows.close()
    result.anomalies = dict(book.anomalies)
    result.synthetic_hits = book.synthetic_hits
    return result


def _first_difference(got: Levels, want: Levels, name: str) -> tuple[int, str, str]:
    # The shallowest level (1-based) where ``got`` and ``want`` differ, and both views.
    for k in range(max(len(got), len(want))):
        g = got[k] if k < len(got) else None
        w = want[k] if k < len(want) else None
        if g != w:
            return k + 1, f"{name} {g}", f"{name} {w}"
    return 0, "", ""
