"""The capacity analysis of a stepped or arrival-rate run: one call, one JSON-ready result."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from harness.capacity.caveats import caveats_for
from harness.capacity.errors import CapacityError
from harness.capacity.headroom import Headroom, headroom_by_step
from harness.capacity.littles import LittleCheck, check_littles_law, in_flight
from harness.capacity.recommend import Recommendation, credible_peak, recommend, sentence
from harness.capacity.saturation import Saturation, detect_saturation
from harness.capacity.slo import Objective, Slo, SloSelection, select_step
from harness.capacity.step_result import LoadKind, StepResult, ordered, steps_by_env
from harness.capacity.usl import UslFit, fit_usl

SCHEMA = "flowload.capacity/1"


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    """Thresholds of the analysis (defaults suit most runs)."""

    limit_s: float = 300.0
    latency: tuple[str, str] = ("ttfi_ms", "p95")
    flat_efficiency: float = 0.5
    latency_climb: float = 0.2
    little_tolerance: float = 0.15
    headroom_warn: float = 0.8
    min_streams: int = 30

    def __post_init__(self) -> None:
        if not (math.isfinite(self.limit_s) and self.limit_s > 0):
            raise CapacityError(f"limit_s must be a number of seconds > 0, got {self.limit_s!r}")
        if self.min_streams < 0:
            raise CapacityError(f"min_streams must be >= 0, got {self.min_streams!r}")


@dataclass(frozen=True, slots=True)
class EnvCapacity:
    """Everything the analysis found for one env."""

    env: str
    load_kind: LoadKind
    steps: tuple[StepResult, ...]
    objectives: tuple[Objective, ...]
    selection: SloSelection
    saturation: Saturation
    usl: UslFit | None
    usl_note: str
    littles: tuple[LittleCheck, ...]
    headroom: tuple[Headroom, ...]
    caveats: tuple[str, ...] = ()

    @property
    def recommended(self) -> Recommendation:
        """The planning figure: the highest SLO-passing step not past saturation."""
        return recommend(self)

    def usl_curve(self, points: int = 60) -> list[tuple[float, float]]:
        """The fitted curve for a plot: to the highest step, or past a credible peak."""
        if self.usl is None:
            return []
        peak = credible_peak(self.usl)
        top = self.usl.n_max if peak is None else max(self.usl.n_max, 1.25 * peak)
        return self.usl.curve(top, points)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "env": self.env,
            "load_kind": self.load_kind,
            "steps": [
                {
                    "step": s.step,
                    "load": s.load,
                    "streams_per_s": s.throughput,
                    "ok_streams_per_s": s.goodput,
                }
                for s in self.steps
            ],
            "slo": [o.describe() for o in self.objectives],
            "selection": self.selection.to_json(),
            "recommended": self.recommended.to_json(),
            "saturation": self.saturation.to_json(),
            "usl": None if self.usl is None else self.usl.to_json(),
            "usl_curve": self.usl_curve(),
            "usl_note": self.usl_note,
            "littles_law": [c.to_json() for c in self.littles],
            "headroom": [h.to_json() for h in self.headroom],
            "caveats": list(self.caveats),
        }


@dataclass(frozen=True, slots=True)
class CapacityAnalysis:
    """The analysis of every env, with a recommendation sentence per env."""

    envs: Mapping[str, EnvCapacity]
    options: AnalysisOptions = field(default_factory=AnalysisOptions)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "envs", MappingProxyType(dict(self.envs)))

    def env(self, name: str) -> EnvCapacity:
        """One env's analysis; raise CapacityError naming the envs there are."""
        try:
            return self.envs[name]
        except KeyError:
            raise CapacityError(
                f"no capacity analysis for env {name!r}; envs analysed: "
                f"{', '.join(self.envs) or 'none'}"
            ) from None

    def recommendation(self, env: str) -> str:
        """One sentence, figure first, e.g. ``Production: plan for 8 concurrent streams ...``.

        In full: ``Production: plan for 8 concurrent streams (16 streams/s): the highest measured
        step within the SLO (TTFI p95 <= 800 ms, error rate < 1%) and not past saturation;
        saturates at ~8 concurrent streams (at most ~17 streams/s completed).``
        """
        return sentence(self.env(env))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (no NaN or infinity: those become null)."""
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "limit_s": self.options.limit_s,
            "latency_metric": ".".join(self.options.latency),
            "notes": list(self.notes),
            "envs": {name: env.to_json() for name, env in self.envs.items()},
            "recommendations": {name: self.recommendation(name) for name in self.envs},
        }
        clean: dict[str, Any] = _finite_json(data)
        return clean


def analyze(
    steps_by_env: Mapping[str, Sequence[StepResult]],
    slo: Slo,
    options: AnalysisOptions | None = None,
    notes: Sequence[str] = (),
) -> CapacityAnalysis:
    """Analyse each env's steps against the SLO; raise CapacityError on invalid steps."""
    opts = options or AnalysisOptions()
    envs = {
        str(env): _analyze_env(str(env), steps, slo.for_env(str(env)), opts)
        for env, steps in steps_by_env.items()
    }
    return CapacityAnalysis(envs, opts, tuple(notes))


def analyze_summary(
    summary: Mapping[str, Any], slo: Slo, options: AnalysisOptions | None = None
) -> CapacityAnalysis:
    """Analyse a ``summary.json``'s ``steps``; without ``options``, ``run.limit_s`` is used."""
    steps = summary.get("steps") if isinstance(summary, Mapping) else None
    if steps is None:
        raise CapacityError(
            "this summary has no 'steps': it is not from a capacity run; run `flowload "
            "capacity` (stepped or arrival-rate load) to get one"
        )
    opts = options or AnalysisOptions()
    run = summary.get("run")
    limit = run.get("limit_s") if isinstance(run, Mapping) else None
    if options is None and isinstance(limit, (int, float)) and not isinstance(limit, bool):
        opts = AnalysisOptions(limit_s=float(limit))
    return analyze(steps_by_env(steps), slo, opts)


def _analyze_env(
    env: str, steps: Sequence[StepResult], objectives: tuple[Objective, ...], opts: AnalysisOptions
) -> EnvCapacity:
    sorted_steps = tuple(ordered(steps))
    kind: LoadKind = sorted_steps[0].load_kind if sorted_steps else "users"
    saturation = detect_saturation(
        sorted_steps,
        latency=opts.latency,
        flat_efficiency=opts.flat_efficiency,
        latency_climb=opts.latency_climb,
    )
    usl, usl_note = _fit(sorted_steps, kind)
    result = EnvCapacity(
        env=env,
        load_kind=kind,
        steps=sorted_steps,
        objectives=objectives,
        selection=select_step(sorted_steps, objectives),
        saturation=saturation,
        usl=usl,
        usl_note=usl_note,
        littles=check_littles_law(sorted_steps, tolerance=opts.little_tolerance),
        headroom=headroom_by_step(sorted_steps, warn_at=opts.headroom_warn),
    )
    caveats = caveats_for(result, limit_s=opts.limit_s, min_streams=opts.min_streams)
    return replace(result, caveats=caveats)


def _fit(steps: Sequence[StepResult], kind: LoadKind) -> tuple[UslFit | None, str]:
    points: list[tuple[float, float]] = []
    for step in steps:
        x = step.goodput
        n = step.load if kind == "users" else in_flight(step)
        if x is not None and n is not None and n > 0:
            points.append((n, x))
    try:
        fit = fit_usl([n for n, _ in points], [x for _, x in points])
    except CapacityError as exc:
        return None, f"no USL fit: {exc}"
    if kind == "rate":
        return fit, "fitted against mean streams in flight (Little's law), not set concurrency"
    return fit, "fitted against the steps' concurrent users"


def _finite_json(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value
