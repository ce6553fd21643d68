"""Little's-law consistency: concurrency ~ throughput x mean stream duration, per step.

In a closed-loop step with no think time, N users keep N streams in flight, so
``streams_per_s x mean duration`` should come back to N. A large gap means the step's figures
do not describe a steady state: users waited between streams, failed fast (connect errors),
the load generator could not keep up, or streams straddled the step's boundaries. For an
arrival-rate step there is no N to compare with; the law gives the mean streams in flight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.capacity.errors import CapacityError
from harness.capacity.step_result import StepResult, ordered


@dataclass(frozen=True, slots=True)
class LittleCheck:
    """One step's Little's-law figures; ``gap`` = (X*R - N) / N for stepped users."""

    step: int
    load: float
    load_kind: str
    in_flight: float | None
    gap: float | None
    consistent: bool | None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "step": self.step,
            "load": self.load,
            "load_kind": self.load_kind,
            "in_flight": self.in_flight,
            "gap": self.gap,
            "consistent": self.consistent,
        }


def in_flight(step: StepResult) -> float | None:
    """Mean streams in flight by Little's law (None without throughput or duration)."""
    throughput = step.throughput
    duration_ms = step.stat("duration_ms", "mean")
    if throughput is None or duration_ms is None:
        return None
    return throughput * duration_ms / 1000.0


def check_littles_law(
    steps: Sequence[StepResult], *, tolerance: float = 0.15
) -> tuple[LittleCheck, ...]:
    """Check every step; ``consistent`` is None when it cannot be judged."""
    if not tolerance > 0:
        raise CapacityError(f"tolerance must be > 0 (e.g. 0.15 for 15%), got {tolerance!r}")
    checks: list[LittleCheck] = []
    for step in ordered(steps):
        occupancy = in_flight(step)
        gap: float | None = None
        consistent: bool | None = None
        if occupancy is not None and step.load_kind == "users" and step.streams > 0:
            gap = (occupancy - step.load) / step.load
            consistent = abs(gap) <= tolerance
        checks.append(LittleCheck(step.step, step.load, step.load_kind, occupancy, gap, consistent))
    return tuple(checks)
