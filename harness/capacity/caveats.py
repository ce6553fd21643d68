"""What a reader should know before trusting an env's capacity figures, most important first.

First what changes the figure (a step that met the SLO past saturation, saturation from the
lowest step, noisy results), then what weakens the data (Little's law, the execution limit, thin
steps), then notes on the evidence and the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.capacity.recommend import (
    approx,
    credible_peak,
    knee_text,
    load_text,
    num,
    recommend,
    saturated_from_lowest,
)

if TYPE_CHECKING:
    from harness.capacity.analyze import EnvCapacity

_POOR_FIT = 0.9
_FAR = 4.0
# Relative distance between the USL peak and the observed knee beyond which they disagree.
_DISAGREE = 0.5


def caveats_for(env: EnvCapacity, *, limit_s: float, min_streams: int) -> tuple[str, ...]:
    """The env's caveats, most important first."""
    out = _figure_caveats(env)
    out.extend(_data_caveats(env, limit_s=limit_s, min_streams=min_streams))
    out.extend(_saturation_notes(env))
    out.extend(_usl_notes(env))
    return tuple(out)


def _figure_caveats(env: EnvCapacity) -> list[str]:
    out = []
    rec = recommend(env)
    past = rec.past_knee
    if past is not None:
        ttfi = past.stat("ttfi_ms", "p95")
        latency = "" if ttfi is None else f" (TTFI p95 {ttfi:.0f} ms there)"
        out.append(
            f"{load_text(past)} also met the SLO{latency}, but lies past saturation (from "
            f"{knee_text(env)}): streams wait in the server's queue there; it is no capacity to "
            "plan with"
        )
    if saturated_from_lowest(env):
        out.append("saturated from the lowest step on: add lower steps to find the knee")
    if env.selection.passes_above_failure:
        out.append(
            "a step above the first failing one passed again: the results are noisy; "
            "lengthen the steps or repeat the run"
        )
    return out


def _data_caveats(env: EnvCapacity, *, limit_s: float, min_streams: int) -> list[str]:
    out = []
    loose = [c for c in env.littles if c.consistent is False and c.gap is not None]
    if loose:
        worst = max(loose, key=lambda c: abs(c.gap or 0.0))
        out.append(
            f"Little's law does not hold at {len(loose)} step(s) (worst: {num(worst.load)} "
            f"concurrent streams set vs {num(worst.in_flight or 0.0)} in flight by throughput x "
            "duration): users were idle, failed fast, or the load generator fell behind"
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
    return out


def _saturation_notes(env: EnvCapacity) -> list[str]:
    saturation = env.saturation
    if saturation.status == "found":
        text = f"saturation evidence: {saturation.evidence()}"
        if not saturation.confirmed:
            text += " (seen at one step only; add a higher step to confirm)"
        return [text]
    return [f"saturation: {saturation.reason}"]


def _usl_notes(env: EnvCapacity) -> list[str]:
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
