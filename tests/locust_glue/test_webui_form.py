"""Tests of harness.locust_glue.webui_form: the start form's values and the START check."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from harness.config import loads_scenario
from harness.locust_glue.lifecycle import load_run_scenario
from harness.locust_glue.options import read_options
from harness.locust_glue.state import LOCAL, GlueState
from harness.locust_glue.webui_form import (
    FORM_FIELDS,
    check_swarm_form,
    fill_form,
    form_values,
)

SCENARIO = """
[target]
url = "https://flow.example.com"
tenant = "acme"
workspace = "sales"
auth = "query"
limit_s = 120
stall_timeout_s = 7.5
api_key_env = "FORM_TEST_KEY"

[[envs]]
name = "Production"
[[envs]]
name = "Test"

[[flows]]
name = "orders"
id = "f-orders"
"""


def parsed(**values: Any) -> argparse.Namespace:
    base = dict.fromkeys(FORM_FIELDS)
    return argparse.Namespace(**{**base, "flow_config": None, **values})


def state_for(tmp_path: Path, **values: Any) -> tuple[GlueState, argparse.Namespace]:
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    options = parsed(flow_config=str(path), **values)
    glue = read_options(options)
    return GlueState(role=LOCAL, options=glue, scenario=load_run_scenario(glue)), options


def test_the_form_shows_the_scenarios_values(tmp_path: Path) -> None:
    state, _ = state_for(tmp_path)
    assert form_values(state) == {
        "flow_env": "Production,Test",
        "api_key_mode": "query",
        "stall_timeout": "7.5",
        "limit": "120",
        "flow_spawn_spread": "1",
    }


def test_the_form_shows_command_line_overrides(tmp_path: Path) -> None:
    state, _ = state_for(
        tmp_path, api_key_mode="header", flow_env="Test", limit="30", flow_spawn_spread="0"
    )
    values = form_values(state)
    assert (values["api_key_mode"], values["flow_env"], values["limit"]) == ("header", "Test", "30")
    assert values["flow_spawn_spread"] == "0"


def test_every_field_locust_shows_gets_its_value(tmp_path: Path) -> None:
    state, _ = state_for(tmp_path)
    extra: dict[str, dict[str, Any]] = {
        name: {"default_value": None, "choices": None} for name in FORM_FIELDS
    }
    extra["api_key_mode"]["choices"] = ["header", "query"]
    extra["not_ours"] = {"default_value": "kept"}
    args: dict[str, Any] = {"extra_options": extra}
    fill_form(args, state)
    assert {k: v["default_value"] for k, v in extra.items()} == {
        **form_values(state),
        "not_ours": "kept",
    }


def test_a_start_as_the_form_shows_it_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORM_TEST_KEY", "form-key-1")
    state, options = state_for(tmp_path)
    form = {"host": "", **form_values(state)}
    assert check_swarm_form(state, options, form, None) is None


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"limit": "soon"}, "--limit must be a number of seconds, got 'soon'"),
        ({"flow_env": "Staging"}, "--flow-env: unknown env 'Staging'"),
        ({"flow_env": "Development"}, "Development"),  # not configured in the scenario
        ({"api_key_mode": "both"}, "both"),
        ({"host": "flow.example.com"}, "add http:// or https://"),
        ({"stall_timeout": "-1"}, "--stall-timeout must be a finite number > 0"),
    ],
)
def test_a_start_that_would_fail_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: dict[str, str], problem: str
) -> None:
    monkeypatch.setenv("FORM_TEST_KEY", "form-key-1")
    state, options = state_for(tmp_path)
    error = check_swarm_form(state, options, form, None)
    assert error is not None
    assert problem in error


def test_a_missing_key_is_found_before_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORM_TEST_KEY", raising=False)
    state, options = state_for(tmp_path)
    error = check_swarm_form(state, options, {}, None)
    assert error is not None
    assert "FORM_TEST_KEY is not set" in error


def test_an_empty_host_without_a_target_says_so() -> None:
    state = GlueState(role=LOCAL, options=read_options(None), scenario=loads_scenario(""))
    error = check_swarm_form(state, parsed(), {"host": ""}, None)
    assert error is not None
    assert error.startswith("the Host field is empty and the scenario names no [target] url")
