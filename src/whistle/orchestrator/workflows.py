"""The orchestrator's DBOS workflows: every registry change and every durable order.

Rules (DBOS's own): a workflow orchestrates and is deterministic; durable effects are
steps (``place``/``cancel`` at the venue) or datasource transactions (registry writes), so
a replay returns their recorded results instead of repeating them. In-memory effects
(start, stop, pause an actor) are *not* steps: a workflow recovered in a new process must
redo them there, so they run again on every replay and are idempotent. They are handed to
the orchestrator's control thread (``Hooks``), which also keeps them outside the
workflow's DBOS context (an actor's own transactions must not become steps of it).

Workflow ids come from the business key, never at random (``workflow_id``):

=========================  ==========================================================
``{symbol}-add-{n}``       the n-th add of the symbol (n = registry generation)
``{symbol}-remove-{n}``    removal of the n-th generation
``{symbol}-pause-{v}``     pause / resume issued against registry version v (+ the number
                           of the symbol's pause/resume still queued: ControlClient)
``{symbol}-resume-{v}``
``{symbol}-fail-{e}``      the supervisor gave up on actor epoch e
``{symbol}-order-{coid}``  a durable placement (client order ids are unique venue-wide)
``{symbol}-cancel-{coid}-{k}``  the k-th durable cancel of that order
``orchestrator-start-{b}``  the b-th start of the orchestrator
=========================  ==========================================================

Client commands (the CLI) are enqueued on ``CONTROL_QUEUE`` by workflow name, so a
running orchestrator runs them at once and a stopped one when it next starts.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

import msgspec
from dbos import DBOS

from whistle.orchestrator.errors import OrchestratorError
from whistle.orchestrator.registry import (
    ACTIVE,
    FAILED,
    PAUSED,
    REMOVED,
    REMOVING,
    Registry,
    RegistryRow,
    tx_add,
    tx_read,
    tx_set_status,
)
from whistle.trading.messages import Order, OrderUpdate

__all__ = [
    "ADD",
    "CONTROL_QUEUE",
    "FAIL",
    "PAUSE",
    "REMOVE",
    "RESUME",
    "START",
    "Hooks",
    "add_trading_pair",
    "cancel_order",
    "fail_symbol",
    "install",
    "pause",
    "place_order",
    "remove_trading_pair",
    "resume",
    "start_orchestrator",
    "uninstall",
    "workflow_id",
]

CONTROL_QUEUE: Final = "whistle_control"
ADD: Final = "whistle.add_trading_pair"
REMOVE: Final = "whistle.remove_trading_pair"
PAUSE: Final = "whistle.pause"
RESUME: Final = "whistle.resume"
FAIL: Final = "whistle.fail_symbol"
START: Final = "whistle.start_orchestrator"
PLACE: Final = "whistle.place_order"
CANCEL: Final = "whistle.cancel_order"


class Hooks(Protocol):
    """What the workflows need from the running orchestrator (``Orchestrator`` is one)."""

    @property
    def registry(self) -> Registry:
        """The registry the workflows write."""

    def start_symbol(self, row: RegistryRow) -> None:
        """Make ``row``'s actor run (paused when the row is PAUSED); idempotent."""

    def start_symbols(self, rows: list[RegistryRow]) -> None:
        """``start_symbol`` for each of ``rows``."""

    def stop_symbol(self, symbol: str) -> None:
        """Stop ``symbol``'s actor if it runs; idempotent."""

    def cancel_orders(self, row: RegistryRow) -> int:
        """Cancel ``row``'s resting orders at the venue; return how many."""

    def send(self, order: Order) -> list[OrderUpdate]:
        """Send one order to the shared exchange."""


_hooks: Hooks | None = None


def install(hooks: Hooks) -> None:
    """Make ``hooks`` the orchestrator the workflows of this process act on."""
    global _hooks  # DBOS workflows are module functions: one orchestrator per process
    _hooks = hooks


def uninstall() -> None:
    """Forget the installed orchestrator."""
    global _hooks
    _hooks = None


def _need() -> Hooks:
    if _hooks is None:
        raise OrchestratorError("no orchestrator runs in this process to execute the workflow")
    return _hooks


def workflow_id(kind: str, symbol: str, n: int | str) -> str:
    """The deterministic id of a workflow (see the module docstring)."""
    return f"{symbol}-{kind}-{n}"


def _result(outcome: str, row: RegistryRow | None) -> dict[str, Any]:
    return {"outcome": outcome, "row": None if row is None else row.as_dict()}


# ---------------------------------------------------------------------- registry workflows


@DBOS.workflow(name=ADD)
def add_trading_pair(
    symbol: str,
    generation: int,
    exchange: str,
    strategy_config: dict[str, Any],
    risk_config: dict[str, Any],
) -> dict[str, Any]:
    """Insert the pair (transaction), then start its actor.

    A pair registered with the same configuration is the documented idempotent no-op
    (outcome ``exists``); another configuration raises ``SymbolConflict``.
    """
    hooks = _need()
    outcome, row = hooks.registry.tx(
        "whistle.registry.add", tx_add, symbol, generation, exchange, strategy_config, risk_config
    )
    if row.status in (ACTIVE, PAUSED):
        hooks.start_symbol(row)
    return _result(outcome, row)


@DBOS.workflow(name=REMOVE)
def remove_trading_pair(symbol: str, generation: int) -> dict[str, Any]:
    """Mark REMOVING, stop the actor, cancel its open orders (step), mark REMOVED.

    REMOVING first, so a restart in between never starts the actor again; the recovered
    workflow finishes the removal. Removing an unknown symbol raises ``UnknownSymbol``.
    """
    hooks = _need()
    row = hooks.registry.tx(
        "whistle.registry.removing",
        tx_set_status,
        symbol,
        REMOVING,
        (ACTIVE, PAUSED, FAILED, REMOVING),
    )
    hooks.stop_symbol(symbol)
    cancelled = _cancel_open(symbol, row)
    row = hooks.registry.tx("whistle.registry.removed", tx_set_status, symbol, REMOVED, (REMOVING,))
    return {**_result("removed", row), "cancelled": cancelled}


@DBOS.step(name="whistle.cancel_open")
def _cancel_open(symbol: str, row: RegistryRow) -> int:
    return _need().cancel_orders(row)


@DBOS.workflow(name=PAUSE)
def pause(symbol: str) -> dict[str, Any]:
    """Mark PAUSED; the actor stops deciding and its open orders are cancelled (step)."""
    hooks = _need()
    row = hooks.registry.tx("whistle.registry.pause", tx_set_status, symbol, PAUSED, (ACTIVE,))
    hooks.start_symbol(row)
    cancelled = _cancel_open(symbol, row)
    return {**_result("paused", row), "cancelled": cancelled}


@DBOS.workflow(name=RESUME)
def resume(symbol: str) -> dict[str, Any]:
    """Mark ACTIVE (from PAUSED or FAILED) and let the actor decide again."""
    hooks = _need()
    row = hooks.registry.tx(
        "whistle.registry.resume", tx_set_status, symbol, ACTIVE, (PAUSED, FAILED)
    )
    hooks.start_symbol(row)
    return _result("resumed", row)


@DBOS.workflow(name=FAIL)
def fail_symbol(symbol: str, epoch: int, cause: str) -> dict[str, Any]:
    """The supervisor gave up: stop the actor, cancel its orders, mark FAILED with ``cause``."""
    hooks = _need()
    hooks.stop_symbol(symbol)
    row = hooks.registry.tx(
        "whistle.registry.fail", tx_set_status, symbol, FAILED, (ACTIVE, FAILED), cause
    )
    cancelled = _cancel_open(symbol, row)
    return {**_result("failed", row), "cancelled": cancelled, "epoch": epoch}


@DBOS.workflow(name=START)
def start_orchestrator(boot: int) -> list[str]:
    """Read the ACTIVE and PAUSED pairs (transaction) and start an actor for each."""
    hooks = _need()
    rows = hooks.registry.tx("whistle.registry.read", tx_read, (ACTIVE, PAUSED))
    hooks.start_symbols(rows)
    return [row.symbol for row in rows]


# ---------------------------------------------------------------------- durable orders


@DBOS.step(name="whistle.venue_send")
def _venue_send(order: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    updates = _need().send(Order(*order))
    return [msgspec.structs.astuple(u) for u in updates]


@DBOS.workflow(name=PLACE)
def place_order(symbol: str, order: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Send one NEW order to the venue as a step (its id: ``{symbol}-order-{coid}``)."""
    return _venue_send(order)


@DBOS.workflow(name=CANCEL)
def cancel_order(symbol: str, order: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Send one CANCEL or MODIFY to the venue as a step."""
    return _venue_send(order)
