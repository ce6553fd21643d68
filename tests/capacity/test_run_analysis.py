"""From a capacity run's summary to the per-env analysis: load split, SLO choice, capacity.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capacity import CapacityError
from harness.capacity.run_analysis import (
    analyse_run,
    choose_slo,
    read_summary,
    step_shares,
    steps_per_env,
    weight_shares,
    write_capacity_json,
)
from harness.config import loads_scenario
from tests.capacity_data import block

TWO_ENVS = '[[envs]]\nname = "Production"\nweight = 3\n\n[[envs]]\nname = "Test"\nweight = 1\n'


def _entry(index: int, users: float, by_env: dict[str, dict[str, Any]]) -> dict[str, Any]:
    overall = block(streams_per_s=10.0, duration_ms=500.0, ttfi_p95_ms=200.0)
    return {
        "step": index,
        "users": users,
        "started": "2026-01-01T00:00:00Z",
        "ended": "2026-01-01T00:01:00Z",
        "settle_s": 5.0,
        "dropped": 0,
        **overall,
        "by_env": by_env,
    }


def _k_slot_env(users: float, slots: float, service_s: float = 0.5) -> dict[str, Any]:
    rate = min(users, slots) / service_s
    duration = service_s * max(1.0, users / slots)
    return block(
        streams_per_s=rate,
        duration_ms=duration * 1000.0,
        ttfi_p95_ms=(duration - service_s + 0.1) * 1000.0,
    )


def test_weight_shares_follow_env_weights() -> None:
    assert weight_shares(loads_scenario(TWO_ENVS)) == {"Production": 0.75, "Test": 0.25}


def test_stepped_load_is_users_times_the_measured_share_of_streams_in_flight() -> None:
    # Production holds 6 streams in flight (12/s x 0.5 s), Test 2 (4/s x 0.5 s): 8 users.
    entry = _entry(
        0,
        8,
        {
            "Production": block(streams_per_s=12, duration_ms=500, ttfi_p95_ms=100),
            "Test": block(streams_per_s=4, duration_ms=500, ttfi_p95_ms=100),
        },
    )
    grouped, loads = steps_per_env([entry], {"Production": 0.5, "Test": 0.5})
    assert grouped["Production"][0].load == pytest.approx(6.0)
    assert grouped["Test"][0].load == pytest.approx(2.0)
    assert loads["Production"][0].basis == "measured"
    assert "*" not in grouped  # separate pools: the mix of envs is not analysed


def test_missing_durations_fall_back_to_the_weight_share() -> None:
    without = block(streams_per_s=4, duration_ms=500, ttfi_p95_ms=100)
    without.pop("duration_ms")
    entry = _entry(0, 8, {"Production": block(streams_per_s=12, duration_ms=500, ttfi_p95_ms=1)})
    entry["by_env"]["Test"] = without
    shares = step_shares(entry, {"Production": 0.75, "Test": 0.25}, measured=True)
    assert shares == {"Production": (0.75, "weight"), "Test": (0.25, "weight")}


def test_arrival_load_is_the_rate_times_the_weight_share() -> None:
    entry = _entry(0, 1, {"Production": block(streams_per_s=9, duration_ms=900, ttfi_p95_ms=1)})
    entry.pop("users")
    entry["rate"] = 12.0
    entry["by_env"]["Test"] = block(streams_per_s=3, duration_ms=100, ttfi_p95_ms=1)
    grouped, loads = steps_per_env([entry], {"Production": 0.75, "Test": 0.25})
    assert grouped["Production"][0].load == pytest.approx(9.0)
    assert grouped["Test"][0].load_kind == "rate"
    assert {e.basis for e in loads["Test"]} == {"weight"}


@settings(max_examples=60, deadline=None)
@given(
    users=st.integers(1, 500),
    rates=st.lists(st.floats(0.1, 100), min_size=1, max_size=4),
)
def test_measured_shares_split_the_users_exactly(users: int, rates: list[float]) -> None:
    envs = ["Development", "Test", "Production", "Other"][: len(rates)]
    by_env = {
        e: block(streams_per_s=r, duration_ms=700, ttfi_p95_ms=1)
        for e, r in zip(envs, rates, strict=False)
    }
    grouped, _ = steps_per_env([_entry(0, users, by_env)], dict.fromkeys(envs, 1.0))
    total = sum(grouped[e][0].load for e in envs if e in grouped)
    assert total == pytest.approx(users)


def test_single_env_runs_keep_the_step_load_and_no_overall_copy() -> None:
    steps = [_entry(i, n, {"Production": _k_slot_env(n, 4)}) for i, n in enumerate([2, 4, 6, 8])]
    grouped, loads = steps_per_env(steps, {"Production": 1.0})
    assert list(grouped) == ["Production"]
    assert [s.load for s in grouped["Production"]] == [2, 4, 6, 8]
    assert all(e.share == pytest.approx(1.0) for e in loads["Production"])


def test_two_envs_with_different_slots_get_their_own_knees() -> None:
    # Production: 8 slots, Test: 3 slots; each step's users split 2:1 by time in flight.
    steps = []
    for i, n in enumerate([3, 6, 9, 12, 18, 24]):
        prod, test = n * 2 / 3, n / 3
        steps.append(
            _entry(i, n, {"Production": _k_slot_env(prod, 8), "Test": _k_slot_env(test, 3)})
        )
    scenario = loads_scenario(TWO_ENVS)
    result = analyse_run({"run": {"limit_s": 300, "mode": "closed"}, "steps": steps}, scenario)
    knee_prod = result.analysis.env("Production").saturation.estimated_load
    knee_test = result.analysis.env("Test").saturation.estimated_load
    assert knee_prod == pytest.approx(8, rel=0.2)
    assert knee_test == pytest.approx(3, rel=0.2)
    data = result.to_json()
    assert data["env_load"]["Test"][0]["basis"] == "measured"
    assert data["schema"] == "flowload.capacity/1"


def test_slo_comes_from_the_table_then_gates_then_the_default() -> None:
    table = loads_scenario("[capacity.slo]\nttfi_p95_ms = 500\n")
    slo, source, _ = choose_slo(table)
    assert source == "from the scenario's [capacity.slo] table"
    assert slo.describe("Production") == "TTFI p95 <= 500 ms"
    gates = loads_scenario('[[gates]]\nexpr = "ttfi.p95 < 700ms"\n')
    slo, source, _ = choose_slo(gates)
    assert "gates" in source
    assert slo.describe("Test") == "TTFI p95 < 700 ms"
    slo, source, _ = choose_slo(loads_scenario(""))
    assert source.startswith("the default")
    assert slo.describe("Test") == "TTFI p95 < 800 ms, error rate < 1%"


def test_a_summary_without_steps_is_a_clear_error() -> None:
    with pytest.raises(CapacityError, match="no 'steps'"):
        analyse_run({"run": {}}, loads_scenario(""))


def test_read_summary_errors_say_what_happened(tmp_path: Path) -> None:
    with pytest.raises(CapacityError, match="was not written"):
        read_summary(tmp_path)
    (tmp_path / "summary.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CapacityError, match="is not valid JSON"):
        read_summary(tmp_path)


def test_capacity_json_is_written_without_nan(tmp_path: Path) -> None:
    steps = [_entry(i, n, {"Production": _k_slot_env(n, 4)}) for i, n in enumerate([2, 4, 6, 8])]
    result = analyse_run({"run": {"mode": "closed"}, "steps": steps}, loads_scenario(""))
    path = write_capacity_json(result, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text
    data = orjson.loads(text)
    assert data["mode"] == "closed"
    assert data["slo_source"].startswith("the default")
    assert data["envs"]["Production"]["saturation"]["estimated_load"] == pytest.approx(4)
