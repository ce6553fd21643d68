"""Words for a capacity analysis: the recommendation sentence and the caveats, per env."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.capacity.littles import in_flight

if TYPE_CHECKING:
    from harness.capacity.analyze import EnvCapacity
    from harness.capacity.steps import StepResult
    from harness.capacity.usl import UslFit

_POOR_FIT = 0.9
# A predicted peak further out than this many times the highest measured load is not a forecast.
_FAR = 4.0
# Relative distance between the USL peak and the observed knee beyond which they disagree.
_DISAGREE = 0.5


def num(value: float) -> str:
    """A figure for a sentence: 3 significant digits, no trailing zeros, no exponent."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) >= 1e-3 else f"{value:.2g}"


def approx(value: float) -> str:
    """A rough figure: whole numbers from 10 up (``~55``)."""
    return f"~{value:.0f}" if abs(value) >= 10 else f"~{num(value)}"


def load_text(step: StepResult) -> str:
    """``38 concurrent streams`` or ``4 streams/s arrival rate``."""
    if step.load_kind == "users":
        return f"{num(step.load)} concurrent streams"
    occupancy = in_flight(step)
    busy = "" if occupancy is None else f" ({approx(occupancy)} in flight)"
    return f"{num(step.load)} streams/s arrival rate{busy}"


def sentence(env: EnvCapacity) -> str:
    """The recommendation for one env.

    E.g. ``Production: 38 concurrent streams / 4.1 streams/s within TTFI p95 < 800 ms;
    saturates at ~55``.
    """
    if not env.steps:
        return f"{env.env}: no steps measured"
    slo = ", ".join(o.describe() for o in env.objectives)
    best = env.selection.best
    if best is None:
        first = env.selection.first_failure
        detail = "" if first is None else f" (at {load_text(first.step)}: {first.failures[0]})"
        head = f"{env.env}: no measured step meets {slo or 'the SLO'}{detail}"
    else:
        throughput = best.goodput
        done = "" if best.load_kind == "users" else " completed"
        rate = "no throughput" if throughput is None else f"{num(throughput)} streams/s{done}"
        within = f"within {slo}" if slo else "measured (no SLO set)"
        head = f"{env.env}: {load_text(best)} / {rate} {within}"
    return f"{head}; {_saturation_text(env)}"


def _saturation_text(env: EnvCapacity) -> str:
    saturation = env.saturation
    unit = "" if env.load_kind == "users" else " streams/s"
    if saturation.status == "found" and saturation.estimated_load is not None:
        if _from_lowest(env):
            return f"saturates at or below {num(env.steps[0].load)}{unit}"
        return f"saturates at {approx(saturation.estimated_load)}{unit}"
    if saturation.status == "insufficient_data":
        return "too few steps to locate saturation"
    text = f"no saturation up to {num(env.steps[-1].load)}{unit}"
    usl = env.usl
    peak = None if usl is None else credible_peak(usl)
    if usl is not None and peak is not None:
        where = "extrapolated" if usl.extrapolated else "within the measured range"
        text += f" (USL model: peak {approx(peak)} in flight, {where})"
    return text


def _from_lowest(env: EnvCapacity) -> bool:
    # The estimate is clamped to the lowest step: no unsaturated step was measured at all.
    estimate = env.saturation.estimated_load
    return estimate is not None and bool(env.steps) and estimate <= env.steps[0].load * 1.001


def credible_peak(usl: UslFit) -> float | None:
    """The USL peak when the fit supports one: good fit, kappa > 0 beyond noise, not far out."""
    peak = usl.peak_concurrency
    if peak is None or usl.r_squared < _POOR_FIT or not usl.kappa_significant:
        return None
    return peak if peak <= _FAR * usl.n_max else None


def caveats_for(env: EnvCapacity, *, limit_s: float, min_streams: int) -> tuple[str, ...]:
    """What a reader should know before trusting the figures."""
    out: list[str] = []
    if env.selection.passes_above_failure:
        out.append(
            "a step above the first failing one passed again: the results are noisy; "
            "lengthen the steps or repeat the run"
        )
    out.extend(_saturation_caveats(env))
    out.extend(_usl_caveats(env))
    loose = [c for c in env.littles if c.consistent is False and c.gap is not None]
    if loose:
        worst = max(loose, key=lambda c: abs(c.gap or 0.0))
        out.append(
            f"Little's law does not hold at {len(loose)} step(s) (worst: {num(worst.load)} "
            f"users vs {num(worst.in_flight or 0.0)} in flight by throughput x duration): "
            "users were idle, failed fast, or the load generator fell behind"
        )
    risky = [h for h in env.headroom if h.at_risk]
    if risky:
        out.append(
            f"streams come close to the {limit_s:g} s limit from {num(risky[0].load)} on "
            f"({risky[0].describe(limit_s)})"
        )
    thin = [s for s in env.steps if s.streams < min_streams]
    if thin:
        out.append(
            f"{len(thin)} step(s) have fewer than {min_streams} streams: their percentiles "
            "are rough; lengthen the steps"
        )
    return tuple(out)


def _saturation_caveats(env: EnvCapacity) -> list[str]:
    saturation = env.saturation
    if saturation.status == "found":
        text = f"saturation evidence: {saturation.evidence()}"
        if not saturation.confirmed:
            text += " (seen at one step only; add a higher step to confirm)"
        out = [text]
        if _from_lowest(env):
            out.append("saturated from the lowest step on: add lower steps to find the knee")
        return out
    return [f"saturation: {saturation.reason}"]


def _usl_caveats(env: EnvCapacity) -> list[str]:
    usl = env.usl
    if usl is None:
        return [env.usl_note]
    out: list[str] = []
    if usl.r_squared < _POOR_FIT:
        out.append(f"the USL model fits poorly (R^2 {usl.r_squared:.2f}); do not rely on it")
    peak = credible_peak(usl)
    # The knee is in load units; only stepped users share the USL's unit (streams in flight).
    found = env.saturation.status == "found" and env.load_kind == "users"
    knee = env.saturation.estimated_load if found else None
    if peak is not None and knee is not None and abs(peak - knee) > _DISAGREE * knee:
        out.append(
            f"the USL peak ({approx(peak)}) is far from the observed knee ({approx(knee)}): "
            "throughput went flat abruptly (a hard limit such as execution slots or a "
            "connection pool), which the USL's smooth curve does not capture; trust the knee"
        )
    elif peak is None:
        out.append(
            "the USL model shows no credible throughput peak within "
            f"{_FAR:g}x the measured range (no clear coherency penalty)"
        )
    elif usl.extrapolated:
        out.append(
            f"the USL peak ({approx(peak)} in flight, {num(usl.peak_throughput or 0.0)} "
            f"streams/s) lies outside the measured range {num(usl.n_min)}..{num(usl.n_max)}: "
            "a prediction, not a measurement"
        )
    return out
