"""Layer 7: JSON Lines scenarios. May import whistle.core, whistle.engine, whistle.coord.

A scenario is a text file of one JSON object per line: commands and queries in (``parse``),
events out (``render``), driven through an in-process ``Venue`` (``runner``). The format is
documented in ``docs/scenario-format.md``.
"""

from whistle.scenario.errors import ScenarioError
from whistle.scenario.ops import (
    AdvanceOp,
    CancelOp,
    DefineOp,
    DepthOp,
    EndSessionOp,
    HaltOp,
    MassCancelOp,
    ModifyOp,
    NewOp,
    Op,
    ReplaceOp,
    ResumeOp,
    StatusOp,
)
from whistle.scenario.parse import parse_duration, parse_line
from whistle.scenario.render import encode_line, render_depth, render_event, render_status
from whistle.scenario.runner import ScenarioRunner, run_scenario

__all__ = [
    "AdvanceOp",
    "CancelOp",
    "DefineOp",
    "DepthOp",
    "EndSessionOp",
    "HaltOp",
    "MassCancelOp",
    "ModifyOp",
    "NewOp",
    "Op",
    "ReplaceOp",
    "ResumeOp",
    "ScenarioError",
    "ScenarioRunner",
    "StatusOp",
    "encode_line",
    "parse_duration",
    "parse_line",
    "render_depth",
    "render_event",
    "render_status",
    "run_scenario",
]
