"""Errors of the orchestrator, each raised where its docstring says.

::

    OrchestratorError                 base (a ``WhistleError``)
    +-- DatabaseUnavailable           the DBOS database cannot be reached (at start, or
    |                                 after every retry while running)
    +-- SymbolConfigError             a symbol's configuration is refused before anything
    |                                 is written (unknown strategy class, bad keys/types,
    |                                 negative limits)
    +-- SymbolConflict                add of a symbol that is registered with another
    |                                 configuration
    +-- UnknownSymbol                 remove/pause/resume of a symbol not in the registry
    +-- ForkedProcessError            DBOS or the orchestrator used in a process forked
                                      after DBOS was initialised (spawn, never fork)

Every class keeps its message as its only argument, so an exception raised inside a DBOS
workflow pickles into the system database and reaches a CLI client unchanged.
"""

from __future__ import annotations

from whistle.core.errors import WhistleError

__all__ = [
    "DatabaseUnavailable",
    "ForkedProcessError",
    "OrchestratorError",
    "SymbolConfigError",
    "SymbolConflict",
    "UnknownSymbol",
]


class OrchestratorError(WhistleError):
    """Base of the orchestrator's errors."""


class DatabaseUnavailable(OrchestratorError):
    """The DBOS database cannot be reached; the message names it (password hidden)."""


class SymbolConfigError(OrchestratorError):
    """A symbol's configuration is invalid; nothing was written."""


class SymbolConflict(OrchestratorError):
    """The symbol is registered already, with a different configuration."""


class UnknownSymbol(OrchestratorError):
    """The symbol is not in the registry (or was removed)."""


class ForkedProcessError(OrchestratorError):
    """This process was forked after DBOS was initialised: start workers with spawn."""
