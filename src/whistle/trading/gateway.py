"""Gateways: where approved orders meet a venue, and how its answers come back.

Two interfaces, implemented here for a whistle ``Venue`` (embedded or with engine-host
processes) and by upper layers for remote venues (``whistle.api``) and by the backtest:

- ``Gateway`` (one account, the pipeline's last stage): ``send(order)`` returns the
  updates the venue produced while handling it (synchronous outcomes: the ack or reject,
  immediate fills, an IOC remainder's cancel), ``poll(now_ns)`` the ones that happened since
  (fills from other participants' flow, expiries, anything a tick did), ``close()``.
- ``Exchange`` (the orchestrator and the network API): many symbols; ``subscribe(symbol_id,
  on_market, on_update)`` registers callbacks, ``pump(now_ns)`` delivers the market events
  and order updates waiting for them, in the venue's order; ``send(order)`` returns the
  order's synchronous updates (they are not passed to ``on_update`` as well).

``VenueGateway`` / ``VenueExchange`` map client order ids to venue order ids (the venue's
own ids, chosen as ``venue.next_order_id(symbol)`` at entry; ``venue_order_id`` is on every
update) and translate venue events into ``OrderUpdate`` s:

================  ===========================================================================
venue event       update
================  ===========================================================================
OrderAccepted     ACCEPTED (price, qty, leaves_qty = qty)
OrderFilled       FILLED (fill_price, fill_qty, liquidity, fee, leaves_qty)
OrderCancelled    CANCELLED (reason = the ``CancelCause``; leaves_qty > 0: a reduction)
OrderExpired      EXPIRED (reason = ``CancelCause.EXPIRED``)
OrderModified     MODIFIED (price, qty = leaves_qty = the new remaining quantity)
OrderRejected     REJECTED (reason = the core ``RejectReason`` code, text = its meaning and,
                  for a refusal at the venue's edge, ``venue.last_reject_detail``)
================  ===========================================================================

Refusals the gateway makes itself are REJECTED updates too, never exceptions: a cancel or
modify of a client order id that is not live (``RejectReason.UNKNOWN_ORDER_ID``), a new
order reusing a live client order id (``DUPLICATE_ORDER_ID``), an order for a symbol the
gateway does not trade (``UNKNOWN_SYMBOL``) or for another account (``ACCOUNT_MISMATCH``).
A venue that cannot work at all (stopped, journal unavailable) raises ``GatewayError``.

Fees: ``maker_ppm`` / ``taker_ppm`` parts per million of a fill's notional (price x qty,
tick-lots), rounded half-even; negative rates are rebates. The venue itself charges none.

One gateway per account per venue: it hears every event of its symbols and keeps those of
its account whose venue order id it entered; events of orders it did not enter are
counted in ``unmatched_events``. Events reach it through ``Venue.subscribe`` (the venue
has no unsubscribe: a closed gateway ignores them).
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import TYPE_CHECKING, Any, Final, Protocol, cast, final, runtime_checkable

from whistle.coord.durability.datadir import JournalUnavailable
from whistle.core.enums import CancelCause, Liquidity, Side
from whistle.core.errors import WhistleError
from whistle.core.events import (
    BestBidOfferChanged,
    BookLevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
    TradeOccurred,
    TradingStatusChanged,
)
from whistle.core.reasons import RejectReason
from whistle.trading.errors import GatewayError
from whistle.trading.messages import (
    LEVELS,
    MarketEvent,
    MarketKind,
    Order,
    OrderAction,
    OrderUpdate,
    UpdateKind,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, MutableSequence

    from whistle.coord.venue.facade import Venue
    from whistle.core.events import Event

__all__ = [
    "Exchange",
    "Gateway",
    "VenueExchange",
    "VenueGateway",
    "fee_of",
]

_OrderEvent = (
    OrderAccepted | OrderFilled | OrderCancelled | OrderExpired | OrderModified | OrderRejected
)
_ORDER_KINDS: Final = frozenset(
    {OrderAccepted, OrderFilled, OrderCancelled, OrderExpired, OrderModified, OrderRejected}
)
_PPM: Final = 1_000_000
_TEXT_MAX: Final = 160
_PAD: Final = (0,) * LEVELS


@runtime_checkable
class Gateway(Protocol):
    """One account's order entry: synchronous outcomes from ``send``, the rest from ``poll``."""

    def send(self, order: Order) -> list[OrderUpdate]:
        """Do what ``order`` asks; return the updates the venue produced meanwhile."""
        ...

    def poll(self, now_ns: int) -> list[OrderUpdate]:
        """Return the updates that happened since the last call (others' flow, expiries)."""
        ...

    def close(self) -> None:
        """Stop; later events are ignored."""
        ...


@runtime_checkable
class Exchange(Protocol):
    """A multi-symbol venue connection: order entry plus market data and updates by symbol."""

    def send(self, order: Order) -> list[OrderUpdate]:
        """Do what ``order`` asks; return its synchronous updates."""
        ...

    def subscribe(
        self,
        symbol_id: int,
        on_market: Callable[[MarketEvent], None],
        on_update: Callable[[OrderUpdate], None],
    ) -> None:
        """Deliver ``symbol_id``'s market events and order updates to these callbacks."""
        ...

    def unsubscribe(self, symbol_id: int) -> None:
        """Stop delivering ``symbol_id``."""
        ...

    def pump(self, now_ns: int) -> int:
        """Deliver what is waiting; return how many callbacks were made."""
        ...


def fee_of(price: int, qty: int, ppm: int) -> int:
    """Return ``price * qty * ppm / 1e6`` rounded half-even, in tick-lots."""
    q, r = divmod(price * qty * ppm, _PPM)
    twice = 2 * r
    if twice > _PPM or (twice == _PPM and q & 1):
        q += 1
    return q


def _cut(text: str) -> str:
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 3] + "..."


def _reject_text(code: int, detail: str | None) -> str:
    # The venue's own words for an edge refusal ("qty_lots must be ..."), else the reason's.
    try:
        reason = RejectReason.of(code)
    except ValueError:
        return _cut(f"reject code {code}: {detail}" if detail else f"reject code {code}")
    return _cut(f"{reason.name}: {detail or reason.description}")


@final
class _Live:
    """One order the gateway entered and the venue has not finished."""

    __slots__ = ("accepted", "coid", "leaves", "oid", "price", "qty", "side", "symbol_id")

    def __init__(
        self, coid: int, oid: int, symbol_id: int, side: int, price: int, qty: int
    ) -> None:
        self.coid = coid
        self.oid = oid
        self.symbol_id = symbol_id
        self.side = side
        self.price = price
        self.qty = qty
        self.leaves = qty
        self.accepted = False


class _VenueOrders:
    """The part both adapters share: order entry, id mapping, event translation."""

    def __init__(
        self,
        venue: Venue,
        account: int,
        symbol_ids: frozenset[int] | None,
        maker_ppm: int,
        taker_ppm: int,
        drive_clock: bool,
    ) -> None:
        for name, value in (
            ("account", account),
            ("maker_ppm", maker_ppm),
            ("taker_ppm", taker_ppm),
        ):
            if type(value) is not int:
                raise TypeError(f"{name} must be an int, was {type(value).__name__}")
        if account < 0:
            raise ValueError(f"account must be >= 0, was {account}")
        self.venue = venue
        self.account = account
        self.maker_ppm = maker_ppm
        self.taker_ppm = taker_ppm
        self.drive_clock = drive_clock
        self._symbol_ids = symbol_ids
        self._by_coid: dict[tuple[int, int], _Live] = {}
        self._by_oid: dict[tuple[int, int], _Live] = {}
        self._inbox: list[Event] = []
        self.closed = False
        self.unmatched_events = 0
        """Events of this account about orders this gateway did not enter."""
        venue.subscribe(self._on_event, sorted(symbol_ids) if symbol_ids is not None else None)

    # ------------------------------------------------------------------ venue side

    def _on_event(self, event: Event) -> None:
        if not self.closed:
            self._inbox.append(event)

    def _take_inbox(self) -> list[Event]:
        inbox = self._inbox
        if not inbox:
            return []
        events = inbox[:]
        inbox.clear()
        return events

    def _market(
        self, event: Event, index: int, events: list[Event], out: MutableSequence[Any]
    ) -> None:
        """Handle a non-order event (the exchange appends market data to ``out``)."""
        return

    def _translate(self, events: list[Event], out: MutableSequence[Any]) -> None:
        account = self.account
        by_oid = self._by_oid
        order_kinds = _ORDER_KINDS
        for index, event in enumerate(events):
            if type(event) not in order_kinds:
                self._market(event, index, events, out)
                continue
            ev = cast("_OrderEvent", event)
            if ev.account != account:
                continue
            live = by_oid.get((ev.symbol_id, ev.order_id))
            if live is None:
                self.unmatched_events += 1
            elif type(ev) is OrderFilled:
                self._filled(live, ev, out)
            elif type(ev) is OrderAccepted:
                live.accepted = True
                out.append(
                    OrderUpdate(
                        UpdateKind.ACCEPTED,
                        live.coid,
                        live.symbol_id,
                        live.side,
                        live.price,
                        live.qty,
                        live.leaves,
                        ts_ns=ev.ts_ns,
                        venue_order_id=live.oid,
                    )
                )
            elif type(ev) is OrderModified:
                live.price = ev.price_ticks
                live.leaves = ev.qty_lots
                out.append(
                    OrderUpdate(
                        UpdateKind.MODIFIED,
                        live.coid,
                        live.symbol_id,
                        live.side,
                        live.price,
                        live.leaves,
                        live.leaves,
                        ts_ns=ev.ts_ns,
                        venue_order_id=live.oid,
                    )
                )
            elif type(ev) is OrderRejected:
                self._rejected(live, ev, out)
            else:  # OrderCancelled or OrderExpired
                self._removed(live, ev, out)

    def _forget(self, live: _Live) -> None:
        self._by_oid.pop((live.symbol_id, live.oid), None)
        self._by_coid.pop((live.symbol_id, live.coid), None)

    def _filled(self, live: _Live, ev: OrderFilled, out: MutableSequence[Any]) -> None:
        price = ev.price_ticks
        qty = ev.qty_lots
        liquidity = ev.liquidity
        ppm = self.maker_ppm if liquidity == Liquidity.MAKER else self.taker_ppm
        live.leaves = ev.leaves_qty_lots
        if live.leaves <= 0:
            self._forget(live)
        out.append(
            OrderUpdate(
                UpdateKind.FILLED,
                live.coid,
                live.symbol_id,
                live.side,
                live.price,
                live.qty,
                live.leaves,
                price,
                qty,
                liquidity,
                fee_of(price, qty, ppm) if ppm else 0,
                0,
                "",
                ev.ts_ns,
                live.oid,
            )
        )

    def _removed(
        self, live: _Live, ev: OrderCancelled | OrderExpired, out: MutableSequence[Any]
    ) -> None:
        if type(ev) is OrderExpired:
            kind = UpdateKind.EXPIRED
            live.leaves = 0
            cause = int(CancelCause.EXPIRED)
        else:
            kind = UpdateKind.CANCELLED
            live.leaves = ev.leaves_qty_lots
            cause = ev.cause
        if live.leaves <= 0:
            self._forget(live)
        out.append(
            OrderUpdate(
                kind,
                live.coid,
                live.symbol_id,
                live.side,
                live.price,
                live.qty,
                live.leaves,
                reason=cause,
                text=CancelCause(cause).name if cause in CancelCause._value2member_map_ else "",
                ts_ns=ev.ts_ns,
                venue_order_id=live.oid,
            )
        )

    def _rejected(self, live: _Live, ev: OrderRejected, out: MutableSequence[Any]) -> None:
        # A refusal of the new order itself (never accepted) ends it; a refusal of a cancel
        # or modify of an accepted order leaves it live.
        if not live.accepted:
            self._forget(live)
            leaves = 0
        else:
            leaves = live.leaves
        detail = self.venue.last_reject_detail if ev.seq == 0 else None
        out.append(
            OrderUpdate(
                UpdateKind.REJECTED,
                live.coid,
                live.symbol_id,
                live.side,
                live.price,
                live.qty,
                leaves,
                reason=ev.reason,
                text=_reject_text(ev.reason, detail),
                ts_ns=ev.ts_ns,
                venue_order_id=live.oid,
            )
        )

    # ------------------------------------------------------------------ order side

    def _refuse(self, order: Order, reason: RejectReason, text: str) -> list[OrderUpdate]:
        return [
            OrderUpdate(
                UpdateKind.REJECTED,
                order.client_order_id,
                order.symbol_id,
                order.side if order.side in (1, 2) else 0,
                order.price,
                order.qty,
                0,
                reason=int(reason),
                text=_cut(f"{reason.name}: {text}"),
                ts_ns=self.venue.now_ns,
            )
        ]

    def _trades(self, symbol_id: int) -> bool:
        ids = self._symbol_ids
        if ids is not None:
            return symbol_id in ids
        return type(symbol_id) is int and self.venue.is_registered(symbol_id)

    def _enter(self, order: Order) -> list[OrderUpdate] | None:
        """Send ``order`` to the venue; return a local refusal, or None when it was sent."""
        if type(order) is not Order:
            raise TypeError(f"a gateway takes an Order, was a {type(order).__name__}")
        if self.closed:
            raise GatewayError("the gateway is closed")
        if order.account != self.account:
            return self._refuse(
                order,
                RejectReason.ACCOUNT_MISMATCH,
                f"this gateway trades account {self.account}, the order is for {order.account}",
            )
        sid = order.symbol_id
        if not self._trades(sid):
            return self._refuse(
                order, RejectReason.UNKNOWN_SYMBOL, f"this gateway does not trade symbol id {sid}"
            )
        venue = self.venue
        coid = order.client_order_id
        action = order.action
        if (
            action != OrderAction.NEW
            and action != OrderAction.CANCEL
            and action != OrderAction.MODIFY
        ):
            return self._refuse(
                order, RejectReason.MALFORMED_COMMAND, f"unknown order action {action!r}"
            )
        try:
            if action == OrderAction.NEW:
                if (sid, coid) in self._by_coid:
                    return self._refuse(
                        order,
                        RejectReason.DUPLICATE_ORDER_ID,
                        f"client order id {coid} is already live",
                    )
                oid = venue.next_order_id(sid)
                live = _Live(coid, oid, sid, order.side, order.price, order.qty)
                self._by_coid[(sid, coid)] = live
                self._by_oid[(sid, oid)] = live
                try:
                    venue.submit(
                        sid,
                        order.side,
                        order_id=oid,
                        price_ticks=order.price,
                        qty_lots=order.qty,
                        tif=order.tif,
                        post_only=order.post_only,
                        account=self.account,
                    )
                except BaseException as exc:
                    # Journaled but not ticked: acknowledged, it runs at the venue's next
                    # tick, so its events must still find their client order id.
                    if not (isinstance(exc, JournalUnavailable) and exc.accepted_enq_seq):
                        self._forget(live)
                    raise
                return None
            known = self._by_coid.get((sid, coid))
            if known is None:
                return self._refuse(
                    order,
                    RejectReason.UNKNOWN_ORDER_ID,
                    f"no live order with client order id {coid}",
                )
            if action == OrderAction.CANCEL:
                venue.cancel(sid, known.oid, account=self.account)
            else:
                venue.modify(
                    sid,
                    known.oid,
                    price_ticks=order.price,
                    qty_lots=order.qty,
                    account=self.account,
                )
        except WhistleError as exc:
            if isinstance(exc, JournalUnavailable) and exc.accepted_enq_seq:
                raise GatewayError(
                    f"client order id {coid} was journaled (enq_seq {exc.accepted_enq_seq}) but"
                    f" not run: it runs at the venue's next tick and its updates come from poll;"
                    f" {exc}"
                ) from exc
            raise GatewayError(f"the venue cannot take orders: {exc}") from exc
        return None

    def _tick_to(self, now_ns: int) -> None:
        if self.drive_clock and now_ns > self.venue.now_ns:
            try:
                self.venue.tick(now_ns)
            except WhistleError as exc:
                raise GatewayError(f"the venue cannot tick: {exc}") from exc

    def venue_order_id(self, symbol_id: int, client_order_id: int) -> int | None:
        """Return the venue order id of a live client order id, or None."""
        live = self._by_coid.get((symbol_id, client_order_id))
        return live.oid if live is not None else None

    def client_order_id(self, symbol_id: int, venue_order_id: int) -> int | None:
        """Return the client order id of a live venue order id, or None."""
        live = self._by_oid.get((symbol_id, venue_order_id))
        return live.coid if live is not None else None

    @property
    def live_orders(self) -> int:
        """Return how many entered orders the venue has not finished."""
        return len(self._by_coid)


@final
class VenueGateway(_VenueOrders):
    """A ``Gateway`` for one account on a whistle ``Venue`` (see the module docstring).

    ``symbols`` are the names or ids it trades. With ``drive_clock`` ``poll(now_ns)``
    ticks the venue to ``now_ns`` first (when it is ahead of the venue's clock), so that
    expiries and queued commands run; otherwise whoever owns the venue ticks it.
    """

    def __init__(
        self,
        venue: Venue,
        account: int,
        symbols: Iterable[str | int],
        *,
        maker_ppm: int = 0,
        taker_ppm: int = 0,
        drive_clock: bool = False,
    ) -> None:
        ids: set[int] = set()
        for symbol in symbols:
            if not venue.is_registered(symbol):
                raise ValueError(f"symbol {symbol!r} is not defined on the venue")
            ids.add(venue.instrument(symbol).symbol_id)
        if not ids:
            raise ValueError("a VenueGateway needs at least one symbol")
        self._pending: list[OrderUpdate] = []
        super().__init__(venue, account, frozenset(ids), maker_ppm, taker_ppm, drive_clock)

    @property
    def symbol_ids(self) -> frozenset[int]:
        """Return the ids of the symbols this gateway trades."""
        ids = self._symbol_ids
        return ids if ids is not None else frozenset()

    def send(self, order: Order) -> list[OrderUpdate]:
        """Do what ``order`` asks; return the updates the venue produced while doing it."""
        # Whatever happened before this call is asynchronous: poll() returns it.
        self._translate(self._take_inbox(), self._pending)
        refused = self._enter(order)
        if refused is not None:
            return refused
        out: list[OrderUpdate] = []
        self._translate(self._take_inbox(), out)
        return out

    def poll(self, now_ns: int) -> list[OrderUpdate]:
        """Return the updates since the last ``send`` / ``poll``, in the venue's order."""
        if self.closed:
            return []
        self._tick_to(now_ns)
        out = self._pending
        self._pending = []
        self._translate(self._take_inbox(), out)
        return out

    def close(self) -> None:
        """Stop listening; later calls to ``send`` raise ``GatewayError``."""
        self.closed = True
        self._inbox.clear()
        self._pending = []


@final
class _Book:
    """A subscribed symbol's L2 book, rebuilt from the venue's level events."""

    __slots__ = ("asks", "bids", "on_market", "on_update")

    def __init__(
        self,
        on_market: Callable[[MarketEvent], None],
        on_update: Callable[[OrderUpdate], None],
    ) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.on_market = on_market
        self.on_update = on_update


def _levels(
    side: dict[int, int], best: Callable[[int], int]
) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    top = heapq.nsmallest(LEVELS, side, key=best)
    n = len(top)
    px = tuple(top) + _PAD[n:]
    qty = tuple(side[p] for p in top) + _PAD[n:]
    return n, px, qty


def _neg(price: int) -> int:
    return -price


def _same(price: int) -> int:
    return price


@final
class VenueExchange(_VenueOrders):
    """An ``Exchange`` for one account on a whistle ``Venue``: every symbol it defines.

    Market data per subscribed symbol: a ``BOOK`` event (top ``LEVELS`` levels, rebuilt from
    the venue's ``BookLevelChanged`` events on a book loaded at ``subscribe``) after each
    command that changed the book, a ``TRADE`` event per trade (aggressor side), a
    ``STATUS`` event per trading-state change (``qty`` = the ``TradingState``). ``ts_ns`` is
    the venue's tick time, ``seq`` the venue's per-symbol event sequence. Market events and
    updates wait for ``pump``, which delivers them in the venue's order; ``send`` returns
    its order's synchronous updates directly. Updates of symbols nobody subscribed to are
    dropped (counted in ``undelivered``).
    """

    def __init__(
        self,
        venue: Venue,
        account: int,
        *,
        maker_ppm: int = 0,
        taker_ppm: int = 0,
        drive_clock: bool = False,
    ) -> None:
        self._books: dict[int, _Book] = {}
        self._queue: deque[MarketEvent | OrderUpdate] = deque()
        self.undelivered = 0
        """Order updates of symbols without a subscriber (dropped)."""
        super().__init__(venue, account, None, maker_ppm, taker_ppm, drive_clock)

    def subscribe(
        self,
        symbol_id: int,
        on_market: Callable[[MarketEvent], None],
        on_update: Callable[[OrderUpdate], None],
    ) -> None:
        """Deliver ``symbol_id``'s market data and this account's updates to the callbacks.

        The book is loaded from the venue now (after anything still waiting is handled);
        subscribing again replaces the callbacks and reloads it.
        """
        if type(symbol_id) is not int or not self.venue.is_registered(symbol_id):
            raise ValueError(f"symbol id {symbol_id!r} is not defined on the venue")
        self._digest()
        book = _Book(on_market, on_update)
        depth = self.venue.engine_view(symbol_id).depth(None)
        for level in depth.bids:
            book.bids[level.price_ticks] = level.qty_lots
        for level in depth.asks:
            book.asks[level.price_ticks] = level.qty_lots
        self._books[symbol_id] = book

    def unsubscribe(self, symbol_id: int) -> None:
        """Stop delivering ``symbol_id`` (waiting items of it are dropped)."""
        self._digest()
        if self._books.pop(symbol_id, None) is not None:
            self._queue = deque(m for m in self._queue if m.symbol_id != symbol_id)

    def send(self, order: Order) -> list[OrderUpdate]:
        """Do what ``order`` asks; return its synchronous updates (market data waits)."""
        self._digest()
        refused = self._enter(order)
        if refused is not None:
            return refused
        mixed: list[Any] = []
        self._translate(self._take_inbox(), mixed)
        out: list[OrderUpdate] = []
        for item in mixed:
            if type(item) is OrderUpdate:
                out.append(item)
            else:
                self._queue.append(item)
        return out

    def pump(self, now_ns: int) -> int:
        """Deliver every waiting market event and update; return the callbacks made.

        A callback that raises stops the pump; what it had not delivered waits for the
        next call.
        """
        if self.closed:
            return 0
        self._tick_to(now_ns)
        self._digest()
        queue = self._queue
        books = self._books
        calls = 0
        while queue:
            item = queue.popleft()
            book = books.get(item.symbol_id)
            if book is None:
                if type(item) is OrderUpdate:
                    self.undelivered += 1
                continue
            calls += 1
            if type(item) is MarketEvent:
                book.on_market(item)
            else:
                book.on_update(item)
        return calls

    def close(self) -> None:
        """Stop listening and drop what waits."""
        self.closed = True
        self._inbox.clear()
        self._queue.clear()
        self._books.clear()

    def _digest(self) -> None:
        # Everything the venue said since the last call waits for pump, in its order.
        events = self._take_inbox()
        if events:
            self._translate(events, self._queue)

    def _market(
        self, event: Event, index: int, events: list[Event], out: MutableSequence[Any]
    ) -> None:
        book = self._books.get(event.symbol_id)
        if book is None:
            return
        if type(event) is BookLevelChanged:
            side = book.bids if event.side == Side.BUY else book.asks
            if event.qty_lots > 0:
                side[event.price_ticks] = event.qty_lots
            else:
                side.pop(event.price_ticks, None)
        elif type(event) is TradeOccurred:
            out.append(
                MarketEvent(
                    MarketKind.TRADE,
                    event.symbol_id,
                    event.ts_ns,
                    0,
                    event.seq,
                    event.price_ticks,
                    event.qty_lots,
                    event.aggressor_side,
                )
            )
            return
        elif type(event) is TradingStatusChanged:
            out.append(
                MarketEvent(
                    MarketKind.STATUS, event.symbol_id, event.ts_ns, 0, event.seq, 0, event.state
                )
            )
            return
        elif type(event) is not BestBidOfferChanged:
            return
        # A command's level changes (and its BBO change) come together, after its order
        # events: publish the book once, at the end of that run.
        nxt = events[index + 1] if index + 1 < len(events) else None
        if (
            nxt is not None
            and (type(nxt) is BookLevelChanged or type(nxt) is BestBidOfferChanged)
            and nxt.symbol_id == event.symbol_id
            and nxt.enq_seq == event.enq_seq
        ):
            return
        nb, bpx, bqty = _levels(book.bids, _neg)
        na, apx, aqty = _levels(book.asks, _same)
        out.append(
            MarketEvent(
                MarketKind.BOOK,
                event.symbol_id,
                event.ts_ns,
                0,
                event.seq,
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
