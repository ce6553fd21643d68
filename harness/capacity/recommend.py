"""The planning figure per env: one measured step, within the SLO and not past saturation.

The recommended step is the highest step of the unbroken run of SLO-passing steps (from the
lowest load) whose load is at or below the saturation estimate (the knee). A step past the knee
may still meet a generous SLO (the server queues, latency grows), but there the capacity is
used up: it is reported as a caveat, never as the figure to plan with.

Figures are for planning, not measurements: concurrency is rounded down to whole streams and a
rate to two significant digits (down), rough estimates are marked ``~`` and rounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.capacity.littles import in_flight

if TYPE_CHECKING:
    from harness.capacity.analyze import EnvCapacity
    from harness.capacity.step_result import StepResult
    from harness.capacity.usl import UslFit

_POOR_FIT = 0.9
# A predicted peak further out than this many times the highest measured load is not a forecast.
_FAR = 4.0
# A step this close above the knee estimate still counts as at the knee (the estimate is rough).
KNEE_TOLERANCE = 0.05


def num(value: float) -> str:
    """A figure for a sentence: 3 significant digits, no trailing zeros, no exponent."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) >= 1e-3 else f"{value:.2g}"


def approx(value: float) -> str:
    """A rough figure: whole numbers from 3 up (``~8``, ``~55``), else two digits (``~2.4``)."""
    return f"~{value:.0f}" if abs(value) >= 3 else f"~{value:.2g}"


def _floor_digits(value: float, digits: int) -> float:
    if not value > 0 or not math.isfinite(value):
        return 0.0 if not value > 0 else value
    if value < 1e-3:  # too small to plan with anyway: plain rounding, no overflow
        return float(f"{value:.{digits}g}")
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(value)))
    return math.floor(value * scale + 1e-9) / scale


def streams_text(value: float) -> str:
    """Concurrency for a plan: whole streams, rounded down (``8 concurrent streams``)."""
    count = math.floor(value + 1e-9) if value >= 1 else _floor_digits(value, 2)
    return f"{count:g} concurrent stream{'' if count == 1 else 's'}"


def rate_text(value: float) -> str:
    """A rate for a plan: two significant digits from 10 up whole, rounded down (``16``)."""
    rounded = math.floor(value + 1e-9) if value >= 10 else _floor_digits(value, 2)
    return f"{rounded:g} streams/s"


def load_text(step: StepResult) -> str:
    """``8 concurrent streams`` or ``4 streams/s arrival rate``."""
    if step.load_kind == "users":
        return streams_text(step.load)
    return f"{rate_text(step.load)} arrival rate"


def credible_peak(usl: UslFit) -> float | None:
    """The USL peak when the fit supports one: good fit, kappa > 0 beyond noise, not far out."""
    peak = usl.peak_concurrency
    if peak is None or usl.r_squared < _POOR_FIT or not usl.kappa_significant:
        return None
    return peak if peak <= _FAR * usl.n_max else None


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One env's planning figure and what bounds it.

    ``step``: the recommended measured step (None when no step qualifies); ``concurrency``:
    streams in flight there (the users of a stepped run, Little's law for an arrival run);
    ``throughput``: ok streams/s there; ``past_knee``: a higher step that met the SLO but lies
    past saturation (not recommended).
    """

    step: StepResult | None
    concurrency: float | None
    throughput: float | None
    past_knee: StepResult | None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        step = self.step
        return {
            "step": None if step is None else step.step,
            "load": None if step is None else step.load,
            "load_kind": None if step is None else step.load_kind,
            "concurrent_streams": self.concurrency,
            "ok_streams_per_s": self.throughput,
            "past_knee_step": None if self.past_knee is None else self.past_knee.step,
        }


def knee_limit(env: EnvCapacity) -> float | None:
    """The highest load still at the knee (None when no saturation was found)."""
    estimate = env.saturation.estimated_load
    if env.saturation.status != "found" or estimate is None:
        return None
    return estimate * (1.0 + KNEE_TOLERANCE)


def recommend(env: EnvCapacity) -> Recommendation:
    """The highest unbroken SLO-passing step at or below the knee."""
    passing: list[StepResult] = []
    for check in env.selection.checks:  # by increasing load
        if not check.passed:
            break
        passing.append(check.step)
    limit = knee_limit(env)
    inside = [s for s in passing if limit is None or s.load <= limit]
    step = inside[-1] if inside else None
    best = env.selection.best
    past = best if best is not None and best is not step else None
    if step is None:
        return Recommendation(None, None, None, past)
    concurrency = step.load if step.load_kind == "users" else in_flight(step)
    return Recommendation(step, concurrency, step.goodput, past)


def slo_text(env: EnvCapacity) -> str:
    """``the SLO (TTFI p95 <= 800 ms, error rate < 1%)`` or ``no SLO set``."""
    objectives = ", ".join(o.describe() for o in env.objectives)
    return f"the SLO ({objectives})" if objectives else "no SLO set"


def figure_text(env: EnvCapacity, rec: Recommendation) -> str:
    """``8 concurrent streams (16 streams/s)`` or ``8 streams/s (about 4 concurrent streams)``."""
    step = rec.step
    if step is None:
        return "-"
    rate = "no throughput" if rec.throughput is None else rate_text(rec.throughput)
    if env.load_kind == "users":
        return f"{streams_text(step.load)} ({rate})"
    busy = "" if rec.concurrency is None else f", about {streams_text(rec.concurrency)}"
    return f"{rate_text(step.load)} arrival rate ({rate} completed{busy})"


def sentence(env: EnvCapacity) -> str:
    """The recommendation for one env, figure first, e.g.

    ``Production: plan for 8 concurrent streams (16 streams/s): the highest measured step within
    the SLO (TTFI p95 <= 800 ms, error rate < 1%) and not past saturation; saturates at ~8
    concurrent streams (at most ~17 streams/s completed)``.
    """
    if not env.steps:
        return f"{env.env}: no steps measured"
    rec = recommend(env)
    if rec.step is None:
        return f"{env.env}: no figure to plan with: {_why_none(env, rec)}"
    kind = "step" if env.load_kind == "users" else "arrival rate"
    basis = f"the highest measured {kind} " + (
        f"within {slo_text(env)}" if env.objectives else "(no SLO set)"
    )
    if saturated_from_lowest(env):
        basis += ", already past saturation: add lower steps"
    elif knee_limit(env) is not None:
        basis += " and not past saturation"
    return f"{env.env}: plan for {figure_text(env, rec)}: {basis}; {saturation_text(env)}"


def _why_none(env: EnvCapacity, rec: Recommendation) -> str:
    if rec.past_knee is not None:
        return (
            f"the steps that met {slo_text(env)} all lie past saturation "
            f"({saturation_text(env)}); add steps below it"
        )
    first = env.selection.first_failure
    detail = "" if first is None else f"; at {load_text(first.step)}: {first.failures[0]}"
    return f"no measured step meets {slo_text(env)}{detail}"


def knee_text(env: EnvCapacity) -> str:
    """``~8 concurrent streams`` or ``~12 streams/s arrival rate``; ``-`` when none was found."""
    estimate = env.saturation.estimated_load
    if env.saturation.status != "found" or estimate is None:
        return "-"
    unit = "concurrent streams" if env.load_kind == "users" else "streams/s arrival rate"
    return f"{approx(estimate)} {unit}"


def saturation_text(env: EnvCapacity) -> str:
    """``saturates at ~8 concurrent streams (~17 streams/s)`` or why it was not found."""
    saturation = env.saturation
    if saturation.status == "found" and saturation.estimated_load is not None:
        if saturated_from_lowest(env):
            return f"saturates at or below {load_text(env.steps[0])}"
        ceiling = saturation.max_throughput
        most = "" if ceiling is None else f" (at most {approx(ceiling)} streams/s completed)"
        return f"saturates at {knee_text(env)}{most}"
    if saturation.status == "insufficient_data":
        return "too few steps to locate saturation"
    text = f"no saturation up to {load_text(env.steps[-1])} (the highest step): it may take more"
    usl = env.usl
    peak = None if usl is None else credible_peak(usl)
    if usl is not None and peak is not None:
        where = "extrapolated" if usl.extrapolated else "within the measured range"
        text += f" (USL model: peak {approx(peak)} in flight, {where})"
    return text


def saturated_from_lowest(env: EnvCapacity) -> bool:
    """True when even the lowest step was saturated (no unsaturated step was measured)."""
    estimate = env.saturation.estimated_load
    return (
        env.saturation.status == "found"
        and estimate is not None
        and bool(env.steps)
        and estimate <= env.steps[0].load * 1.001
    )
