"""Compare two runs per env and per (env, flow): percentile changes and whether they are real.

Significance comes from the per-stream records (``harness.significance``): the Mann-Whitney U
test for a shift of the whole distribution, and bootstrap intervals for each percentile's change.
A percentile is only tested when enough streams lie beyond it (``MIN_TAIL``); below that, its
change is shown but not judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.report.load import RunData, StreamRecord
from harness.significance import Comparison, PercentileChange, compare_samples, percentile_changes

COMPARED_METRICS: tuple[tuple[str, str], ...] = (
    ("ttfi_ms", "TTFI"),
    ("ttfb_ms", "TTFB"),
    ("duration_ms", "Duration"),
    ("itl_p50_ms", "ITL (per-stream median)"),
)
QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)
MIN_TAIL = 5  # streams needed above a percentile (in each run) before its change is judged
ALL = "(all)"


@dataclass(frozen=True)
class MetricChange:
    """One metric in one scope: U test (None when a run has no sample) and percentile changes.

    ``judged[i]`` says whether ``percentiles[i]`` had enough samples to be tested.
    """

    metric: str
    label: str
    base_n: int
    new_n: int
    test: Comparison | None
    percentiles: tuple[PercentileChange, ...]
    judged: tuple[bool, ...]

    @property
    def verdict(self) -> str:
        """``slower``, ``faster``, ``tail slower (p99)``... or ``no significant change``."""
        if self.test is None:
            return "not compared (no samples in one run)"
        if self.test.significant:
            return "slower" if self.test.superiority > 0.5 else "faster"
        moved = [
            (p, "slower" if p.diff > 0 else "faster")
            for p, ok in zip(self.percentiles, self.judged, strict=True)
            if ok and p.significant
        ]
        if moved:
            names = ", ".join(f"p{p.q * 100:g}" for p, _ in moved)
            return f"tail {moved[-1][1]} ({names})"
        return "no significant change"

    @property
    def significant(self) -> bool:
        """True when the verdict reports a change."""
        return self.verdict in ("slower", "faster") or self.verdict.startswith("tail")


@dataclass(frozen=True)
class ScopeChange:
    """All compared metrics of one env (``flow == ALL``), one (env, flow), or everything."""

    env: str
    flow: str
    base_streams: int
    new_streams: int
    base_error_rate: float | None
    new_error_rate: float | None
    metrics: tuple[MetricChange, ...]


@dataclass(frozen=True)
class RunComparison:
    """Two runs and the change of every scope they share (or not)."""

    base: RunData
    new: RunData
    alpha: float
    scopes: tuple[ScopeChange, ...]

    def significant(self) -> list[tuple[ScopeChange, MetricChange]]:
        """Every (scope, metric) with a significant change."""
        return [(s, m) for s in self.scopes for m in s.metrics if m.significant]


def _values(records: Sequence[StreamRecord], metric: str) -> list[float]:
    return [v for r in records if (v := getattr(r, metric)) is not None]


def compare_metric(
    base: Sequence[float],
    new: Sequence[float],
    metric: str,
    label: str,
    *,
    alpha: float = 0.05,
    resamples: int = 500,
) -> MetricChange:
    """Compare one metric's samples (the U test and bootstrapped percentiles)."""
    if not base or not new:
        return MetricChange(metric, label, len(base), len(new), None, (), ())
    test = compare_samples(base, new, alpha=alpha)
    changes = percentile_changes(
        base, new, QUANTILES, confidence=1.0 - alpha, resamples=resamples, seed=len(base)
    )
    smaller = min(len(base), len(new))
    judged = tuple(smaller * (1.0 - q) >= MIN_TAIL for q in QUANTILES)
    return MetricChange(metric, label, len(base), len(new), test, tuple(changes), judged)


def _error_rate(records: Sequence[StreamRecord]) -> float | None:
    return sum(r.outcome != "ok" for r in records) / len(records) if records else None


def _scope(
    env: str, flow: str, base: Sequence[StreamRecord], new: Sequence[StreamRecord], alpha: float
) -> ScopeChange:
    metrics = tuple(
        compare_metric(_values(base, m), _values(new, m), m, label, alpha=alpha)
        for m, label in COMPARED_METRICS
    )
    return ScopeChange(env, flow, len(base), len(new), _error_rate(base), _error_rate(new), metrics)


def _keys(base: RunData, new: RunData) -> list[tuple[str, str]]:
    envs = list(dict.fromkeys([*base.envs, *new.envs, *(r.env for r in base.records),
                               *(r.env for r in new.records)]))  # fmt: skip
    flows = sorted({(r.env, r.flow) for r in (*base.records, *new.records)})
    keys = [(ALL, ALL)] + [(env, ALL) for env in envs]
    return keys + [k for env in envs for k in flows if k[0] == env]


def compare_runs(base: RunData, new: RunData, *, alpha: float = 0.05) -> RunComparison:
    """Compare every scope: all streams, each env, each (env, flow) seen in either run."""

    def pick(run: RunData, env: str, flow: str) -> list[StreamRecord]:
        return [r for r in run.records if env in (ALL, r.env) and flow in (ALL, r.flow)]

    scopes = tuple(
        _scope(env, flow, pick(base, env, flow), pick(new, env, flow), alpha)
        for env, flow in _keys(base, new)
    )
    return RunComparison(base, new, alpha, scopes)
