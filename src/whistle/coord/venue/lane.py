"""The embedded venue's fast lane: ``Venue.submit/cancel/modify/send/send_many`` in one call.

An embedded venue (one in-process host, no data directory) binds these methods of its
``Lane`` over its own (``venue.submit is venue._lane.submit``); this module is compiled
with mypyc (setup.py), so a call from user code goes straight into C.

What a call does. A command the lane can take -- a ``NewOrder`` (no ``client_order_id``),
``CancelOrder`` or ``ModifyOrder`` of exact ints inside ``whistle.core.limits``, enum values
members (the very check of ``command_error``'s fast path, copied: ``_new_order_ok``,
``_cancel_ok`` and ``Venue._edge_ok``; ``tests/unit/coord/test_venue_lane.py`` proves the
verdicts equal), for the symbol the lane is *open* on -- is stamped with the next
``enq_seq`` and run by one ``Whistle.process`` at the venue's current time: exactly what
``Venue.send`` does for it (``Venue._embedded``: route + a tick holding only that
command), with every command still its own tick. Anything else (a decimal string, a client
order id, another symbol, a value the edge refuses, a subscriber, ...) goes to the
``Venue`` method of the same name, the general path, which produces the very same events,
rejects and ``last_reject_detail``.

The lane opens on a symbol when ``Venue._lane_state`` finds the state ``_embedded`` needs
(the symbol ACTIVE and not faulted, nothing queued or due on the host, a virtual clock, no
session end due, no subscriber, the venue not stopped); while it is open only lane calls
run, so that state holds. Between its calls the lane keeps the *counters* of what it ran
(the last ``enq_seq``, how many ticks, the next automatic order id): every other ``Venue``
method and property (and ``venue.router``/``clock``/``coordinator``) first calls
``Venue._settle``, which writes them to the router, host, coordinator and clock exactly as
that many ``_embedded`` calls would have (``Venue._lane_commit``) and closes the lane.
So nothing outside can see the difference, only the time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from msgspec.structs import astuple

from whistle.core.commands import CancelOrder, ModifyOrder, NewOrder
from whistle.core.enums import OrderType, Side, StpMode, TimeInForce
from whistle.core.limits import (
    MAX_ACCOUNT,
    MAX_CLIENT_ORDER_ID,
    MAX_ORDER_ID,
    MAX_PRICE_TICKS,
    MAX_QTY_LOTS,
    MAX_SYMBOL_ID,
    MAX_TS_NS,
    MIN_ACCOUNT,
    MIN_ORDER_ID,
    MIN_SYMBOL_ID,
)
from whistle.engine.whistle import Whistle  # noqa: TC001  # a native class once compiled

if TYPE_CHECKING:
    from collections.abc import Iterable

    from whistle.coord.venue.facade import Venue
    from whistle.core.commands import Command
    from whistle.core.events import Event

__all__ = ["Lane", "edge_ok", "member_table"]

# Module-level Finals: C statics once compiled.
_MIN_SID: Final = MIN_SYMBOL_ID
_MAX_SID: Final = MAX_SYMBOL_ID
_MIN_OID: Final = MIN_ORDER_ID
_MAX_OID: Final = MAX_ORDER_ID
_MIN_ACCT: Final = MIN_ACCOUNT
_MAX_ACCT: Final = MAX_ACCOUNT
_MAX_PRICE: Final = MAX_PRICE_TICKS
_MAX_QTY: Final = MAX_QTY_LOTS
_MAX_TS: Final = MAX_TS_NS
_MAX_COID: Final = MAX_CLIENT_ORDER_ID
_LIMIT: Final = int(OrderType.LIMIT)
_MARKET: Final = int(OrderType.MARKET)
_GTC: Final = int(TimeInForce.GTC)
_IOC: Final = int(TimeInForce.IOC)
_STP_NONE: Final = StpMode.NONE


def member_table(
    kind: type[Side] | type[OrderType] | type[TimeInForce] | type[StpMode],
) -> dict[object, int]:
    """Return the values a fast path resolves by one lookup: member -> its int.

    The members, their exact int values and the NAME in lower, upper and title case;
    looked up only for a value whose type is exactly str, int or the enum (a bool or a
    float would hash like an int); anything else takes the general path's ``enum_member``,
    which has the final word.
    """
    table: dict[object, int] = {}
    for member in kind:
        for key in (member, int(member), member.name, member.name.lower(), member.name.title()):
            table[key] = int(member)
    return table


_SIDE_OF: Final = member_table(Side)
_TYPE_OF: Final = member_table(OrderType)
_TIF_OF: Final = member_table(TimeInForce)
_STP_OF: Final = member_table(StpMode)


def _span(kind: type[Side] | type[OrderType] | type[TimeInForce] | type[StpMode]) -> int:
    # The enum's values run lo..hi with no gap (checked here), so membership is two compares.
    values = sorted(int(m) for m in kind)
    if values != list(range(values[0], values[-1] + 1)):
        raise RuntimeError(f"{kind.__name__} values {values} have a gap: lane.py needs sets")
    return values[-1]


_SIDE_LO: Final = min(int(m) for m in Side)
_SIDE_HI: Final = _span(Side)
_TYPE_LO: Final = min(int(m) for m in OrderType)
_TYPE_HI: Final = _span(OrderType)
_TIF_LO: Final = min(int(m) for m in TimeInForce)
_TIF_HI: Final = _span(TimeInForce)
_STP_LO: Final = min(int(m) for m in StpMode)
_STP_HI: Final = _span(StpMode)


def _member(table: dict[object, int], kind: type, value: object) -> int:
    # The member's int, or -1 (then the general path decides, with its message).
    vtype = type(value)
    if vtype is str or vtype is int or vtype is kind:
        found = table.get(value)
        if found is not None:
            return found
    return -1


def _new_ok(
    sid: object,
    oid: object,
    acct: object,
    side: object,
    ot: object,
    tif: object,
    price: object,
    qty: object,
    stop: object,
    disp: object,
    post: object,
    stp: object,
    exp: object,
    prot: object,
    coid: object,
) -> bool:
    # whistle.core.commands._new_order_ok, on the fields.
    return (
        type(sid) is int
        and type(oid) is int
        and type(acct) is int
        and type(side) is int
        and type(ot) is int
        and type(tif) is int
        and type(price) is int
        and type(qty) is int
        and type(stop) is int
        and type(disp) is int
        and type(post) is bool
        and (type(stp) is int or type(stp) is StpMode)
        and type(exp) is int
        and type(prot) is int
        and type(coid) is int
        and _MIN_SID <= sid <= _MAX_SID
        and _MIN_OID <= oid <= _MAX_OID
        and _MIN_ACCT <= acct <= _MAX_ACCT
        and _SIDE_LO <= side <= _SIDE_HI
        and _TYPE_LO <= ot <= _TYPE_HI
        and _TIF_LO <= tif <= _TIF_HI
        and _STP_LO <= stp <= _STP_HI
        and -_MAX_PRICE <= price <= _MAX_PRICE
        and -_MAX_PRICE <= stop <= _MAX_PRICE
        and -_MAX_PRICE <= prot <= _MAX_PRICE
        and -_MAX_QTY <= qty <= _MAX_QTY
        and -_MAX_QTY <= disp <= _MAX_QTY
        and 0 <= exp <= _MAX_TS
        and 0 <= coid <= _MAX_COID
    )


def _cancel_ok(sid: object, oid: object, acct: object) -> bool:
    # whistle.core.commands._cancel_ok, on the fields.
    return (
        type(sid) is int
        and type(oid) is int
        and _MIN_SID <= sid <= _MAX_SID
        and _MIN_OID <= oid <= _MAX_OID
        and (acct is None or (type(acct) is int and _MIN_ACCT <= acct <= _MAX_ACCT))
    )


def _modify_ok(sid: object, oid: object, price: object, qty: object, acct: object) -> bool:
    # Venue._edge_ok's inline ModifyOrder rule (command_error's ranges), on the fields.
    return (
        type(sid) is int
        and type(oid) is int
        and type(price) is int
        and type(qty) is int
        and _MIN_SID <= sid <= _MAX_SID
        and _MIN_OID <= oid <= _MAX_OID
        and -_MAX_PRICE <= price <= _MAX_PRICE
        and -_MAX_QTY <= qty <= _MAX_QTY
        and (acct is None or (type(acct) is int and _MIN_ACCT <= acct <= _MAX_ACCT))
    )


def edge_ok(command: object) -> bool:
    """Return True when the lane takes ``command`` as the edge would (False: ask the venue).

    True only for a NewOrder without a client order id, a CancelOrder or a ModifyOrder that
    ``command_error`` accepts; False says nothing (the general path decides).
    """
    kind = type(command)
    if kind is NewOrder:
        f = astuple(command)  # type: ignore[arg-type]  # checked: a NewOrder
        coid = f[14]
        return (
            type(coid) is int
            and coid == 0
            and _new_ok(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10],
                        f[11], f[12], f[13], 0)
        )  # fmt: skip
    if kind is CancelOrder:
        f = astuple(command)  # type: ignore[arg-type]  # checked: a CancelOrder
        return _cancel_ok(f[0], f[1], f[2])
    if kind is ModifyOrder:
        f = astuple(command)  # type: ignore[arg-type]  # checked: a ModifyOrder
        return _modify_ok(f[0], f[1], f[2], f[3], f[4])
    return False


@final
class Lane:
    """The fast lane of one embedded ``Venue`` (see the module)."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.open_sid = -1  # the symbol the lane is open on; -1: closed
        self.engine: Whistle | None = None
        self.now_ns = 0
        self.first = 0  # router.enq_seq when the lane opened
        self.enq_seq = 0  # the last enq_seq the lane used
        self.next_id = 1  # the open symbol's next automatic order id
        self.done = 0  # commands (ticks) run since the lane opened
        self.sid_of: dict[object, int] = {}  # symbol name or id -> symbol id

    # ------------------------------------------------------------------ open / settle

    def _open(self, symbol_id: int) -> bool:
        # Settle what ran on another symbol, then take this one if the venue says it may.
        self.settle()
        self.open_sid = -1
        self.engine = None
        state = self.venue._lane_state(symbol_id)
        if state is None:
            return False
        engine, enq_seq, now_ns, next_id = state
        self.engine = engine
        self.first = enq_seq
        self.enq_seq = enq_seq
        self.now_ns = now_ns
        self.next_id = next_id
        self.open_sid = symbol_id
        return True

    def _resolve(self, symbol: object) -> int:
        # The symbol id of a known name or id (-1: not known here; the venue resolves it).
        if type(symbol) is str or type(symbol) is int:
            sid = self.sid_of.get(symbol)
            if sid is not None:
                return sid
            found = self.venue._fast_symbols.get(symbol)
            if found is not None:
                sid = found.symbol_id
                self.sid_of[symbol] = sid
                return sid
        return -1

    def settle(self) -> None:
        """Write what the lane ran to the venue's state and close the lane."""
        done = self.done
        sid = self.open_sid
        engine = self.engine
        self.open_sid = -1
        self.engine = None
        self.done = 0
        if done and engine is not None:
            self.venue._lane_commit(sid, engine, self.enq_seq, done, self.next_id)

    # ------------------------------------------------------------------ the calls

    def _used(self, order_id: int) -> None:
        # Automatic ids continue after every accepted id (Venue._sequence's rule).
        if order_id >= self.next_id:
            self.next_id = order_id + 1

    def _run(self, command: Command) -> list[Event]:
        engine = self.engine
        assert engine is not None
        enq_seq = self.enq_seq + 1
        self.enq_seq = enq_seq
        self.done += 1
        return engine.process(enq_seq, command, self.now_ns)

    def submit(
        self,
        symbol: object,
        side: object,
        qty: object = None,
        price: object = None,
        *,
        order_type: object = None,
        tif: object = None,
        order_id: object = None,
        account: object = 0,
        stop_price: object = None,
        display_qty: object = None,
        post_only: object = False,
        stp: object = _STP_NONE,
        expire_ts_ns: object = 0,
        protection_price: object = None,
        qty_lots: object = None,
        price_ticks: object = None,
        stop_price_ticks: object = None,
        display_qty_lots: object = None,
        protection_price_ticks: object = None,
        client_order_id: object = 0,
    ) -> list[Event]:
        """``Venue.submit`` (same arguments, same events)."""
        sid = self._resolve(symbol)
        if (
            sid >= 0
            and qty is None
            and price is None
            and stop_price is None
            and display_qty is None
            and protection_price is None
            and type(client_order_id) is int
            and client_order_id == 0
            and (sid == self.open_sid or self._open(sid))
        ):
            side_i = _member(_SIDE_OF, Side, side)
            if order_type is None:
                type_i = _LIMIT if price_ticks is not None else _MARKET
            else:
                type_i = _member(_TYPE_OF, OrderType, order_type)
            if tif is None:
                tif_i = _IOC if type_i == _MARKET else _GTC
            else:
                tif_i = _member(_TIF_OF, TimeInForce, tif)
            stp_i = 0 if stp is _STP_NONE else _member(_STP_OF, StpMode, stp)
            oid = self.next_id if order_id is None else order_id
            p = 0 if price_ticks is None else price_ticks
            q = 0 if qty_lots is None else qty_lots
            s = 0 if stop_price_ticks is None else stop_price_ticks
            d = 0 if display_qty_lots is None else display_qty_lots
            r = 0 if protection_price_ticks is None else protection_price_ticks
            if (
                side_i >= 0
                and type_i >= 0
                and tif_i >= 0
                and stp_i >= 0
                and _new_ok(sid, oid, account, side_i, type_i, tif_i, p, q, s, d, post_only,
                            stp_i, expire_ts_ns, r, 0)
            ):  # fmt: skip
                command = NewOrder(
                    sid, oid, account, side_i, type_i, tif_i, p, q, s, d, post_only,  # type: ignore[arg-type]
                    stp_i, expire_ts_ns, r, 0,  # type: ignore[arg-type]
                )  # fmt: skip
                if oid >= self.next_id:  # type: ignore[operator]  # checked: an int
                    self.next_id = oid + 1  # type: ignore[operator]  # checked: an int
                return self._run(command)
        self.settle()
        return self.venue._general_submit(
            symbol,  # type: ignore[arg-type]
            side,  # type: ignore[arg-type]
            qty,  # type: ignore[arg-type]
            price,  # type: ignore[arg-type]
            order_type=order_type,  # type: ignore[arg-type]
            tif=tif,  # type: ignore[arg-type]
            order_id=order_id,  # type: ignore[arg-type]
            account=account,  # type: ignore[arg-type]
            stop_price=stop_price,  # type: ignore[arg-type]
            display_qty=display_qty,  # type: ignore[arg-type]
            post_only=post_only,  # type: ignore[arg-type]
            stp=stp,  # type: ignore[arg-type]
            expire_ts_ns=expire_ts_ns,  # type: ignore[arg-type]
            protection_price=protection_price,  # type: ignore[arg-type]
            qty_lots=qty_lots,  # type: ignore[arg-type]
            price_ticks=price_ticks,  # type: ignore[arg-type]
            stop_price_ticks=stop_price_ticks,  # type: ignore[arg-type]
            display_qty_lots=display_qty_lots,  # type: ignore[arg-type]
            protection_price_ticks=protection_price_ticks,  # type: ignore[arg-type]
            client_order_id=client_order_id,  # type: ignore[arg-type]
        )

    def cancel(self, symbol: object, order_id: object, *, account: object = None) -> list[Event]:
        """``Venue.cancel`` (same arguments, same events)."""
        sid = self._resolve(symbol)
        if (
            sid >= 0
            and (sid == self.open_sid or self._open(sid))
            and _cancel_ok(sid, order_id, account)
        ):
            return self._run(CancelOrder(sid, order_id, account))  # type: ignore[arg-type]
        self.settle()
        return self.venue._general_cancel(symbol, order_id, account=account)  # type: ignore[arg-type]

    def modify(
        self,
        symbol: object,
        order_id: object,
        *,
        price: object = None,
        qty: object = None,
        price_ticks: object = None,
        qty_lots: object = None,
        account: object = None,
    ) -> list[Event]:
        """``Venue.modify`` (same arguments, same events)."""
        sid = self._resolve(symbol)
        if sid >= 0 and price is None and qty is None and (sid == self.open_sid or self._open(sid)):
            p = 0 if price_ticks is None else price_ticks
            q = 0 if qty_lots is None else qty_lots
            if _modify_ok(sid, order_id, p, q, account):
                return self._run(ModifyOrder(sid, order_id, p, q, account))  # type: ignore[arg-type]
        self.settle()
        return self.venue._general_modify(
            symbol,  # type: ignore[arg-type]
            order_id,  # type: ignore[arg-type]
            price=price,  # type: ignore[arg-type]
            qty=qty,  # type: ignore[arg-type]
            price_ticks=price_ticks,  # type: ignore[arg-type]
            qty_lots=qty_lots,  # type: ignore[arg-type]
            account=account,  # type: ignore[arg-type]
        )

    def send(self, command: Command) -> list[Event]:
        """``Venue.send`` (same events)."""
        if edge_ok(command):
            sid: int = command.symbol_id
            if sid == self.open_sid or self._open(sid):
                if type(command) is NewOrder:
                    self._used(command.order_id)
                return self._run(command)
        self.settle()
        return self.venue._general_send(command)

    def send_many(self, commands: Iterable[Command]) -> list[Event]:
        """``Venue.send_many``: ``send`` of every command in order (read whole first)."""
        items = list(commands)
        out: list[Event] = []
        venue = self.venue
        for command in items:
            if edge_ok(command):
                sid: int = command.symbol_id
                if sid == self.open_sid or self._open(sid):
                    if type(command) is NewOrder:
                        self._used(command.order_id)
                    engine = self.engine
                    assert engine is not None
                    enq_seq = self.enq_seq + 1
                    self.enq_seq = enq_seq
                    self.done += 1
                    out.extend(engine.process(enq_seq, command, self.now_ns))
                    continue
            self.settle()
            out.extend(venue._general_send(command))
        return out
