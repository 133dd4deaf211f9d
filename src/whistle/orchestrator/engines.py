"""Execution engines: how a ``SymbolManager``'s orders reach the shared exchange.

- ``SimpleEngine``: straight to the exchange. After a crash, an order the strategy had
  decided but whose answer was not seen is simply gone from the actor's memory (the
  venue still has it; the restarted actor cancels its previous life's resting orders).
- ``DurableEngine``: each placement is the DBOS workflow ``{symbol}-order-{coid}`` whose
  one step sends the order; each cancel / modify is ``{symbol}-cancel-{coid}-{k}``. Once
  the workflow has started (its input is in the system database), the order is placed
  exactly once whatever the crash: a recovered workflow re-runs the step if its result
  was not recorded, and the venue's idempotent entry (same account and client order id)
  answers a repeat with the original's outcome instead of entering it again.

"Decided" means the workflow started: a decision still in the actor's memory when the
process dies was never durable; the next life decides again from the recovered state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol, final

import msgspec
from dbos import SetWorkflowID

from whistle.orchestrator.workflows import cancel_order, place_order, workflow_id
from whistle.trading.messages import Order, OrderAction, OrderUpdate

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DurableEngine", "Engine", "SimpleEngine", "make_engine"]


class Engine(Protocol):
    """What a ``SymbolManager`` sends its orders through."""

    @property
    def name(self) -> str:
        """``simple`` or ``durable``."""

    def send(self, order: Order) -> list[OrderUpdate]:
        """Send ``order``; return its updates of this moment (acks, immediate fills)."""
        ...


@final
class SimpleEngine:
    """Orders go straight to the exchange."""

    name: Final = "simple"

    def __init__(self, send: Callable[[Order], list[OrderUpdate]]) -> None:
        self._send = send

    def send(self, order: Order) -> list[OrderUpdate]:
        """Send ``order`` to the exchange."""
        return self._send(order)


@final
class DurableEngine:
    """Each order a DBOS workflow keyed by its client order id (see the module docstring)."""

    name: Final = "durable"

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._requests: dict[int, int] = {}

    def send(self, order: Order) -> list[OrderUpdate]:
        """Run the order's workflow (inline, in the caller's thread) and return its updates."""
        coid = order.client_order_id
        fields = msgspec.structs.astuple(order)
        if order.action == OrderAction.NEW:
            with SetWorkflowID(workflow_id("order", self.symbol, coid)):
                out = place_order(self.symbol, fields)
        else:
            k = self._requests.get(coid, 0) + 1
            self._requests[coid] = k
            with SetWorkflowID(workflow_id("cancel", self.symbol, f"{coid}-{k}")):
                out = cancel_order(self.symbol, fields)
        return [OrderUpdate(*t) for t in out]


def make_engine(
    kind: str, symbol: str, send: Callable[[Order], list[OrderUpdate]]
) -> SimpleEngine | DurableEngine:
    """The engine named ``kind`` (``simple`` or ``durable``) for ``symbol``."""
    if kind == "durable":
        return DurableEngine(symbol)
    if kind == "simple":
        return SimpleEngine(send)
    raise ValueError(f"engine must be simple or durable, was {kind!r}")
