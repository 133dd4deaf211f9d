"""MBP-N rows as backtest input (format ``"mbp"``), for the L2 queue models.

Reads the rows ``whistle feed replay`` writes (``whistle.feed.mbp``: CSV with a header, or
JSON Lines when the file name ends in ``.jsonl``; Databento's MBP-10 column names, looked
up by name, so their interleaved CSV order reads too) and turns each row into the
``whistle.core.mbo`` events that make a ``MarketByOrderBook`` show exactly the row's
levels. A level is held as synthetic orders (``FLAG_SYNTHETIC``): an increase adds one at
the back, a decrease cancels the newest first, a level the row no longer shows is deleted
(the book is the row's top N, nothing beyond). A trade row (action ``T``) first executes
the resting side at its price, oldest synthetic order first (``MboExecute``: what the L2
models count as a trade at a level), or, when no level rests at that price, reports a
hidden trade (``MboTrade``); the row's levels are then matched as above.

Prices are the rows' decimal strings: their number of decimals (the same in every row)
becomes the instrument's ``price_decimals``. Bad rows raise ``FeedFormatError`` naming the
file and line. Only the L2 queue models make sense on this input (the runner refuses
``fifo`` and interactive mode).
"""

from __future__ import annotations

import csv
import json
import os
from typing import TYPE_CHECKING, Any, Final, final

from whistle.core.mbo import (
    FLAG_LAST,
    FLAG_SYNTHETIC,
    TRADE_HIDDEN,
    MboAdd,
    MboCancel,
    MboDelete,
    MboEvent,
    MboExecute,
    MboInstrument,
    MboTrade,
)
from whistle.feed import FeedFormatError, FeedStats

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["MbpRowReader"]

BUY: Final = 1
SELL: Final = 2
_F: Final = FLAG_SYNTHETIC


@final
class MbpRowReader:
    """Iterate MBP-N rows of ``symbol`` as MBO events (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], symbol: str, instrument_id: int = 1) -> None:
        self.path = os.fspath(path)
        self.symbol = symbol
        self.instrument_id = instrument_id
        self.stats = FeedStats()
        self.decimals = -1
        self._next_id = 0
        # side -> price -> [[synthetic id, qty], ...] oldest first
        self._levels: dict[int, dict[int, list[list[int]]]] = {BUY: {}, SELL: {}}

    def _bad(self, line: int, detail: str) -> FeedFormatError:
        return FeedFormatError(f"{self.path}: line {line}: {detail}", path=self.path, line=line)

    def _price(self, text: Any, line: int, column: str) -> int | None:
        if text is None or text == "":
            return None
        if not isinstance(text, str):
            text = str(text)
        whole, dot, frac = text.partition(".")
        digits = len(frac) if dot else 0
        if self.decimals < 0:
            self.decimals = digits
        if digits != self.decimals or not (
            whole.lstrip("-").isdigit() and (frac.isdigit() or not dot)
        ):
            raise self._bad(
                line, f"{column} must be a decimal with {self.decimals} decimals, was {text!r}"
            )
        return int(whole + frac)

    def _rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            fh = open(self.path, encoding="utf-8", newline="")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise FeedFormatError(
                f"{self.path}: cannot open: {exc.strerror}", path=self.path
            ) from None
        with fh:
            if self.path.endswith(".jsonl"):
                for no, raw in enumerate(fh, 1):
                    if raw.strip():
                        try:
                            row = json.loads(raw)
                        except json.JSONDecodeError as exc:
                            raise self._bad(no, f"not JSON: {exc}") from None
                        if not isinstance(row, dict):
                            raise self._bad(no, "a row must be a JSON object")
                        yield no, row
            else:
                for no, row in enumerate(csv.DictReader(fh), 2):
                    yield no, row

    def __iter__(self) -> Iterator[MboEvent]:
        iid = self.instrument_id
        named = False
        depth = -1
        seq = 0
        for line, row in self._rows():
            if row.get("symbol", self.symbol) != self.symbol:
                continue
            try:
                ts = int(row["ts_event"])
                recv = int(row.get("ts_recv") or 0)
                action = str(row["action"])
                side = str(row["side"])
            except (KeyError, ValueError, TypeError) as exc:
                raise self._bad(line, f"missing or bad head column: {exc}") from None
            if depth < 0:
                depth = sum(1 for k in row if k.startswith("bid_px_"))
                if depth == 0:
                    raise self._bad(line, "no bid_px_NN columns: not an MBP-N row")
            levels: dict[int, dict[int, int]] = {BUY: {}, SELL: {}}
            for s, name in ((BUY, "bid"), (SELL, "ask")):
                for i in range(depth):
                    px = self._price(row.get(f"{name}_px_{i:02d}"), line, f"{name}_px_{i:02d}")
                    try:
                        sz = int(row.get(f"{name}_sz_{i:02d}") or 0)
                    except (ValueError, TypeError):
                        raise self._bad(line, f"{name}_sz_{i:02d} is not an integer") from None
                    if px is not None and sz > 0:
                        levels[s][px] = sz
            trade_price = self._price(row.get("price"), line, "price")
            if not named:
                named = True
                yield MboInstrument(iid, ts, recv, 0, 0, self.symbol, max(self.decimals, 0))
            self.stats.messages += 1
            seq += 1
            out: list[MboEvent] = []
            if action == "T" and trade_price is not None:
                try:
                    size = int(row.get("size") or 0)
                except (ValueError, TypeError):
                    raise self._bad(line, "size is not an integer") from None
                resting = SELL if side == "B" else BUY if side == "A" else 0
                self._trade(out, ts, recv, seq, resting, trade_price, size)
            for s in (BUY, SELL):
                self._match(out, ts, recv, seq, s, levels[s])
            if out:
                last = out[-1]
                out[-1] = _with_last(last)
            yield from out

    def _trade(
        self, out: list[MboEvent], ts: int, recv: int, seq: int, side: int, price: int, size: int
    ) -> None:
        iid = self.instrument_id
        queue = self._levels[side].get(price) if side else None
        if not queue:
            out.append(MboTrade(iid, ts, recv, seq, 0, 0, side, price, size, TRADE_HIDDEN, True, 0))
            return
        left = size
        while queue and left > 0:
            order = queue[0]
            take = min(left, order[1])
            left -= take
            order[1] -= take
            out.append(MboExecute(iid, ts, recv, seq, _F, order[0], take, side, price, True, 0))
            if not order[1]:
                queue.pop(0)
        if not queue:
            del self._levels[side][price]

    def _match(
        self, out: list[MboEvent], ts: int, recv: int, seq: int, side: int, want: dict[int, int]
    ) -> None:
        iid = self.instrument_id
        have = self._levels[side]
        for price in [p for p in have if p not in want]:
            for oid, _qty in have.pop(price):
                out.append(MboDelete(iid, ts, recv, seq, _F, oid, side, price))
        for price, qty in want.items():
            queue = have.setdefault(price, [])
            now = sum(q for _, q in queue)
            if qty > now:
                self._next_id += 1
                queue.append([self._next_id, qty - now])
                out.append(MboAdd(iid, ts, recv, seq, _F, self._next_id, side, price, qty - now))
            elif qty < now:
                cut = now - qty
                while cut > 0:
                    order = queue[-1]
                    take = min(cut, order[1])
                    cut -= take
                    order[1] -= take
                    if order[1]:
                        out.append(MboCancel(iid, ts, recv, seq, _F, order[0], take, side, price))
                    else:
                        queue.pop()
                        out.append(MboDelete(iid, ts, recv, seq, _F, order[0], side, price))


def _with_last(e: MboEvent) -> MboEvent:
    import msgspec

    return msgspec.structs.replace(e, flags=e.flags | FLAG_LAST)
