"""Service-level objectives for capacity runs, and the highest step that meets them.

Objectives are written in the gates' language (:mod:`harness.criteria`: ``ttfi.p95 < 800ms``,
``error_rate <= 1%``, ``outcomes.stalled == 0``, flat ``ttfi_p95_ms <= 800``), and come from
the scenario's ``[[gates]]`` or from a ``[capacity.slo]`` table::

    [capacity.slo]
    ttfi_p95_ms = 800            # a bare number is an upper limit (<=)
    error_rate = "< 1%"          # or an operator and a value with an optional unit
    [capacity.slo.Production]    # objectives for one env only (added to the ones above)
    "duration.p99" = "<= 120s"
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from harness.capacity.errors import CapacityError
from harness.capacity.step_result import StepResult, ordered
from harness.criteria import GateError, Op, parse_gate
from harness.criteria.vocabulary import LABELS

_RATIOS = ("error_rate", "limit_used")


class GateLike(Protocol):
    """What a gate must offer to become an objective (``harness.config.GateConfig`` does)."""

    @property
    def expr(self) -> str:
        """The gate expression, e.g. ``ttfi.p95 < 800ms``."""

    @property
    def env(self) -> object:
        """The env the gate selects, or None for all envs."""

    @property
    def flow(self) -> str | None:
        """The flow the gate selects, or None for all flows."""


@dataclass(frozen=True, slots=True)
class Objective:
    """One bound on a step's stats block: ``block[.stat] op threshold`` in the block's units."""

    block: str
    stat: str | None
    op: Op
    threshold: float
    text: str = field(default="", compare=False)
    env: str | None = field(default=None, compare=False)  # limited to this env (None: all)

    def observed(self, step: StepResult) -> float | None:
        """The step's value for this objective (None when the step has no such data)."""
        if self.block.startswith("outcomes."):
            return step.outcome(self.block.removeprefix("outcomes."))
        if self.stat is None:
            return step.scalar(self.block)
        return step.stat(self.block, self.stat)

    def met_by(self, value: float) -> bool:
        """Whether an observed value meets the objective."""
        return self.op.holds(value, self.threshold)

    def describe(self) -> str:
        """A human label, e.g. ``TTFI p95 < 800 ms`` or ``error rate <= 1%``."""
        label = LABELS.get(self.block, self.block)
        name = f"{label} {self.stat}" if self.stat else label
        return f"{name} {self.op.value} {format_value(self.block, self.threshold)}"


def format_value(block: str, value: float) -> str:
    """A value of ``block`` in its natural unit (ms, %, plain)."""
    if block.endswith("_ms"):
        # Long times (durations near the 300 s limit) read better in seconds.
        return f"{value / 1000:.4g} s" if abs(value) >= 10_000 else f"{value:.4g} ms"
    if block in _RATIOS:
        return f"{value * 100:.3g}%"
    return f"{value:.4g}"


def parse_objective(text: str, env: str | None = None) -> Objective:
    """Parse one objective (the gates' language: :mod:`harness.criteria`); CapacityError if bad.

    A selector (``Production: ...``) or ``env`` limits it to one env; a flow selector, a
    baseline or ``significant`` have no meaning for a capacity step and are refused.
    """
    if not isinstance(text, str):
        raise CapacityError(f"an SLO must be a string like 'ttfi.p95 < 800ms', got {text!r}")
    try:
        gate = parse_gate(text, what="SLO")
    except GateError as exc:
        raise CapacityError(str(exc)) from None
    if gate.flow is not None or gate.uses_baseline or gate.significant:
        raise CapacityError(
            f"SLO {text!r}: capacity is judged per env and per step; a flow, a baseline or "
            "'significant' does not apply (write e.g. 'Production: ttfi.p95 < 800ms')"
        )
    metric = gate.metric
    threshold = gate.threshold.resolve(metric.kind)
    if threshold is None:  # only a baseline leaves it open, and baselines were refused above
        raise CapacityError(f"SLO {text!r}: the threshold needs a baseline run")
    selected = env if gate.env is None else str(gate.env)
    if metric.name == "outcomes":
        return Objective(
            f"outcomes.{metric.stat}", None, gate.op, threshold, text.strip(), selected
        )
    if len(metric.path) == 2:
        return Objective(metric.path[0], metric.stat, gate.op, threshold, text.strip(), selected)
    return Objective(metric.name, None, gate.op, threshold, text.strip(), selected)


@dataclass(frozen=True, slots=True)
class Slo:
    """Objectives for every env, plus extra ones per env."""

    common: tuple[Objective, ...] = ()
    by_env: Mapping[str, tuple[Objective, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_env", MappingProxyType(dict(self.by_env)))

    def for_env(self, env: str) -> tuple[Objective, ...]:
        """The objectives that apply to ``env`` (common ones first)."""
        return self.common + tuple(self.by_env.get(env, ()))

    def describe(self, env: str) -> str:
        """``TTFI p95 < 800 ms, error rate <= 1%`` (empty when there is none)."""
        return ", ".join(o.describe() for o in self.for_env(env))


def slo_from_exprs(common: Iterable[str], by_env: Mapping[str, Iterable[str]] | None = None) -> Slo:
    """Build an SLO from expression strings (e.g. ``--slo`` options)."""
    objectives = [parse_objective(t) for t in common]
    objectives += [parse_objective(t, env) for env, texts in (by_env or {}).items() for t in texts]
    return _grouped(objectives)


def _grouped(objectives: Iterable[Objective]) -> Slo:
    """An SLO from objectives, each under its env (or common when it has none)."""
    common: list[Objective] = []
    by_env: dict[str, list[Objective]] = {}
    for objective in objectives:
        if objective.env is None:
            common.append(objective)
        else:
            by_env.setdefault(objective.env, []).append(objective)
    return Slo(tuple(common), {env: tuple(found) for env, found in by_env.items()})


def slo_from_table(table: Mapping[str, Any]) -> Slo:
    """Read a ``[capacity.slo]`` table (see the module docstring for its shape)."""
    if not isinstance(table, Mapping):
        raise CapacityError(f"[capacity.slo] must be a table, got {type(table).__name__}")
    objectives: list[Objective] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            objectives += [_table_entry(f"{key}.{k}", k, v, str(key)) for k, v in value.items()]
        else:
            objectives.append(_table_entry(str(key), str(key), value))
    return _grouped(objectives)


def _table_entry(where: str, metric: str, value: object, env: str | None = None) -> Objective:
    if isinstance(value, bool):
        raise CapacityError(f"[capacity.slo] {where}: expected a number or '< 800ms', got a bool")
    if isinstance(value, (int, float)):
        return parse_objective(f"{metric} <= {value!r}", env)
    if isinstance(value, str):
        return parse_objective(f"{metric} {value}", env)
    raise CapacityError(
        f"[capacity.slo] {where}: expected a number (an upper limit) or a string like "
        f"'< 800ms', got {type(value).__name__}"
    )


def slo_from_gates(gates: Iterable[GateLike]) -> tuple[Slo, list[str]]:
    """Objectives from the scenario's gates, and notes on the gates that could not be used.

    Capacity is per env, so a gate on one flow, or one against a baseline, is left out (noted).
    """
    objectives: list[Objective] = []
    notes: list[str] = []
    for gate in gates:
        if gate.flow is not None:
            notes.append(f"gate {gate.expr!r} selects flow {gate.flow!r}; not used as a SLO")
            continue
        if "baseline" in gate.expr:
            notes.append(f"gate {gate.expr!r} compares to a baseline; not used as a SLO")
            continue
        objectives.append(parse_objective(gate.expr, None if gate.env is None else str(gate.env)))
    return _grouped(objectives), notes


@dataclass(frozen=True, slots=True)
class StepCheck:
    """How one step fared against the objectives."""

    step: StepResult
    passed: bool
    failures: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "step": self.step.step,
            "load": self.step.load,
            "passed": self.passed,
            "failures": list(self.failures),
        }


def check_step(step: StepResult, objectives: Sequence[Objective]) -> StepCheck:
    """Evaluate every objective on one step; a step without data cannot pass."""
    failures: list[str] = []
    if step.streams <= 0:
        failures.append("no streams completed in this step")
    for objective in objectives:
        value = objective.observed(step)
        if value is None:
            failures.append(f"{objective.describe()}: no data")
        elif not objective.met_by(value):
            observed = format_value(objective.block, value)
            failures.append(f"{objective.describe()}: observed {observed}")
    return StepCheck(step, not failures, tuple(failures))


@dataclass(frozen=True, slots=True)
class SloSelection:
    """The highest step meeting the objectives, with every step's check.

    ``best`` is the highest step of the unbroken run of passing steps from the lowest load:
    a step that passes *above* a failing one is not trusted (``passes_above_failure``).
    """

    best: StepResult | None
    checks: tuple[StepCheck, ...]
    passes_above_failure: bool

    @property
    def first_failure(self) -> StepCheck | None:
        """The lowest step that failed (None when all passed)."""
        return next((c for c in self.checks if not c.passed), None)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        best = self.best
        return {
            "best_step": None if best is None else best.step,
            "best_load": None if best is None else best.load,
            "best_streams_per_s": None if best is None else best.throughput,
            "best_ok_streams_per_s": None if best is None else best.goodput,
            "passes_above_failure": self.passes_above_failure,
            "checks": [c.to_json() for c in self.checks],
        }


def select_step(steps: Sequence[StepResult], objectives: Sequence[Objective]) -> SloSelection:
    """Check each step by increasing load and pick the highest of the unbroken passing run."""
    checks = tuple(check_step(s, objectives) for s in ordered(steps))
    best: StepResult | None = None
    failed = False
    passes_above = False
    for check in checks:
        if not check.passed:
            failed = True
        elif failed:
            passes_above = True
        else:
            best = check.step
    return SloSelection(best, checks, passes_above)
