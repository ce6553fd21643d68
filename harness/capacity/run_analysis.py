"""From a finished capacity run (summary.json + its scenario) to the analysis and capacity.json.

Per-env load. Users are not split across envs: each stream picks its env by weight, so an env's
concurrency is the total users x the env's *share of the users' time*. That share equals the
weight share only when every env serves streams equally fast; a slower or saturated env keeps
users longer (its queue holds them), so it gets more than its weight. For stepped runs we take
the share from the step itself: each env's streams in flight by Little's law (throughput x mean
duration) over the sum of all envs'; the weight share is the fallback when a step lacks the
figures. Arrival-rate runs: each arrival picks its env by weight, so an env's rate is the step's
rate x the weight share exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from harness import results
from harness.capacity import (
    OVERALL,
    CapacityAnalysis,
    Slo,
    StepResult,
    analyze,
    slo_from_exprs,
    slo_from_gates,
    slo_from_table,
    step_from_dict,
)
from harness.capacity.analyze import AnalysisOptions
from harness.capacity.errors import CapacityError
from harness.config import Scenario
from harness.results import (
    CAPACITY_FILE,
    SUMMARY_FILE,
    MissingSummaryError,
    SummaryError,
    write_atomic,
)

DEFAULT_SLO = ("ttfi.p95 < 800ms", "error_rate < 1%")


@dataclass(frozen=True, slots=True)
class EnvLoad:
    """How one env's load at one step was derived from the step's total."""

    step: int
    total: float
    share: float
    basis: str  # "measured" (Little's law time share) or "weight"

    @property
    def load(self) -> float:
        """The env's load: total x share."""
        return self.total * self.share

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "step": self.step,
            "total": self.total,
            "share": self.share,
            "load": self.load,
            "basis": self.basis,
        }


@dataclass(frozen=True, slots=True)
class RunAnalysis:
    """The analysis plus what the report needs to explain it."""

    analysis: CapacityAnalysis
    summary: Mapping[str, Any]
    slo_source: str
    env_loads: Mapping[str, tuple[EnvLoad, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """capacity.json: the analysis, with the SLO's source and the per-env load split."""
        data = self.analysis.to_json()
        data["slo_source"] = self.slo_source
        data["mode"] = (self.summary.get("run") or {}).get("mode")
        data["env_load"] = {
            env: [e.to_json() for e in loads] for env, loads in self.env_loads.items()
        }
        return data


def choose_slo(scenario: Scenario) -> tuple[Slo, str, list[str]]:
    """The SLO: ``[capacity.slo]``, else the scenario's gates, else the default; and notes."""
    table = scenario.capacity.slo
    if table:
        return slo_from_table(table), "from the scenario's [capacity.slo] table", []
    if scenario.gates:
        slo, notes = slo_from_gates(scenario.gates)
        if slo.common or slo.by_env:
            return slo, "from the scenario's [[gates]]", notes
    return slo_from_exprs(DEFAULT_SLO), "the default: the scenario sets no [capacity.slo]", []


def weight_shares(scenario: Scenario) -> dict[str, float]:
    """Each env's expected share of the streams (env weight / total weight)."""
    total = sum(e.weight for e in scenario.envs)
    return {e.env.value: e.weight / total for e in scenario.envs}


def _in_flight(block: Mapping[str, Any]) -> float | None:
    rate = block.get("streams_per_s")
    duration = (block.get("duration_ms") or {}).get("mean")
    if not isinstance(rate, int | float) or not isinstance(duration, int | float):
        return None
    value = float(rate) * float(duration) / 1000.0
    return value if value > 0 else None


def step_shares(
    entry: Mapping[str, Any], weights: Mapping[str, float], *, measured: bool
) -> dict[str, tuple[float, str]]:
    """Each env's share of one step's load and its basis (see the module docstring)."""
    by_env = entry.get("by_env")
    envs = list(by_env) if isinstance(by_env, Mapping) else []
    if measured and isinstance(by_env, Mapping):
        busy = {env: _in_flight(block) for env, block in by_env.items()}
        total = sum(v for v in busy.values() if v is not None)
        if total > 0 and all(v is not None for v in busy.values()):
            return {env: ((busy[env] or 0.0) / total, "measured") for env in envs}
    known = sum(weights.get(env, 0.0) for env in envs)
    return {
        env: (weights.get(env, 0.0) / known if known > 0 else 1.0 / len(envs), "weight")
        for env in envs
    }


def steps_per_env(
    steps: Sequence[Mapping[str, Any]], weights: Mapping[str, float]
) -> tuple[dict[str, list[StepResult]], dict[str, tuple[EnvLoad, ...]]]:
    """Each env's steps with the env's own load (users or rate x share), and how it was split.

    With a single env the step's load is that env's load. All envs merged (key ``"*"``) are
    analysed only for steps without ``by_env``: the envs are separate capacity pools, and a
    curve of their mix describes none of them.
    """
    grouped: dict[str, list[StepResult]] = {}
    loads: dict[str, list[EnvLoad]] = {}
    for entry in steps:
        kind = "users" if "users" in entry else "rate"
        total = entry.get(kind)
        by_env = entry.get("by_env")
        if not isinstance(total, int | float) or not isinstance(by_env, Mapping) or not by_env:
            grouped.setdefault(OVERALL, []).append(step_from_dict(entry))
            continue
        shares = step_shares(entry, weights, measured=kind == "users")
        for env, block in by_env.items():
            share, basis = shares[env]
            if share <= 0:
                continue  # no stream of this env in the step: no load to place it at
            env_entry = {**entry, kind: float(total) * share}
            grouped.setdefault(env, []).append(step_from_dict(env_entry, block))
            loads.setdefault(env, []).append(
                EnvLoad(int(entry.get("step", 0)), float(total), share, basis)
            )
    return grouped, {env: tuple(v) for env, v in loads.items()}


def analyse_run(summary: Mapping[str, Any], scenario: Scenario) -> RunAnalysis:
    """Analyse a capacity run's summary; CapacityError when it has no usable steps."""
    steps = summary.get("steps")
    if not isinstance(steps, list) or not steps:
        raise CapacityError(
            "summary.json has no 'steps': the run was not a capacity run or ended before its "
            "first step; check the Locust output above"
        )
    slo, source, notes = choose_slo(scenario)
    grouped, loads = steps_per_env(steps, weight_shares(scenario))
    run = summary.get("run") or {}
    limit = run.get("limit_s", scenario.limit_s)
    options = AnalysisOptions(limit_s=float(limit) if isinstance(limit, int | float) else 300.0)
    analysis = analyze(grouped, slo, options, notes)
    return RunAnalysis(analysis, summary, source, loads)


def read_summary(report_dir: Path) -> dict[str, Any]:
    """``summary.json`` of a run (CapacityError saying what went wrong when it cannot)."""
    path = report_dir / SUMMARY_FILE
    try:
        return results.read_summary(path)
    except MissingSummaryError:
        raise CapacityError(
            f"{path} was not written: Locust stopped before the run finished (see its output)"
        ) from None
    except SummaryError as exc:
        raise CapacityError(str(exc)) from None


def write_capacity_json(result: RunAnalysis, report_dir: Path) -> Path:
    """Write ``capacity.json`` (schema ``flowload.capacity/1``) into the report directory."""
    data = orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2)
    return write_atomic(report_dir / CAPACITY_FILE, data, error=CapacityError)
