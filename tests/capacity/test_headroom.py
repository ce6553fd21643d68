"""Headroom against the 300 s execution limit, per step."""

from __future__ import annotations

import pytest

from harness.capacity import CapacityError, StepResult, headroom_by_step
from tests.capacity_data import block, make_step


def _limit_step(
    index: int, load: float, used_p99: float, used_max: float, exceeded: int = 0
) -> StepResult:
    stats = block(streams_per_s=1, duration_ms=1000, ttfi_p95_ms=100)
    stats["limit_used"] = {**stats["limit_used"], "p99": used_p99, "max": used_max}
    stats["outcomes"] = {**stats["outcomes"], "limit_exceeded": exceeded}
    return make_step(index, load, "users", stats)


def test_headroom_per_step_with_risk_flags() -> None:
    rows = headroom_by_step(
        [
            _limit_step(2, 40, 0.85, 1.02, exceeded=3),
            _limit_step(0, 10, 0.2, 0.3),
            _limit_step(1, 20, 0.5, 0.81),
        ]
    )
    assert [r.load for r in rows] == [10, 20, 40]
    assert [r.at_risk for r in rows] == [False, True, True]
    assert rows[0].headroom == pytest.approx(0.7)
    assert rows[2].limit_exceeded == 3
    assert rows[0].describe(300) == "p99 20% / max 30% of the 300 s limit"
    assert rows[2].describe(300).endswith("; 3 stream(s) exceeded it")
    assert rows[1].to_json()["limit_used_p99"] == 0.5


def test_warn_threshold_is_configurable() -> None:
    rows = headroom_by_step([_limit_step(0, 10, 0.2, 0.3)], warn_at=0.25)
    assert rows[0].at_risk


def test_a_step_without_duration_data_has_no_headroom() -> None:
    (row,) = headroom_by_step([make_step(0, 5, "users", {"streams": 0})])
    assert (row.used_max, row.used_p99, row.headroom, row.at_risk) == (None, None, None, False)
    assert row.describe(300) == "no duration data"


@pytest.mark.parametrize("warn_at", [0.0, 1.5, float("nan")])
def test_warn_at_must_be_a_fraction(warn_at: float) -> None:
    with pytest.raises(CapacityError, match="warn_at must be in"):
        headroom_by_step([], warn_at=warn_at)
