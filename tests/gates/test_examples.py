"""The examples/ci folder: its scenario loads, its gates parse, its CI jobs agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.config import load_scenario
from harness.gates import gate_from_config

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "examples" / "ci"
JOBS = ["github-actions.yml", ".gitlab-ci.yml"]


def test_ci_scenario_loads_and_every_gate_parses() -> None:
    scenario = load_scenario(CI / "scenario.toml")
    assert scenario.target is None  # runs against the bundled simulator
    gates = [gate_from_config(g) for g in scenario.gates]
    assert len(gates) >= 5
    assert any(g.abort_on_fail and g.delay_abort_s > 0 for g in gates)


@pytest.mark.parametrize("job", JOBS)
def test_ci_jobs_run_the_gate_and_publish_junit_and_summary(job: str) -> None:
    text = (CI / job).read_text(encoding="utf-8")
    command = re.search(r"locust -f (\S+) --headless .*?--report-dir (\S+)", text, re.DOTALL)
    assert command is not None, "the job runs locust headless with a report dir"
    locustfile, report_dir = command.group(1), command.group(2)
    assert (REPO / locustfile).is_file()
    assert "--flow-config examples/ci/scenario.toml" in " ".join(text.split())
    assert f"{report_dir}/junit.xml" in text
    assert f"{report_dir}/summary.md" in text
    assert "\t" not in text  # YAML forbids tabs for indentation
