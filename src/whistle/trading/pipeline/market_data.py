"""Stage 1, market data: order-level feed events -> books -> ``MarketEvent``.

``MarketDataStage`` keeps one ``MarketByOrderBook`` per pipeline symbol (keyed by the
feed's instrument id, which is the pipeline's ``symbol_id``) and turns each complete
exchange event (``FLAG_LAST``) into the ``MarketEvent`` values the strategies subscribed
to:

- ``TRADE`` for an execution or a non-displayed trade (``price``, ``qty``, ``side`` = the
  aggressor, i.e. the opposite of the resting order's side, 0 when unknown);
- ``BOOK`` (the top ``LEVELS`` levels of each side) when the book changed and some strategy
  subscribed to ``"book"``; otherwise ``BBO`` (level 1 only, cheaper to build) when the best
  bid or offer changed and some strategy subscribed to ``"bbo"``;
- ``STATUS`` for a trading-status event (``qty`` carries the status code).

A whistle venue's own market data works too (``whistle.core.events``, e.g. what
``Venue.subscribe`` delivers): ``BestBidOfferChanged`` -> ``BBO`` (level 1: the venue
publishes level changes, not a ten-level snapshot, so ``"book"`` subscribers get nothing
from it), ``TradeOccurred`` ->
``TRADE`` and ``TradingStatusChanged`` -> ``STATUS``, keyed by the venue's ``symbol_id``;
the venue's other events (order events, level changes) are ignored.

Events of other instruments are dropped (counted in ``ignored``). A ``MarketEvent`` given
as input (a recorded ``DISCONNECT``, an ``END``, a BBO) passes through unchanged, with its
``recv_ts_ns`` set to the origin time. Partial exchange events (no ``FLAG_LAST``) only
accumulate: a strategy never sees a half-applied book.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, cast, final

from whistle.book.mbo import (
    CHANGED_BBO,
    CHANGED_BOOK,
    CHANGED_TRADE,
    MarketByOrderBook,
)
from whistle.core.events import BestBidOfferChanged, TradeOccurred, TradingStatusChanged
from whistle.core.mbo import FLAG_LAST, NO_PRICE, MboEvent, MboExecute, MboStatus, MboTrade
from whistle.trading.messages import LEVELS, ZERO_LEVELS, MarketEvent, MarketKind

if TYPE_CHECKING:
    from collections.abc import Iterable

    from whistle.core.events import Event

__all__ = ["MarketDataStage"]

_EXECUTE: Final = MboExecute
_TRADE: Final = MboTrade
_STATUS: Final = MboStatus
_MARKET: Final = MarketEvent
_PAD: Final = ZERO_LEVELS
_PAD9: Final = ZERO_LEVELS[1:]
_VENUE_KINDS: Final = frozenset({BestBidOfferChanged, TradeOccurred, TradingStatusChanged})


def _levels(
    side: list[tuple[int, int, int]],
) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    n = len(side)
    px = [lv[0] for lv in side]
    qty = [lv[1] for lv in side]
    if n < LEVELS:
        pad = _PAD[: LEVELS - n]
        return n, (*px, *pad), (*qty, *pad)
    return n, tuple(px), tuple(qty)


@final
class MarketDataStage:
    """Books per symbol; ``on_event`` turns a feed event into subscribed ``MarketEvent``s."""

    __slots__ = (
        "_bits",
        "_partial",
        "_seq",
        "books",
        "ignored",
        "want_bbo",
        "want_book",
        "want_trade",
    )

    def __init__(
        self,
        symbol_ids: Iterable[int],
        *,
        want_book: bool = True,
        want_bbo: bool = True,
        want_trade: bool = True,
    ) -> None:
        self.books: dict[int, MarketByOrderBook] = {
            sid: MarketByOrderBook(sid) for sid in sorted(symbol_ids)
        }
        self.want_book = want_book
        self.want_bbo = want_bbo
        self.want_trade = want_trade
        self.ignored = 0
        """Feed events of instruments that are not pipeline symbols."""
        self._bits: dict[int, int] = dict.fromkeys(self.books, 0)
        self._partial = False  # some symbol has bits of an unfinished exchange event
        self._seq = 0

    def on_event(self, event: MboEvent | MarketEvent | Event, origin_ns: int) -> list[MarketEvent]:
        """Apply one feed event; return the ``MarketEvent``s it completes (often none)."""
        if type(event) is _MARKET:
            self._seq += 1
            return [_with_origin(event, origin_ns, self._seq)]
        if not isinstance(event, MboEvent):
            return self._venue_event(event, origin_ns)  # type: ignore[arg-type]
        iid = event.instrument_id
        book = self.books.get(iid)
        if book is None:
            self.ignored += 1
            return []
        t = type(event)
        aggressor = 0
        if t is _EXECUTE:
            ex = cast("MboExecute", event)
            level = book.where.get(ex.order_id)
            resting = level.side if level is not None else ex.side
            aggressor = 3 - resting if resting else 0
        elif t is _TRADE:
            resting = cast("MboTrade", event).side
            aggressor = 3 - resting if resting else 0
        bits = book.apply(event)
        if self._partial:  # an exchange event is being assembled (rare: MBO feeds only)
            bits |= self._bits[iid]
            self._bits[iid] = 0
        if not event.flags & FLAG_LAST:
            self._bits[iid] = bits
            self._partial = True
            return []
        out: list[MarketEvent] = []
        ts = event.ts_ns
        if t is _STATUS:
            self._seq += 1
            out.append(
                _MARKET(
                    MarketKind.STATUS,
                    iid,
                    ts,
                    origin_ns,
                    self._seq,
                    0,
                    cast("MboStatus", event).status,
                )
            )
            return out
        if bits & CHANGED_TRADE and self.want_trade:
            price = book.last_trade_price
            if price != NO_PRICE:
                self._seq += 1
                out.append(
                    _MARKET(
                        MarketKind.TRADE,
                        iid,
                        ts,
                        origin_ns,
                        self._seq,
                        price,
                        book.last_trade_qty,
                        aggressor,
                    )
                )
        if bits & CHANGED_BOOK and self.want_book:
            bids, asks = book.depth(LEVELS)
            nb, bpx, bqty = _levels(bids)
            na, apx, aqty = _levels(asks)
            self._seq += 1
            out.append(
                _MARKET(
                    MarketKind.BOOK,
                    iid,
                    ts,
                    origin_ns,
                    self._seq,
                    0,
                    0,
                    0,
                    nb,
                    na,
                    bpx,
                    bqty,
                    apx,
                    aqty,
                )
            )
        elif bits & CHANGED_BBO and self.want_bbo:
            bp, bq, _bc, ap, aq, _ac = book.bbo()
            nb = 0 if bp == NO_PRICE else 1
            na = 0 if ap == NO_PRICE else 1
            self._seq += 1
            out.append(
                _MARKET(
                    MarketKind.BBO,
                    iid,
                    ts,
                    origin_ns,
                    self._seq,
                    0,
                    0,
                    0,
                    nb,
                    na,
                    (bp,) + _PAD9 if nb else _PAD,  # noqa: RUF005 - concatenation is faster
                    (bq,) + _PAD9 if nb else _PAD,  # noqa: RUF005
                    (ap,) + _PAD9 if na else _PAD,  # noqa: RUF005
                    (aq,) + _PAD9 if na else _PAD,  # noqa: RUF005
                )
            )
        return out

    def _venue_event(self, event: Event, origin_ns: int) -> list[MarketEvent]:
        """A whistle venue's market data (see the module docstring)."""
        sid = event.symbol_id
        t = type(event)
        if sid not in self.books or t not in _VENUE_KINDS:
            self.ignored += 1
            return []
        self._seq += 1
        if t is BestBidOfferChanged:
            bbo = cast("BestBidOfferChanged", event)
            nb = 1 if bbo.bid_qty_lots else 0
            na = 1 if bbo.ask_qty_lots else 0
            return [
                _MARKET(
                    MarketKind.BBO,
                    sid,
                    event.ts_ns,
                    origin_ns,
                    self._seq,
                    0,
                    0,
                    0,
                    nb,
                    na,
                    (bbo.bid_price_ticks,) + _PAD9 if nb else _PAD,  # noqa: RUF005
                    (bbo.bid_qty_lots,) + _PAD9 if nb else _PAD,  # noqa: RUF005
                    (bbo.ask_price_ticks,) + _PAD9 if na else _PAD,  # noqa: RUF005
                    (bbo.ask_qty_lots,) + _PAD9 if na else _PAD,  # noqa: RUF005
                )
            ]
        if t is TradeOccurred:
            tr = cast("TradeOccurred", event)
            kind = MarketKind.TRADE
            price, qty, side = tr.price_ticks, tr.qty_lots, tr.aggressor_side
        else:
            kind = MarketKind.STATUS
            price, qty, side = 0, cast("TradingStatusChanged", event).state, 0
        return [_MARKET(kind, sid, event.ts_ns, origin_ns, self._seq, price, qty, side)]

    def end(self, ts_ns: int, origin_ns: int) -> MarketEvent:
        """Return the ``END`` event that closes the stream (symbol 0: every symbol)."""
        self._seq += 1
        return _MARKET(MarketKind.END, 0, ts_ns, origin_ns, self._seq)


def _with_origin(event: MarketEvent, origin_ns: int, seq: int) -> MarketEvent:
    return MarketEvent(
        event.kind,
        event.symbol_id,
        event.ts_ns,
        origin_ns,
        seq,
        event.price,
        event.qty,
        event.side,
        event.n_bid,
        event.n_ask,
        event.bid_px,
        event.bid_qty,
        event.ask_px,
        event.ask_qty,
    )
