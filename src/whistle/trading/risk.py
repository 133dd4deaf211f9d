"""Pre-trade risk controls: each signal is approved or refused with a ``RiskReason``.

A denial is a value (a ``RiskDecision`` with ``approved=False``), never an exception: bad
signals are refused ``MALFORMED``. Limits live in config (``RiskConfig``), never in code.

Scope. Every limit and every piece of state (position, open orders, the rate bucket) is kept
per ``(account, symbol)``. The limits that apply to a pair are the *most restrictive non-zero*
value of each field among ``default``, ``per_symbol[name]`` and ``per_account[account]``
(0 means "off"; ``self_cross_check`` is on if any of them turns it on). They are resolved once
per pair, on its first signal, so ``check`` reads plain ints.

The checks, in the order they run (the first that fails is the reason reported):

1. ``MALFORMED``: not a ``SignalEvent``; unknown kind; a symbol id not given to the engine;
   an account or client order id outside ``whistle.core.limits`` (ids are >= 1); for a new
   order a quantity or price that is not an int in ``1..MAX_QTY_LOTS`` / ``1..MAX_PRICE_TICKS``,
   an unknown time in force, ``post_only`` not a bool, a client order id that is already
   open on the symbol; for a
   modify a negative (or non-int) price or qty, or both 0 (nothing to change).
2. ``UNKNOWN_ORDER``: a cancel or modify of a client order id with no open order of this
   account on this symbol.
3. Cancels stop here: approved, always, even with the kill switch tripped.
4. ``KILL_SWITCH``: tripped by ``kill(cause)``, by a ``DISCONNECT`` market event or by a
   position breach (a fill taking ``abs(position)`` past ``max_position``); until ``reset``.
5. ``MAX_ORDER_QTY``: ``qty > max_order_qty``.
6. ``MAX_ORDER_NOTIONAL``: ``price * qty > max_order_notional`` (tick-lots).
7. ``NO_REFERENCE_PRICE`` / ``PRICE_COLLAR``: with ``collar_bps`` set, the reference is the mid
   of the last book or BBO event with both sides, else the last trade price; with neither,
   ``NO_REFERENCE_PRICE``; ``abs(price - ref) * 10_000 > collar_bps * ref`` is ``PRICE_COLLAR``
   (computed in integers on ``2 * price`` against ``bid + ask``: exact, no rounding).
8. ``SELF_CROSS``: with ``self_cross_check``, a buy priced at or above the account's lowest
   open sell on the symbol, or a sell at or below its highest open buy.
9. ``MAX_OPEN_ORDERS``: a new order when the pair already has ``max_open_orders`` open.
10. ``MAX_OPEN_NOTIONAL``: the sum of ``price * leaves`` over the pair's open orders, this one
    included (a modify: with its new price and qty), ``> max_open_notional``.
11. ``MAX_POSITION``: the worst case if this order *and every open order on its side* filled:
    ``position + open buy qty + qty > max_position`` for a buy,
    ``position - open sell qty - qty < -max_position`` for a sell.
12. ``ORDER_RATE``: a token bucket per pair, ``order_burst`` deep (0: one second's worth,
    ``max_order_rate``), refilled at ``max_order_rate`` per second of the ``now_ns`` clock given to
    ``check`` (integer arithmetic: deterministic for a given sequence of times; a clock that
    goes back refills nothing). New orders and modifies take a token; it is taken last, so a
    signal refused for another reason costs none.

Exactly at a limit is allowed. Open-order state: an approved new order counts as open at
once (before the venue acknowledges it); a modify takes effect at once (undone if the
venue rejects it); an order leaves on ``CANCELLED`` (unless it only shrank), ``EXPIRED``,
``FILLED`` with no leaves, or ``REJECTED`` before it was accepted (``ACCEPTED``, a partial
fill, a reduction or a ``MODIFIED`` prove acceptance; a ``REJECTED`` after that refused a
modify, which is undone, or a cancel). A ``REJECTED`` update that echoes one of risk's own
refusals of a signal naming an open order (same client order id and symbol, same reason
code) changes nothing, so a runtime may feed risk every update the strategy sees. Fills move
the pair's position. Client order ids must be unique per symbol within one engine (across accounts).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, final

import msgspec

from whistle.core.enums import Side, TimeInForce
from whistle.core.limits import MAX_ACCOUNT, MAX_ORDER_ID, MAX_PRICE_TICKS, MAX_QTY_LOTS
from whistle.trading.messages import (
    MarketEvent,
    MarketKind,
    Order,
    OrderAction,
    OrderUpdate,
    RiskDecision,
    RiskReason,
    SignalEvent,
    SignalKind,
    UpdateKind,
)

__all__ = ["RiskConfig", "RiskConfigError", "RiskEngine", "RiskLimits"]

NonNegative = Annotated[int, msgspec.Meta(ge=0)]

_LIMIT_FIELDS: Final = (
    "max_position",
    "max_order_qty",
    "max_order_notional",
    "max_open_notional",
    "max_order_rate",
    "order_burst",
    "max_open_orders",
    "collar_bps",
)


class RiskConfigError(ValueError):
    """A risk config is invalid: an unknown key, a wrong type or a negative limit (named)."""


@final
class RiskLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One set of limits; every limit is an int >= 0 and 0 turns it off."""

    max_position: NonNegative = 0
    """Largest ``abs(position)`` in lots, counting every open order as filled."""
    max_order_qty: NonNegative = 0
    """Largest quantity of one order, lots."""
    max_order_notional: NonNegative = 0
    """Largest ``price * qty`` of one order, tick-lots."""
    max_open_notional: NonNegative = 0
    """Largest sum of ``price * leaves_qty`` over open orders, tick-lots."""
    max_order_rate: NonNegative = 0
    """New orders and modifies per second (token bucket refill rate)."""
    order_burst: NonNegative = 0
    """Token bucket depth (0: ``max_order_rate``, one second's worth)."""
    max_open_orders: NonNegative = 0
    """Largest number of open orders."""
    collar_bps: NonNegative = 0
    """Largest distance of a price from the reference (mid, else last trade), basis points."""
    self_cross_check: bool = True
    """Refuse an order that would trade against the same account's open order."""

    def __post_init__(self) -> None:
        # msgspec validates NonNegative when converting config; this catches direct construction.
        for name in _LIMIT_FIELDS:
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise RiskConfigError(f"RiskLimits.{name} must be an int >= 0, was {value!r}")
        if type(self.self_cross_check) is not bool:
            raise RiskConfigError(
                f"RiskLimits.self_cross_check must be a bool, was {self.self_cross_check!r}"
            )


def _tighter(a: int, b: int) -> int:
    if a == 0:
        return b
    if b == 0:
        return a
    return a if a < b else b


@final
class RiskConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Limits for every ``(account, symbol)``: the most restrictive non-zero of the three."""

    default: RiskLimits = RiskLimits()
    per_symbol: dict[str, RiskLimits] = {}
    per_account: dict[int, RiskLimits] = {}

    def effective(self, symbol: str | None, account: int) -> RiskLimits:
        """Return the limits that apply to ``account`` trading ``symbol`` (module docstring)."""
        found = [self.default]
        if symbol is not None and symbol in self.per_symbol:
            found.append(self.per_symbol[symbol])
        if account in self.per_account:
            found.append(self.per_account[account])
        values: dict[str, Any] = {}
        for name in _LIMIT_FIELDS:
            value = 0
            for limits in found:
                value = _tighter(value, getattr(limits, name))
            values[name] = value
        values["self_cross_check"] = any(limits.self_cross_check for limits in found)
        return RiskLimits(**values)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "risk config") -> RiskConfig:
        """Build a config from plain data (parsed TOML or JSON); ``RiskConfigError`` names the key.

        ``per_account`` keys may be ints or decimal strings (TOML and JSON keys are strings).
        """
        if not isinstance(data, Mapping):
            raise RiskConfigError(
                f"{source}: expected a table of limits, got {type(data).__name__}"
            )
        data = dict(data)
        accounts = data.get("per_account")
        if isinstance(accounts, Mapping):
            converted: dict[Any, Any] = {}
            for key, value in accounts.items():
                if isinstance(key, str) and key.isascii() and key.isdigit():
                    converted[int(key)] = value
                elif type(key) is int:
                    converted[key] = value
                else:
                    raise RiskConfigError(
                        f"{source}: per_account key {key!r} is not an account number"
                        " (a non-negative int)"
                    )
            data["per_account"] = converted
        try:
            return msgspec.convert(data, cls)
        except (msgspec.ValidationError, RiskConfigError) as error:
            raise RiskConfigError(f"{source}: {error}") from None

    @classmethod
    def from_toml(cls, text: str, *, source: str = "risk config") -> RiskConfig:
        """Parse TOML text (top-level ``[default]``, ``[per_symbol.SYM]``, ``[per_account.N]``)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise RiskConfigError(f"{source}: not valid TOML: {error}") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def load(cls, path: str | Path) -> RiskConfig:
        """Read a ``.toml`` or ``.json`` file; errors name the file and the key."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise RiskConfigError(f"{path}: cannot read risk config: {error}") from None
        if path.suffix.lower() == ".json":
            try:
                data = msgspec.json.decode(raw)
            except msgspec.DecodeError as error:
                raise RiskConfigError(f"{path}: not valid JSON: {error}") from None
            return cls.from_dict(data, source=str(path))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RiskConfigError(f"{path}: not UTF-8: {error}") from None
        return cls.from_toml(text, source=str(path))


# -- engine ------------------------------------------------------------------------------

_BUY: Final = int(SignalKind.BUY)
_SELL: Final = int(SignalKind.SELL)
_CANCEL: Final = int(SignalKind.CANCEL)
_MODIFY: Final = int(SignalKind.MODIFY)
_SIDE_BUY: Final = int(Side.BUY)
_SIDE_SELL: Final = int(Side.SELL)
_TIFS: Final = frozenset(int(t) for t in TimeInForce)
_MAX_REFUSALS: Final = 16  # un-echoed refusals remembered per open order
_TOKEN: Final = 1_000_000_000  # one order, in token-ns: a rate of r/s refills r units per ns

_NONE: Final = RiskReason.NONE
_MALFORMED: Final = RiskReason.MALFORMED
_UNKNOWN_ORDER: Final = RiskReason.UNKNOWN_ORDER
_KILL_SWITCH: Final = RiskReason.KILL_SWITCH

_ACCEPTED: Final = int(UpdateKind.ACCEPTED)
_FILLED: Final = int(UpdateKind.FILLED)
_CANCELLED: Final = int(UpdateKind.CANCELLED)
_REJECTED: Final = int(UpdateKind.REJECTED)
_EXPIRED: Final = int(UpdateKind.EXPIRED)
_MODIFIED: Final = int(UpdateKind.MODIFIED)


@final
class _Open(msgspec.Struct):
    """One open order as risk sees it (a Struct: built in C, a third of a slotted __init__)."""

    pair: _Pair
    coid: int
    side: int
    price: int
    qty: int  # leaves
    accepted: bool = False
    prev: tuple[int, int] | None = None  # (price, qty) before an unconfirmed modify
    refused: list[int] | None = None  # risk's refusals naming it, not yet echoed back


@final
class _Pair:
    """State and effective limits of one (account, symbol)."""

    __slots__ = (
        "account",
        "buy_qty",
        "checks",
        "collar_bps",
        "last_ns",
        "level",
        "max_open_notional",
        "max_open_orders",
        "max_order_notional",
        "max_order_qty",
        "max_position",
        "open_notional",
        "orders",
        "position",
        "rate",
        "self_cross",
        "sell_qty",
        "symbol_id",
        "token_cap",
    )

    def __init__(self, account: int, symbol_id: int, limits: RiskLimits) -> None:
        self.account = account
        self.symbol_id = symbol_id
        self.max_position = limits.max_position
        self.max_order_qty = limits.max_order_qty
        self.max_order_notional = limits.max_order_notional
        self.max_open_notional = limits.max_open_notional
        self.max_open_orders = limits.max_open_orders
        self.collar_bps = limits.collar_bps
        self.self_cross = limits.self_cross_check
        self.rate = limits.max_order_rate
        burst = limits.order_burst or limits.max_order_rate
        self.token_cap = burst * _TOKEN
        self.level = self.token_cap  # the bucket starts full
        self.last_ns: int | None = None
        self.position = 0
        self.buy_qty = 0  # open leaves on each side
        self.sell_qty = 0
        self.open_notional = 0
        self.orders: dict[int, _Open] = {}  # coid -> order, in the order they were opened
        # Whether any of checks 5-12 is on: a pair without limits skips them in one test.
        self.checks = bool(
            self.max_order_qty
            or self.max_order_notional
            or self.collar_bps
            or self.self_cross
            or self.max_open_orders
            or self.max_open_notional
            or self.max_position
            or self.rate
        )

    def change(self, order: _Open, price: int, qty: int) -> None:
        """Set an open order's price and leaves, keeping the pair's sums true."""
        self.open_notional += price * qty - order.price * order.qty
        if order.side == _SIDE_BUY:
            self.buy_qty += qty - order.qty
        else:
            self.sell_qty += qty - order.qty
        order.price = price
        order.qty = qty


@final
class RiskEngine:
    """Checks signals against ``RiskConfig`` and tracks the orders and positions it approved.

    ``symbols`` maps each tradable ``symbol_id`` to its name (the key of ``per_symbol``); a
    signal for any other id is ``MALFORMED``. Feed it every ``OrderUpdate`` (``on_update``) and
    every ``MarketEvent`` (``on_market``) of those symbols; both return the cancel ``Order``s to
    send when the update or event tripped the kill switch (else an empty list).
    """

    __slots__ = (
        "_config",
        "_last",
        "_mid_x2",
        "_now",
        "_orders",
        "_pairs",
        "_symbols",
        "kill_cause",
        "killed",
    )

    def __init__(self, config: RiskConfig, symbols: Mapping[int, str]) -> None:
        if not isinstance(config, RiskConfig):
            raise TypeError(f"config must be a RiskConfig, was {type(config).__name__}")
        self._config = config
        self._symbols: dict[int, str] = dict(symbols)
        self._pairs: dict[int, _Pair] = {}  # account << 32 | symbol_id
        self._orders: dict[int, _Open] = {}  # client_order_id << 32 | symbol_id
        self._mid_x2: dict[int, int] = {}  # symbol_id -> best bid + best ask (both sides present)
        self._last: dict[int, int] = {}  # symbol_id -> last trade price
        self._now = 0
        self.killed = False
        self.kill_cause = ""

    # -- queries -------------------------------------------------------------------------

    @property
    def config(self) -> RiskConfig:
        """The config the engine checks against."""
        return self._config

    def limits(self, account: int, symbol_id: int) -> RiskLimits:
        """Return the effective limits of ``account`` on ``symbol_id``."""
        return self._config.effective(self._symbols.get(symbol_id), account)

    def position(self, account: int, symbol_id: int) -> int:
        """Return the position (signed lots) risk has seen filled for the pair."""
        pair = self._pairs.get(account << 32 | symbol_id)
        return pair.position if pair is not None else 0

    def open_orders(self, account: int, symbol_id: int) -> dict[int, tuple[int, int, int]]:
        """Return the pair's open orders as ``{client_order_id: (side, price, leaves_qty)}``."""
        pair = self._pairs.get(account << 32 | symbol_id)
        if pair is None:
            return {}
        return {o.coid: (o.side, o.price, o.qty) for o in pair.orders.values()}

    def open_notional(self, account: int, symbol_id: int) -> int:
        """Return the sum of ``price * leaves`` of the pair's open orders (tick-lots)."""
        pair = self._pairs.get(account << 32 | symbol_id)
        return pair.open_notional if pair is not None else 0

    def reference_price_x2(self, symbol_id: int) -> int:
        """Return twice the collar's reference price (bid + ask, else 2 * last), 0 if none."""
        mid_x2 = self._mid_x2.get(symbol_id, 0)
        if mid_x2:
            return mid_x2
        return 2 * self._last.get(symbol_id, 0)

    # -- the check -----------------------------------------------------------------------

    def check(self, signal: SignalEvent, account: int, now_ns: int) -> RiskDecision:
        """Approve or refuse ``signal`` of ``account`` at ``now_ns``; never raises on bad input."""
        if type(now_ns) is int:
            self._now = now_ns
        else:
            now_ns = self._now
        reason = self._check(signal, account, now_ns)
        if reason is not _NONE:
            self._refused(signal, reason)
        return RiskDecision(signal, reason is _NONE, reason, now_ns)

    def check_order(
        self, signal: SignalEvent, account: int, now_ns: int
    ) -> tuple[RiskDecision, Order | None]:
        """``check``, and the ``Order`` to send when approved (``None`` when refused)."""
        if type(now_ns) is int:
            self._now = now_ns
        else:
            now_ns = self._now
        reason = self._check(signal, account, now_ns)
        if reason is not _NONE:
            self._refused(signal, reason)
            return RiskDecision(signal, False, reason, now_ns), None
        decision = RiskDecision(signal, True, reason, now_ns)
        kind = signal.kind
        if kind == _BUY or kind == _SELL:  # noqa: SIM109 - two == beat `in` on IntEnum
            return decision, Order(
                OrderAction.NEW,
                signal.client_order_id,
                account,
                signal.symbol_id,
                Side.BUY if kind == _BUY else Side.SELL,
                signal.price,
                signal.qty,
                signal.tif,
                signal.post_only,
                now_ns,
            )
        order = self._orders[signal.client_order_id << 32 | signal.symbol_id]
        if kind == _CANCEL:
            return decision, Order(
                OrderAction.CANCEL,
                signal.client_order_id,
                account,
                signal.symbol_id,
                Side(order.side),
                ts_ns=now_ns,
            )
        return decision, Order(
            OrderAction.MODIFY,
            signal.client_order_id,
            account,
            signal.symbol_id,
            Side(order.side),
            signal.price,
            signal.qty,
            ts_ns=now_ns,
        )

    def _refused(self, signal: SignalEvent, reason: RiskReason) -> None:
        # A runtime may hand risk's own refusal back to on_update as a REJECTED update (the
        # strategy hears of it that way). Remember the refusals that name an open order, so
        # that their echo is not taken for the venue refusing that order or its modify.
        if type(signal) is not SignalEvent:
            return
        coid = signal.client_order_id
        symbol_id = signal.symbol_id
        if type(coid) is not int or type(symbol_id) is not int or coid < 0:
            return
        order = self._orders.get(coid << 32 | symbol_id)
        if order is not None:
            refused = order.refused
            if refused is None:
                refused = order.refused = []
            elif len(refused) >= _MAX_REFUSALS:
                del refused[0]  # a runtime that never echoes must not grow this without bound
            refused.append(int(reason))

    def _check(self, signal: SignalEvent, account: int, now_ns: int) -> RiskReason:
        if type(signal) is not SignalEvent:
            return _MALFORMED
        symbol_id = signal.symbol_id
        coid = signal.client_order_id
        if (
            type(account) is not int
            or type(coid) is not int
            or type(symbol_id) is not int
            or not 0 <= account <= MAX_ACCOUNT
            or not 0 < coid <= MAX_ORDER_ID
            or symbol_id not in self._symbols
        ):
            return _MALFORMED
        key = coid << 32 | symbol_id
        kind = signal.kind
        price = signal.price
        qty = signal.qty
        orders = self._orders

        if kind == _BUY or kind == _SELL:  # noqa: SIM109 - see check_order
            if (
                type(qty) is not int
                or type(price) is not int
                or not 0 < qty <= MAX_QTY_LOTS
                or not 0 < price <= MAX_PRICE_TICKS
                or signal.tif not in _TIFS
                or type(signal.post_only) is not bool
                or key in orders
            ):
                return _MALFORMED
            if self.killed:
                return _KILL_SWITCH
            pair = self._pairs.get(account << 32 | symbol_id)
            if pair is None:
                pair = self._pair(account, symbol_id)
            buy = kind == _BUY
            if pair.checks:
                reason = self._limits(pair, symbol_id, buy, price, qty, None, now_ns)
                if reason is not _NONE:
                    return reason
            # Open it now (inline _Pair.change from nothing: the hot path).
            opened = _Open(pair, coid, _SIDE_BUY if buy else _SIDE_SELL, price, qty)
            pair.open_notional += price * qty
            if buy:
                pair.buy_qty += qty
            else:
                pair.sell_qty += qty
            pair.orders[coid] = opened
            orders[key] = opened
            return _NONE

        if kind == _CANCEL:
            found = orders.get(key)
            if found is None or found.pair.account != account:
                return _UNKNOWN_ORDER
            return _NONE

        if kind == _MODIFY:
            if (
                type(qty) is not int
                or type(price) is not int
                or not 0 <= qty <= MAX_QTY_LOTS
                or not 0 <= price <= MAX_PRICE_TICKS
                or (qty == 0 and price == 0)
            ):
                return _MALFORMED
            order = orders.get(key)
            if order is None or order.pair.account != account:
                return _UNKNOWN_ORDER
            if self.killed:
                return _KILL_SWITCH
            pair = order.pair
            new_price = price or order.price
            new_qty = qty or order.qty
            if pair.checks:
                reason = self._limits(
                    pair, symbol_id, order.side == _SIDE_BUY, new_price, new_qty, order, now_ns
                )
                if reason is not _NONE:
                    return reason
            if order.prev is None:
                order.prev = (order.price, order.qty)
            pair.change(order, new_price, new_qty)
            return _NONE

        return _MALFORMED

    def _limits(
        self,
        pair: _Pair,
        symbol_id: int,
        buy: bool,
        price: int,
        qty: int,
        replacing: _Open | None,
        now_ns: int,
    ) -> RiskReason:
        """Run checks 5-12 for an order of ``qty`` at ``price`` (replacing ``replacing``)."""
        limit = pair.max_order_qty
        if limit and qty > limit:
            return RiskReason.MAX_ORDER_QTY
        notional = price * qty
        limit = pair.max_order_notional
        if limit and notional > limit:
            return RiskReason.MAX_ORDER_NOTIONAL
        bps = pair.collar_bps
        if bps:
            ref_x2 = self._mid_x2.get(symbol_id, 0) or 2 * self._last.get(symbol_id, 0)
            if not ref_x2:
                return RiskReason.NO_REFERENCE_PRICE
            distance = 2 * price - ref_x2
            if distance < 0:
                distance = -distance
            if distance * 10_000 > bps * ref_x2:
                return RiskReason.PRICE_COLLAR
        if pair.self_cross and pair.orders:
            if buy:
                if pair.sell_qty:
                    for other in pair.orders.values():
                        if other.side != _SIDE_BUY and price >= other.price:
                            return RiskReason.SELF_CROSS
            elif pair.buy_qty:
                for other in pair.orders.values():
                    if other.side == _SIDE_BUY and price <= other.price:
                        return RiskReason.SELF_CROSS
        if replacing is None:
            limit = pair.max_open_orders
            if limit and len(pair.orders) >= limit:
                return RiskReason.MAX_OPEN_ORDERS
            old_notional = 0
            old_qty = 0
        else:
            old_notional = replacing.price * replacing.qty
            old_qty = replacing.qty
        limit = pair.max_open_notional
        if limit and pair.open_notional - old_notional + notional > limit:
            return RiskReason.MAX_OPEN_NOTIONAL
        limit = pair.max_position
        if limit:
            if buy:
                if pair.position + pair.buy_qty - old_qty + qty > limit:
                    return RiskReason.MAX_POSITION
            elif pair.position - pair.sell_qty + old_qty - qty < -limit:
                return RiskReason.MAX_POSITION
        rate = pair.rate
        if rate:
            level = pair.level
            last = pair.last_ns
            if last is not None and now_ns > last:
                level += (now_ns - last) * rate
                if level > pair.token_cap:
                    level = pair.token_cap
            if last is None or now_ns > last:
                pair.last_ns = now_ns
            if level < _TOKEN:
                pair.level = level
                return RiskReason.ORDER_RATE
            pair.level = level - _TOKEN
        return _NONE

    def _pair(self, account: int, symbol_id: int) -> _Pair:
        pair = _Pair(account, symbol_id, self.limits(account, symbol_id))
        self._pairs[account << 32 | symbol_id] = pair
        return pair

    # -- what comes back -----------------------------------------------------------------

    def on_update(self, update: OrderUpdate) -> list[Order]:
        """Apply one order update; return the cancels to send if it tripped the kill switch.

        Updates for orders risk never approved (or already closed) are ignored.
        """
        order = self._orders.get(update.client_order_id << 32 | update.symbol_id)
        if order is None:
            return []
        kind = update.kind
        pair = order.pair
        if kind == _FILLED:
            fill_qty = update.fill_qty
            if order.side == _SIDE_BUY:
                pair.position += fill_qty
            else:
                pair.position -= fill_qty
            leaves = update.leaves_qty
            if order.prev is not None:
                # A modify is in flight: whichever way the venue decides, these are the leaves.
                order.prev = (order.prev[0], leaves)
            if leaves > 0:
                order.accepted = True  # a fill proves the venue took it, ack or not
                pair.change(order, order.price, leaves)
            else:
                self._close(order)
            limit = pair.max_position
            if limit and not self.killed and abs(pair.position) > limit:
                return self.kill(
                    f"position breach: account {pair.account} symbol {pair.symbol_id}"
                    f" position {pair.position} beyond max_position {limit}"
                )
        elif kind == _ACCEPTED:
            order.accepted = True
        elif kind == _MODIFIED:
            order.prev = None
            order.accepted = True
            pair.change(order, update.price or order.price, update.leaves_qty)
            if order.qty <= 0:
                self._close(order)
        elif kind == _CANCELLED:
            # A cancel with leaves left only shrank the order.
            if update.leaves_qty > 0:
                order.accepted = True
                pair.change(order, order.price, update.leaves_qty)
            else:
                self._close(order)
        elif kind == _EXPIRED:
            self._close(order)
        elif kind == _REJECTED:
            refused = order.refused
            if refused is not None and update.reason in refused:
                refused.remove(update.reason)  # the echo of risk's own refusal: not the venue's
            elif not order.accepted:
                self._close(order)  # the new order itself was refused
            elif order.prev is not None:
                price, qty = order.prev  # the modify was refused: the order is as it was
                order.prev = None
                pair.change(order, price, qty)
            # else: a refused cancel; the order is still open.
        return []

    def _close(self, order: _Open) -> None:
        pair = order.pair
        pair.change(order, order.price, 0)
        del pair.orders[order.coid]
        del self._orders[order.coid << 32 | pair.symbol_id]

    def on_market(self, event: MarketEvent) -> list[Order]:
        """Track reference prices; a ``DISCONNECT`` trips the kill switch (returns its cancels)."""
        kind = event.kind
        symbol_id = event.symbol_id
        if kind == MarketKind.BOOK or kind == MarketKind.BBO:
            if event.n_bid and event.n_ask:
                self._mid_x2[symbol_id] = event.bid_px[0] + event.ask_px[0]
            else:
                self._mid_x2.pop(symbol_id, None)
        elif kind == MarketKind.TRADE:
            if event.price > 0:
                self._last[symbol_id] = event.price
        elif kind == MarketKind.DISCONNECT:
            name = self._symbols.get(symbol_id, str(symbol_id))
            return self.kill(f"feed disconnect on {name} at ts_ns {event.ts_ns}")
        return []

    # -- kill switch ---------------------------------------------------------------------

    def kill(self, cause: str) -> list[Order]:
        """Trip the kill switch: refuse new orders and modifies until ``reset``.

        Return a cancel ``Order`` for every order still open (every account and symbol), in
        the order they were opened; calling it again returns the cancels of what is still
        open (the first cause is kept).
        """
        if not self.killed:
            self.killed = True
            self.kill_cause = cause
        now = self._now
        return [
            Order(
                OrderAction.CANCEL,
                order.coid,
                order.pair.account,
                order.pair.symbol_id,
                Side(order.side),
                ts_ns=now,
            )
            for order in self._orders.values()
        ]

    def reset(self) -> None:
        """Re-arm after a kill: new orders are checked again (open orders and buckets stay)."""
        self.killed = False
        self.kill_cause = ""
