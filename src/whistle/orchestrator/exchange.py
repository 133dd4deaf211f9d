"""``VenueLink``: the one exchange connection every ``SymbolManager`` shares.

It implements the trading layer's ``Exchange`` shape (``send`` / ``subscribe`` /
``unsubscribe`` / ``pump``) on an in-process whistle ``Venue`` (a data directory by
default, so the venue's journal is the witness of every order), and adds what the
orchestrator needs to come back after a crash, which the protocol does not carry:

- ``fills(account, symbol_id)``: every fill of that account in that symbol since the
  venue's first command (read once from the venue's event journal at start, then kept
  from the live events), so a restarted actor's position is the sum of its fills;
- ``open_orders(account, symbol_id)`` and ``cancel_open``: the account's resting orders
  (the venue's L3 view), cancelled when an actor (re)starts, because a new life of a
  strategy does not know its previous life's orders.

Threading: the venue is single-threaded, so every venue call runs under one lock. The
market-data and order-update streams are demultiplexed by ``symbol_id`` to the callbacks
given to ``subscribe``; callbacks run under that lock and must not block (a
``SymbolManager`` only appends to its inbox). The routing table is an immutable mapping
replaced whole on (un)subscribe, so the event path reads it without a lock of its own.

Orders are entered with their ``client_order_id`` (the venue's idempotent entry): a
repeat of an order the venue has seen returns ``DuplicateClientOrder`` and the original's
events, which ``send`` turns into the original's updates without counting its fills again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Protocol, final, runtime_checkable

from whistle.coord.durability.playback import Playback
from whistle.core.events import (
    BestBidOfferChanged,
    BookLevelChanged,
    DuplicateClientOrder,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
    TradeOccurred,
)
from whistle.trading.messages import (
    LEVELS,
    ZERO_LEVELS,
    MarketEvent,
    MarketKind,
    Order,
    OrderAction,
    OrderUpdate,
    RiskReason,
    UpdateKind,
)

if TYPE_CHECKING:
    import os

    from whistle.coord.venue.facade import Venue

__all__ = ["ExchangeLink", "Fill", "OnMarket", "OnUpdate", "VenueLink"]

OnMarket = Callable[[MarketEvent], None]
OnUpdate = Callable[[OrderUpdate], None]
Fill = tuple[int, int, int, int]  # side, price, qty, fee

_NO_ROUTE: Final[tuple[None, None]] = (None, None)


@runtime_checkable
class ExchangeLink(Protocol):
    """What the orchestrator needs of its exchange connection: ``VenueLink``'s surface.

    ``VenueLink`` is the in-process one; ``whistle.api.remote.RemoteLink`` the one for a
    remote venue (``Orchestrator(link_factory=...)``). ``venue`` has ``Venue``'s
    ``is_registered`` / ``instrument`` / ``submit`` / ``cancel``; ``lock`` is held around
    every use of it.
    """

    @property
    def venue(self) -> Any:
        """The venue (or a client with ``Venue``'s methods)."""
        ...

    @property
    def lock(self) -> Any:
        """The re-entrant lock every venue call runs under."""
        ...

    def fills(self, account: int, symbol_id: int) -> list[Fill]: ...
    def open_orders(self, account: int, symbol_id: int) -> list[tuple[int, int, int, int]]: ...
    def cancel_open(self, account: int, symbol_id: int) -> int: ...
    def ensure_instrument(
        self, symbol: str, tick_size: str = "0.01", lot_size: str = "1"
    ) -> int: ...
    def subscribe(self, symbol_id: int, on_market: OnMarket, on_update: OnUpdate) -> None: ...
    def unsubscribe(self, symbol_id: int) -> None: ...
    def subscribed(self) -> list[int]: ...
    def pump(self, now_ns: int | None = None) -> int: ...
    def send(self, order: Order) -> list[OrderUpdate]: ...
    def deliver(self, events: list[Event]) -> None: ...
    def close(self) -> None: ...


@final
class _Ref:
    """What the link knows of one of its orders at the venue."""

    __slots__ = ("account", "client_order_id", "price", "qty", "side", "symbol_id")

    def __init__(
        self, client_order_id: int, account: int, symbol_id: int, side: int, price: int, qty: int
    ) -> None:
        self.client_order_id = client_order_id
        self.account = account
        self.symbol_id = symbol_id
        self.side = side
        self.price = price
        self.qty = qty


@final
class VenueLink:
    """One venue, many symbols: send orders, demultiplex events (see the module docstring)."""

    def __init__(
        self,
        venue: Venue,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        clock: Callable[[], int] = time.time_ns,
        ignore_accounts: frozenset[int] = frozenset(),
    ) -> None:
        """Wrap ``venue`` (opened on ``data_dir``, if any); read every account's fills from
        its event journal (except ``ignore_accounts``': background flow nobody restores)."""
        self.venue = venue
        self.lock = threading.RLock()
        self._clock = clock
        self._routes: Mapping[int, tuple[OnMarket, OnUpdate]] = MappingProxyType({})
        self._refs: dict[tuple[int, int], _Ref] = {}  # (symbol_id, venue order id)
        self._by_coid: dict[tuple[int, int], tuple[int, int]] = {}  # (account, coid)
        self._fills: dict[tuple[int, int], list[Fill]] = {}
        self.orders_sent = 0
        self.events_seen = 0
        self.closed = False
        self._ignore = ignore_accounts
        if data_dir is not None:
            self._scan_fills(data_dir)

    # ------------------------------------------------------------------ recovery

    def _scan_fills(self, data_dir: str | os.PathLike[str]) -> None:
        fills = self._fills
        ignore = self._ignore
        for event in Playback(data_dir):
            if type(event) is OrderFilled and event.account not in ignore:
                key = (event.account, event.symbol_id)
                fills.setdefault(key, []).append((event.side, event.price_ticks, event.qty_lots, 0))

    def fills(self, account: int, symbol_id: int) -> list[Fill]:
        """Every fill of ``account`` in ``symbol_id`` so far, oldest first (a copy)."""
        with self.lock:
            return list(self._fills.get((account, symbol_id), ()))

    def open_orders(self, account: int, symbol_id: int) -> list[tuple[int, int, int, int]]:
        """``account``'s resting orders in ``symbol_id``: (order id, side, price, leaves)."""
        with self.lock:
            return [
                (o.order_id, o.side, o.price_ticks, o.qty_lots + o.hidden_lots)
                for o in self.venue.l3(symbol_id)
                if o.account == account
            ]

    def cancel_open(self, account: int, symbol_id: int) -> int:
        """Cancel every resting order of ``account`` in ``symbol_id``; return how many."""
        with self.lock:
            orders = self.open_orders(account, symbol_id)
            for order_id, _side, _price, _leaves in orders:
                self._route_events(self.venue.cancel(symbol_id, order_id, account=account), None)
            return len(orders)

    # ------------------------------------------------------------------ instruments

    def ensure_instrument(self, symbol: str, tick_size: str = "0.01", lot_size: str = "1") -> int:
        """The venue's symbol id of ``symbol``, defining it first if it is new."""
        with self.lock:
            if not self.venue.is_registered(symbol):
                self.venue.add_instrument(symbol, tick_size=tick_size, lot_size=lot_size)
            return self.venue.instrument(symbol).symbol_id

    # ------------------------------------------------------------------ the Exchange shape

    def subscribe(self, symbol_id: int, on_market: OnMarket, on_update: OnUpdate) -> None:
        """Deliver ``symbol_id``'s market data and order updates to these callbacks."""
        with self.lock:
            routes = dict(self._routes)
            routes[symbol_id] = (on_market, on_update)
            self._routes = MappingProxyType(routes)

    def unsubscribe(self, symbol_id: int) -> None:
        """Stop delivering ``symbol_id``'s streams (no-op when not subscribed)."""
        with self.lock:
            if symbol_id in self._routes:
                routes = dict(self._routes)
                del routes[symbol_id]
                self._routes = MappingProxyType(routes)

    def pump(self, now_ns: int | None = None) -> int:
        """Tick the venue at ``now_ns`` (default: the clock) and deliver the events."""
        with self.lock:
            if self.closed:
                return 0
            now = self._clock() if now_ns is None else now_ns
            venue = self.venue
            if now < venue.now_ns:
                now = venue.now_ns
            events = venue.tick(now)
            self._route_events(events, None)
            return len(events)

    def close(self) -> None:
        """Stop the venue (under the lock); later sends are refused, pumps do nothing."""
        with self.lock:
            if not self.closed:
                self.closed = True
                self._routes = MappingProxyType({})
                self.venue.stop()

    def send(self, order: Order) -> list[OrderUpdate]:
        """Enter, cancel or modify one order; return its own updates of this tick.

        Every update (the returned ones too) is also delivered to the symbol's
        ``on_update``, in venue order; a repeat's replayed updates are only returned.
        """
        with self.lock:
            if self.closed:
                return [_refused(order, RiskReason.KILL_SWITCH, "the venue link is closed")]
            self.orders_sent += 1
            action = order.action
            if action == OrderAction.NEW:
                return self._new(order)
            target = self._by_coid.get((order.account, order.client_order_id))
            if target is None:
                return self._local(_refused(order, RiskReason.UNKNOWN_ORDER, "no such open order"))
            sid, oid = target
            if action == OrderAction.CANCEL:
                events = self.venue.cancel(sid, oid, account=order.account)
            else:
                events = self.venue.modify(
                    sid,
                    oid,
                    price_ticks=order.price or None,
                    qty_lots=order.qty or None,
                    account=order.account,
                )
            return self._route_events(events, (sid, oid), new=False)

    def _new(self, order: Order) -> list[OrderUpdate]:
        venue = self.venue
        sid = order.symbol_id
        if not venue.is_registered(sid):
            return self._local(
                _refused(order, RiskReason.MALFORMED, f"symbol id {sid} is not at the venue")
            )
        oid = venue.next_order_id(sid)
        ref = _Ref(order.client_order_id, order.account, sid, order.side, order.price, order.qty)
        self._refs[(sid, oid)] = ref
        events = venue.submit(
            sid,
            order.side,
            qty_lots=order.qty,
            price_ticks=order.price,
            tif=order.tif,
            post_only=order.post_only,
            account=order.account,
            client_order_id=order.client_order_id,
        )
        if events and type(events[0]) is DuplicateClientOrder:
            # A repeat: the venue answers with the original's events (already counted).
            original = events[0].order_id
            del self._refs[(sid, oid)]
            self._refs[(sid, original)] = ref
            self._by_coid[(order.account, order.client_order_id)] = (sid, original)
            return self._replayed(events[1:], (sid, original), ref)
        self._by_coid[(order.account, order.client_order_id)] = (sid, oid)
        return self._route_events(events, (sid, oid))

    def _local(self, update: OrderUpdate) -> list[OrderUpdate]:
        # A refusal made here, not at the venue: delivered like the venue's.
        _on_market, on_update = self._routes.get(update.symbol_id, _NO_ROUTE)
        if on_update is not None:
            on_update(update)
        return [update]

    def deliver(self, events: list[Event]) -> None:
        """Route events another caller got from the venue (under ``lock``)."""
        self._route_events(events, None)

    def subscribed(self) -> list[int]:
        """The symbol ids with subscribers, ascending."""
        return sorted(self._routes)

    # ------------------------------------------------------------------ events -> updates

    def _replayed(self, events: list[Event], own: tuple[int, int], ref: _Ref) -> list[OrderUpdate]:
        out: list[OrderUpdate] = []
        for event in events:
            update = self._update(event, ref)
            if update is not None:
                out.append(update)
        return out

    def _route_events(
        self, events: list[Event], own: tuple[int, int] | None, *, new: bool = True
    ) -> list[OrderUpdate]:
        """Count fills, demultiplex updates and market data; return ``own``'s updates."""
        out: list[OrderUpdate] = []
        routes = self._routes
        refs = self._refs
        touched: set[int] = set()
        trades: list[TradeOccurred] = []
        self.events_seen += len(events)
        for event in events:
            if isinstance(event, (BookLevelChanged, BestBidOfferChanged)):
                touched.add(event.symbol_id)
                continue
            if isinstance(event, TradeOccurred):
                trades.append(event)
                continue
            if not isinstance(event, _ORDER_EVENTS):
                continue
            order_id = event.order_id
            kind = type(event)
            if isinstance(event, OrderFilled) and event.account not in self._ignore:
                self._fills.setdefault((event.account, event.symbol_id), []).append(
                    (event.side, event.price_ticks, event.qty_lots, 0)
                )
            key2 = (event.symbol_id, order_id)
            ref = refs.get(key2)
            if ref is None:
                if own is not None and kind is OrderRejected and event.seq == 0:
                    ref = refs.get(own)  # an edge reject: seq 0, maybe order id 0
                    key2 = own
                if ref is None:
                    continue
            update = self._update(event, ref)
            if update is None:
                continue
            ukind = update.kind
            done = (
                ukind == UpdateKind.EXPIRED
                or (ukind == UpdateKind.REJECTED and (new or key2 != own))
                or (
                    (ukind == UpdateKind.FILLED or ukind == UpdateKind.CANCELLED)
                    and update.leaves_qty == 0
                )
            )
            if done:
                refs.pop(key2, None)
                self._by_coid.pop((ref.account, ref.client_order_id), None)
            if own is not None and key2 == own:
                out.append(update)
            # Every update, the sender's own included, reaches the symbol's inbox here,
            # under the lock: so an inbox holds each order's updates in venue order.
            _on_market, on_update = routes.get(event.symbol_id, _NO_ROUTE)
            if on_update is not None:
                on_update(update)
        if touched or trades:
            self._market(touched, trades, routes)
        return out

    def _market(
        self,
        touched: set[int],
        trades: list[TradeOccurred],
        routes: Mapping[int, tuple[OnMarket, OnUpdate]],
    ) -> None:
        recv = self._clock()
        for trade in trades:
            on_market, _ = routes.get(trade.symbol_id, _NO_ROUTE)
            if on_market is not None:
                on_market(
                    MarketEvent(
                        MarketKind.TRADE,
                        trade.symbol_id,
                        trade.ts_ns,
                        recv,
                        trade.seq,
                        trade.price_ticks,
                        trade.qty_lots,
                        trade.aggressor_side,
                    )
                )
        for sid in sorted(touched):
            on_market, _ = routes.get(sid, _NO_ROUTE)
            if on_market is None:
                continue
            depth = self.venue.depth(sid, LEVELS)
            bids = depth.bids
            asks = depth.asks
            on_market(
                MarketEvent(
                    MarketKind.BOOK,
                    sid,
                    self.venue.now_ns,
                    recv,
                    depth.seq,
                    n_bid=len(bids),
                    n_ask=len(asks),
                    bid_px=_levels([lv.price_ticks for lv in bids]),
                    bid_qty=_levels([lv.qty_lots for lv in bids]),
                    ask_px=_levels([lv.price_ticks for lv in asks]),
                    ask_qty=_levels([lv.qty_lots for lv in asks]),
                )
            )

    @staticmethod
    def _update(event: Event, ref: _Ref) -> OrderUpdate | None:
        coid = ref.client_order_id
        sid = ref.symbol_id
        if isinstance(event, OrderAccepted):
            return OrderUpdate(
                UpdateKind.ACCEPTED,
                coid,
                sid,
                side=ref.side,
                price=ref.price,
                qty=ref.qty,
                leaves_qty=ref.qty,
                ts_ns=event.ts_ns,
                venue_order_id=event.order_id,
            )
        if isinstance(event, OrderFilled):
            return OrderUpdate(
                UpdateKind.FILLED,
                coid,
                sid,
                side=event.side,
                price=ref.price,
                qty=ref.qty,
                leaves_qty=event.leaves_qty_lots,
                fill_price=event.price_ticks,
                fill_qty=event.qty_lots,
                liquidity=event.liquidity,
                ts_ns=event.ts_ns,
                venue_order_id=event.order_id,
            )
        if isinstance(event, OrderCancelled):
            return OrderUpdate(
                UpdateKind.CANCELLED,
                coid,
                sid,
                side=ref.side,
                price=ref.price,
                qty=ref.qty,
                leaves_qty=event.leaves_qty_lots,
                reason=event.cause,
                ts_ns=event.ts_ns,
                venue_order_id=event.order_id,
            )
        if isinstance(event, OrderExpired):
            return OrderUpdate(
                UpdateKind.EXPIRED,
                coid,
                sid,
                side=ref.side,
                price=ref.price,
                qty=ref.qty,
                reason=event.cause,
                ts_ns=event.ts_ns,
                venue_order_id=event.order_id,
            )
        if isinstance(event, OrderRejected):
            return OrderUpdate(
                UpdateKind.REJECTED,
                coid,
                sid,
                side=ref.side,
                price=ref.price,
                qty=ref.qty,
                reason=event.reason,
                ts_ns=event.ts_ns,
                venue_order_id=event.order_id,
            )
        if isinstance(event, OrderModified):
            ref.price = event.price_ticks or ref.price
            return OrderUpdate(
                UpdateKind.MODIFIED,
                coid,
                sid,
                side=ref.side,
                price=ref.price,
                qty=event.qty_lots,
                leaves_qty=event.qty_lots,
                ts_ns=event.ts_ns,
                venue_order_id=event.order_id,
            )
        return None


_ORDER_EVENTS: Final = (
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    OrderCancelled,
    OrderExpired,
    OrderModified,
)


def _levels(values: list[int]) -> tuple[int, ...]:
    if len(values) >= LEVELS:
        return tuple(values[:LEVELS])
    return tuple(values) + ZERO_LEVELS[len(values) :]


def _refused(order: Order, reason: int, text: str) -> OrderUpdate:
    return OrderUpdate(
        UpdateKind.REJECTED,
        order.client_order_id,
        order.symbol_id,
        side=order.side,
        price=order.price,
        qty=order.qty,
        reason=reason,
        text=text,
    )
