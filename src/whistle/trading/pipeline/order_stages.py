"""Stages 3 and 4: risk (``SignalEvent`` -> ``RiskDecision`` -> ``Order``) and gateway.

``RiskStage`` wraps a ``RiskEngine`` for one account. ``check`` runs every signal of a
round, in order, at the signal's own time (``signal.ts_ns``: the event time the strategy
decided at, so decisions are the same in process and across processes, whatever the wall
clock says). An approved signal becomes the ``Order`` the engine builds
(``RiskEngine.check_order``); a refused one becomes a ``REJECTED`` ``OrderUpdate`` with the
``RiskReason`` in ``reason`` (and an empty ``text``: the record carries only the code, so
the strategy sees the same update in process and across processes), which goes back to the
strategy like any update. A denial is a value, never an exception.

Kill switch. When a market event (a feed ``DISCONNECT``) or an update (a position breach)
trips the engine's kill switch, or the supervisor asks (``kill``), the cancels of every
open order are queued in ``pending``: a runtime sends them in the same round, right after
the gateway's answer to the round's orders (``take_pending``), or ahead of the next round's
orders when they were queued between rounds.

``GatewayStage`` sends a round's orders to a ``Gateway`` one by one (collecting each
``send``'s synchronous updates), then polls it once at the round's event time for the
asynchronous ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol, final

from whistle.trading.messages import Order, OrderUpdate, SignalKind, UpdateKind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from whistle.trading.messages import MarketEvent, RiskDecision, SignalEvent

__all__ = ["GatewayLike", "GatewayStage", "RiskEngineLike", "RiskStage"]


class RiskEngineLike(Protocol):
    """What the risk stage uses of ``whistle.trading.risk.RiskEngine``."""

    killed: bool
    kill_cause: str

    def check_order(
        self, signal: SignalEvent, account: int, now_ns: int
    ) -> tuple[RiskDecision, Order | None]: ...

    def on_update(self, update: OrderUpdate) -> list[Order]: ...

    def on_market(self, event: MarketEvent) -> list[Order]: ...

    def kill(self, cause: str) -> list[Order]: ...


class GatewayLike(Protocol):
    """What the gateway stage uses of a ``whistle.trading.gateway.Gateway``."""

    def send(self, order: Order) -> list[OrderUpdate]: ...

    def poll(self, now_ns: int) -> list[OrderUpdate]: ...

    def close(self) -> None: ...


_BUY: Final = SignalKind.BUY
_SELL: Final = SignalKind.SELL
_REJECTED: Final = UpdateKind.REJECTED


@final
class RiskStage:
    """Risk checks of one account's signals (see the module docstring)."""

    __slots__ = ("account", "decisions", "engine", "pending", "record")

    def __init__(self, engine: RiskEngineLike, account: int, *, record: bool = False) -> None:
        self.engine = engine
        self.account = account
        self.pending: list[Order] = []
        """Kill-switch cancels waiting to be sent (with the next round, or now)."""
        self.record = record
        self.decisions: list[RiskDecision] = []
        """Every decision, in order (only with ``record=True``)."""

    def on_market(self, ev: MarketEvent) -> None:
        """Show risk a market event; queue the cancels if it trips the kill switch."""
        cancels = self.engine.on_market(ev)
        if cancels:
            self.pending += cancels

    def kill(self, cause: str) -> None:
        """Trip the kill switch now; the cancels of every open order are queued."""
        self.pending += self.engine.kill(cause)

    def take_pending(self) -> list[Order]:
        """Return (and forget) the queued kill-switch cancels."""
        orders = self.pending
        if orders:
            self.pending = []
        return orders

    def check(self, signals: Sequence[SignalEvent]) -> tuple[list[Order], list[OrderUpdate]]:
        """Return the round's orders (queued kill cancels first) and its rejections."""
        check_order = self.engine.check_order
        account = self.account
        orders = self.take_pending()
        if not orders:
            orders = []
        rejects: list[OrderUpdate] = []
        record = self.decisions.append if self.record else None
        for s in signals:
            d, order = check_order(s, account, s.ts_ns)
            if record is not None:
                record(d)
            if order is not None:
                orders.append(order)
                continue
            kind = s.kind
            rejects.append(
                OrderUpdate(
                    _REJECTED,
                    s.client_order_id,
                    s.symbol_id,
                    1 if kind is _BUY else (2 if kind is _SELL else 0),
                    s.price,
                    s.qty,
                    0,
                    reason=int(d.reason),
                    ts_ns=s.ts_ns,
                )
            )
        return orders, rejects

    def on_updates(self, updates: Sequence[OrderUpdate]) -> None:
        """Apply the gateway's updates; queue the cancels if one trips the kill switch."""
        on_update = self.engine.on_update
        for u in updates:
            cancels = on_update(u)
            if cancels:
                self.pending += cancels


@final
class GatewayStage:
    """Sends a round's orders through a ``Gateway`` and collects the updates."""

    __slots__ = ("gateway", "orders", "record", "updates")

    def __init__(self, gateway: GatewayLike, *, record: bool = False) -> None:
        self.gateway = gateway
        self.record = record
        self.orders: list[Order] = []
        """Every order sent, in order (only with ``record=True``)."""
        self.updates: list[OrderUpdate] = []
        """Every update received, in order (only with ``record=True``)."""

    def send(self, orders: Sequence[Order], now_ns: int) -> list[OrderUpdate]:
        """Send ``orders`` in order, then poll at ``now_ns``; return every update."""
        send_one = self.send_one
        out: list[OrderUpdate] = []
        for order in orders:
            out += send_one(order)
        out += self.poll(now_ns)
        return out

    def send_one(self, order: Order) -> list[OrderUpdate]:
        """Send one order; return its synchronous updates."""
        out = self.gateway.send(order)
        if self.record:
            self.orders.append(order)
            self.updates += out
        return out

    def poll(self, now_ns: int) -> list[OrderUpdate]:
        """Poll the gateway at ``now_ns``; return the asynchronous updates."""
        out = self.gateway.poll(now_ns)
        if self.record and out:
            self.updates += out
        return out

    def close(self) -> None:
        """Close the gateway."""
        self.gateway.close()
