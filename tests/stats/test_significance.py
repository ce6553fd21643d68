"""harness.stats.significance: Mann-Whitney U against a brute-force oracle, bootstrap, BH/Holm."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.stats.significance import (
    SignificanceError,
    adjust_p_values,
    compare_samples,
    mann_whitney_u,
    percentile_change,
    percentile_changes,
)


def brute_force_p(base: list[float], new: list[float]) -> float:
    """Two-sided exact p by enumerating every split of the pooled values (the definition)."""
    pooled = base + new
    m = len(base)

    def u_of(new_idx: set[int]) -> float:
        b = [pooled[i] for i in range(len(pooled)) if i not in new_idx]
        n = [pooled[i] for i in new_idx]
        return sum((x > y) + 0.5 * (x == y) for x in n for y in b)

    observed = u_of(set(range(m, len(pooled))))
    us = [u_of(set(c)) for c in itertools.combinations(range(len(pooled)), len(new))]
    low = sum(u <= observed for u in us) / len(us)
    high = sum(u >= observed for u in us) / len(us)
    return min(1.0, 2 * min(low, high))


distinct_pairs = st.lists(
    st.integers(min_value=-1000, max_value=1000), min_size=2, max_size=11, unique=True
).flatmap(lambda xs: st.tuples(st.just(xs), st.integers(min_value=1, max_value=len(xs) - 1)))


@settings(max_examples=60, deadline=None)
@given(distinct_pairs)
def test_exact_p_matches_enumeration(pair: tuple[list[int], int]) -> None:
    values, cut = pair
    base, new = [float(v) for v in values[:cut]], [float(v) for v in values[cut:]]
    u, p, method = mann_whitney_u(base, new)
    assert method == "exact"
    assert u == sum(x > y for x in new for y in base)
    assert p == pytest.approx(brute_force_p(base, new), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40),
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40),
)
def test_p_is_a_probability_and_symmetric(base: list[float], new: list[float]) -> None:
    u_ab, p_ab, _ = mann_whitney_u(base, new)
    u_ba, p_ba, _ = mann_whitney_u(new, base)
    assert 0.0 <= p_ab <= 1.0
    assert p_ab == pytest.approx(p_ba, abs=1e-12)
    assert u_ab + u_ba == pytest.approx(len(base) * len(new))


def test_normal_approximation_is_close_to_exact_for_moderate_samples() -> None:
    rng = random.Random(11)
    for shift in (0.0, 0.3, 0.8):
        base = [rng.gauss(0, 1) for _ in range(45)]
        new = [rng.gauss(shift, 1) for _ in range(55)]
        exact = mann_whitney_u(base, new)  # 45 * 55 = 2475 cells: exact
        assert exact[2] == "exact"
        # A tie forces the normal approximation without moving U by more than a half.
        tied = mann_whitney_u([*base, base[0]], [*new, base[0]])
        assert tied[2] == "normal"
        assert tied[1] == pytest.approx(exact[1], abs=0.03)


def test_identical_samples_are_not_significant() -> None:
    rng = random.Random(1)
    sample = [rng.lognormvariate(6, 0.4) for _ in range(300)]
    result = compare_samples(sample, sample)
    assert result.p_value == pytest.approx(1.0)
    assert not result.significant
    assert result.superiority == pytest.approx(0.5)
    assert result.effect == 0.0


def test_a_30_percent_shift_is_significant() -> None:
    rng = random.Random(2)
    base = [400 * rng.lognormvariate(0, 0.35) for _ in range(150)]
    new = [1.3 * 400 * rng.lognormvariate(0, 0.35) for _ in range(150)]
    result = compare_samples(base, new)
    assert result.significant
    assert result.p_value < 1e-4
    assert result.superiority > 0.6
    assert 0.15 < result.effect < 0.45
    assert result.method == "normal"


def test_same_distribution_different_draws_mostly_not_significant() -> None:
    rng = random.Random(3)
    hits = 0
    for _ in range(100):
        base = [rng.expovariate(1.0) for _ in range(40)]
        new = [rng.expovariate(1.0) for _ in range(40)]
        hits += compare_samples(base, new).significant
    assert hits <= 12  # alpha = 0.05: about 5 of 100 false alarms expected


def test_small_samples_cannot_be_significant() -> None:
    # Three against three: the smallest possible two-sided p is 0.1.
    result = compare_samples([1.0, 2.0, 3.0], [10.0, 20.0, 30.0])
    assert result.p_value == pytest.approx(0.1)
    assert not result.significant


def test_percentile_change_interval_brackets_the_difference_and_flags_a_shift() -> None:
    rng = random.Random(4)
    base = [400 * rng.lognormvariate(0, 0.35) for _ in range(400)]
    new = [1.3 * v for v in base]
    change = percentile_change(base, new, 0.95)
    assert change.significant
    assert change.ci_low <= change.diff <= change.ci_high
    assert change.relative == pytest.approx(0.3, abs=1e-9)


def test_percentile_change_of_identical_samples_includes_zero() -> None:
    rng = random.Random(5)
    base = [rng.gauss(100, 10) for _ in range(300)]
    for change in percentile_changes(base, list(base), [0.5, 0.95, 0.99]):
        assert change.diff == 0.0
        assert change.ci_low <= 0.0 <= change.ci_high
        assert not change.significant


def test_percentile_change_is_deterministic_for_a_seed() -> None:
    rng = random.Random(6)
    base = [rng.random() for _ in range(100)]
    new = [rng.random() for _ in range(100)]
    first = percentile_change(base, new, 0.5, seed=9)
    assert first == percentile_change(base, new, 0.5, seed=9)
    assert first != percentile_change(base, new, 0.5, seed=10)


def test_percentiles_are_nearest_rank() -> None:
    change = percentile_change([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0], 0.5)
    assert (change.base, change.new) == (2.0, 20.0)


@pytest.mark.parametrize(
    ("base", "new", "kwargs", "message"),
    [
        ([], [1.0], {}, "base sample is empty"),
        ([1.0], [math.nan], {}, "NaN or infinite"),
        ([1.0], [2.0], {"alpha": 1.5}, "alpha must be"),
    ],
)
def test_bad_input_is_a_typed_error(
    base: list[float], new: list[float], kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(SignificanceError, match=message):
        compare_samples(base, new, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"q": 1.5}, "fractions between 0 and 1"),
        ({"q": 0.5, "confidence": 1.0}, "confidence must be"),
        ({"q": 0.5, "resamples": 10}, "at least 100"),
    ],
)
def test_bad_bootstrap_parameters_are_typed_errors(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(SignificanceError, match=message):
        percentile_change([1.0, 2.0], [3.0, 4.0], **kwargs)  # type: ignore[arg-type]


# --- corrections for multiple comparisons ---------------------------------------------------


def test_holm_and_bh_on_a_worked_example() -> None:
    ps = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005x4, 0.01x3, 0.03x2, 0.04x1, then running maximum.
    assert adjust_p_values(ps, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Benjamini-Hochberg: p x m / rank, then running minimum from the largest.
    assert adjust_p_values(ps, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])


def _holm_by_definition(ps: list[float], alpha: float) -> set[int]:
    """Holm's procedure as written: reject while p_(k) <= alpha / (m - k)."""
    rejected: set[int] = set()
    for k, i in enumerate(sorted(range(len(ps)), key=lambda j: (ps[j], j))):
        if ps[i] > alpha / (len(ps) - k):
            break
        rejected.add(i)
    return rejected


def _bh_by_definition(ps: list[float], alpha: float) -> set[int]:
    """Benjamini-Hochberg as written: reject the k smallest, k the largest with p_(k) <= k a / m."""
    order = sorted(range(len(ps)), key=lambda j: (ps[j], j))
    k = max((r + 1 for r, i in enumerate(order) if ps[i] <= (r + 1) * alpha / len(ps)), default=0)
    return set(order[:k])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30),
    st.sampled_from([0.01, 0.05, 0.1]),
)
def test_adjusted_p_values_reject_what_the_procedures_reject(ps: list[float], alpha: float) -> None:
    holm, bh = adjust_p_values(ps, "holm"), adjust_p_values(ps, "bh")
    assert {i for i, p in enumerate(holm) if p <= alpha} == _holm_by_definition(ps, alpha)
    assert {i for i, p in enumerate(bh) if p <= alpha} == _bh_by_definition(ps, alpha)
    for raw, h, b in zip(ps, holm, bh, strict=True):
        assert raw <= b <= h <= 1.0  # BH is never stricter than Holm
        assert h <= min(1.0, len(ps) * raw) + 1e-12  # nor Holm than Bonferroni


def test_bad_p_values_or_method_are_typed_errors() -> None:
    with pytest.raises(SignificanceError, match="unknown correction"):
        adjust_p_values([0.5], "bonferroni")  # type: ignore[arg-type]
    with pytest.raises(SignificanceError, match="between 0 and 1"):
        adjust_p_values([1.5])


def test_percentile_p_value_follows_the_interval() -> None:
    rng = random.Random(7)
    base = [400 * rng.lognormvariate(0, 0.35) for _ in range(400)]
    shifted = percentile_changes(base, [1.3 * v for v in base], [0.5, 0.95])
    same = percentile_changes(base, list(base), [0.5, 0.95])
    median, tail = shifted
    assert median.p_value < 1e-6
    assert tail.significant  # the 95 % interval excludes 0, and so p < 0.05
    assert tail.p_value < 0.05
    for change in same:
        assert change.p_value == 1.0
