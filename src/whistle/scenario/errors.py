"""The one exception of the scenario layer: a line that cannot be run."""

from __future__ import annotations

from typing import final

from whistle.core.errors import WhistleError

__all__ = ["ScenarioError"]


@final
class ScenarioError(WhistleError):
    """A scenario line is malformed (bad JSON, unknown op, missing field, wrong type) or
    cannot be run (bad instrument definition, time going backwards, unknown symbol in a
    query). ``line`` is the 1-based line number, ``message`` the text without it.
    """

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message
