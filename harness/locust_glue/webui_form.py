"""The web UI's start form: flowload's fields start from the run's values; a START is checked.

Locust fills its form's extra fields from the command line alone, and a choice field with no
value shows (and submits) its first choice: a scenario with ``auth = "query"`` was started with
the header. Here every flowload field shows the value the next test would use (the scenario
with the command line's overrides, or what the form sent last).

Locust starts a test first and fires ``test_start`` after; a bad field then only reached the
log. :func:`check_swarm_form` runs before Locust's ``/swarm`` handler and answers with
Locust's own error reply, which the form shows.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from harness.errors import FlowloadError
from harness.locust_glue.lifecycle import load_run_scenario
from harness.locust_glue.options import read_options
from harness.locust_glue.state import GlueState
from harness.run.resolve import resolve_run

# The flowload fields the form shows (include_in_web_ui), by Locust's option name.
FORM_FIELDS = ("flow_env", "api_key_mode", "stall_timeout", "limit", "flow_spawn_spread")


def form_values(state: GlueState) -> dict[str, str]:
    """What each flowload field of the form shows: the values the next test would use."""
    scenario = state.scenario
    return {
        "flow_env": ",".join(config.env.value for config in scenario.envs),
        "api_key_mode": scenario.auth.value,
        "stall_timeout": f"{scenario.stall_timeout_s:g}",
        "limit": f"{scenario.limit_s:g}",
        "flow_spawn_spread": f"{state.options.spawn_spread_s:g}",
    }


def fill_form(template_args: dict[str, Any], state: GlueState) -> None:
    """Set the form's flowload fields in Locust's ``template_args`` (after Locust filled them)."""
    extra = template_args.get("extra_options") or {}
    for name, value in form_values(state).items():
        field = extra.get(name)
        if isinstance(field, dict):
            field["default_value"] = value


def _form_options(parsed: Any, form: Mapping[str, str]) -> argparse.Namespace:
    """Locust's parsed options with the form's flowload fields on top (as Locust will set them)."""
    values = dict(vars(parsed)) if parsed is not None else {}
    for name in FORM_FIELDS:
        if name in form:
            values[name] = form[name]
    return argparse.Namespace(**values)


def check_swarm_form(
    state: GlueState, parsed: Any, form: Mapping[str, str], current_host: str | None
) -> str | None:
    """The error a START with this form would hit (one line, with the fix), or None."""
    host = form["host"].replace("<", "").replace(">", "") if "host" in form else current_host
    try:
        options = read_options(_form_options(parsed, form))
        scenario = load_run_scenario(options)
        if not host and scenario.target is None:
            return _empty_host(state)
        embedded = state.simulator is not None and host == state.simulator.url
        resolve_run(scenario, host or None, simulator=True if embedded else None)
    except FlowloadError as exc:
        return str(exc)
    return None


def _empty_host(state: GlueState) -> str:
    where = f" (the bundled simulator runs at {state.simulator.url})" if state.simulator else ""
    return (
        "the Host field is empty and the scenario names no [target] url: enter the server's "
        f"base URL, http://... or https://...{where}"
    )
