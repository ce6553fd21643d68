"""Capacity load plans: stepped concurrency or open-loop arrival rate, from ``[capacity]``.

The scenario loader checks the table (:mod:`harness.config.capacity_table`, errors name the file
and key); :func:`load_plan` turns its settings into the steps of a run.

A plan is a list of steps (users, or streams/s), each ``step_s`` long; the first ``settle_s`` of
each step is excluded from its statistics so that the previous step's streams and the ramp-up do
not blur it. Pure data and arithmetic: the Locust shapes and users read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.config.capacity_table import CapacitySettings, LoadMode, check_plan

__all__ = ["QUICK_STEPS", "CapacitySettings", "LoadMode", "LoadPlan", "load_plan"]

QUICK_STEPS = (2, 4, 8, 16)


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """The steps of a capacity run."""

    mode: LoadMode
    steps: tuple[float, ...]
    step_s: float
    settle_s: float
    spawn_rate: float = 100.0
    max_in_flight: int = 1000

    def __post_init__(self) -> None:
        check_plan(self.mode, self.steps, self.step_s, self.settle_s, self.max_in_flight)

    @property
    def duration_s(self) -> float:
        """The whole plan's length."""
        return self.step_s * len(self.steps)

    def step_at(self, elapsed_s: float) -> int | None:
        """The index of the step running ``elapsed_s`` after the start, None once it is over."""
        if elapsed_s < 0:
            return 0
        index = int(elapsed_s // self.step_s)
        return index if index < len(self.steps) else None

    def measured(self, elapsed_s: float) -> int | None:
        """The step a stream started at ``elapsed_s`` counts in; None while settling or after."""
        index = self.step_at(elapsed_s)
        if index is None or elapsed_s - index * self.step_s < self.settle_s:
            return None
        return index

    def window(self, index: int) -> tuple[float, float]:
        """The measured window (seconds after start) of step ``index``."""
        start = index * self.step_s
        return start + self.settle_s, start + self.step_s

    def load_key(self) -> str:
        """``users`` or ``rate``: how summary.json names a step's load."""
        return "users" if self.mode is LoadMode.STEPPED else "rate"


def load_plan(settings: CapacitySettings, *, quick: bool = False) -> LoadPlan:
    """The plan of a capacity run; ``quick`` gives the short demo plan (3-5 steps, 2.5 min)."""
    steps, step_s, settle_s = settings.steps, settings.step_s, settings.settle_s
    if quick:
        steps = steps if 3 <= len(steps) <= 5 else QUICK_STEPS
        step_s, settle_s = 150.0 / len(steps), min(settle_s, 5.0)
    return LoadPlan(
        mode=settings.mode,
        steps=steps,
        step_s=step_s,
        settle_s=settle_s,
        spawn_rate=settings.spawn_rate,
        max_in_flight=settings.max_in_flight,
    )
