"""harness.config.capacity_table: the [capacity] table typed, its rules, and its errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.capacity.load_plan import QUICK_STEPS, load_plan
from harness.config.capacity_table import (
    DEFAULT_STEPS,
    CapacitySettings,
    LoadMode,
    read_capacity_table,
)
from harness.errors import ConfigError


def test_an_empty_table_gives_the_defaults() -> None:
    settings = read_capacity_table({})
    assert settings == CapacitySettings()
    assert (settings.mode, settings.steps, settings.slo) == (LoadMode.STEPPED, DEFAULT_STEPS, None)


def test_a_full_table_is_read_typed() -> None:
    table: dict[str, Any] = {
        "mode": "arrival",
        "steps": [0.5, 2, 4],
        "step_s": 30,
        "settle_s": 5,
        "spawn_rate": 50,
        "max_in_flight": 200,
        "slo": {"ttfi_p95_ms": 800, "Production": {"error_rate": "< 1%"}},
    }
    settings = read_capacity_table(table)
    assert settings.mode is LoadMode.ARRIVAL
    assert settings.steps == (0.5, 2.0, 4.0)
    assert (settings.step_s, settings.settle_s, settings.spawn_rate) == (30.0, 5.0, 50.0)
    assert settings.max_in_flight == 200
    assert settings.slo == table["slo"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"mode": "steps"}, "mode 'steps' is not valid; valid: stepped, arrival"),
        ({"steps": []}, "give at least one step"),
        ({"steps": [1, -2]}, "every step must be a number > 0"),
        ({"steps": [1.5]}, "stepped mode counts users"),
        ({"steps": "5,10"}, "must be a list of numbers"),
        ({"step_s": 10, "settle_s": 10}, "settle_s must be >= 0 and shorter than step_s"),
        ({"max_in_flight": 1.5}, "max_in_flight must be a whole number"),
        ({"spawn_rate": True}, "spawn_rate must be a number"),
        ({"stepz": [1]}, "unknown key(s) stepz"),
        ({"slo": {"ttfi_p95_ms": "fast"}}, "SLO 'ttfi_p95_ms fast'"),
    ],
)
def test_bad_tables_say_what_is_wrong(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_capacity_table(table)
    assert message in str(caught.value)


@given(
    st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=8),
    st.integers(min_value=2, max_value=600),
)
def test_every_valid_table_makes_a_plan_of_its_steps(steps: list[int], step_s: int) -> None:
    settings = read_capacity_table({"steps": steps, "step_s": step_s, "settle_s": 1})
    plan = load_plan(settings)
    assert plan.steps == tuple(float(s) for s in steps)
    assert plan.duration_s == step_s * len(steps)
    quick = load_plan(settings, quick=True)
    assert quick.duration_s == pytest.approx(150.0)
    assert quick.steps == (plan.steps if 3 <= len(steps) <= 5 else QUICK_STEPS)
