"""Service-level objectives for capacity runs, and the highest step that meets them.

Objectives are written like gates (``ttfi.p95 < 800ms``, ``error_rate <= 1%``) or as flat
keys (``ttfi_p95_ms <= 800``), and come from the scenario's ``[[gates]]`` or from a
``[capacity.slo]`` table::

    [capacity.slo]
    ttfi_p95_ms = 800            # a bare number is an upper limit (<=)
    error_rate = "< 1%"          # or an operator and a value with an optional unit
    [capacity.slo.Production]    # objectives for one env only (added to the ones above)
    "duration.p99" = "<= 120s"
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from harness.capacity.errors import CapacityError
from harness.capacity.steps import StepResult, ordered

_TIME_METRICS = {"ttfb": "ttfb_ms", "ttfi": "ttfi_ms", "itl": "itl_ms", "duration": "duration_ms"}
_STATS = ("count", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max")
_RATIOS = ("error_rate",)
_PLAIN = ("streams_per_s", "items_per_s", "streams", "items", "bytes")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_LABELS = {
    "ttfb_ms": "TTFB",
    "ttfi_ms": "TTFI",
    "itl_ms": "ITL",
    "duration_ms": "duration",
    "limit_used": "limit used",
    "error_rate": "error rate",
    "streams_per_s": "streams/s",
    "items_per_s": "items/s",
}
_EXPR = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op><=|>=|<|>|==|!=|=)\s*"
    r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>ms|s|%)?\s*$"
)
_FLAT = re.compile(
    r"^(?:(?P<metric>ttfb|ttfi|itl|duration)_(?P<stat>[a-z0-9_]+?)_(?P<unit>ms|s)"
    r"|(?P<ratio>limit_used)_(?P<rstat>[a-z0-9_]+))$"
)
_HELP = (
    "write METRIC[.STAT] OP VALUE[UNIT], e.g. 'ttfi.p95 < 800ms', 'error_rate <= 1%', "
    "'limit_used.max < 0.8' or flat 'ttfi_p95_ms <= 800'; metrics: "
    f"{', '.join([*_TIME_METRICS, 'limit_used', *_RATIOS, *_PLAIN, 'outcomes.<name>'])}; "
    f"stats: {', '.join(_STATS)}; operators: {', '.join(_OPS)}; units: ms, s (times), "
    "% (error_rate, limit_used)"
)


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
    op: str
    threshold: float
    text: str = field(default="", compare=False)

    def observed(self, step: StepResult) -> float | None:
        """The step's value for this objective (None when the step has no such data)."""
        if self.block.startswith("outcomes."):
            return step.outcome(self.block.removeprefix("outcomes."))
        if self.stat is None:
            return step.scalar(self.block)
        return step.stat(self.block, self.stat)

    def met_by(self, value: float) -> bool:
        """Whether an observed value meets the objective."""
        return _OPS[self.op](value, self.threshold)

    def describe(self) -> str:
        """A human label, e.g. ``TTFI p95 < 800 ms`` or ``error rate <= 1%``."""
        label = _LABELS.get(self.block, self.block)
        name = f"{label} {self.stat}" if self.stat else label
        return f"{name} {self.op} {format_value(self.block, self.threshold)}"


def format_value(block: str, value: float) -> str:
    """A value of ``block`` in its natural unit (ms, %, plain)."""
    if block.endswith("_ms"):
        # Long times (durations near the 300 s limit) read better in seconds.
        return f"{value / 1000:.4g} s" if abs(value) >= 10_000 else f"{value:.4g} ms"
    if block in (*_RATIOS, "limit_used"):
        return f"{value * 100:.3g}%"
    return f"{value:.4g}"


def parse_objective(text: str) -> Objective:
    """Parse one objective; raise CapacityError listing what is valid."""
    if not isinstance(text, str):
        raise CapacityError(f"an SLO must be a string like 'ttfi.p95 < 800ms', got {text!r}")
    match = _EXPR.match(text)
    if match is None:
        raise CapacityError(f"cannot read SLO {text!r}: {_HELP}")
    op = match["op"]
    if op not in _OPS:
        raise CapacityError(f"SLO {text!r}: operator {op!r} is not a bound; {_HELP}")
    block, stat, flat_unit = _metric(match["metric"], text)
    value = float(match["value"])
    unit = match["unit"] or flat_unit
    threshold = _in_block_units(block, value, unit, text)
    return Objective(block, stat, op, threshold, text.strip())


def _metric(name: str, text: str) -> tuple[str, str | None, str | None]:
    flat = _FLAT.match(name)
    if flat is not None:
        stat = (flat["stat"] or flat["rstat"]).replace("_", ".")
        stat = "p99.9" if stat in ("p999", "p99.9") else stat
        name = f"{flat['metric'] or flat['ratio']}.{stat}"
    base, _, stat_part = name.partition(".")
    if base == "outcomes" and stat_part:
        return name, None, None
    if base.endswith("_ms") and base.removesuffix("_ms") in _TIME_METRICS:
        base = base.removesuffix("_ms")
    if base in _TIME_METRICS or base == "limit_used":
        stat_name = stat_part or "p95"
        if stat_name not in _STATS:
            raise CapacityError(f"SLO {text!r}: unknown statistic {stat_name!r}; {_HELP}")
        block = _TIME_METRICS.get(base, base)
        return block, stat_name, flat["unit"] if flat else None
    if base in (*_RATIOS, *_PLAIN) and not stat_part:
        return base, None, None
    raise CapacityError(f"SLO {text!r}: unknown metric {name!r}; {_HELP}")


def _in_block_units(block: str, value: float, unit: str | None, text: str) -> float:
    if not math.isfinite(value):
        raise CapacityError(f"SLO {text!r}: the value must be a finite number")
    if block.endswith("_ms"):
        if unit == "%":
            raise CapacityError(f"SLO {text!r}: a time takes ms or s, not %")
        return value * 1000.0 if unit == "s" else value
    if unit in ("ms", "s"):
        raise CapacityError(f"SLO {text!r}: {block} is not a time; drop the unit {unit!r}")
    if unit == "%":
        if block not in (*_RATIOS, "limit_used"):
            raise CapacityError(f"SLO {text!r}: % only fits error_rate and limit_used")
        return value / 100.0
    return value


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
    envs = {env: tuple(parse_objective(t) for t in texts) for env, texts in (by_env or {}).items()}
    return Slo(tuple(parse_objective(t) for t in common), envs)


def slo_from_table(table: Mapping[str, Any]) -> Slo:
    """Read a ``[capacity.slo]`` table (see the module docstring for its shape)."""
    if not isinstance(table, Mapping):
        raise CapacityError(f"[capacity.slo] must be a table, got {type(table).__name__}")
    common: list[Objective] = []
    by_env: dict[str, tuple[Objective, ...]] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            by_env[str(key)] = tuple(_table_entry(f"{key}.{k}", k, v) for k, v in value.items())
        else:
            common.append(_table_entry(str(key), str(key), value))
    return Slo(tuple(common), by_env)


def _table_entry(where: str, metric: str, value: object) -> Objective:
    if isinstance(value, bool):
        raise CapacityError(f"[capacity.slo] {where}: expected a number or '< 800ms', got a bool")
    if isinstance(value, (int, float)):
        return parse_objective(f"{metric} <= {value!r}")
    if isinstance(value, str):
        return parse_objective(f"{metric} {value}")
    raise CapacityError(
        f"[capacity.slo] {where}: expected a number (an upper limit) or a string like "
        f"'< 800ms', got {type(value).__name__}"
    )


def slo_from_gates(gates: Iterable[GateLike]) -> tuple[Slo, list[str]]:
    """Objectives from the scenario's gates, and notes on the gates that could not be used.

    Capacity is per env, so a gate on one flow, or one against a baseline, is left out (noted).
    """
    common: list[Objective] = []
    by_env: dict[str, list[Objective]] = {}
    notes: list[str] = []
    for gate in gates:
        if gate.flow is not None:
            notes.append(f"gate {gate.expr!r} selects flow {gate.flow!r}; not used as a SLO")
            continue
        if "baseline" in gate.expr:
            notes.append(f"gate {gate.expr!r} compares to a baseline; not used as a SLO")
            continue
        objective = parse_objective(gate.expr)
        if gate.env is None:
            common.append(objective)
        else:
            by_env.setdefault(str(gate.env), []).append(objective)
    return Slo(tuple(common), {k: tuple(v) for k, v in by_env.items()}), notes


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
