"""Headroom against the server's maximum execution time (300 s for Flow), per step.

``limit_used`` is duration / limit per stream (0..1, above 1 when a stream ran past the limit).
A step whose p99 comes close to 1 will start losing streams to the server's cut-off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.capacity.errors import CapacityError
from harness.capacity.step_result import StepResult, ordered


@dataclass(frozen=True, slots=True)
class Headroom:
    """One step's use of the execution-time limit; ``at_risk`` when max or p99 >= ``warn_at``."""

    step: int
    load: float
    used_max: float | None
    used_p99: float | None
    limit_exceeded: int
    at_risk: bool

    @property
    def headroom(self) -> float | None:
        """1 - max used (the share of the limit no stream of the step needed)."""
        return None if self.used_max is None else 1.0 - self.used_max

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "step": self.step,
            "load": self.load,
            "limit_used_max": self.used_max,
            "limit_used_p99": self.used_p99,
            "headroom": self.headroom,
            "limit_exceeded": self.limit_exceeded,
            "at_risk": self.at_risk,
        }

    def describe(self, limit_s: float) -> str:
        """``p99 42% / max 61% of the 300 s limit`` (or that there is no data)."""
        if self.used_max is None or self.used_p99 is None:
            return "no duration data"
        text = (
            f"p99 {self.used_p99 * 100:.0f}% / max {self.used_max * 100:.0f}% "
            f"of the {limit_s:g} s limit"
        )
        if self.limit_exceeded:
            text += f"; {self.limit_exceeded} stream(s) exceeded it"
        return text


def headroom_by_step(steps: Sequence[StepResult], *, warn_at: float = 0.8) -> tuple[Headroom, ...]:
    """Headroom of every step by increasing load."""
    if not (math.isfinite(warn_at) and 0 < warn_at <= 1):
        raise CapacityError(f"warn_at must be in (0, 1] (e.g. 0.8), got {warn_at!r}")
    rows: list[Headroom] = []
    for step in ordered(steps):
        used_max = step.stat("limit_used", "max")
        used_p99 = step.stat("limit_used", "p99")
        exceeded = int(step.outcome("limit_exceeded") or 0)
        risk = exceeded > 0 or any(v is not None and v >= warn_at for v in (used_max, used_p99))
        rows.append(Headroom(step.step, step.load, used_max, used_p99, exceeded, risk))
    return tuple(rows)
