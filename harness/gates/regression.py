"""Regression gates that require significance: is a breached baseline threshold a real change.

A gate such as ``ttfi.p95 <= baseline * 1.10 significant`` fails only when the threshold is
breached *and* the per-stream values of both runs (``streams.jsonl``) show a significant change in
the bad direction. Percentile gates use a bootstrap interval of the percentile's change (a tail
can move while the middle stays put); ``mean``, ``min`` and ``max`` use the Mann-Whitney U test.
The statistics themselves live in :mod:`harness.stats.significance`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.criteria.grammar import Gate
from harness.criteria.vocabulary import format_value
from harness.stats.significance import compare_samples, percentile_change

__all__ = ["MIN_SAMPLES", "RegressionTest", "regression_test"]

MIN_SAMPLES = 5  # per run; fewer per-stream values cannot show a significant change


@dataclass(frozen=True, slots=True)
class RegressionTest:
    """``regressed``: True (significant change for the worse), False (not), None (cannot tell)."""

    regressed: bool | None
    detail: str


def _signed(value: float, gate: Gate) -> str:
    text = format_value(abs(value), gate.metric.kind, gate.threshold.unit)
    return f"{'-' if value < 0 else '+'}{text}"


def regression_test(
    gate: Gate, base: Sequence[float], new: Sequence[float], *, alpha: float
) -> RegressionTest:
    """Test whether ``new`` is significantly worse than ``base`` for ``gate``'s statistic."""
    if len(base) < MIN_SAMPLES or len(new) < MIN_SAMPLES:
        return RegressionTest(
            None,
            f"significance cannot be tested: {len(base)} baseline and {len(new)} new per-stream "
            f"values (at least {MIN_SAMPLES} each needed in streams.jsonl)",
        )
    worse_when_higher = bool(gate.op.lower_is_better)
    stat = str(gate.metric.stat)
    if stat.startswith("p"):
        change = percentile_change(base, new, float(stat[1:]) / 100.0, confidence=1.0 - alpha)
        regressed = change.ci_low > 0.0 if worse_when_higher else change.ci_high < 0.0
        interval = (
            f"{change.confidence:.0%} CI [{_signed(change.ci_low, gate)}, "
            f"{_signed(change.ci_high, gate)}]"
        )
        verdict = "significant" if regressed else "not a significant regression"
        return RegressionTest(
            regressed, f"{stat} change {_signed(change.diff, gate)}, {interval}: {verdict}"
        )
    comparison = compare_samples(base, new, alpha=alpha)
    shifted_up = comparison.superiority > 0.5
    regressed = comparison.significant and shifted_up == worse_when_higher
    verdict = "significant" if regressed else "not a significant regression"
    return RegressionTest(
        regressed,
        f"Mann-Whitney U p={comparison.p_value:.3g} (alpha {alpha:g}), "
        f"P(new > base)={comparison.superiority:.2f}: {verdict}",
    )
