"""Errors of the pipeline runtimes. Expected outcomes (risk denials, a strategy stopped by
the isolation rule) are values in the result, not these.

Hierarchy::

    WhistleError (whistle.core)
    └── TradingError (whistle.trading.errors)
        └── PipelineError            base of the pipeline runtime's exceptions
            └── StageFailed          a stage process died, hung or failed; the run stopped

``StageFailed`` is raised by ``run_processes`` once every stage process has been stopped
(none is left running): ``stage`` names the stage, ``cause`` says what happened (exit code
or signal, the stage's own error, a stale heartbeat, a run timeout) and ``result`` holds
what the stages reported before the end (for a dead strategy stage: the kill switch's
cancels and the venue's answers to them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from whistle.trading.errors import TradingError

if TYPE_CHECKING:
    from whistle.trading.pipeline.result import PipelineResult

__all__ = ["PipelineError", "StageFailed"]


class PipelineError(TradingError):
    """Base class of the pipeline runtime's exceptions."""


class StageFailed(PipelineError):
    """A stage process died, hung or failed (see the module docstring)."""

    def __init__(self, stage: str, cause: str, result: PipelineResult) -> None:
        super().__init__(f"pipeline stage {stage}: {cause}")
        self.stage = stage
        self.cause = cause
        self.result = result
