"""Capacity analysis: pure functions over the per-step results of a stepped or arrival-rate run.

``analyze(steps_by_env, slo)`` answers "how much load does each env take within its SLO, where
does it saturate, and what does a fitted model predict beyond the measured range?".
"""

from __future__ import annotations

from harness.capacity.analyze import (
    SCHEMA,
    AnalysisOptions,
    CapacityAnalysis,
    EnvCapacity,
    analyze,
    analyze_summary,
)
from harness.capacity.errors import CapacityError, InsufficientDataError
from harness.capacity.headroom import Headroom, headroom_by_step
from harness.capacity.littles import LittleCheck, check_littles_law, in_flight
from harness.capacity.saturation import Saturation, StepDelta, detect_saturation
from harness.capacity.slo import (
    Objective,
    Slo,
    SloSelection,
    StepCheck,
    parse_objective,
    select_step,
    slo_from_exprs,
    slo_from_gates,
    slo_from_table,
)
from harness.capacity.step_result import OVERALL, StepResult, step_from_dict, steps_by_env
from harness.capacity.usl import UslFit, fit_usl, usl_throughput

__all__ = [
    "OVERALL",
    "SCHEMA",
    "AnalysisOptions",
    "CapacityAnalysis",
    "CapacityError",
    "EnvCapacity",
    "Headroom",
    "InsufficientDataError",
    "LittleCheck",
    "Objective",
    "Saturation",
    "Slo",
    "SloSelection",
    "StepCheck",
    "StepDelta",
    "StepResult",
    "UslFit",
    "analyze",
    "analyze_summary",
    "check_littles_law",
    "detect_saturation",
    "fit_usl",
    "headroom_by_step",
    "in_flight",
    "parse_objective",
    "select_step",
    "slo_from_exprs",
    "slo_from_gates",
    "slo_from_table",
    "step_from_dict",
    "steps_by_env",
    "usl_throughput",
]
