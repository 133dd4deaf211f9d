"""Exceptions of the venue runtime.

Hierarchy::

    WhistleError                      (whistle.core.errors)
    └── CoordError                    a venue-runtime operation failed
        ├── SymbolNotRegistered       no instrument with this symbol id is registered
        ├── SymbolEvicted             the symbol is being retired or was retired
        ├── InvalidTransition         a lifecycle transition the table does not allow
        └── HostError                 an engine host failed or was misused
            ├── HostDead              the host process exited or stopped answering
            ├── HostTimeout           the host did not answer in time
            └── HostStateError        e.g. ``stop()`` on a host already stopped

Expected outcomes of orders (a full queue, a halted symbol) reach users as
``OrderRejected`` events with a ``RejectReason`` (``QUEUE_FULL``, ...); these exceptions are
for operations
(activation, placement, host management) and for the service facade's ``Result`` style.
"""

from __future__ import annotations

from whistle.core.errors import WhistleError

__all__ = [
    "CoordError",
    "HostDead",
    "HostError",
    "HostStateError",
    "HostTimeout",
    "InvalidTransition",
    "SymbolEvicted",
    "SymbolNotRegistered",
]


class CoordError(WhistleError):
    """Base class of venue-runtime errors."""


class SymbolNotRegistered(CoordError):
    """Raised when a symbol id has no registered instrument."""


class SymbolEvicted(CoordError):
    """Raised when a symbol is evicting or evicted and cannot take the operation."""


class InvalidTransition(CoordError):
    """Raised when a lifecycle transition is not in the transition table."""


class HostError(CoordError):
    """Base class of engine-host failures."""


class HostDead(HostError):
    """Raised when a host process exited or its heartbeat went stale."""


class HostTimeout(HostError):
    """Raised when a host did not answer within the allowed time."""


class HostStateError(HostError):
    """Raised when a host is used in a state that does not allow it (e.g. stopped)."""
