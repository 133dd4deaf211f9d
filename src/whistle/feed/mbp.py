"""MBP-N rows out of order-level events: one row per visible book change, Databento style.

:class:`MbpBuilder` feeds ``whistle.core.mbo`` events into one
:class:`~whistle.book.mbo.MarketByOrderBook` per instrument and returns a row whenever
the event changed one of the best ``depth`` levels of a side, cleared the book, or
printed a trade. With ``on_last=True`` (the default) a row is published only at an event
carrying ``FLAG_LAST``, for every change since the previous one: Databento normalizes one
exchange event into several records and the book is consistent only after the last
(ITCH and LOBSTER events are always last, so there both modes give the same rows).

Row schema (:func:`mbp_columns`; the names of Databento's MBP-10 schema)::

    ts_event   exchange timestamp, ns (ITCH / LOBSTER: since midnight; DBN: UNIX epoch)
    ts_recv    receive timestamp, ns (0 where the source has none)
    symbol     the instrument's symbol
    action     A add, C cancel or delete, M modify / replace, T trade (a print: an
               execution or a trade), R clear, N other; with on_last, the action of the
               record that closed the event (F: a Databento fill, never a row by itself)
    side       B bid / A ask: the order's side; for T the *aggressor's* side (the opposite
               of the resting order's for an execution), N when unknown
    depth      the best changed level, 0 = top (0 for a trade or clear)
    price      the order's or trade's price (empty / None when there is none)
    size       the added / cancelled / new / traded quantity (0 for R, N)
    flags      the event's flags (FLAG_LAST = 128, FLAG_SNAPSHOT = 32, ...)
    sequence   the source's sequence number (0 where it has none)
    bid_px_00 .. bid_px_NN   bid prices, best first (NN = depth - 1)
    bid_sz_00 .. bid_sz_NN   bid sizes
    bid_ct_00 .. bid_ct_NN   bid order counts
    ask_px_00 .. ask_px_NN, ask_sz_00 .. ask_sz_NN, ask_ct_00 .. ask_ct_NN   the same, asks

The level columns are grouped by side and field (Databento's CSV interleaves them per
level under the same names): a row is the head, then the bid part, then the ask part, and
each part is kept built until its side changes within the top ``depth`` levels, so an
event that moves one side rebuilds only that side's columns.

An empty level has no price (empty in CSV, ``null`` in JSON, ``None`` in Python), size 0
and count 0. Python rows (:func:`whistle.feed.mbp_rows`) carry prices as integers in the
source's ticks; the CSV and JSON Lines writers print them as decimal strings with the
source's implied decimals (ITCH / LOBSTER 4, Databento 9), as Databento's ``pretty_px``.
"""

from __future__ import annotations

import bisect
import csv
import json
from typing import IO, TYPE_CHECKING, Any, Final, cast, final

from whistle.book.mbo import CHANGED_BOOK, CHANGED_TRADE, MarketByOrderBook
from whistle.core.mbo import (
    FLAG_LAST,
    NO_PRICE,
    TRADE_CROSS,
    TRADE_INFO,
    MboAdd,
    MboCancel,
    MboClear,
    MboDelete,
    MboEvent,
    MboExecute,
    MboInstrument,
    MboModify,
    MboStatus,
    MboTrade,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Iterator

__all__ = [
    "DEFAULT_DEPTH",
    "HEAD_COLUMNS",
    "CsvRowWriter",
    "JsonlRowWriter",
    "MbpBuilder",
    "MbpRow",
    "format_price",
    "mbp_columns",
    "mbp_rows",
    "open_row_writer",
]

DEFAULT_DEPTH: Final = 10
HEAD_COLUMNS: Final = (
    "ts_event",
    "ts_recv",
    "symbol",
    "action",
    "side",
    "depth",
    "price",
    "size",
    "flags",
    "sequence",
)
MbpRow = tuple[Any, ...]
"""``HEAD_COLUMNS`` values, then ``3 * depth`` bid values and ``3 * depth`` ask values."""

_BUY: Final = 1
# The event classes as Final statics: compiled, a module global is a dict lookup per use.
_INSTRUMENT: Final = MboInstrument
_STATUS: Final = MboStatus
_ADD: Final = MboAdd
_CANCEL: Final = MboCancel
_DELETE: Final = MboDelete
_MODIFY: Final = MboModify
_EXECUTE: Final = MboExecute
_TRADE: Final = MboTrade
_CLEAR: Final = MboClear
_TEXT_CACHE: Final = 1 << 16
_SELL: Final = 2
_SIDE_LETTER: Final = ("N", "B", "A")
_AGGRESSOR: Final = ("N", "A", "B")  # resting buy order hit -> a sell aggressor


def mbp_columns(depth: int = DEFAULT_DEPTH) -> list[str]:
    """Return the column names of an MBP-``depth`` row (Databento's MBP-10 naming)."""
    cols = list(HEAD_COLUMNS)
    for side in ("bid", "ask"):
        for field in ("px", "sz", "ct"):
            cols += [f"{side}_{field}_{i:02d}" for i in range(depth)]
    return cols


def format_price(ticks: int | None, decimals: int) -> str:
    """Return ``ticks`` with ``decimals`` implied decimals as a decimal string ('' if None)."""
    if ticks is None:
        return ""
    if decimals <= 0:
        return str(ticks)
    sign = "-" if ticks < 0 else ""
    whole, frac = divmod(abs(ticks), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"


@final
class _Levels:
    """One side's levels as four aligned lists, sorted by key (asks: the price; bids: the
    negated price, so that the best level comes first on both sides).

    Lists, not dicts by price: the top ``depth`` levels are then three slices, and no int
    is boxed to look a level up (compiled, a dict lookup by a native int allocates).
    """

    __slots__ = ("counts", "keys", "part", "prices", "qtys")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.prices: list[int] = []
        self.qtys: list[int] = []
        self.counts: list[int] = []
        self.part: tuple[Any, ...] | None = None
        """This side's row columns as last built; None: changed since."""

    def set(self, key: int, price: int, qty: int, count: int) -> int:
        """Record a level's new (qty, count), qty 0: gone; return its index (-1: unknown)."""
        keys = self.keys
        i = bisect.bisect_left(keys, key)
        here = i < len(keys) and keys[i] == key
        if qty == 0:
            if not here:
                return -1
            del keys[i]
            del self.prices[i]
            del self.qtys[i]
            del self.counts[i]
        elif here:
            self.qtys[i] = qty
            self.counts[i] = count
        else:
            keys.insert(i, key)
            self.prices.insert(i, price)
            self.qtys.insert(i, qty)
            self.counts.insert(i, count)
        return i


@final
class _Instrument:
    """One instrument's book and its visible levels."""

    __slots__ = ("asks", "bids", "book", "decimals", "pending", "symbol")

    def __init__(self, instrument_id: int, symbol: str, decimals: int) -> None:
        self.book = MarketByOrderBook(instrument_id)
        self.symbol = symbol
        self.decimals = decimals
        self.bids = _Levels()
        self.asks = _Levels()
        self.pending = -1  # best changed level since the last published row (-1: none)


@final
class MbpBuilder:
    """Turn MBO events into MBP-``depth`` rows (see the module docstring).

    ``push(event)`` returns a row or None. ``instruments`` maps instrument id to
    (symbol, price decimals, book) for the closing summary; books are created on first
    use (an instrument never named by an ``MboInstrument`` event is called by its id).
    """

    def __init__(self, depth: int = DEFAULT_DEPTH, *, on_last: bool = True) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, was {depth}")
        self.depth = depth
        self.on_last = on_last
        self._states: dict[int, _Instrument] = {}
        self._decimals: dict[str, int] = {}
        self.rows = 0
        self._nones: list[Any] = [None] * depth
        self._zeros: list[Any] = [0] * depth

    def books(self) -> dict[int, tuple[str, int, MarketByOrderBook]]:
        """Return {instrument id: (symbol, price decimals, book)}."""
        return {iid: (s.symbol, s.decimals, s.book) for iid, s in self._states.items()}

    def decimals(self) -> dict[str, int]:
        """Return {symbol: price decimals} of every instrument seen (a live dict: it grows
        as instruments appear, so a row writer may hold it)."""
        return self._decimals

    def _state(self, e: MboEvent) -> _Instrument:
        iid = e.instrument_id
        state = self._states.get(iid)
        if state is None:
            state = _Instrument(iid, str(iid), 4)
            self._states[iid] = state
            self._decimals.setdefault(state.symbol, state.decimals)
        return state

    def push(self, e: MboEvent) -> MbpRow | None:
        """Apply ``e`` to its instrument's book; return the row it publishes, if any."""
        # Dispatch on the exact type (a pointer compare) and cast: isinstance() on a
        # msgspec Struct goes through its metaclass (hundreds of instructions).
        t = type(e)
        if t is _INSTRUMENT:
            named = cast("MboInstrument", e)
            self._decimals[named.symbol] = named.price_decimals
            old = self._states.get(named.instrument_id)
            if old is None:
                self._states[named.instrument_id] = _Instrument(
                    named.instrument_id, named.symbol, named.price_decimals
                )
            else:
                old.symbol = named.symbol
                old.decimals = named.price_decimals
            return None
        if e.instrument_id == 0 and t is _STATUS:
            return None  # a system-wide event (ITCH system event): no book of its own
        state = self._state(e)
        book = state.book
        # What the row reports of an order that the event may remove: read it first.
        price = NO_PRICE
        size = 0
        side = 0
        action = "N"
        if t is _ADD:
            add = cast("MboAdd", e)
            price, size, side = add.price, add.qty, add.side
            action = "A"
        elif t is _CANCEL or t is _DELETE or t is _MODIFY or t is _EXECUTE:
            ref = cast("MboCancel | MboDelete | MboModify | MboExecute", e)
            order = book.orders.get(ref.order_id)
            if order is not None:
                price, side, size = order.price, order.side, order.qty
            else:
                price, side = ref.price, ref.side
            if t is _CANCEL:
                size = cast("MboCancel", e).qty
                action = "C"
            elif t is _MODIFY:
                mod = cast("MboModify", e)
                size = mod.qty
                if mod.price != NO_PRICE:
                    price = mod.price
                action = "M"
            elif t is _DELETE:
                action = "C"
            else:
                action = "T"
        bits = book.apply(e)
        depth = self.depth
        changed = -1
        if bits & CHANGED_BOOK:
            changed = self._update_levels(state)
        side_letter = _SIDE_LETTER[side] if 0 <= side <= 2 else "N"
        if t is _EXECUTE:
            price, size = book.last_trade_price, book.last_trade_qty
            side_letter = _AGGRESSOR[side] if 0 <= side <= 2 else "N"
            if cast("MboExecute", e).printable and changed < 0:
                changed = 0
        elif t is _TRADE:
            trade = cast("MboTrade", e)
            price, size = trade.price, trade.qty
            action = "T"
            if trade.kind == TRADE_INFO:
                if not trade.printable:
                    action = "F"
                side_letter = _SIDE_LETTER[trade.side] if 0 <= trade.side <= 2 else "N"
            elif trade.kind == TRADE_CROSS:
                side_letter = "N"
            else:
                side_letter = _AGGRESSOR[trade.side] if 0 <= trade.side <= 2 else "N"
            if trade.printable and bits & CHANGED_TRADE:
                changed = 0
        elif t is _CLEAR:
            action = "R"
            price, size = NO_PRICE, 0
            if bits & CHANGED_BOOK:
                changed = 0
        visible = 0 <= changed < depth
        if self.on_last:
            if visible and (state.pending < 0 or changed < state.pending):
                state.pending = changed
            if not e.flags & FLAG_LAST or state.pending < 0:
                return None
            changed = state.pending
            state.pending = -1
        elif not visible:
            return None
        self.rows += 1
        return self._row(state, e, action, side_letter, changed, price, size)

    def _update_levels(self, state: _Instrument) -> int:
        """Apply the book's deltas to the level lists; return the best changed level."""
        best = 1 << 30
        depth = self.depth
        for side, price, qty, count in state.book.deltas():
            levels = state.bids if side == _BUY else state.asks
            i = levels.set(-price if side == _BUY else price, price, qty, count)
            if i < 0:
                continue
            if i < depth:
                levels.part = None
            if i < best:
                best = i
        return best if best < 1 << 30 else -1

    def _row(
        self,
        state: _Instrument,
        e: MboEvent,
        action: str,
        side: str,
        depth: int,
        price: int,
        size: int,
    ) -> MbpRow:
        bids = state.bids.part
        if bids is None:
            bids = state.bids.part = self._part(state.bids)
        asks = state.asks.part
        if asks is None:
            asks = state.asks.part = self._part(state.asks)
        head = (
            e.ts_ns,
            e.ts_recv_ns,
            state.symbol,
            action,
            side,
            depth,
            None if price == NO_PRICE else price,
            size,
            e.flags,
            e.sequence,
        )
        return head + bids + asks

    def _part(self, levels: _Levels) -> tuple[Any, ...]:
        """One side's columns: prices, sizes, counts of the best ``depth`` levels, padded."""
        n = self.depth
        pad = n - len(levels.keys)
        if pad <= 0:
            part: list[Any] = levels.prices[:n]
            part += levels.qtys[:n]
            part += levels.counts[:n]
            return tuple(part)
        part = levels.prices[:n]
        part += self._nones[:pad]
        part += levels.qtys[:n]
        part += self._zeros[:pad]
        part += levels.counts[:n]
        part += self._zeros[:pad]
        return tuple(part)

    def run(self, events: Iterable[MboEvent]) -> Iterator[MbpRow]:
        """Yield the rows of ``events``."""
        push = self.push
        for e in events:
            row = push(e)
            if row is not None:
                yield row


# -- writers --------------------------------------------------------------------------
class _RowWriter:
    def __init__(self, fh: IO[str], depth: int, decimals: dict[str, int]) -> None:
        self.fh = fh
        self.depth = depth
        self.decimals = decimals
        self.columns = mbp_columns(depth)
        # Indexes of the price columns: the head's price, then bid_px_* and ask_px_*.
        head = len(HEAD_COLUMNS)
        self._price_cols = (
            6,
            *range(head, head + depth),
            *range(head + 3 * depth, head + 4 * depth),
        )
        # Formatted prices by (decimals, ticks): a book's prices repeat row after row.
        self._texts: dict[tuple[int, int], str] = {}

    def _pretty(self, row: MbpRow, empty: str | None) -> list[Any]:
        out = list(row)
        scale = self.decimals.get(row[2], 4)
        texts = self._texts
        if len(texts) > _TEXT_CACHE:
            texts.clear()
        for c in self._price_cols:
            v = out[c]
            if v is None:
                out[c] = empty
                continue
            text = texts.get((scale, v))
            if text is None:
                text = texts[scale, v] = format_price(v, scale)
            out[c] = text
        return out

    def write(self, row: MbpRow) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.fh.flush()


@final
class CsvRowWriter(_RowWriter):
    """CSV with a header row; prices as decimal strings, an empty level's price empty."""

    def __init__(self, fh: IO[str], depth: int, decimals: dict[str, int]) -> None:
        super().__init__(fh, depth, decimals)
        self._csv = csv.writer(fh, lineterminator="\n")
        self._csv.writerow(self.columns)

    def write(self, row: MbpRow) -> None:
        self._csv.writerow(self._pretty(row, ""))


@final
class JsonlRowWriter(_RowWriter):
    """One JSON object per line, keys in column order; prices as decimal strings or null."""

    def write(self, row: MbpRow) -> None:
        self.fh.write(json.dumps(dict(zip(self.columns, self._pretty(row, None), strict=True))))
        self.fh.write("\n")


def open_row_writer(
    fh: IO[str], kind: str, depth: int, decimals: dict[str, int]
) -> CsvRowWriter | JsonlRowWriter:
    """Return the writer for ``kind`` (``csv`` or ``jsonl``) on the text stream ``fh``.

    ``decimals`` maps symbol to price decimals; it is read at each row, so the caller may
    fill it while the stream runs (``MbpBuilder.decimals()``).
    """
    if kind == "csv":
        return CsvRowWriter(fh, depth, decimals)
    if kind == "jsonl":
        return JsonlRowWriter(fh, depth, decimals)
    raise ValueError(f"row format must be 'csv' or 'jsonl', was {kind!r}")


def mbp_rows(
    path: str | os.PathLike[str],
    format: str,
    *,
    depth: int = DEFAULT_DEPTH,
    symbols: Iterable[str] | None = None,
    on_last: bool = True,
    **options: Any,
) -> Iterator[dict[str, Any]]:
    """Yield the MBP-``depth`` rows of a market-data file as dicts keyed by column name.

    ``list(whistle.feed.mbp_rows("f.itch", format="itch", symbols=["BOB"]))`` is the whole
    book history without pandas. Prices are integers in the source's ticks (None for an
    empty level); see the module docstring for the columns. ``options`` go to the decoder.
    """
    import whistle.feed  # the package imports this module: resolve it at call time

    reader = whistle.feed.open(path, format, symbols, **options)
    columns = mbp_columns(depth)
    for row in MbpBuilder(depth, on_last=on_last).run(reader):
        yield dict(zip(columns, row, strict=True))
