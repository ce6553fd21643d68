"""Saturation: the step where throughput stops growing while latency climbs.

Between consecutive steps (by load) we compare the throughput gain with the load growth (the
*efficiency*: 1.0 is perfectly linear scaling, 0 is flat, negative is retrograde) and the growth
of a latency statistic. The knee is the first step whose efficiency falls below
``flat_efficiency`` while latency grows by more than ``latency_climb``. The saturation load is
then estimated where the initial linear growth meets the throughput ceiling:
``max throughput / max per-load throughput before the knee`` (for a server with K slots and a
fixed service time that is K, wherever K lies between steps).

Throughput here is *goodput*, streams per second that ended ``ok``: once a server's queue is
full it rejects fast, which raises the raw stream rate while useful work stays flat.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.capacity.errors import CapacityError
from harness.capacity.step_result import StepResult, ordered

SaturationStatus = Literal["found", "not_found", "insufficient_data"]


@dataclass(frozen=True, slots=True)
class StepDelta:
    """How throughput and latency changed from the previous step to this one."""

    step: int
    load: float
    prev_load: float
    load_growth: float
    throughput_gain: float
    efficiency: float
    latency_growth: float | None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict; growths are fractions (0.25 = +25 %)."""
        return {
            "step": self.step,
            "load": self.load,
            "prev_load": self.prev_load,
            "load_growth": self.load_growth,
            "throughput_gain": self.throughput_gain,
            "efficiency": self.efficiency,
            "latency_growth": self.latency_growth,
        }


@dataclass(frozen=True, slots=True)
class Saturation:
    """The knee (when found) with the evidence behind it."""

    status: SaturationStatus
    reason: str
    latency_metric: str
    knee: StepDelta | None = None
    estimated_load: float | None = None
    max_throughput: float | None = None
    confirmed: bool = False
    deltas: tuple[StepDelta, ...] = ()

    def evidence(self) -> str:
        """One sentence with the figures that justify the verdict."""
        knee = self.knee
        if knee is None:
            return self.reason
        latency = (
            "no latency data"
            if knee.latency_growth is None
            else f"{self.latency_metric} {knee.latency_growth * 100:+.0f}%"
        )
        return (
            f"from {knee.prev_load:g} to {knee.load:g} ({knee.load_growth * 100:+.0f}% load) "
            f"throughput changed {knee.throughput_gain * 100:+.0f}% while {latency}"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "status": self.status,
            "reason": self.reason,
            "latency_metric": self.latency_metric,
            "knee": None if self.knee is None else self.knee.to_json(),
            "estimated_load": self.estimated_load,
            "max_throughput": self.max_throughput,
            "confirmed": self.confirmed,
            "evidence": self.evidence(),
            "deltas": [d.to_json() for d in self.deltas],
        }


def detect_saturation(
    steps: Sequence[StepResult],
    *,
    latency: tuple[str, str] = ("ttfi_ms", "p95"),
    flat_efficiency: float = 0.5,
    latency_climb: float = 0.2,
) -> Saturation:
    """Find the knee of throughput vs load in ``steps`` (any order, one load kind).

    ``latency`` is the (block, statistic) that must climb; ``flat_efficiency`` is the fraction
    of linear growth below which throughput counts as flat; ``latency_climb`` the relative
    latency growth that counts as climbing.
    """
    if not 0 < flat_efficiency < 1 or latency_climb < 0:
        raise CapacityError(
            "flat_efficiency must be in (0, 1) and latency_climb >= 0, "
            f"got {flat_efficiency!r} and {latency_climb!r}"
        )
    label = f"{latency[0].removesuffix('_ms')}.{latency[1]}"
    usable = [s for s in ordered(steps) if (s.goodput or 0.0) > 0]
    if len(usable) < 3:
        return Saturation(
            "insufficient_data",
            f"need at least 3 steps with throughput > 0, got {len(usable)}",
            label,
        )
    deltas = tuple(_delta(a, b, latency) for a, b in itertools.pairwise(usable))
    for i, delta in enumerate(deltas):
        climbing = delta.latency_growth is not None and delta.latency_growth > latency_climb
        if delta.efficiency < flat_efficiency and climbing:
            return _found(usable, deltas, i, label, flat_efficiency)
    return Saturation("not_found", _why_not(deltas, flat_efficiency, usable), label, deltas=deltas)


def _delta(prev: StepResult, cur: StepResult, latency: tuple[str, str]) -> StepDelta:
    # Both throughputs are > 0 (filtered by the caller), and loads are distinct and > 0.
    x0, x1 = prev.goodput or 0.0, cur.goodput or 0.0
    load_growth = cur.load / prev.load - 1.0
    gain = x1 / x0 - 1.0
    l0, l1 = prev.stat(*latency), cur.stat(*latency)
    growth = l1 / l0 - 1.0 if l0 is not None and l1 is not None and l0 > 0 else None
    return StepDelta(cur.step, cur.load, prev.load, load_growth, gain, gain / load_growth, growth)


def _found(
    usable: list[StepResult],
    deltas: tuple[StepDelta, ...],
    i: int,
    label: str,
    flat_efficiency: float,
) -> Saturation:
    knee = deltas[i]
    before = usable[: i + 1]  # steps up to the last one before the knee step
    slope = max((s.goodput or 0.0) / s.load for s in before)
    ceiling = max(s.goodput or 0.0 for s in usable)
    estimate = min(max(ceiling / slope, usable[0].load), knee.load)
    # A knee is confirmed when throughput does not resume growing at the next step.
    confirmed = i + 1 < len(deltas) and deltas[i + 1].efficiency < flat_efficiency
    return Saturation(
        "found",
        "throughput stopped growing while latency climbed",
        label,
        knee,
        estimate,
        ceiling,
        confirmed,
        deltas,
    )


def _why_not(deltas: Sequence[StepDelta], flat_efficiency: float, usable: list[StepResult]) -> str:
    top = usable[-1].load
    flat = [d for d in deltas if d.efficiency < flat_efficiency]
    if flat:
        return (
            f"throughput went flat at {flat[0].load:g} without latency climbing: the load "
            "generator or the client may be the bottleneck, not the server"
        )
    return f"throughput still grew with load up to {top:g} (the highest step measured)"
