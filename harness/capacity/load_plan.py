"""Capacity load plans: stepped concurrency or open-loop arrival rate, from ``[capacity]``.

A plan is a list of steps (users, or streams/s), each ``step_s`` long; the first ``settle_s`` of
each step is excluded from its statistics so that the previous step's streams and the ramp-up do
not blur it. Pure data and arithmetic: the Locust shapes and users read it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError


class LoadMode(enum.StrEnum):
    """How load is applied."""

    STEPPED = "stepped"  # closed loop: N users, each runs streams back to back
    ARRIVAL = "arrival"  # open loop: streams start on a schedule (streams/s)


_KEYS = {"mode", "steps", "step_s", "settle_s", "spawn_rate", "max_in_flight", "slo"}
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
        if not self.steps:
            raise ConfigError("[capacity] steps: give at least one step, e.g. steps = [5, 10, 20]")
        if any(not (math.isfinite(s) and s > 0) for s in self.steps):
            raise ConfigError("[capacity] steps: every step must be a number > 0")
        if self.mode is LoadMode.STEPPED and any(s != int(s) for s in self.steps):
            raise ConfigError("[capacity] steps: stepped mode counts users: whole numbers only")
        if not self.step_s > 0:
            raise ConfigError("[capacity] step_s must be > 0")
        if not 0 <= self.settle_s < self.step_s:
            raise ConfigError("[capacity] settle_s must be >= 0 and shorter than step_s")
        if self.max_in_flight < 1:
            raise ConfigError("[capacity] max_in_flight must be >= 1")

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


def _numbers(value: Any, where: str) -> tuple[float, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ConfigError(f"{where} must be a list of numbers, e.g. [5, 10, 20, 40]")
    numbers = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise ConfigError(f"{where} must be a list of numbers, got {item!r}")
        numbers.append(float(item))
    return tuple(numbers)


def _number(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"[capacity] {key} must be a number, got {value!r}")
    return float(value)


def parse_load_plan(raw: Mapping[str, Any], *, quick: bool = False) -> LoadPlan:
    """A plan from the scenario's ``[capacity]`` table (defaults for what it leaves out).

    ``quick`` gives the short demo plan: at least 3 steps, 2.5 minutes in all.
    """
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(
            f"[capacity]: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(_KEYS))}"
        )
    mode_text = str(raw.get("mode", LoadMode.STEPPED.value))
    try:
        mode = LoadMode(mode_text)
    except ValueError:
        valid = ", ".join(m.value for m in LoadMode)
        raise ConfigError(f"[capacity] mode {mode_text!r} is not valid; valid: {valid}") from None
    steps = _numbers(raw.get("steps", (5, 10, 20, 40, 80)), "[capacity] steps")
    step_s, settle_s = _number(raw, "step_s", 60.0), _number(raw, "settle_s", 10.0)
    if quick:
        steps = steps if len(steps) >= 3 and len(steps) <= 5 else QUICK_STEPS
        step_s, settle_s = 150.0 / len(steps), min(settle_s, 5.0)
    max_in_flight = raw.get("max_in_flight", 1000)
    if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int):
        raise ConfigError(f"[capacity] max_in_flight must be a whole number, got {max_in_flight!r}")
    return LoadPlan(
        mode=mode,
        steps=steps,
        step_s=step_s,
        settle_s=settle_s,
        spawn_rate=_number(raw, "spawn_rate", 100.0),
        max_in_flight=max_in_flight,
    )
