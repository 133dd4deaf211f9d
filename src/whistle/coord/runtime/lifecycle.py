"""The lifecycle of a symbol, as a transition table.

States (``SymbolState``)::

    UNREGISTERED --REGISTER--> REGISTERED --ACTIVATE--> ACTIVE --START_EVICTION--> EVICTING
                                                          ^                           |
                                                          |                    FINISH_EVICTION
                                                          |                           v
                                                          +--------REACTIVATE------ EVICTED

    ACTIVE   --FAULT--> EVICTED      the engine was lost with its host
    EVICTING --FAULT--> EVICTED      (the host died, or removing the engine failed)

- ``REGISTERED``: the instrument is known; no engine exists yet.
- ``ACTIVE``: an engine runs on exactly one host and takes commands.
- ``EVICTING``: the engine still exists but the router sends it nothing new; its final
  snapshot is being taken.
- ``EVICTED``: no engine exists; the entry keeps the final snapshot for a warm restart.

``REACTIVATE`` goes from ``EVICTED`` straight to ``ACTIVE``, not back to ``REGISTERED``:
activation is one synchronous step (place, ``add_engine``, transition), so an intermediate
``REGISTERED`` would never be observable, and ``REGISTERED`` keeps one meaning, "never had
an engine". Whether a start is cold or warm is told by the snapshot, not by the state.

Faulted symbols: *faulted* is a flag on the registry entry (``SymbolEntry.fault``, the
cause as text), not a state. A fault can hit a symbol that is ``ACTIVE`` (its engine raised
and now rejects everything) or whose host died while it was ``ACTIVE`` or ``EVICTING``;
keeping the lifecycle position separate tells recovery whether an engine still exists
(engine fault: still ``ACTIVE`` on a live host) or not (host death: ``FAULT`` moved it to
``EVICTED``). While the flag is set the router refuses the symbol's orders with
``ENGINE_FAULTED`` and ``ensure_active`` raises ``SymbolFaulted``; only an explicit
``clear_fault`` (with the snapshot recovery chose) makes it activatable again, so a stale
snapshot is never restarted silently.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final, final

from whistle.coord.errors import HostError, InvalidTransition

__all__ = ["TRANSITIONS", "SymbolFaulted", "SymbolState", "Trigger", "allowed", "next_state"]


class SymbolState(IntEnum):
    """Where a symbol is in its lifecycle."""

    UNREGISTERED = 0
    REGISTERED = 1
    ACTIVE = 2
    EVICTING = 3
    EVICTED = 4


class Trigger(IntEnum):
    """What moves a symbol from one state to the next."""

    REGISTER = 0
    ACTIVATE = 1
    START_EVICTION = 2
    FINISH_EVICTION = 3
    REACTIVATE = 4
    FAULT = 5


_S = SymbolState
_T = Trigger

TRANSITIONS: Final[dict[tuple[SymbolState, Trigger], SymbolState]] = {
    (_S.UNREGISTERED, _T.REGISTER): _S.REGISTERED,
    (_S.REGISTERED, _T.ACTIVATE): _S.ACTIVE,
    (_S.ACTIVE, _T.START_EVICTION): _S.EVICTING,
    (_S.EVICTING, _T.FINISH_EVICTION): _S.EVICTED,
    (_S.EVICTED, _T.REACTIVATE): _S.ACTIVE,
    (_S.ACTIVE, _T.FAULT): _S.EVICTED,
    (_S.EVICTING, _T.FAULT): _S.EVICTED,
}
"""Every allowed ``(state, trigger) -> next state``; anything else is refused."""


@final
class SymbolFaulted(HostError):
    """Raised when a faulted symbol (dead host or faulted engine) is asked to activate.

    A ``HostError`` so that a router mapping host failures to ``ENGINE_FAULTED`` treats it
    the same way; ``cause`` says what happened.
    """

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


def next_state(state: SymbolState, trigger: Trigger) -> SymbolState:
    """Return the state ``trigger`` leads to from ``state``; raise ``InvalidTransition``."""
    target = TRANSITIONS.get((state, trigger))
    if target is None:
        allowed_here = sorted(t.name for (s, t) in TRANSITIONS if s == state)
        raise InvalidTransition(
            f"trigger {trigger.name} is not allowed in state {state.name}"
            f" (allowed there: {', '.join(allowed_here) or 'none'})"
        )
    return target


def allowed(state: SymbolState) -> frozenset[Trigger]:
    """Return the triggers the table allows from ``state``."""
    return frozenset(t for (s, t) in TRANSITIONS if s == state)
