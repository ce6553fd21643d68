"""Compare two runs per env and per (env, flow): percentile changes and whether they are real.

Significance comes from the per-stream records (``harness.stats.significance``): the Mann-Whitney U
test for a shift of the whole distribution, and bootstrap tests for each percentile's change.
A percentile is only tested when enough streams lie beyond it (``MIN_TAIL``); below that, its
change is shown but not judged.

A comparison makes many tests (every scope, metric and percentile). Two safeguards keep it from
crying wolf:

- the p-values of the whole comparison are corrected for multiple comparisons (Holm by default,
  or Benjamini-Hochberg), so that "nothing changed" is reported as such with probability at least
  1 - alpha, not at most a coin toss;
- a change is reported only when it is also large enough to matter: at least ``min_relative``
  of the base value *and* at least ``min_absolute_ms`` (with thousands of streams, a 0.2 ms shift
  of a 2 ms TTFB is significant and means nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from harness.report.errors import ReportError
from harness.results import RunData, StreamRecord
from harness.stats.significance import (
    CORRECTIONS,
    Comparison,
    Correction,
    PercentileChange,
    adjust_p_values,
    compare_samples,
    percentile_changes,
)

COMPARED_METRICS: tuple[tuple[str, str], ...] = (
    ("ttfi_ms", "TTFI"),
    ("ttfb_ms", "TTFB"),
    ("duration_ms", "Duration"),
    ("itl_p50_ms", "ITL (per-stream median)"),
)
QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)
MIN_TAIL = 5  # streams needed above a percentile (in each run) before its change is judged
ALL = "(all)"
NO_CHANGE = "no significant change"
SMALL = "below the minimum change"
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


class CompareError(ReportError):
    """Comparison settings that cannot be used."""


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """When a change is reported: significant after correction, and large enough to matter.

    A change counts when its corrected p-value is below ``alpha`` and it moves the statistic by
    at least ``min_relative`` (a fraction of the base value) and at least ``min_absolute_ms``.
    """

    alpha: float = 0.05
    correction: Correction = "holm"
    min_relative: float = 0.10
    min_absolute_ms: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise CompareError(f"alpha must be between 0 and 1 (exclusive), got {self.alpha:g}")
        if self.correction not in CORRECTIONS:
            raise CompareError(
                f"unknown correction {self.correction!r}; choose one of {', '.join(CORRECTIONS)}"
            )
        if not (self.min_relative >= 0.0 and self.min_absolute_ms >= 0.0):
            raise CompareError(
                "the minimum change must be >= 0 (relative and in ms), got "
                f"{self.min_relative:g} and {self.min_absolute_ms:g}"
            )

    def large_enough(self, base: float, new: float) -> bool:
        """Whether ``base → new`` moves by at least both minimums (any move from a base of 0)."""
        diff = abs(new - base)
        if diff < self.min_absolute_ms or diff == 0.0:
            return False
        return base == 0.0 or diff >= self.min_relative * abs(base)

    def rule(self) -> str:
        """The rule in words, e.g. ``Holm-corrected p < 0.05 and at least 10% and 10 ms``."""
        return (
            f"{CORRECTION_NAMES[self.correction]}-corrected p < {self.alpha:g} and a change of "
            f"at least {self.min_relative * 100:g}% and {self.min_absolute_ms:g} ms"
        )


@dataclass(frozen=True)
class MetricChange:
    """One metric in one scope: U test (None when a run has no sample) and percentile changes.

    ``judged[i]`` says whether ``percentiles[i]`` had enough samples to be tested. ``test_p`` and
    ``percentile_p`` are the p-values after the correction for multiple comparisons.
    """

    metric: str
    label: str
    base_n: int
    new_n: int
    test: Comparison | None
    percentiles: tuple[PercentileChange, ...]
    judged: tuple[bool, ...]
    test_p: float = math.nan
    percentile_p: tuple[float, ...] = ()
    options: CompareOptions = field(default_factory=CompareOptions)

    def raw_p_values(self) -> list[float]:
        """The uncorrected p-values of this metric's tests (U first, then judged percentiles)."""
        if self.test is None:
            return []
        judged = [p.p_value for p, ok in zip(self.percentiles, self.judged, strict=True) if ok]
        return [self.test.p_value, *judged]

    def corrected(self, adjusted: Sequence[float]) -> MetricChange:
        """This change with the corrected p-values (in the order of :meth:`raw_p_values`)."""
        if self.test is None:
            return replace(self, test_p=math.nan, percentile_p=())
        rest = iter(adjusted[1:])
        per = tuple(next(rest) if ok else math.nan for ok in self.judged)
        return replace(self, test_p=adjusted[0], percentile_p=per)

    def _counts(self, p_value: float, base: float, new: float) -> bool | None:
        """True: reported; None: significant but too small; False: not significant."""
        if not p_value < self.options.alpha:
            return False
        return True if self.options.large_enough(base, new) else None

    def percentile_verdicts(self) -> tuple[bool | None, ...]:
        """Per percentile: reported (True), significant but too small (None), or not (False)."""
        return tuple(
            self._counts(p_adj, p.base, p.new) if ok else False
            for p, ok, p_adj in zip(self.percentiles, self.judged, self.percentile_p, strict=True)
        )

    @property
    def verdict(self) -> str:
        """``slower``, ``faster``, ``tail slower (p99)``, ``below the minimum change``..."""
        test = self.test
        if test is None:
            return "not compared (no samples in one run)"
        shift = self._counts(self.test_p, test.base_median, test.new_median)
        up = test.superiority > 0.5
        if shift and (test.new_median > test.base_median) == up:
            return "slower" if up else "faster"
        verdicts = self.percentile_verdicts()
        moved = [p for p, v in zip(self.percentiles, verdicts, strict=True) if v]
        if moved:
            names = ", ".join(f"p{p.q * 100:g}" for p in moved)
            return f"tail {'slower' if moved[-1].diff > 0 else 'faster'} ({names})"
        if shift is not False or None in verdicts:
            return SMALL
        return NO_CHANGE

    @property
    def significant(self) -> bool:
        """True when the verdict reports a change (significant and large enough)."""
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
    """Two runs, the change of every scope they share (or not), and how far to trust it."""

    base: RunData
    new: RunData
    scopes: tuple[ScopeChange, ...]
    options: CompareOptions = field(default_factory=CompareOptions)
    tests: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def alpha(self) -> float:
        """The significance level of the whole comparison (after correction)."""
        return self.options.alpha

    def significant(self) -> list[tuple[ScopeChange, MetricChange]]:
        """Every (scope, metric) with a reported change."""
        return [(s, m) for s in self.scopes for m in s.metrics if m.significant]


def _values(records: Sequence[StreamRecord], metric: str) -> list[float]:
    return [v for r in records if (v := getattr(r, metric)) is not None]


def compare_metric(
    base: Sequence[float],
    new: Sequence[float],
    metric: str,
    label: str,
    *,
    options: CompareOptions | None = None,
    resamples: int = 500,
) -> MetricChange:
    """Compare one metric's samples (the U test and bootstrapped percentiles).

    The p-values are corrected within this metric's own tests; :func:`compare_runs` corrects
    them again over the whole comparison.
    """
    opts = options or CompareOptions()
    if not base or not new:
        return MetricChange(metric, label, len(base), len(new), None, (), (), options=opts)
    test = compare_samples(base, new, alpha=opts.alpha)
    changes = percentile_changes(
        base, new, QUANTILES, confidence=1.0 - opts.alpha, resamples=resamples, seed=len(base)
    )
    smaller = min(len(base), len(new))
    judged = tuple(smaller * (1.0 - q) >= MIN_TAIL for q in QUANTILES)
    change = MetricChange(
        metric, label, len(base), len(new), test, tuple(changes), judged, options=opts
    )
    return change.corrected(adjust_p_values(change.raw_p_values(), opts.correction))


def _error_rate(records: Sequence[StreamRecord]) -> float | None:
    return sum(r.outcome != "ok" for r in records) / len(records) if records else None


def _scope(
    env: str,
    flow: str,
    base: Sequence[StreamRecord],
    new: Sequence[StreamRecord],
    options: CompareOptions,
) -> ScopeChange:
    metrics = tuple(
        compare_metric(_values(base, m), _values(new, m), m, label, options=options)
        for m, label in COMPARED_METRICS
    )
    return ScopeChange(env, flow, len(base), len(new), _error_rate(base), _error_rate(new), metrics)


def _keys(base: RunData, new: RunData) -> list[tuple[str, str]]:
    envs = list(dict.fromkeys([*base.envs, *new.envs, *(r.env for r in base.records),
                               *(r.env for r in new.records)]))  # fmt: skip
    flows = sorted({(r.env, r.flow) for r in (*base.records, *new.records)})
    keys = [(ALL, ALL)] + [(env, ALL) for env in envs]
    return keys + [k for env in envs for k in flows if k[0] == env]


def _corrected(
    scopes: Sequence[ScopeChange], correction: Correction
) -> tuple[tuple[ScopeChange, ...], int]:
    """Every scope with its p-values corrected over the whole family; and the family's size."""
    raw = [p for s in scopes for m in s.metrics for p in m.raw_p_values()]
    adjusted = iter(adjust_p_values(raw, correction))
    out = []
    for scope in scopes:
        metrics = []
        for change in scope.metrics:
            mine = [next(adjusted) for _ in change.raw_p_values()]
            metrics.append(change.corrected(mine))
        out.append(replace(scope, metrics=tuple(metrics)))
    return tuple(out), len(raw)


def run_warnings(label: str, run: RunData) -> list[str]:
    """Why a run's figures may not describe the server, one sentence each."""
    info = run.run
    out = []
    if info.get("generator_saturated"):
        out.append(
            f"The {label} run's load generator was saturated (CPU, event-loop lag or waiting "
            "for a CPU): its latencies may describe the harness, not the server."
        )
    if info.get("interrupted"):
        out.append(f"The {label} run was interrupted before its planned end: it is partial.")
    if info.get("degraded") or info.get("lost_workers"):
        out.append(f"The {label} run lost worker(s) before their final report: counts are partial.")
    if info.get("rebuilt_from_records"):
        out.append(f"The {label} run's summary was rebuilt from its records (summary.json lost).")
    return out


def compare_runs(
    base: RunData, new: RunData, options: CompareOptions | None = None
) -> RunComparison:
    """Compare every scope: all streams, each env, each (env, flow) seen in either run."""
    opts = options or CompareOptions()

    def pick(run: RunData, env: str, flow: str) -> list[StreamRecord]:
        return [r for r in run.records if env in (ALL, r.env) and flow in (ALL, r.flow)]

    scopes = [
        _scope(env, flow, pick(base, env, flow), pick(new, env, flow), opts)
        for env, flow in _keys(base, new)
    ]
    corrected, tests = _corrected(scopes, opts.correction)
    warnings = run_warnings("base", base) + run_warnings("new", new)
    return RunComparison(base, new, corrected, opts, tests, tuple(warnings))
