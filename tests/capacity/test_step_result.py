"""Step results: reading summary ``steps`` entries, validation, ordering."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capacity import OVERALL, CapacityError, StepResult, step_from_dict, steps_by_env
from harness.capacity.step_result import ordered
from tests.capacity_data import block, closed_loop

BLOCK = block(streams_per_s=2.5, duration_ms=2000, ttfi_p95_ms=300)


def _entry(**extra: Any) -> dict[str, Any]:
    return {"step": 0, "started": "2026-01-01T00:00:00Z", "ended": "2026-01-01T00:01:00Z", **extra}


def test_a_flat_entry_is_its_own_stats_block() -> None:
    step = step_from_dict(_entry(users=10, **BLOCK))
    assert (step.step, step.load, step.load_kind) == (0, 10.0, "users")
    assert step.throughput == 2.5
    assert step.streams == 150
    assert step.stat("ttfi_ms", "p95") == 300
    assert step.outcome("ok") == 150
    assert step.scalar("error_rate") == 0.0


def test_goodput_counts_ok_streams_only() -> None:
    stats = block(streams_per_s=10.0, duration_ms=1000, ttfi_p95_ms=100, error_rate=0.25)
    assert step_from_dict(_entry(users=5), stats).goodput == pytest.approx(7.5)
    no_outcomes = {k: v for k, v in stats.items() if k != "outcomes"}
    assert step_from_dict(_entry(users=5), no_outcomes).goodput == pytest.approx(7.5)
    bare = {"streams_per_s": 4.0}
    assert step_from_dict(_entry(users=5), bare).goodput == 4.0
    assert step_from_dict(_entry(users=5), {}).goodput is None


def test_an_entry_with_overall_and_by_env_gives_one_step_per_env() -> None:
    prod = block(streams_per_s=1.0, duration_ms=2000, ttfi_p95_ms=400)
    entries = [
        _entry(step=i, rate=r, overall=BLOCK, by_env={"Production": prod, "Test": BLOCK})
        for i, r in enumerate([1.0, 2.0])
    ]
    grouped = steps_by_env(entries)
    assert sorted(grouped) == [OVERALL, "Production", "Test"]
    assert [s.load for s in grouped["Production"]] == [1.0, 2.0]
    assert grouped["Production"][0].stat("ttfi_ms", "p95") == 400
    assert grouped[OVERALL][1].load_kind == "rate"


def test_to_json_is_the_steps_entry_shape_and_reads_back() -> None:
    step = closed_loop([7], slots=3)[0]
    data = orjson.loads(orjson.dumps(step.to_json()))
    assert data["users"] == 7
    assert step_from_dict(data) == step


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_entry(**BLOCK), "exactly one of 'users'.*or 'rate'"),
        (_entry(users=5, rate=1, **BLOCK), "exactly one of"),
        (_entry(users=0, **BLOCK), "users must be a finite number > 0"),
        (_entry(users=-3, **BLOCK), "> 0"),
        (_entry(users=math.nan, **BLOCK), "> 0"),
        (_entry(rate=math.inf, **BLOCK), "rate must be a finite number"),
        (_entry(users=True, **BLOCK), "> 0"),
        (_entry(users="10", **BLOCK), "> 0"),
        ({"step": -1, "users": 5}, "step index must be an integer >= 0"),
        ({"step": "one", "users": 5}, "step index"),
        ({"users": 5}, "step index"),
    ],
)
def test_invalid_entries_are_capacity_errors(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(CapacityError, match=message):
        step_from_dict(entry)


def test_non_mapping_inputs_are_capacity_errors() -> None:
    with pytest.raises(CapacityError, match="a step must be an object"):
        step_from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(CapacityError, match="steps must be a list"):
        steps_by_env("steps")  # type: ignore[arg-type]
    with pytest.raises(CapacityError, match="stats must be a stats block"):
        StepResult(0, 5, "users", "", "", [1])  # type: ignore[arg-type]
    with pytest.raises(CapacityError, match="load kind must be one of users, rate"):
        StepResult(0, 5, "threads", "", "", {})  # type: ignore[arg-type]


def test_nan_missing_and_wrongly_typed_figures_read_as_none() -> None:
    step = step_from_dict(
        _entry(
            users=5,
            streams_per_s=math.nan,
            error_rate="0.1",
            ttfi_ms={"p95": math.inf, "p50": None},
            duration_ms=[1, 2],
            outcomes={"ok": True},
        )
    )
    assert step.throughput is None
    assert step.streams == 0
    assert step.scalar("error_rate") is None
    assert step.stat("ttfi_ms", "p95") is None
    assert step.stat("ttfi_ms", "p50") is None
    assert step.stat("duration_ms", "mean") is None
    assert step.stat("itl_ms", "p95") is None
    assert step.outcome("ok") is None
    assert step.outcome("timeout") is None


def test_the_stats_block_is_a_read_only_copy() -> None:
    source = dict(BLOCK)
    step = step_from_dict(_entry(users=5), source)
    source["streams_per_s"] = 99.0
    assert step.throughput == 2.5
    with pytest.raises(TypeError):
        step.stats["streams_per_s"] = 1.0  # type: ignore[index]


def test_ordered_sorts_by_load_and_rejects_mixed_or_repeated_loads() -> None:
    steps = closed_loop([20, 5, 10], slots=8)
    assert [s.load for s in ordered(steps)] == [5, 10, 20]
    rate = step_from_dict(_entry(step=9, rate=3.0, **BLOCK))
    with pytest.raises(CapacityError, match="mix stepped users and arrival rates"):
        ordered([*steps, rate])
    with pytest.raises(CapacityError, match="same users \\(5\\)"):
        ordered([*steps, *closed_loop([5], slots=8)])


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["step", "users", "rate", "by_env", "overall", "streams_per_s"]),
            _json,
        )
        | _json,
        max_size=4,
    )
)
def test_any_json_reads_as_steps_or_a_capacity_error(entries: list[Any]) -> None:
    try:
        grouped = steps_by_env(entries)
    except CapacityError:
        return
    for steps in grouped.values():
        assert all(isinstance(s, StepResult) and s.load > 0 for s in steps)
