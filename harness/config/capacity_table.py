"""The scenario's ``[capacity]`` table, typed and checked when the scenario is loaded.

A capacity run applies load in steps: ``steps`` users (``mode = "stepped"``, closed loop) or
stream starts per second (``"arrival"``, open loop), each ``step_s`` long, the first ``settle_s``
of each not measured. ``[capacity.slo]`` holds the objectives (checked here, read by
:mod:`harness.capacity.slo`). :mod:`harness.capacity.load_plan` turns these settings into a run.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError

DEFAULT_STEPS = (5.0, 10.0, 20.0, 40.0, 80.0)
_KEYS = {"mode", "steps", "step_s", "settle_s", "spawn_rate", "max_in_flight", "slo"}


class LoadMode(enum.StrEnum):
    """How load is applied."""

    STEPPED = "stepped"  # closed loop: N users, each runs streams back to back
    ARRIVAL = "arrival"  # open loop: streams start on a schedule (streams/s)


def check_plan(
    mode: LoadMode, steps: tuple[float, ...], step_s: float, settle_s: float, max_in_flight: int
) -> None:
    """The rules every plan keeps; ConfigError naming the key that breaks one."""
    if not steps:
        raise ConfigError("steps: give at least one step, e.g. steps = [5, 10, 20]")
    if any(not (math.isfinite(s) and s > 0) for s in steps):
        raise ConfigError("steps: every step must be a number > 0")
    if mode is LoadMode.STEPPED and any(s != int(s) for s in steps):
        raise ConfigError("steps: stepped mode counts users: whole numbers only")
    if not step_s > 0:
        raise ConfigError("step_s must be > 0")
    if not 0 <= settle_s < step_s:
        raise ConfigError("settle_s must be >= 0 and shorter than step_s")
    if max_in_flight < 1:
        raise ConfigError("max_in_flight must be >= 1")


@dataclass(frozen=True, slots=True)
class CapacitySettings:
    """The scenario's ``[capacity]`` table, checked when the scenario is loaded.

    ``slo`` is the ``[capacity.slo]`` table as written (checked too; None when absent): the
    analysis reads it with :func:`harness.capacity.slo.slo_from_table`.
    """

    mode: LoadMode = LoadMode.STEPPED
    steps: tuple[float, ...] = DEFAULT_STEPS
    step_s: float = 60.0
    settle_s: float = 10.0
    spawn_rate: float = 100.0
    max_in_flight: int = 1000
    slo: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        check_plan(self.mode, self.steps, self.step_s, self.settle_s, self.max_in_flight)


def _numbers(value: Any, key: str) -> tuple[float, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ConfigError(f"{key} must be a list of numbers, e.g. [5, 10, 20, 40]")
    numbers = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise ConfigError(f"{key} must be a list of numbers, got {item!r}")
        numbers.append(float(item))
    return tuple(numbers)


def _number(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    return float(value)


def read_capacity_table(raw: Mapping[str, Any]) -> CapacitySettings:
    """The ``[capacity]`` table as :class:`CapacitySettings`; ConfigError naming the bad key."""
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(_KEYS))}")
    mode_text = str(raw.get("mode", LoadMode.STEPPED.value))
    try:
        mode = LoadMode(mode_text)
    except ValueError:
        valid = ", ".join(m.value for m in LoadMode)
        raise ConfigError(f"mode {mode_text!r} is not valid; valid: {valid}") from None
    max_in_flight = raw.get("max_in_flight", 1000)
    if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int):
        raise ConfigError(f"max_in_flight must be a whole number, got {max_in_flight!r}")
    slo = raw.get("slo")
    if slo is not None:
        _check_slo(slo)
    return CapacitySettings(
        mode=mode,
        steps=_numbers(raw.get("steps", DEFAULT_STEPS), "steps"),
        step_s=_number(raw, "step_s", 60.0),
        settle_s=_number(raw, "settle_s", 10.0),
        spawn_rate=_number(raw, "spawn_rate", 100.0),
        max_in_flight=max_in_flight,
        slo=slo,
    )


def _check_slo(table: Any) -> None:
    # Imported here: the SLO module pulls in the criteria parser, which a plan alone never needs.
    from harness.capacity.errors import CapacityError  # noqa: PLC0415
    from harness.capacity.slo import slo_from_table  # noqa: PLC0415

    try:
        slo_from_table(table)
    except CapacityError as exc:
        raise ConfigError(str(exc)) from None
