"""The pipeline package's public surface is pinned, and its wiring is the one place."""

from __future__ import annotations

import whistle.trading.pipeline as pipeline
from whistle.trading.pipeline import STAGE_BUILDERS, STAGES
from whistle.trading.pipeline.wiring import (
    build_gateway,
    build_market_data,
    build_risk,
    build_strategy,
)

EXPECTED = [
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


def test_the_public_names_are_pinned() -> None:
    assert pipeline.__all__ == EXPECTED
    for name in EXPECTED:
        assert hasattr(pipeline, name)


def test_the_stages_are_built_in_pipeline_order_in_one_place() -> None:
    assert (build_market_data, build_strategy, build_risk, build_gateway) == STAGE_BUILDERS
    assert STAGES == ("market_data", "strategy", "risk", "gateway", "tick_to_order")
