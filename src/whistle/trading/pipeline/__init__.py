# Layer rule: whistle.trading.pipeline is part of layer 7 (whistle.trading). It may import
# whistle.trading's other modules, whistle.coord (the venue of the default gateway),
# whistle.ipc (rings, shared memory), whistle.book, whistle.core and whistle.metrics.
"""The live trading pipeline: market data -> strategy -> risk -> gateway.

The four stages are wired in one place (``wiring``: numbered builders, and the rounds that
make decisions identical in both runtimes):

- ``run_inprocess(config, source)``: the stages called directly, in order, in one thread;
- ``run_processes(config, source)``: each stage a pinned process, joined by bounded SPSC
  rings of fixed-size records (``whistle.trading.messages``' ``pack_into`` /
  ``unpack_from``), with a hybrid wait and a supervisor that detects a dead stage.

Both return a ``PipelineResult``; ``PipelineConfig`` / ``StrategySpec`` describe a run.
"""

from whistle.trading.pipeline.budget import CallbackBudget, CallbackTimeout
from whistle.trading.pipeline.config import (
    DEFAULT_GATEWAY,
    DEFAULT_RISK_ENGINE,
    STAGES,
    PipelineConfig,
    StrategySpec,
)
from whistle.trading.pipeline.errors import PipelineError, StageFailed
from whistle.trading.pipeline.inprocess import InProcessPipeline, run_inprocess
from whistle.trading.pipeline.pacing import Pacer
from whistle.trading.pipeline.processes import run_processes, stage_cpus
from whistle.trading.pipeline.result import PipelineResult
from whistle.trading.pipeline.wiring import STAGE_BUILDERS

__all__ = [
    "DEFAULT_GATEWAY",
    "DEFAULT_RISK_ENGINE",
    "STAGES",
    "STAGE_BUILDERS",
    "CallbackBudget",
    "CallbackTimeout",
    "InProcessPipeline",
    "Pacer",
    "PipelineConfig",
    "PipelineError",
    "PipelineResult",
    "StageFailed",
    "StrategySpec",
    "run_inprocess",
    "run_processes",
    "stage_cpus",
]
