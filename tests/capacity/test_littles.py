"""Little's law: concurrency ~ throughput x mean duration, per step."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capacity import CapacityError, check_littles_law, in_flight
from tests.capacity_data import arrival_rate, block, closed_loop, make_step


def test_a_busy_closed_loop_obeys_littles_law() -> None:
    checks = check_littles_law(closed_loop([5, 10, 20, 40, 80], slots=15))
    assert [c.load for c in checks] == [5, 10, 20, 40, 80]
    assert all(c.consistent for c in checks)
    assert all(c.gap == pytest.approx(0.0, abs=1e-9) for c in checks)
    assert [c.in_flight for c in checks] == pytest.approx([5, 10, 20, 40, 80])


def test_idle_users_show_as_a_negative_gap() -> None:
    # 10 users, but only 1 stream/s of 2 s each: 2 in flight, users idle 80 % of the time.
    step = make_step(0, 10, "users", block(streams_per_s=1.0, duration_ms=2000, ttfi_p95_ms=100))
    (check,) = check_littles_law([step])
    assert check.in_flight == pytest.approx(2.0)
    assert check.gap == pytest.approx(-0.8)
    assert check.consistent is False
    assert check.to_json()["gap"] == pytest.approx(-0.8)


def test_tolerance_decides_consistency() -> None:
    step = make_step(0, 10, "users", block(streams_per_s=5.5, duration_ms=2000, ttfi_p95_ms=100))
    assert check_littles_law([step], tolerance=0.15)[0].consistent is True
    assert check_littles_law([step], tolerance=0.05)[0].consistent is False


def test_arrival_rate_steps_report_streams_in_flight_only() -> None:
    checks = check_littles_law(arrival_rate([1, 2, 8], slots=10, service_s=2.0))
    assert [c.in_flight for c in checks][:2] == pytest.approx([2.0, 4.0])
    assert all(c.gap is None and c.consistent is None for c in checks)


def test_missing_figures_cannot_be_judged() -> None:
    step = make_step(0, 10, "users", {"streams": 0})
    assert in_flight(step) is None
    (check,) = check_littles_law([step])
    assert (check.in_flight, check.gap, check.consistent) == (None, None, None)


@pytest.mark.parametrize("tolerance", [0.0, -0.1, float("nan")])
def test_tolerance_must_be_positive(tolerance: float) -> None:
    with pytest.raises(CapacityError, match="tolerance must be > 0"):
        check_littles_law([], tolerance=tolerance)


@settings(max_examples=100, deadline=None)
@given(users=st.integers(1, 500), duration_s=st.floats(0.01, 300))
def test_law_holds_for_any_fully_busy_step(users: int, duration_s: float) -> None:
    stats = block(
        streams_per_s=users / duration_s,
        duration_ms=duration_s * 1000,
        ttfi_p95_ms=1,
        elapsed_s=600,  # long enough for >= 2 streams at 1 user x 300 s
    )
    (check,) = check_littles_law([make_step(0, users, "users", stats)])
    assert check.gap == pytest.approx(0.0, abs=1e-9)
