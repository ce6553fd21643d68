"""Is a change between two runs real? Pure statistics on per-stream samples.

Two complementary tests, both on raw per-stream values (never on percentiles of percentiles):

- :func:`compare_samples`: the Mann-Whitney U test (rank-sum), two-sided. It asks "do values of
  one run tend to be larger than the other's", makes no assumption about the shape of the
  distributions (latencies are skewed and heavy-tailed), and is robust to outliers. Exact p-value
  for small samples without ties, normal approximation with tie correction otherwise.
- :func:`percentile_change`: a bootstrap confidence interval of the difference of one percentile
  (new - base). A tail can move while the middle does not; U cannot see that, the interval can.
  It also carries a p-value (normal approximation from the bootstrap standard error), so that
  it can take part in a correction for multiple comparisons.
- :func:`adjust_p_values`: Holm (family-wise error) or Benjamini-Hochberg (false discovery rate)
  adjusted p-values. Comparing two runs makes dozens of tests; at alpha = 0.05 each, a few are
  "significant" by chance alone unless the family is corrected.

All are deterministic (seeded) so a gate decision replays exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from harness.errors import FlowloadError

EXACT_MAX_CELLS = 2500  # n_base * n_new up to which the exact U distribution is computed
BOOTSTRAP_CHUNK = 128  # resamples drawn at once: bounds memory at chunk * n floats
# Nearest rank (the smallest value with at least q of the sample at or below it): the same
# definition as the summary's histogram percentiles, so both sides of a report agree.
QUANTILE_METHOD: Final = "inverted_cdf"


Correction = Literal["holm", "bh"]
CORRECTIONS: tuple[Correction, ...] = ("holm", "bh")


class SignificanceError(FlowloadError):
    """Samples or parameters a test cannot work with."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """The Mann-Whitney U comparison of two samples (``base`` then ``new``).

    ``effect`` is the relative change of the median (``new / base - 1``; NaN when the base median
    is 0). ``superiority`` is P(new > base) + P(tie) / 2: 0.5 means no shift, above 0.5 means new
    values tend to be larger (slower, for a latency).
    """

    base_n: int
    new_n: int
    base_median: float
    new_median: float
    effect: float
    superiority: float
    u_statistic: float
    p_value: float
    alpha: float
    significant: bool
    method: str


@dataclass(frozen=True, slots=True)
class PercentileChange:
    """A percentile in both runs, their difference and its bootstrap confidence interval.

    ``significant`` is True when the interval excludes 0. ``p_value`` is two-sided, from the
    normal approximation ``diff / bootstrap standard error`` (continuous, unlike a count of
    resamples, so that it can be corrected for many tests).
    """

    q: float
    base: float
    new: float
    diff: float
    ci_low: float
    ci_high: float
    confidence: float
    significant: bool
    p_value: float = math.nan

    @property
    def relative(self) -> float:
        """``new / base - 1`` (NaN when ``base`` is 0)."""
        return self.new / self.base - 1.0 if self.base else math.nan


def _checked(name: str, values: Sequence[float]) -> list[float]:
    data = [float(v) for v in values]
    if not data:
        raise SignificanceError(f"{name} sample is empty: at least one value is needed")
    if not all(math.isfinite(v) for v in data):
        raise SignificanceError(f"{name} sample has NaN or infinite values: drop them first")
    return data


def _ranks(values: list[float]) -> tuple[list[float], float]:
    """Average ranks (1-based) of ``values`` and the tie term sum(t^3 - t)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    tie_term = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        average = (i + j + 2) / 2.0
        for k in range(i, j + 1):
            ranks[order[k]] = average
        size = j - i + 1
        tie_term += size**3 - size
        i = j + 1
    return ranks, tie_term


def _exact_counts(m: int, n: int) -> list[int]:
    """Number of orderings giving each U in 0..m*n: the Gaussian binomial [m+n choose m]_q."""
    poly = [1]
    for i in range(1, m + 1):
        # multiply by (1 - q^(n+i)), then divide by (1 - q^i): both exact on integers.
        shift = n + i
        grown = poly + [0] * shift
        for k in range(len(grown) - 1, shift - 1, -1):
            grown[k] -= grown[k - shift]
        for k in range(i, len(grown)):
            grown[k] += grown[k - i]
        poly = grown[: m * n + 1]
    return poly + [0] * (m * n + 1 - len(poly))


def _exact_p(u: float, m: int, n: int) -> float:
    counts = _exact_counts(m, n)
    total = sum(counts)
    k = round(u)
    low = sum(counts[: k + 1]) / total
    high = sum(counts[k:]) / total
    return min(1.0, 2.0 * min(low, high))


def mann_whitney_u(base: Sequence[float], new: Sequence[float]) -> tuple[float, float, str]:
    """Two-sided Mann-Whitney U test: ``(U of new, p-value, method)``.

    ``method`` is ``"exact"`` (no ties and ``len(base) * len(new) <= EXACT_MAX_CELLS``) or
    ``"normal"`` (normal approximation with tie and continuity corrections).
    """
    a = _checked("base", base)
    b = _checked("new", new)
    m, n = len(a), len(b)
    ranks, tie_term = _ranks(a + b)
    u_new = sum(ranks[m:]) - n * (n + 1) / 2.0
    if tie_term == 0 and m * n <= EXACT_MAX_CELLS:
        return u_new, _exact_p(u_new, m, n), "exact"
    total = m + n
    variance = m * n / 12.0 * ((total + 1) - tie_term / (total * (total - 1)))
    if variance <= 0:  # every value equal: nothing to tell the runs apart
        return u_new, 1.0, "normal"
    z = max(0.0, abs(u_new - m * n / 2.0) - 0.5) / math.sqrt(variance)
    return u_new, min(1.0, math.erfc(z / math.sqrt(2.0))), "normal"


def compare_samples(
    base: Sequence[float], new: Sequence[float], *, alpha: float = 0.05
) -> Comparison:
    """Compare two samples with the Mann-Whitney U test; significant when ``p < alpha``."""
    if not 0.0 < alpha < 1.0:
        raise SignificanceError(f"alpha must be between 0 and 1 (exclusive), got {alpha}")
    a = _checked("base", base)
    b = _checked("new", new)
    u_new, p_value, method = mann_whitney_u(a, b)
    base_median = float(np.quantile(a, 0.5, method=QUANTILE_METHOD))
    new_median = float(np.quantile(b, 0.5, method=QUANTILE_METHOD))
    return Comparison(
        base_n=len(a),
        new_n=len(b),
        base_median=base_median,
        new_median=new_median,
        effect=new_median / base_median - 1.0 if base_median else math.nan,
        superiority=u_new / (len(a) * len(b)),
        u_statistic=u_new,
        p_value=p_value,
        alpha=alpha,
        significant=p_value < alpha,
        method=method,
    )


def _bootstrap_quantiles(
    data: np.ndarray, qs: Sequence[float], resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """``resamples`` x ``len(qs)`` quantiles of resamples drawn with replacement from ``data``."""
    out = np.empty((resamples, len(qs)))
    done = 0
    while done < resamples:
        size = min(BOOTSTRAP_CHUNK, resamples - done)
        picks = data[rng.integers(0, len(data), size=(size, len(data)))]
        out[done : done + size] = np.quantile(picks, qs, axis=1, method=QUANTILE_METHOD).T
        done += size
    return out


def percentile_changes(
    base: Sequence[float],
    new: Sequence[float],
    qs: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> list[PercentileChange]:
    """Percentiles ``qs`` (fractions 0..1) of both samples, each with a bootstrap interval.

    Percentile bootstrap: each run is resampled with replacement, independently, and every
    percentile is read from the same resamples; an interval is the central ``confidence`` share of
    the resampled differences ``new - base``. Seeded: same input, same answer.
    """
    if not qs or not all(0.0 <= q <= 1.0 for q in qs):
        raise SignificanceError(f"qs must be fractions between 0 and 1, got {list(qs)}")
    if not 0.0 < confidence < 1.0:
        raise SignificanceError(f"confidence must be between 0 and 1, got {confidence}")
    if resamples < 100:
        raise SignificanceError(f"resamples must be at least 100, got {resamples}")
    a = np.asarray(_checked("base", base))
    b = np.asarray(_checked("new", new))
    rng = np.random.default_rng(seed)
    diffs = _bootstrap_quantiles(b, qs, resamples, rng) - _bootstrap_quantiles(
        a, qs, resamples, rng
    )
    tail = (1.0 - confidence) / 2.0
    lows, highs = np.quantile(diffs, [tail, 1.0 - tail], axis=0)
    errors = np.std(diffs, axis=0, ddof=1)
    base_qs = np.quantile(a, qs, method=QUANTILE_METHOD)
    new_qs = np.quantile(b, qs, method=QUANTILE_METHOD)
    return [
        PercentileChange(
            q=float(q),
            base=float(base_qs[i]),
            new=float(new_qs[i]),
            diff=float(new_qs[i] - base_qs[i]),
            ci_low=float(lows[i]),
            ci_high=float(highs[i]),
            confidence=confidence,
            significant=bool(lows[i] > 0.0 or highs[i] < 0.0),
            p_value=_normal_p(float(new_qs[i] - base_qs[i]), float(errors[i])),
        )
        for i, q in enumerate(qs)
    ]


def _normal_p(diff: float, error: float) -> float:
    """Two-sided p of ``diff`` with standard error ``error`` (no spread: 1 if no change, else 0)."""
    if error <= 0.0 or not math.isfinite(error):
        return 1.0 if diff == 0.0 else 0.0
    return min(1.0, math.erfc(abs(diff) / error / math.sqrt(2.0)))


def adjust_p_values(p_values: Sequence[float], method: Correction = "holm") -> list[float]:
    """Adjusted p-values of a family of tests, in the input order.

    ``holm``: Holm's step-down method; rejecting every adjusted p < alpha keeps the chance of
    *any* false alarm below alpha (family-wise error), whatever the dependence between tests.
    ``bh``: Benjamini-Hochberg's step-up method; keeps the expected share of false alarms among
    the reported changes below alpha (false discovery rate; exact for independent or positively
    dependent tests). When nothing changed at all, both bound the chance of any false alarm.
    """
    if method not in CORRECTIONS:
        raise SignificanceError(
            f"unknown correction {method!r}; choose one of {', '.join(CORRECTIONS)}"
        )
    ps = [float(p) for p in p_values]
    if not all(0.0 <= p <= 1.0 for p in ps):
        raise SignificanceError("p-values must be between 0 and 1")
    m = len(ps)
    order = sorted(range(m), key=ps.__getitem__)
    adjusted = [0.0] * m
    if method == "holm":
        running = 0.0
        for rank, i in enumerate(order):  # smallest first, multiplied by m, m-1, ...
            running = max(running, min(1.0, (m - rank) * ps[i]))
            adjusted[i] = running
        return adjusted
    running = 1.0
    for rank in range(m - 1, -1, -1):  # largest first, multiplied by m / rank
        i = order[rank]
        running = min(running, m / (rank + 1) * ps[i])
        adjusted[i] = running
    return adjusted


def percentile_change(
    base: Sequence[float],
    new: Sequence[float],
    q: float,
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> PercentileChange:
    """One percentile ``q`` (0..1) of both samples and a bootstrap interval of ``new - base``."""
    return percentile_changes(
        base, new, [q], confidence=confidence, resamples=resamples, seed=seed
    )[0]
