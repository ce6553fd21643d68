"""Tests of harness.gates.regression: regression tests in the bad direction only."""

from __future__ import annotations

import random

import pytest

from harness.gates import parse_gate
from harness.gates.regression import MIN_SAMPLES, regression_test

ALPHA = 0.05


def lognormal(seed: int, n: int, scale: float = 1.0) -> list[float]:
    rng = random.Random(seed)
    return [scale * rng.lognormvariate(5.0, 0.4) for _ in range(n)]


@pytest.mark.parametrize("stat", ["p50", "p95", "mean", "max"])
def test_slower_new_run_is_a_regression_for_an_upper_bound(stat: str) -> None:
    gate = parse_gate(f"ttfi.{stat} <= baseline * 1.05 significant")
    test = regression_test(gate, lognormal(1, 300), lognormal(2, 300, 1.6), alpha=ALPHA)
    assert test.regressed is True, test.detail
    assert "significant" in test.detail


@pytest.mark.parametrize("stat", ["p50", "p95", "mean"])
def test_faster_new_run_is_not_a_regression_for_an_upper_bound(stat: str) -> None:
    gate = parse_gate(f"ttfi.{stat} <= baseline * 1.05 significant")
    test = regression_test(gate, lognormal(1, 300), lognormal(2, 300, 0.6), alpha=ALPHA)
    assert test.regressed is False, test.detail
    assert "not a significant regression" in test.detail


def test_direction_follows_the_operator() -> None:
    # For a lower bound (bigger is better) a drop is the regression.
    gate = parse_gate("duration.p50 >= baseline * 0.95 significant")
    assert regression_test(gate, lognormal(1, 300), lognormal(2, 300, 0.6), alpha=ALPHA).regressed
    rose = regression_test(gate, lognormal(1, 300), lognormal(2, 300, 1.6), alpha=ALPHA)
    assert rose.regressed is False


def test_same_distribution_is_not_significant() -> None:
    gate = parse_gate("ttfi.p50 <= baseline significant")
    test = regression_test(gate, lognormal(5, 200), lognormal(6, 200), alpha=ALPHA)
    assert test.regressed is False


def test_too_few_values_cannot_be_tested() -> None:
    gate = parse_gate("ttfi.p95 <= baseline significant")
    few = lognormal(1, MIN_SAMPLES - 1)
    test = regression_test(gate, few, lognormal(2, 100), alpha=ALPHA)
    assert test.regressed is None
    assert "cannot be tested" in test.detail
    assert regression_test(gate, lognormal(2, 100), few, alpha=ALPHA).regressed is None


def test_deterministic() -> None:
    gate = parse_gate("ttfi.p99 <= baseline significant")
    base, new = lognormal(1, 100), lognormal(2, 100, 1.2)
    assert regression_test(gate, base, new, alpha=ALPHA) == regression_test(
        gate, base, new, alpha=ALPHA
    )
