"""Seeded random distributions for a simulated flow's timings and sizes.

Every draw takes the ``random.Random`` of the stream being planned, so a seed and a request
sequence fully determine what the simulator sends.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError

KINDS: tuple[str, ...] = ("constant", "uniform", "normal", "lognormal")


@dataclass(frozen=True, slots=True)
class Distribution:
    """One distribution, clamped to ``[low_clamp, high_clamp]``.

    ``a``/``b`` mean: constant → (value, unused); uniform → (low, high);
    normal → (mean, stddev); lognormal → (median, sigma of the underlying normal).
    """

    kind: str
    a: float
    b: float = 0.0
    low_clamp: float = 0.0
    high_clamp: float = math.inf

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown distribution {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.kind == "uniform" and self.b < self.a:
            raise ConfigError(f"uniform distribution needs low <= high, got {self.a} > {self.b}")
        if self.kind in ("normal", "lognormal") and self.b < 0:
            raise ConfigError(f"{self.kind} distribution needs a spread >= 0, got {self.b}")
        if self.kind == "lognormal" and self.a <= 0:
            raise ConfigError(f"lognormal distribution needs median > 0, got {self.a}")
        if self.high_clamp < self.low_clamp:
            raise ConfigError(f"min {self.low_clamp} is above max {self.high_clamp}")

    @classmethod
    def constant(cls, value: float) -> Distribution:
        """A distribution that always returns ``value``."""
        return cls("constant", value, low_clamp=min(0.0, value))

    def sample(self, rng: random.Random) -> float:
        """Draw one value (clamped) from ``rng``."""
        if self.kind == "constant":
            value = self.a
        elif self.kind == "uniform":
            value = rng.uniform(self.a, self.b)
        elif self.kind == "normal":
            value = rng.gauss(self.a, self.b)
        else:
            value = rng.lognormvariate(math.log(self.a), self.b)
        return min(max(value, self.low_clamp), self.high_clamp)

    def mean_hint(self) -> float:
        """A rough central value, for listings (not a statistic of the clamped draw)."""
        if self.kind == "uniform":
            return (self.a + self.b) / 2.0
        return self.a

    def describe(self) -> str:
        """A short human form, e.g. ``uniform(20, 200)``."""
        if self.kind == "constant":
            return f"{self.a:g}"
        return f"{self.kind}({self.a:g}, {self.b:g})"


_PARAMS: dict[str, tuple[str, str | None]] = {
    "constant": ("value", None),
    "uniform": ("low", "high"),
    "normal": ("mean", "stddev"),
    "lognormal": ("median", "sigma"),
}


def _number(where: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def parse_distribution(where: str, raw: Any) -> Distribution:
    """Build a distribution from a TOML value: a number (constant) or a table.

    Tables: ``{dist = "uniform", low = 20, high = 200}``, ``{dist = "normal", mean, stddev}``,
    ``{dist = "lognormal", median, sigma}``, ``{dist = "constant", value}``; each may add
    ``min``/``max`` clamps (default ``min = 0``).
    """
    if not isinstance(raw, dict):
        return Distribution.constant(_number(where, "value", raw))
    kind = raw.get("dist")
    if kind not in _PARAMS:
        raise ConfigError(f"{where}: dist must be one of {', '.join(KINDS)}, got {kind!r}")
    first, second = _PARAMS[kind]
    allowed = {"dist", "min", "max", first} | ({second} if second else set())
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; a {kind} takes {sorted(allowed)}")
    missing = [k for k in (first, second) if k is not None and k not in raw]
    if missing:
        raise ConfigError(f"{where}: a {kind} distribution needs {missing}")
    a = _number(where, first, raw[first])
    b = _number(where, second, raw[second]) if second else 0.0
    low = _number(where, "min", raw.get("min", min(0.0, a)))
    high = _number(where, "max", raw.get("max", math.inf))
    try:
        return Distribution(kind, a, b, low, high)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
