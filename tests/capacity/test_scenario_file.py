"""The scenario files `flowload capacity` writes: TOML writer, demo scenario, derived copies."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capacity.load_plan import LoadMode, load_plan
from harness.capacity.scenario_file import (
    demo_profile_path,
    demo_scenario,
    derive_scenario,
    to_toml,
    write_scenario,
)
from harness.config import load_scenario
from harness.errors import ConfigError
from harness.simulator import load_profile

_keys = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8)
_scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys.filter(lambda k: k != "_comment"), _values, max_size=5))
def test_to_toml_round_trips_through_tomllib(data: dict[str, Any]) -> None:
    assert tomllib.loads(to_toml(data)) == data


def test_to_toml_writes_arrays_of_tables_and_nested_tables() -> None:
    data = {
        "_comment": "hello",
        "envs": [{"name": "Test", "weight": 2}, {"name": "Production"}],
        "capacity": {"steps": [1, 2], "slo": {"ttfi_p95_ms": 800, "Production": {"a": "< 1%"}}},
    }
    text = to_toml(data)
    assert text.startswith("# hello\n")
    assert "[[envs]]" in text
    assert "[capacity.slo.Production]" in text
    parsed = tomllib.loads(text)
    assert parsed == {k: v for k, v in data.items() if k != "_comment"}


def test_to_toml_infinities_and_unknown_types() -> None:
    assert tomllib.loads(to_toml({"a": math.inf, "b": -math.inf}))["b"] == -math.inf
    with pytest.raises(ConfigError, match="cannot write"):
        to_toml({"a": object()})


def test_the_packaged_demo_profile_has_slots_per_env() -> None:
    profile = load_profile(demo_profile_path())
    slots = {name: env.slots for name, env in profile.envs.items()}
    assert slots["Production"] == 8
    assert slots["Development"] < slots["Test"] < slots["Production"]


@pytest.mark.parametrize("mode", list(LoadMode))
def test_demo_scenario_loads_and_has_a_short_quick_plan(tmp_path: Path, mode: LoadMode) -> None:
    path = write_scenario(demo_scenario(mode), tmp_path)
    scenario = load_scenario(path)
    plan = load_plan(scenario.capacity, quick=True)
    assert plan.mode is mode
    assert 3 <= len(plan.steps) <= 5
    assert plan.duration_s < 180
    assert scenario.simulator.seed is not None  # a demo replays exactly


def test_derive_keeps_a_file_that_needs_nothing(tmp_path: Path) -> None:
    data = {"target": {"url": "https://x.example"}, "capacity": {"mode": "stepped"}}
    _, changes = derive_scenario(data, tmp_path / "s.toml", mode=LoadMode.STEPPED, simulator=False)
    assert changes == []


def test_derive_resolves_relative_paths_against_the_source(tmp_path: Path) -> None:
    data: dict[str, Any] = {
        "target": {"url": "https://x.example", "ca_bundle": "certs/ca.pem"},
        "flows": [{"name": "a", "id": "x", "body_file": "../in.bin"}],
        "envs": [{"name": "Test", "api_key_file": "/abs/key"}],
    }
    out, _ = derive_scenario(data, tmp_path / "conf" / "s.toml", mode=None, simulator=False)
    assert out["target"]["ca_bundle"] == str((tmp_path / "conf" / "certs" / "ca.pem").resolve())
    assert out["flows"][0]["body_file"] == str((tmp_path / "in.bin").resolve())
    assert out["envs"][0]["api_key_file"] == "/abs/key"
    assert data["flows"][0]["body_file"] == "../in.bin"  # the input is not modified


def test_derive_for_the_simulator_keeps_the_users_own_simulator_and_plan(tmp_path: Path) -> None:
    data = {"simulator": {"profile": "p.toml"}, "capacity": {"steps": [1, 2, 3]}}
    out, changes = derive_scenario(data, tmp_path / "s.toml", mode=None, simulator=True)
    assert changes == []
    assert out["simulator"]["profile"] == str((tmp_path / "p.toml").resolve())
    assert out["capacity"] == {"steps": [1, 2, 3]}
