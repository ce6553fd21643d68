"""Saturation detection on synthetic step series: clear knees found, linear growth not."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.capacity import CapacityError, detect_saturation, usl_throughput
from tests.capacity_data import arrival_rate, block, closed_loop, linear, make_step

STEPS = [5, 10, 20, 40, 80]


@pytest.mark.parametrize("slots", [15, 55])
def test_k_slot_server_knee_is_found_near_k(slots: int) -> None:
    result = detect_saturation(closed_loop(STEPS, slots=slots))
    assert result.status == "found"
    assert result.estimated_load == pytest.approx(slots, rel=1e-9)
    assert result.knee is not None
    assert result.knee.prev_load < slots * 2
    assert result.max_throughput == pytest.approx(slots / 2.0)
    assert "throughput changed" in result.evidence()
    assert "ttfi.p95" in result.evidence()


@pytest.mark.parametrize(("slots", "seed"), [(15, 1), (15, 2), (55, 3), (55, 4), (30, 5)])
def test_knee_estimate_stays_within_20_percent_with_noise(slots: int, seed: int) -> None:
    steps = closed_loop([5, 10, 20, 30, 40, 60, 80, 120], slots=slots, noise=0.05, seed=seed)
    result = detect_saturation(steps)
    assert result.status == "found"
    assert result.estimated_load is not None
    assert abs(result.estimated_load - slots) <= 0.2 * slots
    assert result.confirmed


def test_fast_rejections_do_not_hide_the_knee() -> None:
    # K = 20 slots, queue 20, 2 s per stream: beyond 40 users the extra users get a 429 in
    # 10 ms and retry at once, so the raw stream rate soars while ok streams stay at K / 2 s.
    steps = []
    for i, n in enumerate([5, 10, 20, 40, 80, 160]):
        ok_rate = min(n, 20) / 2.0
        rejected_rate = max(0.0, n - 40) / 0.01
        total = ok_rate + rejected_rate
        stats = block(
            streams_per_s=total,
            duration_ms=2000.0 * max(1.0, min(n, 40) / 20),
            ttfi_p95_ms=200 + 2000.0 * max(0.0, min(n, 40) / 20 - 1),
            error_rate=rejected_rate / total,
        )
        steps.append(make_step(i, n, "users", stats))
    top, before = steps[-1].throughput, steps[2].throughput
    assert top is not None
    assert before is not None
    assert top > 100 * before
    result = detect_saturation(steps)
    assert result.status == "found"
    assert result.estimated_load == pytest.approx(20, rel=0.05)
    assert result.max_throughput == pytest.approx(10, rel=0.05)


def test_linear_growth_has_no_knee() -> None:
    result = detect_saturation(linear(STEPS))
    assert result.status == "not_found"
    assert result.knee is None
    assert "still grew with load up to 80" in result.reason
    assert [d.efficiency for d in result.deltas] == pytest.approx([1.0] * 4)


def test_a_plateau_without_latency_growth_points_at_the_load_generator() -> None:
    steps = [
        make_step(
            i, n, "users", block(streams_per_s=min(n, 20) / 2, duration_ms=2000, ttfi_p95_ms=200)
        )
        for i, n in enumerate(STEPS)
    ]
    result = detect_saturation(steps)
    assert result.status == "not_found"
    assert "load generator" in result.reason


def test_retrograde_throughput_is_a_knee() -> None:
    loads = [4, 8, 16, 32, 64, 128]
    steps = []
    for i, n in enumerate(loads):
        x = usl_throughput(n, 0.05, 0.002, 1.0)
        steps.append(
            make_step(
                i,
                n,
                "users",
                block(streams_per_s=x, duration_ms=n / x * 1000, ttfi_p95_ms=n / x * 100),
            )
        )
    result = detect_saturation(steps, latency=("duration_ms", "mean"))
    assert result.status == "found"
    assert result.latency_metric == "duration.mean"
    assert result.knee is not None
    assert result.knee.efficiency < 0.5
    assert result.deltas[-1].throughput_gain < 0  # retrograde at the top


def test_arrival_rate_steps_saturate_at_the_capacity_rate() -> None:
    result = detect_saturation(arrival_rate([1, 2, 4, 8, 16], slots=10, service_s=2.0))
    assert result.status == "found"
    assert result.estimated_load == pytest.approx(5.0)


def test_knee_at_the_last_step_is_not_confirmed() -> None:
    result = detect_saturation(closed_loop([5, 10, 20, 40], slots=20))
    assert result.status == "found"
    assert result.knee is not None
    assert result.knee.load == 40
    assert not result.confirmed


def test_steps_are_read_in_load_order_whatever_order_they_come_in() -> None:
    steps = closed_loop(STEPS, slots=15)
    assert detect_saturation(list(reversed(steps))) == detect_saturation(steps)


@pytest.mark.parametrize("loads", [[], [5], [5, 10]])
def test_fewer_than_three_steps_is_insufficient_data(loads: list[float]) -> None:
    result = detect_saturation(closed_loop(loads, slots=15))
    assert result.status == "insufficient_data"
    assert f"got {len(loads)}" in result.reason
    assert result.to_json()["knee"] is None


def test_steps_with_zero_throughput_do_not_count() -> None:
    idle = make_step(2, 20, "users", block(streams_per_s=0.0, duration_ms=0, ttfi_p95_ms=0))
    steps = [*closed_loop(STEPS[:2], slots=15), idle]
    assert detect_saturation(steps).status == "insufficient_data"


def test_missing_latency_means_no_knee_rather_than_a_crash() -> None:
    steps = [
        replace(s, stats={k: v for k, v in s.stats.items() if k != "ttfi_ms"})
        for s in closed_loop(STEPS, slots=15)
    ]
    result = detect_saturation(steps)
    assert result.status == "not_found"
    assert all(d.latency_growth is None for d in result.deltas)


@pytest.mark.parametrize(("flat", "climb"), [(0.0, 0.2), (1.0, 0.2), (0.3, -0.1)])
def test_invalid_thresholds_are_rejected(flat: float, climb: float) -> None:
    with pytest.raises(CapacityError, match="flat_efficiency"):
        detect_saturation(linear(STEPS), flat_efficiency=flat, latency_climb=climb)


@settings(max_examples=60, deadline=None)
@given(
    first=st.floats(1, 20),
    ratios=st.lists(st.floats(1.5, 3.0), min_size=2, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_linear_scaling_with_5_percent_noise_never_shows_a_knee(
    first: float, ratios: list[float], seed: int
) -> None:
    loads = list(first * np.cumprod([1.0, *ratios]))
    rng = np.random.default_rng(seed)
    steps = [
        make_step(
            i,
            n,
            "users",
            block(
                streams_per_s=n * 0.5 * rng.uniform(0.95, 1.05),
                duration_ms=2000 * rng.uniform(0.95, 1.05),
                ttfi_p95_ms=200 * rng.uniform(0.95, 1.05),
            ),
        )
        for i, n in enumerate(loads)
    ]
    assert detect_saturation(steps).status == "not_found"


@settings(max_examples=60, deadline=None)
@given(slots=st.floats(3, 400), first=st.floats(1, 3), growth=st.floats(1.5, 2.5))
def test_k_slot_server_knee_estimate_is_k_when_k_is_inside_the_steps(
    slots: float, first: float, growth: float
) -> None:
    loads = [first * growth**i for i in range(12)]
    # Keep K at or above the first step and at most the second-highest, so a flat step follows.
    loads = [n for n in loads if n <= slots * growth * growth] or loads[:3]
    assume(len(loads) >= 3 and loads[0] <= slots <= loads[-2])
    result = detect_saturation(closed_loop(loads, slots=slots))
    assert result.status == "found"
    assert result.estimated_load == pytest.approx(slots, rel=1e-6)
