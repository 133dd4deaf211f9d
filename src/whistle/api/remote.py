"""A remote whistle venue behind the trading layer's and the orchestrator's interfaces.

Three adapters over one ``whistle.api.Client``, so a strategy in the trading pipeline,
anything written against ``whistle.trading.Exchange`` and the orchestrator run unchanged
against a ``whistle serve`` process:

- ``RemoteGateway`` (a ``whistle.trading.gateway.Gateway`` for one account; the pipeline
  factory ``"whistle.api.remote:remote_gateway"``): ``send`` returns the updates in the
  server's answer to the order, ``poll`` the account's others (fills from other
  participants' flow, expiries) from the ``SubscribeOrderUpdates`` stream;
- ``RemoteExchange`` (a ``whistle.trading.gateway.Exchange`` for one account): the same
  order entry, plus market data from one ``SubscribeMarketData`` stream turned into
  ``MarketEvent`` s: a ``BOOK`` (top ``LEVELS``) for each message that changed a
  subscribed symbol's book, a ``TRADE`` per trade, a ``STATUS`` per state change;
  ``pump`` delivers them and the stream's order updates to the ``subscribe`` callbacks
  (``send``'s own updates are returned, not delivered again);
- ``RemoteLink`` (the orchestrator's ``VenueLink`` surface, every account: an admin key):
  ``send`` / ``subscribe`` / ``unsubscribe`` / ``pump`` / ``deliver`` / ``subscribed`` /
  ``close``, ``lock``, ``fills`` / ``open_orders`` / ``cancel_open`` /
  ``ensure_instrument`` and ``venue`` (the ``Client``, which has ``Venue``'s methods).
  As in ``VenueLink``, every update (``send``'s own too) reaches the symbol's
  ``on_update``; a repeat's replayed updates are only returned.

Updates are built as ``whistle.trading.gateway`` builds them (the table in its docstring):
ACCEPTED, FILLED (with ``maker_ppm`` / ``taker_ppm`` fees), CANCELLED / EXPIRED with the
``CancelCause``, MODIFIED, REJECTED with the reason's name and the server's words. Venue
order ids are the server's: a new order's is read from its answer.

One event, two paths. The server answers a command with its events and also publishes the
account's sequenced order events on the update stream. Each is handled once: the
``seq`` of every order event taken from an answer waits in a per-symbol queue and the
stream's copy is skipped when it comes (a symbol's events reach the stream in ``seq``
order, so the queue is pruned as the stream passes it). Refusals at the server's edge
(``seq`` 0) and repeat answers exist only in the answer.

Client order ids. ``RemoteLink`` sends them (the orchestrator's are unique per actor life,
and the server's idempotent entry makes a resend after a lost connection safe).
``RemoteGateway`` / ``RemoteExchange`` send them only with ``idempotent=True``: a
pipeline's strategies number their orders from 1 in every run, and a server that still
holds a previous run's ids would answer with that run's outcomes.

What a remote venue cannot give: the server does not replay the update stream after a
reconnect, so events published while it was down reach an adapter only through later
answers (``RemoteLink.open_orders`` asks the server afresh); ``RemoteLink.fills`` starts
from the server's fill history (``ListFills``: what a local ``VenueLink`` reads from its
venue's event journal), which is bounded on the server (``fills_complete``); a ``BOOK`` is
conflated per stream message, not per command.
The interleaving of market data and order updates follows their arrival on two streams.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, cast, final

from whistle.api.client import Client, ClientError, RequestRefused
from whistle.api.marketdata import Kind, Level, Snapshot, Status, Trade
from whistle.core.enums import CancelCause, Liquidity
from whistle.core.events import (
    DuplicateClientOrder,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
)
from whistle.core.reasons import RejectReason
from whistle.trading.errors import GatewayError
from whistle.trading.gateway import fee_of
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
    from collections.abc import Iterable, Mapping, MutableSequence

    from whistle.api.client import MarketDataStream, OrderUpdateStream
    from whistle.api.marketdata import Update
    from whistle.core.events import Event

__all__ = [
    "RemoteExchange",
    "RemoteGateway",
    "RemoteLink",
    "remote_gateway",
]

OnMarket = Callable[[MarketEvent], None]
OnUpdate = Callable[[OrderUpdate], None]
Fill = tuple[int, int, int, int]  # side, price, qty, fee

_ORDER_KINDS: Final = frozenset(
    {OrderAccepted, OrderFilled, OrderCancelled, OrderExpired, OrderModified, OrderRejected}
)
_OrderEvent = (
    OrderAccepted | OrderFilled | OrderCancelled | OrderExpired | OrderModified | OrderRejected
)
_TEXT_MAX: Final = 160
_SEEN_MAX: Final = 1 << 16  # answers' seqs kept per symbol while the stream is behind
_NO_ROUTE: Final[tuple[None, None]] = (None, None)


def _cut(text: str) -> str:
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 3] + "..."


def _reason_name(code: int) -> str:
    if code in RejectReason._value2member_map_:
        return RejectReason.of(code).name
    if code in RiskReason._value2member_map_:
        return RiskReason(code).name
    return f"reject code {code}"


def _reject_text(code: int, detail: str | None) -> str:
    if code in RejectReason._value2member_map_:
        reason = RejectReason.of(code)
        return _cut(f"{reason.name}: {detail or reason.description}")
    return _cut(f"{_reason_name(code)}: {detail}" if detail else _reason_name(code))


def _cause_text(cause: int) -> str:
    return CancelCause(cause).name if cause in CancelCause._value2member_map_ else ""


def _levels(
    side: dict[int, tuple[int, int]], reverse: bool
) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    top = sorted(side, reverse=reverse)[:LEVELS]
    n = len(top)
    pad = ZERO_LEVELS[n:]
    return n, (*top, *pad), (*(side[p][0] for p in top), *pad)


@final
class _Live:
    """One order an adapter entered and the venue has not finished."""

    __slots__ = (
        "accepted",
        "account",
        "coid",
        "leaves",
        "local",
        "oid",
        "price",
        "qty",
        "sid",
        "side",
    )

    def __init__(
        self, account: int, coid: int, local: int, sid: int, side: int, price: int, qty: int
    ) -> None:
        self.account = account
        self.coid = coid
        self.local = local  # the caller's symbol id
        self.sid = sid  # the server's
        self.oid = 0
        self.side = side
        self.price = price
        self.qty = qty
        self.leaves = qty
        self.accepted = False


class _Orders:
    """Order entry through a ``Client``: id mapping, dedup of the two paths, translation.

    ``account`` None: every account (an admin key; each order names its own). ``symbols``
    maps the caller's symbol ids to the server's (None: the same ids).
    """

    def __init__(
        self,
        client: Client,
        account: int | None,
        symbols: Mapping[int, int] | None,
        *,
        maker_ppm: int,
        taker_ppm: int,
        idempotent: bool,
    ) -> None:
        for name, value in (("maker_ppm", maker_ppm), ("taker_ppm", taker_ppm)):
            if type(value) is not int:
                raise TypeError(f"{name} must be an int, was {type(value).__name__}")
        if account is not None and (type(account) is not int or account < 0):
            raise ValueError(f"account must be an int >= 0, was {account!r}")
        self.client = client
        self.account = account
        self.maker_ppm = maker_ppm
        self.taker_ppm = taker_ppm
        self.idempotent = idempotent
        self._to_server = dict(symbols) if symbols is not None else None
        self._by_coid: dict[tuple[int, int, int], _Live] = {}  # (account, local sid, coid)
        self._by_oid: dict[tuple[int, int], _Live] = {}  # (server sid, venue order id)
        self._seen: dict[int, deque[int]] = {}
        self._inbox: deque[tuple[bool, list[Any]]] = deque()  # (is market data, items)
        self._threads: list[threading.Thread] = []
        self._streams: list[OrderUpdateStream | MarketDataStream] = []
        self._md: tuple[MarketDataStream, threading.Thread] | None = None
        self._md_symbols: list[int] = []
        self.stream_errors: list[str] = []
        """Why a background stream ended (it reconnects by itself until it gives up)."""
        self.updates_received = 0
        """Events the order-update stream has brought so far (read by a waiting caller)."""
        self.closed = False
        self.unmatched_events = 0
        """Order events of the account about orders this adapter did not enter."""
        self.orders_sent = 0

    # ------------------------------------------------------------------ background streams

    def _start_updates(self) -> None:
        # Registered at the server before the first order goes out: no event of the
        # adapter's orders can be published before the stream exists.
        stream = self.client.order_updates(self.account)
        if not stream.wait_ready():
            stream.close()
            raise GatewayError("the server did not open the order-update stream")
        self._spawn(stream, False, "whistle-remote-updates")

    def _market_data_for(self, symbols: Iterable[int]) -> None:
        """(Re)subscribe the market-data stream to exactly ``symbols`` (none: no stream).

        A new stream starts with a snapshot of each symbol, so nothing is missed across
        the switch; the old stream is closed and its thread joined.
        """
        wanted = sorted(set(symbols))
        if wanted == self._md_symbols:
            return
        self._md_symbols = wanted
        old = self._md
        self._md = None
        if old is not None:
            stream, thread = old
            stream.close()
            thread.join(5.0)
            self._streams.remove(stream)
            self._threads.remove(thread)
        if wanted and not self.closed:
            stream = self.client.market_data(
                wanted, depth=LEVELS, kinds=Kind.LEVELS | Kind.TRADES | Kind.STATUS
            )
            self._md = (stream, self._spawn(stream, True, "whistle-remote-market-data"))

    def _spawn(
        self, stream: OrderUpdateStream | MarketDataStream, market: bool, name: str
    ) -> threading.Thread:
        inbox = self._inbox

        def run() -> None:
            try:
                for batch in stream:
                    if batch:
                        inbox.append((market, batch))
                        if not market:
                            self.updates_received += len(batch)
            except ClientError as exc:
                if not self.closed:
                    self.stream_errors.append(f"{name}: {exc}")

        thread = threading.Thread(target=run, name=name, daemon=True)
        self._streams.append(stream)
        self._threads.append(thread)
        thread.start()
        return thread

    def _stop_streams(self) -> None:
        self.closed = True
        for stream in self._streams:
            stream.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(5.0)
        self._streams.clear()
        self._threads.clear()
        self._md = None

    def _take_inbox(self) -> list[tuple[bool, list[Any]]]:
        inbox = self._inbox
        out = []
        while inbox:
            out.append(inbox.popleft())
        return out

    # ------------------------------------------------------------------ ids

    def _server_id(self, local: int) -> int | None:
        table = self._to_server
        if table is not None:
            return table.get(local)
        return local if type(local) is int and self.client.is_registered(local) else None

    def venue_order_id(
        self, symbol_id: int, client_order_id: int, account: int | None = None
    ) -> int | None:
        """Return the venue order id of a live client order id, or None."""
        key = (self.account if account is None else account, symbol_id, client_order_id)
        live = self._by_coid.get(key)  # type: ignore[arg-type]
        return live.oid if live is not None else None

    @property
    def live_orders(self) -> int:
        """Return how many entered orders the venue has not finished."""
        return len(self._by_coid)

    # ------------------------------------------------------------------ dedup of the two paths

    def _note_answer(self, events: list[Event]) -> None:
        seen = self._seen
        for ev in events:
            if ev.seq and type(ev) in _ORDER_KINDS:
                queue = seen.get(ev.symbol_id)
                if queue is None:
                    queue = seen[ev.symbol_id] = deque(maxlen=_SEEN_MAX)
                queue.append(ev.seq)

    def _fresh(self, events: list[Event]) -> list[Event]:
        """The stream's events not already taken from an answer."""
        seen = self._seen
        out: list[Event] = []
        for ev in events:
            queue = seen.get(ev.symbol_id)
            if queue:
                seq = ev.seq
                while queue and queue[0] < seq:
                    queue.popleft()
                if queue and queue[0] == seq:
                    queue.popleft()
                    continue
            out.append(ev)
        return out

    # ------------------------------------------------------------------ events -> updates

    def _translate(self, events: Iterable[Event], out: MutableSequence[OrderUpdate]) -> None:
        account = self.account
        by_oid = self._by_oid
        for ev in events:
            if type(ev) not in _ORDER_KINDS:
                continue
            order_ev = cast("_OrderEvent", ev)
            if account is not None and order_ev.account != account:
                continue
            live = by_oid.get((ev.symbol_id, order_ev.order_id))
            if live is None:
                self.unmatched_events += 1
                continue
            self._update(live, ev, out)

    def _update(self, live: _Live, ev: Event, out: MutableSequence[OrderUpdate]) -> None:
        kind = type(ev)
        if isinstance(ev, OrderFilled):
            price = ev.price_ticks
            qty = ev.qty_lots
            ppm = self.maker_ppm if ev.liquidity == Liquidity.MAKER else self.taker_ppm
            live.leaves = ev.leaves_qty_lots
            if live.leaves <= 0:
                self._forget(live)
            out.append(
                OrderUpdate(
                    UpdateKind.FILLED,
                    live.coid,
                    live.local,
                    live.side,
                    live.price,
                    live.qty,
                    live.leaves,
                    price,
                    qty,
                    ev.liquidity,
                    fee_of(price, qty, ppm) if ppm else 0,
                    0,
                    "",
                    ev.ts_ns,
                    live.oid,
                )
            )
        elif kind is OrderAccepted:
            live.accepted = True
            out.append(
                OrderUpdate(
                    UpdateKind.ACCEPTED,
                    live.coid,
                    live.local,
                    live.side,
                    live.price,
                    live.qty,
                    live.leaves,
                    ts_ns=ev.ts_ns,
                    venue_order_id=live.oid,
                )
            )
        elif isinstance(ev, OrderModified):
            live.price = ev.price_ticks or live.price
            live.leaves = ev.qty_lots
            out.append(
                OrderUpdate(
                    UpdateKind.MODIFIED,
                    live.coid,
                    live.local,
                    live.side,
                    live.price,
                    live.leaves,
                    live.leaves,
                    ts_ns=ev.ts_ns,
                    venue_order_id=live.oid,
                )
            )
        elif isinstance(ev, OrderRejected):
            # A refusal of the new order ends it; of a cancel or modify, leaves it live.
            if live.accepted:
                leaves = live.leaves
            else:
                self._forget(live)
                leaves = 0
            detail = self.client.last_reject_detail if ev.seq == 0 else None
            out.append(
                OrderUpdate(
                    UpdateKind.REJECTED,
                    live.coid,
                    live.local,
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
        elif isinstance(ev, (OrderCancelled, OrderExpired)):
            if isinstance(ev, OrderExpired):
                update_kind = UpdateKind.EXPIRED
                live.leaves = 0
                cause = int(CancelCause.EXPIRED)
            else:
                update_kind = UpdateKind.CANCELLED
                live.leaves = ev.leaves_qty_lots
                cause = ev.cause
            if live.leaves <= 0:
                self._forget(live)
            out.append(
                OrderUpdate(
                    update_kind,
                    live.coid,
                    live.local,
                    live.side,
                    live.price,
                    live.qty,
                    live.leaves,
                    reason=cause,
                    text=_cause_text(cause),
                    ts_ns=ev.ts_ns,
                    venue_order_id=live.oid,
                )
            )

    def _forget(self, live: _Live) -> None:
        self._by_oid.pop((live.sid, live.oid), None)
        self._by_coid.pop((live.account, live.local, live.coid), None)

    # ------------------------------------------------------------------ order side

    @staticmethod
    def refusal(order: Order, reason: int, text: str) -> OrderUpdate:
        """A REJECTED update made here, before the server saw the order."""
        return OrderUpdate(
            UpdateKind.REJECTED,
            order.client_order_id,
            order.symbol_id,
            order.side if order.side in (1, 2) else 0,
            order.price,
            order.qty,
            0,
            reason=int(reason),
            text=_cut(f"{_reason_name(reason)}: {text}"),
            ts_ns=order.ts_ns,
        )

    def _enter(self, order: Order) -> tuple[list[Event], OrderUpdate | None]:
        """Send ``order``; return the answer's events, or a refusal made here."""
        if type(order) is not Order:
            raise TypeError(f"a remote adapter takes an Order, was a {type(order).__name__}")
        if self.closed:
            raise GatewayError("the remote adapter is closed")
        account = order.account
        if self.account is not None and account != self.account:
            return [], self.refusal(
                order,
                RejectReason.ACCOUNT_MISMATCH,
                f"this adapter trades account {self.account}, the order is for {account}",
            )
        local = order.symbol_id
        sid = self._server_id(local)
        if sid is None:
            return [], self.refusal(
                order, RejectReason.UNKNOWN_SYMBOL, f"symbol id {local} is not traded here"
            )
        action = order.action
        coid = order.client_order_id
        key = (account, local, coid)
        client = self.client
        try:
            if action == OrderAction.NEW:
                if key in self._by_coid:
                    return [], self.refusal(
                        order,
                        RejectReason.DUPLICATE_ORDER_ID,
                        f"client order id {coid} is already live",
                    )
                live = _Live(account, coid, local, sid, order.side, order.price, order.qty)
                self.orders_sent += 1
                events = client.submit(
                    sid,
                    order.side,
                    price_ticks=order.price if order.price else None,
                    qty_lots=order.qty,
                    tif=order.tif,
                    post_only=order.post_only,
                    account=account,
                    client_order_id=coid if self.idempotent else 0,
                )
                result = client.last_result
                first = events[0] if events else None
                if isinstance(first, DuplicateClientOrder):
                    live.oid = first.order_id
                else:
                    live.oid = result.order_id if result is not None else 0
                self._by_coid[key] = live
                self._by_oid[(sid, live.oid)] = live
                return events, None
            known = self._by_coid.get(key)
            if known is None:
                return [], self.refusal(
                    order,
                    RejectReason.UNKNOWN_ORDER_ID,
                    f"no live order with client order id {coid}",
                )
            self.orders_sent += 1
            if action == OrderAction.CANCEL:
                return client.cancel(sid, known.oid, account=account), None
            if action == OrderAction.MODIFY:
                return (
                    client.modify(
                        sid,
                        known.oid,
                        price_ticks=order.price or None,
                        qty_lots=order.qty or None,
                        account=account,
                    ),
                    None,
                )
            return [], self.refusal(
                order, RejectReason.MALFORMED_COMMAND, f"unknown order action {action!r}"
            )
        except RequestRefused as exc:  # rate limit or a draining server: nothing sequenced
            reason = RiskReason.ORDER_RATE if "RATE" in str(exc) else RejectReason.SYMBOL_NOT_ACTIVE
            return [], self.refusal(order, reason, str(exc))
        except ClientError as exc:
            raise GatewayError(f"the remote venue cannot take orders: {exc}") from exc

    def _answer(self, events: list[Event], out: MutableSequence[OrderUpdate]) -> bool:
        """Translate an answer's events into ``out``; return whether it was a repeat's."""
        repeat = bool(events) and type(events[0]) is DuplicateClientOrder
        if repeat:
            events = events[1:]
        else:
            self._note_answer(events)
        self._translate(events, out)
        return repeat

    def _stream_updates(self, events: list[Event], out: MutableSequence[OrderUpdate]) -> None:
        self._translate(self._fresh(events), out)


# ---------------------------------------------------------------------------- the gateway


def _symbol_table(
    client: Client, symbols: Mapping[int, str] | Iterable[str | int]
) -> dict[int, int]:
    # The caller's id -> the server's: a mapping pairs a caller's id with a name, anything
    # else names symbols (or ids) the server defines, traded under the server's ids.
    table: dict[int, int] = {}
    items = symbols.items() if hasattr(symbols, "items") else ((None, s) for s in symbols)
    for local, symbol in items:
        try:
            inst = client.instrument(symbol)
        except KeyError:
            raise ValueError(f"symbol {symbol!r} is not defined on the server") from None
        table[inst.symbol_id if local is None else local] = inst.symbol_id
    if not table:
        raise ValueError("a remote adapter needs at least one symbol")
    return table


@final
class RemoteGateway(_Orders):
    """A ``Gateway`` for one account on a remote whistle venue (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        account: int,
        symbols: Mapping[int, str] | Iterable[str | int],
        *,
        maker_ppm: int = 0,
        taker_ppm: int = 0,
        idempotent: bool = False,
        owns_client: bool = False,
    ) -> None:
        """Trade ``symbols`` (caller id -> name, or names / server ids) for ``account``."""
        if type(account) is not int:
            raise TypeError(f"account must be an int, was {type(account).__name__}")
        super().__init__(
            client,
            account,
            _symbol_table(client, symbols),
            maker_ppm=maker_ppm,
            taker_ppm=taker_ppm,
            idempotent=idempotent,
        )
        self.owns_client = owns_client
        self._pending: list[OrderUpdate] = []
        self._start_updates()

    def _digest(self) -> None:
        for _market, events in self._take_inbox():
            self._stream_updates(events, self._pending)

    def send(self, order: Order) -> list[OrderUpdate]:
        """Do what ``order`` asks; return the updates of the server's answer."""
        self._digest()  # what happened before this call is poll's
        events, refused = self._enter(order)
        if refused is not None:
            return [refused]
        out: list[OrderUpdate] = []
        self._answer(events, out)
        return out

    def poll(self, now_ns: int) -> list[OrderUpdate]:
        """Return the updates since the last ``send`` / ``poll`` (``now_ns`` is not used:
        the server's clock runs by itself)."""
        if self.closed:
            return []
        self._digest()
        out = self._pending
        self._pending = []
        return out

    def close(self) -> None:
        """Stop the update stream (and close the client when the gateway owns it)."""
        if self.closed:
            return
        self._stop_streams()
        self._pending = []
        if self.owns_client:
            self.client.close()


def remote_gateway(
    symbols: Mapping[int, str],
    account: int,
    *,
    target: str = "127.0.0.1:50051",
    api_key: str | None = None,
    tls: bool = False,
    root_certificates: str | None = None,
    maker_ppm: int = 0,
    taker_ppm: int = 0,
    idempotent: bool = False,
    define: bool = False,
    tick_size: str = "0.0001",
    lot_size: str = "1",
) -> RemoteGateway:
    """The pipeline's gateway factory for a remote venue (``gateway_options`` = keywords).

    With ``define`` the symbols the server lacks are added first (an admin key), with the
    pipeline's ids and ``tick_size`` / ``lot_size`` (prices are the feed's integer ticks).
    """
    client = Client(target, api_key=api_key, tls=tls, root_certificates=root_certificates)
    try:
        if define:
            for sid, name in sorted(symbols.items()):
                if not client.is_registered(name):
                    client.add_instrument(
                        name, tick_size=tick_size, lot_size=lot_size, symbol_id=sid
                    )
        return RemoteGateway(
            client,
            account,
            symbols,
            maker_ppm=maker_ppm,
            taker_ppm=taker_ppm,
            idempotent=idempotent,
            owns_client=True,
        )
    except BaseException:
        client.close()
        raise


# ---------------------------------------------------------------------------- market data


@final
class _Books:
    """Subscribed symbols' books from market-data records -> ``MarketEvent`` s."""

    __slots__ = ("asks", "bids", "clock")

    def __init__(self, clock: Callable[[], int]) -> None:
        self.bids: dict[int, dict[int, tuple[int, int]]] = {}
        self.asks: dict[int, dict[int, tuple[int, int]]] = {}
        self.clock = clock

    def events(self, records: list[Update], wanted: Callable[[int], bool]) -> list[MarketEvent]:
        """The market events of one stream message's records (a BOOK per changed book)."""
        out: list[MarketEvent] = []
        changed: dict[int, Update] = {}
        recv = self.clock()
        for record in records:
            sid = record.symbol_id
            if not wanted(sid):
                continue
            if isinstance(record, Level):
                side = self.bids if record.side == 1 else self.asks
                book = side.setdefault(sid, {})
                if record.qty_lots > 0:
                    book[record.price_ticks] = (record.qty_lots, record.order_count)
                else:
                    book.pop(record.price_ticks, None)
                changed[sid] = record
            elif isinstance(record, Snapshot):
                self.bids[sid] = {
                    lv.price_ticks: (lv.qty_lots, lv.order_count) for lv in record.bids
                }
                self.asks[sid] = {
                    lv.price_ticks: (lv.qty_lots, lv.order_count) for lv in record.asks
                }
                changed[sid] = record
            elif isinstance(record, Trade):
                out.append(
                    MarketEvent(
                        MarketKind.TRADE,
                        sid,
                        record.ts_ns,
                        recv,
                        record.md_seq,
                        record.price_ticks,
                        record.qty_lots,
                        record.aggressor_side,
                    )
                )
            elif isinstance(record, Status):
                out.append(
                    MarketEvent(
                        MarketKind.STATUS, sid, record.ts_ns, recv, record.md_seq, 0, record.state
                    )
                )
        for sid, last in changed.items():
            nb, bpx, bqty = _levels(self.bids.get(sid, {}), True)
            na, apx, aqty = _levels(self.asks.get(sid, {}), False)
            out.append(
                MarketEvent(
                    MarketKind.BOOK,
                    sid,
                    last.ts_ns,
                    recv,
                    last.md_seq,
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
        return out

    def forget(self, sid: int) -> None:
        """Drop a symbol's book."""
        self.bids.pop(sid, None)
        self.asks.pop(sid, None)


# ---------------------------------------------------------------------------- the exchange


@final
class RemoteExchange(_Orders):
    """An ``Exchange`` for one account on a remote whistle venue: every symbol it defines.

    Symbol ids are the server's. See the module docstring for what ``pump`` delivers.
    """

    def __init__(
        self,
        client: Client,
        account: int,
        *,
        maker_ppm: int = 0,
        taker_ppm: int = 0,
        idempotent: bool = False,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if type(account) is not int:
            raise TypeError(f"account must be an int, was {type(account).__name__}")
        super().__init__(
            client, account, None, maker_ppm=maker_ppm, taker_ppm=taker_ppm, idempotent=idempotent
        )
        self._routes: dict[int, tuple[OnMarket, OnUpdate]] = {}
        self._books = _Books(clock)
        self._queue: deque[MarketEvent | OrderUpdate] = deque()
        self.undelivered = 0
        """Order updates of symbols without a subscriber (dropped)."""
        self._start_updates()

    def subscribe(self, symbol_id: int, on_market: OnMarket, on_update: OnUpdate) -> None:
        """Deliver ``symbol_id``'s market data and this account's updates to the callbacks."""
        if type(symbol_id) is not int or not self.client.is_registered(symbol_id):
            raise ValueError(f"symbol id {symbol_id!r} is not defined on the server")
        self._digest()
        self._routes[symbol_id] = (on_market, on_update)
        self._market_data_for(self._routes)

    def unsubscribe(self, symbol_id: int) -> None:
        """Stop delivering ``symbol_id`` (waiting items of it are dropped)."""
        self._digest()
        if self._routes.pop(symbol_id, None) is not None:
            self._queue = deque(m for m in self._queue if m.symbol_id != symbol_id)
            self._market_data_for(self._routes)

    def send(self, order: Order) -> list[OrderUpdate]:
        """Do what ``order`` asks; return the updates of the server's answer."""
        self._digest()
        events, refused = self._enter(order)
        if refused is not None:
            return [refused]
        out: list[OrderUpdate] = []
        self._answer(events, out)
        return out

    def pump(self, now_ns: int) -> int:
        """Deliver what waits; return the callbacks made (``now_ns`` is not used).

        A callback that raises stops the pump; what it had not delivered waits.
        """
        if self.closed:
            return 0
        self._digest()
        queue = self._queue
        routes = self._routes
        calls = 0
        while queue:
            item = queue.popleft()
            route = routes.get(item.symbol_id)
            if route is None:
                if type(item) is OrderUpdate:
                    self.undelivered += 1
                continue
            calls += 1
            if type(item) is MarketEvent:
                route[0](item)
            else:
                route[1](item)
        return calls

    def close(self) -> None:
        """Stop the streams and drop what waits (the client stays open)."""
        if not self.closed:
            self._stop_streams()
            self._queue.clear()
            self._routes.clear()

    def _digest(self) -> None:
        queue = self._queue
        routes = self._routes
        for market, items in self._take_inbox():
            if market:
                queue.extend(self._books.events(items, routes.__contains__))
            else:
                self._stream_updates(items, queue)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the orchestrator's link


@final
class RemoteLink(_Orders):
    """The orchestrator's ``VenueLink`` surface on a remote venue (an admin key).

    Every account (each order names its own). ``venue`` is the ``Client``. Updates reach
    the symbols' ``on_update`` as in ``VenueLink`` (the module docstring says where they
    can differ); market data and stream updates are delivered by ``pump``, on the
    caller's thread, under ``lock``; a background stream never calls a callback.
    """

    def __init__(
        self,
        client: Client,
        *,
        clock: Callable[[], int] = time.time_ns,
        ignore_accounts: frozenset[int] = frozenset(),
        owns_client: bool = False,
    ) -> None:
        super().__init__(client, None, None, maker_ppm=0, taker_ppm=0, idempotent=True)
        self.venue = client
        self.lock = threading.RLock()
        self.owns_client = owns_client
        self._clock = clock
        self._ignore = ignore_accounts
        self._routes: Mapping[int, tuple[OnMarket, OnUpdate]] = MappingProxyType({})
        self._books = _Books(clock)
        self._fills: dict[tuple[int, int], list[Fill]] = {}
        self.events_seen = 0
        self._start_updates()
        # Every fill the server holds, once: read after the update stream is registered, so
        # nothing falls between the two; the stream's copies of these are skipped (_fresh).
        history, self.fills_complete = client.fills()
        self._note_answer(list(history))
        self._count_fills(history)

    # ------------------------------------------------------------------ recovery

    def fills(self, account: int, symbol_id: int) -> list[Fill]:
        """Every fill of ``account`` in ``symbol_id`` so far, oldest first (a copy): the
        server's history (``ListFills``) at start, then the live ones (``fills_complete``
        says whether the server still held its whole history)."""
        with self.lock:
            self._digest()
            return list(self._fills.get((account, symbol_id), ()))

    def open_orders(self, account: int, symbol_id: int) -> list[tuple[int, int, int, int]]:
        """``account``'s resting orders in ``symbol_id``: (order id, side, price, leaves)."""
        with self.lock:
            return [
                (o.order_id, o.side, o.price_ticks, o.qty_lots + o.hidden_lots)
                for o in self.venue.open_orders(symbol_id, account=account)
            ]

    def cancel_open(self, account: int, symbol_id: int) -> int:
        """Cancel every resting order of ``account`` in ``symbol_id``; return how many."""
        with self.lock:
            orders = self.open_orders(account, symbol_id)
            for order_id, _side, _price, _leaves in orders:
                self.deliver(self.venue.cancel(symbol_id, order_id, account=account))
            return len(orders)

    def ensure_instrument(self, symbol: str, tick_size: str = "0.01", lot_size: str = "1") -> int:
        """The server's symbol id of ``symbol``, defining it first if it is new."""
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
            self._market_data_for(routes)

    def unsubscribe(self, symbol_id: int) -> None:
        """Stop delivering ``symbol_id``'s streams (no-op when not subscribed)."""
        with self.lock:
            if symbol_id in self._routes:
                routes = dict(self._routes)
                del routes[symbol_id]
                self._routes = MappingProxyType(routes)
                self._market_data_for(routes)

    def subscribed(self) -> list[int]:
        """The symbol ids with subscribers, ascending."""
        return sorted(self._routes)

    def pump(self, now_ns: int | None = None) -> int:
        """Deliver what the streams brought; return how many events (``now_ns``: unused,
        the server's clock runs by itself)."""
        with self.lock:
            if self.closed:
                return 0
            return self._digest()

    def send(self, order: Order) -> list[OrderUpdate]:
        """Enter, cancel or modify one order; return its updates of the answer.

        Every update (the returned ones too) is also delivered to the symbol's
        ``on_update``; a repeat's replayed updates are only returned.
        """
        with self.lock:
            if self.closed:
                return [self.refusal(order, RiskReason.KILL_SWITCH, "the venue link is closed")]
            self._digest()
            events, refused = self._enter(order)
            if refused is not None:
                self._route([refused])
                return [refused]
            self.events_seen += len(events)
            out: list[OrderUpdate] = []
            repeat = self._answer(events, out)
            if not repeat:
                self._count_fills(events)
                self._route(out)
            return out

    def deliver(self, events: list[Event]) -> None:
        """Route events another caller got from the server (under ``lock``)."""
        with self.lock:
            self.events_seen += len(events)
            out: list[OrderUpdate] = []
            self._answer(events, out)
            self._count_fills(events)
            self._route(out)

    def close(self) -> None:
        """Stop the streams (and close the client when the link owns it)."""
        with self.lock:
            if self.closed:
                return
            self._routes = MappingProxyType({})
        self._stop_streams()
        if self.owns_client:
            self.client.close()

    # ------------------------------------------------------------------ delivery

    def _count_fills(self, events: Iterable[Event]) -> None:
        fills = self._fills
        ignore = self._ignore
        for ev in events:
            if isinstance(ev, OrderFilled) and ev.account not in ignore:
                fills.setdefault((ev.account, ev.symbol_id), []).append(
                    (ev.side, ev.price_ticks, ev.qty_lots, 0)
                )

    def _route(self, updates: Iterable[OrderUpdate]) -> None:
        routes = self._routes
        for update in updates:
            _on_market, on_update = routes.get(update.symbol_id, _NO_ROUTE)
            if on_update is not None:
                on_update(update)

    def _digest(self) -> int:
        routes = self._routes
        n = 0
        for market, items in self._take_inbox():
            n += len(items)
            if market:
                for event in self._books.events(items, routes.__contains__):
                    on_market, _ = routes.get(event.symbol_id, _NO_ROUTE)
                    if on_market is not None:
                        on_market(event)
            else:
                self.events_seen += len(items)
                fresh = self._fresh(items)
                self._count_fills(fresh)
                out: list[OrderUpdate] = []
                self._translate(fresh, out)
                self._route(out)
        return n
